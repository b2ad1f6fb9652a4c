//! The committed CRD reference pages (`docs/crds/`) are what the schemas generate, and they
//! document what matters: every field path, defaults, enums and CEL rules.

use std::path::PathBuf;

use qserv_operator::api::docs::crd_docs;

fn committed(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/crds")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn committed_crd_docs_match_the_schemas() {
    for (file, generated) in crd_docs() {
        let on_disk = committed(file);
        if generated != on_disk {
            let line = generated
                .lines()
                .zip(on_disk.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| generated.lines().count().min(on_disk.lines().count()));
            panic!(
                "docs/crds/{file} is stale (first difference at line {}): run `make crds` and \
                 commit the result",
                line + 1
            );
        }
    }
}

fn row<'a>(page: &'a str, field: &str) -> &'a str {
    let start = format!("| `{field}` |");
    page.lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row for {field}"))
}

#[test]
fn pages_carry_defaults_enums_and_cel_rules() {
    let docs = crd_docs();
    let cluster = &docs
        .iter()
        .find(|(f, _)| *f == "qservcluster.md")
        .unwrap()
        .1;
    let replicas = row(cluster, "spec.workers.replicas");
    assert!(replicas.contains("| integer (int32) | `2` |"), "{replicas}");
    assert!(replicas.contains("CEL `self >= 1`"), "{replicas}");
    let retention = row(cluster, "spec.storageRetention");
    assert!(
        retention.contains("`\"Retain\"`") && retention.contains("`Delete`"),
        "{retention}"
    );
    assert!(cluster.contains(
        "| Ready | string | `.status.conditions[?(@.type==\"Ready\")].status` | always |"
    ));

    let ingest = &docs
        .iter()
        .find(|(f, _)| *f == "catalogingest.md")
        .unwrap()
        .1;
    let format = row(ingest, "spec.tables[].format");
    for value in ["`csv`", "`tsv`", "`hdf5`", "`parquet`"] {
        assert!(format.contains(value), "{format}");
    }
    assert!(row(ingest, "spec.partitioning").contains("CEL `self == oldSelf`"));
    assert!(row(ingest, "spec.cluster").contains("required"));
    // Status fields are documented too.
    row(ingest, "status.phase");
    row(ingest, "status.checks[].passed");
}

/// Field paths of a committed CRD's schema, walked here independently of the generator.
fn paths(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
        for (name, sub) in props {
            let p = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                continue;
            }
            out.push(p.clone());
            paths(sub, &p, out);
        }
    }
    if let Some(items) = node.get("items") {
        out.push(format!("{path}[]"));
        paths(items, &format!("{path}[]"), out);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        out.push(format!("{path}{{}}"));
        paths(values, &format!("{path}{{}}"), out);
    }
}

#[test]
fn every_field_of_the_committed_crds_has_a_row() {
    for (crd_file, page) in [
        ("qservclusters.yaml", "qservcluster.md"),
        ("catalogingests.yaml", "catalogingest.md"),
    ] {
        let text = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("crds")
                .join(crd_file),
        )
        .unwrap();
        let crd: serde_json::Value = serde_norway::from_str(&text).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut all = Vec::new();
        paths(schema, "", &mut all);
        assert!(all.len() > 50, "{crd_file}: {}", all.len());
        let doc = committed(page);
        let missing: Vec<&String> = all
            .iter()
            .filter(|p| !doc.contains(&format!("| `{p}` |")))
            .collect();
        assert!(missing.is_empty(), "{page} lacks {missing:?}");
    }
}
