//! `qserv-operator run`: the controllers, against the cluster of the current kubeconfig or, in a
//! pod, the in-cluster service account.

use std::time::Duration;

use clap::Args;
use futures::FutureExt;
use qserv_operator::cluster::{self, ControllerOptions};
use qserv_operator::ingest::{self, IngestOptions, plan::JobSettings};

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
    /// ServiceAccount of the ingest Jobs (needs patch on ConfigMaps for its reports).
    #[arg(long)]
    pub job_service_account: Option<String>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.map_err(|e| {
        anyhow::anyhow!("cannot reach a Kubernetes API server (kubeconfig or in-cluster): {e}")
    })?;
    let mut jobs = JobSettings::default();
    if let Some(image) = args.job_image {
        jobs.image = image;
    }
    jobs.service_account = args.job_service_account;
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        "starting the QservCluster and CatalogIngest controllers"
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping after the reconciles in flight");
    }
    .shared();
    tokio::join!(
        cluster::run(
            client.clone(),
            ControllerOptions {
                namespace: args.namespace.clone(),
                resync: Duration::from_secs(args.resync_seconds),
            },
            shutdown.clone(),
        ),
        ingest::run(
            client,
            IngestOptions {
                namespace: args.namespace,
                jobs,
                preflight_local_sources: false,
            },
            shutdown,
        ),
    );
    Ok(())
}
