//! `qserv-operator load`: the reference loader from the command line, and with
//! `--to-workers ... --partitioned DIR` the direct chunk loader ([`super::chunks`]).

use futures::future::LocalBoxFuture;
use std::io::IsTerminal;
use std::sync::Arc;

use super::args::LoadArgs;
use super::error::Result;
use super::reference::{LoadSummary, load_reference};
use super::stream::Progress;
use crate::db::Endpoint;

/// Runs the load with a progress bar on a terminal; returns the summary line
/// `loaded N rows into D.T in Xs (R rows/s)`.
pub fn run<'a>(args: &'a LoadArgs) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: &LoadArgs) -> Result<String> {
    if let Some(dir) = &args.partitioned {
        return super::chunks_cli::run(args, dir).await;
    }
    let endpoint = Endpoint::parse(args.to.as_deref().unwrap_or_default())?;
    let load = args.reference_load()?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {human_pos} rows ({per_sec}) {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar.set_message(format!("into {}.{}", args.database, args.table));
        bar
    });
    let progress: Option<Progress> = bar.clone().map(|bar| {
        let progress: Progress = Arc::new(move |rows| bar.set_position(rows));
        progress
    });
    let result = load_reference(&endpoint, &load, progress).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(summary_line(&args.database, &args.table, &result?))
}

pub fn summary_line(database: &str, table: &str, summary: &LoadSummary) -> String {
    format!(
        "loaded {} rows into {database}.{table} in {:.2}s ({:.0} rows/s)",
        summary.rows,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second()
    )
}
