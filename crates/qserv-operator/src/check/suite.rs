//! A query directory as Qserv 2026.3.3-rc1's integration test runner picks its files
//! (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py:807-826`, `ITestCase.run`), each entry
//! that does not run reported with the rule that left it out:
//!
//! - only names ending in `.sql` run (`itest.py:816-818`). Everything else is left out: the
//!   files the datasets mark as known not to work on Qserv (`*.sql.FIXME`, also `*.FIXME` and
//!   `*.sql.FIXME2` in qserv_testdata), other files, and the sub-directories Qserv's datasets
//!   keep unsupported queries in ("query groups": `data/case01/queries/unsupported_syntax/`),
//!   which are not descended into. Names starting with `.` (editor and VCS files) are ignored;
//! - a `.sql` file whose number, the text before the first `_` of its name, is one of the skip
//!   numbers does not run (`itest.py:819-821`; the numbers are the case's `skip_numbers` in
//!   `Q@2026.3.3-rc1:etc/integration_tests.yaml:49-56`). The match is exact and textual: `2100`
//!   skips `2100_groupByChunkId.sql` but not `2100.1_x.sql`, and `0003` skips every
//!   `0003_*.sql`;
//! - the others are rendered ([`super::queries`]); one that cannot be is a failed check.
//!
//! The runner reads the files in directory order; here they run in file name order.

use std::path::{Path, PathBuf};

use super::databases::Databases;
use super::queries::{QueryFileError, TestQuery, parse_query};
use super::report::SkipKind;

/// An entry of the directory that does not run, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedFile {
    /// The query's name: the file name up to `.sql.` or `.FIXME` (a directory's ends in `/`).
    pub name: String,
    pub file: PathBuf,
    pub kind: SkipKind,
    pub reason: String,
}

/// The queries of a directory, in file name order.
#[derive(Clone, Debug, Default)]
pub struct QueryDir {
    pub queries: Vec<TestQuery>,
    /// Entries that do not run.
    pub skipped: Vec<SkippedFile>,
    /// `.sql` files that cannot be read or rendered (each becomes a failed check).
    pub invalid: Vec<QueryFileError>,
}

/// A query file's number: the text before the first `_` of its name, the whole name without
/// one (Python's `query_file.split("_")[0]`).
pub fn query_number(file_name: &str) -> &str {
    file_name.split('_').next().unwrap_or(file_name)
}

/// Reads the query files of `dir` (not recursive) for the two `databases`; `skip_numbers` as
/// the runner's `skip_numbers`.
pub fn read_query_dir(
    dir: &Path,
    databases: &Databases,
    skip_numbers: &[String],
) -> std::io::Result<QueryDir> {
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|err| annotate(dir, err))?
        .map(|entry| {
            let entry = entry.map_err(|err| annotate(dir, err))?;
            Ok((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ))
        })
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    let mut out = QueryDir::default();
    for (file_name, file) in entries {
        if file_name.starts_with('.') {
            continue;
        }
        let Some(stem) = file_name.strip_suffix(".sql") else {
            out.skipped.push(not_sql(&file_name, file));
            continue;
        };
        let number = query_number(&file_name);
        if skip_numbers.iter().any(|n| n == number) {
            out.skipped.push(SkippedFile {
                name: stem.to_string(),
                file,
                kind: SkipKind::SkipNumber,
                reason: format!(
                    "its number is a skip number ({number}: the text before the first '_' of \
                     {file_name}, as skip_numbers in Qserv's integration_tests.yaml)"
                ),
            });
            continue;
        }
        let parsed = std::fs::read(&file)
            .map_err(|err| err.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|err| format!("not UTF-8: {err}")))
            .and_then(|text| parse_query(stem, &file, &text, databases));
        match parsed {
            Ok(query) => out.queries.push(query),
            Err(reason) => out.invalid.push(QueryFileError {
                name: stem.to_string(),
                file,
                reason,
            }),
        }
    }
    Ok(out)
}

/// Why an entry not ending in `.sql` does not run.
fn not_sql(file_name: &str, file: PathBuf) -> SkippedFile {
    if file.is_dir() {
        return SkippedFile {
            name: format!("{file_name}/"),
            file,
            kind: SkipKind::NotSql,
            reason: "a directory (query group): the integration test runner runs only the *.sql \
                     files directly in the query directory"
                .into(),
        };
    }
    let end = [".sql.", ".FIXME"]
        .iter()
        .filter_map(|marker| file_name.find(marker))
        .min()
        .unwrap_or(file_name.len());
    let (kind, reason) = if file_name.contains("FIXME") {
        (
            SkipKind::Fixme,
            format!(
                "marked FIXME, known not to work on Qserv: the integration test runner runs only \
                 *.sql files ({file_name})"
            ),
        )
    } else {
        (
            SkipKind::NotSql,
            format!("not a *.sql file: the integration test runner runs only those ({file_name})"),
        )
    };
    SkippedFile {
        name: file_name[..end].to_string(),
        file,
        kind,
        reason,
    }
}

fn annotate(dir: &Path, err: std::io::Error) -> std::io::Error {
    std::io::Error::new(err.kind(), format!("{}: {err}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case01_queries() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/qserv_testdata/case01/queries")
    }

    #[test]
    fn case01_directory_parses_completely() {
        let dir = read_query_dir(&case01_queries(), &Databases::of("case01_qserv"), &[]).unwrap();
        assert_eq!(
            (dir.queries.len(), dir.skipped.len(), dir.invalid.len()),
            (68, 38, 0)
        );
        assert!(dir.skipped.iter().all(|s| s.kind == SkipKind::Fixme));
        let names: Vec<&str> = dir.queries.iter().map(|q| q.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "file name order");
        let find = |name: &str| dir.queries.iter().find(|q| q.name == name).unwrap();
        let qualified = find("0001.4_fetchObjectByIdFullyQualified");
        assert!(
            qualified
                .qserv_sql
                .contains("FROM case01_qserv.Object WHERE objectId = 430213989148129")
        );
        assert!(
            qualified
                .reference_sql
                .contains("FROM case01_mysql.Object WHERE objectId = 430213989148129")
        );
        let var = find("1004.1_varObjects");
        assert!(!var.column_names && !var.sort_result);
        assert_eq!(var.order, super::super::order::RowOrder::OrderBy);
        assert_eq!(
            var.reference_sql,
            "SELECT objectId, AVG(ra_PS) as ra FROM Object WHERE ra_PS BETWEEN 0 AND 3  \
             AND decl_PS BETWEEN 0 AND 10  GROUP BY objectId ORDER BY ra"
        );
        assert_eq!(
            var.qserv_sql,
            "SELECT objectId, AVG(ra_PS) as ra FROM Object \
             WHERE qserv_areaspec_box(0, 0, 3, 10) GROUP BY objectId ORDER BY ra"
        );
        let blocked = dir
            .queries
            .iter()
            .filter(|q| q.needs_qserv_functions().is_some())
            .count();
        assert_eq!(blocked, 12);
        // The rule comes first, the file last: the demo's summary shows one line per reason's
        // text before ':' or '(', so one per rule.
        let rules: std::collections::BTreeSet<&str> = dir
            .skipped
            .iter()
            .filter_map(|s| s.reason.split([':', '(']).next())
            .collect();
        assert_eq!(rules.len(), 1, "{rules:?}");
        let fixme = dir
            .skipped
            .iter()
            .find(|s| s.name == "2100_groupByChunkId")
            .unwrap();
        assert_eq!(
            fixme.reason,
            "marked FIXME, known not to work on Qserv: the integration test runner runs only \
             *.sql files (2100_groupByChunkId.sql.FIXME)"
        );
    }

    /// Skip numbers match the text before the first `_`, exactly, and only `.sql` files:
    /// Qserv's case01 lists "2100" and "3008", which the shared copy marks FIXME anyway.
    #[test]
    fn skip_numbers_match_as_the_runner_splits_names() {
        let skip = |numbers: &[&str]| {
            let numbers: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
            read_query_dir(&case01_queries(), &Databases::of("d"), &numbers).unwrap()
        };
        let dir = skip(&["0003", "0001.1", "2100", "3008", "1006"]);
        let by_number: Vec<(&str, SkipKind)> = dir
            .skipped
            .iter()
            .filter(|s| s.kind != SkipKind::Fixme)
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            by_number,
            [
                ("0001.1_fetchObjectById", SkipKind::SkipNumber),
                ("0003_selectMetadataForOneGalaxy", SkipKind::SkipNumber),
                (
                    "0003_selectMetadataForOneGalaxy_classicJOIN",
                    SkipKind::SkipNumber
                ),
                (
                    "0003_selectMetadataForOneGalaxy_withUSING",
                    SkipKind::SkipNumber
                ),
                ("1006_qserv_func_with_equals.1", SkipKind::SkipNumber),
                ("1006_qserv_func_with_equals.2", SkipKind::SkipNumber),
            ]
        );
        assert_eq!(dir.queries.len(), 68 - 6);
        // 0001.2.. still run: "0001.1" is not a prefix rule.
        assert!(
            dir.queries
                .iter()
                .any(|q| q.name == "0001.2_fetchObjectByIdIN")
        );
        let fixme = dir
            .skipped
            .iter()
            .find(|s| s.name == "2100_groupByChunkId")
            .unwrap();
        assert_eq!(
            fixme.kind,
            SkipKind::Fixme,
            "not a .sql file: never numbered"
        );
        assert_eq!(
            dir.skipped[1].reason,
            "its number is a skip number (0003: the text before the first '_' of \
             0003_selectMetadataForOneGalaxy.sql, as skip_numbers in Qserv's \
             integration_tests.yaml)"
        );
        // Numbers that match nothing leave everything to run.
        assert_eq!(
            skip(&["0001", "1", "0003_selectMetadataForOneGalaxy"])
                .queries
                .len(),
            68
        );
        assert_eq!(query_number("1006_qserv_func_with_equals.1.sql"), "1006");
        assert_eq!(query_number("nounderscore.sql"), "nounderscore.sql");
    }

    #[test]
    fn entries_that_do_not_run_say_why_and_bad_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &[u8]| std::fs::write(tmp.path().join(name), text).unwrap();
        write("0001_ok.sql", b"SELECT 1;\n");
        write("0002_bad.sql", b"SELECT {X}\n");
        write("0003_binary.sql", &[0xff, 0xfe]);
        write("0004_later.sql.FIXME", b"SELECT 2");
        write("0005_cols.FIXME", b"SHOW COLUMNS FROM t");
        write("0006_x.sql.FIXME2", b"SELECT 3");
        write("0007_noext", b"SELECT 4");
        write("0008_async.sql", b"-- pragma no_async\nSELECT 5");
        write("README", b"not a query");
        write(".hidden.sql", b"SELECT 6");
        std::fs::create_dir(tmp.path().join("unsupported_syntax")).unwrap();
        std::fs::create_dir(tmp.path().join("0009_dir.sql")).unwrap();
        let dir = read_query_dir(tmp.path(), &Databases::of("d"), &[]).unwrap();
        assert_eq!(dir.queries.len(), 1);
        assert_eq!(dir.queries[0].qserv_sql, "SELECT 1");
        let skipped: Vec<(&str, SkipKind)> = dir
            .skipped
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            skipped,
            [
                ("0004_later", SkipKind::Fixme),
                ("0005_cols", SkipKind::Fixme),
                ("0006_x", SkipKind::Fixme),
                ("0007_noext", SkipKind::NotSql),
                ("README", SkipKind::NotSql),
                ("unsupported_syntax/", SkipKind::NotSql),
            ]
        );
        assert!(dir.skipped[5].reason.contains("a directory (query group)"));
        assert_eq!(
            dir.skipped[3].reason,
            "not a *.sql file: the integration test runner runs only those (0007_noext)"
        );
        let errors: Vec<String> = dir.invalid.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].ends_with(
                "0002_bad.sql: unknown placeholder {X} (only {DBTAG_A} is defined; write '{{' \
                 for a brace)"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("0003_binary.sql: not UTF-8"),
            "{errors:?}"
        );
        assert!(
            errors[2].contains("0008_async.sql: pragma no_async"),
            "{errors:?}"
        );
        assert!(errors[3].contains("0009_dir.sql: "), "{errors:?}");
        let missing =
            read_query_dir(&tmp.path().join("nope"), &Databases::of("d"), &[]).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
