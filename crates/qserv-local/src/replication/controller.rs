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
        let params = Params {
            body,
            query,
            is_get: method == Method::GET,
        };
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
    p.check_version()?;
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["meta", "version"]) => Ok(json!({
            "kind": "replication-controller", "name": "http", "id": 1,
            "instance_id": s.instance_id, "version": super::MAX_VERSION,
            "database_schema_version": 14,
        })),
        ("GET", ["replication", "config"]) => Ok(config(s)),
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

fn config(s: &Shared) -> Value {
    let cat = s.catalog();
    json!({"config": {"databases": cat.dbs.values().map(db_json).collect::<Vec<_>>()}})
}
