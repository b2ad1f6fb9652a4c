//! Result checks: proof that Qserv and a plain MariaDB reference hold the same data and give
//! the same answers. Three kinds, run in this order:
//!
//! 1. built-in data checks per table ([`builtin`]): row counts, chunk placement, unique ids;
//! 2. the user's checks from the CatalogIngest spec ([`spec`]);
//! 3. the qserv_testdata query files of a directory ([`suite`], [`queries`]), compared with
//!    [`compare`] as Qserv's integration test runner compares them: each side on its own
//!    database ([`databases`]), column names as MariaDB compares them ([`columns`]), rows in
//!    order only where the query orders them ([`order`]).
//!
//! A check that fails (wrong rows, an SQL error on a side) is a failed [`CheckResult`] in the
//! [`CheckReport`]; only what prevents running any check (no connection, an unreadable query
//! directory, a bad layout) is an error. Where the Qserv side lacks Qserv's own SQL functions
//! (`scisql_*`, `qserv_areaspec_*`: local mode's query endpoint is a plain MariaDB) checks calling
//! them are skipped with the reason.
//!
//! ```no_run
//! # use qserv_operator::check::*;
//! # async fn example(spec: &qserv_operator::api::catalog_ingest::CatalogIngestSpec) -> Result<(), CheckError> {
//! let target = CheckTarget::parse("mysql://qsmaster@czar:4040", Some("mysql://root@ref:3306"), "case01", false)?;
//! let mut plan = CheckPlan::from_spec(spec)?;
//! plan.queries = Some("queries".into());
//! let report = run_checks(&target, &plan).await?;
//! println!("{}", report.summary());
//! // For CatalogIngest status: report.checks (CheckResult), report.status_skipped() (SkippedCheck),
//! // report.checks_summary() ("passed/total").
//! # Ok(()) }
//! ```

pub mod builtin;
pub mod cli;
pub mod columns;
pub mod compare;
pub mod databases;
mod error;
pub mod order;
mod outcome;
mod plan;
pub mod qserv_only;
pub mod queries;
pub mod report;
mod run;
pub mod spec;
pub mod suite;
mod target;

pub use crate::api::catalog_ingest::CheckResult;
pub use builtin::TableCheck;
pub use compare::{CompareOptions, Comparison, DEFAULT_MAX_SORT_BYTES};
pub use databases::{Databases, reference_database};
pub use error::CheckError;
pub(crate) use outcome::{comparison_result, failed, passed};
pub use plan::CheckPlan;
pub use report::{CheckReport, SkipKind, SkippedCheck};
pub use run::{layout_chunker, query_name, run_checks, run_for_ingest};
pub use target::{CheckTarget, Conns};
