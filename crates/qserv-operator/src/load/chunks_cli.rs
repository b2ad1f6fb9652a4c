//! `qserv-operator load --to-workers ... --partitioned DIR`: the arguments of [`LoadArgs`]
//! turned into a [`ChunkLoad`], run with a progress bar (bytes of chunk files) on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::args::LoadArgs;
use super::chunks::{ChunkFiles, ChunkLoad, ChunkLoadSummary, TableDdl, load_chunks};
use super::error::{LoadError, Result};
use super::stream::{self, Progress};
use crate::db::Endpoint;
use crate::partition::config::dialect_from_store;
use crate::partition::{ConfigStore, PartitionConfig};

/// The chunk load `args` describe, from partitioner output in `dir`.
pub fn chunk_load(args: &LoadArgs, dir: &Path) -> Result<ChunkLoad> {
    let ddl = match &args.schema_file() {
        Some(file) => TableDdl::from_schema_file(file)?,
        None => {
            if args.files.is_empty() {
                return Err(LoadError::Arguments(
                    "--partitioned needs --schema FILE or a catalog FILE (with --format) \
                     for the table's columns"
                        .into(),
                ));
            }
            let input = args.reference_load()?.input;
            let schema = stream::open(&input.files[0], &input)?.schema();
            TableDdl::from_schema(&args.table, &schema)?
        }
    };
    let files = if args.part_config.is_empty() {
        ChunkFiles {
            dir: dir.to_path_buf(),
            prefix: "chunk".into(),
            fields: ddl.default_fields(),
            dialect: dialect_from_store(&ConfigStore::default(), "out.csv.")
                .expect("the default dialect is valid"),
        }
    } else {
        let mut store = ConfigStore::default();
        let config_error = |err: crate::partition::config::ConfigError| {
            LoadError::Arguments(format!("--part-config: {err}"))
        };
        for file in &args.part_config {
            store.add_file(file).map_err(config_error)?;
        }
        let config = PartitionConfig::from_store(&store).map_err(config_error)?;
        ChunkFiles::from_config(dir, &config)
    };
    Ok(ChunkLoad {
        database: args.database.clone(),
        table: args.table.clone(),
        ddl,
        files,
    })
}

/// Runs the load; returns the plan (one line per worker) and the summary line.
pub async fn run(args: &LoadArgs, dir: &Path) -> Result<String> {
    if args.to_workers.is_empty() || args.to.is_some() {
        return Err(LoadError::Arguments(
            "--partitioned loads onto --to-workers (and not --to)".into(),
        ));
    }
    let workers = args
        .to_workers
        .iter()
        .map(|url| Endpoint::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    let load = chunk_load(args, dir)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let total: u64 = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".txt"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} \
                 ({binary_bytes_per_sec}) {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar.set_message(format!("into {}.{}", args.database, args.table));
        bar
    });
    let progress: Option<Progress> = bar.clone().map(|bar| {
        let progress: Progress = Arc::new(move |bytes| bar.set_position(bytes));
        progress
    });
    let result = load_chunks(&workers, &load, progress).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    Ok(format!(
        "{}{}",
        summary.plan,
        summary_line(&args.database, &args.table, &summary)
    ))
}

/// `loaded N rows (+M overlap rows) into D.T on K workers (X tables) in Ys (R rows/s)`.
pub fn summary_line(database: &str, table: &str, summary: &ChunkLoadSummary) -> String {
    format!(
        "loaded {} rows (+{} overlap rows) into {database}.{table} on {} workers ({} tables) \
         in {:.2}s ({:.0} rows/s)",
        summary.rows,
        summary.overlap_rows,
        summary.plan.workers.len(),
        summary.tables,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second()
    )
}
