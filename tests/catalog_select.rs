//! Column globs, cone and band selection on the Clusters catalog, driven by the example
//! CatalogIngest, against astropy/numpy (tests/python/select_oracle.py); and Parquet.

mod catalog_util;
use catalog_util as common;

use common::{json_value, macs2243, path_str, python, temp_dir};
use qserv_operator::api::catalog_ingest::{BandFilter, CatalogIngest};
use qserv_operator::catalog::{
    CatalogReader, InputFormat, ParquetReader, SelectionSpec, TableReader,
};
use qserv_operator::from_spec::catalog as spec;
use serde_json::Value;

fn example() -> CatalogIngest {
    let text = std::fs::read_to_string(common::root().join("examples/catalogingest-macs2243.yaml"))
        .unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Runs every table of `ingest` through our reader + selection and through the oracle.
fn assert_selection_matches_astropy(ingest: &CatalogIngest) {
    let data = macs2243().parent().unwrap().to_path_buf();
    let region = ingest.spec.region.as_ref().unwrap();
    let bands = ingest
        .spec
        .filters
        .as_ref()
        .map(|f| f.values.join(","))
        .unwrap_or_default();
    for table in &ingest.spec.tables {
        let format = spec::input_format(table, &data).unwrap();
        let InputFormat::Hdf5 { dataset } = &format else {
            panic!("hdf5")
        };
        let selection =
            spec::selection_spec(table, Some(region), ingest.spec.filters.as_ref()).unwrap();
        let reader = CatalogReader::open(&data.join(&table.files[0]), &format, 3000).unwrap();
        let selected = reader.select(&selection).unwrap();
        let names: Vec<String> = selected
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();

        let radius = region.radius_degrees().unwrap().to_string();
        let oracle: Value = serde_json::from_str(&python(
            "select_oracle.py",
            &[
                path_str(&macs2243()),
                dataset,
                &region.ra.to_string(),
                &region.dec.to_string(),
                &radius,
                &bands,
                &table.columns.join(","),
                &selection.keep.join(","),
            ],
        ))
        .unwrap();
        let expected_names: Vec<&str> = oracle["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected_names, "{}: columns", table.name);

        let expected = oracle["rows"].as_array().unwrap();
        let total = oracle["total"].as_u64().unwrap() as usize;
        assert!(
            !expected.is_empty() && expected.len() < total,
            "{}: the selection must select",
            table.name
        );
        let mut row = 0;
        for batch in selected {
            let batch = batch.unwrap();
            for r in 0..batch.num_rows() {
                let got: Vec<Value> = (0..names.len()).map(|c| json_value(&batch, c, r)).collect();
                assert_eq!(
                    &Value::Array(got),
                    &expected[row],
                    "{} selected row {row}",
                    table.name
                );
                row += 1;
            }
        }
        assert_eq!(row, expected.len(), "{}: selected rows", table.name);
    }
}

#[test]
fn the_clusters_example_selection_matches_astropy() {
    assert_selection_matches_astropy(&example());
}

#[test]
fn a_smaller_cone_and_two_bands_match_astropy() {
    let mut ingest = example();
    ingest.spec.region.as_mut().unwrap().radius = "18 arcmin".to_string();
    ingest.spec.filters = Some(BandFilter {
        column: "filter".into(),
        values: vec!["g".into(), "r".into()],
    });
    assert_selection_matches_astropy(&ingest);
}

#[test]
fn selection_errors_name_the_table_and_column() {
    let format = InputFormat::Hdf5 {
        dataset: "forced_src".into(),
    };
    let open = || CatalogReader::open(&macs2243(), &format, 1000).unwrap();
    let spec = |columns: &[&str], keep: &[&str]| SelectionSpec {
        table: "forced_src".into(),
        columns: columns.iter().map(|s| s.to_string()).collect(),
        keep: keep.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let err = open()
        .select(&spec(&["coord*", "psf*"], &[]))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "table `forced_src`: column pattern `psf*` matches no column"
    );
    let err = open()
        .select(&spec(&["coord*"], &["objectID"]))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, "table `forced_src`: no column `objectID` in the input");
}

#[test]
fn parquet_written_by_pyarrow_reads_like_astropy() {
    let dir = temp_dir("parquet");
    for dataset in ["deepCoadd_meas", "forced_src"] {
        let file = dir.join(format!("{dataset}.parquet"));
        python(
            "make_parquet.py",
            &[path_str(&macs2243()), dataset, path_str(&file)],
        );
        let oracle: Value =
            serde_json::from_str(&python("dump_table.py", &[path_str(&macs2243()), dataset]))
                .unwrap();
        let expected = oracle["rows"].as_array().unwrap();
        let reader = ParquetReader::open(&file, 1024).unwrap();
        assert_eq!(reader.num_rows(), expected.len() as u64);
        let mut row = 0;
        for batch in reader {
            let batch = batch.unwrap();
            assert!(batch.num_rows() <= 1024);
            for r in 0..batch.num_rows() {
                let got: Vec<Value> = (0..batch.num_columns())
                    .map(|c| json_value(&batch, c, r))
                    .collect();
                assert_eq!(&Value::Array(got), &expected[row], "{dataset} row {row}");
                row += 1;
            }
        }
        assert_eq!(row, expected.len());
    }
    // Two files of one table must have the same columns.
    let files = [
        dir.join("deepCoadd_meas.parquet"),
        dir.join("forced_src.parquet"),
    ];
    let mut table = TableReader::open(&files, &InputFormat::Parquet, 100_000).unwrap();
    assert_eq!(table.next().unwrap().unwrap().num_rows(), 10_000);
    let msg = table.next().unwrap().unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: its columns differ from the table's first file: column 2: expected `coord_ra Float64`, found `objectId Int64`",
            files[1].display()
        )
    );

    let not_parquet = ParquetReader::open(&macs2243(), 10)
        .err()
        .unwrap()
        .to_string();
    assert!(
        not_parquet.starts_with(&format!("{}: Parquet: ", macs2243().display())),
        "{not_parquet}"
    );
}
