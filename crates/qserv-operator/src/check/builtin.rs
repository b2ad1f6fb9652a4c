//! The data checks that always run after an ingest, per table:
//!
//! - `rows/T`: rows in Qserv = rows in the reference (= rows read, when the caller knows them);
//! - `chunks/T` (partitioned tables): every row's `chunkId`/`subChunkId`, read back from Qserv,
//!   is where our [`Chunker`] puts the row's position (a child's position columns are its
//!   director's, as in its partitioning);
//! - `unique-ids/T` (directors): no director id appears twice.
//!
//! Qserv adds the `chunkId` and `subChunkId` columns to partitioned tables (the names of the
//! case01 partition config `part.chunk`/`part.sub-chunk` and of its ingest table schemas
//! `data/ingest/Object.json`), and its czar lets queries read them (qserv_testdata
//! `2100_groupByChunkId` groups by `chunkId`; FIXME only because the reference lacks it).

use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use futures::StreamExt;

use super::compare::{Side, run_one};
use super::{CheckResult, CheckTarget, Conns, failed, passed};
use crate::api::catalog_ingest::{CatalogIngestSpec, TableRole};
use crate::catalog::ddl::quote_identifier;
use crate::db::reason;
use crate::partition::{AngleUnit, Chunker};

/// Column Qserv adds to partitioned tables with the row's chunk.
pub const CHUNK_COLUMN: &str = "chunkId";
/// Column Qserv adds to partitioned tables with the row's sub-chunk.
pub const SUB_CHUNK_COLUMN: &str = "subChunkId";

/// A table to check.
#[derive(Clone, Debug, PartialEq)]
pub struct TableCheck {
    pub name: String,
    /// Rows read from the input, when known (the partition or load Job's figure).
    pub rows_read: Option<u64>,
    /// Position columns of a partitioned table (director or child).
    pub position: Option<Position>,
    /// The id column whose values must be unique (directors).
    pub unique_id: Option<String>,
    /// A column that identifies a row in messages (the id, or a child's foreign key).
    pub label: Option<String>,
}

/// Where a partitioned table's rows are on the sky: the columns it is partitioned by and their
/// units (ra, dec) when known (the spec's `angleUnit`, or the input files' own, which the check
/// Job reads: [`super::CheckPlan::with_position_units`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub ra: String,
    pub dec: String,
    pub units: Option<(AngleUnit, AngleUnit)>,
}

/// The tables of a CatalogIngest spec (rows read unknown: set them when known).
pub fn tables_from_spec(spec: &CatalogIngestSpec) -> Vec<TableCheck> {
    spec.tables
        .iter()
        .map(|t| {
            // A table's rows are where the position it is partitioned by puts them.
            let position = match (t.role, t.partition_position()) {
                (TableRole::Regular, _) | (_, None) => None,
                (_, Some((ra, dec))) => Some(Position {
                    ra: ra.to_string(),
                    dec: dec.to_string(),
                    units: t.angle_unit.map(|u| {
                        let u = crate::from_spec::catalog::angle_unit(u);
                        (u, u)
                    }),
                }),
            };
            let unique_id = match t.role {
                TableRole::Director => t.id_column.clone(),
                _ => None,
            };
            TableCheck {
                name: t.name.clone(),
                rows_read: None,
                position,
                label: unique_id.clone().or_else(|| t.foreign_key.clone()),
                unique_id,
            }
        })
        .collect()
}

/// Built-in checks at once: each is a full scan on the Qserv side, and Qserv (or local mode's
/// czar) serves several scans at a time better than one after the other.
pub const CONCURRENCY: usize = 3;

/// One built-in check of one table.
enum Check<'a> {
    Rows,
    Chunks(&'a Chunker, &'a Position),
    UniqueIds(&'a str),
}

impl Check<'_> {
    fn name(&self, table: &TableCheck) -> String {
        let kind = match self {
            Check::Rows => "rows",
            Check::Chunks(..) => "chunks",
            Check::UniqueIds(_) => "unique-ids",
        };
        format!("{kind}/{}", table.name)
    }
}

/// Runs the built-in checks of every table (the chunk checks only with the layout's
/// `chunker`), up to `concurrency` at once, each on connections of its own; the results come
/// in table order.
pub async fn run(
    target: &CheckTarget,
    chunker: Option<&Chunker>,
    tables: &[TableCheck],
    concurrency: usize,
) -> Vec<CheckResult> {
    let mut todo = Vec::new();
    for table in tables {
        todo.push((table, Check::Rows));
        if let (Some(position), Some(chunker)) = (&table.position, chunker) {
            todo.push((table, Check::Chunks(chunker, position)));
        }
        if let Some(id) = &table.unique_id {
            todo.push((table, Check::UniqueIds(id)));
        }
    }
    futures::stream::iter(todo)
        .map(|(table, check)| async move {
            let started = Instant::now();
            let mut conns = match Conns::open(target).await {
                Ok(conns) => conns,
                Err(e) => return failed(check.name(table), started, e.to_string()),
            };
            let result = match check {
                Check::Rows => rows(&mut conns, table).await,
                Check::Chunks(chunker, position) => {
                    chunks(&mut conns.qserv, chunker, table, position).await
                }
                Check::UniqueIds(id) => unique_ids(&mut conns.qserv, table, id).await,
            };
            conns.disconnect().await;
            result
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

async fn rows(conns: &mut Conns, table: &TableCheck) -> CheckResult {
    let started = Instant::now();
    let name = format!("rows/{}", table.name);
    let sql = format!("SELECT COUNT(*) FROM {}", quote_identifier(&table.name));
    let reference = async {
        match conns.reference.as_mut() {
            Some(conn) => count(conn, &sql, Side::Reference).await.map(Some),
            None => Ok(None),
        }
    };
    let (q, r) = futures::join!(count(&mut conns.qserv, &sql, Side::Qserv), reference);
    let (q, r) = match (q, r) {
        (Ok(q), Ok(r)) => (q, r),
        (Err(e), _) | (_, Err(e)) => return failed(name, started, e),
    };
    let mut figures = vec![format!("Qserv {q}")];
    figures.extend(r.map(|r| format!("reference {r}")));
    figures.extend(table.rows_read.map(|n| format!("read {n}")));
    let mut result = if r.is_none_or(|r| r == q) && table.rows_read.is_none_or(|n| n == q) {
        let mut ok = passed(name, started);
        if r.is_none() && table.rows_read.is_none() {
            ok.message = Some("Qserv count only: no reference and no rows read to compare".into());
        }
        ok
    } else {
        let mut result = failed(name, started, format!("rows: {}", figures.join(", ")));
        if let Some(r) = r.filter(|r| *r != q) {
            result.first_difference = Some(format!("qserv: ({q}) reference: ({r})"));
        }
        result
    };
    result.qserv_rows = Some(q as i64);
    result.reference_rows = r.map(|r| r as i64);
    result
}

async fn count(conn: &mut Conn, sql: &str, side: Side) -> Result<u64, String> {
    let (_, _, first) = run_one(conn, sql, side).await.map_err(|e| e.to_string())?;
    first
        .and_then(|row| row.into_iter().next().flatten())
        .and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse().ok())
        .ok_or_else(|| format!("{side}: `{sql}` gave no count"))
}

/// Streams id, position and chunk columns from Qserv and recomputes each row's location.
/// Positions are read as text: MariaDB renders doubles as the shortest text that reads back
/// to the same bits (so the partitioner's doubles are recovered exactly), and a FLOAT column
/// gives the short text its input had rather than the widened float.
async fn chunks(
    qserv: &mut Conn,
    chunker: &Chunker,
    table: &TableCheck,
    position: &Position,
) -> CheckResult {
    let started = Instant::now();
    let name = format!("chunks/{}", table.name);
    let Some(units) = position.units else {
        let why = format!(
            "the unit of {} and {} is not known: name it (angleUnit) or give the input files, \
             whose metadata says it",
            position.ra, position.dec
        );
        return failed(name, started, why);
    };
    let label = table.label.as_deref().unwrap_or(&position.ra);
    let sql = format!(
        "SELECT {}, {}, {}, {}, {} FROM {}",
        quote_identifier(label),
        quote_identifier(&position.ra),
        quote_identifier(&position.dec),
        quote_identifier(CHUNK_COLUMN),
        quote_identifier(SUB_CHUNK_COLUMN),
        quote_identifier(&table.name)
    );
    let mut scanned = 0u64;
    let mut wrong = 0u64;
    let mut first: Option<String> = None;
    let outcome: Result<(), mysql_async::Error> = async {
        let mut result = qserv.query_iter(sql.as_str()).await?;
        while let Some(row) = result.next().await? {
            scanned += 1;
            if let Some(problem) = misplaced(chunker, &row.unwrap(), label, position, units) {
                wrong += 1;
                first.get_or_insert(problem);
            }
        }
        Ok(())
    }
    .await;
    if let Err(err) = outcome {
        return failed(name, started, format!("qserv: {}", reason(&err)));
    }
    let mut result = if wrong == 0 {
        passed(name, started)
    } else {
        let mut r = failed(
            name,
            started,
            format!("{wrong} of {scanned} rows are not in the chunk the Chunker gives"),
        );
        r.first_difference = first;
        r
    };
    result.qserv_rows = Some(scanned as i64);
    result
}

/// Why a row `(label, ra, dec, chunkId, subChunkId)` is misplaced, if it is.
fn misplaced(
    chunker: &Chunker,
    row: &[Value],
    label: &str,
    position: &Position,
    units: (AngleUnit, AngleUnit),
) -> Option<String> {
    let value = |i: usize| row.get(i).cloned().unwrap_or(Value::NULL);
    let id = text(&value(0));
    let (ra, dec) = match (number(&value(1)), number(&value(2))) {
        (Some(ra), Some(dec)) => (ra, dec),
        _ => {
            return Some(format!(
                "{label}={id}: no position ({}={}, {}={})",
                position.ra,
                text(&value(1)),
                position.dec,
                text(&value(2))
            ));
        }
    };
    let (ra_unit, dec_unit) = units;
    let (ra_deg, dec_deg) = (ra_unit.to_degrees(ra), dec_unit.to_degrees(dec));
    let expected = chunker.locate(ra_deg.rem_euclid(360.0), dec_deg);
    let stored = (number(&value(3)), number(&value(4)));
    if stored
        == (
            Some(f64::from(expected.chunk_id)),
            Some(f64::from(expected.sub_chunk_id)),
        )
    {
        return None;
    }
    Some(format!(
        "{label}={id} ({}={ra}, {}={dec}): qserv: ({CHUNK_COLUMN}={}, {SUB_CHUNK_COLUMN}={}) \
         chunker: ({CHUNK_COLUMN}={}, {SUB_CHUNK_COLUMN}={})",
        position.ra,
        position.dec,
        text(&value(3)),
        text(&value(4)),
        expected.chunk_id,
        expected.sub_chunk_id
    ))
}

/// A text-protocol value as MariaDB rendered it.
fn text(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.as_sql(true),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(d) => Some(*d),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

async fn unique_ids(qserv: &mut Conn, table: &TableCheck, id: &str) -> CheckResult {
    let started = Instant::now();
    let name = format!("unique-ids/{}", table.name);
    // GROUP BY ... HAVING ... ORDER BY ... LIMIT: all supported by Qserv's czar (case01
    // queries 1101.x, 1102), so this runs on a real Qserv too.
    let sql = format!(
        "SELECT {id_q}, COUNT(*) AS n FROM {t} GROUP BY {id_q} HAVING n > 1 ORDER BY {id_q}",
        id_q = quote_identifier(id),
        t = quote_identifier(&table.name)
    );
    match run_one(qserv, &sql, Side::Qserv).await {
        Err(e) => failed(name, started, e.to_string()),
        Ok((_, 0, _)) => {
            // qservRows of this check: the number of duplicated ids.
            let mut r = passed(name, started);
            r.qserv_rows = Some(0);
            r
        }
        Ok((columns, duplicated, first)) => {
            let first = first.unwrap_or_default();
            let shown = first
                .first()
                .map(|c| super::compare::show_value(&columns, 0, c))
                .unwrap_or_default();
            let times = first
                .get(1)
                .and_then(|c| c.as_ref())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let mut r = failed(
                name,
                started,
                format!("{duplicated} {id} values appear more than once"),
            );
            r.first_difference = Some(format!("{id}={shown} appears {times} times"));
            r.qserv_rows = Some(duplicated as i64);
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: [&str; 5]) -> Vec<Value> {
        values
            .iter()
            .map(|v| match *v {
                "NULL" => Value::NULL,
                v => Value::Bytes(v.as_bytes().to_vec()),
            })
            .collect()
    }

    #[test]
    fn rows_are_placed_by_their_position_in_degrees_or_radians() {
        let chunker = Chunker::new(85, 12, 0.01667).unwrap();
        let (ra, dec) = (340.83_f64, -9.59_f64);
        let home = chunker.locate(ra, dec);
        let (c, s) = (home.chunk_id.to_string(), home.sub_chunk_id.to_string());
        let position = Position {
            ra: "ra".into(),
            dec: "dec".into(),
            units: None,
        };
        let degrees = (AngleUnit::Degree, AngleUnit::Degree);
        let radians = (AngleUnit::Radian, AngleUnit::Radian);
        let (ra_text, dec_text) = (ra.to_string(), dec.to_string());
        let in_degrees = row(["7", &ra_text, &dec_text, &c, &s]);
        assert_eq!(
            misplaced(&chunker, &in_degrees, "id", &position, degrees),
            None
        );
        let (ra_rad, dec_rad) = (ra.to_radians().to_string(), dec.to_radians().to_string());
        let in_radians = row(["7", &ra_rad, &dec_rad, &c, &s]);
        assert_eq!(
            misplaced(&chunker, &in_radians, "id", &position, radians),
            None
        );
        // The same radians read as degrees are elsewhere.
        assert!(misplaced(&chunker, &in_radians, "id", &position, degrees).is_some());

        let wrong = (home.sub_chunk_id + 1).to_string();
        let moved = row(["7", &ra_text, &dec_text, &c, &wrong]);
        assert_eq!(
            misplaced(&chunker, &moved, "id", &position, degrees).unwrap(),
            format!(
                "id=7 (ra={ra}, dec={dec}): qserv: (chunkId={c}, subChunkId={wrong}) \
                 chunker: (chunkId={c}, subChunkId={s})"
            )
        );
        let no_position = row(["7", "NULL", &dec_text, &c, &s]);
        assert_eq!(
            misplaced(&chunker, &no_position, "id", &position, degrees).unwrap(),
            format!("id=7: no position (ra=NULL, dec={dec})")
        );
    }
}
