//! The user's checks of a CatalogIngest (`spec.checks[]`):
//!
//! - `expect: reference`: the same SQL on Qserv and on the reference gives the same rows
//!   (sorted first with `sort: true`);
//! - `expect: rows`: the query returns `rows` rows on Qserv;
//! - `expect: value`: the query returns one row of one value on Qserv, equal to `value` as
//!   MariaDB renders it, or as a number when both read as numbers (`1.50` = `1.5`).

use std::time::Instant;

use super::compare::{self, CompareOptions, Side};
use super::qserv_only::{QSERV_ONLY_PREFIXES, functions_with_prefix, needs_real_qserv};
use super::{CheckResult, Conns, failed, passed};
use crate::api::catalog_ingest::{CheckSpec, Expect};

/// Why checks comparing with the reference do not run without one.
pub const NO_REFERENCE: &str =
    "no reference database (QservCluster spec.reference.enabled is false): nothing to compare with";

/// Why `check` cannot run when the Qserv side lacks Qserv's own SQL functions, if it cannot.
pub fn needs_qserv_functions(check: &CheckSpec) -> Option<String> {
    needs_real_qserv(&functions_with_prefix(&check.sql, &QSERV_ONLY_PREFIXES))
}

/// Runs one user check.
pub async fn run(conns: &mut Conns, check: &CheckSpec, max_sort_bytes: usize) -> CheckResult {
    let started = Instant::now();
    let name = check.name.clone();
    match check.expect {
        Expect::Reference => {
            let Some(reference) = conns.reference.as_mut() else {
                return failed(name, started, NO_REFERENCE);
            };
            let options = CompareOptions {
                sort: check.sort,
                column_names: true,
                max_sort_bytes,
            };
            super::comparison_result(
                name,
                started,
                compare::compare(&mut conns.qserv, &check.sql, reference, &check.sql, options)
                    .await,
            )
        }
        Expect::Rows => {
            let Some(want) = check.rows else {
                return failed(name, started, "expect: rows needs rows");
            };
            match compare::run_one(&mut conns.qserv, &check.sql, Side::Qserv).await {
                Err(e) => failed(name, started, e.to_string()),
                Ok((_, got, _)) => {
                    let mut r = if got as i64 == want {
                        passed(name, started)
                    } else {
                        failed(name, started, format!("expected {want} rows, got {got}"))
                    };
                    r.qserv_rows = Some(got as i64);
                    r
                }
            }
        }
        Expect::Value => {
            let Some(want) = &check.value else {
                return failed(name, started, "expect: value needs value");
            };
            match compare::run_one(&mut conns.qserv, &check.sql, Side::Qserv).await {
                Err(e) => failed(name, started, e.to_string()),
                Ok((columns, rows, first)) => {
                    let mut r = match (rows, first) {
                        (1, Some(row)) if row.len() == 1 => {
                            let got = compare::show_value(&columns, 0, &row[0]);
                            if row[0].as_deref().is_some_and(|b| same_value(b, want)) {
                                passed(name, started)
                            } else {
                                failed(name, started, format!("expected {want}, got {got}"))
                            }
                        }
                        (1, Some(row)) => failed(
                            name,
                            started,
                            format!("expected one value, got a row of {} columns", row.len()),
                        ),
                        (n, _) => failed(
                            name,
                            started,
                            format!("expected one row (a value), got {n}"),
                        ),
                    };
                    r.qserv_rows = Some(rows as i64);
                    r
                }
            }
        }
    }
}

/// Whether MariaDB's text `got` is `want`: the same text, or the same number.
fn same_value(got: &[u8], want: &str) -> bool {
    let Ok(got) = std::str::from_utf8(got) else {
        return false;
    };
    if got == want {
        return true;
    }
    match (got.trim().parse::<f64>(), want.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_as_text_or_number() {
        assert!(same_value(b"9", "9"));
        assert!(same_value(b"1.5", "1.50"));
        assert!(same_value(b"abc", "abc"));
        assert!(!same_value(b"9", "10"));
        assert!(!same_value(b"abc", "ABC"));
        assert!(!same_value(&[0xff], "x"));
    }
}
