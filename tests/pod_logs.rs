//! `kubectl logs` against local mode: the real kubectl reads a container's log through the
//! embedded API server's `pods/{name}/log`, served from the local runtime's log files. The
//! containers run this binary's `validate` on files of a hostPath volume, so what they print
//! is known, and a FIFO holds one until the test writes to it (follow sees lines written after
//! it started).

mod common;

use std::path::Path;
use std::time::Duration;

use common::local::{KUBECTL, apply, eventually, kubectl, kubectl_ok, start};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use qserv_local::LocalMode;
use serde_json::{Value, json};

const CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/qservcluster-ci.yaml");

/// A container running `qserv-operator validate` on files of the volume `data` (at `/data`).
fn validate(name: &str, files: &[&str]) -> Value {
    let mut args = vec!["validate".to_string()];
    args.extend(files.iter().map(|f| format!("/data/{f}")));
    json!({"name": name, "image": "qserv-operator:local", "command": ["qserv-operator"],
           "args": args, "volumeMounts": [{"name": "data", "mountPath": "/data"}]})
}

fn pod(name: &str, restart: &str, dir: &Path, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"restartPolicy": restart, "containers": containers,
                    "volumes": [{"name": "data", "hostPath": {"path": dir.display().to_string()}}]}})
}

/// What `validate` prints for the example cluster manifest copied to `dir/file`.
fn ok_line(dir: &Path, file: &str) -> String {
    format!(
        "ok    {}/{file} QservCluster/qserv-ci (document 0)\n",
        dir.display()
    )
}

async fn pod_where(local: &LocalMode, name: &str, what: &str, cond: impl Fn(&Pod) -> bool) -> Pod {
    let pods: Api<Pod> = Api::namespaced(local.client(), "default");
    eventually(local, &format!("pod {name}: {what}"), 120, || async {
        pods.get(name).await.ok().filter(|p| cond(p))
    })
    .await
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref()?.phase.as_deref()
}

fn running(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
}

/// kubectl's stderr, for a command that must fail.
async fn refused(local: &LocalMode, args: &[&str]) -> String {
    let out = kubectl(local, args).await;
    assert!(!out.status.success(), "kubectl {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(CLUSTER, dir.path().join("cluster.yaml")).unwrap();
    std::fs::copy(CLUSTER, dir.path().join("again.yaml")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_prints_a_containers_log_with_its_options_and_errors() {
    let (local, _state) = start("pod-logs", false).await;
    let data = data_dir();
    let dir = data.path();
    apply(
        &local,
        &pod(
            "two",
            "Never",
            dir,
            json!([
                validate("first", &["cluster.yaml", "again.yaml"]),
                validate("second", &["cluster.yaml"])
            ]),
        ),
    )
    .await;
    // A container that cannot start: its environment names a Secret that does not exist.
    let mut waiting = validate("main", &["cluster.yaml"]);
    waiting["env"] =
        json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]);
    apply(&local, &pod("waiting", "Never", dir, json!([waiting]))).await;
    pod_where(&local, "two", "Succeeded", |p| {
        phase(p) == Some("Succeeded")
    })
    .await;

    let both = ok_line(dir, "cluster.yaml") + &ok_line(dir, "again.yaml");
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "-c", "first"]).await,
        both
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "--container=second"]).await,
        ok_line(dir, "cluster.yaml")
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "-c", "first", "--tail=1"]).await,
        ok_line(dir, "again.yaml")
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "-c", "first", "--limit-bytes=6"]).await,
        "ok    "
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "-c", "first", "--since=1h"]).await,
        both
    );
    let tomorrow = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let since = format!("--since-time={tomorrow}");
    assert_eq!(
        kubectl_ok(&local, &["logs", "two", "-c", "first", &since]).await,
        ""
    );
    // Each line after the time its run wrote it.
    let stamped = kubectl_ok(&local, &["logs", "two", "-c", "first", "--timestamps"]).await;
    let created = pod_where(&local, "two", "exists", |_| true)
        .await
        .metadata
        .creation_timestamp
        .unwrap()
        .0;
    for (line, expected) in stamped.lines().zip(both.lines()) {
        let (time, rest) = line.split_once(' ').unwrap();
        let time: jiff::Timestamp = time.parse().unwrap();
        assert!(time >= created && time <= jiff::Timestamp::now(), "{line}");
        assert_eq!(rest, expected);
    }
    assert_eq!(stamped.lines().count(), 2);

    // kubectl picks the container itself (the first one, and says so); the server wants it
    // named.
    let out = kubectl(&local, &["logs", "two"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), both);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Defaulted container \"first\" out of: first, second"
    );
    assert_eq!(
        refused(
            &local,
            &["get", "--raw", "/api/v1/namespaces/default/pods/two/log"]
        )
        .await,
        "Error from server (BadRequest): a container name must be specified for pod two, choose \
         one of: [first second]"
    );
    assert_eq!(
        refused(&local, &["logs", "two", "-c", "third"]).await,
        "error: container third is not valid for pod two"
    );
    assert_eq!(
        refused(
            &local,
            &[
                "get",
                "--raw",
                "/api/v1/namespaces/default/pods/two/log?container=third"
            ]
        )
        .await,
        "Error from server (BadRequest): container third is not valid for pod two"
    );
    assert_eq!(
        refused(&local, &["logs", "nope"]).await,
        "error: error from server (NotFound): pods \"nope\" not found in namespace \"default\""
    );
    assert_eq!(
        refused(&local, &["logs", "two", "-c", "first", "--previous"]).await,
        "Error from server (BadRequest): previous terminated container \"first\" in pod \"two\" \
         not found"
    );
    assert_eq!(
        refused(
            &local,
            &[
                "get",
                "--raw",
                "/api/v1/namespaces/default/pods/two/log?container=first&tailLines=-1"
            ]
        )
        .await,
        "The PodLogOptions \"two\" is invalid: tailLines: Invalid value: -1: must be greater than \
         or equal to 0"
    );
    pod_where(&local, "waiting", "waiting on its Secret", |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs[0]
                    .state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("CreateContainerConfigError")
            })
    })
    .await;
    assert_eq!(
        refused(&local, &["logs", "waiting"]).await,
        "Error from server (BadRequest): container \"main\" in pod \"waiting\" is waiting to \
         start: CreateContainerConfigError"
    );

    // Discovery names the subresource where kubectl and RBAC look for it.
    let v1: Value =
        serde_json::from_str(&kubectl_ok(&local, &["get", "--raw", "/api/v1"]).await).unwrap();
    let log = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/log")
        .cloned();
    assert_eq!(log.map(|l| l["verbs"].clone()), Some(json!(["get"])));
    local.shutdown().await;
}

/// A container that failed and then succeeded: its log is the run that succeeded, `--previous`
/// the run before, which failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_is_the_run_before_a_restart() {
    let (local, _state) = start("pod-logs-previous", false).await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    apply(
        &local,
        &pod(
            "later",
            "OnFailure",
            dir,
            json!([validate("main", &["later.yaml"])]),
        ),
    )
    .await;
    pod_where(&local, "later", "restarted", |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| cs[0].restart_count >= 1)
    })
    .await;
    // Whichever run sees the file succeeds and ends the pod; the run before it failed.
    std::fs::copy(CLUSTER, dir.join("later.yaml")).unwrap();
    pod_where(&local, "later", "Succeeded", |p| {
        phase(p) == Some("Succeeded")
    })
    .await;
    assert_eq!(
        kubectl_ok(&local, &["logs", "later"]).await,
        ok_line(dir, "later.yaml")
    );
    let previous = kubectl_ok(&local, &["logs", "later", "--previous"]).await;
    let missing = format!(
        "Error: reading {}/later.yaml: No such file or directory",
        dir.display()
    );
    assert!(previous.starts_with(&missing), "{previous}");
    assert!(!previous.contains("ok    "), "{previous}");
    local.shutdown().await;
}

/// `validate` of a FIFO opens it and waits for a writer: the container runs, silent, until the
/// test writes the manifest into it.
fn fifo(dir: &Path, name: &str) {
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success());
}

async fn feed(dir: &Path, name: &str) {
    let path = dir.join(name);
    tokio::task::spawn_blocking(move || {
        std::fs::write(path, std::fs::read(CLUSTER).unwrap()).unwrap();
    })
    .await
    .unwrap();
}

/// `kubectl logs -f` as a child process, its stdout piped.
fn follow(local: &LocalMode, target: &str) -> tokio::process::Child {
    tokio::process::Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(local.kubeconfig())
        .args(["logs", "-f", target])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn streams_open(local: &LocalMode, n: usize) {
    eventually(local, &format!("{n} open log streams"), 60, || async {
        (local.server().open_log_streams() == n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_until_the_container_ends_and_a_client_leaving_ends_it() {
    let (local, _state) = start("pod-logs-follow", false).await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    fifo(dir, "fed.yaml");
    fifo(dir, "abandoned.yaml");
    apply(
        &local,
        &pod(
            "fed",
            "Never",
            dir,
            json!([validate("main", &["fed.yaml"])]),
        ),
    )
    .await;
    apply(
        &local,
        &pod(
            "abandoned",
            "Never",
            dir,
            json!([validate("main", &["abandoned.yaml"])]),
        ),
    )
    .await;
    pod_where(&local, "fed", "running", running).await;
    pod_where(&local, "abandoned", "running", running).await;

    // The line is written after kubectl follows; kubectl ends when the container does.
    let kubectl = follow(&local, "fed");
    streams_open(&local, 1).await;
    feed(dir, "fed.yaml").await;
    let out = tokio::time::timeout(Duration::from_secs(120), kubectl.wait_with_output())
        .await
        .expect("kubectl logs -f ends with its container")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        ok_line(dir, "fed.yaml")
    );
    assert_eq!(
        phase(&pod_where(&local, "fed", "ended", |p| phase(p) == Some("Succeeded")).await),
        Some("Succeeded")
    );
    streams_open(&local, 0).await;

    // A follower that goes away while the container still runs leaves nothing behind.
    let mut kubectl = follow(&local, "abandoned");
    streams_open(&local, 1).await;
    kubectl.kill().await.unwrap();
    streams_open(&local, 0).await;
    assert!(running(
        &pod_where(&local, "abandoned", "exists", |_| true).await
    ));
    feed(dir, "abandoned.yaml").await;
    pod_where(&local, "abandoned", "Succeeded", |p| {
        phase(p) == Some("Succeeded")
    })
    .await;
    local.shutdown().await;
}

/// `kubectl logs job/NAME` finds the Job's pod through the selector the API server gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_of_a_job_reads_its_pod() {
    let (local, _state) = start("pod-logs-job", false).await;
    let data = data_dir();
    let dir = data.path();
    let template = pod(
        "unused",
        "Never",
        dir,
        json!([validate("main", &["cluster.yaml"])]),
    );
    apply(
        &local,
        &json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "check", "namespace": "default"},
                "spec": {"template": {"spec": template["spec"].clone()}}}),
    )
    .await;
    // Another pod in the namespace, which the Job's selector must not pick.
    apply(
        &local,
        &pod(
            "bystander",
            "Never",
            dir,
            json!([validate("main", &["again.yaml"])]),
        ),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(local.client(), "default");
    let job = eventually(&local, "job/check Complete", 120, || async {
        let j = jobs.get("check").await.ok()?;
        (j.status.as_ref()?.succeeded == Some(1)).then_some(j)
    })
    .await;
    let uid = job.metadata.uid.clone().unwrap();
    assert_eq!(
        job.spec.unwrap().selector.unwrap().match_labels.unwrap(),
        [("batch.kubernetes.io/controller-uid".to_string(), uid)].into()
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "job/check"]).await,
        ok_line(dir, "cluster.yaml")
    );
    local.shutdown().await;
}
