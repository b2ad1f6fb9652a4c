//! Errors of the replication client, and which of them are worth a retry.

use std::time::Duration;

use serde_json::Value;

/// Everything that can go wrong talking to the replication system; each variant names the
/// endpoint (`METHOD /path`) and what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// Qserv understood the request and refused it (`success: 0`).
    #[error("{endpoint} ({request}): Qserv refused: {error}{}", ext_suffix(.error_ext))]
    Refused {
        endpoint: String,
        request: String,
        error: String,
        error_ext: Value,
    },
    /// A non-200 HTTP status.
    #[error("{endpoint} ({request}): HTTP {status}: {body}")]
    Status {
        endpoint: String,
        request: String,
        status: u16,
        body: String,
    },
    /// No answer: connection refused or reset, timeout.
    #[error("{endpoint} ({request}): {reason}")]
    Transport {
        endpoint: String,
        request: String,
        reason: String,
        transient: bool,
        /// No connection was made, so the service never saw the request.
        undelivered: bool,
    },
    /// A request that is not safe to repeat got no answer, and its effect could not be told
    /// from the service's state: it may or may not have happened.
    #[error(
        "{endpoint} ({request}): no answer and not repeated (a second one could {hazard}): \
         {reason}"
    )]
    OutcomeUnknown {
        endpoint: String,
        request: String,
        hazard: String,
        reason: String,
    },
    /// The service speaks an API version this client does not.
    #[error(
        "GET /meta/version ({url}): the replication service implements API version {server}; \
         this client works with versions {min}..={max} only"
    )]
    UnsupportedServer {
        url: String,
        server: u32,
        min: u32,
        max: u32,
    },
    /// A request the client refuses to send, because the service would refuse it or misread
    /// it.
    #[error("{request}: not sent: {reason}")]
    Invalid { request: String, reason: String },
    /// An answer that is not the documented JSON.
    #[error("{endpoint} ({request}): unexpected response: {reason}")]
    Response {
        endpoint: String,
        request: String,
        reason: String,
    },
    /// A contribution file could not be read.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

fn ext_suffix(ext: &Value) -> String {
    match ext {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Null => String::new(),
        other => format!(" (error_ext: {other})"),
    }
}

impl ReplicationError {
    /// Never reached the service's handler: no connection was made, or HTTP 503 (Qserv's
    /// handlers answer every failure with HTTP 200 and `success: 0`,
    /// `Q@2026.3.3-rc1:src/http/Module.cc:44-51` and `src/http/FileUploadModule.cc:81-89`,
    /// so a 503 "unavailable" comes from whatever stands in front of them). Safe to send
    /// again even when the request is not idempotent.
    pub fn is_undelivered(&self) -> bool {
        match self {
            ReplicationError::Status { status, .. } => *status == 503,
            ReplicationError::Transport { undelivered, .. } => *undelivered,
            _ => false,
        }
    }

    /// Worth another attempt of an idempotent request: the service may be restarting.
    pub fn is_transient(&self) -> bool {
        match self {
            ReplicationError::Status { status, .. } => *status >= 500,
            ReplicationError::Transport { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Qserv's own `error` text, when it refused the request.
    pub fn qserv_error(&self) -> Option<&str> {
        match self {
            ReplicationError::Refused { error, .. } => Some(error),
            _ => None,
        }
    }
}

pub type Result<T, E = ReplicationError> = std::result::Result<T, E>;

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // Up to ~16 s in all: long enough for a worker or the controller restarting.
            attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// "Full jitter" backoff: uniform in [0, min(max, base * 2^attempt)], so many clients
    /// retrying at once do not hit the service in lockstep.
    pub(super) fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let delays: Vec<Duration> = (0..200).map(|_| p.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(350)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter gives different delays");
        assert!(p.delay(0) <= Duration::from_millis(100));
    }

    #[test]
    fn refused_and_4xx_are_not_transient_5xx_is() {
        let refused = ReplicationError::Refused {
            endpoint: "POST /ingest/trans".into(),
            request: "database d".into(),
            error: "no such database".into(),
            error_ext: json!({}),
        };
        assert!(!refused.is_transient());
        assert_eq!(
            refused.to_string(),
            "POST /ingest/trans (database d): Qserv refused: no such database"
        );
        let status = |s| ReplicationError::Status {
            endpoint: "e".into(),
            request: "r".into(),
            status: s,
            body: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(!status(404).is_transient());
    }
}
