//! PATCH bodies other than server-side apply.
//!
//! - `application/merge-patch+json`: RFC 7386.
//! - `application/strategic-merge-patch+json`: see `strategic.rs` (merge keys guessed, not
//!   read from Go struct tags).
//! - `application/json-patch+json`: RFC 6902, via the `json-patch` crate.

use serde_json::Value;

use super::errors::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

pub fn kind_of(content_type: &str) -> ApiResult<PatchKind> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchKind::Apply),
        other => Err(ApiError::UnsupportedMediaType(other.into())),
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(target) = target {
        for (k, v) in patch {
            if v.is_null() {
                target.remove(k);
            } else {
                merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Applies an RFC 6902 patch. Like the real server (evanphx/json-patch), a `test` of `null`
/// against a missing path succeeds: kube-runtime's finalizer helper relies on it to add the
/// first finalizer. A malformed patch is the caller's 400; one that does not apply, its 422.
pub fn json_patch(target: &mut Value, patch: &Value) -> ApiResult<Result<(), String>> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::BadRequest("a JSON patch is a list of operations".into()))?;
    for op in ops {
        let missing_null = op["op"] == "test"
            && op["value"].is_null()
            && op["path"]
                .as_str()
                .is_some_and(|p| target.pointer(p).is_none());
        if missing_null {
            continue;
        }
        let one: json_patch::Patch = serde_json::from_value(Value::Array(vec![op.clone()]))
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON patch operation {op}: {e}")))?;
        if let Err(e) = json_patch::patch(target, &one) {
            return Ok(Err(e.to_string()));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_merges_objects_deletes_nulls_replaces_lists() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1});
        merge_patch(
            &mut t,
            &json!({"a": {"b": 5, "c": null}, "l": [3], "n": {"m": 1}}),
        );
        assert_eq!(t, json!({"a": {"b": 5}, "l": [3], "x": 1, "n": {"m": 1}}));
    }

    #[test]
    fn json_patch_ops_and_content_types() {
        let mut t = json!({"metadata": {"finalizers": ["a", "b"]}});
        let remove = json!([{"op": "remove", "path": "/metadata/finalizers/0"}]);
        assert_eq!(json_patch(&mut t, &remove).expect("well formed"), Ok(()));
        assert_eq!(t, json!({"metadata": {"finalizers": ["b"]}}));
        let bad = json!([{"op": "remove", "path": "/nope"}]);
        assert!(json_patch(&mut t, &bad).expect("well formed").is_err());
        assert!(json_patch(&mut t, &json!({"op": "add"})).is_err());
        // kube-runtime's first finalizer: test null on a missing list, then add it.
        let mut fresh = json!({"metadata": {}});
        let add = json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                         {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]);
        assert_eq!(json_patch(&mut fresh, &add).expect("well formed"), Ok(()));
        assert_eq!(fresh, json!({"metadata": {"finalizers": ["f"]}}));
        assert_eq!(
            kind_of("application/strategic-merge-patch+json").expect("known"),
            PatchKind::Strategic
        );
        assert!(kind_of("text/plain").is_err());
    }
}
