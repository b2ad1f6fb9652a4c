//! Offline checks of QservCluster / CatalogIngest manifests (`qserv-operator validate`): unknown
//! fields, type errors, the spec's own `validate()` and the CRDs' CEL rules, all reported at
//! once with file, document and field path — before anything reaches a cluster.

use std::path::Path;

use kube::CustomResourceExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cel::check_cel_rules;
use super::validation::{FieldError, ValidationErrors};
use super::{CatalogIngest, QservCluster};

/// The outcome for one YAML document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentReport {
    /// Position of the document in its file, from 0.
    pub index: usize,
    pub kind: String,
    pub name: String,
    /// Empty when the document is valid.
    pub problems: Vec<FieldError>,
}

/// Errors that stop a file from being checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: document {index}: not YAML: {source}")]
    Yaml {
        path: String,
        index: usize,
        source: serde_norway::Error,
    },
}

/// Checks every document of a YAML file.
pub fn check_file(path: &Path) -> Result<Vec<DocumentReport>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut reports = Vec::new();
    for (index, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(doc).map_err(|source| ManifestError::Yaml {
            path: path.display().to_string(),
            index,
            source,
        })?;
        if !value.is_null() {
            reports.push(check_document(index, &value));
        }
    }
    Ok(reports)
}

/// Checks one parsed document.
pub fn check_document(index: usize, doc: &Value) -> DocumentReport {
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let problems = match kind.as_str() {
        "QservCluster" => check_typed::<QservCluster>(doc, |o| o.spec.validate()),
        "CatalogIngest" => check_typed::<CatalogIngest>(doc, |o| o.spec.validate()),
        other => vec![FieldError {
            path: "kind".into(),
            message: format!("expected QservCluster or CatalogIngest, got {other:?}"),
        }],
    };
    DocumentReport {
        index,
        kind,
        name,
        problems,
    }
}

fn check_typed<K>(
    doc: &Value,
    validate: impl Fn(&K) -> Result<(), ValidationErrors>,
) -> Vec<FieldError>
where
    K: DeserializeOwned + serde::Serialize + CustomResourceExt,
{
    let obj: K = match serde_json::from_value(doc.clone()) {
        Ok(obj) => obj,
        Err(e) => {
            return vec![FieldError {
                path: "(document)".into(),
                message: e.to_string(),
            }];
        }
    };
    let mut problems = Vec::new();
    let roundtrip = serde_json::to_value(&obj).expect("our types serialize");
    unknown_fields(doc, &roundtrip, "", &mut problems);
    if doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .is_none()
    {
        problems.push(FieldError {
            path: "metadata.name".into(),
            message: "is required".into(),
        });
    }
    if let Err(e) = validate(&obj) {
        problems.extend(e.0);
    }
    // The CEL rules mostly restate validate(); report only what it did not already flag.
    if let Err(e) = check_cel_rules(&K::crd(), doc, None) {
        for err in e.0 {
            if !problems.iter().any(|p| p.path == err.path) {
                problems.push(err);
            }
        }
    }
    problems
}

/// Fields present in the manifest but unknown to the types (a typo such as `replica:`), which
/// the API server would silently prune.
fn unknown_fields(original: &Value, roundtrip: &Value, path: &str, out: &mut Vec<FieldError>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (original, roundtrip) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => unknown_fields(v, w, &join(k), out),
                    None if v.is_null() => {}
                    None => out.push(FieldError {
                        path: join(k),
                        message: "unknown field".into(),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                unknown_fields(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misspelt_field_a_type_error_and_a_rule_are_all_reported() {
        let doc = json!({
            "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
            "metadata": {"name": "q"},
            "spec": {"workers": {"replica": 3, "replicas": 0}, "ttl": "soon"}
        });
        let report = check_document(0, &doc);
        let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "spec.workers.replica: unknown field",
                "spec.workers.replicas: must be >= 1, got 0",
                "spec.ttl: not a duration like 2h, 90m or 1h30m: \"soon\"",
            ]
        );
    }

    #[test]
    fn wrong_types_and_kinds_are_reported() {
        let doc = json!({"kind": "QservCluster", "metadata": {"name": "q"}, "spec": {"workers": {"replicas": "two"}}});
        let report = check_document(0, &doc);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0]
                .message
                .contains("invalid type: string \"two\", expected i32"),
            "{:?}",
            report.problems
        );
        let doc = json!({"kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(
            check_document(3, &doc).problems[0].to_string(),
            "kind: expected QservCluster or CatalogIngest, got \"Pod\""
        );
    }

    #[test]
    fn a_rule_only_cel_knows_is_still_reported() {
        // validate() reports the missing director columns per field; CEL reports the table.
        let doc = json!({
            "kind": "CatalogIngest", "metadata": {"name": "i"},
            "spec": {"cluster": "c", "database": "d", "source": {"path": "/x"},
                     "tables": [{"name": "T", "format": "csv", "files": ["t.csv"], "role": "director",
                                 "idColumn": "id"}]}
        });
        let lines: Vec<String> = check_document(0, &doc)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            vec![
                "spec.tables[0].raColumn: is required for a director table",
                "spec.tables[0].decColumn: is required for a director table",
                "spec.tables[0]: a director table needs idColumn, raColumn and decColumn",
            ]
        );
    }
}
