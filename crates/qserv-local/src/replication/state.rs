//! What the stand-in knows: its workers, the databases and tables registered, the
//! transactions, the injected faults; and how a database reads in its replies.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::contract::Refusal;
use super::tables::{Charset, Sql};
use qserv_operator::qserv::replication::Column;

/// A worker as the running stand-in knows it: listed by the registry, the controller's
/// configuration, or both; serving while its pod runs.
pub(crate) struct WorkerEntry {
    pub name: String,
    /// The FQDN it registered from (`svc-host.name`, `Q@2026.3.3-rc1:src/replica/registry/Registry.cc:112-122`).
    pub host: String,
    pub mysql_url: String,
    pub sql: Arc<Sql>,
    /// Its last ingest port; nothing listens there once it stopped serving.
    pub http_port: u16,
    pub stop: tokio::sync::watch::Sender<bool>,
    /// In the controller's configuration (`config.workers`): chunks go to it, enabled.
    pub configured: bool,
    /// In the registry: the controller registers it again when it leaves the configuration.
    pub registered: bool,
    /// Its pod runs: the ingest service answers and its MariaDB is there.
    pub serving: bool,
}

impl WorkerEntry {
    /// As `ConfigWorker::toJson` (`Q@2026.3.3-rc1:src/replica/config/ConfigWorker.cc:87-108`),
    /// every host the registered one (`Registry.cc:76-98`), the ports `ConfigurationSchema.cc`'s
    /// defaults but the ingest one, which is the stand-in's.
    pub fn config_json(&self) -> Value {
        let host = json!({"addr": "127.0.0.1", "name": self.host});
        json!({
            "name": self.name, "is-enabled": 1, "is-read-only": 0,
            "svc-host": host, "svc-port": 25000, "fs-host": host, "fs-port": 25001,
            "data-dir": "/qserv/data/mysql", "loader-host": host, "loader-port": 25002,
            "loader-tmp-dir": "/qserv/data/ingest", "exporter-host": host,
            "exporter-port": 25003, "exporter-tmp-dir": "/qserv/data/export",
            "http-loader-host": host, "http-loader-port": self.http_port,
            "http-loader-tmp-dir": "/qserv/data/ingest",
            "qserv-worker": {"host": {"addr": "", "name": ""}, "management-port": 0, "data-port": 0},
        })
    }
}

/// A registered table.
#[derive(Debug, Clone)]
pub(crate) struct TableMeta {
    pub name: String,
    pub partitioned: bool,
    pub director_table: String,
    pub director_key: String,
    pub latitude_key: String,
    pub longitude_key: String,
    pub schema: Vec<Column>,
    pub charset: Charset,
}

impl TableMeta {
    pub fn is_director(&self) -> bool {
        self.partitioned && self.director_table.is_empty()
    }
}

/// A database family: the databases of the same stripes and sub-stripes, queried with the
/// overlap of the first of them (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:229-253`).
#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub name: String,
    pub stripes: u32,
    pub sub_stripes: u32,
    pub overlap: f64,
}

impl Family {
    /// As `DatabaseFamilyInfo::toJson` (`Q@2026.3.3-rc1:src/replica/config/ConfigDatabaseFamily.cc:56-64`).
    pub fn json(&self) -> Value {
        json!({
            "name": self.name, "min_replication_level": 1, "num_stripes": self.stripes,
            "num_sub_stripes": self.sub_stripes, "overlap": self.overlap,
        })
    }
}

/// A registered database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub name: String,
    /// Its family's name; stripes, sub-stripes and overlap are the family's.
    pub family: String,
    pub stripes: u32,
    pub sub_stripes: u32,
    pub overlap: f64,
    pub published: bool,
    pub tables: Vec<TableMeta>,
    /// chunk → worker name, fixed once allocated.
    pub chunks: BTreeMap<u32, String>,
    /// table → row counters (`/ingest/table-stats`).
    pub counters: BTreeMap<String, Vec<serde_json::Value>>,
}

impl Db {
    pub fn table(&self, name: &str) -> Option<&TableMeta> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// A super-transaction.
#[derive(Debug, Clone)]
pub(crate) struct Trans {
    pub id: u32,
    pub database: String,
    pub state: &'static str,
    pub begin_time: u64,
    pub end_time: u64,
    /// table → (rows, overlap rows) loaded.
    pub loaded: BTreeMap<String, (u64, u64)>,
    /// Contributions being loaded now; abort waits for them.
    pub in_flight: usize,
    /// A commit or abort of it is running: another one waits, as the real server serializes
    /// them on a per-transaction mutex (`HttpIngestTransModule.cc:348-354`).
    pub ending: bool,
}

/// Everything the services know; behind a std mutex never held across an await.
#[derive(Default)]
pub(crate) struct Catalog {
    pub families: BTreeMap<String, Family>,
    pub dbs: BTreeMap<String, Db>,
    pub trans: BTreeMap<u32, Trans>,
    pub next_trans: u32,
    /// (worker, database, final table) created on the worker.
    pub created: HashSet<(String, String, String)>,
    /// (worker, database, final table, transaction) partitions added.
    pub partitions: HashSet<(String, String, String, u32)>,
}

/// Injected failures.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults {
    /// Contributions: HTTP status, how many more (or always).
    pub status: u16,
    pub remaining: usize,
    pub always: bool,
    /// Transaction starts that end `START_FAILED`, commits that end `FINISH_FAILED`.
    pub failed_starts: usize,
    pub failed_commits: usize,
    /// Failures served so far.
    pub served: usize,
}

pub(crate) struct Shared {
    pub auth_key: String,
    pub admin_auth_key: String,
    pub instance_id: String,
    pub czar: Sql,
    pub workers: Mutex<Vec<WorkerEntry>>,
    pub catalog: Mutex<Catalog>,
    pub faults: Mutex<Faults>,
    /// Serializes DDL on the workers (table creation, partitions).
    pub ddl: tokio::sync::Mutex<()>,
}

impl Shared {
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn workers(&self) -> MutexGuard<'_, Vec<WorkerEntry>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (name, sql) of every configured worker whose pod runs (the stand-in's own eager DDL
    /// skips a departed one; Qserv does no DDL on workers there).
    pub fn worker_sqls(&self) -> Vec<(String, Arc<Sql>)> {
        self.workers()
            .iter()
            .filter(|w| w.configured && w.serving)
            .map(|w| (w.name.clone(), w.sql.clone()))
            .collect()
    }

    /// The MariaDB of a configured worker whose pod runs.
    pub fn worker_sql(&self, name: &str) -> Option<Arc<Sql>> {
        self.workers()
            .iter()
            .find(|w| w.name == name && w.configured && w.serving)
            .map(|w| w.sql.clone())
    }

    /// The controller's registry tracker: a worker the registry lists but the configuration
    /// lacks is added (`controller.auto-register-workers`, on in the operator's clusters,
    /// `Q@2026.3.3-rc1:src/replica/contr/Controller.cc:74-90`); one neither lists is forgotten.
    pub fn track_registry(&self) {
        let mut workers = self.workers();
        for w in workers.iter_mut() {
            if w.registered {
                w.configured = true;
            }
        }
        workers.retain(|w| w.registered || w.configured);
    }

    /// Takes one injected start (`true`) or commit (`false`) failure, if one is pending.
    pub fn take_transaction_fault(&self, start: bool) -> bool {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let pending = if start {
            &mut f.failed_starts
        } else {
            &mut f.failed_commits
        };
        if *pending == 0 {
            return false;
        }
        *pending -= 1;
        f.served += 1;
        true
    }

    /// Takes one injected failure, if any is pending.
    pub fn take_fault(&self) -> Option<u16> {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        if f.always || f.remaining > 0 {
            f.remaining = f.remaining.saturating_sub(1);
            f.served += 1;
            return Some(f.status);
        }
        None
    }
}

/// A database as the replies of `GET /replication/config` and `/ingest/database` show it
/// (`DatabaseInfo::toJson`, `Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:120-132`:
/// the partitioning is the family's, not the database's).
pub(crate) fn db_json(db: &Db) -> Value {
    json!({
        "database": db.name, "family_name": db.family, "is_published": u8::from(db.published),
        "tables": db.tables.iter().map(|t| json!({
            "name": t.name, "database": db.name, "is_partitioned": u8::from(t.partitioned),
            "is_director": u8::from(t.is_director()), "director_table": t.director_table,
            "director_key": t.director_key, "latitude_key": t.latitude_key,
            "longitude_key": t.longitude_key,
            "charset_name": t.charset.charset, "collation_name": t.charset.collation,
            "columns": std::iter::once(Column::new("qserv_trans_id", "INT UNSIGNED NOT NULL"))
                .chain(t.schema.iter().cloned()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The refusal of a request naming a database the stand-in does not know.
pub(crate) fn unknown_db(name: &str) -> Refusal {
    Refusal::new(format!("unknown database '{name}'"))
}

/// Milliseconds since the epoch, as Qserv reports times.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
