//! A stand-in of Qserv's replication-system ingest REST API, for local mode and tests, held
//! to what the real server (lsst/qserv `2026.3.3-rc1`, API 55) accepts and refuses: the
//! Master Replication Controller's ingest services on one port and each worker's HTTP ingest
//! service on a port of its own, writing accepted contributions into the workers' real
//! MariaDB servers the way Qserv lays them out (see [`tables`]), and making the published
//! catalog readable from the czar's MariaDB.
//!
//! What it refuses, as the real server does (HTTP 200 `success: 0`, the real `error` text;
//! unknown services are HTTP 404); each rule cites the Qserv source where it is implemented:
//! - keys on every POST/PUT/DELETE, the worker's `/ingest/csv` included (Qserv's
//!   `FileUploadModule.cc` enforces them too, before the file, `:63-65`); the API `version`
//!   against the stand-in's own range, per endpoint (a missing version is let through, as
//!   Qserv only warns);
//! - a database before its tables, a director before its children, the columns a director
//!   needs (key, positions, `subChunkId`) and a child needs (key, positions if given),
//!   TEXT/BLOB types in a director, database and table names longer than 56 characters
//!   together, the column `qserv_trans_id`; database families: a new database joins the family
//!   of its stripes and sub-stripes and takes its overlap;
//! - `/ingest/csv` dialects other than the escaped tokens Qserv lists; contributions only to a
//!   `STARTED` transaction, for chunks allocated through `/ingest/chunk`, on the chunk's
//!   worker; rows `LOAD DATA` cannot take whole are loaded with warnings, counted in
//!   `num_warnings` (not refused);
//! - ending a transaction only from the states Qserv allows (abort from any failed or
//!   transitional state); publishing with unfinished transactions or without chunks;
//!   `row_counters_deploy_at_qserv=1` without `ENABLED`; deleting a published database without
//!   the admin key;
//! - workers: `config.workers` in `ConfigWorker::toJson`'s shape, `null` when none
//!   (`Q@2026.3.3-rc1:src/replica/config/Configuration.cc:813-819`); a worker whose pod is gone
//!   stays there, enabled, and `/ingest/chunk` still places chunks on it by least load
//!   (`src/replica/contr/HttpIngestChunksModule.cc:212-240`), so the contribution fails;
//!   `DELETE /replication/config/worker/:worker` needs a key (`HttpProcessor.cc:184-189`) and
//!   refuses an unknown worker with `Configuration::deleteWorker`'s text
//!   (`Configuration.cc:699-705`); a deleted worker the registry still lists is configured
//!   again by the controller's tracker (`src/replica/contr/Controller.cc:74-90`,
//!   `auto-register-workers=1`); the registry (its own port, [`ReplicationStandIn::registry_addr`])
//!   forgets a worker only on `DELETE /worker/:name`, which checks the keys, `instance_id` and
//!   API ≥ 52 (`src/replica/registry/RegistryHttpSvcMod.cc:82-85,136-142`).
//!
//! Fault injection ([`FaultInjector`]): contributions failing with an HTTP status,
//! transaction starts ending `START_FAILED`, commits ending `FINISH_FAILED`.
//!
//! Known differences from the real server (each a bug until fixed):
//! - no persistence: the services' state lives in memory (the MariaDB tables stay);
//! - no replicas, no worker states: every configured worker is enabled, a chunk lives on one
//!   worker; no health monitor, so a departed worker is never evicted (Qserv disables and
//!   removes it after `worker-evict-timeout`, 3600 s by default,
//!   `Q@2026.3.3-rc1:src/replica/apps/MasterControllerHttpApp.cc:69,259-286`); workers are not
//!   added or updated through `POST`/`PUT /replication/config/worker`; `config.workers[]`
//!   hosts are all `127.0.0.1` with the registered name, ports other than the ingest one are
//!   the schema defaults; the stand-in's eager DDL (databases, tables, chunk tables at
//!   allocation) skips a departed worker, where Qserv does none; the registry lists only
//!   workers (no czars, controllers) and only their replication entry, and local mode's
//!   registry pod keeps the controller's first registry address if the controller pod restarts;
//!   refusal texts of `DatabaseInfo::validate` are shortened (no table JSON dump);
//! - names are refused unless letters, digits and `_` (1-64), character sets and collations
//!   likewise (the stand-in writes them into SQL), and partitioning the partitioner cannot do
//!   (Qserv takes any stripes);
//! - responses carry no `warning` (Qserv warns about a missing version, an obsolete `local`);
//! - workers serve `/ingest/csv` by value only (no `/ingest/file`, `/ingest/file-async`,
//!   `/ingest/data`); the controller has no `/ingest/chunks`, `/ingest/chunk-multi`,
//!   `/ingest/config`, no per-contribution listing (the `contrib=1` summary only), no
//!   transaction contexts or logs; transitional states (`IS_STARTING`...) last only while a
//!   request runs; a commit or abort waits at most a minute for contributions in flight;
//! - `/ingest/csv` loads with `LOAD DATA LOCAL` (Qserv: `LOAD DATA INFILE` from its own parsed
//!   copy), so which rows warn follows this MariaDB's rules; `num_rows` is counted from the
//!   dialect's line terminators, not by Qserv's parser;
//! - the director index is a plain InnoDB table `qservMeta.<db>__<table>` on the czar, read
//!   from the director's `chunkId` column (refused without one; Qserv takes the chunk from the
//!   table name); row counters are kept in memory; no un-publishing;
//! - the czar reads published tables through FederatedX tables (one per worker and table,
//!   onto a `UNION ALL` view of that worker's chunk tables) under a `UNION ALL` view named as
//!   the table: plain SQL works; Qserv's query rewriting, UDFs and `qserv_areaspec_*` do not;
//! - worker MariaDBs need `local_infile` on, the czar's needs Debian's `ha_federatedx.so`
//!   (installed on first publish).
//!
//! ```no_run
//! # use qserv_local::replication::*;
//! # async fn example() -> Result<(), StandInError> {
//! let mut config = StandInConfig::new("auth", "admin", "mysql://root@127.0.0.1:3306");
//! config.workers = vec![StandInWorker {
//!     name: "worker-0".into(),
//!     host: "worker-0.local".into(),
//!     mysql: "mysql://root@127.0.0.1:41001".into(),
//! }];
//! let standin = ReplicationStandIn::start(config).await?;
//! println!("controller at {}", standin.controller_url());
//! standin.faults().fail_contributions(503, 1); // the next contribution gets HTTP 503
//! standin.shutdown().await;
//! # Ok(()) }
//! ```

mod contract;
mod controller;
mod databases;
mod publishing;
mod registry;
mod rows;
mod state;
pub mod tables;
mod transactions;
mod worker;

use futures::future::BoxFuture;
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

use state::{Catalog, Faults, Shared, WorkerEntry};
use tables::Sql;

pub use contract::{MAX_VERSION, MIN_VERSION};

/// A worker of the stand-in: its name (Qserv's worker id), the host it reports from, and its
/// MariaDB.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StandInWorker {
    pub name: String,
    /// The FQDN it registers from (`svc-host.name` of `config.workers`); empty: `localhost`.
    #[serde(default)]
    pub host: String,
    /// `mysql://user[:password]@host:port`, reachable from this process and from the czar's
    /// MariaDB (FederatedX connects with it).
    pub mysql: String,
}

/// How to start the stand-in (serde: the local runtime can keep it in a file).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandInConfig {
    pub auth_key: String,
    pub admin_auth_key: String,
    pub workers: Vec<StandInWorker>,
    /// The czar's (query) MariaDB, where published tables become readable.
    pub czar_mysql: String,
    /// Controller port on 127.0.0.1 (0: any free port). Worker ports are always free ones.
    #[serde(default)]
    pub controller_port: u16,
    /// `instance_id` reported by `/meta/version`.
    #[serde(default = "default_instance_id")]
    pub instance_id: String,
}

fn default_instance_id() -> String {
    "qserv-operator-local".into()
}

impl StandInConfig {
    pub fn new(auth_key: &str, admin_auth_key: &str, czar_mysql: &str) -> Self {
        StandInConfig {
            auth_key: auth_key.into(),
            admin_auth_key: admin_auth_key.into(),
            workers: Vec::new(),
            czar_mysql: czar_mysql.into(),
            controller_port: 0,
            instance_id: default_instance_id(),
        }
    }
}

/// Errors starting or reconfiguring the stand-in.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("replication stand-in: cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("replication stand-in: worker {worker}: {reason}")]
    Worker { worker: String, reason: String },
    #[error("replication stand-in: czar: {0}")]
    Czar(String),
}

/// Injects failures into a running stand-in, for reliability tests (also of a stand-in local
/// mode runs: [`crate::simulators::replication_faults`]).
#[derive(Clone)]
pub struct FaultInjector(Arc<Shared>);

impl FaultInjector {
    fn update(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.0.faults.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The next `times` contributions fail with HTTP `status` (before anything is written).
    pub fn fail_contributions(&self, status: u16, times: usize) {
        self.update(|f| {
            f.status = status;
            f.remaining = times;
            f.always = false;
        });
    }

    /// Every contribution fails with HTTP `status` until [`Self::clear_faults`].
    pub fn fail_all_contributions(&self, status: u16) {
        self.update(|f| {
            f.status = status;
            f.remaining = 0;
            f.always = true;
        });
    }

    /// The next `times` transaction starts fail, leaving the transaction `START_FAILED` (as a
    /// failure adding its director-index partition does,
    /// `Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:320-329`).
    pub fn fail_transaction_starts(&self, times: usize) {
        self.update(|f| f.failed_starts = times);
    }

    /// The next `times` commits fail, leaving the transaction `FINISH_FAILED`
    /// (`HttpIngestTransModule.cc:497-503`).
    pub fn fail_commits(&self, times: usize) {
        self.update(|f| f.failed_commits = times);
    }

    pub fn clear_faults(&self) {
        self.update(|f| {
            *f = Faults {
                served: f.served,
                ..Faults::default()
            }
        });
    }

    /// Injected failures served so far.
    pub fn injected_failures(&self) -> usize {
        self.0
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .served
    }
}

/// The running stand-in; [`ReplicationStandIn::shutdown`] stops every listener.
pub struct ReplicationStandIn {
    shared: Arc<Shared>,
    controller_addr: SocketAddr,
    registry_addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    registry_task: tokio::task::JoinHandle<()>,
}

impl ReplicationStandIn {
    pub fn start(config: StandInConfig) -> BoxFuture<'static, Result<Self, StandInError>> {
        Box::pin(Self::start_unboxed(config))
    }

    async fn start_unboxed(config: StandInConfig) -> Result<Self, StandInError> {
        let czar = Sql::new(&config.czar_mysql, "czar").map_err(StandInError::Czar)?;
        let shared = Arc::new(Shared {
            auth_key: config.auth_key,
            admin_auth_key: config.admin_auth_key,
            instance_id: config.instance_id,
            czar,
            workers: Mutex::new(Vec::new()),
            catalog: Mutex::new(Catalog {
                next_trans: 1,
                ..Catalog::default()
            }),
            faults: Mutex::new(Faults::default()),
            ddl: tokio::sync::Mutex::new(()),
        });
        let listener = bind(config.controller_port).await?;
        let controller_addr = listener
            .local_addr()
            .map_err(|source| StandInError::Listen {
                port: config.controller_port,
                source,
            })?;
        let registry = bind(0).await?;
        let registry_addr = registry
            .local_addr()
            .map_err(|source| StandInError::Listen { port: 0, source })?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let s = shared.clone();
        let task = tokio::spawn(serve(listener, stop_rx.clone(), move |req| {
            controller::handle(s.clone(), req)
        }));
        let s = shared.clone();
        let registry_task = tokio::spawn(serve(registry, stop_rx, move |req| {
            registry::handle(s.clone(), req)
        }));
        let standin = ReplicationStandIn {
            shared,
            controller_addr,
            registry_addr,
            stop,
            task,
            registry_task,
        };
        standin.set_workers(config.workers).await?;
        Ok(standin)
    }

    /// `http://127.0.0.1:PORT` of the controller.
    pub fn controller_url(&self) -> String {
        format!("http://{}", self.controller_addr)
    }

    pub fn controller_addr(&self) -> SocketAddr {
        self.controller_addr
    }

    /// The registry's services (`DELETE /worker/:name`, `GET /services`).
    pub fn registry_addr(&self) -> SocketAddr {
        self.registry_addr
    }

    /// `http://127.0.0.1:PORT` of a serving worker's ingest service.
    pub fn worker_url(&self, name: &str) -> Option<String> {
        self.shared
            .workers()
            .iter()
            .find(|w| w.name == name && w.serving)
            .map(|w| format!("http://127.0.0.1:{}", w.http_port))
    }

    /// The names `config.workers` lists, a departed worker's too, in the order workers came.
    pub fn worker_names(&self) -> Vec<String> {
        self.shared
            .workers()
            .iter()
            .filter(|w| w.configured)
            .map(|w| w.name.clone())
            .collect()
    }

    /// One pass of the controller's registry tracker (`Controller.cc:58-131`, each
    /// `registry.heartbeat-ival-sec`): a worker the registry lists but the configuration
    /// lacks is configured again.
    pub fn track_registry(&self) {
        self.shared.track_registry();
    }

    /// The workers whose pods run: each reports to the registry (a heartbeat,
    /// `Q@2026.3.3-rc1:src/replica/apps/WorkerApp.cc:127-144`) and serves ingest; new names
    /// get an ingest service, known ones keep theirs and take the new MariaDB URL. A worker
    /// missing from the list stops serving but stays in the registry and the configuration,
    /// enabled, as a departed worker does in Qserv until it is deleted (or evicted); chunks
    /// already allocated stay where they are.
    pub fn set_workers<'a>(
        &'a self,
        workers: Vec<StandInWorker>,
    ) -> BoxFuture<'a, Result<(), StandInError>> {
        Box::pin(self.set_workers_unboxed(workers))
    }

    async fn set_workers_unboxed(&self, workers: Vec<StandInWorker>) -> Result<(), StandInError> {
        let running: HashSet<&str> = workers.iter().map(|w| w.name.as_str()).collect();
        for w in self.shared.workers().iter_mut() {
            if w.serving && !running.contains(w.name.as_str()) {
                let _ = w.stop.send(true);
                w.serving = false;
            }
        }
        for w in workers {
            let sql = Sql::new(&w.mysql, &format!("worker {}", w.name)).map_err(|reason| {
                StandInError::Worker {
                    worker: w.name.clone(),
                    reason,
                }
            })?;
            let host = if w.host.is_empty() {
                "localhost".to_string()
            } else {
                w.host.clone()
            };
            // A serving worker keeps its ingest service; its MariaDB may have moved (a pod
            // restarted on another port).
            if let Some(e) = self
                .shared
                .workers()
                .iter_mut()
                .find(|e| e.name == w.name && e.serving)
            {
                if e.mysql_url != w.mysql {
                    e.mysql_url = w.mysql;
                    e.sql = Arc::new(sql);
                }
                e.host = host;
                e.registered = true;
                continue;
            }
            let listener = bind(0).await?;
            let port = listener
                .local_addr()
                .map_err(|source| StandInError::Listen { port: 0, source })?
                .port();
            let (stop, stop_rx) = tokio::sync::watch::channel(false);
            let s = self.shared.clone();
            let name = w.name.clone();
            tokio::spawn(serve(listener, stop_rx, move |req| {
                worker::handle(s.clone(), name.clone(), req)
            }));
            let entry = WorkerEntry {
                name: w.name,
                host,
                mysql_url: w.mysql,
                sql: Arc::new(sql),
                http_port: port,
                stop,
                configured: false,
                registered: true,
                serving: true,
            };
            // A departed worker back (the same name: the same volume) serves again.
            let mut list = self.shared.workers();
            match list.iter_mut().find(|e| e.name == entry.name) {
                Some(e) => *e = entry,
                None => list.push(entry),
            }
        }
        self.shared.track_registry();
        Ok(())
    }

    /// Fault injection into this stand-in's contributions.
    pub fn faults(&self) -> FaultInjector {
        FaultInjector(self.shared.clone())
    }

    /// Stops the controller and every worker service.
    pub fn shutdown(self) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown_unboxed())
    }

    async fn shutdown_unboxed(self) {
        for w in self.shared.workers().iter() {
            let _ = w.stop.send(true);
        }
        let _ = self.stop.send(true);
        for task in [self.task, self.registry_task] {
            if let Err(e) = task.await {
                tracing::warn!(%e, "replication stand-in task ended abnormally");
            }
        }
    }
}

async fn bind(port: u16) -> Result<tokio::net::TcpListener, StandInError> {
    tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| StandInError::Listen { port, source })
}

type Handler<F> = dyn Fn(hyper::Request<hyper::body::Incoming>) -> F + Send + Sync;

async fn serve<F, H>(
    listener: tokio::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(hyper::Request<hyper::body::Incoming>) -> F + Send + Sync + 'static,
    F: std::future::Future<
            Output = Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, Infallible>,
        > + Send
        + 'static,
{
    let handler: Arc<Handler<F>> = Arc::new(handler);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handler(req));
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = conn.await {
                            tracing::debug!(%e, "replication stand-in connection ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(%e, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    connections.abort_all();
}
