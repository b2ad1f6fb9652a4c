//! Rows of a contribution, counted as they stream in: the `num_rows` the worker reports (its
//! CSV parser's rows, `Q@2026.3.3-rc1:src/replica/ingest/IngestFileHttpSvcMod.cc:238-244`).
//! Nothing is refused here: a row with the wrong field count or text in a number column is
//! loaded by `LOAD DATA` with a warning, as on the real worker.

/// Counts rows as bytes arrive in pieces of any size: line terminators that are not escaped
/// and not inside an enclosed field.
pub struct RowCounter {
    esc: u8,
    eol: u8,
    quote: Option<u8>,
    escaped: bool,
    in_quotes: bool,
    /// Bytes of the current row so far (the last row may lack its terminator).
    in_row: bool,
    rows: u64,
}

impl RowCounter {
    pub fn new(esc: u8, eol: u8, quote: Option<u8>) -> Self {
        RowCounter {
            esc,
            eol,
            quote,
            escaped: false,
            in_quotes: false,
            in_row: false,
            rows: 0,
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            self.in_row = true;
            if self.escaped {
                self.escaped = false;
            } else if b == self.esc {
                self.escaped = true;
            } else if Some(b) == self.quote {
                self.in_quotes = !self.in_quotes;
            } else if b == self.eol && !self.in_quotes {
                self.rows += 1;
                self.in_row = false;
            }
        }
    }

    pub fn finish(&mut self) -> u64 {
        if self.in_row {
            self.rows += 1;
            self.in_row = false;
        }
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_any_pieces_with_escapes_quotes_and_a_last_row_unterminated() {
        let data = b"1,a\\\nb,2.5\n2,\"x\ny\",3\n3,z";
        for split in 0..data.len() {
            let mut c = RowCounter::new(b'\\', b'\n', Some(b'"'));
            c.feed(&data[..split]);
            c.feed(&data[split..]);
            assert_eq!(c.finish(), 3, "split at {split}");
        }
        let mut c = RowCounter::new(b'\\', b'\n', None);
        c.feed(b"1,short\n2\n");
        assert_eq!(
            c.finish(),
            2,
            "bad rows are rows: LOAD DATA warns about them"
        );
        assert_eq!(RowCounter::new(b'\\', b'\n', None).finish(), 0);
    }
}
