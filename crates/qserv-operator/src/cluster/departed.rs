//! Which workers a carried-out scale-down left registered in Qserv's replication system
//! (pure). Qserv keeps a worker whose pod is gone registered and enabled until it is deleted
//! or evicted after `worker-evict-timeout` (3600 s,
//! `Q@2026.3.3-rc1:src/replica/apps/MasterControllerHttpApp.cc:69`); meanwhile
//! `/ingest/chunk` places new chunks on the least-loaded enabled worker
//! (`src/replica/contr/HttpIngestChunksModule.cc:212-240`), which is the departed, empty one,
//! and `/ingest/regular` sends every regular table to it (`HttpIngestModule.cc:1012-1024`).
//!
//! A worker's name in Qserv is a UUID of its own (see
//! [`crate::qserv::replication::WorkerInfo`]); the pod it ran in is told by the host name it
//! registered from, whose first label is the pod's hostname, i.e. the pod's name for a
//! StatefulSet pod.

use super::build::Component;
use super::status::WorkloadState;
use crate::events::Note;
use crate::qserv::replication::WorkerInfo;

/// A worker the replication system lists whose pod the StatefulSet no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    /// Qserv's name of the worker.
    pub worker: String,
    /// The pod it registered from.
    pub pod: String,
}

/// The pod ordinal of `host` (a short host name) in StatefulSet `sts`: `<sts>-<n>`.
fn ordinal(host: &str, sts: &str) -> Option<i32> {
    let n = host.strip_prefix(sts)?.strip_prefix('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The listed workers that registered from a pod of `sts` at an ordinal `desired` or above.
/// Workers of other hosts (another StatefulSet, added by hand) are left alone.
pub fn departed(workers: &[WorkerInfo], sts: &str, desired: i32) -> Vec<Departed> {
    workers
        .iter()
        .filter_map(|w| {
            let pod = w
                .short_host_names()
                .find(|h| ordinal(h, sts).is_some_and(|n| n >= desired))?;
            Some(Departed {
                worker: w.name.clone(),
                pod: pod.to_string(),
            })
        })
        .collect()
}

/// Whether to look for departed workers now: the replication controller answers, and no pod
/// above the desired size is still ready (one still running would report to the registry
/// again, and the controller would register it anew).
pub fn time_to_look(workloads: &[WorkloadState], desired: i32) -> bool {
    let ready = |c: Component| workloads.iter().find(|w| w.component == c).map(|w| w.ready);
    ready(Component::ReplicationController).is_some_and(|n| n > 0)
        && ready(Component::Worker).is_some_and(|n| n <= desired)
}

/// The Event of workers removed from the replication system.
pub fn removed_note(removed: &[Departed]) -> Option<Note> {
    (!removed.is_empty()).then(|| {
        let list: Vec<String> = removed
            .iter()
            .map(|d| format!("{} (pod {})", d.worker, d.pod))
            .collect();
        Note::normal(
            "WorkersDeregistered",
            format!(
                "removed from the replication system after the scale-down: {}",
                list.join(", ")
            ),
        )
    })
}

/// The Event of a failed removal (the reconcile is retried).
pub fn failed_note(message: &str) -> Note {
    Note::warning("WorkerDeregistrationFailed", message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(name: &str, host: &str) -> WorkerInfo {
        WorkerInfo {
            name: name.into(),
            is_enabled: true,
            is_read_only: false,
            svc_host_name: host.into(),
            svc_host_addr: String::new(),
            http_loader_host_addr: String::new(),
            http_loader_port: 25004,
        }
    }

    #[test]
    fn workers_above_the_desired_size_are_departed() {
        let ws = [
            worker(
                "u0",
                "qserv-ci-worker-0.qserv-ci-worker.default.svc.cluster.local",
            ),
            worker(
                "u2",
                "qserv-ci-worker-2.qserv-ci-worker.default.svc.cluster.local",
            ),
            worker("u10", "qserv-ci-worker-10"),
            worker("other", "qserv-ci-worker-x.qserv-ci-worker"),
            worker("else", "qserv-ci-worker2-3.qserv-ci-worker2"),
            worker("nohost", ""),
        ];
        assert_eq!(
            departed(&ws, "qserv-ci-worker", 2),
            [
                Departed {
                    worker: "u2".into(),
                    pod: "qserv-ci-worker-2".into()
                },
                Departed {
                    worker: "u10".into(),
                    pod: "qserv-ci-worker-10".into()
                },
            ]
        );
        assert!(departed(&ws, "qserv-ci-worker", 11).is_empty());
        assert_eq!(departed(&ws, "qserv-ci-worker", 0).len(), 3);
    }

    #[test]
    fn any_canonical_name_tells_the_pod() {
        let ws = [worker(
            "u",
            "10-1-2-3.example,qserv-ci-worker-4.qserv-ci-worker",
        )];
        assert_eq!(
            departed(&ws, "qserv-ci-worker", 3)[0].pod,
            "qserv-ci-worker-4"
        );
    }

    fn state(component: Component, ready: i32) -> WorkloadState {
        WorkloadState {
            component,
            name: String::new(),
            desired: ready,
            ready,
            rolled_out: true,
        }
    }

    #[test]
    fn looks_once_the_departing_pods_are_down_and_the_controller_is_up() {
        let ctl = state(Component::ReplicationController, 1);
        assert!(time_to_look(&[ctl.clone(), state(Component::Worker, 2)], 2));
        assert!(!time_to_look(
            &[ctl.clone(), state(Component::Worker, 3)],
            2
        ));
        assert!(!time_to_look(
            &[
                state(Component::ReplicationController, 0),
                state(Component::Worker, 2)
            ],
            2
        ));
        assert!(!time_to_look(&[ctl], 2));
    }

    #[test]
    fn notes_name_the_workers_and_pods() {
        assert!(removed_note(&[]).is_none());
        let n = removed_note(&[Departed {
            worker: "u2".into(),
            pod: "qserv-ci-worker-2".into(),
        }])
        .unwrap();
        assert_eq!(n.reason, "WorkersDeregistered");
        assert!(!n.warning);
        assert!(
            n.message.ends_with("u2 (pod qserv-ci-worker-2)"),
            "{}",
            n.message
        );
        assert!(failed_note("x").warning);
    }
}
