//! A check's [`CheckResult`]: passed, failed with a message, or the outcome of a comparison.

use std::time::Instant;

use super::compare::{self, Comparison};
use crate::api::catalog_ingest::CheckResult;

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
