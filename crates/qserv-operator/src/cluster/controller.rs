//! The QservCluster reconciler: wires the stages together and runs them under
//! `kube::runtime::Controller`, with a finalizer for the PVC lifecycle, TTL expiry, events and a
//! jittered exponential backoff on errors.
//!
//! One reconcile: TTL check → finalizer → observe (stored status, secrets read back or generated
//! once, the live worker StatefulSet) → decide (pure, [`super::decide`]: validate, build, the
//! workers a scale-down removes) → ask the departing workers → act (SSA apply + prune) → status
//! (pure, [`super::status`]) and its Events → status written by server-side apply.

use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::apply::apply_all;
use super::build::{self, Component, GeneratedSecrets, MANAGER};
use super::decide::{self, Observed};
use super::departed;
use super::error::ReconcileError;
use super::scale::{ReplicationAccess, deregister_departed, refuse_scale_down};
use super::status::{self, Observation};
use crate::api::qserv_cluster::{QservCluster, QservClusterStatus, StorageRetention};
use crate::events::{Note, Publisher};
use crate::shutdown::Shutdown;

/// Finalizer that keeps a deleted QservCluster until its PVCs are handled per
/// `spec.storageRetention`.
pub const FINALIZER: &str = "qserv.in2p3.fr/storage";

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Watch one namespace, or every namespace when None.
    pub namespace: Option<String>,
    /// Requeue of a healthy cluster (status refresh even without watch events).
    pub resync: Duration,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            namespace: None,
            resync: Duration::from_secs(300),
        }
    }
}

/// State shared by reconciles.
pub struct Context {
    pub client: Client,
    events: Publisher,
    options: ControllerOptions,
    /// Consecutive failures per object, for the backoff; reset on success.
    failures: Mutex<HashMap<ObjectRef<QservCluster>, u32>>,
}

impl Context {
    pub fn new(client: Client, options: ControllerOptions) -> Arc<Context> {
        Arc::new(Context {
            events: Publisher::new(client.clone(), "Reconcile"),
            client,
            options,
            failures: Mutex::new(HashMap::new()),
        })
    }
}

/// Runs the controller until `shutdown` resolves.
pub fn run(
    client: Client,
    options: ControllerOptions,
    shutdown: Shutdown,
) -> BoxFuture<'static, ()> {
    Box::pin(run_unboxed(client, options, shutdown))
}

async fn run_unboxed(client: Client, options: ControllerOptions, shutdown: Shutdown) {
    let (statefulsets, deployments, services, configmaps, secrets, jobs) = match &options.namespace
    {
        Some(ns) => (
            Api::<StatefulSet>::namespaced(client.clone(), ns),
            Api::<Deployment>::namespaced(client.clone(), ns),
            Api::<Service>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client.clone(), ns),
            Api::<Secret>::namespaced(client.clone(), ns),
            Api::<Job>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    };
    let owned = watcher::Config::default().labels(&format!(
        "app.kubernetes.io/managed-by={MANAGER},app.kubernetes.io/name=qserv"
    ));
    // Clusters are watched untyped and decoded one by one: one that does not fit the type is
    // reported and skipped, the others keep being reconciled (`tolerant.rs`).
    let (store, trigger) = crate::tolerant::objects::<QservCluster>(
        crate::tolerant::dynamic_api::<QservCluster>(client.clone(), options.namespace.as_deref()),
        watcher::Config::default(),
        "cluster",
        std::sync::Arc::new(crate::events::Publisher::new(client.clone(), "Watch")),
    );
    let ctx = Context::new(client, options);
    Controller::for_stream(trigger, store)
        .owns(statefulsets, owned.clone())
        .owns(deployments, owned.clone())
        .owns(services, owned.clone())
        .owns(configmaps, owned.clone())
        .owns(secrets, owned.clone())
        // The schema-update Job: its completion is what moves an image change on.
        .owns(jobs, owned)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(cluster = %obj, "reconciled"),
                Err(e) => tracing::debug!(%e, "reconcile failed"),
            }
        })
        .await;
}

/// One reconcile of one QservCluster, counted and timed in the metrics.
pub async fn reconcile(
    cluster: Arc<QservCluster>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let result = reconcile_stages(cluster, ctx).await;
    crate::metrics::global().reconciled(
        "qservcluster",
        started.elapsed(),
        result.as_ref().err().map(ReconcileError::metric_label),
    );
    result
}

async fn reconcile_stages(
    cluster: Arc<QservCluster>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = cluster
        .namespace()
        .ok_or_else(|| ReconcileError::Unexpected("QservCluster without namespace".into()))?;
    let api: Api<QservCluster> = Api::namespaced(ctx.client.clone(), &namespace);

    if let Some(note) = decide::expired(&cluster, Timestamp::now()) {
        ctx.events.publish(&*cluster, &[note]).await;
        api.delete(&cluster.name_any(), &DeleteParams::background())
            .await
            .map_err(ReconcileError::kube("delete expired QservCluster"))?;
        return Ok(Action::await_change());
    }

    let result = finalizer(&api, FINALIZER, cluster, |event| async {
        match event {
            finalizer::Event::Apply(c) => apply_cluster(&c, &ctx).await,
            finalizer::Event::Cleanup(c) => cleanup(&c, &ctx).await,
        }
    })
    .await;
    match result {
        Ok(action) => Ok(action),
        Err(finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e)) => Err(e),
        Err(e) => Err(ReconcileError::Finalizer(e.to_string())),
    }
}

/// Requeue with exponential backoff (1 s doubling to 5 min) and ±25 % jitter, so many failing
/// clusters do not retry in lockstep against a struggling API server.
pub fn error_policy(
    cluster: Arc<QservCluster>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let n = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(ObjectRef::from_obj(&*cluster)).or_insert(0);
        *n += 1;
        *n
    };
    tracing::warn!(
        cluster = %cluster.name_any(),
        error = %error,
        kind = error.metric_label(),
        attempt = n,
        "reconcile failed"
    );
    Action::requeue(backoff(n, jitter_fraction()))
}

/// `1 s * 2^(n-1)`, capped at 5 min, scaled by `1 + jitter` (jitter in [-0.25, 0.25]).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1u32 << attempt.saturating_sub(1).min(9));
    base.min(Duration::from_secs(300))
        .mul_f64(1.0 + jitter.clamp(-0.25, 0.25))
}

fn jitter_fraction() -> f64 {
    let word = uuid::Uuid::new_v4().as_u64_pair().0;
    (word % 10_001) as f64 / 20_000.0 - 0.25
}

/// observe → decide (pure) → ask departing workers → act → status (pure) → write status.
async fn apply_cluster(cluster: &QservCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let observed = observe(ctx, cluster).await?;
    let previous = &observed.previous;
    let generation = cluster.meta().generation;
    let mut planned = match decide::plan(cluster, &observed) {
        Ok(planned) => planned,
        Err(message) => return report_invalid_spec(ctx, cluster, previous, message).await,
    };
    let scale_down_refused = refuse_scale_down(&planned.departing).await;
    if let (Some(_), Some(live)) = (&scale_down_refused, observed.live_workers) {
        let sts = decide::worker_statefulset_name(cluster);
        decide::hold_worker_replicas(&mut planned.objects, &sts, live);
    }

    let namespace = cluster.namespace().unwrap_or_default();
    let applied = match apply_all(
        &ctx.client,
        &namespace,
        &cluster.name_any(),
        &planned.objects,
    )
    .await
    {
        Ok(applied) => applied,
        Err(e) => return Err(report_apply_failure(ctx, cluster, previous, e).await),
    };
    ctx.failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&ObjectRef::from_obj(cluster));

    let expires = decide::expires_at(cluster);
    let endpoints = build::meta::Ctx::new(cluster)
        .map(|c| build::services::endpoints(&c))
        .ok();
    // A carried-out scale-down: its workers leave the replication system too.
    let deregistered = match (&scale_down_refused, &endpoints) {
        (None, Some(e)) => deregister(cluster, &observed, &applied.workloads, e).await,
        _ => Ok(Vec::new()),
    };
    let observation = Observation {
        image: cluster.spec.image.clone(),
        schema_job: applied.schema_job,
        workloads: applied.workloads,
        endpoints,
        expires_at: expires,
        scale_down_refused: scale_down_refused.clone(),
        apply_error: None,
        deregister_error: deregistered.as_ref().err().cloned(),
    };
    let status = status::compute(previous, generation, &observation, Timestamp::now());
    let mut notes = decide::transition_notes(
        cluster,
        previous,
        &status,
        &applied.deleted,
        scale_down_refused.as_deref(),
    );
    match &deregistered {
        Ok(removed) => notes.extend(departed::removed_note(removed)),
        Err(message) => notes.push(departed::failed_note(message)),
    }
    ctx.events.publish(cluster, &notes).await;
    write_status(&ctx.client, cluster, previous, &status).await?;
    if let Err(message) = deregistered {
        return Err(ReconcileError::Replication(message));
    }
    let requeue = decide::requeue_after(ctx.options.resync, expires, Timestamp::now());
    Ok(Action::requeue(requeue))
}

/// An invalid spec touches no object: status and an Event name the field.
async fn report_invalid_spec(
    ctx: &Context,
    cluster: &QservCluster,
    previous: &QservClusterStatus,
    message: String,
) -> Result<Action, ReconcileError> {
    let generation = cluster.meta().generation;
    let status = status::invalid_spec(previous, generation, &message, Timestamp::now());
    let notes = [Note::warning("InvalidSpec", message)];
    ctx.events.publish(cluster, &notes).await;
    write_status(&ctx.client, cluster, previous, &status).await?;
    Ok(Action::await_change())
}

/// A failed apply degrades the cluster (status and an Event); the error goes back to the
/// controller's backoff.
async fn report_apply_failure(
    ctx: &Context,
    cluster: &QservCluster,
    previous: &QservClusterStatus,
    e: ReconcileError,
) -> ReconcileError {
    let observation = Observation {
        image: cluster.spec.image.clone(),
        apply_error: Some(e.to_string()),
        ..Observation::default()
    };
    let generation = cluster.meta().generation;
    let status = status::compute(previous, generation, &observation, Timestamp::now());
    let notes = [Note::warning("ApplyFailed", e.to_string())];
    ctx.events.publish(cluster, &notes).await;
    if let Err(write) = write_status(&ctx.client, cluster, previous, &status).await {
        return write;
    }
    e
}

/// Removes the workers beyond `spec.workers.replicas` from the replication system, once
/// [`departed::time_to_look`] says their pods are down.
async fn deregister(
    cluster: &QservCluster,
    observed: &Observed,
    workloads: &[status::WorkloadState],
    endpoints: &crate::api::qserv_cluster::Endpoints,
) -> Result<Vec<departed::Departed>, String> {
    let desired = cluster.spec.workers.replicas;
    if !departed::time_to_look(workloads, desired) {
        return Ok(Vec::new());
    }
    let namespace = cluster.namespace().unwrap_or_default();
    let registry = format!(
        "{}-{}",
        cluster.name_any(),
        Component::ReplicationRegistry.suffix()
    );
    let access = ReplicationAccess {
        controller_url: endpoints.replication.clone(),
        registry_url: format!(
            "http://{registry}.{namespace}.svc:{}",
            build::ports::REPLICATION_HTTP_PORT
        ),
        instance_id: cluster.name_any(),
        auth_key: observed.secrets.replication_auth_key.clone(),
        admin_auth_key: observed.secrets.replication_admin_auth_key.clone(),
    };
    let sts = decide::worker_statefulset_name(cluster);
    deregister_departed(&access, &sts, desired).await
}

/// The stored status, the cluster's secret values and the live worker StatefulSet's size.
async fn observe(ctx: &Context, cluster: &QservCluster) -> Result<Observed, ReconcileError> {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    // The status as stored now, not the reflector's copy: a reconcile woken by an owned object
    // right after our own status write would otherwise see the status before it and record the
    // same transitions (a second `Created`) again.
    let previous = Api::<QservCluster>::namespaced(ctx.client.clone(), &namespace)
        .get(&name)
        .await
        .map_err(ReconcileError::kube(format!(
            "read status of QservCluster {name}"
        )))?
        .status
        .unwrap_or_default();
    let secrets = cluster_secrets(ctx, cluster, &namespace).await?;
    // Only a scale-down that may lose data needs the live size.
    let live_workers = if cluster.spec.workers.allow_data_loss {
        None
    } else {
        let sts = decide::worker_statefulset_name(cluster);
        Api::<StatefulSet>::namespaced(ctx.client.clone(), &namespace)
            .get_opt(&sts)
            .await
            .map_err(ReconcileError::kube(format!("read StatefulSet {sts}")))?
            .map(|live| live.spec.and_then(|s| s.replicas).unwrap_or(1))
    };
    Ok(Observed {
        previous,
        secrets,
        live_workers,
    })
}

/// The cluster's secret values: read back from its Secret, or generated once (OS randomness).
async fn cluster_secrets(
    ctx: &Context,
    cluster: &QservCluster,
    namespace: &str,
) -> Result<GeneratedSecrets, ReconcileError> {
    let secret_name = format!("{}-secrets", cluster.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = api
        .get_opt(&secret_name)
        .await
        .map_err(ReconcileError::kube(format!("read Secret {secret_name}")))?;
    if let Some(values) = existing.as_ref().and_then(GeneratedSecrets::from_secret) {
        return Ok(values);
    }
    Ok(super::render::fresh_secrets())
}

/// Writes `status` by server-side apply of the status subresource (field manager
/// `qserv-operator`), when it differs from the stored one.
async fn write_status(
    client: &Client,
    cluster: &QservCluster,
    previous: &QservClusterStatus,
    status: &QservClusterStatus,
) -> Result<(), ReconcileError> {
    if status == previous {
        return Ok(());
    }
    let name = cluster.name_any();
    let api: Api<QservCluster> =
        Api::namespaced(client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": QservCluster::api_version(&()),
        "kind": QservCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(ReconcileError::kube(format!(
        "write status of QservCluster {name}"
    )))?;
    Ok(())
}

/// Deletion: PVCs deleted or kept per `spec.storageRetention`, recorded in events; the owned
/// objects go with the QservCluster through their ownerReferences.
async fn cleanup(cluster: &QservCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let previous = cluster.status.clone().unwrap_or_default();
    let status = status::terminating(
        &previous,
        "the QservCluster is being deleted",
        Timestamp::now(),
    );
    // Best effort: the object may already be on its way out.
    let _ = write_status(&ctx.client, cluster, &previous, &status).await;

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    let claims: Vec<String> = pvcs
        .list_metadata(&ListParams::default())
        .await
        .map_err(ReconcileError::kube("list PersistentVolumeClaims"))?
        .items
        .into_iter()
        .map(|p| p.name_any())
        .filter(|claim| is_cluster_claim(claim, &name))
        .collect();
    if claims.is_empty() {
        return Ok(Action::await_change());
    }
    let note = match cluster.spec.storage_retention {
        StorageRetention::Delete => {
            for claim in &claims {
                match pvcs.delete(claim, &DeleteParams::background()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => {
                        return Err(ReconcileError::Kube {
                            action: format!("delete PersistentVolumeClaim {claim}"),
                            source: e,
                        });
                    }
                }
            }
            Note::normal(
                "VolumesDeleted",
                format!("storageRetention Delete: deleted {}", claims.join(", ")),
            )
        }
        StorageRetention::Retain => Note::normal(
            "VolumesRetained",
            format!("storageRetention Retain: kept {}", claims.join(", ")),
        ),
    };
    ctx.events.publish(cluster, &[note]).await;
    Ok(Action::await_change())
}

/// A claim of one of the cluster's StatefulSets: `data-<cluster>-<component>-<ordinal>` (the
/// StatefulSet naming of claims from the `data` volumeClaimTemplate).
fn is_cluster_claim(claim: &str, cluster: &str) -> bool {
    let Some((rest, ordinal)) = claim.rsplit_once('-') else {
        return false;
    };
    if ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    Component::ALL
        .iter()
        .any(|c| rest == format!("{}-{cluster}-{}", build::pod::DATA_VOLUME, c.suffix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(3, 0.25), Duration::from_secs(5));
        assert_eq!(backoff(3, -1.0), Duration::from_secs(3));
        for _ in 0..100 {
            let j = jitter_fraction();
            assert!((-0.25..=0.25).contains(&j), "{j}");
        }
    }

    #[test]
    fn claims_of_the_cluster_only() {
        assert!(is_cluster_claim("data-qserv-ci-worker-0", "qserv-ci"));
        assert!(is_cluster_claim("data-qserv-ci-repl-db-0", "qserv-ci"));
        assert!(is_cluster_claim("data-qserv-ci-czar-12", "qserv-ci"));
        assert!(!is_cluster_claim("data-qserv-ci2-worker-0", "qserv-ci"));
        assert!(!is_cluster_claim("data-other-worker-0", "qserv-ci"));
        assert!(!is_cluster_claim("qserv-ci-worker-0", "qserv-ci"));
        assert!(!is_cluster_claim("data-qserv-ci-worker-x", "qserv-ci"));
        // A cluster whose name ends another's does not take its claims.
        assert!(!is_cluster_claim("data-qserv-ci-worker-0", "ci"));
    }
}
