//! Rows from the catalog readers (astropy HDF5, Parquet, CSV through Arrow) for the
//! partitioning core: each Arrow row is encoded once in the output dialect, located by its
//! position columns and laid out like a CSV row, so the scientists' HDF5 tables partition
//! without a detour through text files.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use super::block::{BlockBuilder, BlockOutput, Reject, RowTemplate};
use super::chunker::Chunker;
use super::config::{AngleUnit, OutField, PartitionConfig, RowLayout};
use super::csv::Dialect;
use super::position::check_position;

/// Turns Arrow batches into located, encoded rows; one per worker thread.
pub struct ArrowRows<'a> {
    config: &'a PartitionConfig,
    pub(crate) builder: BlockBuilder<'a>,
    layout: RowLayout,
    row: RowTemplate,
    text: String,
    id_bytes: Vec<u8>,
}

impl<'a> ArrowRows<'a> {
    /// `config.input_fields` are the batches' column names, in order.
    pub fn new(config: &'a PartitionConfig, chunker: &'a Chunker) -> Self {
        let layout = config.layout();
        ArrowRows {
            config,
            builder: BlockBuilder::new(chunker, config.output_dialect.delimiter),
            layout,
            row: RowTemplate::default(),
            text: String::new(),
            id_bytes: Vec::new(),
        }
    }

    /// Lays out every row of `batch`; `first_row` is the 1-based number of its first row in
    /// its input.
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        first_row: u64,
        seq: u64,
        input: usize,
        next: BlockOutput,
    ) -> BlockOutput {
        for i in 0..batch.num_rows() {
            if let Err((field, reason)) = self.row(batch, i) {
                self.builder.reject(Reject {
                    line: first_row + i as u64,
                    field,
                    reason,
                    raw: Vec::new(),
                });
            }
        }
        self.builder.finish(seq, input, next)
    }

    fn row(&mut self, batch: &RecordBatch, i: usize) -> Result<(), (Option<String>, String)> {
        let cfg = self.config;
        let name = |c: usize| Some(cfg.input_fields[c].clone());
        let ra = coordinate(batch.column(self.layout.ra), i, cfg.ra_unit)
            .map_err(|e| (name(self.layout.ra), e))?;
        let dec = coordinate(batch.column(self.layout.dec), i, cfg.dec_unit)
            .map_err(|e| (name(self.layout.dec), e))?;
        let (ra, dec) = check_position(ra, dec, cfg.normalize_ra).map_err(|(which, reason)| {
            (
                name(if which == 0 {
                    self.layout.ra
                } else {
                    self.layout.dec
                }),
                reason,
            )
        })?;
        if let Some(c) = self.layout.id {
            let col = batch.column(c);
            if col.is_null(i) {
                return Err((name(c), "object id is NULL".into()));
            }
            self.id_bytes.clear();
            encode_value(
                col,
                i,
                &cfg.output_dialect,
                &mut self.text,
                &mut self.id_bytes,
            )
            .map_err(|e| (name(c), e))?;
        }
        self.row.clear();
        for (k, field) in self.layout.plan.iter().enumerate() {
            if k > 0 {
                self.row.bytes_mut().push(cfg.output_dialect.delimiter);
            }
            match *field {
                OutField::Slot(slot) => self.row.push_slot(slot),
                OutField::Null => self
                    .row
                    .bytes_mut()
                    .extend_from_slice(&cfg.output_dialect.null),
                OutField::Input(c) => encode_value(
                    batch.column(c),
                    i,
                    &cfg.output_dialect,
                    &mut self.text,
                    self.row.bytes_mut(),
                )
                .map_err(|e| (name(c), e))?,
            }
        }
        let id = self.layout.id.map(|_| self.id_bytes.as_slice());
        self.builder.add(ra, dec, &self.row, id);
        Ok(())
    }
}

/// A position value in degrees.
fn coordinate(col: &ArrayRef, i: usize, unit: AngleUnit) -> Result<f64, String> {
    if col.is_null(i) {
        return Err("NULL position".into());
    }
    let value = match col.data_type() {
        DataType::Float64 => col.as_primitive::<Float64Type>().value(i),
        DataType::Float32 => f64::from(col.as_primitive::<Float32Type>().value(i)),
        DataType::Int32 => f64::from(col.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i) as f64,
        other => return Err(format!("a position column must be numeric, got {other}")),
    };
    if !value.is_finite() {
        return Err(format!("not a finite number: {value}"));
    }
    Ok(unit.to_degrees(value))
}

/// Appends the value at row `i` in `dialect`: NULL token, decimal numbers (floats in their
/// shortest round-trip form), 0/1 for booleans, escaped text and bytes.
pub fn encode_value(
    col: &ArrayRef,
    i: usize,
    dialect: &Dialect,
    text: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if col.is_null(i) {
        out.extend_from_slice(&dialect.null);
        return Ok(());
    }
    text.clear();
    let mut ints = itoa::Buffer::new();
    let digits: &str = match col.data_type() {
        DataType::Int8 => ints.format(col.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => ints.format(col.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => ints.format(col.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => ints.format(col.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => ints.format(col.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => ints.format(col.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => ints.format(col.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => ints.format(col.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => {
            let _ = write!(text, "{}", col.as_primitive::<Float32Type>().value(i));
            text.as_str()
        }
        DataType::Float64 => {
            let _ = write!(text, "{}", col.as_primitive::<Float64Type>().value(i));
            text.as_str()
        }
        DataType::Boolean => {
            if col.as_boolean().value(i) {
                "1"
            } else {
                "0"
            }
        }
        DataType::Utf8 => {
            return encode_bytes(col.as_string::<i32>().value(i).as_bytes(), dialect, out);
        }
        DataType::LargeUtf8 => {
            return encode_bytes(col.as_string::<i64>().value(i).as_bytes(), dialect, out);
        }
        DataType::Binary => return encode_bytes(col.as_binary::<i32>().value(i), dialect, out),
        DataType::LargeBinary => {
            return encode_bytes(col.as_binary::<i64>().value(i), dialect, out);
        }
        DataType::FixedSizeBinary(_) => {
            return encode_bytes(col.as_fixed_size_binary().value(i), dialect, out);
        }
        other => return Err(format!("columns of type {other} cannot be written as CSV")),
    };
    out.extend_from_slice(digits.as_bytes());
    Ok(())
}

fn encode_bytes(value: &[u8], dialect: &Dialect, out: &mut Vec<u8>) -> Result<(), String> {
    dialect.encode_into(value, out).map_err(|e| e.to_string())
}
