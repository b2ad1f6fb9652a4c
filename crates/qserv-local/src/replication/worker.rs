//! A worker's HTTP ingest service: `GET /meta/version` and `POST /ingest/csv`, a contribution
//! by value in a `multipart/form-data` body, description fields first and then one file
//! (lsst/qserv `doc/ingest/api/reference/rest/worker/index.rst`,
//! `src/replica/ingest/IngestFileHttpSvcMod.cc`). Like Qserv, the file is spooled to a
//! temporary file while it is parsed, then loaded with `LOAD DATA` into the transaction's
//! partition of the chunk table.

use std::convert::Infallible;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyStream, Full};
use hyper::{Method, Request, Response, StatusCode};
use mysql_async::prelude::Queryable;
use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal, respond};
use super::rows::RowCounter;
use super::state::{Shared, now_ms};
use super::tables::{
    Charset, add_partition, chunk_table, create_chunk_table, literal, qualified, quote,
};
use qserv_operator::qserv::replication::Column;

pub async fn handle(
    shared: Arc<Shared>,
    worker: String,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let outcome = match (req.method(), req.uri().path()) {
        // No version check (`Q@2026.3.3-rc1:src/http/MetaModule.cc:64-69`).
        (&Method::GET, "/meta/version") => Ok(json!({
            "kind": "replication-worker-ingest", "id": worker,
            "instance_id": shared.instance_id, "version": super::MAX_VERSION,
        })),
        (&Method::POST, "/ingest/csv") => contribution(&shared, &worker, req).await,
        (_, path) => Err(Refusal::not_found(path)),
    };
    if let Err(r) = &outcome {
        tracing::debug!(
            worker,
            error = r.error,
            "replication stand-in worker refused"
        );
    }
    Ok(respond(outcome))
}

type Multipart = multer::Multipart<'static>;

async fn contribution(
    s: &Arc<Shared>,
    worker: &str,
    req: Request<hyper::body::Incoming>,
) -> Outcome {
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let boundary = multer::parse_boundary(&content_type).map_err(|_| {
        Refusal::new("invalid parameters of the request, ex: the body is not multipart/form-data")
    })?;
    let body = BodyStream::new(req.into_body())
        .filter_map(|frame| async move { frame.map(|f| f.into_data().ok()).transpose() });
    let mut parts: Multipart = multer::Multipart::new(body, boundary);
    let mut params = Params::default();
    let mut result: Option<Value> = None;
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(Refusal::new(format!("malformed multipart body: {e}"))),
        };
        if field.file_name().is_none() {
            let name = field.name().unwrap_or_default().to_string();
            let text = field
                .text()
                .await
                .map_err(|e| Refusal::new(format!("malformed multipart body: {e}")))?;
            params.body.insert(name, Value::String(text));
            continue;
        }
        if result.is_some() {
            drain(field, &mut parts).await;
            return Err(Refusal::new("the service only allows one file per request"));
        }
        let job = match prepare(s, worker, &params) {
            Ok(job) => job,
            Err(r) => {
                drain(field, &mut parts).await;
                return Err(r);
            }
        };
        match load(s, worker, &job, field).await {
            Ok(v) => result = Some(v),
            Err(r) => {
                drain_rest(&mut parts).await;
                return Err(r);
            }
        }
    }
    result.ok_or_else(|| Refusal::new("no file was sent in the request"))
}

/// Reads what is left of the body, so the refusal reaches a client still sending.
async fn drain(mut field: multer::Field<'static>, parts: &mut Multipart) {
    while let Ok(Some(_)) = field.chunk().await {}
    drain_rest(parts).await;
}

async fn drain_rest(parts: &mut Multipart) {
    while let Ok(Some(mut f)) = parts.next_field().await {
        while let Ok(Some(_)) = f.chunk().await {}
    }
}

/// A checked contribution request; while it lives, the transaction counts it in flight.
struct Job {
    shared: Arc<Shared>,
    transaction: u32,
    database: String,
    table: String,
    /// A regular (fully replicated) table: loaded into `table` itself, no chunk.
    regular: bool,
    schema: Vec<Column>,
    chunk: u32,
    overlap: bool,
    dialect: Dialect,
    charset: String,
    charset_table: Charset,
    max_warnings: u64,
}

/// A contribution's dialect, from the tokens `/ingest/csv` takes.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    sep: u8,
    /// `None`: `\0`, no enclosing.
    quote: Option<u8>,
    esc: u8,
    eol: u8,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(t) = self.shared.catalog().trans.get_mut(&self.transaction) {
            t.in_flight = t.in_flight.saturating_sub(1);
        }
    }
}

/// One dialect parameter: empty or missing means the default
/// (`Q@2026.3.3-rc1:src/replica/ingest/IngestUtils.cc:36-49`); else one of the tokens of
/// `src/replica/util/Csv.cc:82-85`, translated as `Csv.cc:37-38` does. Raw characters (a tab,
/// a newline, a single backslash) are refused, as there.
fn dialect_param(
    p: &Params,
    key: &str,
    param: &str,
    default: &str,
    allowed: &[(&str, u8)],
) -> Result<u8, Refusal> {
    let raw = p.body.get(key).and_then(Value::as_str).unwrap_or("");
    let value = if raw.is_empty() { default } else { raw };
    allowed
        .iter()
        .find(|(token, _)| *token == value)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            Refusal::new(format!(
                "invalid parameters of the request, ex: Csv::Parser: the value '{value}' of the \
                 parameter '{param}' is not allowed for the given parameter."
            ))
        })
}

fn dialect_of(p: &Params) -> Result<Dialect, Refusal> {
    let quote = dialect_param(
        p,
        "fields_enclosed_by",
        "fieldsEnclosedBy",
        r"\0",
        &[(r"\0", 0), ("'", b'\''), ("\"", b'"')],
    )?;
    Ok(Dialect {
        sep: dialect_param(
            p,
            "fields_terminated_by",
            "fieldsTerminatedBy",
            r"\t",
            &[(r"\t", b'\t'), (",", b',')],
        )?,
        quote: (quote != 0).then_some(quote),
        esc: dialect_param(
            p,
            "fields_escaped_by",
            "fieldsEscapedBy",
            r"\\",
            &[(r"\\", b'\\')],
        )?,
        eol: dialect_param(
            p,
            "lines_terminated_by",
            "linesTerminatedBy",
            r"\n",
            &[(r"\n", b'\n')],
        )?,
    })
}

fn prepare(s: &Arc<Shared>, worker: &str, p: &Params) -> Result<Job, Refusal> {
    p.authorize(&s.auth_key, &s.admin_auth_key)?;
    // `IngestFileHttpSvcMod.cc:70`.
    p.check_version(38)?;
    if let Some(status) = s.take_fault() {
        return Err(Refusal {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error: format!("injected failure (HTTP {status})"),
            error_ext: json!({}),
        });
    }
    let transaction = p.uint("transaction_id")? as u32;
    let table = p.string("table")?;
    let chunk = p.uint("chunk")? as u32;
    let overlap = p.uint("overlap")? != 0;
    let dialect = dialect_of(p)?;
    // The worker's `ingest-charset-name`, `latin1` (`IngestFileHttpSvcMod.cc:95-96`,
    // `ConfigurationSchema.cc:411-413`).
    let charset = match p.body.get("charset_name").and_then(Value::as_str) {
        None | Some("") => "latin1".to_string(),
        Some(c) => c.to_string(),
    };
    // `loader-max-warnings`, 64 (`IngestFileHttpSvcMod.cc:106-107`, `ConfigurationSchema.cc:376-382`).
    let max_warnings = match p.body.get("max_num_warnings") {
        None => 64,
        Some(_) => p.uint("max_num_warnings")?,
    };
    if charset.is_empty()
        || !charset
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Refusal::new(format!("invalid charset_name '{charset}'")));
    }
    let mut cat = s.catalog();
    let t = cat
        .trans
        .get(&transaction)
        .ok_or_else(|| Refusal::new(format!("unknown transaction id={transaction}")))?;
    // `IngestFileHttpSvcMod.cc:133-138`.
    if t.state != "STARTED" {
        return Err(Refusal::new(format!(
            "INGEST-FILE-HTTP-SVC onStartOfFile transactionId={transaction} is not active"
        )));
    }
    let database = t.database.clone();
    let db = cat
        .dbs
        .get(&database)
        .ok_or_else(|| Refusal::new(format!("unknown database '{database}'")))?;
    let meta = db
        .table(&table)
        .ok_or_else(|| Refusal::new(format!("unknown table '{table}' in database '{database}'")))?;
    // `chunk` and `overlap` are ignored for regular tables (worker/index.rst): any worker
    // `GET /ingest/regular` lists takes a full copy.
    let (chunk, overlap) = if meta.partitioned {
        (chunk, overlap)
    } else {
        (0, false)
    };
    match db.chunks.get(&chunk) {
        _ if !meta.partitioned => {}
        None => {
            return Err(Refusal::new(format!(
                "chunk {chunk} of database '{database}' was not allocated: ask POST /ingest/chunk first"
            )));
        }
        Some(w) if w != worker => {
            return Err(Refusal::new(format!(
                "chunk {chunk} of database '{database}' is allocated to worker '{w}', not to \
                 worker '{worker}'"
            )));
        }
        Some(_) => {}
    }
    let job = Job {
        shared: s.clone(),
        transaction,
        database,
        table: meta.name.clone(),
        regular: !meta.partitioned,
        schema: meta.schema.clone(),
        chunk,
        overlap,
        dialect,
        charset,
        charset_table: meta.charset.clone(),
        max_warnings,
    };
    cat.trans
        .get_mut(&transaction)
        .expect("checked above")
        .in_flight += 1;
    Ok(job)
}

/// A temporary file removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn load(s: &Shared, worker: &str, job: &Job, mut field: multer::Field<'static>) -> Outcome {
    let what = if job.regular {
        format!(
            "contribution to {}.{} (transaction {})",
            job.database, job.table, job.transaction
        )
    } else {
        format!(
            "contribution to {}.{} chunk {}{} (transaction {})",
            job.database,
            job.table,
            job.chunk,
            if job.overlap { " overlap" } else { "" },
            job.transaction
        )
    };
    let spool =
        Spool(std::env::temp_dir().join(format!("qserv-standin-{}.csv", uuid::Uuid::new_v4())));
    let mut file = std::fs::File::create(&spool.0)
        .map(std::io::BufWriter::new)
        .map_err(|e| Refusal::internal(format!("{what}: spool file: {e}")))?;
    let d = job.dialect;
    let mut rows = RowCounter::new(d.esc, d.eol, d.quote);
    let mut bytes = 0u64;
    loop {
        let piece = match field.chunk().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(Refusal::new(format!("{what}: reading the file: {e}"))),
        };
        bytes += piece.len() as u64;
        rows.feed(&piece);
        file.write_all(&piece)
            .map_err(|e| Refusal::internal(format!("{what}: spool file: {e}")))?;
    }
    let rows = rows.finish();
    file.flush()
        .map_err(|e| Refusal::internal(format!("{what}: spool file: {e}")))?;
    drop(file);

    let sql = s
        .worker_sql(worker)
        .ok_or_else(|| Refusal::internal(format!("worker {worker} is gone")))?;
    let final_table = if job.regular {
        job.table.clone()
    } else {
        chunk_table(&job.table, job.chunk, job.overlap)
    };
    {
        // The chunk table exists since the chunk's allocation, unless the table was registered
        // after that; the transaction's partition appears with its first contribution.
        let _ddl = s.ddl.lock().await;
        let table_key = (
            worker.to_string(),
            job.database.clone(),
            final_table.clone(),
        );
        if !s.catalog().created.contains(&table_key) {
            sql.run(&[create_chunk_table(
                &job.database,
                &final_table,
                &job.schema,
                &job.charset_table,
            )])
            .await
            .map_err(Refusal::internal)?;
            s.catalog().created.insert(table_key);
        }
        let key = (
            worker.to_string(),
            job.database.clone(),
            final_table.clone(),
            job.transaction,
        );
        if !s.catalog().partitions.contains(&key) {
            sql.run(&[add_partition(&job.database, &final_table, job.transaction)])
                .await
                .map_err(Refusal::internal)?;
            s.catalog().partitions.insert(key);
        }
    }
    let columns: Vec<String> = job.schema.iter().map(|c| quote(&c.name)).collect();
    // `ENCLOSED BY` only when enclosing is on (`Q@2026.3.3-rc1:src/replica/util/Csv.cc:103-110`).
    // `LOCAL` turns rows `LOAD DATA` cannot take whole (fields missing or extra, text in a
    // number) into warnings, as the real worker's load reports them.
    let char_literal = |c: u8| literal(&(c as char).to_string());
    let enclosed = d
        .quote
        .map(|q| format!(" ENCLOSED BY {}", char_literal(q)))
        .unwrap_or_default();
    let statement = format!(
        "LOAD DATA LOCAL INFILE 'contribution' INTO TABLE {} PARTITION (`p{}`) CHARACTER SET {} \
         FIELDS TERMINATED BY {}{enclosed} ESCAPED BY {} LINES TERMINATED BY {} ({}) \
         SET `qserv_trans_id` = {}",
        qualified(&job.database, &final_table),
        job.transaction,
        job.charset,
        char_literal(d.sep),
        char_literal(d.esc),
        char_literal(d.eol),
        columns.join(", "),
        job.transaction
    );
    let mut conn = sql.conn().await.map_err(Refusal::internal)?;
    let path = spool.0.clone();
    conn.set_infile_handler(async move {
        Ok(qserv_operator::qserv::replication::file_chunks(path).boxed())
    });
    conn.query_drop(&statement)
        .await
        .map_err(|e| Refusal::new(format!("{what}: MySQL load failed, ex: {e}")))?;
    let loaded = conn.affected_rows();
    let num_warnings = u64::from(conn.get_warnings());
    // The first `max_num_warnings` kept (`IngestFileSvc::loadDataIntoTable`).
    let warnings: Vec<(String, u32, String)> = if num_warnings > 0 && job.max_warnings > 0 {
        conn.query(format!("SHOW WARNINGS LIMIT {}", job.max_warnings))
            .await
            .map_err(|e| Refusal::internal(format!("{what}: SHOW WARNINGS: {e}")))?
    } else {
        Vec::new()
    };
    conn.disconnect().await.ok();
    if let Some(t) = s.catalog().trans.get_mut(&job.transaction) {
        let entry = t.loaded.entry(job.table.clone()).or_default();
        if job.overlap {
            entry.1 += loaded;
        } else {
            entry.0 += loaded;
        }
    }
    Ok(json!({"contrib": {
        "transaction_id": job.transaction, "database": job.database, "table": job.table,
        "chunk": job.chunk, "overlap": u8::from(job.overlap), "worker": worker,
        "num_rows": rows, "num_rows_loaded": loaded, "num_bytes": bytes,
        "charset_name": job.charset, "max_num_warnings": job.max_warnings,
        "num_warnings": num_warnings,
        "warnings": warnings.iter().map(|(level, code, message)| json!({
            "level": level, "code": code, "message": message,
        })).collect::<Vec<_>>(),
        "status": "FINISHED", "create_time": now_ms(),
    }}))
}
