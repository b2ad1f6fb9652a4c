//! Catalog readers: astropy HDF5 tables, CSV/TSV (plain or gzip) and Parquet, all streamed as
//! Arrow [`RecordBatch`](arrow_array::RecordBatch)es of bounded size with one schema per table.
//!
//! What every reader guarantees, so loaders and the partitioner need not care about formats:
//! - a batch never holds more than the requested number of rows; a file is never loaded whole;
//! - the schema carries name, type and nullability (Arrow) and unit, description, string width
//!   and a verbatim SQL type when known (field metadata, see [`schema`]);
//! - a float NaN is a null: astropy marks missing floats with NaN, MySQL has no NaN, and one
//!   rule in the reader keeps loaders from each inventing their own (a loader writes null as
//!   `\N` in `LOAD DATA`).

pub mod error;
pub mod hdf5;
pub mod schema;

pub use error::{CatalogError, Result};
pub use hdf5::Hdf5Reader;

/// Default rows per batch: large enough to amortise per-batch costs, small enough (a few MB
/// for typical tables) to keep many readers in memory at once.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
