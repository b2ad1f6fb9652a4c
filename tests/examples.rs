//! Every manifest under `examples/` deserializes into our types without dropping a field,
//! passes `validate()` and the CRDs' CEL rules; the examples carry what their users need.

use std::path::Path;

use qserv_operator::api::manifest::check_file;
use qserv_operator::api::{CatalogIngest, QservCluster};
use serde::Deserialize;
use serde_json::Value;

#[test]
fn every_example_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut kinds = Vec::new();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        for report in check_file(path).unwrap() {
            assert!(
                report.problems.is_empty(),
                "{}: {:?}",
                path.display(),
                report.problems
            );
            kinds.push(report.kind);
        }
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "QservCluster").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "CatalogIngest").count(),
        2,
        "{kinds:?}"
    );
}

#[test]
fn the_cli_reports_every_problem_of_a_bad_manifest() {
    let dir = std::env::temp_dir().join(format!("qserv-operator-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: qserv.in2p3.fr/v1alpha1\nkind: QservCluster\nmetadata: {name: q}\n\
         spec:\n  workers: {replicas: 0}\n  storageRetention: Delete\n  tll: 2h\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .arg("validate")
        .arg(&bad)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qservcluster-ci.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stdout.contains("spec.tll: unknown field"), "{stdout}");
    assert!(
        stdout.contains("spec.workers.replicas: must be >= 1, got 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    ") && stdout.contains("QservCluster/qserv-ci"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 2 documents are invalid"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `render -f` prints what the controller would apply for the example, offline; a file without
/// a QservCluster is an error naming it.
#[test]
fn the_cli_renders_every_object_of_the_example_cluster() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qservcluster-ci.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["render", "-f"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> =
        serde_norway::Deserializer::from_str(&String::from_utf8_lossy(&out.stdout))
            .map(|d| Value::deserialize(d).unwrap())
            .collect();
    let cluster: QservCluster = load("qservcluster-ci.yaml");
    let secrets = qserv_operator::cluster::render::fresh_secrets();
    let expected = qserv_operator::cluster::render::render(cluster, &secrets, None).unwrap();
    let kinds = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|d| {
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let expected: Vec<Value> = expected
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(kinds(&docs), kinds(&expected));
    let czar = docs
        .iter()
        .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "qserv-ci-czar")
        .unwrap();
    assert_eq!(
        czar["spec"]["template"]["spec"]["containers"][1]["image"],
        "ghcr.io/lsst/qserv:2026.3.3-rc1"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["render", "-f"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("catalogingest-case01.yaml: no QservCluster in it"),
        "{stderr}"
    );
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
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

/// The case01 example is the dataset as its own configs write it: what `import-dataset`
/// makes of `ingest/*.json` and `partition/*.json`, nothing edited by hand but the checks.
#[test]
fn case01_example_is_the_dataset_as_its_configs_write_it() {
    use qserv_operator::api::catalog_ingest::{PvcSource, Source};
    use qserv_operator::import::{ImportOptions, import_dataset};
    let cing: CatalogIngest = load("catalogingest-case01.yaml");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01");
    let imported = import_dataset(&ImportOptions {
        root: root.clone(),
        case: None,
        tables: None,
        name: Some("case01".into()),
        cluster: "qserv-ci".into(),
        source: Some(Source {
            pvc: Some(PvcSource {
                claim_name: "catalogs".into(),
                sub_path: Some("qserv_testdata/case01".into()),
            }),
            ..Source::default()
        }),
    })
    .unwrap();
    let spec = &cing.spec;
    assert_eq!(spec.tables, imported.spec.tables);
    assert_eq!(
        (
            &spec.database,
            &spec.partitioning,
            &spec.source,
            &spec.queries
        ),
        (
            &imported.spec.database,
            &imported.spec.partitioning,
            &imported.spec.source,
            &imported.spec.queries
        )
    );
    // The figures themselves, from the files: the layout of database.json, Object's registered
    // columns, Source's overlap (partition/Source.json says 0) and the dialects.
    let json = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join("data").join(f)).unwrap()).unwrap()
    };
    let database = json("ingest/database.json");
    assert_eq!(
        (
            i64::from(spec.partitioning.stripes),
            i64::from(spec.partitioning.sub_stripes),
            spec.partitioning.overlap
        ),
        (
            database["num_stripes"].as_i64().unwrap(),
            database["num_sub_stripes"].as_i64().unwrap(),
            database["overlap"].as_f64().unwrap()
        )
    );
    let object_ingest = json("ingest/Object.json");
    let object = &spec.tables[0];
    assert_eq!(
        object.id_column.as_deref(),
        object_ingest["director_key"].as_str()
    );
    assert_eq!(
        object.ra_column.as_deref(),
        object_ingest["longitude_key"].as_str()
    );
    assert_eq!(
        object.dec_column.as_deref(),
        object_ingest["latitude_key"].as_str()
    );
    let source_table = &spec.tables[1];
    assert_eq!(
        source_table.partition_overlap(spec.partitioning.overlap),
        0.0
    );
    let object_csv = object.csv.as_ref().unwrap();
    // in.csv of common.json (tab, \N) with sph-partition's defaults (quote ", escape \).
    assert_eq!(
        (
            object_csv.delimiter.as_deref(),
            object_csv.quote.as_deref(),
            object_csv.escape.as_deref(),
            object_csv.null_token.as_deref()
        ),
        (Some("\\t"), Some("\""), Some("\\"), Some("\\N"))
    );
    let filter_csv = spec
        .tables
        .iter()
        .find(|t| t.name == "Filter")
        .unwrap()
        .csv
        .as_ref()
        .unwrap();
    assert!(filter_csv.no_quote, "LOAD DATA's default: no enclosing");
    for t in &spec.tables {
        for f in &t.files {
            assert!(
                root.join(f).is_file(),
                "{} names a missing file {f}",
                t.name
            );
        }
        let schema = t.schema.as_ref().unwrap();
        assert!(
            root.join(schema).is_file(),
            "{} names a missing schema {schema}",
            t.name
        );
    }
}
