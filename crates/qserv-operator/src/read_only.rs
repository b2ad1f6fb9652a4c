//! User-supplied SQL (result checks, query suites, `qserv-operator query`) can never change
//! data. Two locks, either of which holds alone:
//! - [`only_a_query`] refuses, before anything is sent, every statement that is not one read-only
//!   query: the first word must be `SELECT`, `WITH`, `SHOW`, `DESCRIBE`/`DESC`, `EXPLAIN` (or a
//!   parenthesised `SELECT`); no second statement after a `;`; no `INTO` (`SELECT ... INTO
//!   OUTFILE|DUMPFILE|@var` writes a file or a variable); no executable comment (`/*! ... */`,
//!   `/*M! ... */`, which MariaDB runs as SQL). Quotes, backquotes and comments are skipped as
//!   MariaDB's lexer does, so a keyword inside a string is not mistaken for one.
//! - [`make_read_only`] sets `SET SESSION TRANSACTION READ ONLY` on the connection where the
//!   server takes it (MariaDB: every later statement, DDL included, fails with error 1792;
//!   Qserv's czar has no transactions, there the account is read-only instead: qsmaster has
//!   SELECT only outside its own databases, `Q@2026.3.3-rc1:python/lsst/qserv/schema/migrations/czar/migrate-None-to-17.sql.jinja:8-9`).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a read-only query ({reason}): {shown}")]
pub struct NotAQuery {
    pub reason: String,
    /// The statement, shortened.
    pub shown: String,
}

const QUERY_WORDS: &[&str] = &["SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"];

/// `Ok(())` when `sql` is one read-only query.
pub fn only_a_query(sql: &str) -> Result<(), NotAQuery> {
    let refuse = |reason: &str| NotAQuery {
        reason: reason.into(),
        shown: shorten(sql),
    };
    let tokens = tokens(sql).map_err(|r| refuse(&r))?;
    let mut words = tokens.iter();
    let first = words.by_ref().find(|t| t.as_str() != "(");
    match first {
        None => return Err(refuse("empty")),
        Some(w) if !QUERY_WORDS.contains(&w.to_ascii_uppercase().as_str()) => {
            return Err(refuse(&format!("starts with {w}")));
        }
        _ => {}
    }
    let mut after_semicolon = false;
    for t in &tokens {
        if after_semicolon {
            return Err(refuse("more than one statement"));
        }
        match t.to_ascii_uppercase().as_str() {
            ";" => after_semicolon = true,
            "INTO" => return Err(refuse("SELECT ... INTO writes outside the result")),
            _ => {}
        }
    }
    Ok(())
}

/// Words and punctuation of `sql` outside strings and comments, as MariaDB's lexer splits
/// them (strings and quoted identifiers are dropped: they cannot be keywords; a trailing `;` is
/// dropped too). `Err` with the reason for an unterminated quote or comment and for an
/// executable comment, whose content MariaDB would run.
pub fn tokens(sql: &str) -> Result<Vec<String>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated quote".into()),
                        Some(b'\\') if c != b'`' => i += 2,
                        Some(&q) if q == c && b.get(i + 1) == Some(&c) => i += 2,
                        Some(&q) if q == c => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'#' => i = line_end(b, i),
            // `--` starts a comment only when followed by whitespace (MariaDB's rule).
            b'-' if next == Some(b'-') && b.get(i + 2).is_none_or(|w| w.is_ascii_whitespace()) => {
                i = line_end(b, i)
            }
            b'/' if next == Some(b'*') => {
                let body = &sql[i + 2..];
                if body.starts_with('!') || body.starts_with("M!") {
                    return Err("executable comment".into());
                }
                let end = body.find("*/").ok_or("unterminated comment")?;
                i += 2 + end + 2;
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(sql[start..i].to_string());
            }
            _ => {
                out.push((c as char).to_string());
                i += 1;
            }
        }
    }
    // A trailing `;` ends the one statement.
    if out.last().is_some_and(|t| t == ";") {
        out.pop();
    }
    Ok(out)
}

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| from + p + 1)
}

fn shorten(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

/// Makes every later statement of `conn` read-only where the server supports it; `false` when
/// it does not (Qserv's czar), where the guard and the account's grants hold instead.
pub async fn make_read_only(conn: &mut Conn) -> bool {
    conn.query_drop("SET SESSION TRANSACTION READ ONLY")
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT 1",
            "  select * from t where s = 'DROP TABLE x; DELETE' -- INTO\n",
            "WITH a AS (SELECT 1) SELECT * FROM a;",
            "(SELECT 1) UNION (SELECT 2)",
            "SHOW TABLES",
            "DESCRIBE t",
            "EXPLAIN SELECT 1",
            "SELECT `into` FROM t /* INTO OUTFILE */",
            "SELECT \"a\"\"b;\" FROM t",
            "SELECT 'it''s', 'a\\'; DROP' FROM t",
        ] {
            assert_eq!(only_a_query(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn anything_that_writes_is_refused_with_its_reason() {
        for (sql, reason) in [
            ("DROP DATABASE other", "starts with DROP"),
            ("DELETE FROM t", "starts with DELETE"),
            ("INSERT INTO t VALUES (1)", "starts with INSERT"),
            ("UPDATE t SET a = 1", "starts with UPDATE"),
            ("SET SESSION TRANSACTION READ WRITE", "starts with SET"),
            ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "SELECT ... INTO"),
            ("SELECT 1 INTO @v", "SELECT ... INTO"),
            ("SELECT 1; DROP TABLE t", "more than one statement"),
            ("SELECT 1 -- c\n; DELETE FROM t", "more than one statement"),
            (
                "SELECT 1 /* x */; /* y */ DROP TABLE t",
                "more than one statement",
            ),
            ("SELECT 1 /*! ; DROP TABLE t */", "executable comment"),
            (
                "SELECT 1 /*M!100000 ; DROP TABLE t */",
                "executable comment",
            ),
            ("/* hi */ DROP TABLE t", "starts with DROP"),
            ("SELECT 'unterminated", "unterminated quote"),
            ("", "empty"),
            ("-- only a comment", "empty"),
        ] {
            let err = only_a_query(sql).unwrap_err();
            assert!(err.reason.contains(reason), "{sql}: {err}");
        }
        // `--x` is an arithmetic minus, not a comment: the DROP after it is a second word.
        assert!(only_a_query("SELECT 1 --x; DROP TABLE t").is_err());
    }
}
