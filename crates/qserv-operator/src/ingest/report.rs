//! Reports of the ingest steps: what a Job did (figures per table, check results, or the error
//! that stopped it), written under the step's own key of the `<ing>-results` ConfigMap and read
//! back by the controller.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};

use super::plan::{Step, report_key};
use crate::api::catalog_ingest::{CheckResult, SkippedCheck, TableStatus};

/// What one step (one index of the partition Job) reports.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
    /// The error that stopped the step (None when it succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per-table figures of the step (partition: read/rejected/chunks/overlap/bytes; load and
    /// reference: loaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableStatus>,
    /// Check outcomes (check step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// Checks not run, with the reason (UDF-only queries in local mode, FIXME files...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedCheck>,
    /// Qserv super-transaction of the load step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i64>,
    /// Wall seconds of the step's own phases (load: register, load, commit, publish, index,
    /// stats), for benchmarks and troubleshooting.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub phase_seconds: std::collections::BTreeMap<String, f64>,
    pub seconds: f64,
}

impl StepReport {
    pub fn new(step: Step, index: Option<i32>) -> StepReport {
        StepReport {
            step: step.name().into(),
            index,
            ..StepReport::default()
        }
    }
}

/// Field manager of one report key: each step owns only its key, so server-side apply never
/// removes another step's report.
fn manager(key: &str) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("qserv-operator-job-{key}")
}

/// Writes `report` under its key of the results ConfigMap.
pub async fn write_report(
    client: &Client,
    namespace: &str,
    configmap: &str,
    report: &StepReport,
) -> Result<(), kube::Error> {
    let step = Step::from_name(&report.step).unwrap_or(Step::Check);
    apply_key(
        client,
        namespace,
        configmap,
        &report_key(step, report.index),
        report,
    )
    .await
}

/// Server-side apply of `value` as JSON under `key` of the results ConfigMap, with the key's
/// own field manager.
async fn apply_key(
    client: &Client,
    namespace: &str,
    configmap: &str,
    key: &str,
    value: &impl Serialize,
) -> Result<(), kube::Error> {
    let json = serde_json::to_string(value).map_err(kube::Error::SerdeError)?;
    let patch = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap},
        "data": {key: json},
    });
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .patch(
            configmap,
            &PatchParams::apply(&manager(key)),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// How far a running step is, written every few seconds under `progress-<step>` of the results
/// ConfigMap while it runs (the final [`StepReport`] is what counts; this is for people
/// watching).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StepProgress {
    pub step: String,
    /// Units of work done and in all (`unit`: "contributions" for the load step).
    pub done: u64,
    pub total: u64,
    pub unit: String,
    /// Rows in the finished units.
    pub rows: u64,
    /// What the step does once the units are done (load: publishing, the director index...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

const PROGRESS_PREFIX: &str = "progress-";

/// Writes `progress` under `progress-<step>` of the results ConfigMap.
pub async fn write_progress(
    client: &Client,
    namespace: &str,
    configmap: &str,
    progress: &StepProgress,
) -> Result<(), kube::Error> {
    let key = format!("{PROGRESS_PREFIX}{}", progress.step);
    apply_key(client, namespace, configmap, &key, progress).await
}

/// The progress entries of the results ConfigMap (advisory: one that does not parse is left
/// out).
pub fn read_progress(configmap: &ConfigMap) -> Vec<StepProgress> {
    let Some(data) = &configmap.data else {
        return Vec::new();
    };
    data.iter()
        .filter(|(key, _)| key.starts_with(PROGRESS_PREFIX))
        .filter_map(|(_, value)| serde_json::from_str(value).ok())
        .collect()
}

/// Every report in the results ConfigMap; a value that does not parse is reported as an error
/// of its step, so a garbled report fails the ingest instead of vanishing.
pub fn read_reports(configmap: &ConfigMap) -> Vec<StepReport> {
    let Some(data) = &configmap.data else {
        return Vec::new();
    };
    data.iter()
        .filter(|(key, _)| !key.starts_with(PROGRESS_PREFIX))
        .map(|(key, value)| {
            serde_json::from_str(value).unwrap_or_else(|e| StepReport {
                step: key.split(['-', '.']).next().unwrap_or(key).to_string(),
                error: Some(format!("report {key} in ConfigMap does not parse: {e}")),
                ..StepReport::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn reports_round_trip_and_garbage_is_an_error() {
        let mut ok = StepReport::new(Step::Partition, Some(1));
        ok.tables.push(TableStatus {
            name: "Object".into(),
            rows_read: 88,
            chunks: 3,
            ..TableStatus::default()
        });
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                (
                    "partition-1.json".into(),
                    serde_json::to_string(&ok).unwrap(),
                ),
                ("load.json".into(), "{not json".into()),
                (
                    "progress-load".into(),
                    r#"{"step":"load","done":3,"total":9,"unit":"contributions","rows":120}"#
                        .into(),
                ),
                // Garbled progress is advisory: left out, neither a report nor an error.
                ("progress-check".into(), "{not json".into()),
            ])),
            ..ConfigMap::default()
        };
        // Progress is not a report.
        let reports = read_reports(&cm);
        assert_eq!(reports.len(), 2);
        assert_eq!(
            read_progress(&cm),
            [StepProgress {
                step: "load".into(),
                done: 3,
                total: 9,
                unit: "contributions".into(),
                rows: 120,
                stage: None,
            }]
        );
        assert_eq!(reports[0].step, "load");
        assert!(reports[0].error.as_ref().unwrap().contains("load.json"));
        assert_eq!(reports[1], ok);
        assert_eq!(
            manager("partition-1.json"),
            "qserv-operator-job-partition-1-json"
        );
    }
}
