//! Unit tests of the build stage: properties every built object must have, and how the spec
//! steers them. The full output is pinned by the YAML fixtures in `tests/cluster_fixtures.rs`.

mod config;
mod objects;
mod release;
mod security;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use pretty_assertions::assert_eq;

use super::*;
use crate::api::QservCluster;

pub(super) const UID: &str = "6f1c2a4e-0000-4000-8000-000000000001";

pub(crate) fn cluster(spec_yaml: &str) -> QservCluster {
    let spec = serde_norway::from_str(spec_yaml).unwrap();
    let mut c = QservCluster::new("qserv-ci", spec);
    c.metadata.namespace = Some("ci".into());
    c.metadata.uid = Some(UID.into());
    c
}

pub(super) fn test_secrets() -> GeneratedSecrets {
    GeneratedSecrets {
        mariadb_root_password: "rootPw0123456789".into(),
        qsmaster_password: "qsmasterPw012345".into(),
        replication_auth_key: "authKey012345678".into(),
        replication_admin_auth_key: "adminKey01234567".into(),
    }
}

pub(super) fn built(spec_yaml: &str) -> Vec<DesiredObject> {
    build(&cluster(spec_yaml), &test_secrets()).unwrap()
}

pub(crate) fn built_with_schema(spec_yaml: &str, schema_image: Option<&str>) -> Vec<DesiredObject> {
    build_with_schema(&cluster(spec_yaml), &test_secrets(), schema_image).unwrap()
}

pub(super) fn statefulset<'a>(objects: &'a [DesiredObject], name: &str) -> &'a StatefulSet {
    objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::StatefulSet(s) if o.name() == name => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StatefulSet {name}"))
}

pub(super) fn service<'a>(objects: &'a [DesiredObject], name: &str) -> &'a Service {
    objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::Service(s) if o.name() == name => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Service {name}"))
}

pub(super) fn pod_specs(objects: &[DesiredObject]) -> Vec<(&str, &PodSpec)> {
    objects
        .iter()
        .filter_map(|o| {
            let spec = match o {
                DesiredObject::StatefulSet(s) => s.spec.as_ref()?.template.spec.as_ref()?,
                DesiredObject::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref()?,
                _ => return None,
            };
            Some((o.name(), spec))
        })
        .collect()
}

pub(super) fn names(objects: &[DesiredObject]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{}/{}", o.kind(), o.name()))
        .collect()
}

/// The objects as JSON, keyed by kind/name.
pub(super) fn as_json(objects: &[DesiredObject]) -> BTreeMap<String, serde_json::Value> {
    objects
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o.kind(), o.name()),
                serde_json::to_value(o).unwrap(),
            )
        })
        .collect()
}

pub(super) fn changed(before: &[DesiredObject], after: &[DesiredObject]) -> Vec<String> {
    let (before, after) = (as_json(before), as_json(after));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .cloned()
        .collect()
}

pub(super) fn without_hash(mut v: serde_json::Value) -> serde_json::Value {
    v["spec"]["template"]["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(CONFIG_HASH_ANNOTATION)
        .unwrap();
    v
}
