//! sph-partition's line splitting, byte for byte: one line split into fields on the delimiter
//! with an escape character and optional quoting, as `Q@2026.3.3-rc1:src/partition/Csv.cc`
//! `Editor::readRecord` does. The partitioner's own CSV/TSV path (the `partition` command) reads
//! with it; the dialect itself, its rules and the value codec are the catalog reader's
//! ([`crate::catalog::csv::Dialect`]), which reads whole records (a quoted or escaped line break
//! continues one) for everything else.

pub use crate::catalog::csv::{Dialect, EncodeError};

impl Dialect {
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
}

/// Position of the first `a` or `b` in `hay` (either may be absent).
fn find2(hay: &[u8], a: Option<u8>, b: Option<u8>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => memchr::memchr2(a, b, hay),
        (Some(c), None) | (None, Some(c)) => memchr::memchr(c, hay),
        (None, None) => None,
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
}
