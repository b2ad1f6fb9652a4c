//! Reference documentation of the CRDs (`docs/crds/*.md`), generated from the same schemas as
//! `crds/`: every field path with its type, default, validation (required, enum, bounds, CEL
//! rules with their messages) and description. `qserv-operator crd-docs` writes it (`make crds`);
//! `tests/crd_docs.rs` fails when the committed pages are stale.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// `(file name, Markdown)` of both CRDs.
pub fn crd_docs() -> Vec<(&'static str, String)> {
    super::crds()
        .into_iter()
        .map(|(file, crd)| {
            let page = match file {
                "qservclusters.yaml" => "qservcluster.md",
                _ => "catalogingest.md",
            };
            (page, crd_markdown(&crd))
        })
        .collect()
}

/// One CRD as a Markdown page.
pub fn crd_markdown(crd: &CustomResourceDefinition) -> String {
    let names = &crd.spec.names;
    let mut out = format!("# {}\n\n", names.kind);
    out.push_str(
        "<!-- Generated from the Rust types (crates/qserv-api/) by `qserv-operator crd-docs`; do not \
         edit: run `make crds`. -->\n\n",
    );
    let short = names
        .short_names
        .as_ref()
        .map(|s| {
            s.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "none".into());
    for version in &crd.spec.versions {
        out.push_str(&format!(
            "- API version: `{}/{}`{}\n- Kind: `{}` (plural `{}`, short names {short}), {} scope\n",
            crd.spec.group,
            version.name,
            if version.storage { " (storage)" } else { "" },
            names.kind,
            names.plural,
            crd.spec.scope,
        ));
        if version
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some())
        {
            out.push_str("- `status` is a subresource: written by the operator only\n");
        }
        if let Some(columns) = &version.additional_printer_columns {
            out.push_str("\n## Columns of `kubectl get`\n\n| Name | Type | JSONPath | Shown |\n|---|---|---|---|\n");
            for c in columns {
                out.push_str(&format!(
                    "| {} | {} | `{}` | {} |\n",
                    c.name,
                    c.type_,
                    cell(&c.json_path),
                    if c.priority.unwrap_or(0) > 0 {
                        "with `-o wide`"
                    } else {
                        "always"
                    }
                ));
            }
        }
        let Some(schema) = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
        else {
            continue;
        };
        let schema = serde_json::to_value(schema).unwrap_or_default();
        out.push_str(
            "\n## Fields\n\n`[]` marks the items of a list, `{}` the values of a map. \
             Descriptions are the first paragraph of the schema's.\n\n\
             | Field | Type | Default | Validation | Description |\n|---|---|---|---|---|\n",
        );
        let mut rows = Vec::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, node) in props {
                if ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                    continue;
                }
                field_rows(node, name, required(&schema, name), &mut rows);
            }
        }
        for row in rows {
            out.push_str(&row);
        }
    }
    out
}

fn required(parent: &Value, name: &str) -> bool {
    parent
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|n| n == name))
}

fn field_rows(node: &Value, path: &str, is_required: bool, rows: &mut Vec<String>) {
    rows.push(format!(
        "| `{}` | {} | {} | {} | {} |\n",
        cell(path),
        type_of(node),
        node.get("default")
            .map(|d| format!("`{}`", cell(&d.to_string())))
            .unwrap_or_default(),
        validation(node, is_required),
        cell(&first_paragraph(
            node.get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )),
    ));
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            field_rows(sub, &format!("{path}.{name}"), required(node, name), rows);
        }
    }
    if let Some(items) = node.get("items") {
        field_rows(items, &format!("{path}[]"), false, rows);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        field_rows(values, &format!("{path}{{}}"), false, rows);
    }
}

fn type_of(node: &Value) -> String {
    let mut t = if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        "integer or string".to_string()
    } else {
        match node.get("type").and_then(Value::as_str) {
            Some("array") => format!(
                "list of {}",
                node.get("items").map_or_else(|| "any".into(), type_of)
            ),
            Some("object")
                if node
                    .get("additionalProperties")
                    .is_some_and(Value::is_object) =>
            {
                format!("map of {}", type_of(&node["additionalProperties"]))
            }
            Some(t) => t.to_string(),
            None => "any".to_string(),
        }
    };
    if let Some(format) = node.get("format").and_then(Value::as_str) {
        t.push_str(&format!(" ({format})"));
    }
    if node.get("nullable") == Some(&Value::Bool(true)) {
        t.push_str(", nullable");
    }
    t
}

fn validation(node: &Value, is_required: bool) -> String {
    let mut parts = Vec::new();
    if is_required {
        parts.push("required".to_string());
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "`{}`",
                    v.as_str().map(String::from).unwrap_or(v.to_string())
                )
            })
            .collect();
        parts.push(format!("one of {}", values.join(", ")));
    }
    for (key, what) in [
        ("minimum", ">="),
        ("maximum", "<="),
        ("minLength", "length >="),
        ("maxLength", "length <="),
        ("minItems", "items >="),
        ("maxItems", "items <="),
        ("minProperties", "entries >="),
        ("maxProperties", "entries <="),
    ] {
        if let Some(v) = node.get(key) {
            let exclusive = match key {
                "minimum" => node.get("exclusiveMinimum") == Some(&Value::Bool(true)),
                "maximum" => node.get("exclusiveMaximum") == Some(&Value::Bool(true)),
                _ => false,
            };
            let what = if exclusive {
                what.trim_end_matches('=')
            } else {
                what
            };
            parts.push(format!("{what} {v}"));
        }
    }
    if let Some(p) = node.get("pattern").and_then(Value::as_str) {
        parts.push(format!("pattern `{p}`"));
    }
    if let Some(t) = node.get("x-kubernetes-list-type").and_then(Value::as_str) {
        parts.push(format!("list type `{t}`"));
    }
    if node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        parts.push("unknown fields kept".into());
    }
    for rule in node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let expr = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
        match rule.get("message").and_then(Value::as_str) {
            Some(m) => parts.push(format!("CEL `{expr}`: {m}")),
            None => parts.push(format!("CEL `{expr}`")),
        }
    }
    cell(&parts.join("; "))
}

fn first_paragraph(text: &str) -> String {
    text.split("\n\n")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text safe in one Markdown table cell (GitHub needs `\|` even inside code spans).
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_row_has_type_default_validation_and_description() {
        let node = serde_json::json!({
            "type": "integer", "format": "int32", "default": 2,
            "description": "Number of workers.\n\nMore text.",
            "x-kubernetes-validations": [{"rule": "self >= 1 || false", "message": "at least one"}]
        });
        let mut rows = Vec::new();
        field_rows(&node, "spec.workers.replicas", true, &mut rows);
        assert_eq!(
            rows,
            [
                "| `spec.workers.replicas` | integer (int32) | `2` | required; CEL `self >= 1 \\|\\| false`: at least one | Number of workers. |\n"
            ]
        );
    }

    #[test]
    fn lists_maps_enums_and_nullable() {
        let node = serde_json::json!({"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "role": {"type": "string", "enum": ["director", "child"], "nullable": true}}});
        let mut rows = Vec::new();
        field_rows(&node, "spec", false, &mut rows);
        assert_eq!(rows.len(), 6, "{rows:#?}");
        assert!(rows[1].starts_with("| `spec.files` | list of string |  | items >= 1 |"));
        assert!(rows[2].starts_with("| `spec.files[]` | string |"));
        assert!(rows[3].starts_with("| `spec.labels` | map of string |"));
        assert!(rows[4].starts_with("| `spec.labels{}` | string |"));
        assert!(rows[5].contains("| string, nullable |  | one of `director`, `child` |"));
    }
}
