//! Arrow batches as the text `LOAD DATA` reads with its defaults: fields separated by a tab,
//! lines ended by a newline, `\` escapes, `\N` for NULL (MySQL's `FIELDS TERMINATED BY '\t'
//! ESCAPED BY '\\' LINES TERMINATED BY '\n'`).
//!
//! Values are written so that MariaDB stores exactly what the batch holds:
//! - integers in decimal; bools as 0/1 (MySQL's BOOLEAN is TINYINT(1));
//! - doubles as the shortest text that parses back to the same double (`ryu`);
//! - float32 values widened to double first: MariaDB parses the text into a double and then
//!   rounds it to FLOAT, and the widened double rounds back to the same float32, whereas the
//!   shortest float32 text could (rarely) round twice to a neighbour;
//! - NaN never reaches here (the readers make it null, see `catalog::ddl`); an infinity has no
//!   MariaDB value, so it is an error naming the column rather than a silent change;
//! - text and bytes with `\`, tab, newline, carriage return and NUL escaped.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};

/// Whether a column type can be encoded; the reason when not.
pub fn check_type(data_type: &DataType) -> Result<(), String> {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Boolean
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Ok(()),
        other => Err(format!("type {other} cannot be written for LOAD DATA")),
    }
}

/// Checks every column of `schema`; the first unsupported one is returned with its reason.
pub fn check_schema(schema: &Schema) -> Result<(), (String, String)> {
    for field in schema.fields() {
        check_type(field.data_type()).map_err(|reason| (field.name().clone(), reason))?;
    }
    Ok(())
}

/// A value that cannot be written: the row (0-based, in the batch) and column index.
#[derive(Debug, PartialEq)]
pub struct EncodeError {
    pub row: usize,
    pub column: usize,
    pub reason: String,
}

/// Appends rows `rows` of `batch` to `out`, one line each. The batch's types must pass
/// [`check_schema`].
pub fn encode_rows(
    batch: &RecordBatch,
    rows: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let columns: Vec<&dyn Array> = batch.columns().iter().map(|c| c.as_ref()).collect();
    let mut ints = itoa::Buffer::new();
    let mut floats = ryu::Buffer::new();
    for row in rows {
        for (c, array) in columns.iter().enumerate() {
            if c > 0 {
                out.push(b'\t');
            }
            if array.is_null(row) {
                out.extend_from_slice(b"\\N");
                continue;
            }
            let error = |reason: &str| EncodeError {
                row,
                column: c,
                reason: reason.to_string(),
            };
            macro_rules! int {
                ($t:ty) => {
                    out.extend_from_slice(
                        ints.format(array.as_primitive::<$t>().value(row))
                            .as_bytes(),
                    )
                };
            }
            match array.data_type() {
                DataType::Int8 => int!(Int8Type),
                DataType::Int16 => int!(Int16Type),
                DataType::Int32 => int!(Int32Type),
                DataType::Int64 => int!(Int64Type),
                DataType::UInt8 => int!(UInt8Type),
                DataType::UInt16 => int!(UInt16Type),
                DataType::UInt32 => int!(UInt32Type),
                DataType::UInt64 => int!(UInt64Type),
                DataType::Float32 => {
                    let v = f64::from(array.as_primitive::<Float32Type>().value(row));
                    out.extend_from_slice(finite(&mut floats, v).ok_or_else(|| error(INF))?);
                }
                DataType::Float64 => {
                    let v = array.as_primitive::<Float64Type>().value(row);
                    out.extend_from_slice(finite(&mut floats, v).ok_or_else(|| error(INF))?);
                }
                DataType::Boolean => out.push(if array.as_boolean().value(row) {
                    b'1'
                } else {
                    b'0'
                }),
                DataType::Utf8 => escape(array.as_string::<i32>().value(row).as_bytes(), out),
                DataType::LargeUtf8 => escape(array.as_string::<i64>().value(row).as_bytes(), out),
                DataType::Utf8View => escape(array.as_string_view().value(row).as_bytes(), out),
                DataType::Binary => escape(array.as_binary::<i32>().value(row), out),
                DataType::LargeBinary => escape(array.as_binary::<i64>().value(row), out),
                DataType::BinaryView => escape(array.as_binary_view().value(row), out),
                DataType::FixedSizeBinary(_) => {
                    escape(array.as_fixed_size_binary().value(row), out)
                }
                other => return Err(error(&format!("type {other} cannot be written"))),
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

const INF: &str = "an infinite float has no MariaDB value";

fn finite(buffer: &mut ryu::Buffer, v: f64) -> Option<&[u8]> {
    v.is_finite().then(|| buffer.format_finite(v).as_bytes())
}

/// Appends `bytes` with the bytes `LOAD DATA` (or a CRLF-tolerant reader) would misread escaped.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    if !bytes
        .iter()
        .any(|&b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            // LOAD DATA reads `\r` as CR; a raw one before the newline would be taken for a CRLF
            // line end by readers of this text (ours: catalog::csv, one CRLF rule everywhere).
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{
        BinaryArray, BooleanArray, Float32Array, Float64Array, Int8Array, Int64Array, StringArray,
        UInt64Array,
    };
    use arrow_schema::Field;

    fn batch(columns: Vec<(&str, Arc<dyn Array>)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn encode(b: &RecordBatch) -> String {
        let mut out = Vec::new();
        encode_rows(b, 0..b.num_rows(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_nulls_and_escapes() {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(-9), None, Some(i64::MAX)])),
            ),
            ("u", Arc::new(UInt64Array::from(vec![u64::MAX, 0, 7]))),
            ("t", Arc::new(Int8Array::from(vec![-128, 0, 127]))),
            (
                "d",
                Arc::new(Float64Array::from(vec![Some(0.1), Some(-1e300), None])),
            ),
            (
                "f",
                Arc::new(Float32Array::from(vec![Some(0.1f32), None, Some(3.0)])),
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("a\tb\nc\\d"),
                    Some("\\N"),
                    Some(""),
                ])),
            ),
            (
                "x",
                Arc::new(BinaryArray::from(vec![&b"\0z"[..], b"", b"\xff"])),
            ),
        ]);
        let mut out = Vec::new();
        encode_rows(&b, 0..3, &mut out).unwrap();
        let expected: &[u8] =
            b"-9\t18446744073709551615\t-128\t0.1\t0.10000000149011612\t1\ta\\tb\\nc\\\\d\t\\0z\n\
\\N\t0\t0\t-1e300\t\\N\t0\t\\\\N\t\n\
9223372036854775807\t7\t127\t\\N\t3.0\t\\N\t\t\xff\n";
        assert_eq!(out, expected, "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn a_row_range_is_encoded_alone() {
        let b = batch(vec![("i", Arc::new(Int64Array::from(vec![1, 2, 3, 4])))]);
        let mut out = Vec::new();
        encode_rows(&b, 1..3, &mut out).unwrap();
        assert_eq!(out, b"2\n3\n");
        assert_eq!(encode(&b), "1\n2\n3\n4\n");
    }

    /// Every double must parse back bit for bit (what MariaDB's strtod does with the text).
    #[test]
    fn doubles_round_trip_through_text() {
        let values = [
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -0.0,
            1.0 / 3.0,
            340.83_f64.to_radians(),
        ];
        let b = batch(vec![("d", Arc::new(Float64Array::from(values.to_vec())))]);
        let text = encode(&b);
        for (line, v) in text.lines().zip(values) {
            assert_eq!(
                line.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{line}"
            );
        }
    }

    #[test]
    fn infinity_is_an_error_naming_row_and_column() {
        let b = batch(vec![
            ("i", Arc::new(Int64Array::from(vec![1, 2]))),
            (
                "d",
                Arc::new(Float64Array::from(vec![1.0, f64::NEG_INFINITY])),
            ),
        ]);
        let mut out = Vec::new();
        let err = encode_rows(&b, 0..2, &mut out).unwrap_err();
        assert_eq!((err.row, err.column), (1, 1));
        assert_eq!(err.reason, INF);
    }

    #[test]
    fn unsupported_types_are_named() {
        let schema = Schema::new(vec![
            Field::new("ok", DataType::Int32, false),
            Field::new("l", DataType::new_list(DataType::Int8, true), true),
        ]);
        let (column, reason) = check_schema(&schema).unwrap_err();
        assert_eq!(column, "l");
        assert!(reason.starts_with("type List"), "{reason}");
    }
}
