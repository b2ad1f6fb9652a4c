//! The local runtime: plays the kubelet and the built-in workload controllers for the objects
//! our operator creates, against the embedded API server (or any API server), as a client
//! like a real kubelet and kube-controller-manager.
//!
//! # What it does
//! - **Workload controllers** (`workloads/`): StatefulSet → pods `<sts>-<n>` and PVCs
//!   `<claim>-<sts>-<n>` (retention policy honoured), ordered or parallel, scale up/down,
//!   rolling update highest ordinal first, status; Deployment → pods
//!   `<deploy>-<hash>-<suffix>` (no ReplicaSet objects), status and rollout; Job → pods,
//!   backoffLimit, completions/parallelism, Indexed mode, status and conditions. Each module
//!   lists how it differs from Kubernetes.
//! - **Kubelet** (`kubelet/`): each pod's containers become
//!   - a MariaDB image (`image` contains `mariadb`) → a real `mariadbd` on a free loopback
//!     port (`mariadb.rs`); data dir `<first mounted volume>/mysql` (a PVC's directory under
//!     `<state>/volumes`, kept across pod restarts, removed with the PVC object), root password
//!     from `MYSQL_ROOT_PASSWORD` (root@'%' and root@localhost), and the accounts the pod's
//!     image and Qserv's migrations create (`kubelet/logins.rs`: qsmaster with the czar's or
//!     the workers' password, read-only outside its databases); readiness = the server answers its handshake on its
//!     own unix socket. The image's `args` and `my.cnf` are not used.
//!   - `command[0]` (or `args[0]` when `command` is empty) `qserv-operator` → this binary
//!     ([`RuntimeOptions::operator_binary`]) with the rest as args, `$(VAR)` expanded, the
//!     container's env plus [`qserv_operator::connect_to::ENV`], cwd = the pod's scratch dir,
//!     stdout/stderr to `<state>/logs/<ns>_<pod>_<uid>/<container>/<restartCount>.log` as CRI
//!     entries ([`crate::container_logs`]; `kubectl logs` reads them through the API server).
//!     **Paths**: an arg or env
//!     value that starts with a volume's `mountPath` (or `--flag=<mountPath>...`) is rewritten
//!     to the local directory backing that volume.
//!   - anything else → a [`Simulator`] (see `simulator.rs` for the contract); by default
//!     ready at once and serving nothing. In a Job pod, an unsimulated container that is not
//!     this binary terminates with exit code 127 (`UnsupportedInLocalMode`).
//!
//!   Pod status follows the processes: phase, conditions, containerStatuses (restartCount,
//!   running/waiting/terminated with exitCode, lastState), `podIP: 127.0.0.1`. A process that
//!   dies is restarted per `restartPolicy` with a crash-loop backoff
//!   ([`RuntimeOptions::restart_backoff`], doubling, at most 30 s).
//! - **Volumes**: a PVC is `Bound` at once to a directory under `<state>/volumes` (removed
//!   with the claim), or, when its `spec.volumeName` names a PersistentVolume with `hostPath`
//!   (or `local`), to that host directory, which nothing here ever removes
//!   (`claims.rs`, `persistent_volumes.rs`).
//! - **Address map** (`address_book.rs`): `<state>/addresses.json`, rewritten when it
//!   changes; see that module for the entries.
//! - **Fake mode** ([`RuntimeOptions::fake_pods`]): no processes; non-Job pods are running
//!   and ready at once (and have no addresses). Jobs still run their binary.
//!
//! # Limits
//! - Pod deletion is immediate (the embedded API server has no graceful deletion): the
//!   kubelet stops the processes after the object is gone (SIGTERM, then SIGKILL after
//!   [`RuntimeOptions::termination_grace`]); a new pod of the same name starts only then.
//! - No probes are run as written: readiness is the MariaDB handshake, or "running".
//!   No init containers, resource limits, security contexts or image pulls. A pod's
//!   containers start in template order, each (first) start after the earlier ones started.
//! - Child processes run as the runtime's user with its environment plus the pod's.

mod address_book;
mod claims;
mod context;
pub mod error;
mod kubelet;
pub mod mariadb;
mod options;
mod persistent_volumes;
pub mod process;
pub mod simulator;
mod stores;
pub mod workloads;

use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use error::RuntimeError;
pub use options::RuntimeOptions;
pub use simulator::{PodContext, ReadyWithoutServing, SimulatedContainer, Simulator, SimulatorKey};

use context::Ctx;
use kubelet::Kubelet;
use qserv_operator::connect_to::AddressMap;

pub struct Runtime;

impl Runtime {
    /// Creates the state dir, starts the watchers, waits for their first lists, and runs the
    /// controllers and the kubelet in the background.
    pub fn start(
        client: kube::Client,
        opts: RuntimeOptions,
    ) -> BoxFuture<'static, Result<RuntimeHandle, RuntimeError>> {
        Box::pin(Self::start_unboxed(client, opts))
    }

    async fn start_unboxed(
        client: kube::Client,
        opts: RuntimeOptions,
    ) -> Result<RuntimeHandle, RuntimeError> {
        let state_err = |path: &Path, source| RuntimeError::StateDir {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&opts.state_dir).map_err(|e| state_err(&opts.state_dir, e))?;
        // Absolute, so child processes with another cwd find the address map and volumes.
        let state_dir =
            std::fs::canonicalize(&opts.state_dir).map_err(|e| state_err(&opts.state_dir, e))?;
        let kick = Arc::new(Notify::new());
        let (stores, watch_tasks) = stores::Stores::start(&client, &kick);
        let ctx = Arc::new(Ctx {
            client,
            opts: RuntimeOptions {
                state_dir: state_dir.clone(),
                ..opts
            },
            state_dir: state_dir.clone(),
            stores,
            live: Mutex::new(Default::default()),
            addresses: Arc::new(RwLock::new(AddressMap::default())),
            kick,
        });
        AddressMap::default()
            .save(&ctx.address_map_path())
            .map_err(|e| RuntimeError::io(ctx.address_map_path(), e))?;
        if tokio::time::timeout(Duration::from_secs(30), ctx.stores.ready())
            .await
            .map_or(true, |r| r.is_err())
        {
            for t in &watch_tasks {
                t.abort();
            }
            return Err(RuntimeError::StateDir {
                path: state_dir,
                source: std::io::Error::other(
                    "the API server's first lists did not arrive in 30 s",
                ),
            });
        }
        let (stop, stop_rx) = watch::channel(false);
        let main = tokio::spawn(run(ctx.clone(), stop_rx));
        tracing::info!(state_dir = %ctx.state_dir.display(), fake = ctx.opts.fake_pods, "local runtime started");
        Ok(RuntimeHandle {
            ctx,
            stop,
            main: Some(main),
            watch_tasks,
        })
    }
}

/// The running runtime. [`RuntimeHandle::shutdown`] stops it cleanly; dropping it without
/// that stops every child process too (blocking up to the grace period).
pub struct RuntimeHandle {
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    main: Option<JoinHandle<()>>,
    watch_tasks: Vec<JoinHandle<()>>,
}

impl RuntimeHandle {
    /// The address map file handed to child processes in `QSERV_LOCAL_ADDRESSES`.
    pub fn address_map_path(&self) -> PathBuf {
        self.ctx.address_map_path()
    }

    /// Where `host:port` (`<service>`, `<pod>.<service>`, with or without cluster suffixes)
    /// is served now.
    pub fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.ctx
            .addresses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(host, port)
    }

    /// A snapshot of the address map.
    pub fn address_map(&self) -> AddressMap {
        self.ctx
            .addresses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn state_dir(&self) -> &Path {
        &self.ctx.state_dir
    }

    /// Where the containers' log files are: `<state>/logs`, laid out as
    /// [`crate::container_logs`] says.
    pub fn logs_dir(&self) -> PathBuf {
        self.ctx.logs_dir()
    }

    /// What `container` of pod `namespace/pod` wrote in its latest run: of the pod of that name
    /// running now, else of the latest one that ran.
    pub fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> std::io::Result<String> {
        let live_uid = self
            .ctx
            .live()
            .get(&(namespace.to_string(), pod.to_string()))
            .map(|l| l.uid.clone());
        let root = self.ctx.logs_dir();
        let prefix = format!("{namespace}_{pod}_");
        let mut dirs: Vec<(std::time::SystemTime, PathBuf, String)> = Vec::new();
        for entry in std::fs::read_dir(&root)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(uid) = name.strip_prefix(&prefix) {
                let modified = entry.metadata()?.modified()?;
                dirs.push((modified, entry.path(), uid.to_string()));
            }
        }
        let dir = match dirs
            .iter()
            .find(|(_, _, uid)| Some(uid) == live_uid.as_ref())
        {
            Some((_, dir, _)) => dir.clone(),
            None => dirs
                .into_iter()
                .max()
                .map(|(_, dir, _)| dir)
                .ok_or_else(|| not_found(format!("no log of pod {namespace}/{pod}")))?,
        };
        let latest = std::fs::read_dir(dir.join(container))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                Some((name.strip_suffix(".log")?.parse::<u32>().ok()?, e.path()))
            })
            .max()
            .ok_or_else(|| not_found(format!("no log of container {container} in {pod}")))?;
        let bytes = crate::container_logs::output(&std::fs::read(latest.1)?);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Pids of every process the runtime runs now (mariadbd, Job containers).
    pub fn process_ids(&self) -> Vec<u32> {
        self.ctx
            .live()
            .values()
            .flat_map(|l| l.pids.values().copied())
            .collect()
    }

    /// The pid of the process `container` of pod `namespace/pod` runs, while it runs.
    pub fn process_of(&self, namespace: &str, pod: &str, container: &str) -> Option<u32> {
        self.ctx
            .live()
            .get(&(namespace.to_string(), pod.to_string()))?
            .pids
            .get(container)
            .copied()
    }

    /// Fault injection: SIGKILL to the process of `container` in pod `namespace/pod`. The pod
    /// turns not ready, then its `restartPolicy` applies. The pid killed.
    pub fn kill_pod_process(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<u32, RuntimeError> {
        let err = |reason: String| RuntimeError::Pod {
            namespace: namespace.into(),
            pod: pod.into(),
            reason,
        };
        let pid = self
            .ctx
            .live()
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or_else(|| err("not running here".into()))?
            .pids
            .get(container)
            .copied()
            .ok_or_else(|| err(format!("container {container} has no running process")))?;
        process::send_signal(pid, rustix::process::Signal::KILL)
            .map_err(|e| err(format!("kill {pid}: {e}")))?;
        Ok(pid)
    }

    /// Stops the controllers and every pod's processes (SIGTERM, then SIGKILL), and waits.
    pub fn shutdown(self) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown_unboxed())
    }

    async fn shutdown_unboxed(mut self) {
        let _ = self.stop.send(true);
        if let Some(main) = self.main.take() {
            let _ = main.await;
        }
        for t in &self.watch_tasks {
            t.abort();
        }
    }
}

impl Drop for RuntimeHandle {
    fn drop(&mut self) {
        if self.main.is_none() {
            return;
        }
        let _ = self.stop.send(true);
        for t in &self.watch_tasks {
            t.abort();
        }
        // The pod workers may never run again (the async runtime may be going away): stop the
        // processes from here. Their supervisors would also do it once the lifelines close.
        let pids = self.process_ids();
        process::terminate_blocking(&pids, self.ctx.opts.termination_grace);
    }
}

fn not_found(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, what)
}

/// The control loop: on every watch event (and at least every second) run the controllers,
/// sync the kubelet, bind PVCs and rewrite the address map.
async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut kubelet = Kubelet::default();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ctx.kick.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let started = Instant::now();
        pass(&ctx, &mut kubelet).await;
        tracing::trace!(elapsed = ?started.elapsed(), "runtime pass");
    }
    kubelet
        .shutdown(ctx.opts.termination_grace + Duration::from_secs(5))
        .await;
}

async fn pass(ctx: &Arc<Ctx>, kubelet: &mut Kubelet) {
    for sts in ctx.stores.statefulsets.state() {
        report(workloads::statefulset::reconcile(ctx, &sts).await);
    }
    for d in ctx.stores.deployments.state() {
        report(workloads::deployment::reconcile(ctx, &d).await);
    }
    for j in ctx.stores.jobs.state() {
        report(workloads::job::reconcile(ctx, &j).await);
    }
    claims::bind(ctx).await;
    kubelet.sync(ctx);
    claims::remove_orphan_volumes(ctx);
    refresh_addresses(ctx);
}

/// Logs a controller error; the next pass retries. An object deleted since the store saw it
/// (404) is expected and not worth a warning.
fn report(result: Result<(), RuntimeError>) {
    match result {
        Ok(()) => {}
        Err(e) if e.is_not_found() => tracing::debug!(%e, "object gone"),
        Err(e) => tracing::warn!(%e, "local runtime controller"),
    }
}

fn refresh_addresses(ctx: &Ctx) {
    let map = address_book::compute(ctx);
    let mut current = ctx.addresses.write().unwrap_or_else(|p| p.into_inner());
    if *current == map {
        return;
    }
    if let Err(e) = map.save(&ctx.address_map_path()) {
        tracing::warn!(%e, "address map not written");
        return;
    }
    *current = map;
}
