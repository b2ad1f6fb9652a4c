//! Names, labels, owner references: what every built object carries.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;

use super::error::BuildError;
use crate::api::QservCluster;

pub use crate::identity::MANAGER;

/// Annotation on pod templates: the sha256 of the rendered ConfigMap the pods mount, so a config
/// change rolls them (the Go operator never updated its ConfigMaps after creation).
pub const CONFIG_HASH_ANNOTATION: &str = "qserv.in2p3.fr/config-sha256";

/// Label selector of every object this operator built for the cluster `name`: what the apply
/// stage lists to find objects that are no longer desired.
pub fn owned_selector(name: &str) -> String {
    format!(
        "app.kubernetes.io/name=qserv,app.kubernetes.io/instance={name},\
         app.kubernetes.io/managed-by={MANAGER}"
    )
}

/// The part of Qserv an object belongs to: the value of `app.kubernetes.io/component`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// Objects shared by the whole instance (the Secret, the NetworkPolicies).
    Cluster,
    Czar,
    Worker,
    Xrootd,
    ReplicationController,
    ReplicationRegistry,
    ReplicationDb,
    Reference,
    /// The Job that runs a new image's schema migrations on the existing databases.
    SchemaUpdate,
}

impl Component {
    pub const ALL: [Component; 9] = [
        Component::Cluster,
        Component::Czar,
        Component::Worker,
        Component::Xrootd,
        Component::ReplicationController,
        Component::ReplicationRegistry,
        Component::ReplicationDb,
        Component::Reference,
        Component::SchemaUpdate,
    ];

    /// Value of the `app.kubernetes.io/component` label.
    pub fn label(self) -> &'static str {
        match self {
            Component::Cluster => "cluster",
            Component::Czar => "czar",
            Component::Worker => "worker",
            Component::Xrootd => "xrootd",
            Component::ReplicationController => "replication-controller",
            Component::ReplicationRegistry => "replication-registry",
            Component::ReplicationDb => "replication-db",
            Component::Reference => "reference",
            Component::SchemaUpdate => "smig-update",
        }
    }

    /// Suffix of the component's workload and headless Service: `<cluster>-<suffix>`.
    pub fn suffix(self) -> &'static str {
        match self {
            Component::Cluster => "cluster",
            Component::Czar => "czar",
            Component::Worker => "worker",
            Component::Xrootd => "xrootd",
            Component::ReplicationController => "repl-ctl",
            Component::ReplicationRegistry => "repl-registry",
            Component::ReplicationDb => "repl-db",
            Component::Reference => "reference",
            Component::SchemaUpdate => "smig-update",
        }
    }

    pub fn from_label(label: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.label() == label)
    }
}

/// What every builder needs: the cluster's identity, where its objects go, who owns them.
pub struct Ctx<'a> {
    pub cluster: &'a QservCluster,
    pub name: &'a str,
    pub namespace: &'a str,
    owner: OwnerReference,
}

impl<'a> Ctx<'a> {
    pub fn new(cluster: &'a QservCluster) -> Result<Self, BuildError> {
        let meta = &cluster.metadata;
        let name = meta
            .name
            .as_deref()
            .ok_or(BuildError::MissingMetadata("name"))?;
        let namespace = meta
            .namespace
            .as_deref()
            .ok_or(BuildError::MissingMetadata("namespace"))?;
        let uid = meta.uid.clone().ok_or(BuildError::MissingMetadata("uid"))?;
        let owner = OwnerReference {
            api_version: QservCluster::api_version(&()).into_owned(),
            kind: QservCluster::kind(&()).into_owned(),
            name: name.to_string(),
            uid,
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        Ok(Ctx {
            cluster,
            name,
            namespace,
            owner,
        })
    }

    /// `<cluster>-<suffix>`: the workload and headless Service of a component.
    pub fn object_name(&self, component: Component) -> String {
        format!("{}-{}", self.name, component.suffix())
    }

    /// `<cluster>-<suffix>` for objects that are not one component's workload.
    pub fn named(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// The Secret holding the generated passwords and keys.
    pub fn secret_name(&self) -> String {
        self.named("secrets")
    }

    /// The `app.kubernetes.io/*` labels of an object of `component`.
    pub fn labels(&self, component: Component) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels(component);
        labels.insert("app.kubernetes.io/managed-by".into(), MANAGER.into());
        labels.insert("app.kubernetes.io/part-of".into(), "qserv".into());
        labels
    }

    /// The labels that select a component's pods (stable: never add to them, a StatefulSet's
    /// selector is immutable).
    pub fn selector_labels(&self, component: Component) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "qserv".into()),
            ("app.kubernetes.io/instance".into(), self.name.to_string()),
            (
                "app.kubernetes.io/component".into(),
                component.label().into(),
            ),
        ])
    }

    pub fn selector(&self, component: Component) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.selector_labels(component)),
            ..LabelSelector::default()
        }
    }

    /// Metadata of a top-level object: name, namespace, labels, controller owner reference.
    pub fn meta(&self, name: String, component: Component) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.to_string()),
            labels: Some(self.labels(component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }
}

/// Longest name of a StatefulSet: its pods get the label `controller-revision-hash =
/// <name>-<10 chars>`, and label values are at most 63 characters.
pub const MAX_STATEFULSET_NAME: usize = 52;
/// Services (and so the host names of pods) are DNS-1035 labels: at most 63 characters.
pub const MAX_SERVICE_NAME: usize = 63;
/// ConfigMaps, Secrets, Deployments, NetworkPolicies are DNS-1123 subdomains.
pub const MAX_SUBDOMAIN: usize = 253;

/// Why `name` is not a DNS-1123 label of at most `max` characters, if it is not.
pub fn dns1123_label_problem(name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > max {
        return Some(format!(
            "is {} characters long, at most {max} allowed",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("must contain only lowercase letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// Why `name` is not a DNS-1123 subdomain (dot-separated alphanumeric runs with inner '-', at
/// most 253 characters; Kubernetes puts no per-label limit on subdomains).
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    name.split('.')
        .find_map(|label| dns1123_label_problem(label, MAX_SUBDOMAIN))
        .or_else(|| {
            (name.len() > MAX_SUBDOMAIN).then(|| {
                format!(
                    "is {} characters long, at most {MAX_SUBDOMAIN} allowed",
                    name.len()
                )
            })
        })
}
