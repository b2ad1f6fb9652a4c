//! `qserv-operator run`: the controllers, against the cluster of the current kubeconfig or, in a
//! pod, the in-cluster service account; with `/metrics`, `/healthz`, `/readyz`, and leader
//! election on a coordination.k8s.io Lease so that of several replicas only one reconciles.

use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::time::Duration;

use crate::cluster::{self, ControllerOptions};
use crate::ingest::{self, IngestOptions, plan::JobSettings};
use crate::metrics;
use anyhow::Context as _;
use clap::Args;
use futures::FutureExt;
use kube_lease_manager::LeaseManagerBuilder;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Watch this namespace only (the default: every namespace).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Seconds between status refreshes of a healthy cluster.
    #[arg(long, default_value_t = 300)]
    pub resync_seconds: u64,
    /// Image of the ingest Jobs (this operator's image: they run this binary).
    #[arg(long, env = "QSERV_OPERATOR_IMAGE")]
    pub job_image: Option<String>,
    /// ServiceAccount of the ingest Jobs (needs get/patch on ConfigMaps for their reports).
    #[arg(long)]
    pub job_service_account: Option<String>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Run without leader election (a single replica).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, default_value = "qserv-operator-leader")]
    pub lease_name: String,
    /// Namespace of the leader Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Seconds a leader holds the lease without renewing it; a standby takes over after that.
    #[arg(long, default_value_t = 15)]
    pub lease_duration: u64,
}

pub fn run(args: RunArgs) -> BoxFuture<'static, anyhow::Result<()>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: RunArgs) -> anyhow::Result<()> {
    let (addr, _server) = metrics::serve(args.metrics_addr)
        .await
        .with_context(|| format!("cannot serve metrics on {}", args.metrics_addr))?;
    tracing::info!(%addr, "metrics, healthz and readyz served");
    let client = kube::Client::try_default().await.map_err(|e| {
        anyhow::anyhow!("cannot reach a Kubernetes API server (kubeconfig or in-cluster): {e}")
    })?;
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping after the reconciles in flight");
    }
    .shared();

    if args.no_leader_election {
        metrics::global().set_ready(true);
        metrics::global().leader.set(1);
        run_controllers(client, &args, interrupted).await;
        return Ok(());
    }

    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let namespace = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    // Renew a third of the duration before expiry: a missed renewal or two does not lose it.
    let grace = (args.lease_duration / 3).max(1);
    let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(&namespace)
        .with_identity(&identity)
        .with_duration(args.lease_duration)
        .with_grace(grace)
        .with_field_manager("qserv-operator-leader-election")
        .build()
        .await
        .with_context(|| format!("leader Lease {namespace}/{}", args.lease_name))?;
    let (mut leading, lease_task) = manager.watch().await;
    // A standby is ready: it serves its probes and waits its turn.
    metrics::global().set_ready(true);
    tracing::info!(%identity, lease = %args.lease_name, "waiting for the leader lease");
    tokio::select! {
        acquired = leading.wait_for(|leader| *leader) => {
            acquired.context("the lease manager stopped")?;
        }
        _ = interrupted.clone() => return Ok(()),
    }
    metrics::global().leader.set(1);
    tracing::info!(%identity, "leading: starting the controllers");
    let mut watch_loss = leading.clone();
    let lost = async move {
        let _ = watch_loss.wait_for(|leader| !*leader).await;
    }
    .shared();
    let stop = futures::future::select(Box::pin(interrupted.clone()), Box::pin(lost.clone()))
        .map(|_| ())
        .shared();
    run_controllers(client, &args, stop).await;
    metrics::global().leader.set(0);
    if lost.now_or_never().is_some() {
        // Another replica may already reconcile: stop at once rather than race it.
        anyhow::bail!("lost the leader lease {}; exiting", args.lease_name);
    }
    drop(leading);
    let _ = tokio::time::timeout(Duration::from_secs(5), lease_task).await;
    Ok(())
}

async fn run_controllers(
    client: kube::Client,
    args: &RunArgs,
    shutdown: impl std::future::Future<Output = ()> + Clone + Send + Sync + 'static,
) {
    let mut jobs = JobSettings::default();
    if let Some(image) = &args.job_image {
        jobs.image = image.clone();
    }
    jobs.service_account = args.job_service_account.clone();
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        "starting the QservCluster and CatalogIngest controllers"
    );
    tokio::join!(
        cluster::run(
            client.clone(),
            ControllerOptions {
                namespace: args.namespace.clone(),
                resync: Duration::from_secs(args.resync_seconds),
            },
            crate::shutdown::on(shutdown.clone()),
        ),
        ingest::run(
            client,
            IngestOptions {
                namespace: args.namespace.clone(),
                jobs,
                preflight_local_sources: false,
            },
            crate::shutdown::on(shutdown),
        ),
    );
}
