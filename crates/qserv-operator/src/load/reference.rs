//! The reference loader: a table of catalog files into a plain MariaDB database, unpartitioned,
//! for result checks and for users who want the catalog in SQL.
//!
//! Nothing half-loaded looks complete: rows go into a staging table `<table>__loading`, and
//! only when every row is in does one `RENAME TABLE` put it under the final name (swapping out
//! a previous version, which is then dropped). A staging table rather than one transaction,
//! because MyISAM (Qserv's engine for data tables, used here so checks compare like with like)
//! has no transactions, and because a multi-GB InnoDB transaction would bloat the undo log.
//! On any failure the staging table is dropped and a previous complete table is untouched; if
//! even that is impossible (the server is gone), the leftover is named `__loading` and the
//! next run drops it first. Re-running a load replaces the table, so it never duplicates rows.
//! Two loads of the same table at once are not supported.

use futures::future::LocalBoxFuture;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::error::{LoadError, Result};
use super::sql::{Sql, first_warning};
use super::stream::{self, End, Input, Progress, Statement, locate};
use super::tsv::check_schema;
use crate::catalog::ddl::quote_identifier;
use crate::catalog::{CatalogReader, Selected};
use crate::catalog::{SchemaFile, create_table_sql};
use crate::db::Endpoint;

/// Suffix of the staging table a load fills before renaming it.
pub const STAGING_SUFFIX: &str = "__loading";
/// Suffix under which a previous version waits for its drop during the swap.
const OLD_SUFFIX: &str = "__replaced";

/// Table options of a table created from the Arrow schema (see the module comment).
pub(crate) const TABLE_OPTIONS: &str = "ENGINE=MyISAM DEFAULT CHARSET=utf8mb4";

/// One table to load into a reference database.
#[derive(Clone, Debug)]
pub struct ReferenceLoad {
    pub database: String,
    pub table: String,
    pub input: Input,
    /// A schema file whose table defines this one: a DDL file (mysqldump `.schema`, its
    /// `CREATE TABLE` verbatim) or a Felis YAML (the definition `felis` writes); otherwise the
    /// table is derived from the selected columns.
    pub schema_file: Option<SchemaFile>,
    /// Rows per `LOAD DATA` statement (cut at batch boundaries).
    pub rows_per_statement: u64,
    /// An input without rows is loaded as an empty table; otherwise it is an error and the
    /// table as it was stays (an empty file is far more often a broken export than intended).
    pub allow_empty: bool,
}

impl ReferenceLoad {
    pub fn new(database: &str, table: &str, input: Input) -> Self {
        ReferenceLoad {
            database: database.to_string(),
            table: table.to_string(),
            input,
            schema_file: None,
            rows_per_statement: 1_000_000,
            allow_empty: false,
        }
    }
}

/// What a load did.
#[derive(Clone, Debug)]
pub struct LoadSummary {
    pub rows: u64,
    pub elapsed: Duration,
}

impl LoadSummary {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Loads `load` into the server at `endpoint` (see the module comment for the guarantees).
pub fn load_reference<'a>(
    endpoint: &'a Endpoint,
    load: &'a ReferenceLoad,
    progress: Option<Progress>,
) -> LocalBoxFuture<'a, Result<LoadSummary>> {
    Box::pin(load_reference_unboxed(endpoint, load, progress))
}

async fn load_reference_unboxed(
    endpoint: &Endpoint,
    load: &ReferenceLoad,
    progress: Option<Progress>,
) -> Result<LoadSummary> {
    let started = Instant::now();
    let plan = Plan::new(load).await?;
    let mut conn = endpoint.connect().await?;
    let sql = Sql {
        endpoint: endpoint.address(),
        table: format!("{}.{}", load.database, load.table),
    };
    create_staging(&sql, &mut conn, load, &plan).await?;
    let rows = match stream_rows(&mut conn, &sql, plan, load, progress).await {
        Ok((0, selected_from)) if !load.allow_empty => Err(LoadError::Empty {
            table: load.table.clone(),
            files: load.input.files.clone(),
            selected_from,
        }),
        other => other.map(|(rows, _)| rows),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            drop_after_failure(endpoint, &mut conn, load).await;
            return Err(error);
        }
    };
    publish(&sql, &mut conn, load).await?;
    let _ = conn.disconnect().await;
    Ok(LoadSummary {
        rows,
        elapsed: started.elapsed(),
    })
}

/// What a load needs before it touches the database: the first file opened (so a wrong path
/// or dataset fails before anything is created), the staging table's DDL (and the same without
/// column comments, see [`create_staging`]), the LOAD statement.
struct Plan {
    first: Selected<CatalogReader>,
    create_staging: String,
    create_staging_bare: Option<String>,
    load_data: String,
}

impl Plan {
    async fn new(load: &ReferenceLoad) -> Result<Plan> {
        let table = &load.table;
        let staging = staging_name(table);
        let first_file = load.input.files.first().cloned().unwrap_or_default();
        let input = load.input.clone();
        let first = blocking(move || stream::open(&first_file, &input)).await?;
        let schema = first.schema();
        check_schema(&schema).map_err(|(column, reason)| LoadError::ColumnType {
            table: table.clone(),
            column,
            reason,
        })?;
        let (create_staging, create_staging_bare) = match &load.schema_file {
            Some(file) => {
                let definition = file
                    .definition()
                    .map_err(|source| LoadError::read(table, source))?;
                let name = quote_identifier(&staging);
                (
                    definition.create_table(&name, true),
                    definition
                        .columns_without_comments
                        .is_some()
                        .then(|| definition.create_table(&name, false)),
                )
            }
            None => (
                create_table_sql(&staging, &schema)
                    .map(|sql| format!("{sql} {TABLE_OPTIONS}"))
                    .map_err(|source| LoadError::read(table, source))?,
                None,
            ),
        };
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| quote_identifier(f.name()))
            .collect();
        // The file name is a label: the connection's infile handler supplies the data.
        let load_data = format!(
            "LOAD DATA LOCAL INFILE 'arrow-batches' INTO TABLE {} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
            quote_identifier(&staging),
            columns.join(", ")
        );
        Ok(Plan {
            first,
            create_staging,
            create_staging_bare,
            load_data,
        })
    }
}

pub(crate) fn staging_name(table: &str) -> String {
    format!("{table}{STAGING_SUFFIX}")
}

/// Streams every row into the staging table, one `LOAD DATA` per statement of the producer;
/// returns the rows loaded.
async fn stream_rows(
    conn: &mut Conn,
    sql: &Sql,
    plan: Plan,
    load: &ReferenceLoad,
    progress: Option<Progress>,
) -> Result<(u64, Option<u64>)> {
    // Rows loaded, and rows read before the selection's row filters (when it has some).
    // The producer runs in a blocking thread; statements come one at a time.
    let (tx, mut statements) = tokio::sync::mpsc::channel::<Statement>(1);
    let input = load.input.clone();
    let rows_per_statement = load.rows_per_statement.max(1);
    let first = plan.first;
    let producer = tokio::task::spawn_blocking(move || {
        stream::produce(first, &input, rows_per_statement, progress, tx)
    });
    let mut loaded = 0u64;
    let mut failure: Option<(mysql_async::Error, u64)> = None;
    while let Some(statement) = statements.recv().await {
        conn.set_infile_handler(async move {
            Ok(futures::stream::unfold(statement, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            })
            .boxed())
        });
        let result = match conn.query_drop(&plan.load_data).await {
            Ok(()) if conn.get_warnings() > 0 => first_warning(conn).await,
            other => other,
        };
        match result {
            Ok(()) => loaded += conn.affected_rows(),
            Err(err) => {
                failure = Some((err, loaded));
                break;
            }
        }
    }
    // Stop the producer if it still writes: drop the statement queue and a handler the
    // server never asked for (it holds the receiver the producer may be blocked on).
    drop(statements);
    conn.set_infile_handler(async { Ok(futures::stream::empty().boxed()) });
    let outcome = producer
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));

    match (outcome.end, failure) {
        // The input's own error explains a statement the producer aborted.
        (End::Failed(err), _) => Err(err),
        (_, Some((err, before))) => {
            Err(sql.load_error(err, |row| locate(&outcome.spans, before + row)))
        }
        (End::ConsumerGone, None) => {
            Err(sql.error("load the rows", "the connection stopped taking data"))
        }
        (End::Done, None) if loaded != outcome.rows => Err(sql.error(
            "load the rows",
            &format!("{} rows sent, MariaDB loaded {loaded}", outcome.rows),
        )),
        (End::Done, None) => Ok((loaded, outcome.rows_before_selection)),
    }
}

/// Creates the database if missing, makes it the session's, and creates an empty staging
/// table (dropping one a crashed run left).
async fn create_staging(
    sql: &Sql,
    conn: &mut Conn,
    load: &ReferenceLoad,
    plan: &Plan,
) -> Result<()> {
    let db = quote_identifier(&load.database);
    let create_db = format!("CREATE DATABASE IF NOT EXISTS {db}");
    sql.run(conn, "create the database", &create_db).await?;
    sql.run(conn, "use the database", &format!("USE {db}"))
        .await?;
    let drop = format!(
        "DROP TABLE IF EXISTS {}",
        quote_identifier(&staging_name(&load.table))
    );
    sql.run(conn, "drop a stale staging table", &drop).await?;
    match (
        &plan.create_staging_bare,
        conn.query_drop(&plan.create_staging).await,
    ) {
        (_, Ok(())) => Ok(()),
        // MariaDB keeps every column's name and comment in one 64 KiB `.frm` record and
        // refuses a table whose comments overflow it (ER_TOO_MANY_FIELDS, "Table definition is
        // too large"; DP0.2's Object, 991 described columns): the table is made without them.
        (Some(bare), Err(mysql_async::Error::Server(e))) if e.code == ER_TOO_MANY_FIELDS => {
            tracing::warn!(
                table = load.table,
                "MariaDB refuses the table's definition with its column comments as too large \
                 ({}); the reference table is created without them",
                e.message
            );
            sql.run(conn, "create the staging table", bare).await
        }
        (_, Err(err)) => Err(match err {
            mysql_async::Error::Server(e) => sql.error("create the staging table", &e.message),
            other => sql.load_error(other, |row| (Default::default(), row)),
        }),
    }
}

/// MariaDB's error 1117, "Table definition is too large" (`ER_TOO_MANY_FIELDS`).
const ER_TOO_MANY_FIELDS: u16 = 1117;

/// Puts the complete staging table under the final name, in one `RENAME TABLE` that swaps
/// out a previous version when there is one.
async fn publish(sql: &Sql, conn: &mut Conn, load: &ReferenceLoad) -> Result<()> {
    publish_tables(sql, conn, &load.database, std::slice::from_ref(&load.table)).await
}

/// Tables renamed per `RENAME TABLE` statement when publishing many (keeps statements short).
const RENAMES_PER_STATEMENT: usize = 256;

/// Puts the complete staging tables of `tables` (in `database`) under their final names,
/// swapping out previous versions, which are then dropped. Each `RENAME TABLE` statement is
/// atomic: up to [`RENAMES_PER_STATEMENT`] tables appear together.
pub(crate) async fn publish_tables(
    sql: &Sql,
    conn: &mut Conn,
    database: &str,
    tables: &[String],
) -> Result<()> {
    let existing: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (database,),
        )
        .await
        .map_err(|err| sql.load_error(err, |row| (Default::default(), row)))?;
    let existing: std::collections::HashSet<String> = existing.into_iter().collect();
    let q = |name: &str| format!("{}.{}", quote_identifier(database), quote_identifier(name));
    for group in tables.chunks(RENAMES_PER_STATEMENT) {
        let old = |t: &str| q(&format!("{t}{OLD_SUFFIX}"));
        let replaced: Vec<&String> = group.iter().filter(|t| existing.contains(*t)).collect();
        let drop_old = (!replaced.is_empty()).then(|| {
            let names: Vec<String> = replaced.iter().map(|t| old(t)).collect();
            format!("DROP TABLE IF EXISTS {}", names.join(", "))
        });
        if let Some(drop_old) = &drop_old {
            sql.run(conn, "drop a stale replaced table", drop_old)
                .await?;
        }
        let mut renames = Vec::with_capacity(group.len() * 2);
        for t in group {
            if existing.contains(t) {
                renames.push(format!("{} TO {}", q(t), old(t)));
            }
            renames.push(format!("{} TO {}", q(&staging_name(t)), q(t)));
        }
        let rename = format!("RENAME TABLE {}", renames.join(", "));
        sql.run(conn, "swap in the staging table", &rename).await?;
        if let Some(drop_old) = &drop_old {
            sql.run(conn, "drop the replaced table", drop_old).await?;
        }
    }
    Ok(())
}

/// Drops the staging table after a failure, on a new connection if the old one is broken.
/// Best effort: the caller reports the original error either way.
async fn drop_after_failure(endpoint: &Endpoint, conn: &mut Conn, load: &ReferenceLoad) {
    let drop = format!(
        "DROP TABLE IF EXISTS {}.{}",
        quote_identifier(&load.database),
        quote_identifier(&staging_name(&load.table))
    );
    if conn.query_drop(&drop).await.is_ok() {
        return;
    }
    if let Ok(mut fresh) = endpoint.connect().await {
        let _ = fresh.query_drop(&drop).await;
        let _ = fresh.disconnect().await;
    }
}

/// Runs blocking reader work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}
