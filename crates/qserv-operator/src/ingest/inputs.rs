//! The input files a step reads, checked before it reads them: each must still be there and
//! readable. The operator validated the files before the ingest started (where it sees them), but
//! a file can be removed or lose its read permission since; the step then fails on the file by
//! its table and its path in the source, the same words whichever reader (CSV, HDF5, Parquet)
//! would have met it first.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::api::catalog_ingest::TableSpec;
use crate::catalog::error::CatalogError;

/// Why a table's input cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    /// One file: gone, not readable, a directory...
    #[error("table {table}: input file {file}: {reason}")]
    Unreadable {
        table: String,
        /// As the spec names it: relative to the source.
        file: String,
        reason: String,
    },
    /// The spec's entries cannot be resolved (a glob that matches nothing any more...).
    #[error("table {table}: {reason}")]
    Files { table: String, reason: String },
}

/// The files of `table` under `source`, each opened and read from: the first that cannot be is
/// the error.
pub fn readable_files(table: &TableSpec, source: &Path) -> Result<Vec<PathBuf>, InputError> {
    let files = crate::from_spec::catalog::table_files(table, source).map_err(|e| match e {
        CatalogError::Io { file, reason } => InputError::Unreadable {
            table: table.name.clone(),
            file: in_source(source, &file),
            reason,
        },
        other => InputError::Files {
            table: table.name.clone(),
            reason: other.to_string(),
        },
    })?;
    for file in &files {
        let mut first = [0u8; 1];
        std::fs::File::open(file)
            .and_then(|mut f| f.read(&mut first))
            .map_err(|e| InputError::Unreadable {
                table: table.name.clone(),
                file: in_source(source, file),
                reason: e.to_string(),
            })?;
    }
    Ok(files)
}

/// `file` as the spec names it: its path under `source` (the full path when it is not under).
pub fn in_source(source: &Path, file: &Path) -> String {
    file.strip_prefix(source)
        .unwrap_or(file)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(files: &[&str]) -> TableSpec {
        serde_json::from_value(serde_json::json!(
            {"name": "Filter", "format": "tsv", "files": files, "role": "regular"}))
        .unwrap()
    }

    #[test]
    fn a_file_gone_or_unreadable_is_named_by_table_and_path_in_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path();
        std::fs::create_dir_all(source.join("data/sub.tsv")).unwrap();
        std::fs::write(source.join("data/a.tsv"), "1\n").unwrap();
        std::fs::write(source.join("data/b.tsv"), "2\n").unwrap();

        let found = readable_files(&table(&["data/a.tsv", "data/b.tsv"]), source).unwrap();
        assert_eq!(
            found,
            [source.join("data/a.tsv"), source.join("data/b.tsv")]
        );

        assert_eq!(
            readable_files(&table(&["data/a.tsv", "data/gone.tsv"]), source)
                .unwrap_err()
                .to_string(),
            "table Filter: input file data/gone.tsv: No such file or directory (os error 2)"
        );
        // There, but not a file one can read.
        assert_eq!(
            readable_files(&table(&["data/sub.tsv"]), source)
                .unwrap_err()
                .to_string(),
            "table Filter: input file data/sub.tsv: Is a directory (os error 21)"
        );
        assert_eq!(
            readable_files(&table(&["data/*.parquet"]), source)
                .unwrap_err()
                .to_string(),
            "table Filter: input file data/*.parquet: the pattern matches no file"
        );
        assert!(matches!(
            readable_files(&table(&["../elsewhere.tsv"]), source).unwrap_err(),
            InputError::Files { table, reason } if table == "Filter" && reason.contains("outside")
        ));
    }
}
