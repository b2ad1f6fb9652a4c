//! `qserv-operator load` as a Job runs it, against a throwaway MariaDB: the Clusters selection
//! from HDF5 with the summary line, and a Parquet file matching astropy's reading of the table
//! it was written from.

mod catalog_util;
mod common;

use std::process::Command;

use catalog_util::{macs2243, path_str, python, temp_dir};
use common::{MariaDb, as_stored, connect, rows, scalar};
use qserv_operator::catalog::{
    AngleUnit, CatalogReader, Cone, InputFormat, Position, SelectionSpec,
};
use serde_json::Value;

/// Runs `qserv-operator load --to <server> ARGS`; returns stdout, failing on an error.
fn load_command(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["load", "--to", &MariaDb::shared().url()])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clusters_selection_loads_and_prints_its_summary() {
    let stdout = load_command(&[
        "--database",
        "cli",
        "--table",
        "meas",
        "--format",
        "hdf5",
        "--dataset",
        "deepCoadd_meas",
        "--columns",
        "coord*,id",
        "--cone",
        "340.83,-9.59,0.1",
        "--angle-unit",
        "radian",
        path_str(&macs2243()),
    ]);
    let spec = SelectionSpec {
        table: "deepCoadd_meas".into(),
        columns: vec!["coord*".into(), "id".into()],
        position: Some(Position {
            ra: "coord_ra".into(),
            dec: "coord_dec".into(),
            unit: Some(AngleUnit::Radian),
        }),
        cone: Some(Cone {
            ra: 340.83,
            dec: -9.59,
            radius: 0.1,
        }),
        ..Default::default()
    };
    let format = InputFormat::Hdf5 {
        dataset: "deepCoadd_meas".into(),
    };
    let expected: usize = CatalogReader::open(&macs2243(), &format, 4096)
        .unwrap()
        .select(&spec)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let prefix = format!("loaded {expected} rows into cli.meas in ");
    assert!(stdout.starts_with(&prefix), "{stdout}");
    assert!(stdout.trim_end().ends_with(" rows/s)"), "{stdout}");
    let mut conn = connect().await;
    let count = scalar(&mut conn, "SELECT COUNT(*) FROM cli.meas").await;
    assert_eq!(count as usize, expected);
    let columns = scalar(
        &mut conn,
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'cli' AND TABLE_NAME = 'meas'",
    )
    .await;
    assert_eq!(columns, 3, "id, coord_ra, coord_dec");
}

/// deepCoadd_meas written as Parquet (several row groups, NaN kept as NaN by pyarrow) loads
/// into the same values as astropy reads from the HDF5 file: NaN as NULL, bools 0/1.
#[tokio::test(flavor = "multi_thread")]
async fn a_parquet_file_loads_exactly() {
    let dir = temp_dir("load-cli-parquet");
    let parquet = dir.join("meas.parquet");
    let h5 = macs2243();
    python(
        "make_parquet.py",
        &[path_str(&h5), "deepCoadd_meas", path_str(&parquet)],
    );
    load_command(&[
        "--database",
        "cli_parquet",
        "--table",
        "meas",
        "--format",
        "parquet",
        path_str(&parquet),
    ]);
    let oracle: Value =
        serde_json::from_str(&python("dump_table.py", &[path_str(&h5), "deepCoadd_meas"])).unwrap();
    let expected: Vec<Vec<Value>> = oracle["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(as_stored).collect())
        .collect();
    let mut conn = connect().await;
    let got = rows(&mut conn, "SELECT * FROM cli_parquet.meas").await;
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "row {i}");
    }
}

/// `load` reads any dialect sph-partition reads: here `|`-delimited, `'`-quoted, `\`-escaped
/// text with a quoted delimiter, a doubled quote, an escaped line break and both NULL forms.
#[tokio::test(flavor = "multi_thread")]
async fn the_csv_dialect_flags_read_what_they_say() {
    let dir = temp_dir("load-dialect");
    let file = dir.join("t.psv");
    std::fs::write(
        &file,
        b"1|'a|b'|x\n2|'it''s'|line\\\nbreak\n3|NULL|\\N\n4|'NULL'|'\\N'\n",
    )
    .unwrap();
    let schema = dir.join("t.schema");
    std::fs::write(
        &schema,
        "CREATE TABLE t (id INT NOT NULL, a VARCHAR(10), b VARCHAR(10))",
    )
    .unwrap();
    load_command(&[
        "--database",
        "cli",
        "--table",
        "dialect",
        "--format",
        "csv",
        "--delimiter",
        "|",
        "--quote",
        "'",
        "--schema",
        path_str(&schema),
        path_str(&file),
    ]);
    let mut conn = connect().await;
    let got: Vec<(i32, Option<String>, Option<String>)> = mysql_async::prelude::Queryable::query(
        &mut conn,
        "SELECT id, a, b FROM cli.dialect ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        [
            (1, Some("a|b".into()), Some("x".into())),
            (2, Some("it's".into()), Some("line\nbreak".into())),
            (3, None, None),
            (4, Some("NULL".into()), None),
        ]
    );
    // A dialect that contradicts itself is refused before anything is read.
    let out = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args([
            "load",
            "--to",
            &MariaDb::shared().url(),
            "--database",
            "cli",
        ])
        .args([
            "--table", "dialect", "--format", "csv", "--escape", "'", "--quote", "'",
        ])
        .arg(path_str(&file))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error: CSV dialect: escape: '\\'' is also the quote character"
    );
}
