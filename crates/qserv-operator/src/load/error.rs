//! The one error type of the loaders. Each variant names what the data layer knows: the
//! endpoint for connection problems, the table for everything, and the input file, row and
//! column for a value MariaDB (or the encoder) refuses, because the reader of the message has
//! big files and needs the bad spot.

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::db::DbError;

/// An error from a loader.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The arguments of a load do not describe one (a missing option, a bad config file).
    #[error("{0}")]
    Arguments(String),

    /// The endpoint URL does not parse.
    #[error("endpoint `{url}`: {reason}")]
    Endpoint { url: String, reason: String },

    /// No connection could be made (refused, unknown host, access denied).
    #[error("cannot connect to MariaDB at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },

    /// The input has no rows, or the selection kept none, and an empty table was not asked for
    /// (`allow_empty`); the table as it was is kept.
    #[error(
        "table `{table}`: {} {} (an empty input is refused; the table is unchanged)",
        match selected_from {
            Some(n) => format!("the selection (the spec's cone or bands) kept none of the {n} rows of"),
            None => "no rows in".to_string(),
        },
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Empty {
        table: String,
        files: Vec<PathBuf>,
        /// Rows read before the selection's row filters, when it has some.
        selected_from: Option<u64>,
    },

    /// The connection broke during a load.
    #[error("table `{table}`: connection to {endpoint} lost: {reason}")]
    ConnectionLost {
        endpoint: String,
        table: String,
        reason: String,
    },

    /// A statement failed; `message` is MariaDB's.
    #[error("table `{table}`: {action} failed: {message}")]
    Sql {
        table: String,
        action: String,
        message: String,
    },

    /// MariaDB refused a row (strict mode: too long, out of range, bad value). `row` counts
    /// from 1 among the rows loaded from `file` (after the row filters of the selection).
    #[error("table `{table}`: {} row {row}: MariaDB rejected the row: {message}", file.display())]
    RowRejected {
        table: String,
        file: PathBuf,
        row: u64,
        message: String,
    },

    /// A value cannot be written for MariaDB (an infinite float). `row` as in `RowRejected`.
    #[error("table `{table}`: {} row {row}, column `{column}`: {reason}", file.display())]
    Value {
        table: String,
        file: PathBuf,
        row: u64,
        column: String,
        reason: String,
    },

    /// A column type the loader cannot write.
    #[error("table `{table}`, column `{column}`: {reason}")]
    ColumnType {
        table: String,
        column: String,
        reason: String,
    },

    /// A file of the load cannot be used (a chunk file unreadable, a directory without chunk
    /// files, a dialect `LOAD DATA` cannot read), or its rows did not all load.
    #[error("table `{table}`: {}: {reason}", file.display())]
    File {
        table: String,
        file: PathBuf,
        reason: String,
    },

    /// The input cannot be read (the catalog error names the file and the row). Boxed: a
    /// catalog error is large and every `Result` of the loader would carry its size.
    #[error("table `{table}`: {source}")]
    Read {
        table: String,
        #[source]
        source: Box<CatalogError>,
    },
}

impl LoadError {
    pub(crate) fn read(table: &str, source: CatalogError) -> Self {
        LoadError::Read {
            table: table.to_string(),
            source: Box::new(source),
        }
    }
}

/// Result alias for the load module.
pub type Result<T, E = LoadError> = std::result::Result<T, E>;

impl From<DbError> for LoadError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Endpoint { url, reason } => LoadError::Endpoint { url, reason },
            DbError::Connect { endpoint, reason } => LoadError::Connect { endpoint, reason },
        }
    }
}
