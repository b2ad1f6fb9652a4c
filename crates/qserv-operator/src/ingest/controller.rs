//! The CatalogIngest reconciler, a staged pipeline: [`observe`] reads the stored status, the
//! source (before the ingest starts), the QservCluster, the Jobs and the results ConfigMap;
//! [`decide`] (pure) turns that into a [`Decision`]; `act` applies the supporting objects,
//! creates the Jobs and publishes the Events; the status is written last, by server-side apply.
//! Everything it decides comes from the API server, so an operator restart resumes where the
//! ingest is; a restarted load Job aborts the transaction its predecessor left open and loads
//! again (see `crate::load`), so rows are never doubled.

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::decide::{Decision, Next, decide};
use super::observe::{Observation, observe};
use super::plan::{self, JobSettings};
use crate::api::catalog_ingest::{CatalogIngest, CatalogIngestStatus, IngestPhase};
use crate::events::Publisher;
use crate::identity::MANAGER;
use crate::shutdown::Shutdown;

/// How the CatalogIngest controller runs.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Watch one namespace, or every namespace when None.
    pub namespace: Option<String>,
    pub jobs: JobSettings,
    /// Check the inputs (files, columns) of a `source.path`, or of a `source.pvc` bound to a
    /// hostPath PersistentVolume, before launching Jobs: true where the operator sees the same
    /// filesystem as the Jobs (local mode). See [`super::source`].
    pub preflight_local_sources: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
}

impl IngestError {
    fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> IngestError {
        let action = action.into();
        move |source| IngestError::Kube { action, source }
    }

    pub fn metric_label(&self) -> &'static str {
        match self {
            IngestError::Kube { .. } => "kube_api",
        }
    }
}

pub struct Context {
    client: Client,
    events: Publisher,
    options: IngestOptions,
}

/// Runs the controller until `shutdown` resolves.
pub fn run(client: Client, options: IngestOptions, shutdown: Shutdown) -> BoxFuture<'static, ()> {
    Box::pin(run_unboxed(client, options, shutdown))
}

async fn run_unboxed(client: Client, options: IngestOptions, shutdown: Shutdown) {
    let (jobs, configmaps) = match &options.namespace {
        Some(ns) => (
            Api::<Job>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    // One CatalogIngest that does not decode is reported and skipped (`tolerant.rs`).
    let (store, trigger) = crate::tolerant::objects::<CatalogIngest>(
        crate::tolerant::dynamic_api::<CatalogIngest>(client.clone(), options.namespace.as_deref()),
        watcher::Config::default(),
        "ingest",
        std::sync::Arc::new(crate::events::Publisher::new(client.clone(), "Watch")),
    );
    let owned = watcher::Config::default().labels("app.kubernetes.io/name=qserv-ingest");
    let ctx = Arc::new(Context {
        events: Publisher::new(client.clone(), "Ingest"),
        client,
        options,
    });
    Controller::for_stream(trigger, store)
        .owns(jobs, owned.clone())
        .owns(configmaps, owned)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(%e, "ingest reconcile failed");
            }
        })
        .await;
}

fn error_policy(ingest: Arc<CatalogIngest>, error: &IngestError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(ingest = %ingest.name_any(), %error, kind = error.metric_label(), "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

/// One reconcile of one CatalogIngest, counted and timed in the metrics.
pub async fn reconcile(
    ingest: Arc<CatalogIngest>,
    ctx: Arc<Context>,
) -> Result<Action, IngestError> {
    let started = std::time::Instant::now();
    let result = reconcile_ingest(&ingest, &ctx).await;
    crate::metrics::global().reconciled(
        "catalogingest",
        started.elapsed(),
        result.as_ref().err().map(IngestError::metric_label),
    );
    result
}

/// observe → decide (pure) → act → status.
async fn reconcile_ingest(ingest: &CatalogIngest, ctx: &Context) -> Result<Action, IngestError> {
    let observed = match observe(&ctx.client, ingest, ctx.options.preflight_local_sources).await {
        Ok(Observation::Observed(observed)) => observed,
        Ok(Observation::Gone) => return Ok(Action::await_change()),
        Err((action, source)) => return Err(IngestError::Kube { action, source }),
    };
    let decision = decide(ingest, &observed, &ctx.options.jobs, Timestamp::now());
    act(ctx, ingest, &decision).await?;
    write_status(&ctx.client, ingest, &observed.previous, &decision.status).await?;
    if decision.delete_scratch {
        delete_scratch(ctx, ingest).await;
    }
    Ok(match decision.next {
        Next::AwaitChange => Action::await_change(),
        Next::After(after) => Action::requeue(after),
    })
}

/// The decision's objects, Jobs, Events and metrics (the status is written after).
async fn act(
    ctx: &Context,
    ingest: &CatalogIngest,
    decision: &Decision,
) -> Result<(), IngestError> {
    let namespace = ingest.namespace().unwrap_or_default();
    if decision.supporting_objects {
        ensure_supporting_objects(ctx, ingest, &namespace).await?;
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    for job in &decision.create_jobs {
        match jobs.create(&PostParams::default(), job).await {
            // 409: created by an earlier reconcile whose status write was lost.
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(IngestError::Kube {
                    action: format!("create Job {}", job.name_any()),
                    source,
                });
            }
        }
    }
    ctx.events.publish(ingest, &decision.events).await;
    if decision.record_outcome {
        record_outcome(&decision.status);
    }
    Ok(())
}

/// The partitioned files served their purpose; the results ConfigMap stays for reading.
async fn delete_scratch(ctx: &Context, ingest: &CatalogIngest) {
    let namespace = ingest.namespace().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    match pvcs
        .delete(&plan::scratch_name(ingest), &DeleteParams::background())
        .await
    {
        Ok(_) | Err(kube::Error::Api(_)) => {}
        Err(e) => tracing::warn!(%e, "cannot delete the scratch volume"),
    }
}

/// Adds a finished ingest's figures to the metrics.
fn record_outcome(status: &CatalogIngestStatus) {
    use crate::metrics::CheckLabels;
    let m = crate::metrics::global();
    if status.phase == Some(IngestPhase::Succeeded) {
        m.ingest_rows
            .inc_by(u64::try_from(status.rows_loaded.unwrap_or(0)).unwrap_or(0));
    }
    m.ingest_bytes.inc_by(
        status
            .tables
            .iter()
            .map(|t| u64::try_from(t.bytes).unwrap_or(0))
            .sum(),
    );
    let passed = status.checks.iter().filter(|c| c.passed).count() as u64;
    let failed = status.checks.len() as u64 - passed;
    for (result, n) in [
        ("passed", passed),
        ("failed", failed),
        ("skipped", status.skipped_checks.len() as u64),
    ] {
        m.checks.get_or_create(&CheckLabels { result }).inc_by(n);
    }
}

/// The results ConfigMap and the scratch PVC, applied (idempotent).
async fn ensure_supporting_objects(
    ctx: &Context,
    ingest: &CatalogIngest,
    namespace: &str,
) -> Result<(), IngestError> {
    let params = PatchParams::apply(MANAGER).force();
    let cm = plan::results_configmap(ingest);
    Api::<ConfigMap>::namespaced(ctx.client.clone(), namespace)
        .patch(&plan::results_name(ingest), &params, &Patch::Apply(&cm))
        .await
        .map_err(IngestError::kube("apply the results ConfigMap"))?;
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    if pvcs
        .get_opt(&plan::scratch_name(ingest))
        .await
        .map_err(IngestError::kube("read the scratch PVC"))?
        .is_none()
    {
        // Created once: a PVC's spec is immutable, and the Jobs need it only until the load.
        let pvc = plan::scratch_pvc(ingest, &ctx.options.jobs);
        match pvcs.create(&PostParams::default(), &pvc).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => {
                return Err(IngestError::Kube {
                    action: "create the scratch PVC".into(),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

/// Writes `status` by server-side apply of the status subresource (field manager
/// `qserv-operator`), when it differs from the stored one.
async fn write_status(
    client: &Client,
    ingest: &CatalogIngest,
    previous: &CatalogIngestStatus,
    status: &CatalogIngestStatus,
) -> Result<(), IngestError> {
    if status == previous {
        return Ok(());
    }
    let name = ingest.name_any();
    let api: Api<CatalogIngest> =
        Api::namespaced(client.clone(), &ingest.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": CatalogIngest::api_version(&()),
        "kind": CatalogIngest::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(IngestError::kube(format!(
        "write status of CatalogIngest {name}"
    )))?;
    Ok(())
}
