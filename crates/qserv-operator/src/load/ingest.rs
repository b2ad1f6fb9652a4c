//! The whole ingest of a catalog into Qserv through the replication API: register the
//! database and tables (directors first), one super-transaction, every chunk and overlap file
//! sent to the worker its chunk lives on and every regular table's file to every worker
//! (concurrently, bounded), the loaded row counts checked against the files before commit,
//! commit, publish, director index, row counters.
//!
//! Before anything is registered: the server's API version ([`ReplicationClient::check_server_version`]),
//! what the server would refuse of the plan (dialects, TEXT/BLOB director columns, long
//! names: [`crate::qserv::replication::rules`]), and the database family: a database joins
//! the family of its stripes and sub-stripes and is queried with the family's overlap, so a
//! family with another overlap is an error.
//!
//! All or nothing: any failure after the transaction started aborts it, so nothing of a
//! failed run is ever published. A contribution with `LOAD DATA` warnings fails its table
//! (and so the run) unless [`IngestOptions::allow_warnings`]. Resumable (what a re-run after a
//! crash does):
//! - a database already published with the same tables is not ingested again; its director
//!   index and row counters are built if an earlier run died before they were (no row
//!   counters for a table that has rows), and the run reports `Completed`, else
//!   `AlreadyPublished`; published with other tables is an error;
//! - unfinished transactions of the database, left by a killed run or a failed commit
//!   (`STARTED`, `IS_STARTING`, `IS_FINISHING`, `START_FAILED`, `FINISH_FAILED`,
//!   `ABORT_FAILED`), are aborted and `IS_ABORTING` ones waited for, as the server allows
//!   (`Q@2026.3.3-rc1:src/replica/services/DatabaseServices.cc:184-203`), so their rows go
//!   and the new run's counts are exact, never doubled;
//! - a committed (`FINISHED`) transaction whose loaded rows equal the files' (the previous
//!   run died between commit and publish) is not redone: the run goes on to publish; other
//!   committed rows make the run fail (delete the database to start over).

use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::TryStreamExt;
use serde::Serialize;

use super::chunk_files::{ChunkFile, ChunkFilesError, scan_chunk_files, scan_regular_file};
use crate::qserv::replication::{
    ChunkLocation, Contribution, CsvDialect, ReplicationClient, ReplicationConfig,
    ReplicationError, TableKind, TableLoaded, TableRegistration, Transaction, rules,
};

/// One table to ingest: how to register it and where its files are.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub registration: TableRegistration,
    /// A partitioned table: the partitioner's output directories (`chunk_<id>.txt`,
    /// `chunk_<id>_overlap.txt`), one, or one per shard of the input files (a chunk may then
    /// have several files). A regular table: the directory of its [`REGULAR_FILE`].
    ///
    /// [`REGULAR_FILE`]: super::chunk_files::REGULAR_FILE
    pub chunk_dirs: Vec<PathBuf>,
    pub dialect: CsvDialect,
}

/// A database and its tables.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    pub database: String,
    pub num_stripes: u32,
    pub num_sub_stripes: u32,
    pub overlap: f64,
    pub tables: Vec<TablePlan>,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Contributions in flight at once.
    pub concurrency: usize,
    /// A progress bar (else progress goes to tracing).
    pub progress: bool,
    /// Where to publish the contributions sent so far (the load Job turns it into the ingest's
    /// status).
    pub progress_to: Option<Arc<tokio::sync::watch::Sender<LoadProgress>>>,
    pub director_index: bool,
    pub row_counters: bool,
    /// Contributions with `LOAD DATA` warnings (values cut or converted, fields missing) are
    /// loaded and counted; by default (`false`) the first one fails the run.
    pub allow_warnings: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            concurrency: 4,
            progress: false,
            progress_to: None,
            director_index: true,
            row_counters: true,
            allow_warnings: false,
        }
    }
}

/// Contributions of the transaction sent and accepted so far, their rows, and what the ingest
/// does after them (publishing, the director index, row counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadProgress {
    pub done: u64,
    pub total: u64,
    pub rows: u64,
    pub stage: Option<&'static str>,
}

impl IngestOptions {
    fn stage(&self, stage: &'static str) {
        if let Some(tx) = &self.progress_to {
            tx.send_modify(|p| p.stage = Some(stage));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Loaded and published by this run.
    Ingested,
    /// Published by an earlier run with the same tables; nothing done.
    AlreadyPublished,
    /// Published by an earlier run that died before its director index or row counters;
    /// this one built them.
    Completed,
    /// An earlier run had committed everything; this one published it.
    Resumed,
}

/// Per table, what a Job writes for the controller to fold into status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSummary {
    pub table: String,
    /// A regular table: `rows` are one copy's; `contributions` count every worker's.
    pub regular: bool,
    pub rows: u64,
    pub overlap_rows: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub contributions: u64,
    /// Sum of the contributions' durations.
    pub load_seconds: f64,
    /// Chunk rows Qserv counted after publishing (`/ingest/table-stats`), when asked.
    pub published_rows: Option<u64>,
    /// `LOAD DATA` warnings of the table's contributions (see
    /// [`IngestOptions::allow_warnings`]).
    pub warnings: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestSummary {
    pub database: String,
    pub outcome: Outcome,
    pub transaction_id: Option<u32>,
    /// Open transactions of an earlier run this run aborted.
    pub aborted_transactions: Vec<u32>,
    pub tables: Vec<TableSummary>,
    /// Wall time per phase: register, load, commit, publish, index, stats.
    pub seconds: BTreeMap<String, f64>,
}

impl IngestSummary {
    /// Per table, the CatalogIngest status figures this step knows (rows loaded, chunks,
    /// overlap rows, bytes, load time); rows read and rejected come from the partition step.
    pub fn table_statuses(&self) -> Vec<crate::api::catalog_ingest::TableStatus> {
        self.tables
            .iter()
            .map(|t| crate::api::catalog_ingest::TableStatus {
                name: t.table.clone(),
                // Regular tables are read by this step (no partitioning): its rows are read.
                rows_read: if t.regular { t.rows as i64 } else { 0 },
                rows_loaded: t.rows as i64,
                chunks: t.chunks as i64,
                overlap_rows: t.overlap_rows as i64,
                bytes: t.bytes as i64,
                warnings: t.warnings as i64,
                duration_seconds: Some(t.load_seconds),
                ..Default::default()
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Api(#[from] ReplicationError),
    #[error(transparent)]
    ChunkFiles(#[from] ChunkFilesError),
    #[error("plan: {0}")]
    Plan(String),
    #[error("database {database} is already published with tables {published:?}, not {wanted:?}")]
    PublishedDifferently {
        database: String,
        published: Vec<String>,
        wanted: Vec<String>,
    },
    #[error(
        "database {database}: committed transaction {transaction} loaded {loaded:?}, the chunk \
         files hold {expected:?}; delete the database to start over"
    )]
    ForeignCommit {
        database: String,
        transaction: u32,
        loaded: BTreeMap<String, TableLoaded>,
        expected: BTreeMap<String, TableLoaded>,
    },
    #[error(
        "database {database}: the database family {family} ({stripes} stripes, {sub_stripes} \
         sub-stripes) has overlap {family_overlap}, this catalog {overlap}: Qserv would query it \
         with the family's overlap (Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:229-253); \
         partition with overlap {family_overlap} or other stripes"
    )]
    FamilyOverlap {
        database: String,
        family: String,
        stripes: u32,
        sub_stripes: u32,
        family_overlap: f64,
        overlap: f64,
    },
    #[error(
        "transaction {transaction}: table {table}: {what}: {count} LOAD DATA warning(s) \
         (first: {first}); warnings are errors unless allowed"
    )]
    Warnings {
        transaction: u32,
        table: String,
        what: String,
        count: u64,
        first: String,
    },
    #[error(
        "database {database}: transaction {transaction} is still {state} after waiting; end it \
         (or let it end) before running again"
    )]
    Stuck {
        database: String,
        transaction: u32,
        state: String,
    },
    #[error("transaction {transaction}: {what}: expected {expected} rows, Qserv loaded {loaded}")]
    Count {
        transaction: u32,
        what: String,
        expected: u64,
        loaded: u64,
    },
    #[error("transaction {transaction} aborted, nothing published: {cause}")]
    Aborted {
        transaction: u32,
        cause: Box<IngestError>,
    },
}

/// Rows the files hold, per table, as the transaction summary reports them: a regular table's
/// rows once per worker copy (`regular_copies`).
fn expected_rows(
    plan: &IngestPlan,
    files: &[ChunkFile],
    regular_copies: u64,
) -> BTreeMap<String, TableLoaded> {
    let mut out: BTreeMap<String, TableLoaded> = plan
        .tables
        .iter()
        .map(|t| (t.registration.table.clone(), TableLoaded::default()))
        .collect();
    for f in files {
        let table = &plan.tables[f.table];
        let e = out
            .get_mut(&table.registration.table)
            .expect("every table is listed");
        if f.overlap {
            e.overlap_rows += f.rows;
        } else if is_regular(table) {
            e.rows += f.rows * regular_copies;
        } else {
            e.rows += f.rows;
        }
    }
    out
}

fn is_regular(table: &TablePlan) -> bool {
    matches!(table.registration.kind, TableKind::Regular)
}

fn has_regular(plan: &IngestPlan) -> bool {
    plan.tables.iter().any(is_regular)
}

fn same_rows(
    loaded: &BTreeMap<String, TableLoaded>,
    expected: &BTreeMap<String, TableLoaded>,
) -> bool {
    expected
        .iter()
        .all(|(t, e)| loaded.get(t).copied().unwrap_or_default() == *e)
}

/// Runs the ingest; see the module documentation for what a re-run does.
pub fn run_ingest<'a>(
    client: &'a ReplicationClient,
    plan: &'a IngestPlan,
    opts: &'a IngestOptions,
) -> BoxFuture<'a, Result<IngestSummary, IngestError>> {
    Box::pin(run_ingest_unboxed(client, plan, opts))
}

async fn run_ingest_unboxed(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    check_plan(plan)?;
    client.check_server_version().await?;
    let files = scan_plan(plan).await?;
    let mut summary = IngestSummary {
        database: plan.database.clone(),
        outcome: Outcome::Ingested,
        transaction_id: None,
        aborted_transactions: Vec::new(),
        tables: table_summaries(plan, &files),
        seconds: BTreeMap::new(),
    };
    let t = Instant::now();
    let Some(earlier) = recover(client, plan, &files, &mut summary).await? else {
        summary.outcome = Outcome::AlreadyPublished;
        if missing_after_publish(client, plan, opts, &summary).await? {
            tracing::info!(
                database = plan.database,
                "published, but without its director index or row counters: building them"
            );
            after_publish(client, plan, opts, &mut summary).await?;
            summary.outcome = Outcome::Completed;
        }
        return Ok(summary);
    };
    register(client, plan, &earlier).await?;
    summary
        .seconds
        .insert("register".into(), t.elapsed().as_secs_f64());
    match earlier.committed {
        Some(id) => {
            tracing::info!(
                transaction = id,
                "an earlier run committed every row; publishing it"
            );
            summary.outcome = Outcome::Resumed;
            summary.transaction_id = Some(id);
        }
        None => load(client, plan, opts, &files, &mut summary).await?,
    }
    abort_strays(client, plan, &mut summary).await?;
    publish(client, plan, opts, &mut summary).await?;
    Ok(summary)
}

/// The files of every table: chunk files, or a regular table's file.
async fn scan_plan(plan: &IngestPlan) -> Result<Vec<ChunkFile>, IngestError> {
    let mut files = Vec::new();
    for (i, t) in plan.tables.iter().enumerate() {
        let before = files.len();
        let regular = is_regular(t);
        for dir in t.chunk_dirs.clone() {
            let found = tokio::task::spawn_blocking(move || {
                if regular {
                    scan_regular_file(i, &dir).map(|f| f.into_iter().collect())
                } else {
                    scan_chunk_files(i, &dir)
                }
            })
            .await
            .map_err(|e| IngestError::Plan(e.to_string()))??;
            files.extend(found);
        }
        // An empty regular table is ingested as such; a partitioned one without rows is a
        // partitioning mistake (a wrong directory, a cone outside the data).
        if files.len() == before && !regular {
            return Err(IngestError::ChunkFiles(ChunkFilesError {
                dir: t
                    .chunk_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: match rows_before_selection(&t.chunk_dirs) {
                    Some(n) if n > 0 => format!(
                        "table {}: the selection (the spec's cone or bands) kept none of the \
                         {n} rows of its input: no chunk files (chunk_<id>.txt) with rows",
                        t.registration.table
                    ),
                    _ => format!(
                        "table {}: no chunk files (chunk_<id>.txt) with rows",
                        t.registration.table
                    ),
                },
            }));
        }
    }
    Ok(files)
}

/// What an earlier run left of this database.
struct Earlier {
    database_exists: bool,
    /// Tables already registered.
    tables: Vec<String>,
    /// A committed transaction holding exactly the files' rows.
    committed: Option<u32>,
}

/// Aborts the unfinished transactions of an earlier run and finds a complete committed one.
/// `None`: the database is already published with the same tables.
async fn recover(
    client: &ReplicationClient,
    plan: &IngestPlan,
    files: &[ChunkFile],
    summary: &mut IngestSummary,
) -> Result<Option<Earlier>, IngestError> {
    let config = client.config().await?;
    check_family(plan, &config)?;
    let Some(db) = config
        .databases
        .into_iter()
        .find(|d| d.database == plan.database)
    else {
        return Ok(Some(Earlier {
            database_exists: false,
            tables: Vec::new(),
            committed: None,
        }));
    };
    if db.is_published {
        let mut wanted: Vec<String> = plan
            .tables
            .iter()
            .map(|t| t.registration.table.clone())
            .collect();
        wanted.sort();
        let mut have = db.tables.clone();
        have.sort();
        if have != wanted {
            return Err(IngestError::PublishedDifferently {
                database: plan.database.clone(),
                published: db.tables,
                wanted,
            });
        }
        tracing::info!(database = plan.database, "already published; nothing to do");
        return Ok(None);
    }
    // A committed run's regular tables hold a copy per worker the database has now.
    let copies = if has_regular(plan) {
        client
            .locate_regular(serde_json::json!({ "database": plan.database }))
            .await?
            .len() as u64
    } else {
        0
    };
    let expected = &expected_rows(plan, files, copies);
    let mut committed = None;
    for t in client.list_transactions(&plan.database).await? {
        let t = end_leftover(client, plan, t, summary).await?;
        if t.state == "FINISHED" {
            let loaded = client.transaction_rows(t.id).await?;
            if !loaded.values().any(|l| l.rows + l.overlap_rows > 0) {
                continue;
            }
            if !same_rows(&loaded, expected) || committed.is_some() {
                return Err(IngestError::ForeignCommit {
                    database: plan.database.clone(),
                    transaction: t.id,
                    loaded,
                    expected: expected.clone(),
                });
            }
            committed = Some(t.id);
        }
    }
    Ok(Some(Earlier {
        database_exists: true,
        tables: db.tables,
        committed,
    }))
}

/// A transaction an earlier run left unfinished, ended: aborted where the server allows it
/// (`Q@2026.3.3-rc1:src/replica/services/DatabaseServices.cc:184-203`), waited for while
/// `IS_ABORTING` (or while a commit the abort queued behind completes). Its final state.
async fn end_leftover(
    client: &ReplicationClient,
    plan: &IngestPlan,
    t: Transaction,
    summary: &mut IngestSummary,
) -> Result<Transaction, IngestError> {
    let mut t = t;
    for _ in 0..3 {
        if !t.is_unsettled() {
            return Ok(t);
        }
        if t.can_abort() {
            tracing::warn!(
                transaction = t.id,
                state = t.state,
                "aborting a transaction an earlier run left unfinished"
            );
            match client.end_transaction(t.id, true).await {
                Ok(()) => {
                    summary.aborted_transactions.push(t.id);
                    return Ok(Transaction {
                        state: "ABORTED".into(),
                        ..t
                    });
                }
                // Refused: its state changed meanwhile (a commit in progress completed).
                Err(e @ ReplicationError::Refused { .. }) => {
                    tracing::warn!(transaction = t.id, error = %e, "abort refused; looking again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        t = match client.settled_transaction(t.id).await? {
            Some(settled) => settled,
            None => {
                return Err(IngestError::Stuck {
                    database: plan.database.clone(),
                    transaction: t.id,
                    state: t.state,
                });
            }
        };
    }
    Err(IngestError::Stuck {
        database: plan.database.clone(),
        transaction: t.id,
        state: t.state,
    })
}

/// A family of the plan's stripes and sub-stripes must have the plan's overlap: the server
/// would put the database into it and query it with the family's
/// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:229-253`).
fn check_family(plan: &IngestPlan, config: &ReplicationConfig) -> Result<(), IngestError> {
    for f in &config.families {
        if f.num_stripes == plan.num_stripes
            && f.num_sub_stripes == plan.num_sub_stripes
            && (f.overlap - plan.overlap).abs() > 1e-9
        {
            return Err(IngestError::FamilyOverlap {
                database: plan.database.clone(),
                family: f.name.clone(),
                stripes: f.num_stripes,
                sub_stripes: f.num_sub_stripes,
                family_overlap: f.overlap,
                overlap: plan.overlap,
            });
        }
    }
    Ok(())
}

/// The database (when new) and the tables not registered yet, directors first.
async fn register(
    client: &ReplicationClient,
    plan: &IngestPlan,
    earlier: &Earlier,
) -> Result<(), IngestError> {
    if !earlier.database_exists {
        client
            .register_database(
                &plan.database,
                plan.num_stripes,
                plan.num_sub_stripes,
                plan.overlap,
            )
            .await?;
    }
    for t in registration_order(plan) {
        if !earlier.tables.contains(&t.registration.table) {
            client.register_table(&t.registration).await?;
        }
    }
    Ok(())
}

/// One transaction: every file loaded, counts checked, committed; aborted on any failure.
async fn load(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
    files: &[ChunkFile],
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let id = client.start_transaction(&plan.database).await?;
    summary.transaction_id = Some(id);
    match load_and_commit(client, plan, opts, id, files, &mut summary.seconds).await {
        Ok(loaded) => {
            for (i, t) in loaded.seconds {
                summary.tables[i].load_seconds = t;
            }
            for (i, n) in loaded.warnings {
                summary.tables[i].warnings = n;
            }
            for s in summary.tables.iter_mut().filter(|s| s.regular) {
                s.contributions *= loaded.regular_copies;
            }
            Ok(())
        }
        Err(cause) => {
            // The abort may fail too (the controller is down): the next run aborts it.
            if let Err(abort) = client.end_transaction(id, true).await {
                tracing::error!(transaction = id, error = %abort, "abort failed; a re-run aborts it");
            }
            Err(IngestError::Aborted {
                transaction: id,
                cause: Box::new(cause),
            })
        }
    }
}

/// A start request that got no answer may have opened a transaction; any unfinished one
/// would block publishing (`HttpIngestModule.cc:311-316`), and none can be ours to keep.
async fn abort_strays(
    client: &ReplicationClient,
    plan: &IngestPlan,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    for t in client.list_transactions(&plan.database).await? {
        if t.is_unsettled() && Some(t.id) != summary.transaction_id {
            tracing::warn!(
                transaction = t.id,
                state = t.state,
                "ending a stray transaction before publishing"
            );
            end_leftover(client, plan, t, summary).await?;
        }
    }
    Ok(())
}

/// Publish, then the director indexes and the row counters.
async fn publish(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let t = Instant::now();
    opts.stage("publishing");
    client.publish_database(&plan.database).await?;
    summary
        .seconds
        .insert("publish".into(), t.elapsed().as_secs_f64());
    after_publish(client, plan, opts, summary).await
}

/// Whether a published catalog misses what [`after_publish`] builds. Row counters are built
/// last, so a table with rows and none says the run died before finishing; without row
/// counters there is no such sign (no service tells whether a director index exists), and
/// the director index is built again.
async fn missing_after_publish(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
    summary: &IngestSummary,
) -> Result<bool, IngestError> {
    if !opts.row_counters {
        return Ok(opts.director_index);
    }
    for s in summary.tables.iter().filter(|s| s.rows > 0) {
        if client
            .row_counters(&plan.database, &s.table)
            .await?
            .is_empty()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The director indexes and the row counters of a published catalog.
async fn after_publish(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    if opts.director_index {
        let t = Instant::now();
        opts.stage("building the director index");
        for table in &plan.tables {
            if matches!(table.registration.kind, TableKind::Director { .. }) {
                client
                    .build_director_index(&plan.database, &table.registration.table)
                    .await?;
            }
        }
        summary
            .seconds
            .insert("index".into(), t.elapsed().as_secs_f64());
    }
    if opts.row_counters {
        let t = Instant::now();
        opts.stage("collecting row counters");
        for s in &mut summary.tables {
            let counters = client.table_row_stats(&plan.database, &s.table).await?;
            s.published_rows = Some(
                counters
                    .iter()
                    .filter(|c| c.is_overlap == 0)
                    .map(|c| c.num_rows)
                    .sum(),
            );
        }
        summary
            .seconds
            .insert("stats".into(), t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// What can be told wrong before asking the service anything: each table in the plan's
/// database, and nothing the service would refuse or misread (its dialect, its columns).
fn check_plan(plan: &IngestPlan) -> Result<(), IngestError> {
    for t in &plan.tables {
        let table = &t.registration.table;
        if t.registration.database != plan.database {
            return Err(IngestError::Plan(format!(
                "table {table} is registered in database {}, the plan is for {}",
                t.registration.database, plan.database
            )));
        }
        rules::check_table(&t.registration)?;
        rules::dialect_tokens(&t.dialect)
            .and_then(|_| rules::check_charset(&t.dialect.charset_name))
            .map_err(|reason| {
                IngestError::Plan(format!("table {table}: its files cannot be sent: {reason}"))
            })?;
    }
    Ok(())
}

/// Directors before the tables that depend on them.
fn registration_order(plan: &IngestPlan) -> Vec<&TablePlan> {
    let mut order: Vec<&TablePlan> = plan.tables.iter().collect();
    order.sort_by_key(|t| !matches!(t.registration.kind, TableKind::Director { .. }));
    order
}

fn table_summaries(plan: &IngestPlan, files: &[ChunkFile]) -> Vec<TableSummary> {
    plan.tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mine = files.iter().filter(|f| f.table == i);
            let mut s = TableSummary {
                table: t.registration.table.clone(),
                regular: is_regular(t),
                ..TableSummary::default()
            };
            let mut chunks = std::collections::BTreeSet::new();
            for f in mine {
                if f.overlap {
                    s.overlap_rows += f.rows;
                } else {
                    s.rows += f.rows;
                    if !s.regular {
                        chunks.insert(f.chunk);
                    }
                }
                s.bytes += f.bytes;
                s.contributions += 1;
            }
            s.chunks = chunks.len() as u64;
            s
        })
        .collect()
}

/// What a committed load measured.
struct Loaded {
    /// Load seconds per table (index in the plan).
    seconds: BTreeMap<usize, f64>,
    /// `LOAD DATA` warnings per table (index in the plan), when allowed.
    warnings: BTreeMap<usize, u64>,
    /// Workers each regular table went to.
    regular_copies: u64,
}

/// One file to one worker: a chunk file goes where its chunk is allocated (asked when first
/// needed), a regular table's file to each worker `GET /ingest/regular` lists.
struct Delivery<'a> {
    file: &'a ChunkFile,
    worker: Option<ChunkLocation>,
}

/// Sends every file, checks the counts, commits.
async fn load_and_commit(
    client: &ReplicationClient,
    plan: &IngestPlan,
    opts: &IngestOptions,
    transaction: u32,
    files: &[ChunkFile],
    seconds: &mut BTreeMap<String, f64>,
) -> Result<Loaded, IngestError> {
    let started = Instant::now();
    let regular_workers = if has_regular(plan) {
        client
            .locate_regular(serde_json::json!({ "transaction_id": transaction }))
            .await?
    } else {
        Vec::new()
    };
    let sends: Vec<Delivery> = files
        .iter()
        .flat_map(|file| -> Vec<Delivery> {
            if is_regular(&plan.tables[file.table]) {
                regular_workers
                    .iter()
                    .map(|w| Delivery {
                        file,
                        worker: Some(w.clone()),
                    })
                    .collect()
            } else {
                vec![Delivery { file, worker: None }]
            }
        })
        .collect();
    let bar = progress_bar(opts.progress, sends.iter().map(|s| s.file.bytes).sum());
    let locations: Arc<Mutex<HashMap<u32, ChunkLocation>>> = Arc::default();
    let times: Arc<Mutex<BTreeMap<usize, f64>>> = Arc::default();
    let warnings: Arc<Mutex<BTreeMap<usize, u64>>> = Arc::default();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = sends.len();
    let report = |update: &dyn Fn(&mut LoadProgress)| {
        if let Some(tx) = &opts.progress_to {
            tx.send_modify(|p| update(p));
        }
    };
    report(&|p| {
        *p = LoadProgress {
            total: total as u64,
            ..LoadProgress::default()
        }
    });
    futures::stream::iter(sends.iter().map(Ok::<_, IngestError>))
        .try_for_each_concurrent(opts.concurrency.max(1), |send| {
            let (locations, times, warnings, bar, done) = (
                locations.clone(),
                times.clone(),
                warnings.clone(),
                &bar,
                &done,
            );
            let f = send.file;
            async move {
                let cached = locations
                    .lock()
                    .expect("not poisoned")
                    .get(&f.chunk)
                    .cloned();
                let location = match (&send.worker, cached) {
                    (Some(w), _) => w.clone(),
                    (None, Some(l)) => l,
                    (None, None) => {
                        let l = client.locate_chunk(transaction, f.chunk).await?;
                        locations
                            .lock()
                            .expect("not poisoned")
                            .insert(f.chunk, l.clone());
                        l
                    }
                };
                let table = &plan.tables[f.table];
                let t = Instant::now();
                let result = client
                    .send_contribution(
                        &location,
                        &Contribution {
                            transaction_id: transaction,
                            table: &table.registration.table,
                            chunk: f.chunk,
                            overlap: f.overlap,
                            file: &f.path,
                            dialect: &table.dialect,
                        },
                    )
                    .await?;
                *times
                    .lock()
                    .expect("not poisoned")
                    .entry(f.table)
                    .or_default() += t.elapsed().as_secs_f64();
                if result.num_warnings > 0 {
                    *warnings
                        .lock()
                        .expect("not poisoned")
                        .entry(f.table)
                        .or_default() += result.num_warnings;
                    let first = result.warnings.first().cloned().unwrap_or_default();
                    tracing::warn!(
                        transaction,
                        table = table.registration.table,
                        file = %f.path.display(),
                        count = result.num_warnings,
                        first,
                        "LOAD DATA warnings"
                    );
                    if !opts.allow_warnings {
                        return Err(IngestError::Warnings {
                            transaction,
                            table: table.registration.table.clone(),
                            what: format!("{} on worker {}", f.path.display(), location.worker),
                            count: result.num_warnings,
                            first,
                        });
                    }
                }
                if result.num_rows_loaded != f.rows {
                    return Err(IngestError::Count {
                        transaction,
                        what: format!("{} on worker {}", f.path.display(), location.worker),
                        expected: f.rows,
                        loaded: result.num_rows_loaded,
                    });
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                report(&|p| {
                    p.done += 1;
                    p.rows += f.rows;
                });
                match bar {
                    Some(bar) => bar.inc(f.bytes),
                    None if n % 100 == 0 || n == total => {
                        tracing::info!(transaction, done = n, total, "contributions")
                    }
                    None => {}
                }
                Ok(())
            }
        })
        .await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    seconds.insert("load".into(), started.elapsed().as_secs_f64());
    // Qserv's own count of what the transaction loaded must equal the files, table by table.
    let regular_copies = regular_workers.len() as u64;
    let expected = expected_rows(plan, files, regular_copies);
    let loaded = client.transaction_rows(transaction).await?;
    for (table, e) in &expected {
        let l = loaded.get(table).copied().unwrap_or_default();
        for (what, want, got) in [
            ("rows", e.rows, l.rows),
            ("overlap rows", e.overlap_rows, l.overlap_rows),
        ] {
            if want != got {
                return Err(IngestError::Count {
                    transaction,
                    what: format!("{table} {what}"),
                    expected: want,
                    loaded: got,
                });
            }
        }
    }
    let t = Instant::now();
    client.end_transaction(transaction, false).await?;
    seconds.insert("commit".into(), t.elapsed().as_secs_f64());
    let seconds = times.lock().expect("not poisoned").clone();
    let warnings = warnings.lock().expect("not poisoned").clone();
    Ok(Loaded {
        seconds,
        warnings,
        regular_copies,
    })
}

fn progress_bar(enabled: bool, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "ingest {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// The rows the partitioner read before the selection's row filters, over `dirs` (their
/// `partition-summary.json`), when it had some.
fn rows_before_selection(dirs: &[PathBuf]) -> Option<u64> {
    let mut total = None;
    for dir in dirs {
        // A shard without files wrote no summary.
        let Ok(text) = std::fs::read_to_string(dir.join("partition-summary.json")) else {
            continue;
        };
        let Ok(summary) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(n) = summary["rows_before_selection"].as_u64() {
            *total.get_or_insert(0) += n;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qserv::replication::Column;

    fn table(name: &str, kind: TableKind) -> TablePlan {
        TablePlan {
            registration: TableRegistration {
                database: "db".into(),
                table: name.into(),
                kind,
                schema: vec![Column::new("id", "INT")],
                charset_name: None,
                collation_name: None,
            },
            chunk_dirs: vec![PathBuf::from(name)],
            dialect: CsvDialect::qserv_testdata(),
        }
    }

    fn plan() -> IngestPlan {
        let child = TableKind::Child {
            director_table: "Object".into(),
            key: "objectId".into(),
            latitude_key: None,
            longitude_key: None,
        };
        let director = TableKind::Director {
            key: "objectId".into(),
            latitude_key: "dec".into(),
            longitude_key: "ra".into(),
        };
        IngestPlan {
            database: "db".into(),
            num_stripes: 85,
            num_sub_stripes: 12,
            overlap: 0.01667,
            tables: vec![table("Source", child), table("Object", director)],
        }
    }

    #[test]
    fn directors_register_first_and_rows_add_up_per_table_and_kind() {
        let p = plan();
        let order: Vec<&str> = registration_order(&p)
            .iter()
            .map(|t| t.registration.table.as_str())
            .collect();
        assert_eq!(order, ["Object", "Source"]);
        let file = |table, chunk, overlap, rows| ChunkFile {
            table,
            chunk,
            overlap,
            path: PathBuf::new(),
            rows,
            bytes: rows * 10,
        };
        let files = [
            file(0, 1, false, 5),
            file(0, 2, false, 7),
            file(1, 1, false, 3),
            file(1, 1, true, 2),
        ];
        let e = expected_rows(&p, &files, 0);
        assert_eq!(
            e["Source"],
            TableLoaded {
                rows: 12,
                overlap_rows: 0
            }
        );
        assert_eq!(
            e["Object"],
            TableLoaded {
                rows: 3,
                overlap_rows: 2
            }
        );
        let s = table_summaries(&p, &files);
        assert_eq!(
            (s[0].rows, s[0].chunks, s[0].contributions, s[0].bytes),
            (12, 2, 2, 120)
        );
        assert_eq!((s[1].rows, s[1].overlap_rows, s[1].chunks), (3, 2, 1));
        let mut loaded = e.clone();
        assert!(same_rows(&loaded, &e));
        loaded.get_mut("Object").unwrap().overlap_rows += 1;
        assert!(!same_rows(&loaded, &e));
    }

    #[test]
    fn a_regular_table_counts_once_per_worker_copy_and_reports_its_rows_read() {
        let mut p = plan();
        p.tables.push(table("Filter", TableKind::Regular));
        check_plan(&p).unwrap();
        let files = [
            ChunkFile {
                table: 1,
                chunk: 6630,
                overlap: false,
                path: PathBuf::new(),
                rows: 3,
                bytes: 30,
            },
            ChunkFile {
                table: 2,
                chunk: 0,
                overlap: false,
                path: PathBuf::new(),
                rows: 6,
                bytes: 60,
            },
        ];
        let e = expected_rows(&p, &files, 2);
        assert_eq!(e["Filter"].rows, 12, "6 rows on each of 2 workers");
        assert_eq!(e["Object"].rows, 3, "a chunk is on one worker");
        let summaries = table_summaries(&p, &files);
        let filter = &summaries[2];
        assert_eq!((filter.regular, filter.rows, filter.chunks), (true, 6, 0));
        let summary = IngestSummary {
            database: "db".into(),
            outcome: Outcome::Ingested,
            transaction_id: Some(1),
            aborted_transactions: vec![],
            tables: summaries,
            seconds: BTreeMap::new(),
        };
        let statuses = summary.table_statuses();
        assert_eq!((statuses[2].rows_read, statuses[2].rows_loaded), (6, 6));
        assert_eq!(
            statuses[1].rows_read, 0,
            "the partition step reads partitioned tables"
        );
    }
}
