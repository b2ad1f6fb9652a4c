//! HDF5 decode throughput on a generated 1 M-row astropy table (the issue's target is
//! ≥ 3 M rows/s). Prints figures, asserts nothing about time:
//! `cargo test --release --test catalog_bench -- --ignored --nocapture`

mod catalog_util;
use catalog_util as common;

use std::time::Instant;

use common::{path_str, temp_dir};
use qserv_operator::catalog::{DEFAULT_BATCH_ROWS, Hdf5Reader, SelectionSpec};

#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn hdf5_decode_rows_per_second() {
    let dir = temp_dir("bench");
    let file = dir.join("bench.h5");
    // 200 000 objects x 5 bands = 1 000 000 deepCoadd_meas rows (15 columns, 79 bytes a row).
    let maker = common::data_dir().join("clusters/make_catalog.py");
    let out = std::process::Command::new(common::root().join(".venv/bin/python"))
        .arg(&maker)
        .args([path_str(&file), "200000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for round in 0..3 {
        let start = Instant::now();
        let reader = Hdf5Reader::open(&file, "deepCoadd_meas", DEFAULT_BATCH_ROWS).unwrap();
        let bytes = reader.num_rows() * 79;
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round}: decoded {rows} rows x 15 columns in {secs:.3} s: {:.2} M rows/s, {:.0} MB/s",
            rows as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6
        );
    }

    let reader = Hdf5Reader::open(&file, "deepCoadd_meas", DEFAULT_BATCH_ROWS).unwrap();
    let spec = SelectionSpec {
        table: "deepCoadd_meas".into(),
        columns: vec!["coord*".into(), "id".into()],
        cone: Some(qserv_operator::catalog::Cone {
            ra: 340.83,
            dec: -9.59,
            radius: 0.4,
        }),
        position: Some(qserv_operator::catalog::Position {
            ra: "coord_ra".into(),
            dec: "coord_dec".into(),
            unit: Some(qserv_operator::catalog::AngleUnit::Radian),
        }),
        ..Default::default()
    };
    let start = Instant::now();
    let selected = qserv_operator::catalog::CatalogReader::Hdf5(reader)
        .select(&spec)
        .unwrap();
    let rows: usize = selected.map(|b| b.unwrap().num_rows()).sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode + cone + 3-column projection: 1000000 rows in {secs:.3} s: {:.2} M rows/s ({rows} rows kept)",
        1e6 / secs / 1e6
    );
}

/// CSV/TSV reading throughput of the record reader, into typed batches: 1 M rows of 10
/// columns (integers, doubles, text with escapes or quotes), as MySQL writes TSV and as a
/// quoting CSV writer writes CSV.
#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn csv_and_tsv_read_rows_per_second() {
    use qserv_operator::catalog::{CsvOptions, CsvReader, sqlschema};
    use std::io::Write;
    use std::sync::Arc;
    let dir = temp_dir("bench-csv");
    let rows = 1_000_000u64;
    let ddl = "CREATE TABLE t (id BIGINT NOT NULL, ra DOUBLE, decl DOUBLE, flux DOUBLE, \
               err FLOAT, n INT, flag TINYINT, band CHAR(1), name VARCHAR(40), note VARCHAR(80))";
    let schema = Arc::new(sqlschema::schema_from_ddl(ddl, None).unwrap());
    for (name, delimiter) in [("tsv", b'\t'), ("csv", b',')] {
        let file = dir.join(format!("bench.{name}"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..rows {
            let d = delimiter as char;
            let (name, note) = if name == "tsv" {
                (
                    format!("obj\\\t{i}"),
                    "a note with an escaped \\\\ and \\N-ish text".to_string(),
                )
            } else {
                (
                    format!("\"obj,{i}\""),
                    "\"a \"\"quoted\"\" note, with a comma\"".to_string(),
                )
            };
            writeln!(
                out,
                "{i}{d}{}{d}{}{d}{}{d}{}{d}{}{d}{}{d}{}{d}{name}{d}{note}",
                340.0 + (i % 1000) as f64 * 1e-3,
                -9.5 - (i % 777) as f64 * 1e-3,
                (i as f64).sqrt(),
                0.25,
                i % 100_000,
                i % 2,
                ["u", "g", "r", "i", "z"][(i % 5) as usize]
            )
            .unwrap();
        }
        out.flush().unwrap();
        let bytes = std::fs::metadata(&file).unwrap().len();
        let mut options = if name == "tsv" {
            CsvOptions::tsv()
        } else {
            CsvOptions::csv()
        };
        options.schema = Some(schema.clone());
        for round in 0..3 {
            let start = Instant::now();
            let read: usize = CsvReader::open(&file, &options, DEFAULT_BATCH_ROWS)
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(read as u64, rows);
            println!(
                "{name} round {round}: {read} rows x 10 columns in {secs:.3} s: {:.2} M rows/s, {:.0} MB/s",
                read as f64 / secs / 1e6,
                bytes as f64 / secs / 1e6
            );
        }
    }
}
