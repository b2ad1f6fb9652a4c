//! Strategic merge patch, without the Go structs' patch tags: a JSON merge patch, except that a
//! list of objects is merged element by element when its elements carry a merge key — `name`
//! (containers, env, volumes, …) or, by field name, `containerPort`/`port` (`ports`),
//! `mountPath` (`volumeMounts`), `devicePath` (`volumeDevices`), `type` (`conditions`), `uid`
//! (`ownerReferences`), `ip` (`hostAliases`). That is what `kubectl apply` (client side) and
//! `kubectl patch` send for built-in kinds. Directives: `$patch: delete` on a list element and
//! `$patch: replace` on an object are honoured, `$setElementOrder/<list>` orders the merged
//! list, `$deleteFromPrimitiveList/<list>` removes values; `$retainKeys` is ignored. Lists of
//! scalars are replaced (the real server unions a few, such as `finalizers`).

use serde_json::{Map, Value};

fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let by_field = match field {
        "ports" => ["containerPort", "port"]
            .into_iter()
            .find(|k| items.iter().all(|i| i.get(*k).is_some())),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        _ => None,
    };
    by_field.or_else(|| {
        (!items.is_empty() && items.iter().all(|i| i.get("name").is_some())).then_some("name")
    })
}

pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(gone)) =
                (target.get_mut(list), value.as_array())
            {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let order = patch.get(&format!("$setElementOrder/{key}"));
        match (target.get_mut(key), value) {
            (Some(Value::Array(live)), Value::Array(items)) => {
                match merge_key(key, items).or_else(|| merge_key(key, live)) {
                    Some(k) if items.iter().all(Value::is_object) => {
                        merge_list(live, items, k, order)
                    }
                    _ => *live = items.clone(),
                }
            }
            (Some(existing), _) if value.is_object() => strategic_merge(existing, value),
            _ => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, value);
                target.insert(key.clone(), fresh);
            }
        }
    }
}

fn merge_list(live: &mut Vec<Value>, items: &[Value], key: &str, order: Option<&Value>) {
    for item in items {
        let id = &item[key];
        let pos = live.iter().position(|l| &l[key] == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(p), true) => {
                live.remove(p);
            }
            (None, true) => {}
            (Some(p), false) => strategic_merge(&mut live[p], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                live.push(fresh);
            }
        }
    }
    if let Some(order) = order.and_then(Value::as_array) {
        let rank = |v: &Value| {
            order
                .iter()
                .position(|o| o[key] == v[key])
                .unwrap_or(usize::MAX)
        };
        live.sort_by_key(rank);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_keep_what_the_patch_does_not_mention() {
        let mut live = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "busybox"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "nginx:2"}]}});
        strategic_merge(&mut live, &patch);
        assert_eq!(
            live,
            json!({"spec": {"containers": [
                {"name": "b", "image": "busybox"},
                {"name": "a", "image": "nginx:2", "env": [{"name": "X", "value": "1"}]}]}})
        );
    }

    #[test]
    fn directives_delete_replace_and_primitive_lists() {
        let mut live = json!({"ports": [{"containerPort": 80}, {"containerPort": 443}],
                              "m": {"a": 1, "b": 2}, "args": ["x", "y"],
                              "finalizers": ["f1", "f2"]});
        let patch = json!({"ports": [{"containerPort": 80, "$patch": "delete"}],
                           "m": {"$patch": "replace", "c": 3}, "args": ["z"],
                           "$deleteFromPrimitiveList/finalizers": ["f1"]});
        strategic_merge(&mut live, &patch);
        assert_eq!(
            live,
            json!({"ports": [{"containerPort": 443}], "m": {"c": 3}, "args": ["z"],
                   "finalizers": ["f2"]})
        );
    }
}
