//! Parquet reader: the `parquet` crate's Arrow reader, in batches, with NaN turned into null
//! like every other reader (see the `catalog` module).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::error::{CatalogError, Result};
use super::schema::{META_DESCRIPTION, META_UNIT};

/// Streams a Parquet file as record batches of at most `batch_rows` rows.
pub struct ParquetReader {
    file: PathBuf,
    inner: ParquetRecordBatchReader,
    schema: SchemaRef,
    rows_read: u64,
    rows: u64,
    done: bool,
}

impl ParquetReader {
    pub fn open(file: &Path, batch_rows: usize) -> Result<Self> {
        let f = File::open(file).map_err(|err| CatalogError::io(file, err))?;
        let parquet_error = |err: parquet::errors::ParquetError| CatalogError::Parquet {
            file: file.to_path_buf(),
            reason: err.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(parquet_error)?;
        let rows = builder.metadata().file_metadata().num_rows() as u64;
        // Float columns become nullable: their NaNs are nulls in the batches.
        let fields: Vec<Field> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let nullable = f.is_nullable() || is_float(f.data_type());
                f.as_ref().clone().with_nullable(nullable)
            })
            .collect();
        let metadata = builder.schema().metadata().clone();
        let fields = with_astropy_docs(fields, &metadata, file)?;
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        let inner = builder
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(parquet_error)?;
        Ok(ParquetReader {
            file: file.to_path_buf(),
            inner,
            schema,
            rows_read: 0,
            rows,
            done: false,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Number of rows in the file (from its footer).
    pub fn num_rows(&self) -> u64 {
        self.rows
    }

    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|column| match column.data_type() {
                DataType::Float32 => nan_to_null::<Float32Type>(column, f32::is_nan),
                DataType::Float64 => nan_to_null::<Float64Type>(column, f64::is_nan),
                _ => column.clone(),
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|err| CatalogError::Parquet {
            file: self.file.clone(),
            reason: err.to_string(),
        })
    }
}

impl Iterator for ParquetReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.inner.next()? {
            Ok(batch) => {
                self.rows_read += batch.num_rows() as u64;
                self.convert(batch)
            }
            Err(err) => Err(CatalogError::Parquet {
                file: self.file.clone(),
                reason: format!("after row {}: {err}", self.rows_read),
            }),
        };
        self.done = item.is_err();
        Some(item)
    }
}

fn is_float(dt: &DataType) -> bool {
    matches!(dt, DataType::Float32 | DataType::Float64)
}

fn nan_to_null<T: ArrowPrimitiveType>(
    column: &ArrayRef,
    is_nan: fn(T::Native) -> bool,
) -> ArrayRef {
    let values: &PrimitiveArray<T> = column.as_primitive::<T>();
    if !values.values().iter().any(|v| is_nan(*v)) {
        return column.clone();
    }
    let valid = BooleanBuffer::from_iter(
        (0..values.len()).map(|i| values.is_valid(i) && !is_nan(values.value(i))),
    );
    Arc::new(PrimitiveArray::<T>::new(
        values.values().clone(),
        Some(NullBuffer::new(valid)),
    ))
}

/// astropy's units and descriptions (`table_meta_yaml`, what `Table.write` stores in a Parquet
/// file) as the fields' metadata, the same keys HDF5's give; a unit or description already in a
/// field's own metadata (pyarrow's) is kept.
fn with_astropy_docs(
    fields: Vec<Field>,
    metadata: &arrow_schema::Metadata,
    file: &Path,
) -> Result<Vec<Field>> {
    let Some(yaml) = metadata.get("table_meta_yaml") else {
        return Ok(fields);
    };
    let lines: Vec<String> = yaml.lines().map(str::to_string).collect();
    let meta =
        super::astropy_meta::parse_column_meta(&lines).map_err(|reason| CatalogError::Parquet {
            file: file.to_path_buf(),
            reason: format!("table_meta_yaml (astropy's column metadata): {reason}"),
        })?;
    Ok(fields
        .into_iter()
        .map(|f| {
            let Some(doc) = meta.docs.get(f.name()) else {
                return f;
            };
            let mut md = f.metadata().clone();
            for (key, value) in [(META_UNIT, &doc.unit), (META_DESCRIPTION, &doc.description)] {
                if let Some(v) = value.as_ref().filter(|_| !md.contains_key(key)) {
                    md.insert(key, v.clone());
                }
            }
            f.with_metadata(md)
        })
        .collect())
}
