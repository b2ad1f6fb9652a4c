//! The controller's services: databases, tables, transactions, chunk allocation, publishing,
//! director index, row counters (lsst/qserv `doc/ingest/api/reference/rest/controller/*.rst`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal, respond};
use super::tables::{
    self, DUMMY_CHUNK, chunk_table, create_chunk_table, drop_partition, literal, qualified, quote,
};
use super::{Db, Shared, TableMeta, Trans, now_ms};
use crate::load::replication::Column;
use crate::partition::Chunker;

const MAX_BODY: usize = 16 << 20;

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Params::parse_query(req.uri().query());
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(respond(Err(Refusal::new(format!("request body: {e}"))))),
    };
    let outcome = async {
        let body = if method == Method::GET {
            Default::default()
        } else {
            Params::parse_json_body(&body)?
        };
        let params = Params {
            body,
            query,
            is_get: method == Method::GET,
        };
        route(&shared, &method, &path, &params).await
    }
    .await;
    if let Err(r) = &outcome {
        tracing::debug!(%method, path, error = r.error, "replication stand-in refused");
    }
    Ok(respond(outcome))
}

async fn route(s: &Shared, method: &Method, path: &str, p: &Params) -> Outcome {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Authorization first, then the version, as `Module::execute` does.
    let is_admin = if *method == Method::GET {
        false
    } else {
        p.authorize(&s.auth_key, &s.admin_auth_key)?
    };
    let known = matches!(
        (method.as_str(), segs.as_slice()),
        ("GET", ["meta", "version"])
            | ("GET", ["replication", "config"])
            | ("POST", ["ingest", "database"])
            | ("PUT" | "DELETE", ["ingest", "database", _])
            | ("POST", ["ingest", "table"])
            | ("POST" | "GET", ["ingest", "trans"])
            | ("GET" | "PUT", ["ingest", "trans", _])
            | ("POST", ["ingest", "chunk"])
            | ("POST", ["ingest", "index", "secondary"])
            | ("POST", ["ingest", "table-stats"])
            | ("GET", ["ingest", "table-stats", _, _])
    );
    if !known {
        return Err(Refusal::not_found(path));
    }
    p.check_version()?;
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["meta", "version"]) => Ok(json!({
            "kind": "replication-controller", "name": "http", "id": 1,
            "instance_id": s.instance_id, "version": super::MAX_VERSION,
            "database_schema_version": 14,
        })),
        ("GET", ["replication", "config"]) => Ok(config(s)),
        ("POST", ["ingest", "database"]) => register_database(s, p).await,
        ("PUT", ["ingest", "database", db]) => publish(s, db).await,
        ("DELETE", ["ingest", "database", db]) => delete_database(s, db, is_admin).await,
        ("POST", ["ingest", "table"]) => register_table(s, p).await,
        ("POST", ["ingest", "trans"]) => start_transaction(s, p),
        ("GET", ["ingest", "trans"]) => list_transactions(s, p),
        ("GET", ["ingest", "trans", id]) => transaction_status(s, id, p),
        ("PUT", ["ingest", "trans", id]) => end_transaction(s, id, p).await,
        ("POST", ["ingest", "chunk"]) => allocate_chunk(s, p).await,
        ("POST", ["ingest", "index", "secondary"]) => director_index(s, p).await,
        ("POST", ["ingest", "table-stats"]) => collect_row_counters(s, p).await,
        ("GET", ["ingest", "table-stats", db, table]) => row_counters(s, db, table),
        _ => Err(Refusal::not_found(path)),
    }
}

fn db_json(db: &Db) -> Value {
    json!({
        "database": db.name, "is_published": u8::from(db.published),
        "num_stripes": db.stripes, "num_sub_stripes": db.sub_stripes, "overlap": db.overlap,
        "tables": db.tables.iter().map(|t| json!({
            "name": t.name, "database": db.name, "is_partitioned": u8::from(t.partitioned),
            "is_director": u8::from(t.is_director()), "director_table": t.director_table,
            "director_key": t.director_key, "latitude_key": t.latitude_key,
            "longitude_key": t.longitude_key,
            "columns": std::iter::once(Column::new("qserv_trans_id", "INT UNSIGNED NOT NULL"))
                .chain(t.schema.iter().cloned()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn config(s: &Shared) -> Value {
    let cat = s.catalog();
    json!({"config": {"databases": cat.dbs.values().map(db_json).collect::<Vec<_>>()}})
}

fn unknown_db(name: &str) -> Refusal {
    Refusal::new(format!("unknown database '{name}'"))
}

async fn register_database(s: &Shared, p: &Params) -> Outcome {
    let name = p.string("database")?;
    let stripes = p.uint("num_stripes")? as u32;
    let sub_stripes = p.uint("num_sub_stripes")? as u32;
    let overlap = p.number("overlap")?;
    valid_identifier(&name, "database")?;
    Chunker::new(stripes, sub_stripes, overlap)
        .map_err(|e| Refusal::new(format!("invalid partitioning of database '{name}': {e}")))?;
    if s.catalog().dbs.contains_key(&name) {
        return Err(Refusal::new(format!("database '{name}' already exists")));
    }
    for (_, sql) in s.worker_sqls() {
        sql.run(&[format!("CREATE DATABASE IF NOT EXISTS {}", quote(&name))])
            .await
            .map_err(Refusal::internal)?;
    }
    let db = Db {
        name: name.clone(),
        stripes,
        sub_stripes,
        overlap,
        published: false,
        tables: Vec::new(),
        chunks: BTreeMap::new(),
        counters: BTreeMap::new(),
    };
    let out = json!({"database": db_json(&db)});
    let mut cat = s.catalog();
    if cat.dbs.contains_key(&name) {
        return Err(Refusal::new(format!("database '{name}' already exists")));
    }
    cat.dbs.insert(name, db);
    Ok(out)
}

fn valid_identifier(name: &str, what: &str) -> Result<(), Refusal> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(Refusal::new(format!(
            "invalid {what} name '{name}': 1-64 characters among letters, digits and '_'"
        )));
    }
    if name.to_ascii_lowercase().starts_with("qserv") {
        return Err(Refusal::new(format!(
            "invalid {what} name '{name}': the prefix 'qserv' is reserved"
        )));
    }
    Ok(())
}

/// Checks of `POST /ingest/table` (db-table-management.rst, "Requirements for the table
/// schema").
async fn register_table(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let name = p.string("table")?;
    let partitioned = p.uint("is_partitioned")? != 0;
    valid_identifier(&name, "table")?;
    let schema: Vec<Column> = match p.body.get("schema") {
        Some(v @ Value::Array(_)) => serde_json::from_value(v.clone()).map_err(|e| {
            Refusal::new(format!(
                "invalid parameters of the request, ex: schema: each column needs 'name' and 'type': {e}"
            ))
        })?,
        _ => return Err(Refusal::new("invalid parameters of the request, ex: required parameter 'schema' is missing or not an array")),
    };
    if schema.is_empty() {
        return Err(Refusal::new(format!(
            "table '{name}': the schema has no columns"
        )));
    }
    for c in &schema {
        if c.name.to_ascii_lowercase().starts_with("qserv") {
            return Err(Refusal::new(format!(
                "table '{name}': column '{}' uses the reserved prefix 'qserv'",
                c.name
            )));
        }
    }
    let has = |col: &str| schema.iter().any(|c| c.name == col);
    let mut meta = TableMeta {
        name: name.clone(),
        partitioned,
        director_table: p.opt_string("director_table"),
        director_key: p.opt_string("director_key"),
        latitude_key: p.opt_string("latitude_key"),
        longitude_key: p.opt_string("longitude_key"),
        schema: schema.clone(),
    };
    {
        let cat = s.catalog();
        let db = cat
            .dbs
            .get(&database)
            .ok_or_else(|| unknown_db(&database))?;
        if db.published {
            return Err(Refusal::new(format!(
                "database '{database}' is published: no tables can be added"
            )));
        }
        if db.table(&name).is_some() {
            return Err(Refusal::new(format!(
                "table '{name}' already exists in database '{database}'"
            )));
        }
        if partitioned {
            for col in ["chunkId", "subChunkId"] {
                if !has(col) {
                    return Err(Refusal::new(format!(
                        "partitioned table '{name}': the schema has no column '{col}'"
                    )));
                }
            }
            if meta.director_key.is_empty() || !has(&meta.director_key) {
                return Err(Refusal::new(format!(
                    "partitioned table '{name}': director_key '{}' is empty or not a column of the schema",
                    meta.director_key
                )));
            }
            let (lat, lon) = (&meta.latitude_key, &meta.longitude_key);
            if lat.is_empty() != lon.is_empty() {
                return Err(Refusal::new(format!(
                    "table '{name}': latitude_key and longitude_key must be both empty or both set"
                )));
            }
            for k in [lat, lon] {
                if !k.is_empty() && !has(k) {
                    return Err(Refusal::new(format!(
                        "table '{name}': column '{k}' is not in the schema"
                    )));
                }
            }
            if meta.director_table.is_empty() {
                if lat.is_empty() {
                    return Err(Refusal::new(format!(
                        "director table '{name}' requires latitude_key and longitude_key"
                    )));
                }
            } else {
                match db.table(&meta.director_table) {
                    Some(d) if d.is_director() => meta.director_table = d.name.clone(),
                    Some(_) => {
                        return Err(Refusal::new(format!(
                            "table '{}' named as the director of '{name}' is not a director table",
                            meta.director_table
                        )));
                    }
                    None => {
                        return Err(Refusal::new(format!(
                            "the director table '{}' of '{name}' is not registered in database \
                             '{database}': register the director first",
                            meta.director_table
                        )));
                    }
                }
            }
        }
    }
    // Qserv creates the dummy chunk of a partitioned table on every worker at registration.
    let ddl: Vec<(String, String)> = if partitioned {
        vec![
            (chunk_table(&name, DUMMY_CHUNK, false), name.clone()),
            (chunk_table(&name, DUMMY_CHUNK, true), name.clone()),
        ]
    } else {
        vec![(name.clone(), name.clone())]
    };
    let _ddl = s.ddl.lock().await;
    for (worker, sql) in s.worker_sqls() {
        let statements: Vec<String> = ddl
            .iter()
            .map(|(t, _)| create_chunk_table(&database, t, &schema))
            .collect();
        sql.run(&statements).await.map_err(Refusal::internal)?;
        let mut cat = s.catalog();
        for (t, _) in &ddl {
            cat.created
                .insert((worker.clone(), database.clone(), t.clone()));
        }
    }
    let mut cat = s.catalog();
    let db = cat
        .dbs
        .get_mut(&database)
        .ok_or_else(|| unknown_db(&database))?;
    if db.table(&name).is_some() {
        return Err(Refusal::new(format!(
            "table '{name}' already exists in database '{database}'"
        )));
    }
    db.tables.push(meta);
    Ok(json!({"database": db_json(db)}))
}

fn trans_json(t: &Trans, contrib: bool) -> Value {
    let mut v = json!({
        "id": t.id, "database": t.database, "state": t.state,
        "begin_time": t.begin_time, "start_time": t.begin_time, "end_time": t.end_time,
        "transition_time": t.end_time, "context": {}, "log": [],
    });
    if contrib {
        let (mut rows, mut tables) = (0, serde_json::Map::new());
        for (name, &(r, o)) in &t.loaded {
            rows += r + o;
            tables.insert(
                name.clone(),
                json!({"num_rows": r, "num_rows_loaded": r,
                       "overlap": {"num_rows": o, "num_rows_loaded": o}}),
            );
        }
        v["contrib"] = json!({"summary": {"num_rows": rows, "num_rows_loaded": rows,
                                          "table": tables}, "files": []});
    }
    v
}

fn transactions_response(db: &Db, list: Vec<Value>) -> Value {
    json!({"databases": {db.name.clone(): {
        "is_published": u8::from(db.published), "num_chunks": db.chunks.len(),
        "transactions": list,
    }}})
}

fn start_transaction(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let mut cat = s.catalog();
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| unknown_db(&database))?;
    if db.published {
        return Err(Refusal::new(format!(
            "database '{database}' is already published"
        )));
    }
    let db = db.clone();
    let id = cat.next_trans;
    cat.next_trans += 1;
    let t = Trans {
        id,
        database,
        state: "STARTED",
        begin_time: now_ms(),
        end_time: 0,
        loaded: BTreeMap::new(),
        in_flight: 0,
    };
    let out = transactions_response(&db, vec![trans_json(&t, false)]);
    cat.trans.insert(id, t);
    Ok(out)
}

fn list_transactions(s: &Shared, p: &Params) -> Outcome {
    let database =
        p.query.get("database").cloned().ok_or_else(|| {
            Refusal::new("this stand-in lists transactions of one 'database' only")
        })?;
    let contrib = p.query.get("contrib").is_some_and(|v| v != "0");
    let cat = s.catalog();
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| unknown_db(&database))?;
    let list = cat
        .trans
        .values()
        .filter(|t| t.database == database)
        .map(|t| trans_json(t, contrib))
        .collect();
    Ok(transactions_response(db, list))
}

fn parse_id(id: &str) -> Result<u32, Refusal> {
    id.parse()
        .map_err(|_| Refusal::new(format!("invalid transaction identifier '{id}'")))
}

fn unknown_trans(id: u32) -> Refusal {
    Refusal::new(format!("unknown transaction id={id}"))
}

fn transaction_status(s: &Shared, id: &str, p: &Params) -> Outcome {
    let id = parse_id(id)?;
    let contrib = p.query.get("contrib").is_some_and(|v| v != "0");
    let cat = s.catalog();
    let t = cat.trans.get(&id).ok_or_else(|| unknown_trans(id))?;
    let db = cat
        .dbs
        .get(&t.database)
        .ok_or_else(|| unknown_db(&t.database))?;
    Ok(transactions_response(db, vec![trans_json(t, contrib)]))
}

async fn end_transaction(s: &Shared, id: &str, p: &Params) -> Outcome {
    let id = parse_id(id)?;
    let abort = match p.query.get("abort").map(String::as_str) {
        Some("0") => false,
        Some(v) if v.parse::<i64>().is_ok() => true,
        _ => {
            return Err(Refusal::new(
                "invalid parameters of the request, ex: required query parameter 'abort' (0 or 1) is missing",
            ));
        }
    };
    let database = {
        let mut cat = s.catalog();
        let t = cat.trans.get_mut(&id).ok_or_else(|| unknown_trans(id))?;
        if t.state != "STARTED" {
            return Err(Refusal::new(format!(
                "transaction id={id} is not in the STARTED state (it is {})",
                t.state
            )));
        }
        t.state = if abort { "IS_ABORTING" } else { "IS_FINISHING" };
        t.database.clone()
    };
    // Contributions already being loaded finish first (new ones are refused by now).
    for _ in 0..1200 {
        if s.catalog().trans.get(&id).is_none_or(|t| t.in_flight == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = if abort {
        drop_transaction_partitions(s, &database, id).await
    } else {
        Ok(())
    };
    let mut cat = s.catalog();
    let t = cat.trans.get_mut(&id).ok_or_else(|| unknown_trans(id))?;
    t.end_time = now_ms();
    t.state = match (&result, abort) {
        (Ok(()), true) => "ABORTED",
        (Ok(()), false) => "FINISHED",
        (Err(_), _) => "ABORT_FAILED",
    };
    if abort && result.is_ok() {
        t.loaded.clear();
    }
    let t = t.clone();
    result.map_err(Refusal::internal)?;
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| unknown_db(&database))?;
    Ok(transactions_response(db, vec![trans_json(&t, false)]))
}

/// Abort: the transaction's partition goes from every table that has one.
async fn drop_transaction_partitions(s: &Shared, database: &str, id: u32) -> Result<(), String> {
    let _ddl = s.ddl.lock().await;
    let parts: Vec<(String, String)> = s
        .catalog()
        .partitions
        .iter()
        .filter(|(_, db, _, t)| db == database && *t == id)
        .map(|(w, _, table, _)| (w.clone(), table.clone()))
        .collect();
    for (worker, table) in parts {
        let sql = s
            .worker_sql(&worker)
            .ok_or_else(|| format!("worker {worker} is gone"))?;
        sql.run(&[drop_partition(database, &table, id)]).await?;
        s.catalog()
            .partitions
            .remove(&(worker, database.to_string(), table, id));
    }
    Ok(())
}

async fn allocate_chunk(s: &Shared, p: &Params) -> Outcome {
    let chunk = p.uint("chunk")? as u32;
    let (database, worker, new_tables) = {
        let mut cat = s.catalog();
        let database = if p.body.contains_key("transaction_id") {
            let id = p.uint("transaction_id")? as u32;
            let t = cat.trans.get(&id).ok_or_else(|| unknown_trans(id))?;
            if t.state != "STARTED" {
                return Err(Refusal::new(format!(
                    "transaction id={id} is not in the STARTED state (it is {})",
                    t.state
                )));
            }
            t.database.clone()
        } else {
            p.string("database")?
        };
        let db = cat
            .dbs
            .get(&database)
            .ok_or_else(|| unknown_db(&database))?;
        if db.published {
            return Err(Refusal::new(format!(
                "database '{database}' is published: no chunks can be added"
            )));
        }
        let chunker = Chunker::new(db.stripes, db.sub_stripes, db.overlap)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        if chunk > i32::MAX as u32 || !chunker.is_valid_chunk(chunk as i32) {
            return Err(Refusal::new(format!(
                "chunk {chunk} is not a valid chunk of database '{database}' ({} stripes, {} sub-stripes)",
                db.stripes, db.sub_stripes
            )));
        }
        let names: Vec<String> = s.workers().iter().map(|w| w.name.clone()).collect();
        if names.is_empty() {
            return Err(Refusal::internal("no workers are configured"));
        }
        let partitioned: Vec<TableMeta> = db
            .tables
            .iter()
            .filter(|t| t.partitioned)
            .cloned()
            .collect();
        let db = cat.dbs.get_mut(&database).expect("checked above");
        let worker = db
            .chunks
            .entry(chunk)
            .or_insert_with(|| names[chunk as usize % names.len()].clone())
            .clone();
        (database, worker, partitioned)
    };
    // The chunk's tables appear on its worker when it is allocated, as in Qserv.
    let sql = s
        .worker_sql(&worker)
        .ok_or_else(|| Refusal::internal(format!("worker {worker} is gone")))?;
    let _ddl = s.ddl.lock().await;
    for t in &new_tables {
        for overlap in [false, true] {
            let name = chunk_table(&t.name, chunk, overlap);
            let key = (worker.clone(), database.clone(), name.clone());
            if s.catalog().created.contains(&key) {
                continue;
            }
            sql.run(&[create_chunk_table(&database, &name, &t.schema)])
                .await
                .map_err(Refusal::internal)?;
            s.catalog().created.insert(key);
        }
    }
    let port = s
        .workers()
        .iter()
        .find(|w| w.name == worker)
        .map(|w| w.http_port)
        .unwrap_or(0);
    Ok(json!({"location": {
        "worker": worker, "host": "127.0.0.1", "host_name": "localhost", "port": 0,
        "http_host": "127.0.0.1", "http_host_name": "localhost", "http_port": port,
    }}))
}

async fn publish(s: &Shared, database: &str) -> Outcome {
    let db = {
        let cat = s.catalog();
        let db = cat.dbs.get(database).ok_or_else(|| unknown_db(database))?;
        if db.published {
            return Err(Refusal::new(format!(
                "database '{database}' is already published"
            )));
        }
        let open: Vec<u32> = cat
            .trans
            .values()
            .filter(|t| t.database == database && !matches!(t.state, "FINISHED" | "ABORTED"))
            .map(|t| t.id)
            .collect();
        if !open.is_empty() {
            return Err(Refusal::new(format!(
                "database '{database}' can't be published: transactions {open:?} are not \
                 committed or aborted"
            ))
            .with_ext(json!({"open_transactions": open})));
        }
        db.clone()
    };
    let partitioned: Vec<&TableMeta> = db.tables.iter().filter(|t| t.partitioned).collect();
    let workers: Vec<(String, String, Arc<tables::Sql>)> = s
        .workers()
        .iter()
        .map(|w| (w.name.clone(), w.mysql_url.clone(), w.sql.clone()))
        .collect();
    // Workers: tables lose their transaction partitions; a view per table over its chunks.
    for (name, _, sql) in &workers {
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
            chunks.extend(
                db.chunks
                    .iter()
                    .filter(|(_, w)| *w == name)
                    .map(|(c, _)| *c),
            );
            statements.push(tables::worker_view(database, &t.name, &chunks));
        }
        sql.run(&statements).await.map_err(Refusal::internal)?;
    }
    // Czar: one FederatedX table per worker and table, a UNION ALL view on top.
    let mut statements = vec![format!("CREATE DATABASE IF NOT EXISTS {}", quote(database))];
    for t in &partitioned {
        let columns: Vec<String> =
            std::iter::once("`qserv_trans_id` INT UNSIGNED NOT NULL".to_string())
                .chain(
                    t.schema
                        .iter()
                        .map(|c| format!("{} {}", quote(&c.name), c.sql_type)),
                )
                .collect();
        let mut parts = Vec::new();
        for (i, (_, url, _)) in workers.iter().enumerate() {
            let local = format!("{}__w{i}", t.name);
            statements.push(format!(
                "DROP TABLE IF EXISTS {}",
                qualified(database, &local)
            ));
            statements.push(format!(
                "CREATE TABLE {} ({}) ENGINE=FEDERATED CONNECTION={}",
                qualified(database, &local),
                columns.join(", "),
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
    let resolved = crate::local::addresses::resolve_url(mysql_url);
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

async fn delete_database(s: &Shared, database: &str, is_admin: bool) -> Outcome {
    {
        let cat = s.catalog();
        let db = cat.dbs.get(database).ok_or_else(|| unknown_db(database))?;
        if db.published && !is_admin {
            return Err(Refusal::new(format!(
                "database '{database}' is published: deleting it requires 'admin_auth_key'"
            )));
        }
    }
    let drop = format!("DROP DATABASE IF EXISTS {}", quote(database));
    for (_, sql) in s.worker_sqls() {
        sql.run(std::slice::from_ref(&drop))
            .await
            .map_err(Refusal::internal)?;
    }
    s.czar.run(&[drop]).await.map_err(Refusal::internal)?;
    let mut cat = s.catalog();
    cat.dbs.remove(database);
    cat.trans.retain(|_, t| t.database != database);
    cat.created.retain(|(_, db, _)| db != database);
    cat.partitions.retain(|(_, db, _, _)| db != database);
    Ok(json!({}))
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
async fn director_index(s: &Shared, p: &Params) -> Outcome {
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
    let index = qualified("qservMeta", &format!("{database}__{}", t.name));
    let key = quote(&t.director_key);
    s.czar
        .run(&[
            "CREATE DATABASE IF NOT EXISTS `qservMeta`".to_string(),
            format!("DROP TABLE IF EXISTS {index}"),
            format!(
                "CREATE TABLE {index} (PRIMARY KEY ({key})) ENGINE=InnoDB \
                 SELECT {key}, `chunkId`, `subChunkId` FROM {}",
                qualified(&database, &t.name)
            ),
        ])
        .await
        .map_err(|e| {
            Refusal::new(format!(
                "failed to build the director index of '{table}': {e}"
            ))
            .with_ext(json!({ table.clone(): {} }))
        })?;
    Ok(json!({}))
}

/// `POST /ingest/table-stats`: rows per (transaction, chunk, overlap), counted on the workers.
async fn collect_row_counters(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let table = p.string("table")?;
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
    for (&chunk, worker) in &db.chunks {
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

fn row_counters(s: &Shared, database: &str, table: &str) -> Outcome {
    let (db, t) = published_table(s, database, table)?;
    Ok(json!({
        "database": database, "table": t.name,
        "entries": db.counters.get(&t.name).cloned().unwrap_or_default(),
    }))
}
