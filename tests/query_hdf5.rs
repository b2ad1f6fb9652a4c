//! `qserv-operator query --format hdf5` read back by astropy (`Table.read(F, path=...)` in the
//! project venv): every MariaDB column type with NULLs, checked value by value with dtypes,
//! units and descriptions; macs2243 deepCoadd_meas through the reference loader and back
//! equals the original column by column; an unwritable output is named.

mod catalog_util;
mod common;

use std::process::{Command, Output};

use catalog_util::{macs2243, path_str, python, temp_dir};
use common::{MariaDb, connect, hdf5_input, load};
use mysql_async::prelude::Queryable;
use qserv_operator::catalog::Hdf5Reader;
use serde_json::{Value, json};

fn query(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .arg("query")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn succeed(out: Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const ALL_TYPES: &str = "CREATE TABLE q_hdf5.t (
  i8 TINYINT COMMENT 'a tiny int [adu]',
  u8 TINYINT UNSIGNED NOT NULL,
  i16 SMALLINT NOT NULL,
  u16 SMALLINT UNSIGNED NOT NULL,
  i24 MEDIUMINT NOT NULL,
  i32 INT NOT NULL,
  u32 INT UNSIGNED NOT NULL,
  i64 BIGINT NOT NULL COMMENT 'identifier',
  u64 BIGINT UNSIGNED NOT NULL,
  f32 FLOAT COMMENT 'flux [nJy]',
  f64 DOUBLE NOT NULL COMMENT 'Right ascension [deg]',
  dec10 DECIMAL(10,3),
  b BOOLEAN NOT NULL,
  bn BOOLEAN,
  s CHAR(3) NOT NULL,
  vs VARCHAR(5),
  bin VARBINARY(4) NOT NULL,
  ts DATETIME NOT NULL
) ENGINE=MyISAM DEFAULT CHARSET=latin1";

const ROWS: &str = "INSERT INTO q_hdf5.t VALUES
  (-128, 255, -32768, 65535, -8388608, -2147483648, 4294967295, -9223372036854775808,
   18446744073709551615, 0.1, 0.1, -1234567.125, TRUE, FALSE, 'abc', 'hello', X'00FF10', '2024-02-29 12:34:56'),
  (NULL, 0, 0, 0, 0, 0, 0, 9223372036854775807, 0, NULL, -1e300, NULL, FALSE, NULL, '', NULL, '', '1999-12-31 23:59:59'),
  (127, 1, 32767, 1, 8388607, 2147483647, 1, 0, 1, 3.5, 5e-324, 0.001, TRUE, TRUE, 'x', '', X'41', '2000-01-01 00:00:00')";

fn column<'a>(table: &'a Value, name: &str) -> &'a Value {
    &table[name]
}

/// Every type and NULL, with astropy as the reader.
#[tokio::test(flavor = "multi_thread")]
async fn every_type_and_null_reads_back_in_astropy() {
    let mut conn = connect().await;
    conn.query_drop("DROP DATABASE IF EXISTS q_hdf5")
        .await
        .unwrap();
    conn.query_drop("CREATE DATABASE q_hdf5").await.unwrap();
    conn.query_drop(ALL_TYPES).await.unwrap();
    conn.query_drop(ROWS).await.unwrap();
    let dir = temp_dir("query-hdf5-types");
    let file = dir.join("t.h5");
    let url = format!("{}/q_hdf5", MariaDb::shared().url());
    succeed(query(&[
        "--endpoint",
        &url,
        "SELECT * FROM t ORDER BY u32 DESC, i16",
        "--format",
        "hdf5",
        "--out",
        path_str(&file),
        "--dataset",
        "results/t",
    ]));
    let table: Value = serde_json::from_str(&python(
        "read_astropy_hdf5.py",
        &[path_str(&file), "results/t"],
    ))
    .unwrap();
    let names = [
        "i8", "u8", "i16", "u16", "i24", "i32", "u32", "i64", "u64", "f32", "f64", "dec10", "b",
        "bn", "s", "vs", "bin", "ts",
    ];
    assert_eq!(table["columns"], json!(names));
    assert_eq!(table["rows"], 3);
    // (dtype, masked, values): rows ordered by u32 DESC: 4294967295, 1, 0.
    let f32_of = |v: f32| format!("{:?}", f64::from(v));
    let expected = [
        ("i8", "|i1", true, json!([-128, 127, null])),
        ("u8", "|u1", false, json!([255, 1, 0])),
        ("i16", "<i2", false, json!([-32768, 32767, 0])),
        ("u16", "<u2", false, json!([65535, 1, 0])),
        ("i24", "<i4", false, json!([-8388608, 8388607, 0])),
        ("i32", "<i4", false, json!([-2147483648i64, 2147483647, 0])),
        ("u32", "<u4", false, json!([4294967295u64, 1, 0])),
        ("i64", "<i8", false, json!([i64::MIN, 0, i64::MAX])),
        ("u64", "<u8", false, json!([u64::MAX, 1, 0])),
        (
            "f32",
            "<f4",
            false,
            json!([f32_of(0.1), f32_of(3.5), "nan"]),
        ),
        ("f64", "<f8", false, json!(["0.1", "5e-324", "-1e+300"])),
        (
            "dec10",
            "<f8",
            false,
            json!(["-1234567.125", "0.001", "nan"]),
        ),
        ("b", "|b1", false, json!([true, true, false])),
        ("bn", "|b1", true, json!([false, true, null])),
        // Text arrives as utf8mb4 (the session's charset): up to 4 bytes per character.
        ("s", "|S12", false, json!(["abc", "x", ""])),
        ("vs", "|S20", true, json!(["hello", "", null])),
        ("bin", "|S4", false, json!(["\u{0}\u{ff}\u{10}", "A", ""])),
        (
            "ts",
            "|S19",
            false,
            json!([
                "2024-02-29 12:34:56",
                "2000-01-01 00:00:00",
                "1999-12-31 23:59:59"
            ]),
        ),
    ];
    for (name, dtype, masked, values) in expected {
        let c = column(&table, name);
        assert_eq!(c["dtype"], dtype, "{name}: {c}");
        assert_eq!(c["masked"], masked, "{name}");
        assert_eq!(c["values"], values, "{name}");
    }
    let meta = |name: &str| {
        (
            column(&table, name)["unit"].clone(),
            column(&table, name)["description"].clone(),
        )
    };
    assert_eq!(meta("i8"), (json!("adu"), json!("a tiny int")));
    assert_eq!(meta("f32"), (json!("nJy"), json!("flux")));
    assert_eq!(meta("f64"), (json!("deg"), json!("Right ascension")));
    assert_eq!(meta("i64"), (Value::Null, json!("identifier")));
    assert_eq!(
        meta("dec10"),
        (Value::Null, json!("DECIMAL in MariaDB, stored as float64"))
    );
    assert_eq!(meta("u8"), (Value::Null, Value::Null));
}

/// deepCoadd_meas through MariaDB and back: astropy sees the original table.
#[tokio::test(flavor = "multi_thread")]
async fn macs2243_deepcoadd_meas_round_trips() {
    load(
        "q_hdf5_meas",
        "deepCoadd_meas",
        hdf5_input(macs2243(), "deepCoadd_meas", &[]),
    )
    .await;
    let dir = temp_dir("query-hdf5-meas");
    let file = dir.join("meas.h5");
    let url = format!("{}/q_hdf5_meas", MariaDb::shared().url());
    succeed(query(&[
        "--endpoint",
        &url,
        // MyISAM returns rows in insertion order; the order is the original's.
        "SELECT * FROM deepCoadd_meas",
        "--format",
        "hdf5",
        "--out",
        path_str(&file),
        "--dataset",
        "deepCoadd_meas",
    ]));
    let verdict = python(
        "compare_astropy_tables.py",
        &[
            path_str(&macs2243()),
            "deepCoadd_meas",
            path_str(&file),
            "deepCoadd_meas",
        ],
    );
    assert_eq!(verdict.trim(), "equal 15 10000");
    // Our own reader of astropy tables reads it too (masks folded, as for astropy's files).
    let reader = Hdf5Reader::open(&file, "deepCoadd_meas", 4096).unwrap();
    assert_eq!(reader.schema().fields().len(), 15);
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 10000);
}

#[test]
fn an_unwritable_output_is_named_and_nothing_is_left() {
    let dir = temp_dir("query-hdf5-unwritable");
    let file = dir.join("no/such/dir/out.h5");
    let out = query(&[
        "--endpoint",
        &MariaDb::shared().url(),
        "SELECT 1",
        "--format",
        "hdf5",
        "--out",
        path_str(&file),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: cannot write the result", file.display())),
        "{stderr}"
    );
    // Without --out there is no file to write.
    let out = query(&[
        "--endpoint",
        &MariaDb::shared().url(),
        "SELECT 1",
        "--format",
        "hdf5",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HDF5 output needs --out FILE"));
    // A result column without a fixed width is refused before anything is written.
    let file = dir.join("text.h5");
    let out = query(&[
        "--endpoint",
        &MariaDb::shared().url(),
        "SELECT REPEAT('x', 70000) AS big",
        "--format",
        "hdf5",
        "--out",
        path_str(&file),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("column `big`:") && stderr.contains("CAST"),
        "{stderr}"
    );
    assert!(!file.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
