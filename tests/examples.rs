//! Every manifest under `examples/` deserializes into our types without dropping a field,
//! passes `validate()`, and passes the CRDs' CEL rules.

use std::path::Path;

use kube::CustomResourceExt;
use qserv_operator::api::cel::check_cel_rules;
use qserv_operator::api::{CatalogIngest, QservCluster};
use serde::Deserialize;
use serde_json::Value;

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every key of `original` is present in `roundtrip` (so no field was silently ignored).
fn missing_keys(original: &Value, roundtrip: &Value, path: &str, out: &mut Vec<String>) {
    match (original, roundtrip) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => missing_keys(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                missing_keys(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn check_document(file: &str, doc: Value) -> String {
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    let (roundtrip, crd) = match kind.as_str() {
        "QservCluster" => {
            let obj: QservCluster =
                serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
            obj.spec
                .validate()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            (serde_json::to_value(&obj).unwrap(), QservCluster::crd())
        }
        "CatalogIngest" => {
            let obj: CatalogIngest =
                serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
            obj.spec
                .validate()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            (serde_json::to_value(&obj).unwrap(), CatalogIngest::crd())
        }
        other => panic!("{file}: unexpected kind {other:?}"),
    };
    let mut missing = Vec::new();
    missing_keys(&doc, &roundtrip, "", &mut missing);
    assert!(
        missing.is_empty(),
        "{file}: fields unknown to the types: {missing:?}"
    );
    check_cel_rules(&crd, &doc, None)
        .unwrap_or_else(|e| panic!("{file}: CEL rules reject it: {e}"));
    kind
}

#[test]
fn every_example_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut kinds = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        for doc in documents(path) {
            kinds.push(check_document(&path.display().to_string(), doc));
        }
    }
    assert!(
        kinds.iter().filter(|k| *k == "QservCluster").count() >= 1,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().filter(|k| *k == "CatalogIngest").count() >= 2,
        "{kinds:?}"
    );
}

#[test]
fn the_roundtrip_check_catches_a_misspelt_field() {
    let doc: Value = serde_json::json!({
        "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
        "metadata": {"name": "x"}, "spec": {"workers": {"replica": 3}}
    });
    let obj: QservCluster = serde_json::from_value(doc.clone()).unwrap();
    let mut missing = Vec::new();
    missing_keys(&doc, &serde_json::to_value(&obj).unwrap(), "", &mut missing);
    assert_eq!(missing, vec![".spec.workers.replica".to_string()]);
}

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    serde_json::from_value(documents(&path).remove(0)).unwrap()
}

#[test]
fn ci_cluster_example_is_what_ci_needs() {
    let qsc: QservCluster = load("qservcluster-ci.yaml");
    assert_eq!(qsc.spec.workers.replicas, 2);
    assert_eq!(qsc.spec.ttl.as_deref(), Some("2h"));
    assert!(qsc.spec.reference.enabled);
    let ttl = qserv_operator::api::qserv_cluster::parse_ttl("2h").unwrap();
    assert_eq!(ttl.as_secs(), 7200);
}

#[test]
fn macs2243_example_carries_the_pipeline_config() {
    let cing: CatalogIngest = load("catalogingest-macs2243.yaml");
    let region = cing.spec.region.as_ref().unwrap();
    assert_eq!((region.ra, region.dec), (340.83, -9.59));
    assert_eq!(region.radius_degrees().unwrap(), 0.4);
    assert_eq!(
        cing.spec.filters.as_ref().unwrap().values,
        ["u", "g", "r", "i", "z"]
    );
    let keys: Vec<(&str, Vec<&str>)> = cing
        .spec
        .tables
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.columns.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("deepCoadd_meas", vec!["coord*", "id", "detect_isPrimary"]),
            ("deepCoadd_forced_src", vec!["coord*", "objectId"]),
            ("forced_src", vec!["coord*", "id"]),
        ]
    );
}

#[test]
fn case01_example_matches_the_dataset_configs() {
    let cing: CatalogIngest = load("catalogingest-case01.yaml");
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01/data");
    let common: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("partition/common.json")).unwrap())
            .unwrap();
    assert_eq!(
        i64::from(cing.spec.partitioning.stripes),
        common["part"]["num-stripes"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(cing.spec.partitioning.sub_stripes),
        common["part"]["num-sub-stripes"].as_i64().unwrap()
    );
    assert_eq!(
        cing.spec.partitioning.overlap,
        common["part"]["default-overlap"].as_f64().unwrap()
    );
    let ingest: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("ingest/Object.json")).unwrap())
            .unwrap();
    let object = &cing.spec.tables[0];
    assert_eq!(object.id_column.as_deref(), ingest["director_key"].as_str());
    assert_eq!(
        object.ra_column.as_deref(),
        ingest["longitude_key"].as_str()
    );
    assert_eq!(
        object.dec_column.as_deref(),
        ingest["latitude_key"].as_str()
    );
    for t in &cing.spec.tables {
        for f in &t.files {
            assert!(
                data.join(f).is_file(),
                "{} names a missing file {f}",
                t.name
            );
        }
        let schema = t.schema.as_ref().unwrap();
        assert!(
            data.join(schema).is_file(),
            "{} names a missing schema {schema}",
            t.name
        );
    }
}
