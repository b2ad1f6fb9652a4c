//! The QservCluster reconciler: wires the stages together and runs them under
//! `kube::runtime::Controller`, with a finalizer for the PVC lifecycle, TTL expiry, events and a
//! jittered exponential backoff on errors.
//!
//! One reconcile: TTL check → finalizer → validate → secrets (read back or generated once) →
//! worker scale-down guard → build (pure) → apply (SSA) + prune → status (pure) → events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::apply::apply_all;
use super::build::{self, Component, DesiredObject, GeneratedSecrets, MANAGER};
use super::error::ReconcileError;
use super::scale::{DepartingWorker, refuse_scale_down};
use super::status::{self, Observation};
use crate::api::qserv_cluster::{QservCluster, QservClusterStatus, StorageRetention, parse_ttl};

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
    recorder: Recorder,
    options: ControllerOptions,
    /// Consecutive failures per object, for the backoff; reset on success.
    failures: Mutex<HashMap<ObjectRef<QservCluster>, u32>>,
}

impl Context {
    pub fn new(client: Client, options: ControllerOptions) -> Arc<Context> {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Arc::new(Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            options,
            failures: Mutex::new(HashMap::new()),
        })
    }

    async fn event(&self, cluster: &QservCluster, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self
            .recorder
            .publish(&event, &cluster.object_ref(&()))
            .await
        {
            tracing::warn!(%e, reason, "cannot publish event");
        }
    }
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    options: ControllerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (clusters, statefulsets, deployments, services, configmaps, secrets) =
        match &options.namespace {
            Some(ns) => (
                Api::<QservCluster>::namespaced(client.clone(), ns),
                Api::<StatefulSet>::namespaced(client.clone(), ns),
                Api::<Deployment>::namespaced(client.clone(), ns),
                Api::<Service>::namespaced(client.clone(), ns),
                Api::<ConfigMap>::namespaced(client.clone(), ns),
                Api::<Secret>::namespaced(client.clone(), ns),
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
    let ctx = Context::new(client, options);
    Controller::new(clusters, watcher::Config::default())
        .owns(statefulsets, owned.clone())
        .owns(deployments, owned.clone())
        .owns(services, owned.clone())
        .owns(configmaps, owned.clone())
        .owns(secrets, owned)
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

    if cluster.meta().deletion_timestamp.is_none()
        && let Some(expires) = expires_at(&cluster)
        && expires <= Timestamp::now()
    {
        let ttl = cluster.spec.ttl.clone().unwrap_or_default();
        ctx.event(
            &cluster,
            EventType::Normal,
            "Expired",
            format!("spec.ttl {ttl} elapsed at {expires}; deleting the cluster"),
        )
        .await;
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

/// `creationTimestamp + spec.ttl`.
pub fn expires_at(cluster: &QservCluster) -> Option<Timestamp> {
    let created = cluster.meta().creation_timestamp.as_ref()?.0;
    let ttl = parse_ttl(cluster.spec.ttl.as_deref()?).ok()?;
    created.checked_add(ttl).ok()
}

async fn apply_cluster(cluster: &QservCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<QservCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    // The status as stored now, not the reflector's copy: a reconcile woken by an owned object
    // right after our own status write would otherwise see the status before it and record the
    // same transitions (a second `Created`) again.
    let previous = api
        .get(&name)
        .await
        .map_err(ReconcileError::kube(format!(
            "read status of QservCluster {name}"
        )))?
        .status
        .unwrap_or_default();
    let generation = cluster.meta().generation;

    // Validate (pure): an invalid spec touches no object.
    if let Err(problems) = cluster.spec.validate() {
        let message = problems.to_string();
        let status = status::invalid_spec(&previous, generation, &message, Timestamp::now());
        ctx.event(cluster, EventType::Warning, "InvalidSpec", message)
            .await;
        write_status(&api, &name, &previous, status).await?;
        return Ok(Action::await_change());
    }

    let secrets = cluster_secrets(ctx, cluster, &namespace).await?;
    let mut objects = match build::build(cluster, &secrets) {
        Ok(objects) => objects,
        Err(e) => {
            let message = e.to_string();
            let status = status::invalid_spec(&previous, generation, &message, Timestamp::now());
            ctx.event(cluster, EventType::Warning, "InvalidSpec", message)
                .await;
            write_status(&api, &name, &previous, status).await?;
            return Ok(Action::await_change());
        }
    };

    let scale_down_refused =
        guard_scale_down(ctx, cluster, &namespace, &secrets, &mut objects).await?;

    let applied = match apply_all(&ctx.client, &namespace, &name, &objects).await {
        Ok(applied) => applied,
        Err(e) => {
            let observation = Observation {
                apply_error: Some(e.to_string()),
                ..Observation::default()
            };
            let status = status::compute(&previous, generation, &observation, Timestamp::now());
            ctx.event(cluster, EventType::Warning, "ApplyFailed", e.to_string())
                .await;
            write_status(&api, &name, &previous, status).await?;
            return Err(e);
        }
    };
    ctx.failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&ObjectRef::from_obj(cluster));

    let expires = expires_at(cluster);
    let endpoints = build::meta::Ctx::new(cluster)
        .map(|c| build::services::endpoints(&c))
        .ok();
    let observation = Observation {
        workloads: applied.workloads,
        endpoints,
        expires_at: expires,
        scale_down_refused: scale_down_refused.clone(),
        apply_error: None,
    };
    let status = status::compute(&previous, generation, &observation, Timestamp::now());
    record_transitions(ctx, cluster, &previous, &status, &applied.deleted).await;
    if let Some(message) = scale_down_refused
        && previous_degraded_reason(&previous) != Some("ScaleDownRefused")
    {
        ctx.event(cluster, EventType::Warning, "ScaleDownRefused", message)
            .await;
    }
    write_status(&api, &name, &previous, status).await?;

    let mut requeue = ctx.options.resync;
    if let Some(expires) = expires {
        let left = expires.duration_since(Timestamp::now());
        let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
        requeue = requeue.min(left + Duration::from_millis(100));
    }
    Ok(Action::requeue(requeue))
}

fn previous_degraded_reason(previous: &QservClusterStatus) -> Option<&str> {
    crate::api::condition::find(&previous.conditions, crate::api::condition::DEGRADED)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.as_str())
}

/// Events for what changed: first creation, spec changes rolled out, scaling, readiness.
async fn record_transitions(
    ctx: &Context,
    cluster: &QservCluster,
    previous: &QservClusterStatus,
    status: &QservClusterStatus,
    deleted: &[String],
) {
    use crate::api::condition::{READY, is_true};
    if previous.observed_generation.is_none() {
        ctx.event(
            cluster,
            EventType::Normal,
            "Created",
            format!(
                "applied the Qserv objects: {} workers, {} xrootd",
                cluster.spec.workers.replicas, cluster.spec.xrootd.replicas
            ),
        )
        .await;
    } else if previous.observed_generation != status.observed_generation {
        ctx.event(
            cluster,
            EventType::Normal,
            "Updated",
            format!(
                "applied generation {} of the spec",
                status.observed_generation.unwrap_or_default()
            ),
        )
        .await;
    }
    let workers = |s: &QservClusterStatus| {
        s.components
            .as_ref()
            .and_then(|c| c.workers.split_once('/').map(|(_, d)| d.to_string()))
    };
    if let (Some(before), Some(after)) = (workers(previous), workers(status))
        && before != after
    {
        ctx.event(
            cluster,
            EventType::Normal,
            "Scaled",
            format!("workers {before} -> {after}"),
        )
        .await;
    }
    if !deleted.is_empty() {
        ctx.event(
            cluster,
            EventType::Normal,
            "Pruned",
            format!("deleted objects no longer desired: {}", deleted.join(", ")),
        )
        .await;
    }
    let (was, is) = (
        is_true(&previous.conditions, READY),
        is_true(&status.conditions, READY),
    );
    if was != is {
        let message = crate::api::condition::find(&status.conditions, READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let (type_, reason) = if is {
            (EventType::Normal, "Ready")
        } else {
            (EventType::Warning, "NotReady")
        };
        ctx.event(cluster, type_, reason, message).await;
    }
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
    Ok(build::generate_secrets(|| {
        let (a, _) = uuid::Uuid::new_v4().as_u64_pair();
        a
    }))
}

/// Keeps the worker StatefulSet at its current size when a scale-down would remove workers that
/// hold chunks (unless `allowDataLoss`); returns why.
async fn guard_scale_down(
    ctx: &Context,
    cluster: &QservCluster,
    namespace: &str,
    secrets: &GeneratedSecrets,
    objects: &mut [DesiredObject],
) -> Result<Option<String>, ReconcileError> {
    if cluster.spec.workers.allow_data_loss {
        return Ok(None);
    }
    let sts_name = format!("{}-{}", cluster.name_any(), Component::Worker.suffix());
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(live) = api
        .get_opt(&sts_name)
        .await
        .map_err(ReconcileError::kube(format!("read StatefulSet {sts_name}")))?
    else {
        return Ok(None);
    };
    let current = live.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let desired = cluster.spec.workers.replicas;
    if desired >= current {
        return Ok(None);
    }
    let departing: Vec<DepartingWorker> = (desired..current)
        .map(|ordinal| {
            let pod = format!("{sts_name}-{ordinal}");
            DepartingWorker {
                endpoint: format!(
                    "mysql://root:{}@{pod}.{sts_name}.{namespace}.svc:3306",
                    secrets.mariadb_root_password
                ),
                pod,
            }
        })
        .collect();
    let refused = refuse_scale_down(&departing).await;
    if refused.is_some() {
        for object in objects.iter_mut() {
            if let DesiredObject::StatefulSet(sts) = object
                && sts.metadata.name.as_deref() == Some(&sts_name)
                && let Some(spec) = sts.spec.as_mut()
            {
                spec.replicas = Some(current);
            }
        }
    }
    Ok(refused)
}

/// Writes `status` when it differs from what the object has.
async fn write_status(
    api: &Api<QservCluster>,
    name: &str,
    previous: &QservClusterStatus,
    status: QservClusterStatus,
) -> Result<(), ReconcileError> {
    if &status == previous {
        return Ok(());
    }
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
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
    let api: Api<QservCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let previous = cluster.status.clone().unwrap_or_default();
    let status = status::terminating(
        &previous,
        "the QservCluster is being deleted",
        Timestamp::now(),
    );
    // Best effort: the object may already be on its way out.
    let _ = write_status(&api, &name, &previous, status).await;

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
    match cluster.spec.storage_retention {
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
            ctx.event(
                cluster,
                EventType::Normal,
                "VolumesDeleted",
                format!("storageRetention Delete: deleted {}", claims.join(", ")),
            )
            .await;
        }
        StorageRetention::Retain => {
            ctx.event(
                cluster,
                EventType::Normal,
                "VolumesRetained",
                format!("storageRetention Retain: kept {}", claims.join(", ")),
            )
            .await;
        }
    }
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
