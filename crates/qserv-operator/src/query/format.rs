//! Result rows written as an aligned table (for people), CSV or JSON (for programs).
//!
//! Values keep their exactness: floats are the shortest text that reads back to the same
//! FLOAT/DOUBLE (the binary protocol gives the stored bits), DECIMALs are MariaDB's own digits.
//! NULL is `NULL` in a table, `\N` in CSV (the project's CSV convention, distinct from an
//! empty string), `null` in JSON. JSON is `{"columns": [...], "rows": [[...], ...]}`: arrays
//! rather than objects, so duplicate column names (`a.id, b.id`) survive.

use std::io::{self, Write};

use mysql_async::Value;
use mysql_async::consts::ColumnType;

/// Output format of `qserv-operator query`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Csv,
    Json,
    /// An astropy table in an HDF5 file (needs `--out`; see `query::hdf5`).
    Hdf5,
}

/// A column of a result: its name and whether its values are numbers.
#[derive(Clone, Debug)]
pub struct ResultColumn {
    pub name: String,
    pub numeric: bool,
}

impl ResultColumn {
    pub fn new(name: &str, column_type: ColumnType) -> Self {
        let numeric = crate::db::is_numeric(column_type);
        ResultColumn {
            name: name.to_string(),
            numeric,
        }
    }
}

/// A value as text; `None` for NULL.
pub fn text(value: &Value) -> Option<String> {
    Some(match value {
        Value::NULL => return None,
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => ryu::Buffer::new().format(*f).to_string(),
        Value::Double(d) => ryu::Buffer::new().format(*d).to_string(),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            // Binary data: hex, as `SELECT HEX(...)` would show it.
            Err(_) => format!(
                "0x{}",
                b.iter().map(|x| format!("{x:02X}")).collect::<String>()
            ),
        },
        Value::Date(y, mo, d, h, mi, s, us) => {
            let mut t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
            if *us > 0 {
                t.push_str(&format!(".{us:06}"));
            }
            t
        }
        Value::Time(negative, days, h, mi, s, us) => {
            let sign = if *negative { "-" } else { "" };
            let hours = *days * 24 + u32::from(*h);
            let mut t = format!("{sign}{hours:02}:{mi:02}:{s:02}");
            if *us > 0 {
                t.push_str(&format!(".{us:06}"));
            }
            t
        }
    })
}

/// Writes rows as they come (CSV, JSON) or all at the end (the table needs column widths).
pub struct RowWriter<W: Write> {
    out: W,
    format: OutputFormat,
    columns: Vec<ResultColumn>,
    table_rows: Vec<Vec<Option<String>>>,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, format: OutputFormat, columns: Vec<ResultColumn>) -> io::Result<Self> {
        let mut writer = RowWriter {
            out,
            format,
            columns,
            table_rows: Vec::new(),
            rows: 0,
        };
        match format {
            OutputFormat::Csv => {
                let names: Vec<String> =
                    writer.columns.iter().map(|c| csv_field(&c.name)).collect();
                writeln!(writer.out, "{}", names.join(","))?;
            }
            OutputFormat::Json => {
                let names: Vec<&str> = writer.columns.iter().map(|c| c.name.as_str()).collect();
                write!(
                    writer.out,
                    "{{\"columns\": {}, \"rows\": [",
                    json_string_array(&names)
                )?;
            }
            OutputFormat::Table => {}
            OutputFormat::Hdf5 => {
                return Err(io::Error::other(
                    "HDF5 is not a text format (query::hdf5 writes it)",
                ));
            }
        }
        Ok(writer)
    }

    pub fn row(&mut self, values: &[Value]) -> io::Result<()> {
        let texts: Vec<Option<String>> = values.iter().map(text).collect();
        match self.format {
            OutputFormat::Table => self.table_rows.push(texts),
            OutputFormat::Csv => {
                let fields: Vec<String> = texts
                    .iter()
                    .map(|t| t.as_deref().map_or_else(|| "\\N".to_string(), csv_field))
                    .collect();
                writeln!(self.out, "{}", fields.join(","))?;
            }
            OutputFormat::Json => {
                let fields: Vec<String> = texts
                    .iter()
                    .zip(&self.columns)
                    .map(|(t, c)| match t {
                        None => "null".to_string(),
                        Some(t) if c.numeric && is_json_number(t) => t.clone(),
                        Some(t) => serde_json::Value::String(t.clone()).to_string(),
                    })
                    .collect();
                let sep = if self.rows == 0 { "\n  " } else { ",\n  " };
                write!(self.out, "{sep}[{}]", fields.join(", "))?;
            }
            // `new` refuses it.
            OutputFormat::Hdf5 => unreachable!("no RowWriter for HDF5"),
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends the output; returns the number of rows.
    pub fn finish(mut self) -> io::Result<u64> {
        match self.format {
            OutputFormat::Table => self.write_table()?,
            OutputFormat::Csv | OutputFormat::Hdf5 => {}
            OutputFormat::Json => {
                let end = if self.rows == 0 { "]}" } else { "\n]}" };
                writeln!(self.out, "{end}")?;
            }
        }
        self.out.flush()?;
        Ok(self.rows)
    }

    fn write_table(&mut self) -> io::Result<()> {
        const NULL: &str = "NULL";
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .collect();
        for row in &self.table_rows {
            for (w, v) in widths.iter_mut().zip(row) {
                *w = (*w).max(v.as_deref().unwrap_or(NULL).chars().count());
            }
        }
        let line: String = widths
            .iter()
            .map(|w| format!("+{}", "-".repeat(w + 2)))
            .collect();
        writeln!(self.out, "{line}+")?;
        for (c, w) in self.columns.iter().zip(&widths) {
            write!(self.out, "| {:<w$} ", c.name)?;
        }
        writeln!(self.out, "|\n{line}+")?;
        for row in &self.table_rows {
            for ((v, c), w) in row.iter().zip(&self.columns).zip(&widths) {
                let v = v.as_deref().unwrap_or(NULL);
                if c.numeric {
                    write!(self.out, "| {v:>w$} ")?;
                } else {
                    write!(self.out, "| {v:<w$} ")?;
                }
            }
            writeln!(self.out, "|")?;
        }
        if !self.columns.is_empty() {
            writeln!(self.out, "{line}+")?;
        }
        let rows = self.table_rows.len();
        writeln!(self.out, "{rows} row{}", if rows == 1 { "" } else { "s" })
    }
}

/// RFC 4180: quoted when it holds a comma, quote or line break (or could read as NULL).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text == "\\N" {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn json_string_array(items: &[&str]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).to_string()
}

/// MariaDB's decimal text is a JSON number except for forms JSON lacks (`.5`, `1.`).
fn is_json_number(text: &str) -> bool {
    serde_json::from_str::<serde_json::Number>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::consts::ColumnType::*;

    fn columns() -> Vec<ResultColumn> {
        vec![
            ResultColumn::new("id", MYSQL_TYPE_LONGLONG),
            ResultColumn::new("name", MYSQL_TYPE_VAR_STRING),
            ResultColumn::new("x", MYSQL_TYPE_DOUBLE),
            ResultColumn::new("d", MYSQL_TYPE_NEWDECIMAL),
        ]
    }

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![
                Value::Int(1),
                Value::Bytes(b"a,\"b\"".to_vec()),
                Value::Double(0.1),
                Value::Bytes(b"12345678901234567890.5".to_vec()),
            ],
            vec![Value::Int(-20), Value::NULL, Value::Float(0.1), Value::NULL],
        ]
    }

    fn render(format: OutputFormat) -> String {
        let mut out = Vec::new();
        let mut w = RowWriter::new(&mut out, format, columns()).unwrap();
        for row in rows() {
            w.row(&row).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 2);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table() {
        let expected = "\
+-----+-------+-----+------------------------+
| id  | name  | x   | d                      |
+-----+-------+-----+------------------------+
|   1 | a,\"b\" | 0.1 | 12345678901234567890.5 |
| -20 | NULL  | 0.1 |                   NULL |
+-----+-------+-----+------------------------+
2 rows
";
        assert_eq!(render(OutputFormat::Table), expected);
    }

    #[test]
    fn csv_quotes_and_nulls() {
        assert_eq!(
            render(OutputFormat::Csv),
            "id,name,x,d\n1,\"a,\"\"b\"\"\",0.1,12345678901234567890.5\n-20,\\N,0.1,\\N\n"
        );
    }

    #[test]
    fn json_numbers_stay_exact() {
        let text = render(OutputFormat::Json);
        assert_eq!(
            text,
            "{\"columns\": [\"id\",\"name\",\"x\",\"d\"], \"rows\": [\n  \
             [1, \"a,\\\"b\\\"\", 0.1, 12345678901234567890.5],\n  [-20, null, 0.1, null]\n]}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["rows"][1][0], -20);
    }

    #[test]
    fn dates_times_and_binary() {
        assert_eq!(
            text(&Value::Date(2026, 11, 25, 9, 5, 0, 120)).unwrap(),
            "2026-11-25 09:05:00.000120"
        );
        assert_eq!(
            text(&Value::Time(true, 1, 2, 3, 4, 0)).unwrap(),
            "-26:03:04"
        );
        assert_eq!(text(&Value::Bytes(vec![0xff, 0x01])).unwrap(), "0xFF01");
    }
}
