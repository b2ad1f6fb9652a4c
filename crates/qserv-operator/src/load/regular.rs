//! A regular (fully replicated, not partitioned) table's contribution file for Qserv's ingest:
//! its input files read through the catalog readers with the table's selection, written as
//! `LOAD DATA` text (tab separated, `\N` for NULL, backslash escapes: [`super::tsv`]), the
//! same encoding and the same rows the reference load streams. Written once, then sent to
//! every worker (each holds a full copy).

use std::io::Write;
use std::path::Path;

use arrow_schema::SchemaRef;

use super::error::{LoadError, Result};
use super::stream::{self, End, Input, Statement};
use super::tsv::check_schema;

/// What was written.
#[derive(Debug, Clone)]
pub struct ContributionFile {
    pub rows: u64,
    /// The columns, in file order (the reader's, after the selection).
    pub schema: SchemaRef,
}

/// Writes every selected row of `input` to `out` (created or truncated). On error the partial
/// file is removed.
pub fn write_contribution_file(input: &Input, out: &Path) -> Result<ContributionFile> {
    let result = write(input, out);
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

fn write(input: &Input, out: &Path) -> Result<ContributionFile> {
    let table = &input.selection.table;
    let io_error = |e: std::io::Error| LoadError::File {
        table: table.clone(),
        file: out.to_path_buf(),
        reason: e.to_string(),
    };
    let first_file = input
        .files
        .first()
        .ok_or_else(|| LoadError::Arguments(format!("table `{table}`: no input files")))?;
    let first = stream::open(first_file, input)?;
    let schema = first.schema();
    check_schema(&schema).map_err(|(column, reason)| LoadError::ColumnType {
        table: table.clone(),
        column,
        reason,
    })?;
    let file = std::fs::File::create(out).map_err(io_error)?;
    // One statement for the whole table; the writer drains it while the producer encodes.
    let (tx, mut statements) = tokio::sync::mpsc::channel::<Statement>(1);
    let (outcome, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut file = std::io::BufWriter::new(file);
            while let Some(mut statement) = statements.blocking_recv() {
                while let Some(chunk) = statement.blocking_recv() {
                    file.write_all(&chunk?)?;
                }
            }
            file.flush()
        });
        let outcome = stream::produce(first, input, u64::MAX, None, tx);
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (outcome, written)
    });
    match outcome.end {
        End::Failed(error) => Err(error),
        End::ConsumerGone | End::Done => {
            written.map_err(io_error)?;
            Ok(ContributionFile {
                rows: outcome.rows,
                schema,
            })
        }
    }
}
