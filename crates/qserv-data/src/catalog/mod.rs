//! Catalog readers: astropy HDF5 tables, CSV/TSV (plain or gzip) and Parquet, all streamed as
//! Arrow [`RecordBatch`](arrow_array::RecordBatch)es of bounded size with one schema per table,
//! then selected (columns by glob, cone, bands) batch by batch, and described as MySQL DDL.
//!
//! What every reader guarantees, so loaders and the partitioner need not care about formats:
//! - a batch never holds more than the requested number of rows; a file is never loaded whole;
//! - the schema carries name, type and nullability (Arrow) and unit, description, string width
//!   and a verbatim SQL type when known (field metadata, see [`schema`]);
//! - a float NaN is a null: astropy marks missing floats with NaN, MySQL has no NaN, and one
//!   rule in the reader keeps loaders from each inventing their own (a loader writes null as
//!   `\N` in `LOAD DATA`).
//!
//! Entry points: [`CatalogReader`] (one file), [`TableReader`] (the files of one table), both
//! with `select` for a [`SelectionSpec`]; [`create_table_sql`] writes the DDL. Nothing here
//! knows Kubernetes: `qserv_operator::from_spec` turns a `CatalogIngest` table into these
//! settings.
//!
//! ```no_run
//! # use qserv_data::catalog::*;
//! # fn main() -> Result<()> {
//! let format = InputFormat::Hdf5 { dataset: "deepCoadd_meas".into() };
//! let reader = CatalogReader::open("macs2243.h5".as_ref(), &format, DEFAULT_BATCH_ROWS)?;
//! let spec = SelectionSpec { table: "deepCoadd_meas".into(), columns: vec!["coord*".into(), "id".into()], ..Default::default() };
//! let selected = reader.select(&spec)?;
//! println!("{}", create_table_sql("deepCoadd_meas", &selected.schema())?);
//! for batch in selected {
//!     let batch = batch?; // hand it to a loader
//! }
//! # Ok(()) }
//! ```

pub mod angle;
mod astropy_meta;
pub mod csv;
pub mod ddl;
pub mod definition;
pub mod error;
pub mod felis;
mod files;
pub mod hdf5;
pub mod parquet;
mod reader;
pub mod schema;
pub mod schema_file;
pub mod select;
pub mod sqlschema;

pub use angle::{AngleUnit, UnitOf};
pub use csv::{CsvOptions, CsvReader, Dialect};
pub use ddl::create_table_sql;
pub use definition::TableDefinition;
pub use error::{CatalogError, Result};
pub use felis::FelisFile;
pub use files::TableReader;
pub use hdf5::Hdf5Reader;
pub use parquet::ParquetReader;
pub use reader::{CatalogReader, InputFormat};
pub use schema_file::SchemaFile;
pub use select::{BandFilter, Cone, Position, Selected, Selection, SelectionSpec};
pub use sqlschema::{create_table_parts, schema_from_ddl_file};

/// Default rows per batch: large enough to amortise per-batch costs, small enough (a few MB
/// for typical tables) to keep many readers in memory at once.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
