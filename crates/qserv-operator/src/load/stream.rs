//! The producing half of a load: reads the input files batch by batch (in a blocking thread,
//! as the readers are synchronous), encodes rows as `LOAD DATA` text and hands them to the
//! connection as a sequence of *statements*, each a bounded stream of byte chunks. Memory
//! stays bounded by the channel capacities whatever the input size: no temp files, no whole
//! file in memory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{Schema, SchemaRef};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::error::LoadError;
use super::tsv::encode_rows;
use crate::catalog::{CatalogReader, InputFormat, Selected, SelectionSpec};

/// Bytes per chunk handed to the driver: large enough that per-chunk costs vanish, small
/// enough that the chunks in flight stay a few MB.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks queued per statement while the server is busy.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Called from the producing thread with the number of rows encoded so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// What a load reads.
#[derive(Clone, Debug)]
pub struct Input {
    pub files: Vec<PathBuf>,
    pub format: InputFormat,
    pub selection: SelectionSpec,
    pub batch_rows: usize,
}

/// One `LOAD DATA` statement's data; the stream ends when the producer drops its sender.
pub type Statement = mpsc::Receiver<io::Result<Bytes>>;

/// The rows of one input file start at `first_row` (0-based) among all rows loaded.
#[derive(Clone, Debug)]
pub struct FileSpan {
    pub file: PathBuf,
    pub first_row: u64,
}

/// The file of the 1-based `row` among all rows loaded, and the row's 1-based number in it.
pub fn locate(spans: &[FileSpan], row: u64) -> (PathBuf, u64) {
    match spans.iter().rev().find(|s| s.first_row < row) {
        Some(span) => (span.file.clone(), row - span.first_row),
        None => (PathBuf::new(), row),
    }
}

/// How the producer ended.
pub enum End {
    /// Every row was handed over.
    Done,
    /// Reading or encoding failed; the statement in progress was aborted.
    Failed(LoadError),
    /// The consumer stopped taking data (its own error says why).
    ConsumerGone,
}

pub struct Outcome {
    pub end: End,
    pub rows: u64,
    pub spans: Vec<FileSpan>,
    /// Rows read before the selection's row filters (a cone, bands), when there are some.
    pub rows_before_selection: Option<u64>,
}

/// Opens one input file with the selection applied.
pub fn open(file: &Path, input: &Input) -> Result<Selected<CatalogReader>, LoadError> {
    CatalogReader::open(file, &input.format, input.batch_rows)
        .and_then(|reader| reader.select(&input.selection))
        .map_err(|source| LoadError::read(&input.selection.table, source))
}

/// Encodes every selected row of every input file into statements of about
/// `rows_per_statement` rows (cut at batch boundaries), sending each statement's receiver on
/// `statements` before filling it. `first` is the already opened first file.
pub fn produce(
    first: Selected<CatalogReader>,
    input: &Input,
    rows_per_statement: u64,
    progress: Option<Progress>,
    statements: mpsc::Sender<Statement>,
) -> Outcome {
    let mut producer = Producer {
        statements,
        current: None,
        statement_rows: 0,
        rows: 0,
        spans: Vec::new(),
        schema: first.schema(),
    };
    let table = input.selection.table.clone();
    let mut rows_before_selection = first.filters_rows().then_some(0u64);
    let end = (|| {
        let mut reader = first;
        for (i, file) in input.files.iter().enumerate() {
            if i > 0 {
                reader = open(file, input).map_err(Some)?;
                check_same_columns(&table, file, &producer.schema, &reader.schema())
                    .map_err(Some)?;
            }
            producer.spans.push(FileSpan {
                file: file.clone(),
                first_row: producer.rows,
            });
            let mut file_rows = 0u64;
            for batch in reader.by_ref() {
                let batch = batch.map_err(|source| Some(LoadError::read(&table, source)))?;
                let mut out = Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 8);
                let mut start = 0;
                while start < batch.num_rows() {
                    // Rows go in runs of 256 so the size check costs nothing per row.
                    let end = (start + 256).min(batch.num_rows());
                    encode_rows(&batch, start..end, &mut out).map_err(|err| {
                        Some(LoadError::Value {
                            table: table.clone(),
                            file: file.clone(),
                            row: file_rows + err.row as u64 + 1,
                            column: batch.schema().field(err.column).name().clone(),
                            reason: err.reason,
                        })
                    })?;
                    start = end;
                    if out.len() >= CHUNK_BYTES || start == batch.num_rows() {
                        let full = std::mem::replace(&mut out, Vec::with_capacity(CHUNK_BYTES));
                        producer.send(full.into()).ok_or(None)?;
                    }
                }
                let n = batch.num_rows() as u64;
                file_rows += n;
                producer.rows += n;
                producer.statement_rows += n;
                if producer.statement_rows >= rows_per_statement {
                    producer.end_statement();
                }
                if let Some(progress) = &progress {
                    progress(producer.rows);
                }
            }
            if let Some(n) = rows_before_selection.as_mut() {
                *n += reader.rows_in();
            }
        }
        Ok::<(), Option<LoadError>>(())
    })();
    let end = match end {
        Ok(()) => End::Done,
        Err(Some(err)) => {
            producer.abort();
            End::Failed(err)
        }
        Err(None) => End::ConsumerGone,
    };
    Outcome {
        end,
        rows: producer.rows,
        spans: producer.spans,
        rows_before_selection,
    }
}

struct Producer {
    statements: mpsc::Sender<Statement>,
    current: Option<mpsc::Sender<io::Result<Bytes>>>,
    statement_rows: u64,
    rows: u64,
    spans: Vec<FileSpan>,
    schema: SchemaRef,
}

impl Producer {
    /// Sends a chunk, opening a statement when none is open; `None` when the consumer is gone.
    fn send(&mut self, chunk: Bytes) -> Option<()> {
        if chunk.is_empty() {
            return Some(());
        }
        if self.current.is_none() {
            let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
            self.statements.blocking_send(rx).ok()?;
            self.current = Some(tx);
            self.statement_rows = 0;
        }
        self.current.as_ref()?.blocking_send(Ok(chunk)).ok()
    }

    /// Ends the open statement: its stream ends when its sender is dropped.
    fn end_statement(&mut self) {
        self.current = None;
    }

    /// Makes the open statement fail rather than commit a partial run of rows.
    fn abort(&mut self) {
        if let Some(tx) = self.current.take() {
            let _ = tx.blocking_send(Err(io::Error::other("load aborted: input error")));
        }
    }
}

fn check_same_columns(
    table: &str,
    file: &Path,
    first: &Schema,
    this: &Schema,
) -> Result<(), LoadError> {
    let describe = |s: &Schema| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect()
    };
    if describe(first) == describe(this) {
        return Ok(());
    }
    Err(LoadError::read(
        table,
        crate::catalog::CatalogError::SchemaMismatch {
            file: file.to_path_buf(),
            reason: format!(
                "selected columns `{}`, the first file's are `{}`",
                describe(this).join(", "),
                describe(first).join(", ")
            ),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_located_in_their_file() {
        let spans = [
            FileSpan {
                file: "a".into(),
                first_row: 0,
            },
            FileSpan {
                file: "b".into(),
                first_row: 10,
            },
            // An empty file: its span starts where the next one does.
            FileSpan {
                file: "c".into(),
                first_row: 25,
            },
            FileSpan {
                file: "d".into(),
                first_row: 25,
            },
        ];
        assert_eq!(locate(&spans, 1), ("a".into(), 1));
        assert_eq!(locate(&spans, 10), ("a".into(), 10));
        assert_eq!(locate(&spans, 11), ("b".into(), 1));
        assert_eq!(locate(&spans, 26), ("d".into(), 1));
    }
}
