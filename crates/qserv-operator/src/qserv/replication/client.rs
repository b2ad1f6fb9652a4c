//! The client itself: its HTTP pool, where the controller is, the keys, the retry policy.

use std::time::Duration;

use super::error::{ReplicationError, Result, RetryPolicy};

/// The API version this client speaks: `MetaModule::version` in lsst/qserv
/// `src/http/MetaModule.cc` (55 at the time of writing). `/ingest/csv` needs at least 38
/// (`checkApiVersion(__func__, 38)` in `src/replica/ingest/IngestFileHttpSvcMod.cc`).
pub const API_VERSION: u32 = 55;

/// The client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct ReplicationClient {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) auth_key: String,
    pub(super) admin_auth_key: String,
    pub retry: RetryPolicy,
}

impl ReplicationClient {
    /// `base_url`: the controller, e.g. `http://qserv-repl-ctl-0.qserv-repl-ctl:8080`.
    pub fn new(base_url: &str, auth_key: &str, admin_auth_key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Contributions and publishing can take long; the timeout bounds a stuck peer.
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| ReplicationError::Transport {
                endpoint: base_url.into(),
                request: "client setup".into(),
                reason: e.to_string(),
                transient: false,
            })?;
        Ok(ReplicationClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth_key: auth_key.into(),
            admin_auth_key: admin_auth_key.into(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}
