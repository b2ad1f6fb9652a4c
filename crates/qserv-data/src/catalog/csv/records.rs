//! Splitting a delimited text stream into records of fields, in two dialects:
//!
//! - **RFC 4180** (`"` quoting, `""` inside quotes), with the `csv` crate: what pandas,
//!   astropy and spreadsheets write.
//! - **MySQL** (`SELECT ... INTO OUTFILE` / `LOAD DATA` defaults, and Qserv's `sph-partition`
//!   `in.csv.escape`): no quoting, a backslash escapes the next byte (`\t`, `\n`, `\0`, `\\`, an
//!   escaped delimiter or newline), and `\N` is NULL. The `csv` crate only honours escapes
//!   inside quotes, so it would split a binary column at its first escaped tab; the qserv
//!   testdata TSVs have such columns, hence this small splitter.

use std::io::{BufRead, Read};

/// The fields of one record: bytes (unescaped) and whether each field is NULL.
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

    fn end_field(&mut self, null: bool) {
        self.ends.push(self.data.len());
        self.nulls.push(null);
    }
}

/// Why a record could not be read, at which line.
pub(crate) struct RecordError {
    pub line: u64,
    pub reason: String,
}

/// A source of records in one dialect.
pub(crate) enum Records {
    Rfc4180 {
        reader: csv::Reader<Box<dyn Read + Send>>,
        raw: csv::ByteRecord,
        null: Vec<u8>,
    },
    MySql {
        reader: Box<dyn BufRead + Send>,
        delimiter: u8,
        line_buf: Vec<u8>,
        next_line: u64,
    },
}

impl Records {
    pub fn rfc4180(input: Box<dyn Read + Send>, delimiter: u8, null: &str) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            // One line-ending rule everywhere: a record ends at LF, a CR right before it is
            // dropped (`CrlfAsLf`), as the partitioner's `partition::input::lines` and the MySQL
            // dialect read lines; a lone CR is data. (The csv crate's default also ends records
            // at a lone CR: the reference copy would then get a row more than Qserv.)
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            // A wrong field count is reported by the caller with the expected count.
            .flexible(true)
            .from_reader(Box::new(CrlfAsLf::new(input)) as Box<dyn Read + Send>);
        Records::Rfc4180 {
            reader,
            raw: csv::ByteRecord::new(),
            null: null.as_bytes().to_vec(),
        }
    }

    pub fn mysql(input: Box<dyn BufRead + Send>, delimiter: u8) -> Self {
        Records::MySql {
            reader: input,
            delimiter,
            line_buf: Vec::new(),
            next_line: 1,
        }
    }

    /// Reads the next record into `out`; `Ok(false)` at the end of the input.
    pub fn next_into(&mut self, out: &mut Record) -> Result<bool, RecordError> {
        out.clear();
        match self {
            Records::Rfc4180 { reader, raw, null } => {
                let line = reader.position().line();
                match reader.read_byte_record(raw) {
                    Ok(false) => Ok(false),
                    Ok(true) => {
                        out.line = raw.position().map_or(line, |p| p.line());
                        for field in raw.iter() {
                            out.data.extend_from_slice(field);
                            out.end_field(field == null.as_slice());
                        }
                        Ok(true)
                    }
                    Err(err) => {
                        let line = err.position().map_or(line, |p| p.line());
                        Err(RecordError {
                            line,
                            reason: csv_reason(&err),
                        })
                    }
                }
            }
            Records::MySql {
                reader,
                delimiter,
                line_buf,
                next_line,
            } => {
                out.line = *next_line;
                line_buf.clear();
                // A record continues past a newline escaped by an odd number of backslashes.
                loop {
                    let read = reader
                        .read_until(b'\n', line_buf)
                        .map_err(|err| RecordError {
                            line: *next_line,
                            reason: format!("cannot read: {err}"),
                        })?;
                    if read == 0 {
                        break;
                    }
                    *next_line += 1;
                    if line_buf.last() != Some(&b'\n') {
                        // The last line, without a newline: a trailing `\r` still ends it.
                        if line_buf.last() == Some(&b'\r') {
                            line_buf.pop();
                        }
                        break;
                    }
                    let body = &line_buf[..line_buf.len() - 1];
                    let slashes = body.iter().rev().take_while(|&&b| b == b'\\').count();
                    if slashes % 2 == 0 {
                        line_buf.pop();
                        // CRLF ends a line as LF does: the partitioner's rule too
                        // (`partition::input::lines`), so the reference copy and Qserv read the
                        // same last field.
                        if line_buf.last() == Some(&b'\r') {
                            line_buf.pop();
                        }
                        break;
                    }
                }
                if line_buf.is_empty() && out.line == *next_line {
                    return Ok(false);
                }
                split_mysql(line_buf, *delimiter, out);
                Ok(true)
            }
        }
    }
}

/// Splits one logical MySQL-dialect line into unescaped fields.
fn split_mysql(line: &[u8], delimiter: u8, out: &mut Record) {
    let mut i = 0;
    let mut field_start = 0;
    let mut null = false;
    while i < line.len() {
        let b = line[i];
        if b == b'\\' && i + 1 < line.len() {
            let next = line[i + 1];
            // `\N` alone is NULL; anywhere else it is a literal N, as in MySQL.
            if next == b'N'
                && out.data.len() == field_start
                && (i + 2 == line.len() || line[i + 2] == delimiter)
            {
                null = true;
            } else {
                out.data.push(match next {
                    b'0' => 0,
                    b'b' => 8,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'Z' => 0x1a,
                    other => other,
                });
            }
            i += 2;
        } else if b == delimiter {
            out.end_field(null);
            field_start = out.data.len();
            null = false;
            i += 1;
        } else {
            out.data.push(b);
            i += 1;
        }
    }
    out.end_field(null);
}

fn csv_reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql_records(text: &[u8]) -> Vec<(u64, Vec<Option<Vec<u8>>>)> {
        let mut records = Records::mysql(Box::new(std::io::Cursor::new(text.to_vec())), b'\t');
        let mut rec = Record::default();
        let mut all = Vec::new();
        while records.next_into(&mut rec).ok().unwrap() {
            let fields = (0..rec.len())
                .map(|i| rec.field(i).map(<[u8]>::to_vec))
                .collect();
            all.push((rec.line, fields));
        }
        all
    }

    #[test]
    fn mysql_escapes_nulls_and_escaped_newlines() {
        let got = mysql_records(b"1\t\\N\ta\\tb\n2\tx\\\ny\t\\\\N\n3\t\\0\\N\t\\Nx\n");
        let f = |s: &[u8]| Some(s.to_vec());
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
    /// the `\r` too), so no field keeps a `\r`.
    #[test]
    fn crlf_ends_a_line_as_lf_does() {
        let f = |s: &[u8]| Some(s.to_vec());
        assert_eq!(
            mysql_records(b"1\ta\r\n2\t\\N\r\n3\tc\r"),
            vec![
                (1, vec![f(b"1"), f(b"a")]),
                (2, vec![f(b"2"), None]),
                (3, vec![f(b"3"), f(b"c")]),
            ]
        );
        // What the partitioner's line splitter gives for the same bytes.
        let partitioned: Vec<&[u8]> =
            crate::partition::input::lines(1, b"1\ta\r\n2\t\\N\r\n3\tc\r")
                .map(|(_, l)| l)
                .collect();
        assert_eq!(partitioned, [&b"1\ta"[..], b"2\t\\N", b"3\tc"]);
    }

    #[test]
    fn rfc4180_quotes_and_null_token() {
        let input = b"a,\"b,c\",\\N\n1,\"say \"\"hi\"\"\",\n".to_vec();
        let mut records = Records::rfc4180(Box::new(std::io::Cursor::new(input)), b',', "\\N");
        let mut rec = Record::default();
        assert!(records.next_into(&mut rec).ok().unwrap());
        assert_eq!((rec.field(1), rec.field(2)), (Some(&b"b,c"[..]), None));
        assert!(records.next_into(&mut rec).ok().unwrap());
        assert_eq!((rec.line, rec.field(1)), (2, Some(&b"say \"hi\""[..])));
        assert!(!records.next_into(&mut rec).ok().unwrap());
    }
}

/// A byte stream with every CR that ends a line dropped: before an LF, or as the last byte.
pub(crate) struct CrlfAsLf<R> {
    inner: std::io::BufReader<R>,
    /// A CR just read, not yet known to end a line.
    held_cr: bool,
}

impl<R: Read> CrlfAsLf<R> {
    pub fn new(inner: R) -> Self {
        CrlfAsLf {
            inner: std::io::BufReader::with_capacity(1 << 16, inner),
            held_cr: false,
        }
    }
}

impl<R: Read> Read for CrlfAsLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut w = 0;
        while w < out.len() {
            let buf = self.inner.fill_buf()?;
            let Some(&first) = buf.first() else {
                // The end: a held CR ended the last line.
                self.held_cr = false;
                break;
            };
            if self.held_cr {
                self.held_cr = false;
                if first == b'\n' {
                    out[w] = b'\n';
                    w += 1;
                    self.inner.consume(1);
                } else {
                    out[w] = b'\r';
                    w += 1;
                }
                continue;
            }
            // Copy up to the next CR in one go.
            let room = out.len() - w;
            let run = memchr::memchr(b'\r', &buf[..buf.len().min(room)]);
            let n = run.unwrap_or(buf.len().min(room));
            out[w..w + n].copy_from_slice(&buf[..n]);
            w += n;
            if run.is_some() {
                self.held_cr = true;
                self.inner.consume(n + 1);
            } else {
                self.inner.consume(n);
            }
        }
        Ok(w)
    }
}

#[cfg(test)]
mod crlf_tests {
    use super::*;

    /// Reads through the adapter in chunks of `chunk` bytes.
    fn through(input: &[u8], chunk: usize) -> Vec<u8> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        CrlfAsLf::new(Chunked(input, chunk))
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_cr_before_lf_or_at_the_end_goes_a_lone_one_stays() {
        let input = b"a,b\r\nc\rd,e\r\r\nlast\r";
        for chunk in 1..=input.len() {
            assert_eq!(
                through(input, chunk),
                b"a,b\nc\rd,e\r\nlast",
                "chunks of {chunk}"
            );
        }
    }
}
