//! One request to the replication system: URL resolution, `version`/`auth_key`, retries of
//! transient failures, and the documented response rules.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{API_VERSION, ReplicationClient};
use super::error::{ReplicationError, Result};
use super::types::{ChunkLocation, Transaction};
use crate::connect_to::resolve_url;

/// Which failures a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Idempotent (a GET, a chunk allocation): any transient failure.
    Transient,
    /// Not safe to repeat (a publish, a transaction start, a contribution, a commit): only
    /// when the service provably never got it ([`ReplicationError::is_undelivered`]); the
    /// caller looks at the service's state for anything else.
    Undelivered,
}

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    Short,
    Long,
}

impl ReplicationClient {
    pub(super) async fn post(
        &self,
        path: &str,
        what: &str,
        body: Value,
        repeat: Repeat,
        wait: Wait,
    ) -> Result<Value> {
        self.send(
            Method::POST,
            &self.base_url,
            path,
            what,
            Some(self.with_auth(body)),
            repeat,
            wait,
        )
        .await
    }

    pub(super) fn with_auth(&self, mut body: Value) -> Value {
        if let Some(map) = body.as_object_mut() {
            map.insert("version".into(), json!(API_VERSION));
            map.insert("auth_key".into(), json!(self.auth_key));
        }
        body
    }

    /// An idempotent, short request (the status services).
    pub(super) async fn call(
        &self,
        method: Method,
        base: &str,
        path: &str,
        what: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        self.send(
            method,
            base,
            path,
            what,
            body,
            Repeat::Transient,
            Wait::Short,
        )
        .await
    }

    pub(super) fn timeout(&self, wait: Wait) -> std::time::Duration {
        match wait {
            Wait::Short => self.request_timeout,
            Wait::Long => self.long_request_timeout,
        }
    }

    /// One JSON request, sent again after the failures `repeat` allows.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send(
        &self,
        method: Method,
        base: &str,
        path: &str,
        what: &str,
        body: Option<Value>,
        repeat: Repeat,
        wait: Wait,
    ) -> Result<Value> {
        let endpoint = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut url = resolve_url(&format!("{base}{path}"));
        if method == Method::GET {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("version={API_VERSION}"));
        }
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .timeout(self.timeout(wait));
            if let Some(body) = &body {
                req = req.json(body);
            }
            match self.interpret(&endpoint, what, req.send().await).await {
                Err(e) if self.may_repeat(&e, repeat, attempt) => {
                    tracing::warn!(error = %e, attempt, "replication request failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    pub(super) fn may_repeat(&self, e: &ReplicationError, repeat: Repeat, attempt: u32) -> bool {
        let allowed = match repeat {
            Repeat::Transient => e.is_transient(),
            Repeat::Undelivered => e.is_undelivered(),
        };
        allowed && attempt + 1 < self.retry.attempts
    }

    /// The documented response rules: HTTP 200 and `success: 1`, else an error.
    pub(super) async fn interpret(
        &self,
        endpoint: &str,
        what: &str,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<Value> {
        let resp = sent.map_err(|e| transport(endpoint, what, &e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transport(endpoint, what, &e))?;
        if !status.is_success() {
            return Err(ReplicationError::Status {
                endpoint: endpoint.into(),
                request: what.into(),
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| self.bad(endpoint, what, &format!("not JSON ({e})")))?;
        if v.get("success").and_then(Value::as_u64) != Some(1) {
            return Err(ReplicationError::Refused {
                endpoint: endpoint.into(),
                request: what.into(),
                error: str_of(&v, "error"),
                error_ext: v.get("error_ext").cloned().unwrap_or(Value::Null),
            });
        }
        if let Some(w) = v.get("warning").and_then(Value::as_str)
            && !w.is_empty()
        {
            tracing::warn!(endpoint, warning = w, "replication service warning");
        }
        Ok(v)
    }

    pub(super) fn bad(&self, endpoint: &str, what: &str, reason: &str) -> ReplicationError {
        ReplicationError::Response {
            endpoint: endpoint.into(),
            request: what.into(),
            reason: reason.into(),
        }
    }
}

pub(super) fn transport(endpoint: &str, what: &str, e: &reqwest::Error) -> ReplicationError {
    // The innermost cause says "Connection refused" rather than "error sending request".
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    ReplicationError::Transport {
        endpoint: endpoint.into(),
        request: what.into(),
        reason,
        transient: e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
        undelivered: e.is_connect(),
    }
}

pub(super) fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(super) fn transactions_of(v: &Value) -> Vec<Transaction> {
    let mut out = Vec::new();
    for db in v
        .get("databases")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        for t in db
            .get("transactions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = t.get("id").and_then(Value::as_u64) {
                out.push(Transaction {
                    id: id as u32,
                    database: str_of(t, "database"),
                    state: str_of(t, "state"),
                });
            }
        }
    }
    out
}

pub(super) fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A worker's HTTP ingest service from a location object of `/ingest/chunk` or
/// `/ingest/regular` (`http_host`, else `http_host_name`, and `http_port`).
pub(super) fn location_of(loc: &Value) -> Option<ChunkLocation> {
    let host = str_of(loc, "http_host");
    let host = if host.is_empty() {
        str_of(loc, "http_host_name")
    } else {
        host
    };
    let port = loc.get("http_port").and_then(Value::as_u64)?;
    (!host.is_empty()).then(|| ChunkLocation {
        worker: str_of(loc, "worker"),
        http_host: host,
        http_port: port as u16,
    })
}
