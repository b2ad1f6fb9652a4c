//! The replication ingest client and workflow against the contract-level stand-in, on real
//! MariaDB servers (two workers and a czar): case01 Object (director) and Source (child)
//! partitioned by our partitioner, ingested, counted chunk by chunk in the workers and read
//! through the czar; every contract violation refused with its documented error; injected
//! 5xx failures retried or ending in an aborted, unpublished transaction; a client killed
//! mid-ingest and run again ending with exact counts.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::MariaDb;
use mysql_async::prelude::Queryable;
use qserv_local::replication::{ReplicationStandIn, StandInConfig, StandInWorker};
use qserv_operator::api::catalog_ingest::TableRole;
use qserv_operator::load::ingest::{
    IngestError, IngestOptions, IngestPlan, Outcome, TablePlan, run_ingest,
};
use qserv_operator::partition::{ConfigStore, Options, PartitionConfig, partition_files};
use qserv_operator::qserv::replication::{
    Column, Contribution, CsvDialect, ReplicationClient, ReplicationError, RetryPolicy, TableKind,
    TableRegistration,
};
use serde_json::{Value, json};

use common::standin::{ADMIN, AUTH};
const PARTITIONED: [&str; 2] = ["Object", "Source"];

fn case01() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01/data")
}

/// Two workers and a czar, shared by every test of this binary (each test has its own
/// database and its own stand-in).
fn servers() -> &'static [MariaDb; 3] {
    static SERVERS: OnceLock<[MariaDb; 3]> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let handles: Vec<_> = (0..3).map(|_| std::thread::spawn(MariaDb::start)).collect();
        let mut v: Vec<MariaDb> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let c = v.pop().unwrap();
        let b = v.pop().unwrap();
        let a = v.pop().unwrap();
        [a, b, c]
    })
}

/// case01 Object and Source partitioned once with the dataset's own configs.
fn chunk_dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let part = |table: &str| {
            let mut store = ConfigStore::default();
            store
                .add_file(&case01().join("partition/common.json"))
                .unwrap();
            store
                .add_file(&case01().join(format!("partition/{table}.json")))
                .unwrap();
            let config = PartitionConfig::from_store(&store).unwrap();
            let out = root.join(table);
            let opts = Options::new(vec![case01().join(format!("{table}.tsv.gz"))], out.clone());
            partition_files(&config, &opts).unwrap();
            out
        };
        (part("Object"), part("Source"))
    })
}

async fn standin() -> ReplicationStandIn {
    let [w0, w1, czar] = servers();
    common::standin::start([w0, w1], czar).await
}

fn client(standin: &ReplicationStandIn) -> ReplicationClient {
    let mut c = ReplicationClient::new(&standin.controller_url(), AUTH, ADMIN).unwrap();
    c.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    c
}

/// The dataset's own `/ingest/table` schema (`ingest/<table>.json`).
fn schema(table: &str) -> Vec<Column> {
    let text = std::fs::read_to_string(case01().join(format!("ingest/{table}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["schema"].clone()).unwrap()
}

fn plan(database: &str) -> IngestPlan {
    let (object_dir, source_dir) = chunk_dirs();
    let table = |name: &str, kind: TableKind, dir: &PathBuf| TablePlan {
        registration: TableRegistration {
            database: database.into(),
            table: name.into(),
            kind,
            schema: schema(name),
            charset_name: None,
            collation_name: None,
        },
        chunk_dirs: vec![dir.clone()],
        dialect: CsvDialect::qserv_testdata(),
    };
    IngestPlan {
        database: database.into(),
        num_stripes: 85,
        num_sub_stripes: 12,
        overlap: 0.01667,
        // The child first on purpose: the workflow registers directors first.
        tables: vec![
            table(
                "Source",
                TableKind::Child {
                    director_table: "Object".into(),
                    key: "objectId".into(),
                    latitude_key: Some("declObject".into()),
                    longitude_key: Some("raObject".into()),
                },
                source_dir,
            ),
            table(
                "Object",
                TableKind::Director {
                    key: "objectId".into(),
                    latitude_key: "decl_PS".into(),
                    longitude_key: "ra_PS".into(),
                },
                object_dir,
            ),
        ],
    }
}

/// Lines of every chunk file of a table directory: (chunk, overlap) → lines.
fn file_lines(dir: &Path) -> BTreeMap<(u32, bool), u64> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix("chunk_")
            .and_then(|r| r.strip_suffix(".txt"))
        else {
            continue;
        };
        let (id, overlap) = match rest.strip_suffix("_overlap") {
            Some(id) => (id, true),
            None => (rest, false),
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        out.insert(
            (id, overlap),
            bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        );
    }
    out
}

/// MySQL partitions of a table, in order.
async fn partitions(server: &MariaDb, db: &str, table: &str) -> Vec<String> {
    let mut c = conn(server).await;
    let names: Vec<Option<String>> = c
        .exec(
            "SELECT PARTITION_NAME FROM information_schema.PARTITIONS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY PARTITION_ORDINAL_POSITION",
            (db, table),
        )
        .await
        .unwrap();
    names.into_iter().flatten().collect()
}

async fn conn(server: &MariaDb) -> mysql_async::Conn {
    mysql_async::Conn::from_url(server.url()).await.unwrap()
}

/// Rows of every base table of `db` on the workers: table name → rows (summed over workers;
/// a chunk table exists on one worker only).
async fn worker_rows(db: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for w in &servers()[..2] {
        let mut c = conn(w).await;
        let tables: Vec<String> = c
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
                (db,),
            )
            .await
            .unwrap();
        for t in tables {
            let n: u64 = c
                .query_first(format!("SELECT COUNT(*) FROM `{db}`.`{t}`"))
                .await
                .unwrap()
                .unwrap();
            *out.entry(t).or_default() += n;
        }
    }
    out
}

fn total(rows: &BTreeMap<String, u64>, prefix: &str) -> u64 {
    rows.iter()
        .filter(|(t, _)| {
            t.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('_'))
        })
        .map(|(_, n)| n)
        .sum()
}

/// Column `index` of every row of a gzipped case01 TSV, read independently of our readers
/// (MySQL escaping: a backslash escapes the next byte, so escaped tabs and newlines in binary
/// fields do not split).
fn tsv_column(file: &str, index: usize) -> Vec<String> {
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(case01().join(file)).unwrap()),
        &mut data,
    )
    .unwrap();
    let (mut out, mut field, mut value, mut escaped) = (Vec::new(), 0, Vec::new(), false);
    for b in data {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'\t') => field += 1,
            (false, b'\n') => {
                out.push(String::from_utf8(std::mem::take(&mut value)).unwrap());
                field = 0;
            }
            (false, b) if field == index => value.push(b),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case01_ingests_exactly_and_the_czar_reads_it() {
    let standin = standin().await;
    let client = client(&standin);
    let db = "case01_full";
    let t = Instant::now();
    let summary = run_ingest(&client, &plan(db), &IngestOptions::default())
        .await
        .unwrap();
    let elapsed = t.elapsed();
    println!(
        "case01 ingest: {elapsed:?}, phases {:?}, contributions {:?}",
        summary.seconds,
        summary
            .tables
            .iter()
            .map(|t| (&t.table, t.contributions, t.bytes))
            .collect::<Vec<_>>()
    );
    assert_eq!(summary.outcome, Outcome::Ingested);

    // Per chunk: the worker tables hold exactly the chunk files' lines.
    let (object_dir, source_dir) = chunk_dirs();
    let rows = worker_rows(db).await;
    for (table, dir) in [("Object", object_dir), ("Source", source_dir)] {
        let files = file_lines(dir);
        for (&(chunk, overlap), &lines) in &files {
            let name = if overlap {
                format!("{table}FullOverlap_{chunk}")
            } else {
                format!("{table}_{chunk}")
            };
            assert_eq!(rows.get(&name), Some(&lines), "{name}");
        }
        let s = summary.tables.iter().find(|s| s.table == table).unwrap();
        let chunk_rows: u64 = files.iter().filter(|(k, _)| !k.1).map(|(_, n)| n).sum();
        let overlap_rows: u64 = files.iter().filter(|(k, _)| k.1).map(|(_, n)| n).sum();
        assert_eq!(
            (s.rows, s.overlap_rows),
            (chunk_rows, overlap_rows),
            "{table}"
        );
        assert_eq!(s.published_rows, Some(chunk_rows), "{table} row counters");
        assert_eq!(
            s.chunks,
            files.keys().filter(|k| !k.1).count() as u64,
            "{table}"
        );
    }
    assert_eq!(total(&rows, "Object"), 88);
    assert_eq!(total(&rows, "Source"), 3339);
    assert_eq!(
        rows.get("Object_1234567890"),
        Some(&0),
        "dummy chunk on every worker"
    );
    // Both workers got chunks.
    for w in &servers()[..2] {
        let mut c = conn(w).await;
        let n: u64 = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
                 AND TABLE_NAME LIKE 'Object\\_%' AND TABLE_NAME <> 'Object_1234567890'",
                (db,),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "every worker holds some Object chunks");
    }

    // Through the czar: counts and a join, against an independent reading of the TSVs.
    let objects: HashSet<String> = tsv_column("Object.tsv.gz", 0).into_iter().collect();
    let sources = tsv_column("Source.tsv.gz", 3);
    let joined = sources.iter().filter(|id| objects.contains(*id)).count() as u64;
    let mut czar = conn(&servers()[2]).await;
    let n: u64 = czar
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.Object"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 88);
    let n: u64 = czar
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.Source"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 3339);
    let t = Instant::now();
    let n: u64 = czar
        .query_first(format!(
            "SELECT COUNT(*) FROM `{db}`.Object o JOIN `{db}`.Source s ON o.objectId = s.objectId"
        ))
        .await
        .unwrap()
        .unwrap();
    println!("czar join Object x Source: {:?}", t.elapsed());
    assert_eq!(n, joined);
    assert!(joined > 0);
    let id = "430213989148129";
    let n: u64 = czar
        .query_first(format!(
            "SELECT COUNT(*) FROM `{db}`.Source WHERE objectId = {id}"
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, sources.iter().filter(|s| *s == id).count() as u64);
    // The director index: one entry per object.
    let n: u64 = czar
        .query_first(format!("SELECT COUNT(*) FROM qservMeta.`{db}__Object`"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 88);
    // ... each at the object's own chunk and sub-chunk, from every worker's share.
    let n: u64 = czar
        .query_first(format!(
            "SELECT COUNT(*) FROM qservMeta.`{db}__Object` i JOIN `{db}`.Object o \
             ON o.objectId = i.objectId AND o.chunkId = i.chunkId AND o.subChunkId = i.subChunkId"
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 88);

    // A second run finds it published and does nothing.
    let again = run_ingest(&client, &plan(db), &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyPublished);
    assert_eq!(total(&worker_rows(db).await, "Object"), 88);
    standin.shutdown().await;
}

/// A raw request, to break the contract in ways the client never would.
async fn raw(method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "refusals are HTTP 200 with success 0");
    resp.json().await.unwrap()
}

fn refused(v: &Value) -> String {
    assert_eq!(v["success"], 0, "{v}");
    assert!(
        v.get("error_ext").is_some() && v.get("warning").is_some(),
        "{v}"
    );
    v["error"].as_str().unwrap().to_string()
}

fn object_contribution<'a>(
    transaction_id: u32,
    chunk: u32,
    file: &'a Path,
    dialect: &'a CsvDialect,
) -> Contribution<'a> {
    Contribution {
        transaction_id,
        table: "Object",
        chunk,
        overlap: false,
        file,
        dialect,
    }
}

fn qserv_error(e: ReplicationError) -> String {
    e.qserv_error()
        .unwrap_or_else(|| panic!("not a Qserv refusal: {e}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_violations_are_refused_with_the_documented_error() {
    let standin = standin().await;
    let client = client(&standin);
    let base = standin.controller_url();
    let db = "case01_contract";
    let body =
        json!({"database": db, "num_stripes": 85, "num_sub_stripes": 12, "overlap": 0.01667});

    let mut no_key = body.clone();
    no_key["version"] = json!(55);
    let v = raw(
        reqwest::Method::POST,
        &format!("{base}/ingest/database"),
        Some(no_key.clone()),
    )
    .await;
    assert!(
        refused(&v)
            .contains("none of the authorization keys 'auth_key' or 'admin_auth_key' was found")
    );
    no_key["auth_key"] = json!("wrong");
    let v = raw(
        reqwest::Method::POST,
        &format!("{base}/ingest/database"),
        Some(no_key.clone()),
    )
    .await;
    assert!(refused(&v).contains("authorization key 'auth_key' in the request doesn't match"));
    no_key["auth_key"] = json!(AUTH);
    // The stand-in's own range, per endpoint (BaseModule.cc:57-89): _addDatabase takes 12..=55.
    for version in [11, 56] {
        no_key["version"] = json!(version);
        let v = raw(
            reqwest::Method::POST,
            &format!("{base}/ingest/database"),
            Some(no_key.clone()),
        )
        .await;
        assert_eq!(
            refused(&v),
            format!(
                "The requested version {version} of the API is not in the range supported by the \
                 service."
            )
        );
        assert_eq!(
            v["error_ext"],
            json!({"min_version": 12, "max_version": 55})
        );
    }
    // A missing version passes (Qserv only warns): this request fails on its overlap instead.
    no_key.as_object_mut().unwrap().remove("version");
    no_key["overlap"] = json!(-1.0);
    let v = raw(
        reqwest::Method::POST,
        &format!("{base}/ingest/database"),
        Some(no_key),
    )
    .await;
    assert_eq!(refused(&v), "overlap can't have a negative value");
    let v = raw(reqwest::Method::GET, &format!("{base}/meta/version"), None).await;
    assert_eq!(v["success"], 1, "/meta/version checks no version: {v}");
    assert_eq!(client.version().await.unwrap(), 55);
    assert_eq!(client.check_server_version().await.unwrap(), 55);

    // Order: tables need their database, children their director.
    let p = plan(db);
    let (source, object) = (&p.tables[0].registration, &p.tables[1].registration);
    let e = client.register_table(object).await.unwrap_err();
    assert_eq!(qserv_error(e), format!("unknown database '{db}'"));
    client.register_database(db, 85, 12, 0.01667).await.unwrap();
    let e = client.register_table(source).await.unwrap_err();
    assert!(qserv_error(e).contains(
        "non-existing director table referenced database='' table='Object' in the dependent \
             table definition"
    ));
    client.register_table(object).await.unwrap();
    client.register_table(source).await.unwrap();

    // Transactions and chunks.
    let e = client.end_transaction(999, true).await.unwrap_err();
    assert_eq!(qserv_error(e), "unknown transaction id=999");
    let e = client.locate_chunk(999, 6630).await.unwrap_err();
    assert_eq!(qserv_error(e), "unknown transaction id=999");
    let e = client
        .locate_regular(json!({"transaction_id": 999}))
        .await
        .unwrap_err();
    assert_eq!(qserv_error(e), "unknown transaction id=999");
    let id = client.start_transaction(db).await.unwrap();
    // Regular tables go to every worker (GET with the transaction in the body).
    let everywhere = client
        .locate_regular(json!({"transaction_id": id}))
        .await
        .unwrap();
    let mut names: Vec<String> = everywhere.iter().map(|l| l.worker.clone()).collect();
    names.sort();
    assert_eq!(names, standin.worker_names());
    let e = client.locate_chunk(id, 99_999_999).await.unwrap_err();
    assert_eq!(qserv_error(e), "this chunk number is not valid");
    let (object_dir, _) = chunk_dirs();
    let (&(chunk, _), _) = file_lines(object_dir).iter().find(|(k, _)| !k.1).unwrap();
    let file = &object_dir.join(format!("chunk_{chunk}.txt"));
    let dialect = CsvDialect::qserv_testdata();
    let contribution = |id: u32, file| object_contribution(id, chunk, file, &dialect);
    let right = client.locate_chunk(id, chunk).await.unwrap();
    assert_eq!(
        client.locate_chunk(id, chunk).await.unwrap(),
        right,
        "allocation is stable"
    );
    let other_name = standin
        .worker_names()
        .into_iter()
        .find(|w| *w != right.worker)
        .unwrap();
    let other_url = standin.worker_url(&other_name).unwrap();
    let port: u16 = other_url.rsplit(':').next().unwrap().parse().unwrap();
    let wrong = qserv_operator::qserv::replication::ChunkLocation {
        worker: other_name.clone(),
        http_host: "127.0.0.1".into(),
        http_port: port,
    };
    let e = client
        .send_contribution(&wrong, &contribution(id, file))
        .await
        .unwrap_err();
    assert_eq!(
        qserv_error(e),
        format!(
            "chunk {chunk} of database '{db}' is allocated to worker '{}', not to worker '{other_name}'",
            right.worker
        )
    );
    // A chunk never allocated.
    let mut unallocated = contribution(id, file);
    unallocated.chunk = chunk + 1;
    let e = client
        .send_contribution(&right, &unallocated)
        .await
        .unwrap_err();
    assert!(qserv_error(e).contains("was not allocated: ask POST /ingest/chunk first"));
    // A table the database does not have.
    let mut unknown = contribution(id, file);
    unknown.table = "Nope";
    let e = client
        .send_contribution(&right, &unknown)
        .await
        .unwrap_err();
    assert_eq!(
        qserv_error(e),
        format!("unknown table 'Nope' in database '{db}'")
    );
    // A service that does not exist: 404, before any other check.
    let resp = reqwest::Client::new()
        .post(format!("{base}/ingest/regular"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(refused(&v), "no such service: /ingest/regular");
    // Malformed rows are not refused: LOAD DATA loads them with warnings, which the worker
    // reports (TransactionContrib.cc:176-185). In a transaction of their own, then aborted.
    let bad_trans = client.start_transaction(db).await.unwrap();
    let bad = tempfile::NamedTempFile::new().unwrap();
    // The first row's leading fields are plain numbers; its last ones may be binary.
    let data = std::fs::read(file).unwrap();
    let good_line = &data[..=data.iter().position(|&b| b == b'\n').unwrap()];
    let last_comma = good_line.iter().rposition(|&b| b == b',').unwrap();
    let short_line = [&good_line[..last_comma], b"\n"].concat();
    let first_comma = good_line.iter().position(|&b| b == b',').unwrap();
    let bad_number = [b"not-a-number", &good_line[first_comma..]].concat();
    std::fs::write(bad.path(), [good_line, &short_line, &bad_number].concat()).unwrap();
    let r = client
        .send_contribution(&right, &contribution(bad_trans, bad.path()))
        .await
        .unwrap();
    assert_eq!((r.num_rows, r.num_rows_loaded), (3, 3), "{r:?}");
    assert_eq!(r.num_warnings, 2, "{r:?}");
    assert!(
        r.warnings[0].contains("Row 2 doesn't contain data for all columns"),
        "{r:?}"
    );
    assert!(
        r.warnings[1].contains("'not-a-number' for column") && r.warnings[1].contains("row 3"),
        "{r:?}"
    );
    client.end_transaction(bad_trans, true).await.unwrap();
    assert_eq!(
        worker_rows(db).await.get(&format!("Object_{chunk}")),
        Some(&0)
    );
    // A good one, then publishing with the transaction still open is refused.
    let r = client
        .send_contribution(&right, &contribution(id, file))
        .await
        .unwrap();
    assert_eq!(r.num_rows_loaded, file_lines(object_dir)[&(chunk, false)]);
    // Qserv's super-transaction layout: one MySQL partition per transaction.
    let holder = &servers()[if right.worker == "worker-0" { 0 } else { 1 }];
    let table = format!("Object_{chunk}");
    assert_eq!(
        partitions(holder, db, &table).await,
        ["p0", &format!("p{id}")]
    );
    let e = client.publish_database(db).await.unwrap_err();
    assert_eq!(qserv_error(e), "database has uncommitted transactions");
    // Committed: no more contributions, no second commit.
    client.end_transaction(id, false).await.unwrap();
    let e = client
        .send_contribution(&right, &contribution(id, file))
        .await
        .unwrap_err();
    assert!(qserv_error(e).contains(&format!("transactionId={id} is not active")));
    let e = client.end_transaction(id, true).await.unwrap_err();
    assert_eq!(
        qserv_error(e),
        format!("transaction id={id} can't be ended at this time because of state=FINISHED.")
    );
    client.publish_database(db).await.unwrap();
    assert!(
        partitions(holder, db, &table).await.is_empty(),
        "publishing removes the partitioning"
    );
    let e = client.register_table(object).await.unwrap_err();
    assert_eq!(qserv_error(e), "the database is already published");
    // Deleting a published database needs the admin key.
    let v = raw(
        reqwest::Method::DELETE,
        &format!("{base}/ingest/database/{db}"),
        Some(json!({"version": 55, "auth_key": AUTH})),
    )
    .await;
    assert!(refused(&v).contains("requires 'admin_auth_key'"));
    client.delete_database(db, true).await.unwrap();
    assert!(
        client
            .databases()
            .await
            .unwrap()
            .iter()
            .all(|d| d.database != db)
    );
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contribution_failing_once_with_5xx_is_retried() {
    let standin = standin().await;
    let client = client(&standin);
    let db = "case01_retry";
    standin.faults().fail_contributions(503, 1);
    let summary = run_ingest(&client, &plan(db), &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Ingested);
    assert_eq!(
        standin.faults().injected_failures(),
        1,
        "one contribution failed, then was retried"
    );
    let rows = worker_rows(db).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contributions_always_failing_abort_and_publish_nothing() {
    let standin = standin().await;
    let client = client(&standin);
    let db = "case01_fail";
    standin.faults().fail_all_contributions(500);
    let err = run_ingest(&client, &plan(db), &IngestOptions::default())
        .await
        .unwrap_err();
    let IngestError::Aborted { transaction, cause } = &err else {
        panic!("{err}");
    };
    assert!(cause.to_string().contains("HTTP 500"), "{cause}");
    // HTTP 500 may come after the rows went in: a contribution is never sent twice then.
    assert!(
        (1..=4).contains(&standin.faults().injected_failures()),
        "at most one attempt per contribution in flight: {}",
        standin.faults().injected_failures()
    );
    assert!(
        cause.to_string().contains("not repeated"),
        "the outcome is unknown, said so: {cause}"
    );
    let states: Vec<(u32, String)> = client
        .list_transactions(db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.state))
        .collect();
    assert_eq!(states, vec![(*transaction, "ABORTED".to_string())]);
    let info = client.databases().await.unwrap();
    let d = info.iter().find(|d| d.database == db).unwrap();
    assert!(!d.is_published);
    let rows = worker_rows(db).await;
    assert_eq!(rows.values().sum::<u64>(), 0, "{rows:?}");
    let mut czar = conn(&servers()[2]).await;
    let n: u64 = czar
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "nothing reaches the czar");
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_ingest_then_rerun_ends_with_exact_counts() {
    let standin = standin().await;
    let client = client(&standin);
    let db = "case01_killed";
    let opts = IngestOptions {
        concurrency: 1,
        ..IngestOptions::default()
    };
    let run = {
        let (client, plan, opts) = (client.clone(), plan(db), opts.clone());
        tokio::spawn(async move { run_ingest(&client, &plan, &opts).await })
    };
    // Kill it once some rows are in, well before all are.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        assert!(Instant::now() < deadline, "no contribution arrived");
        let open = client
            .list_transactions(db)
            .await
            .ok()
            .and_then(|ts| ts.into_iter().find(|t| t.is_open()));
        if let Some(t) = open {
            let loaded = client.transaction_rows(t.id).await.unwrap();
            if loaded.values().map(|l| l.rows).sum::<u64>() > 0 {
                break t.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    run.abort();
    assert!(
        run.await.unwrap_err().is_cancelled(),
        "killed before it finished"
    );
    let partial = worker_rows(db).await;
    let partial_total = total(&partial, "Object") + total(&partial, "Source");
    assert!(
        partial_total > 0 && partial_total < 88 + 3339,
        "{partial_total}"
    );

    let summary = run_ingest(&client, &plan(db), &opts).await.unwrap();
    assert_eq!(summary.aborted_transactions, vec![first]);
    assert_eq!(summary.outcome, Outcome::Ingested);
    let rows = worker_rows(db).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));
    let mut czar = conn(&servers()[2]).await;
    let n: u64 = czar
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.Source"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 3339);
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_ingests_qserv_table_jsons_and_writes_the_result_file() {
    let standin = standin().await;
    let db = "case01_cli";
    let (object_dir, source_dir) = chunk_dirs();
    let out = tempfile::tempdir().unwrap();
    let result = out.path().join("result.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"));
    cmd.args(["ingest", "--replication-url", &standin.controller_url()])
        .args(["--database", db, "--layout", "85/12/0.01667"])
        .arg("--table")
        .arg(format!(
            "{}={}",
            case01().join("ingest/Object.json").display(),
            object_dir.display()
        ))
        .arg("--table")
        .arg(format!(
            "{}={}",
            case01().join("ingest/Source.json").display(),
            source_dir.display()
        ))
        .arg("--result-file")
        .arg(&result)
        .env("QSERV_REPL_AUTH_KEY", AUTH)
        .env("QSERV_REPL_ADMIN_AUTH_KEY", ADMIN);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    assert_eq!(v["database"], db);
    assert_eq!(v["outcome"], "ingested");
    let rows = |t: &str| {
        v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == t)
            .unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((rows("Object"), rows("Source")), (88, 3339));
    let rows = worker_rows(db).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));

    // A wrong key: the command fails, the result file says why.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"));
    cmd.args(["ingest", "--replication-url", &standin.controller_url()])
        .args(["--database", "case01_cli2", "--layout", "85/12/0.01667"])
        .arg("--table")
        .arg(format!(
            "{}={}",
            case01().join("ingest/Object.json").display(),
            object_dir.display()
        ))
        .arg("--result-file")
        .arg(&result)
        .env("QSERV_REPL_AUTH_KEY", "wrong");
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!output.status.success());
    let v: Value = serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("authorization key 'auth_key' in the request doesn't match"),
        "{v}"
    );
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case01_manifest_ingests_through_the_spec_plan() {
    use qserv_operator::api::CatalogIngest;
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml"),
    )
    .unwrap();
    let ingest: CatalogIngest = serde_norway::from_str(&text).unwrap();
    // The manifest's own database name, as Qserv's integration tests name it.
    assert_eq!(ingest.spec.database, "qservTest_case01_qserv");
    let spec = ingest.spec;
    // The manifest's source is the dataset directory (data/ and queries/ side by side).
    let source = case01().parent().unwrap().to_path_buf();
    // Partition as the partition Job does: table_plan's config and options; Object in the
    // Job's shard layout (`<table>/<shard>`), Source flat. Regular tables are not partitioned.
    let chunks = tempfile::tempdir().unwrap();
    for table in spec.tables.iter().filter(|t| t.role != TableRole::Regular) {
        let mut out = chunks.path().join(&table.name);
        if table.name == "Object" {
            out = out.join("0");
        }
        let (config, opts) =
            qserv_operator::from_spec::partition::table_plan(&spec, table, &source, &out).unwrap();
        partition_files(&config, &opts).unwrap();
    }
    let standin = standin().await;
    // The load step's entry point: regular tables read, plan, ingest, in one call.
    let summary = qserv_operator::load::ingest_plan::ingest_spec(
        &client(&standin),
        &spec,
        &source,
        chunks.path(),
        &IngestOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary.outcome, Outcome::Ingested);
    // Every table of the dataset, with the records of its file (`zcat | wc -l`, except
    // Science_Ccd_Exposure: 4529 lines, 3304 records, as binary fields escape newlines).
    let expected: [(&str, i64); 9] = [
        ("Object", 88),
        ("Source", 3339),
        ("Filter", 9),
        ("LeapSeconds", 38),
        ("Logs", 1000),
        ("RefSrcMatch", 3344),
        ("Science_Ccd_Exposure", 3304),
        ("SimRefObject", 3314),
        ("sdqa_Metric", 53),
    ];
    let statuses: Vec<(String, i64, i64)> = summary
        .table_statuses()
        .into_iter()
        .map(|t| (t.name, t.rows_read, t.rows_loaded))
        .collect();
    let want: Vec<(String, i64, i64)> = expected
        .iter()
        .map(|&(t, n)| {
            // The partition step reports rows read of partitioned tables, this one the others'.
            let read = if PARTITIONED.contains(&t) { 0 } else { n };
            (t.to_string(), read, n)
        })
        .collect();
    assert_eq!(statuses, want);
    // A regular table is one contribution per worker; its row counter is the copy's rows.
    let filter = summary.tables.iter().find(|t| t.table == "Filter").unwrap();
    assert_eq!(
        (filter.contributions, filter.chunks, filter.published_rows),
        (2, 0, Some(9))
    );
    let rows = worker_rows(&spec.database).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));
    // Each worker holds a full copy of each regular table, and the czar reads one copy.
    let mut czar = conn(&servers()[2]).await;
    for &(table, n) in &expected[2..] {
        for w in &servers()[..2] {
            let copy: i64 = conn(w)
                .await
                .query_first(format!(
                    "SELECT COUNT(*) FROM `{}`.`{table}`",
                    spec.database
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(copy, n, "{table} on {}", w.url());
        }
        let seen: i64 = czar
            .query_first(format!(
                "SELECT COUNT(*) FROM `{}`.`{table}`",
                spec.database
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, n, "{table} through the czar");
    }
    // Values arrive intact: the filter names and the leap seconds' offsets, as in the files.
    let names: Vec<String> = czar
        .query(format!(
            "SELECT filterName FROM `{}`.Filter ORDER BY filterId",
            spec.database
        ))
        .await
        .unwrap();
    let mut file_names: Vec<(i64, String)> = tsv_column("Filter.tsv.gz", 0)
        .into_iter()
        .map(|id| id.parse().unwrap())
        .zip(tsv_column("Filter.tsv.gz", 1))
        .collect();
    file_names.sort();
    assert_eq!(
        names,
        file_names.into_iter().map(|(_, n)| n).collect::<Vec<_>>()
    );
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_died_after_commit_is_published_not_loaded_again() {
    let standin = standin().await;
    let client = client(&standin);
    let db = "case01_resume";
    let plan = plan(db);
    // What a run killed between commit and publish leaves: every file loaded and committed.
    client.register_database(db, 85, 12, 0.01667).await.unwrap();
    client
        .register_table(&plan.tables[1].registration)
        .await
        .unwrap();
    client
        .register_table(&plan.tables[0].registration)
        .await
        .unwrap();
    let id = client.start_transaction(db).await.unwrap();
    for t in &plan.tables {
        let dir = &t.chunk_dirs[0];
        for &(chunk, overlap) in file_lines(dir).keys() {
            let file = dir.join(if overlap {
                format!("chunk_{chunk}_overlap.txt")
            } else {
                format!("chunk_{chunk}.txt")
            });
            let location = client.locate_chunk(id, chunk).await.unwrap();
            let c = Contribution {
                transaction_id: id,
                table: &t.registration.table,
                chunk,
                overlap,
                file: &file,
                dialect: &t.dialect,
            };
            client.send_contribution(&location, &c).await.unwrap();
        }
    }
    client.end_transaction(id, false).await.unwrap();

    let summary = run_ingest(&client, &plan, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Resumed);
    assert_eq!(summary.transaction_id, Some(id));
    let rows = worker_rows(db).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));
    let info = client.databases().await.unwrap();
    assert!(info.iter().any(|d| d.database == db && d.is_published));
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_list_can_change_while_running() {
    let [w0, w1, czar] = servers();
    let mut config = StandInConfig::new(AUTH, ADMIN, &czar.url());
    config.workers = vec![StandInWorker {
        name: "worker-0".into(),
        host: "worker-0.local".into(),
        mysql: w0.url(),
    }];
    let standin = ReplicationStandIn::start(config).await.unwrap();
    assert_eq!(standin.worker_names(), ["worker-0"]);
    assert!(standin.worker_url("worker-1").is_none());
    let both = vec![
        StandInWorker {
            name: "worker-0".into(),
            host: "worker-0.local".into(),
            mysql: w0.url(),
        },
        StandInWorker {
            name: "worker-1".into(),
            host: "worker-1.local".into(),
            mysql: w1.url(),
        },
    ];
    standin.set_workers(both).await.unwrap();
    assert_eq!(standin.worker_names(), ["worker-0", "worker-1"]);
    let url = standin.worker_url("worker-1").unwrap();
    let v = raw(
        reqwest::Method::GET,
        &format!("{url}/meta/version?version=55"),
        None,
    )
    .await;
    assert_eq!(v["success"], 1, "{v}");
    assert_eq!(v["id"], "worker-1");
    assert_eq!(v["kind"], "replication-worker-ingest");
    // Chunks allocated from now on spread over both workers.
    let client = client(&standin);
    let db = "case01_workers";
    client.register_database(db, 85, 12, 0.01667).await.unwrap();
    let id = client.start_transaction(db).await.unwrap();
    let a = client.locate_chunk(id, 6630).await.unwrap();
    let b = client.locate_chunk(id, 6631).await.unwrap();
    assert_ne!(a.worker, b.worker);
    // A worker taken away stops serving.
    standin
        .set_workers(vec![StandInWorker {
            name: "worker-0".into(),
            host: "worker-0.local".into(),
            mysql: w0.url(),
        }])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        reqwest::get(format!("{url}/meta/version?version=55"))
            .await
            .is_err()
    );
    client.end_transaction(id, true).await.unwrap();
    // A worker whose MariaDB moved keeps its ingest service and uses the new server.
    let port = standin.worker_url("worker-0").unwrap();
    standin
        .set_workers(vec![StandInWorker {
            name: "worker-0".into(),
            host: "worker-0.local".into(),
            mysql: w1.url(),
        }])
        .await
        .unwrap();
    assert_eq!(standin.worker_url("worker-0").unwrap(), port);
    client
        .register_database("case01_moved", 85, 12, 0.01667)
        .await
        .unwrap();
    let mut c = conn(w1).await;
    let n: u64 = c
        .query_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'case01_moved'",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    standin.shutdown().await;
}

/// Throughput figures, not a check: `cargo test --test replication_ingest -- --ignored
/// --nocapture synthetic`. A synthetic catalog (ids, positions in a 10x10 degree field,
/// magnitudes) partitioned at 85/12 and ingested through the stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints throughput figures"]
async fn synthetic_ingest_throughput() {
    let rows: u64 = std::env::var("SYNTHETIC_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("synthetic.tsv");
    let mut rng = fastrand::Rng::with_seed(7);
    let mut text = String::new();
    for id in 0..rows {
        let (ra, dec, mag) = (
            rng.f64() * 10.0,
            rng.f64() * 10.0 - 5.0,
            18.0 + rng.f64() * 6.0,
        );
        text.push_str(&format!("{id}\t{ra:.8}\t{dec:.8}\t{mag:.4}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let mut store = ConfigStore::default();
    store.set("part.num-stripes", json!(85));
    store.set("part.num-sub-stripes", json!(12));
    store.set("part.overlap", json!(0.01667));
    store.set("part.pos", json!("ra, dec"));
    store.set("in.csv.field", json!(["id", "ra", "dec", "mag"]));
    store.set("out.csv.delimiter", json!(","));
    store.set("out.csv.no-quote", json!(true));
    let config = PartitionConfig::from_store(&store).unwrap();
    let out = dir.path().join("Synthetic");
    let t = Instant::now();
    partition_files(&config, &Options::new(vec![input], out.clone())).unwrap();
    let partition_time = t.elapsed();
    let db = "synthetic";
    let plan = IngestPlan {
        database: db.into(),
        num_stripes: 85,
        num_sub_stripes: 12,
        overlap: 0.01667,
        tables: vec![TablePlan {
            registration: TableRegistration {
                database: db.into(),
                table: "Synthetic".into(),
                kind: TableKind::Director {
                    key: "id".into(),
                    latitude_key: "dec".into(),
                    longitude_key: "ra".into(),
                },
                schema: vec![
                    Column::new("id", "BIGINT NOT NULL"),
                    Column::new("ra", "DOUBLE NOT NULL"),
                    Column::new("dec", "DOUBLE NOT NULL"),
                    Column::new("mag", "FLOAT"),
                    Column::new("chunkId", "INT NOT NULL"),
                    Column::new("subChunkId", "INT NOT NULL"),
                ],
                charset_name: None,
                collation_name: None,
            },
            chunk_dirs: vec![out],
            dialect: CsvDialect::qserv_testdata(),
        }],
    };
    let standin = standin().await;
    let t = Instant::now();
    let summary = run_ingest(&client(&standin), &plan, &IngestOptions::default())
        .await
        .unwrap();
    let ingest_time = t.elapsed();
    let s = &summary.tables[0];
    println!(
        "synthetic: {rows} rows, partition {partition_time:?}; ingest {ingest_time:?} = {:.0} rows/s \
         ({} chunks, {} overlap rows, {} contributions, {} MB); phases {:?}",
        (s.rows + s.overlap_rows) as f64 / ingest_time.as_secs_f64(),
        s.chunks,
        s.overlap_rows,
        s.contributions,
        s.bytes / 1_000_000,
        summary.seconds
    );
    assert_eq!(s.rows, rows);
    assert_eq!(total(&worker_rows(db).await, "Synthetic"), rows);
    standin.shutdown().await;
}

/// The rows of a gzipped case01 TSV, each with its line end (escape-aware).
fn tsv_rows(file: &str) -> Vec<Vec<u8>> {
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(case01().join(file)).unwrap()),
        &mut data,
    )
    .unwrap();
    let (mut rows, mut row, mut escaped) = (Vec::new(), Vec::new(), false);
    for b in data {
        row.push(b);
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'\n') => rows.push(std::mem::take(&mut row)),
            _ => {}
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_partitioned_in_shards_sends_every_shard_once() {
    // Source split in two input shards, each partitioned on its own: chunks appear in both.
    let rows = tsv_rows("Source.tsv.gz");
    assert_eq!(rows.len(), 3339);
    let dir = tempfile::tempdir().unwrap();
    let mut store = ConfigStore::default();
    store
        .add_file(&case01().join("partition/common.json"))
        .unwrap();
    store
        .add_file(&case01().join("partition/Source.json"))
        .unwrap();
    let config = PartitionConfig::from_store(&store).unwrap();
    let mut shard_dirs = Vec::new();
    for (i, half) in rows.chunks(rows.len() / 2 + 1).enumerate() {
        let input = dir.path().join(format!("Source-{i}.tsv"));
        std::fs::write(&input, half.concat()).unwrap();
        let out = dir.path().join(format!("Source/{i}"));
        partition_files(&config, &Options::new(vec![input], out.clone())).unwrap();
        shard_dirs.push(out);
    }
    let shared: Vec<u32> = {
        let a = file_lines(&shard_dirs[0]);
        let b = file_lines(&shard_dirs[1]);
        a.keys()
            .filter(|k| b.contains_key(k))
            .map(|k| k.0)
            .collect()
    };
    assert!(!shared.is_empty(), "some chunk has rows in both shards");
    let db = "case01_shards";
    let mut plan = plan(db);
    plan.tables[0].chunk_dirs = shard_dirs;
    let standin = standin().await;
    let summary = run_ingest(&client(&standin), &plan, &IngestOptions::default())
        .await
        .unwrap();
    let source = summary.tables.iter().find(|t| t.table == "Source").unwrap();
    assert_eq!(source.rows, 3339);
    assert!(source.contributions > source.chunks, "{source:?}");
    let rows = worker_rows(db).await;
    assert_eq!((total(&rows, "Object"), total(&rows, "Source")), (88, 3339));
    standin.shutdown().await;
}
