//! Row checks of a contribution, streamed: every row has the table's field count and a
//! number (or `\N`) in every numeric column. Qserv itself leaves this to `LOAD DATA`; the
//! stand-in checks first so a bad contribution is refused naming its row, and nothing of it
//! is written.

use qserv_operator::qserv::replication::Column;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Other,
}

fn kind_of(sql_type: &str) -> Kind {
    let word: String = sql_type
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    match word.as_str() {
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "INTEGER" | "BIGINT" => Kind::Integer,
        "FLOAT" | "DOUBLE" | "REAL" | "DECIMAL" | "NUMERIC" => Kind::Real,
        _ => Kind::Other,
    }
}

/// Longest numeric text kept for checking; anything longer is not a number.
const MAX_NUMBER: usize = 128;

/// Checks rows as bytes arrive in pieces of any size.
pub struct RowChecker {
    columns: Vec<(String, Kind)>,
    sep: u8,
    esc: Option<u8>,
    eol: u8,
    /// `fields_enclosed_by`: separators inside an enclosed field are data.
    quote: Option<u8>,
    in_quotes: bool,
    /// The field was enclosed: it is text, and `NULL` in it is not NULL.
    quoted: bool,
    /// 1-based row being read.
    row: u64,
    field: usize,
    value: Vec<u8>,
    escaped: bool,
    in_row: bool,
}

impl RowChecker {
    pub fn new(schema: &[Column], sep: u8, esc: Option<u8>, eol: u8, quote: Option<u8>) -> Self {
        RowChecker {
            columns: schema
                .iter()
                .map(|c| (c.name.clone(), kind_of(&c.sql_type)))
                .collect(),
            sep,
            esc,
            eol,
            quote,
            in_quotes: false,
            quoted: false,
            row: 1,
            field: 0,
            value: Vec::new(),
            escaped: false,
            in_row: false,
        }
    }

    /// Rows completely read so far.
    pub fn rows(&self) -> u64 {
        self.row - 1
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        for &b in data {
            self.in_row = true;
            if self.escaped {
                self.escaped = false;
                self.push(b);
            } else if Some(b) == self.esc {
                self.escaped = true;
                self.push(b);
            } else if self.in_quotes {
                if Some(b) == self.quote {
                    self.in_quotes = false;
                } else {
                    self.push(b);
                }
            } else if Some(b) == self.quote && self.value.is_empty() && !self.quoted {
                self.in_quotes = true;
                self.quoted = true;
            } else if b == self.sep {
                self.end_field()?;
            } else if b == self.eol {
                self.end_row()?;
            } else {
                self.push(b);
            }
        }
        Ok(())
    }

    /// The last row may lack its line terminator.
    pub fn finish(&mut self) -> Result<u64, String> {
        if self.in_row {
            self.end_row()?;
        }
        Ok(self.rows())
    }

    fn push(&mut self, b: u8) {
        if self.value.len() <= MAX_NUMBER {
            self.value.push(b);
        }
    }

    fn end_field(&mut self) -> Result<(), String> {
        if let Some((name, kind)) = self.columns.get(self.field)
            && *kind != Kind::Other
            && !self.is_null()
            && !is_number(&self.value, *kind)
        {
            return Err(format!(
                "row {}: field {} ({name}): '{}' is not a number",
                self.row,
                self.field + 1,
                String::from_utf8_lossy(&self.value[..self.value.len().min(40)])
            ));
        }
        self.field += 1;
        self.value.clear();
        self.quoted = false;
        Ok(())
    }

    /// `\N`, or with enclosing on, the bare word `NULL` (as `LOAD DATA` reads them).
    fn is_null(&self) -> bool {
        self.esc.is_some_and(|e| self.value == [e, b'N'])
            || (self.quote.is_some() && !self.quoted && self.value == b"NULL")
    }

    fn end_row(&mut self) -> Result<(), String> {
        self.end_field()?;
        if self.field != self.columns.len() {
            return Err(format!(
                "row {}: {} fields, the table has {} columns",
                self.row,
                self.field,
                self.columns.len()
            ));
        }
        self.row += 1;
        self.field = 0;
        self.in_row = false;
        Ok(())
    }
}

fn is_number(text: &[u8], kind: Kind) -> bool {
    let Ok(s) = std::str::from_utf8(text) else {
        return false;
    };
    match kind {
        Kind::Integer => s.parse::<i128>().is_ok(),
        Kind::Real => s.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Other => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> RowChecker {
        RowChecker::new(
            &[
                Column::new("id", "bigint(20) NOT NULL"),
                Column::new("name", "char(3)"),
                Column::new("flux", "double DEFAULT NULL"),
            ],
            b',',
            Some(b'\\'),
            b'\n',
            None,
        )
    }

    #[test]
    fn good_rows_in_any_pieces_escapes_and_nulls() {
        let data = b"1,a\\,b,2.5\n2,\\N,\\N\n3,x,-1e-3";
        for split in 0..data.len() {
            let mut c = checker();
            c.feed(&data[..split]).unwrap();
            c.feed(&data[split..]).unwrap();
            assert_eq!(c.finish().unwrap(), 3, "split at {split}");
        }
    }

    #[test]
    fn bad_rows_are_named() {
        let mut c = checker();
        let e = c.feed(b"1,a,2\n2,b\n").unwrap_err();
        assert_eq!(e, "row 2: 2 fields, the table has 3 columns");
        let mut c = checker();
        let e = c.feed(b"1,a,2\nx7,b,1\n").unwrap_err();
        assert_eq!(e, "row 2: field 1 (id): 'x7' is not a number");
        let mut c = checker();
        let e = c.feed(b"1,a,nan\n").unwrap_err();
        assert_eq!(e, "row 1: field 3 (flux): 'nan' is not a number");
    }

    #[test]
    fn enclosed_fields_keep_separators_and_bare_null_is_null() {
        let schema = [Column::new("id", "INT"), Column::new("s", "TEXT")];
        let mut c = RowChecker::new(&schema, b'\t', Some(b'\\'), b'\n', Some(b'"'));
        c.feed(b"1\t\"a\tb\"\nNULL\tx\n").unwrap();
        assert_eq!(c.finish().unwrap(), 2);
        let mut c = RowChecker::new(&schema, b'\t', Some(b'\\'), b'\n', Some(b'"'));
        let e = c.feed(b"\"NULL\"\tx\n").unwrap_err();
        assert_eq!(e, "row 1: field 1 (id): 'NULL' is not a number");
    }
}
