//! What kube-apiserver adds to a Job it creates: unless `spec.manualSelector`, a selector on
//! the Job's own uid and the labels that make its pods match it (k8s.io/kubernetes
//! `pkg/registry/batch/job/strategy.go`, `generateSelector`: `job-name` and
//! `batch.kubernetes.io/job-name` = the name, `controller-uid` and
//! `batch.kubernetes.io/controller-uid` = the uid, each unless set; `matchLabels` gets
//! `batch.kubernetes.io/controller-uid`). Clients find a Job's pods through it: `kubectl logs
//! job/NAME` lists the pods its selector matches.

use serde_json::{Value, json};

const JOB_NAME: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
const CONTROLLER_UID: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];

/// Adds the selector and template labels to a Job being created (its uid already set).
pub fn generate_selector(job: &mut Value) {
    if job["spec"]["manualSelector"] == json!(true) || !job["spec"].is_object() {
        return;
    }
    let name = job["metadata"]["name"].clone();
    let uid = job["metadata"]["uid"].clone();
    let template = &mut job["spec"]["template"];
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    for (keys, value) in [(JOB_NAME, &name), (CONTROLLER_UID, &uid)] {
        for key in keys {
            if labels[key].is_null() {
                labels[key] = value.clone();
            }
        }
    }
    if !job["spec"]["selector"]["matchLabels"].is_object() {
        job["spec"]["selector"]["matchLabels"] = json!({});
    }
    let match_labels = &mut job["spec"]["selector"]["matchLabels"];
    if match_labels[CONTROLLER_UID[1]].is_null() {
        match_labels[CONTROLLER_UID[1]] = uid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_selects_its_pods_by_its_uid_unless_manual() {
        let mut job = json!({"metadata": {"name": "ing-load", "uid": "u-1"},
            "spec": {"template": {"metadata": {"labels": {"app": "x", "job-name": "kept"}},
                                  "spec": {}}}});
        generate_selector(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({"app": "x", "job-name": "kept", "batch.kubernetes.io/job-name": "ing-load",
                   "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"})
        );

        let mut manual = json!({"metadata": {"name": "m", "uid": "u-2"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}}}});
        let before = manual.clone();
        generate_selector(&mut manual);
        assert_eq!(manual, before);
    }
}
