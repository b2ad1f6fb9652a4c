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

/// `POST /ingest/trans` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:247-331`).
pub(super) fn start_transaction(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let fail = s.take_transaction_fault(true);
    let mut cat = s.catalog();
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| unknown_db(&database))?;
    if db.published {
        return Err(Refusal::new("the database is already published"));
    }
    let db = db.clone();
    let id = cat.next_trans;
    cat.next_trans += 1;
    // An injected failure: the transaction exists, `START_FAILED` (`:320-329`).
    let t = Trans {
        id,
        database,
        state: if fail { "START_FAILED" } else { "STARTED" },
        begin_time: now_ms(),
        end_time: 0,
        loaded: BTreeMap::new(),
        in_flight: 0,
        ending: false,
    };
    let out = transactions_response(&db, vec![trans_json(&t, false)]);
    cat.trans.insert(id, t);
    if fail {
        return Err(Refusal::new(
            "operation failed due to: injected failure adding the director index partition",
        ));
    }
    Ok(out)
}

/// `TransactionInfo::stateTransitionIsAllowed` towards `IS_FINISHING` (commit) or
/// `IS_ABORTING` (abort) (`Q@2026.3.3-rc1:src/replica/services/DatabaseServices.cc:184-203`).
fn may_end(state: &str, abort: bool) -> bool {
    match state {
        "STARTED" => true,
        "IS_STARTING" | "IS_FINISHING" | "START_FAILED" | "FINISH_FAILED" | "ABORT_FAILED" => abort,
        _ => false,
    }
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
    // One end at a time per transaction (`HttpIngestTransModule.cc:348-354`): a second one
    // waits, then sees the state the first left.
    let mut waited = 0;
    let database = loop {
        let started = {
            let mut cat = s.catalog();
            let t = cat.trans.get_mut(&id).ok_or_else(|| unknown_trans(id))?;
            if t.ending && waited < 1200 {
                None
            } else {
                // `HttpIngestTransModule.cc:358-366`.
                if !may_end(t.state, abort) {
                    return Err(Refusal::new(format!(
                        "transaction id={id} can't be ended at this time because of state={}.",
                        t.state
                    )));
                }
                t.state = if abort { "IS_ABORTING" } else { "IS_FINISHING" };
                t.ending = true;
                Some(t.database.clone())
            }
        };
        match started {
            Some(database) => break database,
            None => {
                waited += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
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
    } else if s.take_transaction_fault(false) {
        Err("injected failure building the director index".to_string())
    } else {
        Ok(())
    };
    let mut cat = s.catalog();
    let t = cat.trans.get_mut(&id).ok_or_else(|| unknown_trans(id))?;
    t.end_time = now_ms();
    t.ending = false;
    // A failure leaves `ABORT_FAILED` or `FINISH_FAILED` (`HttpIngestTransModule.cc:497-503`).
    t.state = match (&result, abort) {
        (Ok(()), true) => "ABORTED",
        (Ok(()), false) => "FINISHED",
        (Err(_), true) => "ABORT_FAILED",
        (Err(_), false) => "FINISH_FAILED",
    };
    if abort && result.is_ok() {
        t.loaded.clear();
    }
    let t = t.clone();
    result.map_err(|e| Refusal::new(format!("operation failed due to: {e}")))?;
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

/// The unpublished database a location request is about: its `database`, else the database
/// of its `transaction_id` in any state (`HttpModule::getDatabaseInfo`,
/// `Q@2026.3.3-rc1:src/replica/contr/HttpModule.cc:115-141`).
fn located_database<'a>(cat: &'a Catalog, p: &Params) -> Result<&'a Db, Refusal> {
    let database = if p.body.contains_key("database") {
        p.string("database")?
    } else if p.body.contains_key("transaction_id") {
        let id = p.uint("transaction_id")? as u32;
        cat.trans
            .get(&id)
            .ok_or_else(|| unknown_trans(id))?
            .database
            .clone()
    } else {
        return Err(Refusal::new(
            // Two spaces before 'transaction_id', as the real text has (HttpModule.cc:124-126).
            "invalid parameters of the request, ex: this service expects either 'database' or  \
             'transaction_id' to be provided to define a scope of the request.",
        ));
    };
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| unknown_db(&database))?;
    if db.published {
        return Err(Refusal::new(format!(
            "database '{database} is already published."
        )));
    }
    Ok(db)
}

/// A worker's connection parameters as the location services return them.
fn location_json(name: &str, http_port: u16) -> Value {
    json!({
        "worker": name, "host": "127.0.0.1", "host_name": "localhost", "port": 0,
        "http_host": "127.0.0.1", "http_host_name": "localhost", "http_port": http_port,
    })
}

/// `GET /ingest/regular`: every worker, since regular tables are fully replicated
/// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:1005-1028`).
pub(super) fn locate_regular(s: &Shared, p: &Params) -> Outcome {
    located_database(&s.catalog(), p)?;
    let locations: Vec<Value> = s
        .workers()
        .iter()
        .filter(|w| w.configured)
        .map(|w| location_json(&w.name, w.http_port))
        .collect();
    Ok(json!({ "locations": locations }))
}

/// Where a new chunk goes (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestChunksModule.cc:204-241`):
/// among the workers holding the same chunk of a database of the family (co-location), else
/// among all workers, the one with the fewest chunks of any database (the first such by name).
fn place_chunk(cat: &Catalog, db: &Db, chunk: u32, workers: &[String]) -> Option<String> {
    let colocated: Vec<&String> = workers
        .iter()
        .filter(|w| {
            cat.dbs
                .values()
                .any(|d| d.family == db.family && d.chunks.get(&chunk) == Some(*w))
        })
        .collect();
    let candidates: Vec<&String> = if colocated.is_empty() {
        workers.iter().collect()
    } else {
        colocated
    };
    let load = |w: &str| -> usize {
        cat.dbs
            .values()
            .map(|d| d.chunks.values().filter(|c| *c == w).count())
            .sum()
    };
    let mut best: Option<(&String, usize)> = None;
    for w in candidates {
        let n = load(w);
        if best.is_none_or(|(_, b)| n < b) {
            best = Some((w, n));
        }
    }
    best.map(|(w, _)| w.clone())
}

/// `POST /ingest/chunk` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestChunksModule.cc:157-268`).
pub(super) async fn allocate_chunk(s: &Shared, p: &Params) -> Outcome {
    let chunk = p.uint("chunk")? as u32;
    let (database, worker, new_tables) = {
        let mut cat = s.catalog();
        let db = located_database(&cat, p)?;
        let database = db.name.clone();
        let chunker = Chunker::new(db.stripes, db.sub_stripes, db.overlap)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        // `HttpIngestChunksModule.cc:170-174`.
        if chunk > i32::MAX as u32 || !chunker.is_valid_chunk(chunk as i32) {
            return Err(Refusal::new("this chunk number is not valid"));
        }
        // Every enabled worker of the configuration, a departed one too: Qserv's
        // `config->workers()` knows nothing of pods (`HttpIngestChunksModule.cc:240`).
        let mut names: Vec<String> = s
            .workers()
            .iter()
            .filter(|w| w.configured)
            .map(|w| w.name.clone())
            .collect();
        // The configuration lists workers by name.
        names.sort();
        let partitioned: Vec<TableMeta> = db
            .tables
            .iter()
            .filter(|t| t.partitioned)
            .cloned()
            .collect();
        let worker = match db.chunks.get(&chunk) {
            Some(w) => w.clone(),
            None => {
                let w = place_chunk(&cat, db, chunk, &names)
                    .ok_or_else(|| Refusal::new("no suitable worker found"))?;
                let db = cat.dbs.get_mut(&database).expect("located above");
                db.chunks.insert(chunk, w.clone());
                w
            }
        };
        (database, worker, partitioned)
    };
    // The stand-in makes the chunk's tables when it is allocated. Qserv's allocation touches
    // no worker (`HttpIngestChunksModule.cc:242`, a replica record), so a departed worker is
    // still answered with its location: the contribution is what fails.
    let Some(sql) = s.worker_sql(&worker) else {
        return Ok(json!({ "location": location_json(&worker, last_port(s, &worker)) }));
    };
    let _ddl = s.ddl.lock().await;
    for t in &new_tables {
        for overlap in [false, true] {
            let name = chunk_table(&t.name, chunk, overlap);
            let key = (worker.clone(), database.clone(), name.clone());
            if s.catalog().created.contains(&key) {
                continue;
            }
            sql.run(&[create_chunk_table(&database, &name, &t.schema, &t.charset)])
                .await
                .map_err(Refusal::internal)?;
            s.catalog().created.insert(key);
        }
    }
    Ok(json!({ "location": location_json(&worker, last_port(s, &worker)) }))
}

/// The ingest port a worker was last seen at (nothing may listen there any more).
fn last_port(s: &Shared, worker: &str) -> u16 {
    s.workers()
        .iter()
        .find(|w| w.name == worker)
        .map(|w| w.http_port)
        .unwrap_or(0)
}
