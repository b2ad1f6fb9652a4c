//! What stops `query`, naming the endpoint, the file, or the row and column.

use std::path::PathBuf;

use crate::db::DbError;

/// An error of `query`.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The endpoint URL is bad or the server cannot be reached (names the endpoint).
    #[error(transparent)]
    Connect(#[from] DbError),
    /// Refused before it was sent: `query` only reads.
    #[error(transparent)]
    NotAQuery(#[from] crate::read_only::NotAQuery),
    /// The statement failed; `message` is MariaDB's.
    #[error("query failed on {endpoint}: {message}")]
    Sql { endpoint: String, message: String },
    /// The output file cannot be created or written.
    #[error("{}: cannot write the result: {reason}", file.display())]
    Output { file: PathBuf, reason: String },
    /// A result column has no representation in the output format.
    #[error("column `{column}`: {reason}")]
    Column { column: String, reason: String },
    /// A value cannot be written (`row` counts from 1).
    #[error("row {row}, column `{column}`: {reason}")]
    Value {
        row: u64,
        column: String,
        reason: String,
    },
}
