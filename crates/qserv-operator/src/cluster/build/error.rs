//! Why the desired objects cannot be built from a spec.

use crate::api::ValidationErrors;

/// Why the desired objects could not be built. Besides an invalid spec, these are what spec
/// validation cannot see: metadata set by the API server, names derived from the cluster's
/// name, config overrides the operator cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The spec fails validation (the validate stage should have stopped it; checked again so
    /// no object is ever built from an invalid spec).
    #[error("invalid QservCluster spec: {0}")]
    InvalidSpec(#[from] ValidationErrors),
    #[error("the QservCluster has no metadata.{0} (it must come from the API server)")]
    MissingMetadata(&'static str),
    #[error(
        "{kind} name {name:?} derived from metadata.name {problem}; use a shorter cluster name"
    )]
    InvalidName {
        kind: &'static str,
        name: String,
        problem: String,
    },
    #[error("spec.config.{component}: {key:?} is set by the operator and cannot be overridden")]
    ReservedConfigKey {
        component: &'static str,
        key: String,
    },
    #[error("spec.config.{component}: {key:?}: {reason}")]
    InvalidConfig {
        component: &'static str,
        key: String,
        reason: String,
    },
}

impl BuildError {
    /// Label of the variant in metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            BuildError::InvalidSpec(_) => "invalid_spec",
            BuildError::MissingMetadata(_) => "missing_metadata",
            BuildError::InvalidName { .. } => "invalid_name",
            BuildError::ReservedConfigKey { .. } => "reserved_config_key",
            BuildError::InvalidConfig { .. } => "invalid_config",
        }
    }
}
