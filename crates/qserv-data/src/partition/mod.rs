//! Qserv's spherical partitioning: the Chunker (exact to lsst/qserv `src/partition/Chunker.cc`),
//! a format-agnostic core that lays rows out per chunk with overlap, and a streaming, parallel
//! CSV/TSV pipeline compatible with sph-partition's configs and output.

pub mod arrow_rows;
pub mod block;
pub mod chunker;
pub mod cli;
pub mod config;
pub mod counts;
pub mod csv;
pub mod input;
pub mod position;
pub mod run;
pub mod writer;

pub use chunker::{Chunker, Location};
pub use config::{AngleUnit, ConfigStore, PartitionConfig};
pub use run::{Options, PartitionError, partition_files};
pub use writer::Summary;
