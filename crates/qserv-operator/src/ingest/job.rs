//! `qserv-operator job <step>`: what an ingest Job's pod runs. It reads the CatalogIngest and the
//! cluster's endpoints from its environment (set by [`super::plan::job`]), runs the step with the
//! same library code as the CLI subcommands, and writes its report — figures or the error that
//! stopped it — under its key of the results ConfigMap. A failed step also exits non-zero, so the
//! Job's own retries apply.

use futures::future::LocalBoxFuture;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;

use super::plan::{self, Step, env, partition_dir, partition_units};
use super::report::{StepReport, write_report};
use crate::api::catalog_ingest::{CatalogIngest, TableRole, TableStatus};

#[derive(Args, Debug, Clone)]
pub struct JobArgs {
    /// partition | load | reference | check
    pub step: String,
    /// Where the input files are (the source volume's mount).
    #[arg(long, default_value = plan::SOURCE_DIR)]
    pub source: PathBuf,
    /// Scratch volume shared by the steps (partitioner output).
    #[arg(long, default_value = plan::SCRATCH_DIR)]
    pub scratch: PathBuf,
    /// File shards per partitioned table (partition step).
    #[arg(long, default_value_t = 1)]
    pub shards: i32,
    /// Index of an Indexed Job (set by Kubernetes).
    #[arg(long, env = "JOB_COMPLETION_INDEX")]
    pub index: Option<i32>,
    /// Rows read per table, `TABLE=N` (check step: the row-count checks compare with them).
    #[arg(long = "rows-read", value_name = "TABLE=N")]
    pub rows_read: Vec<String>,
    /// The Qserv side lacks Qserv's own SQL functions (check step: the checks calling them are
    /// skipped). Set in the pod's environment where the query endpoint is not a real czar.
    #[arg(long, env = "QSERV_OPERATOR_WITHOUT_QSERV_FUNCTIONS")]
    pub without_qserv_functions: bool,
}

impl JobArgs {
    fn rows_read(&self) -> std::collections::BTreeMap<String, u64> {
        self.rows_read
            .iter()
            .filter_map(|kv| {
                let (table, n) = kv.split_once('=')?;
                Some((table.to_string(), n.parse().ok()?))
            })
            .collect()
    }
}

/// What the pod's environment says.
pub struct JobEnv {
    pub ingest: CatalogIngest,
    pub namespace: String,
    pub results_configmap: String,
    pub replication_url: String,
    pub auth_key: String,
    pub admin_auth_key: String,
    pub query_host: String,
    pub reference_host: Option<String>,
    pub root_password: String,
    pub qsmaster_password: String,
}

impl JobEnv {
    pub fn from_env() -> anyhow::Result<JobEnv> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| anyhow!("environment variable {name} is not set"))
        };
        let ingest: CatalogIngest = serde_json::from_str(&var(env::INGEST)?)
            .with_context(|| format!("{} is not a CatalogIngest", env::INGEST))?;
        Ok(JobEnv {
            ingest,
            namespace: var(env::NAMESPACE)?,
            results_configmap: var(env::RESULTS_CONFIGMAP)?,
            replication_url: var(env::REPLICATION_URL)?,
            auth_key: var(env::AUTH_KEY)?,
            admin_auth_key: var(env::ADMIN_AUTH_KEY)?,
            query_host: var(env::QUERY_HOST)?,
            reference_host: std::env::var(env::REFERENCE_HOST).ok(),
            root_password: var(env::ROOT_PASSWORD)?,
            qsmaster_password: var(env::QSMASTER_PASSWORD)?,
        })
    }

    /// `mysql://root:<password>@<host:port>`: the reference MariaDB.
    pub fn reference_url(&self) -> Option<String> {
        self.reference_host
            .as_ref()
            .map(|h| format!("mysql://root:{}@{h}", self.root_password))
    }

    /// The czar's query endpoint as `qsmaster`: mysql-proxy passes the login through to the
    /// czar's MariaDB, where the czar's migration created qsmaster with the password of the
    /// proxy's `--db-uri` (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-621`), the
    /// cluster Secret's `qsmaster-password` (generated alphanumeric, safe in a URI).
    pub fn query_url(&self) -> String {
        format!(
            "mysql://qsmaster:{}@{}",
            self.qsmaster_password, self.query_host
        )
    }
}

/// Runs the step, writes its report, and fails when the step failed.
pub fn run(args: JobArgs) -> LocalBoxFuture<'static, anyhow::Result<()>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: JobArgs) -> anyhow::Result<()> {
    let step = Step::from_name(&args.step).ok_or_else(|| {
        anyhow!(
            "unknown step {:?}: partition | load | reference | check",
            args.step
        )
    })?;
    let job_env = JobEnv::from_env()?;
    let started = Instant::now();
    let index = (step == Step::Partition).then(|| args.index.unwrap_or(0));
    let mut report = StepReport::new(step, index);
    let outcome = match step {
        Step::Partition => partition(&job_env, &args, index.unwrap_or(0)).await,
        Step::Reference => reference(&job_env, &args).await,
        Step::Load => load(&job_env, &args).await,
        Step::Check => check(&job_env, &args).await,
    };
    let failed = match outcome {
        Ok(done) => {
            report.tables = done.tables;
            report.checks = done.checks;
            report.skipped = done.skipped;
            report.transaction_id = done.transaction_id;
            report.phase_seconds = done.phase_seconds;
            None
        }
        Err(e) => {
            let message = format!("{e:#}");
            report.error = Some(message.clone());
            Some(message)
        }
    };
    report.seconds = started.elapsed().as_secs_f64();
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the Kubernetes API server to write the step report")?;
    write_report(
        &client,
        &job_env.namespace,
        &job_env.results_configmap,
        &report,
    )
    .await
    .with_context(|| {
        format!(
            "writing the report to ConfigMap {}",
            job_env.results_configmap
        )
    })?;
    match failed {
        Some(message) => bail!("{} step failed: {message}", step.name()),
        None => Ok(()),
    }
}

/// What a successful step produced.
#[derive(Default)]
struct Done {
    tables: Vec<TableStatus>,
    checks: Vec<crate::api::catalog_ingest::CheckResult>,
    skipped: Vec<crate::api::catalog_ingest::SkippedCheck>,
    transaction_id: Option<i64>,
    phase_seconds: std::collections::BTreeMap<String, f64>,
}

/// One index of the partition Job: the files of one shard of one table.
async fn partition(job: &JobEnv, args: &JobArgs, index: i32) -> anyhow::Result<Done> {
    let units = partition_units(&job.ingest, args.shards);
    let unit = units
        .get(usize::try_from(index).unwrap_or(usize::MAX))
        .ok_or_else(|| {
            anyhow!(
                "index {index} out of range: the Job has {} indexes",
                units.len()
            )
        })?
        .clone();
    let spec = job.ingest.spec.clone();
    let table = spec
        .tables
        .iter()
        .find(|t| t.name == unit.table)
        .cloned()
        .ok_or_else(|| anyhow!("table {} is not in the spec", unit.table))?;
    let out = partition_dir(&args.scratch, &unit.table, unit.shard);
    let source = args.source.clone();
    let started = Instant::now();
    let (names, summary) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // A file gone or unreadable since the ingest was validated is named by table and path.
        super::inputs::readable_files(&table, &source)?;
        // A retried pod starts over: the partitioner wants an empty output directory.
        if out.exists() {
            std::fs::remove_dir_all(&out)
                .with_context(|| format!("clearing {} of a previous attempt", out.display()))?;
        }
        let in_table = || format!("table {}", table.name);
        let (config, mut opts) =
            crate::from_spec::partition::table_plan(&spec, &table, &source, &out)
                .with_context(in_table)?;
        let mut files = std::mem::take(&mut opts.inputs);
        files.sort();
        opts.inputs = files
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (*i as i32) % unit.shards == unit.shard)
            .map(|(_, f)| f)
            .collect();
        let names: Vec<String> = opts
            .inputs
            .iter()
            .map(|f| super::inputs::in_source(&source, f))
            .collect();
        if opts.inputs.is_empty() {
            // More shards than files: this shard has nothing to do.
            std::fs::create_dir_all(&out)?;
            return Ok((names, None));
        }
        let summary =
            crate::partition::run::partition_files(&config, &opts).with_context(in_table)?;
        Ok((names, Some(summary)))
    })
    .await
    .context("the partition task panicked")??;
    let mut status = match summary {
        None => TableStatus {
            name: unit.table.clone(),
            ..TableStatus::default()
        },
        Some(s) => TableStatus {
            name: unit.table.clone(),
            rows_read: s.rows_read as i64,
            rows_rejected: s.rows_rejected as i64,
            chunks: s.chunks.values().filter(|c| c.rows > 0).count() as i64,
            overlap_rows: s.overlap_rows as i64,
            bytes: s.bytes as i64,
            duration_seconds: Some(started.elapsed().as_secs_f64()),
            ..TableStatus::default()
        },
    };
    status.set_files(names);
    Ok(Done {
        tables: vec![status],
        ..Done::default()
    })
}

/// Every table, unpartitioned, into the reference MariaDB.
async fn reference(job: &JobEnv, args: &JobArgs) -> anyhow::Result<Done> {
    let url = job
        .reference_url()
        .ok_or_else(|| anyhow!("the cluster has no reference database (spec.reference.enabled)"))?;
    let endpoint = crate::db::Endpoint::parse(&url)?;
    let spec = &job.ingest.spec;
    let mut tables = Vec::new();
    for table in &spec.tables {
        let started = Instant::now();
        let files = super::inputs::readable_files(table, &args.source)?;
        let load = reference_load(spec, table, &args.source)
            .with_context(|| format!("table {}", table.name))?;
        let summary = crate::load::load_reference(&endpoint, &load, None)
            .await
            .with_context(|| format!("loading table {} into the reference", table.name))?;
        let mut status = TableStatus {
            name: table.name.clone(),
            rows_loaded: summary.rows as i64,
            duration_seconds: Some(started.elapsed().as_secs_f64()),
            ..TableStatus::default()
        };
        status.set_files(names_in_source(&args.source, &files));
        tables.push(status);
    }
    Ok(Done {
        tables,
        ..Done::default()
    })
}

/// The reference load of one table of the spec: same files, format and selection as the
/// partitioned copy, the table's schema file (DDL or Felis) when the spec names one, into the
/// reference copy's database ([`crate::check::reference_database`]).
pub fn reference_load(
    spec: &crate::api::catalog_ingest::CatalogIngestSpec,
    table: &crate::api::catalog_ingest::TableSpec,
    source: &Path,
) -> anyhow::Result<crate::load::ReferenceLoad> {
    use crate::from_spec::catalog as cs;
    let input = crate::load::Input {
        files: cs::table_files(table, source)?,
        format: cs::input_format(table, source)?,
        selection: cs::selection_spec(table, spec.region.as_ref(), spec.filters.as_ref())?,
        batch_rows: crate::catalog::DEFAULT_BATCH_ROWS,
    };
    // Under the name the query suites give the reference copy (`_qserv` → `_mysql`).
    let database = crate::check::reference_database(&spec.database);
    let mut load = crate::load::ReferenceLoad::new(&database, &table.name, input);
    load.schema_file = cs::schema_file(table, source)?;
    load.allow_empty = table.allow_empty;
    Ok(load)
}

/// The partitioned tables through Qserv's replication ingest API: one transaction, published
/// when every chunk is in (see `crate::load::ingest` for what a re-run does).
async fn load(job: &JobEnv, args: &JobArgs) -> anyhow::Result<Done> {
    use crate::load::{ingest, ingest_plan};
    use crate::qserv::replication::ReplicationClient;
    // Regular tables are read here; the others' first file gives their columns.
    let mut inputs = std::collections::BTreeMap::new();
    for table in &job.ingest.spec.tables {
        let files = super::inputs::readable_files(table, &args.source)?;
        inputs.insert(table.name.clone(), (table.role, files));
    }
    let client = ReplicationClient::new(&job.replication_url, &job.auth_key, &job.admin_auth_key)?;
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(ingest::LoadProgress::default());
    let progress = tokio::spawn(publish_load_progress(
        job.namespace.clone(),
        job.results_configmap.clone(),
        progress_rx,
    ));
    // `<scratch>/partition/<table>/<shard>/`: the ingest takes every shard's files.
    let summary = ingest_plan::ingest_spec(
        &client,
        &job.ingest.spec,
        &args.source,
        &args.scratch.join("partition"),
        &ingest::IngestOptions {
            progress_to: Some(std::sync::Arc::new(progress_tx)),
            allow_warnings: job.ingest.spec.allow_warnings,
            ..ingest::IngestOptions::default()
        },
    )
    .await;
    // The sender is gone with the options: the publisher writes the last figures and ends.
    let _ = progress.await;
    let summary = summary?;
    tracing::info!(outcome = ?summary.outcome, "ingest done");
    let mut tables = summary.table_statuses();
    for t in &mut tables {
        if let Some((TableRole::Regular, files)) = inputs.get(&t.name) {
            t.set_files(names_in_source(&args.source, files));
        }
    }
    Ok(Done {
        tables,
        transaction_id: summary.transaction_id.map(i64::from),
        phase_seconds: summary.seconds.clone(),
        ..Done::default()
    })
}

/// Writes the load's progress into the results ConfigMap, at most every 2 s, until the ingest
/// drops its sender. Best effort: the final report is what counts.
async fn publish_load_progress(
    namespace: String,
    configmap: String,
    mut rx: tokio::sync::watch::Receiver<crate::load::ingest::LoadProgress>,
) {
    use super::report::{StepProgress, write_progress};
    let Ok(client) = kube::Client::try_default().await else {
        return;
    };
    let mut written = None;
    loop {
        let ended = rx.changed().await.is_err();
        let now = *rx.borrow_and_update();
        // Nothing to say before the contributions are counted, unless a resumed run goes
        // straight to publishing (then its stage replaces what an earlier attempt left).
        if (now.total > 0 || now.stage.is_some()) && written != Some(now) {
            let progress = StepProgress {
                step: Step::Load.name().into(),
                done: now.done,
                total: now.total,
                unit: "contributions".into(),
                rows: now.rows,
                stage: now.stage.map(String::from),
            };
            if let Err(e) = write_progress(&client, &namespace, &configmap, &progress).await {
                tracing::warn!(%e, "cannot write the load progress");
            }
            written = Some(now);
        }
        if ended {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

fn names_in_source(source: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| super::inputs::in_source(source, f))
        .collect()
}

/// Built-in checks, the spec's checks and the spec's query directory, Qserv against the
/// reference. A failed check is a result, not an error: the step succeeds and reports it.
async fn check(job: &JobEnv, args: &JobArgs) -> anyhow::Result<Done> {
    use crate::check::{CheckPlan, CheckTarget, run_checks};
    let spec = &job.ingest.spec;
    let target = CheckTarget::parse(
        &job.query_url(),
        job.reference_url().as_deref(),
        &spec.database,
        args.without_qserv_functions,
    )?;
    // The position units of each table, as its input files say (or the spec).
    let mut units = std::collections::BTreeMap::new();
    for table in &spec.tables {
        if let Some(u) = crate::from_spec::catalog::position_units(spec, table, &args.source)
            .with_context(|| format!("table {}: the units of its position", table.name))?
        {
            units.insert(table.name.clone(), u);
        }
    }
    let mut plan = CheckPlan::from_spec(spec)?
        .with_rows_read(&args.rows_read())
        .with_position_units(&units);
    plan.queries = match &spec.queries {
        Some(q) => Some(crate::from_spec::catalog::inside_source(
            &args.source,
            q,
            "",
            "spec.queries",
        )?),
        None => None,
    };
    let report = run_checks(&target, &plan).await?;
    Ok(Done {
        skipped: report.status_skipped(),
        checks: report.checks,
        ..Done::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference Job loads case01 where the check Job looks for it: qserv_testdata's
    /// `_mysql` twin of the Qserv database.
    #[test]
    fn the_reference_copy_goes_to_the_suites_reference_database() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text =
            std::fs::read_to_string(root.join("examples/catalogingest-case01.yaml")).unwrap();
        let spec = crate::check::cli::parse_spec(&text).unwrap();
        let source = root.join("../shared/data/qserv_testdata/case01");
        let load = reference_load(&spec, &spec.tables[0], &source).unwrap();
        assert_eq!(spec.database, "qservTest_case01_qserv");
        assert_eq!(load.database, "qservTest_case01_mysql");
        assert_eq!(load.table, "Object");
        let mut other = spec.clone();
        other.database = "qcase01".into();
        assert_eq!(
            reference_load(&other, &other.tables[0], &source)
                .unwrap()
                .database,
            "qcase01"
        );
    }
}
