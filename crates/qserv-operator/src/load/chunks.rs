//! The direct chunk loader: partitioner output (`<prefix>_<chunk>.txt`,
//! `<prefix>_<chunk>_overlap.txt`) loaded onto worker MariaDBs in Qserv's layout (see
//! [`super::chunk_tables`]): on every worker the empty prototype `<Table>`, the dummy chunk
//! tables, and for each chunk assigned to it `<Table>_<chunk>` and `<Table>FullOverlap_<chunk>`.
//!
//! Chunks go to workers by [`assign_chunks`] (sorted ids, round-robin), returned as a
//! [`ChunkPlan`] callers can print. Workers load concurrently, one connection each; files
//! stream through `LOAD DATA LOCAL INFILE` from a reading thread (no whole file in memory).
//!
//! Nothing half-loaded looks complete, with the reference loader's staging tables: every table
//! of the load is first built as `<name>__loading` on its worker (the prototype from the DDL,
//! the others `LIKE` it, then filled). Only when every worker has staged every table are they
//! swapped in, per worker by `RENAME TABLE` statements of up to 256 tables each (atomic per
//! statement), previous versions dropped afterwards. Any failure before that drops every
//! staging table on every worker and leaves the previous tables untouched; a re-run replaces
//! the tables, so it never duplicates rows. The loaded row count of each file must equal its
//! line count. Limits: chunks of a previous run that the new one lacks, or that moved to
//! another worker, are left where they were; a failure during the final swap can leave some
//! workers with the new version (each table is still complete), and a re-run fixes it.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_schema::Schema;
use bytes::Bytes;
use futures::StreamExt;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::error::{LoadError, Result};
use super::reference::{TABLE_OPTIONS, publish_tables, staging_name};
use super::sql::{Sql, first_warning};
use super::stream::Progress;
use crate::catalog::SchemaFile;
use crate::catalog::ddl::{column_definitions, quote_identifier};
use crate::db::Endpoint;
use crate::partition::PartitionConfig;
use crate::partition::csv::Dialect;
use crate::qserv::chunk_tables::{
    DUMMY_CHUNK, assign_chunks, create_prototype_sql, create_table_like_sql, qualified,
    tables_of_chunk,
};

/// Bytes per piece of a file handed to the driver, and pieces queued per file.
const PIECE_BYTES: usize = 1 << 20;
const PIECES_IN_FLIGHT: usize = 4;

/// The partitioner's output of one table: where, and how its lines are laid out.
#[derive(Clone, Debug)]
pub struct ChunkFiles {
    pub dir: PathBuf,
    /// File name prefix (`part.prefix`, default `chunk`).
    pub prefix: String,
    /// The columns of each line, in order (the partitioner's output fields).
    pub fields: Vec<String>,
    /// The partitioner's output dialect.
    pub dialect: Dialect,
}

impl ChunkFiles {
    /// The output of a run of the partitioner with `config` into `dir`.
    pub fn from_config(dir: &Path, config: &PartitionConfig) -> Self {
        ChunkFiles {
            dir: dir.to_path_buf(),
            prefix: config.prefix.clone(),
            fields: config.output_fields.clone(),
            dialect: config.output_dialect.clone(),
        }
    }

    /// `<dir>/<prefix>_<chunk>.txt` or `..._overlap.txt`.
    pub fn file(&self, chunk: u32, overlap: bool) -> PathBuf {
        let suffix = if overlap { "_overlap" } else { "" };
        self.dir
            .join(format!("{}_{chunk}{suffix}.txt", self.prefix))
    }

    /// The chunk ids that have a chunk or an overlap file, sorted.
    pub fn chunks(&self) -> std::io::Result<Vec<u32>> {
        let mut chunks = Vec::new();
        let head = format!("{}_", self.prefix);
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&head))
                .and_then(|n| n.strip_suffix(".txt"))
                .map(|n| n.strip_suffix("_overlap").unwrap_or(n))
            else {
                continue;
            };
            if !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && let Ok(id) = id.parse()
            {
                chunks.push(id);
            }
        }
        chunks.sort_unstable();
        chunks.dedup();
        Ok(chunks)
    }

    /// The field and line clauses of `LOAD DATA` reading this dialect; an error when
    /// `LOAD DATA` would not read its NULL token as NULL.
    fn load_clauses(&self) -> std::result::Result<String, String> {
        let d = &self.dialect;
        let null_ok = match (d.escape, d.null.as_slice()) {
            (Some(b'\\'), b"\\N") => true,
            // MariaDB reads the bare word NULL as NULL with quoting or without escaping.
            (_, b"NULL") => d.quote.is_some() || d.escape.is_none(),
            _ => false,
        };
        if !null_ok {
            return Err(format!(
                "the NULL token {:?} of the chunk files cannot be read by LOAD DATA \
                 (use \\N with escape \\, or NULL)",
                String::from_utf8_lossy(&d.null)
            ));
        }
        let mut clauses = format!("FIELDS TERMINATED BY {}", sql_char(d.delimiter));
        if let Some(q) = d.quote {
            clauses.push_str(&format!(" OPTIONALLY ENCLOSED BY {}", sql_char(q)));
        }
        let escape = d.escape.map_or("''".to_string(), sql_char);
        clauses.push_str(&format!(" ESCAPED BY {escape} LINES TERMINATED BY '\\n'"));
        Ok(clauses)
    }
}

/// A one-character SQL string literal.
fn sql_char(c: u8) -> String {
    match c {
        b'\t' => "'\\t'".into(),
        b'\\' => "'\\\\'".into(),
        b'\'' => "''''".into(),
        c => format!("'{}'", c as char),
    }
}

/// The columns of the prototype table: column and key definitions, their names, and options.
#[derive(Clone, Debug)]
pub struct TableDdl {
    /// The text between the parentheses of `CREATE TABLE`.
    pub columns: String,
    pub column_names: Vec<String>,
    /// Table options (`ENGINE=MyISAM ...`).
    pub options: String,
}

impl TableDdl {
    /// The table of a schema file: a DDL file's `CREATE TABLE` verbatim, a Felis table's
    /// definition without column comments (Qserv makes chunk tables from its registration,
    /// which has none; with them DP0.2's `Object` is too large for MariaDB).
    pub fn from_schema_file(file: &SchemaFile) -> Result<TableDdl> {
        let read_error = |err| LoadError::read(&file.table, err);
        let definition = file.definition().map_err(read_error)?;
        let schema = file.arrow_schema().map_err(read_error)?;
        Ok(TableDdl {
            columns: definition
                .columns_without_comments
                .unwrap_or(definition.columns),
            column_names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            options: definition.options,
        })
    }

    /// Columns derived from a catalog schema (types, units and descriptions as the reference
    /// loader's), MyISAM as Qserv's data tables.
    pub fn from_schema(table: &str, schema: &Schema) -> Result<TableDdl> {
        Ok(TableDdl {
            columns: column_definitions(table, schema)
                .map_err(|source| LoadError::read(table, source))?,
            column_names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            options: TABLE_OPTIONS.to_string(),
        })
    }

    /// The columns of the chunk files when the partitioner ran with its default output fields:
    /// these columns, then the chunk id columns it appends.
    pub fn default_fields(&self) -> Vec<String> {
        let mut fields = self.column_names.clone();
        for id in [
            crate::qserv::chunk_tables::CHUNK_COLUMN,
            crate::qserv::chunk_tables::SUB_CHUNK_COLUMN,
        ] {
            if !fields.iter().any(|f| f == id) {
                fields.push(id.to_string());
            }
        }
        fields
    }
}

/// One partitioned table to load onto workers.
#[derive(Clone, Debug)]
pub struct ChunkLoad {
    pub database: String,
    pub table: String,
    pub ddl: TableDdl,
    pub files: ChunkFiles,
}

/// The chunks of one worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerChunks {
    /// `host:port` of the worker's MariaDB.
    pub worker: String,
    pub chunks: Vec<u32>,
}

/// Which worker loads which chunks (every worker also gets the dummy chunk tables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    pub workers: Vec<WorkerChunks>,
}

impl ChunkPlan {
    /// `chunks` dealt over `workers` by [`assign_chunks`].
    pub fn new(workers: &[Endpoint], chunks: &[u32]) -> ChunkPlan {
        let assigned = assign_chunks(chunks, workers.len());
        ChunkPlan {
            workers: workers
                .iter()
                .zip(assigned)
                .map(|(w, chunks)| WorkerChunks {
                    worker: w.address(),
                    chunks,
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ChunkPlan {
    /// One line per worker: `host:port: N chunks: id id ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for w in &self.workers {
            let ids: Vec<String> = w.chunks.iter().map(u32::to_string).collect();
            writeln!(
                f,
                "{}: {} chunks: {}",
                w.worker,
                w.chunks.len(),
                ids.join(" ")
            )?;
        }
        Ok(())
    }
}

/// What a chunk load did.
#[derive(Clone, Debug)]
pub struct ChunkLoadSummary {
    pub plan: ChunkPlan,
    /// Rows of the chunk tables, and of the overlap tables.
    pub rows: u64,
    pub overlap_rows: u64,
    /// Tables created or replaced (prototype, dummy and chunk tables, over all workers).
    pub tables: usize,
    pub elapsed: Duration,
}

impl ChunkLoadSummary {
    /// Rows (chunk and overlap) per second.
    pub fn rows_per_second(&self) -> f64 {
        (self.rows + self.overlap_rows) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Loads `load` onto `workers` (see the module comment for placement and guarantees).
/// `progress` is called with the bytes of chunk files sent so far.
pub fn load_chunks<'a>(
    workers: &'a [Endpoint],
    load: &'a ChunkLoad,
    progress: Option<Progress>,
) -> BoxFuture<'a, Result<ChunkLoadSummary>> {
    Box::pin(load_chunks_unboxed(workers, load, progress))
}

async fn load_chunks_unboxed(
    workers: &[Endpoint],
    load: &ChunkLoad,
    progress: Option<Progress>,
) -> Result<ChunkLoadSummary> {
    let started = Instant::now();
    let label = format!("{}.{}", load.database, load.table);
    let clauses = load
        .files
        .load_clauses()
        .map_err(|reason| LoadError::File {
            table: label.clone(),
            file: load.files.dir.clone(),
            reason,
        })?;
    if workers.is_empty() {
        return Err(LoadError::Arguments(format!(
            "{label}: no worker to load onto"
        )));
    }
    // Two loads into one server would drop each other's staging tables.
    let mut addresses: Vec<String> = workers.iter().map(Endpoint::address).collect();
    addresses.sort();
    if let Some(twice) = addresses.windows(2).find(|w| w[0] == w[1]) {
        return Err(LoadError::Arguments(format!(
            "{label}: worker {} is given twice",
            twice[0]
        )));
    }
    let chunks = load.files.chunks().map_err(|err| LoadError::File {
        table: label.clone(),
        file: load.files.dir.clone(),
        reason: err.to_string(),
    })?;
    if chunks.is_empty() {
        return Err(LoadError::File {
            table: label,
            file: load.files.dir.clone(),
            reason: format!("no chunk files `{}_<chunkId>.txt`", load.files.prefix),
        });
    }
    let plan = ChunkPlan::new(workers, &chunks);
    let sent = Arc::new(AtomicU64::new(0));
    // Set by the first worker that fails: the others stop staging (their work is dropped).
    let failed = AtomicBool::new(false);
    let staged = futures::future::join_all(workers.iter().zip(&plan.workers).map(|(w, p)| {
        stage_worker(
            w,
            load,
            &clauses,
            &p.chunks,
            progress.clone(),
            sent.clone(),
            &failed,
        )
    }))
    .await;
    if staged.iter().any(|s| s.is_err()) {
        let mut first_error = None;
        for (worker, result) in workers.iter().zip(staged) {
            match result {
                Ok(mut s) => drop_staging(worker, &mut s.conn, load, &s.tables).await,
                // The failure itself, not a worker that stopped because of it.
                Err(err) if is_cancelled(&err) => {}
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        return Err(first_error.expect("a worker failed for a reason of its own"));
    }
    let mut summary = ChunkLoadSummary {
        plan,
        rows: 0,
        overlap_rows: 0,
        tables: 0,
        elapsed: Duration::ZERO,
    };
    let published =
        futures::future::join_all(staged.into_iter().zip(workers).map(|(s, worker)| {
            let table = label.clone();
            async move {
                let mut s = s.expect("checked above");
                let sql = Sql {
                    endpoint: worker.address(),
                    table,
                };
                publish_tables(&sql, &mut s.conn, &load.database, &s.tables).await?;
                let _ = s.conn.disconnect().await;
                Ok::<_, LoadError>((s.rows, s.overlap_rows, s.tables.len()))
            }
        }))
        .await;
    for result in published {
        let (rows, overlap_rows, tables) = result?;
        summary.rows += rows;
        summary.overlap_rows += overlap_rows;
        summary.tables += tables;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A worker whose tables are all staged, waiting for the swap.
struct Staged {
    conn: Conn,
    /// Final names of the staged tables, prototype first.
    tables: Vec<String>,
    rows: u64,
    overlap_rows: u64,
}

/// Builds every table of `chunks` (plus prototype and dummy tables) on one worker as staging
/// tables; on failure drops them and returns the error.
async fn stage_worker(
    worker: &Endpoint,
    load: &ChunkLoad,
    clauses: &str,
    chunks: &[u32],
    progress: Option<Progress>,
    sent: Arc<AtomicU64>,
    failed: &AtomicBool,
) -> Result<Staged> {
    let mut conn = worker.connect().await.inspect_err(|_| {
        failed.store(true, Ordering::Relaxed);
    })?;
    // The prototype, then per chunk (the dummy one first, never loaded) its two tables.
    let mut targets: Vec<(String, Option<PathBuf>)> = vec![(load.table.clone(), None)];
    for chunk in std::iter::once(DUMMY_CHUNK).chain(chunks.iter().copied()) {
        let [table, overlap] = tables_of_chunk(&load.table, chunk);
        let file = |overlap| (chunk != DUMMY_CHUNK).then(|| load.files.file(chunk, overlap));
        targets.push((table, file(false)));
        targets.push((overlap, file(true)));
    }
    let tables: Vec<String> = targets.iter().map(|(t, _)| t.clone()).collect();
    let feed = Feed {
        worker,
        load,
        clauses,
        progress,
        sent,
        failed,
    };
    match feed.fill(&mut conn, &targets).await {
        Ok((rows, overlap_rows)) => Ok(Staged {
            conn,
            tables,
            rows,
            overlap_rows,
        }),
        Err(err) => {
            failed.store(true, Ordering::Relaxed);
            drop_staging(worker, &mut conn, load, &tables).await;
            Err(err)
        }
    }
}

/// What one worker's statements share.
struct Feed<'a> {
    worker: &'a Endpoint,
    load: &'a ChunkLoad,
    clauses: &'a str,
    progress: Option<Progress>,
    sent: Arc<AtomicU64>,
    failed: &'a AtomicBool,
}

impl Feed<'_> {
    fn sql(&self, table: &str) -> Sql {
        Sql {
            endpoint: self.worker.address(),
            table: format!("{}.{table}", self.load.database),
        }
    }

    /// Creates the staging tables and loads the files; returns (chunk rows, overlap rows).
    async fn fill(
        &self,
        conn: &mut Conn,
        targets: &[(String, Option<PathBuf>)],
    ) -> Result<(u64, u64)> {
        let load = self.load;
        let db = &load.database;
        let sql = self.sql(&load.table);
        let create_db = format!("CREATE DATABASE IF NOT EXISTS {}", quote_identifier(db));
        sql.run(conn, "create the database", &create_db).await?;
        let names: Vec<String> = targets.iter().map(|(t, _)| t.clone()).collect();
        for statement in drop_statements(db, &names) {
            sql.run(conn, "drop stale staging tables", &statement)
                .await?;
        }
        let prototype = staging_name(&load.table);
        let create = create_prototype_sql(
            db,
            &prototype,
            &load.ddl.columns,
            &load.ddl.column_names,
            &load.ddl.options,
        );
        sql.run(conn, "create the prototype table", &create).await?;
        let (mut rows, mut overlap_rows) = (0, 0);
        for (table, file) in &targets[1..] {
            if self.failed.load(Ordering::Relaxed) {
                return Err(LoadError::Arguments(CANCELLED.into()));
            }
            let sql = self.sql(table);
            let create = create_table_like_sql(db, &staging_name(table), &prototype);
            sql.run(conn, "create the chunk table", &create).await?;
            let Some(file) = file.as_ref().filter(|f| f.exists()) else {
                continue;
            };
            let n = self.load_file(conn, &sql, table, file).await?;
            if file.to_string_lossy().ends_with("_overlap.txt") {
                overlap_rows += n;
            } else {
                rows += n;
            }
        }
        Ok((rows, overlap_rows))
    }

    /// Streams `file` into the staging table of `table`; returns the rows loaded, which must
    /// be the file's lines.
    async fn load_file(&self, conn: &mut Conn, sql: &Sql, table: &str, file: &Path) -> Result<u64> {
        let file_error = |reason: String| LoadError::File {
            table: sql.table.clone(),
            file: file.to_path_buf(),
            reason,
        };
        let reader = std::fs::File::open(file).map_err(|err| file_error(err.to_string()))?;
        let columns: Vec<String> = self
            .load
            .files
            .fields
            .iter()
            .map(|f| quote_identifier(f))
            .collect();
        // The file name is a label: the infile handler supplies the data. The partitioner
        // passes the input's bytes through (case01 has latin1 text and blobs), so they are
        // stored as they are, whatever the table's charset.
        let statement = format!(
            "LOAD DATA LOCAL INFILE 'chunk-file' INTO TABLE {} CHARACTER SET binary {} ({})",
            qualified(&self.load.database, &staging_name(table)),
            self.clauses,
            columns.join(", ")
        );
        let (tx, rx) = tokio::sync::mpsc::channel(PIECES_IN_FLIGHT);
        let (progress, sent) = (self.progress.clone(), self.sent.clone());
        let producer = tokio::task::spawn_blocking(move || read_pieces(reader, tx, progress, sent));
        conn.set_infile_handler(async move {
            Ok(futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|piece| (piece, rx))
            })
            .boxed())
        });
        let result = match conn.query_drop(&statement).await {
            Ok(()) if conn.get_warnings() > 0 => first_warning(conn).await,
            other => other,
        };
        let loaded = conn.affected_rows();
        // A handler the server never asked for holds the receiver the reader may wait on.
        conn.set_infile_handler(async { Ok(futures::stream::empty().boxed()) });
        let lines = producer
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        let lines = lines.map_err(|err| file_error(err.to_string()))?;
        result.map_err(
            |err| match sql.load_error(err, |row| (file.to_path_buf(), row)) {
                // The table names the chunk; the file says what was being sent.
                LoadError::ConnectionLost {
                    endpoint,
                    table,
                    reason,
                } => LoadError::ConnectionLost {
                    endpoint,
                    table,
                    reason: format!("while sending {}: {reason}", file.display()),
                },
                other => other,
            },
        )?;
        if loaded != lines {
            return Err(file_error(format!(
                "{lines} lines sent, MariaDB loaded {loaded} rows"
            )));
        }
        Ok(loaded)
    }
}

/// The error of a worker that stopped because another one failed.
const CANCELLED: &str = "stopped: another worker failed";

fn is_cancelled(err: &LoadError) -> bool {
    matches!(err, LoadError::Arguments(m) if m == CANCELLED)
}

/// Sends `reader`'s bytes in pieces until the end or the receiver is gone; returns the
/// number of lines (a last line without newline counts).
fn read_pieces(
    mut reader: std::fs::File,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    progress: Option<Progress>,
    sent: Arc<AtomicU64>,
) -> std::io::Result<u64> {
    use std::io::Read;
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let mut piece = vec![0u8; PIECE_BYTES];
        let n = match reader.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                // Abort the statement; the error is reported from here.
                let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
                return Err(err);
            }
        };
        piece.truncate(n);
        lines += piece.iter().filter(|&&b| b == b'\n').count() as u64;
        last = piece[n - 1];
        let total = sent.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if tx.blocking_send(Ok(piece.into())).is_err() {
            break;
        }
        if let Some(progress) = &progress {
            progress(total);
        }
    }
    Ok(lines + u64::from(last != b'\n'))
}

/// `DROP TABLE IF EXISTS` of the staging tables of `tables`, a few hundred per statement.
fn drop_statements(database: &str, tables: &[String]) -> Vec<String> {
    tables
        .chunks(256)
        .map(|group| {
            let names: Vec<String> = group
                .iter()
                .map(|t| qualified(database, &staging_name(t)))
                .collect();
            format!("DROP TABLE IF EXISTS {}", names.join(", "))
        })
        .collect()
}

/// Drops the staging tables of `tables`, on a new connection if `conn` is broken. Best effort:
/// the caller reports the original error either way.
async fn drop_staging(worker: &Endpoint, conn: &mut Conn, load: &ChunkLoad, tables: &[String]) {
    let statements = drop_statements(&load.database, tables);
    let mut ok = true;
    for statement in &statements {
        ok &= conn.query_drop(statement).await.is_ok();
    }
    if ok {
        return;
    }
    if let Ok(mut fresh) = worker.connect().await {
        for statement in &statements {
            let _ = fresh.query_drop(statement).await;
        }
        let _ = fresh.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dialect: Dialect) -> ChunkFiles {
        ChunkFiles {
            dir: PathBuf::new(),
            prefix: "chunk".into(),
            fields: vec![],
            dialect,
        }
    }

    #[test]
    fn load_clauses_follow_the_dialect() {
        let case01 = Dialect {
            delimiter: b',',
            quote: None,
            escape: Some(b'\\'),
            null: b"\\N".to_vec(),
        };
        assert_eq!(
            files(case01.clone()).load_clauses().unwrap(),
            "FIELDS TERMINATED BY ',' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
        );
        let quoted = Dialect {
            delimiter: b'\t',
            quote: Some(b'"'),
            null: b"NULL".to_vec(),
            ..case01.clone()
        };
        assert_eq!(
            files(quoted).load_clauses().unwrap(),
            "FIELDS TERMINATED BY '\\t' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' \
             LINES TERMINATED BY '\\n'"
        );
        let odd = Dialect {
            null: b"nil".to_vec(),
            ..case01
        };
        let e = files(odd).load_clauses().unwrap_err();
        assert!(e.contains("NULL token \"nil\""), "{e}");
    }

    #[test]
    fn chunks_are_found_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "chunk_7.txt",
            "chunk_7_overlap.txt",
            "chunk_12_overlap.txt",
            "chunk_3.txt",
            "chunk_index.bin",
            "chunk_object_index.txt",
            "partition-summary.json",
            "chunk_x.txt",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let mut f = files(Dialect {
            delimiter: b',',
            quote: None,
            escape: None,
            null: b"NULL".to_vec(),
        });
        f.dir = dir.path().to_path_buf();
        assert_eq!(f.chunks().unwrap(), vec![3, 7, 12]);
        assert_eq!(f.file(7, true), dir.path().join("chunk_7_overlap.txt"));
    }

    #[test]
    fn the_plan_prints_one_line_per_worker() {
        let workers = [
            Endpoint::parse("mysql://root@h1:3306").unwrap(),
            Endpoint::parse("mysql://root@h2:3307").unwrap(),
        ];
        let plan = ChunkPlan::new(&workers, &[30, 10, 20]);
        assert_eq!(
            plan.to_string(),
            "h1:3306: 2 chunks: 10 30\nh2:3307: 1 chunks: 20\n"
        );
    }
}
