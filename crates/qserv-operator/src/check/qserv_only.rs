//! Qserv's own SQL functions, which exist only on a real Qserv and its reference: checks that
//! call them are skipped where the Qserv side is a plain MariaDB (local mode).

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
