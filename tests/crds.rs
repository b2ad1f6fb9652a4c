//! The committed CRDs are exactly what the code generates, and they are valid
//! `apiextensions.k8s.io/v1` CustomResourceDefinitions with structural schemas.

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use qserv_operator::api;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn committed(file: &str) -> String {
    read(&repo("crds").join(file))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn committed_crd(file: &str) -> CustomResourceDefinition {
    serde_norway::from_str(&committed(file))
        .unwrap_or_else(|e| panic!("crds/{file} is not a CustomResourceDefinition: {e}"))
}

#[test]
fn committed_crds_match_the_code() {
    for (file, crd) in api::crds() {
        let generated = api::crd_yaml(&crd).unwrap();
        let on_disk = committed(file);
        if generated != on_disk {
            let line = generated
                .lines()
                .zip(on_disk.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| generated.lines().count().min(on_disk.lines().count()));
            panic!(
                "crds/{file} drifted from the Rust types (first difference at line {}): \
                 run `make crds` and commit the result",
                line + 1
            );
        }
    }
}

#[test]
fn the_helm_chart_ships_the_same_crds() {
    for (file, _) in api::crds() {
        let chart_copy = read(&repo("charts/qserv-operator/crds").join(file));
        assert!(
            chart_copy == committed(file),
            "charts/qserv-operator/crds/{file} differs from crds/{file}: run `make crds`"
        );
    }
}

#[test]
fn qservcluster_crd_names_columns_and_subresources() {
    let crd = committed_crd("qservclusters.yaml");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("qservclusters.qserv.in2p3.fr")
    );
    assert_eq!(crd.spec.group, "qserv.in2p3.fr");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.kind, "QservCluster");
    assert_eq!(crd.spec.names.short_names, Some(vec!["qsc".to_string()]));
    let v = &crd.spec.versions[0];
    assert_eq!(
        (v.name.as_str(), v.served, v.storage),
        ("v1alpha1", true, true)
    );
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<(&str, &str)> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Phase", ".status.phase"),
            ("Workers", ".status.components.workers"),
            ("Expires", ".status.expiresAt"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
}

#[test]
fn catalogingest_crd_names_columns_and_subresources() {
    let crd = committed_crd("catalogingests.yaml");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("catalogingests.qserv.in2p3.fr")
    );
    assert_eq!(crd.spec.names.kind, "CatalogIngest");
    assert_eq!(crd.spec.names.short_names, Some(vec!["cing".to_string()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["qserv".to_string()]));
    let v = &crd.spec.versions[0];
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let names: Vec<&str> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["Cluster", "Database", "Phase", "Rows", "Checks", "Age"]
    );
}

fn schema_json(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    serde_json::to_value(schema).unwrap()
}

/// Kubernetes' structural schema rules that a derived schema can break: every node has a type
/// (unless int-or-string or preserve-unknown-fields), no `$ref`, `properties` only on objects,
/// `items` only on arrays, and no type inside `anyOf`/`oneOf`/`allOf`/`not`.
fn structural_problems(node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    if obj.contains_key("$ref") {
        problems.push(format!("{path}: $ref is not allowed"));
    }
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let type_ = obj.get("type").and_then(Value::as_str);
    if type_.is_none() && !int_or_string && !preserve {
        problems.push(format!("{path}: missing type"));
    }
    if obj.contains_key("properties") && type_ != Some("object") {
        problems.push(format!("{path}: properties on a non-object"));
    }
    if obj.contains_key("items") && type_ != Some("array") {
        problems.push(format!("{path}: items on a non-array"));
    }
    for junction in ["anyOf", "oneOf", "allOf"] {
        for (i, sub) in obj
            .get(junction)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for forbidden in ["type", "description", "default", "nullable"] {
                if sub.get(forbidden).is_some() && !int_or_string {
                    problems.push(format!(
                        "{path}.{junction}[{i}]: {forbidden} inside a junction"
                    ));
                }
            }
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            structural_problems(sub, &format!("{path}.{name}"), problems);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_problems(items, &format!("{path}[]"), problems);
    }
    if let Some(extra) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        structural_problems(extra, &format!("{path}{{}}"), problems);
    }
}

fn cel_rules(node: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Some(rules) = node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for r in rules {
            out.push((path.to_string(), r["rule"].as_str().unwrap().to_string()));
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            cel_rules(sub, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = node.get("items") {
        cel_rules(items, &format!("{path}[]"), out);
    }
}

#[test]
fn schemas_are_structural() {
    for file in ["qservclusters.yaml", "catalogingests.yaml"] {
        let mut problems = Vec::new();
        structural_problems(&schema_json(&committed_crd(file)), "", &mut problems);
        assert!(problems.is_empty(), "crds/{file}: {problems:#?}");
    }
}

#[test]
fn structural_check_catches_a_missing_type() {
    // The checker above must be able to fail.
    let bad =
        serde_json::json!({"type": "object", "properties": {"x": {"description": "no type"}}});
    let mut problems = Vec::new();
    structural_problems(&bad, "", &mut problems);
    assert_eq!(problems, vec![".x: missing type".to_string()]);
}

#[test]
fn cel_rules_guard_the_invariants() {
    let mut rules = Vec::new();
    cel_rules(
        &schema_json(&committed_crd("qservclusters.yaml")),
        "",
        &mut rules,
    );
    assert!(
        rules.contains(&(".spec.workers.replicas".into(), "self >= 1".into())),
        "{rules:#?}"
    );

    let mut rules = Vec::new();
    cel_rules(
        &schema_json(&committed_crd("catalogingests.yaml")),
        "",
        &mut rules,
    );
    for (path, rule) in [
        (".spec.partitioning", "self == oldSelf"),
        (".spec.partitioning.stripes", "self > 0"),
        (".spec.partitioning.subStripes", "self > 0"),
        (".spec.partitioning.overlap", "self >= 0.0 && self < 10.0"),
    ] {
        assert!(
            rules.contains(&(path.into(), rule.into())),
            "missing {path}: {rule} in {rules:#?}"
        );
    }
    assert!(
        rules.iter().any(|(p, r)| p == ".spec.tables[]"
            && r.contains("has(self.idColumn) && has(self.raColumn)")),
        "director column rule missing: {rules:#?}"
    );
}

#[test]
fn the_cli_writes_the_committed_crds_into_a_new_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("made/by/crds");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["crds", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for file in ["qservclusters.yaml", "catalogingests.yaml"] {
        assert_eq!(
            std::fs::read_to_string(dir.join(file)).unwrap(),
            std::fs::read_to_string(root.join(file)).unwrap(),
            "{file}"
        );
    }
}
