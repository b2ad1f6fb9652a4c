//! What every part of the runtime shares: the client, the options, the reflector stores, the
//! live state of pods (ports, pids, readiness) and the address map.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::Notify;

use super::options::RuntimeOptions;
use super::stores::Stores;
use qserv_operator::connect_to::AddressMap;

/// What the kubelet knows of a running pod that the API objects do not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodLive {
    pub uid: String,
    /// Pod condition Ready, as last computed (fresher than the pod in the store).
    pub ready: bool,
    /// `containerPort` → loopback address, over all containers.
    pub ports: BTreeMap<u16, SocketAddr>,
    /// Container name → pid of its running process.
    pub pids: BTreeMap<String, u32>,
}

/// `(namespace, pod name)`.
pub type PodKey = (String, String);

/// One pod by namespace, name and uid.
pub struct PodRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

pub struct Ctx {
    pub client: kube::Client,
    pub opts: RuntimeOptions,
    pub state_dir: PathBuf,
    pub stores: Stores,
    pub live: Mutex<BTreeMap<PodKey, PodLive>>,
    pub addresses: Arc<RwLock<AddressMap>>,
    /// Wakes the reconcile loop (watch events, kubelet changes).
    pub kick: Arc<Notify>,
}

impl Ctx {
    pub fn live(&self) -> MutexGuard<'_, BTreeMap<PodKey, PodLive>> {
        // Critical sections are map reads/inserts that cannot panic half-way.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn address_map_path(&self) -> PathBuf {
        self.state_dir.join("addresses.json")
    }

    /// The directory backing a PVC; keyed by uid so a re-created claim starts empty.
    pub fn volume_dir(&self, namespace: &str, claim: &str, uid: &str) -> PathBuf {
        self.state_dir
            .join("volumes")
            .join(namespace)
            .join(format!("{claim}-{uid}"))
    }

    /// A pod's scratch directory (emptyDirs, ConfigMap/Secret files, MariaDB run files).
    pub fn pod_dir(&self, namespace: &str, pod: &str, uid: &str) -> PathBuf {
        let short = &uid[..uid.len().min(8)];
        self.state_dir
            .join("pods")
            .join(namespace)
            .join(format!("{pod}-{short}"))
    }

    /// Where the containers' log files are ([`crate::container_logs`] has their layout).
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The log file of run `run` (its restart count) of a container of pod `uid`.
    pub fn log_file(&self, pod: &PodRef<'_>, container: &str, run: i32) -> PathBuf {
        crate::container_logs::file(
            &self.logs_dir(),
            pod.namespace,
            pod.name,
            pod.uid,
            container,
            run,
        )
    }
}
