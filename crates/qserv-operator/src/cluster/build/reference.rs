//! The reference database: a plain MariaDB holding unpartitioned copies of ingested catalogs,
//! against which CatalogIngest result checks compare Qserv's answers. Only when
//! `spec.reference.enabled`.
//!
//! It runs `spec.dbImage` (Qserv's MariaDB build, which has the scisql UDFs the test queries
//! use) with the image's own configuration, and a `qsmaster` account with the generated
//! password, created by the MariaDB image's first start (`MARIADB_USER` / `MARIADB_PASSWORD`).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{Component, Ctx};
use super::pod::{
    MariadbLayout, mariadb_container, pod_security_context, pvc_retention, pvc_template, secret_env,
};
use super::secrets::SecretKey;

/// The reference StatefulSet `<cluster>-reference`, or `None` when disabled.
pub fn reference_statefulset(ctx: &Ctx) -> Option<StatefulSet> {
    let spec = &ctx.cluster.spec;
    if !spec.reference.enabled {
        return None;
    }
    let component = Component::Reference;
    let name = ctx.object_name(component);
    let mariadb = mariadb_container(
        ctx,
        None,
        MariadbLayout::Plain,
        vec![
            EnvVar {
                name: "MARIADB_USER".into(),
                value: Some("qsmaster".into()),
                ..EnvVar::default()
            },
            secret_env(ctx, "MARIADB_PASSWORD", SecretKey::QsmasterPassword),
        ],
    );
    Some(StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![mariadb],
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            persistent_volume_claim_retention_policy: Some(pvc_retention(ctx)),
            volume_claim_templates: Some(vec![pvc_template(
                ctx,
                component,
                &spec.reference.storage,
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}
