//! Client of Qserv's replication-system ingest REST API (the Master Replication Controller and
//! the workers' HTTP ingest services), exactly as lsst/qserv documents it:
//! `doc/ingest/api/reference/rest/general.rst` (request and response conventions),
//! `controller/db-table-management.rst`, `controller/trans-management.rst`,
//! `controller/table-location.rst`, `controller/director-index.rst`,
//! `controller/row-counters.rst` and `worker/index.rst`.
//!
//! Every `POST`/`PUT`/`DELETE` body carries `version` and `auth_key` (`admin_auth_key` where
//! the docs ask for it); `GET` requests carry `version` in the query. Qserv answers HTTP 200
//! with `success: 0` and `error`/`error_ext` for a refused request (`src/http/BaseModule.cc`,
//! `sendError`): those are never retried. Connection failures, timeouts and HTTP 5xx are
//! transient and retried with jittered exponential backoff.
//!
//! Every URL goes through [`resolve_url`] first, so local mode reaches Service names through
//! its loopback ports (the identity on a real cluster).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::local::addresses::resolve_url;

/// The API version this client speaks: `MetaModule::version` in lsst/qserv
/// `src/http/MetaModule.cc` (55 at the time of writing). `/ingest/csv` needs at least 38
/// (`checkApiVersion(__func__, 38)` in `src/replica/ingest/IngestFileHttpSvcMod.cc`).
pub const API_VERSION: u32 = 55;

/// Everything that can go wrong talking to the replication system; each variant names the
/// endpoint (`METHOD /path`) and what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// Qserv understood the request and refused it (`success: 0`).
    #[error("{endpoint} ({request}): Qserv refused: {error}{}", ext_suffix(.error_ext))]
    Refused {
        endpoint: String,
        request: String,
        error: String,
        error_ext: Value,
    },
    /// A non-200 HTTP status.
    #[error("{endpoint} ({request}): HTTP {status}: {body}")]
    Status {
        endpoint: String,
        request: String,
        status: u16,
        body: String,
    },
    /// No answer: connection refused or reset, timeout.
    #[error("{endpoint} ({request}): {reason}")]
    Transport {
        endpoint: String,
        request: String,
        reason: String,
        transient: bool,
    },
    /// An answer that is not the documented JSON.
    #[error("{endpoint} ({request}): unexpected response: {reason}")]
    Response {
        endpoint: String,
        request: String,
        reason: String,
    },
    /// A contribution file could not be read.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

fn ext_suffix(ext: &Value) -> String {
    match ext {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Null => String::new(),
        other => format!(" (error_ext: {other})"),
    }
}

impl ReplicationError {
    /// Worth another attempt: the request may not have been processed at all.
    pub fn is_transient(&self) -> bool {
        match self {
            ReplicationError::Status { status, .. } => *status >= 500,
            ReplicationError::Transport { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Qserv's own `error` text, when it refused the request.
    pub fn qserv_error(&self) -> Option<&str> {
        match self {
            ReplicationError::Refused { error, .. } => Some(error),
            _ => None,
        }
    }
}

pub type Result<T, E = ReplicationError> = std::result::Result<T, E>;

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// "Full jitter" backoff: uniform in [0, min(max, base * 2^attempt)], so many clients
    /// retrying at once do not hit the service in lockstep.
    fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

/// A column of a table schema as `/ingest/table` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub sql_type: String,
}

impl Column {
    pub fn new(name: &str, sql_type: &str) -> Self {
        Column {
            name: name.into(),
            sql_type: sql_type.into(),
        }
    }
}

/// The kind of a table, with the columns Qserv needs to know for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TableKind {
    /// Partitioned, its own positions; `key` is the primary key (objectId).
    Director {
        key: String,
        latitude_key: String,
        longitude_key: String,
    },
    /// Partitioned by its director's position; `key` is the foreign key.
    Child {
        director_table: String,
        key: String,
        latitude_key: Option<String>,
        longitude_key: Option<String>,
    },
    /// Fully replicated to every worker.
    Regular,
}

/// `POST /ingest/table`: a table to register. Partitioned tables carry `chunkId` and
/// `subChunkId` columns, the names the Ingest system predefines (`chunk_id_key` and
/// `sub_chunk_id_key` are sent too, for services older than that rule; see
/// lsst/qserv `doc/ingest/api/concepts/table-types.rst`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRegistration {
    pub database: String,
    pub table: String,
    pub kind: TableKind,
    pub schema: Vec<Column>,
}

impl TableRegistration {
    fn body(&self) -> Value {
        let mut body = json!({
            "database": self.database,
            "table": self.table,
            "schema": self.schema,
        });
        let map = body.as_object_mut().expect("an object");
        let mut set = |k: &str, v: Value| {
            map.insert(k.to_string(), v);
        };
        match &self.kind {
            TableKind::Regular => set("is_partitioned", json!(0)),
            TableKind::Director {
                key,
                latitude_key,
                longitude_key,
            } => {
                set("is_partitioned", json!(1));
                set("is_director", json!(1));
                set("director_table", json!(""));
                set("director_key", json!(key));
                set("latitude_key", json!(latitude_key));
                set("longitude_key", json!(longitude_key));
            }
            TableKind::Child {
                director_table,
                key,
                latitude_key,
                longitude_key,
            } => {
                set("is_partitioned", json!(1));
                set("is_director", json!(0));
                set("director_table", json!(director_table));
                set("director_key", json!(key));
                set(
                    "latitude_key",
                    json!(latitude_key.clone().unwrap_or_default()),
                );
                set(
                    "longitude_key",
                    json!(longitude_key.clone().unwrap_or_default()),
                );
            }
        }
        if !matches!(self.kind, TableKind::Regular) {
            set("chunk_id_key", json!("chunkId"));
            set("sub_chunk_id_key", json!("subChunkId"));
        }
        body
    }
}

/// Where a chunk's contributions go (`location` of `POST /ingest/chunk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkLocation {
    pub worker: String,
    pub http_host: String,
    pub http_port: u16,
}

impl ChunkLocation {
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.http_host, self.http_port)
    }
}

/// A transaction as the status services describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: u32,
    pub database: String,
    pub state: String,
}

impl Transaction {
    /// `STARTED`: still accepting contributions, neither committed nor aborted.
    pub fn is_open(&self) -> bool {
        self.state == "STARTED"
    }
}

/// Rows a transaction loaded into one table (`contrib.summary.table.<name>` of
/// `GET /ingest/trans/:id?contrib=1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLoaded {
    pub rows: u64,
    pub overlap_rows: u64,
}

/// Dialect of a contribution file (`fields_terminated_by` etc. of `/ingest/csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDialect {
    pub fields_terminated_by: String,
    /// Empty: fields are not enclosed.
    pub fields_enclosed_by: String,
    pub fields_escaped_by: String,
    pub lines_terminated_by: String,
}

impl CsvDialect {
    /// The dialect our partitioner writes with `dialect` (`out.csv.*`).
    pub fn of_partitioner(dialect: &crate::partition::csv::Dialect) -> Self {
        let text = |b: Option<u8>| b.map(|b| (b as char).to_string()).unwrap_or_default();
        CsvDialect {
            fields_terminated_by: text(Some(dialect.delimiter)),
            fields_enclosed_by: text(dialect.quote),
            fields_escaped_by: text(dialect.escape),
            lines_terminated_by: "\n".into(),
        }
    }

    /// qserv_testdata's `out.csv` (`partition/common.json`): `,` separated, `\` escapes, no
    /// quotes, `\N` for NULL.
    pub fn qserv_testdata() -> Self {
        CsvDialect {
            fields_terminated_by: ",".into(),
            fields_enclosed_by: String::new(),
            fields_escaped_by: "\\".into(),
            lines_terminated_by: "\n".into(),
        }
    }
}

/// One contribution: a chunk (or its overlap) of a table, by value.
#[derive(Debug, Clone)]
pub struct Contribution<'a> {
    pub transaction_id: u32,
    pub table: &'a str,
    pub chunk: u32,
    pub overlap: bool,
    pub file: &'a Path,
    pub dialect: &'a CsvDialect,
}

/// What the worker reported for a contribution (`contrib` of the response).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionResult {
    pub num_rows: u64,
    pub num_rows_loaded: u64,
    pub num_bytes: u64,
}

/// A per-chunk row counter (`GET /ingest/table-stats/:database/:table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounter {
    pub transaction_id: u32,
    pub chunk: u32,
    pub is_overlap: u8,
    pub num_rows: u64,
}

/// A database as `GET /replication/config` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub database: String,
    pub is_published: bool,
    pub tables: Vec<String>,
}

/// The client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct ReplicationClient {
    http: reqwest::Client,
    base_url: String,
    auth_key: String,
    admin_auth_key: String,
    pub retry: RetryPolicy,
}

impl ReplicationClient {
    /// `base_url`: the controller, e.g. `http://qserv-repl-ctl-0.qserv-repl-ctl:8080`.
    pub fn new(base_url: &str, auth_key: &str, admin_auth_key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Contributions and publishing can take long; the timeout bounds a stuck peer.
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| ReplicationError::Transport {
                endpoint: base_url.into(),
                request: "client setup".into(),
                reason: e.to_string(),
                transient: false,
            })?;
        Ok(ReplicationClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth_key: auth_key.into(),
            admin_auth_key: admin_auth_key.into(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /meta/version`: the API version the controller implements.
    pub async fn version(&self) -> Result<u32> {
        let v = self
            .call(Method::GET, &self.base_url, "/meta/version", "", None)
            .await?;
        v.get("version")
            .and_then(Value::as_u64)
            .map(|n| n as u32)
            .ok_or_else(|| self.bad("GET /meta/version", "", "no numeric `version`"))
    }

    /// `POST /ingest/database`. The director index is built by [`Self::build_director_index`]
    /// after publishing, not at commit time (faster commits, as the docs advise).
    pub async fn register_database(
        &self,
        name: &str,
        num_stripes: u32,
        num_sub_stripes: u32,
        overlap: f64,
    ) -> Result<()> {
        let body = json!({
            "database": name, "num_stripes": num_stripes, "num_sub_stripes": num_sub_stripes,
            "overlap": overlap, "auto_build_secondary_index": 0,
        });
        self.post("/ingest/database", &format!("database {name}"), body)
            .await
            .map(drop)
    }

    /// `POST /ingest/table`.
    pub async fn register_table(&self, table: &TableRegistration) -> Result<()> {
        let what = format!("table {}.{}", table.database, table.table);
        self.post("/ingest/table", &what, table.body())
            .await
            .map(drop)
    }

    /// `GET /replication/config`: the databases the system knows, published or not.
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>> {
        let v = self
            .call(Method::GET, &self.base_url, "/replication/config", "", None)
            .await?;
        let Some(list) = v.pointer("/config/databases").and_then(Value::as_array) else {
            return Err(self.bad("GET /replication/config", "", "no config.databases"));
        };
        Ok(list
            .iter()
            .map(|d| DatabaseInfo {
                database: str_of(d, "database"),
                is_published: d.get("is_published").and_then(Value::as_u64) == Some(1),
                tables: d
                    .get("tables")
                    .and_then(Value::as_array)
                    .map(|t| t.iter().map(|t| str_of(t, "name")).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// `POST /ingest/trans`: a new super-transaction; its id.
    pub async fn start_transaction(&self, database: &str) -> Result<u32> {
        let what = format!("database {database}");
        let v = self
            .post("/ingest/trans", &what, json!({ "database": database }))
            .await?;
        transactions_of(&v)
            .into_iter()
            .next()
            .map(|t| t.id)
            .ok_or_else(|| self.bad("POST /ingest/trans", &what, "no transaction in response"))
    }

    /// `PUT /ingest/trans/:id?abort=0|1`: commit, or abort (drops what it loaded).
    pub async fn end_transaction(&self, id: u32, abort: bool) -> Result<()> {
        let path = format!("/ingest/trans/{id}?abort={}", u8::from(abort));
        let what = format!("transaction {id}, abort={abort}");
        self.call(
            Method::PUT,
            &self.base_url,
            &path,
            &what,
            Some(self.with_auth(json!({}))),
        )
        .await
        .map(drop)
    }

    /// `GET /ingest/trans?database=`: every transaction of `database`, any state.
    pub async fn list_transactions(&self, database: &str) -> Result<Vec<Transaction>> {
        let path = format!("/ingest/trans?database={}", urlencode(database));
        let v = self
            .call(Method::GET, &self.base_url, &path, database, None)
            .await?;
        Ok(transactions_of(&v))
    }

    /// `GET /ingest/trans/:id?contrib=1`: rows the transaction loaded, per table.
    pub async fn transaction_rows(
        &self,
        id: u32,
    ) -> Result<std::collections::BTreeMap<String, TableLoaded>> {
        let path = format!("/ingest/trans/{id}?contrib=1");
        let what = format!("transaction {id}");
        let v = self
            .call(Method::GET, &self.base_url, &path, &what, None)
            .await?;
        let mut out = std::collections::BTreeMap::new();
        let tables = v
            .pointer("/databases")
            .and_then(Value::as_object)
            .and_then(|dbs| dbs.values().next())
            .and_then(|db| db.pointer("/transactions/0/contrib/summary/table"))
            .and_then(Value::as_object);
        for (name, t) in tables.into_iter().flatten() {
            let n = |p: &str| t.pointer(p).and_then(Value::as_u64).unwrap_or(0);
            out.insert(
                name.clone(),
                TableLoaded {
                    rows: n("/num_rows_loaded"),
                    overlap_rows: n("/overlap/num_rows_loaded"),
                },
            );
        }
        Ok(out)
    }

    /// `POST /ingest/chunk`: allocates (or finds) the worker of `chunk`.
    pub async fn locate_chunk(&self, transaction_id: u32, chunk: u32) -> Result<ChunkLocation> {
        let what = format!("transaction {transaction_id}, chunk {chunk}");
        let v = self
            .post(
                "/ingest/chunk",
                &what,
                json!({ "transaction_id": transaction_id, "chunk": chunk }),
            )
            .await?;
        let loc = v.get("location").cloned().unwrap_or(Value::Null);
        let host = str_of(&loc, "http_host");
        let host = if host.is_empty() {
            str_of(&loc, "http_host_name")
        } else {
            host
        };
        match loc.get("http_port").and_then(Value::as_u64) {
            Some(port) if !host.is_empty() => Ok(ChunkLocation {
                worker: str_of(&loc, "worker"),
                http_host: host,
                http_port: port as u16,
            }),
            _ => Err(self.bad(
                "POST /ingest/chunk",
                &what,
                "no location.http_host/http_port",
            )),
        }
    }

    /// `POST /ingest/csv` on the chunk's worker: the file by value, streamed from disk in a
    /// `multipart/form-data` body (description fields first, then the one file part, as
    /// `worker/index.rst` requires). Chosen over `/ingest/data` because the worker reads it
    /// as a stream (`httplib::ContentReader` in `IngestHttpSvc.cc`) while `/ingest/data`
    /// needs the whole contribution as one JSON document in memory on both sides.
    pub async fn send_contribution(
        &self,
        worker: &ChunkLocation,
        c: &Contribution<'_>,
    ) -> Result<ContributionResult> {
        let what = format!(
            "transaction {}, table {}, chunk {}{}, file {}",
            c.transaction_id,
            c.table,
            c.chunk,
            if c.overlap { " overlap" } else { "" },
            c.file.display()
        );
        let endpoint = "POST /ingest/csv";
        let url = resolve_url(&format!("{}/ingest/csv", worker.url()));
        let mut attempt = 0;
        loop {
            let len = std::fs::metadata(c.file)
                .map_err(|e| ReplicationError::File {
                    path: c.file.display().to_string(),
                    reason: e.to_string(),
                })?
                .len();
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(file_chunks(c.file.to_path_buf())),
                len,
            )
            .file_name(
                c.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .mime_str("text/csv")
            .expect("a valid mime type");
            let form = reqwest::multipart::Form::new()
                .text("version", API_VERSION.to_string())
                .text("auth_key", self.auth_key.clone())
                .text("transaction_id", c.transaction_id.to_string())
                .text("table", c.table.to_string())
                .text("chunk", c.chunk.to_string())
                .text("overlap", u8::from(c.overlap).to_string())
                .text(
                    "fields_terminated_by",
                    c.dialect.fields_terminated_by.clone(),
                )
                .text("fields_enclosed_by", c.dialect.fields_enclosed_by.clone())
                .text("fields_escaped_by", c.dialect.fields_escaped_by.clone())
                .text("lines_terminated_by", c.dialect.lines_terminated_by.clone())
                .part("file", part);
            let sent = self.http.post(&url).multipart(form).send().await;
            match self.interpret(endpoint, &what, sent).await {
                Ok(v) => {
                    let n = |k: &str| v.pointer(k).and_then(Value::as_u64).unwrap_or(0);
                    return Ok(ContributionResult {
                        num_rows: n("/contrib/num_rows"),
                        num_rows_loaded: n("/contrib/num_rows_loaded"),
                        num_bytes: n("/contrib/num_bytes"),
                    });
                }
                Err(e) if e.is_transient() && attempt + 1 < self.retry.attempts => {
                    tracing::warn!(error = %e, attempt, "contribution failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `PUT /ingest/database/:database`: makes the catalog visible to Qserv users.
    pub async fn publish_database(&self, name: &str) -> Result<()> {
        let path = format!("/ingest/database/{}", urlencode(name));
        self.call(
            Method::PUT,
            &self.base_url,
            &path,
            &format!("database {name}"),
            Some(self.with_auth(json!({}))),
        )
        .await
        .map(drop)
    }

    /// `POST /ingest/index/secondary`: (re)builds the director index of a director table
    /// (the database must be published).
    pub async fn build_director_index(&self, database: &str, director_table: &str) -> Result<()> {
        let body = json!({
            "database": database, "director_table": director_table, "rebuild": 1, "local": 1,
        });
        let what = format!("table {database}.{director_table}");
        self.post("/ingest/index/secondary", &what, body)
            .await
            .map(drop)
    }

    /// `POST /ingest/table-stats` (scan and record, chunk and overlap) then
    /// `GET /ingest/table-stats/:database/:table`: the per-chunk row counters.
    pub async fn table_row_stats(&self, database: &str, table: &str) -> Result<Vec<RowCounter>> {
        let what = format!("table {database}.{table}");
        let body = json!({
            "database": database, "table": table, "overlap_selector": "CHUNK_AND_OVERLAP",
            "force_rescan": 1, "row_counters_state_update_policy": "FORCED",
            "row_counters_deploy_at_qserv": 1,
        });
        self.post("/ingest/table-stats", &what, body).await?;
        let path = format!(
            "/ingest/table-stats/{}/{}",
            urlencode(database),
            urlencode(table)
        );
        let v = self
            .call(Method::GET, &self.base_url, &path, &what, None)
            .await?;
        serde_json::from_value(v.get("entries").cloned().unwrap_or(json!([])))
            .map_err(|e| self.bad("GET /ingest/table-stats", &what, &e.to_string()))
    }

    /// `DELETE /ingest/database/:database`. A published database needs the admin key, which
    /// is sent instead of `auth_key` when `published` (as `db-table-management.rst` says).
    pub async fn delete_database(&self, name: &str, published: bool) -> Result<()> {
        let path = format!("/ingest/database/{}", urlencode(name));
        let body = if published {
            json!({ "version": API_VERSION, "admin_auth_key": self.admin_auth_key })
        } else {
            self.with_auth(json!({}))
        };
        self.call(
            Method::DELETE,
            &self.base_url,
            &path,
            &format!("database {name}"),
            Some(body),
        )
        .await
        .map(drop)
    }

    async fn post(&self, path: &str, what: &str, body: Value) -> Result<Value> {
        self.call(
            Method::POST,
            &self.base_url,
            path,
            what,
            Some(self.with_auth(body)),
        )
        .await
    }

    fn with_auth(&self, mut body: Value) -> Value {
        if let Some(map) = body.as_object_mut() {
            map.insert("version".into(), json!(API_VERSION));
            map.insert("auth_key".into(), json!(self.auth_key));
        }
        body
    }

    /// One JSON request with retries of transient failures.
    async fn call(
        &self,
        method: Method,
        base: &str,
        path: &str,
        what: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let endpoint = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut url = resolve_url(&format!("{base}{path}"));
        if method == Method::GET {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("version={API_VERSION}"));
        }
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(body) = &body {
                req = req.json(body);
            }
            match self.interpret(&endpoint, what, req.send().await).await {
                Err(e) if e.is_transient() && attempt + 1 < self.retry.attempts => {
                    tracing::warn!(error = %e, attempt, "replication request failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The documented response rules: HTTP 200 and `success: 1`, else an error.
    async fn interpret(
        &self,
        endpoint: &str,
        what: &str,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<Value> {
        let resp = sent.map_err(|e| transport(endpoint, what, &e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transport(endpoint, what, &e))?;
        if !status.is_success() {
            return Err(ReplicationError::Status {
                endpoint: endpoint.into(),
                request: what.into(),
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| self.bad(endpoint, what, &format!("not JSON ({e})")))?;
        if v.get("success").and_then(Value::as_u64) != Some(1) {
            return Err(ReplicationError::Refused {
                endpoint: endpoint.into(),
                request: what.into(),
                error: str_of(&v, "error"),
                error_ext: v.get("error_ext").cloned().unwrap_or(Value::Null),
            });
        }
        if let Some(w) = v.get("warning").and_then(Value::as_str)
            && !w.is_empty()
        {
            tracing::warn!(endpoint, warning = w, "replication service warning");
        }
        Ok(v)
    }

    fn bad(&self, endpoint: &str, what: &str, reason: &str) -> ReplicationError {
        ReplicationError::Response {
            endpoint: endpoint.into(),
            request: what.into(),
            reason: reason.into(),
        }
    }
}

fn transport(endpoint: &str, what: &str, e: &reqwest::Error) -> ReplicationError {
    // The innermost cause says "Connection refused" rather than "error sending request".
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    ReplicationError::Transport {
        endpoint: endpoint.into(),
        request: what.into(),
        reason,
        transient: e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn transactions_of(v: &Value) -> Vec<Transaction> {
    let mut out = Vec::new();
    for db in v
        .get("databases")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        for t in db
            .get("transactions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = t.get("id").and_then(Value::as_u64) {
                out.push(Transaction {
                    id: id as u32,
                    database: str_of(t, "database"),
                    state: str_of(t, "state"),
                });
            }
        }
    }
    out
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A file as a stream of 1 MiB pieces, read on the blocking pool (bounded memory).
pub(crate) fn file_chunks(
    path: std::path::PathBuf,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    const PIECE: usize = 1 << 20;
    futures::stream::unfold(None::<std::fs::File>, move |file| {
        let path = path.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut file = match file {
                    Some(f) => f,
                    None => std::fs::File::open(&path)?,
                };
                let mut buf = vec![0u8; PIECE];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((Bytes::from(buf), file))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match result {
                Ok((bytes, _)) if bytes.is_empty() => None,
                Ok((bytes, file)) => Some((Ok(bytes), Some(file))),
                // Ends the stream after the error: a second open would restart at byte 0.
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .take_while_ok()
}

/// Stops a stream after its first error (inclusive).
trait TakeWhileOk: Stream + Sized {
    fn take_while_ok(self) -> futures::stream::BoxStream<'static, Self::Item>;
}

impl<S, T> TakeWhileOk for S
where
    S: Stream<Item = std::io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    fn take_while_ok(self) -> futures::stream::BoxStream<'static, Self::Item> {
        use futures::StreamExt;
        let mut failed = false;
        self.take_while(move |item| {
            let keep = !failed;
            failed = item.is_err();
            futures::future::ready(keep)
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let delays: Vec<Duration> = (0..200).map(|_| p.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(350)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter gives different delays");
        assert!(p.delay(0) <= Duration::from_millis(100));
    }

    #[test]
    fn refused_and_4xx_are_not_transient_5xx_is() {
        let refused = ReplicationError::Refused {
            endpoint: "POST /ingest/trans".into(),
            request: "database d".into(),
            error: "no such database".into(),
            error_ext: json!({}),
        };
        assert!(!refused.is_transient());
        assert_eq!(
            refused.to_string(),
            "POST /ingest/trans (database d): Qserv refused: no such database"
        );
        let status = |s| ReplicationError::Status {
            endpoint: "e".into(),
            request: "r".into(),
            status: s,
            body: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(!status(404).is_transient());
    }

    #[test]
    fn director_and_child_registrations_carry_the_documented_keys() {
        let reg = TableRegistration {
            database: "db".into(),
            table: "Source".into(),
            kind: TableKind::Child {
                director_table: "Object".into(),
                key: "objectId".into(),
                latitude_key: None,
                longitude_key: None,
            },
            schema: vec![Column::new("objectId", "BIGINT NOT NULL")],
        };
        let b = reg.body();
        assert_eq!(b["is_partitioned"], 1);
        assert_eq!(b["director_table"], "Object");
        assert_eq!(b["director_key"], "objectId");
        assert_eq!(b["latitude_key"], "");
        assert_eq!(b["schema"][0]["type"], "BIGINT NOT NULL");
    }
}
