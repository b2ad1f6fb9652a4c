//! qserv_testdata cases the project was not written against, ingested as their own configs
//! write them: case03 (`SELECT ... INTO OUTFILE` files with backslash escapes, escaped
//! delimiters and binary columns) and case04 (every field of `DeepCoadd` in double quotes), from
//! `tests/fixtures/qserv_testdata` (parts of lsst/qserv's `data/case03`, `data/case04` at
//! 2026.3.3-rc1, see its README). Each CatalogIngest is what `import-dataset` writes from the
//! runner's `integration_tests.yaml`; local mode ingests it; it must succeed with every check
//! and every runnable query of the case identical on Qserv and on the reference, and the
//! reference must hold what Qserv's own runner loads: each file through `LOAD DATA` with the
//! ingest config's `fields_*` (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest_load.py:156-184`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::MariaDb;
use common::local::{apply, connect, finished, ready_cluster, replication_state, start};
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::{IngestPhase, TableRole};
use qserv_operator::api::condition::{self, READY};
use qserv_operator::check::compare::cells;
use qserv_operator::import::{CaseConfig, ImportOptions, import_dataset};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qserv_testdata")
}

/// The CatalogIngest of `case` (its `tables` only), as `import-dataset --case-config
/// integration_tests.yaml --case <case> --tables ...` writes it.
fn imported(case: &str, tables: &[&str]) -> CatalogIngest {
    let config = CaseConfig::from_file(&fixtures().join("integration_tests.yaml"), case).unwrap();
    import_dataset(&ImportOptions {
        root: fixtures().join(case),
        case: Some(config),
        tables: Some(tables.iter().map(|t| t.to_string()).collect()),
        name: None,
        cluster: "qserv-ci".into(),
        source: None,
    })
    .unwrap()
}

const CASE03: &[&str] = &[
    "RefObject",
    "RunDeepSource",
    "AvgForcedPhot",
    "DeepCoadd",
    "DeepCoadd_Metadata",
    "DeepCoadd_To_Htm10",
    "Filter",
    "LeapSeconds",
    "ZZZ_Db_Description",
];
const CASE04: &[&str] = &["DeepSource", "DeepCoadd"];

/// What the configs say, as written: directors, dialects, layout.
#[test]
fn the_cases_configs_become_catalog_ingests() {
    let case03 = imported("case03", CASE03);
    let s = &case03.spec;
    assert_eq!(case03.metadata.name.as_deref(), Some("case03"));
    assert_eq!(s.database, "qcase03");
    assert_eq!(
        (
            s.partitioning.stripes,
            s.partitioning.sub_stripes,
            s.partitioning.overlap
        ),
        (85, 14, 0.001)
    );
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, CASE03, "the runner's order");
    let directors: Vec<&str> = s
        .tables
        .iter()
        .filter(|t| t.role == TableRole::Director)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(directors, ["RefObject", "RunDeepSource"]);
    let run = &s.tables[1];
    assert_eq!(
        (
            run.id_column.as_deref(),
            run.ra_column.as_deref(),
            run.dec_column.as_deref()
        ),
        (Some("id"), Some("coord_ra"), Some("coord_decl"))
    );
    // common.json comes last and wins: part.overlap 0.001 over RunDeepSource.json's 0, which
    // is the database's, so no per-table overlap is written.
    assert_eq!(run.partition, None);
    // in.csv of common.json: comma, \N, escape \; quoting is sph-partition's default.
    let csv = run.csv.as_ref().unwrap();
    assert_eq!(
        (
            csv.delimiter.as_deref(),
            csv.quote.as_deref(),
            csv.escape.as_deref(),
            csv.null_token.as_deref()
        ),
        (Some(","), Some("\""), Some("\\"), Some("\\N"))
    );
    // A regular table: LOAD DATA's dialect from its ingest config (comma, no enclosure).
    let coadd = s.tables.iter().find(|t| t.name == "DeepCoadd").unwrap();
    let csv = coadd.csv.as_ref().unwrap();
    assert!(csv.no_quote);
    assert_eq!(csv.delimiter.as_deref(), Some(","));
    assert_eq!(s.validate(), Ok(()));
    // The runner's skip numbers come with the queries.
    assert_eq!(s.queries.as_deref(), Some("queries"));
    assert_eq!(s.query_skip_numbers, ["0005"]);

    let case04 = imported("case04", CASE04);
    assert_eq!(case04.spec.query_skip_numbers, ["0001", "0020"]);
    let coadd = &case04.spec.tables[1];
    assert_eq!(coadd.csv.as_ref().unwrap().quote.as_deref(), Some("\""));
    assert_eq!(case04.spec.validate(), Ok(()));

    // Tables the operator cannot ingest are named; so is a data file that is not there.
    let err = import_error("case03", "RefDeepSrcMatch");
    assert!(
        err.starts_with("table RefDeepSrcMatch: ")
            && err.contains("a match table (director_table2)"),
        "{err}"
    );
    let err = import_error("case04", "DeepForcedSource");
    assert!(
        err.contains("data/DeepForcedSource.csv.gz: no such data file"),
        "{err}"
    );
}

/// Why `import-dataset` refuses `table` of `case`.
fn import_error(case: &str, table: &str) -> String {
    let config = CaseConfig::from_file(&fixtures().join("integration_tests.yaml"), case).unwrap();
    import_dataset(&ImportOptions {
        root: fixtures().join(case),
        case: Some(config),
        tables: Some(vec![table.into()]),
        name: None,
        cluster: "qserv-ci".into(),
        source: None,
    })
    .unwrap_err()
    .to_string()
}

/// Rows of a table, every column as bytes or NULL, sorted.
async fn rows(conn: &mut mysql_async::Conn, table: &str) -> Vec<Vec<Option<Vec<u8>>>> {
    let result: Vec<mysql_async::Row> = conn
        .query(format!("SELECT * FROM {table}"))
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"));
    let mut rows: Vec<Vec<Option<Vec<u8>>>> = result.into_iter().map(cells).collect();
    rows.sort();
    rows
}

/// Each table of `ingest` as Qserv's runner loads its reference: `CREATE TABLE` from the schema
/// file, then `LOAD DATA LOCAL INFILE` of the (unzipped) data file with the ingest config's
/// `fields_terminated_by` / `fields_enclosed_by` / `fields_escaped_by`, defaulting to tab,
/// nothing and `\\` (`itest_table.py:66-84`).
async fn load_as_the_runner_does(root: &Path, ingest: &CatalogIngest, database: &str) {
    let mut conn = mysql_async::Conn::from_url(MariaDb::shared().url())
        .await
        .unwrap();
    conn.query_drop(format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    conn.query_drop(format!("USE {database}")).await.unwrap();
    for table in &ingest.spec.tables {
        let schema = std::fs::read_to_string(root.join(table.schema.as_ref().unwrap())).unwrap();
        conn.query_drop(schema).await.unwrap();
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("data/ingest/{}.json", table.name)))
                .unwrap(),
        )
        .unwrap();
        let field = |key: &str, default: &str| {
            config[key]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(default)
                .to_string()
        };
        let sql_char = |s: String| match s.as_str() {
            "\"" => "'\"'".to_string(),
            "\\\\" | "\\" => "'\\\\'".to_string(),
            other => format!("'{other}'"),
        };
        let gz = std::fs::read(root.join(&table.files[0])).unwrap();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        let bytes = bytes::Bytes::from(text);
        conn.set_infile_handler(async move {
            Ok(futures::stream::once(async move { Ok(bytes) }).boxed())
        });
        conn.query_drop(format!(
            "LOAD DATA LOCAL INFILE 'data' INTO TABLE {} FIELDS TERMINATED BY {} ENCLOSED BY {} \
             ESCAPED BY {} LINES TERMINATED BY '\\n'",
            table.name,
            sql_char(field("fields_terminated_by", "\\t")),
            sql_char(field("fields_enclosed_by", "")),
            sql_char(field("fields_escaped_by", "\\\\")),
        ))
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case03_and_case04_as_written_succeed_and_are_identical() {
    let (local, _dir) = start("testdata-cases", true).await;
    ready_cluster(&local).await;
    let cases = [("case03", CASE03), ("case04", CASE04)];
    for (case, tables) in cases {
        let ingest = imported(case, tables);
        apply(&local, &serde_json::to_value(&ingest).unwrap()).await;
    }
    for (case, tables) in cases {
        let ingest = imported(case, tables);
        let status = finished(&local, case, 900).await;
        let ready = condition::find(&status.conditions, READY).unwrap();
        assert_eq!(
            status.phase,
            Some(IngestPhase::Succeeded),
            "{case}: {}",
            ready.message
        );
        let failed: Vec<_> = status.checks.iter().filter(|c| !c.passed).collect();
        assert!(failed.is_empty(), "{case}: {failed:#?}");
        let queries = status
            .checks
            .iter()
            .filter(|c| c.name.starts_with("query/"))
            .count();
        assert!(
            queries > 0,
            "{case}: no query of the suite ran: {:#?}",
            status.skipped_checks
        );
        for t in &status.tables {
            assert_eq!(t.rows_read, t.rows_loaded, "{case}.{}", t.name);
        }

        // The reference holds, row for row, what Qserv's runner loads from the same files.
        let runner_db = format!("runner_{case}");
        load_as_the_runner_does(&fixtures().join(case), &ingest, &runner_db).await;
        let mut runner = mysql_async::Conn::from_url(MariaDb::shared().url())
            .await
            .unwrap();
        let mut reference = connect(&local, "qserv-ci-reference", 3306, "root").await;
        let mut figures = BTreeMap::new();
        for table in &ingest.spec.tables {
            let expected = rows(&mut runner, &format!("{runner_db}.{}", table.name)).await;
            let got = rows(
                &mut reference,
                &format!("{}.{}", ingest.spec.database, table.name),
            )
            .await;
            assert!(
                expected == got,
                "{case}.{}: the reference differs from LOAD DATA",
                table.name
            );
            let status_rows = status
                .tables
                .iter()
                .find(|t| t.name == table.name)
                .unwrap()
                .rows_loaded;
            assert_eq!(status_rows, expected.len() as i64, "{case}.{}", table.name);
            figures.insert(table.name.clone(), expected.len());
        }
        println!("{case}: {queries} queries identical; rows per table {figures:?}");
    }
    local.shutdown().await;
}

/// `dir/<file>` (gzip) with `edit` applied to its decompressed lines.
fn edit_gz(dir: &Path, file: &str, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let path = dir.join(file);
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    edit(&mut lines);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut gz, &lines.join(&b'\n')).unwrap();
    gz.finish().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A quote left open in the partitioned director and a trailing escape in the quoted regular
/// table: each ingest fails with the file, the line and the field in its condition, and nothing
/// reaches Qserv.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_quote_or_a_trailing_escape_fails_the_ingest_naming_file_line_and_field() {
    let (local, _dir) = start("testdata-bad-dialect", true).await;
    ready_cluster(&local).await;
    let data = tempfile::tempdir().unwrap();
    for (name, table) in [
        ("open-quote", "DeepSource"),
        ("trailing-escape", "DeepCoadd"),
    ] {
        let root = data.path().join(name);
        copy_dir(&fixtures().join("case04"), &root);
        let file = format!("data/{table}.csv.gz");
        edit_gz(&root, &file, |lines| {
            if table == "DeepSource" {
                // Field 3 of line 10 opens a quote nothing closes (the file has no quotes).
                let mut fields: Vec<Vec<u8>> =
                    lines[9].split(|b| *b == b',').map(<[u8]>::to_vec).collect();
                fields[2].insert(0, b'"');
                lines[9] = fields.join(&b',');
            } else {
                // The last line ends inside its last field's quotes, after an escape.
                let last = lines.iter().rposition(|l| !l.is_empty()).unwrap();
                lines.truncate(last + 1);
                lines[last].pop();
                lines[last].push(b'\\');
            }
        });
        let mut ingest = imported("case04", CASE04);
        ingest.metadata.name = Some(name.into());
        ingest.spec.database = name.replace('-', "_");
        ingest.spec.source.path = Some(root.display().to_string());
        ingest.spec.queries = None;
        ingest.spec.query_skip_numbers.clear();
        apply(&local, &serde_json::to_value(&ingest).unwrap()).await;
    }
    for (name, reason, expected) in [
        (
            "open-quote",
            "PartitionFailed",
            "data/DeepSource.csv.gz: line 10: field 3 opens a quote ('\"') that is not closed before the end of the input",
        ),
        (
            "trailing-escape",
            "LoadFailed",
            "data/DeepCoadd.csv.gz: line 66: field 34 ends with the escape character '\\\\' at the end of the input",
        ),
    ] {
        let status = finished(&local, name, 600).await;
        assert_eq!(status.phase, Some(IngestPhase::Failed), "{name}");
        let ready = condition::find(&status.conditions, READY).unwrap();
        assert_eq!(ready.reason, reason, "{name}: {}", ready.message);
        assert!(
            ready.message.contains(expected),
            "{name}: {}",
            ready.message
        );
        // Nothing published; the database not even registered.
        assert_eq!(
            replication_state(&local, &name.replace('-', "_")).await,
            None,
            "{name}"
        );
    }
    local.shutdown().await;
}
