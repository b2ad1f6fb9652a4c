//! QservCluster reconcile at scale: `cargo bench --bench cluster_reconcile [-- WORKERS]`.
//!
//! Local mode with fake pods (the runtime marks pods running and ready without starting any
//! process) and the QservCluster controller in this process, talking to the embedded API server
//! over HTTP with the real kube::Client. Applies a QservCluster with WORKERS (default 100)
//! workers and prints the time from the apply to
//! - every object of the build stage present on the API server (seen by watches),
//! - the first status written for the applied generation,
//! - `Ready` with WORKERS/WORKERS workers (after the runtime has created and readied the pods),
//!
//! then the same for a scale-up by 10 workers. The target is < 1 s to objects and
//! status. Asserts nothing but that each point is reached.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use qserv_local::{LocalMode, LocalOptions};
use qserv_operator::api::QservCluster;
use qserv_operator::api::condition::{READY, is_true};
use qserv_operator::cluster::build::{self, GeneratedSecrets};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const TARGET: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
enum Seen {
    /// `Kind/name` and, for workloads, `spec.replicas`.
    Object(String, Option<i64>),
    Cluster {
        observed: Option<i64>,
        generation: Option<i64>,
        ready: bool,
        workers: Option<String>,
    },
}

fn main() {
    let workers: i32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run(workers));
}

async fn run(workers: i32) {
    let state = tempfile::tempdir().expect("state dir");
    let local = LocalMode::start(LocalOptions {
        state_dir: state.path().to_path_buf(),
        fake_pods: true,
        namespace: Some("default".into()),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode");
    let client = local.client();
    let (tx, mut rx) = mpsc::unbounded_channel();
    watch_objects::<StatefulSet>(&client, &tx);
    watch_objects::<Deployment>(&client, &tx);
    watch_objects::<Service>(&client, &tx);
    watch_objects::<ConfigMap>(&client, &tx);
    watch_objects::<Secret>(&client, &tx);
    watch_objects::<NetworkPolicy>(&client, &tx);
    watch_cluster(&client, &tx);
    let pods: Api<Pod> = Api::default_namespaced(client.clone());

    println!("QservCluster reconcile on local mode (fake pods), kube::Client over HTTP");
    let mut seen = BTreeSet::new();
    let mut worker_replicas = None;
    for (label, replicas) in [("create", workers), ("scale up", workers + 10)] {
        let manifest = cluster_manifest(replicas);
        let desired = desired_objects(&manifest);
        let qsc: Api<QservCluster> = Api::default_namespaced(client.clone());
        let started = Instant::now();
        let applied = qsc
            .patch(
                "bench",
                &PatchParams::apply("bench").force(),
                &Patch::Apply(&manifest),
            )
            .await
            .expect("apply QservCluster");
        let generation = applied.meta().generation;
        let expected_workers = format!("{replicas}/{replicas}");
        let (mut objects_at, mut status_at, mut ready_at) = (None, None, None);
        let reconciles_before = reconciles();
        let deadline = started + TIMEOUT;
        while ready_at.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(event)) = tokio::time::timeout(left, rx.recv()).await else {
                panic!("{label}: not Ready with {expected_workers} workers within {TIMEOUT:?}");
            };
            match event {
                Seen::Object(key, replicas) => {
                    if key == "StatefulSet/bench-worker" {
                        worker_replicas = replicas;
                    }
                    seen.insert(key);
                }
                Seen::Cluster {
                    observed,
                    generation: g,
                    ready,
                    workers,
                } => {
                    if g == generation && observed == generation {
                        status_at.get_or_insert_with(|| started.elapsed());
                        if ready && workers.as_deref() == Some(expected_workers.as_str()) {
                            ready_at = Some(started.elapsed());
                        }
                    }
                }
            }
            if objects_at.is_none()
                && desired.is_subset(&seen)
                && worker_replicas == Some(i64::from(replicas))
            {
                objects_at = Some(started.elapsed());
            }
        }
        let pod_count = pods
            .list_metadata(&Default::default())
            .await
            .map_or(0, |l| {
                l.items
                    .iter()
                    .filter(|p| p.name_any().starts_with("bench-worker-"))
                    .count()
            });
        let objects_at = objects_at.expect("objects seen before Ready");
        let status_at = status_at.expect("status before Ready");
        let ready_at = ready_at.expect("Ready");
        println!(
            "{label:>9}: {replicas} workers ({pod_count} worker pods): {} objects applied in {:.3} s, \
             status written in {:.3} s ({:.2} x the 1 s target), Ready {expected_workers} in \
             {:.3} s; {} reconciles",
            desired.len(),
            objects_at.as_secs_f64(),
            status_at.as_secs_f64(),
            status_at.as_secs_f64() / TARGET.as_secs_f64(),
            ready_at.as_secs_f64(),
            reconciles() - reconciles_before,
        );
    }
    local.shutdown().await;
}

fn cluster_manifest(workers: i32) -> Value {
    json!({
        "apiVersion": "qserv.in2p3.fr/v1alpha1",
        "kind": "QservCluster",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "workers": {"replicas": workers, "storage": {"size": "1Gi"}},
            "reference": {"enabled": true},
            "storageRetention": "Delete"
        }
    })
}

/// `Kind/name` of every object the build stage makes for `manifest` (secret values do not
/// change the set).
fn desired_objects(manifest: &Value) -> BTreeSet<String> {
    let mut cluster: QservCluster = serde_json::from_value(manifest.clone()).expect("QservCluster");
    cluster.metadata.uid = Some("bench".into());
    let secrets = GeneratedSecrets {
        mariadb_root_password: "x".into(),
        qsmaster_password: "x".into(),
        replication_auth_key: "x".into(),
        replication_admin_auth_key: "x".into(),
    };
    build::build(&cluster, &secrets)
        .expect("the bench cluster builds")
        .iter()
        .map(|o| format!("{}/{}", o.kind(), o.name()))
        .collect()
}

fn watch_objects<K>(client: &Client, tx: &mpsc::UnboundedSender<Seen>)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize
        + Send
        + 'static,
{
    let api: Api<K> = Api::default_namespaced(client.clone());
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(Ok(obj)) = stream.next().await {
            let replicas = serde_json::to_value(&obj)
                .ok()
                .and_then(|v| v["spec"]["replicas"].as_i64());
            let _ = tx.send(Seen::Object(
                format!("{}/{}", K::kind(&()), obj.name_any()),
                replicas,
            ));
        }
    });
}

fn watch_cluster(client: &Client, tx: &mpsc::UnboundedSender<Seen>) {
    let api: Api<QservCluster> = Api::default_namespaced(client.clone());
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(Ok(c)) = stream.next().await {
            let status = c.status.clone().unwrap_or_default();
            let seen = Seen::Cluster {
                observed: status.observed_generation,
                generation: c.meta().generation,
                ready: is_true(&status.conditions, READY),
                workers: status.components.map(|c| c.workers),
            };
            let _ = tx.send(seen);
        }
    });
}

/// QservCluster reconciles so far, from the operator's own metrics.
fn reconciles() -> u64 {
    qserv_operator::metrics::global()
        .encode()
        .lines()
        .find_map(|l| {
            l.strip_prefix("qserv_operator_reconciles_total{controller=\"qservcluster\"} ")?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
