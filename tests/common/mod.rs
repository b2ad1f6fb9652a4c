//! Helpers of the loader tests: the throwaway MariaDB server, loads of the shared test data,
//! and MariaDB values in the JSON form of `tests/catalog_util` (floats as `f:` + their bits),
//! so rows compare exactly with our reader and with the Python oracles.
#![allow(dead_code)]

pub mod case01;
pub mod felis;
pub mod local;
pub mod mariadb;
pub mod standin;

use std::path::PathBuf;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value as SqlValue};
use qserv_operator::catalog::{DEFAULT_BATCH_ROWS, InputFormat, SelectionSpec};
use qserv_operator::db::Endpoint;
use qserv_operator::load::{Input, LoadSummary, ReferenceLoad, load_reference};
use serde_json::Value;

pub use mariadb::MariaDb;

/// A connection to the shared test server.
pub async fn connect() -> Conn {
    Conn::from_url(MariaDb::shared().url())
        .await
        .expect("connect to the test server")
}

pub fn endpoint() -> Endpoint {
    Endpoint::parse(&MariaDb::shared().url()).unwrap()
}

/// Input of one HDF5 table of `file`, every column unless `columns` says otherwise.
pub fn hdf5_input(file: PathBuf, dataset: &str, columns: &[&str]) -> Input {
    Input {
        files: vec![file],
        format: InputFormat::Hdf5 {
            dataset: dataset.into(),
        },
        selection: SelectionSpec {
            table: dataset.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        },
        batch_rows: DEFAULT_BATCH_ROWS,
    }
}

/// Loads `input` into `database`.`table` of the shared server.
pub async fn load(database: &str, table: &str, input: Input) -> LoadSummary {
    load_reference(
        &endpoint(),
        &ReferenceLoad::new(database, table, input),
        None,
    )
    .await
    .unwrap_or_else(|err| panic!("loading {database}.{table}: {err}"))
}

/// A MariaDB value (binary protocol) in the JSON form of `catalog_util::json_value`.
pub fn json(value: &SqlValue) -> Value {
    match value {
        SqlValue::NULL => Value::Null,
        SqlValue::Int(i) => (*i).into(),
        SqlValue::UInt(u) => (*u).into(),
        SqlValue::Float(f) => float(f64::from(*f)),
        SqlValue::Double(d) => float(*d),
        SqlValue::Bytes(b) => String::from_utf8_lossy(b).into_owned().into(),
        other => panic!("unexpected value {other:?}"),
    }
}

pub fn float(v: f64) -> Value {
    Value::String(format!("f:{:016x}", v.to_bits()))
}

/// What MariaDB stores for an expected value: bools are 0/1.
pub fn as_stored(value: &Value) -> Value {
    match value {
        Value::Bool(b) => u8::from(*b).into(),
        other => other.clone(),
    }
}

/// Every row of a query (prepared, so values come in the binary protocol, floats exact).
pub async fn rows(conn: &mut Conn, sql: &str) -> Vec<Vec<Value>> {
    let rows: Vec<Row> = conn
        .exec(sql, ())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    rows.iter()
        .map(|r| (0..r.len()).map(|i| json(&r[i])).collect())
        .collect()
}

/// One integer of a query.
pub async fn scalar(conn: &mut Conn, sql: &str) -> i64 {
    let v: Option<i64> = conn
        .query_first(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    v.unwrap_or_else(|| panic!("{sql}: no row"))
}

/// Whether `database`.`table` exists.
pub async fn table_exists(conn: &mut Conn, database: &str, table: &str) -> bool {
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await
        .unwrap();
    n == Some(1)
}
