//! Write verbs: create, update (PUT), patch (merge, strategic, JSON, apply); DELETE is in
//! `delete.rs`.
//! Every write goes through `prepare` (what the client may change: the status subresource
//! split and server-owned metadata) and `commit` (generation, admission, managedFields, store).

use std::sync::Arc;

use hyper::Response;
use serde_json::{Value, json};

use super::apply;
use super::errors::{ApiError, ApiResult};
use super::http::{Body, Req, ResourcePath, json_response};
use super::listing::path_namespace;
use super::meta;
use super::patch::{self, PatchKind};
use super::resources::ResourceType;
use super::schema;
use super::shared::Shared;
use super::store::{Store, finalizers, meta_str};
use super::strategic;

/// Metadata the server owns: kept from the stored object whatever the client sends.
const SERVER_OWNED: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "name",
    "namespace",
];

/// Fills `apiVersion`/`kind` when missing and rejects a body meant for another kind.
fn check_kind(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    let Some(fields) = obj.as_object_mut() else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    for (key, want) in [("apiVersion", rt.api_version()), ("kind", rt.kind.clone())] {
        match fields.get(key).and_then(Value::as_str) {
            None | Some("") => {
                fields.insert(key.into(), json!(want));
            }
            Some(got) if got == want => {}
            Some(got) => {
                return Err(ApiError::BadRequest(format!(
                    "the {key} of the object ({got}) does not match the resource ({want})"
                )));
            }
        }
    }
    if !fields.get("metadata").is_some_and(Value::is_object) {
        fields.insert("metadata".into(), json!({}));
    }
    Ok(())
}

fn strict(req: &Req) -> bool {
    req.param("fieldValidation") == Some("Strict")
}

fn dry_run(req: &Req) -> bool {
    req.param("dryRun") == Some("All")
}

pub fn create(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
) -> ApiResult<Response<Body>> {
    let ns = path_namespace(rt, path)?;
    let mut obj = req.json_body()?;
    check_kind(rt, &mut obj)?;
    if let Some(manager) = req.param("fieldManager") {
        let fields = apply::field_set(&obj);
        let api_version = obj["apiVersion"].clone();
        apply::record(&mut obj, manager, "Update", None, api_version, fields);
    }
    let mut store = shared.lock();
    let created = insert(&mut store, req, rt, &ns, obj)?;
    Ok(json_response(201, &created))
}

/// Shared by POST and by server-side apply of an object that does not exist yet.
fn insert(
    store: &mut Store,
    req: &Req,
    rt: &ResourceType,
    ns: &str,
    mut obj: Value,
) -> ApiResult<Value> {
    let body_ns = meta_str(&obj, "namespace");
    if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    obj["metadata"]["namespace"] = json!(ns);
    if meta_str(&obj, "name").is_empty() {
        let prefix = meta_str(&obj, "generateName").to_string();
        if prefix.is_empty() {
            return Err(ApiError::Invalid {
                group: rt.group.clone(),
                kind: rt.kind.clone(),
                name: String::new(),
                causes: vec![super::errors::Cause {
                    field: "metadata.name".into(),
                    message: "name or generateName is required".into(),
                }],
            });
        }
        let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].into();
        obj["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
    }
    // A custom resource's status is written only through /status, never on create.
    if rt.crd.is_some()
        && rt.has_status
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    if rt.kind == "Namespace" {
        obj["status"] = json!({"phase": "Active"});
    }
    secret_string_data(rt, &mut obj);
    check_meta(rt, &obj)?;
    schema::admit(rt, &mut obj, None, strict(req))?;
    if dry_run(req) {
        return Ok(obj);
    }
    store.create(rt, obj)
}

pub fn update(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
    name: &str,
) -> ApiResult<Response<Body>> {
    let ns = path_namespace(rt, path)?;
    let mut body = req.json_body()?;
    check_kind(rt, &mut body)?;
    let body_name = meta_str(&body, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    // Like the real server: custom resources allow no unconditional update.
    if rt.crd.is_some() && meta_str(&body, "resourceVersion").is_empty() {
        return Err(ApiError::Invalid {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            name: name.into(),
            causes: vec![super::errors::Cause {
                field: "metadata.resourceVersion".into(),
                message: "must be specified for an update".into(),
            }],
        });
    }
    let mut store = shared.lock();
    let old = store.get(rt, &ns, name)?;
    check_resource_version(rt, &old, &body)?;
    let mut new = prepare(rt, &old, body, path.sub.as_deref());
    if let Some(manager) = req.param("fieldManager") {
        let fields = apply::update_fields(&old, &new);
        let api_version = new["apiVersion"].clone();
        apply::record(
            &mut new,
            manager,
            "Update",
            path.sub.as_deref(),
            api_version,
            fields,
        );
    }
    let saved = commit(&mut store, req, rt, &old, new)?;
    Ok(json_response(200, &saved))
}

/// Optimistic concurrency: a resourceVersion in the body must be the stored one.
fn check_resource_version(rt: &ResourceType, old: &Value, body: &Value) -> ApiResult<()> {
    let sent = meta_str(body, "resourceVersion");
    if !sent.is_empty() && sent != meta_str(old, "resourceVersion") {
        return Err(ApiError::Conflict {
            group: rt.group.clone(),
            kind: rt.plural.clone(),
            name: meta_str(old, "name").into(),
        });
    }
    Ok(())
}

pub fn patch(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
    name: &str,
) -> ApiResult<Response<Body>> {
    let ns = path_namespace(rt, path)?;
    let kind = patch::kind_of(&req.content_type)?;
    let body = req.json_body()?;
    let sub = path.sub.as_deref();
    let mut store = shared.lock();
    let existing = match store.get(rt, &ns, name) {
        Ok(obj) => Some(obj),
        Err(ApiError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let patched = match (kind, existing.as_ref()) {
        (PatchKind::Apply, _) => {
            let manager = req.param("fieldManager").ok_or_else(|| {
                ApiError::BadRequest(
                    "PATCH requests with apply content type must have a fieldManager".into(),
                )
            })?;
            let config = apply_config(rt, body, name)?;
            let force = req.flag("force");
            match existing.as_ref() {
                // Server-side apply creates what does not exist yet.
                None if sub.is_none() => {
                    let obj = apply::apply(None, &config, manager, None, force)
                        .map_err(ApiError::ApplyConflict)?;
                    let created = insert(&mut store, req, rt, &ns, obj)?;
                    return Ok(json_response(201, &created));
                }
                None => None,
                Some(old) => {
                    check_resource_version(rt, old, &config)?;
                    let applied = apply::apply(Some(old), &config, manager, sub, force)
                        .map_err(ApiError::ApplyConflict)?;
                    Some(applied)
                }
            }
        }
        (_, Some(old)) => Some(plain_patch(rt, req, kind, old, &body, name, sub)?),
        (_, None) => None,
    };
    let (Some(old), Some(patched)) = (existing, patched) else {
        return Err(ApiError::NotFound {
            group: rt.group.clone(),
            kind: rt.plural.clone(),
            name: name.into(),
        });
    };
    let new = prepare(rt, &old, patched, sub);
    let saved = commit(&mut store, req, rt, &old, new)?;
    Ok(json_response(200, &saved))
}

/// The applied configuration, checked against the URL; a status apply often carries no
/// metadata at all, and then the URL names the object.
fn apply_config(rt: &ResourceType, mut config: Value, name: &str) -> ApiResult<Value> {
    check_kind(rt, &mut config)?;
    if meta_str(&config, "name").is_empty() {
        config["metadata"]["name"] = json!(name);
    }
    let config_name = meta_str(&config, "name");
    if config_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({config_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(config)
}

/// Merge, strategic merge or JSON patch of the stored object, with the manager's Update entry.
fn plain_patch(
    rt: &ResourceType,
    req: &Req,
    kind: PatchKind,
    old: &Value,
    body: &Value,
    name: &str,
    sub: Option<&str>,
) -> ApiResult<Value> {
    // A merge patch that is not an object would replace the whole object with a non-object
    // (RFC 7386); kube-apiserver fails to decode such a result into an object: 400.
    if matches!(kind, PatchKind::Merge | PatchKind::Strategic) && !body.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the patch must be a JSON object, got {}",
            match body {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )));
    }
    let mut patched = old.clone();
    match kind {
        PatchKind::Merge => patch::merge_patch(&mut patched, body),
        PatchKind::Strategic => strategic::strategic_merge(&mut patched, body),
        _ => patch::json_patch(&mut patched, body)?.map_err(|message| ApiError::Invalid {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            name: name.into(),
            causes: vec![super::errors::Cause {
                field: "patch".into(),
                message,
            }],
        })?,
    }
    if kind != PatchKind::Json {
        check_resource_version(rt, old, body)?;
    }
    if let Some(manager) = req.param("fieldManager") {
        let api_version = json!(rt.api_version());
        let fields = apply::update_fields(old, &patched);
        apply::record(&mut patched, manager, "Update", sub, api_version, fields);
    }
    Ok(patched)
}

/// What a write may change. Through `/status` only the status (and managedFields); through the
/// main resource everything but the status when the kind has the subresource. Server-owned
/// metadata always comes from the stored object.
fn prepare(rt: &ResourceType, old: &Value, incoming: Value, sub: Option<&str>) -> Value {
    let mut new = if sub == Some("status") {
        let mut new = old.clone();
        new["status"] = incoming["status"].clone();
        new["metadata"]["managedFields"] = incoming["metadata"]["managedFields"].clone();
        new
    } else {
        let mut new = incoming;
        if rt.has_status {
            new["status"] = old["status"].clone();
        }
        new
    };
    for key in SERVER_OWNED {
        new["metadata"][*key] = old["metadata"][*key].clone();
    }
    if let Some(obj) = new.as_object_mut() {
        obj.retain(|_, v| !v.is_null());
    }
    if let Some(meta) = new["metadata"].as_object_mut() {
        meta.retain(|_, v| !v.is_null());
    }
    new
}

/// Everything but metadata (and status, when it is a subresource): what `generation` counts.
fn spec_part(rt: &ResourceType, obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(o) = obj.as_object_mut() {
        o.remove("metadata");
        if rt.has_status {
            o.remove("status");
        }
    }
    obj
}

fn commit(
    store: &mut Store,
    req: &Req,
    rt: &ResourceType,
    old: &Value,
    mut new: Value,
) -> ApiResult<Value> {
    if !old["metadata"]["deletionTimestamp"].is_null() {
        let before = finalizers(old);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .map(|f| f.as_str().unwrap_or_default().to_string())
            .collect();
        if !added.is_empty() {
            return Err(ApiError::Invalid {
                group: rt.group.clone(),
                kind: rt.kind.clone(),
                name: meta_str(old, "name").into(),
                causes: vec![super::errors::Cause {
                    field: "metadata.finalizers".into(),
                    message: format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                }],
            });
        }
    }
    secret_string_data(rt, &mut new);
    check_meta(rt, &new)?;
    schema::admit(rt, &mut new, Some(old), strict(req))?;
    if spec_part(rt, &new) != spec_part(rt, old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    if dry_run(req) {
        return Ok(new);
    }
    store.replace(rt, new)
}

fn check_meta(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    let causes = meta::check(rt, obj);
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        group: rt.group.clone(),
        kind: rt.kind.clone(),
        name: meta_str(obj, "name").into(),
        causes,
    })
}

/// A Secret's `stringData` is write-only: like the real server, merge it into `data` (base64).
fn secret_string_data(rt: &ResourceType, obj: &mut Value) {
    if !(rt.group.is_empty() && rt.kind == "Secret") {
        return;
    }
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    for (key, value) in strings {
        let bytes = k8s_openapi::ByteString(value.as_str().unwrap_or_default().as_bytes().to_vec());
        obj["data"][key.as_str()] = serde_json::to_value(bytes).unwrap_or_default();
    }
}
