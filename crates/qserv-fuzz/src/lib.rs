//! What each fuzz target does with its input, as plain functions: `fuzz/fuzz_targets/*.rs` call
//! them under libFuzzer (`make fuzz`), and `tests/corpus.rs` replays the committed seed corpus
//! and every input that once crashed (`fuzz/regressions/<target>/`) in the ordinary test suite.
//!
//! Each function panics only on a bug: a reader or parser may refuse its input, but with an
//! error, never a panic, an overflow or unbounded work; the API server may refuse a request,
//! but with a 4xx `Status`, never a 500 (its handlers' panics are caught and answered 500)
//! other than etcd's for an object over its size limit.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use qserv_operator::catalog::{CsvOptions, CsvReader, Dialect, sqlschema};

/// What a target does with one input.
pub type Body = fn(&[u8]);

/// The targets, by name (the directory names under `fuzz/corpus` and `fuzz/regressions`).
pub const TARGETS: &[(&str, Body)] = &[
    ("csv_reader", csv_reader),
    ("ddl_schema", ddl_schema),
    ("query_suite", query_suite),
    ("spec_validation", spec_validation),
    ("apiserver_requests", apiserver_requests),
];

/// The CSV/TSV reader. The first byte picks the dialect (delimiter, quote, escape, NULL token)
/// and the header; the second whether a typed schema (integer, double, text, nullable or not)
/// is given; the rest is the file.
pub fn csv_reader(data: &[u8]) {
    let [mode, typed, text @ ..] = data else {
        return;
    };
    let delimiter = [b',', b'\t', b'|', b';'][usize::from(mode & 3)];
    let quote = [None, Some(b'"'), Some(b'\''), Some(b'"')][usize::from(mode >> 2 & 3)];
    let escape = (mode & 16 != 0).then_some(b'\\');
    let null = (mode & 64 != 0).then(|| b"\\N".to_vec());
    let mut options = CsvOptions::with_dialect(Dialect::new(delimiter, quote, escape, null));
    options.header = mode & 32 != 0;
    if typed & 1 != 0 {
        let ddl = "CREATE TABLE t (id BIGINT NOT NULL, ra DOUBLE, name VARCHAR(20), flag TINYINT NOT NULL)";
        let schema = sqlschema::schema_from_ddl(ddl, None).expect("the fixed DDL parses");
        options.schema = Some(Arc::new(schema));
        options.header = false;
    } else if !options.header {
        options.fields = (0..usize::from(typed >> 1 & 7) + 1)
            .map(|i| format!("c{i}"))
            .collect();
    }
    let columns = options.schema.as_ref().map(|s| s.fields().len());
    let input: Box<dyn std::io::Read + Send> = Box::new(Cursor::new(text.to_vec()));
    let Ok(reader) = CsvReader::from_reader(Path::new("fuzz.csv"), input, &options, 7) else {
        return;
    };
    let mut rows = 0usize;
    for batch in reader {
        let Ok(batch) = batch else { break };
        assert!(batch.num_rows() <= 7, "a batch is at most batch_rows rows");
        if let Some(n) = columns {
            assert_eq!(batch.num_columns(), n, "the schema's columns");
        }
        rows += batch.num_rows();
    }
    // Every record ends with a newline or the end of the input: never more rows than lines.
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(rows <= lines, "{rows} rows from {lines} lines");
}

/// The MySQL DDL parser (`schema:` files): the schema and the CREATE TABLE we would send.
pub fn ddl_schema(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(schema) = sqlschema::schema_from_ddl(text, None) {
        let rendered = qserv_operator::catalog::create_table_sql("t", &schema);
        // What we render from a parsed schema parses again, to the same columns.
        if let Ok(sql) = rendered {
            let again = sqlschema::schema_from_ddl(&sql, None)
                .unwrap_or_else(|e| panic!("our own DDL does not parse: {e}\n{sql}"));
            let names = |s: &arrow_schema::Schema| {
                s.fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&again), names(&schema), "{sql}");
        }
    }
}

/// The query-suite parser (qserv_testdata `queries/*.sql`) and the read-only guard every
/// rendered statement goes through.
pub fn query_suite(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let guard = qserv_operator::read_only::only_a_query;
    let _ = guard(text);
    let databases = qserv_operator::check::Databases::of("db_qserv");
    let parsed =
        qserv_operator::check::queries::parse_query("q", Path::new("q.sql"), text, &databases);
    if let Ok(query) = parsed {
        let _ = guard(&query.qserv_sql);
        let _ = guard(&query.reference_sql);
        // The order rule reads the same statements with the guard's lexer.
        let _ = qserv_operator::check::order::has_top_level_order_by(&query.qserv_sql);
    }
}

/// Manifest validation (`qserv-operator validate`: types, unknown fields, `validate()`, the CRD
/// CEL rules) of every YAML document of the input.
pub fn spec_validation(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use serde::Deserialize;
    for (index, doc) in serde_norway::Deserializer::from_str(text)
        .enumerate()
        .take(8)
    {
        let Ok(value) = serde_json::Value::deserialize(doc) else {
            break;
        };
        let _ = qserv_operator::api::manifest::check_document(index, &value);
    }
    let _ = qserv_operator::check::cli::parse_spec(text).map(|spec| spec.validate());
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const CONTENT_TYPES: [&str; 7] = [
    "application/json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
];

/// The embedded API server's request handling: up to 8 requests against one fresh server,
/// separated by a line `--`; each is a method byte, a content-type byte, the path and query up
/// to a newline, then the body. No request may be answered 500 but for an object too large.
pub fn apiserver_requests(data: &[u8]) {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime")
    });
    let _entered = runtime.enter();
    let server = qserv_local::apiserver::InProcess::new().expect("the store starts");
    for request in split(data, b"\n--\n").take(8) {
        let [method, content_type, rest @ ..] = request else {
            continue;
        };
        let (target, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        };
        let Ok(target) = std::str::from_utf8(target) else {
            continue;
        };
        let built = http::Request::builder()
            .method(METHODS[usize::from(*method) % METHODS.len()])
            .uri(target)
            .header(
                "content-type",
                CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()],
            )
            .header("accept", "application/json")
            .body(bytes::Bytes::copy_from_slice(body));
        let Ok(built) = built else { continue };
        let response = server.request(built);
        let code = response.status().as_u16();
        assert!((200..600).contains(&code), "{target} answered {code}");
        if code == 500 {
            // The one 500 the real server gives for a request: etcd refusing an object over
            // its size limit. Any other is a handler that failed.
            use http_body_util::BodyExt;
            let body = runtime
                .block_on(response.into_body().collect())
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let status: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            assert_eq!(
                status["message"],
                "etcdserver: request is too large",
                "{} {target} answered 500: {status}",
                METHODS[usize::from(*method) % METHODS.len()]
            );
        }
    }
}

fn split<'a>(data: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current
            .windows(separator.len())
            .position(|w| w == separator)
        {
            Some(at) => {
                rest = Some(&current[at + separator.len()..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}
