//! Publishing and what follows it: `PUT /ingest/database/:database`,
//! `POST /ingest/index/secondary`, `POST|GET /ingest/table-stats`
//! (`controller/db-table-management.rst`, `director-index.rst`, `row-counters.rst`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal};
use super::state::{Db, Shared, TableMeta, db_json, now_ms, unknown_db};
use super::tables::{
    self, DUMMY_CHUNK, chunk_table, create_chunk_table, literal, qualified, quote,
};

/// `PUT /ingest/database/:database` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:292-386`).
pub(super) async fn publish(s: &Shared, database: &str) -> Outcome {
    let db = {
        let cat = s.catalog();
        let db = cat.dbs.get(database).ok_or_else(|| unknown_db(database))?;
        // `HttpIngestModule.cc:308-321`, in that order.
        if db.published {
            return Err(Refusal::new("the database is already published"));
        }
        if cat
            .trans
            .values()
            .any(|t| t.database == database && !matches!(t.state, "FINISHED" | "ABORTED"))
        {
            return Err(Refusal::new("database has uncommitted transactions"));
        }
        if db.chunks.is_empty() {
            return Err(Refusal::new("the database doesn't have any chunks"));
        }
        db.clone()
    };
    let partitioned: Vec<&TableMeta> = db.tables.iter().filter(|t| t.partitioned).collect();
    // Every configured worker, a departed one too: Qserv's publishing runs jobs on all of
    // them, and fails on one that does not answer.
    let workers: Vec<(String, String, Arc<tables::Sql>)> = s
        .workers()
        .iter()
        .filter(|w| w.configured)
        .map(|w| (w.name.clone(), w.mysql_url.clone(), w.sql.clone()))
        .collect();
    // Workers: tables lose their transaction partitions; a view per table over its chunks.
    for (name, _, sql) in &workers {
        let owned: Vec<u32> = db
            .chunks
            .iter()
            .filter(|(_, w)| *w == name)
            .map(|(c, _)| *c)
            .collect();
        // Every allocated chunk has all its tables, even those nobody contributed to (a
        // table registered after the chunk's allocation).
        let mut missing: Vec<String> = db
            .tables
            .iter()
            .filter(|t| !t.partitioned)
            .map(|t| create_chunk_table(database, &t.name, &t.schema, &t.charset))
            .collect();
        for t in &partitioned {
            for &c in &owned {
                for overlap in [false, true] {
                    missing.push(create_chunk_table(
                        database,
                        &chunk_table(&t.name, c, overlap),
                        &t.schema,
                        &t.charset,
                    ));
                }
            }
        }
        sql.run(&missing).await.map_err(Refusal::internal)?;
        let mut statements = Vec::new();
        for t in sql.tables(database).await.map_err(Refusal::internal)? {
            if !sql
                .partitions(database, &t)
                .await
                .map_err(Refusal::internal)?
                .is_empty()
            {
                statements.push(format!(
                    "ALTER TABLE {} REMOVE PARTITIONING",
                    qualified(database, &t)
                ));
            }
        }
        for t in &partitioned {
            let mut chunks = vec![DUMMY_CHUNK];
            chunks.extend(&owned);
            statements.push(tables::worker_view(database, &t.name, &chunks));
        }
        sql.run(&statements).await.map_err(Refusal::internal)?;
    }
    // Czar: one FederatedX table per worker and table, a UNION ALL view on top; a regular
    // table is read from one worker (every worker has the same full copy).
    let mut statements = vec![format!("CREATE DATABASE IF NOT EXISTS {}", quote(database))];
    for t in &db.tables {
        let sources = if t.partitioned {
            &workers[..]
        } else {
            &workers[..workers.len().min(1)]
        };
        let columns: Vec<String> =
            std::iter::once("`qserv_trans_id` INT UNSIGNED NOT NULL".to_string())
                .chain(
                    t.schema
                        .iter()
                        .map(|c| format!("{} {}", quote(&c.name), c.sql_type)),
                )
                .collect();
        let mut parts = Vec::new();
        for (i, (_, url, _)) in sources.iter().enumerate() {
            let local = format!("{}__w{i}", t.name);
            statements.push(format!(
                "DROP TABLE IF EXISTS {}",
                qualified(database, &local)
            ));
            statements.push(format!(
                "CREATE TABLE {} ({}) ENGINE=FEDERATED {} CONNECTION={}",
                qualified(database, &local),
                columns.join(", "),
                t.charset.table_options(),
                literal(&federated_connection(url, database, &t.name))
            ));
            parts.push(format!("SELECT * FROM {}", qualified(database, &local)));
        }
        statements.push(format!(
            "CREATE OR REPLACE VIEW {} AS {}",
            qualified(database, &t.name),
            parts.join(" UNION ALL ")
        ));
    }
    ensure_federatedx(&s.czar)
        .await
        .map_err(Refusal::internal)?;
    s.czar.run(&statements).await.map_err(Refusal::internal)?;
    let mut cat = s.catalog();
    let db = cat
        .dbs
        .get_mut(database)
        .ok_or_else(|| unknown_db(database))?;
    db.published = true;
    Ok(json!({"database": db_json(db)}))
}

/// `mysql://user[:password]@host:port/db/table` as FederatedX wants it, the host resolved
/// through the local address map.
fn federated_connection(mysql_url: &str, database: &str, table: &str) -> String {
    let resolved = qserv_operator::connect_to::resolve_url(mysql_url);
    let base = resolved.trim_end_matches('/');
    // Drop a database path of the worker URL: FederatedX wants exactly db/table.
    let (scheme, rest) = base.split_once("://").unwrap_or(("mysql", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{database}/{table}")
}

async fn ensure_federatedx(czar: &tables::Sql) -> Result<(), String> {
    use mysql_async::prelude::Queryable;
    let mut conn = czar.conn().await?;
    let have: Option<String> = conn
        .query_first(
            "SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'FEDERATED' \
             AND SUPPORT IN ('YES', 'DEFAULT')",
        )
        .await
        .map_err(|e| format!("czar: {e}"))?;
    if have.is_none() {
        conn.query_drop("INSTALL SONAME 'ha_federatedx'")
            .await
            .map_err(|e| format!("czar: INSTALL SONAME 'ha_federatedx': {e}"))?;
    }
    conn.disconnect().await.ok();
    Ok(())
}

fn published_table(s: &Shared, database: &str, table: &str) -> Result<(Db, TableMeta), Refusal> {
    let cat = s.catalog();
    let db = cat.dbs.get(database).ok_or_else(|| unknown_db(database))?;
    let t = db
        .table(table)
        .ok_or_else(|| Refusal::new(format!("unknown table '{table}' in database '{database}'")))?;
    Ok((db.clone(), t.clone()))
}

/// `POST /ingest/index/secondary`: the director index as a table of the czar,
/// `qservMeta.<db>__<table>` (key, chunkId, subChunkId), its primary key proving ids unique.
pub(super) async fn director_index(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let table = p.string("director_table")?;
    let (db, t) = published_table(s, &database, &table)?;
    if !db.published {
        return Err(Refusal::new(format!(
            "database '{database}' is not published: the director index is built after publishing"
        )));
    }
    if !t.is_director() {
        return Err(Refusal::new(format!(
            "table '{table}' is not a director table"
        )));
    }
    // The stand-in reads each row's chunk from its `chunkId` column (Qserv knows it from the
    // chunk table's name): see the module's list of differences.
    if !t.schema.iter().any(|c| c.name == "chunkId") {
        return Err(Refusal::new(format!(
            "replication stand-in: director table '{table}' has no chunkId column to index by"
        )));
    }
    let index = qualified("qservMeta", &format!("{database}__{}", t.name));
    let key = quote(&t.director_key);
    // As Qserv's workers each send their part: read every worker's rows through its own
    // FederatedX table on the czar (`<table>__w<i>`, see `publish`), not through the UNION ALL
    // view, which MariaDB would first copy whole into a temporary table.
    let prefix = format!("{}__w", t.name);
    let mut parts: Vec<String> = s
        .czar
        .tables(&database)
        .await
        .map_err(Refusal::internal)?
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    parts.sort();
    let select = |from: &str| {
        format!(
            "SELECT {key}, `chunkId`, `subChunkId` FROM {}",
            qualified(&database, from)
        )
    };
    let mut statements = vec![
        "CREATE DATABASE IF NOT EXISTS `qservMeta`".to_string(),
        format!("DROP TABLE IF EXISTS {index}"),
    ];
    match parts.split_first() {
        Some((first, rest)) => {
            statements.push(format!(
                "CREATE TABLE {index} (PRIMARY KEY ({key})) ENGINE=InnoDB {}",
                select(first)
            ));
            statements.extend(
                rest.iter()
                    .map(|p| format!("INSERT INTO {index} {}", select(p))),
            );
        }
        None => statements.push(format!(
            "CREATE TABLE {index} (PRIMARY KEY ({key})) ENGINE=InnoDB {}",
            select(&t.name)
        )),
    }
    s.czar.run(&statements).await.map_err(|e| {
        Refusal::new(format!(
            "failed to build the director index of '{table}': {e}"
        ))
        .with_ext(json!({ table.clone(): {} }))
    })?;
    Ok(json!({}))
}

/// `POST /ingest/table-stats`: rows per (transaction, chunk, overlap), counted on the workers.
pub(super) async fn collect_row_counters(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let table = p.string("table")?;
    // `Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:760-783` and
    // `src/replica/jobs/SqlRowStatsJob.cc:61-69`; `invalid_argument`
    // reaches the client prefixed (`src/http/Module.cc:48-49`).
    let policy = match p.body.get("row_counters_state_update_policy") {
        None => "DISABLED".to_string(),
        Some(v) => v.as_str().unwrap_or_default().to_string(),
    };
    if !matches!(policy.as_str(), "DISABLED" | "ENABLED" | "FORCED") {
        return Err(Refusal::new(format!(
            "invalid parameters of the request, ex: SqlRowStatsJob::str2policy: '{policy}' is not \
             a valid policy."
        )));
    }
    let deploy = p.body.get("row_counters_deploy_at_qserv").is_some_and(|v| {
        v.as_i64()
            .map_or_else(|| v.as_str() == Some("1"), |n| n != 0)
    });
    if deploy && policy != "ENABLED" {
        return Err(Refusal::new(
            "invalid parameters of the request, ex: HTTP-PROCESSOR ::_scanTableStats\
             'row_counters_deploy_at_qserv'=1 requires 'row_counters_state_update_policy'=ENABLED",
        ));
    }
    if deploy && p.body.get("overlap_selector").and_then(Value::as_str) == Some("OVERLAP") {
        return Err(Refusal::new(
            "invalid parameters of the request, ex: HTTP-PROCESSOR ::_scanTableStats\
             'row_counters_deploy_at_qserv'=1 requires 'overlap_selector'=CHUNK or \
             'overlap_selector'=CHUNK_AND_OVERLAP",
        ));
    }
    let selector = match p.body.get("overlap_selector").and_then(Value::as_str) {
        None | Some("CHUNK_AND_OVERLAP") => vec![false, true],
        Some("CHUNK") => vec![false],
        Some("OVERLAP") => vec![true],
        Some(other) => {
            return Err(Refusal::new(format!(
                "invalid overlap_selector '{other}': CHUNK_AND_OVERLAP, CHUNK or OVERLAP"
            )));
        }
    };
    let (db, t) = published_table(s, &database, &table)?;
    let mut entries = Vec::new();
    if !t.partitioned {
        // A regular table: chunk 0, counted on one worker's full copy (row-counters.rst).
        let (name, sql) = s
            .worker_sqls()
            .into_iter()
            .next()
            .ok_or_else(|| Refusal::internal("no workers are configured"))?;
        for (trans, rows) in sql
            .rows_by_transaction(&database, &t.name)
            .await
            .map_err(|e| Refusal::internal(format!("{name}: {e}")))?
        {
            entries.push(json!({
                "transaction_id": trans, "chunk": 0, "is_overlap": 0,
                "num_rows": rows, "update_time": now_ms(),
            }));
        }
    }
    for (&chunk, worker) in db.chunks.iter().filter(|_| t.partitioned) {
        let sql = s
            .worker_sql(worker)
            .ok_or_else(|| Refusal::internal(format!("worker {worker} is gone")))?;
        for &overlap in &selector {
            let name = chunk_table(&t.name, chunk, overlap);
            for (trans, rows) in sql
                .rows_by_transaction(&database, &name)
                .await
                .map_err(Refusal::internal)?
            {
                entries.push(json!({
                    "transaction_id": trans, "chunk": chunk, "is_overlap": u8::from(overlap),
                    "num_rows": rows, "update_time": now_ms(),
                }));
            }
        }
    }
    let mut cat = s.catalog();
    if let Some(db) = cat.dbs.get_mut(&database) {
        db.counters.insert(t.name.clone(), entries);
    }
    Ok(json!({}))
}

pub(super) fn row_counters(s: &Shared, database: &str, table: &str) -> Outcome {
    let (db, t) = published_table(s, database, table)?;
    Ok(json!({
        "database": database, "table": t.name,
        "entries": db.counters.get(&t.name).cloned().unwrap_or_default(),
    }))
}
