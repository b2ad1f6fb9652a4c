//! Waiting on watch events (never polling) for the cluster to be Ready and for the ingests to
//! finish, printing a line each time what the user would care about changes.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::report;
use qserv_operator::api::catalog_ingest::{CatalogIngest, IngestPhase};
use qserv_operator::api::condition::{self, READY};
use qserv_operator::api::qserv_cluster::QservCluster;

/// Guards against a demo that would hang forever on a broken machine; far above what a
/// working one needs.
const CLUSTER_PATIENCE: Duration = Duration::from_secs(600);
const INGEST_PATIENCE: Duration = Duration::from_secs(1200);

/// Prints `[  12s] what: line`, seconds since the demo started.
#[derive(Clone, Copy)]
pub struct Clock(pub Instant);

impl Clock {
    pub fn say(&self, what: &str, line: &str) {
        println!("[{:>4}s] {what}: {line}", self.0.elapsed().as_secs());
    }
}

/// Until the QservCluster `name` has condition Ready; the object then.
pub async fn cluster_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    clock: Clock,
) -> anyhow::Result<QservCluster> {
    let ready = |c: &QservCluster| {
        c.status
            .as_ref()
            .is_some_and(|s| condition::is_true(&s.conditions, READY))
    };
    let api = Api::namespaced(client.clone(), namespace);
    let what = format!("QservCluster {name}");
    watch_until(
        api,
        name,
        &what,
        CLUSTER_PATIENCE,
        clock,
        report::cluster_progress,
        ready,
    )
    .await
}

/// Until the CatalogIngest `name` is Succeeded or Failed; the object then.
pub async fn ingest_finished(
    client: &Client,
    namespace: &str,
    name: &str,
    clock: Clock,
) -> anyhow::Result<CatalogIngest> {
    let finished = |i: &CatalogIngest| {
        matches!(
            i.status.as_ref().and_then(|s| s.phase),
            Some(IngestPhase::Succeeded | IngestPhase::Failed)
        )
    };
    let api = Api::namespaced(client.clone(), namespace);
    let what = format!("CatalogIngest {name}");
    watch_until(
        api,
        name,
        &what,
        INGEST_PATIENCE,
        clock,
        report::ingest_progress,
        finished,
    )
    .await
}

/// Follows object `name` until `done`, printing `progress` whenever it changes. Watch errors
/// are retried (the watcher re-lists); only `patience` running out is an error.
async fn watch_until<K>(
    api: Api<K>,
    name: &str,
    what: &str,
    patience: Duration,
    clock: Clock,
    progress: impl Fn(&K) -> String,
    done: impl Fn(&K) -> bool,
) -> anyhow::Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let deadline = tokio::time::Instant::now() + patience;
    let stream = watcher::watch_object(api, name);
    futures::pin_mut!(stream);
    let mut last_line = String::from("not created yet");
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let object = match next {
            Err(_) => anyhow::bail!(
                "{what}: not done after {} s; last seen: {last_line}",
                patience.as_secs()
            ),
            Ok(None) => anyhow::bail!("{what}: the watch ended"),
            Ok(Some(Err(e))) => {
                tracing::debug!(%e, what, "watch error; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Ok(Some(Ok(None))) => continue,
            Ok(Some(Ok(Some(object)))) => object,
        };
        let line = progress(&object);
        if line != last_line {
            clock.say(what, &line);
            last_line = line;
        }
        if done(&object) {
            return Ok(object);
        }
    }
}
