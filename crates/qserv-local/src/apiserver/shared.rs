//! What every request handler shares: the store, the faults to inject, the server's address and
//! its settings. Its own file, so the handlers and the server that builds it import it from here
//! and not from each other.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::faults;
use super::store::Store;

/// State shared by all connections.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub faults: faults::Faults,
    pub address: String,
    pub bookmark_interval: Duration,
    pub request_timeout: Duration,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Where the local runtime writes its containers' logs, once it is attached (the node that
    /// `pods/{name}/log` reads from).
    pub container_logs: OnceLock<PathBuf>,
    /// Log responses being streamed now.
    pub log_streams: Arc<AtomicUsize>,
}

impl Shared {
    /// The store lock. Critical sections are short and never await; a panic while holding it
    /// cannot leave an object half-written (writes are single map inserts), so poison is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}
