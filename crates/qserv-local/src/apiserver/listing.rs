//! What a request names and selects, for every verb: the namespace of its path, its label and
//! field selectors, the objects they select, and the list document that carries them.

use std::sync::Arc;

use serde_json::{Value, json};

use super::errors::{ApiError, ApiResult};
use super::http::{Req, ResourcePath};
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::shared::Shared;

/// The namespace an object of `rt` lives in according to the path ("" when cluster-scoped).
pub fn path_namespace(rt: &ResourceType, path: &ResourcePath) -> ApiResult<String> {
    match (&path.namespace, rt.namespaced) {
        (Some(ns), true) => Ok(ns.clone()),
        (None, false) => Ok(String::new()),
        (Some(_), false) => Err(ApiError::NoRoute),
        (None, true) => Err(ApiError::BadRequest(format!(
            "{} are namespaced: use /namespaces/<ns>/{}",
            rt.plural, rt.plural
        ))),
    }
}

pub fn selectors(req: &Req) -> ApiResult<(LabelSelector, FieldSelector)> {
    Ok((
        LabelSelector::parse(req.param("labelSelector").unwrap_or_default())?,
        FieldSelector::parse(req.param("fieldSelector").unwrap_or_default())?,
    ))
}

/// Objects a list (or deletecollection) selects; `limit`/`continue` are ignored: one page.
pub fn select(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
) -> ApiResult<(Vec<Value>, u64)> {
    let (labels, fields) = selectors(req)?;
    if path.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::NoRoute);
    }
    let store = shared.lock();
    let items = store
        .list(rt, path.namespace.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    Ok((items, store.resource_version()))
}

pub fn list_document(rt: &ResourceType, items: Vec<Value>, rv: u64) -> Value {
    json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}
