//! The CSV/TSV dialect of a CatalogIngest table, with the meaning and the defaults of Qserv's
//! `sph-partition` `in.csv.*` options (`Q@2026.3.3-rc1:src/partition/Csv.cc:88-110,268-285`):
//! `delimiter`, `quote` / `noQuote`, `escape` / `noEscape`, `nullToken` (`in.csv.null`), plus
//! `header` and `fields`. [`CsvDialect::resolve`] applies the defaults and the sanity rules
//! (`Csv.cc:299-352`, `Dialect::_validate`) and names the field at fault.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CSV/TSV dialect, as sph-partition's `in.csv.*` options. Defaults: `format: csv` reads as
/// sph-partition does with a comma (`"` quotes, `\` escapes, NULL is `NULL`, and `\N` too);
/// `format: tsv` reads as MySQL writes (`SELECT ... INTO OUTFILE`): tab, no quoting, `\`
/// escapes, `\N` for NULL.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvDialect {
    /// Field delimiter (`in.csv.delimiter`): one character, `\t` for tab. Default: `,` for csv,
    /// tab for tsv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Quote character (`in.csv.quote`): a field that starts with it ends at the same character
    /// before a delimiter or the end of the record; doubled inside, it stands for itself.
    /// Default: `"` for csv, no quoting for tsv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// No quoting (`in.csv.no-quote`): quote characters are data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_quote: bool,
    /// Escape character (`in.csv.escape`, default `\`): the next character is data, and `\0`,
    /// `\b`, `\f`, `\n`, `\r`, `\t`, `\v`, `\Z` stand for NUL, backspace, form feed, LF, CR,
    /// tab, vertical tab and Ctrl-Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<String>,
    /// No escaping (`in.csv.no-escape`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_escape: bool,
    /// The token that stands for NULL (`in.csv.null`), compared with the raw, unquoted field.
    /// Default: `NULL` when quoting is on, else the escape character and `N` (`\N`), else the
    /// empty field. With escaping on, `\N` alone is NULL whatever the token (as `LOAD DATA`
    /// reads it). Not named `null`: a bare `null:` key is a YAML null, not a string, for kubectl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_token: Option<String>,
    /// The first line is a header of column names.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    /// Column names when there is no header (in file order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// A dialect with every default applied, as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectChars {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub null: Vec<u8>,
}

/// Characters that, escaped, would read as standard escape sequences (`Csv.cc:44`).
const PROHIBITED: &[u8] = b"0bfnrtvNZ";

/// One problem: the dialect field it is about (`delimiter`, `quote`, ...) and what is wrong.
pub type DialectProblem = (&'static str, String);

impl CsvDialect {
    /// The dialect `dialect` says for a file of `format` (`tsv` or not), defaults applied, or
    /// every problem with the field it is about.
    pub fn resolve(
        dialect: Option<&CsvDialect>,
        tsv: bool,
    ) -> Result<DialectChars, Vec<DialectProblem>> {
        let d = dialect.cloned().unwrap_or_default();
        let mut problems = Vec::new();
        let mut char_of = |field: &'static str, value: &Option<String>| -> Option<u8> {
            let value = value.as_ref()?;
            match one_char(value) {
                Ok(c) => Some(c),
                Err(e) => {
                    problems.push((field, e));
                    None
                }
            }
        };
        let delimiter =
            char_of("delimiter", &d.delimiter).unwrap_or(if tsv { b'\t' } else { b',' });
        let quote = char_of("quote", &d.quote);
        let escape = char_of("escape", &d.escape);
        if d.no_quote && d.quote.is_some() {
            problems.push(("noQuote", "contradicts quote: give one of them".into()));
        }
        if d.no_escape && d.escape.is_some() {
            problems.push(("noEscape", "contradicts escape: give one of them".into()));
        }
        let quote = match (d.no_quote, quote) {
            (true, _) => None,
            (false, Some(q)) => Some(q),
            (false, None) if tsv => None,
            (false, None) => Some(b'"'),
        };
        let escape = if d.no_escape {
            None
        } else {
            Some(escape.unwrap_or(b'\\'))
        };
        let null = match &d.null_token {
            Some(n) => n.as_bytes().to_vec(),
            None if quote.is_some() => b"NULL".to_vec(),
            None => escape.map(|e| vec![e, b'N']).unwrap_or_default(),
        };
        let chars = DialectChars {
            delimiter,
            quote,
            escape,
            null,
        };
        if problems.is_empty() {
            problems.extend(chars.problems());
        }
        if problems.is_empty() {
            Ok(chars)
        } else {
            Err(problems)
        }
    }
}

impl DialectChars {
    /// sph-partition's sanity rules (`Csv.cc:299-352`), each with the field it is about.
    fn problems(&self) -> Vec<DialectProblem> {
        let mut p = Vec::new();
        let show = |c: u8| format!("{:?}", char::from(c));
        if [b'\0', b'\n', b'\r'].contains(&self.delimiter) {
            p.push(("delimiter", "may not be NUL, CR or LF".into()));
        }
        if let Some(q) = self.quote
            && (q == self.delimiter || q == b'\n' || q == b'\r' || q == 0)
        {
            p.push((
                "quote",
                format!("{} may not be NUL, CR, LF or the delimiter", show(q)),
            ));
        }
        if let Some(e) = self.escape {
            if e == self.delimiter || e == b'\n' || e == b'\r' || e == 0 {
                p.push((
                    "escape",
                    format!("{} may not be NUL, CR, LF or the delimiter", show(e)),
                ));
            } else if Some(e) == self.quote {
                p.push(("escape", format!("{} is also the quote character", show(e))));
            }
            for (field, c) in [
                ("escape", Some(e)),
                ("quote", self.quote),
                ("delimiter", Some(self.delimiter)),
            ] {
                if let Some(c) = c.filter(|c| PROHIBITED.contains(c)) {
                    p.push((
                        field,
                        format!(
                            "{}: escaped, it would read as a standard escape sequence (avoid \
                             0bfnrtvNZ, or set noEscape)",
                            show(c)
                        ),
                    ));
                }
            }
        }
        if self
            .null
            .iter()
            .any(|c| *c == b'\n' || *c == b'\r' || *c == self.delimiter)
        {
            p.push((
                "nullToken",
                "may not contain CR, LF or the delimiter".into(),
            ));
        }
        p
    }
}

/// One ASCII character; `\t` is tab and `\\` a backslash (as written in sph-partition's JSON
/// configs and on its command line).
fn one_char(value: &str) -> Result<u8, String> {
    match value {
        "\\t" => Ok(b'\t'),
        "\\\\" => Ok(b'\\'),
        _ if value.len() == 1 && value.is_ascii() => Ok(value.as_bytes()[0]),
        _ => Err(format!(
            "must be one ASCII character (or \\t), got {value:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(v: serde_json::Value) -> CsvDialect {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_follow_the_format_and_sph_partition() {
        let csv = CsvDialect::resolve(None, false).unwrap();
        assert_eq!(
            csv,
            DialectChars {
                delimiter: b',',
                quote: Some(b'"'),
                escape: Some(b'\\'),
                null: b"NULL".to_vec()
            }
        );
        let tsv = CsvDialect::resolve(None, true).unwrap();
        assert_eq!(
            (tsv.delimiter, tsv.quote, tsv.escape),
            (b'\t', None, Some(b'\\'))
        );
        assert_eq!(tsv.null, b"\\N");
        // case04's DeepCoadd: comma, double quotes; case03: comma and escapes, no quoting.
        let quoted = dialect(serde_json::json!({"quote": "\"", "nullToken": "\\N"}));
        let r = CsvDialect::resolve(Some(&quoted), true).unwrap();
        assert_eq!(
            (r.delimiter, r.quote, r.null.as_slice()),
            (b'\t', Some(b'"'), &b"\\N"[..])
        );
        let plain =
            dialect(serde_json::json!({"noQuote": true, "noEscape": true, "delimiter": "|"}));
        let r = CsvDialect::resolve(Some(&plain), false).unwrap();
        assert_eq!(
            (r.delimiter, r.quote, r.escape, r.null.as_slice()),
            (b'|', None, None, &b""[..])
        );
        let tokens = dialect(serde_json::json!({"delimiter": "\\t", "escape": "\\\\"}));
        let r = CsvDialect::resolve(Some(&tokens), false).unwrap();
        assert_eq!((r.delimiter, r.escape), (b'\t', Some(b'\\')));
    }

    #[test]
    fn every_problem_names_its_field() {
        let bad = dialect(serde_json::json!({
            "delimiter": ";;", "quote": "'", "noQuote": true, "escape": "é", "noEscape": true
        }));
        let fields: Vec<&str> = CsvDialect::resolve(Some(&bad), false)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["delimiter", "escape", "noQuote", "noEscape"]);
        let same = dialect(serde_json::json!({"quote": "\\\\"}));
        assert_eq!(
            CsvDialect::resolve(Some(&same), false).unwrap_err(),
            [("escape", "'\\\\' is also the quote character".to_string())]
        );
        let n = dialect(serde_json::json!({"delimiter": "n"}));
        let problems = CsvDialect::resolve(Some(&n), false).unwrap_err();
        assert_eq!(problems[0].0, "delimiter");
        assert!(
            problems[0].1.contains("standard escape sequence"),
            "{problems:?}"
        );
        let null = dialect(serde_json::json!({"nullToken": "a,b"}));
        assert_eq!(
            CsvDialect::resolve(Some(&null), false).unwrap_err()[0].0,
            "nullToken"
        );
    }
}
