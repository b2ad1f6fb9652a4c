//! An embedded, in-memory, Kubernetes-compatible API server for local mode and tests: the real
//! `kube::Client` and the real `kubectl` talk to it over plain HTTP on 127.0.0.1.
//!
//! # What it does
//! - Discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, and the
//!   aggregated `apidiscovery.k8s.io/v2` form kubectl asks for) for the
//!   built-in kinds in `resources.rs` and every CRD stored through it (shortNames and
//!   categories included, so `kubectl get qsc` works).
//! - get, list (label selectors; field selectors on any dotted path), watch (see `watch.rs`),
//!   create, update with resourceVersion preconditions (409), merge / strategic / JSON patch
//!   (`patch.rs`), server-side apply with managedFields (`apply.rs`), delete with
//!   finalizers and ownerReference cascade, deletecollection, the `/status` subresource,
//!   `dryRun=All`, errors as `Status` objects (`errors.rs`), Table output (`table.rs`).
//! - A Pod's `log` subresource (`logs.rs`): once the local runtime is attached
//!   ([`LocalApiServer::serve_container_logs`]), its containers' log files, with every
//!   `PodLogOptions` option (`follow` streams until the container ends) and the errors of
//!   kube-apiserver and the kubelet; `pods/log` is in discovery.
//! - A Job created without `spec.manualSelector` gets kube-apiserver's selector on its uid and
//!   the matching template labels (`jobs.rs`), so clients find its pods (`kubectl logs job/X`).
//! - One global resourceVersion; `generation` bumped when anything outside metadata (and
//!   status, for kinds with the subresource) changes.
//! - Custom resources are pruned (or, with `fieldValidation=Strict` as kubectl sends, rejected
//!   with 400 for unknown fields), defaulted from the schema, and validated → 422 with field
//!   paths: `type` (incl. int-or-string), `nullable`, `required`, `enum`, `minimum`/`maximum`,
//!   `minLength`/`maxLength`, `minItems`/`maxItems`, and the CEL rules through
//!   `qserv_operator::api::cel::check_cel_rules` (with the old object on update, so transition rules
//!   such as the immutable `spec.partitioning` hold). See the rules below.
//!
//! # The rules kube-apiserver enforces, here too, and where each comes from
//! | Rule | Answer | Source |
//! |---|---|---|
//! | a request body is at most 3 MiB | 413 `RequestEntityTooLarge`, "Request entity too large: limit is 3145728", before the rest is read | k8s.io/apiserver `pkg/server/config.go` (`MaxRequestBodyBytes: 3 * 1024 * 1024`), `pkg/endpoints/handlers/rest.go` (`limitedReadBody`) — `http.rs` |
//! | a stored object is at most 1.5 MiB | 500, "etcdserver: request is too large", nothing stored | etcd `server/embed/config.go` (`DefaultMaxRequestBytes`), kubernetes/kubernetes#112152 (the 500) — `store/mod.rs` |
//! | request line and headers within 32 s | connection closed | k8s.io/apiserver `pkg/server/secure_serving.go` (`ReadHeaderTimeout: 32 * time.Second`) — `serve` |
//! | a body within the request timeout (60 s; watches excepted) | 504 `Timeout` | kube-apiserver `--request-timeout` (default `1m0s`), k8s.io/apiserver `pkg/server/filters/timeout.go` — `handlers.rs` |
//! | names: DNS-1123 subdomains (Namespaces DNS-1123 labels, Services DNS-1035 labels); label keys and values | 422 `Invalid` with the field | k8s.io/apimachinery `pkg/util/validation/validation.go` — `meta.rs` |
//! | custom resources: the structural schema (`type`, `nullable`, `required` incl. the root's, `enum`, `minimum`/`maximum`, `format: int32/int64` ranges, `minLength`/`maxLength`, `pattern`, `format: date-time`, `minItems`/`maxItems`), then CEL rules | 422 `Invalid`, every field at once | k8s.io/kube-openapi `pkg/validation/validate` (`values.go`, `string.go`, `formats.go`), k8s.io/apiextensions-apiserver `pkg/apiserver/schema/cel` — `schema.rs` |
//! | unknown fields | pruned; with `fieldValidation=Strict` (kubectl's default) 400 `BadRequest` "strict decoding error: unknown field …" | KEP-2885 server-side field validation — `schema.rs` |
//! | a merge or strategic patch that is not an object; a JSON patch that is not a list of operations | 400 `BadRequest` | RFC 7386 / RFC 6902, k8s.io/apiserver `pkg/endpoints/handlers/patch.go` — `write.rs`, `patch.rs` |
//! | an update with a stale `resourceVersion` | 409 `Conflict` | k8s.io/apiserver `pkg/registry/generic/registry/store.go` — `write.rs` |
//! | a handler that panics | 500 `InternalError` Status; the connection and the server go on | k8s.io/apiserver `pkg/server/filters/wrap.go` (`WithPanicRecovery`) — `handlers.rs` |
//! | a Pod's log: options, container, the container's state | 422 / 400 / 404 with kube-apiserver's and the kubelet's texts, 204 when no node runs the pod | listed in `logs.rs` |
//!
//! Differences (bugs until fixed): other string `format`s, `multipleOf`, `uniqueItems`,
//! list-type uniqueness and `maxProperties` are not checked; the object limit is measured on the
//! object's JSON (etcd's on its protobuf form for built-in kinds, a little smaller); no
//! `--max-requests-inflight` / API priority and fairness (no 429 under load); no etcd quota
//! (`--quota-backend-bytes`, 2 GiB: "mvcc: database space exceeded").
//!
//! # Limits (what it does not do)
//! - No authentication, authorization, TLS, admission webhooks, API priority and fairness,
//!   aggregated API servers, conversion webhooks (one stored form per group/resource; reading
//!   through another version only rewrites `apiVersion`), or protobuf beyond what kubectl's
//!   generators send for Namespaces, ConfigMaps and Secrets (`protobuf.rs`): other protobuf
//!   requests (e.g. `kubectl create deployment`) get 415; responses are always JSON.
//! - OpenAPI v3 documents carry no schemas, only what makes kubectl validate through the
//!   server (`fieldValidation=Strict`, see `openapi.rs`): `kubectl explain` does not work;
//!   `/openapi/v2` is 404.
//! - Server-side apply approximates field ownership: the applied configuration is merged into
//!   the live object (objects merged, lists replaced whole — even `listType: map` lists such as
//!   conditions), each manager's fields are recorded in `managedFields`, fields a manager stops
//!   applying are removed unless another manager claims them, and changing a field another
//!   manager owns is a 409 conflict unless forced: see `apply.rs` and `ownership.rs`. Strategic merge patch guesses list merge keys: see `strategic.rs`.
//! - Built-in kinds are stored as sent, beyond the name and label syntax every object gets
//!   (`meta.rs`): no defaulting or validation of Pods, StatefulSets and the like, and no controllers (nothing creates Pods for a StatefulSet — that is the local
//!   runtime's job). Of conversions, only core/v1 ↔ events.k8s.io/v1 Events (`events.rs`).
//! - Deletion is immediate unless finalizers are present (then `deletionTimestamp` until they
//!   are removed; no new ones may be added): Foreground propagation behaves as Background;
//!   Orphan removes the ownerReferences of dependents. As the garbage collector would, an
//!   object written with ownerReferences only to owners that no longer exist is deleted right
//!   after the write. Namespaces are deleted at once with their contents (no `Terminating`).
//! - list ignores `limit`/`continue` (one page) and `resourceVersionMatch` (always the
//!   latest); watch history is bounded (`Options::watch_history`), older versions get 410.
//! - Subresources other than `status` and a Pod's `log` (`exec`, `attach`, `portforward`,
//!   `scale`, `eviction`, `binding`) are 404.
//! - Everything lives in memory and is lost when the server stops.

mod apply;
mod delete;
mod discovery;
mod errors;
mod events;
mod faults;
mod handlers;
mod http;
mod jobs;
mod listing;
mod log_options;
mod log_stream;
mod logs;
mod meta;
mod openapi;
mod ownership;
mod patch;
mod protobuf;
mod resources;
mod schema;
mod selectors;
mod shared;
mod store;
mod strategic;
mod table;
mod watch;
mod write;

use futures::future::BoxFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

pub use errors::{ApiError, Cause};
use shared::Shared;
use store::Store;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write a kubeconfig pointing at the server (None: write none).
    pub kubeconfig_out: Option<PathBuf>,
    /// Install the QservCluster and CatalogIngest CRDs from the Rust types at start.
    pub install_crds: bool,
    /// How many events watches can resume from; older resourceVersions get 410 Gone.
    pub watch_history: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// How long reading a request's body may take before the request gets 504: kube-apiserver's
    /// `--request-timeout` (default `1m0s`), which covers every request but watches.
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            kubeconfig_out: None,
            install_crds: true,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(32);

/// A running server; dropping it stops the server too.
pub struct LocalApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    kubeconfig: Option<PathBuf>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalApiServer {
    /// Binds, installs our CRDs if asked, writes the kubeconfig, and serves in the background.
    pub fn start(opts: Options) -> BoxFuture<'static, Result<Self, ApiError>> {
        Box::pin(Self::start_unboxed(opts))
    }

    async fn start_unboxed(opts: Options) -> Result<Self, ApiError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port))
            .await
            .map_err(ApiError::Bind)?;
        let addr = listener.local_addr().map_err(ApiError::Bind)?;
        let mut store = Store::new(opts.watch_history);
        if opts.install_crds {
            install_crds(&mut store)?;
        }
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: faults::Faults::default(),
            address: addr.to_string(),
            bookmark_interval: opts.bookmark_interval,
            request_timeout: opts.request_timeout,
            shutdown: shutdown_rx.clone(),
            container_logs: Default::default(),
            log_streams: Default::default(),
        });
        if let Some(path) = &opts.kubeconfig_out {
            write_kubeconfig(path, &format!("http://{addr}"))?;
        }
        let task = tokio::spawn(serve(listener, shared.clone(), shutdown_rx));
        tracing::info!(%addr, "local API server listening");
        Ok(LocalApiServer {
            addr,
            shared,
            kubeconfig: opts.kubeconfig_out,
            shutdown,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kubeconfig_path(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// A client for the server, namespace `default`.
    pub fn client(&self) -> Result<kube::Client, ApiError> {
        let url = self
            .url()
            .parse()
            .map_err(|e| ApiError::Client(format!("server URL: {e}")))?;
        kube::Client::try_from(kube::Config::new(url)).map_err(|e| ApiError::Client(e.to_string()))
    }

    /// Serves `pods/{name}/log` from the containers' log files under `dir` (the local runtime's
    /// [`crate::container_logs`] layout). Until then a pod's log is empty (204), as for a pod
    /// no node runs. The first directory given stays.
    pub fn serve_container_logs(&self, dir: PathBuf) {
        let _ = self.shared.container_logs.set(dir);
    }

    /// Log responses being streamed now (a follow ends when its container does, or when its
    /// client goes away).
    pub fn open_log_streams(&self) -> usize {
        self.shared
            .log_streams
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Fault injection: the next `times` requests whose `METHOD /path` contains
    /// `path_contains` (`/configmaps`, or `PATCH /apis/apps/v1/…` for one verb) get a
    /// `Status` with `code` (e.g. 500, 409) instead of being served. Note that kube::Client
    /// retries 429, 503 and 504 by itself.
    pub fn fail_requests(&self, path_contains: &str, code: u16, times: usize) {
        self.shared.faults.add(path_contains, code, times);
    }

    /// Ends every fault added by [`LocalApiServer::fail_requests`] that is not used up yet.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Fault injection: ends every open watch stream; clients resume from their last
    /// resourceVersion (or relist on 410).
    pub fn drop_watches(&self) {
        self.shared.lock().drop_watchers();
    }

    /// Stops accepting, ends watches and open connections, and waits for the server task.
    pub fn shutdown(self) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown_unboxed())
    }

    async fn shutdown_unboxed(self) {
        let LocalApiServer { shutdown, task, .. } = self;
        // Nobody listening means the server task already ended: nothing to stop.
        let _ = shutdown.send(true);
        if let Err(e) = task.await {
            tracing::warn!(%e, "local API server task ended abnormally");
        }
    }
}

/// The server without a socket: requests handed in as values, answered by the same handlers
/// (the fuzz targets and property tests drive it; `http::Request` in, `http::Response` out).
pub struct InProcess {
    shared: Arc<Shared>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

impl InProcess {
    /// A fresh store with our CRDs installed.
    pub fn new() -> Result<Self, ApiError> {
        let mut store = Store::new(Options::default().watch_history);
        install_crds(&mut store)?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: faults::Faults::default(),
            address: "127.0.0.1:0".into(),
            bookmark_interval: Options::default().bookmark_interval,
            request_timeout: Options::default().request_timeout,
            shutdown: shutdown_rx,
            container_logs: Default::default(),
            log_streams: Default::default(),
        });
        Ok(InProcess {
            shared,
            _shutdown: shutdown,
        })
    }

    /// As [`LocalApiServer::serve_container_logs`].
    pub fn serve_container_logs(&self, dir: PathBuf) {
        let _ = self.shared.container_logs.set(dir);
    }

    /// Answers one request (inside a Tokio runtime: a watch starts a task). A watch's body
    /// streams until the `InProcess` is dropped.
    pub fn request(&self, req: hyper::Request<bytes::Bytes>) -> hyper::Response<http::Body> {
        let (parts, body) = req.into_parts();
        handlers::handle_read(&self.shared, &parts, body)
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handlers::handle(shared.clone(), req));
                        // The request line and headers within 32 s, as kube-apiserver's
                        // http.Server (k8s.io/apiserver pkg/server/secure_serving.go:
                        // `ReadHeaderTimeout: 32 * time.Second`); a connection that never
                        // sends one is closed.
                        let conn = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = conn.await {
                            tracing::debug!(%e, "connection ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(%e, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.abort_all();
}

fn install_crds(store: &mut Store) -> Result<(), ApiError> {
    let rt = store
        .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .ok_or(ApiError::NoRoute)?;
    // Generating the schemas is the costly part; every server (tests and fuzz inputs start many)
    // installs the same objects.
    static OURS: std::sync::OnceLock<Result<Vec<serde_json::Value>, String>> =
        std::sync::OnceLock::new();
    let ours = OURS.get_or_init(|| {
        qserv_operator::api::crds()
            .into_iter()
            .map(|(_, crd)| {
                let mut obj = serde_json::to_value(&crd)
                    .map_err(|e| format!("our CRD does not serialize: {e}"))?;
                obj["apiVersion"] = serde_json::json!("apiextensions.k8s.io/v1");
                obj["kind"] = serde_json::json!("CustomResourceDefinition");
                Ok(obj)
            })
            .collect()
    });
    for obj in ours.as_ref().map_err(|e| ApiError::BadRequest(e.clone()))? {
        store.create(&rt, obj.clone())?;
    }
    Ok(())
}

/// A kubeconfig whose current context points at the server, namespace `default`.
pub fn kubeconfig_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: qserv-local\n  cluster:\n    server: {server}\n\
         contexts:\n- name: qserv-local\n  context:\n    cluster: qserv-local\n    user: qserv-local\n    namespace: default\n\
         current-context: qserv-local\nusers:\n- name: qserv-local\n  user: {{}}\n"
    )
}

fn write_kubeconfig(path: &Path, server: &str) -> Result<(), ApiError> {
    let io = |source| ApiError::Kubeconfig {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, kubeconfig_yaml(server)).map_err(io)
}
