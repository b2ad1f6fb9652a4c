//! The astropy HDF5 reader against astropy itself (tests/python/dump_table.py): every value of
//! every column, row by row, on the real Clusters file and on generated variants.

mod catalog_util;
use catalog_util as common;

use std::path::Path;

use common::{json_value, macs2243, path_str, python, temp_dir};
use qserv_operator::catalog::schema::ColumnMeta;
use qserv_operator::catalog::{CatalogError, Hdf5Reader};
use serde_json::Value;

/// Reads `dataset` with our reader in batches of `batch_rows` and compares it with astropy.
/// Returns the number of batches.
fn assert_matches_astropy(file: &Path, dataset: &str, batch_rows: usize) -> usize {
    let oracle: Value =
        serde_json::from_str(&python("dump_table.py", &[path_str(file), dataset])).unwrap();
    let reader = Hdf5Reader::open(file, dataset, batch_rows).unwrap();
    let schema = reader.schema();

    let columns = oracle["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let ours: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(ours, names, "{dataset}: column names");
    for (field, col) in schema.fields().iter().zip(columns) {
        assert_eq!(
            field.unit(),
            col["unit"].as_str(),
            "{dataset}.{}: unit",
            field.name()
        );
        assert_eq!(
            field.description(),
            col["description"].as_str(),
            "{dataset}.{}: description",
            field.name()
        );
    }

    let expected = oracle["rows"].as_array().unwrap();
    assert_eq!(reader.num_rows(), expected.len() as u64);
    let mut row = 0;
    let mut batches = 0;
    for batch in reader {
        let batch = batch.unwrap();
        assert!(
            batch.num_rows() <= batch_rows,
            "batch of {} rows",
            batch.num_rows()
        );
        batches += 1;
        for r in 0..batch.num_rows() {
            let want = expected[row].as_array().unwrap();
            for (c, name) in names.iter().enumerate() {
                let got = json_value(&batch, c, r);
                assert_eq!(got, want[c], "{dataset} row {row} column {name}");
            }
            row += 1;
        }
    }
    assert_eq!(row, expected.len(), "{dataset}: row count");
    batches
}

#[test]
fn macs2243_every_table_matches_astropy() {
    let file = macs2243();
    for (dataset, rows) in [
        ("deepCoadd_meas", 10_000),
        ("deepCoadd_forced_src", 10_000),
        ("forced_src", 3037),
    ] {
        let batches = assert_matches_astropy(&file, dataset, 4096);
        assert_eq!(
            batches,
            (rows as usize).div_ceil(4096),
            "{dataset}: batches"
        );
    }
}

#[test]
fn macs2243_schema_has_types_units_and_string_widths() {
    let reader = Hdf5Reader::open(&macs2243(), "deepCoadd_meas", 1000).unwrap();
    let schema = reader.schema();
    let field = |name: &str| schema.field_with_name(name).unwrap().clone();
    assert_eq!(field("coord_ra").unit(), Some("rad"));
    assert_eq!(field("base_PsfFlux_flux").unit(), Some("ct"));
    assert_eq!(field("id").data_type(), &arrow_schema::DataType::Int64);
    assert!(!field("id").is_nullable());
    assert!(
        field("base_PsfFlux_flux").is_nullable(),
        "NaN floats are nullable"
    );
    assert_eq!(
        field("detect_isPrimary").data_type(),
        &arrow_schema::DataType::Boolean
    );
    assert_eq!(
        field("ext_shapeHSM_HsmShapeRegauss_e1").data_type(),
        &arrow_schema::DataType::Float32
    );
    assert_eq!(field("patch").string_width(), Some(4));
    assert_eq!(field("filter").string_width(), Some(1));
}

#[test]
fn big_endian_chunked_gzip_and_masked_tables_match_astropy() {
    let dir = temp_dir("hdf5-variants");
    let file = dir.join("variants.h5");
    python("make_variants.py", &[path_str(&file), "12345"]);
    for dataset in ["native", "big_endian", "gzip", "masked"] {
        assert_matches_astropy(&file, dataset, 4096);
    }
    // The gzip table has 1000-row chunks: batches are rounded down to whole chunks.
    let sizes: Vec<usize> = Hdf5Reader::open(&file, "gzip", 4096)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes, vec![4000, 4000, 4000, 345]);
}

#[test]
fn a_large_table_reads_in_several_batches_with_the_same_values() {
    let dir = temp_dir("hdf5-large");
    let file = dir.join("large.h5");
    let maker = common::data_dir().join("clusters/make_catalog.py");
    let out = std::process::Command::new(common::root().join(".venv/bin/python"))
        .arg(&maker)
        .args([path_str(&file), "40000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // deepCoadd_meas holds 5 bands x 40000 objects = 200 000 rows.
    let batches = assert_matches_astropy(&file, "deepCoadd_meas", 65_536);
    assert_eq!(batches, 4);
}

#[test]
fn a_wrong_dataset_path_names_the_file_and_the_tables_there() {
    let err = Hdf5Reader::open(&macs2243(), "deepCoadd_mea", 100)
        .err()
        .unwrap();
    assert!(matches!(err, CatalogError::DatasetNotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("macs2243.h5"), "{msg}");
    assert!(msg.contains("no dataset `deepCoadd_mea`"), "{msg}");
    assert!(
        msg.contains("deepCoadd_forced_src, deepCoadd_meas, forced_src"),
        "{msg}"
    );
}

#[test]
fn datasets_that_are_not_tables_are_rejected_with_the_reason() {
    let meta = format!(
        "deepCoadd_meas{}",
        qserv_operator::catalog::hdf5::META_SUFFIX
    );
    let err = Hdf5Reader::open(&macs2243(), &meta, 100).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, CatalogError::NotATable { .. }), "{msg}");
    assert!(
        msg.contains("is not a table: its type is string, not a compound"),
        "{msg}"
    );

    let dir = temp_dir("hdf5-not-table");
    let file = dir.join("variants.h5");
    python("make_variants.py", &[path_str(&file), "100"]);
    let msg = Hdf5Reader::open(&file, "image", 100)
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("dataset `image` is not a table: it has 2 dimensions"),
        "{msg}"
    );
}

#[test]
fn a_truncated_file_is_an_error_naming_the_file() {
    let dir = temp_dir("hdf5-truncated");
    let file = dir.join("cut.h5");
    let bytes = std::fs::read(macs2243()).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = Hdf5Reader::open(&file, "deepCoadd_meas", 1000)
        .and_then(|reader| reader.collect::<Result<Vec<_>, _>>().map(|_| ()))
        .expect_err("a truncated file must fail");
    let msg = err.to_string();
    assert!(msg.contains("cut.h5"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn a_corrupt_gzip_chunk_is_a_read_error_naming_the_rows() {
    let dir = temp_dir("hdf5-corrupt");
    let file = dir.join("variants.h5");
    python("make_variants.py", &[path_str(&file), "12345"]);
    let first_row: u64 = python("corrupt_chunk.py", &[path_str(&file), "gzip", "5"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(first_row, 5000);
    let results: Vec<_> = Hdf5Reader::open(&file, "gzip", 4096).unwrap().collect();
    // Batches are 4000 rows: 0..4000 reads, 4000..8000 holds the bad chunk, then the stream ends.
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let msg = results[1].as_ref().err().unwrap().to_string();
    let prefix = format!("{}: dataset `gzip` rows 4000..8000: ", file.display());
    assert!(msg.starts_with(&prefix), "{msg}");
    assert!(msg.contains("inflate() failed"), "{msg}");
}

#[test]
fn a_value_that_cannot_be_decoded_names_its_row_and_field() {
    let dir = temp_dir("hdf5-bad-value");
    let file = dir.join("variants.h5");
    python("make_variants.py", &[path_str(&file), "100"]);
    let err = Hdf5Reader::open(&file, "bad_utf8", 4)
        .unwrap()
        .find_map(Result::err)
        .expect("row 7 is not UTF-8");
    let expected = format!(
        "{}: dataset `bad_utf8` row 7, field `name`: string \"\\xff\\xfe\" is not UTF-8: \
         invalid utf-8 sequence of 1 bytes from index 0",
        file.display()
    );
    assert_eq!(err.to_string(), expected);
}
