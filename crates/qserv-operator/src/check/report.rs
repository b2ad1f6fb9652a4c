//! The outcome of a check run: the JSON a `check` Job writes (`--result-file`) and the
//! CatalogIngest controller folds into status (`checks` are the status' own `CheckResult`s),
//! and the table `qserv-operator check` prints.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::CheckResult;
use super::databases::Databases;
use crate::api::catalog_ingest;

/// Why a check did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SkipKind {
    /// A query file marked FIXME (`*.sql.FIXME`): not a `*.sql` file, which alone run.
    Fixme,
    /// Another entry of the query directory that is not a `*.sql` file (or a directory).
    NotSql,
    /// A `*.sql` file whose number is one of the skip numbers.
    SkipNumber,
    /// Needs Qserv-only functions and the Qserv side does not have them.
    QservOnly,
    /// Compares with the reference, and there is none.
    NoReference,
}

/// A check that did not run, and why: status' `SkippedCheck` plus the kind, so its JSON also
/// reads as a status `SkippedCheck`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedCheck {
    pub name: String,
    pub kind: SkipKind,
    pub reason: String,
}

/// Every check of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The database on Qserv.
    pub database: String,
    /// The database on the reference (see `check::databases`).
    #[serde(default)]
    pub reference_database: String,
    /// The Qserv side had no Qserv-only SQL functions: checks calling them were skipped.
    pub without_qserv_functions: bool,
    pub passed: usize,
    pub failed: usize,
    pub checks: Vec<CheckResult>,
    pub skipped: Vec<SkippedCheck>,
    pub duration_seconds: f64,
}

impl CheckReport {
    pub fn new(databases: &Databases, without_qserv_functions: bool) -> Self {
        CheckReport {
            database: databases.qserv.clone(),
            reference_database: databases.reference.clone(),
            without_qserv_functions,
            passed: 0,
            failed: 0,
            checks: Vec::new(),
            skipped: Vec::new(),
            duration_seconds: 0.0,
        }
    }

    pub fn skip(&mut self, name: &str, kind: SkipKind, reason: impl Into<String>) {
        self.skipped.push(SkippedCheck {
            name: name.to_string(),
            kind,
            reason: reason.into(),
        });
    }

    /// Counts the outcomes.
    pub fn finish(&mut self, duration_seconds: f64) {
        self.passed = self.checks.iter().filter(|c| c.passed).count();
        self.failed = self.checks.len() - self.passed;
        self.duration_seconds = duration_seconds;
    }

    /// The skipped checks as CatalogIngest status shows them (`status.skippedChecks`).
    pub fn status_skipped(&self) -> Vec<catalog_ingest::SkippedCheck> {
        self.skipped
            .iter()
            .map(|s| catalog_ingest::SkippedCheck {
                name: s.name.clone(),
                reason: s.reason.clone(),
            })
            .collect()
    }

    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// `passed/total` as CatalogIngest status' `checksSummary`.
    pub fn checks_summary(&self) -> String {
        format!("{}/{}", self.passed, self.checks.len())
    }

    /// One line: `56/60 checks passed, 4 FAILED, 12 skipped (Qserv-only), 38 skipped (FIXME) in 1.2s`.
    pub fn summary(&self) -> String {
        let count = |kind| self.skipped.iter().filter(|s| s.kind == kind).count();
        let mut line = format!("{}/{} checks passed", self.passed, self.checks.len());
        if self.failed > 0 {
            line.push_str(&format!(", {} FAILED", self.failed));
        }
        for (kind, label) in [
            (SkipKind::QservOnly, "Qserv-only functions"),
            (SkipKind::Fixme, "FIXME"),
            (SkipKind::SkipNumber, "skip number"),
            (SkipKind::NotSql, "not *.sql"),
            (SkipKind::NoReference, "no reference"),
        ] {
            let n = count(kind);
            if n > 0 {
                line.push_str(&format!(", {n} skipped ({label})"));
            }
        }
        line.push_str(&format!(" in {:.2}s", self.duration_seconds));
        line
    }

    /// The table of `qserv-operator check`: one line per check, then the skipped ones, then
    /// the summary.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut lines: Vec<[String; 5]> = vec![[
            "CHECK".into(),
            "RESULT".into(),
            "ROWS Q/R".into(),
            "SECONDS".into(),
            "FIRST DIFFERENCE / MESSAGE".into(),
        ]];
        let rows = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
        for c in &self.checks {
            let detail = match (&c.first_difference, &c.message) {
                (Some(d), _) => d.clone(),
                (None, Some(m)) if !c.passed => m.clone(),
                _ => String::new(),
            };
            lines.push([
                c.name.clone(),
                if c.passed { "passed" } else { "FAILED" }.into(),
                format!("{}/{}", rows(c.qserv_rows), rows(c.reference_rows)),
                c.duration_seconds.map_or("-".into(), |s| format!("{s:.3}")),
                detail,
            ]);
        }
        for s in &self.skipped {
            lines.push([
                s.name.clone(),
                "skipped".into(),
                "-".into(),
                "-".into(),
                s.reason.clone(),
            ]);
        }
        let mut widths = [0usize; 4];
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for line in &lines {
            let mut text = String::new();
            for (w, cell) in widths.iter().zip(line) {
                text.push_str(cell);
                text.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
            text.push_str(&line[4]);
            writeln!(out, "{}", text.trim_end())?;
        }
        writeln!(out, "{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_table() {
        let mut report = CheckReport::new(&Databases::of("db_qserv"), true);
        report.checks.push(CheckResult {
            name: "rows/Object".into(),
            passed: true,
            qserv_rows: Some(88),
            reference_rows: Some(88),
            duration_seconds: Some(0.01),
            ..Default::default()
        });
        report.checks.push(CheckResult {
            name: "query/x".into(),
            passed: false,
            qserv_rows: Some(1),
            reference_rows: Some(2),
            first_difference: Some("row 2: qserv: (no row) reference: (5)".into()),
            message: Some("results differ".into()),
            duration_seconds: Some(0.02),
        });
        report.skip("query/y", SkipKind::Fixme, "marked FIXME");
        report.finish(1.5);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["passed"], 1);
        assert_eq!(json["failed"], 1);
        assert_eq!(
            json["checks"][1]["firstDifference"],
            "row 2: qserv: (no row) reference: (5)"
        );
        assert_eq!(json["checks"][0]["qservRows"], 88);
        assert_eq!(json["skipped"][0]["kind"], "fixme");
        assert_eq!(json["durationSeconds"], 1.5);
        assert_eq!(json["database"], "db_qserv");
        assert_eq!(json["referenceDatabase"], "db_mysql");
        let back: CheckReport = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, report);
        let as_status: catalog_ingest::SkippedCheck =
            serde_json::from_value(json["skipped"][0].clone()).unwrap();
        assert_eq!(vec![as_status], report.status_skipped());
        assert_eq!(report.status_skipped()[0].reason, "marked FIXME");

        let mut out = Vec::new();
        report.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("CHECK        RESULT   ROWS Q/R"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("rows/Object  passed   88/88"),
            "{text}"
        );
        assert!(
            lines[2].contains("FAILED   1/2") && lines[2].ends_with("reference: (5)"),
            "{text}"
        );
        assert!(
            lines[3].contains("skipped") && lines[3].ends_with("marked FIXME"),
            "{text}"
        );
        assert_eq!(
            lines[4],
            "1/2 checks passed, 1 FAILED, 1 skipped (FIXME) in 1.50s"
        );
        assert!(!report.all_passed());
        assert_eq!(report.checks_summary(), "1/2");
    }
}
