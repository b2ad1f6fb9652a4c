//! The client itself: its HTTP pool, where the controller is, the keys, the retry policy and
//! the timeouts.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::error::{ReplicationError, Result, RetryPolicy};

/// The API version this client speaks: `MetaModule::version` in lsst/qserv
/// (`Q@2026.3.3-rc1:src/http/MetaModule.cc:39`). `/ingest/csv` needs at least 38
/// (`checkApiVersion(__func__, 38)`, `src/replica/ingest/IngestFileHttpSvcMod.cc:70`), table
/// charsets 49 (`src/replica/contr/HttpIngestModule.cc:517-518`).
pub const API_VERSION: u32 = 55;

/// The server versions this client works with. A server takes a request whose `version` is in
/// `[the endpoint's minimum, its own version]` (`Q@2026.3.3-rc1:src/http/BaseModule.cc:57-89`),
/// so an older server refuses every request of ours; a newer one may have raised an
/// endpoint's minimum or changed a reply, which nobody has checked: both are refused up front
/// with the versions named, rather than failing halfway through an ingest.
pub const SUPPORTED_SERVER_VERSIONS: RangeInclusive<u32> = API_VERSION..=API_VERSION;

/// Timeouts and retries of a [`ReplicationClient`].
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Status requests and registrations.
    pub request_timeout: Duration,
    /// Requests whose work grows with the catalog: a contribution, a commit or abort,
    /// publishing (the controller scans and updates every chunk of every worker), the
    /// director index and row counters. Also the bound on waiting for a transaction in a
    /// transitional state (`IS_*`) to settle.
    pub long_request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(600),
            // Publishing a large catalog takes hours; the bound only catches a dead peer.
            long_request_timeout: Duration::from_secs(12 * 3600),
            retry: RetryPolicy::default(),
        }
    }
}

/// The client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct ReplicationClient {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) auth_key: String,
    pub(super) admin_auth_key: String,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub long_request_timeout: Duration,
    /// How often a transaction or a publication in progress is looked at while waiting.
    pub poll_interval: Duration,
}

impl ReplicationClient {
    /// `base_url`: the controller, e.g. `http://qserv-repl-ctl-0.qserv-repl-ctl:8080`.
    pub fn new(base_url: &str, auth_key: &str, admin_auth_key: &str) -> Result<Self> {
        Self::with_options(base_url, auth_key, admin_auth_key, ClientOptions::default())
    }

    pub fn with_options(
        base_url: &str,
        auth_key: &str,
        admin_auth_key: &str,
        options: ClientOptions,
    ) -> Result<Self> {
        // No overall timeout on the pool: each request sets its own (short or long).
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| ReplicationError::Transport {
                endpoint: base_url.into(),
                request: "client setup".into(),
                reason: e.to_string(),
                transient: false,
                undelivered: true,
            })?;
        Ok(ReplicationClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth_key: auth_key.into(),
            admin_auth_key: admin_auth_key.into(),
            retry: options.retry,
            request_timeout: options.request_timeout,
            long_request_timeout: options.long_request_timeout,
            poll_interval: Duration::from_secs(2),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}
