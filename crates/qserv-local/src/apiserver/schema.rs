//! Admission of custom resources against their CRD's `openAPIV3Schema`, in the real API
//! server's order: prune unknown fields (or reject them with `fieldValidation=Strict`), apply
//! schema defaults, check the structural schema, then evaluate the CEL rules (with the old
//! object on update, so transition rules such as an immutable field hold).
//!
//! Checked: `type` (incl. `x-kubernetes-int-or-string`), `nullable`, `required` (the root's
//! too: a custom resource without a required `spec` is refused), `enum`, `minimum`/`maximum`,
//! the range of the integer formats `int32`/`int64` (kube-openapi's `IsValueValidAgainstRange`,
//! `pkg/validation/validate/values.go:333-385`, called for every number at `validator.go:151`),
//! `minLength`/`maxLength`, `pattern`, the `date-time` format, `minItems`/`maxItems`, and
//! `x-kubernetes-validations`. Not checked: other string `format`s, `multipleOf`, `uniqueItems`,
//! `x-kubernetes-list-type` uniqueness, `maxProperties`, `metadata` beyond its name. A `null`
//! for a non-nullable field is dropped rather than rejected.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::errors::{ApiError, ApiResult, Cause};
use super::resources::ResourceType;
use qserv_operator::api::cel::check_cel_rules;

/// Prunes, defaults and validates `obj` in place; `old` is the stored object on update.
pub fn admit(
    rt: &ResourceType,
    obj: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> ApiResult<()> {
    let Some(crd) = &rt.crd else { return Ok(()) };
    let Some(schema) = &crd.schema else {
        return Ok(());
    };
    let mut unknown = Vec::new();
    if let Some(fields) = obj.as_object_mut() {
        for (key, value) in fields.iter_mut() {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                prune(
                    &schema["properties"][key.as_str()],
                    value,
                    key,
                    &mut unknown,
                );
            }
        }
        let known = schema["properties"].as_object();
        fields.retain(|k, _| {
            let keep = matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                || known.is_some_and(|p| p.contains_key(k));
            if !keep {
                unknown.push(k.clone());
            }
            keep
        });
    }
    if strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect();
        return Err(ApiError::BadRequest(format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    *obj = kube::core::cel::apply_defaults(schema, obj);

    let mut causes = Vec::new();
    for req in schema["required"].as_array().into_iter().flatten() {
        if let Some(req) = req.as_str()
            && obj.get(req).is_none()
        {
            causes.push(Cause {
                field: req.to_string(),
                message: "Required value".into(),
            });
        }
    }
    for key in ["spec", "status"] {
        if let Some(value) = obj.get(key) {
            check(&schema["properties"][key], value, key, &mut causes);
        }
    }
    if causes.is_empty() {
        let typed: CustomResourceDefinition = serde_json::from_value(crd.object.clone())
            .map_err(|e| ApiError::BadRequest(format!("stored CRD {}: {e}", crd.name)))?;
        if let Err(errors) = check_cel_rules(&typed, obj, old) {
            causes.extend(errors.0.into_iter().map(|e| Cause {
                field: e.path,
                message: e.message,
            }));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            name: obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            causes,
        })
    }
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema[key].as_bool() == Some(true)
}

/// Removes fields the schema does not know (recording their paths) and non-nullable nulls.
fn prune(schema: &Value, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
    if !schema.is_object() {
        return;
    }
    match value {
        Value::Object(fields) => {
            let preserve = is_true(schema, "x-kubernetes-preserve-unknown-fields");
            let props = schema["properties"].as_object();
            let additional = schema["additionalProperties"]
                .is_object()
                .then(|| &schema["additionalProperties"]);
            fields.retain(|k, v| {
                let child = props.and_then(|p| p.get(k)).or(additional);
                let known = child.is_some() || preserve;
                if !known {
                    unknown.push(format!("{path}.{k}"));
                }
                let null_ok = child.is_some_and(|c| is_true(c, "nullable"));
                known && (!v.is_null() || null_ok || child.is_none())
            });
            for (k, v) in fields.iter_mut() {
                if let Some(child) = props.and_then(|p| p.get(k)).or(additional) {
                    prune(child, v, &format!("{path}.{k}"), unknown);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune(&schema["items"], item, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The structural checks listed at the top of the module.
fn check(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    if !schema.is_object() {
        return;
    }
    let mut fail = |message: String| {
        causes.push(Cause {
            field: path.to_string(),
            message: format!("{value}: {message}"),
        })
    };
    let got = type_name(value);
    if value.is_null() {
        if !is_true(schema, "nullable") {
            fail("must not be null".into());
        }
        return;
    }
    let type_ok = if is_true(schema, "x-kubernetes-int-or-string") {
        matches!(got, "integer" | "string")
    } else {
        match schema["type"].as_str() {
            None => true,
            Some("number") => matches!(got, "integer" | "number"),
            Some(want) => want == got,
        }
    };
    if !type_ok {
        let want = schema["type"].as_str().unwrap_or("integer or string");
        fail(format!("{path} in body must be of type {want}: \"{got}\""));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        fail(format!("supported values: {}", list.join(", ")));
    }
    if let Some(problem) = integer_format_problem(schema, value, path) {
        fail(problem);
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema["minimum"].as_f64()
            && n < min
        {
            fail(format!(
                "{path} in body should be greater than or equal to {min}"
            ));
        }
        if let Some(max) = schema["maximum"].as_f64()
            && n > max
        {
            fail(format!(
                "{path} in body should be less than or equal to {max}"
            ));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            fail(format!(
                "{path} in body should be at least {} chars long",
                schema["minLength"]
            ));
        }
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            fail(format!(
                "{path} in body may not be longer than {}",
                schema["maxLength"]
            ));
        }
        // kube-openapi `validate/string.go` (PatternFail, "should match"); Go's RE2 syntax,
        // which the regex crate shares. A pattern that does not compile was refused with the CRD.
        if let Some(pattern) = schema["pattern"].as_str()
            && let Ok(re) = regex::Regex::new(pattern)
            && !re.is_match(s)
        {
            fail(format!("{path} in body should match '{pattern}'"));
        }
        // kube-openapi `validate/formats.go` checks the formats of `strfmt.Default`; of those
        // our CRDs use `date-time` (RFC 3339).
        if schema["format"].as_str() == Some("date-time") && s.parse::<jiff::Timestamp>().is_err() {
            fail(format!("{path} in body must be of type date-time: {s:?}"));
        }
    }
    match value {
        Value::Object(fields) => {
            for req in schema["required"].as_array().into_iter().flatten() {
                if let Some(req) = req.as_str()
                    && !fields.contains_key(req)
                {
                    causes.push(Cause {
                        field: format!("{path}.{req}"),
                        message: "Required value".into(),
                    });
                }
            }
            for (k, v) in fields {
                let child = schema["properties"]
                    .get(k)
                    .unwrap_or(&schema["additionalProperties"]);
                check(child, v, &format!("{path}.{k}"), causes);
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if schema["minItems"].as_u64().is_some_and(|m| n < m) {
                causes.push(Cause {
                    field: path.into(),
                    message: format!("should have at least {} items", schema["minItems"]),
                });
            }
            if schema["maxItems"].as_u64().is_some_and(|m| n > m) {
                causes.push(Cause {
                    field: path.into(),
                    message: format!("should have at most {} items", schema["maxItems"]),
                });
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{path}[{i}]"), causes);
            }
        }
        _ => {}
    }
}

/// kube-openapi's range check of an integer against its `format`: `int32` must fit 32 bits,
/// `int64` (and no format) 64 bits; the message is the real one (`values.go:378-383`).
fn integer_format_problem(schema: &Value, value: &Value, path: &str) -> Option<String> {
    if schema["type"].as_str() != Some("integer") || !value.is_number() {
        return None;
    }
    let format = schema["format"].as_str().unwrap_or_default();
    let fits = match format {
        "int32" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "uint32" => value.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
        "uint64" => value.as_u64().is_some(),
        _ => value.as_i64().is_some(),
    };
    (!fits).then(|| match format {
        "" => format!("Checked value must be of type integer (default format) in {path}"),
        f => format!("Checked value must be of type integer with format {f} in {path}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::from_crd;
    use serde_json::json;

    fn qsc_type() -> ResourceType {
        let crd = serde_json::to_value(&qserv_operator::api::crds()[0].1).expect("crd json");
        from_crd(&crd).remove(0)
    }

    fn qsc(spec: Value) -> Value {
        json!({"apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
               "metadata": {"name": "q", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn type_error_is_422_with_the_field_path() {
        let mut obj = qsc(json!({"workers": {"replicas": "two"}}));
        let err = admit(&qsc_type(), &mut obj, None, false).expect_err("type error");
        let ApiError::Invalid { causes, .. } = &err else {
            panic!("expected Invalid, got {err:?}")
        };
        assert_eq!(causes[0].field, "spec.workers.replicas");
        assert!(
            causes[0].message.contains("must be of type integer"),
            "{causes:?}"
        );
    }

    /// As kube-apiserver (kube-openapi `IsValueValidAgainstRange`): an int32 field refuses a
    /// value that needs 64 bits, and the CRD's required `spec` must be there.
    #[test]
    fn int32_overflow_and_a_missing_spec_are_422() {
        let mut obj = qsc(json!({"workers": {"replicas": 99_999_999_999_i64}}));
        let err = admit(&qsc_type(), &mut obj, None, false).expect_err("int32 overflow");
        let ApiError::Invalid { causes, .. } = &err else {
            panic!("expected Invalid, got {err:?}")
        };
        assert_eq!(causes[0].field, "spec.workers.replicas");
        assert_eq!(
            causes[0].message,
            "99999999999: Checked value must be of type integer with format int32 in spec.workers.replicas"
        );
        let mut fits = qsc(json!({"workers": {"replicas": 2_147_483_647_i64}}));
        admit(&qsc_type(), &mut fits, None, false).expect("the largest int32 fits");

        let mut no_spec = qsc(json!({}));
        no_spec.as_object_mut().unwrap().remove("spec");
        let err = admit(&qsc_type(), &mut no_spec, None, false).expect_err("no spec");
        let ApiError::Invalid { causes, .. } = &err else {
            panic!("expected Invalid, got {err:?}")
        };
        assert_eq!(
            (causes[0].field.as_str(), causes[0].message.as_str()),
            ("spec", "Required value")
        );
    }

    #[test]
    fn cel_rule_is_422_and_defaults_are_applied() {
        let mut obj = qsc(json!({"workers": {"replicas": 0}}));
        let err = admit(&qsc_type(), &mut obj, None, false).expect_err("cel");
        assert!(
            err.to_string().contains("workers.replicas must be >= 1"),
            "{err}"
        );
        let mut obj = qsc(json!({"workers": {"replicas": 2}}));
        admit(&qsc_type(), &mut obj, None, false).expect("valid");
        assert_eq!(obj["spec"]["czar"]["storage"]["size"], "10Gi");
    }

    #[test]
    fn unknown_fields_are_pruned_or_rejected_when_strict() {
        let mut obj = qsc(json!({"workers": {"replicas": 2, "replica": 3}}));
        let mut pruned = obj.clone();
        admit(&qsc_type(), &mut pruned, None, false).expect("pruned");
        assert!(pruned["spec"]["workers"].get("replica").is_none());
        assert_eq!(pruned["spec"]["workers"]["replicas"], 2);
        let err = admit(&qsc_type(), &mut obj, None, true).expect_err("strict");
        assert_eq!(
            err.to_string(),
            "strict decoding error: unknown field \"spec.workers.replica\""
        );
    }
}
