//! The CSV/TSV reader on the qserv_testdata case01 TSVs (checked against an independent Python
//! decoder, tests/python/tsv_stats.py) and on malformed inputs (checked by the error text).

mod catalog_util;
use catalog_util as common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_schema::DataType;
use common::{data_dir, float, path_str, python, temp_dir};
use qserv_operator::api::catalog_ingest::CatalogIngest;
use qserv_operator::catalog::{
    CatalogReader, CsvOptions, CsvReader, InputFormat, schema_from_ddl_file,
};
use qserv_operator::from_spec::catalog as spec;
use serde_json::{Value, json};

fn case01() -> PathBuf {
    data_dir().join("qserv_testdata/case01/data")
}

/// Row count and per-column (non-null count, sum) in the oracle's format.
fn stats(
    reader: impl Iterator<Item = qserv_operator::catalog::Result<arrow_array::RecordBatch>>,
    schema: &arrow_schema::Schema,
) -> Value {
    let n = schema.fields().len();
    let mut counts = vec![0u64; n];
    let mut int_sums = vec![0i128; n];
    let mut float_sums = vec![0f64; n];
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        assert!(batch.num_rows() <= 1000);
        rows += batch.num_rows();
        for (c, col) in batch.columns().iter().enumerate() {
            counts[c] += (col.len() - col.null_count()) as u64;
            let ints: Vec<i128> = match col.data_type() {
                DataType::Int8 => col
                    .as_primitive::<Int8Type>()
                    .iter()
                    .flatten()
                    .map(i128::from)
                    .collect(),
                DataType::Int16 => col
                    .as_primitive::<Int16Type>()
                    .iter()
                    .flatten()
                    .map(i128::from)
                    .collect(),
                DataType::Int32 => col
                    .as_primitive::<Int32Type>()
                    .iter()
                    .flatten()
                    .map(i128::from)
                    .collect(),
                DataType::Int64 => col
                    .as_primitive::<Int64Type>()
                    .iter()
                    .flatten()
                    .map(i128::from)
                    .collect(),
                DataType::Float64 => {
                    for v in col.as_primitive::<Float64Type>().iter().flatten() {
                        float_sums[c] += v;
                    }
                    vec![]
                }
                // Text and bytes: sum of (byte + 1), which checks the unescaping of every value.
                DataType::Utf8 => col
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(|v| byte_sum(v.as_bytes()))
                    .collect(),
                DataType::Binary => col
                    .as_binary::<i32>()
                    .iter()
                    .flatten()
                    .map(byte_sum)
                    .collect(),
                _ => vec![],
            };
            int_sums[c] += ints.iter().sum::<i128>();
        }
    }
    let columns: serde_json::Map<String, Value> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, f)| {
            let sum = match f.data_type() {
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Utf8
                | DataType::Binary => serde_json::from_str(&int_sums[c].to_string()).unwrap(),
                DataType::Float64 => float(float_sums[c]),
                _ => Value::Null,
            };
            (f.name().clone(), json!({"count": counts[c], "sum": sum}))
        })
        .collect();
    json!({"rows": rows, "columns": columns})
}

fn byte_sum(value: &[u8]) -> i128 {
    value.iter().map(|&b| i128::from(b) + 1).sum()
}

#[test]
fn every_case01_table_matches_an_independent_decoder() {
    let dir = case01();
    for table in [
        "Filter",
        "LeapSeconds",
        "Logs",
        "Object",
        "RefSrcMatch",
        "Science_Ccd_Exposure",
        "SimRefObject",
        "Source",
        "sdqa_Metric",
    ] {
        let file = dir.join(format!("{table}.tsv.gz"));
        let ddl = dir.join(format!("schema/{table}.schema"));
        let schema = Arc::new(schema_from_ddl_file(&ddl, Some(table)).unwrap());
        let options = CsvOptions {
            schema: Some(schema.clone()),
            ..CsvOptions::tsv()
        };
        let reader = CsvReader::open(&file, &options, 1000).unwrap();
        let ours = stats(reader, &schema);
        let oracle: Value =
            serde_json::from_str(&python("tsv_stats.py", &[path_str(&file), path_str(&ddl)]))
                .unwrap();
        assert_eq!(ours["rows"], oracle["rows"], "{table}: rows");
        for field in schema.fields() {
            let name = field.name();
            assert_eq!(
                ours["columns"][name], oracle["columns"][name],
                "{table}.{name}"
            );
        }
    }
}

#[test]
fn the_case01_ingest_example_reads_through_the_table_spec() {
    let text =
        std::fs::read_to_string(common::root().join("examples/catalogingest-case01.yaml")).unwrap();
    let ingest: CatalogIngest = serde_norway::from_str(&text).unwrap();
    let expected_rows = [("Object", 88), ("Source", 3339), ("Filter", 9)];
    for (table, rows) in expected_rows {
        let spec_table = ingest.spec.tables.iter().find(|t| t.name == table).unwrap();
        // The example's source is the dataset (data/ and queries/ side by side).
        let source = case01().parent().unwrap().to_path_buf();
        let format = spec::input_format(spec_table, &source).unwrap();
        let file = source.join(&spec_table.files[0]);
        let reader = CatalogReader::open(&file, &format, 500).unwrap();
        let selection = spec::selection_spec(spec_table, None, None).unwrap();
        let selected = reader.select(&selection).unwrap();
        let total: usize = selected.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(total, rows, "{table}");
    }
    // The schema's types are the DDL's, verbatim.
    let object = ingest
        .spec
        .tables
        .iter()
        .find(|t| t.name == "Object")
        .unwrap();
    let InputFormat::Csv(options) = spec::input_format(object, case01().parent().unwrap()).unwrap()
    else {
        panic!("tsv is csv")
    };
    let schema = options.schema.unwrap();
    assert_eq!(
        schema.field_with_name("objectId").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name("uFlux_PS").unwrap().data_type(),
        &DataType::Float32
    );
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    file
}

fn filter_options() -> CsvOptions {
    let ddl = case01().join("schema/Filter.schema");
    CsvOptions {
        schema: Some(Arc::new(schema_from_ddl_file(&ddl, None).unwrap())),
        ..CsvOptions::tsv()
    }
}

fn first_error(file: &Path, options: &CsvOptions) -> String {
    match CsvReader::open(file, options, 2) {
        Err(err) => err.to_string(),
        Ok(reader) => reader
            .filter_map(Result::err)
            .next()
            .expect("the file must be rejected")
            .to_string(),
    }
}

#[test]
fn malformed_text_files_name_file_line_and_field() {
    let dir = temp_dir("csv-malformed");
    let opts = filter_options();

    let file = write(&dir, "count.tsv", b"0\tu\t0\t0\n1\tg\t0\t0\n2\tr\t0\n");
    assert_eq!(
        first_error(&file, &opts),
        format!("{}: line 3: expected 4 fields, found 3", file.display())
    );

    let file = write(&dir, "number.tsv", b"0\tu\t0\t0\n1\tg\t1.5e\t0\n");
    assert_eq!(
        first_error(&file, &opts),
        format!(
            "{}: line 2, field 3 (`photClam`): `1.5e` is not a FLOAT",
            file.display()
        )
    );

    let file = write(&dir, "int.tsv", b"300\tu\t0\t0\n");
    assert_eq!(
        first_error(&file, &opts),
        format!(
            "{}: line 1, field 1 (`filterId`): `300` is not a TINYINT",
            file.display()
        )
    );

    let file = write(&dir, "null.tsv", b"0\t\\N\t0\t0\n");
    assert_eq!(
        first_error(&file, &opts),
        format!(
            "{}: line 1, field 2 (`filterName`): NULL in a NOT NULL column",
            file.display()
        )
    );

    let csv = CsvOptions {
        header: true,
        schema: opts.schema.clone(),
        ..CsvOptions::csv()
    };
    let file = write(
        &dir,
        "header.csv",
        b"filterId,name,photClam,photBW\n0,u,0,0\n",
    );
    let msg = first_error(&file, &csv);
    assert!(
        msg.contains("header.csv: schema: the file's columns differ from the schema's at column 2"),
        "{msg}"
    );

    let file = write(
        &dir,
        "quote.csv",
        b"filterId,filterName,photClam,photBW\n0,\"u,0,0\n",
    );
    let msg = first_error(&file, &csv);
    assert_eq!(
        msg,
        format!(
            "{}: line 2: field 2 opens a quote ('\"') that is not closed before the end of the input",
            file.display()
        )
    );
}

#[test]
fn a_truncated_gzip_file_is_a_read_error_with_its_line() {
    let dir = temp_dir("csv-gzip");
    let bytes = std::fs::read(case01().join("Object.tsv.gz")).unwrap();
    let file = write(&dir, "Object.tsv.gz", &bytes[..bytes.len() / 2]);
    let ddl = case01().join("schema/Object.schema");
    let options = CsvOptions {
        schema: Some(Arc::new(schema_from_ddl_file(&ddl, None).unwrap())),
        ..CsvOptions::tsv()
    };
    let msg = first_error(&file, &options);
    let prefix = format!("{}: line ", file.display());
    assert!(msg.starts_with(&prefix), "{msg}");
    assert!(msg.ends_with("(gzip-compressed input)"), "{msg}");
    assert!(msg.contains("cannot read"), "{msg}");

    let file = write(
        &dir,
        "garbage.tsv.gz",
        &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    let msg = first_error(&file, &options);
    assert!(
        msg.starts_with(&format!("{}: line 1: cannot read", file.display())),
        "{msg}"
    );
}

#[test]
fn text_columns_without_a_schema_and_rfc4180_quoting() {
    let dir = temp_dir("csv-plain");
    let file = write(&dir, "plain.csv", b"a,b\n1,\"x, y\"\n\\N,\"\"\"q\"\"\"\n");
    let options = CsvOptions {
        header: true,
        ..CsvOptions::csv()
    };
    let batches: Vec<_> = CsvReader::open(&file, &options, 10)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let batch = &batches[0];
    assert_eq!(batch.schema().field(1).name(), "b");
    let b = batch.column(1).as_string::<i32>();
    assert_eq!((b.value(0), b.value(1)), ("x, y", "\"q\""));
    assert!(batch.column(0).is_null(1));
}

#[test]
fn the_files_of_a_table_read_as_one_stream() {
    use qserv_operator::catalog::TableReader;
    let object = case01().join("Object.tsv.gz");
    let ddl = case01().join("schema/Object.schema");
    let options = CsvOptions {
        schema: Some(Arc::new(schema_from_ddl_file(&ddl, None).unwrap())),
        ..CsvOptions::tsv()
    };
    let format = InputFormat::Csv(options);
    let reader = TableReader::open(&[object.clone(), object.clone()], &format, 50).unwrap();
    let sizes: Vec<usize> = reader.map(|b| b.unwrap().num_rows()).collect();
    assert_eq!(sizes, vec![50, 38, 50, 38]);

    // A second file with other columns stops the stream with an error naming it.
    let dir = temp_dir("csv-two-files");
    let other = write(&dir, "other.tsv", b"1\t2\n");
    let mut reader = TableReader::open(&[object, other.clone()], &format, 100).unwrap();
    assert!(reader.next().unwrap().is_ok());
    let msg = reader.next().unwrap().unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("{}: line 1: expected 228 fields, found 2", other.display())
    );
    assert!(reader.next().is_none());
}

#[test]
fn table_files_expand_globs_in_name_order() {
    let text =
        std::fs::read_to_string(common::root().join("examples/catalogingest-case01.yaml")).unwrap();
    let ingest: CatalogIngest = serde_norway::from_str(&text).unwrap();
    let mut table = ingest.spec.tables[0].clone();
    table.files = vec!["S*.tsv.gz".into(), "Filter.tsv.gz".into()];
    let names: Vec<String> = spec::table_files(&table, &case01())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "Science_Ccd_Exposure.tsv.gz",
            "SimRefObject.tsv.gz",
            "Source.tsv.gz",
            "Filter.tsv.gz"
        ]
    );
    table.files = vec!["Objet*.tsv.gz".into()];
    let msg = spec::table_files(&table, &case01())
        .unwrap_err()
        .to_string();
    assert!(
        msg.ends_with("Objet*.tsv.gz: the pattern matches no file"),
        "{msg}"
    );
    table.files = vec!["Objet.tsv.gz".into()];
    let msg = spec::table_files(&table, &case01())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("Objet.tsv.gz: No such file or directory"),
        "{msg}"
    );
}

#[test]
fn field_lists_from_the_qserv_partition_config_name_the_columns() {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(case01().join("partition/Object.json")).unwrap(),
    )
    .unwrap();
    let fields: Vec<String> = config["in"]["csv"]["field"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let file = case01().join("Object.tsv.gz");

    // Names only: every column is text, so the binary last column is refused.
    let options = CsvOptions {
        fields: fields.clone(),
        ..CsvOptions::tsv()
    };
    let reader = CsvReader::open(&file, &options, 1000).unwrap();
    let schema = reader.schema();
    assert_eq!(schema.fields().len(), 228);
    assert!(
        schema
            .fields()
            .iter()
            .all(|f| f.data_type() == &DataType::Utf8)
    );
    let msg = reader.filter_map(Result::err).next().unwrap().to_string();
    let expected = format!(
        "{}: line 1, field 228 (`varBinaryField`): \"\\x04\\x02\\x00\\x0b",
        file.display()
    );
    assert!(msg.starts_with(&expected), "{msg}");
    assert!(msg.ends_with("...\" is not UTF-8 text"), "{msg}");

    // Names and the DDL's types agree.
    let ddl = case01().join("schema/Object.schema");
    let schema = Arc::new(schema_from_ddl_file(&ddl, None).unwrap());
    let options = CsvOptions {
        fields,
        schema: Some(schema),
        ..CsvOptions::tsv()
    };
    let reader = CsvReader::open(&file, &options, 1000).unwrap();
    let batch = reader.map(Result::unwrap).next().unwrap();
    assert_eq!(
        batch.column(2).as_primitive::<Float64Type>().value(0),
        1.13454822151113
    );
}
