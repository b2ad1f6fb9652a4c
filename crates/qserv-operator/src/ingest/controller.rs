//! The CatalogIngest reconciler: checks what can be checked before any Job exists (spec, source,
//! cluster), then launches the Jobs of each phase in turn and folds their states and reports into
//! status. Everything it decides comes from the API server (Jobs, the results ConfigMap), so an
//! operator restart resumes where the ingest is; a restarted load Job aborts the transaction its
//! predecessor left open and loads again (see `crate::load`), so rows are never doubled.
//!
//! Spec changes: the Jobs carry the CatalogIngest as it was when they were created. A change
//! made while an ingest runs or after it ended is not applied; a Warning event says so, and
//! `status.observedGeneration` keeps the generation that was ingested. To ingest again, create a
//! new CatalogIngest (or delete and re-create this one).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::plan::{self, JobSettings, Step};
use super::report::{read_progress, read_reports};
use super::source::{self, SourceState};
use super::status::{self, JobState, Waiting};
use crate::api::catalog_ingest::{CatalogIngest, CatalogIngestStatus, IngestPhase, TableRole};
use crate::api::condition;
use crate::api::qserv_cluster::QservCluster;
use crate::cluster::build::MANAGER;

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
    recorder: Recorder,
    options: IngestOptions,
}

impl Context {
    async fn event(&self, ingest: &CatalogIngest, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Ingest".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &ingest.object_ref(&())).await {
            tracing::warn!(%e, reason, "cannot publish event");
        }
    }
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    options: IngestOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (ingests, jobs, configmaps) = match &options.namespace {
        Some(ns) => (
            Api::<CatalogIngest>::namespaced(client.clone(), ns),
            Api::<Job>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    };
    let owned = watcher::Config::default().labels("app.kubernetes.io/name=qserv-ingest");
    let ctx = Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        client,
        options,
    });
    Controller::new(ingests, watcher::Config::default())
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

const WAIT: Duration = Duration::from_secs(2);

/// One reconcile of one CatalogIngest, counted and timed in the metrics.
pub async fn reconcile(
    ingest: Arc<CatalogIngest>,
    ctx: Arc<Context>,
) -> Result<Action, IngestError> {
    let started = std::time::Instant::now();
    let result = reconcile_ingest(ingest, ctx).await;
    crate::metrics::global().reconciled(
        "catalogingest",
        started.elapsed(),
        result.as_ref().err().map(IngestError::metric_label),
    );
    result
}

async fn reconcile_ingest(
    ingest: Arc<CatalogIngest>,
    ctx: Arc<Context>,
) -> Result<Action, IngestError> {
    let name = ingest.name_any();
    let namespace = ingest.namespace().unwrap_or_default();
    let api: Api<CatalogIngest> = Api::namespaced(ctx.client.clone(), &namespace);
    // The status as stored now, not the reflector's copy: a reconcile woken by a Job right after
    // our own status write would otherwise fold from the status before it, and record a phase
    // change (its event, the outcome in the metrics) twice.
    let previous = match api.get(&name).await {
        Ok(latest) => latest.status.unwrap_or_default(),
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
        Err(e) => {
            return Err(IngestError::kube(format!(
                "read status of CatalogIngest {name}"
            ))(e));
        }
    };
    let generation = ingest.meta().generation;
    if ingest.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }

    // Started (or ended) with another generation: the change is not applied.
    let started = previous
        .phase
        .is_some_and(|p| !matches!(p, IngestPhase::Pending));
    if started
        && previous.observed_generation.is_some()
        && previous.observed_generation != generation
    {
        ctx.event(
            &ingest,
            EventType::Warning,
            "SpecChangeIgnored",
            format!(
                "the ingest runs (or ran) generation {}; spec changes are not applied to it: \
                 create a new CatalogIngest to ingest again",
                previous.observed_generation.unwrap_or_default()
            ),
        )
        .await;
    }
    let generation = if started {
        previous.observed_generation
    } else {
        generation
    };
    if matches!(
        previous.phase,
        Some(IngestPhase::Succeeded | IngestPhase::Failed)
    ) {
        return Ok(Action::await_change());
    }

    if !started {
        let source = if plan_problem(&ingest).is_none() {
            source::resolve(
                &ctx.client,
                &namespace,
                &ingest,
                ctx.options.preflight_local_sources,
            )
            .await
            .map_err(IngestError::kube("read the source claim"))?
        } else {
            SourceState::Unseen
        };
        if let SourceState::Missing(message) = &source {
            let why = Waiting::SourceNotFound(message.clone());
            let status = status::waiting(&previous, generation, &why, Timestamp::now());
            write_status(&api, &name, &previous, status).await?;
            return Ok(Action::requeue(WAIT));
        }
        if let Some(problem) = preflight(&ingest, &source) {
            let status = status::rejected(&previous, generation, &problem, Timestamp::now());
            ctx.event(&ingest, EventType::Warning, "InvalidSpec", problem)
                .await;
            write_status(&api, &name, &previous, status).await?;
            return Ok(Action::await_change());
        }
    }

    let clusters: Api<QservCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let cluster = clusters
        .get_opt(&ingest.spec.cluster)
        .await
        .map_err(IngestError::kube("read the QservCluster"))?;
    let Some(cluster) = cluster else {
        let why = Waiting::ClusterNotFound(format!(
            "QservCluster {} not found in namespace {namespace}",
            ingest.spec.cluster
        ));
        let status = status::waiting(&previous, generation, &why, Timestamp::now());
        write_status(&api, &name, &previous, status).await?;
        return Ok(Action::requeue(WAIT));
    };
    let cluster_ready = cluster
        .status
        .as_ref()
        .is_some_and(|s| condition::is_true(&s.conditions, condition::READY));
    if !started && !cluster_ready {
        let why = Waiting::ClusterNotReady(format!(
            "waiting for QservCluster {} to be Ready",
            ingest.spec.cluster
        ));
        let status = status::waiting(&previous, generation, &why, Timestamp::now());
        write_status(&api, &name, &previous, status).await?;
        return Ok(Action::requeue(WAIT));
    }

    ensure_supporting_objects(&ctx, &ingest, &namespace).await?;
    let jobs = observe_jobs(&ctx, &ingest, &namespace).await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let results = configmaps
        .get_opt(&plan::results_name(&ingest))
        .await
        .map_err(IngestError::kube("read the results ConfigMap"))?;
    let reports = results.as_ref().map(read_reports).unwrap_or_default();
    let progress = results.as_ref().map(read_progress).unwrap_or_default();
    let reference = cluster.spec.reference.enabled;

    // Launch what the finished phases allow, unless a step failed (a failed attempt of a Job
    // that retries it is not a failed step).
    let failed = status::first_failure(&jobs, &reports).is_some();
    let done = |s: Step| jobs.get(&s).is_some_and(|j| j.complete);
    let mut launch = Vec::new();
    if !failed {
        if !jobs.contains_key(&Step::Partition) {
            launch.push(Step::Partition);
        } else if done(Step::Partition) {
            if !jobs.contains_key(&Step::Load) {
                launch.push(Step::Load);
            }
            if reference && !jobs.contains_key(&Step::Reference) {
                launch.push(Step::Reference);
            }
            if done(Step::Load)
                && (!reference || done(Step::Reference))
                && !jobs.contains_key(&Step::Check)
            {
                launch.push(Step::Check);
            }
        }
    }
    let mut jobs = jobs;
    for step in launch {
        let extra = if step == Step::Check {
            rows_read_args(&reports)
        } else {
            Vec::new()
        };
        let job = plan::job(&ingest, &cluster, step, &ctx.options.jobs, &extra);
        let job_name = plan::job_name(&ingest, step);
        match Api::<Job>::namespaced(ctx.client.clone(), &namespace)
            .create(&PostParams::default(), &job)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => {
                return Err(IngestError::Kube {
                    action: format!("create Job {job_name}"),
                    source: e,
                });
            }
        }
        ctx.event(
            &ingest,
            EventType::Normal,
            "JobCreated",
            format!("{} step: Job {job_name}", step.name()),
        )
        .await;
        jobs.entry(step).or_insert(JobState {
            name: job_name,
            completions: job.spec.and_then(|s| s.completions).unwrap_or(1),
            ..JobState::default()
        });
    }

    let status = status::fold_with_progress(
        &previous,
        generation,
        &jobs,
        &reports,
        &progress,
        reference,
        Timestamp::now(),
    );
    let finished = matches!(
        status.phase,
        Some(IngestPhase::Succeeded | IngestPhase::Failed)
    );
    if status.phase != previous.phase {
        let ready = condition::find(&status.conditions, condition::READY);
        let message = ready.map(|c| c.message.clone()).unwrap_or_default();
        let type_ = if status.phase == Some(IngestPhase::Failed) {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let phase = format!("{:?}", status.phase.unwrap_or(IngestPhase::Pending));
        ctx.event(&ingest, type_, &phase, message).await;
    }
    if finished
        && !matches!(
            previous.phase,
            Some(IngestPhase::Succeeded | IngestPhase::Failed)
        )
    {
        record_outcome(&status);
    }
    write_status(&api, &name, &previous, status).await?;
    if finished {
        // The partitioned files served their purpose; the results ConfigMap stays for reading.
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
        match pvcs
            .delete(&plan::scratch_name(&ingest), &DeleteParams::background())
            .await
        {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => tracing::warn!(%e, "cannot delete the scratch volume"),
        }
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(Duration::from_secs(30)))
}

/// `--rows-read T=N` per table: partitioned tables from the partition reports, regular ones
/// (not partitioned) from what the reference load read.
fn rows_read_args(reports: &[super::report::StepReport]) -> Vec<String> {
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    for r in reports.iter().filter(|r| r.step == Step::Partition.name()) {
        for t in &r.tables {
            *rows.entry(t.name.clone()).or_default() += t.rows_read;
        }
    }
    for r in reports.iter().filter(|r| r.step == Step::Reference.name()) {
        for t in &r.tables {
            rows.entry(t.name.clone()).or_insert(t.rows_loaded);
        }
    }
    rows.into_iter()
        .flat_map(|(t, n)| ["--rows-read".to_string(), format!("{t}={n}")])
        .collect()
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

/// The spec's own problems and an unsupported source: what makes resolving the source moot.
fn plan_problem(ingest: &CatalogIngest) -> Option<String> {
    if let Err(problems) = ingest.spec.validate() {
        return Some(problems.to_string());
    }
    plan::plan_problem(ingest)
}

/// What can be known wrong before any Job runs: the spec, an unsupported source, and (where the
/// operator sees the Jobs' filesystem) missing files or columns.
fn preflight(ingest: &CatalogIngest, source: &SourceState) -> Option<String> {
    if let Some(problem) = plan_problem(ingest) {
        return Some(problem);
    }
    let SourceState::Visible { dir, what } = source else {
        return None;
    };
    if !dir.is_dir() {
        return Some(format!("{what}: {} is not a directory", dir.display()));
    }
    for (i, table) in ingest.spec.tables.iter().enumerate() {
        let at = format!("spec.tables[{i}] ({})", table.name);
        let result = if table.role == TableRole::Regular {
            crate::from_spec::catalog::table_files(table, dir)
                .map(drop)
                .map_err(|e| e.to_string())
        } else {
            crate::from_spec::partition::table_plan(
                &ingest.spec,
                table,
                dir,
                Path::new("/nonexistent"),
            )
            .map(drop)
            .map_err(|e| e.to_string())
        };
        if let Err(e) = result {
            return Some(format!("{at}: {e}"));
        }
    }
    None
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

async fn observe_jobs(
    ctx: &Context,
    ingest: &CatalogIngest,
    namespace: &str,
) -> Result<BTreeMap<Step, JobState>, IngestError> {
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(&format!(
            "app.kubernetes.io/name=qserv-ingest,app.kubernetes.io/instance={}",
            ingest.name_any()
        )))
        .await
        .map_err(IngestError::kube("list the ingest Jobs"))?;
    let mut jobs = BTreeMap::new();
    for job in list.items {
        let Some(step) = job
            .labels()
            .get("app.kubernetes.io/component")
            .and_then(|c| Step::from_name(c))
        else {
            continue;
        };
        let status = job.status.clone().unwrap_or_default();
        let cond = |type_: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == type_ && c.status == "True")
                .cloned()
        };
        jobs.insert(
            step,
            JobState {
                name: job.name_any(),
                complete: cond("Complete").is_some(),
                failed: cond("Failed").map(|c| {
                    format!(
                        "{}: {}",
                        c.reason.unwrap_or_default(),
                        c.message.unwrap_or_default()
                    )
                }),
                succeeded: status.succeeded.unwrap_or(0),
                completions: job.spec.and_then(|s| s.completions).unwrap_or(1),
            },
        );
    }
    Ok(jobs)
}

async fn write_status(
    api: &Api<CatalogIngest>,
    name: &str,
    previous: &CatalogIngestStatus,
    status: CatalogIngestStatus,
) -> Result<(), IngestError> {
    if &status == previous {
        return Ok(());
    }
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map_err(IngestError::kube(format!(
        "write status of CatalogIngest {name}"
    )))?;
    Ok(())
}
