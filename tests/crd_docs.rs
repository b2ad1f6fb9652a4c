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
