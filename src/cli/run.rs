//! `qserv-operator run`: the controllers, against the cluster of the current kubeconfig or, in a
//! pod, the in-cluster service account.

use std::time::Duration;

use clap::Args;

use qserv_operator::cluster::{self, ControllerOptions};

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Watch QservClusters in this namespace only (the default: every namespace).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Seconds between status refreshes of a healthy cluster.
    #[arg(long, default_value_t = 300)]
    pub resync_seconds: u64,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.map_err(|e| {
        anyhow::anyhow!("cannot reach a Kubernetes API server (kubeconfig or in-cluster): {e}")
    })?;
    let options = ControllerOptions {
        namespace: args.namespace.clone(),
        resync: Duration::from_secs(args.resync_seconds),
    };
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        "starting the QservCluster controller"
    );
    cluster::run(client, options, async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping after the reconciles in flight");
    })
    .await;
    Ok(())
}
