//! `qserv-operator query` against a throwaway MariaDB holding macs2243's forced_src: JSON and
//! CSV values exactly as our reader read them, the table format, and clear errors.

mod catalog_util;
mod common;

use std::process::{Command, Output};

use catalog_util::{json_value, macs2243, temp_dir};
use common::{MariaDb, hdf5_input, load};
use qserv_operator::catalog::{DEFAULT_BATCH_ROWS, Hdf5Reader};
use serde_json::Value;

fn query(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .arg("query")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// forced_src loaded into `db` (one database per test: tests run at once, and two loads of
/// one table at once are not supported); the endpoint URL with the database.
async fn loaded(db: &str) -> String {
    load(db, "forced_src", hdf5_input(macs2243(), "forced_src", &[])).await;
    format!("{}/{db}", MariaDb::shared().url())
}

/// JSON values (floats exact, NULL for NaN) equal what our reader reads, row by row.
#[tokio::test(flavor = "multi_thread")]
async fn json_output_holds_the_exact_values() {
    let url = loaded("q_json").await;
    let out = stdout(&query(&[
        "--endpoint",
        &url,
        "SELECT * FROM forced_src",
        "--format",
        "json",
    ]));
    let result: Value = serde_json::from_str(&out).unwrap();
    let reader = Hdf5Reader::open(&macs2243(), "forced_src", DEFAULT_BATCH_ROWS).unwrap();
    let names: Vec<Value> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str().into())
        .collect();
    assert_eq!(result["columns"].as_array().unwrap(), &names);
    // serde_json rounds some decimals to a neighbouring double (no `float_roundtrip`), so the
    // values are read from the text here: one row per line, no strings in forced_src.
    let rows: Vec<Vec<Value>> = out
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').strip_prefix('['))
        .map(|l| {
            l.trim_end_matches(']')
                .split(", ")
                .map(|t| match t {
                    "null" => Value::Null,
                    t if t.contains(['.', 'e', 'E']) => {
                        catalog_util::float(t.parse::<f64>().unwrap())
                    }
                    t => t.parse::<i64>().unwrap().into(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), result["rows"].as_array().unwrap().len());
    let mut i = 0;
    for batch in reader {
        let batch = batch.unwrap();
        for r in 0..batch.num_rows() {
            let want: Vec<Value> = (0..batch.num_columns())
                .map(|c| json_value(&batch, c, r))
                .collect();
            assert_eq!(rows[i], want, "row {i}");
            i += 1;
        }
    }
    assert_eq!(i, rows.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_and_table_outputs() {
    let url = loaded("q_csv").await;
    let sql = "SELECT id, coord_ra, NULL AS n, 'a,b' AS s FROM forced_src ORDER BY id LIMIT 2";
    let dir = temp_dir("query-out");
    let file = dir.join("out.csv");
    stdout(&query(&[
        "--endpoint",
        &url,
        sql,
        "--format",
        "csv",
        "--out",
        file.to_str().unwrap(),
    ]));
    let csv = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(lines[0], "id,coord_ra,n,s");
    assert!(lines[1].ends_with(",\\N,\"a,b\""), "{csv}");

    let table = stdout(&query(&["--endpoint", &url, sql]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[1].starts_with("| id "), "{table}");
    assert!(lines[3].contains("| NULL |"), "{table}");
    assert_eq!(lines[6], "2 rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_name_the_endpoint_the_sql_problem_and_the_file() {
    let url = loaded("q_errors").await;
    let err = query(&["--endpoint", &url, "SELECT nope FROM forced_src"]);
    assert!(!err.status.success());
    let message = String::from_utf8_lossy(&err.stderr);
    assert!(
        message.contains("query failed on 127.0.0.1:") && message.contains("Unknown column 'nope'"),
        "{message}"
    );

    let port = common::mariadb::free_port();
    let err = query(&[
        "--endpoint",
        &format!("mysql://root@127.0.0.1:{port}"),
        "SELECT 1",
    ]);
    let message = String::from_utf8_lossy(&err.stderr);
    assert!(
        message.contains(&format!("cannot connect to MariaDB at 127.0.0.1:{port}")),
        "{message}"
    );

    let err = query(&[
        "--endpoint",
        &url,
        "SELECT 1",
        "--out",
        "/nonexistent-dir/out.csv",
    ]);
    let message = String::from_utf8_lossy(&err.stderr);
    assert!(
        message.contains("/nonexistent-dir/out.csv: cannot write the result"),
        "{message}"
    );
}

/// `query` only reads: statements that write, a second statement hidden after a `;` or in a
/// comment, and `SELECT ... INTO OUTFILE` are refused before they are sent (exit 1, the reason
/// named, the data untouched); on the connection itself MariaDB refuses any write after
/// `make_read_only`, so even a statement the guard let through could not change data.
#[tokio::test(flavor = "multi_thread")]
async fn statements_that_would_change_data_are_refused_and_change_nothing() {
    use mysql_async::prelude::Queryable;
    let url = loaded("q_read_only").await;
    let outfile = temp_dir("q_read_only").join("outfile.txt");
    let outfile_sql = format!(
        "SELECT * FROM forced_src INTO OUTFILE '{}'",
        outfile.display()
    );
    let count = "SELECT COUNT(*) FROM forced_src";
    let before = stdout(&query(&["--endpoint", &url, "--format", "csv", count]));
    for (sql, reason) in [
        ("DROP TABLE forced_src", "starts with DROP"),
        ("DELETE FROM forced_src", "starts with DELETE"),
        (
            "INSERT INTO forced_src SELECT * FROM forced_src",
            "starts with INSERT",
        ),
        ("UPDATE forced_src SET id = 0", "starts with UPDATE"),
        ("DROP DATABASE q_read_only", "starts with DROP"),
        (outfile_sql.as_str(), "SELECT ... INTO"),
        ("SELECT 1; DROP TABLE forced_src", "more than one statement"),
        (
            "SELECT 1 /* ; */ ; -- x\n DELETE FROM forced_src",
            "more than one statement",
        ),
        (
            "SELECT 1 /*! ; DROP TABLE forced_src */",
            "executable comment",
        ),
    ] {
        let out = query(&["--endpoint", &url, sql]);
        assert!(!out.status.success(), "{sql} ran");
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(
            message.contains("not a read-only query") && message.contains(reason),
            "{sql}: {message}"
        );
        assert!(!message.contains("stack backtrace"), "{message}");
    }
    assert_eq!(
        stdout(&query(&["--endpoint", &url, "--format", "csv", count])),
        before
    );
    assert!(!outfile.exists());
    // A user error never prints a Rust backtrace, whatever the environment asks.
    let out = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["query", "--endpoint", &url, "DROP TABLE forced_src"])
        .env("RUST_BACKTRACE", "full")
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        message.starts_with("Error: not a read-only query (starts with DROP)"),
        "{message}"
    );
    assert!(!message.to_lowercase().contains("backtrace"), "{message}");

    let mut conn = mysql_async::Conn::from_url(url.as_str()).await.unwrap();
    assert!(qserv_operator::read_only::make_read_only(&mut conn).await);
    let err = conn.query_drop("DROP TABLE forced_src").await.unwrap_err();
    assert!(err.to_string().contains("READ ONLY"), "{err}");
    let n: Option<i64> = conn.query_first(count).await.unwrap();
    assert!(n.unwrap() > 0);
}
