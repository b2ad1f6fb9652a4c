//! qserv-operator: stands up Qserv test instances on Kubernetes and ingests astronomical
//! catalogs into them, then proves the ingest with result checks.

pub mod api;
pub mod cluster;
pub mod partition;
pub mod telemetry;
