//! Request dispatch: discovery routes, then the verbs of one resource. Reads (get, list) live
//! here; writes are in `write.rs`, watches in `watch.rs`, what a request selects in
//! `listing.rs`.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::Value;

use super::errors::{ApiError, ApiResult};
use super::http::{self, Body, Req, ResourcePath, Route, error_response, json_response};
use super::listing::{list_document, path_namespace, select};
use super::resources::ResourceType;
use super::shared::Shared;
use super::{delete, discovery, logs, openapi, protobuf, table, watch, write};

/// The hyper service: reads the body, dispatches, renders errors as `Status`.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    // Reading the body is bounded in bytes and in time (a slow sender holds 3 MiB at most, for
    // the request timeout at most).
    let read = tokio::time::timeout(
        shared.request_timeout,
        Limited::new(body, http::MAX_BODY).collect(),
    );
    let body = match read.await {
        Err(_elapsed) => return Ok(error_response(&ApiError::Timeout)),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(error_response(&ApiError::TooLarge(http::MAX_BODY)));
        }
        Ok(Err(e)) => {
            return Ok(error_response(&ApiError::BadRequest(format!(
                "reading the request body: {e}"
            ))));
        }
    };
    Ok(handle_read(&shared, &parts, body))
}

/// A request whose body was read: dispatched, errors rendered as `Status`.
pub fn handle_read(
    shared: &Arc<Shared>,
    parts: &hyper::http::request::Parts,
    body: bytes::Bytes,
) -> Response<Body> {
    if body.len() > http::MAX_BODY {
        return error_response(&ApiError::TooLarge(http::MAX_BODY));
    }
    let header = |name: hyper::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut req = Req {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: http::parse_query(parts.uri.query()),
        accept: header(hyper::header::ACCEPT),
        content_type: header(hyper::header::CONTENT_TYPE),
        body,
    };
    let fault = shared.faults.take(&format!("{} {}", req.method, req.path));
    let response = match fault.map_or_else(|| from_protobuf(&mut req), Err) {
        // No request may take the server's connection down: a handler that panics answers 500.
        Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(shared, &req)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(method = %req.method, path = %req.path, %what, "handler panicked");
                Err(ApiError::Internal(format!("the handler failed: {what}")))
            })
            .unwrap_or_else(|e| error_response(&e)),
        Err(e) => error_response(&e),
    };
    tracing::debug!(method = %req.method, uri = %parts.uri, status = response.status().as_u16(), "request");
    response
}

/// kubectl's typed generators (`create namespace`, `create configmap`, …) POST protobuf; the
/// few kinds `protobuf.rs` knows become JSON, anything else is 415.
fn from_protobuf(req: &mut Req) -> ApiResult<()> {
    if !req.content_type.contains("protobuf") {
        return Ok(());
    }
    if req.method != Method::POST {
        return Err(ApiError::UnsupportedMediaType(req.content_type.clone()));
    }
    let obj = protobuf::decode(&req.body)?;
    req.body = serde_json::to_vec(&obj)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .into();
    req.content_type = "application/json".into();
    Ok(())
}

fn dispatch(shared: &Arc<Shared>, req: &Req) -> ApiResult<Response<Body>> {
    let route = http::route(&req.path).ok_or(ApiError::NoRoute)?;
    if !matches!(route, Route::Resource(_)) && req.method != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method.to_string()));
    }
    let types = || shared.lock().types.clone();
    let found = |doc: Option<Value>| doc.map(|d| json_response(200, &d)).ok_or(ApiError::NoRoute);
    match route {
        Route::Version => Ok(json_response(200, &discovery::version())),
        Route::Health => Ok(Response::new(http::full("ok"))),
        Route::OpenApi => {
            let rest = req.path.trim_start_matches('/');
            match rest.strip_prefix("openapi/v3") {
                Some("" | "/") => Ok(json_response(200, &openapi::root(&types()))),
                Some(gv) => found(openapi::document(&types(), gv)),
                None => Err(ApiError::NoRoute),
            }
        }
        Route::LegacyApi | Route::Groups if discovery::wants_aggregated(&req.accept) => {
            let doc = discovery::aggregated(&types(), route == Route::LegacyApi);
            Ok(http::json_response_typed(200, &doc, discovery::AGGREGATED))
        }
        Route::LegacyApi => Ok(json_response(200, &discovery::legacy_api(&shared.address))),
        Route::Groups => Ok(json_response(200, &discovery::group_list(&types()))),
        Route::Group(g) => found(discovery::group(&types(), &g)),
        Route::GroupVersion(g, v) => found(discovery::resource_list(&types(), &g, &v)),
        Route::Resource(path) => resource(shared, req, path),
    }
}

fn resource(shared: &Arc<Shared>, req: &Req, path: ResourcePath) -> ApiResult<Response<Body>> {
    let rt = shared
        .lock()
        .find(&path.group, &path.version, &path.plural)
        .ok_or(ApiError::NoRoute)?;
    match path.sub.as_deref() {
        None => {}
        Some("status") if rt.has_status => {}
        Some("finalize") if rt.kind == "Namespace" => {}
        Some("log") if logs::serves(&rt) => {
            return match (&req.method, path.name.as_deref()) {
                (&Method::GET, Some(name)) => logs::serve(shared, req, &rt, &path, name),
                (method, _) => Err(ApiError::MethodNotAllowed(method.to_string())),
            };
        }
        Some(_) => return Err(ApiError::NoRoute),
    }
    match (&req.method, path.name.as_deref()) {
        (&Method::GET, Some(name)) => get(shared, req, &rt, &path, name),
        (&Method::GET, None) if req.flag("watch") => watch::start(shared, req, rt, &path),
        (&Method::GET, None) => list(shared, req, &rt, &path),
        (&Method::POST, None) => write::create(shared, req, &rt, &path),
        (&Method::PUT, Some(name)) => write::update(shared, req, &rt, &path, name),
        (&Method::PATCH, Some(name)) => write::patch(shared, req, &rt, &path, name),
        (&Method::DELETE, Some(name)) => delete::delete(shared, req, &rt, &path, name),
        (&Method::DELETE, None) => delete::delete_collection(shared, req, &rt, &path),
        (method, _) => Err(ApiError::MethodNotAllowed(method.to_string())),
    }
}

fn get(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
    name: &str,
) -> ApiResult<Response<Body>> {
    let ns = path_namespace(rt, path)?;
    let store = shared.lock();
    let obj = store.get(rt, &ns, name)?;
    if table::wants_table(&req.accept) {
        let include = req.param("includeObject").unwrap_or("Metadata");
        let table = table::render(rt, &[obj], store.resource_version(), include);
        return Ok(table_response(&table));
    }
    Ok(json_response(200, &obj))
}

fn list(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
) -> ApiResult<Response<Body>> {
    let (items, rv) = select(shared, req, rt, path)?;
    if table::wants_table(&req.accept) {
        let include = req.param("includeObject").unwrap_or("Metadata");
        return Ok(table_response(&table::render(rt, &items, rv, include)));
    }
    Ok(json_response(200, &list_document(rt, items, rv)))
}

fn table_response(table: &Value) -> Response<Body> {
    // Like the real server: the media type stays application/json; the body's kind says Table.
    json_response(200, table)
}
