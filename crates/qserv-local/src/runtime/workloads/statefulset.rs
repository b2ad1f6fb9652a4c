//! The StatefulSet controller: pods `<sts>-<ordinal>` with stable names and PVCs
//! `<claim>-<sts>-<ordinal>`, ordered or parallel creation, scale-down from the highest
//! ordinal, rolling update one pod at a time from the highest ordinal, and status.
//!
//! Differences from Kubernetes: no ControllerRevision objects (the revision is
//! `<sts>-<template hash>`, also the pods' `controller-revision-hash`), `minReadySeconds` and
//! `maxUnavailable` are ignored (one pod at a time), and a PVC with `whenDeleted: Delete` gets
//! an ownerReference to the StatefulSet (as Kubernetes does) so deleting the set deletes it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::template::{controlled_by, controller_ref, pod_phase, pod_ready, template_hash};
use super::{create_ignoring_conflict, delete_ignoring_missing};
use crate::runtime::context::Ctx;
use crate::runtime::error::{Result, RuntimeError};

pub const REVISION_LABEL: &str = "controller-revision-hash";
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub async fn reconcile(ctx: &Ctx, sts: &StatefulSet) -> Result<()> {
    if sts.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let ns = sts.namespace().unwrap_or_else(|| "default".into());
    let name = sts.name_any();
    let uid = sts.uid().unwrap_or_default();
    let invalid = |reason: &str| RuntimeError::Invalid {
        kind: "StatefulSet",
        namespace: ns.clone(),
        name: name.clone(),
        reason: reason.into(),
    };
    let spec = sts.spec.as_ref().ok_or_else(|| invalid("no spec"))?;
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let revision = format!("{name}-{}", template_hash(&spec.template));
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);

    let mut pods: BTreeMap<i32, std::sync::Arc<Pod>> = BTreeMap::new();
    for p in ctx.stores.pods.state() {
        if p.namespace().as_deref() == Some(ns.as_str())
            && controlled_by(p.as_ref(), &uid)
            && let Some(ord) = ordinal(&name, &p.name_any())
        {
            pods.insert(ord, p);
        }
    }

    // Pods that ended (a process that will not restart) are replaced, as Kubernetes does.
    for (_, p) in pods
        .iter()
        .filter(|(_, p)| matches!(pod_phase(p), "Failed" | "Succeeded"))
    {
        delete_ignoring_missing(&pods_api, "Pod", &ns, &p.name_any()).await?;
    }

    // Create missing pods (OrderedReady: one at a time, each after its predecessors are ready).
    for ord in 0..replicas {
        match pods.get(&ord) {
            Some(p) => {
                if !parallel && !pod_ready(p) {
                    break;
                }
            }
            None => {
                ensure_claims(ctx, sts, &ns, ord).await?;
                let pod = pod_for(sts, ord, &revision)?;
                create_ignoring_conflict(&pods_api, "Pod", &ns, &pod).await?;
                if !parallel {
                    break;
                }
            }
        }
    }

    // Scale down from the highest ordinal.
    let all_ready = pods.values().all(|p| pod_ready(p));
    let condemned: Vec<i32> = pods
        .keys()
        .copied()
        .filter(|&o| o >= replicas)
        .rev()
        .collect();
    let retention = spec.persistent_volume_claim_retention_policy.as_ref();
    let delete_claims = retention.and_then(|r| r.when_scaled.as_deref()) == Some("Delete");
    for ord in condemned.iter().take(if parallel { usize::MAX } else { 1 }) {
        if !parallel && !all_ready {
            break;
        }
        delete_ignoring_missing(&pods_api, "Pod", &ns, &format!("{name}-{ord}")).await?;
        if delete_claims {
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            for claim in claim_names(sts, *ord) {
                delete_ignoring_missing(&pvcs, "PersistentVolumeClaim", &ns, &claim).await?;
            }
        }
    }

    // Rolling update: one pod at a time, highest ordinal first, only when all are ready.
    let strategy = spec.update_strategy.as_ref();
    let on_delete = strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let complete = (0..replicas).all(|o| pods.get(&o).is_some_and(|p| pod_ready(p)));
    if !on_delete && complete && condemned.is_empty() {
        let outdated = (partition..replicas).rev().find(|o| {
            pods.get(o)
                .is_some_and(|p| pod_revision(p) != Some(revision.as_str()))
        });
        if let Some(ord) = outdated {
            delete_ignoring_missing(&pods_api, "Pod", &ns, &format!("{name}-{ord}")).await?;
        }
    }

    write_status(ctx, sts, &ns, &pods, replicas, &revision).await
}

async fn write_status(
    ctx: &Ctx,
    sts: &StatefulSet,
    ns: &str,
    pods: &BTreeMap<i32, std::sync::Arc<Pod>>,
    replicas: i32,
    revision: &str,
) -> Result<()> {
    let count = |f: &dyn Fn(&Pod) -> bool| pods.values().filter(|p| f(p)).count() as i32;
    let ready = count(&|p| pod_ready(p));
    let updated = count(&|p| pod_revision(p) == Some(revision));
    let old = sts.status.as_ref();
    let current_revision = match old.and_then(|s| s.current_revision.clone()) {
        Some(current)
            if !(updated == replicas && ready == replicas && pods.len() as i32 == replicas) =>
        {
            current
        }
        _ => revision.to_string(),
    };
    let current = count(&|p| pod_revision(p) == Some(current_revision.as_str()));
    let status = json!({
        "replicas": pods.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": current,
        "updatedReplicas": updated,
        "currentRevision": current_revision,
        "updateRevision": revision,
        "observedGeneration": sts.metadata.generation,
        "collisionCount": 0,
    });
    let existing = serde_json::to_value(old).unwrap_or_default();
    if status
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| &existing[k] == v)
    {
        return Ok(());
    }
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    api.patch_status(
        &sts.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .map_err(|source| RuntimeError::Api {
        kind: "StatefulSet",
        namespace: ns.into(),
        name: sts.name_any(),
        source: Box::new(source),
    })?;
    Ok(())
}

pub fn pod_revision(p: &Pod) -> Option<&str> {
    p.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

/// The ordinal of `pod` if it is named `<sts>-<n>`.
fn ordinal(sts: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(sts)?.strip_prefix('-')?.parse().ok()
}

fn claim_names(sts: &StatefulSet, ord: i32) -> Vec<String> {
    let name = sts.name_any();
    sts.spec
        .iter()
        .flat_map(|s| s.volume_claim_templates.iter().flatten())
        .map(|t| format!("{}-{name}-{ord}", t.name_any()))
        .collect()
}

/// Creates the PVCs of ordinal `ord` that do not exist yet.
async fn ensure_claims(ctx: &Ctx, sts: &StatefulSet, ns: &str, ord: i32) -> Result<()> {
    let name = sts.name_any();
    let Some(spec) = &sts.spec else { return Ok(()) };
    let owned_by_set = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .and_then(|r| r.when_deleted.as_deref())
        == Some("Delete");
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    for template in spec.volume_claim_templates.iter().flatten() {
        let claim = format!("{}-{name}-{ord}", template.name_any());
        let exists = ctx
            .stores
            .pvcs
            .get(&kube::runtime::reflector::ObjectRef::new(&claim).within(ns))
            .is_some();
        if exists {
            continue;
        }
        let mut pvc = template.clone();
        pvc.metadata.name = Some(claim);
        pvc.metadata.namespace = Some(ns.into());
        pvc.metadata.uid = None;
        pvc.metadata.resource_version = None;
        let labels = pvc.metadata.labels.get_or_insert_with(Default::default);
        labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
        pvc.metadata.owner_references = owned_by_set.then(|| vec![controller_ref(sts)]);
        pvc.status = None;
        create_ignoring_conflict(&api, "PersistentVolumeClaim", ns, &pvc).await?;
    }
    Ok(())
}

fn pod_for(sts: &StatefulSet, ord: i32, revision: &str) -> Result<Pod> {
    let name = sts.name_any();
    let spec = sts.spec.as_ref().expect("checked by the caller");
    let pod_name = format!("{name}-{ord}");
    let template = &spec.template;
    let mut meta = template.metadata.clone().unwrap_or_default();
    meta.name = Some(pod_name.clone());
    meta.namespace = sts.namespace();
    meta.owner_references = Some(vec![controller_ref(sts)]);
    let labels = meta.labels.get_or_insert_with(Default::default);
    labels.insert(REVISION_LABEL.into(), revision.into());
    labels.insert(POD_NAME_LABEL.into(), pod_name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ord.to_string());
    let mut pod_spec = template.spec.clone().ok_or_else(|| RuntimeError::Invalid {
        kind: "StatefulSet",
        namespace: sts.namespace().unwrap_or_default(),
        name: name.clone(),
        reason: "spec.template.spec is missing".into(),
    })?;
    pod_spec.hostname = Some(pod_name);
    pod_spec.subdomain =
        Some(spec.service_name.clone().unwrap_or_default()).filter(|s| !s.is_empty());
    let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
    for t in spec.volume_claim_templates.iter().flatten() {
        let claim = t.name_any();
        volumes.retain(|v| v.name != claim);
        volumes.push(Volume {
            name: claim.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: format!("{claim}-{name}-{ord}"),
                read_only: None,
            }),
            ..Volume::default()
        });
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
    fn ordinals_parse_only_from_own_pods() {
        assert_eq!(ordinal("db", "db-0"), Some(0));
        assert_eq!(ordinal("db", "db-12"), Some(12));
        assert_eq!(ordinal("db", "db-x-1"), None);
        assert_eq!(ordinal("db", "dbx-1"), None);
    }

    #[test]
    fn pods_carry_revision_claims_and_hostname() {
        let sts: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "w", "namespace": "q", "uid": "u1"},
            "spec": {"serviceName": "w", "selector": {"matchLabels": {"app": "w"}},
                     "template": {"metadata": {"labels": {"app": "w"}},
                                  "spec": {"containers": [{"name": "c"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}
        }))
        .unwrap();
        let pod = pod_for(&sts, 2, "w-abc").unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("w-2"));
        let labels = pod.metadata.labels.unwrap();
        assert_eq!(labels[REVISION_LABEL], "w-abc");
        assert_eq!(labels[POD_NAME_LABEL], "w-2");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.subdomain.as_deref(), Some("w"));
        let claim = spec.volumes.unwrap()[0]
            .persistent_volume_claim
            .clone()
            .unwrap();
        assert_eq!(claim.claim_name, "data-w-2");
        assert_eq!(pod.metadata.owner_references.unwrap()[0].uid, "u1");
    }
}
