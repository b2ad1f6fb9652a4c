//! The replication stand-in refuses what the real Qserv 2026.3.3-rc1 server refuses, with its
//! error texts (rows S1-S16 of the facts page, `/work/shared/qserv-2026.md` section 3), and
//! the client and ingest workflow cope with what that server does: a fresh configuration
//! with `null` lists, database families, failed and transitional transactions, `LOAD DATA`
//! warnings, a published catalog without its row counters, a server of another API version.
//! Real MariaDB servers (two workers, a czar) on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::MariaDb;
use mysql_async::prelude::Queryable;
use qserv_local::replication::{ReplicationStandIn, StandInConfig, StandInWorker};
use qserv_operator::load::ingest::{
    IngestError, IngestOptions, IngestPlan, Outcome, TablePlan, run_ingest,
};
use qserv_operator::partition::Chunker;
use qserv_operator::qserv::replication::{
    Column, Contribution, CsvDialect, ReplicationClient, ReplicationError, RetryPolicy, TableKind,
    TableRegistration,
};
use serde_json::{Value, json};

use common::standin::{ADMIN, AUTH};

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

async fn standin() -> ReplicationStandIn {
    let [w0, w1, czar] = servers();
    common::standin::start([w0, w1], czar).await
}

fn client(url: &str) -> ReplicationClient {
    let mut c = ReplicationClient::new(url, AUTH, ADMIN).unwrap();
    c.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    c.poll_interval = Duration::from_millis(20);
    c
}

/// A raw JSON request with the keys and `version: 55` unless the body says otherwise.
async fn raw(method: reqwest::Method, url: String, body: Value) -> Value {
    let mut body = body;
    let m = body.as_object_mut().unwrap();
    m.entry("auth_key").or_insert(json!(AUTH));
    m.entry("version").or_insert(json!(55));
    m.retain(|_, v| !v.is_null());
    let resp = reqwest::Client::new()
        .request(method, url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn error(v: &Value) -> String {
    assert_eq!(v["success"], 0, "expected a refusal: {v}");
    v["error"].as_str().unwrap().to_string()
}

fn ok(v: &Value) {
    assert_eq!(v["success"], 1, "expected success: {v}");
}

/// The first `n` chunk numbers valid at 85 stripes, 12 sub-stripes.
fn valid_chunks(n: usize) -> Vec<u32> {
    let c = Chunker::new(85, 12, 0.01667).unwrap();
    (0..100_000)
        .filter(|&i| c.is_valid_chunk(i as i32))
        .take(n)
        .collect()
}

fn director_body(db: &str, table: &str, columns: &[(&str, &str)]) -> Value {
    json!({
        "database": db, "table": table, "is_partitioned": 1, "director_key": "id",
        "latitude_key": "dec", "longitude_key": "ra",
        "schema": columns.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
    })
}

const DIRECTOR: [(&str, &str); 5] = [
    ("id", "BIGINT NOT NULL"),
    ("ra", "DOUBLE NOT NULL"),
    ("dec", "DOUBLE NOT NULL"),
    ("chunkId", "INT NOT NULL"),
    ("subChunkId", "INT NOT NULL"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_refuses_what_qserv_refuses_with_its_texts() {
    let standin = standin().await;
    let base = standin.controller_url();
    let c = client(&base);
    let post = |path: &str, body: Value| raw(reqwest::Method::POST, format!("{base}{path}"), body);

    // S3: a fresh configuration has `null` lists (Configuration.cc:820-827); the client reads
    // them as empty.
    let v = reqwest::get(format!("{base}/replication/config?version=55"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(v["config"]["databases"], Value::Null);
    assert_eq!(v["config"]["database_families"], Value::Null);
    let config = c.config().await.unwrap();
    assert!(config.databases.is_empty() && config.families.is_empty());

    // S1: each endpoint's own range; a version that is not a number.
    let v = reqwest::get(format!("{base}/replication/config?version=56"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        error(&v),
        "The requested version 56 of the API is not in the range supported by the service."
    );
    let v = post(
        "/ingest/index/secondary",
        json!({"version": 21, "database": "x", "director_table": "y"}),
    )
    .await;
    assert!(error(&v).starts_with("The requested version 21 of the API"));
    assert_eq!(
        v["error_ext"],
        json!({"min_version": 22, "max_version": 55})
    );
    let v = post(
        "/ingest/database",
        json!({"version": "x", "database": "d", "num_stripes": 85, "num_sub_stripes": 12, "overlap": 0.01}),
    )
    .await;
    assert_eq!(error(&v), "The optional parameter version is not a number.");
    // charset_name needs 49 (HttpIngestModule.cc:517-518).
    let mut with_charset = director_body("d", "T", &DIRECTOR);
    with_charset["charset_name"] = json!("utf8mb4");
    with_charset["version"] = json!(48);
    let v = post("/ingest/table", with_charset).await;
    assert_eq!(
        v["error_ext"],
        json!({"min_version": 49, "max_version": 55})
    );

    // S9: families by stripes and sub-stripes, the first overlap wins, serialized as
    // DatabaseFamilyInfo::toJson.
    let db = |name: &str, overlap: f64| json!({"database": name, "num_stripes": 85, "num_sub_stripes": 12, "overlap": overlap});
    ok(&post("/ingest/database", db("rules_a", 0.01667)).await);
    ok(&post("/ingest/database", db("rules_b", 0.05)).await);
    let v = reqwest::get(format!("{base}/replication/config?version=55"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        v["config"]["database_families"],
        json!([{"name": "layout_85_12", "min_replication_level": 1, "num_stripes": 85,
                "num_sub_stripes": 12, "overlap": 0.01667}])
    );
    let families: Vec<&str> = v["config"]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["family_name"].as_str().unwrap())
        .collect();
    assert_eq!(families, ["layout_85_12", "layout_85_12"]);

    // S5: TEXT/BLOB in a director, long names (HttpIngestModule.cc:106-114, ConfigDatabase.cc:216-219).
    let mut text = DIRECTOR.to_vec();
    text.push(("name", "TEXT"));
    let v = post("/ingest/table", director_body("rules_a", "Obj", &text)).await;
    assert_eq!(
        error(&v),
        "the prohibited type 'TEXT' detected in a definition of the column 'name' of the \
         director table"
    );
    let long_db = "d".repeat(40);
    ok(&post("/ingest/database", db(&long_db, 0.01667)).await);
    let v = post(
        "/ingest/table",
        director_body(&long_db, &"t".repeat(17), &DIRECTOR),
    )
    .await;
    assert!(
        error(&v)
            .contains("the combined size of the database and table names exceeds 56 characters"),
        "{v}"
    );
    ok(&post(
        "/ingest/table",
        director_body(&long_db, &"t".repeat(16), &DIRECTOR),
    )
    .await);

    // S6: only qserv_trans_id is reserved; a director needs subChunkId but not chunkId; a
    // child needs neither.
    let mut reserved = DIRECTOR.to_vec();
    reserved.push(("qserv_trans_id", "INT"));
    let v = post("/ingest/table", director_body("rules_a", "Obj", &reserved)).await;
    assert_eq!(error(&v), "reserved column 'qserv_trans_id' is not allowed");
    let v = post(
        "/ingest/table",
        director_body("rules_a", "Obj", &DIRECTOR[..4]),
    )
    .await;
    assert!(
        error(&v).contains(
            "no matching column 'subChunkId' found in schema for parameter 'subChunkIdColName'"
        ),
        "{v}"
    );
    let no_chunk_id = [DIRECTOR[0], DIRECTOR[1], DIRECTOR[2], DIRECTOR[4]];
    ok(&post(
        "/ingest/table",
        director_body("rules_a", "qservObj", &no_chunk_id),
    )
    .await);
    let child = json!({
        "database": "rules_a", "table": "Src", "is_partitioned": 1,
        "director_table": "qservObj", "director_key": "objId",
        "schema": [{"name": "objId", "type": "BIGINT"}, {"name": "flux", "type": "TEXT"}],
    });
    ok(&post("/ingest/table", child).await);

    // S8: publishing needs chunks (HttpIngestModule.cc:319-321).
    let v = raw(
        reqwest::Method::PUT,
        format!("{base}/ingest/database/rules_a"),
        json!({}),
    )
    .await;
    assert_eq!(error(&v), "the database doesn't have any chunks");

    // S4: row counters deployed at Qserv need ENABLED (HttpIngestModule.cc:773-778).
    let v = post(
        "/ingest/table-stats",
        json!({"database": "rules_a", "table": "qservObj", "row_counters_state_update_policy": "FORCED",
               "row_counters_deploy_at_qserv": 1}),
    )
    .await;
    assert!(
        error(&v).ends_with(
            "'row_counters_deploy_at_qserv'=1 requires 'row_counters_state_update_policy'=ENABLED"
        ),
        "{v}"
    );

    // S7: abort from failed states, with the real refusal of a commit.
    standin.faults().fail_transaction_starts(1);
    let e = c.start_transaction("rules_a").await.unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    let failed = c.list_transactions("rules_a").await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].state, "START_FAILED");
    let e = c.end_transaction(failed[0].id, false).await.unwrap_err();
    assert_eq!(
        e.qserv_error(),
        Some(
            format!(
                "transaction id={} can't be ended at this time because of state=START_FAILED.",
                failed[0].id
            )
            .as_str()
        )
    );
    c.end_transaction(failed[0].id, true).await.unwrap();
    standin.faults().fail_commits(1);
    let id = c.start_transaction("rules_a").await.unwrap();
    let e = c.end_transaction(id, false).await.unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(c.transaction(id).await.unwrap().state, "FINISH_FAILED");
    c.end_transaction(id, true).await.unwrap();
    assert_eq!(c.transaction(id).await.unwrap().state, "ABORTED");

    // S15: regular-table locations by a transaction in any state; neither key is refused.
    let everywhere = c
        .locate_regular(json!({"transaction_id": id}))
        .await
        .unwrap();
    assert_eq!(everywhere.len(), 2);
    let v = raw(
        reqwest::Method::GET,
        format!("{base}/ingest/regular"),
        json!({}),
    )
    .await;
    assert!(
        error(&v).contains("this service expects either 'database' or  'transaction_id'"),
        "{v}"
    );

    // S16: least-loaded placement over all databases, then co-location within the family.
    let id = c.start_transaction("rules_a").await.unwrap();
    let chunks = valid_chunks(4);
    let mut placed = Vec::new();
    for &chunk in &chunks {
        placed.push(c.locate_chunk(id, chunk).await.unwrap().worker);
    }
    assert_eq!(placed, ["worker-0", "worker-1", "worker-0", "worker-1"]);
    let id_b = c.start_transaction("rules_b").await.unwrap();
    let again = c.locate_chunk(id_b, chunks[1]).await.unwrap().worker;
    assert_eq!(again, "worker-1", "the family's chunk stays co-located");
    let fresh = valid_chunks(5)[4];
    assert_eq!(
        c.locate_chunk(id_b, fresh).await.unwrap().worker,
        "worker-0",
        "a new chunk goes to the worker with fewest chunks (first by name on a tie)"
    );
    standin.shutdown().await;
}

/// A multipart `/ingest/csv` with the given dialect fields.
async fn csv(url: &str, fields: &[(&str, String)], data: &'static [u8]) -> Value {
    let mut form = reqwest::multipart::Form::new()
        .text("version", "55")
        .text("auth_key", AUTH);
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    let form = form.part(
        "file",
        reqwest::multipart::Part::bytes(data).file_name("data.csv"),
    );
    reqwest::Client::new()
        .post(format!("{url}/ingest/csv"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_takes_only_escaped_dialect_tokens() {
    let standin = standin().await;
    let base = standin.controller_url();
    let c = client(&base);
    c.register_database("rules_csv", 85, 12, 0.01667)
        .await
        .unwrap();
    let filter = TableRegistration {
        database: "rules_csv".into(),
        table: "Filter".into(),
        kind: TableKind::Regular,
        schema: vec![Column::new("id", "INT"), Column::new("name", "CHAR(10)")],
        charset_name: Some("utf8mb4".into()),
        collation_name: Some("utf8mb4_general_ci".into()),
    };
    c.register_table(&filter).await.unwrap();
    let id = c.start_transaction("rules_csv").await.unwrap();
    let worker = standin.worker_url("worker-0").unwrap();
    let base_fields = |sep: &str, enclosed: &str| {
        vec![
            ("transaction_id", id.to_string()),
            ("table", "Filter".to_string()),
            ("chunk", "0".to_string()),
            ("overlap", "0".to_string()),
            ("fields_terminated_by", sep.to_string()),
            ("fields_enclosed_by", enclosed.to_string()),
            ("charset_name", "utf8mb4".to_string()),
        ]
    };
    // S2: a raw tab, a pipe: refused with Csv.cc's text.
    for sep in ["\t", "|"] {
        let v = csv(&worker, &base_fields(sep, ""), b"1\ta\n").await;
        assert_eq!(
            error(&v),
            format!(
                "invalid parameters of the request, ex: Csv::Parser: the value '{sep}' of the \
                 parameter 'fieldsTerminatedBy' is not allowed for the given parameter."
            )
        );
    }
    let v = csv(
        &worker,
        &[
            base_fields(",", ""),
            vec![("fields_escaped_by", "\\".to_string())],
        ]
        .concat(),
        b"1,a\n",
    )
    .await;
    assert!(error(&v).contains("the value '\\' of the parameter 'fieldsEscapedBy'"));
    // Tokens: the `\t` token, and `"` enclosing read with ENCLOSED BY (a comma inside).
    let v = csv(&worker, &base_fields(r"\t", r"\0"), b"1\tplain\n").await;
    ok(&v);
    assert_eq!(v["contrib"]["num_rows_loaded"], 1);
    let v = csv(&worker, &base_fields(",", "\""), b"2,\"a,b\"\n").await;
    ok(&v);
    assert_eq!(v["contrib"]["num_warnings"], 0, "{v}");
    let mut w0 = mysql_async::Conn::from_url(servers()[0].url())
        .await
        .unwrap();
    let names: Vec<String> = w0
        .query("SELECT name FROM rules_csv.Filter ORDER BY id")
        .await
        .unwrap();
    assert_eq!(names, ["plain", "a,b"]);
    // The client refuses a dialect the worker would, before sending anything.
    let pipe = CsvDialect {
        fields_terminated_by: "|".into(),
        ..CsvDialect::qserv_testdata()
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "3|x\n").unwrap();
    let location = c
        .locate_regular(json!({"transaction_id": id}))
        .await
        .unwrap()
        .remove(0);
    let e = c
        .send_contribution(
            &location,
            &Contribution {
                transaction_id: id,
                table: "Filter",
                chunk: 0,
                overlap: false,
                file: file.path(),
                dialect: &pipe,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ReplicationError::Invalid { .. }) && e.to_string().contains("not sent"),
        "{e}"
    );
    standin.shutdown().await;
}

/// A director `Synthetic` (id, ra, dec, chunkId, subChunkId) with one chunk file of `rows`.
fn synthetic_plan(db: &str, dir: &Path, rows: &str, overlap: f64) -> IngestPlan {
    let chunk = valid_chunks(1)[0];
    std::fs::write(
        dir.join(format!("chunk_{chunk}.txt")),
        rows.replace("C", &chunk.to_string()),
    )
    .unwrap();
    IngestPlan {
        database: db.into(),
        num_stripes: 85,
        num_sub_stripes: 12,
        overlap,
        tables: vec![TablePlan {
            registration: TableRegistration {
                database: db.into(),
                table: "Synthetic".into(),
                kind: TableKind::Director {
                    key: "id".into(),
                    latitude_key: "dec".into(),
                    longitude_key: "ra".into(),
                },
                schema: DIRECTOR.iter().map(|(n, t)| Column::new(n, t)).collect(),
                charset_name: None,
                collation_name: None,
            },
            chunk_dirs: vec![dir.to_path_buf()],
            dialect: CsvDialect::qserv_testdata(),
        }],
    }
}

fn tempdir() -> PathBuf {
    tempfile::tempdir().unwrap().keep()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_handles_families_warnings_failed_transactions_and_unfinished_publishing() {
    let standin = standin().await;
    let c = client(&standin.controller_url());
    let good = "1,10.0,-5.0,C,0\n2,10.1,-5.1,C,1\n";

    // A family with another overlap: refused before anything is registered.
    let first = synthetic_plan("rules_fam_a", &tempdir(), good, 0.01667);
    run_ingest(&c, &first, &IngestOptions::default())
        .await
        .unwrap();
    let other = synthetic_plan("rules_fam_b", &tempdir(), good, 0.05);
    let e = run_ingest(&c, &other, &IngestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, IngestError::FamilyOverlap { .. }), "{e}");
    assert!(
        e.to_string().contains("the database family layout_85_12 (85 stripes, 12 sub-stripes) has overlap 0.01667, this catalog 0.05"),
        "{e}"
    );
    assert!(
        c.databases()
            .await
            .unwrap()
            .iter()
            .all(|d| d.database != "rules_fam_b"),
        "nothing registered"
    );

    // LOAD DATA warnings fail the table, unless allowed; then they are counted.
    let bad = "1,10.0,-5.0,C,0\nx2,10.1,-5.1,C,1\n";
    let plan = synthetic_plan("rules_warn", &tempdir(), bad, 0.01667);
    let e = run_ingest(&c, &plan, &IngestOptions::default())
        .await
        .unwrap_err();
    let IngestError::Aborted { cause, .. } = &e else {
        panic!("{e}");
    };
    assert!(
        matches!(**cause, IngestError::Warnings { count: 1, .. })
            && cause.to_string().contains("table Synthetic")
            && cause.to_string().contains("'x2' for column"),
        "{cause}"
    );
    let allowed = IngestOptions {
        allow_warnings: true,
        ..IngestOptions::default()
    };
    let summary = run_ingest(&c, &plan, &allowed).await.unwrap();
    assert_eq!(summary.outcome, Outcome::Ingested);
    assert_eq!((summary.tables[0].rows, summary.tables[0].warnings), (2, 1));

    // START_FAILED and FINISH_FAILED transactions left behind are aborted by the next run.
    let plan = synthetic_plan("rules_resume", &tempdir(), good, 0.01667);
    c.register_database("rules_resume", 85, 12, 0.01667)
        .await
        .unwrap();
    standin.faults().fail_transaction_starts(1);
    c.start_transaction("rules_resume").await.unwrap_err();
    standin.faults().fail_commits(1);
    let id = c.start_transaction("rules_resume").await.unwrap();
    c.end_transaction(id, false).await.unwrap_err();
    let states: Vec<String> = c
        .list_transactions("rules_resume")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.state)
        .collect();
    assert_eq!(states, ["START_FAILED", "FINISH_FAILED"]);
    let summary = run_ingest(&c, &plan, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Ingested);
    assert_eq!(summary.aborted_transactions, [id - 1, id]);

    // Published without its index and row counters (a run that died after publishing): the
    // next run builds them; the one after that has nothing to do.
    let plan = synthetic_plan("rules_late", &tempdir(), good, 0.01667);
    let bare = IngestOptions {
        director_index: false,
        row_counters: false,
        ..IngestOptions::default()
    };
    run_ingest(&c, &plan, &bare).await.unwrap();
    assert!(
        c.row_counters("rules_late", "Synthetic")
            .await
            .unwrap()
            .is_empty()
    );
    let summary = run_ingest(&c, &plan, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.tables[0].published_rows, Some(2));
    let mut czar = mysql_async::Conn::from_url(servers()[2].url())
        .await
        .unwrap();
    let n: u64 = czar
        .query_first("SELECT COUNT(*) FROM qservMeta.`rules_late__Synthetic`")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 2, "the director index was built");
    let again = run_ingest(&c, &plan, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyPublished);
    standin.shutdown().await;
}

/// A server that answers every request with `body` and counts them.
async fn fixed_server(body: &'static str) -> (String, std::sync::Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_of_another_api_version_is_refused_before_anything_is_sent() {
    let (url, requests) = fixed_server(
        r#"{"success":1,"error":"","error_ext":{},"warning":"","kind":"replication-controller","version":54}"#,
    )
    .await;
    let c = client(&url);
    let plan = synthetic_plan("rules_old", &tempdir(), "1,1,1,C,0\n", 0.01667);
    let e = run_ingest(&c, &plan, &IngestOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::Api(ReplicationError::UnsupportedServer {
                server: 54,
                min: 55,
                max: 55,
                ..
            })
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("implements API version 54; this client works with versions 55..=55 only"),
        "{e}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1, "only GET /meta/version");
}

/// Workers as Qserv 2026.3.3-rc1 keeps them: `config.workers` in `ConfigWorker::toJson`'s
/// shape (`ConfigWorker.cc:87-108`); `DELETE /replication/config/worker/:worker` with a key
/// only (`HttpProcessor.cc:184-189`) and "unknown worker" for a name it does not know
/// (`Configuration.cc:699-705`); a worker whose pod is gone stays registered and enabled, and
/// least-loaded placement (`HttpIngestChunksModule.cc:212-240`) picks it, so the
/// contribution fails; deleted from the configuration only, the registry's tracker brings it
/// back (`Controller.cc:74-90`); deleted from both, it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_worker_stays_registered_until_deleted_from_registry_and_config() {
    let [w0, w1, czar] = servers();
    let mut config = StandInConfig::new(AUTH, ADMIN, &czar.url());
    config.instance_id = "qserv-ci".into();
    let worker = |name: &str, host: &str, db: &MariaDb| StandInWorker {
        name: name.into(),
        host: host.into(),
        mysql: db.url(),
    };
    let fqdn = |n: u32| format!("qserv-ci-worker-{n}.qserv-ci-worker.default.svc.cluster.local");
    config.workers = vec![
        worker("uuid-a", &fqdn(0), w0),
        worker("uuid-b", &fqdn(1), w1),
    ];
    let standin = ReplicationStandIn::start(config).await.unwrap();
    let base = standin.controller_url();
    let registry = format!("http://{}", standin.registry_addr());
    let c = client(&base);

    // The real shape, by name.
    let v = reqwest::get(format!("{base}/replication/config?version=55"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let listed = v["config"]["workers"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{v}");
    let a = &listed[0];
    assert_eq!(a["name"], "uuid-a");
    assert_eq!(
        (a["is-enabled"].clone(), a["is-read-only"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(a["svc-host"]["name"], fqdn(0));
    assert!(a["svc-host"]["addr"].is_string());
    assert_eq!(a["http-loader-host"]["name"], fqdn(0));
    for key in [
        "svc-port",
        "fs-host",
        "fs-port",
        "loader-host",
        "loader-port",
        "http-loader-port",
    ] {
        assert!(!a[key].is_null(), "{key} missing: {a}");
    }
    let workers = c.workers().await.unwrap();
    assert_eq!(workers[1].name, "uuid-b");
    assert_eq!(
        workers[1].short_host_names().next(),
        Some("qserv-ci-worker-1")
    );

    // No key: refused with the real text; an unknown worker: the real error.
    let delete = |url: String, body: Value| async move {
        reqwest::Client::new()
            .delete(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let v = delete(
        format!("{base}/replication/config/worker/uuid-b"),
        json!({"version": 55}),
    )
    .await;
    assert_eq!(
        error(&v),
        "failed to pass authorization requirements, ex: none of the authorization keys \
         'auth_key' or 'admin_auth_key' was found in the request. Please, provide one."
    );
    let v = raw(
        reqwest::Method::DELETE,
        format!("{base}/replication/config/worker/nobody"),
        json!({}),
    )
    .await;
    assert_eq!(
        error(&v),
        "operation failed due to: CONFIG  deleteWorker unknown worker 'nobody'."
    );
    assert!(
        !c.delete_worker("nobody").await.unwrap(),
        "already gone is fine"
    );
    let v = delete(
        format!("{registry}/worker/uuid-b"),
        json!({"version": 55, "auth_key": AUTH, "instance_id": "other"}),
    )
    .await;
    assert_eq!(
        error(&v),
        "invalid parameters of the request, ex: REGISTRY-HTTP-SVC \
         executeImpl[sub-module='DELETE-WORKER'] Qserv instance identifier mismatch. Client \
         sent 'other' instead of 'qserv-ci'."
    );

    // worker-1's pod goes: still listed and enabled, and the emptiest, so it gets new chunks.
    standin
        .set_workers(vec![worker("uuid-a", &fqdn(0), w0)])
        .await
        .unwrap();
    let db = "case01_departed";
    c.register_database(db, 85, 12, 0.01667).await.unwrap();
    let table = TableRegistration {
        database: db.into(),
        table: "Object".into(),
        kind: TableKind::Director {
            key: "id".into(),
            latitude_key: "dec".into(),
            longitude_key: "ra".into(),
        },
        schema: DIRECTOR.iter().map(|(n, t)| Column::new(n, t)).collect(),
        charset_name: None,
        collation_name: None,
    };
    c.register_table(&table).await.unwrap();
    let id = c.start_transaction(db).await.unwrap();
    let chunks = valid_chunks(2);
    let first = c.locate_chunk(id, chunks[0]).await.unwrap();
    assert_eq!(first.worker, "uuid-a", "by name among equals");
    let second = c.locate_chunk(id, chunks[1]).await.unwrap();
    assert_eq!(
        second.worker, "uuid-b",
        "the departed, empty worker is least loaded"
    );
    let departed = c.workers().await.unwrap();
    assert!(
        departed.iter().any(|w| w.name == "uuid-b" && w.is_enabled),
        "{departed:?}"
    );
    let file = std::env::temp_dir().join(format!("departed-{}.csv", std::process::id()));
    std::fs::write(&file, "1,0.1,0.1,0,0\n").unwrap();
    let dialect = CsvDialect::qserv_testdata();
    let refused = c
        .send_contribution(
            &second,
            &Contribution {
                transaction_id: id,
                table: "Object",
                chunk: chunks[1],
                overlap: false,
                file: &file,
                dialect: &dialect,
            },
        )
        .await
        .unwrap_err();
    // Nothing listens where the worker was: the contribution gets no answer.
    let text = refused.to_string();
    assert!(
        text.starts_with("POST /ingest/csv") && text.contains("Connection refused"),
        "{text}"
    );
    c.end_transaction(id, false).await.unwrap();

    // Deleted from the configuration only: the registry still lists it, the tracker adds it.
    assert!(c.delete_worker("uuid-b").await.unwrap());
    assert!(
        c.workers()
            .await
            .unwrap()
            .iter()
            .all(|w| w.name != "uuid-b")
    );
    standin.track_registry();
    assert!(
        c.workers()
            .await
            .unwrap()
            .iter()
            .any(|w| w.name == "uuid-b")
    );

    // From the registry, then the configuration: gone for good.
    c.delete_registry_worker(&registry, "qserv-ci", "uuid-b")
        .await
        .unwrap();
    c.delete_registry_worker(&registry, "qserv-ci", "uuid-b")
        .await
        .unwrap();
    assert!(c.delete_worker("uuid-b").await.unwrap());
    standin.track_registry();
    let names: Vec<String> = c
        .workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["uuid-a"]);
    std::fs::remove_file(&file).ok();
    standin.shutdown().await;
}
