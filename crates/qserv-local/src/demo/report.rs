//! What the demo prints about the objects it waits for (pure): one progress line per change,
//! and the final status of an ingest (its tables and its checks).

use std::fmt::Write as _;

use qserv_operator::api::catalog_ingest::{CatalogIngest, IngestPhase};
use qserv_operator::api::condition::{self, READY};
use qserv_operator::api::qserv_cluster::QservCluster;
use qserv_operator::ingest::status::PARTITIONED;

/// `Creating: czar 1/1, workers 1/2, ...` from the cluster's status.
pub fn cluster_progress(cluster: &QservCluster) -> String {
    let Some(status) = &cluster.status else {
        return "no status yet".into();
    };
    let phase = status
        .phase
        .map(|p| format!("{p:?}"))
        .unwrap_or_else(|| "Pending".into());
    let Some(c) = &status.components else {
        return phase;
    };
    let mut parts = vec![
        format!("czar {}", c.czar),
        format!("workers {}", c.workers),
        format!("xrootd {}", c.xrootd),
        format!("replication controller {}", c.replication_controller),
        format!("registry {}", c.replication_registry),
        format!("replication db {}", c.replication_database),
    ];
    if let Some(r) = &c.reference {
        parts.push(format!("reference {r}"));
    }
    format!("{phase}: {}", parts.join(", "))
}

/// `Partitioning: partitioning the input (1/3 partition indexes done: ...)`.
pub fn ingest_progress(ingest: &CatalogIngest) -> String {
    let Some(status) = &ingest.status else {
        return "no status yet".into();
    };
    let phase = status.phase.unwrap_or(IngestPhase::Pending);
    let message = |type_: &str| {
        condition::find(&status.conditions, type_)
            .map(|c| c.message.clone())
            .unwrap_or_default()
    };
    let mut line = format!("{phase:?}: {}", message(READY));
    if phase == IngestPhase::Partitioning {
        let _ = write!(line, " ({})", message(PARTITIONED));
    }
    if let Some(rows) = status.rows_loaded
        && !matches!(phase, IngestPhase::Succeeded | IngestPhase::Failed)
    {
        let _ = write!(line, "; {rows} rows loaded");
    }
    line
}

/// Check outcomes of a finished ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckCounts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn check_counts(ingest: &CatalogIngest) -> CheckCounts {
    let Some(status) = &ingest.status else {
        return CheckCounts::default();
    };
    let passed = status.checks.iter().filter(|c| c.passed).count();
    CheckCounts {
        passed,
        failed: status.checks.len() - passed,
        skipped: status.skipped_checks.len(),
    }
}

/// Did the ingest end well: Succeeded, and no check failed.
pub fn succeeded(ingest: &CatalogIngest) -> bool {
    ingest.status.as_ref().and_then(|s| s.phase) == Some(IngestPhase::Succeeded)
        && check_counts(ingest).failed == 0
}

/// The final status: a header with the outcome, a line per table (rows, chunks, input files,
/// `LOAD DATA` warnings, seconds spent on it), the checks, and every failed (or skipped) check
/// with its reason.
pub fn final_status(ingest: &CatalogIngest) -> String {
    let name = ingest.metadata.name.as_deref().unwrap_or_default();
    let status = ingest.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(IngestPhase::Pending);
    let ready = condition::find(&status.conditions, READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    let took = match (&status.start_time, &status.completion_time) {
        (Some(start), Some(end)) => {
            let secs = end.0.duration_since(start.0).as_secs_f64();
            format!(" in {secs:.0} s")
        }
        _ => String::new(),
    };
    let mut out = format!(
        "== CatalogIngest {name}: {phase:?}{took} (database {}): {ready}\n",
        ingest.spec.database
    );
    if !status.tables.is_empty() {
        let width = status
            .tables
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(0)
            .max("TABLE".len());
        let _ = writeln!(
            out,
            "  {:<width$}  {:>9}  {:>11}  {:>6}  {:>12}  {:>5}  {:>8}  {:>7}",
            "TABLE",
            "ROWS READ",
            "ROWS LOADED",
            "CHUNKS",
            "OVERLAP ROWS",
            "FILES",
            "WARNINGS",
            "SECONDS"
        );
        for t in &status.tables {
            let seconds = t
                .duration_seconds
                .map_or_else(|| "-".to_string(), |s| format!("{s:.1}"));
            let _ = writeln!(
                out,
                "  {:<width$}  {:>9}  {:>11}  {:>6}  {:>12}  {:>5}  {:>8}  {:>7}",
                t.name,
                t.rows_read,
                t.rows_loaded,
                t.chunks,
                t.overlap_rows,
                t.files,
                t.warnings,
                seconds
            );
        }
    }
    let counts = check_counts(ingest);
    let _ = writeln!(
        out,
        "  checks: {} passed, {} failed, {} skipped{}",
        counts.passed,
        counts.failed,
        counts.skipped,
        if counts.failed == 0 && counts.passed > 0 {
            " (every check run passed)"
        } else {
            ""
        }
    );
    for c in status.checks.iter().filter(|c| !c.passed) {
        let why = [c.message.clone(), c.first_difference.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        let rows = match (c.qserv_rows, c.reference_rows) {
            (Some(q), Some(r)) => format!(" (Qserv {q} rows, reference {r})"),
            _ => String::new(),
        };
        let _ = writeln!(out, "    FAILED {}{rows}: {why}", c.name);
    }
    // Skipped checks come by the dozen with a handful of reasons (qserv_testdata's FIXME
    // queries, Qserv-only functions): one line per reason; `kubectl describe` lists them all.
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for s in &status.skipped_checks {
        let reason = s
            .reason
            .split([':', '('])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((reason, 1)),
        }
    }
    for (reason, n) in reasons {
        let _ = writeln!(out, "    skipped ({n}): {reason}");
    }
    out
}

/// Why an ingest did not succeed, in one line for the exit error.
pub fn failure(ingest: &CatalogIngest) -> String {
    let name = ingest.metadata.name.as_deref().unwrap_or_default();
    let status = ingest.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(IngestPhase::Pending);
    let counts = check_counts(ingest);
    let why = if counts.failed > 0 {
        format!(
            "{} of {} checks failed (listed above)",
            counts.failed,
            counts.failed + counts.passed
        )
    } else {
        condition::find(&status.conditions, READY)
            .map(|c| c.message.clone())
            .unwrap_or_default()
    };
    format!("CatalogIngest {name} did not succeed: {phase:?}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingest(status: serde_json::Value) -> CatalogIngest {
        let mut i: CatalogIngest = serde_norway::from_str(include_str!(
            "../../../../examples/catalogingest-macs2243.yaml"
        ))
        .unwrap();
        i.status = Some(serde_json::from_value(status).unwrap());
        i
    }

    #[test]
    fn final_status_lists_tables_counts_and_every_failed_check_with_its_reason() {
        let i = ingest(json!({
            "phase": "Failed",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ChecksFailed",
                            "message": "the data is published but 1 checks failed: meas-count",
                            "lastTransitionTime": "2025-01-01T00:00:00Z"}],
            "startTime": "2025-01-01T00:00:00Z", "completionTime": "2025-01-01T00:00:12Z",
            "tables": [{"name": "deepCoadd_meas", "rowsRead": 6395, "rowsLoaded": 6394,
                        "rowsRejected": 0, "chunks": 3, "overlapRows": 120, "bytes": 1,
                        "files": 1, "fileNames": ["macs2243.h5"], "warnings": 2,
                        "durationSeconds": 1.25}],
            "checks": [{"name": "meas-count", "passed": false, "qservRows": 1,
                        "referenceRows": 1, "firstDifference": "qserv: (6394) reference: (6395)"},
                       {"name": "primary-detections", "passed": true}],
            "skippedChecks": [
                {"name": "area", "reason": "needs Qserv-only functions (scisql_s2PtInBox), ..."},
                {"name": "cone", "reason": "needs Qserv-only functions (qserv_areaspec_box), ..."},
                {"name": "sdqa", "reason": "marked FIXME in qserv_testdata: known not to work"}]
        }));
        let text = final_status(&i);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "== CatalogIngest macs2243: Failed in 12 s (database clusters_macs2243): \
             the data is published but 1 checks failed: meas-count"
        );
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            row,
            [
                "deepCoadd_meas",
                "6395",
                "6394",
                "3",
                "120",
                "1",
                "2",
                "1.2"
            ]
        );
        assert_eq!(lines[3], "  checks: 1 passed, 1 failed, 3 skipped");
        assert_eq!(
            lines[4],
            "    FAILED meas-count (Qserv 1 rows, reference 1): qserv: (6394) reference: (6395)"
        );
        assert_eq!(lines[5], "    skipped (2): needs Qserv-only functions");
        assert_eq!(lines[6], "    skipped (1): marked FIXME in qserv_testdata");
        assert_eq!(lines.len(), 7);
        assert!(!succeeded(&i));
        assert_eq!(
            failure(&i),
            "CatalogIngest macs2243 did not succeed: Failed: 1 of 2 checks failed (listed above)"
        );
    }

    #[test]
    fn progress_lines_say_phase_message_and_rows() {
        let i = ingest(json!({
            "phase": "Partitioning",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "InProgress",
                 "message": "partitioning the input", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Partitioned", "status": "False", "reason": "Pending",
                 "message": "1/3 partition indexes done: 10 rows read, 0 rejected",
                 "lastTransitionTime": "2025-01-01T00:00:00Z"}]
        }));
        assert_eq!(
            ingest_progress(&i),
            "Partitioning: partitioning the input \
             (1/3 partition indexes done: 10 rows read, 0 rejected)"
        );
        let mut c: QservCluster =
            serde_norway::from_str(include_str!("../../../../examples/qservcluster-ci.yaml"))
                .unwrap();
        c.status = Some(
            serde_json::from_value(json!({"phase": "Creating", "components": {
                "czar": "1/1", "workers": "1/2", "xrootd": "0/1",
                "replicationController": "0/1", "replicationRegistry": "1/1",
                "replicationDatabase": "1/1", "reference": "0/1"}}))
            .unwrap(),
        );
        assert_eq!(
            cluster_progress(&c),
            "Creating: czar 1/1, workers 1/2, xrootd 0/1, replication controller 0/1, \
             registry 1/1, replication db 1/1, reference 0/1"
        );
    }
}
