//! One query file of a qserv_testdata-style suite (`NNNN_name.sql`), rendered for Qserv and for
//! the reference as Qserv 2026.3.3-rc1's integration test runner renders it
//! (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py`, `ITestQuery`):
//!
//! - `-- pragma key[=value] ...` lines (starting at the line's first character) set flags
//!   (`_get_pragmas`, `itest.py:321-347`): `sortresult` (compare the rows sorted), `noheader` (do
//!   not compare column names, `itest.py:103`); `no_async` makes the runner refuse the file
//!   (`NotImplementedError`, `itest.py:104-112`): here the file is a failed check saying so,
//!   where qserv_testdata's runner only left out its asynchronous run (`benchmark.py:226-228`);
//!   `async_timeout=N` must be an integer (`int()`, `itest.py:113`) though only the asynchronous
//!   run, which checks do not make, uses it; other pragmas are ignored, as there;
//! - each line is trimmed and runs of spaces squeezed; empty lines and lines starting with `--`
//!   are dropped, except `-- withQserv TEXT`, whose TEXT is kept for Qserv only, while a line
//!   ending in `-- noQserv` is kept (without the marker) for the reference only; the kept lines
//!   are joined with single spaces (`_render_query`, `itest.py:349-398`);
//! - the result goes through Python's `str.format(DBTAG_A="<database>.")` (`itest.py:396-397`),
//!   each side with its own database ([`super::databases`]): `{DBTAG_A}` is replaced, `{{` and
//!   `}}` are braces, any other `{...}` or a lone brace is an error (the runner would raise).
//!   qserv_testdata's runner replaced `{DBTAG_A}` only (`benchmark.py:215`); the 2026 rule is
//!   followed.
//!
//! Unlike the runner, a trailing `;` is dropped (the text protocol sends one statement; a file
//! of several statements, which `mysql -e` would run one after the other, fails the read-only
//! guard), and a file that renders to nothing is an error naming it (it would compare two empty
//! outputs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::databases::Databases;
use super::order::RowOrder;
use super::qserv_only::{QSERV_ONLY_PREFIXES, functions_with_prefix, needs_real_qserv};

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
    /// `-- pragma sortresult`.
    pub sort_result: bool,
    /// How the rows are compared (see [`super::order`]).
    pub order: RowOrder,
    /// No `-- pragma noheader`: column names are compared too.
    pub column_names: bool,
    /// Every pragma, with its value when given as `key=value`.
    pub pragmas: BTreeMap<String, Option<String>>,
}

/// A query file that cannot be run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {reason}", file.display())]
pub struct QueryFileError {
    pub name: String,
    pub file: PathBuf,
    pub reason: String,
}

/// Renders one query file's text (see the module comment); `Err` with the reason.
pub fn parse_query(
    name: &str,
    file: &Path,
    text: &str,
    databases: &Databases,
) -> Result<TestQuery, String> {
    let pragmas = pragmas(text);
    if pragmas.contains_key("no_async") {
        return Err(
            "pragma no_async: Qserv's integration test runner refuses such a file \
                    (NotImplementedError: it runs every query asynchronously too)"
                .into(),
        );
    }
    if let Some(Some(timeout)) = pragmas.get("async_timeout")
        && !timeout.is_empty()
        && !is_python_int(timeout)
    {
        return Err(format!(
            "pragma async_timeout={timeout}: not an integer (the runner reads it with int())"
        ));
    }
    let qserv_sql = finish(&render(text, true), &databases.qserv)?;
    let reference_sql = finish(&render(text, false), &databases.reference)?;
    let sort_result = pragmas.contains_key("sortresult");
    Ok(TestQuery {
        name: name.to_string(),
        file: file.to_path_buf(),
        order: RowOrder::of(sort_result, &qserv_sql, &reference_sql),
        qserv_sql,
        reference_sql,
        sort_result,
        column_names: !pragmas.contains_key("noheader"),
        pragmas,
    })
}

/// `ITestQuery._get_pragmas`: lines starting with `--` whose second word is `pragma`; a later
/// key replaces an earlier one.
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

/// What Python's `int()` takes from a word: a sign, digits, single `_` between digits.
fn is_python_int(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty()
        && digits
            .split('_')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()))
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

/// The placeholders, the trailing `;`, and the check that something is left.
fn finish(sql: &str, database: &str) -> Result<String, String> {
    let sql = format_dbtag(sql, database)?;
    let sql = sql.trim().trim_end_matches(';').trim_end().to_string();
    if sql.is_empty() {
        return Err("no SQL left once comments are removed".into());
    }
    Ok(sql)
}

/// Python's `sql.format(DBTAG_A=f"{database}.")` for the one field the runner passes.
fn format_dbtag(sql: &str, database: &str) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + database.len());
    let mut rest = sql;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err(
                "a single '}' (Python's str.format, which renders the query for \
                        the runner, refuses it: write '}}')"
                    .into(),
            );
        } else {
            let Some(end) = tail.find('}') else {
                return Err("a '{' without '}' (write '{{' for a brace)".into());
            };
            let field = &tail[..=end];
            if field != "{DBTAG_A}" {
                return Err(format!(
                    "unknown placeholder {field} (only {{DBTAG_A}} is defined; write '{{{{' \
                     for a brace)"
                ));
            }
            out.push_str(database);
            out.push('.');
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dbs(name: &str) -> Databases {
        Databases::of(name)
    }

    const CONE: &str = "-- Cone\n\n-- pragma noheader sortresult\nSELECT COUNT(*)\nFROM   Object\n\
        WHERE  ra_PS BETWEEN 0.1 AND 4  -- noQserv\nAND    decl_PS BETWEEN -6 AND 6 -- noQserv\n\
        -- withQserv WHERE qserv_areaspec_box(0.1, -6, 4, 6)\n   AND scisql_fluxToAbMag(zFlux_PS) BETWEEN 20 AND 24\n";

    #[test]
    fn renders_both_sides_like_itest() {
        let q = parse_query("1002", Path::new("1002.sql"), CONE, &dbs("db")).unwrap();
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
        assert_eq!(q.order, RowOrder::Sorted);
        assert!(!q.column_names);
        assert_eq!(
            q.needs_qserv_functions().unwrap(),
            "needs Qserv-only functions (qserv_areaspec_box, scisql_fluxToAbMag), which exist \
             only on a real Qserv and its reference: skipped, the Qserv side does not have them"
        );
    }

    /// `{DBTAG_A}` names each side's own database: `<x>_qserv` on Qserv, `<x>_mysql` on the
    /// reference (qserv_testdata's pair), one name for any other database.
    #[test]
    fn each_side_gets_its_own_database() {
        let text = "SELECT a\nFROM {DBTAG_A}Object;\n";
        let q = parse_query(
            "x",
            Path::new("x.sql"),
            text,
            &dbs("qservTest_case01_qserv"),
        )
        .unwrap();
        assert_eq!(q.qserv_sql, "SELECT a FROM qservTest_case01_qserv.Object");
        assert_eq!(
            q.reference_sql,
            "SELECT a FROM qservTest_case01_mysql.Object"
        );
        assert!(q.column_names && !q.sort_result);
        assert_eq!(q.order, RowOrder::Unordered);
        let q = parse_query("x", Path::new("x.sql"), text, &dbs("qcase01")).unwrap();
        assert_eq!(q.qserv_sql, "SELECT a FROM qcase01.Object");
        assert_eq!(q.reference_sql, q.qserv_sql);
        assert!(q.needs_qserv_functions().is_none());
        // Literal names, as qserv_testdata's case03 writes them, are sent as written.
        let literal = "-- withQserv  SELECT a FROM qservTest_case03_qserv.T;\n\
                       SELECT a FROM qservTest_case03_mysql.T; -- noQserv\n";
        let q = parse_query("y", Path::new("y.sql"), literal, &dbs("qcase03")).unwrap();
        assert_eq!(q.qserv_sql, "SELECT a FROM qservTest_case03_qserv.T");
        assert_eq!(q.reference_sql, "SELECT a FROM qservTest_case03_mysql.T");
    }

    #[test]
    fn braces_follow_python_str_format() {
        let render = |text: &str| {
            parse_query("b", Path::new("b.sql"), text, &dbs("d_qserv")).map(|q| q.qserv_sql)
        };
        assert_eq!(
            render("SELECT '{{a}}', {DBTAG_A}t.x FROM {DBTAG_A}t").unwrap(),
            "SELECT '{a}', d_qserv.t.x FROM d_qserv.t"
        );
        for (text, reason) in [
            ("SELECT {X} FROM t", "unknown placeholder {X}"),
            (
                "SELECT {DBTAG_A!r}t FROM t",
                "unknown placeholder {DBTAG_A!r}",
            ),
            ("SELECT '}' FROM t", "a single '}'"),
            ("SELECT '{' FROM t", "a '{' without '}'"),
        ] {
            let err = render(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn pragmas_the_runner_refuses_are_errors() {
        let parse = |text: &str| parse_query("p", Path::new("p.sql"), text, &dbs("d"));
        let err = parse("-- pragma no_async\nSHOW COLUMNS FROM t\n").unwrap_err();
        assert!(err.starts_with("pragma no_async: "), "{err}");
        let err = parse("-- pragma async_timeout=ten\nSELECT 1\n").unwrap_err();
        assert!(err.contains("async_timeout=ten: not an integer"), "{err}");
        for fine in [
            "async_timeout=60",
            "async_timeout=+1_000",
            "async_timeout=",
            "async_timeout",
        ] {
            let q = parse(&format!("-- pragma {fine}\nSELECT 1\n")).unwrap();
            assert!(q.pragmas.contains_key("async_timeout"), "{fine}");
        }
        // Pragmas on separate lines add up (Qserv's case01 1101.1_having); one indented is
        // not a pragma (the runner looks at the line's first characters).
        let q = parse("-- pragma sortresult\n-- pragma noheader\n  -- pragma no_async\nSELECT 1")
            .unwrap();
        assert!(q.sort_result && !q.column_names);
        let err = parse("-- only a comment\n").unwrap_err();
        assert!(err.contains("no SQL left"), "{err}");
    }

    #[test]
    fn order_counts_only_where_both_sides_order() {
        let parse = |text: &str| {
            parse_query("o", Path::new("o.sql"), text, &dbs("d"))
                .unwrap()
                .order
        };
        assert_eq!(parse("SELECT a FROM t ORDER BY a"), RowOrder::OrderBy);
        assert_eq!(parse("SELECT a FROM t"), RowOrder::Unordered);
        assert_eq!(
            parse("-- pragma sortresult\nSELECT a FROM t ORDER BY a"),
            RowOrder::Sorted
        );
        // Ordered on the reference only: Qserv's order is undefined.
        assert_eq!(
            parse("SELECT a FROM t\nORDER BY a -- noQserv\n"),
            RowOrder::Unordered
        );
        // A trailing comment on a kept line comments out the rest of the joined statement,
        // for the server as for this reading of it.
        assert_eq!(
            parse("SELECT a FROM t -- all of t\nORDER BY a\n"),
            RowOrder::Unordered
        );
    }
}
