//! Helpers of the end-to-end tests on local mode: the real kubectl against its API server,
//! polling with a deadline (and a dump of what the API server holds when it runs out), and
//! manifests of the examples pointed at the shared test data.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use qserv_local::{LocalMode, LocalOptions};
use qserv_operator::api::catalog_ingest::{CatalogIngestStatus, IngestPhase};
use qserv_operator::api::{CatalogIngest, QservCluster};
use qserv_operator::qserv::replication::ReplicationClient;

pub const KUBECTL: &str = "/usr/bin/kubectl";

/// `../shared/data`.
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// Local mode in a fresh temporary state directory, Jobs running this crate's binary. With
/// `QSERV_TEST_KEEP` set the directory (logs, data, reports) is kept for a post-mortem.
pub async fn start(test: &str, controllers: bool) -> (LocalMode, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("qserv-e2e-{test}-"))
        .disable_cleanup(std::env::var_os("QSERV_TEST_KEEP").is_some())
        .tempdir()
        .unwrap();
    let local = LocalMode::start(LocalOptions {
        state_dir: dir.path().to_path_buf(),
        operator_binary: Some(env!("CARGO_BIN_EXE_qserv-operator").into()),
        controllers,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    (local, dir)
}

pub async fn kubectl(local: &LocalMode, args: &[&str]) -> Output {
    let kubeconfig = local.kubeconfig().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&args)
            .output()
            .expect("kubectl runs")
    })
    .await
    .unwrap()
}

pub async fn kubectl_ok(local: &LocalMode, args: &[&str]) -> String {
    let out = kubectl(local, args).await;
    if !out.status.success() {
        dump(local).await;
    }
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply --server-side` of a manifest given as a value.
pub async fn apply(local: &LocalMode, manifest: &serde_json::Value) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(manifest).unwrap()).unwrap();
    kubectl_ok(
        local,
        &[
            "apply",
            "--server-side",
            "-f",
            file.path().to_str().unwrap(),
        ],
    )
    .await;
}

/// An example manifest of `examples/` as a value.
pub fn example(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An example CatalogIngest reading its files from `dir` of this machine (`source.path`, as
/// local mode's Jobs see the host's files), under another name and database when given.
pub fn ingest_from(example_file: &str, dir: &Path, rename: Option<&str>) -> serde_json::Value {
    let mut m = example(example_file);
    m["spec"]["source"] = serde_json::json!({ "path": dir.display().to_string() });
    if let Some(name) = rename {
        m["metadata"]["name"] = name.into();
        m["spec"]["database"] = name.replace('-', "_").into();
    }
    m
}

/// What the API server holds (clusters, ingests, pods, Jobs), printed when a wait times out.
pub async fn dump(local: &LocalMode) {
    let client = local.client();
    let lp = ListParams::default();
    for c in Api::<QservCluster>::all(client.clone())
        .list(&lp)
        .await
        .unwrap()
    {
        println!(
            "--- qsc {} status: {}",
            c.name_any(),
            serde_json::to_string_pretty(&c.status).unwrap()
        );
    }
    for c in Api::<CatalogIngest>::all(client.clone())
        .list(&lp)
        .await
        .unwrap()
    {
        println!(
            "--- cing {} status: {}",
            c.name_any(),
            serde_json::to_string_pretty(&c.status).unwrap()
        );
    }
    for j in Api::<Job>::all(client.clone()).list(&lp).await.unwrap() {
        println!(
            "--- job {} status: {}",
            j.name_any(),
            serde_json::to_string(&j.status).unwrap()
        );
    }
    for p in Api::<Pod>::all(client.clone()).list(&lp).await.unwrap() {
        let status = p.status.clone().unwrap_or_default();
        let containers: Vec<String> = status
            .container_statuses
            .iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} ready={} restarts={} state={}",
                    c.name,
                    c.ready,
                    c.restart_count,
                    serde_json::to_string(&c.state).unwrap()
                )
            })
            .collect();
        println!(
            "--- pod {} phase={:?} {:?}",
            p.name_any(),
            status.phase,
            containers
        );
    }
}

/// Polls `probe` every 200 ms until it gives a value; after `secs`, dumps the API server's
/// objects and panics naming `what`.
pub async fn eventually<T, F, Fut>(local: &LocalMode, what: &str, secs: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            dump(local).await;
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The replication stand-in's view: the database's transactions' states and whether it is
/// published (`None`: it was never registered).
pub async fn replication_state(local: &LocalMode, database: &str) -> Option<(bool, Vec<String>)> {
    let addr = local.resolve("qserv-ci-repl", 8080).unwrap();
    let secret: k8s_openapi::api::core::v1::Secret = Api::namespaced(local.client(), "default")
        .get("qserv-ci-secrets")
        .await
        .unwrap();
    let key = |k: &str| String::from_utf8(secret.data.as_ref().unwrap()[k].0.clone()).unwrap();
    let client = ReplicationClient::new(
        &format!("http://{addr}"),
        &key("replication-auth-key"),
        &key("replication-admin-auth-key"),
    )
    .unwrap();
    let db = client
        .databases()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.database == database)?;
    // Oldest first: the ids grow with each transaction begun.
    let mut transactions = client.list_transactions(database).await.unwrap();
    transactions.sort_by_key(|t| t.id);
    let states = transactions.into_iter().map(|t| t.state).collect();
    Some((db.is_published, states))
}

/// Applies the example QservCluster with kubectl and waits until kubectl says it is Ready.
pub async fn ready_cluster(local: &LocalMode) {
    kubectl_ok(
        local,
        &[
            "apply",
            "--server-side",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/qservcluster-ci.yaml"),
        ],
    )
    .await;
    kubectl_ok(
        local,
        &[
            "wait",
            "--for=condition=Ready",
            "qsc/qserv-ci",
            "--timeout=180s",
        ],
    )
    .await;
}

/// Waits for the ingest to end (Succeeded or Failed) and returns its status.
pub async fn finished(local: &LocalMode, name: &str, secs: u64) -> CatalogIngestStatus {
    let api: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    eventually(local, &format!("cing/{name} to end"), secs, || async {
        let status = api.get(name).await.ok()?.status?;
        matches!(
            status.phase,
            Some(IngestPhase::Succeeded | IngestPhase::Failed)
        )
        .then_some(status)
    })
    .await
}

/// A connection to a Service of the cluster as local mode serves it, as `user`; qsmaster logs in with the cluster Secret's password (the czar's,
/// see `cluster/build/czar.rs`), root with its MariaDB root password.
pub async fn connect(local: &LocalMode, service: &str, port: u16, user: &str) -> mysql_async::Conn {
    let addr = local.resolve(service, port).unwrap();
    let key = match user {
        "qsmaster" => Some("qsmaster-password"),
        "root" => Some("mariadb-root-password"),
        _ => None,
    };
    let password = match key {
        Some(key) => {
            let secret: k8s_openapi::api::core::v1::Secret =
                Api::namespaced(local.client(), "default")
                    .get("qserv-ci-secrets")
                    .await
                    .unwrap();
            let pw = &secret.data.as_ref().unwrap()[key].0;
            format!(":{}", String::from_utf8(pw.clone()).unwrap())
        }
        None => String::new(),
    };
    mysql_async::Conn::from_url(format!("mysql://{user}{password}@{addr}"))
        .await
        .unwrap()
}
