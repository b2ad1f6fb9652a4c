//! Status stage: what the API server reports about the cluster's workloads, turned into
//! `status` (phase, conditions, per-component counts). Pure, so every transition is unit-tested.
//!
//! The conditions:
//! - `Ready`: every component has all its replicas ready and no rollout is pending.
//! - `Progressing`: objects are being created or rolled out (a workload's controller has not
//!   seen its latest generation, or not every replica runs the latest template yet).
//! - `Degraded`: something needs attention: the spec is invalid, a refused scale-down, a failed
//!   apply, or replicas lost after the cluster was ready (a crashed worker). It stays until the
//!   cause is gone, so a crash is not mistaken for a fresh creation on the next reconcile.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::build::Component;
use crate::api::condition::{self, ConditionUpdate, DEGRADED, PROGRESSING, READY};
use crate::api::qserv_cluster::{ClusterPhase, ComponentCounts, Endpoints, QservClusterStatus};

/// What the API server reports about one workload (StatefulSet or Deployment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadState {
    pub component: Component,
    pub name: String,
    /// `spec.replicas` as applied.
    pub desired: i32,
    /// `status.readyReplicas` (0 when the object does not exist yet).
    pub ready: i32,
    /// The workload controller has seen the latest spec and every replica runs it.
    pub rolled_out: bool,
}

impl WorkloadState {
    fn counts(&self) -> String {
        format!("{}/{}", self.ready.min(self.desired), self.desired)
    }

    fn all_ready(&self) -> bool {
        self.ready >= self.desired
    }
}

/// The schema-update Job as the apply response reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaJobState {
    pub name: String,
    pub succeeded: bool,
    /// The Job's `Failed` condition (reason: message), once it gave up.
    pub failed: Option<String>,
}

/// Everything the status stage needs besides the previous status.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// `spec.image`: what `schemaImage` becomes once no schema update is pending.
    pub image: String,
    /// The schema-update Job, when an image change needs one.
    pub schema_job: Option<SchemaJobState>,
    pub workloads: Vec<WorkloadState>,
    pub endpoints: Option<Endpoints>,
    pub expires_at: Option<Timestamp>,
    /// Why a requested worker scale-down was not applied.
    pub scale_down_refused: Option<String>,
    /// Why applying the desired objects failed.
    pub apply_error: Option<String>,
    /// Why removing departed workers from the replication system failed.
    pub deregister_error: Option<String>,
}

/// The status of a cluster whose spec cannot be built: no objects were touched; the message
/// names the fields.
pub fn invalid_spec(
    previous: &QservClusterStatus,
    generation: Option<i64>,
    message: &str,
    now: Timestamp,
) -> QservClusterStatus {
    let mut status = previous.clone();
    status.observed_generation = generation;
    status.phase = Some(ClusterPhase::Degraded);
    let mut set = |update| {
        condition::set_condition(&mut status.conditions, update, generation, now);
    };
    set(ConditionUpdate::new(READY, false, "InvalidSpec", message));
    set(ConditionUpdate::new(
        PROGRESSING,
        false,
        "InvalidSpec",
        "nothing is applied until the spec is fixed",
    ));
    set(ConditionUpdate::new(DEGRADED, true, "InvalidSpec", message));
    status
}

/// The status of a cluster being deleted.
pub fn terminating(
    previous: &QservClusterStatus,
    message: &str,
    now: Timestamp,
) -> QservClusterStatus {
    let mut status = previous.clone();
    status.phase = Some(ClusterPhase::Terminating);
    let generation = status.observed_generation;
    condition::set_condition(
        &mut status.conditions,
        ConditionUpdate::new(READY, false, "Terminating", message),
        generation,
        now,
    );
    status
}

/// The status computed from what the workloads report.
pub fn compute(
    previous: &QservClusterStatus,
    generation: Option<i64>,
    observed: &Observation,
    now: Timestamp,
) -> QservClusterStatus {
    let was_ready = condition::is_true(&previous.conditions, READY);
    // Until the cluster has once been ready, not-ready workloads are being created, not rolled.
    let ever_ready = was_ready
        || matches!(
            previous.phase,
            Some(ClusterPhase::Ready | ClusterPhase::Updating | ClusterPhase::Degraded)
        );
    let was_degraded_by_loss = condition::find(&previous.conditions, DEGRADED)
        .is_some_and(|c| c.status == "True" && c.reason == "ReplicasNotReady");
    let rolling: Vec<&WorkloadState> = observed
        .workloads
        .iter()
        .filter(|w| !w.rolled_out && ever_ready)
        .collect();
    let not_ready: Vec<&WorkloadState> = observed
        .workloads
        .iter()
        .filter(|w| !w.all_ready())
        .collect();
    let all_ready = not_ready.is_empty() && !observed.workloads.is_empty();
    let rolled_out = observed.workloads.iter().all(|w| w.rolled_out);
    // An image change is not done before its schema migrations are (the new pods wait for them).
    let schema_pending = observed.schema_job.as_ref().filter(|j| !j.succeeded);
    let ready =
        all_ready && rolled_out && observed.apply_error.is_none() && schema_pending.is_none();

    let describe = |ws: &[&WorkloadState]| {
        ws.iter()
            .map(|w| format!("{} {} ready", w.name, w.counts()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lost_replicas =
        !all_ready && rolling.is_empty() && ever_ready && (was_ready || was_degraded_by_loss);

    let schema_message = |job: &SchemaJobState| {
        format!(
            "running the schema migrations of {} (Job {}): the new pods wait for them",
            observed.image, job.name
        )
    };
    let ready_update = if ready {
        ConditionUpdate::new(
            READY,
            true,
            "AllComponentsReady",
            format!(
                "all {} components ready ({} workers)",
                observed.workloads.len(),
                workers(observed).map_or_else(|| "no".into(), |w| w.counts())
            ),
        )
    } else if let Some(err) = &observed.apply_error {
        ConditionUpdate::new(READY, false, "ApplyFailed", err.clone())
    } else if let Some(job) = schema_pending {
        ConditionUpdate::new(READY, false, "SchemaUpdate", schema_message(job))
    } else if !rolling.is_empty() {
        ConditionUpdate::new(
            READY,
            false,
            "RollingOut",
            format!("rolling out: {}", describe(&rolling)),
        )
    } else if not_ready.is_empty() {
        ConditionUpdate::new(
            READY,
            false,
            "ComponentsNotReady",
            "waiting for the workload controllers to observe the latest spec",
        )
    } else {
        ConditionUpdate::new(
            READY,
            false,
            "ComponentsNotReady",
            format!("waiting for {}", describe(&not_ready)),
        )
    };

    let progressing_update = if let Some(job) = schema_pending.filter(|j| j.failed.is_none()) {
        ConditionUpdate::new(PROGRESSING, true, "SchemaUpdate", schema_message(job))
    } else if !rolling.is_empty() {
        ConditionUpdate::new(
            PROGRESSING,
            true,
            "RollingOut",
            format!("rolling out: {}", describe(&rolling)),
        )
    } else if (!all_ready || !rolled_out) && !lost_replicas {
        let pending: Vec<&WorkloadState> = if not_ready.is_empty() {
            observed
                .workloads
                .iter()
                .filter(|w| !w.rolled_out)
                .collect()
        } else {
            not_ready.clone()
        };
        ConditionUpdate::new(
            PROGRESSING,
            true,
            "Creating",
            format!("waiting for {}", describe(&pending)),
        )
    } else {
        ConditionUpdate::new(PROGRESSING, false, "Stable", "no rollout in progress")
    };

    let degraded_update = if let Some(err) = &observed.apply_error {
        ConditionUpdate::new(DEGRADED, true, "ApplyFailed", err.clone())
    } else if let Some((job, why)) = schema_pending.and_then(|j| Some((j, j.failed.as_ref()?))) {
        ConditionUpdate::new(
            DEGRADED,
            true,
            "SchemaUpdateFailed",
            format!(
                "Job {} (smig-update of {}) failed: {why}; see its pod's log",
                job.name, observed.image
            ),
        )
    } else if let Some(msg) = &observed.scale_down_refused {
        ConditionUpdate::new(DEGRADED, true, "ScaleDownRefused", msg.clone())
    } else if let Some(msg) = &observed.deregister_error {
        ConditionUpdate::new(DEGRADED, true, "WorkerDeregistrationFailed", msg.clone())
    } else if lost_replicas {
        ConditionUpdate::new(
            DEGRADED,
            true,
            "ReplicasNotReady",
            format!(
                "replicas lost after the cluster was ready: {}",
                describe(&not_ready)
            ),
        )
    } else {
        ConditionUpdate::new(DEGRADED, false, "AsExpected", "no problem detected")
    };

    let mut status = previous.clone();
    status.observed_generation = generation;
    for update in [ready_update, progressing_update, degraded_update.clone()] {
        condition::set_condition(&mut status.conditions, update, generation, now);
    }
    status.phase = Some(if degraded_update.status {
        ClusterPhase::Degraded
    } else if ready {
        ClusterPhase::Ready
    } else if observed.workloads.is_empty() {
        ClusterPhase::Pending
    } else if ever_ready {
        ClusterPhase::Updating
    } else {
        ClusterPhase::Creating
    });
    status.components = Some(component_counts(observed));
    status.endpoints = observed.endpoints.clone();
    status.expires_at = observed.expires_at.map(Time);
    status.schema_image = schema_image(previous.schema_image.as_deref(), observed);
    status
}

/// What the databases are migrated for after this reconcile: a cluster seen for the first time
/// adopts its image (its entrypoints initialise the databases); after an image change, the new
/// image once its schema-update Job succeeded.
fn schema_image(done: Option<&str>, observed: &Observation) -> Option<String> {
    let succeeded = observed.schema_job.as_ref().is_some_and(|j| j.succeeded);
    match done {
        None => Some(observed.image.clone()),
        Some(done) if done != observed.image && succeeded => Some(observed.image.clone()),
        Some(done) => Some(done.to_string()),
    }
}

fn workers(observed: &Observation) -> Option<&WorkloadState> {
    observed
        .workloads
        .iter()
        .find(|w| w.component == Component::Worker)
}

fn component_counts(observed: &Observation) -> ComponentCounts {
    let get = |c: Component| {
        observed
            .workloads
            .iter()
            .find(|w| w.component == c)
            .map(WorkloadState::counts)
    };
    let or_none = |c| get(c).unwrap_or_else(|| "0/0".to_string());
    ComponentCounts {
        czar: or_none(Component::Czar),
        workers: or_none(Component::Worker),
        xrootd: or_none(Component::Xrootd),
        replication_controller: or_none(Component::ReplicationController),
        replication_registry: or_none(Component::ReplicationRegistry),
        replication_database: or_none(Component::ReplicationDb),
        reference: get(Component::Reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn w(component: Component, desired: i32, ready: i32, rolled_out: bool) -> WorkloadState {
        WorkloadState {
            component,
            name: format!("qserv-ci-{}", component.suffix()),
            desired,
            ready,
            rolled_out,
        }
    }

    fn observation(workers_ready: i32, rolled_out: bool) -> Observation {
        Observation {
            workloads: vec![
                w(Component::ReplicationDb, 1, 1, true),
                w(Component::Czar, 1, 1, true),
                w(Component::Worker, 2, workers_ready, rolled_out),
                w(Component::Xrootd, 1, 1, true),
                w(Component::ReplicationRegistry, 1, 1, true),
                w(Component::ReplicationController, 1, 1, true),
            ],
            image: "ghcr.io/lsst/qserv:A".into(),
            ..Observation::default()
        }
    }

    fn cond<'a>(s: &'a QservClusterStatus, type_: &str) -> (&'a str, &'a str, &'a str) {
        let c = condition::find(&s.conditions, type_).unwrap();
        (&c.status, &c.reason, &c.message)
    }

    #[test]
    fn an_image_change_is_ready_only_once_its_schema_update_succeeded() {
        // A new cluster adopts its image: its entrypoints initialise the databases.
        let ready = compute(
            &QservClusterStatus::default(),
            Some(1),
            &observation(2, true),
            t(0),
        );
        assert_eq!(ready.schema_image.as_deref(), Some("ghcr.io/lsst/qserv:A"));
        assert_eq!(cond(&ready, READY).0, "True");

        let mut changed = observation(2, true);
        changed.image = "ghcr.io/lsst/qserv:B".into();
        changed.schema_job = Some(SchemaJobState {
            name: "qserv-ci-smig-update-1234abcd".into(),
            succeeded: false,
            failed: None,
        });
        let running = compute(&ready, Some(2), &changed, t(1));
        assert_eq!(
            running.schema_image.as_deref(),
            Some("ghcr.io/lsst/qserv:A")
        );
        assert_eq!(cond(&running, READY).0, "False");
        assert_eq!(cond(&running, READY).1, "SchemaUpdate");
        assert_eq!(cond(&running, PROGRESSING).1, "SchemaUpdate");
        assert!(
            cond(&running, PROGRESSING)
                .2
                .contains("Job qserv-ci-smig-update-1234abcd")
        );

        let mut failed = changed.clone();
        failed.schema_job.as_mut().unwrap().failed = Some("BackoffLimitExceeded: 7 pods".into());
        let degraded = compute(&running, Some(2), &failed, t(2));
        assert_eq!(degraded.phase, Some(ClusterPhase::Degraded));
        assert_eq!(cond(&degraded, DEGRADED).1, "SchemaUpdateFailed");
        assert!(cond(&degraded, DEGRADED).2.contains("BackoffLimitExceeded"));
        assert_eq!(
            degraded.schema_image.as_deref(),
            Some("ghcr.io/lsst/qserv:A")
        );

        let mut done = changed.clone();
        done.schema_job.as_mut().unwrap().succeeded = true;
        let updated = compute(&running, Some(2), &done, t(3));
        assert_eq!(
            updated.schema_image.as_deref(),
            Some("ghcr.io/lsst/qserv:B")
        );
        assert_eq!(cond(&updated, READY).0, "True");
        // Without a Job (it is pruned once done) the image stays.
        let mut after = observation(2, true);
        after.image = "ghcr.io/lsst/qserv:B".into();
        let stays = compute(&updated, Some(2), &after, t(4));
        assert_eq!(stays.schema_image.as_deref(), Some("ghcr.io/lsst/qserv:B"));
    }

    #[test]
    fn creation_then_ready_then_crash_then_recovery() {
        let s0 = QservClusterStatus::default();
        let creating = compute(&s0, Some(1), &observation(0, true), t(0));
        assert_eq!(creating.phase, Some(ClusterPhase::Creating));
        assert_eq!(
            cond(&creating, READY),
            (
                "False",
                "ComponentsNotReady",
                "waiting for qserv-ci-worker 0/2 ready"
            )
        );
        assert_eq!(cond(&creating, PROGRESSING).0, "True");
        assert_eq!(cond(&creating, DEGRADED).0, "False");
        assert_eq!(creating.components.as_ref().unwrap().workers, "0/2");

        let ready = compute(&creating, Some(1), &observation(2, true), t(10));
        assert_eq!(ready.phase, Some(ClusterPhase::Ready));
        assert_eq!(
            cond(&ready, READY),
            (
                "True",
                "AllComponentsReady",
                "all 6 components ready (2/2 workers)"
            )
        );
        assert_eq!(
            cond(&ready, PROGRESSING),
            ("False", "Stable", "no rollout in progress")
        );

        // A worker's process dies: not Ready, Degraded (not "Creating" again).
        let crashed = compute(&ready, Some(1), &observation(1, true), t(20));
        assert_eq!(crashed.phase, Some(ClusterPhase::Degraded));
        assert_eq!(cond(&crashed, READY).0, "False");
        assert_eq!(cond(&crashed, DEGRADED).1, "ReplicasNotReady");
        assert_eq!(cond(&crashed, PROGRESSING).0, "False");
        // Still degraded on the next reconcile, though Ready is now False.
        let still = compute(&crashed, Some(1), &observation(1, true), t(30));
        assert_eq!(cond(&still, DEGRADED).1, "ReplicasNotReady");

        let recovered = compute(&still, Some(1), &observation(2, true), t(40));
        assert_eq!(recovered.phase, Some(ClusterPhase::Ready));
        assert_eq!(
            cond(&recovered, DEGRADED),
            ("False", "AsExpected", "no problem detected")
        );
        let ready_cond = condition::find(&recovered.conditions, READY).unwrap();
        assert_eq!(ready_cond.last_transition_time, Time(t(40)));
    }

    #[test]
    fn rollout_after_ready_is_updating_not_creating() {
        let ready = compute(
            &QservClusterStatus::default(),
            Some(1),
            &observation(2, true),
            t(0),
        );
        let rolling = compute(&ready, Some(2), &observation(1, false), t(5));
        assert_eq!(rolling.phase, Some(ClusterPhase::Updating));
        assert_eq!(rolling.observed_generation, Some(2));
        assert_eq!(
            cond(&rolling, PROGRESSING),
            (
                "True",
                "RollingOut",
                "rolling out: qserv-ci-worker 1/2 ready"
            )
        );
        assert_eq!(cond(&rolling, DEGRADED).0, "False");
        assert_eq!(cond(&rolling, READY).1, "RollingOut");
    }

    #[test]
    fn refused_scale_down_and_apply_errors_degrade() {
        let ready = compute(
            &QservClusterStatus::default(),
            Some(1),
            &observation(2, true),
            t(0),
        );
        let mut obs = observation(2, true);
        obs.scale_down_refused = Some("qserv-ci-worker-1 holds 3 chunk tables".into());
        let refused = compute(&ready, Some(2), &obs, t(1));
        assert_eq!(refused.phase, Some(ClusterPhase::Degraded));
        assert_eq!(
            cond(&refused, DEGRADED),
            (
                "True",
                "ScaleDownRefused",
                "qserv-ci-worker-1 holds 3 chunk tables"
            )
        );
        // The running workers still serve.
        assert_eq!(cond(&refused, READY).0, "True");

        let mut obs = observation(2, true);
        obs.apply_error = Some("apply StatefulSet qserv-ci-czar: 500".into());
        let failed = compute(&ready, Some(2), &obs, t(2));
        assert_eq!(cond(&failed, READY).1, "ApplyFailed");
        assert_eq!(cond(&failed, DEGRADED).1, "ApplyFailed");
    }

    #[test]
    fn invalid_spec_names_the_field() {
        let s = invalid_spec(
            &QservClusterStatus::default(),
            Some(3),
            "spec.workers.replicas: must be >= 1, got 0",
            t(0),
        );
        assert_eq!(s.phase, Some(ClusterPhase::Degraded));
        assert_eq!(
            cond(&s, READY),
            (
                "False",
                "InvalidSpec",
                "spec.workers.replicas: must be >= 1, got 0"
            )
        );
        assert_eq!(cond(&s, DEGRADED).0, "True");
        assert_eq!(s.observed_generation, Some(3));
        for c in &s.conditions {
            assert_eq!(c.observed_generation, Some(3));
        }
    }
}
