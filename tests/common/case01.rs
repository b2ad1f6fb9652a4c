//! qserv_testdata case01 on two throwaway MariaDB servers, as the result checks see it: the
//! reference loaded by the reference loader into `qservTest_case01_mysql`, the "Qserv" side in
//! `qservTest_case01_qserv` with Object and Source as our partitioner writes them (chunk files
//! with `chunkId`/`subChunkId`, loaded as they are) and the other tables like the reference.
//! Shared by the check test binaries (each loads its own pair once).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use qserv_operator::api::catalog_ingest::CatalogIngest;
use qserv_operator::catalog::{
    CsvOptions, DEFAULT_BATCH_ROWS, InputFormat, SchemaFile, SelectionSpec, schema_from_ddl_file,
};
use qserv_operator::check::{CheckPlan, CheckReport, CheckResult, CheckTarget, reference_database};
use qserv_operator::db::Endpoint;
use qserv_operator::load::{Input, ReferenceLoad, load_reference};
use qserv_operator::partition::{ConfigStore, Options, PartitionConfig, partition_files};
use tokio::sync::OnceCell;

use super::MariaDb;

/// The Qserv database, as the example CatalogIngest and case01's `database.json` name it.
pub const DB: &str = "qservTest_case01_qserv";
/// Its reference copy, as qserv_testdata names it.
pub const REF_DB: &str = "qservTest_case01_mysql";
/// Every case01 table, as the example CatalogIngest ingests them.
pub const TABLES: [&str; 9] = [
    "Object",
    "Source",
    "Filter",
    "LeapSeconds",
    "Logs",
    "RefSrcMatch",
    "Science_Ccd_Exposure",
    "SimRefObject",
    "sdqa_Metric",
];
pub const PARTITIONED: [&str; 2] = ["Object", "Source"];

pub fn case01() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01")
}

pub struct Servers {
    pub qserv: MariaDb,
    pub reference: MariaDb,
    /// Rows the reference loader read per table.
    pub rows_read: BTreeMap<String, u64>,
}

/// Both servers with case01 loaded (once per test binary).
pub async fn servers() -> &'static Servers {
    static SERVERS: OnceCell<Servers> = OnceCell::const_new();
    SERVERS
        .get_or_init(|| async {
            let (qserv, reference) = (MariaDb::start(), MariaDb::start());
            let mut rows_read = BTreeMap::new();
            for table in TABLES {
                let n = load_tsv(&reference.url(), REF_DB, table).await;
                rows_read.insert(table.to_string(), n);
                if PARTITIONED.contains(&table) {
                    load_partitioned(&qserv, table).await;
                } else {
                    load_tsv(&qserv.url(), DB, table).await;
                }
            }
            Servers {
                qserv,
                reference,
                rows_read,
            }
        })
        .await
}

/// Loads `case01/data/<table>.tsv.gz` with its schema; returns the rows read.
pub async fn load_tsv(url: &str, db: &str, table: &str) -> u64 {
    let data = case01().join("data");
    // Science_Ccd_Exposure's MySQL 5.1 DDL has a zero-date default: the loader takes it.
    let ddl = data.join(format!("schema/{table}.schema"));
    let mut options = CsvOptions::tsv();
    options.schema = Some(Arc::new(schema_from_ddl_file(&ddl, Some(table)).unwrap()));
    let input = Input {
        files: vec![data.join(format!("{table}.tsv.gz"))],
        format: InputFormat::Csv(options),
        selection: SelectionSpec {
            table: table.into(),
            ..Default::default()
        },
        batch_rows: DEFAULT_BATCH_ROWS,
    };
    let mut load = ReferenceLoad::new(db, table, input);
    load.schema_file = Some(SchemaFile::new(ddl, table));
    load_reference(&Endpoint::parse(url).unwrap(), &load, None)
        .await
        .unwrap_or_else(|err| panic!("loading {db}.{table}: {err}"))
        .rows
}

/// Partitions `table` with case01's own sph-partition configs and loads the chunk files (not
/// the overlap) into a table of the schema plus `chunkId`, `subChunkId`, as Qserv stores it.
pub async fn load_partitioned(server: &MariaDb, table: &str) {
    let mut store = ConfigStore::default();
    let configs = case01().join("data/partition");
    store.add_file(&configs.join("common.json")).unwrap();
    store
        .add_file(&configs.join(format!("{table}.json")))
        .unwrap();
    let config = PartitionConfig::from_store(&store).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(table);
    let opts = Options::new(
        vec![case01().join(format!("data/{table}.tsv.gz"))],
        out.clone(),
    );
    partition_files(&config, &opts).unwrap();

    // The schema's table, made by the loader in a scratch database, copied with the chunk columns.
    let scratch = format!("scratch_{table}");
    load_tsv(&server.url(), &scratch, table).await;
    let mut conn = Conn::from_url(server.url()).await.unwrap();
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {DB}"),
        format!("CREATE TABLE {DB}.{table} LIKE {scratch}.{table}"),
        format!(
            "ALTER TABLE {DB}.{table} ADD COLUMN chunkId INT NOT NULL, \
             ADD COLUMN subChunkId INT NOT NULL"
        ),
        format!("DROP DATABASE {scratch}"),
    ] {
        conn.query_drop(&sql).await.unwrap();
    }
    let mut chunk_files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("chunk_")
                && name.ends_with(".txt")
                && !name.contains("overlap")
                && !name.contains("index")
        })
        .collect();
    chunk_files.sort();
    assert!(!chunk_files.is_empty(), "{table}: no chunk files");
    for file in chunk_files {
        // case01 common.json: out.csv delimiter ',', escape '\', null '\N'.
        conn.query_drop(format!(
            "LOAD DATA INFILE '{}' INTO TABLE {DB}.{table} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY ',' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
            file.display()
        ))
        .await
        .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        assert_eq!(conn.get_warnings(), 0, "{}: warnings", file.display());
    }
}

/// The case01 CatalogIngest example (Object director, Source child, Filter) with its checks.
pub fn case01_ingest() -> CatalogIngest {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml");
    serde_norway::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

pub fn target(s: &Servers, db: &str, local: bool) -> CheckTarget {
    CheckTarget::parse(&s.qserv.url(), Some(&s.reference.url()), db, local).unwrap()
}

pub fn plan(s: &Servers, queries: bool) -> CheckPlan {
    let mut plan = CheckPlan::from_spec(&case01_ingest().spec)
        .unwrap()
        .with_rows_read(&s.rows_read);
    if queries {
        plan.queries = Some(case01().join("queries"));
    }
    plan
}

pub fn check<'a>(report: &'a CheckReport, name: &str) -> &'a CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#?}"))
}

pub fn failures(report: &CheckReport) -> Vec<&CheckResult> {
    report.checks.iter().filter(|c| !c.passed).collect()
}

/// A copy of the case01 database under `name` on Qserv, and under its reference name
/// ([`reference_database`]) on the reference; returns a connection to the copy on the Qserv
/// side for tampering.
pub async fn copy(s: &Servers, name: &str) -> Conn {
    let reference_name = reference_database(name);
    for (server, from, to) in [
        (&s.qserv, DB, name),
        (&s.reference, REF_DB, reference_name.as_str()),
    ] {
        let mut conn = Conn::from_url(server.url()).await.unwrap();
        conn.query_drop(format!("CREATE DATABASE {to}"))
            .await
            .unwrap();
        for table in TABLES {
            conn.query_drop(format!("CREATE TABLE {to}.{table} LIKE {from}.{table}"))
                .await
                .unwrap();
            conn.query_drop(format!(
                "INSERT INTO {to}.{table} SELECT * FROM {from}.{table}"
            ))
            .await
            .unwrap();
        }
    }
    let mut conn = Conn::from_url(s.qserv.url()).await.unwrap();
    conn.query_drop(format!("USE {name}")).await.unwrap();
    conn
}

pub async fn one<T: mysql_async::prelude::FromRow + Send + 'static>(
    conn: &mut Conn,
    sql: &str,
) -> T {
    conn.query_first(sql)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{sql}: no row"))
}
