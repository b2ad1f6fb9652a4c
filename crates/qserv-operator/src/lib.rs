//! qserv-operator: stands up Qserv test instances on Kubernetes and ingests astronomical
//! catalogs into them, then proves the ingest with result checks.
//!
//! The CRD types (`api`) and the data layer (`catalog`, `partition`) are crates of their own,
//! re-exported here so that every layer above names them in one way.

pub use qserv_api as api;
pub use qserv_data::{catalog, partition};

pub mod check;
pub mod cluster;
pub mod connect_to;
pub mod db;
pub mod events;
pub mod from_spec;
pub mod identity;
pub mod import;
pub mod ingest;
pub mod load;
pub mod metrics;
pub mod qserv;
pub mod query;
pub mod read_only;
pub mod run;
pub mod shutdown;
pub mod telemetry;
pub mod tolerant;
