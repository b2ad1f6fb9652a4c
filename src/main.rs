//! The `qserv-operator` binary: the controller, and the CLI that Kubernetes Jobs run too.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use qserv_operator::check;
use qserv_operator::{api, load, partition, query, telemetry};

/// Stands up Qserv test instances on Kubernetes and ingests astronomical catalogs into them.
#[derive(Parser, Debug)]
#[command(name = "qserv-operator", version, about, propagate_version = true)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "QSERV_OPERATOR_LOG_FORMAT"
    )]
    log_format: telemetry::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the QservCluster and CatalogIngest CRDs as YAML (or write them to a directory).
    Crds {
        /// Write `qservclusters.yaml` and `catalogingests.yaml` into this directory instead of
        /// printing them.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Write the CRD reference pages (Markdown, generated from the schemas) into a directory.
    CrdDocs {
        /// Directory of `qservcluster.md` and `catalogingest.md`.
        #[arg(long, default_value = "docs/crds")]
        out_dir: PathBuf,
    },
    /// Write a CatalogIngest from a dataset's own configs (a qserv_testdata case: its
    /// ingest/*.json and partition/*.json, optionally Qserv's integration_tests.yaml).
    ImportDataset(Box<qserv_operator::import::cli::ImportArgs>),
    /// Partition CSV/TSV (sph-partition compatible), HDF5 or Parquet into Qserv chunks with overlap.
    Partition(Box<partition::cli::PartitionArgs>),
    /// Try it without a cluster: local mode, the example QservCluster and CatalogIngests, their
    /// progress and final status (tables, rows, chunks, checks). Exit 1 if an ingest fails.
    Demo {
        /// The shared test data (clusters/, qserv_testdata/), offered to the examples as the
        /// PersistentVolume `catalogs` (hostPath).
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        /// Local mode's state (volumes, pod logs) and the kubeconfig; emptied first (only if
        /// an earlier demo made it).
        #[arg(long, default_value = "local/demo")]
        work_dir: PathBuf,
        /// Keep everything running until Ctrl-C, to look around with kubectl and queries.
        #[arg(long)]
        keep_running: bool,
        /// Directory of qservcluster-ci.yaml and catalogingest-<NAME>.yaml.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
        /// An example CatalogIngest to run (examples/catalogingest-<NAME>.yaml); repeatable.
        #[arg(long = "ingest", value_name = "NAME", default_values_t = ["macs2243".to_string(), "case01".to_string()])]
        ingests: Vec<String>,
    },
    /// Check QservCluster and CatalogIngest manifests offline: unknown fields, types, CEL rules.
    Validate {
        /// YAML files (several documents per file allowed).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print every object a QservCluster creates, offline, as YAML (like `helm template`): the
    /// Secret with freshly generated values, owner references with a placeholder uid.
    Render {
        /// YAML files holding QservClusters (other kinds are skipped).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        /// Render as right after `spec.image` changed from this image: with the schema-update
        /// Job (`entrypoint smig-update`) the controller then runs.
        #[arg(long, value_name = "IMAGE")]
        from_image: Option<String>,
    },
    /// Load catalog files (HDF5, CSV/TSV, Parquet) into a table of a plain MariaDB database.
    /// With --to-workers and --partitioned: partitioner output onto Qserv workers as chunk tables.
    Load(Box<load::args::LoadArgs>),
    /// Run one SQL statement on a MariaDB/Qserv endpoint; print the result as a table, CSV or JSON.
    Query(Box<query::QueryArgs>),
    /// One step of a CatalogIngest, as its Job runs it (partition | load | reference | check).
    Job(qserv_operator::ingest::job::JobArgs),
    /// Run the controllers (QservCluster, CatalogIngest) against the current kubeconfig or in-cluster config.
    Run(qserv_operator::run::RunArgs),
    /// Compare Qserv with the reference: built-in data checks, a CatalogIngest's checks, and
    /// qserv_testdata queries; exit 1 when a check fails, 2 when they cannot run.
    Check(Box<check::cli::CheckArgs>),
    /// Ingest partitioned tables into Qserv through the replication ingest REST API.
    Ingest(Box<load::ingest_cli::IngestArgs>),
    /// Run local mode until Ctrl-C: the embedded Kubernetes API server (our CRDs installed) and
    /// the local runtime (StatefulSet/Deployment/Job pods as MariaDB servers and processes).
    Local {
        /// Where to write the kubeconfig pointing at it.
        #[arg(long, default_value = "local/kubeconfig")]
        kubeconfig_out: PathBuf,
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The runtime's volumes, pod logs and address map (`addresses.json`).
        #[arg(long, default_value = "local")]
        state_dir: PathBuf,
        /// Start no processes: pods are running and ready at once (Jobs still run).
        #[arg(long)]
        fake_pods: bool,
        /// Do not run the controllers in this process (run `qserv-operator run` yourself).
        #[arg(long)]
        no_controllers: bool,
    },
}

/// A user error ends with its message and causes on one line, exit code 1, and never a Rust
/// backtrace, whatever `RUST_BACKTRACE` says (anyhow's `Debug`, which `main` returning a
/// `Result` would print, adds one when it is set).
fn main() -> std::process::ExitCode {
    match run_command() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_command() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo talks to a person: its logs go to a file in its work dir (see qserv_local::demo).
    if !matches!(cli.command, Command::Demo { .. }) {
        telemetry::init(cli.log_format, "info");
    }
    match cli.command {
        Command::Crds { out_dir } => print_crds(out_dir),
        Command::CrdDocs { out_dir } => write_crd_docs(&out_dir),
        Command::Validate { files } => validate_manifests(&files),
        Command::Render { files, from_image } => render_clusters(&files, from_image.as_deref()),
        Command::Partition(args) => Ok(partition::cli::run(*args)?),
        Command::ImportDataset(args) => qserv_operator::import::cli::run(&args),
        Command::Load(args) => {
            let summary = tokio::runtime::Runtime::new()?.block_on(load::cli::run(&args))?;
            println!("{summary}");
            Ok(())
        }
        Command::Query(args) => {
            tokio::runtime::Runtime::new()?.block_on(query::run(&args))?;
            Ok(())
        }
        Command::Check(args) => {
            // Exit 1: a check failed; exit 2: the checks could not run.
            match tokio::runtime::Runtime::new()?.block_on(check::cli::run(&args)) {
                Ok(report) if report.all_passed() => Ok(()),
                Ok(_) => std::process::exit(1),
                Err(err) => {
                    eprintln!("Error: {err:#}");
                    std::process::exit(2)
                }
            }
        }
        Command::Ingest(args) => {
            tokio::runtime::Runtime::new()?.block_on(load::ingest_cli::run(&args))
        }
        Command::Demo {
            data,
            work_dir,
            keep_running,
            examples,
            ingests,
        } => tokio::runtime::Runtime::new()?.block_on(qserv_local::demo::run(
            qserv_local::demo::DemoArgs {
                data,
                work_dir,
                keep_running,
                examples,
                ingests,
                log_format: cli.log_format,
            },
        )),
        Command::Job(args) => {
            tokio::runtime::Runtime::new()?.block_on(qserv_operator::ingest::job::run(args))
        }
        Command::Run(args) => {
            tokio::runtime::Runtime::new()?.block_on(qserv_operator::run::run(args))
        }
        Command::Local {
            kubeconfig_out,
            port,
            state_dir,
            fake_pods,
            no_controllers,
        } => tokio::runtime::Runtime::new()?.block_on(run_local(
            kubeconfig_out,
            port,
            state_dir,
            fake_pods,
            no_controllers,
        )),
    }
}

async fn run_local(
    kubeconfig_out: PathBuf,
    port: u16,
    state_dir: PathBuf,
    fake_pods: bool,
    no_controllers: bool,
) -> anyhow::Result<()> {
    use qserv_local::{LocalMode, LocalOptions};
    let local = LocalMode::start(LocalOptions {
        state_dir: state_dir.clone(),
        api_port: port,
        kubeconfig: Some(kubeconfig_out),
        fake_pods,
        controllers: !no_controllers,
        ..LocalOptions::default()
    })
    .await?;
    let kubeconfig = local.kubeconfig().display().to_string();
    println!("Local Kubernetes API server on {}", local.server().url());
    println!(
        "Local runtime: pods run as processes; state in {}, address map {}",
        local.runtime().state_dir().display(),
        local.runtime().address_map_path().display()
    );
    if !no_controllers {
        println!("The QservCluster and CatalogIngest controllers run in this process.");
    }
    println!("Kubeconfig written to {kubeconfig}. Try:");
    println!("  export KUBECONFIG={kubeconfig}");
    println!("  kubectl apply --server-side -f examples/qservcluster-ci.yaml");
    println!("  kubectl wait --for=condition=Ready qsc/qserv-ci --timeout=5m");
    println!("  kubectl get qsc,statefulsets,pods");
    println!("Ctrl-C stops it: every process ends, the API objects (in memory) go with it.");
    tokio::signal::ctrl_c().await?;
    println!("Stopping pods...");
    local.shutdown().await;
    Ok(())
}

fn print_crds(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for (file, crd) in api::crds() {
        let yaml = api::crd_yaml(&crd)?;
        match &out_dir {
            Some(dir) => {
                let path = dir.join(file);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => stdout.write_all(yaml.as_bytes())?,
        }
    }
    Ok(())
}

fn write_crd_docs(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, markdown) in api::docs::crd_docs() {
        let path = dir.join(file);
        std::fs::write(&path, markdown).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn render_clusters(files: &[PathBuf], from_image: Option<&str>) -> anyhow::Result<()> {
    use qserv_operator::cluster::render;
    let mut out = String::new();
    for file in files {
        for cluster in render::clusters_in(file)? {
            let objects = render::render(cluster, &render::fresh_secrets(), from_image)
                .map_err(anyhow::Error::msg)?;
            out.push_str(&render::to_yaml(&objects)?);
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

/// Prints one line per document and every problem under it; fails when any has a problem.
fn validate_manifests(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut invalid = 0;
    let mut total = 0;
    for file in files {
        for report in api::manifest::check_file(file)? {
            total += 1;
            let what = format!(
                "{} {}/{} (document {})",
                file.display(),
                report.kind,
                report.name,
                report.index
            );
            if report.problems.is_empty() {
                println!("ok    {what}");
            } else {
                invalid += 1;
                println!("error {what}");
                for problem in &report.problems {
                    println!("      {problem}");
                }
            }
        }
    }
    if invalid > 0 {
        anyhow::bail!("{invalid} of {total} documents are invalid");
    }
    Ok(())
}
