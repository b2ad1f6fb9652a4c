//! How the reference loader fails: every error names what it can (endpoint, table, file, row,
//! column), and no failure leaves a half-loaded table looking complete or touches the previous
//! complete table. Re-running a load replaces the table.

mod catalog_util;
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use qserv_operator::catalog::{
    CatalogError, CsvOptions, InputFormat, SchemaFile, SelectionSpec, schema_from_ddl_file,
};
use qserv_operator::db::Endpoint;
use qserv_operator::load::{Input, LoadError, ReferenceLoad, load_reference};

use catalog_util::{macs2243, temp_dir};
use common::mariadb::free_port;
use common::{connect, endpoint, hdf5_input, load, rows, scalar, table_exists};

const DDL: &str = "CREATE TABLE `T` (\n  `id` bigint(20) NOT NULL,\n  `name` char(3) NOT NULL,\n  \
                   `x` double DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=MyISAM DEFAULT CHARSET=latin1;\n";

/// Writes `name`, a TSV with one line per id, `line(id)` giving it (without the newline).
fn tsv(dir: &Path, name: &str, ids: std::ops::Range<u64>, line: impl Fn(u64) -> String) -> PathBuf {
    let mut text = String::new();
    for id in ids {
        text.push_str(&line(id));
        text.push('\n');
    }
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

/// A load of TSV `files` typed and created by the DDL, in small batches and statements so a
/// bad row falls in a later statement.
fn tsv_load(db: &str, dir: &Path, files: Vec<PathBuf>) -> ReferenceLoad {
    let ddl = dir.join("T.schema");
    std::fs::write(&ddl, DDL).unwrap();
    let mut options = CsvOptions::tsv();
    options.schema = Some(Arc::new(schema_from_ddl_file(&ddl, None).unwrap()));
    let input = Input {
        files,
        format: InputFormat::Csv(options),
        selection: SelectionSpec {
            table: "T".into(),
            ..Default::default()
        },
        batch_rows: 500,
    };
    let mut load = ReferenceLoad::new(db, "T", input);
    load.schema_file = Some(SchemaFile::new(ddl, "T"));
    load.rows_per_statement = 1000;
    load
}

async fn no_staging(conn: &mut mysql_async::Conn, db: &str) {
    assert!(
        !table_exists(conn, db, "T__loading").await,
        "staging table left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_names_the_endpoint() {
    let port = free_port();
    let endpoint = Endpoint::parse(&format!("mysql://root@127.0.0.1:{port}")).unwrap();
    let load = ReferenceLoad::new("x", "forced_src", hdf5_input(macs2243(), "forced_src", &[]));
    let err = load_reference(&endpoint, &load, None).await.unwrap_err();
    assert!(matches!(err, LoadError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot connect to MariaDB at 127.0.0.1:{port}: ")),
        "{message}"
    );
}

/// A name too long for CHAR(3) in row 2500 of the second file (statements of 1000 rows): the
/// error names the table, that file and row; the previous complete table is untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_row_is_named_and_the_previous_table_survives() {
    let db = "fail_rejected";
    let dir = temp_dir("load-rejected");
    let good = tsv(&dir, "good.tsv", 0..3000, |id| {
        format!("{id}\tabc\t{}", id as f64 / 8.0)
    });
    let load_good = tsv_load(db, &dir, vec![good.clone()]);
    let summary = load_reference(&endpoint(), &load_good, None).await.unwrap();
    assert_eq!(summary.rows, 3000);
    let mut conn = connect().await;
    let before = rows(&mut conn, &format!("SELECT * FROM {db}.T ORDER BY id")).await;

    let bad = tsv(&dir, "bad.tsv", 3000..6000, |id| {
        let name = if id == 3000 + 2499 { "toolong" } else { "ok" };
        format!("{id}\t{name}\t\\N")
    });
    let load_bad = tsv_load(db, &dir, vec![good, bad.clone()]);
    let err = load_reference(&endpoint(), &load_bad, None)
        .await
        .unwrap_err();
    match &err {
        LoadError::RowRejected {
            table,
            file,
            row,
            message,
        } => {
            assert_eq!(table, &format!("{db}.T"));
            assert_eq!(file, &bad);
            assert_eq!(*row, 2500);
            assert!(message.contains("name"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("{} row 2500", bad.display())),
        "{text}"
    );
    let after = rows(&mut conn, &format!("SELECT * FROM {db}.T ORDER BY id")).await;
    assert_eq!(after, before, "the previous table is untouched");
    no_staging(&mut conn, db).await;

    // Without a previous table, nothing named T appears.
    let load_new = tsv_load("fail_rejected_new", &dir, vec![bad]);
    load_reference(&endpoint(), &load_new, None)
        .await
        .unwrap_err();
    assert!(!table_exists(&mut conn, "fail_rejected_new", "T").await);
    no_staging(&mut conn, "fail_rejected_new").await;
}

/// A bad number deep in the input (after thousands of rows went to MariaDB): the reader's
/// error, naming file and line, and nothing loaded.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_error_mid_load_leaves_nothing() {
    let db = "fail_reader";
    let dir = temp_dir("load-reader-error");
    let file = tsv(&dir, "t.tsv", 0..5000, |id| {
        let x = if id == 4321 {
            "not-a-number".to_string()
        } else {
            id.to_string()
        };
        format!("{id}\ta\t{x}")
    });
    let err = load_reference(&endpoint(), &tsv_load(db, &dir, vec![file.clone()]), None)
        .await
        .unwrap_err();
    match &err {
        LoadError::Read { table, source } => {
            assert_eq!(table, "T");
            assert!(
                matches!(**source, CatalogError::CsvValue { line: 4322, .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut conn = connect().await;
    assert!(!table_exists(&mut conn, db, "T").await);
    no_staging(&mut conn, db).await;
}

/// An infinite double has no MariaDB value: the error names file, row and column.
#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_float_is_named() {
    let db = "fail_inf";
    let dir = temp_dir("load-inf");
    let file = dir.join("t.tsv");
    std::fs::write(&file, "1\ta\t0.5\n2\tb\tinf\n").unwrap();
    let err = load_reference(&endpoint(), &tsv_load(db, &dir, vec![file.clone()]), None)
        .await
        .unwrap_err();
    match &err {
        LoadError::Value {
            file: f,
            row,
            column,
            ..
        } => assert_eq!((f, *row, column.as_str()), (&file, 2, "x")),
        other => panic!("{other:?}"),
    }
    let mut conn = connect().await;
    assert!(!table_exists(&mut conn, db, "T").await);
    no_staging(&mut conn, db).await;
}

/// A wrong dataset fails before anything is created.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_dataset_creates_nothing() {
    let db = "fail_dataset";
    let input = hdf5_input(macs2243(), "deepCoadd_nope", &[]);
    let err = load_reference(&endpoint(), &ReferenceLoad::new(db, "t", input), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no dataset `deepCoadd_nope`"),
        "{err}"
    );
    let mut conn = connect().await;
    let dbs = scalar(
        &mut conn,
        &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'"),
    )
    .await;
    assert_eq!(dbs, 0);
}

/// Loading the same table again replaces it: same rows, no duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn rerunning_a_load_replaces_the_table() {
    let db = "rerun";
    let first = load(db, "forced_src", hdf5_input(macs2243(), "forced_src", &[])).await;
    let second = load(db, "forced_src", hdf5_input(macs2243(), "forced_src", &[])).await;
    assert_eq!(first.rows, second.rows);
    let mut conn = connect().await;
    let count = scalar(&mut conn, &format!("SELECT COUNT(*) FROM {db}.forced_src")).await;
    assert_eq!(count as u64, first.rows);
    let distinct = scalar(
        &mut conn,
        &format!("SELECT COUNT(DISTINCT id) FROM {db}.forced_src"),
    )
    .await;
    let in_file = {
        let out = catalog_util::python(
            "dump_table.py",
            &[catalog_util::path_str(&macs2243()), "forced_src"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["rows"].as_array().unwrap().len() as i64
    };
    assert_eq!(count, in_file);
    assert!(distinct > 0);
    assert!(!table_exists(&mut conn, db, "forced_src__replaced").await);
    assert!(!table_exists(&mut conn, db, "forced_src__loading").await);
}

/// Malformed inputs fail with the reader's error naming the file, and create no table: a
/// truncated HDF5 file, a dataset that is not a table, a TSV line with a missing field.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_inputs_fail_cleanly() {
    let dir = temp_dir("load-malformed");
    let truncated = dir.join("truncated.h5");
    let bytes = std::fs::read(macs2243()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let short_line = tsv(&dir, "short.tsv", 0..10, |id| {
        if id == 7 {
            format!("{id}\tabc")
        } else {
            format!("{id}\tabc\t1.5")
        }
    });
    let cases = [
        (
            "trunc",
            ReferenceLoad::new(
                "malformed",
                "trunc",
                hdf5_input(truncated.clone(), "deepCoadd_meas", &[]),
            ),
            truncated.display().to_string(),
        ),
        (
            "meta",
            ReferenceLoad::new(
                "malformed",
                "meta",
                hdf5_input(macs2243(), "deepCoadd_meas.__table_column_meta__", &[]),
            ),
            "is not a table".to_string(),
        ),
        (
            "T",
            tsv_load("malformed", &dir, vec![short_line.clone()]),
            format!("{}: line 8", short_line.display()),
        ),
    ];
    let mut conn = connect().await;
    for (table, load, expected) in cases {
        let err = load_reference(&endpoint(), &load, None).await.unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }), "{table}: {err:?}");
        assert!(err.to_string().contains(&expected), "{table}: {err}");
        assert!(
            !table_exists(&mut conn, "malformed", table).await,
            "{table}"
        );
        assert!(
            !table_exists(&mut conn, "malformed", &format!("{table}__loading")).await,
            "{table}"
        );
    }
}

/// The server dies mid-load (stopped from the progress callback after the first batch): the
/// error says the connection to that endpoint was lost while loading that table.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_connection_names_endpoint_and_table() {
    let server = common::MariaDb::start();
    let url = server.url();
    let address = url.trim_start_matches("mysql://root@").to_string();
    let server = Arc::new(std::sync::Mutex::new(Some(server)));
    let killer = server.clone();
    let progress: qserv_operator::load::Progress = Arc::new(move |_rows| {
        // Dropping the handle stops the server and waits for it to be gone.
        drop(killer.lock().unwrap().take());
    });
    let mut input = hdf5_input(macs2243(), "deepCoadd_meas", &[]);
    input.batch_rows = 500;
    let load = ReferenceLoad::new("lost", "meas", input);
    let err = load_reference(&Endpoint::parse(&url).unwrap(), &load, Some(progress))
        .await
        .unwrap_err();
    match &err {
        LoadError::ConnectionLost {
            endpoint, table, ..
        } => {
            assert_eq!(endpoint, &address);
            assert_eq!(table, "lost.meas");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.lock().unwrap().is_none(), "the server was stopped");
}

/// An input without rows is an error naming the table and the file, and the good table stays
/// as it was; only `allow_empty` loads it as an empty table.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_input_is_refused_and_the_good_table_stays() {
    let db = "load_empty";
    let dir = temp_dir("load_empty");
    let good = tsv(&dir, "good.tsv", 0..9, |id| format!("{id}\tab\t1.5"));
    let empty = tsv(&dir, "empty.tsv", 0..0, |_| String::new());
    let endpoint = endpoint();
    load_reference(&endpoint, &tsv_load(db, &dir, vec![good]), None)
        .await
        .unwrap();
    let err = load_reference(&endpoint, &tsv_load(db, &dir, vec![empty.clone()]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Empty { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "table `T`: no rows in {} (an empty input is refused; the table is unchanged)",
            empty.display()
        )
    );
    let mut conn = connect().await;
    assert_eq!(
        scalar(&mut conn, &format!("SELECT COUNT(*) FROM {db}.T")).await,
        9
    );
    no_staging(&mut conn, db).await;

    let mut allowed = tsv_load(db, &dir, vec![empty]);
    allowed.allow_empty = true;
    let summary = load_reference(&endpoint, &allowed, None).await.unwrap();
    assert_eq!(summary.rows, 0);
    assert_eq!(
        scalar(&mut conn, &format!("SELECT COUNT(*) FROM {db}.T")).await,
        0
    );
}
