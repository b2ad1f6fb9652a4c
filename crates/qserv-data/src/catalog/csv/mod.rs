//! CSV/TSV reader, plain or gzip-compressed, streamed as typed Arrow batches.
//!
//! Column names come from a header line, an explicit field list (Qserv's `in.csv.field`) or
//! the schema; column types come from a schema (e.g. a MySQL DDL file through
//! [`schema_from_ddl_file`](super::sqlschema::schema_from_ddl_file)). Without a schema every
//! column is text: guessing types from a prefix of a stream would fail late on big files.

mod columns;
mod dialect;
mod records;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use flate2::read::MultiGzDecoder;

use super::error::{CatalogError, Result};
use columns::ColumnBuilder;
pub use dialect::{Dialect, EncodeError, unescape};
use records::{Record, Records};

/// How to read a delimited text file.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Delimiter, quote, escape and NULL token (sph-partition's `in.csv.*`).
    pub dialect: Dialect,
    /// The first line holds the column names.
    pub header: bool,
    /// Column names in file order when there is no header.
    pub fields: Vec<String>,
    /// Column names and types; the file's columns must be these, in this order.
    pub schema: Option<SchemaRef>,
}

impl CsvOptions {
    /// Reads `dialect`, without a header, field list or schema.
    pub fn with_dialect(dialect: Dialect) -> Self {
        CsvOptions {
            dialect,
            header: false,
            fields: Vec::new(),
            schema: None,
        }
    }

    /// Comma-separated with sph-partition's other defaults: `"` quotes, `\` escapes, `NULL`
    /// (and `\N`) for NULL ([`Dialect::csv`]).
    pub fn csv() -> Self {
        CsvOptions::with_dialect(Dialect::csv())
    }

    /// Tab-separated as MySQL writes it (`SELECT ... INTO OUTFILE`, the qserv_testdata TSVs):
    /// no quoting, `\` escapes, `\N` for NULL ([`Dialect::mysql_tsv`]).
    pub fn tsv() -> Self {
        CsvOptions::with_dialect(Dialect::mysql_tsv())
    }
}

/// Streams a CSV/TSV file as record batches of at most `batch_rows` rows.
pub struct CsvReader {
    file: PathBuf,
    gzip: bool,
    schema: SchemaRef,
    records: Records,
    record: Record,
    builders: Vec<ColumnBuilder>,
    batch_rows: usize,
    done: bool,
}

impl CsvReader {
    pub fn open(file: &Path, options: &CsvOptions, batch_rows: usize) -> Result<Self> {
        let (input, gzip) = open_input(file)?;
        let mut reader = Self::from_reader(file, input, options, batch_rows)?;
        reader.gzip = gzip;
        Ok(reader)
    }

    /// Streams already-opened (decompressed) text; `file` names it in errors.
    pub fn from_reader(
        file: &Path,
        input: Box<dyn Read + Send>,
        options: &CsvOptions,
        batch_rows: usize,
    ) -> Result<Self> {
        options
            .dialect
            .check()
            .map_err(|reason| record_error(file, 1, format!("CSV dialect: {reason}")))?;
        let mut records = Records::new(
            Box::new(BufReader::with_capacity(1 << 16, input)),
            options.dialect.clone(),
        );
        let mut record = Record::default();
        let names: Option<Vec<String>> = if options.header {
            let found = records
                .next_into(&mut record)
                .map_err(|err| CatalogError::CsvRecord {
                    file: file.to_path_buf(),
                    line: err.line,
                    reason: err.reason,
                })?;
            if !found {
                return Err(record_error(
                    file,
                    1,
                    "empty file: no header line".to_string(),
                ));
            }
            let header = (0..record.len())
                .map(|i| {
                    String::from_utf8_lossy(record.field(i).unwrap_or(b""))
                        .trim()
                        .to_string()
                })
                .collect();
            Some(header)
        } else if !options.fields.is_empty() {
            Some(options.fields.clone())
        } else {
            None
        };
        let schema = resolve_schema(file, names, options.schema.clone())?;
        let builders = schema
            .fields()
            .iter()
            .map(|f| {
                ColumnBuilder::for_field(f).ok_or_else(|| CatalogError::Ddl {
                    file: file.to_path_buf(),
                    reason: format!(
                        "column `{}`: type {} cannot be read from text",
                        f.name(),
                        f.data_type()
                    ),
                })
            })
            .collect::<Result<_>>()?;
        Ok(CsvReader {
            file: file.to_path_buf(),
            gzip: false,
            schema,
            records,
            record,
            builders,
            batch_rows: batch_rows.max(1),
            done: false,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn read_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut rows = 0;
        while rows < self.batch_rows {
            let more = self.records.next_into(&mut self.record).map_err(|err| {
                let reason = if self.gzip {
                    format!("{} (gzip-compressed input)", err.reason)
                } else {
                    err.reason
                };
                record_error(&self.file, err.line, reason)
            })?;
            if !more {
                break;
            }
            let line = self.record.line;
            if self.record.len() != self.builders.len() {
                return Err(record_error(
                    &self.file,
                    line,
                    format!(
                        "expected {} fields, found {}",
                        self.builders.len(),
                        self.record.len()
                    ),
                ));
            }
            for (i, builder) in self.builders.iter_mut().enumerate() {
                let value = self.record.field(i);
                let field = self.schema.field(i);
                let checked = match value {
                    None if !field.is_nullable() => Err("NULL in a NOT NULL column".to_string()),
                    _ => builder.push(value),
                };
                checked.map_err(|reason| CatalogError::CsvValue {
                    file: self.file.clone(),
                    line,
                    field: i + 1,
                    column: field.name().clone(),
                    reason,
                })?;
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        RecordBatch::try_new(self.schema.clone(), columns)
            .map(Some)
            .map_err(|err| record_error(&self.file, self.record.line, err.to_string()))
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let batch = self.read_batch().transpose();
        // The stream ends at its end or at its first error (a later line number would not
        // be trustworthy after a framing error).
        if !matches!(batch, Some(Ok(_))) {
            self.done = true;
        }
        batch
    }
}

fn record_error(file: &Path, line: u64, reason: String) -> CatalogError {
    CatalogError::CsvRecord {
        file: file.to_path_buf(),
        line,
        reason,
    }
}

/// Opens `file`, decompressing gzip (by its magic number, whatever the file is called).
fn open_input(file: &Path) -> Result<(Box<dyn Read + Send>, bool)> {
    let mut f = File::open(file).map_err(|err| CatalogError::io(file, err))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(|err| CatalogError::io(file, err))?;
    let f = File::open(file).map_err(|err| CatalogError::io(file, err))?;
    let buffered = BufReader::with_capacity(1 << 16, f);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok((Box::new(MultiGzDecoder::new(buffered)), true))
    } else {
        Ok((Box::new(buffered), false))
    }
}

/// The schema of the file: the given one (checked against the names) or all-text columns.
fn resolve_schema(
    file: &Path,
    names: Option<Vec<String>>,
    schema: Option<SchemaRef>,
) -> Result<SchemaRef> {
    let ddl_error = |reason: String| CatalogError::Ddl {
        file: file.to_path_buf(),
        reason,
    };
    match (names, schema) {
        (Some(names), Some(schema)) => {
            let expected: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
            if names.iter().collect::<Vec<_>>() != expected {
                let at = names
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a != *b)
                    .unwrap_or(names.len().min(expected.len()));
                return Err(ddl_error(format!(
                    "the file's columns differ from the schema's at column {}: file has {:?}, schema has {:?} ({} vs {} columns)",
                    at + 1,
                    names.get(at),
                    expected.get(at),
                    names.len(),
                    expected.len()
                )));
            }
            Ok(schema)
        }
        (None, Some(schema)) => Ok(schema),
        (Some(names), None) => Ok(Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ))),
        (None, None) => Err(ddl_error(
            "no column names: give a header, a field list or a schema".to_string(),
        )),
    }
}
