//! The kinds the server serves: a fixed list of built-ins, plus one entry per served version of
//! every CustomResourceDefinition stored through it. Discovery, routing, tables and validation
//! all read this registry.

use serde_json::Value;

/// One served resource (`group/version/plural`).
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    /// Plural, as in the URL: `qservclusters`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource: the main resource ignores status, `/status` ignores the rest.
    pub has_status: bool,
    /// For custom resources: the CRD it comes from (its JSON) and the version's schema.
    pub crd: Option<CrdInfo>,
}

#[derive(Debug, Clone)]
pub struct CrdInfo {
    /// `metadata.name` of the CRD, e.g. `qservclusters.qserv.in2p3.fr`.
    pub name: String,
    /// The whole CRD object as stored, for the CEL checker.
    pub object: Value,
    pub schema: Option<Value>,
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Objects of all versions of one group/resource share one storage; events.k8s.io Events
    /// live with the core ones (see `events.rs`).
    pub fn storage_key(&self) -> (String, String) {
        if super::events::is_events_k8s_io(&self.group, &self.plural) {
            return (String::new(), self.plural.clone());
        }
        (self.group.clone(), self.plural.clone())
    }

    /// The subresources served, with their verbs, as discovery lists them: `log` of core Pods
    /// (`logs.rs`), `status` of kinds that have one.
    pub fn subresources(&self) -> Vec<(&'static str, &'static [&'static str])> {
        let mut subs: Vec<(&'static str, &'static [&'static str])> = Vec::new();
        if self.group.is_empty() && self.kind == "Pod" {
            subs.push(("log", &["get"]));
        }
        if self.has_status {
            subs.push(("status", &["get", "patch", "update"]));
        }
        subs
    }

    pub fn verbs() -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    has_status: bool,
    in_all: bool,
}

/// `(group, version, plural, kind)`, namespaced, short names, has /status, in category `all`.
const fn b(
    gvk: (&'static str, &'static str, &'static str, &'static str),
    namespaced: bool,
    short_names: &'static [&'static str],
    has_status: bool,
    in_all: bool,
) -> Builtin {
    Builtin {
        group: gvk.0,
        version: gvk.1,
        plural: gvk.2,
        kind: gvk.3,
        namespaced,
        short_names,
        has_status,
        in_all,
    }
}

/// Built-in kinds our controllers and kubectl use. `in_all` puts them in the `all` category
/// (`kubectl get all`), as the real server does.
const BUILTINS: &[Builtin] = &[
    b(
        ("", "v1", "namespaces", "Namespace"),
        false,
        &["ns"],
        true,
        false,
    ),
    b(("", "v1", "pods", "Pod"), true, &["po"], true, true),
    b(
        ("", "v1", "services", "Service"),
        true,
        &["svc"],
        true,
        true,
    ),
    b(
        ("", "v1", "configmaps", "ConfigMap"),
        true,
        &["cm"],
        false,
        false,
    ),
    b(("", "v1", "secrets", "Secret"), true, &[], false, false),
    b(
        ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
        true,
        &["pvc"],
        true,
        false,
    ),
    // Cluster-scoped, as in Kubernetes; the local runtime backs those with `hostPath` (or
    // `local`) by that directory (the demo's `catalogs` volume is the shared data dir).
    b(
        ("", "v1", "persistentvolumes", "PersistentVolume"),
        false,
        &["pv"],
        true,
        false,
    ),
    b(("", "v1", "events", "Event"), true, &["ev"], false, false),
    b(
        ("", "v1", "serviceaccounts", "ServiceAccount"),
        true,
        &["sa"],
        false,
        false,
    ),
    b(
        ("apps", "v1", "statefulsets", "StatefulSet"),
        true,
        &["sts"],
        true,
        true,
    ),
    b(
        ("apps", "v1", "deployments", "Deployment"),
        true,
        &["deploy"],
        true,
        true,
    ),
    b(("batch", "v1", "jobs", "Job"), true, &[], true, true),
    b(
        (
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "NetworkPolicy",
        ),
        true,
        &["netpol"],
        false,
        false,
    ),
    b(
        ("coordination.k8s.io", "v1", "leases", "Lease"),
        true,
        &[],
        false,
        false,
    ),
    // RBAC objects are stored, never enforced (no authorization): the Helm chart's Roles and
    // bindings can be applied and read back.
    b(
        (
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
        ),
        false,
        &[],
        false,
        false,
    ),
    b(
        (
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
        ),
        false,
        &[],
        false,
        false,
    ),
    b(
        ("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        true,
        &[],
        false,
        false,
    ),
    b(
        (
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
        ),
        true,
        &[],
        false,
        false,
    ),
    // No short name: `ev` is core events' (kubectl would warn that it matches both).
    b(
        ("events.k8s.io", "v1", "events", "Event"),
        true,
        &[],
        false,
        false,
    ),
    b(
        (
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
        ),
        false,
        &["crd", "crds"],
        true,
        false,
    ),
];

pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|b| ResourceType {
            group: b.group.into(),
            version: b.version.into(),
            plural: b.plural.into(),
            singular: b.kind.to_lowercase(),
            kind: b.kind.into(),
            namespaced: b.namespaced,
            short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
            categories: if b.in_all { vec!["all".into()] } else { vec![] },
            has_status: b.has_status,
            crd: None,
        })
        .collect()
}

/// The resource types a CRD object declares, one per served version.
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        names["plural"].as_str(),
        names["kind"].as_str(),
    ) else {
        return vec![];
    };
    let Some(versions) = spec["versions"].as_array() else {
        return vec![];
    };
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            Some(ResourceType {
                group: group.into(),
                version: v["name"].as_str()?.into(),
                plural: plural.into(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_lowercase()),
                kind: kind.into(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                has_status: v["subresources"]["status"].is_object(),
                crd: Some(CrdInfo {
                    name: crd["metadata"]["name"].as_str().unwrap_or_default().into(),
                    object: crd.clone(),
                    schema: v["schema"]["openAPIV3Schema"]
                        .is_object()
                        .then(|| v["schema"]["openAPIV3Schema"].clone()),
                    printer_columns: v["additionalPrinterColumns"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_crd_becomes_a_namespaced_type_with_short_names_and_status() {
        let crd = serde_json::to_value(&qserv_operator::api::crds()[0].1).expect("crd to json");
        let types = from_crd(&crd);
        assert_eq!(types.len(), 1);
        let t = &types[0];
        assert_eq!(t.api_version(), "qserv.in2p3.fr/v1alpha1");
        assert_eq!(t.plural, "qservclusters");
        assert_eq!(t.short_names, vec!["qsc"]);
        assert!(t.namespaced && t.has_status);
        let info = t.crd.as_ref().expect("crd info");
        assert!(info.schema.is_some());
        assert_eq!(info.printer_columns.len(), 5);
    }
}
