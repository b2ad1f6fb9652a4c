//! The Qserv containers local mode stands in for, registered with the runtime
//! ([`crate::runtime::Simulator`]):
//! - the czar's `proxy` (port 4040): the query endpoint is the czar pod's own MariaDB, where the
//!   replication stand-in makes every published table readable from the workers' chunk tables
//!   (FederatedX + views, see [`crate::replication`]);
//! - the replication controller's `repl-ctl` (port 8080): the contract-level stand-in of the
//!   ingest REST API, writing into the workers' MariaDBs; its workers are the ordinals of the
//!   worker StatefulSet, followed as they scale and as their pods restart on other ports (a
//!   restarting worker stays registered, as in Qserv, and so does one a scale-down removed,
//!   until it is deleted from the registry and the configuration). Each worker is named, as
//!   in Qserv, by an id of its own (a UUID there, read from its MariaDB; here one derived from
//!   the pod's name, so a pod back on its volume has its name again) and reports the pod's
//!   FQDN as its host;
//! - the registry's `repl-registry` (port 8080): the same stand-in's registry services, so the
//!   registry and the controller share one worker list.
//!
//! - the schema-update Job's `smig-update` ([`crate::schema_update`]): logs in to every
//!   database it names, then ends.
//!
//! Other Qserv containers (xrootd, cmsd, the workers' replication services) are ready without
//! serving: nothing in local mode talks to them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::replication::{FaultInjector, ReplicationStandIn, StandInConfig, StandInWorker};
use super::runtime::{PodContext, RuntimeError, RuntimeOptions, SimulatedContainer, Simulator};
use qserv_operator::cluster::build::Component;

/// Registers the simulators of Qserv's containers.
pub fn register(options: RuntimeOptions) -> RuntimeOptions {
    options
        .simulate(
            "proxy",
            Some(Component::Czar.label()),
            Arc::new(QueryEndpoint),
        )
        .simulate(
            "repl-ctl",
            Some(Component::ReplicationController.label()),
            Arc::new(ReplicationController),
        )
        .simulate(
            "repl-registry",
            Some(Component::ReplicationRegistry.label()),
            Arc::new(Registry),
        )
        .simulate(
            "smig-update",
            Some(Component::SchemaUpdate.label()),
            Arc::new(super::schema_update::SchemaUpdate),
        )
}

/// Qserv's name of the worker serving `pod` in `namespace`: a UUID, as the worker's schema
/// migration makes one (`Q@2026.3.3-rc1:python/lsst/qserv/schema/migrations/worker/migrate-None-to-3.sql.jinja:59`),
/// here a fixed function of the pod so it survives restarts as the volume's does.
pub fn worker_name(namespace: &str, pod: &str) -> String {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, namespace, pod).hash(&mut h);
        h.finish()
    };
    uuid::Uuid::from_u64_pair(half(0), half(1)).to_string()
}

const PROXY_PORT: u16 = 4040;
const MARIADB_PORT: u16 = 3306;
const REPLICATION_PORT: u16 = 8080;

fn simulator_error(ctx: &PodContext, reason: String) -> RuntimeError {
    RuntimeError::Simulator {
        container: format!("{}/{}", ctx.pod_name(), ctx.container.name),
        reason,
    }
}

/// The czar's proxy: port 4040 is the czar's MariaDB.
pub struct QueryEndpoint;

impl Simulator for QueryEndpoint {
    fn start<'a>(
        &'a self,
        ctx: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async move {
            let Some(mariadb) = ctx.pod_ports.get(&MARIADB_PORT) else {
                return Err(simulator_error(
                    ctx,
                    "the czar's MariaDB (port 3306 of the same pod) is not running yet".into(),
                ));
            };
            Ok(SimulatedContainer {
                ports: [(PROXY_PORT, *mariadb)].into(),
                task: None,
                exit: None,
            })
        })
    }
}

/// The replication controller: the ingest API stand-in.
pub struct ReplicationController;

impl ReplicationController {
    /// The cluster's workers as Qserv's replication system knows them: every ordinal of the
    /// worker StatefulSet (`replicas`, when it could be read), as
    /// `mysql://root:<password>@<loopback addr>` of the MariaDB serving it now. A worker that is
    /// down (its pod restarting has no address for a moment) stays at its last address, as a
    /// down worker stays registered in Qserv: requests to it fail until it is back, rather than
    /// its tables and chunks silently going to the others. A worker never seen yet is left out.
    fn workers(
        ctx: &PodContext,
        cluster: &str,
        password: &str,
        replicas: Option<i32>,
        known: &[StandInWorker],
    ) -> Vec<StandInWorker> {
        let sts = format!("{cluster}-{}", Component::Worker.suffix());
        let limit = replicas.map(|r| u32::try_from(r).unwrap_or(0));
        (0u32..)
            .take_while(|ordinal| limit.is_none_or(|n| *ordinal < n))
            .map_while(|ordinal| {
                let pod = format!("{sts}-{ordinal}");
                let name = worker_name(&ctx.namespace, &pod);
                if let Some(addr) = ctx.resolve(&format!("{pod}.{sts}"), MARIADB_PORT) {
                    return Some(Some(StandInWorker {
                        name,
                        // `util::get_current_host_fqdn` in a StatefulSet pod with its
                        // headless Service as subdomain (`Registry.cc:114`).
                        host: format!("{pod}.{sts}.{}.svc.cluster.local", ctx.namespace),
                        mysql: format!("mysql://root:{password}@{addr}"),
                    }));
                }
                match known.iter().find(|w| w.name == name) {
                    Some(w) => Some(Some(w.clone())),
                    // Without the StatefulSet's size, the first unknown ordinal ends the list.
                    None => limit.map(|_| None),
                }
            })
            .flatten()
            .collect()
    }

    /// `spec.replicas` of the cluster's worker StatefulSet, if it can be read.
    async fn worker_replicas(ctx: &PodContext, cluster: &str) -> Option<i32> {
        use k8s_openapi::api::apps::v1::StatefulSet;
        let sts = format!("{cluster}-{}", Component::Worker.suffix());
        let api: kube::Api<StatefulSet> = kube::Api::namespaced(ctx.client.clone(), &ctx.namespace);
        match api.get_opt(&sts).await {
            Ok(found) => Some(found.and_then(|s| s.spec?.replicas).unwrap_or(0)),
            Err(e) => {
                tracing::debug!(%e, "replication stand-in: cannot read the worker StatefulSet");
                None
            }
        }
    }
}

impl Simulator for ReplicationController {
    fn start<'a>(
        &'a self,
        ctx: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async move {
            let env = |name: &str| {
                ctx.env
                    .get(name)
                    .cloned()
                    .ok_or_else(|| simulator_error(ctx, format!("{name} is not set")))
            };
            let password = env("MYSQL_ROOT_PASSWORD")?;
            let cluster = ctx
                .pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/instance"))
                .cloned()
                .ok_or_else(|| simulator_error(ctx, "pod without instance label".into()))?;
            let czar = format!("{cluster}-{}", Component::Czar.suffix());
            let Some(czar_addr) = ctx.resolve(&format!("{czar}-0.{czar}"), MARIADB_PORT) else {
                return Err(simulator_error(
                    ctx,
                    format!("the czar's MariaDB ({czar}-0) is not serving yet"),
                ));
            };
            let mut config = StandInConfig::new(
                &env("QSERV_REPL_AUTH_KEY")?,
                &env("QSERV_REPL_ADMIN_AUTH_KEY")?,
                &format!("mysql://root:{password}@{czar_addr}"),
            );
            config.instance_id = cluster.clone();
            let replicas = Self::worker_replicas(ctx, &cluster).await;
            config.workers = Self::workers(ctx, &cluster, &password, replicas, &[]);
            let started_with = config.workers.clone();
            let standin = ReplicationStandIn::start(config)
                .await
                .map_err(|e| simulator_error(ctx, e.to_string()))?;
            let addr = standin.controller_addr();
            let registered = Entry::new(&STANDINS, addr, standin.faults());
            let registry = Entry::new(
                &REGISTRIES,
                (ctx.namespace.clone(), cluster.clone()),
                standin.registry_addr(),
            );
            // Follow the worker pods: scaled up, or restarted on another port.
            let follow = ctx.clone();
            let task = tokio::spawn(async move {
                let _registered = (registered, registry);
                let standin = standin;
                let mut known = started_with;
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    standin.track_registry();
                    let replicas = Self::worker_replicas(&follow, &cluster).await;
                    let workers = Self::workers(&follow, &cluster, &password, replicas, &known);
                    if workers != known {
                        match standin.set_workers(workers.clone()).await {
                            Ok(()) => known = workers,
                            Err(e) => tracing::warn!(%e, "replication stand-in: worker list"),
                        }
                    }
                }
            });
            Ok(SimulatedContainer {
                ports: [(REPLICATION_PORT, addr)].into(),
                task: Some(task),
                exit: None,
            })
        })
    }
}

/// The running stand-ins of this process, by controller address, for fault injection.
static STANDINS: std::sync::Mutex<BTreeMap<SocketAddr, FaultInjector>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Fault injection into the replication stand-in serving `controller` (an address of the
/// runtime's map, e.g. [`crate::LocalMode::resolve`] of `<cluster>-repl:8080`), while
/// its pod runs in this process.
pub fn replication_faults(controller: SocketAddr) -> Option<FaultInjector> {
    STANDINS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&controller)
        .cloned()
}

/// An entry of one of this module's maps ([`STANDINS`], [`REGISTRIES`]) that lives as long as
/// its container: removed when the container's task is aborted and the entry dropped.
struct Entry<K: Ord + 'static, V: 'static> {
    map: &'static std::sync::Mutex<BTreeMap<K, V>>,
    key: K,
}

impl<K: Ord + Clone + 'static, V: 'static> Entry<K, V> {
    fn new(map: &'static std::sync::Mutex<BTreeMap<K, V>>, key: K, value: V) -> Self {
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), value);
        Entry { map, key }
    }
}

impl<K: Ord + 'static, V: 'static> Drop for Entry<K, V> {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// The registry addresses of the running stand-ins, by (namespace, cluster).
static REGISTRIES: std::sync::Mutex<BTreeMap<(String, String), SocketAddr>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The registry: port 8080 is the registry services of the cluster's replication stand-in
/// (started with the controller's pod; until then this container does not start).
pub struct Registry;

impl Simulator for Registry {
    fn start<'a>(
        &'a self,
        ctx: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async move {
            let cluster = ctx
                .pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/instance"))
                .cloned()
                .ok_or_else(|| simulator_error(ctx, "pod without instance label".into()))?;
            let key = (ctx.namespace.clone(), cluster);
            let found = REGISTRIES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .copied();
            let Some(addr) = found else {
                return Err(simulator_error(
                    ctx,
                    format!("the replication controller of {} is not running yet", key.1),
                ));
            };
            Ok(SimulatedContainer {
                ports: [(REPLICATION_PORT, addr)].into(),
                task: None,
                exit: None,
            })
        })
    }
}
