//! Databases and tables: `POST /ingest/database`, `POST /ingest/table`,
//! `DELETE /ingest/database/:database` (`controller/db-table-management.rst`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal};
use super::state::{Db, Shared, TableMeta, db_json, unknown_db};
use super::tables::{DUMMY_CHUNK, chunk_table, create_chunk_table, quote};
use qserv_operator::partition::Chunker;
use qserv_operator::qserv::replication::Column;

pub(super) async fn register_database(s: &Shared, p: &Params) -> Outcome {
    let name = p.string("database")?;
    let stripes = p.uint("num_stripes")? as u32;
    let sub_stripes = p.uint("num_sub_stripes")? as u32;
    let overlap = p.number("overlap")?;
    // Only tables and columns have the reserved prefix (db-table-management.rst, "Notes on
    // the table names"): Qserv's own integration tests ingest `qservTest_case01_qserv`.
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
    Ok(())
}

/// Checks of `POST /ingest/table` (db-table-management.rst, "Requirements for the table
/// schema").
pub(super) async fn register_table(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let name = p.string("table")?;
    let partitioned = p.uint("is_partitioned")? != 0;
    valid_identifier(&name, "table")?;
    if name.to_ascii_lowercase().starts_with("qserv") {
        return Err(Refusal::new(format!(
            "invalid table name '{name}': the prefix 'qserv' is reserved"
        )));
    }
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

pub(super) async fn delete_database(s: &Shared, database: &str, is_admin: bool) -> Outcome {
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
