//! Local mode: what stands in for a Kubernetes cluster on machines that cannot run one.

pub mod apiserver;
pub mod container_logs;
pub mod demo;
pub mod mode;
pub mod replication;
pub mod runtime;
pub mod schema_update;
pub mod simulators;

pub use mode::{LocalMode, LocalOptions};
