//! The files of one table (a `CatalogIngest` table lists several) read as one stream.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use super::error::{CatalogError, Result};
use super::reader::{CatalogReader, InputFormat};
use super::select::{Selected, Selection, SelectionSpec};

/// Reads files in order, opening each only when the previous one is done (one open file at a
/// time); every file must have the first file's column names and types.
pub struct TableReader {
    pending: VecDeque<PathBuf>,
    format: InputFormat,
    batch_rows: usize,
    current: Option<CatalogReader>,
    current_file: PathBuf,
    schema: SchemaRef,
    done: bool,
}

impl TableReader {
    pub fn open(files: &[PathBuf], format: &InputFormat, batch_rows: usize) -> Result<Self> {
        let (first, rest) = files.split_first().ok_or_else(|| CatalogError::Io {
            file: PathBuf::new(),
            reason: "a table needs at least one input file".to_string(),
        })?;
        let current = CatalogReader::open(first, format, batch_rows)?;
        Ok(TableReader {
            pending: rest.iter().cloned().collect(),
            format: format.clone(),
            batch_rows,
            schema: current.schema(),
            current: Some(current),
            current_file: first.clone(),
            done: false,
        })
    }

    /// The schema of the first file, which every file shares.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// This reader with a selection applied to every batch.
    pub fn select(self, spec: &SelectionSpec) -> Result<Selected<Self>> {
        let selection = Selection::new(&self.schema, spec)?;
        Ok(Selected::new(self, selection, &spec.table))
    }

    fn open_next(&mut self, file: &Path) -> Result<CatalogReader> {
        let reader = CatalogReader::open(file, &self.format, self.batch_rows)?;
        check_same_columns(file, &self.schema, &reader.schema())?;
        Ok(reader)
    }
}

impl Iterator for TableReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some(reader) = self.current.as_mut() {
                match reader.next() {
                    // Batches carry the table schema (metadata of later files may differ).
                    Some(Ok(batch)) => {
                        let batch = batch.with_schema(self.schema.clone()).map_err(|err| {
                            CatalogError::SchemaMismatch {
                                file: self.current_file.clone(),
                                reason: err.to_string(),
                            }
                        });
                        self.done = batch.is_err();
                        return Some(batch);
                    }
                    Some(Err(err)) => {
                        self.done = true;
                        return Some(Err(err));
                    }
                    None => self.current = None,
                }
            }
            let Some(file) = self.pending.pop_front() else {
                self.done = true;
                break;
            };
            match self.open_next(&file) {
                Ok(reader) => {
                    self.current = Some(reader);
                    self.current_file = file;
                }
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
        None
    }
}

fn check_same_columns(file: &Path, first: &Schema, this: &Schema) -> Result<()> {
    let describe = |s: &Schema| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect()
    };
    let (a, b) = (describe(first), describe(this));
    if a == b {
        return Ok(());
    }
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    Err(CatalogError::SchemaMismatch {
        file: file.to_path_buf(),
        reason: format!(
            "column {}: expected `{}`, found `{}`",
            at + 1,
            a.get(at).map_or("(none)", String::as_str),
            b.get(at).map_or("(none)", String::as_str)
        ),
    })
}
