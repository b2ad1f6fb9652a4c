//! Loaders: catalog tables into MariaDB.
//!
//! - [`reference`]: one table, unpartitioned, into a plain MariaDB database (the reference of
//!   result checks), through a staging table renamed when complete.
//! - [`chunks`]: partitioner output onto Qserv worker MariaDBs as chunk tables (names and DDL in
//!   [`crate::qserv::chunk_tables`]), staged and swapped in likewise;
//! - [`ingest`]: partitioned and regular tables into Qserv through its replication ingest API
//!   ([`crate::qserv::replication`]): the transaction workflow.
//!
//! Rows travel as `LOAD DATA LOCAL INFILE` text ([`tsv`]) streamed straight from the readers'
//! Arrow batches ([`stream`]): no temp files, bounded memory, one connection per load.
//!
//! ```no_run
//! # use qserv_operator::{catalog::*, db::Endpoint, load::*};
//! # async fn example() -> Result<(), LoadError> {
//! let endpoint = Endpoint::parse("mysql://root@127.0.0.1:3306")?;
//! let input = Input {
//!     files: vec!["macs2243.h5".into()],
//!     format: InputFormat::Hdf5 { dataset: "deepCoadd_meas".into() },
//!     selection: SelectionSpec { table: "deepCoadd_meas".into(), ..Default::default() },
//!     batch_rows: DEFAULT_BATCH_ROWS,
//! };
//! let summary = load_reference(&endpoint, &ReferenceLoad::new("clusters", "deepCoadd_meas", input), None).await?;
//! println!("{} rows, {:.0} rows/s", summary.rows, summary.rows_per_second());
//! # Ok(()) }
//! ```

pub mod args;
pub mod cli;
pub mod error;
pub mod reference;
pub mod regular;
mod sql;
pub mod stream;
pub mod tsv;

pub use error::{LoadError, Result};
pub use reference::{LoadSummary, ReferenceLoad, STAGING_SUFFIX, load_reference};
pub use stream::{Input, Progress};
pub mod chunks;
pub use chunks::{ChunkFiles, ChunkLoad, ChunkLoadSummary, ChunkPlan, TableDdl, load_chunks};
mod chunk_files;
pub mod chunks_cli;
pub mod ingest;
pub mod ingest_cli;
pub mod ingest_plan;
