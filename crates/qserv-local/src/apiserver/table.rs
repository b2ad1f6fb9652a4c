//! The `meta.k8s.io/v1` Table kubectl asks for (`Accept: application/json;as=Table;…`): a CRD's
//! `additionalPrinterColumns` evaluated with a small JSONPath (`.a.b`, `[0]`, `[*]`,
//! `[?(@.type=="Ready")]`), or Name/Age (plus a status column for a few built-ins).
//! `date` cells are rendered as ages (`5m`, `3h2m`) the way the real server does.

use serde_json::{Value, json};

use super::resources::ResourceType;

/// Does the Accept header ask for a Table?
pub fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

struct Column {
    name: String,
    kind: String,
    format: String,
    description: String,
    priority: i64,
    path: String,
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let col = |name: &str, kind: &str, path: &str| Column {
        name: name.into(),
        kind: kind.into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        path: path.into(),
    };
    let mut cols = vec![Column {
        format: "name".into(),
        description: "Name must be unique within a namespace.".into(),
        ..col("Name", "string", ".metadata.name")
    }];
    let printer = rt
        .crd
        .as_ref()
        .map(|c| c.printer_columns.as_slice())
        .unwrap_or_default();
    if printer.is_empty() {
        // A few of the columns the real server prints, those our local runtime fills in.
        let extra: &[(&str, &str, &str)] = match rt.kind.as_str() {
            "Namespace" => &[("Status", "string", ".status.phase")],
            "PersistentVolumeClaim" => &[
                ("Status", "string", ".status.phase"),
                ("Volume", "string", ".spec.volumeName"),
                ("Capacity", "string", ".status.capacity.storage"),
            ],
            // The real server prints the claim as `namespace/name`; a path gives the name.
            "PersistentVolume" => &[
                ("Capacity", "string", ".spec.capacity.storage"),
                (
                    "Reclaim Policy",
                    "string",
                    ".spec.persistentVolumeReclaimPolicy",
                ),
                ("Status", "string", ".status.phase"),
                ("Claim", "string", ".spec.claimRef.name"),
            ],
            "Pod" => &[
                ("Status", "string", ".status.phase"),
                ("IP", "string", ".status.podIP"),
            ],
            "StatefulSet" | "Deployment" => &[("Ready", "integer", ".status.readyReplicas")],
            "Job" => &[("Succeeded", "integer", ".status.succeeded")],
            "Service" => &[
                ("Type", "string", ".spec.type"),
                ("Cluster-IP", "string", ".spec.clusterIP"),
            ],
            "Lease" => &[("Holder", "string", ".spec.holderIdentity")],
            "Event" => &[
                ("Type", "string", ".type"),
                ("Reason", "string", ".reason"),
                ("Object", "string", ".involvedObject.name"),
                ("Message", "string", ".message"),
            ],
            _ => &[],
        };
        cols.extend(extra.iter().map(|(name, kind, path)| col(name, kind, path)));
        cols.push(col("Age", "date", ".metadata.creationTimestamp"));
    }
    for p in printer {
        cols.push(Column {
            name: p["name"].as_str().unwrap_or_default().into(),
            kind: p["type"].as_str().unwrap_or("string").into(),
            format: p["format"].as_str().unwrap_or_default().into(),
            description: p["description"].as_str().unwrap_or_default().into(),
            priority: p["priority"].as_i64().unwrap_or(0),
            path: p["jsonPath"].as_str().unwrap_or_default().into(),
        });
    }
    cols
}

/// Renders `items` as a Table; `include_object` is the `includeObject` query parameter.
pub fn render(rt: &ResourceType, items: &[Value], rv: u64, include_object: &str) -> Value {
    let cols = columns(rt);
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = cols.iter().map(|c| cell(c, obj, now)).collect();
            let object = match include_object {
                "None" => Value::Null,
                "Object" => obj.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": obj["metadata"]}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format,
                        "description": c.description, "priority": c.priority})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

fn cell(col: &Column, obj: &Value, now: jiff::Timestamp) -> Value {
    let found = jsonpath(obj, &col.path);
    let value = match found.as_slice() {
        [] => return Value::Null,
        [one] => (*one).clone(),
        many => {
            let parts: Vec<String> = many.iter().map(|v| plain(v)).collect();
            Value::String(parts.join(","))
        }
    };
    if col.kind == "date"
        && let Some(ts) = value
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    {
        return Value::String(human_duration(now.as_second() - ts.as_second()));
    }
    value
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Evaluates the JSONPath subset described at the top of the module.
pub fn jsonpath<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = vec![obj];
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            if !key.is_empty() {
                current = current.into_iter().filter_map(|v| v.get(key)).collect();
            }
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return vec![];
            };
            let inner = &r[..end];
            rest = &r[end + 1..];
            current = index(current, inner);
        } else {
            return vec![];
        }
    }
    current.into_iter().filter(|v| !v.is_null()).collect()
}

fn index<'a>(current: Vec<&'a Value>, inner: &str) -> Vec<&'a Value> {
    let items = current
        .into_iter()
        .filter_map(Value::as_array)
        .flat_map(|a| a.iter());
    if inner == "*" {
        return items.collect();
    }
    if let Ok(i) = inner.parse::<usize>() {
        return items.skip(i).take(1).collect();
    }
    // `?(@.type=="Ready")`
    let Some(cond) = inner.strip_prefix("?(").and_then(|c| c.strip_suffix(')')) else {
        return vec![];
    };
    let Some((lhs, rhs)) = cond.split_once("==") else {
        return vec![];
    };
    let field = lhs.trim().trim_start_matches('@');
    let want = rhs.trim().trim_matches(['"', '\'']);
    items
        .filter(|item| {
            jsonpath(item, field)
                .first()
                .is_some_and(|v| plain(v) == want)
        })
        .collect()
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, from seconds.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    let (m, h) = (s / 60, s / 3600);
    let (d, y) = (h / 24, h / (24 * 365));
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 && s % 60 == 0 => format!("{m}m"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 == 0 => format!("{h}h"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 && h % 24 == 0 => format!("{d}d"),
        _ if h < 24 * 8 => format!("{d}d{}h", h % 24),
        _ if h < 24 * 365 * 2 => format!("{d}d"),
        _ if h < 24 * 365 * 8 && d % 365 == 0 => format!("{y}y"),
        _ if h < 24 * 365 * 8 => format!("{y}y{}d", d % 365),
        _ => format!("{y}y"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_filter_index_and_fields() {
        let obj = json!({"status": {"phase": "Ready", "conditions": [
            {"type": "Progressing", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let one = |p: &str| jsonpath(&obj, p).first().map(|v| plain(v));
        assert_eq!(
            one(".status.conditions[?(@.type==\"Ready\")].status").as_deref(),
            Some("True")
        );
        assert_eq!(
            one(".status.conditions[0].type").as_deref(),
            Some("Progressing")
        );
        assert_eq!(one("{.status.phase}").as_deref(), Some("Ready"));
        assert_eq!(jsonpath(&obj, ".status.conditions[*].type").len(), 2);
        assert!(jsonpath(&obj, ".status.nothing").is_empty());
    }

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(100 * 86400), "100d");
    }

    #[test]
    fn crd_columns_follow_additional_printer_columns() {
        let crd = serde_json::to_value(&qserv_operator::api::crds()[0].1).expect("crd json");
        let rt = crate::apiserver::resources::from_crd(&crd).remove(0);
        let obj = json!({"metadata": {"name": "q", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "status": {"phase": "Ready", "components": {"workers": "2/2"},
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        let table = render(&rt, &[obj], 7, "");
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["Name", "Ready", "Phase", "Workers", "Expires", "Age"]
        );
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "q");
        assert_eq!(cells[1], "True");
        assert_eq!(cells[3], "2/2");
        assert!(cells[4].is_null());
        assert!(
            cells[5]
                .as_str()
                .is_some_and(|a| a.ends_with('y') || a.contains('y'))
        );
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
