//! The kubelet's part: one worker task per pod in the store. A pod deleted (or replaced by a
//! new pod of the same name, as a StatefulSet does) has its worker stopped; a new worker for
//! the same name starts only after the old one stopped its processes, so two `mariadbd` never
//! share a data directory.

mod container;
mod env;
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
        let mut stopping: HashMap<PodKey, JoinHandle<()>> = HashMap::new();
        for key in stale {
            if let Some(w) = self.workers.remove(&key) {
                let _ = w.stop.send(true);
                stopping.insert(key, w.task);
            }
        }
        for (key, pod) in wanted {
            if self.workers.contains_key(&key) {
                continue;
            }
            let (stop, stop_rx) = watch::channel(false);
            let previous = stopping.remove(&key);
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
        // Workers of deleted pods finish stopping in the background.
        for (_, task) in stopping {
            tokio::spawn(async move {
                let _ = task.await;
            });
        }
    }

    /// Stops every pod's containers and waits for them (bounded by `patience`).
    pub async fn shutdown(&mut self, patience: Duration) {
        let workers: Vec<Worker> = self.workers.drain().map(|(_, w)| w).collect();
        for w in &workers {
            let _ = w.stop.send(true);
        }
        let all = futures::future::join_all(workers.into_iter().map(|w| w.task));
        if tokio::time::timeout(patience, all).await.is_err() {
            tracing::warn!("some pods did not stop in {patience:?}");
        }
    }
}
