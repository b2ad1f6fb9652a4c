//! The QservCluster controller against the embedded API server with the real kube::Client, the
//! test playing the workload controllers (it writes the StatefulSet/Deployment status a kubelet
//! would cause). End to end with real MariaDB pods is in `cluster_e2e.rs`.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use qserv_local::apiserver::{LocalApiServer, Options};
use qserv_operator::api::QservCluster;
use qserv_operator::api::condition::{self, DEGRADED, READY};
use qserv_operator::api::qserv_cluster::ClusterPhase;
use qserv_operator::cluster::{self, ControllerOptions};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Harness {
    server: LocalApiServer,
    client: Client,
    namespace: String,
    controller: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(namespace: &str) -> Harness {
        let server = LocalApiServer::start(Options::default()).await.unwrap();
        let client = server.client().unwrap();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap(),
            )
            .await
            .unwrap();
        let controller = spawn_controller(&client, namespace);
        Harness {
            server,
            client,
            namespace: namespace.into(),
            controller,
        }
    }

    /// The operator killed (its task dropped wherever it was) and started again.
    async fn restart_controller(&mut self) {
        self.controller.abort();
        let _ = (&mut self.controller).await;
        self.controller = spawn_controller(&self.client, &self.namespace);
    }

    /// Every workload reports all its replicas ready; the cluster `name` once it is Ready.
    async fn all_ready(&self, name: &str) -> QservCluster {
        self.report_workloads(|_, n| n).await;
        eventually("Ready", || async {
            let c = self.cluster(name).await;
            (condition_of(&c, READY)?.0 == "True").then_some(c)
        })
        .await
    }

    /// The cluster's 6 StatefulSets, once they are all there.
    async fn all_statefulsets(&self) -> Vec<StatefulSet> {
        eventually("6 StatefulSets", || async {
            let list = self.list::<StatefulSet>().await;
            (list.len() == 6).then_some(list)
        })
        .await
    }

    /// Every object of kind `K` in the namespace.
    async fn list<K>(&self) -> Vec<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
    {
        self.api::<K>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn apply_cluster(&self, manifest: Value) {
        self.api::<QservCluster>()
            .patch(
                manifest["metadata"]["name"].as_str().unwrap(),
                &PatchParams::apply("test").force(),
                &Patch::Apply(&manifest),
            )
            .await
            .unwrap();
    }

    async fn cluster(&self, name: &str) -> QservCluster {
        self.api::<QservCluster>().get(name).await.unwrap()
    }

    /// Plays the StatefulSet/Deployment controllers: every workload of the namespace reports
    /// `ready` of its replicas ready (capped at spec.replicas) and the latest generation seen.
    async fn report_workloads(&self, ready: impl Fn(&str, i32) -> i32) {
        for sts in self
            .api::<StatefulSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
        {
            let replicas = sts.spec.as_ref().unwrap().replicas.unwrap_or(1);
            let n = ready(&sts.name_any(), replicas).min(replicas);
            let status = json!({"status": {
                "replicas": replicas, "readyReplicas": n, "updatedReplicas": replicas,
                "currentReplicas": replicas, "availableReplicas": n,
                "observedGeneration": sts.metadata.generation,
                "currentRevision": "r1", "updateRevision": "r1"}});
            self.api::<StatefulSet>()
                .patch_status(
                    &sts.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await
                .unwrap();
        }
        for d in self
            .api::<Deployment>()
            .list(&ListParams::default())
            .await
            .unwrap()
        {
            let replicas = d.spec.as_ref().unwrap().replicas.unwrap_or(1);
            let n = ready(&d.name_any(), replicas).min(replicas);
            let status = json!({"status": {
                "replicas": replicas, "readyReplicas": n, "updatedReplicas": replicas,
                "availableReplicas": n, "observedGeneration": d.metadata.generation}});
            self.api::<Deployment>()
                .patch_status(
                    &d.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await
                .unwrap();
        }
    }

    async fn shutdown(self) {
        self.controller.abort();
        let _ = self.controller.await;
        self.server.shutdown().await;
    }
}

fn spawn_controller(client: &Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(cluster::run(
        client.clone(),
        ControllerOptions {
            namespace: Some(namespace.into()),
            ..ControllerOptions::default()
        },
        qserv_operator::shutdown::on(futures::future::pending()),
    ))
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ci_cluster(name: &str) -> Value {
    let mut v: Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    v["metadata"]["name"] = json!(name);
    v
}

fn condition_of(c: &QservCluster, type_: &str) -> Option<(String, String, String)> {
    let status = c.status.as_ref()?;
    condition::find(&status.conditions, type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn creates_every_object_then_ready_then_degraded_on_a_lost_worker() {
    let h = Harness::start("ctl-create").await;
    h.apply_cluster(ci_cluster("qserv-ci")).await;

    // Every object of the build stage, applied by our field manager, owned by the cluster.
    let statefulsets = h.all_statefulsets().await;
    let mut names: Vec<String> = statefulsets.iter().map(|s| s.name_any()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "qserv-ci-czar",
            "qserv-ci-reference",
            "qserv-ci-repl-ctl",
            "qserv-ci-repl-db",
            "qserv-ci-worker",
            "qserv-ci-xrootd"
        ]
    );
    let cluster = h.cluster("qserv-ci").await;
    for sts in &statefulsets {
        let owner = &sts.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("QservCluster", cluster.uid().unwrap().as_str())
        );
        let managers: Vec<_> = sts
            .managed_fields()
            .iter()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(
            managers.contains(&"qserv-operator".to_string()),
            "{managers:?}"
        );
    }
    assert_eq!(h.list::<Deployment>().await.len(), 1);
    assert!(!h.list::<Service>().await.is_empty());
    assert!(!h.list::<ConfigMap>().await.is_empty());
    let secret = h.api::<Secret>().get("qserv-ci-secrets").await.unwrap();
    let data = secret.data.clone().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(cluster.finalizers(), ["qserv.in2p3.fr/storage"]);

    // Nothing ready yet: Creating, with the counts and the expiry of spec.ttl (2h).
    let creating = eventually("Creating status", || async {
        let c = h.cluster("qserv-ci").await;
        (c.status.as_ref()?.phase == Some(ClusterPhase::Creating)).then_some(c)
    })
    .await;
    let status = creating.status.clone().unwrap();
    assert_eq!(status.components.as_ref().unwrap().workers, "0/2");
    assert_eq!(status.observed_generation, creating.metadata.generation);
    let created = creating.metadata.creation_timestamp.clone().unwrap().0;
    assert_eq!(
        status
            .expires_at
            .unwrap()
            .0
            .duration_since(created)
            .as_secs(),
        7200
    );
    assert_eq!(
        status.endpoints.as_ref().unwrap().query,
        "qserv-ci-query.ctl-create.svc:4040"
    );
    assert_eq!(
        condition_of(&creating, READY).unwrap().1,
        "ComponentsNotReady"
    );

    // The workloads report ready: Ready.
    let ready = h.all_ready("qserv-ci").await;
    assert_eq!(
        ready.status.as_ref().unwrap().phase,
        Some(ClusterPhase::Ready)
    );
    assert_eq!(
        ready
            .status
            .as_ref()
            .unwrap()
            .components
            .as_ref()
            .unwrap()
            .workers,
        "2/2"
    );

    // A worker stops being ready: Degraded, not Creating.
    h.report_workloads(|name, n| if name == "qserv-ci-worker" { n - 1 } else { n })
        .await;
    let degraded = eventually("Degraded", || async {
        let c = h.cluster("qserv-ci").await;
        (condition_of(&c, DEGRADED)?.0 == "True").then_some(c)
    })
    .await;
    let (_, reason, message) = condition_of(&degraded, DEGRADED).unwrap();
    assert_eq!(reason, "ReplicasNotReady");
    assert!(message.contains("qserv-ci-worker 1/2 ready"), "{message}");
    assert_eq!(condition_of(&degraded, READY).unwrap().0, "False");

    // The secret values survive reconciles: same data after another reconcile.
    h.all_ready("qserv-ci").await;
    let again = h.api::<Secret>().get("qserv-ci-secrets").await.unwrap();
    assert_eq!(again.data.unwrap(), data);

    // Many reconciles (every workload status change wakes one), one creation: `Created` is
    // recorded once, not again by a reconcile that saw the status before the first one's write.
    let events: Api<k8s_openapi::api::events::v1::Event> = h.api();
    let created: Vec<_> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("Created")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("qserv-ci")
        })
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(created[0].series.is_none(), "{:?}", created[0].series);
    assert_eq!(created[0].deprecated_count.unwrap_or(1), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn scaling_and_a_config_change_update_the_objects() {
    let h = Harness::start("ctl-scale").await;
    h.apply_cluster(ci_cluster("qserv-s")).await;
    let hash = |sts: &StatefulSet| {
        sts.spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["qserv.in2p3.fr/config-sha256"]
            .clone()
    };
    let before = eventually("worker StatefulSet", || async {
        h.api::<StatefulSet>()
            .get_opt("qserv-s-worker")
            .await
            .ok()
            .flatten()
    })
    .await;

    let mut scaled = ci_cluster("qserv-s");
    scaled["spec"]["workers"]["replicas"] = json!(3);
    scaled["spec"]["config"] = json!({"worker": {"scheduler.thread_pool_size": "8"}});
    h.apply_cluster(scaled).await;
    let after = eventually("3 workers with the new config", || async {
        let sts = h.api::<StatefulSet>().get("qserv-s-worker").await.ok()?;
        (sts.spec.as_ref()?.replicas == Some(3) && hash(&sts) != hash(&before)).then_some(sts)
    })
    .await;
    let cm = h
        .api::<ConfigMap>()
        .get("qserv-s-config-worker")
        .await
        .unwrap();
    assert!(
        cm.data.unwrap()["xrdssi.cf"].contains("thread_pool_size = 8"),
        "the ConfigMap is updated, not only created"
    );
    assert_ne!(hash(&after), hash(&before));

    // Scale-down: the departing worker cannot be asked (no MariaDB runs here), so it is refused
    // with a message naming it, and the StatefulSet keeps 3 replicas.
    let mut down = ci_cluster("qserv-s");
    down["spec"]["workers"]["replicas"] = json!(2);
    down["spec"]["config"] = json!({"worker": {"scheduler.thread_pool_size": "8"}});
    h.apply_cluster(down.clone()).await;
    let refused = eventually("scale-down refused", || async {
        let c = h.cluster("qserv-s").await;
        let (status, reason, message) = condition_of(&c, DEGRADED)?;
        (status == "True" && reason == "ScaleDownRefused").then_some(message)
    })
    .await;
    assert!(refused.contains("qserv-s-worker-2"), "{refused}");
    assert!(refused.contains("allowDataLoss"), "{refused}");
    let sts = h.api::<StatefulSet>().get("qserv-s-worker").await.unwrap();
    assert_eq!(sts.spec.unwrap().replicas, Some(3));

    // With allowDataLoss the scale-down goes through.
    down["spec"]["workers"]["allowDataLoss"] = json!(true);
    h.apply_cluster(down).await;
    eventually("2 workers", || async {
        let sts = h.api::<StatefulSet>().get("qserv-s-worker").await.ok()?;
        (sts.spec?.replicas == Some(2)).then_some(())
    })
    .await;

    // Disabling the reference prunes its objects.
    let mut no_ref = ci_cluster("qserv-s");
    no_ref["spec"]["reference"]["enabled"] = json!(false);
    no_ref["spec"]["workers"]["replicas"] = json!(2);
    no_ref["spec"]["workers"]["allowDataLoss"] = json!(true);
    h.apply_cluster(no_ref).await;
    eventually("reference pruned", || async {
        let gone = h
            .api::<StatefulSet>()
            .get_opt("qserv-s-reference")
            .await
            .ok()?
            .is_none();
        gone.then_some(())
    })
    .await;
    h.shutdown().await;
}

/// The operator stopped in the middle of a reconcile (the Secret, ConfigMaps and some workloads
/// applied, the worker StatefulSet not) and started again: every object once, the objects and
/// secret values from before the restart kept (not recreated, not regenerated), and the status
/// converges to Ready for the applied generation.
#[tokio::test]
async fn a_restart_mid_reconcile_duplicates_nothing_and_converges() {
    let mut h = Harness::start("ctl-restart").await;
    // Every apply of the worker StatefulSet fails: each reconcile stops half-way through.
    h.server.fail_requests(
        "PATCH /apis/apps/v1/namespaces/ctl-restart/statefulsets/qserv-r-worker",
        500,
        usize::MAX,
    );
    h.apply_cluster(ci_cluster("qserv-r")).await;
    let message = eventually("ApplyFailed in status", || async {
        let c = h.cluster("qserv-r").await;
        let (status, reason, message) = condition_of(&c, READY)?;
        (status == "False" && reason == "ApplyFailed").then_some(message)
    })
    .await;
    assert!(message.contains("qserv-r-worker"), "{message}");
    let uids = |list: Vec<(String, Option<String>)>| -> Vec<(String, String)> {
        let mut v: Vec<_> = list
            .into_iter()
            .map(|(n, u)| (n, u.unwrap_or_default()))
            .collect();
        v.sort();
        v
    };
    let secret_before = h.api::<Secret>().get("qserv-r-secrets").await.unwrap();
    let configmaps_before = uids(
        h.list::<ConfigMap>()
            .await
            .into_iter()
            .map(|o| (o.name_any(), o.uid()))
            .collect(),
    );
    assert!(!configmaps_before.is_empty());
    let statefulsets_before = h.list::<StatefulSet>().await;
    assert!(
        !statefulsets_before
            .iter()
            .any(|s| s.name_any() == "qserv-r-worker"),
        "the worker StatefulSet was not applied before the restart"
    );

    h.restart_controller().await;
    h.server.clear_faults();
    let statefulsets = h.all_statefulsets().await;
    for before in &statefulsets_before {
        let after = statefulsets
            .iter()
            .find(|s| s.name_any() == before.name_any())
            .unwrap();
        assert_eq!(after.uid(), before.uid(), "{} recreated", before.name_any());
    }
    let ready = h.all_ready("qserv-r").await;
    assert_eq!(
        ready.status.as_ref().unwrap().observed_generation,
        ready.metadata.generation
    );
    assert_eq!(condition_of(&ready, DEGRADED).unwrap().0, "False");

    let secret_after = h.api::<Secret>().get("qserv-r-secrets").await.unwrap();
    assert_eq!(secret_after.uid(), secret_before.uid());
    assert_eq!(secret_after.data, secret_before.data);
    let configmaps_after = uids(
        h.list::<ConfigMap>()
            .await
            .into_iter()
            .map(|o| (o.name_any(), o.uid()))
            .collect(),
    );
    assert_eq!(configmaps_after, configmaps_before);
    assert_eq!(h.list::<Secret>().await.len(), 1);
    assert_eq!(h.list::<Deployment>().await.len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn an_invalid_spec_creates_nothing_and_names_the_field() {
    let h = Harness::start("ctl-invalid").await;
    let mut bad = ci_cluster("qserv-bad");
    bad["spec"]["ttl"] = json!("soon");
    bad["spec"]["config"] = json!({"czar": {"mysql.port": "1"}});
    h.apply_cluster(bad).await;
    let message = eventually("InvalidSpec", || async {
        let c = h.cluster("qserv-bad").await;
        let (status, reason, message) = condition_of(&c, READY)?;
        (status == "False" && reason == "InvalidSpec").then_some(message)
    })
    .await;
    assert!(message.contains("spec.ttl"), "{message}");
    assert!(h.list::<StatefulSet>().await.is_empty());
    assert!(h.list::<Secret>().await.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn delete_honours_storage_retention_and_ttl_expiry_deletes_the_cluster() {
    let h = Harness::start("ctl-delete").await;
    let pvcs: Api<PersistentVolumeClaim> = h.api();
    for (cluster, retention) in [("keep", "Retain"), ("drop", "Delete")] {
        let mut manifest = ci_cluster(cluster);
        manifest["spec"]["storageRetention"] = json!(retention);
        h.apply_cluster(manifest).await;
        eventually("finalizer", || async {
            let c = h.cluster(cluster).await;
            (!c.finalizers().is_empty()).then_some(())
        })
        .await;
        // The claims a StatefulSet controller would have made.
        for claim in [
            format!("data-{cluster}-worker-0"),
            format!("data-{cluster}-czar-0"),
        ] {
            pvcs.create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": claim},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}}))
                .unwrap(),
            )
            .await
            .unwrap();
        }
    }
    for cluster in ["keep", "drop"] {
        h.api::<QservCluster>()
            .delete(cluster, &DeleteParams::default())
            .await
            .unwrap();
    }
    eventually("both clusters gone", || async {
        let list = h
            .api::<QservCluster>()
            .list(&ListParams::default())
            .await
            .ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    let mut left: Vec<String> = pvcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    left.sort();
    assert_eq!(left, ["data-keep-czar-0", "data-keep-worker-0"]);
    // Owned objects went with their owner.
    eventually("owned objects deleted", || async {
        let sts = h
            .api::<StatefulSet>()
            .list(&ListParams::default())
            .await
            .ok()?;
        sts.items.is_empty().then_some(())
    })
    .await;

    // TTL: a cluster whose ttl elapses deletes itself.
    let mut short = ci_cluster("short");
    short["spec"]["ttl"] = json!("2s");
    h.apply_cluster(short).await;
    eventually("expiresAt set", || async {
        h.cluster("short").await.status?.expires_at.map(|_| ())
    })
    .await;
    eventually("expired cluster deleted", || async {
        let gone = h
            .api::<QservCluster>()
            .get_opt("short")
            .await
            .ok()?
            .is_none();
        gone.then_some(())
    })
    .await;
    h.shutdown().await;
}

/// One stored QservCluster that does not decode as the type (here stored under a schema that
/// let anything through, as an older CRD or a server without validation would) is reported and
/// skipped; the other clusters are still reconciled. With kube-runtime's typed watcher a
/// controller started after it failed every list and reconciled no cluster at all.
#[tokio::test]
async fn a_cluster_that_does_not_decode_is_skipped_and_the_others_are_reconciled() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject};
    let h = Harness::start("ctl-tolerant").await;
    // A QservCluster CRD whose spec schema accepts anything.
    let crds: Api<CustomResourceDefinition> = Api::all(h.client.clone());
    let mut crd =
        serde_json::to_value(crds.get("qservclusters.qserv.in2p3.fr").await.unwrap()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        .as_object_mut()
        .unwrap()
        .remove("x-kubernetes-validations");
    crds.replace(
        "qservclusters.qserv.in2p3.fr",
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let resource = ApiResource::erase::<QservCluster>(&());
    let dynamic: Api<DynamicObject> =
        Api::namespaced_with(h.client.clone(), &h.namespace, &resource);
    let mut bad = DynamicObject::new("bad", &resource);
    bad.data = json!({"spec": {"workers": {"replicas": "two"}}});
    dynamic.create(&PostParams::default(), &bad).await.unwrap();
    let skipped_before = qserv_operator::metrics::global().undecodable_count("cluster");
    // A controller that starts now lists the bad object first (a typed list fails on it).
    let mut h = h;
    h.restart_controller().await;

    h.apply_cluster(ci_cluster("good")).await;
    let statefulsets = h.all_statefulsets().await;
    assert!(
        statefulsets
            .iter()
            .all(|s| s.name_any().starts_with("good-"))
    );
    let good = eventually("the good cluster's status", || async {
        h.cluster("good")
            .await
            .status
            .filter(|s| s.observed_generation.is_some())
    })
    .await;
    assert!(good.phase.is_some());
    eventually("the bad cluster counted as skipped", || async {
        (qserv_operator::metrics::global().undecodable_count("cluster") > skipped_before)
            .then_some(())
    })
    .await;
    // A Warning Event on the bad one says why it is skipped.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(h.client.clone(), &h.namespace);
    let event = eventually("an Undecodable event", || async {
        let all = events.list(&ListParams::default()).await.ok()?.items;
        all.into_iter().find(|e| {
            e.reason.as_deref() == Some("Undecodable")
                && e.involved_object.name.as_deref() == Some("bad")
        })
    })
    .await;
    let message = event.message.unwrap_or_default();
    assert!(
        message.contains("skipped by the cluster controller") && message.contains("expected i32"),
        "{message}"
    );
    // The bad one got nothing.
    let stored = dynamic.get("bad").await.unwrap();
    assert!(stored.data.get("status").is_none(), "{:?}", stored.data);
    h.shutdown().await;
}
