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
//! `sendError`): those are never retried. The server's API version is asked first
//! ([`ReplicationClient::check_server_version`]) and one outside
//! [`SUPPORTED_SERVER_VERSIONS`] is refused with both named.
//!
//! Retries, only where a second request cannot do harm: idempotent requests (the GETs, a
//! chunk allocation) are sent again after connection failures, timeouts and HTTP 5xx, with
//! jittered exponential backoff. Requests that must happen once (registering, starting,
//! committing or aborting a transaction, a contribution, publishing, the director index, row
//! counters) are sent again only when the service provably never got them (no connection,
//! HTTP 503); after any other failure the client looks at the service's state (is the
//! database registered, the transaction committed, the catalog published?) and reports
//! [`ReplicationError::OutcomeUnknown`] when the state does not tell.
//!
//! What the server would refuse is refused here before anything is sent ([`rules`]): dialect
//! tokens, TEXT/BLOB director columns, long names.
//!
//! Every URL goes through [`resolve_url`] first, so local mode reaches Service names through
//! its loopback ports (the identity on a real cluster).

mod client;
mod contribution;
mod error;
mod files;
mod publishing;
pub mod rules;
mod transactions;
mod transport;
mod types;
mod workers;

use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};

pub use client::{API_VERSION, ClientOptions, ReplicationClient, SUPPORTED_SERVER_VERSIONS};
pub use error::{ReplicationError, Result, RetryPolicy};
pub use files::file_chunks;
use transport::{Repeat, Wait, str_of, urlencode};
pub use types::*;
pub use workers::{REGISTRY_MIN_VERSION, unknown_worker_error};

impl ReplicationClient {
    /// `GET /meta/version`: the API version the controller implements (the handler checks
    /// no version of its own, so any server answers).
    /// Handler: `http::MetaModule::_version` (`Q@2026.3.3-rc1:src/http/MetaModule.cc:64-69`),
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

    /// The server's API version, refused unless in [`SUPPORTED_SERVER_VERSIONS`]: asked once
    /// before an ingest sends anything.
    pub async fn check_server_version(&self) -> Result<u32> {
        let server = self.version().await?;
        if !SUPPORTED_SERVER_VERSIONS.contains(&server) {
            return Err(ReplicationError::UnsupportedServer {
                url: self.base_url.clone(),
                server,
                min: *SUPPORTED_SERVER_VERSIONS.start(),
                max: *SUPPORTED_SERVER_VERSIONS.end(),
            });
        }
        Ok(server)
    }

    /// `POST /ingest/database`. The director index is built by [`Self::build_director_index`]
    /// after publishing, not at commit time (faster commits, as the docs advise). Sent once:
    /// after a lost answer, the database being registered tells that it happened.
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
        let what = format!("database {name}");
        match self
            .post(
                "/ingest/database",
                &what,
                body,
                Repeat::Undelivered,
                Wait::Short,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => {
                let known = self.databases().await?.iter().any(|d| d.database == name);
                if known {
                    tracing::warn!(database = name, error = %e, "no answer, but the database is registered");
                    return Ok(());
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /ingest/table`, once [`rules::check_table`] passes. Sent once: after a lost
    /// answer, the table being registered tells that it happened.
    /// Handler: `HttpIngestModule::_addTable` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:508`), routed at
    /// `HttpProcessor.cc:430`.
    pub async fn register_table(&self, table: &TableRegistration) -> Result<()> {
        rules::check_table(table)?;
        let what = format!("table {}.{}", table.database, table.table);
        match self
            .post(
                "/ingest/table",
                &what,
                table.body(),
                Repeat::Undelivered,
                Wait::Short,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => {
                let known = self
                    .databases()
                    .await?
                    .iter()
                    .any(|d| d.database == table.database && d.tables.contains(&table.table));
                if known {
                    tracing::warn!(table = what, error = %e, "no answer, but the table is registered");
                    return Ok(());
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /replication/config`: the databases the system knows, published or not.
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>> {
        Ok(self.config().await?.databases)
    }

    /// `GET /replication/config`: the databases, the database families and the workers.
    /// Handler: `HttpConfigurationModule::_get` (`Q@2026.3.3-rc1:src/replica/contr/HttpConfigurationModule.cc:107`),
    /// routed at `HttpProcessor.cc:167`.
    pub async fn config(&self) -> Result<ReplicationConfig> {
        let v = self
            .call(Method::GET, &self.base_url, "/replication/config", "", None)
            .await?;
        let list = |key: &str| -> Result<Vec<&Value>> {
            // An array in `db-table-management.rst`; keyed by name in some releases: take
            // both. `null` when there are none: `Configuration::_toJson` takes a reference to
            // the key and pushes nothing (`Q@2026.3.3-rc1:src/replica/config/Configuration.cc:820-827`).
            match v.pointer(&format!("/config/{key}")) {
                Some(Value::Array(a)) => Ok(a.iter().collect()),
                Some(Value::Object(m)) => Ok(m.values().collect()),
                Some(Value::Null) => Ok(Vec::new()),
                _ => Err(self.bad("GET /replication/config", "", &format!("no config.{key}"))),
            }
        };
        let flag = |v: Option<&Value>| {
            matches!(v, Some(Value::Bool(true))) || v.and_then(Value::as_u64) == Some(1)
        };
        let databases = list("databases")?
            .into_iter()
            .map(|d| DatabaseInfo {
                database: str_of(d, "database"),
                family: str_of(d, "family_name"),
                is_published: flag(d.get("is_published")),
                tables: match d.get("tables") {
                    Some(Value::Array(t)) => t.iter().map(|t| str_of(t, "name")).collect(),
                    Some(Value::Object(t)) => t.keys().cloned().collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        let number = |f: &Value, k: &str| f.get(k).and_then(Value::as_f64);
        let families = list("database_families")?
            .into_iter()
            .map(|f| {
                let (Some(s), Some(ss), Some(o)) = (
                    number(f, "num_stripes"),
                    number(f, "num_sub_stripes"),
                    number(f, "overlap"),
                ) else {
                    return Err(self.bad(
                        "GET /replication/config",
                        "",
                        &format!(
                            "database family without num_stripes/num_sub_stripes/overlap: {f}"
                        ),
                    ));
                };
                Ok(DatabaseFamily {
                    name: str_of(f, "name"),
                    num_stripes: s as u32,
                    num_sub_stripes: ss as u32,
                    overlap: o,
                })
            })
            .collect::<Result<_>>()?;
        let workers = list("workers")?
            .into_iter()
            .map(workers::worker_of)
            .collect();
        Ok(ReplicationConfig {
            databases,
            families,
            workers,
        })
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
        self.send(
            Method::DELETE,
            &self.base_url,
            &path,
            &format!("database {name}"),
            Some(body),
            Repeat::Undelivered,
            Wait::Long,
        )
        .await
        .map(drop)
    }

    /// Polls `done` every [`Self::poll_interval`] until it gives a value or
    /// [`Self::long_request_timeout`] has passed (`None`).
    pub(crate) async fn poll<T, F, Fut>(&self, mut done: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + self.long_request_timeout;
        loop {
            if let Some(v) = done().await? {
                return Ok(Some(v));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}
