//! Errors of the local runtime; each names the object, container or path it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("mariadb for {what}: {reason}")]
    MariaDb { what: String, reason: String },
    #[error("{kind} {namespace}/{name}: {source}")]
    Api {
        kind: &'static str,
        namespace: String,
        name: String,
        source: Box<kube::Error>,
    },
    #[error("{kind} {namespace}/{name}: {reason}")]
    Invalid {
        kind: &'static str,
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("pod {namespace}/{pod}: {reason}")]
    Pod {
        namespace: String,
        pod: String,
        reason: String,
    },
    #[error("simulator for container {container}: {reason}")]
    Simulator { container: String, reason: String },
}

impl RuntimeError {
    /// The API answered 404: the object went away.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::Api { source, .. }
            if matches!(source.as_ref(), kube::Error::Api(s) if s.code == 404))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
