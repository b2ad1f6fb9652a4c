//! The czar: one pod with its MariaDB (results, query metadata) and the MySQL proxy on 4040.
//!
//! Commands follow the `czar-mariadb` and `czar-proxy` services of
//! `Q@2026.3.3-rc1:deploy/compose/docker-compose.yml` and `entrypoint proxy` at that tag
//! (`python/lsst/qserv/admin/cli/entrypoint.py:551-618`).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

use super::config::{ConfigKind, RenderedConfig, config_map_name};
use super::meta::{Component, Ctx};
use super::pod::{
    ADMIN_AUTH_KEY_ENV, AUTH_KEY_ENV, CONFIG_DIR, DATA_DIR, DATA_VOLUME, MariadbLayout,
    QSMASTER_PASSWORD_ENV, ROOT_PASSWORD_ENV, config_mount, config_volume, mariadb_container,
    mount, mysql_uri, pod_meta, pod_security_context, port, pvc_retention, pvc_template,
    qserv_container, root_and_auth_key_env, secret_env, tcp_probes,
};
use super::ports::{PROXY_PORT, REPLICATION_HTTP_PORT};
use super::secrets::SecretKey;

/// The czar StatefulSet `<cluster>-czar`, one replica.
pub fn czar_statefulset(ctx: &Ctx, config: &RenderedConfig) -> StatefulSet {
    let spec = &ctx.cluster.spec;
    let resources = spec.czar.resources.as_ref();
    let component = Component::Czar;
    let name = ctx.object_name(component);
    let xrootd = ctx.object_name(Component::Xrootd);

    let mut proxy = qserv_container(
        ctx,
        "proxy",
        vec![
            "proxy".into(),
            // The czar's schema migration creates qsmaster with the password of this URI and
            // the entrypoint renders it into the czar config (`script.py:603-621`), so it is
            // ours to generate; clients of the proxy log in with it too.
            format!(
                "--db-uri={}",
                mysql_uri("qsmaster", Some(QSMASTER_PASSWORD_ENV), "127.0.0.1", None)
            ),
            format!(
                "--db-admin-uri={}",
                mysql_uri("root", Some(ROOT_PASSWORD_ENV), "127.0.0.1", None)
            ),
            format!("--xrootd-manager={xrootd}"),
            format!("--czar-cfg-file={CONFIG_DIR}/qserv-czar.cnf"),
            format!("--log-cfg-file={CONFIG_DIR}/log.cnf"),
            // The czar registers with the replication registry (required options of `proxy`
            // in the current entrypoint.py).
            format!("--repl-instance-id={}", ctx.name),
            format!("--repl-auth-key=$({AUTH_KEY_ENV})"),
            format!("--repl-admin-auth-key=$({ADMIN_AUTH_KEY_ENV})"),
            format!(
                "--repl-registry-host={}",
                ctx.object_name(Component::ReplicationRegistry)
            ),
            format!("--repl-registry-port={REPLICATION_HTTP_PORT}"),
        ],
    );
    let (readiness, liveness) = tcp_probes("proxy");
    let mut env = root_and_auth_key_env(ctx);
    env.push(secret_env(
        ctx,
        QSMASTER_PASSWORD_ENV,
        SecretKey::QsmasterPassword,
    ));
    proxy.env = Some(env);
    proxy.ports = Some(vec![port("proxy", PROXY_PORT)]);
    proxy.readiness_probe = Some(readiness);
    proxy.liveness_probe = Some(liveness);
    proxy.resources = resources.cloned();
    // /qserv/data as docker-compose's czar-proxy has it (the empty-chunk lists that used to live
    // there are a table of qservCssData since 2024.5).
    proxy.volume_mounts = Some(vec![mount(DATA_VOLUME, DATA_DIR), config_mount()]);

    let mariadb = mariadb_container(ctx, resources, MariadbLayout::Qserv, vec![]);

    StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(ctx, component, config)),
                spec: Some(PodSpec {
                    containers: vec![mariadb, proxy],
                    volumes: Some(vec![config_volume(config_map_name(ctx, ConfigKind::Czar))]),
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            persistent_volume_claim_retention_policy: Some(pvc_retention(ctx)),
            volume_claim_templates: Some(vec![pvc_template(ctx, component, &spec.czar.storage)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}
