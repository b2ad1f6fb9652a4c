//! The reference loader against a real MariaDB (a throwaway server of this test binary):
//! macs2243.h5 round-trips exactly, selections load exactly the selected rows and columns, and
//! the qserv_testdata case01 TSVs load with their schema.

mod catalog_util;
mod common;

use qserv_operator::catalog::schema::ColumnMeta;
use qserv_operator::catalog::{
    AngleUnit, CatalogReader, Cone, CsvOptions, DEFAULT_BATCH_ROWS, InputFormat, Position,
    SchemaFile, SelectionSpec, schema_from_ddl_file,
};
use qserv_operator::load::Input;
use serde_json::Value;
use std::sync::Arc;

use catalog_util::{data_dir, json_value, macs2243, path_str, python};
use common::{as_stored, connect, hdf5_input, load, rows, scalar};

const TABLES: [&str; 3] = ["deepCoadd_meas", "deepCoadd_forced_src", "forced_src"];

/// The rows of `dataset` as our reader gives them, values as MariaDB stores them.
fn reader_rows(dataset: &str, spec: &SelectionSpec) -> (Vec<String>, Vec<Vec<Value>>) {
    let format = InputFormat::Hdf5 {
        dataset: dataset.into(),
    };
    let reader = CatalogReader::open(&macs2243(), &format, 4096)
        .unwrap()
        .select(spec)
        .unwrap();
    let names = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for r in 0..batch.num_rows() {
            out.push(
                (0..batch.num_columns())
                    .map(|c| as_stored(&json_value(&batch, c, r)))
                    .collect(),
            );
        }
    }
    (names, out)
}

/// Column names and comments of a loaded table, in order.
async fn columns(conn: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<(String, String)> {
    use mysql_async::prelude::Queryable;
    conn.exec(
        "SELECT COLUMN_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    .await
    .unwrap()
}

/// Every column of every table, row by row, against our reader; units as comments. MyISAM
/// returns the rows of a table never written to since the load in load order.
#[tokio::test(flavor = "multi_thread")]
async fn macs2243_round_trips_every_column_of_every_table() {
    let db = "macs_roundtrip";
    let mut conn = connect().await;
    for dataset in TABLES {
        let summary = load(db, dataset, hdf5_input(macs2243(), dataset, &[])).await;
        let spec = SelectionSpec {
            table: dataset.into(),
            ..Default::default()
        };
        let (names, expected) = reader_rows(dataset, &spec);
        assert_eq!(
            summary.rows,
            expected.len() as u64,
            "{dataset}: rows loaded"
        );

        let loaded = columns(&mut conn, db, dataset).await;
        let loaded_names: Vec<&String> = loaded.iter().map(|(n, _)| n).collect();
        assert_eq!(loaded_names, names.iter().collect::<Vec<_>>(), "{dataset}");
        let schema = CatalogReader::open(
            &macs2243(),
            &InputFormat::Hdf5 {
                dataset: dataset.into(),
            },
            16,
        )
        .unwrap()
        .schema();
        for ((name, comment), field) in loaded.iter().zip(schema.fields()) {
            let want = match (field.description(), field.unit()) {
                (Some(d), Some(u)) => format!("{d} [{u}]"),
                (Some(d), None) => d.to_string(),
                (None, Some(u)) => format!("[{u}]"),
                (None, None) => String::new(),
            };
            assert_eq!(comment, &want, "{dataset}.{name}: comment");
        }

        let got = rows(&mut conn, &format!("SELECT * FROM {db}.{dataset}")).await;
        assert_eq!(got.len(), expected.len(), "{dataset}: rows in MariaDB");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{dataset} row {i}");
        }
    }
}

/// deepCoadd_meas in MariaDB against astropy reading the file (tests/python/dump_table.py):
/// values, NaN as NULL, bools as 0/1, strings; units in the column comments.
#[tokio::test(flavor = "multi_thread")]
async fn macs2243_deep_coadd_meas_matches_astropy() {
    let (db, dataset) = ("macs_astropy", "deepCoadd_meas");
    load(db, dataset, hdf5_input(macs2243(), dataset, &[])).await;
    let oracle: Value =
        serde_json::from_str(&python("dump_table.py", &[path_str(&macs2243()), dataset])).unwrap();
    let mut conn = connect().await;

    let loaded = columns(&mut conn, db, dataset).await;
    let oracle_columns = oracle["columns"].as_array().unwrap();
    assert_eq!(loaded.len(), oracle_columns.len());
    let mut units = 0;
    for ((name, comment), col) in loaded.iter().zip(oracle_columns) {
        assert_eq!(name, col["name"].as_str().unwrap());
        if let Some(unit) = col["unit"].as_str() {
            units += 1;
            assert!(comment.ends_with(&format!("[{unit}]")), "{name}: {comment}");
        }
        if let Some(description) = col["description"].as_str() {
            assert!(comment.starts_with(description), "{name}: {comment}");
        }
    }
    assert!(units > 0, "macs2243 has units");

    let expected = oracle["rows"].as_array().unwrap();
    let got = rows(&mut conn, &format!("SELECT * FROM {db}.{dataset}")).await;
    assert_eq!(got.len(), expected.len());
    let (mut nulls, mut bools) = (0, 0);
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let e: Vec<Value> = e.as_array().unwrap().iter().map(as_stored).collect();
        assert_eq!(g, &e, "row {i}");
        nulls += e.iter().filter(|v| v.is_null()).count();
        bools += e.iter().filter(|v| v.is_u64()).count();
    }
    assert!(nulls > 0 && bools > 0, "NaNs and flags are exercised");
}

/// `coord*,id` and the Clusters cone (coordinates in radians): exactly the rows and columns
/// of the selection, and of astropy's own selection (tests/python/select_oracle.py).
#[tokio::test(flavor = "multi_thread")]
async fn column_globs_and_cone_load_exactly_the_selection() {
    let (db, dataset) = ("macs_cone", "deepCoadd_meas");
    let mut input = hdf5_input(macs2243(), dataset, &["coord*", "id"]);
    input.selection.position = Some(Position {
        ra: "coord_ra".into(),
        dec: "coord_dec".into(),
        unit: Some(AngleUnit::Radian),
    });
    input.selection.cone = Some(Cone {
        ra: 340.83,
        dec: -9.59,
        radius: 0.1,
    });
    let spec = input.selection.clone();
    let summary = load(db, dataset, input).await;
    let (names, expected) = reader_rows(dataset, &spec);
    assert!(
        !expected.is_empty() && expected.len() < 10_000,
        "the cone keeps some rows: {}",
        expected.len()
    );
    assert_eq!(summary.rows, expected.len() as u64);

    let mut conn = connect().await;
    let loaded: Vec<String> = columns(&mut conn, db, dataset)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(loaded, names);
    let got = rows(&mut conn, &format!("SELECT * FROM {db}.{dataset}")).await;
    assert_eq!(got, expected);

    let oracle: Value = serde_json::from_str(&python(
        "select_oracle.py",
        &[
            path_str(&macs2243()),
            dataset,
            "340.83",
            "-9.59",
            "0.1",
            "",
            "coord*,id",
            "",
        ],
    ))
    .unwrap();
    let oracle_names: Vec<&str> = oracle["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, oracle_names);
    let oracle_rows: Vec<Vec<Value>> = oracle["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(as_stored).collect())
        .collect();
    assert_eq!(got, oracle_rows, "astropy's selection");
}

/// case01 Object, Source and Filter with their `.schema`: row counts, non-null counts and
/// sums against tests/python/tsv_stats.py, which decodes the files itself.
#[tokio::test(flavor = "multi_thread")]
async fn case01_tsvs_load_with_their_schema() {
    let db = "case01";
    let case01 = data_dir().join("qserv_testdata/case01/data");
    let mut conn = connect().await;
    for table in ["Filter", "Object", "Source"] {
        let file = case01.join(format!("{table}.tsv.gz"));
        let ddl = case01.join(format!("schema/{table}.schema"));
        let mut options = CsvOptions::tsv();
        options.schema = Some(Arc::new(schema_from_ddl_file(&ddl, Some(table)).unwrap()));
        let input = Input {
            files: vec![file.clone()],
            format: InputFormat::Csv(options),
            selection: SelectionSpec {
                table: table.into(),
                ..Default::default()
            },
            batch_rows: DEFAULT_BATCH_ROWS,
        };
        let mut load_spec = qserv_operator::load::ReferenceLoad::new(db, table, input);
        load_spec.schema_file = Some(SchemaFile::new(ddl.clone(), table));
        let summary = qserv_operator::load::load_reference(&common::endpoint(), &load_spec, None)
            .await
            .unwrap();

        let stats_text = python("tsv_stats.py", &[path_str(&file), path_str(&ddl)]);
        let stats: Value = serde_json::from_str(&stats_text).unwrap();
        let rows_expected = stats["rows"].as_i64().unwrap();
        assert_eq!(summary.rows as i64, rows_expected, "{table}");
        assert_eq!(
            scalar(&mut conn, &format!("SELECT COUNT(*) FROM {db}.{table}")).await,
            rows_expected
        );
        let schema_text = std::fs::read_to_string(&ddl).unwrap();
        let mut sums = 0;
        for (name, s) in stats["columns"].as_object().unwrap() {
            let count = scalar(
                &mut conn,
                &format!("SELECT COUNT(`{name}`) FROM {db}.{table}"),
            )
            .await;
            assert_eq!(count, s["count"].as_i64().unwrap(), "{table}.{name}: count");
            let kind = column_kind(&schema_text, name);
            match (&s["sum"], kind.as_str()) {
                (Value::Number(_), "tinyint" | "smallint" | "int" | "bigint") => {
                    let sql = format!(
                        "SELECT CAST(COALESCE(SUM(`{name}`), 0) AS CHAR) FROM {db}.{table}"
                    );
                    let got: Option<String> =
                        mysql_async::prelude::Queryable::query_first(&mut conn, sql)
                            .await
                            .unwrap();
                    let want = integer_sum(&stats_text, name);
                    assert_eq!(got.unwrap(), want, "{table}.{name}: sum");
                    sums += 1;
                }
                (Value::String(bits), "double") => {
                    let want = f64::from_bits(
                        u64::from_str_radix(bits.trim_start_matches("f:"), 16).unwrap(),
                    );
                    let sql = format!("SELECT COALESCE(SUM(`{name}`), 0) FROM {db}.{table}");
                    let got: Option<f64> =
                        mysql_async::prelude::Queryable::query_first(&mut conn, sql)
                            .await
                            .unwrap();
                    let got = got.unwrap();
                    // Same values; the two sums may add them in another order.
                    assert!(
                        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                        "{table}.{name}: sum {got} != {want}"
                    );
                    sums += 1;
                }
                _ => {}
            }
        }
        assert!(sums > 0, "{table}: some sums compared");
    }
}

/// The exact integer sum of `column` in tsv_stats.py's output, as text: sums beyond 64 bits
/// (Source.sourceId) would be rounded by a JSON number parser.
fn integer_sum(stats: &str, column: &str) -> String {
    let at = stats.find(&format!("\"{column}\": {{")).unwrap();
    let sum = at + stats[at..].find("\"sum\": ").unwrap() + "\"sum\": ".len();
    stats[sum..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect()
}

/// The SQL type name of `column` in a mysqldump schema.
fn column_kind(schema: &str, column: &str) -> String {
    let needle = format!("`{column}` ");
    let at = schema.find(&needle).unwrap() + needle.len();
    schema[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect()
}
