//! Server-side apply, approximated, and `managedFields` bookkeeping.
//!
//! What is real: the applied configuration is merged into the live object, each manager's
//! field set is recorded in `metadata.managedFields` (`operation: Apply`, `fieldsType:
//! FieldsV1`, `subresource: status` for status applies), and a field a manager applied before
//! but leaves out now is removed, unless another manager also claims it.
//!
//! What is approximated: every list is atomic (replaced whole, recorded as one field), even the
//! ones the real server merges by key (`listType: map` such as conditions, containers); there
//! are no ownership conflicts, so `force` changes nothing and the last applier wins; `null` in
//! an applied configuration is ignored. Update/patch requests that carry a `fieldManager`
//! record the fields they sent as an `operation: Update` entry.

use serde_json::{Map, Value, json};

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

fn set_contains(set: &Value, path: &[String]) -> bool {
    match path.split_first() {
        None => true,
        Some((first, rest)) => set
            .get(first.as_str())
            .is_some_and(|child| set_contains(child, rest)),
    }
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

/// Applies `config` by `manager` onto `live` (None when the object does not exist yet).
pub fn apply(live: Option<&Value>, config: &Value, manager: &str, sub: Option<&str>) -> Value {
    let current = field_set(config);
    let mut obj = live.cloned().unwrap_or_else(|| json!({"metadata": {}}));
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
    let api_version = config["apiVersion"].clone();
    record(&mut obj, manager, "Apply", sub, api_version, current);
    obj
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
        let obj = apply(None, &first, "me", None);
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                           "data": {"c": "3"}});
        let obj = apply(Some(&obj), &other, "someone", None);
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                            "data": {"a": "10"}});
        let obj = apply(Some(&obj), &second, "me", None);
        assert_eq!(obj["data"], json!({"a": "10", "c": "3"}));
        let managers: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, ["someone", "me"]);
    }
}
