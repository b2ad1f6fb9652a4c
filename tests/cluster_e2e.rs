//! End to end on local mode: the real kubectl applies the example QservCluster, the operator's
//! controller (in process, real kube::Client) builds it, the local runtime runs its MariaDB pods
//! as real `mariadbd` processes, and the test connects to them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::local::{KUBECTL, eventually, kubectl_ok, start};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use mysql_async::prelude::Queryable;
use qserv_local::LocalMode;
use qserv_operator::api::QservCluster;
use qserv_operator::api::condition::{self, DEGRADED, READY};
use serde_json::json;

fn secret_value(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

fn root_password(secret: &Secret) -> String {
    secret_value(secret, "mariadb-root-password")
}

async fn select_one(local: &LocalMode, host: &str, port: u16, user: &str, password: &str) -> bool {
    let Some(addr) = local.resolve(host, port) else {
        return false;
    };
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(user))
        .pass((!password.is_empty()).then_some(password));
    let Ok(mut conn) = mysql_async::Conn::new(opts).await else {
        return false;
    };
    let one: Option<i64> = conn.query_first("SELECT 1").await.ok().flatten();
    let _ = conn.disconnect().await;
    one == Some(1)
}

fn ready(c: &QservCluster) -> bool {
    c.status
        .as_ref()
        .is_some_and(|s| condition::is_true(&s.conditions, READY))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_gives_a_ready_cluster_of_real_mariadb_that_scales_heals_and_rolls() {
    if !Path::new(KUBECTL).exists() {
        eprintln!("!!!!! SKIPPED: {KUBECTL} is not installed !!!!!");
        return;
    }
    let (local, _dir) = start("lifecycle", true).await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/qservcluster-ci.yaml");
    kubectl_ok(&local, &["apply", "--server-side", "-f", example]).await;
    let started = std::time::Instant::now();
    kubectl_ok(
        &local,
        &[
            "wait",
            "--for=condition=Ready",
            "qsc/qserv-ci",
            "--timeout=180s",
        ],
    )
    .await;
    println!("qserv-ci Ready {:?} after apply", started.elapsed());
    let get = kubectl_ok(&local, &["get", "qsc", "qserv-ci"]).await;
    let line = get
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(&line[..4], ["qserv-ci", "True", "Ready", "2/2"], "{get}");

    // Every MariaDB of the instance is a real server with the generated root password.
    let client = local.client();
    let secret = Api::<Secret>::namespaced(client.clone(), "default")
        .get("qserv-ci-secrets")
        .await
        .unwrap();
    let password = root_password(&secret);
    for (host, port) in [
        ("qserv-ci-worker-0.qserv-ci-worker", 3306),
        ("qserv-ci-worker-1.qserv-ci-worker", 3306),
        ("qserv-ci-czar-0.qserv-ci-czar", 3306),
        ("qserv-ci-repl-db-0.qserv-ci-repl-db", 3306),
        ("qserv-ci-reference-0.qserv-ci-reference", 3306),
    ] {
        assert!(
            select_one(&local, host, port, "root", &password).await,
            "root on {host}:{port}"
        );
    }
    // The query Service (czar proxy, 4040) answers qsmaster with the password the czar's
    // migration took from the proxy's --db-uri (the Secret's), and refuses it without one, as
    // Qserv 2026.3.3-rc1 does.
    let qsmaster = secret_value(&secret, "qsmaster-password");
    assert!(select_one(&local, "qserv-ci-query", 4040, "qsmaster", &qsmaster).await);
    assert!(!select_one(&local, "qserv-ci-query", 4040, "qsmaster", "").await);
    // A worker's qsmaster is the release's hard-coded one.
    let worker = "qserv-ci-worker-0.qserv-ci-worker";
    assert!(select_one(&local, worker, 3306, "qsmaster", "CHANGEME").await);
    assert!(!select_one(&local, worker, 3306, "qsmaster", "").await);

    // Scale to 3 workers.
    let clusters: Api<QservCluster> = Api::namespaced(client.clone(), "default");
    let patch = |v| Patch::Merge(v);
    clusters
        .patch(
            "qserv-ci",
            &PatchParams::default(),
            &patch(json!({"spec": {"workers": {"replicas": 3}}})),
        )
        .await
        .unwrap();
    eventually(&local, "3/3 workers", 120, || async {
        let c = clusters.get("qserv-ci").await.ok()?;
        let s = c.status.as_ref()?;
        (s.components.as_ref()?.workers == "3/3" && ready(&c)).then_some(())
    })
    .await;
    assert!(
        select_one(
            &local,
            "qserv-ci-worker-2.qserv-ci-worker",
            3306,
            "root",
            &password
        )
        .await
    );

    // Kill a worker's MariaDB: Degraded and not Ready, then healed by the restart.
    let pid = local
        .runtime()
        .kill_pod_process("default", "qserv-ci-worker-1", "mariadb")
        .unwrap();
    println!("killed mariadbd {pid} of qserv-ci-worker-1");
    let message = eventually(&local, "Degraded", 60, || async {
        let c = clusters.get("qserv-ci").await.ok()?;
        let d = condition::find(&c.status.as_ref()?.conditions, DEGRADED)?.clone();
        (d.status == "True" && !ready(&c)).then_some(d.message)
    })
    .await;
    assert!(message.contains("qserv-ci-worker"), "{message}");
    eventually(&local, "Ready again", 120, || async {
        let c = clusters.get("qserv-ci").await.ok()?;
        ready(&c).then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let restarted = pods.get("qserv-ci-worker-1").await.unwrap();
    let restarts = restarted
        .status
        .unwrap()
        .container_statuses
        .unwrap()
        .iter()
        .find(|c| c.name == "mariadb")
        .unwrap()
        .restart_count;
    assert!(restarts >= 1, "restartCount {restarts}");

    // A config change rolls the worker pods to the new template.
    let revision = |p: &Pod| p.labels().get("controller-revision-hash").cloned();
    let before = revision(&pods.get("qserv-ci-worker-0").await.unwrap());
    clusters
        .patch(
            "qserv-ci",
            &PatchParams::default(),
            &patch(json!({"spec": {"config": {"worker": {"scheduler.thread_pool_size": "8"}}}})),
        )
        .await
        .unwrap();
    eventually(&local, "workers rolled and Ready", 180, || async {
        let c = clusters.get("qserv-ci").await.ok()?;
        let sts = Api::<StatefulSet>::namespaced(client.clone(), "default")
            .get("qserv-ci-worker")
            .await
            .ok()?;
        let update = sts.status.as_ref()?.update_revision.clone();
        let all_new = futures::future::join_all((0..3).map(|i| {
            let pods = pods.clone();
            async move { pods.get(&format!("qserv-ci-worker-{i}")).await.ok() }
        }))
        .await
        .iter()
        .all(|p| p.as_ref().and_then(revision) == update);
        (all_new && update != before && ready(&c)).then_some(())
    })
    .await;

    // A new Qserv image: the schema-update Job logs in to every database (the real one migrates
    // them, the new pods wait for it), then status.schemaImage follows, the cluster is Ready
    // again and the Job is pruned.
    let schema = |c: &QservCluster| c.status.as_ref().and_then(|s| s.schema_image.clone());
    let first = schema(&clusters.get("qserv-ci").await.unwrap());
    assert_eq!(
        first.as_deref(),
        Some(qserv_operator::api::qserv_cluster::DEFAULT_IMAGE)
    );
    let next = "ghcr.io/lsst/qserv:2026.3.3-rc1-next";
    clusters
        .patch(
            "qserv-ci",
            &PatchParams::default(),
            &patch(json!({"spec": {"image": next}})),
        )
        .await
        .unwrap();
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), "default");
    let smig = ListParams::default().labels("app.kubernetes.io/component=smig-update");
    let job = eventually(&local, "a schema-update Job", 60, || async {
        jobs.list(&smig).await.ok()?.items.into_iter().next()
    })
    .await;
    assert!(
        job.name_any().starts_with("qserv-ci-smig-update-"),
        "{}",
        job.name_any()
    );
    eventually(&local, "schema updated and Ready", 180, || async {
        let c = clusters.get("qserv-ci").await.ok()?;
        (schema(&c).as_deref() == Some(next) && ready(&c)).then_some(())
    })
    .await;
    eventually(&local, "schema-update Job pruned", 60, || async {
        jobs.list(&smig).await.ok()?.items.is_empty().then_some(())
    })
    .await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let updated = eventually(&local, "a SchemaUpdated event", 30, || async {
        let all = events.list(&ListParams::default()).await.ok()?.items;
        all.into_iter()
            .find(|e| e.reason.as_deref() == Some("SchemaUpdated"))
    })
    .await;
    assert!(updated.message.unwrap_or_default().contains(next));

    // Delete with storageRetention: Delete: the PVCs go too.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claims = pvcs.list(&ListParams::default()).await.unwrap().items.len();
    assert!(claims >= 6, "{claims} PVCs");
    kubectl_ok(
        &local,
        &["delete", "qsc", "qserv-ci", "--wait=true", "--timeout=60s"],
    )
    .await;
    eventually(&local, "PVCs deleted", 60, || async {
        let left = pvcs.list(&ListParams::default()).await.ok()?.items;
        left.is_empty().then_some(())
    })
    .await;
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_volumes_outlive_the_cluster() {
    let (local, _dir) = start("retain", true).await;
    let client = local.client();
    let clusters: Api<QservCluster> = Api::namespaced(client.clone(), "default");
    let mut manifest: serde_json::Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    manifest["metadata"]["name"] = json!("kept");
    manifest["spec"]["storageRetention"] = json!("Retain");
    manifest["spec"]["workers"]["replicas"] = json!(1);
    manifest["spec"]["reference"]["enabled"] = json!(false);
    clusters
        .patch(
            "kept",
            &PatchParams::apply("test"),
            &Patch::Apply(&manifest),
        )
        .await
        .unwrap();
    eventually(&local, "kept Ready", 180, || async {
        ready(&clusters.get("kept").await.ok()?).then_some(())
    })
    .await;
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut before: Vec<String> = pvcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    before.sort();
    assert_eq!(
        before,
        [
            "data-kept-czar-0",
            "data-kept-repl-ctl-0",
            "data-kept-repl-db-0",
            "data-kept-worker-0"
        ]
    );
    clusters.delete("kept", &Default::default()).await.unwrap();
    eventually(&local, "cluster gone", 60, || async {
        clusters.get_opt("kept").await.ok()?.is_none().then_some(())
    })
    .await;
    // Give a wrongful deletion the time to happen, then check the claims are all there.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut after: Vec<String> = pvcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    after.sort();
    assert_eq!(after, before);
    local.shutdown().await;
}

/// The replication system's workers as the operator's client reads them (Qserv's names and
/// the pods they registered from), through local mode's address of `qserv-ci-repl:8080`.
async fn replication_workers(local: &LocalMode, name: &str) -> Option<Vec<(String, String)>> {
    let addr = local.resolve(&format!("{name}-repl"), 8080)?;
    let secret: Secret = Api::namespaced(local.client(), "default")
        .get(&format!("{name}-secrets"))
        .await
        .ok()?;
    let client = qserv_operator::qserv::replication::ReplicationClient::new(
        &format!("http://{addr}"),
        &secret_value(&secret, "replication-auth-key"),
        &secret_value(&secret, "replication-admin-auth-key"),
    )
    .ok()?;
    let workers = client.workers().await.ok()?;
    Some(
        workers
            .into_iter()
            .map(|w| {
                let pod = w.short_host_names().next().unwrap_or_default().to_string();
                (w.name, pod)
            })
            .collect(),
    )
}

/// Scaling 3 → 2 workers without data: the scale-down guard lets it happen, the departed
/// worker leaves Qserv's registry and configuration (it would stay registered and enabled
/// otherwise, taking new chunks: `a_departed_worker_stays_registered_...` in
/// `replication_qserv_rules`), and an Event names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_down_removes_the_departed_worker_from_the_replication_system() {
    let (local, _dir) = start("scale-down", true).await;
    let client = local.client();
    let clusters: Api<QservCluster> = Api::namespaced(client.clone(), "default");
    let mut manifest: serde_json::Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    let name = "shrink";
    manifest["metadata"]["name"] = json!(name);
    manifest["spec"]["workers"]["replicas"] = json!(3);
    manifest["spec"]["reference"]["enabled"] = json!(false);
    clusters
        .patch(name, &PatchParams::apply("test"), &Patch::Apply(&manifest))
        .await
        .unwrap();
    let pods = |n: u32| -> Vec<String> { (0..n).map(|i| format!("{name}-worker-{i}")).collect() };
    let registered = |workers: &[(String, String)]| {
        let mut p: Vec<String> = workers.iter().map(|(_, pod)| pod.clone()).collect();
        p.sort();
        p
    };
    let before = eventually(&local, "3 workers Ready and registered", 240, || async {
        let c = clusters.get(name).await.ok()?;
        if !ready(&c) || c.status.as_ref()?.components.as_ref()?.workers != "3/3" {
            return None;
        }
        let workers = replication_workers(&local, name).await?;
        (registered(&workers) == pods(3)).then_some(workers)
    })
    .await;
    let departing = before
        .iter()
        .find(|(_, pod)| *pod == format!("{name}-worker-2"))
        .map(|(worker, _)| worker.clone())
        .unwrap();
    // Qserv names workers by an id of their own, not by pod.
    assert!(!departing.contains("worker-2"), "{departing}");

    clusters
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"workers": {"replicas": 2}}})),
        )
        .await
        .unwrap();
    let after = eventually(&local, "the departed worker deregistered", 180, || async {
        let workers = replication_workers(&local, name).await?;
        (registered(&workers) == pods(2)).then_some(workers)
    })
    .await;
    assert!(after.iter().all(|(w, _)| *w != departing), "{after:?}");
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), "default");
    let note = eventually(&local, "WorkersDeregistered event", 60, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("WorkersDeregistered")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            })
            .and_then(|e| e.note)
    })
    .await;
    assert!(
        note.contains(&departing) && note.contains(&format!("pod {name}-worker-2")),
        "{note}"
    );
    // Ready again once the scale-down is rolled out (on a busy machine the status may still
    // say Progressing when the event is seen), and never Degraded.
    let c = eventually(&local, "the cluster Ready at 2 workers", 180, || async {
        let c = clusters.get(name).await.ok()?;
        (ready(&c) && c.status.as_ref()?.components.as_ref()?.workers == "2/2").then_some(c)
    })
    .await;
    let degraded = condition::find(&c.status.as_ref().unwrap().conditions, DEGRADED).unwrap();
    assert_eq!(degraded.status, "False", "{}", degraded.message);
    local.shutdown().await;
}
