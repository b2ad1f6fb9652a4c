//! The decisions of a QservCluster reconcile (pure): whether it has expired, what to apply (the
//! spec validated and every object built), which workers a scale-down would remove and how the
//! worker StatefulSet is held when that is refused, the Events of a status transition, and when
//! to look again. No network, clock or randomness: the controller passes `now` and what it read.

use std::time::Duration;

use jiff::Timestamp;
use kube::{Resource, ResourceExt};

use super::build::{self, Component, DesiredObject, GeneratedSecrets};
use super::scale::DepartingWorker;
use crate::api::condition::{self, DEGRADED, READY, is_true};
use crate::api::qserv_cluster::{QservCluster, QservClusterStatus, parse_ttl};
use crate::events::Note;

/// What a reconcile read before it decides.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The status as stored now (not the reflector's copy).
    pub previous: QservClusterStatus,
    /// The cluster's secret values: read back from its Secret, or generated once.
    pub secrets: GeneratedSecrets,
    /// `spec.replicas` of the live worker StatefulSet, if it exists.
    pub live_workers: Option<i32>,
}

/// What to apply.
#[derive(Clone, Debug)]
pub struct Planned {
    pub objects: Vec<DesiredObject>,
    /// The workers a scale-down would remove (empty: none, or `allowDataLoss`): asked whether
    /// they hold chunks before anything is applied.
    pub departing: Vec<DepartingWorker>,
}

/// `creationTimestamp + spec.ttl`.
pub fn expires_at(cluster: &QservCluster) -> Option<Timestamp> {
    let created = cluster.meta().creation_timestamp.as_ref()?.0;
    let ttl = parse_ttl(cluster.spec.ttl.as_deref()?).ok()?;
    created.checked_add(ttl).ok()
}

/// The expiry Event when the cluster's TTL has elapsed at `now` (it is then deleted).
pub fn expired(cluster: &QservCluster, now: Timestamp) -> Option<Note> {
    if cluster.meta().deletion_timestamp.is_some() {
        return None;
    }
    let expires = expires_at(cluster).filter(|e| *e <= now)?;
    let ttl = cluster.spec.ttl.clone().unwrap_or_default();
    Some(Note::normal(
        "Expired",
        format!("spec.ttl {ttl} elapsed at {expires}; deleting the cluster"),
    ))
}

/// The spec validated and every object built, or why the spec cannot be applied.
pub fn plan(cluster: &QservCluster, observed: &Observed) -> Result<Planned, String> {
    cluster.spec.validate().map_err(|p| p.to_string())?;
    let objects = build::build_with_schema(
        cluster,
        &observed.secrets,
        observed.previous.schema_image.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    let namespace = cluster.namespace().unwrap_or_default();
    Ok(Planned {
        objects,
        departing: departing_workers(
            cluster,
            &namespace,
            &observed.secrets,
            observed.live_workers,
        ),
    })
}

/// The worker StatefulSet's name.
pub fn worker_statefulset_name(cluster: &QservCluster) -> String {
    format!("{}-{}", cluster.name_any(), Component::Worker.suffix())
}

/// The workers that going from `live` to `spec.workers.replicas` removes (the highest
/// ordinals), with the MariaDB endpoint to ask each; none with `allowDataLoss`.
pub fn departing_workers(
    cluster: &QservCluster,
    namespace: &str,
    secrets: &GeneratedSecrets,
    live: Option<i32>,
) -> Vec<DepartingWorker> {
    let desired = cluster.spec.workers.replicas;
    let current = live.unwrap_or(desired);
    if cluster.spec.workers.allow_data_loss || desired >= current {
        return Vec::new();
    }
    let sts = worker_statefulset_name(cluster);
    (desired..current)
        .map(|ordinal| {
            let pod = format!("{sts}-{ordinal}");
            DepartingWorker {
                endpoint: format!(
                    "mysql://root:{}@{pod}.{sts}.{namespace}.svc:3306",
                    secrets.mariadb_root_password
                ),
                pod,
            }
        })
        .collect()
}

/// A refused scale-down keeps the worker StatefulSet at its `live` size.
pub fn hold_worker_replicas(objects: &mut [DesiredObject], sts_name: &str, live: i32) {
    for object in objects.iter_mut() {
        if let DesiredObject::StatefulSet(sts) = object
            && sts.metadata.name.as_deref() == Some(sts_name)
            && let Some(spec) = sts.spec.as_mut()
        {
            spec.replicas = Some(live);
        }
    }
}

/// Events for what changed from `previous` to `status`: first creation, spec changes rolled
/// out, scaling, pruned objects, readiness, and a newly refused scale-down.
pub fn transition_notes(
    cluster: &QservCluster,
    previous: &QservClusterStatus,
    status: &QservClusterStatus,
    deleted: &[String],
    scale_down_refused: Option<&str>,
) -> Vec<Note> {
    let mut notes = Vec::new();
    if previous.observed_generation.is_none() {
        notes.push(Note::normal(
            "Created",
            format!(
                "applied the Qserv objects: {} workers, {} xrootd",
                cluster.spec.workers.replicas, cluster.spec.xrootd.replicas
            ),
        ));
    } else if previous.observed_generation != status.observed_generation {
        notes.push(Note::normal(
            "Updated",
            format!(
                "applied generation {} of the spec",
                status.observed_generation.unwrap_or_default()
            ),
        ));
    }
    let workers = |s: &QservClusterStatus| {
        s.components
            .as_ref()
            .and_then(|c| c.workers.split_once('/').map(|(_, d)| d.to_string()))
    };
    if let (Some(before), Some(after)) = (workers(previous), workers(status))
        && before != after
    {
        notes.push(Note::normal(
            "Scaled",
            format!("workers {before} -> {after}"),
        ));
    }
    if let (Some(before), Some(after)) = (&previous.schema_image, &status.schema_image)
        && before != after
    {
        notes.push(Note::normal(
            "SchemaUpdated",
            format!("the databases have the schema migrations of {after} (were {before})"),
        ));
    }
    if !deleted.is_empty() {
        notes.push(Note::normal(
            "Pruned",
            format!("deleted objects no longer desired: {}", deleted.join(", ")),
        ));
    }
    let (was, is) = (
        is_true(&previous.conditions, READY),
        is_true(&status.conditions, READY),
    );
    if was != is {
        let message = condition::find(&status.conditions, READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        notes.push(if is {
            Note::normal("Ready", message)
        } else {
            Note::warning("NotReady", message)
        });
    }
    if let Some(message) = scale_down_refused
        && degraded_reason(previous) != Some("ScaleDownRefused")
    {
        notes.push(Note::warning("ScaleDownRefused", message));
    }
    notes
}

fn degraded_reason(status: &QservClusterStatus) -> Option<&str> {
    condition::find(&status.conditions, DEGRADED)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.as_str())
}

/// The resync period, or sooner when the TTL expires first (just after it).
pub fn requeue_after(resync: Duration, expires: Option<Timestamp>, now: Timestamp) -> Duration {
    match expires {
        Some(expires) => {
            let left = Duration::try_from(expires.duration_since(now)).unwrap_or(Duration::ZERO);
            resync.min(left + Duration::from_millis(100))
        }
        None => resync,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::api::condition::{ConditionUpdate, set_condition};
    use crate::api::qserv_cluster::ComponentCounts;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn cluster(spec_yaml: &str) -> QservCluster {
        let mut c = QservCluster::new("qserv-ci", serde_norway::from_str(spec_yaml).unwrap());
        c.metadata.namespace = Some("ci".into());
        c.metadata.uid = Some("uid-1".into());
        c.metadata.creation_timestamp = Some(Time(t(0)));
        c
    }

    fn observed(live_workers: Option<i32>) -> Observed {
        Observed {
            previous: QservClusterStatus::default(),
            secrets: GeneratedSecrets {
                mariadb_root_password: "rootPw".into(),
                qsmaster_password: "qsPw".into(),
                replication_auth_key: "auth".into(),
                replication_admin_auth_key: "admin".into(),
            },
            live_workers,
        }
    }

    fn ready(status: &mut QservClusterStatus, ready: bool, workers: &str) {
        let why = if ready { "Ready" } else { "Progressing" };
        set_condition(
            &mut status.conditions,
            ConditionUpdate::new(READY, ready, why, format!("workers {workers}")),
            Some(1),
            t(0),
        );
        status.components = Some(ComponentCounts {
            workers: workers.into(),
            ..ComponentCounts::default()
        });
    }

    #[test]
    fn the_ttl_expires_once_elapsed_and_never_for_a_deleted_cluster() {
        let mut c = cluster("{workers: {replicas: 2}, ttl: 2h}");
        assert_eq!(expires_at(&c), Some(t(7200)));
        assert_eq!(expired(&c, t(7199)), None);
        let note = expired(&c, t(7200)).unwrap();
        assert_eq!(note.reason, "Expired");
        assert!(
            note.message.starts_with("spec.ttl 2h elapsed at "),
            "{}",
            note.message
        );
        c.metadata.deletion_timestamp = Some(Time(t(7000)));
        assert_eq!(expired(&c, t(9000)), None);
        assert_eq!(expires_at(&cluster("{workers: {replicas: 2}}")), None);
    }

    #[test]
    fn requeue_is_the_resync_or_just_after_the_expiry() {
        let resync = Duration::from_secs(300);
        assert_eq!(requeue_after(resync, None, t(0)), resync);
        assert_eq!(
            requeue_after(resync, Some(t(10)), t(0)),
            Duration::from_millis(10_100)
        );
        assert_eq!(
            requeue_after(resync, Some(t(-5)), t(0)),
            Duration::from_millis(100)
        );
        assert_eq!(requeue_after(resync, Some(t(1000)), t(0)), resync);
    }

    #[test]
    fn an_invalid_spec_plans_nothing_and_says_why() {
        let err = plan(&cluster("{workers: {replicas: 0}}"), &observed(None)).unwrap_err();
        assert_eq!(err, "spec.workers.replicas: must be >= 1, got 0");
    }

    #[test]
    fn a_scale_down_names_the_departing_workers_unless_data_loss_is_allowed() {
        let c = cluster("{workers: {replicas: 2}}");
        let planned = plan(&c, &observed(Some(4))).unwrap();
        let pods: Vec<&str> = planned.departing.iter().map(|d| d.pod.as_str()).collect();
        assert_eq!(pods, ["qserv-ci-worker-2", "qserv-ci-worker-3"]);
        assert_eq!(
            planned.departing[0].endpoint,
            "mysql://root:rootPw@qserv-ci-worker-2.qserv-ci-worker.ci.svc:3306"
        );
        assert!(plan(&c, &observed(Some(2))).unwrap().departing.is_empty());
        assert!(plan(&c, &observed(Some(1))).unwrap().departing.is_empty());
        assert!(plan(&c, &observed(None)).unwrap().departing.is_empty());
        let lossy = cluster("{workers: {replicas: 2, allowDataLoss: true}}");
        assert!(
            plan(&lossy, &observed(Some(4)))
                .unwrap()
                .departing
                .is_empty()
        );
    }

    #[test]
    fn a_refused_scale_down_holds_only_the_worker_statefulset() {
        let c = cluster("{workers: {replicas: 2}}");
        let mut objects = plan(&c, &observed(Some(4))).unwrap().objects;
        let before = objects.clone();
        hold_worker_replicas(&mut objects, &worker_statefulset_name(&c), 4);
        let replicas = |objects: &[DesiredObject]| -> Vec<(String, Option<i32>)> {
            objects
                .iter()
                .filter_map(|o| match o {
                    DesiredObject::StatefulSet(s) => Some((
                        s.metadata.name.clone().unwrap(),
                        s.spec.as_ref().unwrap().replicas,
                    )),
                    _ => None,
                })
                .collect()
        };
        let held = replicas(&objects);
        for ((name, after), (_, was)) in held.iter().zip(replicas(&before)) {
            if name == "qserv-ci-worker" {
                assert_eq!((was, *after), (Some(2), Some(4)));
            } else {
                assert_eq!(*after, was, "{name}");
            }
        }
        assert!(held.iter().any(|(n, _)| n == "qserv-ci-worker"));
    }

    #[test]
    fn transitions_become_events_once() {
        let c = cluster("{workers: {replicas: 3}, xrootd: {replicas: 1}}");
        let first = QservClusterStatus::default();
        let mut created = QservClusterStatus {
            observed_generation: Some(1),
            ..QservClusterStatus::default()
        };
        ready(&mut created, false, "0/3");
        let notes = transition_notes(&c, &first, &created, &[], None);
        assert_eq!(
            notes,
            [Note::normal(
                "Created",
                "applied the Qserv objects: 3 workers, 1 xrootd"
            )]
        );

        let mut is_ready = created.clone();
        ready(&mut is_ready, true, "3/3");
        let notes = transition_notes(&c, &created, &is_ready, &[], None);
        assert_eq!(notes, [Note::normal("Ready", "workers 3/3")]);
        assert!(transition_notes(&c, &is_ready, &is_ready, &[], None).is_empty());

        let mut scaled = is_ready.clone();
        scaled.observed_generation = Some(2);
        ready(&mut scaled, false, "3/4");
        let deleted = ["ConfigMap/qserv-ci-old".to_string()];
        let notes = transition_notes(&c, &is_ready, &scaled, &deleted, Some("refused"));
        let reasons: Vec<&str> = notes.iter().map(|n| n.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Updated",
                "Scaled",
                "Pruned",
                "NotReady",
                "ScaleDownRefused"
            ]
        );
        assert_eq!(notes[1].message, "workers 3 -> 4");
        assert!(notes[3].warning && notes[4].warning);

        // A refusal already recorded as the Degraded reason is not announced again.
        let mut degraded = scaled.clone();
        set_condition(
            &mut degraded.conditions,
            ConditionUpdate::new(DEGRADED, true, "ScaleDownRefused", "refused"),
            Some(2),
            t(0),
        );
        assert!(transition_notes(&c, &degraded, &degraded, &[], Some("refused")).is_empty());
    }
}
