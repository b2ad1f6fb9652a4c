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
    /// The table's character set and collation (`charset_name`, `collation_name`, API 49;
    /// unset: the server's `latin1` / `latin1_general_ci`,
    /// `Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:536-537`).
    #[serde(default)]
    pub charset_name: Option<String>,
    #[serde(default)]
    pub collation_name: Option<String>,
}

/// What our own readers write (UTF-8 text): the table and its contributions in `utf8mb4`.
pub const UTF8_CHARSET: &str = "utf8mb4";
/// A collation MySQL and every MariaDB Qserv ships have for `utf8mb4`.
pub const UTF8_COLLATION: &str = "utf8mb4_general_ci";

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
        if let Some(c) = &self.charset_name {
            set("charset_name", json!(c));
        }
        if let Some(c) = &self.collation_name {
            set("collation_name", json!(c));
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

    /// Neither `FINISHED` nor `ABORTED`: blocks publishing
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:311-316`).
    pub fn is_unsettled(&self) -> bool {
        !matches!(self.state.as_str(), "FINISHED" | "ABORTED")
    }

    /// A state the server lets go to `IS_ABORTING`
    /// (`Q@2026.3.3-rc1:src/replica/services/DatabaseServices.cc:184-203`): everything
    /// unsettled except `IS_ABORTING` itself, which can only be waited for.
    pub fn can_abort(&self) -> bool {
        self.is_unsettled() && self.state != "IS_ABORTING"
    }
}

/// Rows a transaction loaded into one table (`contrib.summary.table.<name>` of
/// `GET /ingest/trans/:id?contrib=1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLoaded {
    pub rows: u64,
    pub overlap_rows: u64,
}

/// Dialect of a contribution file (`fields_terminated_by` etc. of `/ingest/csv`), as the
/// characters the file uses; [`super::rules::dialect_tokens`] turns them into what the
/// service takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDialect {
    pub fields_terminated_by: String,
    /// Empty: fields are not enclosed.
    pub fields_enclosed_by: String,
    pub fields_escaped_by: String,
    pub lines_terminated_by: String,
    /// The file's character set (`charset_name`; the worker's default is `latin1`,
    /// `Q@2026.3.3-rc1:src/replica/config/ConfigurationSchema.cc:411-413`).
    pub charset_name: String,
}

impl CsvDialect {
    /// The dialect our partitioner writes with `dialect` (`out.csv.*`), UTF-8 text.
    pub fn of_partitioner(dialect: &crate::partition::csv::Dialect) -> Self {
        let text = |b: Option<u8>| b.map(|b| (b as char).to_string()).unwrap_or_default();
        CsvDialect {
            fields_terminated_by: text(Some(dialect.delimiter)),
            fields_enclosed_by: text(dialect.quote),
            fields_escaped_by: text(dialect.escape),
            lines_terminated_by: "\n".into(),
            charset_name: UTF8_CHARSET.into(),
        }
    }

    /// `LOAD DATA`'s default (and the worker service's): tab separated, `\` escapes, no
    /// quotes, `\N` for NULL; what [`crate::load::tsv`] writes (UTF-8).
    pub fn load_data_default() -> Self {
        CsvDialect {
            fields_terminated_by: "\t".into(),
            fields_enclosed_by: String::new(),
            fields_escaped_by: "\\".into(),
            lines_terminated_by: "\n".into(),
            charset_name: UTF8_CHARSET.into(),
        }
    }

    /// qserv_testdata's `out.csv` (`partition/common.json`): `,` separated, `\` escapes, no
    /// quotes, `\N` for NULL; `latin1`, as Qserv's own integration tests load it (they send
    /// no `charset_name`).
    pub fn qserv_testdata() -> Self {
        CsvDialect {
            fields_terminated_by: ",".into(),
            fields_enclosed_by: String::new(),
            fields_escaped_by: "\\".into(),
            lines_terminated_by: "\n".into(),
            charset_name: "latin1".into(),
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

/// What the worker reported for a contribution (`contrib` of the response,
/// `Q@2026.3.3-rc1:src/replica/ingest/TransactionContrib.cc:126-187`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionResult {
    pub num_rows: u64,
    pub num_rows_loaded: u64,
    pub num_bytes: u64,
    /// Warnings `LOAD DATA` raised (a value cut, a field missing, text in a number column).
    pub num_warnings: u64,
    /// The first of them the worker kept (`warnings[].message`, up to its
    /// `loader-max-warnings`).
    pub warnings: Vec<String>,
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
    /// `family_name` (`Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:120-132`).
    pub family: String,
    pub is_published: bool,
    pub tables: Vec<String>,
}

/// A database family (`database_families[]` of `GET /replication/config`,
/// `Q@2026.3.3-rc1:src/replica/config/ConfigDatabaseFamily.cc:56-64`): the databases
/// partitioned alike. A new database joins the family of its stripes and sub-stripes and is
/// queried with the family's overlap, not its own (`HttpIngestModule.cc:229-253`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseFamily {
    pub name: String,
    pub num_stripes: u32,
    pub num_sub_stripes: u32,
    pub overlap: f64,
}

/// A worker as `config.workers[]` of `GET /replication/config` describes it
/// (`ConfigWorker::toJson`, `Q@2026.3.3-rc1:src/replica/config/ConfigWorker.cc:87-108`).
/// `name` is the worker's identity, a UUID the worker reads from its own MariaDB
/// (`qservw_worker.Id`, filled with `UUID()` by the worker's schema migration,
/// `python/lsst/qserv/schema/migrations/worker/migrate-None-to-3.sql.jinja:59`;
/// `src/replica/apps/WorkerApp.cc:93-108`), not the pod's name: a pod is found by
/// `svc_host_name`, the FQDN it registered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub name: String,
    pub is_enabled: bool,
    pub is_read_only: bool,
    /// `svc-host.name`: `util::get_current_host_fqdn(true)` of the worker's container
    /// (`Q@2026.3.3-rc1:src/replica/registry/Registry.cc:112-122`, copied into the
    /// configuration at `Registry.cc:76-81`), e.g.
    /// `qserv-ci-worker-2.qserv-ci-worker.default.svc.cluster.local`; several canonical names
    /// are joined with `,` (`src/util/common.cc:68-78`).
    pub svc_host_name: String,
    pub svc_host_addr: String,
    /// `http-loader-host` and `http-loader-port`: where its `/ingest/csv` service listens.
    pub http_loader_host_addr: String,
    pub http_loader_port: u16,
}

impl WorkerInfo {
    /// The short host names the worker registered from: the first label of each canonical
    /// name, which for a StatefulSet pod is the pod's name (its `hostname`).
    pub fn short_host_names(&self) -> impl Iterator<Item = &str> {
        self.svc_host_name
            .split(',')
            .map(|fqdn| fqdn.trim().split('.').next().unwrap_or_default())
            .filter(|h| !h.is_empty())
    }
}

/// What `GET /replication/config` says about databases and workers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicationConfig {
    pub databases: Vec<DatabaseInfo>,
    pub families: Vec<DatabaseFamily>,
    pub workers: Vec<WorkerInfo>,
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
            charset_name: Some(UTF8_CHARSET.into()),
            collation_name: None,
        };
        let b = reg.body();
        assert_eq!(b["is_partitioned"], 1);
        assert_eq!(b["director_table"], "Object");
        assert_eq!(b["director_key"], "objectId");
        assert_eq!(b["latitude_key"], "");
        assert_eq!(b["schema"][0]["type"], "BIGINT NOT NULL");
        assert_eq!(b["charset_name"], "utf8mb4");
        assert!(
            b.get("collation_name").is_none(),
            "unset: the server's default"
        );
    }
}
