//! The result checks against two real MariaDB servers holding qserv_testdata case01: the
//! reference loaded by the reference loader, the "Qserv" side with Object and Source as our
//! partitioner writes them (chunk files with `chunkId`/`subChunkId`, loaded as they are) and
//! the other tables like the reference. Every case01 query local mode can run gives identical
//! results; tampered copies fail with the right first difference; the CLI's table and exit code.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use qserv_operator::api::catalog_ingest::{CatalogIngest, CheckSpec, Expect};
use qserv_operator::catalog::{
    CsvOptions, DEFAULT_BATCH_ROWS, InputFormat, SchemaFile, SelectionSpec, schema_from_ddl_file,
};
use qserv_operator::check::{
    CheckPlan, CheckReport, CheckResult, CheckTarget, SkipKind, layout_chunker, run_checks,
    run_for_ingest,
};
use qserv_operator::db::Endpoint;
use qserv_operator::load::{Input, ReferenceLoad, load_reference};
use qserv_operator::partition::{ConfigStore, Options, PartitionConfig, partition_files};
use tokio::sync::OnceCell;

use common::MariaDb;

const DB: &str = "qservTest_case01_qserv";
/// Every case01 table, as the example CatalogIngest ingests them.
const TABLES: [&str; 9] = [
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
const PARTITIONED: [&str; 2] = ["Object", "Source"];

fn case01() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01")
}

struct Servers {
    qserv: MariaDb,
    reference: MariaDb,
    /// Rows the reference loader read per table.
    rows_read: BTreeMap<String, u64>,
}

/// Both servers with case01 loaded (once per test binary).
async fn servers() -> &'static Servers {
    static SERVERS: OnceCell<Servers> = OnceCell::const_new();
    SERVERS
        .get_or_init(|| async {
            let (qserv, reference) = (MariaDb::start(), MariaDb::start());
            let mut rows_read = BTreeMap::new();
            for table in TABLES {
                let n = load_tsv(&reference.url(), DB, table).await;
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
async fn load_tsv(url: &str, db: &str, table: &str) -> u64 {
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
async fn load_partitioned(server: &MariaDb, table: &str) {
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
fn case01_ingest() -> CatalogIngest {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml");
    serde_norway::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn target(s: &Servers, db: &str, local: bool) -> CheckTarget {
    CheckTarget::parse(&s.qserv.url(), Some(&s.reference.url()), db, local).unwrap()
}

fn plan(s: &Servers, queries: bool) -> CheckPlan {
    let mut plan = CheckPlan::from_spec(&case01_ingest().spec)
        .unwrap()
        .with_rows_read(&s.rows_read);
    if queries {
        plan.queries = Some(case01().join("queries"));
    }
    plan
}

fn check<'a>(report: &'a CheckReport, name: &str) -> &'a CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#?}"))
}

fn failures(report: &CheckReport) -> Vec<&CheckResult> {
    report.checks.iter().filter(|c| !c.passed).collect()
}

/// A copy of the case01 database under `name` on both servers; returns a connection to the
/// copy on the Qserv side for tampering.
async fn copy(s: &Servers, name: &str) -> Conn {
    for server in [&s.qserv, &s.reference] {
        let mut conn = Conn::from_url(server.url()).await.unwrap();
        conn.query_drop(format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        for table in TABLES {
            conn.query_drop(format!("CREATE TABLE {name}.{table} LIKE {DB}.{table}"))
                .await
                .unwrap();
            conn.query_drop(format!(
                "INSERT INTO {name}.{table} SELECT * FROM {DB}.{table}"
            ))
            .await
            .unwrap();
        }
    }
    let mut conn = Conn::from_url(s.qserv.url()).await.unwrap();
    conn.query_drop(format!("USE {name}")).await.unwrap();
    conn
}

async fn one<T: mysql_async::prelude::FromRow + Send + 'static>(conn: &mut Conn, sql: &str) -> T {
    conn.query_first(sql)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

#[tokio::test(flavor = "multi_thread")]
async fn case01_local_mode_every_runnable_query_is_identical() {
    let s = servers().await;
    let report = run_checks(&target(s, DB, true), &plan(s, true))
        .await
        .unwrap();
    println!("{}", report.summary());
    assert_eq!(failures(&report), Vec::<&CheckResult>::new());

    // 106 files: 38 *.sql.FIXME, 68 *.sql of which 12 call scisql_*/qserv_areaspec_*.
    let kind = |k| report.skipped.iter().filter(|s| s.kind == k).count();
    assert_eq!(kind(SkipKind::Fixme), 38);
    assert_eq!(kind(SkipKind::QservOnly), 12);
    let queries: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.name.starts_with("query/"))
        .collect();
    assert_eq!(queries.len(), 56);
    // Built-in: rows+chunks+unique-ids of Object, rows+chunks of Source, rows of each of the
    // 7 regular tables; then the example's 5 checks.
    let builtin: Vec<&str> = report.checks[..12]
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        builtin,
        [
            "rows/Object",
            "chunks/Object",
            "unique-ids/Object",
            "rows/Source",
            "chunks/Source",
            "rows/Filter",
            "rows/LeapSeconds",
            "rows/Logs",
            "rows/RefSrcMatch",
            "rows/Science_Ccd_Exposure",
            "rows/SimRefObject",
            "rows/sdqa_Metric",
        ]
    );
    assert_eq!(report.checks.len(), 12 + 5 + 56);
    assert_eq!(report.passed, 73);

    let nn = report
        .skipped
        .iter()
        .find(|s| s.name == "query/1051_nn")
        .unwrap();
    assert!(
        nn.reason.contains("qserv_areaspec_box") && nn.reason.contains("scisql_angSep"),
        "{}",
        nn.reason
    );
    for skipped in report
        .skipped
        .iter()
        .filter(|s| s.kind == SkipKind::QservOnly)
    {
        let file = case01().join(format!(
            "queries/{}.sql",
            skipped.name.strip_prefix("query/").unwrap()
        ));
        let text = std::fs::read_to_string(&file).unwrap().to_lowercase();
        let functions = skipped
            .reason
            .strip_prefix("needs Qserv-only functions (")
            .and_then(|r| r.split_once(')'))
            .unwrap_or_else(|| panic!("{skipped:?}"))
            .0;
        for f in functions.split(", ") {
            assert!(
                text.contains(&f.to_lowercase()),
                "{f} not in {}",
                file.display()
            );
        }
        assert!(
            skipped
                .reason
                .ends_with("skipped, the Qserv side does not have them"),
            "{skipped:?}"
        );
    }
    let fixme = report
        .skipped
        .iter()
        .find(|s| s.name == "query/2100_groupByChunkId")
        .unwrap();
    assert!(fixme.reason.contains("FIXME"), "{}", fixme.reason);

    // The checks saw the data: counts equal the rows read, and queries return rows.
    assert_eq!(check(&report, "rows/Object").qserv_rows, Some(88));
    assert_eq!(
        check(&report, "rows/Source").qserv_rows,
        Some(s.rows_read["Source"] as i64)
    );
    assert_eq!(
        check(&report, "chunks/Source").qserv_rows,
        Some(s.rows_read["Source"] as i64)
    );
    let q = check(&report, "query/0001.1_fetchObjectById");
    assert_eq!((q.qserv_rows, q.reference_rows), (Some(1), Some(1)));
    let total: i64 = queries.iter().map(|c| c.qserv_rows.unwrap()).sum();
    assert!(total > 1000, "queries returned {total} rows");
    for c in &queries {
        assert_eq!(c.qserv_rows, c.reference_rows, "{}", c.name);
    }
    println!(
        "case01: {} checks in {:.2}s",
        report.checks.len(),
        report.duration_seconds
    );
}

/// Without `local`, the Qserv-only queries run, and MariaDB (no sciSQL, no Qserv restrictors)
/// fails exactly them: the flag is what skips them.
#[tokio::test(flavor = "multi_thread")]
async fn without_local_mode_the_qserv_only_queries_run_and_fail_here() {
    let s = servers().await;
    let plan = CheckPlan {
        queries: Some(case01().join("queries")),
        ..CheckPlan::default()
    };
    let report = run_checks(&target(s, DB, false), &plan).await.unwrap();
    assert_eq!(report.skipped.len(), 38);
    let failed: Vec<&str> = failures(&report).iter().map(|c| c.name.as_str()).collect();
    assert_eq!(failed.len(), 12, "{failed:?}");
    assert!(failed.contains(&"query/9000_caseinsensitiveUDF"));
    let udf = check(&report, "query/0006_transientVarObjNearGalaxy");
    assert!(
        udf.message.as_ref().unwrap().contains("scisql_angSep"),
        "{udf:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_row_fails_counts_and_the_query_that_returns_it() {
    let s = servers().await;
    let mut conn = copy(s, "tamper_deleted").await;
    conn.query_drop("DELETE FROM Object WHERE objectId = 430213989148129")
        .await
        .unwrap();
    let report = run_checks(&target(s, "tamper_deleted", true), &plan(s, true))
        .await
        .unwrap();
    let rows = check(&report, "rows/Object");
    assert!(!rows.passed);
    assert_eq!((rows.qserv_rows, rows.reference_rows), (Some(87), Some(88)));
    assert_eq!(
        rows.message.as_deref(),
        Some("rows: Qserv 87, reference 88, read 88")
    );
    let q = check(&report, "query/0001.1_fetchObjectById");
    assert!(!q.passed);
    assert_eq!((q.qserv_rows, q.reference_rows), (Some(0), Some(1)));
    let diff = q.first_difference.as_deref().unwrap();
    assert!(
        diff.starts_with("row 1: qserv: (no row) reference: (objectId=430213989148129, "),
        "{diff}"
    );
    // The spec's `expect: rows` check of that object fails too.
    let by_id = check(&report, "fetch-object-by-id");
    assert_eq!(
        by_id.message.as_deref(),
        Some("expected 1 rows, got 0"),
        "{by_id:?}"
    );
    let count = check(&report, "object-count");
    assert_eq!(
        count.first_difference.as_deref(),
        Some("row 1: qserv: (87) reference: (88)")
    );
    // Every other failure is a query that lost rows; the other data checks pass.
    for c in failures(&report) {
        if ["rows/Object", "object-count", "fetch-object-by-id"].contains(&c.name.as_str()) {
            continue;
        }
        assert!(c.name.starts_with("query/"), "{c:?}");
        assert!(c.qserv_rows < c.reference_rows, "{c:?}");
    }
    for name in [
        "chunks/Object",
        "unique-ids/Object",
        "rows/Source",
        "chunks/Source",
    ] {
        assert!(check(&report, name).passed, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_value_shows_both_rows_at_its_position() {
    let s = servers().await;
    let mut conn = copy(s, "tamper_value").await;
    // An object in the middle with a value.
    let id: i64 = one(
        &mut conn,
        "SELECT objectId FROM Object WHERE ra_PS_Sigma IS NOT NULL ORDER BY objectId LIMIT 1 OFFSET 20",
    )
    .await;
    let sql = "SELECT objectId, ra_PS_Sigma FROM Object ORDER BY objectId";
    // Position and value (as the text protocol renders it) from the untouched copy.
    let ids: Vec<i64> = conn
        .query("SELECT objectId FROM Object ORDER BY objectId")
        .await
        .unwrap();
    let position = ids.iter().position(|i| *i == id).unwrap() + 1;
    let before: String = one(
        &mut conn,
        &format!("SELECT ra_PS_Sigma FROM Object WHERE objectId = {id}"),
    )
    .await;
    conn.query_drop(format!(
        "UPDATE Object SET ra_PS_Sigma = 12345.5 WHERE objectId = {id}"
    ))
    .await
    .unwrap();
    let mut plan = plan(s, false);
    plan.checks = vec![CheckSpec {
        name: "fluxes".into(),
        sql: sql.into(),
        expect: Expect::Reference,
        rows: None,
        value: None,
        sort: false,
    }];
    let report = run_checks(&target(s, "tamper_value", true), &plan)
        .await
        .unwrap();
    let c = check(&report, "fluxes");
    assert!(!c.passed);
    assert_eq!((c.qserv_rows, c.reference_rows), (Some(88), Some(88)));
    assert_eq!(
        c.first_difference.as_deref().unwrap(),
        format!("row {position}: qserv: ({id}, 12345.5) reference: ({id}, {before})")
    );
    // A non-position value: the data checks still pass.
    for name in ["rows/Object", "chunks/Object", "unique-ids/Object"] {
        assert!(check(&report, name).passed, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_chunk_id_is_named_by_the_chunk_check() {
    let s = servers().await;
    let mut conn = copy(s, "tamper_chunk").await;
    let id: i64 = 402412665835716;
    let (chunk, sub): (i32, i32) = one(
        &mut conn,
        &format!("SELECT chunkId, subChunkId FROM Object WHERE objectId = {id}"),
    )
    .await;
    // The stored chunk agrees with our Chunker, computed here from the stored position.
    let (ra, dec): (f64, f64) = one(
        &mut conn,
        &format!("SELECT ra_PS, decl_PS FROM Object WHERE objectId = {id}"),
    )
    .await;
    let location = layout_chunker(85, 12, 0.01667).unwrap().locate(ra, dec);
    assert_eq!((location.chunk_id, location.sub_chunk_id), (chunk, sub));
    conn.query_drop(format!(
        "UPDATE Object SET chunkId = chunkId + 1 WHERE objectId = {id}"
    ))
    .await
    .unwrap();
    let report = run_checks(&target(s, "tamper_chunk", true), &plan(s, false))
        .await
        .unwrap();
    let c = check(&report, "chunks/Object");
    assert!(!c.passed);
    assert_eq!(
        c.message.as_deref(),
        Some("1 of 88 rows are not in the chunk the Chunker gives")
    );
    let diff = c.first_difference.as_deref().unwrap();
    assert!(
        diff.starts_with(&format!("objectId={id} (ra_PS=")),
        "{diff}"
    );
    assert!(
        diff.ends_with(&format!(
            "qserv: (chunkId={}, subChunkId={sub}) chunker: (chunkId={chunk}, subChunkId={sub})",
            chunk + 1
        )),
        "{diff}"
    );
    assert_eq!(failures(&report).len(), 1, "{:#?}", failures(&report));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicated_director_id_is_named() {
    let s = servers().await;
    let mut conn = copy(s, "tamper_duplicate").await;
    let id: i64 = 417853073271391;
    conn.query_drop(format!(
        "INSERT INTO Object SELECT * FROM Object WHERE objectId = {id}"
    ))
    .await
    .unwrap();
    let report = run_checks(&target(s, "tamper_duplicate", true), &plan(s, false))
        .await
        .unwrap();
    let c = check(&report, "unique-ids/Object");
    assert!(!c.passed);
    assert_eq!(
        c.first_difference.as_deref(),
        Some(format!("objectId={id} appears 2 times").as_str())
    );
    assert_eq!(
        c.message.as_deref(),
        Some("1 objectId values appear more than once")
    );
    let rows = check(&report, "rows/Object");
    assert_eq!((rows.qserv_rows, rows.reference_rows), (Some(89), Some(88)));
    // The copy sits in the right chunk: the chunk check passes.
    assert!(check(&report, "chunks/Object").passed);
}

fn user_check(
    name: &str,
    sql: &str,
    expect: Expect,
    rows: Option<i64>,
    value: Option<&str>,
) -> CheckSpec {
    CheckSpec {
        name: name.into(),
        sql: sql.into(),
        expect,
        rows,
        value: value.map(String::from),
        sort: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_and_value_checks_pass_and_fail_as_they_should() {
    let s = servers().await;
    let plan = CheckPlan {
        checks: vec![
            user_check(
                "rows-ok",
                "SELECT * FROM Filter",
                Expect::Rows,
                Some(9),
                None,
            ),
            user_check(
                "rows-bad",
                "SELECT * FROM Filter",
                Expect::Rows,
                Some(8),
                None,
            ),
            user_check(
                "value-ok",
                "SELECT COUNT(*) FROM Source",
                Expect::Value,
                None,
                Some("3339"),
            ),
            user_check(
                "value-number",
                "SELECT 1.50",
                Expect::Value,
                None,
                Some("1.5"),
            ),
            user_check(
                "value-bad",
                "SELECT filterName FROM Filter WHERE filterId = 2",
                Expect::Value,
                None,
                Some("u"),
            ),
            user_check(
                "value-null",
                "SELECT NULL",
                Expect::Value,
                None,
                Some("NULL"),
            ),
            user_check(
                "value-many",
                "SELECT filterId FROM Filter",
                Expect::Value,
                None,
                Some("1"),
            ),
            user_check(
                "value-sql-error",
                "SELECT nope FROM Filter",
                Expect::Value,
                None,
                Some("1"),
            ),
        ],
        ..CheckPlan::default()
    };
    let report = run_checks(&target(s, DB, true), &plan).await.unwrap();
    let outcome = |name: &str| {
        let c = check(&report, name);
        (c.passed, c.message.clone().unwrap_or_default())
    };
    assert_eq!(outcome("rows-ok"), (true, String::new()));
    assert_eq!(
        outcome("rows-bad"),
        (false, "expected 8 rows, got 9".into())
    );
    assert_eq!(check(&report, "rows-bad").qserv_rows, Some(9));
    assert_eq!(outcome("value-ok"), (true, String::new()));
    assert_eq!(outcome("value-number"), (true, String::new()));
    let filter2: String = {
        let mut conn = Conn::from_url(s.reference.url()).await.unwrap();
        one(
            &mut conn,
            &format!("SELECT filterName FROM {DB}.Filter WHERE filterId = 2"),
        )
        .await
    };
    assert_ne!(filter2, "u");
    assert_eq!(
        outcome("value-bad"),
        (false, format!("expected u, got '{filter2}'"))
    );
    assert_eq!(
        outcome("value-null"),
        (false, "expected NULL, got NULL".into())
    );
    assert_eq!(
        outcome("value-many"),
        (false, "expected one row (a value), got 9".into())
    );
    let (passed, message) = outcome("value-sql-error");
    assert!(
        !passed && message.starts_with("qserv: Unknown column 'nope'"),
        "{message}"
    );
}

/// A check's SQL only reads: `DROP DATABASE other` (and a DELETE hidden after a `;`) is a failed
/// check naming why, and the other database is still there on both sides.
#[tokio::test(flavor = "multi_thread")]
async fn checks_that_would_change_data_fail_and_change_nothing() {
    let s = servers().await;
    for server in [&s.qserv, &s.reference] {
        let mut conn = Conn::from_url(server.url()).await.unwrap();
        conn.query_drop("CREATE DATABASE IF NOT EXISTS check_other; CREATE TABLE IF NOT EXISTS check_other.t (i INT)")
            .await
            .unwrap();
    }
    let plan = CheckPlan {
        checks: vec![
            user_check(
                "drop",
                "DROP DATABASE check_other",
                Expect::Reference,
                None,
                None,
            ),
            user_check(
                "hidden-delete",
                "SELECT 1; DELETE FROM Filter",
                Expect::Rows,
                Some(1),
                None,
            ),
            user_check(
                "outfile",
                "SELECT * FROM Filter INTO OUTFILE '/tmp/check-outfile.txt'",
                Expect::Value,
                None,
                Some("1"),
            ),
        ],
        ..CheckPlan::default()
    };
    let report = run_checks(&target(s, DB, true), &plan).await.unwrap();
    for (name, reason) in [
        ("drop", "starts with DROP"),
        ("hidden-delete", "more than one statement"),
        ("outfile", "SELECT ... INTO"),
    ] {
        let c = check(&report, name);
        let message = c.message.clone().unwrap_or_default();
        assert!(!c.passed, "{name} passed");
        assert!(
            message.contains("not a read-only query") && message.contains(reason),
            "{name}: {message}"
        );
    }
    for server in [&s.qserv, &s.reference] {
        let mut conn = Conn::from_url(server.url()).await.unwrap();
        let tables: Vec<String> = conn.query("SHOW TABLES FROM check_other").await.unwrap();
        assert_eq!(tables, ["t"]);
        let filters: i64 = one(&mut conn, &format!("SELECT COUNT(*) FROM {DB}.Filter")).await;
        assert_eq!(filters, 9);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sorted_comparisons_are_capped_with_a_clear_error() {
    let s = servers().await;
    let mut check_spec = user_check("big", "SELECT * FROM Source", Expect::Reference, None, None);
    check_spec.sort = true;
    let plan = CheckPlan {
        checks: vec![check_spec],
        max_sort_bytes: 100_000,
        ..CheckPlan::default()
    };
    let report = run_checks(&target(s, DB, true), &plan).await.unwrap();
    let c = check(&report, "big");
    assert!(!c.passed);
    assert_eq!(
        c.message.as_deref(),
        Some(
            "qserv: the result is over 100000 bytes, too big to sort in memory; give the query \
             an ORDER BY and compare without sorting"
        )
    );
}

fn cli(s: &Servers, db: &str, extra: &[&str]) -> std::process::Output {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qserv-operator"));
    cmd.args([
        "check",
        "--qserv",
        &s.qserv.url(),
        "--reference",
        &s.reference.url(),
    ])
    .args(["--database", db, "--without-qserv-functions", "--spec"])
    .arg(&spec)
    .arg("--queries")
    .arg(case01().join("queries"))
    .args(extra);
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_prints_the_table_and_exits_non_zero_on_failure() {
    let s = servers().await;
    let dir = tempfile::tempdir().unwrap();
    let result_file = dir.path().join("result.json");
    let out = cli(
        s,
        DB,
        &[
            "--rows-read",
            "Object=88",
            "--result-file",
            result_file.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("CHECK") && lines[0].contains("RESULT"),
        "{stdout}"
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("rows/Object "))
        .unwrap();
    assert!(row.contains(" passed ") && row.contains(" 88/88 "), "{row}");
    let skipped = lines
        .iter()
        .find(|l| l.starts_with("query/1051_nn "))
        .unwrap();
    assert!(
        skipped.contains(" skipped ") && skipped.contains("scisql_angSep"),
        "{skipped}"
    );
    assert!(
        lines.last().unwrap().starts_with(
            "73/73 checks passed, 12 skipped (Qserv-only functions), 38 skipped (FIXME) in "
        ),
        "{stdout}"
    );
    let report: CheckReport =
        serde_json::from_slice(&std::fs::read(&result_file).unwrap()).unwrap();
    assert_eq!(
        (report.passed, report.failed, report.skipped.len()),
        (73, 0, 50)
    );

    // A tampered copy: exit 1, the failing line says FAILED with the first difference.
    let mut conn = copy(s, "tamper_cli").await;
    conn.query_drop("UPDATE Filter SET photClam = 0.5 WHERE filterId = 0")
        .await
        .unwrap();
    let out = cli(s, "tamper_cli", &["--format", "table"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    println!("{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("query/1084_not_like "))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words[1..3] == ["FAILED", "8/8"]
            && line.contains(": qserv: (0, 'u', 0.5, ")
            && line.contains(" reference: (0, 'u', "),
        "{line}"
    );
    assert!(
        stdout.lines().last().unwrap().contains("FAILED"),
        "{stdout}"
    );

    // JSON on stdout; a bad --rows-read is an error naming it.
    let out = cli(s, DB, &["--format", "json"]);
    let report: CheckReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.failed, 0);
    let out = cli(s, DB, &["--rows-read", "Nope=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--rows-read Nope: no such table"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_check_times_out_and_the_next_one_runs() {
    let s = servers().await;
    let plan = CheckPlan {
        checks: vec![
            user_check("slow", "SELECT SLEEP(3)", Expect::Rows, Some(1), None),
            user_check(
                "next",
                "SELECT COUNT(*) FROM Filter",
                Expect::Value,
                None,
                Some("9"),
            ),
        ],
        timeout: Some(std::time::Duration::from_millis(500)),
        ..CheckPlan::default()
    };
    let report = run_checks(&target(s, DB, true), &plan).await.unwrap();
    let slow = check(&report, "slow");
    assert!(!slow.passed);
    assert_eq!(slow.message.as_deref(), Some("timed out after 0.5s"));
    assert!(slow.duration_seconds.unwrap() < 2.0, "{slow:?}");
    assert!(check(&report, "next").passed, "{report:#?}");
}

/// Results are compared as they stream: every row is counted on both sides past the first
/// difference, which is reported at its position.
#[tokio::test(flavor = "multi_thread")]
async fn streaming_comparison_counts_past_the_first_difference() {
    use qserv_operator::check::{CompareOptions, Comparison, compare::compare};
    let s = servers().await;
    let n = 300_000;
    let mut q = Conn::from_url(format!("{}/{DB}", s.qserv.url()))
        .await
        .unwrap();
    let mut r = Conn::from_url(format!("{}/{DB}", s.reference.url()))
        .await
        .unwrap();
    let reference_sql = format!("SELECT seq FROM seq_1_to_{n}");
    let started = std::time::Instant::now();
    let same = compare(
        &mut q,
        &reference_sql,
        &mut r,
        &reference_sql,
        CompareOptions::default(),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{n} rows compared in {elapsed:.2}s ({:.0} rows/s)",
        n as f64 / elapsed
    );
    assert_eq!(
        same,
        Comparison {
            qserv_rows: n,
            reference_rows: n,
            first_difference: None
        }
    );
    let changed = format!("SELECT IF(seq = 165432, NULL, seq) AS seq FROM seq_1_to_{n}");
    let differ = compare(
        &mut q,
        &changed,
        &mut r,
        &reference_sql,
        CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        differ,
        Comparison {
            qserv_rows: n,
            reference_rows: n,
            first_difference: Some("row 165432: qserv: (NULL) reference: (165432)".into())
        }
    );
    // Column names count unless the query says `noheader`, and only above rows (as the
    // Python runner prints no header for an empty result).
    let renamed = format!("SELECT seq AS n FROM seq_1_to_{n}");
    let header = compare(
        &mut q,
        &renamed,
        &mut r,
        &reference_sql,
        CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        header.first_difference.as_deref(),
        Some("columns: qserv: (n) reference: (seq)")
    );
    let noheader = CompareOptions {
        column_names: false,
        ..CompareOptions::default()
    };
    let unnamed = compare(&mut q, &renamed, &mut r, &reference_sql, noheader)
        .await
        .unwrap();
    assert_eq!(unnamed.first_difference, None);
    let empty = compare(
        &mut q,
        "SELECT seq AS n FROM seq_1_to_3 WHERE seq > 5",
        &mut r,
        "SELECT seq FROM seq_1_to_3 WHERE seq > 5",
        CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((empty.qserv_rows, empty.first_difference), (0, None));
    // One row fewer on the Qserv side: the counts say so, the difference is the missing row.
    let shorter = format!("SELECT seq FROM seq_1_to_{}", n - 1);
    let missing = compare(
        &mut q,
        &shorter,
        &mut r,
        &reference_sql,
        CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        missing,
        Comparison {
            qserv_rows: n - 1,
            reference_rows: n,
            first_difference: Some(format!("row {n}: qserv: (no row) reference: ({n})"))
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_database_or_server_is_an_error_naming_it() {
    let s = servers().await;
    let err = run_checks(&target(s, "no_such_db", true), &CheckPlan::default())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "qserv (127.0.0.1:{}): cannot connect to database `no_such_db`: Unknown database 'no_such_db'",
            s.qserv.port()
        )
    );
    let port = common::mariadb::free_port();
    let gone = CheckTarget::parse(
        &s.qserv.url(),
        Some(&format!("mysql://root@127.0.0.1:{port}")),
        DB,
        true,
    )
    .unwrap();
    let err = run_checks(&gone, &CheckPlan::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("reference (127.0.0.1:{port}): cannot connect")),
        "{err}"
    );
}

/// Without a reference database: counts against the rows read, Qserv-side checks run, the
/// comparisons are skipped with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_reference_only_qserv_side_checks_run() {
    let s = servers().await;
    let mut conn = copy(s, "noref_deleted").await;
    let target = CheckTarget::parse(&s.qserv.url(), None, "noref_deleted", true).unwrap();
    let report = run_checks(&target, &plan(s, true)).await.unwrap();
    let kind = |k| report.skipped.iter().filter(|s| s.kind == k).count();
    // The example's 3 `expect: reference` checks and all 68 query files.
    assert_eq!(kind(SkipKind::NoReference), 3 + 68);
    assert_eq!(kind(SkipKind::Fixme), 38);
    assert!(
        report.skipped[0]
            .reason
            .starts_with("no reference database")
    );
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "rows/Object",
            "chunks/Object",
            "unique-ids/Object",
            "rows/Source",
            "chunks/Source",
            "rows/Filter",
            "rows/LeapSeconds",
            "rows/Logs",
            "rows/RefSrcMatch",
            "rows/Science_Ccd_Exposure",
            "rows/SimRefObject",
            "rows/sdqa_Metric",
            "fetch-object-by-id",
            "filters"
        ]
    );
    assert!(report.all_passed(), "{report:#?}");
    let rows = check(&report, "rows/Object");
    assert_eq!((rows.qserv_rows, rows.reference_rows), (Some(88), None));

    conn.query_drop("DELETE FROM Object WHERE objectId = 430213989148129")
        .await
        .unwrap();
    // As the check Job runs it.
    let mut spec = case01_ingest().spec;
    spec.database = "noref_deleted".into();
    let report = run_for_ingest(&spec, &s.qserv.url(), None, true, &s.rows_read)
        .await
        .unwrap();
    assert_eq!(report.status_skipped().len(), 3);
    let rows = check(&report, "rows/Object");
    assert!(!rows.passed);
    assert_eq!(rows.message.as_deref(), Some("rows: Qserv 87, read 88"));
    assert_eq!(rows.first_difference, None);
}

/// `SELECT *` on Qserv returns the `qserv_trans_id` column the ingest adds to every table: it
/// is left out of the comparison, the values are still compared.
#[tokio::test(flavor = "multi_thread")]
async fn the_transaction_column_qserv_adds_is_not_a_difference() {
    let s = servers().await;
    let mut conn = copy(s, "trans_column").await;
    conn.query_drop(
        "ALTER TABLE Filter ADD COLUMN qserv_trans_id INT UNSIGNED NOT NULL DEFAULT 7 FIRST",
    )
    .await
    .unwrap();
    let mut plan = plan(s, false);
    plan.checks = vec![CheckSpec {
        name: "all-filters".into(),
        sql: "SELECT * FROM Filter ORDER BY filterId".into(),
        expect: Expect::Reference,
        rows: None,
        value: None,
        sort: false,
    }];
    let run = || async {
        run_checks(&target(s, "trans_column", true), &plan)
            .await
            .unwrap()
    };
    let c = check(&run().await, "all-filters").clone();
    assert!(c.passed, "{c:?}");
    assert_eq!((c.qserv_rows, c.reference_rows), (Some(9), Some(9)));

    conn.query_drop("UPDATE Filter SET filterName = 'x' WHERE filterId = 2")
        .await
        .unwrap();
    let c = check(&run().await, "all-filters").clone();
    assert!(!c.passed);
    assert_eq!(
        c.first_difference.as_deref().unwrap(),
        "row 4: qserv: (2, 'x', 0, 0) reference: (2, 'r', 0, 0)",
        "filterId -99 sorts first"
    );
}
