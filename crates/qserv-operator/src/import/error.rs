//! The import's one error type.

use std::path::{Path, PathBuf};

/// Why a dataset could not be imported: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {reason}", file.display())]
    File { file: PathBuf, reason: String },
    #[error("table {table}: {reason}")]
    Table { table: String, reason: String },
}

impl ImportError {
    pub fn file(file: &Path, reason: impl std::fmt::Display) -> Self {
        ImportError::File {
            file: file.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn table(table: &str, reason: impl Into<String>) -> Self {
        ImportError::Table {
            table: table.into(),
            reason: reason.into(),
        }
    }
}
