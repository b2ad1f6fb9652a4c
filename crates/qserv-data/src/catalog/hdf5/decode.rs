//! Decoding one field of a block of raw compound rows into an Arrow array.
//!
//! The rows come straight from `H5Dread` with the file's own type as memory type (no HDF5
//! conversion), so a field is a strided run of bytes at a fixed offset, in the file's byte
//! order. Each field is one pass over the block: it keeps the decode at memory speed.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray, make_array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;

use super::layout::{FieldKind, FieldLayout, StringPad};

/// Why a value could not be decoded, and at which row of the block.
pub(crate) struct DecodeError {
    pub row: usize,
    pub reason: String,
}

/// The Arrow type of a field. Floats are nullable because NaN becomes null (see `catalog`).
pub(crate) fn arrow_type(kind: FieldKind) -> (DataType, bool) {
    match kind {
        FieldKind::Int { size, signed } => {
            let dt = match (size, signed) {
                (1, true) => DataType::Int8,
                (2, true) => DataType::Int16,
                (4, true) => DataType::Int32,
                (8, true) => DataType::Int64,
                (1, false) => DataType::UInt8,
                (2, false) => DataType::UInt16,
                (4, false) => DataType::UInt32,
                _ => DataType::UInt64,
            };
            (dt, false)
        }
        FieldKind::Float { size: 4 } => (DataType::Float32, true),
        FieldKind::Float { .. } => (DataType::Float64, true),
        FieldKind::Bool => (DataType::Boolean, false),
        FieldKind::FixedString { .. } => (DataType::Utf8, false),
    }
}

/// Decodes `field` from `rows` (`count` rows of `row_size` bytes).
pub(crate) fn decode_field(
    rows: &[u8],
    row_size: usize,
    field: &FieldLayout,
) -> Result<ArrayRef, DecodeError> {
    // A closure decoding `$t` from its bytes in the field's byte order.
    macro_rules! num {
        ($t:ty) => {
            |b| {
                if field.big_endian {
                    <$t>::from_be_bytes(b)
                } else {
                    <$t>::from_le_bytes(b)
                }
            }
        };
    }
    let (at, n) = (field.offset, row_size);
    Ok(match field.kind {
        FieldKind::Int { size, signed: true } => match size {
            1 => ints::<Int8Type, 1>(rows, n, at, num!(i8)),
            2 => ints::<Int16Type, 2>(rows, n, at, num!(i16)),
            4 => ints::<Int32Type, 4>(rows, n, at, num!(i32)),
            _ => ints::<Int64Type, 8>(rows, n, at, num!(i64)),
        },
        FieldKind::Int {
            size,
            signed: false,
        } => match size {
            1 => ints::<UInt8Type, 1>(rows, n, at, num!(u8)),
            2 => ints::<UInt16Type, 2>(rows, n, at, num!(u16)),
            4 => ints::<UInt32Type, 4>(rows, n, at, num!(u32)),
            _ => ints::<UInt64Type, 8>(rows, n, at, num!(u64)),
        },
        FieldKind::Float { size: 4 } => {
            floats::<Float32Type, 4>(rows, n, at, num!(f32), f32::is_nan)
        }
        FieldKind::Float { .. } => floats::<Float64Type, 8>(rows, n, at, num!(f64), f64::is_nan),
        FieldKind::Bool => bools(rows, n, at)?,
        FieldKind::FixedString { size, pad } => strings(rows, n, at, size, pad)?,
    })
}

/// The `N` bytes of the field in each row.
fn column_bytes<const N: usize>(
    rows: &[u8],
    row_size: usize,
    at: usize,
) -> impl Iterator<Item = [u8; N]> + '_ {
    rows.chunks_exact(row_size).map(move |row| {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(&row[at..at + N]);
        bytes
    })
}

fn ints<T: ArrowPrimitiveType, const N: usize>(
    rows: &[u8],
    row_size: usize,
    at: usize,
    convert: impl Fn([u8; N]) -> T::Native,
) -> ArrayRef {
    let values: Vec<T::Native> = column_bytes::<N>(rows, row_size, at).map(convert).collect();
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), None))
}

fn floats<T: ArrowPrimitiveType, const N: usize>(
    rows: &[u8],
    row_size: usize,
    at: usize,
    convert: impl Fn([u8; N]) -> T::Native,
    is_nan: impl Fn(T::Native) -> bool,
) -> ArrayRef {
    let values: Vec<T::Native> = column_bytes::<N>(rows, row_size, at).map(convert).collect();
    // NaN is astropy's missing value for floats; MySQL has no NaN, so it becomes null here,
    // once, for every consumer of the batch.
    let nulls = values
        .iter()
        .any(|v| is_nan(*v))
        .then(|| NullBuffer::new(BooleanBuffer::from_iter(values.iter().map(|v| !is_nan(*v)))));
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), nulls))
}

fn bools(rows: &[u8], row_size: usize, at: usize) -> Result<ArrayRef, DecodeError> {
    let mut values = Vec::with_capacity(rows.len() / row_size);
    for (row, [byte]) in column_bytes::<1>(rows, row_size, at).enumerate() {
        match byte {
            0 => values.push(false),
            1 => values.push(true),
            other => {
                return Err(DecodeError {
                    row,
                    reason: format!("value {other} is not a member of the FALSE/TRUE enum"),
                });
            }
        }
    }
    Ok(Arc::new(BooleanArray::from(values)))
}

fn strings(
    rows: &[u8],
    row_size: usize,
    at: usize,
    size: usize,
    pad: StringPad,
) -> Result<ArrayRef, DecodeError> {
    let count = rows.len() / row_size;
    let mut data: Vec<u8> = Vec::with_capacity(count * size);
    let mut offsets: Vec<i32> = Vec::with_capacity(count + 1);
    offsets.push(0);
    for (row, bytes) in rows
        .chunks_exact(row_size)
        .map(|r| &r[at..at + size])
        .enumerate()
    {
        let value = match pad {
            StringPad::NullTerm => &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(size)],
            StringPad::NullPad => {
                &bytes[..bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)]
            }
            StringPad::SpacePad => {
                &bytes[..bytes.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1)]
            }
        };
        if let Err(err) = std::str::from_utf8(value) {
            return Err(DecodeError {
                row,
                reason: format!("string \"{}\" is not UTF-8: {err}", value.escape_ascii()),
            });
        }
        data.extend_from_slice(value);
        offsets.push(data.len() as i32);
    }
    // The checks above guarantee valid UTF-8 and monotonic offsets, so this cannot fail; the
    // checked constructor is kept rather than an unsafe unchecked one.
    let array = StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        data.into(),
        None,
    )
    .map_err(|err| DecodeError {
        row: 0,
        reason: err.to_string(),
    })?;
    Ok(Arc::new(array))
}

/// `data` with nulls where the astropy mask column `mask` is true (its own nulls kept).
pub(crate) fn apply_mask(data: &ArrayRef, mask: &ArrayRef) -> ArrayRef {
    let mask = mask.as_boolean();
    if mask.true_count() == 0 {
        return data.clone();
    }
    let unmasked = NullBuffer::new(!mask.values());
    let nulls = NullBuffer::union(data.nulls(), Some(&unmasked));
    let rebuilt = data.to_data().into_builder().nulls(nulls).build();
    // The buffers are the data's own with a smaller validity: it cannot be invalid.
    make_array(rebuilt.expect("same buffers, fewer valid rows"))
}
