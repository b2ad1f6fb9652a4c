//! A CSV dialect as Qserv's `sph-partition` defines it (`in.csv.*` / `out.csv.*`: delimiter,
//! quote, escape, NULL token), its sanity rules, and the decoding and encoding of one value
//! (`Q@2026.3.3-rc1:src/partition/Csv.cc`, `Dialect`). The record reader of this module
//! ([`super::records`]) and the partitioner's sph-compatible line splitter
//! (`partition::csv`) both read with it.

/// A CSV dialect: the field delimiter, the quote and escape characters (`None`: disabled,
/// sph-partition's `no-quote` / `no-escape`) and the NULL token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub null: Vec<u8>,
}

/// Characters that, escaped, would read as standard escape sequences (`Csv.cc:44`,
/// `_prohibited`).
const PROHIBITED: &[u8] = b"0bfnrtvNZ";

impl Dialect {
    /// A dialect with sph-partition's NULL default when `null` is not given: `NULL` when
    /// quoting is on, else the escape character followed by `N`, else the empty string
    /// (`Csv.cc:101-108`).
    pub fn new(
        delimiter: u8,
        quote: Option<u8>,
        escape: Option<u8>,
        null: Option<Vec<u8>>,
    ) -> Self {
        let null = match null {
            Some(n) => n,
            None if quote.is_some() => b"NULL".to_vec(),
            None => escape.map(|e| vec![e, b'N']).unwrap_or_default(),
        };
        Dialect {
            delimiter,
            quote,
            escape,
            null,
        }
    }

    /// sph-partition's defaults (`Csv.cc:275-284`): tab, `"` quotes, `\` escapes, `NULL`.
    pub fn sph_default() -> Self {
        Dialect::new(b'\t', Some(b'"'), Some(b'\\'), None)
    }

    /// What MySQL's `SELECT ... INTO OUTFILE` writes and `LOAD DATA` reads by default: tab, no
    /// quoting, `\` escapes, `\N` for NULL.
    pub fn mysql_tsv() -> Self {
        Dialect::new(b'\t', None, Some(b'\\'), None)
    }

    /// sph-partition's defaults with a comma: `"` quotes, `\` escapes, `NULL`.
    pub fn csv() -> Self {
        Dialect::new(b',', Some(b'"'), Some(b'\\'), None)
    }

    /// The sanity rules of `Dialect::_validate` (`Csv.cc:299-352`).
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

    /// The raw (undecoded, unquoted) value is the NULL token (`Csv.h`, `isNull`).
    pub fn is_null(&self, value: &[u8]) -> bool {
        value == self.null.as_slice()
    }

    /// How the record reader tells NULL, from the raw bytes of a field (with its quotes when
    /// `quoted`) and its decoded value: what `LOAD DATA` reads as NULL, and the NULL token.
    /// `LOAD DATA` (MariaDB's `read_sep_field`, held to the server in tests/csv_dialects.rs)
    /// reads a field that is the escape character followed by `N`, quoted or not, as NULL, and,
    /// when quoting is on, an unquoted field whose decoded value is the word `NULL`;
    /// sph-partition's token is compared with the raw, unquoted field (`Csv.h`, `isNull`).
    /// (sph-partition would decode an escaped `N` to the letter, which no writer means.)
    pub fn reads_as_null(&self, raw: &[u8], quoted: bool, decoded: &[u8]) -> bool {
        let inner = if quoted && raw.len() >= 2 {
            &raw[1..raw.len() - 1]
        } else {
            raw
        };
        matches!((self.escape, inner), (Some(e), [a, b'N']) if *a == e)
            || (!quoted && (self.is_null(raw) || self.quote.is_some() && decoded == b"NULL"))
    }

    /// True when the NULL token contains a character that encoding would escape, so a literal
    /// value equal to it can never be mistaken for NULL (`Csv.cc:351`, `_nullHasSpecial`).
    fn null_has_special(&self) -> bool {
        self.null.iter().any(|c| self.is_special(*c))
    }

    /// CR, LF, the delimiter, the quote or the escape character.
    pub(crate) fn is_special(&self, c: u8) -> bool {
        c == b'\r'
            || c == b'\n'
            || c == self.delimiter
            || Some(c) == self.escape
            || Some(c) == self.quote
    }

    /// Decodes an escaped and/or quoted input value (`Csv.cc:136-176`, `Dialect::decode`).
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

    /// Encodes a decoded value into this dialect (`Csv.cc:178-266`, `Dialect::encode`).
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

/// The character an escape sequence stands for (`Csv.cc:49-66`, `_unescape`): `\0`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, `\v`, `\Z`; any other character stands for itself.
pub fn unescape(c: u8) -> u8 {
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

/// Why a value cannot be written in a dialect.
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

    #[test]
    fn defaults_follow_sph_partition() {
        assert_eq!(Dialect::sph_default().null, b"NULL");
        assert_eq!(Dialect::mysql_tsv().null, b"\\N");
        assert_eq!(Dialect::new(b',', None, None, None).null, b"");
        let d = Dialect::new(b',', None, Some(b'^'), None);
        assert_eq!(d.null, b"^N");
        assert!(d.reads_as_null(b"^N", false, b"N") && !d.reads_as_null(b"\\N", false, b"\\N"));
        let csv = Dialect::csv();
        assert!(csv.reads_as_null(b"NULL", false, b"NULL"));
        assert!(csv.reads_as_null(b"\\N", false, b"N"));
        assert!(csv.reads_as_null(b"\"\\N\"", true, b"N"));
        assert!(csv.reads_as_null(b"\\NULL", false, b"NULL"));
        assert!(!csv.reads_as_null(b"\"NULL\"", true, b"NULL"));
        assert!(!csv.reads_as_null(b"N", false, b"N"));
        // Without quoting the word is data unless it is the token.
        let tsv = Dialect::mysql_tsv();
        assert!(!tsv.reads_as_null(b"NULL", false, b"NULL"));
    }

    #[test]
    fn decode_then_encode_converts_dialects_like_sph_partition() {
        let tsv = Dialect::new(b'\t', Some(b'"'), Some(b'\\'), Some(b"\\N".to_vec()));
        let qserv_out = Dialect::new(b',', None, Some(b'\\'), None);
        let mut dec = Vec::new();
        tsv.decode_into(b"\"a,\"\"b\"\"\"", &mut dec);
        assert_eq!(dec, b"a,\"b\"");
        let mut enc = Vec::new();
        qserv_out.encode_into(&dec, &mut enc).unwrap();
        assert_eq!(enc, b"a\\,\"b\"");
        dec.clear();
        tsv.decode_into(b"line\\nbreak\\\\", &mut dec);
        assert_eq!(dec, b"line\nbreak\\");
        enc.clear();
        qserv_out.encode_into(&dec, &mut enc).unwrap();
        assert_eq!(enc, b"line\\nbreak\\\\");
    }

    #[test]
    fn dialect_rules_reject_ambiguous_settings() {
        let mut d = Dialect::sph_default();
        d.escape = Some(b'"');
        assert!(d.check().unwrap_err().contains("identical"));
        let mut d = Dialect::new(b',', None, Some(b'\\'), None);
        d.delimiter = b'n';
        assert!(d.check().unwrap_err().contains("standard escape sequence"));
        let plain = Dialect::new(b',', None, None, None);
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
