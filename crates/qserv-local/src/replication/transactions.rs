//! Super-transactions and chunk allocation: `POST|GET /ingest/trans`,
//! `GET|PUT /ingest/trans/:id`, `POST /ingest/chunk` (`controller/trans-management.rst`,
//! `controller/table-location.rst`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal};
use super::state::{Catalog, Db, Shared, TableMeta, Trans, now_ms, unknown_db};
use super::tables::{chunk_table, create_chunk_table, drop_partition};
use qserv_operator::partition::Chunker;

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

pub(super) fn start_transaction(s: &Shared, p: &Params) -> Outcome {
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

pub(super) fn list_transactions(s: &Shared, p: &Params) -> Outcome {
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

pub(super) fn transaction_status(s: &Shared, id: &str, p: &Params) -> Outcome {
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

pub(super) async fn end_transaction(s: &Shared, id: &str, p: &Params) -> Outcome {
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

/// The database a location request is about: its `transaction_id` (which must be `STARTED`)
/// or its `database` (table-location.rst accepts either).
fn located_database(cat: &Catalog, p: &Params) -> Result<String, Refusal> {
    if p.body.contains_key("transaction_id") {
        let id = p.uint("transaction_id")? as u32;
        let t = cat.trans.get(&id).ok_or_else(|| unknown_trans(id))?;
        if t.state != "STARTED" {
            return Err(Refusal::new(format!(
                "transaction id={id} is not in the STARTED state (it is {})",
                t.state
            )));
        }
        Ok(t.database.clone())
    } else {
        p.string("database")
    }
}

/// A worker's connection parameters as the location services return them.
fn location_json(name: &str, http_port: u16) -> Value {
    json!({
        "worker": name, "host": "127.0.0.1", "host_name": "localhost", "port": 0,
        "http_host": "127.0.0.1", "http_host_name": "localhost", "http_port": http_port,
    })
}

/// `GET /ingest/regular`: every worker, since regular tables are fully replicated.
pub(super) fn locate_regular(s: &Shared, p: &Params) -> Outcome {
    {
        let cat = s.catalog();
        let database = located_database(&cat, p)?;
        let db = cat
            .dbs
            .get(&database)
            .ok_or_else(|| unknown_db(&database))?;
        if db.published {
            return Err(Refusal::new(format!(
                "database '{database}' is published: no regular tables can be ingested"
            )));
        }
    }
    let locations: Vec<Value> = s
        .workers()
        .iter()
        .map(|w| location_json(&w.name, w.http_port))
        .collect();
    Ok(json!({ "locations": locations }))
}

pub(super) async fn allocate_chunk(s: &Shared, p: &Params) -> Outcome {
    let chunk = p.uint("chunk")? as u32;
    let (database, worker, new_tables) = {
        let mut cat = s.catalog();
        let database = located_database(&cat, p)?;
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
    Ok(json!({ "location": location_json(&worker, port) }))
}
