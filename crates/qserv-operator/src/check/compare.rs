//! Running one statement on Qserv and on the reference and comparing the results.
//!
//! Values are compared as MariaDB renders them in the text protocol, byte for byte, and as the
//! `mysql` client shows them (in hex or as text, [`super::columns`]): what Qserv's integration
//! test runner compares (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py:300-319,1091-1100`:
//! the clients' outputs, diffed). So floats compare as the server prints them, with no
//! tolerance, as there. Where the runner's text is ambiguous the comparison is stricter: NULL is
//! distinct from the string `NULL` (both print `NULL`), and bytes that are not UTF-8 are
//! compared as they are (the runner decodes them with `errors="replace"`, `itest.py:152-158`).
//! Column names are compared as MariaDB compares them unless the caller says not to (`-- pragma
//! noheader`), and only when a side has rows: the client prints no header for an empty result.
//!
//! Qserv's tables carry columns the reference does not (`qserv_trans_id`, `chunkId`,
//! `subChunkId`), so `SELECT *` returns them. When the Qserv result's columns are the
//! reference's plus only such columns, those are left out of the comparison; any other column
//! difference is one. (The runner sees a difference there, which Qserv's suites avoid with
//! `skip_numbers`, `Q@2026.3.3-rc1:etc/integration_tests.yaml:53-56`.)
//!
//! Without sorting, both results are streamed in step (memory bounded by one row per side),
//! and after the first difference the rest is only counted. Sorting (`sortresult`, `sort`) needs
//! both results in memory: it is capped by [`CompareOptions::max_sort_bytes`] with an error
//! that says so. Sorted order is by value, NULL first, bytes compared as bytes; any total order
//! works since both sides use the same one.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, TextProtocol, Value};

pub use super::columns::{Cell, Columns, show_value};
use super::columns::{qserv_columns_kept, same_row, show_row};
use crate::db::reason;

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
        (options.column_names && !q_columns.same_names(&r_columns)).then(|| {
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
            collect(&mut q, Side::Qserv, limit, &q_cells, &q_columns),
            collect(&mut r, Side::Reference, limit, &cells, &r_columns)
        );
        let (mut q_all, mut r_all) = (q_all?, r_all?);
        q_all.sort_unstable();
        r_all.sort_unstable();
        rows.qserv = q_all.len() as u64;
        rows.reference = r_all.len() as u64;
        // Equal encodings are rows that print the same: only the first differing pair is
        // decoded.
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
        let same = match (q, r) {
            (Some(q), Some(r)) => same_row(q, qc, r, rc),
            (q, r) => q.is_none() && r.is_none(),
        };
        if self.first_difference.is_some() || same {
            return;
        }
        self.first_difference = Some(format!(
            "row {}: qserv: {} reference: {}",
            self.compared,
            show_row(q, qc, r.map(|r| (r, rc))),
            show_row(r, rc, q.map(|q| (q, qc)))
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
    columns: &Columns,
) -> Result<Vec<Vec<u8>>, CompareError> {
    // A Vec header and the allocator's rounding and bookkeeping, per row.
    const ROW_OVERHEAD: usize = std::mem::size_of::<Vec<u8>>() + 16;
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = result.next().await.map_err(|err| CompareError::Sql {
        side,
        message: reason(&err),
    })? {
        let row = encode(&cells(row), columns);
        bytes += row.len() + ROW_OVERHEAD;
        if bytes > limit {
            return Err(CompareError::TooBigToSort { side, limit });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A row as one allocation: per cell `0` for NULL, or `1` (shown as text) or `2` (shown in
/// hex), the length (u32, big-endian) and the bytes. Byte order of encodings is a total order
/// of rows (what sorting needs), and equal encodings are rows that print the same.
fn encode(row: &[Cell], columns: &Columns) -> Vec<u8> {
    let size = row
        .iter()
        .map(|c| 1 + c.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    let mut out = Vec::with_capacity(size);
    for (i, cell) in row.iter().enumerate() {
        match cell {
            None => out.push(0),
            Some(v) => {
                out.push(if columns.hex(i) { 2 } else { 1 });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_rows_round_trip_and_keep_null_and_hex_apart() {
        let text = Columns::new(&[]);
        let rows: Vec<Vec<Cell>> = vec![
            vec![None, Some(b"".to_vec())],
            vec![Some(b"".to_vec()), None],
            vec![Some(b"NULL".to_vec()), Some(vec![0, 1, 255])],
            vec![],
        ];
        let encoded: Vec<Vec<u8>> = rows.iter().map(|r| encode(r, &text)).collect();
        for (row, e) in rows.iter().zip(&encoded) {
            assert_eq!(&decode(e), row);
        }
        let distinct: std::collections::BTreeSet<&Vec<u8>> = encoded.iter().collect();
        assert_eq!(distinct.len(), rows.len());
        // The same bytes shown in hex and as text encode apart; NULL is NULL either way.
        let (hex, text) = (Columns::of(&[true, true]), Columns::of(&[false, false]));
        let row = vec![Some(b"A".to_vec()), None];
        assert_ne!(encode(&row, &hex), encode(&row, &text));
        assert_eq!(decode(&encode(&row, &hex)), row);
        let nulls = vec![None, None];
        assert_eq!(encode(&nulls, &hex), encode(&nulls, &text));
    }
}
