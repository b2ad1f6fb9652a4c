//! DELETE of one object and of a collection: preconditions, `dryRun`, propagation policy. The
//! store does the rest (finalizers, cascade).

use std::sync::Arc;

use hyper::Response;
use serde_json::Value;

use super::errors::{ApiError, ApiResult};
use super::http::{Body, Req, ResourcePath, json_response};
use super::listing::{list_document, path_namespace, select};
use super::resources::ResourceType;
use super::shared::Shared;
use super::store::{Propagation, meta_str};

fn dry_run(req: &Req) -> bool {
    req.param("dryRun") == Some("All")
}

fn propagation(req: &Req, opts: &Value) -> Propagation {
    let policy = opts["propagationPolicy"]
        .as_str()
        .or(req.param("propagationPolicy"));
    if policy == Some("Orphan") || opts["orphanDependents"].as_bool() == Some(true) {
        Propagation::Orphan
    } else {
        Propagation::Cascade
    }
}

pub fn delete(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
    name: &str,
) -> ApiResult<Response<Body>> {
    let ns = path_namespace(rt, path)?;
    let opts = req.json_body()?;
    let mut store = shared.lock();
    let current = store.get(rt, &ns, name)?;
    let pre = &opts["preconditions"];
    let stale = |key: &str| {
        pre[key]
            .as_str()
            .is_some_and(|v| v != meta_str(&current, key))
    };
    if stale("resourceVersion") || stale("uid") {
        return Err(ApiError::Conflict {
            group: rt.group.clone(),
            kind: rt.plural.clone(),
            name: name.into(),
        });
    }
    if dry_run(req) {
        return Ok(json_response(200, &current));
    }
    let obj = store.delete(rt, &ns, name, propagation(req, &opts))?;
    Ok(json_response(200, &obj))
}

pub fn delete_collection(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
) -> ApiResult<Response<Body>> {
    let (items, _) = select(shared, req, rt, path)?;
    let opts = req.json_body()?;
    let mut store = shared.lock();
    let mut deleted = Vec::new();
    for item in items {
        let (ns, name) = (meta_str(&item, "namespace"), meta_str(&item, "name"));
        match store.delete(rt, ns, name, propagation(req, &opts)) {
            Ok(obj) => deleted.push(obj),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let rv = store.resource_version();
    Ok(json_response(200, &list_document(rt, deleted, rv)))
}
