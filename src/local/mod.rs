//! Local mode: what stands in for a Kubernetes cluster on machines that cannot run one.

pub mod addresses;
pub mod apiserver;
pub mod replication;
pub mod runtime;
