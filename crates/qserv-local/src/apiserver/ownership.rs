//! Field ownership between managers, on FieldsV1 sets (`{"f:spec": {"f:replicas": {}}}`):
//! which managers own a field, apply conflicts, ownership moving to whoever changed a field.
//!
//! As on a real server: applying a value different from the live one to a field another
//! manager owns is a conflict (409) unless forced; a forced apply, or an update (PUT/patch)
//! that changes a field, takes the field away from its other owners; applying the same value
//! shares ownership. Lists are atomic (one field), as everywhere in this server.

use serde_json::{Map, Value};

/// A field another manager owns, named like kubectl prints it (`.spec.workers.replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

type Path = Vec<String>;

pub fn set_contains(set: &Value, path: &[String]) -> bool {
    match path.split_first() {
        None => true,
        Some((first, rest)) => set
            .get(first.as_str())
            .is_some_and(|child| set_contains(child, rest)),
    }
}

/// The leaf paths of a field set.
fn leaves(set: &Value) -> Vec<Path> {
    fn walk(set: &Value, prefix: &mut Path, out: &mut Vec<Path>) {
        match set.as_object() {
            Some(children) if !children.is_empty() => {
                for (key, child) in children {
                    prefix.push(key.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => out.push(prefix.clone()),
        }
    }
    let mut out = Vec::new();
    walk(set, &mut Vec::new(), &mut out);
    out.retain(|p| !p.is_empty());
    out
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(obj, |v, key| v.get(key.strip_prefix("f:").unwrap_or(key)))
}

fn display(path: &[String]) -> String {
    path.iter()
        .map(|k| format!(".{}", k.strip_prefix("f:").unwrap_or(k)))
        .collect()
}

fn others<'a>(
    live: &'a Value,
    manager: &'a str,
    sub: Option<&'a str>,
) -> impl Iterator<Item = &'a Value> + 'a {
    live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["manager"] != manager && e["subresource"].as_str() == sub)
}

/// The fields of `set` (applied by `manager` with values from `config`) whose live value
/// differs and that another manager owns.
pub fn conflicts(
    live: &Value,
    config: &Value,
    set: &Value,
    manager: &str,
    sub: Option<&str>,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    for path in leaves(set) {
        let current = value_at(live, &path);
        if current.is_none() || current == value_at(config, &path) {
            continue;
        }
        for entry in others(live, manager, sub) {
            if set_contains(&entry["fieldsV1"], &path) {
                found.push(Conflict {
                    manager: entry["manager"].as_str().unwrap_or_default().into(),
                    field: display(&path),
                });
            }
        }
    }
    found
}

fn remove_path(set: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(children) = set.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        children.remove(first);
        return;
    }
    if let Some(child) = children.get_mut(first) {
        remove_path(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            children.remove(first);
        }
    }
}

/// Takes the leaf fields of `set` away from every manager but `manager`; entries left owning
/// nothing are dropped.
pub fn take_over(obj: &mut Value, set: &Value, manager: &str, sub: Option<&str>) {
    let paths = leaves(set);
    let Some(entries) = obj["metadata"]["managedFields"].as_array_mut() else {
        return;
    };
    for entry in entries.iter_mut() {
        if entry["manager"] != manager && entry["subresource"].as_str() == sub {
            for path in &paths {
                remove_path(&mut entry["fieldsV1"], path);
            }
        }
    }
    entries.retain(|e| e["fieldsV1"].as_object().is_none_or(|f| !f.is_empty()));
}

/// The field set of what `new` sets differently from `old`: what an update takes over.
pub fn changed_fields(old: &Value, new: &Value, skip: &[&str]) -> Value {
    let mut set = Map::new();
    if let Value::Object(fields) = new {
        for (key, value) in fields {
            if skip.contains(&key.as_str()) || value.is_null() || old.get(key) == Some(value) {
                continue;
            }
            let child = match (old.get(key), value) {
                (Some(o @ Value::Object(_)), Value::Object(_)) => changed_fields(o, value, &[]),
                _ if value.is_object() => changed_fields(&Value::Null, value, &[]),
                _ => Value::Object(Map::new()),
            };
            set.insert(format!("f:{key}"), child);
        }
    }
    Value::Object(set)
}

/// Adds the fields of `more` to `set`.
pub fn union(set: &mut Value, more: &Value) {
    let (Some(into), Some(from)) = (set.as_object_mut(), more.as_object()) else {
        return;
    };
    for (key, child) in from {
        union(
            into.entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            child,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({"metadata": {"managedFields": [
            {"manager": "patcher", "operation": "Update",
             "fieldsV1": {"f:spec": {"f:replicas": {}, "f:image": {}}}}]},
            "spec": {"replicas": 3, "image": "a"}})
    }

    #[test]
    fn a_different_value_on_a_field_someone_else_owns_conflicts() {
        let config = json!({"spec": {"replicas": 2, "image": "a"}});
        let set = json!({"f:spec": {"f:replicas": {}, "f:image": {}}});
        assert_eq!(
            conflicts(&live(), &config, &set, "me", None),
            [Conflict {
                manager: "patcher".into(),
                field: ".spec.replicas".into()
            }]
        );
        assert!(conflicts(&live(), &config, &set, "patcher", None).is_empty());
    }

    #[test]
    fn taking_over_removes_fields_and_empty_entries() {
        let mut obj = live();
        take_over(&mut obj, &json!({"f:spec": {"f:replicas": {}}}), "me", None);
        assert_eq!(
            obj["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:spec": {"f:image": {}}})
        );
        take_over(&mut obj, &json!({"f:spec": {"f:image": {}}}), "me", None);
        assert_eq!(obj["metadata"]["managedFields"], json!([]));
    }

    #[test]
    fn changed_fields_and_union() {
        let old = json!({"spec": {"a": 1, "b": {"c": 1}}, "metadata": {"resourceVersion": "1"}});
        let new = json!({"spec": {"a": 1, "b": {"c": 2}, "d": [1]}, "metadata": {"resourceVersion": "2"}});
        let mut set = changed_fields(&old, &new, &["metadata"]);
        assert_eq!(set, json!({"f:spec": {"f:b": {"f:c": {}}, "f:d": {}}}));
        union(&mut set, &json!({"f:spec": {"f:a": {}}}));
        assert_eq!(
            set,
            json!({"f:spec": {"f:a": {}, "f:b": {"f:c": {}}, "f:d": {}}})
        );
    }
}
