//! Worker scale-down guard. A StatefulSet scale-down removes the highest ordinals; if one of
//! those workers holds chunk tables, its chunks would vanish from query results (the test
//! instances this operator makes have no replicas to fall back on). So the controller asks each
//! worker that would go away, and keeps the current size unless `spec.workers.allowDataLoss`.

use mysql_async::prelude::Queryable;

use crate::load::Endpoint;

/// Qserv's dummy chunk: present on every worker whether or not it holds data.
const DUMMY_CHUNK: &str = "1234567890";

/// Chunk tables (`<table>_<chunkId>` and `<table>FullOverlap_<chunkId>`) in user databases,
/// without the dummy chunk.
const CHUNK_TABLES_SQL: &str = "SELECT COUNT(*) FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
     AND TABLE_NAME REGEXP '_[0-9]+$' AND TABLE_NAME NOT LIKE CONCAT('%\\_', ?)";

/// One worker that would be removed.
#[derive(Debug, Clone)]
pub struct DepartingWorker {
    pub pod: String,
    pub endpoint: String,
}

/// Why the scale-down must not happen, or None when every departing worker holds no chunks.
pub async fn refuse_scale_down(departing: &[DepartingWorker]) -> Option<String> {
    let mut problems = Vec::new();
    for worker in departing {
        match chunk_tables(&worker.endpoint).await {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{} holds {n} chunk tables", worker.pod)),
            Err(e) => problems.push(format!(
                "cannot tell whether {} holds chunks ({e})",
                worker.pod
            )),
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "scale-down to fewer workers refused: {}; set spec.workers.allowDataLoss: true to \
             remove them anyway",
            problems.join("; ")
        )
    })
}

async fn chunk_tables(endpoint: &str) -> Result<u64, String> {
    let endpoint = Endpoint::parse(endpoint).map_err(|e| e.to_string())?;
    let mut conn = endpoint.connect().await.map_err(|e| e.to_string())?;
    let count: Option<u64> = conn
        .exec_first(CHUNK_TABLES_SQL, (DUMMY_CHUNK,))
        .await
        .map_err(|e| crate::load::endpoint::reason(&e))?;
    let _ = conn.disconnect().await;
    Ok(count.unwrap_or(0))
}
