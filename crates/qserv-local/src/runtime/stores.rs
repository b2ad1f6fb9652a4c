//! Reflector caches of every kind the runtime acts on, fed by kube-runtime watchers over all
//! namespaces, as a kubelet and the controller-manager would keep. Every event wakes the
//! reconcile loop.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub struct Stores {
    pub statefulsets: Store<StatefulSet>,
    pub deployments: Store<Deployment>,
    pub jobs: Store<Job>,
    pub pods: Store<Pod>,
    pub pvcs: Store<PersistentVolumeClaim>,
    pub pvs: Store<PersistentVolume>,
    pub secrets: Store<Secret>,
    pub configmaps: Store<ConfigMap>,
    pub services: Store<Service>,
}

impl Stores {
    /// Starts one watcher per kind; the tasks run until aborted.
    pub fn start(client: &kube::Client, kick: &Arc<Notify>) -> (Stores, Vec<JoinHandle<()>>) {
        let mut tasks = Vec::new();
        let stores = Stores {
            statefulsets: reflect(client, kick, &mut tasks),
            deployments: reflect(client, kick, &mut tasks),
            jobs: reflect(client, kick, &mut tasks),
            pods: reflect(client, kick, &mut tasks),
            pvcs: reflect(client, kick, &mut tasks),
            pvs: reflect(client, kick, &mut tasks),
            secrets: reflect(client, kick, &mut tasks),
            configmaps: reflect(client, kick, &mut tasks),
            services: reflect(client, kick, &mut tasks),
        };
        (stores, tasks)
    }

    /// Waits for the first list of every kind.
    pub async fn ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.statefulsets.wait_until_ready().await?;
        self.deployments.wait_until_ready().await?;
        self.jobs.wait_until_ready().await?;
        self.pods.wait_until_ready().await?;
        self.pvcs.wait_until_ready().await?;
        self.pvs.wait_until_ready().await?;
        self.secrets.wait_until_ready().await?;
        self.configmaps.wait_until_ready().await?;
        self.services.wait_until_ready().await
    }
}

fn reflect<K>(
    client: &kube::Client,
    kick: &Arc<Notify>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff();
    let kick = kick.clone();
    tasks.push(tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => kick.notify_one(),
                Err(e) => tracing::debug!(%e, kind = %K::kind(&()), "watch error; retrying"),
            }
        }
    }));
    reader
}
