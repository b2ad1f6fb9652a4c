//! Just enough OpenAPI v3 for kubectl's field validation: kubectl (default `--validate=strict`)
//! reads `/openapi/v3` and the group version's document to learn whether the server accepts
//! the `fieldValidation` query parameter on PATCH; when it does, it leaves validation to the
//! server (`fieldValidation=Strict`) instead of downloading schemas. So each document lists,
//! per resource, a PATCH operation tagged with `x-kubernetes-group-version-kind` and that
//! parameter, and no schemas: `kubectl explain` does not work, and client-side apply uses a
//! JSON merge patch for custom resources (as it does for any kind it has no schema for).
//! `/openapi/v2` stays 404; kubectl only falls back to it when v3 is missing.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value, json};

use super::resources::ResourceType;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group version, with a content hash kubectl caches by.
pub fn root(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    for t in types {
        let key = gv_path(&t.group, &t.version);
        if paths.contains_key(&key) {
            continue;
        }
        let mut hasher = DefaultHasher::new();
        group_version(types, &t.group, &t.version)
            .to_string()
            .hash(&mut hasher);
        let url = format!("/openapi/v3/{key}?hash={:016X}", hasher.finish());
        paths.insert(key, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// The document of one group version, or None when `rest` (`apis/g/v`) names none.
pub fn document(types: &[ResourceType], rest: &str) -> Option<Value> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let doc = group_version(types, group, version);
    doc["paths"]
        .as_object()
        .is_some_and(|p| !p.is_empty())
        .then_some(doc)
}

fn group_version(types: &[ResourceType], group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for t in types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let ns = if t.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": t.kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(
            format!("{prefix}{ns}/{}/{{name}}", t.plural),
            json!({"patch": op}),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (qserv-operator local mode)", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::builtins;

    #[test]
    fn root_points_at_group_version_documents_with_field_validation() {
        let types = builtins();
        let root = root(&types);
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("apps/v1 listed");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = document(&types, "apis/apps/v1").expect("apps/v1 document");
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "StatefulSet");
        assert_eq!(op["parameters"][0]["name"], "fieldValidation");
        assert!(document(&types, "apis/nope/v1").is_none());
    }
}
