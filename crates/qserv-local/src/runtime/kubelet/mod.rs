//! The kubelet's part: one worker task per pod in the store. A pod deleted (or replaced by a
//! new pod of the same name, as a StatefulSet does) has its worker stopped; a new worker for
//! the same name starts only after the old one stopped its processes, so two `mariadbd` never
//! share a data directory.

mod container;
pub(crate) mod env;
mod logins;
mod pod;
mod volumes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::context::{Ctx, PodKey};

struct Worker {
    uid: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

#[derive(Default)]
pub struct Kubelet {
    workers: HashMap<PodKey, Worker>,
    /// Workers of deleted pods still stopping their processes. Kept across syncs: a StatefulSet
    /// recreates the pod under the same name (same volume) in a later sync, and its worker must
    /// wait for these to finish (a `mariadb-install-db` or `mariadbd` still running on it).
    stopping: HashMap<PodKey, JoinHandle<()>>,
}

impl Kubelet {
    /// Starts workers for new pods and stops those of pods that are gone.
    pub fn sync(&mut self, ctx: &Arc<Ctx>) {
        let pods = ctx.stores.pods.state();
        let wanted: HashMap<PodKey, _> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| {
                let key = (p.namespace().unwrap_or_default(), p.name_any());
                (key, p.clone())
            })
            .collect();
        let stale: Vec<PodKey> = self
            .workers
            .iter()
            .filter(|(k, w)| {
                wanted
                    .get(*k)
                    .is_none_or(|p| p.metadata.uid.as_deref() != Some(w.uid.as_str()))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(w) = self.workers.remove(&key) {
                let _ = w.stop.send(true);
                let previous = self.stopping.remove(&key);
                // One handle per name: the newest stop waits for any older one.
                let task = match previous {
                    Some(older) => tokio::spawn(async move {
                        let _ = older.await;
                        let _ = w.task.await;
                    }),
                    None => w.task,
                };
                self.stopping.insert(key, task);
            }
        }
        self.stopping.retain(|_, task| !task.is_finished());
        for (key, pod) in wanted {
            if self.workers.contains_key(&key) {
                continue;
            }
            let (stop, stop_rx) = watch::channel(false);
            let previous = self.stopping.remove(&key);
            let ctx = ctx.clone();
            let pod = (*pod).clone();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let task = tokio::spawn(async move {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                pod::run(ctx, pod, stop_rx).await;
            });
            self.workers.insert(key, Worker { uid, stop, task });
        }
    }

    /// Stops every pod's containers and waits for them (bounded by `patience`).
    pub async fn shutdown(&mut self, patience: Duration) {
        let workers: Vec<Worker> = self.workers.drain().map(|(_, w)| w).collect();
        for w in &workers {
            let _ = w.stop.send(true);
        }
        let tasks = workers
            .into_iter()
            .map(|w| w.task)
            .chain(self.stopping.drain().map(|(_, t)| t));
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(patience, all).await.is_err() {
            tracing::warn!("some pods did not stop in {patience:?}");
        }
    }
}
