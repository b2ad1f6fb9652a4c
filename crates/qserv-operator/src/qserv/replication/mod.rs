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

mod client;
mod error;
mod files;
mod transport;
mod types;

use reqwest::Method;
use serde_json::{Value, json};

use crate::connect_to::resolve_url;
pub use client::{API_VERSION, ReplicationClient};
pub use error::{ReplicationError, Result, RetryPolicy};
pub use files::file_chunks;
use transport::{location_of, str_of, transactions_of, urlencode};
pub use types::*;

impl ReplicationClient {
    /// `GET /meta/version`: the API version the controller implements.
    /// Handler: `http::MetaModule::_version` (`Q@2026.3.3-rc1:src/http/MetaModule.cc:64`),
    /// routed at `HttpProcessor.cc:97`.
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
    /// Handler: `HttpIngestModule::_addDatabase` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:204`), routed
    /// at `HttpProcessor.cc:406`.
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
    /// Handler: `HttpIngestModule::_addTable` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:508`), routed at
    /// `HttpProcessor.cc:430`.
    pub async fn register_table(&self, table: &TableRegistration) -> Result<()> {
        let what = format!("table {}.{}", table.database, table.table);
        self.post("/ingest/table", &what, table.body())
            .await
            .map(drop)
    }

    /// `GET /replication/config`: the databases the system knows, published or not.
    /// Handler: `HttpConfigurationModule::_get` (`Q@2026.3.3-rc1:src/replica/contr/HttpConfigurationModule.cc:107`),
    /// routed at `HttpProcessor.cc:167`.
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>> {
        let v = self
            .call(Method::GET, &self.base_url, "/replication/config", "", None)
            .await?;
        // An array in `db-table-management.rst`; keyed by name in some releases: take both.
        let list: Vec<&Value> = match v.pointer("/config/databases") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(Value::Object(m)) => m.values().collect(),
            _ => return Err(self.bad("GET /replication/config", "", "no config.databases")),
        };
        let flag = |v: Option<&Value>| {
            matches!(v, Some(Value::Bool(true))) || v.and_then(Value::as_u64) == Some(1)
        };
        Ok(list
            .into_iter()
            .map(|d| DatabaseInfo {
                database: str_of(d, "database"),
                is_published: flag(d.get("is_published")),
                tables: match d.get("tables") {
                    Some(Value::Array(t)) => t.iter().map(|t| str_of(t, "name")).collect(),
                    Some(Value::Object(t)) => t.keys().cloned().collect(),
                    _ => Vec::new(),
                },
            })
            .collect())
    }

    /// `POST /ingest/trans`: a new super-transaction; its id.
    /// Handler: `HttpIngestTransModule::_beginTransaction`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:247`), routed at `HttpProcessor.cc:383`.
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
    /// Handler: `HttpIngestTransModule::_endTransaction`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:333`), routed at `HttpProcessor.cc:388`.
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
    /// Handler: `HttpIngestTransModule::_getTransactions`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:94`), routed at `HttpProcessor.cc:371`.
    pub async fn list_transactions(&self, database: &str) -> Result<Vec<Transaction>> {
        let path = format!("/ingest/trans?database={}", urlencode(database));
        let v = self
            .call(Method::GET, &self.base_url, &path, database, None)
            .await?;
        Ok(transactions_of(&v))
    }

    /// `GET /ingest/trans/:id?contrib=1`: rows the transaction loaded, per table.
    /// Handler: `HttpIngestTransModule::_getTransaction`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:164`), routed at `HttpProcessor.cc:376`.
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
    /// Handler: `HttpIngestChunksModule::_addChunk` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestChunksModule.cc:157`),
    /// routed at `HttpProcessor.cc:458`.
    pub async fn locate_chunk(&self, transaction_id: u32, chunk: u32) -> Result<ChunkLocation> {
        let what = format!("transaction {transaction_id}, chunk {chunk}");
        let v = self
            .post(
                "/ingest/chunk",
                &what,
                json!({ "transaction_id": transaction_id, "chunk": chunk }),
            )
            .await?;
        v.get("location").and_then(location_of).ok_or_else(|| {
            self.bad(
                "POST /ingest/chunk",
                &what,
                "no location.http_host/http_port",
            )
        })
    }

    /// `GET /ingest/regular`: the workers that each take a full copy of a regular table, for
    /// `key` (`{"transaction_id": N}` or `{"database": "D"}`), sent in the body as
    /// `table-location.rst` documents (a GET with a body, which it admits is a mistake).
    /// Handler: `HttpIngestModule::_getRegular` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:1005`), routed
    /// at `HttpProcessor.cc:490`.
    pub async fn locate_regular(&self, key: Value) -> Result<Vec<ChunkLocation>> {
        let what = key.to_string();
        let v = self
            .call(
                Method::GET,
                &self.base_url,
                "/ingest/regular",
                &what,
                Some(key),
            )
            .await?;
        let bad = |reason: &str| self.bad("GET /ingest/regular", &what, reason);
        let list = v
            .get("locations")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no locations array"))?;
        let locations: Vec<ChunkLocation> = list
            .iter()
            .map(|l| location_of(l).ok_or_else(|| bad("a location without http_host/http_port")))
            .collect::<Result<_>>()?;
        if locations.is_empty() {
            // The docs: Qserv is not configured or not ready to ingest.
            return Err(bad("no workers to ingest regular tables into"));
        }
        Ok(locations)
    }

    /// `POST /ingest/csv` on the chunk's worker: the file by value, streamed from disk in a
    /// `multipart/form-data` body (description fields first, then the one file part, as
    /// `worker/index.rst` requires). Chosen over `/ingest/data` because the worker reads it
    /// as a stream (`httplib::ContentReader` in `IngestHttpSvc.cc`) while `/ingest/data`
    /// needs the whole contribution as one JSON document in memory on both sides. The form
    /// fields are strings (`FileUploadModule.cc` stores them so, and reads numbers from them).
    /// Handler: `IngestFileHttpSvcMod::onEndOfBody`
    /// (`Q@2026.3.3-rc1:src/replica/ingest/IngestFileHttpSvcMod.cc:227`), routed at
    /// `src/replica/ingest/IngestHttpSvc.cc:85`.
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
    /// Handler: `HttpIngestModule::_publishDatabase` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:292`), routed
    /// at `HttpProcessor.cc:412`.
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
    /// Handler: `HttpDirectorIndexModule::_buildDirectorIndex`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpDirectorIndexModule.cc:60`), routed at `HttpProcessor.cc:495`.
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
    /// Handlers: `HttpIngestModule::_scanTableStats` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:751`, routed
    /// at `HttpProcessor.cc:440`) and `_tableStats` (`:979`, routed at `HttpProcessor.cc:452`).
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
    /// Handler: `HttpIngestModule::_deleteDatabase` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:388`), routed
    /// at `HttpProcessor.cc:418`.
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
}
