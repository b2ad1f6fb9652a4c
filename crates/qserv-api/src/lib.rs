//! Custom resource types (group `qserv.in2p3.fr`, version `v1alpha1`) and what is shared by
//! both kinds: conditions, validation, angle parsing. Nothing here talks to the API server.

pub mod angle;
pub mod catalog_ingest;
pub mod cel;
pub mod condition;
pub mod csv_dialect;
pub mod docs;
pub mod manifest;
pub mod qserv_cluster;
pub mod validation;

pub use catalog_ingest::{CatalogIngest, CatalogIngestSpec, CatalogIngestStatus};
pub use qserv_cluster::{QservCluster, QservClusterSpec, QservClusterStatus};
pub use validation::{FieldError, ValidationErrors};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of both kinds.
pub const GROUP: &str = "qserv.in2p3.fr";

/// Both CRDs, generated from the Rust types: the single source of truth for `crds/`.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("qservclusters.yaml", QservCluster::crd()),
        ("catalogingests.yaml", CatalogIngest::crd()),
    ]
}

/// One CRD as the YAML document committed under `crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_norway::Error> {
    Ok(format!("---\n{}", serde_norway::to_string(crd)?))
}
