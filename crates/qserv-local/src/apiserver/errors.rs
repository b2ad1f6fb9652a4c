//! The one error type of the embedded API server, and its rendering as a Kubernetes `Status`
//! (the shape `kube::Error::Api` and kubectl parse to show `reason` and `message`).

use serde_json::{Value, json};

use super::ownership::Conflict;

/// One invalid field, reported in `status.details.causes` like the real API server does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `spec.workers.replicas`
    pub field: String,
    pub message: String,
}

/// Everything a request can fail with. Each variant maps to one HTTP code and `reason`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        group: String,
        kind: String,
        name: String,
    },
    #[error("the server could not find the requested resource")]
    NoRoute,
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists {
        group: String,
        kind: String,
        name: String,
    },
    #[error(
        "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        group: String,
        kind: String,
        name: String,
    },
    #[error("{kind} \"{name}\" is invalid: {}", render_causes(.causes))]
    Invalid {
        group: String,
        kind: String,
        name: String,
        causes: Vec<Cause>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("method {0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error(
        "the local API server does not support media type {0:?} (protobuf only for Namespace, ConfigMap, Secret): use `kubectl apply -f` with a manifest"
    )]
    UnsupportedMediaType(String),
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("Apply failed with {} conflict(s): {}", .0.len(), render_conflicts(.0))]
    ApplyConflict(Vec<Conflict>),
    #[error("injected fault (HTTP {0})")]
    Injected(u16),
    /// A body over the limit (k8s.io/apiserver `NewRequestEntityTooLargeError`, 413).
    #[error("Request entity too large: limit is {0}")]
    TooLarge(usize),
    /// An object bigger than etcd stores (its default `--max-request-bytes`, 1.5 MiB). etcd
    /// answers `etcdserver: request is too large` (etcd `api/v3rpc/rpctypes/error.go`
    /// `ErrGRPCRequestTooLarge`) and kube-apiserver passes it on as a 500 Status with that message
    /// and no reason (kubernetes/kubernetes#112152, still open: "Apiserver should map etcd errors
    /// to proper response code/status").
    #[error("etcdserver: request is too large")]
    ObjectTooLarge,
    /// The request took longer than the request timeout (k8s.io/apiserver
    /// `pkg/server/filters/timeout.go`: `NewTimeoutError("request did not complete within requested
    /// timeout - context deadline exceeded", 0)`, 504).
    #[error(
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    )]
    Timeout,
    /// A handler failed where it never should: the request gets a Status, not a dropped
    /// connection.
    #[error("Internal error occurred: {0}")]
    Internal(String),
    // Starting the server, not serving a request:
    #[error("binding 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("writing kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        source: std::io::Error,
    },
    #[error("building a client: {0}")]
    Client(String),
}

fn render_conflicts(conflicts: &[Conflict]) -> String {
    let parts: Vec<String> = conflicts
        .iter()
        .map(|c| format!("conflict with \"{}\": {}", c.manager, c.field))
        .collect();
    parts.join("; ")
}

fn render_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: Invalid value: {}", c.field, c.message))
        .collect();
    format!("[{}]", parts.join(", "))
}

impl ApiError {
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict(_) => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Gone { .. } => 410,
            ApiError::Injected(code) => *code,
            ApiError::TooLarge(_) => 413,
            ApiError::Timeout => 504,
            ApiError::Internal(_) | ApiError::ObjectTooLarge => 500,
            ApiError::Bind(_) | ApiError::Kubeconfig { .. } | ApiError::Client(_) => 500,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict(_) => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Gone { .. } => "Expired",
            ApiError::Injected(409) => "Conflict",
            ApiError::Injected(429) => "TooManyRequests",
            ApiError::Injected(503) => "ServiceUnavailable",
            ApiError::Injected(504) => "Timeout",
            ApiError::Injected(_) | ApiError::Internal(_) => "InternalError",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::ObjectTooLarge => "",
            ApiError::Timeout => "Timeout",
            ApiError::Bind(_) | ApiError::Kubeconfig { .. } | ApiError::Client(_) => {
                "InternalError"
            }
        }
    }

    /// The `Status` object sent as the response body (or inside a watch `ERROR` event).
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if self.reason().is_empty() {
            // StatusReasonUnknown is "" and omitted, as the real server's JSON shows.
            status.as_object_mut().map(|o| o.remove("reason"));
        }
        let details = match self {
            ApiError::NotFound { group, kind, name }
            | ApiError::AlreadyExists { group, kind, name }
            | ApiError::Conflict { group, kind, name } => {
                Some(json!({"name": name, "group": group, "kind": kind}))
            }
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => Some(json!({
                "name": name, "group": group, "kind": kind,
                "causes": causes.iter().map(|c| json!({
                    "reason": "FieldValueInvalid",
                    "message": format!("Invalid value: {}", c.message),
                    "field": c.field,
                })).collect::<Vec<_>>(),
            })),
            ApiError::ApplyConflict(conflicts) => Some(json!({
                "causes": conflicts.iter().map(|c| json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with \"{}\"", c.manager),
                    "field": c.field,
                })).collect::<Vec<_>>(),
            })),
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_every_field_in_message_and_causes() {
        let err = ApiError::Invalid {
            group: "qserv.in2p3.fr".into(),
            kind: "QservCluster".into(),
            name: "q".into(),
            causes: vec![Cause {
                field: "spec.workers.replicas".into(),
                message: "workers.replicas must be >= 1".into(),
            }],
        };
        let status = err.status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["message"],
            "QservCluster \"q\" is invalid: [spec.workers.replicas: Invalid value: workers.replicas must be >= 1]"
        );
        assert_eq!(
            status["details"]["causes"][0]["field"],
            "spec.workers.replicas"
        );
    }
}
