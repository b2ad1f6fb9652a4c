//! End-to-end ingest throughput on local mode: a synthetic catalog written by the shared
//! `make_catalog.py` (astropy HDF5, `QSERV_BENCH_OBJECTS` objects, default 200 000: 1 M rows
//! of `deepCoadd_meas`), ingested by a CatalogIngest into the example QservCluster (2 workers)
//! through the Jobs, the replication stand-in and real MariaDB servers; then the built-in
//! checks. Prints rows/s and the time of each phase; asserts nothing about time:
//! `cargo test --release --test ingest_bench -- --ignored --nocapture`

mod common;

use std::time::Instant;

use common::local::{apply, eventually, example, ready_cluster, start};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use qserv_operator::api::CatalogIngest;
use qserv_operator::api::catalog_ingest::IngestPhase;
use qserv_operator::ingest::report::read_reports;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn synthetic_catalog_through_local_mode() {
    let objects = std::env::var("QSERV_BENCH_OBJECTS").unwrap_or_else(|_| "200000".into());
    let data = tempfile::tempdir().unwrap();
    let h5 = data.path().join("bench.h5");
    let t = Instant::now();
    let out = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    )
    .arg(common::local::shared_data().join("clusters/make_catalog.py"))
    .arg(&h5)
    .arg(&objects)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "make_catalog.py {objects} objects: {:.1} s, {:.0} MB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&h5).unwrap().len() as f64 / 1e6
    );

    let (local, _dir) = start("ingest-bench", true).await;
    let t = Instant::now();
    ready_cluster(&local).await;
    println!("cluster Ready in {:.1} s", t.elapsed().as_secs_f64());

    // The example's director table, every column, the whole catalog (no cone, no bands).
    let mut m = example("catalogingest-macs2243.yaml");
    m["metadata"]["name"] = "bench".into();
    m["spec"]["database"] = "bench".into();
    m["spec"]["source"] = serde_json::json!({ "path": data.path().display().to_string() });
    m["spec"]["tables"] = serde_json::json!([m["spec"]["tables"][0].clone()]);
    m["spec"]["tables"][0]["files"] = serde_json::json!(["bench.h5"]);
    let spec = m["spec"].as_object_mut().unwrap();
    for drop in ["region", "filters", "checks"] {
        spec.remove(drop);
    }
    spec["tables"][0].as_object_mut().unwrap().remove("columns");
    let t = Instant::now();
    apply(&local, &m).await;
    let api: Api<CatalogIngest> = Api::namespaced(local.client(), "default");
    // The Ready messages seen while it runs (the load's progress among them).
    let seen = std::sync::Mutex::new(Vec::<(f64, String)>::new());
    let status = eventually(&local, "the bench ingest to end", 3600, || async {
        let s = api.get("bench").await.ok()?.status?;
        if let Some(c) = qserv_operator::api::condition::find(&s.conditions, "Ready") {
            let mut seen = seen.lock().unwrap();
            if seen.last().is_none_or(|(_, m)| *m != c.message) {
                seen.push((t.elapsed().as_secs_f64(), c.message.clone()));
            }
        }
        matches!(s.phase, Some(IngestPhase::Succeeded | IngestPhase::Failed)).then_some(s)
    })
    .await;
    for (at, message) in seen.lock().unwrap().iter() {
        println!("[{at:5.1} s] {message}");
    }
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(status.phase, Some(IngestPhase::Succeeded), "{status:#?}");
    let rows = status.tables[0].rows_loaded;
    println!(
        "ingest of {rows} rows: {wall:.1} s apply → Succeeded, {:.0} rows/s end to end",
        rows as f64 / wall
    );

    let cm = Api::<ConfigMap>::namespaced(local.client(), "default")
        .get("bench-results")
        .await
        .unwrap();
    let mut reports = read_reports(&cm);
    reports.sort_by(|a, b| (&a.step, a.index).cmp(&(&b.step, b.index)));
    println!("{:<12} {:>9} {:>12}  phases", "step", "seconds", "rows/s");
    for r in &reports {
        let step = match r.index {
            Some(i) => format!("{}[{i}]", r.step),
            None => r.step.clone(),
        };
        let phases: Vec<String> = r
            .phase_seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        println!(
            "{step:<12} {:>9.2} {:>12.0}  {}",
            r.seconds,
            rows as f64 / r.seconds,
            phases.join(", ")
        );
    }
    println!(
        "checks {}",
        status.checks_summary.clone().unwrap_or_default()
    );
    for c in &status.checks {
        println!(
            "  {:<28} {:>7.2} s  passed={}",
            c.name,
            c.duration_seconds.unwrap_or_default(),
            c.passed
        );
    }
    local.shutdown().await;
}
