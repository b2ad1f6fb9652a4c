//! Result checks: proof that Qserv and a plain MariaDB reference hold the same data and give
//! the same answers. Three kinds, run in this order:
//!
//! 1. built-in data checks per table ([`builtin`]): row counts, chunk placement, unique ids;
//! 2. the user's checks from the CatalogIngest spec ([`spec`]);
//! 3. the qserv_testdata query files of a directory ([`queries`]), compared with [`compare`].
//!
//! A check that fails (wrong rows, an SQL error on a side) is a failed [`CheckResult`] in the
//! [`CheckReport`]; only what prevents running any check (no connection, an unreadable query
//! directory, a bad layout) is an error. In local mode (the Qserv side is a MariaDB, not a real
//! Qserv) checks calling Qserv-only functions are skipped with the reason.
//!
//! ```no_run
//! # use qserv_operator::check::*;
//! # async fn example(spec: &qserv_operator::api::catalog_ingest::CatalogIngestSpec) -> Result<(), CheckError> {
//! let target = CheckTarget::parse("mysql://root@czar:4040", "mysql://root@ref:3306", "case01", true)?;
//! let mut plan = CheckPlan::from_spec(spec)?;
//! plan.queries = Some("queries".into());
//! let report = run_checks(&target, &plan).await?;
//! println!("{}", report.summary());
//! # Ok(()) }
//! ```

pub mod builtin;
pub mod cli;
pub mod compare;
pub mod queries;
pub mod report;
pub mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mysql_async::Conn;

pub use crate::api::catalog_ingest::CheckResult;
use crate::api::catalog_ingest::{CatalogIngestSpec, CheckSpec};
use crate::load::Endpoint;
use crate::load::endpoint::reason;
use crate::partition::Chunker;
pub use builtin::TableCheck;
pub use compare::{CompareOptions, Comparison, DEFAULT_MAX_SORT_BYTES};
pub use report::{CheckReport, SkipKind, SkippedCheck};

/// An error that prevents the checks from running.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Endpoint(#[from] crate::load::LoadError),
    #[error("{side} ({endpoint}): cannot connect to database `{database}`: {message}")]
    Database {
        side: compare::Side,
        endpoint: String,
        database: String,
        message: String,
    },
    #[error("query directory {0}")]
    QueryDir(std::io::Error),
    #[error("partitioning {stripes}/{sub_stripes}/{overlap}: {reason}")]
    Layout {
        stripes: i32,
        sub_stripes: i32,
        overlap: f64,
        reason: String,
    },
}

/// The two servers and the database the checks run on.
#[derive(Clone, Debug)]
pub struct CheckTarget {
    /// Qserv's query endpoint (the czar; in local mode a MariaDB over the workers' chunks).
    pub qserv: Endpoint,
    /// The plain MariaDB holding the unpartitioned copies.
    pub reference: Endpoint,
    /// Database name on both sides.
    pub database: String,
    /// The Qserv side is not a real Qserv: checks needing Qserv-only functions are skipped.
    pub local: bool,
}

impl CheckTarget {
    pub fn parse(
        qserv: &str,
        reference: &str,
        database: &str,
        local: bool,
    ) -> Result<Self, CheckError> {
        Ok(CheckTarget {
            qserv: Endpoint::parse(qserv)?,
            reference: Endpoint::parse(reference)?,
            database: database.to_string(),
            local,
        })
    }
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckPlan {
    /// Tables for the built-in checks.
    pub tables: Vec<TableCheck>,
    /// Layout of the partitioned tables: (stripes, sub-stripes, overlap in degrees).
    pub layout: Option<(i32, i32, f64)>,
    /// The user's checks.
    pub checks: Vec<CheckSpec>,
    /// A qserv_testdata `queries/` directory.
    pub queries: Option<PathBuf>,
    /// Cap of sorted comparisons, bytes per side ([`DEFAULT_MAX_SORT_BYTES`] when 0).
    pub max_sort_bytes: usize,
    /// Longest a user check or a query may run (none: no limit). Built-in checks scan whole
    /// tables and have no limit.
    pub timeout: Option<Duration>,
}

impl CheckPlan {
    /// Built-in checks of the spec's tables (rows read unknown) and its checks.
    pub fn from_spec(spec: &CatalogIngestSpec) -> Result<Self, CheckError> {
        let p = &spec.partitioning;
        Ok(CheckPlan {
            tables: builtin::tables_from_spec(spec),
            layout: Some((p.stripes, p.sub_stripes, p.overlap)),
            checks: spec.checks.clone(),
            ..CheckPlan::default()
        })
    }

    /// Sets the rows read of the named tables (others keep theirs).
    pub fn with_rows_read(mut self, rows_read: &BTreeMap<String, u64>) -> Self {
        for table in &mut self.tables {
            if let Some(n) = rows_read.get(&table.name) {
                table.rows_read = Some(*n);
            }
        }
        self
    }
}

/// One open connection per side, on the checked database.
pub struct Conns {
    pub qserv: Conn,
    pub reference: Conn,
}

impl Conns {
    pub async fn open(target: &CheckTarget) -> Result<Self, CheckError> {
        let (q, r) = futures::join!(
            use_database(&target.qserv, &target.database, compare::Side::Qserv),
            use_database(
                &target.reference,
                &target.database,
                compare::Side::Reference
            )
        );
        Ok(Conns {
            qserv: q?,
            reference: r?,
        })
    }
}

/// A connection as lsst/qserv's integration tests make one to Qserv (`itest.py`,
/// `run_attached`: the `mysql` client with `--database`): the database in the handshake, no
/// session statements, and only text-protocol queries afterwards, which is all a czar needs
/// to understand.
async fn use_database(
    endpoint: &Endpoint,
    database: &str,
    side: compare::Side,
) -> Result<Conn, CheckError> {
    let opts = endpoint.opts();
    // In local mode the host is a Service name the runtime maps to a loopback port.
    let (host, port) = crate::local::addresses::resolve(opts.ip_or_hostname(), opts.tcp_port());
    let opts = mysql_async::OptsBuilder::from_opts(opts.clone())
        .ip_or_hostname(host)
        .tcp_port(port)
        .db_name(Some(database));
    Conn::new(opts).await.map_err(|err| CheckError::Database {
        side,
        endpoint: endpoint.address(),
        database: database.to_string(),
        message: reason(&err),
    })
}

/// Runs every check of `plan` on `target`.
pub async fn run_checks(target: &CheckTarget, plan: &CheckPlan) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    // Everything that can fail up front, before the first check runs.
    let chunker = match plan.layout {
        Some((s, ss, overlap)) => Some(layout_chunker(s, ss, overlap)?),
        None => None,
    };
    let query_dir = match &plan.queries {
        Some(dir) => {
            Some(queries::read_query_dir(dir, &target.database).map_err(CheckError::QueryDir)?)
        }
        None => None,
    };
    let max_sort_bytes = match plan.max_sort_bytes {
        0 => DEFAULT_MAX_SORT_BYTES,
        n => n,
    };
    let mut conns = Conns::open(target).await?;
    let mut report = CheckReport::new(&target.database, target.local);

    if let Some(chunker) = &chunker {
        report
            .checks
            .extend(builtin::run(&mut conns, chunker, &plan.tables).await);
    } else {
        // Without a layout only the row counts can be checked.
        let tables: Vec<TableCheck> = plan
            .tables
            .iter()
            .map(|t| TableCheck {
                position: None,
                ..t.clone()
            })
            .collect();
        let any = Chunker::new(1, 1, 0.0).expect("the 1/1/0 layout is valid");
        report
            .checks
            .extend(builtin::run(&mut conns, &any, &tables).await);
    }

    for check in &plan.checks {
        match spec::local_mode_blocker(check).filter(|_| target.local) {
            Some(reason) => report.skip(&check.name, SkipKind::QservOnly, reason),
            None => {
                let run = spec::run(&mut conns, check, max_sort_bytes);
                let result = within(plan.timeout, &check.name, run).await;
                report
                    .checks
                    .push(reconnect_after_timeout(target, &mut conns, result).await?);
            }
        }
    }

    if let Some(dir) = query_dir {
        for file in dir.fixme {
            report.skip(&query_name(&file.name), SkipKind::Fixme, file.reason);
        }
        for invalid in dir.invalid {
            report.checks.push(failed(
                query_name(&invalid.name),
                Instant::now(),
                invalid.to_string(),
            ));
        }
        for query in dir.queries {
            let name = query_name(&query.name);
            if let Some(reason) = query.local_mode_blocker().filter(|_| target.local) {
                report.skip(&name, SkipKind::QservOnly, reason);
                continue;
            }
            let check_started = Instant::now();
            let options = CompareOptions {
                sort: query.sort_result,
                column_names: query.column_names,
                max_sort_bytes,
            };
            let run = async {
                let outcome = compare::compare(
                    &mut conns.qserv,
                    &query.qserv_sql,
                    &mut conns.reference,
                    &query.reference_sql,
                    options,
                )
                .await;
                comparison_result(name.clone(), check_started, outcome)
            };
            let result = within(plan.timeout, &name, run).await;
            report
                .checks
                .push(reconnect_after_timeout(target, &mut conns, result).await?);
        }
    }
    let _ = futures::join!(conns.qserv.disconnect(), conns.reference.disconnect());
    report.finish(started.elapsed().as_secs_f64());
    Ok(report)
}

/// `check`'s result, or a failed one when it takes longer than `timeout` (`Err`).
async fn within(
    timeout: Option<Duration>,
    name: &str,
    check: impl Future<Output = CheckResult>,
) -> Result<CheckResult, CheckResult> {
    let started = Instant::now();
    match timeout {
        None => Ok(check.await),
        Some(limit) => tokio::time::timeout(limit, check).await.map_err(|_| {
            failed(
                name,
                started,
                format!("timed out after {}s", limit.as_secs_f64()),
            )
        }),
    }
}

/// A timed-out check leaves its connections in the middle of a statement: open new ones.
async fn reconnect_after_timeout(
    target: &CheckTarget,
    conns: &mut Conns,
    result: Result<CheckResult, CheckResult>,
) -> Result<CheckResult, CheckError> {
    match result {
        Ok(result) => Ok(result),
        Err(timed_out) => {
            *conns = Conns::open(target).await?;
            Ok(timed_out)
        }
    }
}

/// The check name of a query file (`query/0001.1_fetchObjectById`).
pub fn query_name(stem: &str) -> String {
    format!("query/{stem}")
}

/// The Chunker of a CatalogIngest layout, or why there is none.
pub fn layout_chunker(stripes: i32, sub_stripes: i32, overlap: f64) -> Result<Chunker, CheckError> {
    let layout_error = |reason: String| CheckError::Layout {
        stripes,
        sub_stripes,
        overlap,
        reason,
    };
    let s = u32::try_from(stripes).map_err(|_| layout_error("stripes must be > 0".into()))?;
    let ss =
        u32::try_from(sub_stripes).map_err(|_| layout_error("subStripes must be > 0".into()))?;
    Chunker::new(s, ss, overlap).map_err(|err| layout_error(err.to_string()))
}

pub(crate) fn passed(name: impl Into<String>, started: Instant) -> CheckResult {
    CheckResult {
        name: name.into(),
        passed: true,
        duration_seconds: Some(started.elapsed().as_secs_f64()),
        ..CheckResult::default()
    }
}

pub(crate) fn failed(
    name: impl Into<String>,
    started: Instant,
    message: impl ToString,
) -> CheckResult {
    CheckResult {
        name: name.into(),
        passed: false,
        message: Some(message.to_string()),
        duration_seconds: Some(started.elapsed().as_secs_f64()),
        ..CheckResult::default()
    }
}

/// The result of a two-sided comparison.
pub(crate) fn comparison_result(
    name: String,
    started: Instant,
    outcome: Result<Comparison, compare::CompareError>,
) -> CheckResult {
    match outcome {
        Err(err) => failed(name, started, err),
        Ok(c) => {
            let mut r = match &c.first_difference {
                None => passed(name, started),
                Some(_) => failed(
                    name,
                    started,
                    format!(
                        "results differ ({} rows from Qserv, {} from the reference)",
                        c.qserv_rows, c.reference_rows
                    ),
                ),
            };
            r.qserv_rows = Some(c.qserv_rows as i64);
            r.reference_rows = Some(c.reference_rows as i64);
            r.first_difference = c.first_difference;
            r
        }
    }
}
