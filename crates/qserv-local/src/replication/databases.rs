//! Databases and tables: `POST /ingest/database`, `POST /ingest/table`,
//! `DELETE /ingest/database/:database` (`controller/db-table-management.rst`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal};
use super::state::{Db, Family, Shared, TableMeta, db_json, unknown_db};
use super::tables::{Charset, DUMMY_CHUNK, chunk_table, create_chunk_table, quote};
use qserv_operator::partition::Chunker;
use qserv_operator::qserv::replication::Column;

/// `POST /ingest/database` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:204-290`).
pub(super) async fn register_database(s: &Shared, p: &Params) -> Outcome {
    let name = p.string("database")?;
    let stripes = p.uint("num_stripes")? as u32;
    let sub_stripes = p.uint("num_sub_stripes")? as u32;
    let overlap = p.number("overlap")?;
    // `HttpIngestModule.cc:227`.
    if overlap < 0.0 {
        return Err(Refusal::new("overlap can't have a negative value"));
    }
    valid_identifier(&name, "database")?;
    Chunker::new(stripes, sub_stripes, overlap)
        .map_err(|e| Refusal::new(format!("invalid partitioning of database '{name}': {e}")))?;
    if s.catalog().dbs.contains_key(&name) {
        return Err(database_exists(&name));
    }
    for (_, sql) in s.worker_sqls() {
        sql.run(&[format!("CREATE DATABASE IF NOT EXISTS {}", quote(&name))])
            .await
            .map_err(Refusal::internal)?;
    }
    let mut cat = s.catalog();
    if cat.dbs.contains_key(&name) {
        return Err(database_exists(&name));
    }
    // The family of these stripes and sub-stripes, or a new one named after them with this
    // overlap: the first database's overlap wins (`HttpIngestModule.cc:229-253`).
    let family = cat
        .families
        .values()
        .find(|f| f.stripes == stripes && f.sub_stripes == sub_stripes)
        .cloned()
        .unwrap_or_else(|| Family {
            name: format!("layout_{stripes}_{sub_stripes}"),
            stripes,
            sub_stripes,
            overlap,
        });
    cat.families.insert(family.name.clone(), family.clone());
    let db = Db {
        name: name.clone(),
        family: family.name,
        stripes,
        sub_stripes,
        overlap: family.overlap,
        published: false,
        tables: Vec::new(),
        chunks: BTreeMap::new(),
        counters: BTreeMap::new(),
    };
    let out = json!({"database": db_json(&db)});
    cat.dbs.insert(name, db);
    Ok(out)
}

/// `Configuration::addDatabase` refuses a known name
/// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:269-273`).
fn database_exists(name: &str) -> Refusal {
    Refusal::new(format!("database '{name}' already exists"))
}

/// Names the stand-in puts into SQL unquoted-safe (stricter than Qserv: see the module's
/// list of differences).
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

/// `DatabaseInfo::validate`'s refusals reach the client as `invalid_argument`
/// (`Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:201-205`, `src/http/Module.cc:48-49`).
fn invalid_table(database: &str, message: &str) -> Refusal {
    Refusal::new(format!(
        "invalid parameters of the request, ex: DatabaseInfo::validate {message} [database={database}]"
    ))
}

/// `POST /ingest/table` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:508-663`) and
/// the table rules of `DatabaseInfo::validate` (`src/replica/config/ConfigDatabase.cc:198-365`).
pub(super) async fn register_table(s: &Shared, p: &Params) -> Outcome {
    let database = p.string("database")?;
    let name = p.string("table")?;
    let partitioned = p.uint("is_partitioned")? != 0;
    valid_identifier(&name, "table")?;
    // Defaults of `HttpIngestModule.cc:536-537`.
    let charset = Charset {
        charset: string_or(p, "charset_name", "latin1"),
        collation: string_or(p, "collation_name", "latin1_general_ci"),
    };
    for v in [&charset.charset, &charset.collation] {
        valid_identifier(v, "character set or collation")?;
    }
    let schema: Vec<Column> = match p.body.get("schema") {
        None | Some(Value::Null) => return Err(Refusal::new("table schema is empty")),
        Some(v @ Value::Array(_)) => serde_json::from_value(v.clone()).map_err(|_| {
            Refusal::new("columns definitions in table schema are not JSON objects")
        })?,
        Some(_) => return Err(Refusal::new("table schema is not defined as an array")),
    };
    let mut meta = TableMeta {
        name: name.clone(),
        partitioned,
        director_table: p.opt_string("director_table"),
        director_key: p.opt_string("director_key"),
        latitude_key: p.opt_string("latitude_key"),
        longitude_key: p.opt_string("longitude_key"),
        schema: schema.clone(),
        charset,
    };
    for c in &schema {
        // Only variable-size types in directors (`HttpIngestModule.cc:106-114,590-596`) and
        // the transaction column (`:597-600`) are refused; no name prefix is.
        let upper = c.sql_type.to_ascii_uppercase();
        if meta.is_director() && ["BLOB", "TEXT"].iter().any(|w| upper.contains(w)) {
            return Err(Refusal::new(format!(
                "the prohibited type '{}' detected in a definition of the column '{}' of the \
                 director table",
                c.sql_type, c.name
            )));
        }
        if c.name == "qserv_trans_id" {
            return Err(Refusal::new(
                "reserved column 'qserv_trans_id' is not allowed",
            ));
        }
    }
    check_table(s, &database, &mut meta)?;
    // Qserv creates the dummy chunk of a partitioned table on every worker at registration.
    let ddl: Vec<String> = if partitioned {
        vec![
            chunk_table(&name, DUMMY_CHUNK, false),
            chunk_table(&name, DUMMY_CHUNK, true),
        ]
    } else {
        vec![name.clone()]
    };
    let _ddl = s.ddl.lock().await;
    for (worker, sql) in s.worker_sqls() {
        let statements: Vec<String> = ddl
            .iter()
            .map(|t| create_chunk_table(&database, t, &schema, &meta.charset))
            .collect();
        sql.run(&statements).await.map_err(Refusal::internal)?;
        let mut cat = s.catalog();
        for t in &ddl {
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
        return Err(Refusal::new("table already exists"));
    }
    db.tables.push(meta);
    Ok(json!({"database": db_json(db)}))
}

fn string_or(p: &Params, key: &str, default: &str) -> String {
    match p.opt_string(key) {
        v if v.is_empty() => default.to_string(),
        v => v,
    }
}

/// The database-dependent rules of `POST /ingest/table`; resolves the director's name.
fn check_table(s: &Shared, database: &str, meta: &mut TableMeta) -> Result<(), Refusal> {
    let cat = s.catalog();
    let db = cat.dbs.get(database).ok_or_else(|| unknown_db(database))?;
    let name = meta.name.clone();
    // `HttpIngestModule.cc:559-560`.
    if db.published {
        return Err(Refusal::new("the database is already published"));
    }
    if db.table(&name).is_some() {
        return Err(Refusal::new("table already exists"));
    }
    let invalid = |m: &str| Err(invalid_table(database, m));
    // `ConfigDatabase.cc:213-219`: `<database>__<table>__rows` must fit in 64 characters.
    if database.len() + name.len() > 56 {
        return invalid("the combined size of the database and table names exceeds 56 characters");
    }
    if !meta.partitioned {
        // `ConfigDatabase.cc:355-363`.
        if !meta.director_table.is_empty() {
            return invalid("fully replicated tables can't depend on director(s)");
        }
        if !meta.director_key.is_empty() {
            return invalid("fully replicated tables can't have the director keys");
        }
        if !meta.latitude_key.is_empty() || !meta.longitude_key.is_empty() {
            return invalid("fully replicated tables can't have spatial coordinate columns");
        }
        return Ok(());
    }
    let mut required: Vec<(&str, String)> = Vec::new();
    if meta.director_key.is_empty() {
        return invalid("the director table definition requires a valid director key");
    }
    required.push((
        "directorTable.primaryKeyColumn()",
        meta.director_key.clone(),
    ));
    let (lat, lon) = (meta.latitude_key.clone(), meta.longitude_key.clone());
    if meta.director_table.is_empty() {
        // A director (`ConfigDatabase.cc:235-256`): positions and `subChunkId`, no `chunkId`.
        if lat.is_empty() || lon.is_empty() {
            return invalid("the director table requires both spatial coordinate columns");
        }
        required.push(("latitudeColName", lat));
        required.push(("longitudeColName", lon));
        required.push(("subChunkIdColName", "subChunkId".into()));
    } else {
        // A dependent table (`ConfigDatabase.cc:303-345`): its director, no sub-chunks.
        match db.table(&meta.director_table) {
            Some(d) if d.is_director() => meta.director_table = d.name.clone(),
            Some(_) => {
                return invalid(&format!(
                    "a table referenced database='' table='{}' in the dependent table \
                     definition isn't the director table",
                    meta.director_table
                ));
            }
            None => {
                return invalid(&format!(
                    "non-existing director table referenced database='' table='{}' in the \
                     dependent table definition",
                    meta.director_table
                ));
            }
        }
        if lat.is_empty() != lon.is_empty() {
            return invalid("inconsistent definition of the spatial coordinate columns");
        }
        if !lat.is_empty() {
            required.push(("latitudeColName", lat));
            required.push(("longitudeColName", lon));
        }
    }
    // `ConfigDatabase.cc:347-354`.
    for (role, column) in required {
        if !meta.schema.iter().any(|c| c.name == column) {
            return invalid(&format!(
                "no matching column '{column}' found in schema for parameter '{role}'"
            ));
        }
    }
    Ok(())
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
