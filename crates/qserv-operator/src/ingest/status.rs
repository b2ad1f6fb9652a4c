//! Status of a CatalogIngest (pure): the Jobs' states and the steps' reports folded into the
//! phase, the conditions (Ready, Partitioned, Loaded, Verified) and the per-table and per-check
//! figures.
//!
//! Phases only move forward: Pending → Partitioning → Loading → Publishing → Verifying →
//! Succeeded | Failed. What one reconcile observes can look like an earlier phase (a load
//! attempt retried from its start has no publishing stage yet; once the load reported, its
//! progress no longer counts while the reference still loads; a cluster deleted mid-ingest makes
//! it wait), so the status keeps the furthest phase reached ([`forward`]) and the Ready message
//! says what happens now.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::plan::Step;
use super::report::{StepProgress, StepReport};
use crate::api::catalog_ingest::{CatalogIngestStatus, IngestPhase, TableStatus};
use crate::api::condition::{self, ConditionUpdate, READY};

pub const PARTITIONED: &str = "Partitioned";
pub const LOADED: &str = "Loaded";
pub const VERIFIED: &str = "Verified";

/// A Job as the API server reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobState {
    pub name: String,
    /// Condition `Complete` is True.
    pub complete: bool,
    /// Condition `Failed` is True: its reason and message.
    pub failed: Option<String>,
    pub succeeded: i32,
    pub completions: i32,
}

/// Why the ingest waits before launching anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waiting {
    ClusterNotFound(String),
    ClusterNotReady(String),
    /// The `source.pvc` claim (or the volume it names) does not exist yet.
    SourceNotFound(String),
}

/// The status of an ingest that waits: Pending with the reason; no Job exists.
pub fn waiting(
    previous: &CatalogIngestStatus,
    generation: Option<i64>,
    why: &Waiting,
    now: Timestamp,
) -> CatalogIngestStatus {
    let mut status = previous.clone();
    status.phase = Some(forward(previous.phase, IngestPhase::Pending));
    status.observed_generation = generation;
    let (reason, message) = match why {
        Waiting::ClusterNotFound(m) => ("ClusterNotFound", m),
        Waiting::ClusterNotReady(m) => ("WaitingForCluster", m),
        Waiting::SourceNotFound(m) => ("SourceNotFound", m),
    };
    condition::set_condition(
        &mut status.conditions,
        ConditionUpdate::new(READY, false, reason, message.clone()),
        generation,
        now,
    );
    status
}

/// The status of an ingest that cannot start (invalid spec or source): Failed, no Job.
pub fn rejected(
    previous: &CatalogIngestStatus,
    generation: Option<i64>,
    message: &str,
    now: Timestamp,
) -> CatalogIngestStatus {
    let mut status = previous.clone();
    status.phase = Some(forward(previous.phase, IngestPhase::Failed));
    status.observed_generation = generation;
    condition::set_condition(
        &mut status.conditions,
        ConditionUpdate::new(READY, false, "InvalidSpec", message),
        generation,
        now,
    );
    status
}

/// The status from the Jobs that exist and the reports they wrote.
pub fn fold(
    previous: &CatalogIngestStatus,
    generation: Option<i64>,
    jobs: &BTreeMap<Step, JobState>,
    reports: &[StepReport],
    reference_enabled: bool,
    now: Timestamp,
) -> CatalogIngestStatus {
    fold_with_progress(
        previous,
        generation,
        jobs,
        reports,
        &[],
        reference_enabled,
        now,
    )
}

/// [`fold`], with what running steps said of their progress in the `Ready` message.
pub fn fold_with_progress(
    previous: &CatalogIngestStatus,
    generation: Option<i64>,
    jobs: &BTreeMap<Step, JobState>,
    reports: &[StepReport],
    progress: &[StepProgress],
    reference_enabled: bool,
    now: Timestamp,
) -> CatalogIngestStatus {
    let mut status = previous.clone();
    status.observed_generation = generation;
    if status.start_time.is_none() {
        status.start_time = Some(Time(now));
    }
    status.jobs = jobs.values().map(|j| j.name.clone()).collect();
    status.tables = tables(reports);
    status.rows_loaded = reports
        .iter()
        .any(|r| r.step == Step::Load.name())
        .then(|| status.tables.iter().map(|t| t.rows_loaded).sum());
    status.transaction_id = reports.iter().find_map(|r| r.transaction_id);

    let check_report = reports.iter().find(|r| r.step == Step::Check.name());
    if let Some(report) = check_report {
        status.checks = report.checks.clone();
        status.skipped_checks = report.skipped.clone();
        let passed = report.checks.iter().filter(|c| c.passed).count();
        status.checks_summary = Some(format!("{passed}/{}", report.checks.len()));
    }

    let done = |step: Step| jobs.get(&step).is_some_and(|j| j.complete);
    let failure = first_failure(jobs, reports);
    let mut set = |type_: &str, ok: bool, reason: &str, message: String| {
        condition::set_condition(
            &mut status.conditions,
            ConditionUpdate::new(type_, ok, reason, message),
            generation,
            now,
        );
    };

    let partitioned = done(Step::Partition);
    let loaded = done(Step::Load) && (!reference_enabled || done(Step::Reference));
    let verified = done(Step::Check);
    let failed_checks: Vec<String> = check_report
        .map(|r| {
            r.checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();

    set(
        PARTITIONED,
        partitioned,
        if partitioned {
            "Partitioned"
        } else {
            "Pending"
        },
        partition_message(jobs.get(&Step::Partition), reports),
    );
    set(
        LOADED,
        loaded,
        if loaded { "Published" } else { "Pending" },
        if loaded {
            format!(
                "{} rows published in Qserv{}",
                status.rows_loaded.unwrap_or(0),
                if reference_enabled {
                    " and loaded into the reference"
                } else {
                    ""
                }
            )
        } else {
            "not loaded yet".into()
        },
    );
    let skipped = status.skipped_checks.len();
    let verified_ok = verified && failed_checks.is_empty() && check_report.is_some();
    set(
        VERIFIED,
        verified_ok,
        if !verified {
            "Pending"
        } else if verified_ok {
            "AllChecksPassed"
        } else {
            "ChecksFailed"
        },
        if !verified {
            "checks not run yet".into()
        } else if verified_ok {
            format!("{} checks passed, {skipped} skipped", status.checks.len())
        } else {
            format!(
                "{} of {} checks failed: {}",
                failed_checks.len(),
                status.checks.len(),
                failed_checks.join(", ")
            )
        },
    );

    let phase = if let Some((step, message)) = &failure {
        set(
            READY,
            false,
            &format!("{}Failed", capitalize(step.name())),
            message.clone(),
        );
        IngestPhase::Failed
    } else if verified && !verified_ok {
        set(
            READY,
            false,
            "ChecksFailed",
            format!(
                "the data is published but {} checks failed: {}",
                failed_checks.len(),
                failed_checks.join(", ")
            ),
        );
        IngestPhase::Failed
    } else if verified_ok {
        set(
            READY,
            true,
            "Succeeded",
            format!(
                "{} rows in {} tables, {} checks passed",
                status.rows_loaded.unwrap_or(0),
                status.tables.len(),
                status.checks.len()
            ),
        );
        IngestPhase::Succeeded
    } else {
        let (phase, message) = if jobs.contains_key(&Step::Check) {
            (IngestPhase::Verifying, "running result checks".to_string())
        } else if jobs.contains_key(&Step::Load) {
            loading(jobs, reports, progress, reference_enabled)
        } else if jobs.contains_key(&Step::Partition) {
            (IngestPhase::Partitioning, "partitioning the input".into())
        } else {
            (IngestPhase::Pending, "starting".into())
        };
        match retrying(jobs, reports) {
            Some((_, error)) => set(
                READY,
                false,
                "Retrying",
                format!("{message}; an attempt failed and its Job retries it: {error}"),
            ),
            None => set(READY, false, "InProgress", message),
        }
        phase
    };
    let phase = forward(previous.phase, phase);
    if matches!(phase, IngestPhase::Succeeded | IngestPhase::Failed)
        && status.completion_time.is_none()
    {
        status.completion_time = Some(Time(now));
    }
    status.phase = Some(phase);
    status
}

/// The phase after `previous` when the observations say `observed`: the further of the two in
/// Pending → Partitioning → Loading → Publishing → Verifying → Succeeded | Failed; an ended
/// ingest keeps its outcome.
pub fn forward(previous: Option<IngestPhase>, observed: IngestPhase) -> IngestPhase {
    fn rank(phase: IngestPhase) -> u8 {
        match phase {
            IngestPhase::Pending => 0,
            IngestPhase::Partitioning => 1,
            IngestPhase::Loading => 2,
            IngestPhase::Publishing => 3,
            IngestPhase::Verifying => 4,
            IngestPhase::Succeeded | IngestPhase::Failed => 5,
        }
    }
    match previous {
        Some(ended @ (IngestPhase::Succeeded | IngestPhase::Failed)) => ended,
        Some(p) if rank(p) > rank(observed) => p,
        _ => observed,
    }
}

/// `Loading` with the contributions sent while the load runs, `Publishing` once they are all in
/// and the load Job publishes (then builds the director index and collects row counters), and
/// after, while the reference still loads.
fn loading(
    jobs: &BTreeMap<Step, JobState>,
    reports: &[StepReport],
    progress: &[StepProgress],
    reference_enabled: bool,
) -> (IngestPhase, String) {
    let base = "loading into Qserv and the reference";
    if jobs.get(&Step::Load).is_some_and(|j| j.complete) {
        // The load Job completes once it published; the reference may still load.
        let message = if reference_enabled {
            "published in Qserv; loading the reference"
        } else {
            "published in Qserv"
        };
        return (IngestPhase::Publishing, message.into());
    }
    let running = jobs.get(&Step::Load).is_some_and(|j| !j.complete)
        && !reports.iter().any(|r| r.step == Step::Load.name());
    match progress.iter().find(|p| p.step == Step::Load.name()) {
        Some(p) if running => {
            let sent = format!("{}/{} {} sent ({} rows)", p.done, p.total, p.unit, p.rows);
            match &p.stage {
                // A resumed run: an earlier attempt sent every contribution.
                Some(stage) if p.total == 0 => {
                    (IngestPhase::Publishing, format!("{base}: {stage}"))
                }
                Some(stage) => (IngestPhase::Publishing, format!("{base}: {sent}, {stage}")),
                None => (IngestPhase::Loading, format!("{base}: {sent}")),
            }
        }
        _ => (IngestPhase::Loading, base.into()),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Why the ingest failed: a step whose Job ended with an error in its report (the file, row or
/// request that stopped it), else a failed Job (its retries spent) by its condition. A report
/// error of a Job still running is an attempt that failed: the Job retries it.
pub fn first_failure(
    jobs: &BTreeMap<Step, JobState>,
    reports: &[StepReport],
) -> Option<(Step, String)> {
    // A Job that ended (failed, or complete: a report it left garbled) has its final report.
    let job_ended = |step: Option<Step>| {
        step.and_then(|s| jobs.get(&s))
            .is_some_and(|j| j.failed.is_some() || j.complete)
    };
    let mut errors: Vec<&StepReport> = reports
        .iter()
        .filter(|r| r.error.is_some() && job_ended(Step::from_name(&r.step)))
        .collect();
    errors.sort_by_key(|r| (Step::from_name(&r.step), r.index));
    if let Some(r) = errors.first() {
        return Some(report_error(r));
    }
    jobs.iter().find_map(|(step, job)| {
        job.failed
            .as_ref()
            .map(|m| (*step, format!("Job {} failed: {m}", job.name)))
    })
}

/// The error of a failed attempt whose Job retries it, if any.
fn retrying(jobs: &BTreeMap<Step, JobState>, reports: &[StepReport]) -> Option<(Step, String)> {
    reports
        .iter()
        .filter(|r| r.error.is_some())
        .find(|r| {
            Step::from_name(&r.step)
                .and_then(|s| jobs.get(&s))
                .is_some_and(|j| j.failed.is_none() && !j.complete)
        })
        .map(report_error)
}

fn report_error(r: &StepReport) -> (Step, String) {
    let step = Step::from_name(&r.step).unwrap_or(Step::Check);
    let which = r.index.map(|i| format!(" (index {i})")).unwrap_or_default();
    (
        step,
        format!(
            "{} step{which}: {}",
            step.name(),
            r.error.clone().unwrap_or_default()
        ),
    )
}

fn partition_message(job: Option<&JobState>, reports: &[StepReport]) -> String {
    let Some(job) = job else {
        return "not started".into();
    };
    let (read, rejected) = reports
        .iter()
        .filter(|r| r.step == Step::Partition.name())
        .flat_map(|r| &r.tables)
        .fold((0, 0), |(a, b), t| (a + t.rows_read, b + t.rows_rejected));
    format!(
        "{}/{} partition indexes done: {read} rows read, {rejected} rejected",
        job.succeeded, job.completions
    )
}

/// Per-table figures: partition shards summed; rows loaded and distinct chunks from the load;
/// the input files from the partition shards, else from the load or reference step.
fn tables(reports: &[StepReport]) -> Vec<TableStatus> {
    let mut by_name: BTreeMap<String, TableStatus> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut entry = |name: &str| -> String {
        if !order.iter().any(|n| n == name) {
            order.push(name.to_string());
        }
        name.to_string()
    };
    let mut sorted: Vec<&StepReport> = reports.iter().collect();
    sorted.sort_by_key(|r| (Step::from_name(&r.step), r.index));
    for report in sorted {
        let step = Step::from_name(&report.step);
        for t in &report.tables {
            let name = entry(&t.name);
            let s = by_name.entry(name.clone()).or_insert_with(|| TableStatus {
                name,
                ..TableStatus::default()
            });
            // Files: the partition shards' (a partitioned table), else the step that read
            // them whole (the load for a regular table, the reference for any).
            match step {
                Some(Step::Partition) => {
                    s.files += t.files;
                    s.file_names.extend(t.file_names.iter().cloned());
                }
                _ if s.files == 0 => {
                    s.files = t.files;
                    s.file_names = t.file_names.clone();
                }
                _ => {}
            }
            match step {
                Some(Step::Partition) => {
                    s.rows_read += t.rows_read;
                    s.rows_rejected += t.rows_rejected;
                    s.overlap_rows += t.overlap_rows;
                    s.bytes += t.bytes;
                    s.chunks = s.chunks.max(t.chunks);
                }
                Some(Step::Load) => {
                    s.rows_loaded = t.rows_loaded;
                    s.warnings = t.warnings;
                    s.chunks = t.chunks;
                    if t.rows_read > 0 && s.rows_read == 0 {
                        // Regular tables are not partitioned: the load step reads them.
                        s.rows_read = t.rows_read;
                    }
                }
                _ => {}
            }
            if let Some(d) = t.duration_seconds {
                *s.duration_seconds.get_or_insert(0.0) += d;
            }
        }
    }
    order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .map(|mut t| {
            // Named only when every file is, and they are few.
            if t.file_names.len() as i64 != t.files
                || t.file_names.len() > TableStatus::MAX_FILE_NAMES
            {
                t.file_names.clear();
            }
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog_ingest::CheckResult;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn job(step: Step, complete: bool) -> (Step, JobState) {
        (
            step,
            JobState {
                name: format!("case01-{}", step.name()),
                complete,
                failed: None,
                succeeded: i32::from(complete),
                completions: 1,
            },
        )
    }

    fn table(name: &str, read: i64, loaded: i64, chunks: i64) -> TableStatus {
        TableStatus {
            name: name.into(),
            rows_read: read,
            rows_loaded: loaded,
            chunks,
            ..TableStatus::default()
        }
    }

    fn partition_reports() -> Vec<StepReport> {
        let mut a = StepReport::new(Step::Partition, Some(0));
        a.tables = vec![table("Object", 50, 0, 4)];
        let mut b = StepReport::new(Step::Partition, Some(1));
        b.tables = vec![table("Object", 38, 0, 5)];
        vec![a, b]
    }

    fn cond(s: &CatalogIngestStatus, type_: &str) -> (String, String, String) {
        let c = condition::find(&s.conditions, type_).unwrap();
        (c.status.clone(), c.reason.clone(), c.message.clone())
    }

    #[test]
    fn phases_follow_the_jobs_and_figures_the_reports() {
        let s0 = CatalogIngestStatus::default();
        let jobs = BTreeMap::from([job(Step::Partition, false)]);
        let s = fold(&s0, Some(1), &jobs, &[], true, t(0));
        assert_eq!(s.phase, Some(IngestPhase::Partitioning));
        assert_eq!(s.start_time, Some(Time(t(0))));

        let jobs = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, false),
            job(Step::Reference, true),
        ]);
        let s = fold(&s, Some(1), &jobs, &partition_reports(), true, t(1));
        assert_eq!(s.phase, Some(IngestPhase::Loading));
        assert_eq!(s.tables, vec![table("Object", 88, 0, 5)]);
        assert_eq!(cond(&s, PARTITIONED).0, "True");
        assert_eq!(cond(&s, LOADED).0, "False");

        let mut load = StepReport::new(Step::Load, None);
        load.tables = vec![TableStatus {
            warnings: 3,
            ..table("Object", 0, 88, 7)
        }];
        load.transaction_id = Some(12);
        let mut check = StepReport::new(Step::Check, None);
        check.checks = vec![
            CheckResult {
                name: "rows".into(),
                passed: true,
                ..CheckResult::default()
            },
            CheckResult {
                name: "0001_fetchObjectById".into(),
                passed: true,
                ..CheckResult::default()
            },
        ];
        check.skipped = vec![crate::api::catalog_ingest::SkippedCheck {
            name: "0012_areaspec".into(),
            reason: "needs qserv_areaspec_box (Qserv-only UDF), which the Qserv side does not have"
                .into(),
        }];
        let mut reports = partition_reports();
        reports.extend([load, check]);
        let jobs = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, true),
            job(Step::Reference, true),
            job(Step::Check, true),
        ]);
        let s = fold(&s, Some(1), &jobs, &reports, true, t(2));
        assert_eq!(s.phase, Some(IngestPhase::Succeeded));
        assert_eq!(s.rows_loaded, Some(88));
        // The load's LOAD DATA warnings (spec.allowWarnings let them through) reach status.
        assert_eq!(
            s.tables,
            vec![TableStatus {
                warnings: 3,
                ..table("Object", 88, 88, 7)
            }]
        );
        assert_eq!(s.transaction_id, Some(12));
        assert_eq!(s.checks_summary.as_deref(), Some("2/2"));
        assert_eq!(s.skipped_checks.len(), 1);
        assert_eq!(
            cond(&s, READY),
            (
                "True".into(),
                "Succeeded".into(),
                "88 rows in 1 tables, 2 checks passed".into()
            )
        );
        assert_eq!(cond(&s, VERIFIED).2, "2 checks passed, 1 skipped");
        assert_eq!(s.completion_time, Some(Time(t(2))));
        assert_eq!(s.jobs.len(), 4);
    }

    #[test]
    fn a_running_load_shows_its_progress_and_its_report_replaces_it() {
        let progress = [StepProgress {
            step: "load".into(),
            done: 12,
            total: 36,
            unit: "contributions".into(),
            rows: 340_123,
            stage: None,
        }];
        let running = BTreeMap::from([job(Step::Partition, true), job(Step::Load, false)]);
        let s = fold_with_progress(
            &CatalogIngestStatus::default(),
            Some(1),
            &running,
            &partition_reports(),
            &progress,
            true,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Loading));
        assert_eq!(
            cond(&s, READY),
            (
                "False".into(),
                "InProgress".into(),
                "loading into Qserv and the reference: 12/36 contributions sent (340123 rows)"
                    .into()
            )
        );

        let publishing = [StepProgress {
            done: 36,
            rows: 1_000_000,
            stage: Some("building the director index".into()),
            ..progress[0].clone()
        }];
        let s = fold_with_progress(&s, Some(1), &running, &[], &publishing, true, t(0));
        assert_eq!(s.phase, Some(IngestPhase::Publishing));
        assert_eq!(
            cond(&s, READY).2,
            "loading into Qserv and the reference: 36/36 contributions sent (1000000 rows), \
             building the director index"
        );

        // A resumed load (an earlier attempt committed everything) only publishes.
        let resumed = [StepProgress {
            done: 0,
            total: 0,
            rows: 0,
            stage: Some("publishing".into()),
            ..progress[0].clone()
        }];
        let s = fold_with_progress(&s, Some(1), &running, &[], &resumed, true, t(0));
        assert_eq!(s.phase, Some(IngestPhase::Publishing));
        assert_eq!(
            cond(&s, READY).2,
            "loading into Qserv and the reference: publishing"
        );

        // Once the load reported, its figures count, not the progress it left behind.
        let mut load = StepReport::new(Step::Load, None);
        load.tables = vec![table("Object", 0, 88, 7)];
        let mut reports = partition_reports();
        reports.push(load);
        let done = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, true),
            job(Step::Reference, false),
        ]);
        let s = fold_with_progress(&s, Some(1), &done, &reports, &progress, true, t(1));
        assert_eq!(s.phase, Some(IngestPhase::Publishing));
        assert_eq!(
            cond(&s, READY).2,
            "published in Qserv; loading the reference"
        );
        assert_eq!(s.rows_loaded, Some(88));
    }

    #[test]
    fn a_step_error_or_a_failed_check_fails_the_ingest_with_the_message() {
        let mut bad = StepReport::new(Step::Partition, Some(1));
        bad.error = Some("Object.tsv.gz line 17: field decl_PS: not a number: \"abc\"".into());
        let jobs = BTreeMap::from([(
            Step::Partition,
            JobState {
                name: "case01-partition".into(),
                failed: Some(
                    "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
                ),
                ..JobState::default()
            },
        )]);
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &jobs,
            &[bad],
            true,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Failed));
        let (status, reason, message) = cond(&s, READY);
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", "PartitionFailed")
        );
        assert_eq!(
            message,
            "partition step (index 1): Object.tsv.gz line 17: field decl_PS: not a number: \"abc\""
        );

        // The same error while the Job still runs: an attempt its Job retries, not a failure.
        let mut retried = jobs.clone();
        retried.get_mut(&Step::Partition).unwrap().failed = None;
        let mut bad = StepReport::new(Step::Partition, Some(1));
        bad.error = Some("worker-1: connection refused".into());
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &retried,
            &[bad],
            true,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Partitioning));
        let (status, reason, message) = cond(&s, READY);
        assert_eq!((status.as_str(), reason.as_str()), ("False", "Retrying"));
        assert_eq!(
            message,
            "partitioning the input; an attempt failed and its Job retries it: partition step \
             (index 1): worker-1: connection refused"
        );

        // A complete Job whose report is an error (garbled): that is final.
        retried.get_mut(&Step::Partition).unwrap().complete = true;
        let mut garbled = StepReport::new(Step::Partition, Some(1));
        garbled.error = Some("report partition-1.json in ConfigMap does not parse".into());
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &retried,
            &[garbled],
            true,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Failed));
        assert_eq!(cond(&s, READY).1, "PartitionFailed");

        let mut check = StepReport::new(Step::Check, None);
        check.checks = vec![
            CheckResult {
                name: "a".into(),
                passed: true,
                ..CheckResult::default()
            },
            CheckResult {
                name: "b".into(),
                passed: false,
                ..CheckResult::default()
            },
        ];
        let jobs = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, true),
            job(Step::Check, true),
        ]);
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &jobs,
            &[check],
            false,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Failed));
        assert_eq!(cond(&s, VERIFIED).2, "1 of 2 checks failed: b");
        assert_eq!(cond(&s, READY).1, "ChecksFailed");
        assert_eq!(s.checks_summary.as_deref(), Some("1/2"));
    }

    /// The observations of one ingest, reconcile after reconcile, as the issue saw them: the
    /// phase went back from Publishing to Loading once the load reported (the reference still
    /// loading), and a retried load attempt or a deleted cluster took it back too.
    #[test]
    fn phases_only_move_forward_whatever_a_reconcile_observes() {
        let progress = |stage: Option<&str>| {
            vec![StepProgress {
                step: "load".into(),
                done: 36,
                total: 36,
                unit: "contributions".into(),
                rows: 88,
                stage: stage.map(String::from),
            }]
        };
        let mut load = StepReport::new(Step::Load, None);
        load.tables = vec![table("Object", 0, 88, 7)];
        let mut check = StepReport::new(Step::Check, None);
        check.checks = vec![CheckResult {
            name: "rows".into(),
            passed: true,
            ..CheckResult::default()
        }];
        let with = |extra: Vec<StepReport>| {
            let mut r = partition_reports();
            r.extend(extra);
            r
        };
        let loading = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, false),
            job(Step::Reference, false),
        ]);
        let loaded = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, true),
            job(Step::Reference, false),
        ]);
        let checking = BTreeMap::from([
            job(Step::Partition, true),
            job(Step::Load, true),
            job(Step::Reference, true),
            job(Step::Check, false),
        ]);
        let mut checked = checking.clone();
        checked.insert(Step::Check, job(Step::Check, true).1);
        type Observation = (
            &'static str,
            BTreeMap<Step, JobState>,
            Vec<StepReport>,
            Vec<StepProgress>,
        );
        let observations: Vec<Observation> = vec![
            (
                "partitioning",
                BTreeMap::from([job(Step::Partition, false)]),
                vec![],
                vec![],
            ),
            (
                "sending contributions",
                loading.clone(),
                with(vec![]),
                progress(None),
            ),
            (
                "publishing",
                loading.clone(),
                with(vec![]),
                progress(Some("publishing")),
            ),
            // The load reported (so its progress no longer counts); the reference still loads.
            (
                "published",
                loaded,
                with(vec![load.clone()]),
                progress(Some("publishing")),
            ),
            // A Job's retried attempt starts again from its contributions.
            ("retried", loading, with(vec![]), progress(None)),
            ("checking", checking, with(vec![load.clone()]), vec![]),
            ("checked", checked, with(vec![load, check]), vec![]),
        ];
        let mut s = CatalogIngestStatus::default();
        let mut seen = Vec::new();
        for (i, (what, jobs, reports, progress)) in observations.into_iter().enumerate() {
            s = fold_with_progress(&s, Some(1), &jobs, &reports, &progress, true, t(i as i64));
            seen.push((what, s.phase.unwrap()));
        }
        use IngestPhase::*;
        assert_eq!(
            seen,
            [
                ("partitioning", Partitioning),
                ("sending contributions", Loading),
                ("publishing", Publishing),
                ("published", Publishing),
                ("retried", Publishing),
                ("checking", Verifying),
                ("checked", Succeeded),
            ]
        );

        // A cluster deleted while the ingest loads: it waits, in the phase it reached.
        let publishing = Some(Publishing);
        let s = waiting(
            &CatalogIngestStatus {
                phase: publishing,
                ..CatalogIngestStatus::default()
            },
            Some(1),
            &Waiting::ClusterNotFound("QservCluster qserv-ci not found in namespace ns".into()),
            t(9),
        );
        assert_eq!(s.phase, publishing);
        assert_eq!(cond(&s, READY).1, "ClusterNotFound");
    }

    #[test]
    fn forward_keeps_the_furthest_phase_and_an_ended_outcome() {
        use IngestPhase::*;
        let order = [Pending, Partitioning, Loading, Publishing, Verifying];
        for (i, &previous) in order.iter().enumerate() {
            for (j, &observed) in order.iter().enumerate() {
                let expected = if j >= i { observed } else { previous };
                assert_eq!(
                    forward(Some(previous), observed),
                    expected,
                    "{previous:?} then {observed:?}"
                );
            }
            assert_eq!(forward(Some(previous), Failed), Failed);
            assert_eq!(forward(Some(previous), Succeeded), Succeeded);
        }
        for ended in [Succeeded, Failed] {
            for observed in order.into_iter().chain([Succeeded, Failed]) {
                assert_eq!(forward(Some(ended), observed), ended);
            }
        }
        assert_eq!(forward(None, Loading), Loading);
    }

    #[test]
    fn tables_say_their_input_files_naming_them_when_few() {
        let shard = |index, files: &[&str]| {
            let mut r = StepReport::new(Step::Partition, Some(index));
            let mut t = table("Object", 10, 0, 1);
            t.set_files(files.iter().map(|f| f.to_string()).collect());
            r.tables = vec![t];
            r
        };
        let many: Vec<String> = (0..11).map(|i| format!("data/Source_{i:02}.csv")).collect();
        let mut load = StepReport::new(Step::Load, None);
        let mut filter = table("Filter", 9, 9, 1);
        filter.set_files(vec!["data/Filter.tsv.gz".into()]);
        load.tables = vec![table("Object", 0, 20, 2), filter];
        let mut reference = StepReport::new(Step::Reference, None);
        let mut source = table("Source", 0, 50, 0);
        source.set_files(many.clone());
        reference.tables = vec![source, table("Filter", 0, 9, 0)];
        let reports = vec![
            shard(0, &["data/Object_1.tsv", "data/Object_3.tsv"]),
            shard(1, &["data/Object_2.tsv"]),
            load,
            reference,
        ];
        let jobs = BTreeMap::from([job(Step::Partition, true), job(Step::Load, false)]);
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &jobs,
            &reports,
            true,
            t(0),
        );
        let files: Vec<(&str, i64, Vec<&str>)> = s
            .tables
            .iter()
            .map(|t| {
                let names = t.file_names.iter().map(String::as_str).collect();
                (t.name.as_str(), t.files, names)
            })
            .collect();
        assert_eq!(
            files,
            [
                // Both shards' files; the load read none of them.
                (
                    "Object",
                    3,
                    vec![
                        "data/Object_1.tsv",
                        "data/Object_3.tsv",
                        "data/Object_2.tsv"
                    ]
                ),
                // Read by the load (the reference's count agrees and is not added).
                ("Filter", 1, vec!["data/Filter.tsv.gz"]),
                // Too many to name.
                ("Source", 11, vec![]),
            ]
        );
    }

    /// A file gone (or unreadable) since the ingest was validated: the step's error names the
    /// table and the file, and so does the condition.
    #[test]
    fn a_missing_input_file_fails_the_ingest_naming_table_and_file() {
        let mut load = StepReport::new(Step::Load, None);
        load.error = Some(
            super::super::inputs::InputError::Unreadable {
                table: "Filter".into(),
                file: "data/Filter.tsv.gz".into(),
                reason: "No such file or directory (os error 2)".into(),
            }
            .to_string(),
        );
        let mut jobs = BTreeMap::from([job(Step::Partition, true), job(Step::Load, false)]);
        jobs.get_mut(&Step::Load).unwrap().failed =
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit".into());
        let mut reports = partition_reports();
        reports.push(load);
        let s = fold(
            &CatalogIngestStatus::default(),
            Some(1),
            &jobs,
            &reports,
            false,
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Failed));
        assert_eq!(
            cond(&s, READY),
            (
                "False".into(),
                "LoadFailed".into(),
                "load step: table Filter: input file data/Filter.tsv.gz: No such file or \
                 directory (os error 2)"
                    .into()
            )
        );
    }

    #[test]
    fn waiting_and_rejected_name_the_problem() {
        let s = waiting(
            &CatalogIngestStatus::default(),
            Some(1),
            &Waiting::ClusterNotFound("QservCluster qserv-ci not found in namespace ns".into()),
            t(0),
        );
        assert_eq!(s.phase, Some(IngestPhase::Pending));
        assert_eq!(cond(&s, READY).1, "ClusterNotFound");
        let s = rejected(
            &s,
            Some(2),
            "spec.tables[0].files: no file matches Object*.tsv",
            t(1),
        );
        assert_eq!(s.phase, Some(IngestPhase::Failed));
        assert_eq!(
            cond(&s, READY).2,
            "spec.tables[0].files: no file matches Object*.tsv"
        );
    }
}
