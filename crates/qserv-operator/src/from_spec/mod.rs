//! From a `CatalogIngest` to the settings of the data layer: the one place where the CRD types
//! meet the readers ([`catalog`]: formats, files, selections) and the partitioner
//! ([`partition`]: a table's partitioner config), so that `qserv_data` stays free of
//! Kubernetes.

pub mod catalog;
pub mod partition;
