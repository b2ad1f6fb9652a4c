//! HDF5 → MariaDB throughput of the reference loader next to a raw `LOAD DATA LOCAL INFILE` of
//! the same rows from a file by the `mariadb` command-line client, as a ratio (the issue's
//! target is ≥ 0.9). Prints figures, asserts nothing about time:
//! `cargo test --release --test load_bench -- --ignored --nocapture`
//! (`QSERV_BENCH_OBJECTS` objects, 5 rows each; default 200 000 → 1 M rows).

mod catalog_util;
mod common;

use std::process::Command;
use std::time::Instant;

use catalog_util::{data_dir, path_str, root, temp_dir};
use common::{MariaDb, connect, hdf5_input, scalar};
use mysql_async::prelude::Queryable;
use qserv_operator::catalog::{DEFAULT_BATCH_ROWS, Hdf5Reader};
use qserv_operator::db::Endpoint;
use qserv_operator::load::tsv::encode_rows;
use qserv_operator::load::{ReferenceLoad, load_reference};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn hdf5_to_mariadb_against_raw_load_data() {
    let objects = std::env::var("QSERV_BENCH_OBJECTS").unwrap_or_else(|_| "200000".into());
    let dir = temp_dir("load-bench");
    let h5 = dir.join("bench.h5");
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(data_dir().join("clusters/make_catalog.py"))
        .args([path_str(&h5), &objects])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dataset = "deepCoadd_meas";

    // The same rows as a file, in the text our loader streams (so both sides parse the same).
    let tsv = dir.join("bench.tsv");
    let start = Instant::now();
    let mut text = Vec::new();
    let mut rows = 0;
    for batch in Hdf5Reader::open(&h5, dataset, DEFAULT_BATCH_ROWS).unwrap() {
        let batch = batch.unwrap();
        encode_rows(&batch, 0..batch.num_rows(), &mut text).unwrap();
        rows += batch.num_rows();
    }
    let decode_encode = start.elapsed().as_secs_f64();
    std::fs::write(&tsv, &text).unwrap();
    println!(
        "{rows} rows, {:.0} MB as text; HDF5 decode + text encode alone: {:.2} M rows/s",
        text.len() as f64 / 1e6,
        rows as f64 / decode_encode / 1e6
    );

    let server = MariaDb::shared();
    let socket = server.dir().join("mysqld.sock");
    let mut conn = connect().await;
    // Over the server's Unix socket (what mysql_async picks for a local server, its
    // `prefer_socket`) and over TCP; the client uses the same transport as the loader.
    let transports = [
        (
            "socket",
            server.url(),
            vec![
                "--protocol=socket".to_string(),
                format!("--socket={}", socket.display()),
            ],
        ),
        (
            "tcp",
            format!("{}?prefer_socket=false", server.url()),
            vec![
                "--protocol=tcp".to_string(),
                "--host=127.0.0.1".to_string(),
                format!("--port={}", server.port()),
            ],
        ),
    ];
    for (transport, url, client_args) in &transports {
        for round in 0..2 {
            let input = hdf5_input(h5.clone(), dataset, &[]);
            let load = ReferenceLoad::new("bench", dataset, input);
            let summary = load_reference(&Endpoint::parse(url).unwrap(), &load, None)
                .await
                .unwrap();
            let ours = summary.rows_per_second();

            conn.query_drop("DROP TABLE IF EXISTS bench.raw")
                .await
                .unwrap();
            conn.query_drop(format!("CREATE TABLE bench.raw LIKE bench.{dataset}"))
                .await
                .unwrap();
            let start = Instant::now();
            let out = Command::new("mariadb")
                .args(["--no-defaults", "--local-infile=1", "-uroot"])
                .args(client_args)
                .args([
                    "-e",
                    &format!(
                        "LOAD DATA LOCAL INFILE '{}' INTO TABLE bench.raw CHARACTER SET utf8mb4",
                        tsv.display()
                    ),
                ])
                .output()
                .unwrap();
            let raw_secs = start.elapsed().as_secs_f64();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let count = scalar(&mut conn, "SELECT COUNT(*) FROM bench.raw").await;
            assert_eq!(count as u64, summary.rows);
            let raw = rows as f64 / raw_secs;
            println!(
                "{transport} round {round}: HDF5 → MariaDB {ours:.0} rows/s ({:.2} s), raw LOAD DATA \
                 of the text file {raw:.0} rows/s ({raw_secs:.2} s): ratio {:.2}",
                summary.elapsed.as_secs_f64(),
                ours / raw
            );
        }
    }
}
