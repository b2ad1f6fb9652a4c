//! The data layer of qserv-operator, free of Kubernetes and of the network: catalog readers
//! (astropy HDF5, CSV/TSV, Parquet → Arrow batches, selections, MySQL DDL) and Qserv's spherical
//! partitioner (the Chunker and the streaming partitioner). The operator's Jobs and the CLI call
//! the same functions.

pub mod catalog;
pub mod partition;
