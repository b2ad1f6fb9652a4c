//! A container's environment as the kubelet computes it: `envFrom`, then `env` (literal
//! values with `$(VAR)` references to earlier variables, `secretKeyRef`, `configMapKeyRef`,
//! `fieldRef`), and `$(VAR)` expansion of command and args.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::runtime::reflector::{ObjectRef, Store};

/// Looks up Secrets and ConfigMaps of the pod's namespace.
pub struct Sources<'a> {
    pub secrets: &'a Store<Secret>,
    pub configmaps: &'a Store<ConfigMap>,
}

/// The resolved environment, or why the container cannot start (as the kubelet's
/// `CreateContainerConfigError` message names the missing Secret/ConfigMap and key).
pub fn resolve(
    pod: &Pod,
    container: &Container,
    src: &Sources,
) -> Result<BTreeMap<String, String>, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = BTreeMap::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        if let Some(r) = &from.secret_ref {
            match secret(src, ns, &r.name) {
                Some(data) => {
                    env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)))
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &from.config_map_ref {
            match configmap(src, ns, &r.name) {
                Some(data) => {
                    env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)))
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => Some(expand(v, &env)),
            (None, Some(from)) => {
                if let Some(r) = &from.secret_key_ref {
                    let v = secret(src, ns, &r.name).and_then(|d| d.get(&r.key).cloned());
                    match v {
                        Some(v) => Some(v),
                        None if r.optional == Some(true) => None,
                        None => {
                            return Err(format!(
                                "env {}: key \"{}\" of secret \"{}\" not found",
                                var.name, r.key, r.name
                            ));
                        }
                    }
                } else if let Some(r) = &from.config_map_key_ref {
                    let v = configmap(src, ns, &r.name).and_then(|d| d.get(&r.key).cloned());
                    match v {
                        Some(v) => Some(v),
                        None if r.optional == Some(true) => None,
                        None => {
                            return Err(format!(
                                "env {}: key \"{}\" of configmap \"{}\" not found",
                                var.name, r.key, r.name
                            ));
                        }
                    }
                } else if let Some(f) = &from.field_ref {
                    Some(field(pod, &f.field_path).ok_or_else(|| {
                        format!(
                            "env {}: fieldRef {} is not supported in local mode",
                            var.name, f.field_path
                        )
                    })?)
                } else {
                    return Err(format!(
                        "env {}: only value, secretKeyRef, configMapKeyRef and fieldRef are supported in local mode",
                        var.name
                    ));
                }
            }
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            env.insert(var.name.clone(), v);
        }
    }
    Ok(env)
}

fn secret(src: &Sources, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let s = src.secrets.get(&ObjectRef::new(name).within(ns))?;
    let mut out: BTreeMap<String, String> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    // The embedded API server stores Secrets as sent, so stringData may still be there.
    out.extend(s.string_data.clone().unwrap_or_default());
    Some(out)
}

fn configmap(src: &Sources, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let c = src.configmaps.get(&ObjectRef::new(name).within(ns))?;
    Some(c.data.clone().unwrap_or_default())
}

/// The downward API fields local mode can answer.
fn field(pod: &Pod, path: &str) -> Option<String> {
    let meta = &pod.metadata;
    let in_map = |map: &Option<BTreeMap<String, String>>, prefix: &str| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.as_ref()?.get(key).cloned().unwrap_or_default())
    };
    match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "status.podIP" | "status.hostIP" => Some("127.0.0.1".into()),
        "spec.nodeName" => Some("local".into()),
        "spec.serviceAccountName" => Some(
            pod.spec
                .as_ref()
                .and_then(|s| s.service_account_name.clone())
                .unwrap_or_else(|| "default".into()),
        ),
        _ => in_map(&meta.labels, "metadata.labels['")
            .or_else(|| in_map(&meta.annotations, "metadata.annotations['")),
    }
}

/// Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` is a literal `$`,
/// unknown references stay as written.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some(v) = env.get(&inner[..end])
        {
            out.push_str(v);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let env = BTreeMap::from([("PW".to_string(), "s3".to_string())]);
        assert_eq!(expand("mysql://root:$(PW)@h", &env), "mysql://root:s3@h");
        assert_eq!(expand("$(NOPE) $$(PW) $", &env), "$(NOPE) $(PW) $");
    }

    fn store<K>(objs: Vec<serde_json::Value>) -> Store<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + 'static,
    {
        let (reader, mut writer) = kube::runtime::reflector::store::<K>();
        for o in objs {
            let obj: K = serde_json::from_value(o).unwrap();
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(obj));
        }
        reader
    }

    #[test]
    fn env_comes_from_values_secrets_configmaps_and_fields() {
        let secrets = store::<Secret>(vec![serde_json::json!({
            "metadata": {"name": "s", "namespace": "q"},
            "data": {"pw": "czNjcmV0"}, "stringData": {"key": "k1"}
        })]);
        let configmaps = store::<ConfigMap>(vec![serde_json::json!({
            "metadata": {"name": "c", "namespace": "q"}, "data": {"mode": "fast"}
        })]);
        let src = Sources {
            secrets: &secrets,
            configmaps: &configmaps,
        };
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p-0", "namespace": "q"}
        }))
        .unwrap();
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "CM_"}],
            "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "key"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "mode"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "URI", "value": "mysql://root:$(PW)@$(POD)"},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "no", "optional": true}}}
            ]
        }))
        .unwrap();
        let env = resolve(&pod, &container, &src).unwrap();
        assert_eq!(env["PW"], "s3cret");
        assert_eq!(env["KEY"], "k1");
        assert_eq!(env["MODE"], "fast");
        assert_eq!(env["CM_mode"], "fast");
        assert_eq!(env["URI"], "mysql://root:s3cret@p-0");
        assert!(!env.contains_key("OPT"));

        let missing: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "nope"}}}]
        }))
        .unwrap();
        assert_eq!(
            resolve(&pod, &missing, &src).unwrap_err(),
            "env PW: key \"nope\" of secret \"s\" not found"
        );
    }

    #[test]
    fn downward_api_fields() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}}
        }))
        .unwrap();
        assert_eq!(field(&pod, "metadata.name").as_deref(), Some("p"));
        assert_eq!(field(&pod, "metadata.namespace").as_deref(), Some("ns"));
        assert_eq!(field(&pod, "metadata.labels['a']").as_deref(), Some("b"));
        assert_eq!(field(&pod, "status.podIP").as_deref(), Some("127.0.0.1"));
        assert_eq!(field(&pod, "spec.unknown"), None);
    }
}
