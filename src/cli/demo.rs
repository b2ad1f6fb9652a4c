//! `qserv-operator demo`: what a newcomer can try with one command, on a machine without
//! Kubernetes. It starts the embedded API server, applies the example QservCluster and
//! CatalogIngests with the real kubectl, and partitions the Clusters pipeline's HDF5 catalog
//! the way the example CatalogIngest describes it (cone, bands, columns, layout). The local
//! runtime and the controllers, which will run the ingest for real, join it as they land.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use qserv_operator::api::CatalogIngest;
use qserv_operator::local::apiserver::{LocalApiServer, Options};
use qserv_operator::partition::{self, from_spec};

/// Where the demo finds its inputs and writes its outputs.
pub struct DemoArgs {
    /// The shared test data (`clusters/macs2243.h5`).
    pub data: PathBuf,
    /// Scratch directory (kubeconfig, partitioned chunks); emptied first.
    pub work_dir: PathBuf,
    /// Keep the API server running until Ctrl-C.
    pub keep_running: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let catalog_dir = args.data.join("clusters");
    anyhow::ensure!(
        catalog_dir.join("macs2243.h5").is_file(),
        "{}: the Clusters catalog macs2243.h5 is not there (pass --data DIR holding clusters/)",
        catalog_dir.display()
    );
    let _ = std::fs::remove_dir_all(&args.work_dir);
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("creating {}", args.work_dir.display()))?;
    let kubeconfig = args.work_dir.join("kubeconfig");
    let server = LocalApiServer::start(Options {
        port: 0,
        kubeconfig_out: Some(kubeconfig.clone()),
        ..Options::default()
    })
    .await?;
    println!(
        "== Local Kubernetes API server on {} (kubeconfig {})",
        server.url(),
        kubeconfig.display()
    );

    let examples = Path::new("examples");
    if kubectl_available() {
        kubectl(
            &kubeconfig,
            &[
                "apply",
                "--server-side",
                "-f",
                &examples.display().to_string(),
            ],
        )?;
        kubectl(&kubeconfig, &["get", "qsc,cing"])?;
    } else {
        println!("(kubectl not found: skipping the kubectl part)");
    }

    let path = examples.join("catalogingest-macs2243.yaml");
    let ingest: CatalogIngest = serde_norway::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("reading {}", path.display()))?;
    let spec = &ingest.spec;
    let region = spec
        .region
        .as_ref()
        .map(|r| format!("cone ({}, {}) radius {}", r.ra, r.dec, r.radius));
    let bands = spec
        .filters
        .as_ref()
        .map(|f| format!("bands {}", f.values.join("")));
    println!(
        "\n== Partitioning {} for CatalogIngest {} ({}/{}/{}; {})",
        catalog_dir.join("macs2243.h5").display(),
        ingest.metadata.name.as_deref().unwrap_or_default(),
        spec.partitioning.stripes,
        spec.partitioning.sub_stripes,
        spec.partitioning.overlap,
        [region, bands]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    );
    for table in &spec.tables {
        let out = args.work_dir.join("chunks").join(&table.name);
        let (config, opts) = from_spec::table_plan(spec, table, &catalog_dir, &out)?;
        let summary = partition::partition_files(&config, &opts)?;
        println!(
            "  {:<22} {:>6} rows kept, {} columns, {:>3} chunks, {:>5} overlap rows -> {}",
            table.name,
            summary.rows_read,
            config.input_fields.len(),
            summary.chunks.len(),
            summary.overlap_rows,
            out.display()
        );
    }
    println!(
        "\nNext: the local runtime (MariaDB pods) and the controllers load these chunks into Qserv."
    );
    if args.keep_running {
        println!(
            "The API server keeps running; Ctrl-C stops it. Try: KUBECONFIG={} kubectl get qsc",
            kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown().await;
    Ok(())
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs kubectl against the demo server, echoing the command and its output.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<()> {
    println!("\n$ kubectl {}", args.join(" "));
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    anyhow::ensure!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
