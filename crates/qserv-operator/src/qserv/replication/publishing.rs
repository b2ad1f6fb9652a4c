//! Publishing a catalog and what follows it: the director index and the row counters.

use reqwest::Method;
use serde_json::json;

use super::client::ReplicationClient;
use super::error::{ReplicationError, Result};
use super::transactions::unknown_if_transient;
use super::transport::{Repeat, Wait, urlencode};
use super::types::RowCounter;

impl ReplicationClient {
    /// `PUT /ingest/database/:database`: makes the catalog visible to Qserv users. Never sent
    /// twice (a second publish would run alongside the first); after a lost answer the
    /// client waits for the database to show as published, up to
    /// [`Self::long_request_timeout`].
    /// Handler: `HttpIngestModule::_publishDatabase` (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:292`), routed
    /// at `HttpProcessor.cc:412`.
    pub async fn publish_database(&self, name: &str) -> Result<()> {
        let path = format!("/ingest/database/{}", urlencode(name));
        let what = format!("database {name}");
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
        tracing::warn!(database = name, error = %e, "no answer to publishing; waiting for it");
        let published = self
            .poll(|| async move {
                let dbs = self.databases().await?;
                Ok(dbs
                    .iter()
                    .any(|d| d.database == name && d.is_published)
                    .then_some(()))
            })
            .await?;
        match published {
            Some(()) => Ok(()),
            None => Err(ReplicationError::OutcomeUnknown {
                endpoint: "PUT /ingest/database".into(),
                request: what,
                hazard: "publish it twice at once".into(),
                reason: format!("{e}; still not published"),
            }),
        }
    }

    /// `POST /ingest/index/secondary`: (re)builds the director index of a director table
    /// (the database must be published). Sent once: after a lost answer a re-run of the
    /// ingest builds it again.
    /// Handler: `HttpDirectorIndexModule::_buildDirectorIndex`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpDirectorIndexModule.cc:60`), routed at `HttpProcessor.cc:495`.
    pub async fn build_director_index(&self, database: &str, director_table: &str) -> Result<()> {
        let body = json!({
            "database": database, "director_table": director_table, "rebuild": 1, "local": 1,
        });
        let what = format!("table {database}.{director_table}");
        self.post(
            "/ingest/index/secondary",
            &what,
            body,
            Repeat::Undelivered,
            Wait::Long,
        )
        .await
        .map(drop)
        .map_err(|e| unknown_if_transient(e, "build the index twice at once"))
    }

    /// `POST /ingest/table-stats` (scan, record and deploy at Qserv, chunk and overlap) then
    /// [`Self::row_counters`]. `row_counters_deploy_at_qserv=1` needs
    /// `row_counters_state_update_policy=ENABLED`
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:773-778`).
    /// Handler: `HttpIngestModule::_scanTableStats` (`HttpIngestModule.cc:751`, routed at
    /// `HttpProcessor.cc:440`).
    pub async fn table_row_stats(&self, database: &str, table: &str) -> Result<Vec<RowCounter>> {
        let what = format!("table {database}.{table}");
        let body = json!({
            "database": database, "table": table, "overlap_selector": "CHUNK_AND_OVERLAP",
            "force_rescan": 1, "row_counters_state_update_policy": "ENABLED",
            "row_counters_deploy_at_qserv": 1,
        });
        self.post(
            "/ingest/table-stats",
            &what,
            body,
            Repeat::Undelivered,
            Wait::Long,
        )
        .await
        .map_err(|e| unknown_if_transient(e, "scan the table twice at once"))?;
        self.row_counters(database, table).await
    }

    /// `GET /ingest/table-stats/:database/:table`: the per-chunk row counters recorded so far
    /// (none before the first scan).
    /// Handler: `HttpIngestModule::_tableStats` (`HttpIngestModule.cc:979`, routed at
    /// `HttpProcessor.cc:452`).
    pub async fn row_counters(&self, database: &str, table: &str) -> Result<Vec<RowCounter>> {
        let what = format!("table {database}.{table}");
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
}
