//! CatalogIngest end to end on local mode: the real kubectl applies the example QservCluster
//! and CatalogIngests, the controllers (in process, real kube::Client) run the partition,
//! load, reference and check Jobs as child processes of this crate's binary, the replication
//! stand-in writes into the workers' real MariaDB servers, and the checks compare the czar's
//! query endpoint with the reference database.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::local::{
    apply, connect, eventually, finished, ingest_from, kubectl_ok, ready_cluster,
    replication_state, shared_data, start,
};
use kube::Api;
use mysql_async::prelude::Queryable;
use qserv_local::LocalMode;
use qserv_local::simulators::replication_faults;
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::{CatalogIngestStatus, IngestPhase};
use qserv_operator::api::condition::{self, READY};

/// (rows read, rows loaded, chunks) per table.
fn table_figures(status: &CatalogIngestStatus) -> BTreeMap<String, (i64, i64, i64)> {
    status
        .tables
        .iter()
        .map(|t| (t.name.clone(), (t.rows_read, t.rows_loaded, t.chunks)))
        .collect()
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
            &data.join("qserv_testdata/case01"),
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
    // What the load Job published of its progress while it ran ends at every contribution:
    // the chunk and the overlap rows of each table.
    let results =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(local.client(), "default")
            .get("macs2243-results")
            .await
            .unwrap();
    let progress = qserv_operator::ingest::report::read_progress(&results);
    assert_eq!(progress.len(), 1, "{progress:?}");
    let overlap: i64 = macs.tables.iter().map(|t| t.overlap_rows).sum();
    assert_eq!(overlap, 2690 + 2690 + 796);
    assert_eq!(
        (progress[0].step.as_str(), progress[0].unit.as_str()),
        ("load", "contributions")
    );
    assert!(progress[0].total > 0);
    assert_eq!(progress[0].done, progress[0].total);
    assert_eq!(progress[0].rows as i64, 6395 + 6395 + 1961 + overlap);
    assert_eq!(
        progress[0].stage.as_deref(),
        Some("collecting row counters")
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
    // The reference copy is where qserv_testdata's suite names it: `_mysql` for `_qserv`.
    let mut reference = connect(&local, "qserv-ci-reference", 3306, "root").await;
    let copies: Vec<String> = reference
        .query("SHOW DATABASES LIKE 'qservTest\\_case01\\_%'")
        .await
        .unwrap();
    assert_eq!(copies, ["qservTest_case01_mysql"]);
    let reference_objects: i64 = reference
        .query_first("SELECT COUNT(*) FROM qservTest_case01_mysql.Object")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reference_objects, rows("Object"));
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

/// The macs2243 example as another ingest (`name`, database `name` with `_`).
fn macs(name: &str) -> serde_json::Value {
    ingest_from(
        "catalogingest-macs2243.yaml",
        &shared_data().join("clusters"),
        Some(name),
    )
}

const MACS_TABLES: [(&str, i64); 3] = [
    ("deepCoadd_meas", 6395),
    ("deepCoadd_forced_src", 6395),
    ("forced_src", 1961),
];

/// Rows of `database.table` through the czar's query port (`None`: no such table there).
async fn qserv_rows(local: &LocalMode, database: &str, table: &str) -> Option<i64> {
    let mut conn = connect(local, "qserv-ci-query", 4040, "qsmaster").await;
    conn.query_first(format!("SELECT COUNT(*) FROM `{database}`.`{table}`"))
        .await
        .ok()
        .flatten()
}

/// An ingest of macs2243 that succeeded holds exactly the selected rows, in status and in Qserv.
async fn assert_exact(local: &LocalMode, name: &str, status: &CatalogIngestStatus) {
    let ready = condition::find(&status.conditions, READY).unwrap();
    assert_eq!(
        status.phase,
        Some(IngestPhase::Succeeded),
        "{}",
        ready.message
    );
    let database = name.replace('-', "_");
    for (table, n) in MACS_TABLES {
        let figures = table_figures(status)[table];
        assert_eq!((figures.0, figures.1), (n, n), "{name} {table}");
        assert_eq!(
            qserv_rows(local, &database, table).await,
            Some(n),
            "{table}"
        );
    }
    assert!(
        status.checks.iter().all(|c| c.passed),
        "{:#?}",
        status.checks
    );
}

/// A failed ingest published nothing: Qserv has none of its tables, and every transaction it
/// started was aborted.
async fn assert_nothing_published(local: &LocalMode, database: &str) {
    for (table, _) in MACS_TABLES {
        assert_eq!(qserv_rows(local, database, table).await, None, "{table}");
    }
    if let Some((published, states)) = replication_state(local, database).await {
        assert!(!published, "{database} is published");
        assert!(
            states.iter().all(|s| s == "ABORTED"),
            "transactions of {database}: {states:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contribution_failing_once_is_retried_and_failing_always_aborts_everything() {
    let (local, _dir) = start("contrib-faults", true).await;
    ready_cluster(&local).await;
    let controller = local.resolve("qserv-ci-repl", 8080).unwrap();
    let faults = replication_faults(controller).expect("the stand-in runs in this process");

    // One HTTP 503: the client retries that contribution; the counts end exact.
    faults.fail_contributions(503, 1);
    apply(&local, &macs("macs-once")).await;
    let once = finished(&local, "macs-once", 600).await;
    assert_exact(&local, "macs-once", &once).await;
    assert_eq!(faults.injected_failures(), 1);
    let (published, states) = replication_state(&local, "macs_once").await.unwrap();
    assert!(published);
    assert_eq!(states, ["FINISHED"]);

    // HTTP 500 on every contribution: each attempt of the load Job aborts its transaction;
    // once the Job's retries are spent the ingest fails, naming the request that failed.
    faults.fail_all_contributions(500);
    apply(&local, &macs("macs-always")).await;
    let always = finished(&local, "macs-always", 600).await;
    faults.clear_faults();
    assert_eq!(always.phase, Some(IngestPhase::Failed));
    let ready = condition::find(&always.conditions, READY).unwrap();
    assert_eq!(ready.reason, "LoadFailed");
    assert!(
        ready.message.starts_with("load step: transaction ")
            && ready.message.contains("aborted, nothing published")
            && ready.message.contains("POST /ingest/csv")
            && ready.message.contains("500"),
        "{}",
        ready.message
    );
    assert_nothing_published(&local, "macs_always").await;
    let (_, states) = replication_state(&local, "macs_always").await.unwrap();
    assert_eq!(
        states.len(),
        3,
        "one transaction per attempt (backoffLimit 2): {states:?}"
    );
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_load_ends_exact_or_failed_and_never_half_published() {
    let (local, _dir) = start("worker-killed", true).await;
    ready_cluster(&local).await;
    apply(&local, &macs("macs-kill")).await;
    let ingests: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    eventually(&local, "the load step", 300, || async {
        let s = ingests.get("macs-kill").await.ok()?.status?;
        matches!(
            s.phase,
            Some(IngestPhase::Loading | IngestPhase::Publishing)
        )
        .then_some(())
    })
    .await;
    let pid = local
        .runtime()
        .kill_pod_process("default", "qserv-ci-worker-1", "mariadb")
        .unwrap();
    println!("killed mariadbd {pid} of qserv-ci-worker-1 while loading");
    let status = finished(&local, "macs-kill", 600).await;
    match status.phase {
        Some(IngestPhase::Succeeded) => {
            assert_exact(&local, "macs-kill", &status).await;
            // The killed worker stayed one of the cluster's workers and holds its share (the
            // czar reads each worker through its own FederatedX table, `<table>__w<i>`).
            let mut qserv = connect(&local, "qserv-ci-query", 4040, "qsmaster").await;
            let on = |w: usize| format!("SELECT COUNT(*) FROM macs_kill.deepCoadd_meas__w{w}");
            let w0: i64 = qserv.query_first(on(0)).await.unwrap().unwrap();
            let w1: i64 = qserv.query_first(on(1)).await.unwrap().unwrap();
            let loaded = status
                .tables
                .iter()
                .find(|t| t.name == "deepCoadd_meas")
                .unwrap()
                .rows_loaded;
            assert!(
                w0 > 0 && w1 > 0,
                "rows on worker 0: {w0}, on worker 1: {w1}"
            );
            assert_eq!(w0 + w1, loaded);
        }
        _ => {
            let ready = condition::find(&status.conditions, READY).unwrap();
            println!("ended Failed: {}", ready.message);
            assert!(ready.message.contains("load step"), "{}", ready.message);
            assert_nothing_published(&local, "macs_kill").await;
        }
    }
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_restarted_mid_load_ends_with_exact_counts_and_one_job_per_step() {
    let (local, dir) = start("operator-restart", false).await;
    // The second operator's metrics are read at the end: it gets a known free port.
    let second_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let operator = |name: &str, port: u16| {
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
            .args([
                "run",
                "--metrics-addr",
                &format!("127.0.0.1:{port}"),
                "--no-leader-election",
            ])
            .env("KUBECONFIG", local.kubeconfig())
            .env(
                qserv_operator::connect_to::ENV,
                local.runtime().address_map_path(),
            )
            .env("QSERV_OPERATOR_IMAGE", "qserv-operator:local")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let mut first = operator("first", 0);
    ready_cluster(&local).await;
    apply(&local, &macs("macs-restart")).await;
    let ingests: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    eventually(&local, "the load step", 300, || async {
        let s = ingests.get("macs-restart").await.ok()?.status?;
        matches!(
            s.phase,
            Some(IngestPhase::Loading | IngestPhase::Publishing)
        )
        .then_some(())
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = operator("second", second_port);
    let status = finished(&local, "macs-restart", 600).await;
    assert_exact(&local, "macs-restart", &status).await;
    let (_, states) = replication_state(&local, "macs_restart").await.unwrap();
    assert_eq!(states, ["FINISHED"], "one transaction, committed once");
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(local.client(), "default");
    let mut names: Vec<String> = jobs
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|j| j.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "macs-restart-check",
            "macs-restart-load",
            "macs-restart-partition",
            "macs-restart-reference"
        ]
    );

    // `/metrics` of the operator that finished the ingest: its figures, not placeholders.
    let metrics = reqwest::get(format!("http://127.0.0.1:{second_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert_eq!(
        metric("qserv_operator_ingest_rows_total"),
        status.rows_loaded.unwrap() as f64
    );
    let bytes: i64 = status.tables.iter().map(|t| t.bytes).sum();
    assert!(bytes > 0);
    assert_eq!(metric("qserv_operator_ingest_bytes_total"), bytes as f64);
    let passed = status.checks.iter().filter(|c| c.passed).count();
    assert!(passed > 0);
    assert_eq!(
        metric("qserv_operator_checks_total{result=\"passed\"}"),
        passed as f64
    );
    assert_eq!(
        metric("qserv_operator_checks_total{result=\"failed\"}"),
        0.0
    );
    assert!(metric("qserv_operator_reconciles_total{controller=\"catalogingest\"}") >= 1.0);
    assert!(metric("qserv_operator_reconciles_total{controller=\"qservcluster\"}") >= 1.0);
    assert!(
        metric("qserv_operator_reconcile_duration_seconds_count{controller=\"catalogingest\"}")
            >= 1.0
    );
    second.kill().unwrap();
    second.wait().unwrap();
    local.shutdown().await;
}

/// Jobs of an ingest (by the name prefix the controller gives them).
async fn jobs_of(local: &LocalMode, ingest: &str) -> Vec<String> {
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(local.client(), "default");
    jobs.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .filter(|n| n.starts_with(&format!("{ingest}-")))
        .collect()
}

/// The Ready condition's (status, reason, message) once it has `reason`.
async fn ready_with(local: &LocalMode, name: &str, reason: &str) -> (String, String, String) {
    let api: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    eventually(
        local,
        &format!("cing/{name} Ready reason {reason}"),
        600,
        || async {
            let status = api.get(name).await.ok()?.status?;
            let c = condition::find(&status.conditions, READY)?;
            (c.reason == reason).then(|| (c.status.clone(), c.reason.clone(), c.message.clone()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_and_files_are_named_in_status_and_launch_nothing_wrong() {
    let (local, _dir) = start("bad-input", true).await;

    // A cluster that does not exist (yet): the ingest waits and says for what.
    let mut nowhere = macs("no-cluster");
    nowhere["spec"]["cluster"] = "nope".into();
    apply(&local, &nowhere).await;
    let (status, _, message) = ready_with(&local, "no-cluster", "ClusterNotFound").await;
    assert_eq!(status, "False");
    assert_eq!(message, "QservCluster nope not found in namespace default");

    // Problems the operator sees in the spec and the files: Failed before any Job.
    let mut missing = macs("missing-file");
    missing["spec"]["tables"][1]["files"] = serde_json::json!(["macs2244.h5"]);
    apply(&local, &missing).await;
    let mut wrong = macs("wrong-column");
    wrong["spec"]["tables"][0]["raColumn"] = "coord_alpha".into();
    apply(&local, &wrong).await;
    for (name, names) in [
        (
            "missing-file",
            ["spec.tables[1] (deepCoadd_forced_src)", "macs2244.h5"],
        ),
        (
            "wrong-column",
            ["spec.tables[0] (deepCoadd_meas)", "coord_alpha"],
        ),
    ] {
        let status = finished(&local, name, 120).await;
        assert_eq!(status.phase, Some(IngestPhase::Failed));
        let ready = condition::find(&status.conditions, READY).unwrap();
        for n in names {
            assert!(ready.message.contains(n), "{name}: {}", ready.message);
        }
        assert_eq!(jobs_of(&local, name).await, Vec::<String>::new(), "{name}");
    }

    // A malformed row in an input file: the partition Job fails on it (after its retries),
    // the ingest names the file, line and field, and Qserv never heard of the database.
    ready_cluster(&local).await;
    let data = tempfile::tempdir().unwrap();
    let case01 = shared_data().join("qserv_testdata/case01/data");
    // The example's layout: the source holds data/ (files and schemas).
    std::fs::create_dir_all(data.path().join("data/schema")).unwrap();
    std::fs::copy(
        case01.join("schema/Object.schema"),
        data.path().join("data/schema/Object.schema"),
    )
    .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(case01.join("Object.tsv.gz")).unwrap(),
        ),
        &mut bytes,
    )
    .unwrap();
    // Line 17 (its leading fields are plain numbers; binary fields come later).
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let mut fields: Vec<Vec<u8>> = lines[16]
        .split(|b| *b == b'\t')
        .map(<[u8]>::to_vec)
        .collect();
    fields[4] = b"4.5x".to_vec(); // decl_PS
    lines[16] = fields.join(&b'\t');
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(data.path().join("data/Object.tsv.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut gz, &lines.join(&b'\n')).unwrap();
    gz.finish().unwrap();
    let mut bad = ingest_from("catalogingest-case01.yaml", data.path(), Some("bad-row"));
    bad["spec"]["tables"] = serde_json::json!([bad["spec"]["tables"][0].clone()]);
    bad["spec"]["checks"] = serde_json::json!([]);
    bad["spec"].as_object_mut().unwrap().remove("queries");
    apply(&local, &bad).await;
    let status = finished(&local, "bad-row", 600).await;
    assert_eq!(status.phase, Some(IngestPhase::Failed));
    let ready = condition::find(&status.conditions, READY).unwrap();
    assert_eq!(ready.reason, "PartitionFailed");
    println!("{}", ready.message);
    assert!(
        ready.message.contains("Object.tsv.gz")
            && ready.message.contains("line 17")
            && ready.message.contains("decl_PS"),
        "{}",
        ready.message
    );
    assert_eq!(jobs_of(&local, "bad-row").await, ["bad-row-partition"]);
    assert_eq!(replication_state(&local, "bad_row").await, None);
    local.shutdown().await;
}

/// The pid's parent: for a Job container's process, the supervisor that wraps it in local mode
/// (the container runtime's shim, on a real node).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 4, after the parenthesised command name and the state, is the parent's pid.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Kills, once the load step has a transaction open that is newer than the first `seen`
/// transactions of `database`, either the load container's process or the wrapper that runs
/// it; the pod it ran in and how many transactions there were then. (An older transaction still
/// STARTED is a killed attempt's, not yet aborted by the retry: killing the retry before it
/// opens its own would leave one attempt fewer than the test counts.)
async fn kill_mid_load(
    local: &LocalMode,
    ingest: &str,
    database: &str,
    wrapper: bool,
    seen: usize,
) -> (String, usize) {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(local.client(), "default");
    let selector = format!("job-name={ingest}-load");
    let what = format!("a {ingest}-load pod with a transaction open");
    eventually(local, &what, 300, || async {
        let listed = pods
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
            .ok()?;
        let running = listed.items.iter().find(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })?;
        let name = running.metadata.name.clone()?;
        let (_, states) = replication_state(local, database).await?;
        if !states.iter().skip(seen).any(|s| s == "STARTED") {
            return None;
        }
        // One kill per call: a kill whose pod is not counted (the process killed, then its
        // wrapper not found) made a later poll kill the retry too, one attempt more than counted.
        let pid = if wrapper {
            // The wrapper: SIGKILL to the process that runs the container's command.
            let pid = local.runtime().process_of("default", &name, "load")?;
            let parent = parent_of(pid)?;
            rustix::process::kill_process(
                rustix::process::Pid::from_raw(parent as i32)?,
                rustix::process::Signal::KILL,
            )
            .ok()?;
            parent
        } else {
            local
                .runtime()
                .kill_pod_process("default", &name, "load")
                .ok()?
        };
        println!(
            "killed {} {pid} of pod {name}",
            if wrapper {
                "the wrapper"
            } else {
                "the process"
            }
        );
        Some((name, states.len()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_pod_whose_process_or_wrapper_is_killed_is_retried_and_ends_exact() {
    let (local, _dir) = start("load-killed", true).await;
    ready_cluster(&local).await;
    apply(&local, &macs("macs-jobkill")).await;
    let (first, seen) = kill_mid_load(&local, "macs-jobkill", "macs_jobkill", true, 0).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(local.client(), "default");
    // The pod whose wrapper died ends Failed, as the kubelet reports a container it lost.
    let reason = eventually(&local, "the first load pod to fail", 120, || async {
        let pod = pods.get(&first).await.ok()?;
        let status = pod.status?;
        (status.phase.as_deref() == Some("Failed")).then_some(())?;
        let terminated = status
            .container_statuses?
            .first()?
            .state
            .clone()?
            .terminated?;
        Some((terminated.exit_code, terminated.reason))
    })
    .await;
    assert_ne!(reason.0, 0, "{reason:?}");
    let (second, _) = kill_mid_load(&local, "macs-jobkill", "macs_jobkill", false, seen).await;
    assert_ne!(first, second, "the Job replaced the failed pod");
    let status = finished(&local, "macs-jobkill", 600).await;
    if status.phase != Some(IngestPhase::Succeeded) {
        let listed = pods
            .list(&kube::api::ListParams::default().labels("job-name=macs-jobkill-load"))
            .await
            .unwrap();
        for pod in listed.items {
            let name = pod.metadata.name.unwrap();
            let text = local
                .runtime()
                .container_log("default", &name, "load")
                .unwrap_or_default();
            println!("--- {name}:\n{text}");
        }
    }
    assert_exact(&local, "macs-jobkill", &status).await;
    let (published, states) = replication_state(&local, "macs_jobkill").await.unwrap();
    assert!(published);
    // The killed attempts' transactions were aborted by the attempt after them; one committed.
    let committed = states.iter().filter(|s| *s == "FINISHED").count();
    assert_eq!(committed, 1, "{states:?}");
    assert!(
        states.iter().all(|s| s == "FINISHED" || s == "ABORTED"),
        "{states:?}"
    );
    assert!(
        states.len() >= 3,
        "two killed attempts and the one that committed: {states:?}"
    );
    let job: k8s_openapi::api::batch::v1::Job = Api::namespaced(local.client(), "default")
        .get("macs-jobkill-load")
        .await
        .unwrap();
    assert_eq!(job.status.unwrap().failed, Some(2));
    local.shutdown().await;
}

/// A connection as root to the cluster's reference database.
async fn reference(local: &LocalMode) -> mysql_async::Conn {
    let addr = local
        .resolve("qserv-ci-reference-0.qserv-ci-reference", 3306)
        .unwrap();
    let secret: k8s_openapi::api::core::v1::Secret = Api::namespaced(local.client(), "default")
        .get("qserv-ci-secrets")
        .await
        .unwrap();
    let password = String::from_utf8(
        secret.data.as_ref().unwrap()["mariadb-root-password"]
            .0
            .clone(),
    )
    .unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some("root"))
        .pass(Some(password));
    mysql_async::Conn::new(opts).await.unwrap()
}

/// `SHOW CREATE TABLE` of `database.table`.
async fn show_create(conn: &mut mysql_async::Conn, database: &str, table: &str) -> String {
    let (_, create): (String, String) = conn
        .query_first(format!("SHOW CREATE TABLE `{database}`.`{table}`"))
        .await
        .unwrap()
        .unwrap();
    create
}

/// A CatalogIngest of CSV tables made for DP0.2's `DiaObject` (a director, by `ra`/`decl`) and
/// `Visit` (regular, with DATETIME(6) columns) whose `schema` is the real `dp02_dc2.yaml`.
fn dp02_ingest(
    name: &str,
    source: &Path,
    diaobject_schema_table: Option<&str>,
) -> serde_json::Value {
    let mut diaobject = serde_json::json!({
        "name": "DiaObject", "format": "csv", "csv": {"header": true},
        "files": ["DiaObject.csv"], "schema": "sdm/dp02_dc2.yaml",
        "role": "director", "idColumn": "diaObjectId", "raColumn": "ra", "decColumn": "decl",
    });
    if let Some(t) = diaobject_schema_table {
        diaobject["schemaTable"] = t.into();
    }
    serde_json::json!({
        "apiVersion": "qserv.in2p3.fr/v1alpha1",
        "kind": "CatalogIngest",
        "metadata": {"name": name},
        "spec": {
            "cluster": "qserv-ci",
            "database": name.replace('-', "_"),
            "partitioning": {"stripes": 340, "subStripes": 3, "overlap": 0.01667},
            "source": {"path": source.display().to_string()},
            "tables": [diaobject, {
                "name": "Visit", "format": "csv", "csv": {"header": true},
                "files": ["Visit.csv"], "schema": "sdm/dp02_dc2.yaml",
            }],
            "checks": [
                {"name": "diaobject-values", "expect": "reference", "sort": true,
                 "sql": "SELECT diaObjectId, ra, decl, gPSFluxMean, nDiaSources FROM DiaObject"},
                {"name": "visit-values", "expect": "reference", "sort": true,
                 "sql": "SELECT visit, band, physical_filter, expMidpt, obsStart FROM Visit"},
            ],
        }
    })
}

/// Issue 15's acceptance for Felis schemas: an ingest whose `schema` is the real DP0.2 Felis
/// file succeeds, its reference tables are what `felis create` makes of the same tables, Qserv
/// answers as the reference; a table missing from the file fails the ingest naming it, with
/// nothing published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_felis_schema_ingest_makes_felis_s_tables_and_a_missing_table_fails_it() {
    let dp02_yaml = common::felis::sdm_schemas_dir().join("dp02_dc2.yaml");
    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir(source.path().join("sdm")).unwrap();
    std::fs::copy(&dp02_yaml, source.path().join("sdm/dp02_dc2.yaml")).unwrap();
    for (table, rows, position) in [
        ("DiaObject", 300, &["--ra", "ra", "--dec", "decl"][..]),
        ("Visit", 40, &[][..]),
    ] {
        let csv = source.path().join(format!("{table}.csv"));
        common::felis::felis_rows(&dp02_yaml, table, rows, &csv, position);
    }

    let (local, _dir) = start("felis", true).await;
    ready_cluster(&local).await;
    apply(&local, &dp02_ingest("dp02", source.path(), None)).await;
    apply(
        &local,
        &dp02_ingest("dp02-missing", source.path(), Some("DiaObjekt")),
    )
    .await;

    let status = finished(&local, "dp02", 600).await;
    let ready = condition::find(&status.conditions, READY).unwrap();
    assert_eq!(
        status.phase,
        Some(IngestPhase::Succeeded),
        "{}",
        ready.message
    );
    let figures = table_figures(&status);
    assert_eq!(figures["Visit"], (40, 40, 0));
    let (read, loaded, chunks) = figures["DiaObject"];
    assert_eq!((read, loaded), (300, 300));
    assert!(chunks > 0);
    let failed: Vec<_> = status.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    for name in ["diaobject-values", "visit-values"] {
        let check = status.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(check.qserv_rows, check.reference_rows, "{name}");
    }
    assert_eq!(qserv_rows(&local, "dp02", "Visit").await, Some(40));

    // The reference tables are Felis's own: its DDL, run on the same server, makes the same
    // tables but for AUTO_INCREMENT (left out on purpose, see qserv_data::catalog::felis).
    let mut conn = reference(&local).await;
    conn.query_drop("CREATE DATABASE felis_oracle CHARACTER SET utf8mb4")
        .await
        .unwrap();
    let felis = common::felis::felis_create(&dp02_yaml, "felis_oracle");
    for table in ["DiaObject", "Visit"] {
        let statement = &felis.iter().find(|t| t.name == table).unwrap().statement;
        conn.query_drop(statement).await.unwrap();
        let theirs = show_create(&mut conn, "felis_oracle", table).await;
        let ours = show_create(&mut conn, "dp02", table).await;
        assert!(theirs.contains(" AUTO_INCREMENT COMMENT"), "{theirs}");
        assert_eq!(ours, theirs.replacen(" AUTO_INCREMENT", "", 1), "{table}");
    }

    // The missing table: Failed before any Job, naming the file, the table and those there.
    let missing = finished(&local, "dp02-missing", 120).await;
    assert_eq!(missing.phase, Some(IngestPhase::Failed));
    let message = &condition::find(&missing.conditions, READY).unwrap().message;
    assert!(
        message.contains("spec.tables[0] (DiaObject)")
            && message.contains("sdm/dp02_dc2.yaml: Felis schema: no table `DiaObjekt` in schema dp02_dc2_catalogs (its tables: Object, Source, ForcedSource, DiaObject,"),
        "{message}"
    );
    assert_eq!(jobs_of(&local, "dp02-missing").await, Vec::<String>::new());
    assert_eq!(replication_state(&local, "dp02_missing").await, None);
    local.shutdown().await;
}
