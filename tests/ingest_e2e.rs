//! CatalogIngest end to end on local mode: the real kubectl applies the example QservCluster
//! and CatalogIngests, the controllers (in process, real kube::Client) run the partition,
//! load, reference and check Jobs as child processes of this crate's binary, the replication
//! stand-in writes into the workers' real MariaDB servers, and the checks compare the czar's
//! query endpoint with the reference database.

mod common;

use std::collections::BTreeMap;

use common::local::{apply, eventually, ingest_from, kubectl_ok, shared_data, start};
use kube::Api;
use mysql_async::prelude::Queryable;
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::{CatalogIngestStatus, IngestPhase};
use qserv_operator::api::condition::{self, READY};
use qserv_operator::local::LocalMode;

/// Applies the example QservCluster with kubectl and waits until kubectl says it is Ready.
async fn ready_cluster(local: &LocalMode) {
    kubectl_ok(
        local,
        &[
            "apply",
            "--server-side",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/qservcluster-ci.yaml"),
        ],
    )
    .await;
    kubectl_ok(
        local,
        &[
            "wait",
            "--for=condition=Ready",
            "qsc/qserv-ci",
            "--timeout=180s",
        ],
    )
    .await;
}

/// Waits for the ingest to end (Succeeded or Failed) and returns its status.
async fn finished(local: &LocalMode, name: &str, secs: u64) -> CatalogIngestStatus {
    let api: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    eventually(local, &format!("cing/{name} to end"), secs, || async {
        let status = api.get(name).await.ok()?.status?;
        matches!(
            status.phase,
            Some(IngestPhase::Succeeded | IngestPhase::Failed)
        )
        .then_some(status)
    })
    .await
}

/// (rows read, rows loaded, chunks) per table.
fn table_figures(status: &CatalogIngestStatus) -> BTreeMap<String, (i64, i64, i64)> {
    status
        .tables
        .iter()
        .map(|t| (t.name.clone(), (t.rows_read, t.rows_loaded, t.chunks)))
        .collect()
}

/// `user@host:port` of a Service of the cluster, as local mode serves it.
async fn connect(local: &LocalMode, service: &str, port: u16, user: &str) -> mysql_async::Conn {
    let addr = local.resolve(service, port).unwrap();
    mysql_async::Conn::from_url(format!("mysql://{user}@{addr}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case01_and_macs2243_succeed_and_qserv_answers_as_the_reference() {
    let (local, _dir) = start("ingest", true).await;
    ready_cluster(&local).await;
    let data = shared_data();
    apply(
        &local,
        &ingest_from(
            "catalogingest-case01.yaml",
            &data.join("qserv_testdata/case01/data"),
            None,
        ),
    )
    .await;
    apply(
        &local,
        &ingest_from("catalogingest-macs2243.yaml", &data.join("clusters"), None),
    )
    .await;

    // The Clusters catalog: the cone of 0.4 deg and the bands select what astropy selects
    // (tests/catalog_select.rs checks the selection against astropy row by row).
    let macs = finished(&local, "macs2243", 600).await;
    let ready = condition::find(&macs.conditions, READY).unwrap();
    assert_eq!(
        macs.phase,
        Some(IngestPhase::Succeeded),
        "{}",
        ready.message
    );
    assert_eq!(
        table_figures(&macs),
        BTreeMap::from([
            ("deepCoadd_meas".to_string(), (6395, 6395, 6)),
            ("deepCoadd_forced_src".to_string(), (6395, 6395, 6)),
            ("forced_src".to_string(), (1961, 1961, 6)),
        ])
    );
    assert_eq!(macs.rows_loaded, Some(6395 + 6395 + 1961));
    // 3 built-in checks per director table and the example's 4, every one passed.
    assert_eq!(macs.checks.len(), 9 + 4);
    assert!(macs.checks.iter().all(|c| c.passed), "{:#?}", macs.checks);
    assert_eq!(macs.checks_summary.as_deref(), Some("13/13"));
    let forced = macs
        .checks
        .iter()
        .find(|c| c.name == "forced-per-object")
        .unwrap();
    assert_eq!(
        (forced.qserv_rows, forced.reference_rows),
        (Some(1279), Some(1279))
    );

    // qserv_testdata case01: Object and Source partitioned, seven regular tables; the
    // dataset's own query suite on Qserv and on the reference.
    let case01 = finished(&local, "case01", 900).await;
    let ready = condition::find(&case01.conditions, READY).unwrap();
    assert_eq!(
        case01.phase,
        Some(IngestPhase::Succeeded),
        "{}",
        ready.message
    );
    let figures = table_figures(&case01);
    let rows = |t: &str| figures[t].1;
    assert_eq!(figures["Object"], (88, 88, 13));
    assert_eq!(figures["Source"], (3339, 3339, 13));
    for (table, n) in [
        ("Filter", 9),
        ("LeapSeconds", 38),
        ("Logs", 1000),
        ("RefSrcMatch", 3344),
        ("Science_Ccd_Exposure", 3304),
        ("SimRefObject", 3314),
        ("sdqa_Metric", 53),
    ] {
        assert_eq!(figures[table], (n, n, 0), "{table}");
    }
    assert_eq!(figures.len(), 9);
    let failed: Vec<_> = case01.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // Built-in: 3 + 2 + one per regular table; the example's 5; the 56 runnable queries.
    assert_eq!(case01.checks.len(), 12 + 5 + 56);
    let queries: Vec<_> = case01
        .checks
        .iter()
        .filter(|c| c.name.starts_with("query/"))
        .collect();
    for q in &queries {
        assert_eq!(q.qserv_rows, q.reference_rows, "{}", q.name);
    }
    let skipped = |why: &str| {
        case01
            .skipped_checks
            .iter()
            .filter(|s| s.reason.contains(why))
            .count()
    };
    assert_eq!(skipped("FIXME"), 38);
    assert_eq!(skipped("Qserv-only functions"), 12);
    assert_eq!(case01.skipped_checks.len(), 50);
    assert_eq!(
        condition::find(&case01.conditions, "Verified")
            .unwrap()
            .message,
        "73 checks passed, 50 skipped"
    );

    // kubectl shows both ingests done, and the data is there for a client of the query port.
    let get = kubectl_ok(&local, &["get", "cing", "--no-headers"]).await;
    let lines: Vec<Vec<&str>> = get
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0][..5],
        ["case01", "qserv-ci", "Succeeded", "14489", "73/73"]
    );
    assert_eq!(
        lines[1][..5],
        ["macs2243", "qserv-ci", "Succeeded", "14751", "13/13"]
    );
    let mut qserv = connect(&local, "qserv-ci-query", 4040, "qsmaster").await;
    let objects: i64 = qserv
        .query_first("SELECT COUNT(*) FROM qservTest_case01_qserv.Object")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(objects, rows("Object"));
    let primary: i64 = qserv
        .query_first(
            "SELECT COUNT(*) FROM clusters_macs2243.deepCoadd_meas WHERE detect_isPrimary = 1",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        primary > 0 && primary < 6395,
        "{primary} primary detections"
    );
    local.shutdown().await;
}
