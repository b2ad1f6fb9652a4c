//! sph-partition's CSV dialects and record editing, byte for byte: fields split on the
//! delimiter with an escape character and optional quoting, NULL tokens, and re-encoding into the
//! output dialect (lsst/qserv `src/partition/Csv.cc`, `Dialect` and `Editor`).

/// A CSV dialect as sph-partition defines it (`in.csv.*` / `out.csv.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub null: Vec<u8>,
}

/// Characters that, escaped, would read as standard escape sequences (Csv.cc `_prohibited`).
const PROHIBITED: &[u8] = b"0bfnrtvNZ";

impl Dialect {
    /// The sanity rules of `Dialect::_validate`.
    pub fn check(&self) -> Result<(), String> {
        let specials = [b'\0', b'\n', b'\r'];
        if specials.contains(&self.delimiter) {
            return Err("the delimiter may not be NUL, CR or LF".into());
        }
        if let Some(e) = self.escape {
            if e == self.delimiter || e == b'\n' || e == b'\r' {
                return Err("the escape character may not be CR, LF or the delimiter".into());
            }
            if Some(e) == self.quote {
                return Err("the escape and quote characters are identical".into());
            }
            let used = [Some(e), self.quote, Some(self.delimiter)];
            if used.iter().flatten().any(|c| PROHIBITED.contains(c)) {
                return Err(
                    "escaping the delimiter, quote or escape character would produce a standard \
                            escape sequence (avoid 0bfnrtvNZ) or disable escaping"
                        .into(),
                );
            }
        }
        if let Some(q) = self.quote
            && (q == self.delimiter || q == b'\n' || q == b'\r')
        {
            return Err("the quote character may not be CR, LF or the delimiter".into());
        }
        if self
            .null
            .iter()
            .any(|c| *c == b'\n' || *c == b'\r' || *c == self.delimiter)
        {
            return Err("the NULL string may not contain CR, LF or the delimiter".into());
        }
        Ok(())
    }

    pub fn is_null(&self, value: &[u8]) -> bool {
        value == self.null.as_slice()
    }

    /// True when the NULL token contains a character that encoding would escape, so a literal
    /// value equal to it can never be mistaken for NULL (Csv.cc `_nullHasSpecial`).
    fn null_has_special(&self) -> bool {
        self.null.iter().any(|c| self.is_special(*c))
    }

    fn is_special(&self, c: u8) -> bool {
        c == b'\r'
            || c == b'\n'
            || c == self.delimiter
            || Some(c) == self.escape
            || Some(c) == self.quote
    }

    /// Splits one line (without its terminator) into exactly `fields` fields. The same state
    /// machine as Csv.cc `Editor::readRecord`, but jumping from one special character to the
    /// next with SIMD searches instead of looking at every byte.
    pub fn split(&self, line: &[u8], fields: usize, record: &mut Record) -> Result<(), SplitError> {
        record.clear();
        let mut start = 0usize;
        // As in Csv.cc `Editor::readRecord`, only fields after a delimiter can be quoted.
        let mut quoted = false;
        let mut decode = false;
        let mut i = 0;
        while i < line.len() {
            if quoted {
                // Inside quotes only the escape and the quote character matter.
                let Some(k) = find2(&line[i..], self.quote, self.escape) else {
                    return Err(SplitError::Unterminated);
                };
                i += k;
                if Some(line[i]) == self.escape {
                    if i + 1 >= line.len() {
                        return Err(SplitError::Unterminated);
                    }
                    i += 2;
                    continue;
                }
                // A quote: doubled, closing before a delimiter or the end, or literal.
                match line.get(i + 1) {
                    Some(next) if Some(*next) == self.quote => i += 2,
                    Some(next) if *next == self.delimiter => {
                        quoted = false;
                        i += 1;
                    }
                    None => {
                        quoted = false;
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
                continue;
            }
            let Some(k) = find2(&line[i..], Some(self.delimiter), self.escape) else {
                break;
            };
            i += k;
            if line[i] != self.delimiter {
                // The escape character: the next character is literal.
                if i + 1 >= line.len() {
                    return Err(SplitError::Unterminated);
                }
                decode = true;
                i += 2;
                continue;
            }
            record.push(start, i, decode);
            if record.len() == fields {
                return Err(SplitError::TooManyFields { expected: fields });
            }
            start = i + 1;
            decode = false;
            if line.get(i + 1).is_some_and(|n| Some(*n) == self.quote) {
                quoted = true;
                decode = true;
                i += 1;
            }
            i += 1;
        }
        if quoted {
            return Err(SplitError::Unterminated);
        }
        record.push(start, line.len(), decode);
        if record.len() != fields {
            return Err(SplitError::TooFewFields {
                expected: fields,
                got: record.len(),
            });
        }
        Ok(())
    }

    /// Decodes an escaped and/or quoted input value (Csv.cc `Dialect::decode`).
    pub fn decode_into(&self, value: &[u8], out: &mut Vec<u8>) {
        if self.quote.is_none() && self.escape.is_none() || self.is_null(value) {
            out.extend_from_slice(value);
            return;
        }
        let quoted = !value.is_empty() && Some(value[0]) == self.quote;
        let value = if quoted { &value[1..] } else { value };
        let mut i = 0;
        while i < value.len() {
            let mut c = value[i];
            i += 1;
            if Some(c) == self.escape {
                if i < value.len() {
                    c = unescape(value[i]);
                    i += 1;
                }
            } else if quoted && Some(c) == self.quote {
                if i < value.len() {
                    if Some(value[i]) == self.quote {
                        i += 1;
                    }
                } else {
                    break; // the closing quote
                }
            }
            out.push(c);
        }
    }

    /// Encodes a decoded value into this dialect (Csv.cc `Dialect::encode`).
    pub fn encode_into(&self, value: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if !value.iter().any(|c| self.is_special(*c)) {
            if !self.null_has_special() && self.is_null(value) {
                let Some(q) = self.quote else {
                    return Err(EncodeError::AmbiguousNull);
                };
                out.push(q);
                out.extend_from_slice(value);
                out.push(q);
            } else {
                out.extend_from_slice(value);
            }
            return Ok(());
        }
        if let Some(e) = self.escape {
            for &c in value {
                match c {
                    b'\r' => out.extend_from_slice(&[e, b'r']),
                    b'\n' => out.extend_from_slice(&[e, b'n']),
                    c if c == self.delimiter || c == e || Some(c) == self.quote => {
                        out.extend_from_slice(&[e, c])
                    }
                    c => out.push(c),
                }
            }
        } else if let Some(q) = self.quote {
            if value.iter().any(|c| *c == b'\r' || *c == b'\n') {
                return Err(EncodeError::LineBreak);
            }
            out.push(q);
            for &c in value {
                if c == q {
                    out.push(q);
                }
                out.push(c);
            }
            out.push(q);
        } else {
            return Err(EncodeError::Unencodable);
        }
        Ok(())
    }
}

/// Position of the first `a` or `b` in `hay` (either may be absent).
fn find2(hay: &[u8], a: Option<u8>, b: Option<u8>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => memchr::memchr2(a, b, hay),
        (Some(c), None) | (None, Some(c)) => memchr::memchr(c, hay),
        (None, None) => None,
    }
}

/// The character an escape sequence stands for (Csv.cc `_unescape`).
fn unescape(c: u8) -> u8 {
    match c {
        b'0' => 0,
        b'Z' => 0x1a,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        other => other,
    }
}

/// Field boundaries of one split line, reused between lines.
#[derive(Debug, Default, Clone)]
pub struct Record {
    bounds: Vec<(u32, u32, bool)>,
}

impl Record {
    fn clear(&mut self) {
        self.bounds.clear();
    }

    fn push(&mut self, start: usize, end: usize, decode: bool) {
        self.bounds.push((start as u32, end as u32, decode));
    }

    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// The raw (still encoded) bytes of field `i` and whether they need decoding.
    pub fn field<'a>(&self, line: &'a [u8], i: usize) -> (&'a [u8], bool) {
        let (s, e, d) = self.bounds[i];
        (&line[s as usize..e as usize], d)
    }
}

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("more than the expected {expected} fields")]
    TooManyFields { expected: usize },
    #[error("{got} fields, expected {expected}")]
    TooFewFields { expected: usize, got: usize },
    #[error("a quoted field without its closing quote, or a trailing escape character")]
    Unterminated,
}

/// Why a value cannot be written in the output dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the value equals the output NULL string and the dialect cannot quote it")]
    AmbiguousNull,
    #[error("the value contains CR or LF, which a quoting dialect without escapes cannot encode")]
    LineBreak,
    #[error(
        "the value contains the delimiter, CR or LF and the output dialect neither quotes nor escapes"
    )]
    Unencodable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsv() -> Dialect {
        Dialect {
            delimiter: b'\t',
            quote: Some(b'"'),
            escape: Some(b'\\'),
            null: b"\\N".to_vec(),
        }
    }

    fn qserv_out() -> Dialect {
        Dialect {
            delimiter: b',',
            quote: None,
            escape: Some(b'\\'),
            null: b"\\N".to_vec(),
        }
    }

    fn fields(d: &Dialect, line: &[u8], n: usize) -> Result<Vec<(String, bool)>, SplitError> {
        let mut r = Record::default();
        d.split(line, n, &mut r)?;
        Ok((0..r.len())
            .map(|i| {
                let (v, dec) = r.field(line, i);
                (String::from_utf8_lossy(v).into_owned(), dec)
            })
            .collect())
    }

    #[test]
    fn splits_plain_escaped_quoted_and_null_fields() {
        let f = fields(&tsv(), b"1\ta\\tb\t\"x\ty\"\t\\N\t", 5).unwrap();
        assert_eq!(
            f,
            vec![
                ("1".into(), false),
                ("a\\tb".into(), true),
                ("\"x\ty\"".into(), true),
                ("\\N".into(), true),
                ("".into(), false)
            ]
        );
    }

    /// Csv.cc `Editor::readRecord` transcribed byte by byte, as the reference for `split`.
    fn reference_split(
        d: &Dialect,
        line: &[u8],
        fields: usize,
    ) -> Result<Vec<(usize, usize, bool)>, ()> {
        let mut out = Vec::new();
        let (mut start, mut quoted, mut escaped, mut decode) = (0, false, false, false);
        let mut i = 0;
        while i < line.len() {
            let c = line[i];
            if escaped {
                escaped = false;
            } else if quoted {
                if Some(c) == d.escape {
                    escaped = true;
                } else if Some(c) == d.quote {
                    match line.get(i + 1) {
                        Some(n) if Some(*n) == d.quote => i += 1,
                        Some(n) if *n == d.delimiter => quoted = false,
                        None => quoted = false,
                        _ => {}
                    }
                }
            } else if Some(c) == d.escape {
                escaped = true;
                decode = true;
            } else if c == d.delimiter {
                out.push((start, i, decode));
                if out.len() == fields {
                    return Err(());
                }
                start = i + 1;
                decode = false;
                if line.get(i + 1).is_some_and(|n| Some(*n) == d.quote) {
                    quoted = true;
                    decode = true;
                    i += 1;
                }
            }
            i += 1;
        }
        if quoted || escaped {
            return Err(());
        }
        out.push((start, line.len(), decode));
        if out.len() != fields {
            Err(())
        } else {
            Ok(out)
        }
    }

    #[test]
    fn split_agrees_with_the_byte_by_byte_reference() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"ab,\\\"\t";
        for d in [tsv(), qserv_out()] {
            let mut r = Record::default();
            for _ in 0..20_000 {
                let len = rng.random_range(0..14);
                let line: Vec<u8> = (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect();
                for n in 1..5 {
                    let ours = d.split(&line, n, &mut r).map(|_| {
                        (0..r.len())
                            .map(|i| r.bounds[i])
                            .map(|(s, e, dec)| (s as usize, e as usize, dec))
                            .collect::<Vec<_>>()
                    });
                    let reference = reference_split(&d, &line, n);
                    assert_eq!(
                        ours.is_ok(),
                        reference.is_ok(),
                        "{:?} n={n}",
                        String::from_utf8_lossy(&line)
                    );
                    if let (Ok(a), Ok(b)) = (ours, reference) {
                        assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&line));
                    }
                }
            }
        }
    }

    #[test]
    fn field_count_errors() {
        assert_eq!(
            fields(&tsv(), b"1\t2\t3", 2),
            Err(SplitError::TooManyFields { expected: 2 })
        );
        assert_eq!(
            fields(&tsv(), b"1\t2", 3),
            Err(SplitError::TooFewFields {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            fields(&tsv(), b"1\t\"open", 2),
            Err(SplitError::Unterminated)
        );
        assert_eq!(
            fields(&tsv(), b"1\tend\\", 2),
            Err(SplitError::Unterminated)
        );
    }

    #[test]
    fn decode_then_encode_converts_dialects_like_sph_partition() {
        let (i, o) = (tsv(), qserv_out());
        let mut dec = Vec::new();
        i.decode_into(b"\"a,\"\"b\"\"\"", &mut dec);
        assert_eq!(dec, b"a,\"b\"");
        let mut enc = Vec::new();
        o.encode_into(&dec, &mut enc).unwrap();
        assert_eq!(enc, b"a\\,\"b\"");
        dec.clear();
        i.decode_into(b"line\\nbreak\\\\", &mut dec);
        assert_eq!(dec, b"line\nbreak\\");
        enc.clear();
        o.encode_into(&dec, &mut enc).unwrap();
        assert_eq!(enc, b"line\\nbreak\\\\");
    }

    #[test]
    fn dialect_rules_reject_ambiguous_settings() {
        let mut d = tsv();
        d.escape = Some(b'"');
        assert!(d.check().unwrap_err().contains("identical"));
        let mut d = qserv_out();
        d.delimiter = b'n';
        assert!(d.check().unwrap_err().contains("standard escape sequence"));
        let plain = Dialect {
            delimiter: b',',
            quote: None,
            escape: None,
            null: Vec::new(),
        };
        assert_eq!(
            plain.encode_into(b"a,b", &mut Vec::new()),
            Err(EncodeError::Unencodable)
        );
        assert_eq!(
            plain.encode_into(b"", &mut Vec::new()),
            Err(EncodeError::AmbiguousNull)
        );
    }
}
