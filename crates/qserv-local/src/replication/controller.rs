//! The controller's services: databases, tables, transactions, chunk allocation, publishing,
//! director index, row counters (lsst/qserv `doc/ingest/api/reference/rest/controller/*.rst`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use super::contract::{Outcome, Params, Refusal, respond};
use super::state::{Shared, db_json};
use super::{databases, publishing, transactions};

const MAX_BODY: usize = 16 << 20;

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Params::parse_query(req.uri().query());
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(respond(Err(Refusal::new(format!("request body: {e}"))))),
    };
    let outcome = async {
        // `GET /ingest/regular` takes its parameters in the body (table-location.rst says
        // so, and that it is a design mistake); other GETs have none.
        let body = if method == Method::GET && body.is_empty() {
            Default::default()
        } else {
            Params::parse_json_body(&body)?
        };
        let params = Params { body, query };
        route(&shared, &method, &path, &params).await
    }
    .await;
    if let Err(r) = &outcome {
        tracing::debug!(%method, path, error = r.error, "replication stand-in refused");
    }
    Ok(respond(outcome))
}

async fn route(s: &Shared, method: &Method, path: &str, p: &Params) -> Outcome {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Unknown services are 404 before any check; then authorization, then the version,
    // as `Module::execute` does.
    let known = matches!(
        (method.as_str(), segs.as_slice()),
        ("GET", ["meta", "version"])
            | ("GET", ["replication", "config"])
            | ("DELETE", ["replication", "config", "worker", _])
            | ("POST", ["ingest", "database"])
            | ("PUT" | "DELETE", ["ingest", "database", _])
            | ("POST", ["ingest", "table"])
            | ("POST" | "GET", ["ingest", "trans"])
            | ("GET" | "PUT", ["ingest", "trans", _])
            | ("POST", ["ingest", "chunk"])
            | ("GET", ["ingest", "regular"])
            | ("POST", ["ingest", "index", "secondary"])
            | ("POST", ["ingest", "table-stats"])
            | ("GET", ["ingest", "table-stats", _, _])
    );
    if !known {
        return Err(Refusal::not_found(path));
    }
    let is_admin = if *method == Method::GET {
        false
    } else {
        p.authorize(&s.auth_key, &s.admin_auth_key)?
    };
    if let Some(min) = min_version(method, &segs, p) {
        p.check_version(min)?;
    }
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["meta", "version"]) => Ok(json!({
            "kind": "replication-controller", "name": "http", "id": 1,
            "instance_id": s.instance_id, "version": super::MAX_VERSION,
            "database_schema_version": 14,
        })),
        ("GET", ["replication", "config"]) => Ok(config(s)),
        ("DELETE", ["replication", "config", "worker", name]) => delete_worker(s, name),
        ("POST", ["ingest", "database"]) => databases::register_database(s, p).await,
        ("PUT", ["ingest", "database", db]) => publishing::publish(s, db).await,
        ("DELETE", ["ingest", "database", db]) => databases::delete_database(s, db, is_admin).await,
        ("POST", ["ingest", "table"]) => databases::register_table(s, p).await,
        ("POST", ["ingest", "trans"]) => transactions::start_transaction(s, p),
        ("GET", ["ingest", "trans"]) => transactions::list_transactions(s, p),
        ("GET", ["ingest", "trans", id]) => transactions::transaction_status(s, id, p),
        ("PUT", ["ingest", "trans", id]) => transactions::end_transaction(s, id, p).await,
        ("POST", ["ingest", "chunk"]) => transactions::allocate_chunk(s, p).await,
        ("GET", ["ingest", "regular"]) => transactions::locate_regular(s, p),
        ("POST", ["ingest", "index", "secondary"]) => publishing::director_index(s, p).await,
        ("POST", ["ingest", "table-stats"]) => publishing::collect_row_counters(s, p).await,
        ("GET", ["ingest", "table-stats", db, table]) => publishing::row_counters(s, db, table),
        _ => Err(Refusal::not_found(path)),
    }
}

/// The lowest API version each endpoint takes (its `checkApiVersion(__func__, N)`); `None`:
/// `/meta/version`, which checks none (`Q@2026.3.3-rc1:src/http/MetaModule.cc:64-69`).
fn min_version(method: &Method, segs: &[&str], p: &Params) -> Option<u32> {
    Some(match (method.as_str(), segs) {
        ("GET", ["meta", "version"]) => return None,
        // `HttpIngestTransModule.cc:96,166`.
        ("GET", ["ingest", "trans", ..]) => 37,
        // `HttpDirectorIndexModule.cc:62`.
        ("POST", ["ingest", "index", "secondary"]) => 22,
        // `HttpIngestModule.cc:514-521`.
        ("POST", ["ingest", "table"])
            if p.body.contains_key("charset_name") || p.body.contains_key("collation_name") =>
        {
            49
        }
        ("POST", ["ingest", "table"]) if p.body.contains_key("unique_primary_key") => 21,
        // Every other endpoint served: `HttpConfigurationModule.cc:109`,
        // `HttpIngestModule.cc:206,294,390,753,981,1007`, `HttpIngestTransModule.cc:249,335`,
        // `HttpIngestChunksModule.cc:159`.
        _ => 12,
    })
}

/// `DELETE /replication/config/worker/:worker` (`Q@2026.3.3-rc1:src/replica/contr/HttpProcessor.cc:184-189`,
/// keys required; `HttpConfigurationModule::_deleteWorker`, `HttpConfigurationModule.cc:164-171`):
/// `Configuration::deleteWorker` refuses a name it does not know (`Configuration.cc:699-705`) and
/// answers `{}`. The registry still lists the worker unless it was deleted there too, so the
/// tracker adds it again ([`Shared::track_registry`]).
fn delete_worker(s: &Shared, encoded: &str) -> Outcome {
    let name: String = form_urlencoded::parse(format!("n={encoded}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut workers = s.workers();
    let Some(w) = workers.iter_mut().find(|w| w.name == name && w.configured) else {
        return Err(Refusal::new(
            qserv_operator::qserv::replication::unknown_worker_error(&name),
        ));
    };
    w.configured = false;
    Ok(json!({}))
}

/// `GET /replication/config`. Lists nobody filled are `null`, not `[]`: `Configuration::_toJson`
/// takes a reference to each key and pushes into it (`Q@2026.3.3-rc1:src/replica/config/Configuration.cc:813-833`).
fn config(s: &Shared) -> Value {
    let cat = s.catalog();
    let list = |items: Vec<Value>| {
        if items.is_empty() {
            Value::Null
        } else {
            Value::Array(items)
        }
    };
    // A worker whose pod is gone stays listed and enabled until deleted (or, in Qserv, evicted).
    let mut workers: Vec<(String, Value)> = s
        .workers()
        .iter()
        .filter(|w| w.configured)
        .map(|w| (w.name.clone(), w.config_json()))
        .collect();
    // `_workers` is a std::map: by name (`Configuration.cc:816-819`).
    workers.sort_by(|a, b| a.0.cmp(&b.0));
    let workers: Vec<Value> = workers.into_iter().map(|(_, w)| w).collect();
    json!({"config": {
        "general": {},
        "workers": list(workers),
        "database_families": list(cat.families.values().map(|f| f.json()).collect()),
        "databases": list(cat.dbs.values().map(db_json).collect()),
        "czars": Value::Null,
    }})
}
