//! The extension point for containers local mode cannot run (Qserv's proxy, cmsd, xrootd,
//! replication controller/worker, registry): a [`Simulator`] stands in for one.
//!
//! # Contract
//! - The kubelet calls [`Simulator::start`] when the pod's container starts, with the pod,
//!   the container, its resolved environment (`secretKeyRef` etc. applied) and the runtime's
//!   address map (to reach other pods' servers, e.g. the worker MariaDBs).
//!   `PodContext::pod_ports` holds the loopback address of every container port of the same
//!   pod started before it (containers start in template order, so a worker's `repl-wrk`
//!   sees its `mariadb` container's 3306: a container's first start waits until the ones
//!   before it have started).
//! - It returns the loopback address serving each container port it serves
//!   ([`SimulatedContainer::ports`], keyed by `containerPort`); those go into the address map
//!   (`<pod>.<service>:<port>`, `<service>:<port>`) like real processes' ports.
//! - The container is ready as soon as `start` returns `Ok`; an `Err` leaves it waiting
//!   (reason `SimulatorError`, the message in the pod status) and `start` is tried again after
//!   the crash-loop backoff.
//! - When the pod is deleted or the runtime shuts down, `task` (if any) is aborted: put the
//!   server's accept loop in it so its listener closes with the pod.
//! - A simulated container that ends (a Job's) sets [`SimulatedContainer::exit`]: the container
//!   then terminates with that code, as a process would, and `restartPolicy` applies.
//!
//! Registration: [`super::RuntimeOptions::simulate`] by container name and, optionally, the
//! pod's `app.kubernetes.io/component` label. Unregistered containers get
//! [`ReadyWithoutServing`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Container, Pod};

use super::error::RuntimeError;
use qserv_operator::connect_to::AddressMap;

/// What a simulator gets to start one container.
#[derive(Clone)]
pub struct PodContext {
    pub pod: Pod,
    pub namespace: String,
    pub container: Container,
    /// The container's environment, resolved (literal values, Secrets, ConfigMaps, fieldRefs).
    pub env: BTreeMap<String, String>,
    /// Loopback addresses of the container ports of this pod's containers started before.
    pub pod_ports: BTreeMap<u16, SocketAddr>,
    /// A scratch directory of the pod (removed with it).
    pub scratch_dir: PathBuf,
    pub client: kube::Client,
    addresses: Arc<std::sync::RwLock<AddressMap>>,
}

impl PodContext {
    pub(crate) fn new(
        pod: Pod,
        container: Container,
        env: BTreeMap<String, String>,
        pod_ports: BTreeMap<u16, SocketAddr>,
        scratch_dir: PathBuf,
        client: kube::Client,
        addresses: Arc<std::sync::RwLock<AddressMap>>,
    ) -> PodContext {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        PodContext {
            pod,
            namespace,
            container,
            env,
            pod_ports,
            scratch_dir,
            client,
            addresses,
        }
    }

    pub fn pod_name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// Where `host:port` (a Service or `<pod>.<service>` name) is served now, if known.
    pub fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.addresses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(host, port)
    }

    /// The container's args with `$(VAR)` expanded from its environment, as the kubelet does.
    pub fn args(&self) -> Vec<String> {
        let args = self.container.args.iter().flatten();
        args.map(|a| super::kubelet::env::expand(a, &self.env))
            .collect()
    }

    /// A snapshot of the whole address map.
    pub fn address_map(&self) -> AddressMap {
        self.addresses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A started simulated container.
#[derive(Default)]
pub struct SimulatedContainer {
    /// `containerPort` → the loopback address serving it.
    pub ports: BTreeMap<u16, SocketAddr>,
    /// Aborted when the pod goes away.
    pub task: Option<tokio::task::JoinHandle<()>>,
    /// Set once by a container that ends: its exit code.
    pub exit: Option<Arc<std::sync::OnceLock<i32>>>,
}

impl Drop for SimulatedContainer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Stands in for a container local mode cannot run. `start` is `async fn start(&self, pod:
/// &PodContext) -> Result<SimulatedContainer, RuntimeError>` written in the dyn-compatible
/// form: implement it as `Box::pin(async move { ... })`.
pub trait Simulator: Send + Sync {
    fn start<'a>(
        &'a self,
        pod: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>>;
}

/// The default: the container is ready at once and serves nothing.
pub struct ReadyWithoutServing;

impl Simulator for ReadyWithoutServing {
    fn start<'a>(
        &'a self,
        _pod: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async { Ok(SimulatedContainer::default()) })
    }
}

/// Which containers a simulator stands in for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatorKey {
    pub container: String,
    /// The pod's `app.kubernetes.io/component` label; `None` matches any.
    pub component: Option<String>,
}

pub(crate) const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The simulator registered for this container of this pod: an exact component match wins
/// over a registration without component.
pub(crate) fn find<'a>(
    registry: &'a [(SimulatorKey, Arc<dyn Simulator>)],
    container: &str,
    component: Option<&str>,
) -> Option<&'a Arc<dyn Simulator>> {
    let named = || registry.iter().filter(|(k, _)| k.container == container);
    named()
        .find(|(k, _)| k.component.is_some() && k.component.as_deref() == component)
        .or_else(|| named().find(|(k, _)| k.component.is_none()))
        .map(|(_, s)| s)
}
