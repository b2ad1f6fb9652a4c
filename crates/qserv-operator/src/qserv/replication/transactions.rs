//! Super-transactions and where their data goes: begin, end (commit or abort), status, chunk
//! and regular-table locations.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::ReplicationClient;
use super::error::{ReplicationError, Result};
use super::transport::{Repeat, Wait, location_of, transactions_of, urlencode};
use super::types::{ChunkLocation, TableLoaded, Transaction};

impl ReplicationClient {
    /// `POST /ingest/trans`: a new super-transaction; its id. Never sent twice: a lost answer
    /// may hide a transaction the service opened, which the ingest's abort of strays (and a
    /// re-run's recovery) ends.
    /// Handler: `HttpIngestTransModule::_beginTransaction`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:247`), routed at `HttpProcessor.cc:383`.
    pub async fn start_transaction(&self, database: &str) -> Result<u32> {
        let what = format!("database {database}");
        let v = self
            .post(
                "/ingest/trans",
                &what,
                json!({ "database": database }),
                Repeat::Undelivered,
                Wait::Short,
            )
            .await
            .map_err(|e| unknown_if_transient(e, "open a second transaction"))?;
        transactions_of(&v)
            .into_iter()
            .next()
            .map(|t| t.id)
            .ok_or_else(|| self.bad("POST /ingest/trans", &what, "no transaction in response"))
    }

    /// `PUT /ingest/trans/:id?abort=0|1`: commit, or abort (drops what it loaded). Sent again
    /// only when the service never got it; after a lost answer the transaction's state says
    /// what happened (waiting while it is `IS_FINISHING`/`IS_ABORTING`): the wanted end state
    /// is success, `STARTED` means the request never ran and it is sent again.
    /// Handler: `HttpIngestTransModule::_endTransaction`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestTransModule.cc:333`), routed at `HttpProcessor.cc:388`.
    pub async fn end_transaction(&self, id: u32, abort: bool) -> Result<()> {
        let path = format!("/ingest/trans/{id}?abort={}", u8::from(abort));
        let what = format!("transaction {id}, abort={abort}");
        let wanted = if abort { "ABORTED" } else { "FINISHED" };
        let mut attempt = 0;
        loop {
            let sent = self
                .send(
                    Method::PUT,
                    &self.base_url,
                    &path,
                    &what,
                    Some(self.with_auth(json!({}))),
                    Repeat::Undelivered,
                    Wait::Long,
                )
                .await;
            let e = match sent {
                Ok(_) => return Ok(()),
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            let state = self.settled_transaction(id).await?.map(|t| t.state);
            match state.as_deref() {
                Some(s) if s == wanted => {
                    tracing::warn!(transaction = id, error = %e, "no answer, but the transaction is {wanted}");
                    return Ok(());
                }
                Some("STARTED") if attempt + 1 < self.retry.attempts => {
                    tracing::warn!(transaction = id, error = %e, "not ended yet; sending again");
                    attempt += 1;
                }
                other => {
                    return Err(ReplicationError::OutcomeUnknown {
                        endpoint: "PUT /ingest/trans".into(),
                        request: what,
                        hazard: "end it twice".into(),
                        reason: format!("{e}; the transaction is now {other:?}"),
                    });
                }
            }
        }
    }

    /// `GET /ingest/trans/:id`: one transaction.
    /// Handler: `HttpIngestTransModule::_getTransaction` (`HttpIngestTransModule.cc:164`).
    pub async fn transaction(&self, id: u32) -> Result<Transaction> {
        let what = format!("transaction {id}");
        let v = self
            .call(
                Method::GET,
                &self.base_url,
                &format!("/ingest/trans/{id}"),
                &what,
                None,
            )
            .await?;
        transactions_of(&v)
            .into_iter()
            .next()
            .ok_or_else(|| self.bad("GET /ingest/trans", &what, "no transaction in response"))
    }

    /// The transaction once it has left the transitional states (`IS_STARTING`,
    /// `IS_FINISHING`, `IS_ABORTING`), or `None` if it is still in one after
    /// [`Self::long_request_timeout`].
    pub async fn settled_transaction(&self, id: u32) -> Result<Option<Transaction>> {
        self.poll(|| async move {
            let t = self.transaction(id).await?;
            Ok((!t.state.starts_with("IS_")).then_some(t))
        })
        .await
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

    /// `POST /ingest/chunk`: allocates (or finds) the worker of `chunk`. Idempotent: a chunk
    /// already placed is answered with its worker (`HttpIngestChunksModule.cc:204-205`).
    /// Handler: `HttpIngestChunksModule::_addChunk` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestChunksModule.cc:157`),
    /// routed at `HttpProcessor.cc:458`.
    pub async fn locate_chunk(&self, transaction_id: u32, chunk: u32) -> Result<ChunkLocation> {
        let what = format!("transaction {transaction_id}, chunk {chunk}");
        let v = self
            .post(
                "/ingest/chunk",
                &what,
                json!({ "transaction_id": transaction_id, "chunk": chunk }),
                Repeat::Transient,
                Wait::Short,
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
}

/// A transient failure of a request sent once becomes [`ReplicationError::OutcomeUnknown`].
pub(super) fn unknown_if_transient(e: ReplicationError, hazard: &str) -> ReplicationError {
    if !e.is_transient() {
        return e;
    }
    let (endpoint, request) = match &e {
        ReplicationError::Transport {
            endpoint, request, ..
        }
        | ReplicationError::Status {
            endpoint, request, ..
        } => (endpoint.clone(), request.clone()),
        _ => (String::new(), String::new()),
    };
    ReplicationError::OutcomeUnknown {
        endpoint,
        request,
        hazard: hazard.into(),
        reason: e.to_string(),
    }
}
