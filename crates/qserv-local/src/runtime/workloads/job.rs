//! The Job controller: pods up to `parallelism` until `completions` succeeded (NonIndexed),
//! or one pod per index with `JOB_COMPLETION_INDEX` (Indexed); failed pods are counted and
//! replaced until more than `backoffLimit` failed, then the Job is `Failed` with reason
//! `BackoffLimitExceeded` and its running pods are deleted. Status: `active`, `ready`,
//! `succeeded`, `failed`, `startTime`, `completionTime`, `completedIndexes`, conditions
//! `Complete` / `Failed` (with `SuccessCriteriaMet` / `FailureTarget` before them, as
//! Kubernetes 1.31+ writes).
//!
//! Not done: retry backoff delays (a failed pod is replaced at once), `activeDeadlineSeconds`,
//! `suspend`, pod failure policies, `ttlSecondsAfterFinished`. With `restartPolicy:
//! OnFailure` the kubelet restarts the container in place and its restarts count as failures.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, Pod};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::template::{controlled_by, controller_ref, name_suffix, now, pod_phase, pod_ready};
use super::{create_ignoring_conflict, delete_ignoring_missing};
use crate::runtime::context::Ctx;
use crate::runtime::error::{Result, RuntimeError};

pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

pub async fn reconcile(ctx: &Ctx, job: &Job) -> Result<()> {
    if job.metadata.deletion_timestamp.is_some() || finished(job) {
        return Ok(());
    }
    let ns = job.namespace().unwrap_or_else(|| "default".into());
    let name = job.name_any();
    let uid = job.uid().unwrap_or_default();
    let spec = job.spec.as_ref().ok_or_else(|| RuntimeError::Invalid {
        kind: "Job",
        namespace: ns.clone(),
        name: name.clone(),
        reason: "no spec".into(),
    })?;
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions.unwrap_or(1).max(0);
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);

    let pods: Vec<Arc<Pod>> = ctx
        .stores
        .pods
        .state()
        .into_iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(ns.as_str()) && controlled_by(p.as_ref(), &uid)
        })
        .collect();
    let phase_is = |p: &Pod, ph: &str| pod_phase(p) == ph;
    let active: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| !phase_is(p, "Succeeded") && !phase_is(p, "Failed"))
        .collect();
    let restarts: i32 = if on_failure {
        pods.iter().map(|p| restart_count(p)).sum()
    } else {
        0
    };
    let failed = pods.iter().filter(|p| phase_is(p, "Failed")).count() as i32 + restarts;
    let succeeded_indexes: BTreeSet<i32> = pods
        .iter()
        .filter(|p| phase_is(p, "Succeeded"))
        .filter_map(|p| index_of(p))
        .filter(|i| *i < completions)
        .collect();
    let succeeded = if indexed {
        succeeded_indexes.len() as i32
    } else {
        pods.iter().filter(|p| phase_is(p, "Succeeded")).count() as i32
    };

    let start_time = job
        .status
        .as_ref()
        .and_then(|s| s.start_time.clone())
        .unwrap_or_else(now);
    let mut conditions = Vec::new();
    let mut completion_time = None;
    let done = succeeded >= completions;
    if done {
        let t = now();
        completion_time = Some(t.clone());
        conditions.push(condition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            &t,
        ));
        conditions.push(condition(
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            &t,
        ));
    } else if failed > backoff_limit {
        let t = now();
        conditions.push(condition(
            "FailureTarget",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            &t,
        ));
        conditions.push(condition(
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            &t,
        ));
    }
    if !conditions.is_empty() {
        for p in &active {
            delete_ignoring_missing(&api, "Pod", &ns, &p.name_any()).await?;
        }
    } else {
        let wanted = if indexed {
            let busy: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
            (0..completions)
                .filter(|i| !succeeded_indexes.contains(i) && !busy.contains(i))
                .take((parallelism - active.len() as i32).max(0) as usize)
                .map(Some)
                .collect::<Vec<_>>()
        } else {
            let n = parallelism.min(completions - succeeded) - active.len() as i32;
            vec![None; n.max(0) as usize]
        };
        for (slot, index) in wanted.into_iter().enumerate() {
            let attempt = match index {
                Some(i) => pods.iter().filter(|p| index_of(p) == Some(i)).count(),
                None => pods.len() + slot,
            };
            let pod = pod_for(job, index, attempt)?;
            create_ignoring_conflict(&api, "Pod", &ns, &pod).await?;
        }
    }

    let mut status = json!({
        "active": if conditions.is_empty() { active.len() as i32 } else { 0 },
        "ready": active.iter().filter(|p| pod_ready(p)).count() as i32,
        "succeeded": succeeded,
        "failed": failed,
        "terminating": 0,
        "startTime": start_time,
    });
    if indexed {
        status["completedIndexes"] = json!(ranges(&succeeded_indexes));
    }
    if let Some(t) = completion_time {
        status["completionTime"] = json!(t);
    }
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    let existing = serde_json::to_value(job.status.as_ref()).unwrap_or_default();
    if status
        .as_object()
        .is_some_and(|s| s.iter().all(|(k, v)| &existing[k] == v))
    {
        return Ok(());
    }
    Api::<Job>::namespaced(ctx.client.clone(), &ns)
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .map_err(|source| RuntimeError::Api {
            kind: "Job",
            namespace: ns.clone(),
            name: name.clone(),
            source: Box::new(source),
        })?;
    Ok(())
}

fn condition(
    kind: &str,
    reason: &str,
    message: &str,
    at: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> serde_json::Value {
    json!({"type": kind, "status": "True", "reason": reason, "message": message,
           "lastProbeTime": at, "lastTransitionTime": at})
}

fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

fn restart_count(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

fn index_of(p: &Pod) -> Option<i32> {
    p.annotations().get(INDEX_ANNOTATION)?.parse().ok()
}

/// `{0, 1, 2, 5}` → `"0-2,5"`, the form of `completedIndexes`.
pub fn ranges(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn pod_for(job: &Job, index: Option<i32>, attempt: usize) -> Result<Pod> {
    let name = job.name_any();
    let uid = job.uid().unwrap_or_default();
    let spec = job.spec.as_ref().expect("checked by the caller");
    let mut meta = spec.template.metadata.clone().unwrap_or_default();
    let seed = format!("{uid}/{index:?}/{attempt}");
    meta.name = Some(match index {
        Some(i) => format!("{name}-{i}-{}", name_suffix(&seed)),
        None => format!("{name}-{}", name_suffix(&seed)),
    });
    meta.namespace = job.namespace();
    meta.owner_references = Some(vec![controller_ref(job)]);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid.clone()),
        ("batch.kubernetes.io/job-name", name.clone()),
        ("controller-uid", uid.clone()),
        ("job-name", name.clone()),
    ] {
        labels.insert(k.into(), v);
    }
    let mut pod_spec = spec
        .template
        .spec
        .clone()
        .ok_or_else(|| RuntimeError::Invalid {
            kind: "Job",
            namespace: job.namespace().unwrap_or_default(),
            name: name.clone(),
            reason: "spec.template.spec is missing".into(),
        })?;
    if let Some(i) = index {
        labels.insert(INDEX_ANNOTATION.into(), i.to_string());
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(INDEX_ANNOTATION.into(), i.to_string());
        pod_spec.hostname = Some(format!("{name}-{i}"));
        for c in &mut pod_spec.containers {
            let env = c.env.get_or_insert_with(Vec::new);
            env.retain(|e| e.name != INDEX_ENV);
            env.insert(
                0,
                EnvVar {
                    name: INDEX_ENV.into(),
                    value: Some(i.to_string()),
                    value_from: None,
                },
            );
        }
    }
    Ok(Pod {
        metadata: meta,
        spec: Some(pod_spec),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_are_compressed_ranges() {
        assert_eq!(ranges(&BTreeSet::from([0, 1, 2])), "0-2");
        assert_eq!(ranges(&BTreeSet::from([0, 2, 3, 7])), "0,2-3,7");
        assert_eq!(ranges(&BTreeSet::new()), "");
    }
}
