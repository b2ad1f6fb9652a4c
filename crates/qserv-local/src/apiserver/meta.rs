//! The object-metadata checks the real server makes for every kind, so a controller that builds
//! an invalid name or label fails here as it would on a cluster: names are DNS-1123 subdomains
//! (Namespaces DNS-1123 labels, Services DNS-1035 labels), label keys and values follow the
//! label syntax, and custom resources must be updated with a resourceVersion.

use serde_json::Value;

use super::errors::Cause;
use super::resources::ResourceType;

fn alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// Dot-separated DNS labels, at most 253 characters.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label value or the name part of a key: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, ≤ 63.
fn label_part(s: &str) -> bool {
    let edge = |c: char| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(edge)
        && s.ends_with(edge)
}

fn label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && label_part(name),
        None => label_part(key),
    }
}

/// Problems with the name and labels of an object of kind `rt` about to be stored.
pub fn check(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let (valid, rule) = match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => (dns_label(name), "a lowercase RFC 1123 label"),
        ("", "Service") => (
            dns_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
            "a DNS-1035 label (lowercase letters, digits, '-', starting with a letter)",
        ),
        _ => (dns_subdomain(name), "a lowercase RFC 1123 subdomain"),
    };
    if !valid {
        causes.push(Cause {
            field: "metadata.name".into(),
            message: format!("{name:?}: must be {rule}"),
        });
    }
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (key, value) in labels {
            if !label_key(key) {
                causes.push(Cause {
                    field: "metadata.labels".into(),
                    message: format!("{key:?}: not a valid label key"),
                });
            }
            let value = value.as_str().unwrap_or("\u{0}");
            if !value.is_empty() && !label_part(value) {
                causes.push(Cause {
                    field: format!("metadata.labels.{key}"),
                    message: format!(
                        "{value:?}: a label value is at most 63 characters of [A-Za-z0-9._-], \
                         starting and ending with a letter or digit"
                    ),
                });
            }
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::builtins;
    use serde_json::json;

    fn kind(k: &str) -> ResourceType {
        builtins()
            .into_iter()
            .find(|t| t.kind == k)
            .expect("built-in")
    }

    fn problems(k: &str, name: &str, labels: Value) -> Vec<String> {
        let obj = json!({"metadata": {"name": name, "labels": labels}});
        check(&kind(k), &obj).into_iter().map(|c| c.field).collect()
    }

    #[test]
    fn names_follow_the_kind_rules() {
        assert!(problems("ConfigMap", "qserv-ci.worker-0", json!({})).is_empty());
        assert_eq!(
            problems("ConfigMap", "Qserv_CI", json!({})),
            ["metadata.name"]
        );
        assert_eq!(problems("Namespace", "a.b", json!({})), ["metadata.name"]);
        assert_eq!(problems("Service", "0czar", json!({})), ["metadata.name"]);
        assert!(problems("Service", "qserv-czar", json!({})).is_empty());
        assert_eq!(
            problems("Pod", &"x".repeat(254), json!({})),
            ["metadata.name"]
        );
    }

    #[test]
    fn label_keys_and_values() {
        let ok = json!({"app.kubernetes.io/instance": "qserv-ci", "tier": "", "v": "1.2_3"});
        assert!(problems("Pod", "p", ok).is_empty());
        let bad = json!({"bad key": "x", "app": "-edge", "long": "x".repeat(64)});
        assert_eq!(
            problems("Pod", "p", bad),
            [
                "metadata.labels.app",
                "metadata.labels",
                "metadata.labels.long"
            ]
        );
    }
}
