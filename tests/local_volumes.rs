//! PersistentVolumes with `hostPath` in local mode, through the real `kube::Client`: a claim
//! naming such a volume is Bound to it, a pod mounting the claim (with a subPath) reads and
//! writes the host directory, and deleting the claim never removes the host files (while the
//! runtime does remove the directory of a provisioned claim deleted at the same time). Also the
//! CatalogIngest controller with a `source.pvc`: it waits for the claim, then checks the files
//! behind the volume before any Job runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Resource};
use qserv_local::{LocalMode, LocalOptions};
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::IngestPhase;
use qserv_operator::api::condition::{self, READY};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Only a guard against a hang on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(120);
const NS: &str = "default";

async fn start(test: &str) -> (LocalMode, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("qserv-volumes-{test}-"))
        .tempdir()
        .unwrap();
    let local = LocalMode::start(LocalOptions {
        state_dir: dir.path().join("state"),
        operator_binary: Some(env!("CARGO_BIN_EXE_qserv-operator").into()),
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    (local, dir)
}

async fn create<K>(api: &Api<K>, obj: Value) -> K
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(obj).expect("a valid object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("created")
}

/// Waits (on watch events) until `cond` holds for `name`; the object as it then is.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, cond: impl Fn(&K) -> bool) -> K
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let got = tokio::time::timeout(
        PATIENCE,
        await_condition(api.clone(), name, move |o: Option<&K>| o.is_some_and(&cond)),
    )
    .await;
    match got {
        Ok(Ok(Some(o))) => o,
        other => {
            let now = api.get_opt(name).await;
            panic!("{name}: never {what} ({other:?}); now: {now:#?}")
        }
    }
}

fn host_volume(name: &str, path: &Path) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "hostPath": {"path": path}}})
}

fn claim_of(name: &str, volume: Option<&str>) -> Value {
    let mut c = json!({"metadata": {"name": name, "namespace": NS},
           "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "",
                    "resources": {"requests": {"storage": "1Gi"}}}});
    if let Some(v) = volume {
        c["spec"]["volumeName"] = json!(v);
    }
    c
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> Option<&str> {
    c.status.as_ref()?.phase.as_deref()
}

fn phase_of_volume(v: &PersistentVolume) -> Option<&str> {
    v.status.as_ref()?.phase.as_deref()
}

/// Every file under `dir`, relative, with its contents.
fn tree(dir: &Path) -> BTreeSet<(String, Vec<u8>)> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_on_a_host_path_volume_serves_the_host_files_and_deleting_it_keeps_them() {
    let (local, dir) = start("hostpath").await;
    let client = local.client();
    let host = dir.path().join("host");
    std::fs::create_dir_all(host.join("clusters")).unwrap();
    std::fs::copy(
        "examples/qservcluster-ci.yaml",
        host.join("clusters/cluster.yaml"),
    )
    .unwrap();
    std::fs::write(host.join("top.txt"), "outside the subPath").unwrap();

    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    create(&pvs, host_volume("catalogs", &host)).await;
    wait_for(&pvs, "catalogs", "Available", |v| {
        phase_of_volume(v) == Some("Available")
    })
    .await;
    create(&pvcs, claim_of("catalogs", Some("catalogs"))).await;
    // A provisioned claim next to it: its directory is what the runtime removes.
    create(&pvcs, claim_of("scratch", None)).await;

    let bound = wait_for(&pvcs, "catalogs", "Bound", |c| {
        phase_of_claim(c) == Some("Bound")
    })
    .await;
    let status = bound.status.unwrap();
    assert_eq!(status.capacity.unwrap()["storage"].0, "1Gi", "the volume's");
    assert_eq!(status.access_modes.unwrap(), ["ReadOnlyMany"]);
    let pv = wait_for(&pvs, "catalogs", "Bound", |v| {
        phase_of_volume(v) == Some("Bound")
    })
    .await;
    let claim_ref = pv.spec.unwrap().claim_ref.unwrap();
    assert_eq!(
        (claim_ref.namespace.as_deref(), claim_ref.name.as_deref()),
        (Some(NS), Some("catalogs"))
    );
    assert_eq!(claim_ref.uid, bound.metadata.uid);

    // One container reads through the claim's subPath, the other writes to it and to the
    // provisioned claim; both are this binary, paths rewritten to the backing directories.
    let containers = json!([
        {"name": "read", "image": "qserv-operator:local", "command": ["qserv-operator"],
         "args": ["validate", "/catalogs/cluster.yaml"],
         "volumeMounts": [{"name": "catalogs", "mountPath": "/catalogs", "subPath": "clusters"}]},
        {"name": "write", "image": "qserv-operator:local", "command": ["qserv-operator"],
         "args": ["crds", "--out-dir", "/scratch"],
         "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]},
    ]);
    create(
        &pods,
        json!({"metadata": {"name": "reader", "namespace": NS},
               "spec": {"restartPolicy": "Never", "containers": containers,
                        "volumes": [
                            {"name": "catalogs", "persistentVolumeClaim": {"claimName": "catalogs"}},
                            {"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch"}}]}}),
    )
    .await;
    wait_for(&pods, "reader", "Succeeded", |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
    })
    .await;
    let log = local.runtime().container_log(NS, "reader", "read").unwrap();
    let read = host.join("clusters/cluster.yaml");
    assert!(
        log.contains("ok") && log.contains(&read.display().to_string()),
        "validated the host file through the subPath: {log}"
    );
    let scratch = std::fs::read_dir(local.runtime().state_dir().join("volumes").join(NS))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("scratch-")
        })
        .expect("the provisioned claim's directory");
    assert!(scratch.join("qservclusters.yaml").is_file());
    let before = tree(&host);

    pods.delete("reader", &DeleteParams::default())
        .await
        .unwrap();
    pvcs.delete("catalogs", &DeleteParams::default())
        .await
        .unwrap();
    pvcs.delete("scratch", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&pvs, "catalogs", "Released", |v| {
        phase_of_volume(v) == Some("Released")
    })
    .await;
    // The runtime's cleanup ran after the claims went: the provisioned directory is gone...
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while scratch.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} not removed",
            scratch.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...and the host directory is as it was (reclaim policy Delete notwithstanding).
    assert_eq!(tree(&host), before);
    assert_eq!(before.len(), 2);

    // A claim naming a volume that does not exist stays Pending; its pod waits and says why.
    create(&pvcs, claim_of("orphan", Some("nowhere"))).await;
    create(
        &pods,
        json!({"metadata": {"name": "waiting", "namespace": NS},
               "spec": {"restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "qserv-operator:local",
                                        "command": ["qserv-operator"], "args": ["crds"],
                                        "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "orphan"}}]}}),
    )
    .await;
    let waiting = wait_for(&pods, "waiting", "a message", |p| {
        p.status.as_ref().and_then(|s| s.message.as_ref()).is_some()
    })
    .await;
    let message = waiting.status.unwrap().message.unwrap();
    assert!(
        message.contains("persistentvolume \"nowhere\" not found"),
        "{message}"
    );
    let orphan = pvcs.get("orphan").await.unwrap();
    assert_ne!(phase_of_claim(&orphan), Some("Bound"));
    local.shutdown().await;
}

fn ingest_from_claim() -> Value {
    let mut ing: Value = serde_norway::from_str(
        &std::fs::read_to_string("examples/catalogingest-macs2243.yaml").unwrap(),
    )
    .unwrap();
    ing["metadata"]["namespace"] = json!(NS);
    ing
}

fn ready_condition(ing: &CatalogIngest) -> Option<(String, String)> {
    let s = ing.status.as_ref()?;
    condition::find(&s.conditions, READY).map(|c| (c.reason.clone(), c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_from_a_claim_waits_for_it_then_checks_the_files_behind_its_volume() {
    let (local, dir) = start("ingest").await;
    let client = local.client();
    let ingests: Api<CatalogIngest> = Api::namespaced(client.clone(), NS);
    // The example, unchanged: source.pvc {claimName: catalogs, subPath: clusters}.
    create(&ingests, ingest_from_claim()).await;
    let waiting = wait_for(&ingests, "macs2243", "waiting for its claim", |i| {
        ready_condition(i).is_some_and(|(reason, _)| reason == "SourceNotFound")
    })
    .await;
    assert_eq!(
        waiting.status.as_ref().unwrap().phase,
        Some(IngestPhase::Pending)
    );
    let (_, message) = ready_condition(&waiting).unwrap();
    assert_eq!(
        message,
        "spec.source.pvc: PersistentVolumeClaim catalogs not found in namespace default"
    );

    // The claim, bound to a host directory whose clusters/ lacks the HDF5 file: the preflight
    // reads it through the volume and fails the ingest before any Job, naming the file.
    let host = dir.path().join("data");
    std::fs::create_dir_all(host.join("clusters")).unwrap();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    create(&pvs, host_volume("catalogs", &host)).await;
    create(&pvcs, claim_of("catalogs", Some("catalogs"))).await;
    let failed = wait_for(&ingests, "macs2243", "Failed", |i| {
        i.status.as_ref().and_then(|s| s.phase) == Some(IngestPhase::Failed)
    })
    .await;
    let (_, message) = ready_condition(&failed).unwrap();
    let dir_named = host.join("clusters").join("macs2243.h5");
    assert!(
        message.starts_with("spec.tables[0] (deepCoadd_meas): ")
            && message.contains(&dir_named.display().to_string()),
        "{message}"
    );
    assert!(failed.status.unwrap().jobs.is_empty(), "no Job was created");
    local.shutdown().await;
}
