//! `qserv-operator check`: the checks of a CatalogIngest (its tables, its `checks[]`) and of a
//! qserv_testdata query directory, printed as a table or JSON, optionally written as JSON for
//! the controller (`--result-file`).

use futures::future::LocalBoxFuture;
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use super::{CheckPlan, CheckReport, CheckTarget, run_checks};
use crate::api::catalog_ingest::{CatalogIngest, CatalogIngestSpec};

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
    /// The reference MariaDB, `mysql://user[:password]@host:port`; without it, checks comparing
    /// with the reference are skipped.
    #[arg(long, value_name = "URL")]
    pub reference: Option<String>,
    /// The database on Qserv (default: the spec's `database`).
    #[arg(long)]
    pub database: Option<String>,
    /// The database on the reference (default: the Qserv database, with a final `_qserv`
    /// replaced by `_mysql` as qserv_testdata names its reference copies).
    #[arg(long, value_name = "NAME")]
    pub reference_database: Option<String>,
    /// A qserv_testdata `queries/` directory (`NNNN_name.sql` files).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Do not run the query files of this number, the text before the first `_` of the file
    /// name (as `skip_numbers` in Qserv's integration_tests.yaml; repeatable or comma-separated;
    /// added to the spec's `querySkipNumbers`).
    #[arg(long, value_name = "NUMBER", value_delimiter = ',')]
    pub skip_number: Vec<String>,
    /// A CatalogIngest manifest (or only its `spec`), YAML or JSON: its tables get the
    /// built-in checks, its `checks` run.
    #[arg(long, value_name = "FILE", conflicts_with = "spec_text")]
    pub spec: Option<PathBuf>,
    /// The same as text, for Jobs that pass the spec in their environment.
    #[arg(
        long,
        value_name = "YAML",
        env = "QSERV_OPERATOR_CHECK_SPEC",
        hide_env_values = true
    )]
    pub spec_text: Option<String>,
    /// The Qserv side lacks Qserv's own SQL functions (scisql_*, qserv_areaspec_*; local mode's
    /// query endpoint is a plain MariaDB): skip the checks that call them.
    #[arg(long, env = "QSERV_OPERATOR_WITHOUT_QSERV_FUNCTIONS")]
    pub without_qserv_functions: bool,
    /// Rows read from the input of a table, checked against both sides (repeatable).
    #[arg(long, value_name = "TABLE=N", value_parser = parse_rows_read)]
    pub rows_read: Vec<(String, u64)>,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE")]
    pub result_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Longest a user check or a query may run before it fails (seconds).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
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

/// A CatalogIngest's spec from a manifest (`kind: CatalogIngest`) or from a bare spec.
pub fn parse_spec(text: &str) -> anyhow::Result<CatalogIngestSpec> {
    let value: serde_json::Value = serde_norway::from_str(text).context("not YAML or JSON")?;
    if value.get("kind").is_some() {
        let ingest: CatalogIngest =
            serde_json::from_value(value).context("not a CatalogIngest manifest")?;
        Ok(ingest.spec)
    } else {
        serde_json::from_value(value).context("not a CatalogIngest spec")
    }
}

/// Runs the checks and prints the report; returns it (the caller exits non-zero when a check
/// failed).
pub fn run<'a>(args: &'a CheckArgs) -> LocalBoxFuture<'a, anyhow::Result<CheckReport>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let ingest: Option<CatalogIngestSpec> = match (&args.spec, &args.spec_text) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            Some(parse_spec(&text).with_context(|| file.display().to_string())?)
        }
        (None, Some(text)) => Some(parse_spec(text).context("--spec-text")?),
        (None, None) => None,
    };
    let mut plan = match &ingest {
        Some(spec) => CheckPlan::from_spec(spec)?,
        None => CheckPlan::default(),
    };
    let spec_database = ingest.map(|spec| spec.database);
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
    plan.skip_numbers.extend(args.skip_number.iter().cloned());
    plan.max_sort_bytes = args.max_sort_bytes;
    plan.timeout = match args.timeout {
        Some(s) if s.is_finite() && s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => anyhow::bail!("--timeout {s}: expected a number of seconds > 0"),
        None => None,
    };
    let mut target = CheckTarget::parse(
        &args.qserv,
        args.reference.as_deref(),
        &database,
        args.without_qserv_functions,
    )?;
    if let Some(reference_database) = &args.reference_database {
        target.reference_database = reference_database.clone();
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_come_as_manifests_or_bare() {
        let manifest = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/catalogingest-case01.yaml"),
        )
        .unwrap();
        let spec = parse_spec(&manifest).unwrap();
        assert_eq!(spec.database, "qservTest_case01_qserv");
        assert_eq!(spec.checks.len(), 5);
        let bare = serde_json::to_string(&spec).unwrap();
        assert_eq!(parse_spec(&bare).unwrap(), spec);
        let err = parse_spec("kind: CatalogIngest\nspec: {database: 3}\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a CatalogIngest manifest"),
            "{err:#}"
        );
        assert_eq!(
            parse_rows_read("Object=88").unwrap(),
            ("Object".to_string(), 88)
        );
        assert!(parse_rows_read("Object").unwrap_err().contains("TABLE=N"));
    }
}
