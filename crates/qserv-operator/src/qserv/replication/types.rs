//! The requests' and answers' types, as the Qserv ingest API documents them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    pub(super) fn body(&self) -> Value {
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

    /// `LOAD DATA`'s default (and the worker service's): tab separated, `\` escapes, no
    /// quotes, `\N` for NULL; what [`crate::load::tsv`] writes.
    pub fn load_data_default() -> Self {
        CsvDialect {
            fields_terminated_by: "\t".into(),
            fields_enclosed_by: String::new(),
            fields_escaped_by: "\\".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
