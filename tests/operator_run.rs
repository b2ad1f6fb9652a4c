//! `qserv-operator run` as a process against the embedded API server: metrics and health
//! endpoints with real values after a reconcile, and leader election between two replicas —
//! only one reconciles, the other takes over when the first is killed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{Patch, PatchParams};
use qserv_local::apiserver::{LocalApiServer, Options};
use qserv_operator::api::QservCluster;

const LEASE: &str = "qserv-operator-leader";

struct Operator {
    name: &'static str,
    child: Child,
    metrics_port: u16,
}

impl Operator {
    fn start(name: &'static str, kubeconfig: &PathBuf, log_dir: &std::path::Path) -> Operator {
        let metrics_port = free_port();
        let log = std::fs::File::create(log_dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
            .args([
                "run",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
                "--lease-duration",
                "3",
                "--namespace",
                "default",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", name)
            .env("POD_NAMESPACE", "default")
            .env_remove("WATCH_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Operator {
            name,
            child,
            metrics_port,
        }
    }

    /// A plain HTTP/1.0 GET: status code and body.
    async fn get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port))
            .await
            .ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let code = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_string();
        Some((code, body))
    }

    /// The value of a metric line (`name{labels} value`), 0 when absent.
    async fn metric(&self, line_start: &str) -> f64 {
        let Some((_, text)) = self.get("/metrics").await else {
            return -1.0;
        };
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .ok()
        .flatten()?
        .spec?
        .holder_identity
}

#[tokio::test]
async fn one_leader_reconciles_and_a_standby_takes_over_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let server = LocalApiServer::start(Options {
        kubeconfig_out: Some(kubeconfig.clone()),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = server.client().unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");

    let mut ops = vec![
        Operator::start("op-a", &kubeconfig, dir.path()),
        Operator::start("op-b", &kubeconfig, dir.path()),
    ];

    // Both serve their probes; exactly one holds the lease.
    for op in &ops {
        wait_until(
            &format!("{} ready", op.name),
            Duration::from_secs(30),
            || async { op.get("/readyz").await.is_some_and(|(code, _)| code == 200) },
        )
        .await;
        assert_eq!(op.get("/healthz").await.unwrap().0, 200);
    }
    wait_until("a lease holder", Duration::from_secs(20), || async {
        holder(&leases).await.is_some()
    })
    .await;
    let first = holder(&leases).await.unwrap();
    let li = ops
        .iter()
        .position(|o| o.name == first)
        .expect("holder is one of ours");
    let si = 1 - li;
    wait_until("leader gauge", Duration::from_secs(10), || async {
        ops[li].metric("qserv_operator_leader ").await == 1.0
    })
    .await;
    assert_eq!(ops[si].metric("qserv_operator_leader ").await, 0.0);

    // A QservCluster is reconciled by the leader only; its metrics show it.
    let manifest: serde_json::Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    Api::<QservCluster>::namespaced(client.clone(), "default")
        .patch(
            "qserv-ci",
            &PatchParams::apply("test"),
            &Patch::Apply(&manifest),
        )
        .await
        .unwrap();
    let reconciles = "qserv_operator_reconciles_total{controller=\"qservcluster\"}";
    wait_until("leader reconciles", Duration::from_secs(20), || async {
        ops[li].metric(reconciles).await >= 1.0
    })
    .await;
    let duration_count =
        "qserv_operator_reconcile_duration_seconds_count{controller=\"qservcluster\"}";
    assert!(ops[li].metric(duration_count).await >= 1.0);
    assert_eq!(
        ops[si].metric(reconciles).await,
        0.0,
        "the standby reconciled"
    );

    // Kill the leader: the standby takes the lease within its duration (3 s) plus a margin.
    let killed_at = Instant::now();
    ops[li].child.kill().unwrap();
    ops[li].child.wait().unwrap();
    let survivor = &ops[si];
    wait_until("the standby leads", Duration::from_secs(15), || async {
        holder(&leases).await.as_deref() == Some(survivor.name)
    })
    .await;
    println!(
        "failover took {:?} (lease duration 3 s)",
        killed_at.elapsed()
    );
    wait_until(
        "the new leader reconciles",
        Duration::from_secs(20),
        || async { survivor.metric(reconciles).await >= 1.0 },
    )
    .await;
    assert_eq!(survivor.metric("qserv_operator_leader ").await, 1.0);
    drop(ops);
    server.shutdown().await;
}
