//! What people look at while and after an ingest runs, end to end on local mode: `kubectl logs`
//! of its Jobs, phases that only move forward, the per-table figures (input files, rows,
//! warnings, duration), and an input file removed or made unreadable after the ingest was
//! validated, which fails it with a condition naming the table and the file.
//!
//! The Jobs run this binary with root's power to read any file dropped (`setpriv`, when the
//! tests run as root), as a container's non-root process would: a file without read permission
//! is then unreadable to them.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::local::{
    apply, eventually, ingest_from, kubectl, kubectl_ok, ready_cluster, shared_data,
};
use kube::Api;
use qserv_local::{LocalMode, LocalOptions};
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::{CatalogIngestStatus, IngestPhase};
use qserv_operator::api::condition::{self, READY};

/// The binary the Jobs run: this crate's, without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH when
/// the tests run as root.
fn unprivileged_binary(dir: &Path) -> PathBuf {
    let wrapper = dir.join("qserv-operator");
    let binary = env!("CARGO_BIN_EXE_qserv-operator");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$(id -u)\" = 0 ]; then\n  exec setpriv --bounding-set \
             -dac_override,-dac_read_search -- {binary} \"$@\"\nfi\nexec {binary} \"$@\"\n"
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    wrapper
}

async fn start(dir: &Path) -> LocalMode {
    let local = LocalMode::start(LocalOptions {
        state_dir: dir.join("state"),
        operator_binary: Some(unprivileged_binary(dir)),
        controllers: true,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    ready_cluster(&local).await;
    local
}

/// case01's Object (partitioned) and Filter (regular) tables, from a copy of their files in
/// `dir`, under `name`.
fn small_ingest(dir: &Path, name: &str) -> serde_json::Value {
    let case01 = shared_data().join("qserv_testdata/case01/data");
    std::fs::create_dir_all(dir.join("data/schema")).unwrap();
    for f in [
        "Object.tsv.gz",
        "Filter.tsv.gz",
        "schema/Object.schema",
        "schema/Filter.schema",
    ] {
        std::fs::copy(case01.join(f), dir.join("data").join(f)).unwrap();
        let mut perms = std::fs::metadata(dir.join("data").join(f))
            .unwrap()
            .permissions();
        perms.set_mode(0o644);
        std::fs::set_permissions(dir.join("data").join(f), perms).unwrap();
    }
    let mut m = ingest_from("catalogingest-case01.yaml", dir, Some(name));
    let tables = &m["spec"]["tables"];
    m["spec"]["tables"] = serde_json::json!([tables[0].clone(), tables[2].clone()]);
    m["spec"]["checks"] = serde_json::json!([]);
    m["spec"].as_object_mut().unwrap().remove("queries");
    m
}

/// Polls the ingest until it ends; every phase seen on the way, in order.
async fn phases_until_done(
    local: &LocalMode,
    name: &str,
) -> (CatalogIngestStatus, Vec<IngestPhase>) {
    let api: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    let seen = std::sync::Mutex::new(Vec::new());
    let status = eventually(local, &format!("cing/{name} to end"), 600, || async {
        let status = api.get(name).await.ok()?.status?;
        let phase = status.phase?;
        let mut seen = seen.lock().unwrap();
        if seen.last() != Some(&phase) {
            seen.push(phase);
        }
        matches!(phase, IngestPhase::Succeeded | IngestPhase::Failed).then_some(status)
    })
    .await;
    (status, seen.into_inner().unwrap())
}

fn rank(p: IngestPhase) -> u8 {
    use IngestPhase::*;
    match p {
        Pending => 0,
        Partitioning => 1,
        Loading => 2,
        Publishing => 3,
        Verifying => 4,
        Succeeded | Failed => 5,
    }
}

fn ready(status: &CatalogIngestStatus) -> (String, String) {
    let c = condition::find(&status.conditions, READY).unwrap();
    (c.reason.clone(), c.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_phases_and_table_figures_of_an_ingest_and_inputs_gone_since_validation() {
    let dir = tempfile::Builder::new()
        .prefix("qserv-e2e-status-")
        .disable_cleanup(std::env::var_os("QSERV_TEST_KEEP").is_some())
        .tempdir()
        .unwrap();
    let local = start(dir.path()).await;

    // An ingest that succeeds: its phases only move forward, its tables say their files.
    let fine = dir.path().join("fine");
    apply(&local, &small_ingest(&fine, "fine")).await;
    let (status, phases) = phases_until_done(&local, "fine").await;
    assert_eq!(
        status.phase,
        Some(IngestPhase::Succeeded),
        "{:?}",
        ready(&status)
    );
    assert!(
        phases.windows(2).all(|w| rank(w[0]) < rank(w[1])),
        "phases went back: {phases:?}"
    );
    // (name, files, file names, rows read, rows loaded, warnings)
    type Figures<'a> = (&'a str, i64, Vec<&'a str>, i64, i64, i64);
    let tables: Vec<Figures> = status
        .tables
        .iter()
        .map(|t| {
            let names = t.file_names.iter().map(String::as_str).collect();
            (
                t.name.as_str(),
                t.files,
                names,
                t.rows_read,
                t.rows_loaded,
                t.warnings,
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("Object", 1, vec!["data/Object.tsv.gz"], 88, 88, 0),
            ("Filter", 1, vec!["data/Filter.tsv.gz"], 9, 9, 0),
        ]
    );
    assert!(
        status
            .tables
            .iter()
            .all(|t| t.duration_seconds.is_some_and(|s| s > 0.0)),
        "{:?}",
        status.tables
    );

    // `kubectl describe` shows them with the rest of the status.
    let described = kubectl_ok(&local, &["describe", "cing", "fine"]).await;
    for shown in [
        "Files:",
        "File Names:",
        "data/Object.tsv.gz",
        "Duration Seconds:",
        "Warnings:",
    ] {
        assert!(described.contains(shown), "{shown} not in:\n{described}");
    }

    // `kubectl logs job/<ingest>-load` prints the load's log: its last line says it is done.
    let log = kubectl_ok(&local, &["logs", "job/fine-load"]).await;
    println!("kubectl logs job/fine-load:\n{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(last.contains("ingest done"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "no terminal colours in a pod's log: {log}"
    );
    assert!(log.lines().count() > 1, "{log}");
    assert_eq!(
        kubectl_ok(&local, &["logs", "job/fine-load", "-c", "load"]).await,
        log
    );
    assert_eq!(
        kubectl_ok(&local, &["logs", "job/fine-load", "--tail=1"]).await,
        format!("{last}\n")
    );
    // The Job ended: following prints the same and ends.
    assert_eq!(
        kubectl_ok(&local, &["logs", "-f", "job/fine-load"]).await,
        log
    );

    // Inputs that change after the ingest was validated. Pod creation fails for a while, so
    // the Jobs exist (the ingests started: no more preflight) but none has read anything.
    local
        .server()
        .fail_requests("POST /api/v1/namespaces/default/pods", 500, 1_000_000);
    let gone = dir.path().join("gone");
    let unreadable = dir.path().join("unreadable");
    apply(&local, &small_ingest(&gone, "gone")).await;
    apply(&local, &small_ingest(&unreadable, "unreadable")).await;
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(local.client(), "default");
    for name in ["gone-partition", "unreadable-partition"] {
        eventually(&local, &format!("job {name}"), 120, || async {
            jobs.get(name).await.ok()
        })
        .await;
    }
    // The partitioned table's file removed; the regular table's file made unreadable.
    std::fs::remove_file(gone.join("data/Object.tsv.gz")).unwrap();
    let filter = unreadable.join("data/Filter.tsv.gz");
    let mut perms = std::fs::metadata(&filter).unwrap().permissions();
    perms.set_mode(0o000);
    std::fs::set_permissions(&filter, perms).unwrap();
    local.server().clear_faults();

    let (status, phases) = phases_until_done(&local, "gone").await;
    assert_eq!(status.phase, Some(IngestPhase::Failed));
    assert_eq!(
        ready(&status),
        (
            "PartitionFailed".into(),
            "partition step (index 0): table Object: input file data/Object.tsv.gz: No such \
             file or directory (os error 2)"
                .into()
        )
    );
    assert!(
        phases.windows(2).all(|w| rank(w[0]) < rank(w[1])),
        "{phases:?}"
    );

    let (status, _) = phases_until_done(&local, "unreadable").await;
    assert_eq!(status.phase, Some(IngestPhase::Failed));
    let (reason, message) = ready(&status);
    // The load and the reference read it; whichever Job gave up first is named.
    let step = match reason.as_str() {
        "LoadFailed" => "load",
        "ReferenceFailed" => "reference",
        other => panic!("{other}: {message}"),
    };
    assert_eq!(
        message,
        format!(
            "{step} step: table Filter: input file data/Filter.tsv.gz: Permission denied (os \
             error 13)"
        )
    );
    // The step's log says it too.
    let log = kubectl(&local, &["logs", &format!("job/unreadable-{step}")]).await;
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("input file data/Filter.tsv.gz"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );
    local.shutdown().await;
}
