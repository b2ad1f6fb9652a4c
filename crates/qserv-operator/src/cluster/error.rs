//! The one error type of the QservCluster reconciler. Each variant has a stable metric label
//! (`reconcile_errors_total{controller="qservcluster",kind=...}`), so dashboards tell an invalid
//! spec from an API server outage.

use super::build::BuildError;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The desired objects could not be built (invalid spec, bad config override, name too
    /// long): a user error, reported in the Degraded condition, not retried until the spec
    /// changes.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The API server refused or failed a request.
    #[error("{action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// The finalizer machinery failed around the apply or cleanup stage.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The replication system refused or failed a request (removing departed workers).
    #[error("replication system: {0}")]
    Replication(String),
    /// An object the API server returned lacks what the controller needs.
    #[error("{0}")]
    Unexpected(String),
}

impl ReconcileError {
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ReconcileError {
        let action = action.into();
        move |source| ReconcileError::Kube { action, source }
    }

    /// Label of the variant in metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ReconcileError::Build(e) => e.metric_label(),
            ReconcileError::Kube { .. } => "kube_api",
            ReconcileError::Finalizer(_) => "finalizer",
            ReconcileError::Replication(_) => "replication",
            ReconcileError::Unexpected(_) => "unexpected",
        }
    }

    /// A user error the next reconcile cannot fix by itself.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ReconcileError::Build(_))
    }
}
