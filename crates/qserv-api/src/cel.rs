//! Evaluates the CEL rules (`x-kubernetes-validations`) of our CRDs without an API server, with
//! the same schema defaulting the API server applies first. Tests use it to prove the rules
//! really accept the examples and reject bad specs; the embedded API server of local mode uses it
//! to answer like a real one.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::Validator;

use super::validation::{FieldError, ValidationErrors};

/// Checks `object` (and, for updates, the transition rules against `old`) against the CEL rules
/// of the CRD's first version. Errors carry the failing field path and the rule's message.
pub fn check_cel_rules(
    crd: &CustomResourceDefinition,
    object: &serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<(), ValidationErrors> {
    let Some(schema) = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
    else {
        return Ok(());
    };
    let schema = serde_json::to_value(schema).expect("a CRD schema serializes to JSON");
    Validator::new()
        .validate(&schema, object, old)
        .map_err(|errors| {
            ValidationErrors(
                errors
                    .iter()
                    .map(|e| FieldError {
                        path: e.field_path.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
            )
        })
}
