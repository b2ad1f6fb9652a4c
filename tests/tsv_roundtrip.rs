//! Property tests (proptest): what we write for `LOAD DATA` (`load::tsv`, MySQL's default dialect:
//! tab, newline, `\` escapes, `\N`) reads back through our MySQL-dialect reader
//! (`catalog::CsvReader`, the one that reads qserv_testdata TSVs and chunk files) as the same
//! values: every string (tabs, newlines, carriage returns, backslashes, NULs, a literal `\N`,
//! any Unicode), NULL, integers at their limits and doubles to the bit.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use qserv_operator::catalog::{CsvOptions, CsvReader};
use qserv_operator::load::tsv::encode_rows;

type Row = (i64, Option<f64>, Option<String>);

fn text() -> impl Strategy<Value = String> {
    // Weighted towards the bytes the dialect treats specially.
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\t'),
                Just('\n'),
                Just('\r'),
                Just('\\'),
                Just('\0'),
                Just('N'),
                Just('é'),
                any::<char>()
            ],
            0..12
        )
        .prop_map(|chars| chars.into_iter().collect()),
        Just("\\N".to_string()),
    ]
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("LOAD DATA has no infinity or NaN", |v| v.is_finite())
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (
            any::<i64>(),
            proptest::option::of(finite()),
            proptest::option::of(text()),
        ),
        1..20,
    )
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]))
}

fn round_trip(rows: &[Row]) -> Vec<Row> {
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2.clone()))),
        ],
    )
    .unwrap();
    let mut text = Vec::new();
    encode_rows(&batch, 0..rows.len(), &mut text).unwrap();
    let options = CsvOptions {
        schema: Some(schema()),
        ..CsvOptions::tsv()
    };
    let reader = CsvReader::from_reader(
        Path::new("roundtrip.tsv"),
        Box::new(Cursor::new(text)),
        &options,
        1000,
    )
    .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let xs = batch
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        let ss = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            out.push((
                ids.value(i),
                (!xs.is_null(i)).then(|| xs.value(i)),
                (!ss.is_null(i)).then(|| ss.value(i).to_string()),
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn what_load_data_gets_reads_back_as_the_same_values(rows in rows()) {
        let back = round_trip(&rows);
        prop_assert_eq!(back.len(), rows.len());
        for (got, want) in back.iter().zip(&rows) {
            prop_assert_eq!(got.0, want.0);
            prop_assert_eq!(got.1.map(f64::to_bits), want.1.map(f64::to_bits));
            prop_assert_eq!(&got.2, &want.2);
        }
    }
}

/// The case proptest found: a value ending in a carriage return lost it, as the reader takes a
/// CRLF for a line end; the writer now escapes `\r` (`LOAD DATA` reads `\r` as CR).
#[test]
fn a_trailing_carriage_return_survives() {
    let rows = vec![(1, None, Some("ends with CR\r".to_string()))];
    assert_eq!(round_trip(&rows), rows);
}
