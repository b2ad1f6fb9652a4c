//! Splitting a delimited text stream into records of decoded fields, in any dialect
//! sph-partition reads ([`Dialect`]: delimiter, quote, escape, NULL token), as MySQL's `LOAD
//! DATA ... FIELDS TERMINATED BY / ENCLOSED BY / ESCAPED BY` reads the same bytes:
//!
//! - a field that starts with the quote character is quoted: it ends at a quote followed by the
//!   delimiter or the end of the record, a doubled quote inside is one quote, and a line break
//!   inside is data;
//! - the escape character makes the next byte literal, with sph-partition's sequences (`\0`,
//!   `\b`, `\f`, `\n`, `\r`, `\t`, `\v`, `\Z`) decoded; an escaped line break is data;
//! - NULL: a field that is the escape character followed by `N`, quoted or not; with quoting
//!   on, an unquoted field whose decoded value is the word `NULL`; and an unquoted field equal
//!   to the NULL token (sph-partition's `in.csv.null`);
//! - a record ends at an unquoted, unescaped LF; a CR right before it (or before the end of the
//!   input) is dropped, a CR anywhere else is data: the one line-ending rule of every path
//!   (the partitioner's `partition::input::lines` too).
//!
//! Where sph-partition's own reader (`Q@2026.3.3-rc1:src/partition/Csv.cc:406-521`,
//! `Editor::readRecord`) differs, it fails or misreads and `LOAD DATA` does not, and this
//! reader does what `LOAD DATA` does: sph-partition treats a quote opening the *first* field as
//! data, refuses an escaped or quoted line break ("CSV record contains an embedded line
//! terminator"), and ends a record at a lone CR. `LOAD DATA` differs from sph-partition on
//! `\f` and `\v` (it reads `f` and `v`); this reader decodes them as sph-partition does.

use std::io::{BufRead, Read};

use super::dialect::{Dialect, unescape};

/// The longest record read (a quote left open would otherwise read the rest of the input into
/// one field).
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;

/// The fields of one record: bytes (decoded) and whether each field is NULL.
#[derive(Default)]
pub(crate) struct Record {
    pub data: Vec<u8>,
    pub ends: Vec<usize>,
    pub nulls: Vec<bool>,
    /// 1-based line where the record starts.
    pub line: u64,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, or `None` for NULL.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        if self.nulls[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..self.ends[i]])
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.nulls.clear();
    }
}

/// Why a record could not be read, at which line.
#[derive(Debug)]
pub(crate) struct RecordError {
    pub line: u64,
    pub reason: String,
}

/// Position of the first `a` or `b` in `hay` (either may be absent).
fn find2(hay: &[u8], a: Option<u8>, b: Option<u8>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => memchr::memchr2(a, b, hay),
        (Some(c), None) | (None, Some(c)) => memchr::memchr(c, hay),
        (None, None) => None,
    }
}

/// Records of one dialect from a byte stream.
pub(crate) struct Records {
    reader: Box<dyn BufRead + Send>,
    dialect: Dialect,
    /// The raw bytes of the record being read (its lines, LFs included).
    raw: Vec<u8>,
    next_line: u64,
    max_record: usize,
}

/// Where the scan of a record is.
#[derive(Default)]
struct Scan {
    /// Position in `raw` of the next byte to look at.
    pos: usize,
    /// Position in `raw` where the current field starts.
    field_raw: usize,
    /// Position in the record's `data` where the current field's value starts.
    field_data: usize,
    in_quotes: bool,
    quoted: bool,
    escaped: bool,
}

impl Records {
    pub fn new(input: Box<dyn BufRead + Send>, dialect: Dialect) -> Self {
        Records {
            reader: input,
            dialect,
            raw: Vec::new(),
            next_line: 1,
            max_record: MAX_RECORD_BYTES,
        }
    }

    #[cfg(test)]
    fn with_max_record(mut self, max: usize) -> Self {
        self.max_record = max;
        self
    }

    /// Reads the next record into `out`; `Ok(false)` at the end of the input.
    pub fn next_into(&mut self, out: &mut Record) -> Result<bool, RecordError> {
        out.clear();
        out.line = self.next_line;
        self.raw.clear();
        let mut scan = Scan::default();
        loop {
            let room = (self.max_record + 1).saturating_sub(self.raw.len()) as u64;
            let read = (&mut self.reader)
                .take(room)
                .read_until(b'\n', &mut self.raw)
                .map_err(|err| RecordError {
                    line: self.next_line,
                    reason: format!("cannot read: {err}"),
                })?;
            let ends_with_lf = self.raw.last() == Some(&b'\n') && read > 0;
            if self.raw.len() > self.max_record {
                return Err(RecordError {
                    line: out.line,
                    reason: format!(
                        "a record longer than {} MiB (a quoted field without its closing quote?)",
                        self.max_record >> 20
                    ),
                });
            }
            if read == 0 && self.raw.len() == scan.pos {
                if self.raw.is_empty() {
                    return Ok(false);
                }
                // The input ended inside a quoted field or right after an escape character.
                return Err(self.unterminated(out, &scan));
            }
            if ends_with_lf {
                self.next_line += 1;
            }
            let end = self.raw.len() - usize::from(ends_with_lf);
            if self.scan_line(out, &mut scan, end) {
                return Ok(true);
            }
            if !ends_with_lf {
                return Err(self.unterminated(out, &scan));
            }
            // A quoted or escaped line break: the LF is data and the record goes on.
            out.data.push(b'\n');
            scan.escaped = false;
            scan.pos = self.raw.len();
        }
    }

    fn unterminated(&self, out: &Record, scan: &Scan) -> RecordError {
        let field = out.ends.len() + 1;
        let reason = if scan.escaped {
            format!(
                "field {field} ends with the escape character {:?} at the end of the input",
                self.dialect.escape.map(char::from).unwrap_or_default()
            )
        } else {
            format!(
                "field {field} opens a quote ({:?}) that is not closed before the end of the input",
                self.dialect.quote.map(char::from).unwrap_or_default()
            )
        };
        RecordError {
            line: out.line,
            reason,
        }
    }

    /// Scans `raw[scan.pos..end]` (one line without its LF); true when the record ended there,
    /// false when the line break is data (inside quotes, or escaped).
    fn scan_line(&self, out: &mut Record, scan: &mut Scan, end: usize) -> bool {
        let d = &self.dialect;
        let raw = &self.raw;
        // Where the record would end: before a CR that ends the line (unless that CR is data).
        let line_end = if end > scan.pos && raw[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let mut i = scan.pos;
        while i < end {
            if scan.escaped {
                out.data.push(unescape(raw[i]));
                scan.escaped = false;
                i += 1;
                continue;
            }
            if scan.in_quotes {
                // A run of data up to the next quote or escape character.
                let stop = find2(&raw[i..end], d.quote, d.escape).map_or(end, |k| i + k);
                out.data.extend_from_slice(&raw[i..stop]);
                i = stop;
                if i == end {
                    break;
                }
                if Some(raw[i]) == d.escape {
                    scan.escaped = true;
                    i += 1;
                    continue;
                }
                // A quote: doubled, closing (before the delimiter or the record's end), or data.
                let next = (i + 1 < end).then(|| raw[i + 1]);
                if next.is_some() && next == d.quote {
                    out.data.push(raw[i]);
                    i += 2;
                } else if next == Some(d.delimiter) || i + 1 == end || i + 1 == line_end {
                    scan.in_quotes = false;
                    i += 1;
                } else {
                    out.data.push(raw[i]);
                    i += 1;
                }
                continue;
            }
            if i == scan.field_raw && i < line_end && Some(raw[i]) == d.quote {
                scan.in_quotes = true;
                scan.quoted = true;
                i += 1;
                continue;
            }
            // A run of data up to the next delimiter or escape character, or the record's end.
            let stop =
                find2(&raw[i..line_end], Some(d.delimiter), d.escape).map_or(line_end, |k| i + k);
            out.data.extend_from_slice(&raw[i..stop]);
            i = stop;
            if i == line_end {
                // The CR ending the line, if any, is not data.
                i = end;
            } else if raw[i] == d.delimiter {
                self.end_field(out, scan, i);
                scan.field_raw = i + 1;
                i += 1;
            } else {
                scan.escaped = true;
                i += 1;
            }
        }
        if scan.escaped || scan.in_quotes {
            return false;
        }
        self.end_field(out, scan, line_end.max(scan.field_raw));
        true
    }

    /// Ends the current field, whose raw bytes end at `raw_end`.
    fn end_field(&self, out: &mut Record, scan: &mut Scan, raw_end: usize) {
        let raw = &self.raw[scan.field_raw..raw_end];
        let decoded = &out.data[scan.field_data..];
        let null = self.dialect.reads_as_null(raw, scan.quoted, decoded);
        if null {
            out.data.truncate(scan.field_data);
        }
        out.ends.push(out.data.len());
        out.nulls.push(null);
        scan.field_data = out.data.len();
        scan.quoted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<Option<Vec<u8>>>;

    fn read_all(dialect: Dialect, text: &[u8]) -> Result<Vec<(u64, Fields)>, (u64, String)> {
        let mut records = Records::new(Box::new(std::io::Cursor::new(text.to_vec())), dialect);
        let mut rec = Record::default();
        let mut all = Vec::new();
        loop {
            match records.next_into(&mut rec) {
                Ok(false) => return Ok(all),
                Ok(true) => all.push((
                    rec.line,
                    (0..rec.len())
                        .map(|i| rec.field(i).map(<[u8]>::to_vec))
                        .collect(),
                )),
                Err(e) => return Err((e.line, e.reason)),
            }
        }
    }

    fn f(s: &[u8]) -> Option<Vec<u8>> {
        Some(s.to_vec())
    }

    #[test]
    fn mysql_escapes_nulls_and_escaped_newlines() {
        let got = read_all(
            Dialect::mysql_tsv(),
            b"1\t\\N\ta\\tb\n2\tx\\\ny\t\\\\N\n3\t\\0\\N\t\\Nx\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (1, vec![f(b"1"), None, f(b"a\tb")]),
                (2, vec![f(b"2"), f(b"x\ny"), f(b"\\N")]),
                (4, vec![f(b"3"), f(b"\0N"), f(b"Nx")]),
            ]
        );
    }

    /// One line-ending rule for every path: CRLF ends a line like LF (the partitioner strips
    /// the `\r` too), so no field keeps a `\r`; a lone CR is data.
    #[test]
    fn crlf_ends_a_line_as_lf_does() {
        assert_eq!(
            read_all(Dialect::mysql_tsv(), b"1\ta\r\n2\t\\N\r\n3\tc\rd\r").unwrap(),
            vec![
                (1, vec![f(b"1"), f(b"a")]),
                (2, vec![f(b"2"), None]),
                (3, vec![f(b"3"), f(b"c\rd")]),
            ]
        );
        // What the partitioner's line splitter gives for the same bytes.
        let partitioned: Vec<&[u8]> =
            crate::partition::input::lines(1, b"1\ta\r\n2\t\\N\r\n3\tc\rd\r")
                .map(|(_, l)| l)
                .collect();
        assert_eq!(partitioned, [&b"1\ta"[..], b"2\t\\N", b"3\tc\rd"]);
        // An escaped CR is data, also before LF (LOAD DATA reads it so).
        assert_eq!(
            read_all(Dialect::mysql_tsv(), b"a\\\r\nb\n").unwrap(),
            vec![(1, vec![f(b"a\r")]), (2, vec![f(b"b")])]
        );
    }

    #[test]
    fn quotes_with_doubled_quotes_escapes_and_line_breaks() {
        let d = Dialect::csv();
        let got = read_all(
            d,
            b"\"a,b\",\"say \"\"hi\"\"\",\"x\\\"y\"\n\"multi\r\nline\",NULL,\"NULL\"\r\n\\N,\"\",\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (1, vec![f(b"a,b"), f(b"say \"hi\""), f(b"x\"y")]),
                (2, vec![f(b"multi\r\nline"), None, f(b"NULL")]),
                (4, vec![None, f(b""), f(b"")]),
            ]
        );
        // A quote inside an unquoted field, or not before a delimiter, is data.
        assert_eq!(
            read_all(Dialect::csv(), b"a\"b,\"c\"d\",e\n").unwrap(),
            vec![(1, vec![f(b"a\"b"), f(b"c\"d"), f(b"e")])]
        );
    }

    #[test]
    fn no_quote_and_no_escape_read_every_byte_as_data() {
        let d = Dialect::new(b'|', None, None, Some(b"".to_vec()));
        assert_eq!(
            read_all(d, b"\"a\\|b\"||x\n").unwrap(),
            vec![(1, vec![f(b"\"a\\"), f(b"b\""), None, f(b"x")])]
        );
    }

    #[test]
    fn unterminated_quotes_trailing_escapes_and_huge_records_are_errors() {
        assert_eq!(
            read_all(Dialect::csv(), b"1,2\n3,\"open\n4,5\n").unwrap_err(),
            (
                2,
                "field 2 opens a quote ('\"') that is not closed before the end of the input"
                    .into()
            )
        );
        assert_eq!(
            read_all(Dialect::mysql_tsv(), b"1\t2\n3\tend\\").unwrap_err(),
            (
                2,
                "field 2 ends with the escape character '\\\\' at the end of the input".into()
            )
        );
        let mut records = Records::new(
            Box::new(std::io::Cursor::new(b"1,\"aaaaaaaa\n".repeat(100_000))),
            Dialect::csv(),
        )
        .with_max_record(1 << 20);
        let err = records.next_into(&mut Record::default()).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(
            err.reason.starts_with("a record longer than 1 MiB"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn empty_lines_and_a_missing_last_newline() {
        assert_eq!(
            read_all(Dialect::mysql_tsv(), b"\n1\t2").unwrap(),
            vec![(1, vec![f(b"")]), (2, vec![f(b"1"), f(b"2")])]
        );
        assert_eq!(read_all(Dialect::mysql_tsv(), b"").unwrap(), vec![]);
    }
}
