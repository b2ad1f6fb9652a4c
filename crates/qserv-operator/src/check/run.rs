//! Running a plan: built-in checks, then the user's, then the query files; a timeout per
//! user check or query.

use futures::future::LocalBoxFuture;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use super::compare::{self, CompareOptions};
use super::outcome::{comparison_result, failed};
use super::report::{CheckReport, SkipKind};
use super::suite;
use super::{CheckError, CheckPlan, CheckResult, CheckTarget, Conns, DEFAULT_MAX_SORT_BYTES};
use super::{builtin, spec};
use crate::api::catalog_ingest::{CatalogIngestSpec, Expect};
use crate::partition::Chunker;

/// Runs every check of `plan` on `target`.
pub fn run_checks<'a>(
    target: &'a CheckTarget,
    plan: &'a CheckPlan,
) -> LocalBoxFuture<'a, Result<CheckReport, CheckError>> {
    Box::pin(run_checks_unboxed(target, plan))
}

async fn run_checks_unboxed(
    target: &CheckTarget,
    plan: &CheckPlan,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    // Everything that can fail up front, before the first check runs.
    let chunker = match plan.layout {
        Some((s, ss, overlap)) => Some(layout_chunker(s, ss, overlap)?),
        None => None,
    };
    let databases = target.databases();
    let query_dir = match &plan.queries {
        Some(dir) => Some(
            suite::read_query_dir(dir, &databases, &plan.skip_numbers)
                .map_err(CheckError::QueryDir)?,
        ),
        None => None,
    };
    let max_sort_bytes = match plan.max_sort_bytes {
        0 => DEFAULT_MAX_SORT_BYTES,
        n => n,
    };
    let mut conns = Conns::open(target).await?;
    let mut report = CheckReport::new(&databases, target.without_qserv_functions);

    // Without a layout only the row counts and ids are checked.
    report
        .checks
        .extend(builtin::run(target, chunker.as_ref(), &plan.tables, builtin::CONCURRENCY).await);

    let no_reference = target.reference.is_none();
    for check in &plan.checks {
        if no_reference && check.expect == Expect::Reference {
            report.skip(&check.name, SkipKind::NoReference, spec::NO_REFERENCE);
            continue;
        }
        match spec::needs_qserv_functions(check).filter(|_| target.without_qserv_functions) {
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
        for file in dir.skipped {
            report.skip(&query_name(&file.name), file.kind, file.reason);
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
            let Some(reference) = conns.reference.as_mut() else {
                report.skip(&name, SkipKind::NoReference, spec::NO_REFERENCE);
                continue;
            };
            if let Some(reason) = query
                .needs_qserv_functions()
                .filter(|_| target.without_qserv_functions)
            {
                report.skip(&name, SkipKind::QservOnly, reason);
                continue;
            }
            let check_started = Instant::now();
            let options = CompareOptions {
                sort: query.order.sorts(),
                column_names: query.column_names,
                max_sort_bytes,
            };
            let run = async {
                let outcome = compare::compare(
                    &mut conns.qserv,
                    &query.qserv_sql,
                    reference,
                    &query.reference_sql,
                    options,
                )
                .await;
                let mut result = comparison_result(name.clone(), check_started, outcome);
                if result.first_difference.is_some()
                    && let Some(message) = &mut result.message
                {
                    message.push_str(&format!("; {}", query.order.describe()));
                }
                result
            };
            let result = within(plan.timeout, &name, run).await;
            report
                .checks
                .push(reconnect_after_timeout(target, &mut conns, result).await?);
        }
    }
    conns.disconnect().await;
    report.finish(started.elapsed().as_secs_f64());
    Ok(report)
}

/// The checks of a CatalogIngest, as its check Job runs them: the built-in checks of its
/// tables (against `rows_read` where known), its `checks[]`; no query directory.
/// `status.checks` = `report.checks`, `status.skippedChecks` = `report.status_skipped()`.
pub fn run_for_ingest<'a>(
    spec: &'a CatalogIngestSpec,
    qserv_url: &'a str,
    reference_url: Option<&'a str>,
    without_qserv_functions: bool,
    rows_read: &'a BTreeMap<String, u64>,
) -> LocalBoxFuture<'a, Result<CheckReport, CheckError>> {
    Box::pin(run_for_ingest_unboxed(
        spec,
        qserv_url,
        reference_url,
        without_qserv_functions,
        rows_read,
    ))
}

async fn run_for_ingest_unboxed(
    spec: &CatalogIngestSpec,
    qserv_url: &str,
    reference_url: Option<&str>,
    without_qserv_functions: bool,
    rows_read: &BTreeMap<String, u64>,
) -> Result<CheckReport, CheckError> {
    let target = CheckTarget::parse(
        qserv_url,
        reference_url,
        &spec.database,
        without_qserv_functions,
    )?;
    let plan = CheckPlan::from_spec(spec)?.with_rows_read(rows_read);
    run_checks(&target, &plan).await
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
