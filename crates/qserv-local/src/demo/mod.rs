//! `qserv-operator demo`: what a newcomer runs first, on a machine without Kubernetes. Local
//! mode (embedded API server, runtime with real MariaDB pods, the controllers in this process),
//! the shared data offered as the PersistentVolume `catalogs` the examples' `source.pvc` claims,
//! then the example QservCluster and CatalogIngests applied unchanged with the real kubectl,
//! their progress as it happens, their final status (tables, rows, chunks, checks), and the
//! commands to look around. Exits non-zero when an ingest did not succeed.
//!
//! - [`apply`]: kubectl (or the client without it) and the `catalogs` volume.
//! - [`wait`]: watching the objects, with progress lines.
//! - [`report`]: the lines printed about them (pure).

mod apply;
mod report;
mod wait;

use futures::future::LocalBoxFuture;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{LocalMode, LocalOptions};
use anyhow::Context as _;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Api;
use qserv_operator::api::{CatalogIngest, QservCluster};
use qserv_operator::telemetry;

use apply::{Applier, CATALOGS};
use wait::Clock;

const NAMESPACE: &str = "default";
/// Marks a work dir the demo made, so a re-run may empty it (and nothing else).
const MARKER: &str = ".qserv-operator-demo";

/// Where the demo finds its inputs and keeps its state.
pub struct DemoArgs {
    /// The shared test data (`clusters/`, `qserv_testdata/`), offered as the `catalogs` volume.
    pub data: PathBuf,
    /// Local mode's state (volumes, logs) and the kubeconfig; emptied first.
    pub work_dir: PathBuf,
    /// Keep everything running until Ctrl-C.
    pub keep_running: bool,
    /// Directory of `qservcluster-ci.yaml` and `catalogingest-<name>.yaml`.
    pub examples: PathBuf,
    /// The example CatalogIngests to run, by name.
    pub ingests: Vec<String>,
    /// Format of the log file (`<work_dir>/demo.log`).
    pub log_format: telemetry::LogFormat,
}

/// One example CatalogIngest: its file and what it says.
struct Example {
    file: PathBuf,
    ingest: CatalogIngest,
}

impl Example {
    fn name(&self) -> &str {
        self.ingest.metadata.name.as_deref().unwrap_or_default()
    }
}

pub fn run(args: DemoArgs) -> LocalBoxFuture<'static, anyhow::Result<()>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: DemoArgs) -> anyhow::Result<()> {
    let clock = Clock(Instant::now());
    let data = std::fs::canonicalize(&args.data).with_context(|| {
        format!(
            "--data {}: the shared test data directory is not there",
            args.data.display()
        )
    })?;
    let cluster_file = args.examples.join("qservcluster-ci.yaml");
    let cluster: QservCluster = read_yaml(&cluster_file)?;
    let examples = args
        .ingests
        .iter()
        .map(|name| example(&args.examples, name, &data))
        .collect::<anyhow::Result<Vec<_>>>()?;
    prepare_work_dir(&args.work_dir)?;
    // Absolute, for the commands printed at the end.
    let work_dir = std::fs::canonicalize(&args.work_dir)
        .with_context(|| format!("--work-dir {}", args.work_dir.display()))?;
    // The controllers' and the runtime's logs (pods retried while their peers start, ...)
    // would drown the progress lines: they go to a file, named below for when things fail.
    let log = work_dir.join("demo.log");
    telemetry::init_to_file(args.log_format, "info", &log)
        .with_context(|| format!("creating {}", log.display()))?;

    println!("== Local mode: an embedded Kubernetes API server, a runtime whose pods are real");
    println!("   MariaDB servers and processes, and the operator's controllers, in this process");
    let local = LocalMode::start(LocalOptions {
        state_dir: work_dir.join("state"),
        kubeconfig: Some(work_dir.join("kubeconfig")),
        ..LocalOptions::default()
    })
    .await?;
    println!(
        "   API server {}, kubeconfig {}",
        local.server().url(),
        local.kubeconfig().display()
    );
    println!(
        "   logs: {} (operator, runtime), {} (pods)",
        log.display(),
        work_dir.join("state/runtime/logs").display()
    );

    let tour = Tour {
        local: &local,
        applier: Applier::new(local.kubeconfig(), local.client(), NAMESPACE),
        clock,
    };
    let outcome = tokio::select! {
        outcome = tour.run(&data, &cluster_file, &cluster, &examples) => Some(outcome),
        _ = tokio::signal::ctrl_c() => None,
    };
    let outcome = match outcome {
        Some(outcome) => {
            if args.keep_running {
                // Said now, not only at exit: the user may look around for a while.
                if let Err(e) = &outcome {
                    println!("\n!! {e:#}");
                }
                println!("\n== Everything keeps running (--keep-running); Ctrl-C stops it.");
                let _ = tokio::signal::ctrl_c().await;
            } else {
                println!(
                    "\n== Shutting down (pass --keep-running to keep it up and try the above)."
                );
            }
            outcome
        }
        None => Err(anyhow::anyhow!("interrupted")),
    };
    local.shutdown().await;
    println!("== Stopped: the controllers, every pod's process and the API server.");
    outcome
}

/// The parts of the run that talk to local mode; errors end the tour, not local mode.
struct Tour<'a> {
    local: &'a LocalMode,
    applier: Applier,
    clock: Clock,
}

impl Tour<'_> {
    async fn run(
        &self,
        data: &Path,
        cluster_file: &Path,
        cluster: &QservCluster,
        examples: &[Example],
    ) -> anyhow::Result<()> {
        let client = self.local.client();
        println!(
            "\n== The shared data {} as PersistentVolume {CATALOGS} (hostPath), claimed by \
             PersistentVolumeClaim {CATALOGS}",
            data.display()
        );
        apply::catalogs_volume(&client, NAMESPACE, data).await?;
        self.claim_bound().await?;
        self.kubectl(&["get", "pv,pvc"]).await?;

        let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
        println!(
            "\n== The example QservCluster {cluster_name}: {} workers, a reference database",
            cluster.spec.workers.replicas
        );
        self.applier.apply_file(cluster_file).await?;
        let cluster = wait::cluster_ready(&client, NAMESPACE, cluster_name, self.clock).await?;

        println!("\n== The example CatalogIngests");
        for e in examples {
            self.applier.apply_file(&e.file).await?;
        }
        // Together: the controller runs them side by side, as it would on a cluster.
        let finished = futures::future::join_all(
            examples
                .iter()
                .map(|e| wait::ingest_finished(&client, NAMESPACE, e.name(), self.clock)),
        )
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;

        println!("\n== Final status");
        self.kubectl(&["get", "qsc,cing"]).await?;
        for ingest in &finished {
            println!();
            print!("{}", report::final_status(ingest));
        }
        self.look_around(&cluster, &finished);

        let failed: Vec<String> = finished
            .iter()
            .filter(|i| !report::succeeded(i))
            .map(report::failure)
            .collect();
        anyhow::ensure!(failed.is_empty(), "{}", failed.join("; "));
        Ok(())
    }

    /// Waits for the runtime to bind the claim to the volume (a watch, not a sleep).
    async fn claim_bound(&self) -> anyhow::Result<()> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.local.client(), NAMESPACE);
        let bound = |c: Option<&PersistentVolumeClaim>| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                == Some("Bound")
        };
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            kube::runtime::wait::await_condition(api, CATALOGS, bound),
        )
        .await
        .map_err(|_| anyhow::anyhow!("PersistentVolumeClaim {CATALOGS} not Bound in 60 s"))??;
        Ok(())
    }

    async fn kubectl(&self, args: &[&str]) -> anyhow::Result<()> {
        if self.applier.has_kubectl() {
            self.applier.kubectl(args).await?;
        }
        Ok(())
    }

    /// The commands to look around: kubectl, and a query on the query endpoint as this machine
    /// reaches it (the runtime's address of the czar's port 4040).
    fn look_around(&self, cluster: &QservCluster, ingests: &[CatalogIngest]) {
        println!("\n== Look around (while it runs: --keep-running)");
        println!("  export KUBECONFIG={}", self.local.kubeconfig().display());
        println!("  kubectl get qsc,cing,jobs,pods");
        for i in ingests {
            let name = i.metadata.name.as_deref().unwrap_or_default();
            println!("  kubectl describe cing {name}");
            println!("  kubectl logs job/{name}-load");
        }
        let endpoint = cluster
            .status
            .as_ref()
            .and_then(|s| s.endpoints.as_ref())
            .map(|e| e.query.clone())
            .unwrap_or_default();
        let resolved = endpoint
            .rsplit_once(':')
            .and_then(|(host, port)| self.local.resolve(host, port.parse().ok()?));
        let Some(addr) = resolved else {
            println!("  (the query endpoint {endpoint:?} has no local address)");
            return;
        };
        // qsmaster's password on the czar is the cluster Secret's (cluster/build/czar.rs).
        let secret = format!(
            "{}-secrets",
            cluster.metadata.name.as_deref().unwrap_or_default()
        );
        println!(
            "  QSMASTER=$(kubectl get secret {secret} -o jsonpath='{{.data.qsmaster-password}}' | base64 -d)"
        );
        for i in ingests.iter().filter(|i| report::succeeded(i)) {
            let Some(table) = i.spec.tables.first() else {
                continue;
            };
            println!(
                "  qserv-operator query --endpoint \"mysql://qsmaster:$QSMASTER@{addr}/{}\" \
                 \"SELECT COUNT(*) FROM {}\"",
                i.spec.database, table.name
            );
        }
    }
}

fn read_yaml<T: serde::de::DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "{}: cannot read it (run from the repository root, or pass --examples DIR)",
            file.display()
        )
    })?;
    serde_norway::from_str(&text)
        .with_context(|| format!("{}: not a valid manifest", file.display()))
}

/// `<examples>/catalogingest-<name>.yaml`, checked against the data: its `source.pvc` subPath
/// must be a directory of `--data` (the `catalogs` volume).
fn example(examples: &Path, name: &str, data: &Path) -> anyhow::Result<Example> {
    let file = examples.join(format!("catalogingest-{name}.yaml"));
    let ingest: CatalogIngest = read_yaml(&file)?;
    match &ingest.spec.source.pvc {
        Some(pvc) if pvc.claim_name == CATALOGS => {
            let dir = data.join(pvc.sub_path.as_deref().unwrap_or_default());
            anyhow::ensure!(
                dir.is_dir(),
                "{}: spec.source.pvc subPath {:?}: {} is not a directory (pass --data DIR \
                 holding the shared test data)",
                file.display(),
                pvc.sub_path.as_deref().unwrap_or_default(),
                dir.display()
            );
        }
        _ => anyhow::bail!(
            "{}: the demo serves spec.source.pvc {{claimName: {CATALOGS}}} only",
            file.display()
        ),
    }
    Ok(Example { file, ingest })
}

/// Creates the work dir, or empties one an earlier demo made; refuses any other non-empty
/// directory (`--work-dir` must never wipe someone's files).
fn prepare_work_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    if dir.join(MARKER).is_file() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {shown}"))?;
    } else if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        anyhow::bail!(
            "--work-dir {shown}: not empty and not made by an earlier demo (no {MARKER}); \
             pass a new or empty directory"
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {shown}"))?;
    std::fs::write(
        dir.join(MARKER),
        "made by qserv-operator demo; emptied by the next one\n",
    )
    .with_context(|| format!("writing {shown}/{MARKER}"))?;
    Ok(())
}
