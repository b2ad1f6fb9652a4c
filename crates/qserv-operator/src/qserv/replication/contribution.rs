//! A contribution: one file streamed to a worker's `POST /ingest/csv`.

use serde_json::Value;

use super::client::{API_VERSION, ReplicationClient};
use super::error::{ReplicationError, Result};
use super::files::file_chunks;
use super::rules::{check_charset, dialect_tokens};
use super::transactions::unknown_if_transient;
use super::types::{ChunkLocation, Contribution, ContributionResult};
use crate::connect_to::resolve_url;

impl ReplicationClient {
    /// `POST /ingest/csv` on the chunk's worker: the file by value, streamed from disk in a
    /// `multipart/form-data` body (description fields first, then the one file part, as
    /// `worker/index.rst` requires). Chosen over `/ingest/data` because the worker reads it
    /// as a stream (`httplib::ContentReader` in `IngestHttpSvc.cc`) while `/ingest/data`
    /// needs the whole contribution as one JSON document in memory on both sides. The form
    /// fields are strings (`FileUploadModule.cc` stores them so, and reads numbers from them);
    /// the dialect goes as the tokens the worker takes ([`dialect_tokens`]), with the file's
    /// `charset_name` (`IngestFileHttpSvcMod.cc:95-97`).
    ///
    /// Sent again only when the worker never got it: a contribution loaded twice doubles its
    /// rows, so any other failure is [`ReplicationError::OutcomeUnknown`] (the ingest then
    /// aborts the transaction). The worker's `num_warnings` and first warnings are returned.
    /// Handler: `IngestFileHttpSvcMod::onStartOfFile`..`onEndOfBody`
    /// (`Q@2026.3.3-rc1:src/replica/ingest/IngestFileHttpSvcMod.cc:67-236`), routed at
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
        let invalid = |reason: String| ReplicationError::Invalid {
            request: format!("{endpoint} ({what})"),
            reason,
        };
        let tokens = dialect_tokens(c.dialect).map_err(invalid)?;
        check_charset(&c.dialect.charset_name).map_err(invalid)?;
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
                .text("fields_terminated_by", tokens.fields_terminated_by)
                .text("fields_enclosed_by", tokens.fields_enclosed_by)
                .text("fields_escaped_by", tokens.fields_escaped_by)
                .text("lines_terminated_by", tokens.lines_terminated_by)
                .text("charset_name", c.dialect.charset_name.clone())
                .part("file", part);
            let sent = self
                .http
                .post(&url)
                .timeout(self.long_request_timeout)
                .multipart(form)
                .send()
                .await;
            match self.interpret(endpoint, &what, sent).await {
                Ok(v) => return Ok(result_of(&v)),
                Err(e) if e.is_undelivered() && attempt + 1 < self.retry.attempts => {
                    tracing::warn!(error = %e, attempt, "contribution not delivered; sending again");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(unknown_if_transient(e, "load its rows twice")),
            }
        }
    }
}

/// `contrib` of the answer (`Q@2026.3.3-rc1:src/replica/ingest/TransactionContrib.cc:163-185`).
fn result_of(v: &Value) -> ContributionResult {
    let n = |k: &str| v.pointer(k).and_then(Value::as_u64).unwrap_or(0);
    ContributionResult {
        num_rows: n("/contrib/num_rows"),
        num_rows_loaded: n("/contrib/num_rows_loaded"),
        num_bytes: n("/contrib/num_bytes"),
        num_warnings: n("/contrib/num_warnings"),
        warnings: v
            .pointer("/contrib/warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("message").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
    }
}
