//! Apply stage: server-side apply of every desired object (field manager `qserv-operator`,
//! forced: the operator owns these fields), then deletion of the objects it built before that
//! are no longer desired (found by the `app.kubernetes.io/{name,instance,managed-by}` labels).
//!
//! The apply responses carry the workloads' current status, which is what the status stage reads:
//! one request per object, no extra reads.

use std::collections::BTreeSet;
use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::build::{Component, DesiredObject, MANAGER, owned_selector};
use super::error::ReconcileError;
use super::status::{SchemaJobState, WorkloadState};

/// What applying reported back.
#[derive(Debug, Default)]
pub struct Applied {
    pub workloads: Vec<WorkloadState>,
    /// `kind/name` of objects deleted because they are no longer desired.
    pub deleted: Vec<String>,
    /// The schema-update Job, when one is desired.
    pub schema_job: Option<SchemaJobState>,
}

/// Applies `objects` in order and prunes what the cluster `name` no longer needs.
pub async fn apply_all(
    client: &Client,
    namespace: &str,
    name: &str,
    objects: &[DesiredObject],
) -> Result<Applied, ReconcileError> {
    let mut applied = Applied::default();
    for object in objects {
        let component = object.component().unwrap_or(Component::Cluster);
        match object {
            DesiredObject::Secret(o) => apply(client, namespace, o).await.map(drop)?,
            DesiredObject::ConfigMap(o) => apply(client, namespace, o).await.map(drop)?,
            DesiredObject::Service(o) => apply(client, namespace, o).await.map(drop)?,
            DesiredObject::NetworkPolicy(o) => apply(client, namespace, o).await.map(drop)?,
            DesiredObject::StatefulSet(o) => {
                let live = apply(client, namespace, o).await?;
                applied.workloads.push(statefulset_state(component, &live));
            }
            DesiredObject::Deployment(o) => {
                let live = apply(client, namespace, o).await?;
                applied.workloads.push(deployment_state(component, &live));
            }
            DesiredObject::Job(o) => {
                let live = apply(client, namespace, o).await?;
                applied.schema_job = Some(job_state(&live));
            }
        }
    }
    let selector = owned_selector(name);
    let keep = |kind: &str| -> BTreeSet<String> {
        objects
            .iter()
            .filter(|o| o.kind() == kind)
            .map(|o| o.name().to_string())
            .collect()
    };
    prune::<StatefulSet>(
        client,
        namespace,
        &selector,
        &keep("StatefulSet"),
        &mut applied,
    )
    .await?;
    prune::<Deployment>(
        client,
        namespace,
        &selector,
        &keep("Deployment"),
        &mut applied,
    )
    .await?;
    prune::<Service>(client, namespace, &selector, &keep("Service"), &mut applied).await?;
    prune::<ConfigMap>(
        client,
        namespace,
        &selector,
        &keep("ConfigMap"),
        &mut applied,
    )
    .await?;
    prune::<NetworkPolicy>(
        client,
        namespace,
        &selector,
        &keep("NetworkPolicy"),
        &mut applied,
    )
    .await?;
    prune::<Secret>(client, namespace, &selector, &keep("Secret"), &mut applied).await?;
    prune::<Job>(client, namespace, &selector, &keep("Job"), &mut applied).await?;
    Ok(applied)
}

async fn apply<K>(client: &Client, namespace: &str, object: &K) -> Result<K, ReconcileError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let name = object.name_any();
    let kind = K::kind(&());
    let live = api
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(ReconcileError::kube(format!("apply {kind} {name}")))?;
    Ok(live)
}

async fn prune<K>(
    client: &Client,
    namespace: &str,
    selector: &str,
    keep: &BTreeSet<String>,
    applied: &mut Applied,
) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let kind = K::kind(&());
    let list = api
        .list_metadata(&ListParams::default().labels(selector))
        .await
        .map_err(ReconcileError::kube(format!("list {kind}s to prune")))?;
    for item in list.items {
        let name = item.name_any();
        if keep.contains(&name) || item.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => applied.deleted.push(format!("{kind}/{name}")),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                return Err(ReconcileError::Kube {
                    action: format!("delete {kind} {name} (no longer desired)"),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

/// Done when it succeeded; failed when the Job controller gave up (`Failed` condition,
/// after `backoffLimit` failed pods).
fn job_state(job: &Job) -> SchemaJobState {
    let status = job.status.as_ref();
    let condition = |type_: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == "True"))
    };
    SchemaJobState {
        name: job.name_any(),
        succeeded: condition("Complete").is_some()
            || status.and_then(|s| s.succeeded).unwrap_or(0) > 0,
        failed: condition("Failed").map(|c| {
            format!(
                "{}: {}",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            )
        }),
    }
}

fn statefulset_state(component: Component, sts: &StatefulSet) -> WorkloadState {
    let desired = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = sts.status.clone().unwrap_or_default();
    let generation_seen = status.observed_generation >= sts.metadata.generation;
    let revisions_match = match (&status.current_revision, &status.update_revision) {
        (Some(c), Some(u)) => c == u,
        _ => true,
    };
    WorkloadState {
        component,
        name: sts.name_any(),
        desired,
        ready: status.ready_replicas.unwrap_or(0),
        rolled_out: generation_seen
            && revisions_match
            && status.replicas == desired
            && status.updated_replicas.unwrap_or(0) >= desired,
    }
}

fn deployment_state(component: Component, deploy: &Deployment) -> WorkloadState {
    let desired = deploy.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = deploy.status.clone().unwrap_or_default();
    let generation_seen = status.observed_generation >= deploy.metadata.generation;
    WorkloadState {
        component,
        name: deploy.name_any(),
        desired,
        ready: status.ready_replicas.unwrap_or(0),
        rolled_out: generation_seen
            && status.replicas.unwrap_or(0) == desired
            && status.updated_replicas.unwrap_or(0) >= desired,
    }
}
