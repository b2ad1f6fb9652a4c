//! The Helm chart (`charts/qserv-operator`): `helm lint --strict` and `helm template` through
//! PyPI's helm-python-sdk (Helm v4 embedded as a library, installed into `.venv` by
//! `scripts/setup.sh`), in the default (cluster-wide) and the namespaced mode; every rendered
//! object applied to the embedded API server; the RBAC rules checked against a table of what the
//! code calls and against the requests the controllers really make; the Deployment's security
//! settings and probes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::discovery::Scope;
use kube::{Api, Client, ResourceExt};
use qserv_local::apiserver::{LocalApiServer, Options};
use qserv_operator::api::{CatalogIngest, QservCluster};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const RELEASE: &str = "qo";
const NAMESPACE: &str = "qserv-system";
/// Where the Dockerfile installs the binary; the chart's container command.
const BINARY: &str = "/usr/local/bin/qserv-operator";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("charts/qserv-operator")
}

fn python(args: &[&str]) -> String {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup.sh (installs helm-python-sdk)",
        python.display()
    );
    let out = Command::new(&python)
        .arg(repo().join("tests/python/helm_chart.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "helm_chart.py {:?} failed:\n{}",
        &args[..2],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `helm lint --strict`: the findings of severity warning (2) or error (3).
fn lint_problems(chart: &Path, values: &Value) -> Vec<String> {
    let report: Value = serde_json::from_str(&python(&[
        "lint",
        chart.to_str().unwrap(),
        &values.to_string(),
    ]))
    .unwrap();
    let mut problems: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    for m in report["messages"].as_array().unwrap() {
        if m["severity"].as_i64().unwrap() >= 2 {
            problems.push(format!("{}: {}", m["path"], m["error"]));
        }
    }
    problems
}

/// `helm template`: every object of every template (NOTES.txt aside), in template order.
fn render(values: Value) -> Vec<Value> {
    let out = python(&[
        "render",
        chart().to_str().unwrap(),
        &values.to_string(),
        RELEASE,
        NAMESPACE,
    ]);
    let templates: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
    let mut objects = Vec::new();
    for (path, text) in &templates {
        if !path.ends_with(".yaml") {
            continue;
        }
        for doc in serde_norway::Deserializer::from_str(text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path} does not render to YAML: {e}\n{text}"));
            if !v.is_null() {
                objects.push(v);
            }
        }
    }
    objects
}

fn kinds(objects: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = objects
        .iter()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), name(o)))
        .collect();
    kinds.sort();
    kinds
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}: {:?}", kinds(objects));
    found[0]
}

fn namespaced_values() -> Value {
    json!({"watchNamespace": "qserv-ci"})
}

#[test]
fn helm_lint_strict_is_clean_in_both_modes() {
    for values in [
        json!({}),
        namespaced_values(),
        json!({"metrics": {"serviceMonitor": {"enabled": true}},
               "jobServiceAccount": {"namespaces": ["team-a", "team-b"]}}),
    ] {
        let problems = lint_problems(&chart(), &values);
        assert!(problems.is_empty(), "values {values}: {problems:#?}");
    }
}

#[test]
fn helm_lint_reports_a_broken_template() {
    // The lint check above must be able to fail: a copy of the chart with a template that does
    // not parse.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("qserv-operator");
    copy_dir(&chart(), &copy);
    std::fs::write(
        copy.join("templates/broken.yaml"),
        "kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }\n",
    )
    .unwrap();
    let problems = lint_problems(&copy, &json!({}));
    assert!(
        problems.iter().any(|p| p.contains("broken.yaml")),
        "{problems:#?}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn default_values_render_a_cluster_wide_operator() {
    let objects = render(json!({}));
    assert_eq!(
        kinds(&objects),
        [
            "ClusterRole/qo-qserv-operator",
            "ClusterRoleBinding/qo-qserv-operator",
            "Deployment/qo-qserv-operator",
            "Role/qo-qserv-operator-job",
            "Role/qo-qserv-operator-leader-election",
            "RoleBinding/qo-qserv-operator-job",
            "RoleBinding/qo-qserv-operator-leader-election",
            "Service/qo-qserv-operator-metrics",
            "ServiceAccount/qo-qserv-operator",
            "ServiceAccount/qo-qserv-operator-job",
        ]
    );
    // Leader election: exactly what kube-lease-manager calls on the Lease (get, create once,
    // server-side apply patches), in the release namespace.
    let lease_role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && name(o) == "qo-qserv-operator-leader-election")
        .unwrap();
    assert_eq!(
        lease_role["rules"],
        json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                "verbs": ["get", "create", "patch"]}])
    );
    for o in &objects {
        let cluster_scoped =
            ["ClusterRole", "ClusterRoleBinding"].contains(&o["kind"].as_str().unwrap());
        assert_eq!(
            o["metadata"]["namespace"].as_str(),
            (!cluster_scoped).then_some(NAMESPACE),
            "{}",
            name(o)
        );
    }
    let binding = one(&objects, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], "qo-qserv-operator");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "qo-qserv-operator", "namespace": NAMESPACE}])
    );
    let container = operator_container(&objects);
    assert!(env(container, "WATCH_NAMESPACE").is_none());
}

#[test]
fn namespaced_mode_renders_a_role_in_the_watched_namespace_and_no_cluster_role() {
    let objects = render(namespaced_values());
    let kinds = kinds(&objects);
    assert!(!kinds.iter().any(|k| k.starts_with("Cluster")), "{kinds:?}");
    let roles: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Role").collect();
    let operator_role = roles
        .iter()
        .find(|r| name(r) == "qo-qserv-operator")
        .expect("operator Role");
    assert_eq!(operator_role["metadata"]["namespace"], "qserv-ci");
    assert_eq!(rule_triples(operator_role), needed_triples());
    let binding = objects
        .iter()
        .find(|o| o["kind"] == "RoleBinding" && name(o) == "qo-qserv-operator")
        .unwrap();
    assert_eq!(binding["metadata"]["namespace"], "qserv-ci");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    // The operator's ServiceAccount stays in the release namespace.
    assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE);
    // The Jobs run where the ingests are: the watched namespace.
    for o in objects
        .iter()
        .filter(|o| name(o) == "qo-qserv-operator-job")
    {
        assert_eq!(o["metadata"]["namespace"], "qserv-ci", "{}", o["kind"]);
    }
    let container = operator_container(&objects);
    assert_eq!(env(container, "WATCH_NAMESPACE"), Some(&json!("qserv-ci")));
}

#[test]
fn job_service_account_is_created_in_every_listed_namespace() {
    let objects = render(json!({"jobServiceAccount": {"namespaces": ["team-a", "team-b"]}}));
    for kind in ["ServiceAccount", "Role", "RoleBinding"] {
        let mut namespaces: Vec<&str> = objects
            .iter()
            .filter(|o| o["kind"] == kind && name(o) == "qo-qserv-operator-job")
            .map(|o| o["metadata"]["namespace"].as_str().unwrap())
            .collect();
        namespaces.sort();
        assert_eq!(namespaces, ["team-a", "team-b"], "{kind}");
    }
}

fn deployment(objects: &[Value]) -> &Value {
    one(objects, "Deployment")
}

fn operator_container(objects: &[Value]) -> &Value {
    &deployment(objects)["spec"]["template"]["spec"]["containers"][0]
}

fn env<'a>(container: &'a Value, var: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == var)
        .map(|e| e.get("value").unwrap_or(&e["valueFrom"]))
}

#[test]
fn deployment_is_non_root_read_only_with_both_probes() {
    let objects = render(json!({}));
    let pod = &deployment(&objects)["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["serviceAccountName"], "qo-qserv-operator");
    let c = operator_container(&objects);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());

    // Both probes reach the metrics port, where `run --metrics-addr` serves them.
    let port_named = |n: &Value| {
        c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| &p["name"] == n)
            .map(|p| p["containerPort"].clone())
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(port_named(&get["port"]), Some(json!(8080)), "{probe}");
    }
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080"), "{args:?}");
    assert!(
        args.contains(&"--job-service-account=qo-qserv-operator-job"),
        "{args:?}"
    );
    assert_eq!(c["command"], json!([BINARY]));
    assert_eq!(
        env(c, "POD_NAME"),
        Some(&json!({"fieldRef": {"fieldPath": "metadata.name"}}))
    );
    // The Jobs run the operator's own image.
    assert_eq!(env(c, "QSERV_OPERATOR_IMAGE"), Some(&c["image"]));
    assert_eq!(c["image"], "qserv/qserv-operator:0.1.0");

    // The metrics Service selects the operator pod and targets the named port.
    let svc = one(&objects, "Service");
    let labels = &deployment(&objects)["spec"]["template"]["metadata"]["labels"];
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "selector {k}");
    }
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "metrics");
}

#[test]
fn service_monitor_scrapes_the_metrics_service_when_enabled() {
    assert!(
        !kinds(&render(json!({})))
            .iter()
            .any(|k| k.starts_with("ServiceMonitor")),
        "off by default"
    );
    let objects = render(json!({"metrics": {"serviceMonitor": {"enabled": true,
        "labels": {"release": "prometheus"}}}}));
    let monitor = one(&objects, "ServiceMonitor");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    let svc = one(&objects, "Service");
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&svc["metadata"]["labels"][k], v, "selector {k}");
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        svc["spec"]["ports"][0]["name"]
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
}

/// What the operator calls on the API, and where in the code: the rules the chart must grant,
/// no more. An apply (server-side apply) that creates an object is authorized as `create` by the
/// API server, so applied kinds need `create` beside `patch`.
const NEEDED: &[(&str, &str, &[&str], &str)] = &[
    (
        "qserv.in2p3.fr",
        "qservclusters",
        &["get", "list", "watch", "patch", "delete"],
        "cluster controller watch; ingest reads its cluster (get); finalizer (patch); ttl (delete)",
    ),
    (
        "qserv.in2p3.fr",
        "qservclusters/status",
        &["patch"],
        "write_status",
    ),
    (
        "qserv.in2p3.fr",
        "catalogingests",
        &["get", "list", "watch"],
        "ingest controller watch, the stored status read by each reconcile",
    ),
    (
        "qserv.in2p3.fr",
        "catalogingests/status",
        &["patch"],
        "write_status",
    ),
    (
        "apps",
        "statefulsets",
        &["get", "list", "watch", "create", "patch", "delete"],
        "apply_all + prune + owns; guard_scale_down reads the live workers",
    ),
    (
        "apps",
        "deployments",
        &["list", "watch", "create", "patch", "delete"],
        "apply_all + prune + owns",
    ),
    (
        "",
        "services",
        &["list", "watch", "create", "patch", "delete"],
        "apply_all + prune + owns",
    ),
    (
        "",
        "configmaps",
        &["get", "list", "watch", "create", "patch", "delete"],
        "apply_all + prune + owns (both controllers); ingest reads the results ConfigMap",
    ),
    (
        "",
        "secrets",
        &["get", "list", "watch", "create", "patch", "delete"],
        "apply_all + prune + owns; cluster_secrets reads the generated secrets back",
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        &["list", "create", "patch", "delete"],
        "apply_all + prune (not watched)",
    ),
    (
        "",
        "persistentvolumeclaims",
        &["get", "list", "create", "delete"],
        "cleanup lists and deletes claims; the ingest scratch volume is read, created, \
         deleted; the ingest's source.pvc claim is read (source::resolve)",
    ),
    (
        "batch",
        "jobs",
        &["list", "watch", "create"],
        "ingest Jobs: created, listed (observe_jobs), watched (owns)",
    ),
    (
        "events.k8s.io",
        "events",
        &["create", "patch"],
        "kube-runtime Recorder: create, then patch a repeated event's count",
    ),
];

/// Granted by the chart but not reached by the scenario of
/// `rbac_rules_cover_every_request_the_controllers_make`, with the code that needs them.
const NEEDED_BUT_NOT_EXERCISED: &[(&str, &str, &str, &str)] = &[
    (
        "events.k8s.io",
        "events",
        "patch",
        "Recorder::publish patches an event seen before in its cache (a repeat within minutes)",
    ),
    (
        "apps",
        "deployments",
        "delete",
        "apply::prune of a Deployment no longer desired (the registry is always desired today)",
    ),
    (
        "",
        "configmaps",
        "delete",
        "apply::prune of a ConfigMap no longer desired",
    ),
    (
        "",
        "secrets",
        "delete",
        "apply::prune of a Secret no longer desired",
    ),
];

type Triple = (String, String, String);

fn needed_triples() -> BTreeSet<Triple> {
    NEEDED
        .iter()
        .flat_map(|(g, r, verbs, _)| {
            verbs
                .iter()
                .map(move |v| (g.to_string(), r.to_string(), v.to_string()))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Every (apiGroup, resource, verb) a Role or ClusterRole grants; wildcards, resourceNames and
/// nonResourceURLs are refused outright.
fn rule_triples(role: &Value) -> BTreeSet<Triple> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        assert!(rule.get("resourceNames").is_none(), "{rule}");
        assert!(rule.get("nonResourceURLs").is_none(), "{rule}");
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for v in strings(&rule["verbs"]) {
                    assert!(
                        !g.contains('*') && !r.contains('*') && !v.contains('*'),
                        "wildcard in {rule}"
                    );
                    out.insert((g.clone(), r.clone(), v));
                }
            }
        }
    }
    out
}

#[test]
fn cluster_role_grants_exactly_the_table_of_what_the_code_calls() {
    let objects = render(json!({}));
    let granted = rule_triples(one(&objects, "ClusterRole"));
    let needed = needed_triples();
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    // The Jobs may only write their reports.
    let job_role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && name(o) == "qo-qserv-operator-job")
        .unwrap();
    assert_eq!(
        rule_triples(job_role),
        BTreeSet::from([("".into(), "configmaps".into(), "patch".into())])
    );
}

// ---------------------------------------------------------------------------------------------
// Rendered objects on the embedded API server.

/// A minimal ServiceMonitor CRD (the Prometheus Operator's own is not in this repository): it
/// accepts any spec, so what it proves is that the object is well-formed and routable.
fn service_monitor_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"plural": "servicemonitors", "singular": "servicemonitor",
                      "kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}}}]
        }
    }))
    .unwrap()
}

async fn create_namespace(client: &Client, ns: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    match api.create(&PostParams::default(), &namespace).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("create namespace {ns}: {e}"),
    }
}

/// The same object through its k8s-openapi type: a field the Kubernetes API does not know (a
/// typo, a misplaced key) is dropped by the typed round trip, and the comparison fails.
fn typed_round_trip<K: Serialize + DeserializeOwned>(o: &Value) -> Value {
    let typed: K = serde_json::from_value(o.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", o["kind"], name(o)));
    serde_json::to_value(typed).unwrap()
}

fn known_fields_only(o: &Value) {
    let back = match o["kind"].as_str().unwrap() {
        "Deployment" => typed_round_trip::<Deployment>(o),
        "Service" => typed_round_trip::<Service>(o),
        "ServiceAccount" => typed_round_trip::<ServiceAccount>(o),
        "ClusterRole" => typed_round_trip::<ClusterRole>(o),
        "ClusterRoleBinding" => typed_round_trip::<ClusterRoleBinding>(o),
        "Role" => typed_round_trip::<Role>(o),
        "RoleBinding" => typed_round_trip::<RoleBinding>(o),
        "ServiceMonitor" => return, // not a Kubernetes type; checked through its CRD
        other => panic!("unexpected kind {other}: add it here"),
    };
    assert_eq!(
        &back,
        o,
        "{} {} has fields the Kubernetes API does not know",
        o["kind"],
        name(o)
    );
}

#[test]
fn typed_round_trip_catches_an_unknown_field() {
    let mut objects = render(json!({}));
    let deployment = objects
        .iter_mut()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] =
        json!(true);
    let result = std::panic::catch_unwind(|| known_fields_only(deployment));
    assert!(result.is_err());
}

/// Server-side applies `o` through discovery, as `kubectl apply --server-side` would, and reads
/// it back.
async fn apply_rendered(client: &Client, o: &Value) -> DynamicObject {
    let (group, version) = match o["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", o["apiVersion"].as_str().unwrap()),
    };
    let gvk = GroupVersionKind::gvk(group, version, o["kind"].as_str().unwrap());
    let (resource, caps): (ApiResource, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("discovery of {gvk:?}: {e}"));
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or_else(|| panic!("{} {} has no namespace", o["kind"], name(o))),
            &resource,
        ),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        name(o),
        &PatchParams::apply("helm").force(),
        &Patch::Apply(o),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {} {}: {e}", o["kind"], name(o)));
    api.get(name(o)).await.unwrap()
}

/// Every field of `want` is in `got` with the same value.
fn contains(got: &Value, want: &Value, path: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, v) in w {
                contains(g.get(k).unwrap_or(&Value::Null), v, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

#[tokio::test]
async fn rendered_objects_are_accepted_by_the_embedded_api_server() {
    // The chart's own CRDs, not the server's built-in copy.
    let server = LocalApiServer::start(Options {
        install_crds: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let client = server.client().unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["qservclusters.yaml", "catalogingests.yaml"] {
        let text = std::fs::read_to_string(chart().join("crds").join(file)).unwrap();
        let crd: CustomResourceDefinition = serde_norway::from_str(&text).unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    crds.create(&PostParams::default(), &service_monitor_crd())
        .await
        .unwrap();
    for ns in [NAMESPACE, "qserv-ci", "team-a", "team-b"] {
        create_namespace(&client, ns).await;
    }

    let mut applied = 0;
    for values in [
        json!({"metrics": {"serviceMonitor": {"enabled": true}}}),
        namespaced_values(),
        json!({"jobServiceAccount": {"namespaces": ["team-a", "team-b"]}}),
    ] {
        for o in render(values) {
            known_fields_only(&o);
            let live = apply_rendered(&client, &o).await;
            let live = serde_json::to_value(&live).unwrap();
            contains(&live, &o, &format!("{} {}", o["kind"], name(&o)));
            applied += 1;
        }
    }
    assert!(applied >= 20, "{applied}");

    // The CRDs the chart installs serve the kinds: an example manifest is accepted.
    let example: Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    Api::<QservCluster>::namespaced(client.clone(), "qserv-ci")
        .patch(
            "qserv-ci",
            &PatchParams::apply("test"),
            &Patch::Apply(&example),
        )
        .await
        .unwrap();
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The RBAC rules against the requests the controllers really make.

/// (method, path, query, response status) of every request of a client.
type Log = Arc<Mutex<Vec<(String, String, String, u16)>>>;

#[derive(Clone)]
struct Recording<S> {
    inner: S,
    log: Log,
}

impl<S, B> tower::Service<http::Request<kube::client::Body>> for Recording<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let log = self.log.clone();
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            log.lock()
                .unwrap()
                .push((method, path, query, response.status().as_u16()));
            Ok(response)
        })
    }
}

fn recording_client(server: &LocalApiServer, log: Log) -> Client {
    let config = kube::Config::new(server.url().parse().unwrap());
    kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&tower::layer::layer_fn(move |inner| Recording {
            inner,
            log: log.clone(),
        }))
        .build()
}

/// The (apiGroup, resource[/subresource], verb) RBAC checks for a request; None for discovery.
/// A server-side apply answered 201 created the object: authorized as `create` too.
fn authorization(method: &str, path: &str, query: &str, status: u16) -> Vec<Triple> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return vec![],
    };
    let (resource, name, sub) = match rest {
        [] => return vec![],
        ["namespaces", _ns, resource, more @ ..] => (*resource, more.first(), more.get(1)),
        [resource, more @ ..] => (*resource, more.first(), more.get(1)),
    };
    let resource = match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    let watch = query
        .split('&')
        .any(|p| p == "watch=true" || p == "watch=1");
    let verbs: &[&str] = match (method, name.is_some()) {
        ("GET", true) => &["get"],
        ("GET", false) if watch => &["watch"],
        ("GET", false) => &["list"],
        ("POST", _) => &["create"],
        ("PUT", _) => &["update"],
        ("PATCH", _) if status == 201 => &["patch", "create"],
        ("PATCH", _) => &["patch"],
        ("DELETE", true) => &["delete"],
        ("DELETE", false) => &["deletecollection"],
        _ => panic!("unexpected request {method} {path}"),
    };
    verbs
        .iter()
        .map(|v| (group.to_string(), resource.clone(), v.to_string()))
        .collect()
}

#[test]
fn requests_map_to_the_rbac_checks_the_api_server_makes() {
    let t = |g: &str, r: &str, v: &str| (g.to_string(), r.to_string(), v.to_string());
    assert_eq!(
        authorization("GET", "/apis/apps/v1/namespaces/a/statefulsets/x", "", 200),
        [t("apps", "statefulsets", "get")]
    );
    assert_eq!(
        authorization(
            "GET",
            "/api/v1/configmaps",
            "labelSelector=a%3Db&watch=true",
            200
        ),
        [t("", "configmaps", "watch")]
    );
    assert_eq!(
        authorization("GET", "/api/v1/namespaces/a/secrets", "", 200),
        [t("", "secrets", "list")]
    );
    assert_eq!(
        authorization(
            "PATCH",
            "/apis/qserv.in2p3.fr/v1alpha1/namespaces/a/qservclusters/x/status",
            "",
            200
        ),
        [t("qserv.in2p3.fr", "qservclusters/status", "patch")]
    );
    assert_eq!(
        authorization(
            "PATCH",
            "/api/v1/namespaces/a/services/x",
            "fieldManager=m",
            201
        ),
        [t("", "services", "patch"), t("", "services", "create")]
    );
    assert_eq!(authorization("GET", "/apis/apps/v1", "", 200), []);
    assert_eq!(authorization("GET", "/api", "", 200), []);
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
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

/// Plays the StatefulSet/Deployment controllers: every workload of cluster `instance` is ready.
async fn report_workloads_ready(client: &Client, ns: &str, instance: &str) {
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/instance={instance}"));
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    for s in sts.list(&selector).await.unwrap() {
        let n = s.spec.as_ref().unwrap().replicas.unwrap_or(1);
        let status = json!({"status": {"replicas": n, "readyReplicas": n, "updatedReplicas": n,
            "currentReplicas": n, "availableReplicas": n,
            "observedGeneration": s.metadata.generation,
            "currentRevision": "r1", "updateRevision": "r1"}});
        sts.patch_status(
            &s.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .unwrap();
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    for d in deployments.list(&selector).await.unwrap() {
        let n = d.spec.as_ref().unwrap().replicas.unwrap_or(1);
        let status = json!({"status": {"replicas": n, "readyReplicas": n, "updatedReplicas": n,
            "availableReplicas": n, "observedGeneration": d.metadata.generation}});
        deployments
            .patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
            .unwrap();
    }
}

fn is_ready(c: &QservCluster) -> bool {
    c.status.as_ref().is_some_and(|s| {
        qserv_operator::api::condition::is_true(
            &s.conditions,
            qserv_operator::api::condition::READY,
        )
    })
}

/// Runs both controllers cluster-wide (as the ClusterRole grants) through a recording client,
/// walks a QservCluster and a CatalogIngest through their lifecycle (the test plays the
/// workload controllers and the Jobs), and checks every request against the rendered
/// ClusterRole; and every granted rule was either used or is listed with the code that needs it.
#[tokio::test]
async fn rbac_rules_cover_every_request_the_controllers_make() {
    let server = LocalApiServer::start(Options::default()).await.unwrap();
    let client = server.client().unwrap();
    let ns = "rbac";
    create_namespace(&client, ns).await;
    let log: Log = Arc::default();
    let operator = recording_client(&server, log.clone());
    let clusters = tokio::spawn(qserv_operator::cluster::run(
        operator.clone(),
        qserv_operator::cluster::ControllerOptions::default(),
        qserv_operator::shutdown::on(futures::future::pending()),
    ));
    let ingests = tokio::spawn(qserv_operator::ingest::run(
        operator,
        qserv_operator::ingest::IngestOptions::default(),
        qserv_operator::shutdown::on(futures::future::pending()),
    ));

    let qsc: Api<QservCluster> = Api::namespaced(client.clone(), ns);
    let mut cluster: Value =
        serde_norway::from_str(include_str!("../examples/qservcluster-ci.yaml")).unwrap();
    cluster["spec"]["networkPolicies"] = json!(true);
    let apply = |manifest: Value| {
        let qsc = qsc.clone();
        async move {
            qsc.patch(
                manifest["metadata"]["name"].as_str().unwrap(),
                &PatchParams::apply("test").force(),
                &Patch::Apply(&manifest),
            )
            .await
            .unwrap();
        }
    };
    apply(cluster.clone()).await;
    // A cluster whose ttl elapses: the controller deletes it.
    let mut short = cluster.clone();
    short["metadata"]["name"] = json!("short");
    short["spec"]["ttl"] = json!("2s");
    apply(short).await;

    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    eventually("the StatefulSets of qserv-ci", || async {
        let n = sts
            .list(&ListParams::default().labels("app.kubernetes.io/instance=qserv-ci"))
            .await
            .ok()?
            .items
            .len();
        (n == 6).then_some(())
    })
    .await;
    eventually("qserv-ci Ready", || async {
        report_workloads_ready(&client, ns, "qserv-ci").await;
        is_ready(&qsc.get("qserv-ci").await.ok()?).then_some(())
    })
    .await;

    // An ingest into it: its source claim read, results ConfigMap, scratch PVC, the partition
    // Job; the Job fails, the ingest ends Failed and its scratch volume is deleted.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    pvcs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "catalogs"},
            "spec": {"accessModes": ["ReadOnlyMany"],
                     "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let mut ingest: Value =
        serde_norway::from_str(include_str!("../examples/catalogingest-case01.yaml")).unwrap();
    ingest["metadata"]["namespace"] = json!(ns);
    let cing: Api<CatalogIngest> = Api::namespaced(client.clone(), ns);
    cing.patch(
        "case01",
        &PatchParams::apply("test"),
        &Patch::Apply(&ingest),
    )
    .await
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    eventually("the partition Job", || async {
        jobs.get_opt("case01-partition").await.ok()?.map(|_| ())
    })
    .await;
    let failed = json!({"status": {"failed": 3, "conditions": [{"type": "Failed",
        "status": "True", "reason": "BackoffLimitExceeded", "message": "test"}]}});
    jobs.patch_status(
        "case01-partition",
        &PatchParams::default(),
        &Patch::Merge(&failed),
    )
    .await
    .unwrap();
    eventually("the scratch volume deleted", || async {
        pvcs.get_opt("case01-scratch")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .get_opt("case01-results")
            .await
            .unwrap()
            .is_some()
    );

    // No more network policies, no reference database: pruned.
    cluster["spec"]["networkPolicies"] = json!(false);
    cluster["spec"]["reference"]["enabled"] = json!(false);
    apply(cluster).await;
    let netpols: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    eventually("network policies pruned", || async {
        netpols
            .list(&ListParams::default().labels("app.kubernetes.io/instance=qserv-ci"))
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;

    // Deletion with storageRetention: Delete removes the claims.
    pvcs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "data-qserv-ci-worker-0"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap(),
    )
    .await
    .unwrap();
    qsc.delete("qserv-ci", &DeleteParams::default())
        .await
        .unwrap();
    eventually("both clusters gone", || async {
        qsc.list(&ListParams::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(
        pvcs.get_opt("data-qserv-ci-worker-0")
            .await
            .unwrap()
            .is_none()
    );

    clusters.abort();
    ingests.abort();
    let _ = clusters.await;
    let _ = ingests.await;

    let observed: BTreeSet<Triple> = log
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(m, p, q, s)| authorization(m, p, q, *s))
        .collect();
    let granted = rule_triples(one(&render(json!({})), "ClusterRole"));
    let denied: Vec<_> = observed.difference(&granted).collect();
    assert!(
        denied.is_empty(),
        "the controllers made requests the ClusterRole does not allow: {denied:#?}"
    );
    let documented: BTreeSet<Triple> = NEEDED_BUT_NOT_EXERCISED
        .iter()
        .map(|(g, r, v, _)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    let unused: Vec<_> = granted
        .difference(&observed)
        .filter(|t| !documented.contains(*t))
        .collect();
    assert!(
        unused.is_empty(),
        "granted but never requested (remove, or list in NEEDED_BUT_NOT_EXERCISED with the \
         code that needs it): {unused:#?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_ingest_job_only_patches_its_results_configmap() {
    // What a Job pod calls: write_report, recorded, against the Job Role of the chart.
    let server = LocalApiServer::start(Options::default()).await.unwrap();
    let client = server.client().unwrap();
    create_namespace(&client, "jobs").await;
    let results: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "case01-results"}})).unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "jobs")
        .create(&PostParams::default(), &results)
        .await
        .unwrap();
    let log: Log = Arc::default();
    let job_client = recording_client(&server, log.clone());
    let report = qserv_operator::ingest::report::StepReport::new(
        qserv_operator::ingest::plan::Step::Load,
        None,
    );
    qserv_operator::ingest::report::write_report(&job_client, "jobs", "case01-results", &report)
        .await
        .unwrap();
    let observed: BTreeSet<Triple> = log
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(m, p, q, s)| authorization(m, p, q, *s))
        .collect();
    let objects = render(json!({}));
    let job_role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && name(o) == "qo-qserv-operator-job")
        .unwrap();
    assert_eq!(observed, rule_triples(job_role));
    server.shutdown().await;
}

#[test]
fn every_flag_the_chart_passes_to_run_exists() {
    let help = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let objects = render(json!({}));
    for arg in strings(&operator_container(&objects)["args"])
        .iter()
        .skip(1)
    {
        let flag = arg.split('=').next().unwrap();
        assert!(help.contains(flag), "`run` has no {flag}:\n{help}");
    }
}

/// Every value in values.yaml is documented: a `# --` comment right above its key, or above the
/// map it belongs to when the whole map is one value (e.g. `resources`, `podSecurityContext`).
#[test]
fn every_value_in_values_yaml_is_documented() {
    let text = std::fs::read_to_string(chart().join("values.yaml")).unwrap();
    // (indent, documented) of the keys enclosing the current line.
    let mut ancestors: Vec<(usize, bool)> = Vec::new();
    let mut commented = false;
    let mut undocumented = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("# --") {
            commented = true;
            continue;
        }
        if trimmed.starts_with('#') {
            continue; // continuation of a comment
        }
        if trimmed.is_empty() || trimmed.starts_with('-') {
            commented = false;
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        while ancestors.last().is_some_and(|(i, _)| *i >= indent) {
            ancestors.pop();
        }
        let covered = commented || ancestors.iter().any(|(_, documented)| *documented);
        if !value.trim().is_empty() && !covered {
            undocumented.push(key.to_string());
        }
        ancestors.push((indent, commented));
        commented = false;
    }
    assert!(
        undocumented.is_empty(),
        "values without a `# --` comment: {undocumented:?}"
    );
}
