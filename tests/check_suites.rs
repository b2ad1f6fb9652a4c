//! Query suites as their runners write and run them, on two real MariaDB servers holding
//! qserv_testdata case01 (`common::case01`): each side on its own database (`_qserv` on Qserv,
//! `_mysql` on the reference, or one name), the files the runner leaves out (FIXME, not
//! `*.sql`, skip numbers) reported with the rule, column names compared as MariaDB compares
//! them, rows in order only where the query orders them, values as the `mysql` client prints
//! them. case01's own files where one exercises the rule, small fixtures for the others.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use qserv_operator::check::{CheckPlan, CheckReport, CheckResult, SkipKind, run_checks};

use common::case01::*;

/// A query directory holding `files` (name, text).
fn suite(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn queries_only(dir: &Path) -> CheckPlan {
    CheckPlan {
        queries: Some(dir.to_path_buf()),
        ..CheckPlan::default()
    }
}

fn case01_queries() -> PathBuf {
    case01().join("queries")
}

fn queries_of(report: &CheckReport) -> Vec<&CheckResult> {
    report
        .checks
        .iter()
        .filter(|c| c.name.starts_with("query/"))
        .collect()
}

fn skipped_as(report: &CheckReport, kind: SkipKind) -> Vec<&str> {
    report
        .skipped
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.name.as_str())
        .collect()
}

/// A qserv_testdata dataset names its reference copy `<x>_mysql`, through `{DBTAG_A}` or
/// literally (its case03 `0032_longSelectListItem.sql`); a Qserv 2026 dataset (`qcase01`) has
/// one name on both sides.
#[tokio::test(flavor = "multi_thread")]
async fn each_side_runs_on_the_database_its_runner_names() {
    let s = servers().await;
    let dir = suite(&[
        (
            "0001_dbtag.sql",
            "SELECT filterName FROM {DBTAG_A}Filter WHERE filterId = 2;\n",
        ),
        (
            "0032_longSelectListItem.sql",
            "-- as qserv_testdata's case03 writes it\n-- pragma sortresult\n\
             -- withQserv  SELECT qservTest_case01_qserv.Filter.filterName FROM qservTest_case01_qserv.Filter;\n\
             SELECT qservTest_case01_mysql.Filter.filterName FROM qservTest_case01_mysql.Filter; -- noQserv\n",
        ),
    ]);
    let report = run_checks(&target(s, DB, true), &queries_only(dir.path()))
        .await
        .unwrap();
    assert_eq!(report.reference_database, REF_DB);
    let rows: Vec<(&str, bool, Option<i64>, Option<i64>)> = report
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.passed, c.qserv_rows, c.reference_rows))
        .collect();
    assert_eq!(
        rows,
        [
            ("query/0001_dbtag", true, Some(1), Some(1)),
            ("query/0032_longSelectListItem", true, Some(9), Some(9)),
        ],
        "{report:#?}"
    );
    // Only the reference holds `_mysql`: the check really ran each side on its own name.
    let mut reference = Conn::from_url(s.reference.url()).await.unwrap();
    let dbs: Vec<String> = reference
        .query("SHOW DATABASES LIKE 'qservTest_case01%'")
        .await
        .unwrap();
    assert_eq!(dbs, [REF_DB]);
    let mut qserv = Conn::from_url(s.qserv.url()).await.unwrap();
    let dbs: Vec<String> = qserv
        .query("SHOW DATABASES LIKE 'qservTest_case01%'")
        .await
        .unwrap();
    assert_eq!(dbs, [DB]);

    // Qserv 2026's naming: `qcase01` on both sides; the whole case01 suite passes there.
    copy(s, "qcase01").await;
    let report = run_checks(&target(s, "qcase01", true), &plan(s, true))
        .await
        .unwrap();
    assert_eq!(
        (report.database.as_str(), report.reference_database.as_str()),
        ("qcase01", "qcase01")
    );
    assert_eq!(failures(&report), Vec::<&CheckResult>::new());
    assert_eq!(queries_of(&report).len(), 56);
    assert!(check(&report, "query/0001.4_fetchObjectByIdFullyQualified").passed);
}

/// `skip_numbers` as Qserv's integration_tests.yaml gives them: the text before the first `_`
/// of a `.sql` file's name, matched exactly; the skipped files are reported with the rule, from
/// the CatalogIngest's `querySkipNumbers` and from `check --skip-number`.
#[tokio::test(flavor = "multi_thread")]
async fn skip_numbers_leave_out_the_files_the_yaml_names() {
    let s = servers().await;
    let mut spec = case01_ingest().spec;
    // case01's own list (2100, 3008: FIXME in this copy already), and two numbers that name
    // several files: 0003 (three files) and 1006 (1006_qserv_func_with_equals.1 and .2).
    spec.query_skip_numbers = ["2100", "3008", "0003", "1006"].map(String::from).to_vec();
    spec.validate().unwrap();
    let mut plan = CheckPlan::from_spec(&spec)
        .unwrap()
        .with_rows_read(&s.rows_read);
    plan.queries = Some(case01_queries());
    let report = run_checks(&target(s, DB, true), &plan).await.unwrap();
    assert_eq!(failures(&report), Vec::<&CheckResult>::new());
    assert_eq!(
        skipped_as(&report, SkipKind::SkipNumber),
        [
            "query/0003_selectMetadataForOneGalaxy",
            "query/0003_selectMetadataForOneGalaxy_classicJOIN",
            "query/0003_selectMetadataForOneGalaxy_withUSING",
            "query/1006_qserv_func_with_equals.1",
            "query/1006_qserv_func_with_equals.2",
        ]
    );
    // The runner looks at `.sql` files only, so FIXME wins over a skip number.
    assert_eq!(skipped_as(&report, SkipKind::Fixme).len(), 38);
    let fixme = report
        .skipped
        .iter()
        .find(|s| s.name == "query/2100_groupByChunkId")
        .unwrap();
    assert_eq!(fixme.kind, SkipKind::Fixme);
    // The 1006 files call qserv_areaspec_box: skipped by number before the function rule.
    assert_eq!(skipped_as(&report, SkipKind::QservOnly).len(), 12 - 2);
    assert_eq!(queries_of(&report).len(), 56 - 3);
    let reason = &report
        .skipped
        .iter()
        .find(|s| s.name == "query/0003_selectMetadataForOneGalaxy_withUSING")
        .unwrap()
        .reason;
    assert_eq!(
        reason,
        "its number is a skip number (0003: the text before the first '_' of \
         0003_selectMetadataForOneGalaxy_withUSING.sql, as skip_numbers in Qserv's \
         integration_tests.yaml)"
    );
    // As status shows them.
    let status = report.status_skipped();
    assert!(
        status
            .iter()
            .any(|s| s.name == "query/1006_qserv_func_with_equals.2"
                && s.reason.starts_with("its number is a skip number (1006: ")),
        "{status:#?}"
    );

    // The CLI: `--skip-number`, comma-separated or repeated, added to the spec's.
    let spec_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalogingest-case01.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args([
            "check",
            "--qserv",
            &s.qserv.url(),
            "--reference",
            &s.reference.url(),
        ])
        .args(["--without-qserv-functions", "--spec"])
        .arg(&spec_file)
        .arg("--queries")
        .arg(case01_queries())
        .args(["--skip-number", "0003,1006", "--skip-number", "0001.1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with(
            "69/69 checks passed, 10 skipped (Qserv-only functions), 38 skipped (FIXME), \
             6 skipped (skip number) in "
        ),
        "{summary}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("query/0001.1_fetchObjectById "))
        .unwrap();
    assert!(
        line.contains(" skipped ") && line.contains("a skip number (0001.1: "),
        "{line}"
    );
    // 0001.2 has another number.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("query/0001.2_fetchObjectByIdIN ") && l.contains(" passed ")),
        "{stdout}"
    );
}

/// Column names as MariaDB compares them: a name differing only in case is the same column
/// (the runner's byte comparison would fail case01's 1103 here); a name spelled otherwise is
/// not, unless the file says `noheader`.
#[tokio::test(flavor = "multi_thread")]
async fn column_names_compare_as_mariadb_compares_them() {
    let s = servers().await;
    // The rule itself, against MariaDB's: two columns of one table may not have the same name.
    let mut conn = Conn::from_url(s.qserv.url()).await.unwrap();
    conn.query_drop("CREATE DATABASE names_rule").await.unwrap();
    for (a, b) in [
        ("COUNT(*)", "count(*)"),
        ("objectId", "OBJECTID"),
        ("é", "É"),
        ("é", "e"),
        ("ß", "ss"),
        ("Σx", "σx"),
        ("COUNT( * )", "COUNT(*)"),
        ("MAX(a) - MIN(a)", "(MAX(a)-MIN(a))"),
        ("ra", "ra_PS"),
    ] {
        let created = conn
            .query_drop(format!("CREATE TABLE names_rule.t (`{a}` INT, `{b}` INT)"))
            .await;
        let duplicate = match created {
            Ok(()) => {
                conn.query_drop("DROP TABLE names_rule.t").await.unwrap();
                false
            }
            Err(mysql_async::Error::Server(e)) if e.code == 1060 => true,
            Err(e) => panic!("{a} / {b}: {e}"),
        };
        assert_eq!(
            qserv_operator::check::columns::same_name(a, b),
            duplicate,
            "{a} / {b}"
        );
    }

    // case01's `SELECT SimRefObject.*` with Qserv's table naming a column in other case.
    let mut conn = copy(s, "names_case").await;
    conn.query_drop("ALTER TABLE SimRefObject RENAME COLUMN refObjectId TO REFOBJECTID")
        .await
        .unwrap();
    let report = run_checks(&target(s, "names_case", true), &plan(s, true))
        .await
        .unwrap();
    assert_eq!(failures(&report), Vec::<&CheckResult>::new());
    let star = check(&report, "query/1103_select_star_with_limit");
    assert_eq!((star.qserv_rows, star.reference_rows), (Some(5), Some(5)));
    // Another name is a difference.
    conn.query_drop("ALTER TABLE SimRefObject RENAME COLUMN ra TO ra2")
        .await
        .unwrap();
    let report = run_checks(&target(s, "names_case", true), &plan(s, true))
        .await
        .unwrap();
    let failed: Vec<&str> = failures(&report).iter().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["query/1103_select_star_with_limit"]);
    let difference = check(&report, "query/1103_select_star_with_limit")
        .first_difference
        .clone()
        .unwrap();
    assert!(
        difference.starts_with("columns: qserv: (REFOBJECTID, ")
            && difference.contains(", ra2, ")
            && difference.contains("reference: (refObjectId, "),
        "{difference}"
    );

    // Spellings of one aggregate: case does not count, spaces do, noheader leaves names out.
    let dir = suite(&[
        (
            "0001_count_case.sql",
            "-- withQserv SELECT count(*) FROM Filter\nSELECT COUNT(*) FROM Filter -- noQserv\n",
        ),
        (
            "0002_count_spaces.sql",
            "-- withQserv SELECT COUNT( * ) FROM Filter\nSELECT COUNT(*) FROM Filter -- noQserv\n",
        ),
        (
            "0003_count_noheader.sql",
            "-- pragma noheader\n-- withQserv SELECT COUNT( * ) FROM Filter\n\
             SELECT COUNT(*) FROM Filter -- noQserv\n",
        ),
    ]);
    let report = run_checks(&target(s, DB, true), &queries_only(dir.path()))
        .await
        .unwrap();
    let outcome: Vec<(&str, bool, Option<&str>)> = report
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.passed, c.first_difference.as_deref()))
        .collect();
    assert_eq!(
        outcome,
        [
            ("query/0001_count_case", true, None),
            (
                "query/0002_count_spaces",
                false,
                Some("columns: qserv: (COUNT( * )) reference: (COUNT(*))")
            ),
            ("query/0003_count_noheader", true, None),
        ]
    );
}

/// In order only where both sides' statements order the rows: a scan without ORDER BY passes
/// against a Qserv side that returns its rows the other way round, where the runner's in-order
/// comparison fails; an ORDER BY is held to its order.
#[tokio::test(flavor = "multi_thread")]
async fn rows_are_compared_in_order_only_where_the_query_orders_them() {
    let s = servers().await;
    let mut conn = copy(s, "order_reversed").await;
    // Object has no primary key: a scan returns rows in insertion order, here reversed.
    for sql in [
        "CREATE TABLE Object_r AS SELECT * FROM Object ORDER BY objectId DESC",
        "DROP TABLE Object",
        "RENAME TABLE Object_r TO Object",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    // A scan without ORDER BY or sortresult, as Qserv 2026's case03 writes
    // `0032_longSelectListItem.sql` (every multi-row query of case01 says sortresult or
    // ORDER BY). The two sides really return the rows in other orders.
    let scan = "SELECT objectId, ra_PS FROM Object";
    let rows = |url: String| async move {
        let mut c = Conn::from_url(format!("{url}/order_reversed"))
            .await
            .unwrap();
        c.query::<(i64, f64), _>(scan).await.unwrap()
    };
    let on_qserv = rows(s.qserv.url()).await;
    let mut on_reference = rows(s.reference.url()).await;
    assert_eq!(on_qserv.len(), 88);
    assert_ne!(
        on_qserv, on_reference,
        "the sides must disagree on the order"
    );
    on_reference.sort_by_key(|r| std::cmp::Reverse(r.0));
    assert_eq!(on_qserv, on_reference);

    // case01's own suite does not depend on the order either.
    let report = run_checks(&target(s, "order_reversed", true), &plan(s, true))
        .await
        .unwrap();
    assert_eq!(failures(&report), Vec::<&CheckResult>::new());
    assert_eq!(queries_of(&report).len(), 56);

    // ORDER BY holds: photClam is 0 everywhere; on the Qserv side it now orders the filters
    // the other way round (same rows, another order).
    conn.query_drop("UPDATE Filter SET photClam = -filterId")
        .await
        .unwrap();
    let ordered = "SELECT filterId FROM Filter ORDER BY photClam, filterId\n";
    let dir = suite(&[
        ("0001_ordered.sql", ordered),
        (
            "0002_sorted.sql",
            &format!("-- pragma sortresult\n{ordered}"),
        ),
        ("0032_scan.sql", &format!("{scan}\n")),
    ]);
    let report = run_checks(
        &target(s, "order_reversed", true),
        &queries_only(dir.path()),
    )
    .await
    .unwrap();
    let ordered = check(&report, "query/0001_ordered");
    assert!(!ordered.passed);
    assert_eq!(
        ordered.message.as_deref(),
        Some(
            "results differ (9 rows from Qserv, 9 from the reference); rows compared in order (ORDER BY)"
        )
    );
    assert!(
        ordered
            .first_difference
            .as_deref()
            .unwrap()
            .starts_with("row 1: ")
    );
    assert!(check(&report, "query/0002_sorted").passed);
    let unordered = check(&report, "query/0032_scan");
    assert!(unordered.passed, "{unordered:?}");
    assert_eq!(
        (unordered.qserv_rows, unordered.reference_rows),
        (Some(88), Some(88))
    );
}

/// Values as the `mysql` client prints them for the runner: a binary value is `0x...`, text is
/// text, so the same bytes binary on one side and text on the other differ; NULL stays apart
/// from the string `NULL`, where the client prints both as `NULL`.
#[tokio::test(flavor = "multi_thread")]
async fn values_compare_as_the_client_prints_them_and_null_apart() {
    let s = servers().await;
    let dir = suite(&[
        (
            "0001_binary_vs_text.sql",
            "-- pragma sortresult\n-- withQserv SELECT CAST(filterName AS BINARY) AS f FROM Filter\n\
             SELECT filterName AS f FROM Filter -- noQserv\n",
        ),
        (
            "0002_binary_both.sql",
            "-- pragma sortresult\nSELECT CAST(filterName AS BINARY) AS f FROM Filter\n",
        ),
        (
            "0003_null_vs_string.sql",
            "-- withQserv SELECT NULL AS v\nSELECT 'NULL' AS v -- noQserv\n",
        ),
        (
            "0004_null_binary_vs_text.sql",
            "-- withQserv SELECT CAST(NULL AS BINARY) AS v\nSELECT CAST(NULL AS CHAR) AS v -- noQserv\n",
        ),
    ]);
    let report = run_checks(&target(s, DB, true), &queries_only(dir.path()))
        .await
        .unwrap();
    let outcome: Vec<(&str, bool, Option<&str>)> = report
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.passed, c.first_difference.as_deref()))
        .collect();
    // Sorted, the first row is filter `V` on both sides (shorter values sort first, then by
    // bytes: u g r i z y w V DD), shown as the client shows each side.
    assert_eq!(
        outcome,
        [
            (
                "query/0001_binary_vs_text",
                false,
                Some("row 1: qserv: (0x56) reference: ('V')")
            ),
            ("query/0002_binary_both", true, None),
            (
                "query/0003_null_vs_string",
                false,
                Some("row 1: qserv: (NULL) reference: ('NULL')")
            ),
            ("query/0004_null_binary_vs_text", true, None),
        ]
    );
}

/// `check --reference-database` names the reference's database where the rule's name does not
/// fit; an unknown one is an error naming it (exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_takes_the_reference_database_it_is_given() {
    let s = servers().await;
    // `cli_other` on both sides, one row fewer in the reference's.
    copy(s, "cli_other").await;
    let mut reference = Conn::from_url(s.reference.url()).await.unwrap();
    reference
        .query_drop("DELETE FROM cli_other.Filter WHERE filterId = 0")
        .await
        .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
            .args([
                "check",
                "--qserv",
                &s.qserv.url(),
                "--reference",
                &s.reference.url(),
            ])
            .args(["--without-qserv-functions", "--format", "json", "--queries"])
            .arg(case01_queries())
            .args(["--database", "cli_other"])
            .args(extra)
            .output()
            .unwrap()
    };
    // By the rule the reference is `cli_other`: the missing row fails queries.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let report: CheckReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.reference_database, "cli_other");
    assert!(report.failed > 0);
    // Named: the untouched reference copy, and every query passes.
    let out = run(&["--reference-database", REF_DB]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: CheckReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report.database.as_str(), report.reference_database.as_str()),
        ("cli_other", REF_DB)
    );
    assert_eq!((report.passed, report.failed), (56, 0));
    let out = run(&["--reference-database", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "reference (127.0.0.1:{}): cannot connect to database `nope`",
            s.reference.port()
        )),
        "{stderr}"
    );
}
