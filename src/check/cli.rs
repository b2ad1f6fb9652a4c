//! `qserv-operator check`: the checks of a CatalogIngest (its tables, its `checks[]`) and of a
//! qserv_testdata query directory, printed as a table or JSON, optionally written as JSON for
//! the controller (`--result-file`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use super::{CheckPlan, CheckReport, CheckTarget, run_checks};
use crate::api::catalog_ingest::CatalogIngest;

/// Output format of `qserv-operator check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    #[default]
    Table,
    Json,
}

/// Arguments of `qserv-operator check`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Qserv's query endpoint, `mysql://user[:password]@host:port`.
    #[arg(long, value_name = "URL")]
    pub qserv: String,
    /// The reference MariaDB, `mysql://user[:password]@host:port`.
    #[arg(long, value_name = "URL")]
    pub reference: String,
    /// Database on both sides (default: the spec's `database`).
    #[arg(long)]
    pub database: Option<String>,
    /// A qserv_testdata `queries/` directory (`NNNN_name.sql` files).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// A CatalogIngest manifest: its tables get the built-in checks, its `checks` run.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The Qserv side is not a real Qserv (local mode): skip checks using Qserv-only functions.
    #[arg(long)]
    pub local: bool,
    /// Rows read from the input of a table, checked against both sides (repeatable).
    #[arg(long, value_name = "TABLE=N", value_parser = parse_rows_read)]
    pub rows_read: Vec<(String, u64)>,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE")]
    pub result_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Most bytes of values a sorted comparison holds in memory per side.
    #[arg(long, value_name = "BYTES", default_value_t = super::DEFAULT_MAX_SORT_BYTES)]
    pub max_sort_bytes: usize,
}

fn parse_rows_read(text: &str) -> Result<(String, u64), String> {
    let (table, n) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected TABLE=N"))?;
    let n = n
        .parse()
        .map_err(|err| format!("`{text}`: row count `{n}`: {err}"))?;
    Ok((table.to_string(), n))
}

/// Runs the checks and prints the report; returns it (the caller exits non-zero when a check
/// failed).
pub async fn run(args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let ingest: Option<CatalogIngest> = match &args.spec {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            Some(
                serde_norway::from_str(&text)
                    .with_context(|| format!("{}: not a CatalogIngest", file.display()))?,
            )
        }
        None => None,
    };
    let mut plan = match &ingest {
        Some(ingest) => CheckPlan::from_spec(&ingest.spec)?,
        None => CheckPlan::default(),
    };
    let spec_database = ingest.map(|i| i.spec.database);
    let database = args
        .database
        .clone()
        .or(spec_database)
        .context("--database is needed (or --spec with a database)")?;
    let rows_read: BTreeMap<String, u64> = args.rows_read.iter().cloned().collect();
    if let Some(unknown) = rows_read
        .keys()
        .find(|t| !plan.tables.iter().any(|p| &p.name == *t))
    {
        anyhow::bail!("--rows-read {unknown}: no such table in the spec");
    }
    plan = plan.with_rows_read(&rows_read);
    plan.queries = args.queries.clone();
    plan.max_sort_bytes = args.max_sort_bytes;
    let target = CheckTarget::parse(&args.qserv, &args.reference, &database, args.local)?;

    let report = run_checks(&target, &plan).await?;
    if let Some(file) = &args.result_file {
        std::fs::write(file, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ReportFormat::Table => report.write_table(&mut stdout)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            std::io::Write::write_all(&mut stdout, b"\n")?;
        }
    }
    Ok(report)
}
