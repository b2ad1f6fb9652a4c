//! The replication system: the controller (REST API for ingest on 8080), the registry (where
//! workers and the controller find each other, 8080) and their MariaDB.
//!
//! Commands follow `entrypoint replication-controller|replication-registry` of
//! `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/entrypoint.py:905-984`, the `repl-mariadb`,
//! `repl-controller` and `repl-registry` services of `deploy/compose/docker-compose.yml` at that tag,
//! and the start scripts of lsst/qserv-operator (`configmap/repl-ctl/start/start.sh`).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

use super::config::{ConfigKind, RenderedConfig, config_map_name};
use super::meta::{Component, Ctx};
use super::pod::{
    ADMIN_AUTH_KEY_ENV, AUTH_KEY_ENV, CONFIG_DIR, DATA_DIR, DATA_VOLUME, MariadbLayout,
    ROOT_PASSWORD_ENV, config_mount, config_volume, http_probes, mariadb_container, mount,
    mysql_uri, pod_meta, pod_meta_with_hash, pod_security_context, port, pvc_retention,
    pvc_template, qserv_container, root_and_auth_key_env,
};
use super::ports::REPLICATION_HTTP_PORT;

/// Sections of the replication config the registry takes as arguments.
pub const REGISTRY_SECTIONS: &[&str] = &["common", "database", "registry"];
/// The controller takes every section.
pub const CONTROLLER_SECTIONS: &[&str] = &[
    "common",
    "controller",
    "database",
    "registry",
    "worker",
    "xrootd",
];

/// The database the replication system keeps its configuration and state in (docker-compose
/// `--repl-connection mysql://qsreplica@repl-mgr-db:3306/qservReplica`).
fn replication_db_uris(ctx: &Ctx) -> (String, String) {
    let host = ctx.object_name(Component::ReplicationDb);
    (
        mysql_uri("qsreplica", None, &host, Some("qservReplica")),
        mysql_uri("root", Some(ROOT_PASSWORD_ENV), &host, Some("qservReplica")),
    )
}

/// A replication application container: `entrypoint <subcommand> <db options> -- <app options>`.
fn replication_container(
    ctx: &Ctx,
    name: &str,
    mut args: Vec<String>,
    app_args: Vec<String>,
) -> Container {
    let (db_uri, db_admin_uri) = replication_db_uris(ctx);
    args.push(format!("--db-uri={db_uri}"));
    args.push(format!("--db-admin-uri={db_admin_uri}"));
    args.push(format!("--log-cfg-file={CONFIG_DIR}/log.cnf"));
    args.push("--".into());
    args.push(format!("--instance-id={}", ctx.name));
    args.push(format!("--auth-key=$({AUTH_KEY_ENV})"));
    args.push(format!("--admin-auth-key=$({ADMIN_AUTH_KEY_ENV})"));
    args.extend(app_args);

    let mut container = qserv_container(ctx, name, args);
    container.env = Some(root_and_auth_key_env(ctx));
    container.ports = Some(vec![port("http", REPLICATION_HTTP_PORT)]);
    let (readiness, liveness) = http_probes("http");
    container.readiness_probe = Some(readiness);
    container.liveness_probe = Some(liveness);
    container.resources = ctx.cluster.spec.replication.resources.clone();
    container.volume_mounts = Some(vec![config_mount()]);
    container
}

fn pod_spec(ctx: &Ctx, containers: Vec<Container>) -> PodSpec {
    PodSpec {
        containers,
        volumes: Some(vec![config_volume(config_map_name(
            ctx,
            ConfigKind::Replication,
        ))]),
        security_context: Some(pod_security_context()),
        ..PodSpec::default()
    }
}

/// The controller StatefulSet `<cluster>-repl-ctl` (one replica: a single controller drives
/// the replication system), with a PVC at `/qserv/data` from
/// `spec.replication.controllerStorage` for the director-index build's files.
pub fn controller_statefulset(ctx: &Ctx, config: &RenderedConfig) -> StatefulSet {
    let component = Component::ReplicationController;
    let name = ctx.object_name(component);
    let czar_db = mysql_uri(
        "root",
        Some(ROOT_PASSWORD_ENV),
        &ctx.object_name(Component::Czar),
        Some("qservMeta"),
    );
    let mut app_args = config.args(CONTROLLER_SECTIONS);
    // Make Qserv's view of chunks follow the replication system's at start-up (Go operator).
    app_args.push("--qserv-sync-force".into());
    let mut controller = replication_container(
        ctx,
        "repl-ctl",
        vec![
            "replication-controller".into(),
            format!("--qserv-czar-db={czar_db}"),
        ],
        app_args,
    );
    controller.volume_mounts = Some(vec![config_mount(), mount(DATA_VOLUME, DATA_DIR)]);
    StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(ctx, component, config)),
                spec: Some(pod_spec(ctx, vec![controller])),
            },
            persistent_volume_claim_retention_policy: Some(pvc_retention(ctx)),
            volume_claim_templates: Some(vec![pvc_template(
                ctx,
                component,
                &ctx.cluster.spec.replication.controller_storage,
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// The registry Deployment `<cluster>-repl-registry` (stateless: services re-register).
pub fn registry_deployment(ctx: &Ctx, config: &RenderedConfig) -> Deployment {
    let component = Component::ReplicationRegistry;
    let registry = replication_container(
        ctx,
        "repl-registry",
        vec!["replication-registry".into()],
        config.args(REGISTRY_SECTIONS),
    );
    Deployment {
        metadata: ctx.meta(ctx.object_name(component), component),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                // The registry reads its settings from arguments and only `log.cnf` from the
                // ConfigMap: a controller setting must not restart it.
                metadata: Some(pod_meta_with_hash(
                    ctx,
                    component,
                    config.hash_of(&["log.cnf"]),
                )),
                spec: Some(pod_spec(ctx, vec![registry])),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The replication database StatefulSet `<cluster>-repl-db`, with its PVC from
/// `spec.replication.storage`. The controller creates the schema (`--db-admin-uri`).
pub fn database_statefulset(ctx: &Ctx, config: &RenderedConfig) -> StatefulSet {
    let spec = &ctx.cluster.spec;
    let component = Component::ReplicationDb;
    let name = ctx.object_name(component);
    let mariadb = mariadb_container(
        ctx,
        spec.replication.resources.as_ref(),
        MariadbLayout::Qserv,
        vec![],
    );
    StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(pod_meta_with_hash(
                    ctx,
                    component,
                    config.hash_of(&["my.cnf"]),
                )),
                spec: Some(pod_spec(ctx, vec![mariadb])),
            },
            persistent_volume_claim_retention_policy: Some(pvc_retention(ctx)),
            volume_claim_templates: Some(vec![pvc_template(
                ctx,
                component,
                &spec.replication.storage,
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}
