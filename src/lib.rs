//! qserv-operator: stands up Qserv test instances on Kubernetes and ingests astronomical
//! catalogs into them, then proves the ingest with result checks.

pub mod api;
pub mod catalog;
pub mod check;
pub mod cluster;
pub mod connect_to;
pub mod ingest;
pub mod load;
pub mod local;
pub mod metrics;
pub mod partition;
pub mod query;
pub mod telemetry;
