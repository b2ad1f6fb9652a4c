//! `qserv-operator import-dataset`: the arguments, and the manifest written where asked.

use std::path::PathBuf;

use clap::Args;

use super::{CaseConfig, ImportOptions, import_dataset, to_yaml};
use crate::api::catalog_ingest::{PvcSource, Source};

/// Write a CatalogIngest from a dataset's own configs.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The dataset's directory (a qserv_testdata case: `data/`, `queries/`).
    pub dir: PathBuf,
    /// Qserv's integration-test runner config (`etc/integration_tests.yaml`): the case's
    /// tables, their order and file templates come from it.
    #[arg(long, value_name = "FILE")]
    pub case_config: Option<PathBuf>,
    /// The test case of --case-config (default: the directory's name).
    #[arg(long = "case", value_name = "ID", requires = "case_config")]
    pub case_id: Option<String>,
    /// Only these tables (comma-separated), in the case's order.
    #[arg(long, value_delimiter = ',')]
    pub tables: Option<Vec<String>>,
    /// metadata.name (default: the case id).
    #[arg(long)]
    pub name: Option<String>,
    /// The QservCluster to ingest into.
    #[arg(long, default_value = "qserv-ci")]
    pub cluster: String,
    /// The files are on this PersistentVolumeClaim (with --sub-path: the dataset's directory
    /// on it).
    #[arg(long, value_name = "CLAIM", conflicts_with_all = ["path", "url"])]
    pub pvc: Option<String>,
    #[arg(long, requires = "pvc")]
    pub sub_path: Option<String>,
    /// The files are in this directory of the machine the Jobs run on (default: DIR).
    #[arg(long, conflicts_with = "url")]
    pub path: Option<String>,
    /// The files are under this http(s) URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Write the manifest here instead of printing it.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Writes the manifest; an error when the dataset cannot be read, or when what its configs
/// say is not a valid CatalogIngest (the manifest is still written, the problems listed).
pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let case = match &args.case_config {
        Some(file) => {
            let id = args.case_id.clone().unwrap_or_else(|| {
                args.dir
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
            });
            Some(CaseConfig::from_file(file, &id)?)
        }
        None => None,
    };
    let source = if let Some(claim) = &args.pvc {
        Some(Source {
            pvc: Some(PvcSource {
                claim_name: claim.clone(),
                sub_path: args.sub_path.clone(),
            }),
            ..Source::default()
        })
    } else if let Some(url) = &args.url {
        Some(Source {
            url: Some(url.clone()),
            ..Source::default()
        })
    } else {
        args.path.as_ref().map(|p| Source {
            path: Some(p.clone()),
            ..Source::default()
        })
    };
    let ingest = import_dataset(&ImportOptions {
        root: args.dir.clone(),
        case,
        tables: args.tables.clone(),
        name: args.name.clone(),
        cluster: args.cluster.clone(),
        source,
    })?;
    let yaml = to_yaml(&ingest, &args.dir.display().to_string())?;
    match &args.out {
        Some(file) => std::fs::write(file, &yaml)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?,
        None => print!("{yaml}"),
    }
    if let Err(problems) = ingest.spec.validate() {
        anyhow::bail!("the dataset's configs make an invalid CatalogIngest: {problems}");
    }
    Ok(())
}
