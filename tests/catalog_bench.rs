//! HDF5 decode throughput on a generated 1 M-row astropy table (the target is
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
