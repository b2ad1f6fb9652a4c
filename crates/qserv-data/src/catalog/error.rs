//! The one error type of the catalog readers. Every variant about malformed input names the
//! file, the dataset or table, and where it can the row (or line) and the field, because the
//! person reading the message has a multi-gigabyte file and needs to find the bad spot.

use std::path::PathBuf;

/// An error from a catalog reader or from the selection applied to its batches.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file cannot be opened or read at all (missing, permissions, I/O error).
    #[error("{}: {reason}", file.display())]
    Io { file: PathBuf, reason: String },

    /// The HDF5 file is not readable as HDF5 (truncated, corrupt, not HDF5).
    #[error("{}: not a readable HDF5 file: {reason}", file.display())]
    Hdf5File { file: PathBuf, reason: String },

    /// The requested HDF5 dataset does not exist.
    #[error("{}: no dataset `{dataset}` (datasets at the top level: {available})", file.display())]
    DatasetNotFound {
        file: PathBuf,
        dataset: String,
        available: String,
    },

    /// The dataset exists but is not an astropy table (a 1-D compound dataset of scalars).
    #[error("{}: dataset `{dataset}` is not a table: {reason}", file.display())]
    NotATable {
        file: PathBuf,
        dataset: String,
        reason: String,
    },

    /// Reading a range of rows failed (truncated data, a filter error, a corrupt chunk).
    #[error("{}: dataset `{dataset}` rows {first}..{end}: {reason}", file.display())]
    Hdf5Read {
        file: PathBuf,
        dataset: String,
        first: u64,
        end: u64,
        reason: String,
    },

    /// One value of an HDF5 table cannot be represented (bad enum value, invalid UTF-8).
    #[error("{}: dataset `{dataset}` row {row}, field `{field}`: {reason}", file.display())]
    Hdf5Value {
        file: PathBuf,
        dataset: String,
        row: u64,
        field: String,
        reason: String,
    },

    /// The `<table>.__table_column_meta__` YAML of an astropy table is malformed.
    #[error("{}: dataset `{dataset}`: column metadata: {reason}", file.display())]
    TableMeta {
        file: PathBuf,
        dataset: String,
        reason: String,
    },

    /// A CSV/TSV record is malformed as a whole (field count, unterminated quote, bad gzip).
    #[error("{}: line {line}: {reason}", file.display())]
    CsvRecord {
        file: PathBuf,
        line: u64,
        reason: String,
    },

    /// One CSV/TSV value does not parse as its column's type.
    #[error("{}: line {line}, field {field} (`{column}`): {reason}", file.display())]
    CsvValue {
        file: PathBuf,
        line: u64,
        field: usize,
        column: String,
        reason: String,
    },

    /// A MySQL DDL file (a `CREATE TABLE` statement) cannot be understood.
    #[error("{}: schema: {reason}", file.display())]
    Ddl { file: PathBuf, reason: String },

    /// A Felis schema (YAML) cannot be read, or lacks the table asked for; `reason` names the
    /// YAML path (`tables[3].columns[12].datatype`) or the line and column.
    #[error("{}: Felis schema: {reason}", file.display())]
    Felis { file: PathBuf, reason: String },

    /// A Parquet file cannot be read.
    #[error("{}: Parquet: {reason}", file.display())]
    Parquet { file: PathBuf, reason: String },

    /// One of several files of a table has other columns than the first.
    #[error("{}: its columns differ from the table's first file: {reason}", file.display())]
    SchemaMismatch { file: PathBuf, reason: String },

    /// A column type has no MySQL equivalent.
    #[error("table `{table}`, column `{column}`: {reason}")]
    SqlType {
        table: String,
        column: String,
        reason: String,
    },

    /// The column selection or a row filter does not fit the table's schema.
    #[error("table `{table}`: {reason}")]
    Selection { table: String, reason: String },
}

/// Result alias for the catalog module.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl CatalogError {
    /// A file that cannot be read (or listed), and why.
    pub fn io(file: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        CatalogError::Io {
            file: file.into(),
            reason: err.to_string(),
        }
    }
}
