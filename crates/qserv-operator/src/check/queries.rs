//! The qserv_testdata query format: a directory of `NNNN_name.sql` files, each one query with
//! annotations, rendered for Qserv and for the reference exactly as lsst/qserv's integration
//! test runner does (`src/admin/python/lsst/qserv/admin/itest.py`, `ITestQuery`):
//!
//! - only files ending in `.sql` run; `*.sql.FIXME` files are known not to work and are skipped
//!   (`ITestCase.run`);
//! - `-- pragma key[=value] ...` lines set flags: `sortresult` (compare the rows as sorted
//!   sets), `noheader` (do not compare column names);
//! - each line is trimmed and runs of spaces squeezed; empty lines and lines starting with `--`
//!   are dropped, except `-- withQserv TEXT`, whose TEXT is kept for Qserv only, while a line
//!   ending in `-- noQserv` is kept (without the marker) for the reference only; the kept lines
//!   are joined with single spaces (`_render_query`);
//! - `{DBTAG_A}` becomes `<database>.` (Python's `str.format`).
//!
//! Unlike the Python runner, a trailing `;` is dropped (the text protocol sends one statement),
//! and a file that renders to nothing or holds an unknown `{placeholder}` is an error naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One runnable query file.
#[derive(Clone, Debug, PartialEq)]
pub struct TestQuery {
    /// File name without `.sql` (`0001.1_fetchObjectById`).
    pub name: String,
    pub file: PathBuf,
    /// The statement sent to Qserv (`-- withQserv` lines kept, `-- noQserv` lines dropped).
    pub qserv_sql: String,
    /// The statement sent to the reference (the other way round).
    pub reference_sql: String,
    /// `-- pragma sortresult`: compare rows as sorted sets.
    pub sort_result: bool,
    /// No `-- pragma noheader`: column names are compared too.
    pub column_names: bool,
    /// Every pragma, with its value when given as `key=value`.
    pub pragmas: BTreeMap<String, Option<String>>,
}

/// A file that is not run, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedFile {
    pub name: String,
    pub file: PathBuf,
    pub reason: String,
}

/// A query file that cannot be rendered.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {reason}", file.display())]
pub struct QueryFileError {
    pub name: String,
    pub file: PathBuf,
    pub reason: String,
}

/// The queries of a directory, in file name order.
#[derive(Clone, Debug, Default)]
pub struct QueryDir {
    pub queries: Vec<TestQuery>,
    /// `*.sql.FIXME` files.
    pub fixme: Vec<SkippedFile>,
    /// Files that cannot be read or rendered (each becomes a failed check).
    pub invalid: Vec<QueryFileError>,
}

/// Why the FIXME files are skipped, as status shows it.
pub const FIXME_REASON: &str = "marked FIXME in qserv_testdata: known not to work on Qserv \
     (the lsst/qserv integration tests run only *.sql files)";

/// Reads every query file of `dir` (not recursive); files that are neither `.sql` nor
/// `.sql.FIXME` are ignored.
pub fn read_query_dir(dir: &Path, database: &str) -> std::io::Result<QueryDir> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| annotate(dir, err))?
        .map(|entry| entry.map(|e| e.path()).map_err(|err| annotate(dir, err)))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mut out = QueryDir::default();
    for file in files {
        let Some(file_name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(stem) = file_name.strip_suffix(".sql.FIXME") {
            out.fixme.push(SkippedFile {
                name: stem.to_string(),
                file: file.clone(),
                reason: FIXME_REASON.to_string(),
            });
            continue;
        }
        let Some(stem) = file_name.strip_suffix(".sql") else {
            continue;
        };
        if !file.is_file() {
            continue;
        }
        let parsed = std::fs::read(&file)
            .map_err(|err| err.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|err| format!("not UTF-8: {err}")))
            .and_then(|text| parse_query(stem, &file, &text, database));
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

fn annotate(dir: &Path, err: std::io::Error) -> std::io::Error {
    std::io::Error::new(err.kind(), format!("{}: {err}", dir.display()))
}

/// Renders one query file's text (see the module comment).
pub fn parse_query(
    name: &str,
    file: &Path,
    text: &str,
    database: &str,
) -> Result<TestQuery, String> {
    let pragmas = pragmas(text);
    let qserv_sql = finish(render(text, true), database)?;
    let reference_sql = finish(render(text, false), database)?;
    Ok(TestQuery {
        name: name.to_string(),
        file: file.to_path_buf(),
        qserv_sql,
        reference_sql,
        sort_result: pragmas.contains_key("sortresult"),
        column_names: !pragmas.contains_key("noheader"),
        pragmas,
    })
}

/// `ITestQuery._get_pragmas`: lines starting with `--` whose second word is `pragma`.
fn pragmas(text: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("--")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 1 && words[1] == "pragma" {
            for keyval in &words[2..] {
                match keyval.split_once('=') {
                    Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                    None => out.insert(keyval.to_string(), None),
                };
            }
        }
    }
    out
}

/// `ITestQuery._render_query` without the placeholder step.
fn render(text: &str, with_qserv: bool) -> String {
    let mut kept: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = squeeze_spaces(line.trim());
        if line.is_empty() {
            continue;
        }
        if with_qserv && line.starts_with("-- withQserv") {
            // Python's line[13:]: the marker and the space after it.
            kept.push(line.get(13..).unwrap_or("").to_string());
        } else if let Some(body) = line.strip_suffix("-- noQserv") {
            if !with_qserv {
                kept.push(body.to_string());
            }
        } else if !line.starts_with("--") {
            kept.push(line);
        }
    }
    kept.join(" ")
}

/// `re.sub(" +", " ", line)`: runs of spaces (not tabs) become one.
fn squeeze_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut previous_space = false;
    for c in line.chars() {
        if c == ' ' && previous_space {
            continue;
        }
        previous_space = c == ' ';
        out.push(c);
    }
    out
}

/// Placeholders, the trailing `;`, and the checks that the result is one statement.
fn finish(sql: String, database: &str) -> Result<String, String> {
    let sql = sql.replace("{DBTAG_A}", &format!("{database}."));
    if let Some(start) = sql.find('{') {
        let end = sql[start..].find('}').map_or(sql.len(), |e| start + e + 1);
        return Err(format!(
            "unknown placeholder {} (only {{DBTAG_A}} is defined)",
            &sql[start..end]
        ));
    }
    let sql = sql.trim().trim_end_matches(';').trim_end().to_string();
    if sql.is_empty() {
        return Err("no SQL left once comments are removed".into());
    }
    Ok(sql)
}

/// Prefixes of functions that exist only on a real Qserv deployment: Qserv's spatial
/// restrictors `qserv_areaspec_*` (handled by the czar's query analysis), and the sciSQL UDFs
/// `scisql_*` (installed in Qserv's MariaDB images, on the workers and on the reference).
pub const QSERV_ONLY_PREFIXES: [&str; 2] = ["qserv_", "scisql_"];

/// The functions called in `sql` whose names start with one of `prefixes`
/// (case-insensitive, as MariaDB and Qserv treat function names), in order of appearance,
/// each once. String literals and quoted identifiers are not looked into.
pub fn functions_with_prefix(sql: &str, prefixes: &[&str]) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' || c == b'"' || c == b'`' {
            i = skip_quoted(bytes, i);
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &sql[start..i];
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let lower = word.to_ascii_lowercase();
            if bytes.get(j) == Some(&b'(')
                && prefixes.iter().any(|p| lower.starts_with(p))
                && !found.iter().any(|f| f.eq_ignore_ascii_case(word))
            {
                found.push(word.to_string());
            }
            continue;
        }
        i += 1;
    }
    found
}

/// The index after the quoted string starting at `start` (doubled quotes and backslash
/// escapes stay inside).
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

impl TestQuery {
    /// Why this query cannot run when the Qserv side lacks Qserv's own SQL functions, if it
    /// cannot: it calls Qserv-only functions on either side.
    pub fn needs_qserv_functions(&self) -> Option<String> {
        let mut functions = functions_with_prefix(&self.qserv_sql, &QSERV_ONLY_PREFIXES);
        for f in functions_with_prefix(&self.reference_sql, &QSERV_ONLY_PREFIXES) {
            if !functions.iter().any(|g| g.eq_ignore_ascii_case(&f)) {
                functions.push(f);
            }
        }
        needs_real_qserv(&functions)
    }
}

/// The skip reason for SQL calling `functions` (empty: none).
pub fn needs_real_qserv(functions: &[String]) -> Option<String> {
    (!functions.is_empty()).then(|| {
        format!(
            "needs Qserv-only functions ({}), which exist only on a real Qserv and its \
             reference: skipped, the Qserv side does not have them",
            functions.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONE: &str = "-- Cone\n\n-- pragma noheader sortresult\nSELECT COUNT(*)\nFROM   Object\n\
        WHERE  ra_PS BETWEEN 0.1 AND 4  -- noQserv\nAND    decl_PS BETWEEN -6 AND 6 -- noQserv\n\
        -- withQserv WHERE qserv_areaspec_box(0.1, -6, 4, 6)\n   AND scisql_fluxToAbMag(zFlux_PS) BETWEEN 20 AND 24\n";

    #[test]
    fn renders_both_sides_like_itest() {
        let q = parse_query("1002", Path::new("1002.sql"), CONE, "db").unwrap();
        assert_eq!(
            q.qserv_sql,
            "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_box(0.1, -6, 4, 6) \
             AND scisql_fluxToAbMag(zFlux_PS) BETWEEN 20 AND 24"
        );
        assert_eq!(
            q.reference_sql,
            "SELECT COUNT(*) FROM Object WHERE ra_PS BETWEEN 0.1 AND 4  \
             AND decl_PS BETWEEN -6 AND 6  AND scisql_fluxToAbMag(zFlux_PS) BETWEEN 20 AND 24"
        );
        assert!(q.sort_result);
        assert!(!q.column_names);
        assert_eq!(
            q.needs_qserv_functions().unwrap(),
            "needs Qserv-only functions (qserv_areaspec_box, scisql_fluxToAbMag), which exist \
             only on a real Qserv and its reference: skipped, the Qserv side does not have them"
        );
    }

    #[test]
    fn placeholders_semicolons_and_errors() {
        let q = parse_query(
            "x",
            Path::new("x.sql"),
            "SELECT a\nFROM {DBTAG_A}Object;\n",
            "case01",
        )
        .unwrap();
        assert_eq!(q.qserv_sql, "SELECT a FROM case01.Object");
        assert!(q.column_names && !q.sort_result);
        assert!(q.needs_qserv_functions().is_none());
        let err = parse_query("y", Path::new("y.sql"), "SELECT {X} FROM t", "d").unwrap_err();
        assert!(err.contains("unknown placeholder {X}"), "{err}");
        let err = parse_query("z", Path::new("z.sql"), "-- only a comment\n", "d").unwrap_err();
        assert!(err.contains("no SQL left"), "{err}");
    }

    #[test]
    fn functions_are_found_outside_quotes_case_insensitively() {
        let sql = "SELECT 'scisql_x(1)', `qserv_y`(2), QsErV_ArEaSpEc_BoX (0,0,1,1), \
                   scisql_angSep(a,b,c,d), SCISQL_ANGSEP(1,2,3,4), qserv_col FROM t";
        assert_eq!(
            functions_with_prefix(sql, &QSERV_ONLY_PREFIXES),
            vec!["QsErV_ArEaSpEc_BoX", "scisql_angSep"]
        );
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    fn case01_queries() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/qserv_testdata/case01/queries")
    }

    #[test]
    fn case01_directory_parses_completely() {
        let dir = read_query_dir(&case01_queries(), "case01").unwrap();
        assert_eq!(
            (dir.queries.len(), dir.fixme.len(), dir.invalid.len()),
            (68, 38, 0)
        );
        let names: Vec<&str> = dir.queries.iter().map(|q| q.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "file name order");
        let find = |name: &str| dir.queries.iter().find(|q| q.name == name).unwrap();
        let qualified = find("0001.4_fetchObjectByIdFullyQualified");
        assert!(
            qualified
                .qserv_sql
                .contains("FROM case01.Object WHERE objectId = 430213989148129")
        );
        let var = find("1004.1_varObjects");
        assert!(!var.column_names && !var.sort_result);
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
    }

    #[test]
    fn bad_files_are_named_and_others_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("0001_ok.sql"), "SELECT 1;\n").unwrap();
        std::fs::write(tmp.path().join("0002_bad.sql"), "SELECT {X}\n").unwrap();
        std::fs::write(tmp.path().join("0003_binary.sql"), [0xffu8, 0xfe]).unwrap();
        std::fs::write(tmp.path().join("0004_later.sql.FIXME"), "SELECT 2").unwrap();
        std::fs::write(tmp.path().join("README"), "not a query").unwrap();
        let dir = read_query_dir(tmp.path(), "d").unwrap();
        assert_eq!(dir.queries.len(), 1);
        assert_eq!(dir.queries[0].qserv_sql, "SELECT 1");
        assert_eq!(dir.fixme[0].name, "0004_later");
        let errors: Vec<String> = dir.invalid.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0]
                .ends_with("0002_bad.sql: unknown placeholder {X} (only {DBTAG_A} is defined)"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("0003_binary.sql: not UTF-8"),
            "{errors:?}"
        );
        let missing = read_query_dir(&tmp.path().join("nope"), "d").unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
