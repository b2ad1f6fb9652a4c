//! Typed column builders: text fields parsed into the Arrow type of their column.

use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::types::*;
use arrow_array::{ArrayRef, ArrowPrimitiveType};
use arrow_schema::{DataType, Field};

/// Builds one column of a batch.
pub(crate) enum ColumnBuilder {
    I8(PrimitiveBuilder<Int8Type>),
    I16(PrimitiveBuilder<Int16Type>),
    I32(PrimitiveBuilder<Int32Type>),
    I64(PrimitiveBuilder<Int64Type>),
    U8(PrimitiveBuilder<UInt8Type>),
    U16(PrimitiveBuilder<UInt16Type>),
    U32(PrimitiveBuilder<UInt32Type>),
    U64(PrimitiveBuilder<UInt64Type>),
    F32(PrimitiveBuilder<Float32Type>),
    F64(PrimitiveBuilder<Float64Type>),
    Bool(BooleanBuilder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
}

impl ColumnBuilder {
    /// A builder for `field`; `None` for a type the text readers cannot produce.
    pub fn for_field(field: &Field) -> Option<Self> {
        Some(match field.data_type() {
            DataType::Int8 => ColumnBuilder::I8(PrimitiveBuilder::new()),
            DataType::Int16 => ColumnBuilder::I16(PrimitiveBuilder::new()),
            DataType::Int32 => ColumnBuilder::I32(PrimitiveBuilder::new()),
            DataType::Int64 => ColumnBuilder::I64(PrimitiveBuilder::new()),
            DataType::UInt8 => ColumnBuilder::U8(PrimitiveBuilder::new()),
            DataType::UInt16 => ColumnBuilder::U16(PrimitiveBuilder::new()),
            DataType::UInt32 => ColumnBuilder::U32(PrimitiveBuilder::new()),
            DataType::UInt64 => ColumnBuilder::U64(PrimitiveBuilder::new()),
            DataType::Float32 => ColumnBuilder::F32(PrimitiveBuilder::new()),
            DataType::Float64 => ColumnBuilder::F64(PrimitiveBuilder::new()),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::new()),
            DataType::Utf8 => ColumnBuilder::Utf8(StringBuilder::new()),
            DataType::Binary => ColumnBuilder::Binary(BinaryBuilder::new()),
            _ => return None,
        })
    }

    /// Appends one value (`None` is NULL); the error is the reason the text does not parse.
    pub fn push(&mut self, value: Option<&[u8]>) -> Result<(), String> {
        let Some(bytes) = value else {
            self.push_null();
            return Ok(());
        };
        match self {
            ColumnBuilder::I8(b) => int(b, bytes, "TINYINT"),
            ColumnBuilder::I16(b) => int(b, bytes, "SMALLINT"),
            ColumnBuilder::I32(b) => int(b, bytes, "INT"),
            ColumnBuilder::I64(b) => int(b, bytes, "BIGINT"),
            ColumnBuilder::U8(b) => int(b, bytes, "TINYINT UNSIGNED"),
            ColumnBuilder::U16(b) => int(b, bytes, "SMALLINT UNSIGNED"),
            ColumnBuilder::U32(b) => int(b, bytes, "INT UNSIGNED"),
            ColumnBuilder::U64(b) => int(b, bytes, "BIGINT UNSIGNED"),
            ColumnBuilder::F32(b) => float(b, bytes, "FLOAT", f32::is_nan),
            ColumnBuilder::F64(b) => float(b, bytes, "DOUBLE", f64::is_nan),
            ColumnBuilder::Bool(b) => {
                match text(bytes, "BOOLEAN")?.to_ascii_lowercase().as_str() {
                    "1" | "true" => b.append_value(true),
                    "0" | "false" => b.append_value(false),
                    other => return Err(format!("`{other}` is not a BOOLEAN (0/1/true/false)")),
                }
                Ok(())
            }
            ColumnBuilder::Utf8(b) => {
                b.append_value(text(bytes, "text")?);
                Ok(())
            }
            ColumnBuilder::Binary(b) => {
                b.append_value(bytes);
                Ok(())
            }
        }
    }

    fn push_null(&mut self) {
        match self {
            ColumnBuilder::I8(b) => b.append_null(),
            ColumnBuilder::I16(b) => b.append_null(),
            ColumnBuilder::I32(b) => b.append_null(),
            ColumnBuilder::I64(b) => b.append_null(),
            ColumnBuilder::U8(b) => b.append_null(),
            ColumnBuilder::U16(b) => b.append_null(),
            ColumnBuilder::U32(b) => b.append_null(),
            ColumnBuilder::U64(b) => b.append_null(),
            ColumnBuilder::F32(b) => b.append_null(),
            ColumnBuilder::F64(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
        }
    }

    /// The column built so far; the builder is empty afterwards.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::I8(b) => Arc::new(b.finish()),
            ColumnBuilder::I16(b) => Arc::new(b.finish()),
            ColumnBuilder::I32(b) => Arc::new(b.finish()),
            ColumnBuilder::I64(b) => Arc::new(b.finish()),
            ColumnBuilder::U8(b) => Arc::new(b.finish()),
            ColumnBuilder::U16(b) => Arc::new(b.finish()),
            ColumnBuilder::U32(b) => Arc::new(b.finish()),
            ColumnBuilder::U64(b) => Arc::new(b.finish()),
            ColumnBuilder::F32(b) => Arc::new(b.finish()),
            ColumnBuilder::F64(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
        }
    }
}

fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(bytes).map_err(|_| {
        // Binary data can be long: the start is enough to find the value.
        let shown = &bytes[..bytes.len().min(24)];
        let more = if bytes.len() > shown.len() { "..." } else { "" };
        format!("\"{}{more}\" is not UTF-8 {what}", shown.escape_ascii())
    })
}

/// The field as a number of the column's type, or why not.
fn number<N: FromStr>(bytes: &[u8], sql: &str) -> Result<N, String> {
    let s = text(bytes, sql)?;
    s.parse::<N>().map_err(|_| format!("`{s}` is not a {sql}"))
}

fn int<T>(b: &mut PrimitiveBuilder<T>, bytes: &[u8], sql: &str) -> Result<(), String>
where
    T: ArrowPrimitiveType,
    T::Native: FromStr,
{
    b.append_value(number(bytes, sql)?);
    Ok(())
}

fn float<T>(
    b: &mut PrimitiveBuilder<T>,
    bytes: &[u8],
    sql: &str,
    is_nan: fn(T::Native) -> bool,
) -> Result<(), String>
where
    T: ArrowPrimitiveType,
    T::Native: FromStr,
{
    let v: T::Native = number(bytes, sql)?;
    // NaN is null in every catalog batch (see the `catalog` module).
    if is_nan(v) {
        b.append_null()
    } else {
        b.append_value(v)
    }
    Ok(())
}
