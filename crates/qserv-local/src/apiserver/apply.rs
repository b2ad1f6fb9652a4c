//! Server-side apply, approximated, and `managedFields` bookkeeping.
//!
//! What is real: the applied configuration is merged into the live object, each manager's
//! field set is recorded in `metadata.managedFields` (`operation: Apply`, `fieldsType:
//! FieldsV1`, `subresource: status` for status applies), and a field a manager applied before
//! but leaves out now is removed, unless another manager also claims it.
//!
//! Ownership and conflicts are real too (`ownership.rs`): changing a field another manager owns
//! is a 409 conflict unless `force=true`; update/patch requests that carry a `fieldManager`
//! record the fields they changed as an `operation: Update` entry and take them over.
//!
//! What is approximated: every list is atomic (replaced whole, recorded as one field), even the
//! ones the real server merges by key (`listType: map` such as conditions, containers); `null`
//! in an applied configuration is ignored.

use serde_json::{Map, Value, json};

use super::ownership::{self, Conflict, set_contains};
use super::store::now;

/// Metadata fields the server owns; they never appear in a field set.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The FieldsV1 set of a configuration: `{"f:spec": {"f:replicas": {}}}`.
pub fn field_set(config: &Value) -> Value {
    fn walk(v: &Value, top: bool) -> Value {
        let mut set = Map::new();
        if let Value::Object(fields) = v {
            for (k, child) in fields {
                if top && matches!(k.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if child.is_null() {
                    continue;
                }
                let sub = if top && k == "metadata" {
                    let mut meta = child.clone();
                    if let Some(m) = meta.as_object_mut() {
                        m.retain(|k, _| !SERVER_METADATA.contains(&k.as_str()));
                    }
                    walk(&meta, false)
                } else if child.is_object() {
                    walk(child, false)
                } else {
                    json!({})
                };
                if top && k == "metadata" && sub.as_object().is_some_and(Map::is_empty) {
                    continue;
                }
                set.insert(format!("f:{k}"), sub);
            }
        }
        Value::Object(set)
    }
    walk(config, true)
}

/// Removes from `obj` what `previous` claimed, `current` no longer does, and no one else claims.
fn remove_dropped(
    obj: &mut Value,
    previous: &Value,
    current: &Value,
    others: &[Value],
    path: &mut Vec<String>,
) {
    let Some(prev) = previous.as_object() else {
        return;
    };
    for (key, prev_child) in prev {
        let Some(field) = key.strip_prefix("f:") else {
            continue;
        };
        path.push(key.clone());
        let cur_child = current.get(key.as_str());
        match cur_child {
            None if !others.iter().any(|o| set_contains(o, path)) => {
                if let Some(map) = obj.as_object_mut() {
                    map.remove(field);
                }
            }
            Some(cur_child) if obj.get(field).is_some_and(Value::is_object) => {
                if let Some(child) = obj.get_mut(field) {
                    remove_dropped(child, prev_child, cur_child, others, path);
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// Merges objects recursively; lists and scalars from `config` replace; `null` is ignored.
fn merge(target: &mut Value, config: &Value) {
    match (target, config) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                if v.is_null() {
                    continue;
                }
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}

fn entries(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn same_entry(e: &Value, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
    e["manager"] == manager
        && e["operation"] == operation
        && e["subresource"].as_str() == subresource
}

/// Applies `config` by `manager` onto `live` (None when the object does not exist yet);
/// without `force`, changing a field another manager owns is a conflict.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    sub: Option<&str>,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let current = field_set(config);
    if let Some(live) = live {
        let conflicts = ownership::conflicts(live, config, &current, manager, sub);
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }
    }
    let before = live.cloned().unwrap_or_else(|| json!({"metadata": {}}));
    let mut obj = before.clone();
    let all = entries(&obj);
    let previous = all
        .iter()
        .find(|e| same_entry(e, manager, "Apply", sub))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or_else(|| json!({}));
    let others: Vec<Value> = all
        .iter()
        .filter(|e| !same_entry(e, manager, "Apply", sub))
        .map(|e| e["fieldsV1"].clone())
        .collect();
    remove_dropped(&mut obj, &previous, &current, &others, &mut Vec::new());
    merge(&mut obj, config);
    // What this apply changed is now this manager's alone (forced conflicts included).
    let changed = update_fields(&before, &obj);
    ownership::take_over(&mut obj, &changed, manager, sub);
    let api_version = config["apiVersion"].clone();
    record(&mut obj, manager, "Apply", sub, api_version, current);
    Ok(obj)
}

/// The fields an update (PUT or patch) changed, server-owned metadata aside.
pub fn update_fields(old: &Value, new: &Value) -> Value {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v["metadata"].as_object_mut() {
            meta.retain(|k, _| !SERVER_METADATA.contains(&k.as_str()));
        }
        v
    };
    ownership::changed_fields(&strip(old), &strip(new), &["apiVersion", "kind"])
}

/// Records (or replaces) the `managedFields` entry of one manager and operation.
pub fn record(
    obj: &mut Value,
    manager: &str,
    operation: &str,
    sub: Option<&str>,
    api_version: Value,
    fields: Value,
) {
    let mut fields = fields;
    if operation == "Update" {
        // An update takes over what it changed, and keeps what it changed before.
        ownership::take_over(obj, &fields, manager, sub);
        if let Some(previous) = entries(obj)
            .iter()
            .find(|e| same_entry(e, manager, operation, sub))
        {
            ownership::union(&mut fields, &previous["fieldsV1"]);
        }
    }
    let mut all = entries(obj);
    all.retain(|e| !same_entry(e, manager, operation, sub));
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let Some(sub) = sub {
        entry["subresource"] = json!(sub);
    }
    all.push(entry);
    obj["metadata"]["managedFields"] = Value::Array(all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_set_skips_server_metadata_and_marks_lists_atomic() {
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}, "l": [1]});
        assert_eq!(
            field_set(&config),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:data": {"f:k": {}}, "f:l": {}})
        );
    }

    #[test]
    fn reapply_removes_dropped_fields_but_keeps_other_managers_fields() {
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                           "data": {"a": "1", "b": "2"}});
        let obj = apply(None, &first, "me", None, false).expect("created");
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                           "data": {"c": "3"}});
        let obj = apply(Some(&obj), &other, "someone", None, false).expect("no overlap");
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                            "data": {"a": "10"}});
        let obj = apply(Some(&obj), &second, "me", None, false).expect("own fields");
        assert_eq!(obj["data"], json!({"a": "10", "c": "3"}));
        let managers: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, ["someone", "me"]);

        // Someone else changing "a" conflicts, unless forced; then "a" is theirs alone.
        let grab = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                          "data": {"a": "11"}});
        let conflicts = apply(Some(&obj), &grab, "someone", None, false).expect_err("conflict");
        assert_eq!(conflicts[0].field, ".data.a");
        assert_eq!(conflicts[0].manager, "me");
        let obj = apply(Some(&obj), &grab, "someone", None, true).expect("forced");
        assert_eq!(obj["data"]["a"], "11");
        let mine = &obj["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .find(|e| e["manager"] == "me");
        assert!(mine.is_none(), "\"me\" owned only a, now taken: {obj}");
    }
}
