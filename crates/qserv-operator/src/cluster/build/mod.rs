//! Build stage: a validated `QservCluster` and its secrets in, every desired Kubernetes object
//! out, as plain k8s-openapi types. Pure: no API server, clock or randomness; the output is
//! deterministic (sorted maps, fixed order), so it is tested against committed YAML fixtures.
//!
//! One file per component: [`czar`], [`worker`], [`xrootd`], [`replication`] (controller,
//! registry, database), [`reference`](mod@reference), plus [`services`], [`config`] (ConfigMaps and their
//! hashes, from Qserv's [`defaults`]), [`secrets`] and [`network`] (NetworkPolicies); [`meta`]
//! and [`pod`] hold what they share.
//!
//! Every object is named `<cluster>-<suffix>`, lives in the cluster's namespace, carries the
//! `app.kubernetes.io/{name,instance,component,managed-by,part-of}` labels by which the apply
//! stage finds what it owns, and has the QservCluster as controller owner.

pub mod config;
pub mod czar;
pub mod defaults;
pub mod error;
pub mod meta;
pub mod network;
pub mod pod;
pub mod ports;
pub mod reference;
pub mod replication;
pub mod secrets;
pub mod services;
pub mod smig;
pub mod worker;
pub mod xrootd;

#[cfg(test)]
pub(crate) mod tests;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::api::QservCluster;
pub use config::{ConfigKind, Configs, RenderedConfig};
pub use error::BuildError;
pub use meta::{CONFIG_HASH_ANNOTATION, Component, Ctx, MANAGER, owned_selector};
pub use secrets::{GeneratedSecrets, SecretKey, generate_secrets};

/// One desired object. Serialized untagged, it is exactly the Kubernetes object (with
/// `apiVersion` and `kind`), ready for server-side apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DesiredObject {
    Secret(Secret),
    ConfigMap(ConfigMap),
    Service(Service),
    StatefulSet(StatefulSet),
    Deployment(Deployment),
    NetworkPolicy(NetworkPolicy),
    /// Only the schema-update Job ([`smig`]), and only while an image change needs it.
    Job(Job),
}

impl DesiredObject {
    pub fn kind(&self) -> &'static str {
        match self {
            DesiredObject::Secret(_) => "Secret",
            DesiredObject::ConfigMap(_) => "ConfigMap",
            DesiredObject::Service(_) => "Service",
            DesiredObject::StatefulSet(_) => "StatefulSet",
            DesiredObject::Deployment(_) => "Deployment",
            DesiredObject::NetworkPolicy(_) => "NetworkPolicy",
            DesiredObject::Job(_) => "Job",
        }
    }

    /// The `apiVersion` the object is applied with.
    pub fn api_version(&self) -> &'static str {
        match self {
            DesiredObject::Secret(_) | DesiredObject::ConfigMap(_) | DesiredObject::Service(_) => {
                "v1"
            }
            DesiredObject::StatefulSet(_) | DesiredObject::Deployment(_) => "apps/v1",
            DesiredObject::NetworkPolicy(_) => "networking.k8s.io/v1",
            DesiredObject::Job(_) => "batch/v1",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            DesiredObject::Secret(o) => &o.metadata,
            DesiredObject::ConfigMap(o) => &o.metadata,
            DesiredObject::Service(o) => &o.metadata,
            DesiredObject::StatefulSet(o) => &o.metadata,
            DesiredObject::Deployment(o) => &o.metadata,
            DesiredObject::NetworkPolicy(o) => &o.metadata,
            DesiredObject::Job(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object's `app.kubernetes.io/component`.
    pub fn component(&self) -> Option<Component> {
        let labels = self.metadata().labels.as_ref()?;
        Component::from_label(labels.get("app.kubernetes.io/component")?)
    }

    /// Why the name is not valid for the kind, if it is not.
    fn name_problem(&self) -> Option<String> {
        let name = self.name();
        match self {
            DesiredObject::StatefulSet(_) => {
                meta::dns1123_label_problem(name, meta::MAX_STATEFULSET_NAME)
            }
            // Service names are DNS-1035 labels: they also start with a letter.
            DesiredObject::Service(_) => meta::dns1123_label_problem(name, meta::MAX_SERVICE_NAME)
                .or_else(|| {
                    (!name.starts_with(|c: char| c.is_ascii_lowercase()))
                        .then(|| "must start with a lowercase letter".to_string())
                }),
            // Its name is also the pods' `job-name` label value: at most 63 characters.
            DesiredObject::Job(_) => meta::dns1123_label_problem(name, meta::MAX_SERVICE_NAME),
            _ => meta::dns1123_subdomain_problem(name),
        }
    }
}

/// Every object the cluster should have, in apply order: Secret, ConfigMaps, Services, the
/// workloads (databases first), then NetworkPolicies; and the schema-update Job when the
/// databases were migrated for another image than `spec.image` (`schema_image`, from status).
pub fn build_with_schema(
    cluster: &QservCluster,
    secrets: &GeneratedSecrets,
    schema_image: Option<&str>,
) -> Result<Vec<DesiredObject>, BuildError> {
    let mut objects = build(cluster, secrets)?;
    if smig::needs_schema_update(schema_image, &cluster.spec.image) {
        let ctx = Ctx::new(cluster)?;
        objects.push(DesiredObject::Job(smig::schema_update_job(&ctx)));
    }
    Ok(objects)
}

/// Every object of the cluster besides the schema-update Job, in apply order: Secret,
/// ConfigMaps, Services, the workloads (databases first), then NetworkPolicies.
pub fn build(
    cluster: &QservCluster,
    secrets: &GeneratedSecrets,
) -> Result<Vec<DesiredObject>, BuildError> {
    cluster.spec.validate()?;
    let ctx = Ctx::new(cluster)?;
    let configs = config::render_configs(&ctx)?;

    let mut objects = vec![DesiredObject::Secret(secrets::secret(&ctx, secrets))];
    objects.extend(
        configs
            .all()
            .into_iter()
            .map(|c| DesiredObject::ConfigMap(config::config_map(&ctx, c))),
    );
    objects.extend(
        services::services(&ctx)
            .into_iter()
            .map(DesiredObject::Service),
    );
    objects.push(DesiredObject::StatefulSet(
        replication::database_statefulset(&ctx, &configs.replication),
    ));
    objects.push(DesiredObject::StatefulSet(czar::czar_statefulset(
        &ctx,
        &configs.czar,
    )));
    objects.push(DesiredObject::StatefulSet(worker::worker_statefulset(
        &ctx, &configs,
    )));
    objects.push(DesiredObject::StatefulSet(xrootd::xrootd_statefulset(&ctx)));
    objects.push(DesiredObject::Deployment(replication::registry_deployment(
        &ctx,
        &configs.replication,
    )));
    objects.push(DesiredObject::StatefulSet(
        replication::controller_statefulset(&ctx, &configs.replication),
    ));
    if let Some(reference) = reference::reference_statefulset(&ctx) {
        objects.push(DesiredObject::StatefulSet(reference));
    }
    objects.extend(
        network::network_policies(&ctx)
            .into_iter()
            .map(DesiredObject::NetworkPolicy),
    );

    for object in &objects {
        if let Some(problem) = object.name_problem() {
            return Err(BuildError::InvalidName {
                kind: object.kind(),
                name: object.name().to_string(),
                problem,
            });
        }
    }
    Ok(objects)
}
