//! `qserv-operator ingest`: partitioned tables into Qserv through the replication ingest API
//! (what the CatalogIngest's ingest Job runs). Tables come from a CatalogIngest manifest and
//! the partitioner's output root, or from Qserv `/ingest/table` JSON files with their chunk
//! directories.

use futures::future::BoxFuture;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::api::CatalogIngest;
use crate::load::ingest::{IngestOptions, IngestPlan, IngestSummary, run_ingest};
use crate::load::ingest_plan::{plan_from_spec, table_from_json, write_regular_tables};
use crate::qserv::replication::{CsvDialect, ReplicationClient};
use anyhow::{Context, bail};

/// Ingest a catalog into Qserv through the replication ingest REST API: partitioned tables
/// from the partitioner's output, regular tables read from their input files.
#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// The replication controller, `http://host:8080`.
    #[arg(long, env = "QSERV_REPLICATION_URL", value_name = "URL")]
    pub replication_url: String,
    /// The ingest authorization key (`auth_key`).
    #[arg(
        long,
        env = "QSERV_REPL_AUTH_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    pub auth_key: String,
    /// The administrator key (`admin_auth_key`).
    #[arg(
        long,
        env = "QSERV_REPL_ADMIN_AUTH_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    pub admin_auth_key: String,
    /// A CatalogIngest manifest (YAML): its tables are ingested (each regular table is read
    /// from its input files into `<chunks-dir>/<table>/regular.txt` first).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tables", "database"])]
    pub spec: Option<PathBuf>,
    /// Directory the manifest's input files are relative to (their schema is read there).
    #[arg(long, value_name = "DIR", requires = "spec")]
    pub source_dir: Option<PathBuf>,
    /// The partitioner's output root, one directory per table (with --spec).
    #[arg(long, value_name = "DIR", requires = "spec")]
    pub chunks_dir: Option<PathBuf>,
    /// Without --spec: the database to create and publish.
    #[arg(long, requires = "layout")]
    pub database: Option<String>,
    /// Without --spec: `STRIPES/SUB_STRIPES/OVERLAP_DEG`, e.g. `85/12/0.01667`.
    #[arg(long, value_name = "S/SS/OVERLAP")]
    pub layout: Option<String>,
    /// Without --spec: a Qserv `/ingest/table` JSON file and its chunk directory.
    #[arg(long = "table", value_name = "TABLE_JSON=CHUNK_DIR")]
    pub tables: Vec<String>,
    /// Field separator of the chunk files given with --table (escape `\`, no quotes).
    #[arg(long, default_value = ",")]
    pub fields_terminated_by: String,
    /// Contributions in flight at once.
    #[arg(short = 'j', long, default_value_t = 4)]
    pub concurrency: usize,
    /// Write the summary (or the error) as JSON here, for the controller.
    #[arg(long, value_name = "FILE")]
    pub result_file: Option<PathBuf>,
    #[arg(long)]
    pub no_director_index: bool,
    #[arg(long)]
    pub no_row_counters: bool,
    /// Load contributions that raise `LOAD DATA` warnings (values cut or converted, fields
    /// missing) instead of failing the ingest; the summary counts them per table.
    #[arg(long)]
    pub allow_warnings: bool,
}

pub fn run<'a>(args: &'a IngestArgs) -> BoxFuture<'a, anyhow::Result<()>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: &IngestArgs) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let client =
        ReplicationClient::new(&args.replication_url, &args.auth_key, &args.admin_auth_key)?;
    let opts = IngestOptions {
        concurrency: args.concurrency,
        progress: std::io::stderr().is_terminal(),
        director_index: !args.no_director_index,
        row_counters: !args.no_row_counters,
        allow_warnings: args.allow_warnings,
        ..IngestOptions::default()
    };
    match run_ingest(&client, &plan, &opts).await {
        Ok(summary) => {
            print_summary(&summary);
            if let Some(f) = &args.result_file {
                write_result(f, &serde_json::to_value(&summary)?)?;
            }
            Ok(())
        }
        Err(e) => {
            if let Some(f) = &args.result_file {
                let v = serde_json::json!({"database": plan.database, "error": e.to_string()});
                write_result(f, &v)?;
            }
            Err(e.into())
        }
    }
}

fn plan(args: &IngestArgs) -> anyhow::Result<IngestPlan> {
    if let Some(spec_file) = &args.spec {
        let text = std::fs::read_to_string(spec_file)
            .with_context(|| format!("reading {}", spec_file.display()))?;
        let ingest: CatalogIngest = serde_norway::from_str(&text)
            .with_context(|| format!("{}: not a CatalogIngest", spec_file.display()))?;
        let source = args
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let chunks = args
            .chunks_dir
            .clone()
            .context("--chunks-dir is required with --spec")?;
        write_regular_tables(&ingest.spec, &source, &chunks)?;
        return Ok(plan_from_spec(&ingest.spec, &source, &chunks)?);
    }
    let (Some(database), Some(layout)) = (&args.database, &args.layout) else {
        bail!("give --spec, or --database, --layout and --table");
    };
    let parts: Vec<&str> = layout.split('/').collect();
    let [s, ss, o] = parts.as_slice() else {
        bail!("--layout {layout}: expected STRIPES/SUB_STRIPES/OVERLAP_DEG");
    };
    let dialect = CsvDialect {
        fields_terminated_by: args.fields_terminated_by.clone(),
        ..CsvDialect::qserv_testdata()
    };
    let mut tables = Vec::new();
    for t in &args.tables {
        let (json, dir) = t
            .split_once('=')
            .with_context(|| format!("--table {t}: expected TABLE_JSON=CHUNK_DIR"))?;
        let mut table = table_from_json(Path::new(json), PathBuf::from(dir), dialect.clone())?;
        table.registration.database = database.clone();
        tables.push(table);
    }
    if tables.is_empty() {
        bail!("no --table given");
    }
    Ok(IngestPlan {
        database: database.clone(),
        num_stripes: s.parse().with_context(|| format!("--layout stripes {s}"))?,
        num_sub_stripes: ss
            .parse()
            .with_context(|| format!("--layout sub-stripes {ss}"))?,
        overlap: o.parse().with_context(|| format!("--layout overlap {o}"))?,
        tables,
    })
}

fn print_summary(s: &IngestSummary) {
    println!(
        "{} {:?} (transaction {})",
        s.database,
        s.outcome,
        s.transaction_id
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into())
    );
    for t in &s.tables {
        println!(
            "  {:<24} {:>12} rows {:>10} overlap rows {:>6} chunks {:>12} bytes {:>8.2} s",
            t.table, t.rows, t.overlap_rows, t.chunks, t.bytes, t.load_seconds
        );
    }
}

/// Written whole or not at all (temp file + rename): the controller never reads half.
fn write_result(path: &Path, v: &serde_json::Value) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
