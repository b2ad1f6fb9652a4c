//! The real kubectl (/usr/bin/kubectl) against the embedded API server of local mode: the proof
//! that a real client works. Skipped, loudly, only when kubectl is not installed.

use std::path::{Path, PathBuf};
use std::process::Output;

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use qserv_local::apiserver::{LocalApiServer, Options};
use serde_json::Value;

const KUBECTL: &str = "/usr/bin/kubectl";

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// A server with a kubeconfig, and a private kubectl cache, in a scratch directory.
struct Local {
    server: LocalApiServer,
    dir: PathBuf,
}

impl Local {
    async fn start(test: &str) -> Option<Local> {
        if !Path::new(KUBECTL).exists() {
            eprintln!(
                "!!!!! SKIPPED {test}: {KUBECTL} is not installed, kubectl tests did not run !!!!!"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("qserv-kubectl-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = LocalApiServer::start(Options {
            kubeconfig_out: Some(dir.join("kubeconfig")),
            ..Options::default()
        })
        .await
        .expect("server starts");
        Some(Local { server, dir })
    }

    /// Runs kubectl off the async runtime so the server keeps serving meanwhile.
    async fn kubectl(&self, args: &[&str]) -> Output {
        let kubeconfig = self
            .server
            .kubeconfig_path()
            .expect("kubeconfig written")
            .to_path_buf();
        let cache = self.dir.join("cache");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(KUBECTL)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(&cache)
                .args(&args)
                .output()
                .expect("kubectl runs")
        })
        .await
        .expect("kubectl task")
    }

    /// kubectl that must succeed; returns its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl that must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("manifest written");
        path.display().to_string()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_crds_and_examples_and_prints_columns() {
    let Some(local) = Local::start("apply").await else {
        return;
    };
    let out = local
        .ok(&["apply", "--server-side", "-f", &repo("crds")])
        .await;
    assert!(
        out.contains("qservclusters.qserv.in2p3.fr serverside-applied"),
        "{out}"
    );
    let out = local
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            &repo("examples/qservcluster-ci.yaml"),
        ])
        .await;
    assert!(
        out.contains("qservcluster.qserv.in2p3.fr/qserv-ci serverside-applied"),
        "{out}"
    );
    // Field ownership: a patch takes spec.workers.replicas over; re-applying the manifest then
    // conflicts, as on a real server, until forced.
    let example = repo("examples/qservcluster-ci.yaml");
    local
        .ok(&[
            "patch",
            "qsc",
            "qserv-ci",
            "--type=merge",
            "-p",
            r#"{"spec":{"workers":{"replicas":3}}}"#,
        ])
        .await;
    let conflict = local
        .fails(&["apply", "--server-side", "-f", &example])
        .await;
    assert!(
        conflict.contains("conflict with \"kubectl-patch\""),
        "{conflict}"
    );
    assert!(conflict.contains(".spec.workers.replicas"), "{conflict}");
    local
        .ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &example,
        ])
        .await;
    let replicas = local
        .ok(&[
            "get",
            "qsc",
            "qserv-ci",
            "-o",
            "jsonpath={.spec.workers.replicas}",
        ])
        .await;
    assert_eq!(replicas, "2");

    let table = local.ok(&["get", "qsc"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["NAME", "READY", "PHASE", "WORKERS", "AGE"],
        "{table}"
    );
    assert_eq!(words(lines[1])[0], "qserv-ci", "{table}");
    let wide = local.ok(&["get", "qservclusters", "-o", "wide"]).await;
    assert!(
        words(wide.lines().next().unwrap_or_default()).contains(&"EXPIRES"),
        "{wide}"
    );

    // Client-side apply (last-applied annotation, merge patch on the second run).
    let ingest = repo("examples/catalogingest-macs2243.yaml");
    assert!(
        local
            .ok(&["apply", "-f", &ingest])
            .await
            .contains("created")
    );
    // The second run re-sends the `checks` list (the server defaulted `sort` in it, as a real
    // one does); after defaulting nothing changed, so the generation stays.
    local.ok(&["apply", "-f", &ingest]).await;
    let generation = local
        .ok(&[
            "get",
            "cing",
            "macs2243",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    assert_eq!(generation, "1");
    let yaml = local.ok(&["get", "cing", "-o", "yaml"]).await;
    let list: Value = serde_norway::from_str(&yaml).expect("kubectl printed YAML");
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "CatalogIngest");
    assert_eq!(list["items"][0]["spec"]["database"], "clusters_macs2243");
    assert_eq!(list["items"][0]["spec"]["partitioning"]["stripes"], 340);

    let all = local.ok(&["get", "qserv"]).await;
    assert!(
        all.contains("qservcluster.qserv.in2p3.fr/qserv-ci"),
        "{all}"
    );
    assert!(
        all.contains("catalogingest.qserv.in2p3.fr/macs2243"),
        "{all}"
    );
    // Every example goes through kubectl's own YAML parsing (a bare `null:` key once did not).
    let out = local
        .ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &repo("examples"),
        ])
        .await;
    for name in [
        "catalogingest.qserv.in2p3.fr/case01",
        "catalogingest.qserv.in2p3.fr/macs2243",
    ] {
        assert!(out.contains(&format!("{name} serverside-applied")), "{out}");
    }
    let case01 = local
        .ok(&[
            "get",
            "cing",
            "case01",
            "-o",
            "jsonpath={.spec.tables[0].csv.nullToken}",
        ])
        .await;
    assert_eq!(case01, "\\N");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_status_patch_wait_describe_delete() {
    let Some(local) = Local::start("wait").await else {
        return;
    };
    local
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            &repo("examples/qservcluster-ci.yaml"),
        ])
        .await;
    let not_yet = local
        .fails(&[
            "wait",
            "--for=condition=Ready",
            "qsc/qserv-ci",
            "--timeout=1s",
        ])
        .await;
    assert!(not_yet.contains("timed out"), "{not_yet}");

    let ready = r#"{"status":{"phase":"Ready","components":{"czar":"1/1","workers":"2/2","xrootd":"1/1","replicationController":"1/1","replicationRegistry":"1/1","replicationDatabase":"1/1"},"conditions":[{"type":"Ready","status":"True","reason":"AllReady","message":"all components ready","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    local
        .ok(&[
            "patch",
            "qsc",
            "qserv-ci",
            "--subresource=status",
            "--type=merge",
            "-p",
            ready,
        ])
        .await;
    let out = local
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "qsc/qserv-ci",
            "--timeout=10s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    let table = local.ok(&["get", "qsc", "qserv-ci", "--no-headers"]).await;
    assert_eq!(
        &words(&table)[..4],
        ["qserv-ci", "True", "Ready", "2/2"],
        "{table}"
    );

    // `get -w` asks for a watch of Tables; the stream ends with the request timeout.
    let watched = local
        .ok(&[
            "get",
            "qsc",
            "-w",
            "--output-watch-events",
            "--request-timeout=2s",
        ])
        .await;
    let lines: Vec<&str> = watched.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["EVENT", "NAME", "READY", "PHASE", "WORKERS", "AGE"],
        "{watched}"
    );
    assert_eq!(
        &words(lines[1])[..4],
        ["ADDED", "qserv-ci", "True", "Ready"],
        "{watched}"
    );

    // An event recorded the way our controllers do (kube-runtime's Recorder, events.k8s.io/v1)
    // shows in describe, which reads core/v1 events.
    let client = local.server.client().expect("client");
    let qsc: kube::Api<qserv_operator::api::QservCluster> =
        kube::Api::default_namespaced(client.clone());
    let obj = qsc.get("qserv-ci").await.expect("qserv-ci");
    let recorder = Recorder::new(client, Reporter::from("qserv-operator"));
    let event = Event {
        type_: EventType::Normal,
        reason: "WorkersReady".into(),
        note: Some("2 of 2 workers ready".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &kube::Resource::object_ref(&obj, &()))
        .await
        .expect("event recorded");

    let described = local.ok(&["describe", "qsc", "qserv-ci"]).await;
    for expected in [
        "Name:",
        "qserv-ci",
        "QservCluster",
        "Replicas:",
        "AllReady",
        "Events:",
        "WorkersReady",
        "2 of 2 workers ready",
    ] {
        assert!(
            described.contains(expected),
            "missing {expected:?} in:\n{described}"
        );
    }

    let out = local.ok(&["delete", "qsc", "qserv-ci"]).await;
    assert!(
        out.contains("qservcluster.qserv.in2p3.fr \"qserv-ci\" deleted"),
        "{out}"
    );
    let gone = local.fails(&["get", "qsc", "qserv-ci"]).await;
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_rule_violations_and_unknown_fields_rejected() {
    let Some(local) = Local::start("invalid").await else {
        return;
    };
    let example = std::fs::read_to_string(repo("examples/qservcluster-ci.yaml")).expect("example");
    let zero = local.write("zero.yaml", &example.replace("replicas: 2", "replicas: 0"));
    let err = local.fails(&["apply", "--server-side", "-f", &zero]).await;
    assert!(err.contains("workers.replicas must be >= 1"), "{err}");
    assert!(err.contains("spec.workers.replicas"), "{err}");

    let typo = local.write("typo.yaml", &example.replace("replicas: 2", "replica: 2"));
    let err = local.fails(&["apply", "-f", &typo]).await;
    assert!(
        err.contains("unknown field \"spec.workers.replica\""),
        "{err}"
    );
    let empty = local.ok(&["get", "qsc", "-o", "name"]).await;
    assert_eq!(empty.trim(), "", "nothing invalid was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_with_built_in_kinds() {
    let Some(local) = Local::start("builtins").await else {
        return;
    };
    // kubectl's generators send protobuf, which the server understands for these kinds.
    local.ok(&["create", "namespace", "qserv"]).await;
    local
        .ok(&["create", "configmap", "czar", "--from-literal=role=czar"])
        .await;
    local
        .ok(&[
            "create",
            "secret",
            "generic",
            "pw",
            "--from-literal=password=s3cret",
        ])
        .await;
    let password = local
        .ok(&["get", "secret", "pw", "-o", "jsonpath={.data.password}"])
        .await;
    assert_eq!(password, "czNjcmV0", "base64 of s3cret");
    let refused = local
        .fails(&["create", "deployment", "x", "--image=nginx"])
        .await;
    assert!(refused.contains("protobuf"), "{refused}");
    let manifest = local.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  x: y\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: qsmaster\n",
    );
    local.ok(&["apply", "-f", &manifest]).await;
    let user = local
        .ok(&["get", "secret", "db", "-o", "jsonpath={.data.user}"])
        .await;
    assert_eq!(user, "cXNtYXN0ZXI=", "stringData merged into data");
    local.ok(&["label", "configmap", "czar", "app=qserv"]).await;
    let selected = local
        .ok(&["get", "cm", "-l", "app=qserv", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "configmap/czar");
    let namespaces = local.ok(&["get", "ns", "-o", "name"]).await;
    assert!(namespaces.contains("namespace/qserv"), "{namespaces}");
    let value = local
        .ok(&["get", "cm", "czar", "-o", "jsonpath={.data.role}"])
        .await;
    assert_eq!(value, "czar");
    // Client-side apply of a built-in: the second run sends a strategic merge patch carrying
    // only the changed container; the other container and the env must survive.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
         selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
         spec:\n      containers:\n      - name: a\n        image: nginx:1\n        env: [{name: X, value: \"1\"}]\n      \
         - name: b\n        image: busybox\n";
    let first = local.write("web.yaml", deployment);
    local.ok(&["apply", "-f", &first]).await;
    let second = local.write("web2.yaml", &deployment.replace("nginx:1", "nginx:2"));
    local.ok(&["apply", "-f", &second]).await;
    let containers = local
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers}",
        ])
        .await;
    let containers: Value = serde_json::from_str(&containers).expect("JSON");
    assert_eq!(
        containers,
        serde_json::json!([{"name": "a", "image": "nginx:2", "env": [{"name": "X", "value": "1"}]},
                           {"name": "b", "image": "busybox"}])
    );
    let generation = local
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    assert_eq!(generation, "2");

    local.ok(&["delete", "cm", "czar"]).await;
    let left = local.ok(&["get", "cm", "-o", "name"]).await;
    assert_eq!(left.trim(), "configmap/other");

    // PersistentVolumes are cluster-scoped (`pv`), applied server-side next to a claim naming
    // one (the demo's catalogs volume); the local runtime, absent here, would bind them.
    let volume = local.write(
        "pv.yaml",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: catalogs\nspec:\n  \
         capacity: {storage: 1Gi}\n  accessModes: [ReadOnlyMany]\n  \
         persistentVolumeReclaimPolicy: Retain\n  hostPath: {path: /data/catalogs}\n---\n\
         apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: catalogs\n  \
         namespace: qserv\nspec:\n  volumeName: catalogs\n  storageClassName: \"\"\n  \
         accessModes: [ReadOnlyMany]\n  resources: {requests: {storage: 1Gi}}\n",
    );
    let applied = local.ok(&["apply", "--server-side", "-f", &volume]).await;
    assert!(
        applied.contains("persistentvolume/catalogs serverside-applied")
            && applied.contains("persistentvolumeclaim/catalogs serverside-applied"),
        "{applied}"
    );
    let path = local
        .ok(&[
            "get",
            "pv",
            "catalogs",
            "-o",
            "jsonpath={.spec.hostPath.path}",
        ])
        .await;
    assert_eq!(path, "/data/catalogs");
    let table = local.ok(&["get", "pv"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        words(lines[0]),
        [
            "NAME", "CAPACITY", "RECLAIM", "POLICY", "STATUS", "CLAIM", "AGE"
        ]
    );
    assert_eq!(words(lines[1])[..3], ["catalogs", "1Gi", "Retain"]);
    let claims = local.ok(&["get", "pvc", "-n", "qserv"]).await;
    let claim: Vec<&str> = claims.lines().nth(1).map(words).unwrap_or_default();
    assert_eq!(claim[..1], ["catalogs"]);
    assert!(claims.contains("VOLUME"), "{claims}");
    let in_namespace = local.ok(&["get", "pv", "-n", "qserv", "-o", "name"]).await;
    assert_eq!(
        in_namespace.trim(),
        "persistentvolume/catalogs",
        "cluster-scoped"
    );
    local.ok(&["delete", "pv", "catalogs"]).await;
    assert_eq!(local.ok(&["get", "pv", "-o", "name"]).await.trim(), "");
}

/// `qserv-operator local`: writes a kubeconfig kubectl can use, serves our CRDs, and stops
/// cleanly on Ctrl-C (SIGINT).
#[test]
fn local_subcommand_serves_kubectl_until_interrupted() {
    if !Path::new(KUBECTL).exists() {
        eprintln!("!!!!! SKIPPED local_subcommand: {KUBECTL} is not installed !!!!!");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qserv-kubectl-{}-local", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let kubeconfig = dir.join("kubeconfig");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .arg("local")
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("qserv-operator local starts");
    // The kubeconfig is written once the port is bound; poll for it, with a generous bound.
    let ready = (0..400).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        kubeconfig.exists()
    });
    let run = |args: &[&str]| {
        std::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    let crds = ready.then(|| run(&["get", "crds", "-o", "name"]));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    let status = child.wait().expect("qserv-operator local exits");
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert!(ready, "no kubeconfig written; stdout: {stdout}");
    let crds = crds.expect("kubectl ran");
    let names = String::from_utf8_lossy(&crds.stdout);
    assert!(
        names
            .contains("customresourcedefinition.apiextensions.k8s.io/qservclusters.qserv.in2p3.fr"),
        "{names}\n{}",
        String::from_utf8_lossy(&crds.stderr)
    );
    assert!(interrupted.success());
    assert!(status.success(), "exit after SIGINT: {status}");
    assert!(stdout.contains("get qsc"), "usage printed: {stdout}");
}
