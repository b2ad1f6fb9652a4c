//! The `qserv-operator` binary: the controller, and the CLI that Kubernetes Jobs run too.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use qserv_operator::{api, telemetry};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, "info");
    match cli.command {
        Command::Crds { out_dir } => print_crds(out_dir),
    }
}

fn print_crds(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
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
