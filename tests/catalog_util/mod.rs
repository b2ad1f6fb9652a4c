//! Helpers shared by the catalog integration tests: the Python oracle in the project venv,
//! the shared test data, and Arrow values as JSON for row-by-row comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared test data (`../shared/data` beside the checkout, or `$QSERV_TEST_DATA`).
pub fn data_dir() -> PathBuf {
    std::env::var_os("QSERV_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data"))
}

pub fn macs2243() -> PathBuf {
    data_dir().join("clusters/macs2243.h5")
}

/// Runs a script of `tests/python/` with the project venv (made by `scripts/setup.sh`) and
/// returns its standard output; a failing script fails the test with its stderr.
pub fn python(script: &str, args: &[&str]) -> String {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup.sh",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root().join("tests/python").join(script))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A fresh temporary directory under the target dir, removed at the start of the next run.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = root().join("target/test-tmp").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The value at `row` of column `col` as JSON: null for nulls, numbers, bools and strings.
/// Floats are `f:` + the 16 hex digits of their f64 bits (float32 widened first), the format
/// of `tests/python/dump_table.py`, so comparisons are exact without float parsing.
pub fn json_value(batch: &RecordBatch, col: usize, row: usize) -> Value {
    let array = batch.column(col);
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => array.as_boolean().value(row).into(),
        DataType::Utf8 => array.as_string::<i32>().value(row).into(),
        DataType::Binary => String::from_utf8_lossy(array.as_binary::<i32>().value(row))
            .into_owned()
            .into(),
        other => panic!("unexpected type {other}"),
    }
}

pub fn float(v: f64) -> Value {
    Value::String(format!("f:{:016x}", v.to_bits()))
}
