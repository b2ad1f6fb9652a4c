//! What the operator asks a Qserv worker's MariaDB directly.

use mysql_async::prelude::Queryable;

use super::chunk_tables::DUMMY_CHUNK;
use crate::db::{Endpoint, reason};

/// Chunk tables (`<table>_<chunkId>` and `<table>FullOverlap_<chunkId>`) in user databases,
/// without the dummy chunk's.
const CHUNK_TABLES_SQL: &str = "SELECT COUNT(*) FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
     AND TABLE_NAME REGEXP '_[0-9]+$' AND TABLE_NAME NOT LIKE CONCAT('%\\_', ?)";

/// How many chunk tables the worker MariaDB at `endpoint` holds (the dummy chunk's, present on
/// every worker whether or not it holds data, not counted).
pub async fn chunk_table_count(endpoint: &str) -> Result<u64, String> {
    let endpoint = Endpoint::parse(endpoint).map_err(|e| e.to_string())?;
    let mut conn = endpoint.connect().await.map_err(|e| e.to_string())?;
    let count: Option<u64> = conn
        .exec_first(CHUNK_TABLES_SQL, (DUMMY_CHUNK.to_string(),))
        .await
        .map_err(|e| reason(&e))?;
    let _ = conn.disconnect().await;
    Ok(count.unwrap_or(0))
}
