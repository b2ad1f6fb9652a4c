//! Spec validation that reports *every* problem with its field path, not just the first.
//!
//! The API server enforces the CEL rules in the CRDs; `validate()` re-checks those and adds the
//! rules CEL cannot express (durations, globs, SQL-free names), so the controller and the CLI
//! give the same answer before anything is built.

use std::fmt;

/// One problem in a spec, e.g. `spec.workers.replicas: must be >= 1, got 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSONPath-like location, `spec.tables[1].raColumn`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All problems found in one spec; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("; "))
    }
}

impl ValidationErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn paths(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.path.as_str()).collect()
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// A field path such as `spec.tables[1].raColumn`; cheap to extend while walking a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn root(name: &str) -> Self {
        FieldPath(name.to_string())
    }

    /// The path of a child field.
    pub fn at(&self, field: &str) -> Self {
        FieldPath(format!("{}.{field}", self.0))
    }

    /// The path of a list element.
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects every problem found while walking a spec.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.0.clone(),
            message: message.into(),
        });
    }

    /// Records `message` when `ok` is false.
    pub fn ensure(&mut self, path: &FieldPath, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.add(path, message());
        }
    }

    pub fn min_i64(&mut self, path: &FieldPath, value: i64, min: i64) {
        self.ensure(path, value >= min, || {
            format!("must be >= {min}, got {value}")
        });
    }

    pub fn not_empty(&mut self, path: &FieldPath, value: &str) {
        self.ensure(path, !value.trim().is_empty(), || {
            "must not be empty".into()
        });
    }

    /// A Kubernetes object name (RFC 1123 DNS label).
    pub fn dns_label(&mut self, path: &FieldPath, value: &str) {
        let ok = !value.is_empty()
            && value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        self.ensure(path, ok, || {
            format!(
                "must be a DNS label (lower-case letters, digits, '-', at most 63), got {value:?}"
            )
        });
    }

    /// A path (or glob) that stays inside the source it is relative to: not absolute, no `..`
    /// component (the Job checks the resolved path again, symlinks included).
    pub fn inside_source(&mut self, path: &FieldPath, value: &str) {
        self.ensure(path, stays_inside(value), || {
            format!("must be a path inside the source (relative, without `..`), got {value:?}")
        });
    }

    /// A MariaDB/Qserv identifier: letters, digits and '_', not starting with a digit, <= 64.
    pub fn sql_identifier(&mut self, path: &FieldPath, value: &str) {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !value.as_bytes()[0].is_ascii_digit();
        self.ensure(path, ok, || {
            format!(
                "must be a SQL identifier (letters, digits, '_', not starting with a digit, at most 64), got {value:?}"
            )
        });
    }

    /// `Ok(())` when nothing was found, else every problem.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        ValidationErrors(self.0).into_result()
    }
}

/// Relative, no `..` component, no NUL.
pub fn stays_inside(path: &str) -> bool {
    !path.starts_with('/') && !path.contains('\0') && !path.split('/').any(|part| part == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_and_all_errors_are_kept() {
        let spec = FieldPath::root("spec");
        let mut p = Problems::default();
        p.min_i64(&spec.at("workers").at("replicas"), 0, 1);
        p.sql_identifier(&spec.at("tables").index(2).at("name"), "2bad");
        p.not_empty(&spec.at("database"), " ");
        p.min_i64(&spec.at("xrootd").at("replicas"), 1, 1);
        let errs = p.finish().unwrap_err();
        assert_eq!(
            errs.paths(),
            vec![
                "spec.workers.replicas",
                "spec.tables[2].name",
                "spec.database"
            ]
        );
        assert_eq!(
            errs.0[0].to_string(),
            "spec.workers.replicas: must be >= 1, got 0"
        );
        assert!(
            errs.to_string()
                .contains("; spec.tables[2].name: must be a SQL identifier")
        );
    }

    #[test]
    fn no_problem_is_ok() {
        let mut p = Problems::default();
        p.not_empty(&FieldPath::root("spec").at("image"), "qserv/lite-qserv:1");
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn dns_label_rules() {
        for (name, ok) in [
            ("qserv", true),
            ("q-1", true),
            ("Qserv", false),
            ("-a", false),
            ("", false),
        ] {
            let mut p = Problems::default();
            p.dns_label(&FieldPath::root("metadata.name"), name);
            assert_eq!(p.finish().is_ok(), ok, "{name:?}");
        }
    }
}
