//! The Deployment controller, without ReplicaSet objects: pods `<deploy>-<hash>-<suffix>`
//! (label `pod-template-hash`, owned by the Deployment itself). A template change creates the
//! new revision's pods at once and deletes the old ones when all new ones are ready
//! (RollingUpdate), or deletes the old ones first (Recreate). Pod suffixes are stable per
//! revision and slot, so a lagging store cannot create duplicates.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::template::{
    controlled_by, controller_ref, name_suffix, now, pod_phase, pod_ready, template_hash,
};
use super::{create_ignoring_conflict, delete_ignoring_missing};
use crate::runtime::context::Ctx;
use crate::runtime::error::{Result, RuntimeError};

pub const HASH_LABEL: &str = "pod-template-hash";

pub async fn reconcile(ctx: &Ctx, deploy: &Deployment) -> Result<()> {
    if deploy.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let ns = deploy.namespace().unwrap_or_else(|| "default".into());
    let name = deploy.name_any();
    let uid = deploy.uid().unwrap_or_default();
    let spec = deploy.spec.as_ref().ok_or_else(|| RuntimeError::Invalid {
        kind: "Deployment",
        namespace: ns.clone(),
        name: name.clone(),
        reason: "no spec".into(),
    })?;
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let hash = template_hash(&spec.template);
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
    let is_new = |p: &Pod| p.labels().get(HASH_LABEL) == Some(&hash);
    let (new, old): (Vec<_>, Vec<_>) = pods.iter().partition(|p| is_new(p));
    let desired: Vec<String> = (0..replicas)
        .map(|i| {
            format!(
                "{name}-{hash}-{}",
                name_suffix(&format!("{uid}/{hash}/{i}"))
            )
        })
        .collect();

    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    if recreate && !old.is_empty() {
        for p in &old {
            delete_ignoring_missing(&api, "Pod", &ns, &p.name_any()).await?;
        }
    } else {
        for pod_name in &desired {
            if !new.iter().any(|p| &p.name_any() == pod_name) {
                let pod = pod_for(deploy, pod_name, &hash)?;
                create_ignoring_conflict(&api, "Pod", &ns, &pod).await?;
            }
        }
    }
    // Extra or ended pods of the new revision go (ended ones come back in their slot).
    for p in &new {
        if !desired.contains(&p.name_any()) || matches!(pod_phase(p), "Failed" | "Succeeded") {
            delete_ignoring_missing(&api, "Pod", &ns, &p.name_any()).await?;
        }
    }
    let new_ready = new.iter().filter(|p| pod_ready(p)).count() as i32;
    if new_ready >= replicas {
        for p in &old {
            delete_ignoring_missing(&api, "Pod", &ns, &p.name_any()).await?;
        }
    }
    write_status(ctx, deploy, &ns, &pods, new.len() as i32, replicas).await
}

async fn write_status(
    ctx: &Ctx,
    deploy: &Deployment,
    ns: &str,
    pods: &[Arc<Pod>],
    updated: i32,
    replicas: i32,
) -> Result<()> {
    let ready = pods.iter().filter(|p| pod_ready(p)).count() as i32;
    let old = deploy.status.as_ref();
    let old_conditions = old.and_then(|s| s.conditions.clone()).unwrap_or_default();
    let condition = |kind: &str, ok: bool, reason: &str, message: String| {
        let status = if ok { "True" } else { "False" };
        let since = old_conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(now);
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastTransitionTime": since, "lastUpdateTime": since})
    };
    let available = ready >= replicas;
    let complete = available && updated == replicas && pods.len() as i32 == replicas;
    let status = json!({
        "replicas": pods.len(),
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": (replicas - ready).max(0),
        "observedGeneration": deploy.metadata.generation,
        "conditions": [
            condition("Available", available,
                if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                format!("{ready} of {replicas} replicas available")),
            condition("Progressing", true,
                if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                format!("{updated} of {replicas} replicas updated")),
        ],
    });
    let existing = serde_json::to_value(old).unwrap_or_default();
    if status
        .as_object()
        .is_some_and(|s| s.iter().all(|(k, v)| same(&existing[k], v)))
    {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
    api.patch_status(
        &deploy.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .map_err(|source| RuntimeError::Api {
        kind: "Deployment",
        namespace: ns.into(),
        name: deploy.name_any(),
        source: Box::new(source),
    })?;
    Ok(())
}

/// Equal, with a zero count equal to an absent one (Kubernetes omits zero counts).
fn same(existing: &Value, wanted: &Value) -> bool {
    existing == wanted || (existing.is_null() && wanted == &json!(0))
}

fn pod_for(deploy: &Deployment, pod_name: &str, hash: &str) -> Result<Pod> {
    let spec = deploy.spec.as_ref().expect("checked by the caller");
    let mut meta = spec.template.metadata.clone().unwrap_or_default();
    meta.name = Some(pod_name.into());
    meta.namespace = deploy.namespace();
    meta.owner_references = Some(vec![controller_ref(deploy)]);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    let pod_spec = spec
        .template
        .spec
        .clone()
        .ok_or_else(|| RuntimeError::Invalid {
            kind: "Deployment",
            namespace: deploy.namespace().unwrap_or_default(),
            name: deploy.name_any(),
            reason: "spec.template.spec is missing".into(),
        })?;
    Ok(Pod {
        metadata: meta,
        spec: Some(pod_spec),
        status: None,
    })
}
