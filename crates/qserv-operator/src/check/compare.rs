//! Running one statement on Qserv and on the reference and comparing the results.
//!
//! Values are compared as MariaDB renders them in the text protocol, byte for byte: what the
//! `mysql` client prints and lsst/qserv's integration tests compare (`itest.py` diffs the
//! clients' outputs). NULL is distinct from `''` and from the string `NULL`. Column names are
//! compared unless the caller says not to (`-- pragma noheader`), and only when a side has rows:
//! the Python runner writes no header for an empty result.
//!
//! Qserv's tables carry columns the reference does not: `qserv_trans_id` on every table
//! (`doc/ingest/api/concepts/transactions.rst`, "Row tagging": visible and queriable) and
//! `chunkId`/`subChunkId` on partitioned ones, so `SELECT *` returns them. When the Qserv
//! result's columns are the reference's plus only such columns, those are left out of the
//! comparison; any other column difference is one.
//!
//! Without sorting, both results are streamed in step (memory bounded by one row per side),
//! and after the first difference the rest is only counted. Sorting (`sortresult`, `sort`) needs
//! both results in memory: it is capped by [`CompareOptions::max_sort_bytes`] with an error
//! that says so. Sorted order is by value, NULL first, bytes compared as bytes; any total order
//! works since both sides use the same one.

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Column, Conn, Row, TextProtocol, Value};

use crate::db::reason;

/// A value as MariaDB renders it; `None` for NULL.
pub type Cell = Option<Vec<u8>>;

/// The MariaDB character set number of binary strings (`binary`, id 63).
const BINARY_CHARSET: u16 = 63;

/// Rendered rows longer than this show only their first column and the differing ones.
const MAX_ROW_TEXT: usize = 400;

/// Default cap of a sorted comparison: bytes of values held per side.
pub const DEFAULT_MAX_SORT_BYTES: usize = 256 << 20;

#[derive(Clone, Copy, Debug)]
pub struct CompareOptions {
    /// Compare rows as sorted sets.
    pub sort: bool,
    /// Compare column names (when a side has rows).
    pub column_names: bool,
    /// Bytes of values a sorted comparison may hold per side.
    pub max_sort_bytes: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            sort: false,
            column_names: true,
            max_sort_bytes: DEFAULT_MAX_SORT_BYTES,
        }
    }
}

/// The outcome of a comparison that ran on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub qserv_rows: u64,
    pub reference_rows: u64,
    /// `row N: qserv: (...) reference: (...)` or `columns: qserv: (...) reference: (...)`.
    pub first_difference: Option<String>,
}

/// Which server a statement ran on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Qserv,
    Reference,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Qserv => "qserv",
            Side::Reference => "reference",
        })
    }
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{side}: {message}")]
    Sql { side: Side, message: String },
    /// Refused before it was sent: user SQL may only read.
    #[error("{side}: {source}")]
    NotAQuery {
        side: Side,
        source: crate::read_only::NotAQuery,
    },
    #[error(
        "{side}: the result is over {limit} bytes, too big to sort in memory; \
         give the query an ORDER BY and compare without sorting"
    )]
    TooBigToSort { side: Side, limit: usize },
}

/// Column names and how to show values.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    pub names: Vec<String>,
    /// How each column's values are shown in a difference.
    kinds: Vec<Kind>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Number,
    Text,
    Binary,
}

/// Columns Qserv adds to the tables it stores (see the module documentation).
const QSERV_COLUMNS: [&str; 3] = ["qserv_trans_id", "chunkId", "subChunkId"];

/// The indexes of the Qserv result's columns to compare, when leaving out the columns Qserv
/// adds makes its column list the reference's; `None` to compare every column.
fn qserv_columns_kept(qserv: &Columns, reference: &Columns) -> Option<Vec<usize>> {
    if qserv.names == reference.names {
        return None;
    }
    let keep: Vec<usize> = (0..qserv.names.len())
        .filter(|&i| {
            let name = &qserv.names[i];
            !QSERV_COLUMNS.contains(&name.as_str()) || reference.names.contains(name)
        })
        .collect();
    let kept: Vec<&String> = keep.iter().map(|&i| &qserv.names[i]).collect();
    (kept == reference.names.iter().collect::<Vec<_>>()).then_some(keep)
}

impl Columns {
    fn project(&self, keep: &[usize]) -> Columns {
        Columns {
            names: keep.iter().map(|&i| self.names[i].clone()).collect(),
            kinds: keep.iter().map(|&i| self.kinds[i]).collect(),
        }
    }

    fn new(columns: &[Column]) -> Self {
        let kinds = columns
            .iter()
            .map(|c| {
                if is_numeric(c.column_type()) {
                    Kind::Number
                } else if c.character_set() == BINARY_CHARSET {
                    Kind::Binary
                } else {
                    Kind::Text
                }
            })
            .collect();
        Columns {
            names: columns.iter().map(|c| c.name_str().into_owned()).collect(),
            kinds,
        }
    }
}

fn is_numeric(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_YEAR
            | MYSQL_TYPE_BIT
    )
}

/// The cells of a text-protocol row.
pub fn cells(row: Row) -> Vec<Cell> {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            Value::NULL => None,
            Value::Bytes(b) => Some(b),
            // The text protocol gives bytes only; keep any other value as its SQL text.
            other => Some(other.as_sql(true).into_bytes()),
        })
        .collect()
}

/// Runs `qserv_sql` on `qserv` and `reference_sql` on `reference` and compares the results.
pub async fn compare(
    qserv: &mut Conn,
    qserv_sql: &str,
    reference: &mut Conn,
    reference_sql: &str,
    options: CompareOptions,
) -> Result<Comparison, CompareError> {
    let sql_error = |side| {
        move |err: mysql_async::Error| CompareError::Sql {
            side,
            message: reason(&err),
        }
    };
    let guard = |side, sql| {
        crate::read_only::only_a_query(sql)
            .map_err(|source| CompareError::NotAQuery { side, source })
    };
    guard(Side::Qserv, qserv_sql)?;
    guard(Side::Reference, reference_sql)?;
    // Both statements start before either is read, so both servers work at once.
    let (q, r) = futures::join!(
        qserv.query_iter(qserv_sql),
        reference.query_iter(reference_sql)
    );
    let mut q = q.map_err(sql_error(Side::Qserv))?;
    let mut r = r.map_err(sql_error(Side::Reference))?;
    let r_columns = Columns::new(r.columns_ref());
    let q_all_columns = Columns::new(q.columns_ref());
    let keep = qserv_columns_kept(&q_all_columns, &r_columns);
    let q_columns = match &keep {
        Some(keep) => q_all_columns.project(keep),
        None => q_all_columns,
    };
    let q_cells = |row: Row| {
        let all = cells(row);
        match &keep {
            Some(keep) => keep.iter().map(|&i| all[i].clone()).collect(),
            None => all,
        }
    };
    let header_difference =
        (options.column_names && q_columns.names != r_columns.names).then(|| {
            format!(
                "columns: qserv: ({}) reference: ({})",
                q_columns.names.join(", "),
                r_columns.names.join(", ")
            )
        });

    let mut rows = Rows::default();
    if options.sort {
        let limit = options.max_sort_bytes;
        // Both sides run to their end or their cap (memory stays bounded either way), so the
        // error reported does not depend on which server answers first: Qserv's, then the
        // reference's.
        let (q_all, r_all) = futures::join!(
            collect(&mut q, Side::Qserv, limit, &q_cells),
            collect(&mut r, Side::Reference, limit, &cells)
        );
        let (mut q_all, mut r_all) = (q_all?, r_all?);
        q_all.sort_unstable();
        r_all.sort_unstable();
        rows.qserv = q_all.len() as u64;
        rows.reference = r_all.len() as u64;
        // Equal encodings are equal rows: only the first differing pair is decoded.
        let n = q_all.len().min(r_all.len());
        let at = (0..n)
            .find(|&i| q_all[i] != r_all[i])
            .or((q_all.len() != r_all.len()).then_some(n));
        if let Some(i) = at {
            rows.compared = i as u64;
            let q_row = q_all.get(i).map(|e| decode(e));
            let r_row = r_all.get(i).map(|e| decode(e));
            rows.pair(q_row.as_ref(), r_row.as_ref(), &q_columns, &r_columns);
        }
    } else {
        loop {
            let (qn, rn) = futures::join!(q.next(), r.next());
            let qn = qn.map_err(sql_error(Side::Qserv))?.map(q_cells);
            let rn = rn.map_err(sql_error(Side::Reference))?.map(cells);
            if qn.is_none() && rn.is_none() {
                break;
            }
            rows.qserv += u64::from(qn.is_some());
            rows.reference += u64::from(rn.is_some());
            rows.pair(qn.as_ref(), rn.as_ref(), &q_columns, &r_columns);
        }
    }
    // The Python runner prints a header only above rows.
    let header_difference = header_difference.filter(|_| rows.qserv > 0 || rows.reference > 0);
    Ok(Comparison {
        qserv_rows: rows.qserv,
        reference_rows: rows.reference,
        first_difference: header_difference.or(rows.first_difference),
    })
}

/// Row counts and the first difference of a comparison in progress.
#[derive(Default)]
struct Rows {
    qserv: u64,
    reference: u64,
    /// Row pairs compared so far.
    compared: u64,
    first_difference: Option<String>,
}

impl Rows {
    /// Compares the next pair (a missing row is `None`).
    fn pair(&mut self, q: Option<&Vec<Cell>>, r: Option<&Vec<Cell>>, qc: &Columns, rc: &Columns) {
        self.compared += 1;
        if self.first_difference.is_some() || q == r {
            return;
        }
        self.first_difference = Some(format!(
            "row {}: qserv: {} reference: {}",
            self.compared,
            show_row(q, r, qc),
            show_row(r, q, rc)
        ));
    }
}

/// Reads every remaining row of `result` as [`encode`]d rows, holding at most `limit` bytes
/// (the encodings plus their allocation overhead).
async fn collect(
    result: &mut mysql_async::QueryResult<'_, '_, TextProtocol>,
    side: Side,
    limit: usize,
    cells: &impl Fn(Row) -> Vec<Cell>,
) -> Result<Vec<Vec<u8>>, CompareError> {
    // A Vec header and the allocator's rounding and bookkeeping, per row.
    const ROW_OVERHEAD: usize = std::mem::size_of::<Vec<u8>>() + 16;
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = result.next().await.map_err(|err| CompareError::Sql {
        side,
        message: reason(&err),
    })? {
        let row = encode(&cells(row));
        bytes += row.len() + ROW_OVERHEAD;
        if bytes > limit {
            return Err(CompareError::TooBigToSort { side, limit });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A row as one allocation: per cell `0` for NULL, or `1`, the length (u32, big-endian) and
/// the bytes. Byte order of encodings is a total order of rows (what sorting needs), and
/// equal encodings are equal rows.
fn encode(row: &[Cell]) -> Vec<u8> {
    let size = row
        .iter()
        .map(|c| 1 + c.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    let mut out = Vec::with_capacity(size);
    for cell in row {
        match cell {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                // A MariaDB value is under 4 GiB (max_allowed_packet is at most 1 GiB).
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    out
}

fn decode(mut bytes: &[u8]) -> Vec<Cell> {
    let mut row = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        if tag == 0 {
            row.push(None);
            bytes = rest;
        } else {
            let (len, rest) = rest.split_at(4);
            let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
            row.push(Some(rest[..len].to_vec()));
            bytes = &rest[len..];
        }
    }
    row
}

/// `row` as `(v1, v2, ...)`; long rows show their first column and the columns that differ
/// from `other` as `name=value`.
pub fn show_row(row: Option<&Vec<Cell>>, other: Option<&Vec<Cell>>, columns: &Columns) -> String {
    let Some(row) = row else {
        return "(no row)".into();
    };
    let full: Vec<String> = row
        .iter()
        .enumerate()
        .map(|(i, c)| show_cell(c.as_deref(), columns.kinds.get(i).copied()))
        .collect();
    let text = format!("({})", full.join(", "));
    if text.len() <= MAX_ROW_TEXT {
        return text;
    }
    let name = |i: usize| columns.names.get(i).map_or("?", String::as_str);
    let mut parts = vec![format!("{}={}", name(0), full[0])];
    let mut length = parts[0].len();
    let mut last = 0;
    for (i, value) in full.iter().enumerate().skip(1) {
        let differs = other.is_none_or(|o| o.get(i) != row.get(i));
        if !differs {
            continue;
        }
        // Bounded: a missing 200-column row shows its first columns, not all of them.
        if length > MAX_ROW_TEXT {
            break;
        }
        if i > last + 1 {
            parts.push("…".into());
        }
        let part = format!("{}={value}", name(i));
        length += part.len() + 2;
        parts.push(part);
        last = i;
    }
    if last + 1 < full.len() {
        parts.push("…".into());
    }
    format!("({})", parts.join(", "))
}

/// A value for people: numbers as they are, strings quoted, binary as hex, NULL as NULL.
fn show_cell(cell: Option<&[u8]>, kind: Option<Kind>) -> String {
    let Some(bytes) = cell else {
        return "NULL".into();
    };
    match (kind, std::str::from_utf8(bytes)) {
        (Some(Kind::Number), Ok(text)) => text.to_string(),
        (Some(Kind::Binary), _) | (_, Err(_)) => {
            let mut hex = String::from("0x");
            for b in bytes {
                hex.push_str(&format!("{b:02X}"));
            }
            hex
        }
        (_, Ok(text)) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

/// Runs `sql` on one side and counts its rows, keeping the first row (for `expect: value`).
pub async fn run_one(
    conn: &mut Conn,
    sql: &str,
    side: Side,
) -> Result<(Columns, u64, Option<Vec<Cell>>), CompareError> {
    let sql_error = |err: mysql_async::Error| CompareError::Sql {
        side,
        message: reason(&err),
    };
    crate::read_only::only_a_query(sql)
        .map_err(|source| CompareError::NotAQuery { side, source })?;
    let mut result = conn.query_iter(sql).await.map_err(sql_error)?;
    let columns = Columns::new(result.columns_ref());
    let mut first = None;
    let mut count = 0u64;
    while let Some(row) = result.next().await.map_err(sql_error)? {
        if count == 0 {
            first = Some(cells(row));
        }
        count += 1;
    }
    Ok((columns, count, first))
}

/// Shows one cell of `columns`' column `index` (for messages of other checks).
pub fn show_value(columns: &Columns, index: usize, cell: &Cell) -> String {
    show_cell(cell.as_deref(), columns.kinds.get(index).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(n: usize) -> Columns {
        Columns {
            names: (0..n).map(|i| format!("c{i}")).collect(),
            kinds: (0..n)
                .map(|i| [Kind::Number, Kind::Text, Kind::Binary][i % 3])
                .collect(),
        }
    }

    fn named(names: &[&str]) -> Columns {
        Columns {
            names: names.iter().map(|n| n.to_string()).collect(),
            kinds: vec![Kind::Number; names.len()],
        }
    }

    #[test]
    fn only_the_columns_qserv_adds_are_left_out() {
        let reference = named(&["filterId", "filterName"]);
        let kept = |q: &[&str]| qserv_columns_kept(&named(q), &reference);
        assert_eq!(
            kept(&["qserv_trans_id", "filterId", "filterName"]),
            Some(vec![1, 2])
        );
        assert_eq!(
            kept(&[
                "qserv_trans_id",
                "filterId",
                "filterName",
                "chunkId",
                "subChunkId"
            ]),
            Some(vec![1, 2])
        );
        assert_eq!(kept(&["filterId", "filterName"]), None, "same columns");
        // Anything else is a difference: another column, another order, a missing one.
        assert_eq!(kept(&["qserv_trans_id", "filterId", "photBW"]), None);
        assert_eq!(kept(&["qserv_trans_id", "filterName", "filterId"]), None);
        assert_eq!(kept(&["qserv_trans_id", "filterId"]), None);
        // A column the reference has too is compared, even if Qserv could have added it.
        let with_chunk = named(&["chunkId", "id"]);
        assert_eq!(
            qserv_columns_kept(&named(&["qserv_trans_id", "chunkId", "id"]), &with_chunk),
            Some(vec![1, 2])
        );
    }

    #[test]
    fn cells_show_null_strings_and_binary_apart() {
        let c = columns(3);
        let row = vec![
            Some(b"42".to_vec()),
            Some(b"NULL".to_vec()),
            Some(vec![0, 0xab]),
        ];
        assert_eq!(show_row(Some(&row), None, &c), "(42, 'NULL', 0x00AB)");
        let row = vec![None, Some(b"".to_vec()), None];
        assert_eq!(show_row(Some(&row), None, &c), "(NULL, '', NULL)");
        assert_eq!(show_row(None, Some(&row), &c), "(no row)");
    }

    #[test]
    fn encoded_rows_round_trip_and_keep_null_apart() {
        let rows: Vec<Vec<Cell>> = vec![
            vec![None, Some(b"".to_vec())],
            vec![Some(b"".to_vec()), None],
            vec![Some(b"NULL".to_vec()), Some(vec![0, 1, 255])],
            vec![],
        ];
        let encoded: Vec<Vec<u8>> = rows.iter().map(|r| encode(r)).collect();
        for (row, e) in rows.iter().zip(&encoded) {
            assert_eq!(&decode(e), row);
        }
        let distinct: std::collections::BTreeSet<&Vec<u8>> = encoded.iter().collect();
        assert_eq!(distinct.len(), rows.len());
    }

    #[test]
    fn long_rows_show_key_and_differing_columns() {
        let c = columns(90);
        let row: Vec<Cell> = (0..90)
            .map(|i| Some(format!("{i}000000").into_bytes()))
            .collect();
        let mut other = row.clone();
        other[40] = Some(b"x".to_vec());
        assert_eq!(
            show_row(Some(&row), Some(&other), &c),
            "(c0=0000000, …, c40='40000000', …)"
        );
        // Against a missing row every column differs: the text stays short.
        let alone = show_row(Some(&row), None, &c);
        assert!(
            alone.starts_with("(c0=0000000, c1='1000000', c2=0x"),
            "{alone}"
        );
        assert!(
            alone.ends_with(", …)") && alone.len() < MAX_ROW_TEXT + 60,
            "{alone}"
        );
    }
}
