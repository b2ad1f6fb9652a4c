//! The local runtime against the embedded API server, through the real `kube::Client`:
//! StatefulSets of real `mariadbd` pods (connect, kill, restart with data, scale, roll),
//! a Deployment of a simulated container, Jobs running this binary, fake mode at 100
//! replicas, and a shutdown that leaves no process behind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Resource, ResourceExt};
use mysql_async::prelude::Queryable;
use qserv_local::apiserver::{LocalApiServer, Options};
use qserv_local::runtime::process::is_alive;
use qserv_local::runtime::{
    PodContext, Runtime, RuntimeError, RuntimeHandle, RuntimeOptions, SimulatedContainer, Simulator,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Only a guard against a hang; MariaDB initialisation on a loaded 2-core machine is slow.
const PATIENCE: Duration = Duration::from_secs(120);
const NS: &str = "qserv";
const ROOT_PASSWORD: &str = "r00t-'pw";

struct Local {
    server: LocalApiServer,
    client: kube::Client,
    runtime: Option<RuntimeHandle>,
    state: tempfile::TempDir,
}

impl Local {
    async fn start(fake_pods: bool) -> Local {
        Local::start_with(|o| RuntimeOptions { fake_pods, ..o }).await
    }

    /// Starts with the test defaults changed by `opts`.
    async fn start_with(opts: impl FnOnce(RuntimeOptions) -> RuntimeOptions) -> Local {
        let server = LocalApiServer::start(Options::default())
            .await
            .expect("API server");
        let client = server.client().expect("client");
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
        let state = tempfile::Builder::new()
            .prefix("qserv-runtime-")
            .tempdir()
            .unwrap();
        let runtime = Runtime::start(
            client.clone(),
            opts(RuntimeOptions {
                state_dir: state.path().to_path_buf(),
                operator_binary: env!("CARGO_BIN_EXE_qserv-operator").into(),
                restart_backoff: Duration::from_millis(500),
                termination_grace: Duration::from_secs(5),
                ..RuntimeOptions::default()
            }),
        )
        .await
        .expect("runtime starts");
        Local {
            server,
            client,
            runtime: Some(runtime),
            state,
        }
    }

    fn rt(&self) -> &RuntimeHandle {
        self.runtime.as_ref().unwrap()
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn create<K>(&self, obj: Value) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let obj: K = serde_json::from_value(obj).expect("a valid object");
        self.api::<K>()
            .create(&PostParams::default(), &obj)
            .await
            .expect("created")
    }

    /// Stops the runtime, then the server; the state dir is returned for inspection.
    async fn shutdown(mut self) -> tempfile::TempDir {
        self.runtime.take().unwrap().shutdown().await;
        self.server.shutdown().await;
        self.state
    }
}

/// Waits (on watch events, not sleeps) until `cond` holds for object `name`.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, cond: impl Fn(&K) -> bool) -> K
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + 'static,
{
    let found = tokio::time::timeout(
        PATIENCE,
        await_condition(api.clone(), name, move |o: Option<&K>| o.is_some_and(&cond)),
    )
    .await;
    match found {
        Ok(Ok(Some(obj))) => obj,
        other => {
            let now = api.get_opt(name).await.ok().flatten();
            let now = serde_json::to_string(
                &now.map(|o| serde_json::to_value(o).unwrap()["status"].clone()),
            );
            panic!(
                "{name}: {what} not reached ({other:?}); status now: {}",
                now.unwrap()
            )
        }
    }
}

fn ready(p: &Pod) -> bool {
    condition(p, "Ready") == Some("True")
}

fn condition<'a>(p: &'a Pod, kind: &str) -> Option<&'a str> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.as_str())
}

fn restarts(p: &Pod, container: &str) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .map_or(-1, |c| c.restart_count)
}

/// The worker StatefulSet, its headless Service and ConfigMap, from the builder's fixture,
/// without the ownerReference to a QservCluster that does not exist here.
fn worker_fixture() -> (Value, Value, Value) {
    let text = std::fs::read_to_string("tests/fixtures/cluster/ci/worker.yaml").unwrap();
    let mut docs = BTreeMap::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let mut v: Value = serde::Deserialize::deserialize(doc).unwrap();
        v["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
        docs.insert(v["kind"].as_str().unwrap().to_string(), v);
    }
    (
        docs.remove("StatefulSet").unwrap(),
        docs.remove("Service").unwrap(),
        docs.remove("ConfigMap").unwrap(),
    )
}

async fn create_secret(local: &Local) {
    local
        .create::<Secret>(json!({
            "metadata": {"name": "qserv-ci-secrets", "namespace": NS},
            "stringData": {"mariadb-root-password": ROOT_PASSWORD,
                           "replication-auth-key": "a", "replication-admin-auth-key": "b"}
        }))
        .await;
}

async fn connect(local: &Local, host: &str, user: &str, password: &str) -> mysql_async::Conn {
    let addr = local.rt().resolve(host, 3306).unwrap_or_else(|| {
        panic!(
            "{host}:3306 is not in the address map: {:?}",
            local.rt().address_map()
        )
    });
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(user))
        .pass(Some(password));
    mysql_async::Conn::new(opts)
        .await
        .unwrap_or_else(|e| panic!("connect to {host} ({addr}) as {user}: {e}"))
}

async fn sts_ready(local: &Local, name: &str, replicas: i32) -> StatefulSet {
    wait_for(
        &local.api::<StatefulSet>(),
        name,
        &format!("{replicas} ready"),
        move |s: &StatefulSet| {
            let st = s.status.as_ref();
            st.is_some_and(|st| {
                st.replicas == replicas
                    && st.ready_replicas == Some(replicas)
                    && st.updated_replicas == Some(replicas)
                    && st.current_revision == st.update_revision
                    && st.observed_generation == s.metadata.generation
            })
        },
    )
    .await
}

async fn pod_names(local: &Local, selector: &str) -> Vec<String> {
    let mut names: Vec<String> = local
        .api::<Pod>()
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_of_mariadb_pods_serves_restarts_scales_and_rolls() {
    let local = Local::start(false).await;
    create_secret(&local).await;
    let (sts, svc, cm) = worker_fixture();
    local.create::<ConfigMap>(cm).await;
    local.create::<Service>(svc).await;
    let t0 = Instant::now();
    local.create::<StatefulSet>(sts).await;
    let status = sts_ready(&local, "qserv-ci-worker", 2).await;
    println!("2 MariaDB worker pods ready in {:.1?}", t0.elapsed());
    let revision1 = status.status.unwrap().update_revision.unwrap();

    // Both servers take root with the Secret's password and qsmaster with the password the
    // release hard-codes for workers (script.py:59,452), not without one.
    for ord in 0..2 {
        let host = format!("qserv-ci-worker-{ord}.qserv-ci-worker");
        let mut root = connect(&local, &host, "root", ROOT_PASSWORD).await;
        root.query_drop(format!(
            "CREATE DATABASE t; CREATE TABLE t.r (v INT); INSERT INTO t.r VALUES ({ord})"
        ))
        .await
        .unwrap();
        let fqdn = format!("{host}.qserv.svc.cluster.local");
        let addr = local.rt().resolve(&fqdn, 3306).unwrap();
        let refused = mysql_async::Conn::from_url(format!("mysql://qsmaster@{addr}")).await;
        assert!(refused.is_err(), "qsmaster without a password got in");
        let mut qsmaster = connect(&local, &fqdn, "qsmaster", "CHANGEME").await;
        let v: Option<i32> = qsmaster.query_first("SELECT v FROM t.r").await.unwrap();
        assert_eq!(v, Some(ord));
    }
    // The pods look like StatefulSet pods.
    let pods = local.api::<Pod>();
    let p0 = pods.get("qserv-ci-worker-0").await.unwrap();
    let labels = p0.labels();
    assert_eq!(labels["controller-revision-hash"], revision1);
    assert_eq!(
        labels["statefulset.kubernetes.io/pod-name"],
        "qserv-ci-worker-0"
    );
    assert_eq!(p0.owner_references()[0].kind, "StatefulSet");
    let st = p0.status.as_ref().unwrap();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    assert_eq!(st.pod_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(st.container_statuses.as_ref().unwrap().len(), 4);
    assert!(
        st.container_statuses
            .as_ref()
            .unwrap()
            .iter()
            .all(|c| c.ready)
    );
    let pvcs = local.api::<PersistentVolumeClaim>();
    let pvc = pvcs.get("data-qserv-ci-worker-1").await.unwrap();
    // whenDeleted: Delete → owned by the StatefulSet, as Kubernetes does it.
    let owners = pvc.owner_references();
    assert_eq!((owners.len(), owners[0].kind.as_str()), (1, "StatefulSet"));

    // Kill worker-1's server: not ready, restarted once, ready again with its row.
    let address_before = local
        .rt()
        .resolve("qserv-ci-worker-1.qserv-ci-worker", 3306);
    let killed = local
        .rt()
        .kill_pod_process(NS, "qserv-ci-worker-1", "mariadb")
        .unwrap();
    wait_for(
        &pods,
        "qserv-ci-worker-1",
        "not ready after the kill",
        |p: &Pod| !ready(p),
    )
    .await;
    assert!(!is_alive(killed));
    let p1 = wait_for(&pods, "qserv-ci-worker-1", "ready again", |p: &Pod| {
        ready(p) && restarts(p, "mariadb") == 1
    })
    .await;
    let last = p1.status.unwrap().container_statuses.unwrap()[0]
        .last_state
        .clone()
        .unwrap();
    assert_eq!(last.terminated.unwrap().exit_code, 128 + 9);
    assert_eq!(
        local
            .rt()
            .resolve("qserv-ci-worker-1.qserv-ci-worker", 3306),
        address_before,
        "a restarted server keeps its port"
    );
    let mut root = connect(
        &local,
        "qserv-ci-worker-1.qserv-ci-worker",
        "root",
        ROOT_PASSWORD,
    )
    .await;
    let v: Option<i32> = root.query_first("SELECT v FROM t.r").await.unwrap();
    assert_eq!(v, Some(1), "the row survives the restart");
    drop(root);

    // A template change rolls both pods to the new revision; the data stays.
    let sts_api = local.api::<StatefulSet>();
    sts_api
        .patch(
            "qserv-ci-worker",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"template": {"metadata": {"annotations": {"rolled": "yes"}}}}}),
            ),
        )
        .await
        .unwrap();
    let status = sts_ready(&local, "qserv-ci-worker", 2)
        .await
        .status
        .unwrap();
    let revision2 = status.update_revision.unwrap();
    assert_ne!(revision2, revision1);
    assert_eq!(status.current_revision.as_deref(), Some(revision2.as_str()));
    for ord in 0..2 {
        let p = pods.get(&format!("qserv-ci-worker-{ord}")).await.unwrap();
        assert_eq!(p.labels()["controller-revision-hash"], revision2);
        assert_eq!(p.annotations()["rolled"], "yes");
        let mut root = connect(
            &local,
            &format!("qserv-ci-worker-{ord}.qserv-ci-worker"),
            "root",
            ROOT_PASSWORD,
        )
        .await;
        let v: Option<i32> = root.query_first("SELECT v FROM t.r").await.unwrap();
        assert_eq!(v, Some(ord), "worker-{ord} keeps its data over the rollout");
    }

    // Scale 2 → 3 → 1: pods and status follow; PVCs are retained (whenScaled: Retain).
    let scale = |n: i32| Patch::Merge(json!({"spec": {"replicas": n}}));
    sts_api
        .patch("qserv-ci-worker", &PatchParams::default(), &scale(3))
        .await
        .unwrap();
    sts_ready(&local, "qserv-ci-worker", 3).await;
    let selector = "app.kubernetes.io/component=worker";
    assert_eq!(
        pod_names(&local, selector).await,
        [
            "qserv-ci-worker-0",
            "qserv-ci-worker-1",
            "qserv-ci-worker-2"
        ]
    );
    sts_api
        .patch("qserv-ci-worker", &PatchParams::default(), &scale(1))
        .await
        .unwrap();
    sts_ready(&local, "qserv-ci-worker", 1).await;
    assert_eq!(pod_names(&local, selector).await, ["qserv-ci-worker-0"]);
    let mut claims: Vec<String> = pvcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    claims.sort();
    assert_eq!(
        claims,
        [
            "data-qserv-ci-worker-0",
            "data-qserv-ci-worker-1",
            "data-qserv-ci-worker-2"
        ]
    );
    assert!(
        local
            .rt()
            .resolve("qserv-ci-worker-2.qserv-ci-worker", 3306)
            .is_none()
    );

    // Deleting the set deletes its PVCs (whenDeleted: Delete), and their directories go too.
    let volumes = local.rt().state_dir().join("volumes").join(NS);
    assert_eq!(std::fs::read_dir(&volumes).unwrap().count(), 3);
    sts_api
        .delete("qserv-ci-worker", &Default::default())
        .await
        .unwrap();
    eventually("PVC directories removed", || {
        std::fs::read_dir(&volumes).map_or(0, |d| d.count()) == 0
    })
    .await;
    assert!(
        pvcs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    local.shutdown().await;
}

/// Waits for a condition the API cannot watch (files), checking every 100 ms up to PATIENCE.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not reached in {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_mariadbd_and_the_state_dir_is_removable() {
    let local = Local::start(false).await;
    create_secret(&local).await;
    let (mut sts, _, cm) = worker_fixture();
    local.create::<ConfigMap>(cm).await;
    // Just the MariaDB container, one replica, ordered pod management (the czar's shape).
    sts["spec"]["replicas"] = json!(1);
    sts["spec"]
        .as_object_mut()
        .unwrap()
        .remove("podManagementPolicy");
    let containers = sts["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap();
    containers.truncate(1);
    local.create::<StatefulSet>(sts).await;
    sts_ready(&local, "qserv-ci-worker", 1).await;
    let pids = local.rt().process_ids();
    assert_eq!(pids.len(), 1, "one mariadbd");
    assert!(pids.iter().all(|&p| is_alive(p)));
    let state = local.shutdown().await;
    for pid in pids {
        assert!(!is_alive(pid), "mariadbd {pid} outlived the runtime");
    }
    state.close().expect("state dir removable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_of_a_simulated_container_becomes_available() {
    let local = Local::start(false).await;
    local
        .create::<Deployment>(json!({
            "metadata": {"name": "registry", "namespace": NS},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "registry"}},
                     "template": {"metadata": {"labels": {"app": "registry"}},
                                  "spec": {"containers": [{"name": "registry",
                                           "image": "qserv/lite-qserv:2022.9.1-rc1",
                                           "ports": [{"name": "http", "containerPort": 8080}]}]}}}
        }))
        .await;
    let d = wait_for(
        &local.api::<Deployment>(),
        "registry",
        "available",
        |d: &Deployment| {
            d.status
                .as_ref()
                .is_some_and(|s| s.available_replicas == Some(1))
        },
    )
    .await;
    let s = d.status.unwrap();
    assert_eq!(s.replicas, Some(1));
    assert_eq!(s.ready_replicas, Some(1));
    assert_eq!(s.updated_replicas, Some(1));
    assert_eq!(s.observed_generation, d.metadata.generation);
    let available = s
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(available.status, "True");
    let names = pod_names(&local, "app=registry").await;
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with("registry-"), "{names:?}");
    let pod = local.api::<Pod>().get(&names[0]).await.unwrap();
    assert!(ready(&pod));
    assert!(
        local.rt().process_ids().is_empty(),
        "a simulated container runs no process"
    );

    // A template change: the new revision's pod replaces the old one once ready.
    let hash = |name: &str| name.rsplit('-').nth(1).unwrap().to_string();
    local
        .api::<Deployment>()
        .patch(
            "registry",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"metadata": {"labels": {"rev": "2"}}}}})),
        )
        .await
        .unwrap();
    let d = wait_for(
        &local.api::<Deployment>(),
        "registry",
        "rolled out",
        |d: &Deployment| {
            d.status.as_ref().is_some_and(|s| {
                s.observed_generation == d.metadata.generation
                    && s.replicas == Some(1)
                    && s.updated_replicas == Some(1)
                    && s.ready_replicas == Some(1)
            })
        },
    )
    .await;
    let progressing = d
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    let rolled = pod_names(&local, "app=registry").await;
    assert_eq!(rolled.len(), 1, "{rolled:?}");
    assert_ne!(hash(&rolled[0]), hash(&names[0]));
    let pod = local.api::<Pod>().get(&rolled[0]).await.unwrap();
    assert_eq!(pod.labels()["pod-template-hash"], hash(&rolled[0]));
    assert_eq!(pod.labels()["rev"], "2");
    local.shutdown().await;
}

fn job(name: &str, args: &[&str], examples: &Path, extra: Value) -> Value {
    let mut j = json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"backoffLimit": 2,
                 "template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "qserv/qserv-operator:dev",
                                     "command": ["qserv-operator"], "args": args,
                                     "volumeMounts": [{"name": "examples", "mountPath": "/examples"}]}],
                     "volumes": [{"name": "examples", "hostPath": {"path": examples}}]}}}
    });
    json_merge(&mut j["spec"], extra);
    j
}

fn json_merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn job_condition(j: &Job, kind: &str) -> Option<(String, Option<String>)> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| (c.type_.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_this_binary_retry_and_index() {
    let local = Local::start(false).await;
    let examples = std::fs::canonicalize("examples").unwrap();
    let jobs = local.api::<Job>();

    // Succeeds: the mount path in the arg is rewritten to the hostPath directory.
    local
        .create::<Job>(job(
            "validate",
            &["validate", "/examples/qservcluster-ci.yaml"],
            &examples,
            json!({}),
        ))
        .await;
    // Fails: 1 + backoffLimit (2) pods, then Failed/BackoffLimitExceeded.
    local
        .create::<Job>(job(
            "broken",
            &["validate", "/examples/missing.yaml"],
            &examples,
            json!({}),
        ))
        .await;
    // Indexed: each pod validates the copy named after its JOB_COMPLETION_INDEX.
    let indexed_dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        std::fs::copy(
            examples.join("qservcluster-ci.yaml"),
            indexed_dir.path().join(format!("{i}.yaml")),
        )
        .unwrap();
    }
    local
        .create::<Job>(job(
            "indexed",
            &["validate", "/examples/$(JOB_COMPLETION_INDEX).yaml"],
            indexed_dir.path(),
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ))
        .await;

    let done = wait_for(&jobs, "validate", "Complete", |j: &Job| {
        job_condition(j, "Complete").is_some()
    })
    .await;
    let s = done.status.unwrap();
    assert_eq!(
        (s.succeeded, s.failed, s.active),
        (Some(1), Some(0), Some(0))
    );
    assert!(s.start_time.is_some() && s.completion_time.is_some());
    let pod = pod_names(&local, "job-name=validate").await;
    let log = local.rt().container_log(NS, &pod[0], "main").unwrap();
    assert!(
        log.contains("ok    ") && log.contains("qservcluster-ci.yaml"),
        "{log}"
    );

    let failed = wait_for(&jobs, "broken", "Failed", |j: &Job| {
        job_condition(j, "Failed").is_some()
    })
    .await;
    assert_eq!(
        job_condition(&failed, "Failed"),
        Some(("Failed".into(), Some("BackoffLimitExceeded".into())))
    );
    let s = failed.status.unwrap();
    assert_eq!(
        (s.failed, s.succeeded, s.active),
        (Some(3), Some(0), Some(0))
    );
    let broken_pods = local
        .api::<Pod>()
        .list(&ListParams::default().labels("job-name=broken"))
        .await
        .unwrap()
        .items;
    assert_eq!(broken_pods.len(), 3);
    for p in &broken_pods {
        let st = p.status.as_ref().unwrap();
        assert_eq!(st.phase.as_deref(), Some("Failed"));
        let term = st.container_statuses.as_ref().unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone()
            .unwrap();
        assert_eq!(term.exit_code, 1, "validate of a missing file exits 1");
    }

    let indexed = wait_for(&jobs, "indexed", "Complete", |j: &Job| {
        job_condition(j, "Complete").is_some()
    })
    .await;
    let s = indexed.status.unwrap();
    assert_eq!(s.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(s.succeeded, Some(3));
    let pods = local
        .api::<Pod>()
        .list(&ListParams::default().labels("job-name=indexed"))
        .await
        .unwrap()
        .items;
    let mut seen = Vec::new();
    for p in &pods {
        let index = p.annotations()["batch.kubernetes.io/job-completion-index"].clone();
        let env = &p.spec.as_ref().unwrap().containers[0].env.as_ref().unwrap();
        let var = env
            .iter()
            .find(|e| e.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        assert_eq!(var.value.as_deref(), Some(index.as_str()));
        let log = local.rt().container_log(NS, &p.name_any(), "main").unwrap();
        assert!(
            log.contains(&format!("{index}.yaml")),
            "pod {index} validated its own file: {log}"
        );
        seen.push(index);
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_mode_makes_100_replicas_ready_without_processes() {
    let local = Local::start(true).await;
    create_secret(&local).await;
    let (mut sts, _, cm) = worker_fixture();
    local.create::<ConfigMap>(cm).await;
    sts["spec"]["replicas"] = json!(100);
    let t0 = Instant::now();
    local.create::<StatefulSet>(sts).await;
    sts_ready(&local, "qserv-ci-worker", 100).await;
    println!("fake mode: 100 worker pods ready in {:.2?}", t0.elapsed());
    assert!(local.rt().process_ids().is_empty());
    let pods = local
        .api::<Pod>()
        .list(&ListParams::default().labels("app.kubernetes.io/component=worker"))
        .await
        .unwrap()
        .items;
    assert_eq!(pods.len(), 100);
    assert!(pods.iter().all(ready));
    local.shutdown().await;
}

/// Stands in for the worker's replication HTTP server: listens on a loopback port, answers
/// every connection with a fixed line, and records what the runtime handed it.
#[derive(Default)]
struct EchoReplicationWorker {
    seen: Mutex<Option<(String, Option<SocketAddr>)>>,
}

impl Simulator for EchoReplicationWorker {
    fn start<'a>(
        &'a self,
        pod: &'a PodContext,
    ) -> futures::future::BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| RuntimeError::Simulator {
                    container: pod.container.name.clone(),
                    reason: e.to_string(),
                })?;
            let addr = listener.local_addr().unwrap();
            *self.seen.lock().unwrap() = Some((
                pod.env
                    .get("QSERV_REPL_AUTH_KEY")
                    .cloned()
                    .unwrap_or_default(),
                pod.pod_ports.get(&3306).copied(),
            ));
            let task = tokio::spawn(async move {
                while let Ok((mut conn, _)) = listener.accept().await {
                    let _ = conn.write_all(b"repl-wrk stand-in\n").await;
                }
            });
            Ok(SimulatedContainer {
                ports: BTreeMap::from([(25004, addr)]),
                task: Some(task),
                exit: None,
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulators_get_env_and_sibling_ports_and_their_ports_enter_the_address_map() {
    let sim = Arc::new(EchoReplicationWorker::default());
    let registered = sim.clone();
    let local =
        Local::start_with(move |o| o.simulate("repl-wrk", Some("worker"), registered)).await;
    create_secret(&local).await;
    let (mut sts, svc, cm) = worker_fixture();
    sts["spec"]["replicas"] = json!(1);
    local.create::<ConfigMap>(cm).await;
    local.create::<Service>(svc).await;
    local.create::<StatefulSet>(sts).await;
    sts_ready(&local, "qserv-ci-worker", 1).await;

    let mariadb = local
        .rt()
        .resolve("qserv-ci-worker-0.qserv-ci-worker", 3306)
        .unwrap();
    let seen = sim.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        Some(("a".to_string(), Some(mariadb))),
        "env resolved, mariadb port of the pod"
    );
    let repl = local
        .rt()
        .resolve("qserv-ci-worker-0.qserv-ci-worker", 25004)
        .unwrap();
    assert_eq!(
        local.rt().resolve("qserv-ci-worker", 25004),
        Some(repl),
        "the Service name too"
    );
    let mut line = String::new();
    let stream = tokio::net::TcpStream::connect(repl).await.unwrap();
    tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stream), &mut line)
        .await
        .unwrap();
    assert_eq!(line, "repl-wrk stand-in\n");
    // The map file child processes read has the same entries.
    let file =
        qserv_operator::connect_to::AddressMap::load(&local.rt().address_map_path()).unwrap();
    assert_eq!(
        file.get(
            "qserv-ci-worker-0.qserv-ci-worker.qserv.svc.cluster.local",
            25004
        ),
        Some(repl)
    );

    // Scaled to 0, the pod goes and the simulator's task with it.
    local
        .api::<StatefulSet>()
        .patch(
            "qserv-ci-worker",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    sts_ready(&local, "qserv-ci-worker", 0).await;
    eventually("stand-in listener closed", || {
        std::net::TcpStream::connect(repl).is_err()
    })
    .await;
    assert_eq!(local.rt().resolve("qserv-ci-worker", 25004), None);
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_stops_processes_of_a_deployment_mariadb_without_volumes() {
    let mut local = Local::start(false).await;
    local
        .create::<Deployment>(json!({
            "metadata": {"name": "scratch-db", "namespace": NS},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "scratch-db"}},
                     "template": {"metadata": {"labels": {"app": "scratch-db"}},
                                  "spec": {"containers": [{"name": "mariadb",
                                           "image": "mariadb:11",
                                           "ports": [{"containerPort": 3306}]}]}}}
        }))
        .await;
    wait_for(
        &local.api::<Deployment>(),
        "scratch-db",
        "available",
        |d: &Deployment| {
            d.status
                .as_ref()
                .is_some_and(|s| s.available_replicas == Some(1))
        },
    )
    .await;
    let pids = local.rt().process_ids();
    assert_eq!(pids.len(), 1);
    drop(local.runtime.take());
    for pid in pids {
        assert!(!is_alive(pid), "mariadbd {pid} outlived the dropped handle");
    }
    local.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_scale_down_deletes_claims_when_scaled_delete() {
    let local = Local::start(true).await;
    create_secret(&local).await;
    let (mut sts, _, cm) = worker_fixture();
    local.create::<ConfigMap>(cm).await;
    sts["spec"]["replicas"] = json!(3);
    sts["spec"]
        .as_object_mut()
        .unwrap()
        .remove("podManagementPolicy");
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenScaled": "Delete", "whenDeleted": "Retain"});
    local.create::<StatefulSet>(sts).await;
    sts_ready(&local, "qserv-ci-worker", 3).await;
    let pvcs = local.api::<PersistentVolumeClaim>();
    let claim = pvcs.get("data-qserv-ci-worker-2").await.unwrap();
    assert!(claim.owner_references().is_empty(), "whenDeleted: Retain");
    assert_eq!(claim.status.and_then(|s| s.phase).as_deref(), Some("Bound"));
    local
        .api::<StatefulSet>()
        .patch(
            "qserv-ci-worker",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    sts_ready(&local, "qserv-ci-worker", 1).await;
    for gone in ["data-qserv-ci-worker-1", "data-qserv-ci-worker-2"] {
        wait_for_deletion(&pvcs, gone).await;
    }
    assert!(
        pvcs.get_opt("data-qserv-ci-worker-0")
            .await
            .unwrap()
            .is_some()
    );
    local.shutdown().await;
}

async fn wait_for_deletion<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let gone = tokio::time::timeout(
        PATIENCE,
        await_condition(api.clone(), name, |o: Option<&K>| o.is_none()),
    )
    .await;
    assert!(matches!(gone, Ok(Ok(None))), "{name} not deleted: {gone:?}");
}

/// A Job's simulated container ends with the code its simulator sets, and `restartPolicy` and
/// `backoffLimit` apply as to a process: the schema-update stand-in logs in to the databases it
/// is given and ends 0, or 1 on a wrong password or an option Qserv's smig-update lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_job_container_ends_with_its_simulator_s_exit_code() {
    let local = Local::start_with(|o| {
        o.simulate(
            "smig-update",
            None,
            Arc::new(qserv_local::schema_update::SchemaUpdate),
        )
    })
    .await;
    create_secret(&local).await;
    let (mut sts, svc, cm) = worker_fixture();
    sts["spec"]["replicas"] = json!(1);
    local.create::<ConfigMap>(cm).await;
    local.create::<Service>(svc).await;
    local.create::<StatefulSet>(sts).await;
    sts_ready(&local, "qserv-ci-worker", 1).await;

    let smig = |name: &str, arg: &str| {
        json!({
            "metadata": {"name": name, "namespace": NS},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "smig-update", "image": "ghcr.io/lsst/qserv:x",
                    "command": ["entrypoint"], "args": ["smig-update", arg],
                    "env": [{"name": "PW", "valueFrom": {"secretKeyRef":
                        {"name": "qserv-ci-secrets", "key": "mariadb-root-password"}}}]}]}}}
        })
    };
    let worker = "qserv-ci-worker-0.qserv-ci-worker:3306";
    for (name, arg) in [
        (
            "smig-ok",
            format!("--worker-connection=mysql://root:$(PW)@{worker}"),
        ),
        (
            "smig-wrong-password",
            format!("--worker-connection=mysql://root:nope@{worker}"),
        ),
        (
            "smig-bad-option",
            format!("--worker-connections=mysql://root:$(PW)@{worker}"),
        ),
    ] {
        local.create::<Job>(smig(name, &arg)).await;
    }
    let jobs = local.api::<Job>();
    let ok = wait_for(&jobs, "smig-ok", "Complete", |j: &Job| {
        job_condition(j, "Complete").is_some()
    })
    .await;
    assert_eq!(ok.status.unwrap().succeeded, Some(1));
    for name in ["smig-wrong-password", "smig-bad-option"] {
        let failed = wait_for(&jobs, name, "Failed", |j: &Job| {
            job_condition(j, "Failed").is_some()
        })
        .await;
        assert_eq!(
            job_condition(&failed, "Failed"),
            Some(("Failed".into(), Some("BackoffLimitExceeded".into()))),
            "{name}"
        );
        let pods = local
            .api::<Pod>()
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
            .unwrap()
            .items;
        let term = pods[0]
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone()
            .unwrap();
        assert_eq!(term.exit_code, 1, "{name}");
    }
    local.shutdown().await;
}
