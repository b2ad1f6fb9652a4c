//! What one reconcile of a CatalogIngest does (pure): from what [`super::observe`] read, the
//! objects to apply and the Jobs to create, the Events, the status and when to look again. The
//! controller only carries the [`Decision`] out.
//!
//! The steps run in order: partition, then load and (with a reference database) reference side
//! by side, then check; a step starts when the ones before it completed, and nothing more starts
//! once a step failed (a failed attempt of a Job that retries it is not a failed step).
//!
//! Spec changes: the Jobs carry the CatalogIngest as it was when they were created. A change
//! made while an ingest runs or after it ended is not applied; a Warning event says so, and
//! `status.observedGeneration` keeps the generation that was ingested.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;

use super::plan::{self, JobSettings, Step};
use super::report::{StepProgress, StepReport};
use super::source::SourceState;
use super::status::{self, JobState, Waiting};
use crate::api::catalog_ingest::{CatalogIngest, CatalogIngestStatus, IngestPhase};
use crate::api::condition;
use crate::api::qserv_cluster::QservCluster;
use crate::events::Note;

/// How long an ingest that waits (for its cluster, for its source) waits before looking again.
pub const WAIT: Duration = Duration::from_secs(2);
/// How often a running ingest is looked at without a watch event (its Jobs wake it too).
pub const RESYNC: Duration = Duration::from_secs(30);

/// What the API server (and, before the ingest starts, the source) said of one CatalogIngest.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The status as stored now (not the reflector's copy).
    pub previous: CatalogIngestStatus,
    /// Before the ingest starts: the spec's or the source's problem (files, columns), if any.
    pub preflight_problem: Option<String>,
    /// Before the ingest starts: where the input is (`None` when the spec has a problem).
    pub source: Option<SourceState>,
    /// The QservCluster of `spec.cluster`, if it exists.
    pub cluster: Option<QservCluster>,
    /// The ingest's Jobs by step.
    pub jobs: BTreeMap<Step, JobState>,
    /// The steps' reports and progress, from the results ConfigMap.
    pub reports: Vec<StepReport>,
    pub progress: Vec<StepProgress>,
}

/// When to reconcile again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Only on a change (an ended ingest, a rejected spec).
    AwaitChange,
    After(Duration),
}

/// What to do, in order: apply the supporting objects, create the Jobs, publish the Events,
/// record the outcome, write the status, delete the scratch volume.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Apply the results ConfigMap and create the scratch PVC (both idempotent).
    pub supporting_objects: bool,
    /// Jobs to create (one that exists already is left as it is).
    pub create_jobs: Vec<Job>,
    pub events: Vec<Note>,
    pub status: CatalogIngestStatus,
    /// The ingest ended in this reconcile: add its figures to the metrics.
    pub record_outcome: bool,
    /// The ingest has ended: its scratch volume served its purpose.
    pub delete_scratch: bool,
    pub next: Next,
}

impl Decision {
    /// Only a status (and Events): nothing is applied, created or deleted.
    fn status_only(status: CatalogIngestStatus, events: Vec<Note>, next: Next) -> Decision {
        Decision {
            supporting_objects: false,
            create_jobs: Vec::new(),
            events,
            status,
            record_outcome: false,
            delete_scratch: false,
            next,
        }
    }
}

/// Whether the ingest has started: it left `Pending` (Jobs exist, or it was rejected).
pub fn started(previous: &CatalogIngestStatus) -> bool {
    previous
        .phase
        .is_some_and(|p| !matches!(p, IngestPhase::Pending))
}

/// Whether the ingest has ended (nothing is left to do).
pub fn ended(phase: Option<IngestPhase>) -> bool {
    matches!(phase, Some(IngestPhase::Succeeded | IngestPhase::Failed))
}

/// The reconcile's decision for `ingest`, given what was observed, at `now`.
pub fn decide(
    ingest: &CatalogIngest,
    observed: &Observed,
    settings: &JobSettings,
    now: Timestamp,
) -> Decision {
    let previous = &observed.previous;
    let started = started(previous);
    let mut events: Vec<Note> = spec_change_ignored(ingest, previous).into_iter().collect();
    // The generation being ingested: the spec's until the ingest starts, then that one.
    let generation = if started {
        previous.observed_generation
    } else {
        ingest.metadata.generation
    };
    if ended(previous.phase) {
        return Decision::status_only(previous.clone(), events, Next::AwaitChange);
    }
    let cluster = match gate(ingest, observed, started) {
        Ok(cluster) => cluster,
        Err(Gate::Wait(why)) => {
            let status = status::waiting(previous, generation, &why, now);
            return Decision::status_only(status, events, Next::After(WAIT));
        }
        Err(Gate::Reject(problem)) => {
            let status = status::rejected(previous, generation, &problem, now);
            events.push(Note::warning("InvalidSpec", problem));
            return Decision::status_only(status, events, Next::AwaitChange);
        }
    };
    let reference = cluster.spec.reference.enabled;
    let mut jobs = observed.jobs.clone();
    let create_jobs = launch(ingest, cluster, observed, settings, &mut jobs, &mut events);
    let status = status::fold_with_progress(
        previous,
        generation,
        &jobs,
        &observed.reports,
        &observed.progress,
        reference,
        now,
    );
    events.extend(phase_note(previous, &status));
    let finished = ended(status.phase);
    Decision {
        supporting_objects: true,
        create_jobs,
        events,
        record_outcome: finished,
        delete_scratch: finished,
        next: if finished {
            Next::AwaitChange
        } else {
            Next::After(RESYNC)
        },
        status,
    }
}

/// Why an ingest that has started or ended ignores a newer spec.
fn spec_change_ignored(ingest: &CatalogIngest, previous: &CatalogIngestStatus) -> Option<Note> {
    let ran = previous.observed_generation?;
    (started(previous) && Some(ran) != ingest.metadata.generation).then(|| {
        Note::warning(
            "SpecChangeIgnored",
            format!(
                "the ingest runs (or ran) generation {ran}; spec changes are not applied to it: \
                 create a new CatalogIngest to ingest again"
            ),
        )
    })
}

/// Why the ingest cannot go on now.
enum Gate {
    /// For its source or its cluster: Pending, looked at again soon.
    Wait(Waiting),
    /// Its spec or source cannot be ingested: Failed before any Job.
    Reject(String),
}

/// The cluster to ingest into, or why not now: before the ingest starts, a missing source, a
/// preflight problem and a cluster that is not Ready hold it; a missing cluster always does.
fn gate<'a>(
    ingest: &CatalogIngest,
    observed: &'a Observed,
    started: bool,
) -> Result<&'a QservCluster, Gate> {
    if !started {
        if let Some(SourceState::Missing(message)) = &observed.source {
            return Err(Gate::Wait(Waiting::SourceNotFound(message.clone())));
        }
        if let Some(problem) = &observed.preflight_problem {
            return Err(Gate::Reject(problem.clone()));
        }
    }
    let Some(cluster) = &observed.cluster else {
        let namespace = ingest.metadata.namespace.as_deref().unwrap_or_default();
        return Err(Gate::Wait(Waiting::ClusterNotFound(format!(
            "QservCluster {} not found in namespace {namespace}",
            ingest.spec.cluster
        ))));
    };
    let ready = cluster
        .status
        .as_ref()
        .is_some_and(|s| condition::is_true(&s.conditions, condition::READY));
    if !started && !ready {
        return Err(Gate::Wait(Waiting::ClusterNotReady(format!(
            "waiting for QservCluster {} to be Ready",
            ingest.spec.cluster
        ))));
    }
    Ok(cluster)
}

/// The Jobs of the steps that can start now, added to `jobs` (as just created) and announced
/// in `events`.
fn launch(
    ingest: &CatalogIngest,
    cluster: &QservCluster,
    observed: &Observed,
    settings: &JobSettings,
    jobs: &mut BTreeMap<Step, JobState>,
    events: &mut Vec<Note>,
) -> Vec<Job> {
    let reference = cluster.spec.reference.enabled;
    let mut created = Vec::new();
    for step in steps_to_launch(jobs, &observed.reports, reference) {
        let extra = if step == Step::Check {
            rows_read_args(&observed.reports)
        } else {
            Vec::new()
        };
        let job = plan::job(ingest, cluster, step, settings, &extra);
        let name = plan::job_name(ingest, step);
        events.push(Note::normal(
            "JobCreated",
            format!("{} step: Job {name}", step.name()),
        ));
        let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
        jobs.insert(
            step,
            JobState {
                name,
                completions,
                ..JobState::default()
            },
        );
        created.push(job);
    }
    created
}

/// The Event of a phase change, with the Ready message (a Warning for `Failed`).
fn phase_note(previous: &CatalogIngestStatus, status: &CatalogIngestStatus) -> Option<Note> {
    if status.phase == previous.phase {
        return None;
    }
    let message = condition::find(&status.conditions, condition::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    let phase = format!("{:?}", status.phase.unwrap_or(IngestPhase::Pending));
    Some(if status.phase == Some(IngestPhase::Failed) {
        Note::warning(phase, message)
    } else {
        Note::normal(phase, message)
    })
}

/// The steps the finished ones allow to start now, unless a step failed.
pub fn steps_to_launch(
    jobs: &BTreeMap<Step, JobState>,
    reports: &[StepReport],
    reference: bool,
) -> Vec<Step> {
    if status::first_failure(jobs, reports).is_some() {
        return Vec::new();
    }
    let done = |s: Step| jobs.get(&s).is_some_and(|j| j.complete);
    let mut launch = Vec::new();
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
    launch
}

/// `--rows-read T=N` per table: partitioned tables from the partition reports, regular ones
/// (not partitioned) from what the reference load read.
pub fn rows_read_args(reports: &[StepReport]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog_ingest::TableStatus;
    use crate::api::condition::{ConditionUpdate, set_condition};
    use kube::ResourceExt;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn ingest() -> CatalogIngest {
        let mut ing: CatalogIngest = serde_norway::from_str(include_str!(
            "../../../../examples/catalogingest-case01.yaml"
        ))
        .unwrap();
        ing.metadata.namespace = Some("ns".into());
        ing.metadata.uid = Some("uid-1".into());
        ing.metadata.generation = Some(1);
        ing
    }

    fn cluster(ready: bool, reference: bool) -> QservCluster {
        let mut c: QservCluster =
            serde_norway::from_str(include_str!("../../../../examples/qservcluster-ci.yaml"))
                .unwrap();
        c.metadata.namespace = Some("ns".into());
        c.spec.reference.enabled = reference;
        let mut status = crate::api::qserv_cluster::QservClusterStatus::default();
        let why = if ready { "Ready" } else { "Progressing" };
        set_condition(
            &mut status.conditions,
            ConditionUpdate::new(condition::READY, ready, why, why),
            Some(1),
            now(),
        );
        c.status = Some(status);
        c
    }

    fn job(name: &str, complete: bool) -> JobState {
        JobState {
            name: name.into(),
            complete,
            succeeded: i32::from(complete),
            completions: 1,
            ..JobState::default()
        }
    }

    /// What a reconcile of a fresh ingest sees once its cluster is Ready.
    fn fresh(cluster: QservCluster) -> Observed {
        Observed {
            source: Some(SourceState::Unseen),
            cluster: Some(cluster),
            ..Observed::default()
        }
    }

    fn ready_reason(status: &CatalogIngestStatus) -> (String, String) {
        let c = condition::find(&status.conditions, condition::READY).unwrap();
        (c.reason.clone(), c.message.clone())
    }

    fn created(d: &Decision) -> Vec<String> {
        d.create_jobs.iter().map(|j| j.name_any()).collect()
    }

    #[test]
    fn a_missing_cluster_or_source_waits_and_creates_nothing() {
        let ing = ingest();
        let d = decide(&ing, &Observed::default(), &JobSettings::default(), now());
        assert_eq!(d.status.phase, Some(IngestPhase::Pending));
        assert_eq!(
            ready_reason(&d.status),
            (
                "ClusterNotFound".into(),
                "QservCluster qserv-ci not found in namespace ns".into()
            )
        );
        assert_eq!(d.next, Next::After(WAIT));
        assert!(!d.supporting_objects && d.create_jobs.is_empty() && d.events.is_empty());

        let mut observed = fresh(cluster(false, true));
        let d = decide(&ing, &observed, &JobSettings::default(), now());
        assert_eq!(ready_reason(&d.status).0, "WaitingForCluster");
        assert!(d.create_jobs.is_empty());

        observed.source = Some(SourceState::Missing("claim catalogs not found".into()));
        let d = decide(&ing, &observed, &JobSettings::default(), now());
        assert_eq!(
            ready_reason(&d.status),
            ("SourceNotFound".into(), "claim catalogs not found".into())
        );
        assert_eq!(d.next, Next::After(WAIT));
    }

    #[test]
    fn a_preflight_problem_fails_the_ingest_with_a_warning_and_no_job() {
        let observed = Observed {
            preflight_problem: Some("spec.tables[0] (Object): no file matches Object*.tsv".into()),
            ..fresh(cluster(true, true))
        };
        let d = decide(&ingest(), &observed, &JobSettings::default(), now());
        assert_eq!(d.status.phase, Some(IngestPhase::Failed));
        assert_eq!(
            d.events,
            [Note::warning(
                "InvalidSpec",
                "spec.tables[0] (Object): no file matches Object*.tsv"
            )]
        );
        assert_eq!(d.next, Next::AwaitChange);
        assert!(d.create_jobs.is_empty() && !d.supporting_objects);
    }

    #[test]
    fn steps_start_in_order_as_the_ones_before_complete() {
        let ing = ingest();
        let settings = JobSettings::default();
        let d = decide(&ing, &fresh(cluster(true, true)), &settings, now());
        assert_eq!(created(&d), ["case01-partition"]);
        assert!(d.supporting_objects);
        assert_eq!(d.status.phase, Some(IngestPhase::Partitioning));
        assert_eq!(d.status.jobs, ["case01-partition"]);
        assert_eq!(
            d.events[0],
            Note::normal("JobCreated", "partition step: Job case01-partition")
        );
        assert_eq!(d.events[1].reason, "Partitioning");
        assert_eq!(d.next, Next::After(RESYNC));

        // Partition complete: load and reference start together; nothing is created twice.
        let mut observed = fresh(cluster(true, true));
        observed.previous = d.status.clone();
        observed.jobs = BTreeMap::from([(Step::Partition, job("case01-partition", true))]);
        let mut report = StepReport::new(Step::Partition, Some(0));
        report.tables = vec![TableStatus {
            name: "Object".into(),
            rows_read: 1000,
            ..TableStatus::default()
        }];
        observed.reports = vec![report];
        let d = decide(&ing, &observed, &settings, now());
        assert_eq!(created(&d), ["case01-load", "case01-reference"]);

        // Both complete: the check gets the rows read.
        observed.jobs.insert(Step::Load, job("case01-load", true));
        observed
            .jobs
            .insert(Step::Reference, job("case01-reference", false));
        assert!(
            decide(&ing, &observed, &settings, now())
                .create_jobs
                .is_empty()
        );
        observed
            .jobs
            .insert(Step::Reference, job("case01-reference", true));
        let mut reference = StepReport::new(Step::Reference, None);
        reference.tables = vec![TableStatus {
            name: "Filter".into(),
            rows_loaded: 6,
            ..TableStatus::default()
        }];
        observed.reports.push(reference);
        let d = decide(&ing, &observed, &settings, now());
        assert_eq!(created(&d), ["case01-check"]);
        let args = d.create_jobs[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .args
            .clone()
            .unwrap();
        let tail: Vec<&str> = args
            .iter()
            .rev()
            .take(4)
            .rev()
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            ["--rows-read", "Filter=6", "--rows-read", "Object=1000"]
        );
    }

    #[test]
    fn without_a_reference_the_check_follows_the_load_alone() {
        let jobs = BTreeMap::from([
            (Step::Partition, job("p", true)),
            (Step::Load, job("l", true)),
        ]);
        assert_eq!(steps_to_launch(&jobs, &[], false), [Step::Check]);
        assert_eq!(steps_to_launch(&jobs, &[], true), [Step::Reference]);
    }

    #[test]
    fn a_failed_step_starts_nothing_more_and_ends_the_ingest() {
        let ing = ingest();
        let mut observed = fresh(cluster(true, true));
        observed.previous.phase = Some(IngestPhase::Partitioning);
        observed.previous.observed_generation = Some(1);
        let mut failed = job("case01-partition", false);
        failed.failed =
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit".into());
        observed.jobs = BTreeMap::from([(Step::Partition, failed)]);
        let d = decide(&ing, &observed, &JobSettings::default(), now());
        assert!(d.create_jobs.is_empty());
        assert_eq!(d.status.phase, Some(IngestPhase::Failed));
        assert!(d.record_outcome && d.delete_scratch);
        assert_eq!(d.next, Next::AwaitChange);
        assert!(
            d.events.iter().any(|e| e.warning && e.reason == "Failed"),
            "{:?}",
            d.events
        );
    }

    #[test]
    fn an_ended_ingest_does_nothing_and_says_a_spec_change_is_ignored() {
        let mut ing = ingest();
        let mut observed = fresh(cluster(true, true));
        observed.previous.phase = Some(IngestPhase::Succeeded);
        observed.previous.observed_generation = Some(1);
        let d = decide(&ing, &observed, &JobSettings::default(), now());
        assert!(d.events.is_empty() && d.create_jobs.is_empty() && !d.record_outcome);
        assert_eq!(d.status, observed.previous);
        assert_eq!(d.next, Next::AwaitChange);

        ing.metadata.generation = Some(2);
        let d = decide(&ing, &observed, &JobSettings::default(), now());
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].reason, "SpecChangeIgnored");
        assert!(d.events[0].warning);
        assert_eq!(d.status.observed_generation, Some(1));
    }
}
