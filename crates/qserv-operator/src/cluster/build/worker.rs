//! The workers: a StatefulSet whose pods each hold a MariaDB with a share of the chunks, the
//! xrootd/cmsd pair that serves queries from the czar, and the replication worker that ingests
//! data over HTTP.
//!
//! Commands follow the `worker-mariadb-N`, `worker-xrootd-N`, `worker-cmsd-N` and `repl-worker-N`
//! services of `Q@2026.3.3-rc1:deploy/compose/docker-compose.yml` and the options of
//! `entrypoint worker-xrootd|worker-cmsd|worker-repl` at that tag
//! (`python/lsst/qserv/admin/cli/entrypoint.py:796-910`, `options.py`).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

use super::config::{ConfigKind, Configs, config_map_name};
use super::defaults::WORKER_QSMASTER_PASSWORD;
use super::meta::{Component, Ctx};
use super::pod::{
    ADMIN_AUTH_KEY_ENV, AUTH_KEY_ENV, CONFIG_DIR, DATA_DIR, DATA_VOLUME, MariadbLayout,
    ROOT_PASSWORD_ENV, auth_key_env, config_mount, config_volume, empty_dir, http_probes,
    mariadb_container, mount, mysql_uri, mysql_uri_with_password, pod_meta, pod_security_context,
    port, pvc_retention, pvc_template, qserv_container, root_and_auth_key_env, tcp_probes,
};
use super::ports::{REPLICATION_HTTP_PORT, WORKER_HTTP_LOADER_PORT, XROOTD_PORT};

/// cmsd and xrootd share their admin path (both docker-compose services mount
/// `/var/run/xrootd`).
const XROOTD_ADMIN_VOLUME: &str = "xrootd-adminpath";
const XROOTD_ADMIN_PATH: &str = "/var/run/xrootd";

/// Sections of the replication config that `qserv-replica-worker` takes as arguments.
pub const WORKER_REPLICATION_SECTIONS: &[&str] = &["common", "database", "registry", "worker"];

/// The worker StatefulSet `<cluster>-worker`: `spec.workers.replicas` pods started in parallel
/// (workers do not depend on each other), each with a PVC from `spec.workers.storage`.
pub fn worker_statefulset(ctx: &Ctx, configs: &Configs) -> StatefulSet {
    let spec = &ctx.cluster.spec;
    let resources = spec.workers.resources.as_ref();
    let component = Component::Worker;
    let name = ctx.object_name(component);

    // qsmaster's password on a worker is the release's, not ours (see WORKER_QSMASTER_PASSWORD).
    let qsmaster =
        |db| mysql_uri_with_password("qsmaster", Some(WORKER_QSMASTER_PASSWORD), "127.0.0.1", db);
    let local_qsmaster = qsmaster(None);
    let local_root = mysql_uri("root", Some(ROOT_PASSWORD_ENV), "127.0.0.1", None);
    // The worker reads its own id from its database (docker-compose `--vnid-config`).
    let vnid_config = format!(
        "@/usr/local/lib64/libreplica.so {} 0 0",
        qsmaster(Some("qservw_worker"))
    );
    // Options shared by `worker-xrootd` and `worker-cmsd`: both load the xrdssi plugin.
    let xrd_common = vec![
        format!("--db-uri={local_qsmaster}"),
        format!("--vnid-config={vnid_config}"),
        format!("--cmsd-manager-name={}", ctx.object_name(Component::Xrootd)),
        format!("--repl-instance-id={}", ctx.name),
        format!("--repl-auth-key=$({AUTH_KEY_ENV})"),
        format!("--repl-admin-auth-key=$({ADMIN_AUTH_KEY_ENV})"),
        format!(
            "--repl-registry-host={}",
            ctx.object_name(Component::ReplicationRegistry)
        ),
        format!("--repl-registry-port={REPLICATION_HTTP_PORT}"),
        // No `--repl-http-port`: its default 0 (`options.py:165-172`) lets each of xrootd and
        // cmsd, which share the pod's network, take a free port for its management service and
        // report it to the registry, as docker-compose.yml does.
        format!("--results-dirname={DATA_DIR}/results"),
        format!("--xrdssi-cfg-file={CONFIG_DIR}/xrdssi.cf"),
        format!("--log-cfg-file={CONFIG_DIR}/log.cnf"),
    ];
    let xrd_mounts = vec![
        mount(DATA_VOLUME, DATA_DIR),
        mount(XROOTD_ADMIN_VOLUME, XROOTD_ADMIN_PATH),
        config_mount(),
    ];

    let mut xrootd_args = vec![
        "worker-xrootd".to_string(),
        format!("--db-admin-uri={local_root}"),
    ];
    xrootd_args.extend(xrd_common.iter().cloned());
    let mut xrootd = qserv_container(ctx, "xrootd", xrootd_args);
    xrootd.env = Some(root_and_auth_key_env(ctx));
    xrootd.ports = Some(vec![port("xrootd", XROOTD_PORT)]);
    let (readiness, liveness) = tcp_probes("xrootd");
    xrootd.readiness_probe = Some(readiness);
    xrootd.liveness_probe = Some(liveness);
    xrootd.resources = resources.cloned();
    xrootd.volume_mounts = Some(xrd_mounts.clone());

    let mut cmsd_args = vec!["worker-cmsd".to_string()];
    cmsd_args.extend(xrd_common);
    let mut cmsd = qserv_container(ctx, "cmsd", cmsd_args);
    cmsd.env = Some(auth_key_env(ctx));
    // A worker cmsd only connects out to the redirector's cmsd: no port of its own to probe
    // (the Go operator opens 2131 on redirectors only, `pkg/scheme/qserv/container.go`).
    cmsd.resources = resources.cloned();
    cmsd.volume_mounts = Some(xrd_mounts);

    let mut repl_args = vec![
        "worker-repl".to_string(),
        format!(
            "--db-admin-uri={}",
            mysql_uri(
                "root",
                Some(ROOT_PASSWORD_ENV),
                "127.0.0.1",
                Some("qservw_worker")
            )
        ),
        format!(
            "--repl-connection={}",
            mysql_uri(
                "qsreplica",
                None,
                &ctx.object_name(Component::ReplicationDb),
                Some("qservReplica")
            )
        ),
        format!("--log-cfg-file={CONFIG_DIR}/log.cnf"),
        // Everything after `--` goes to qserv-replica-worker itself.
        "--".into(),
        format!("--instance-id={}", ctx.name),
        format!("--auth-key=$({AUTH_KEY_ENV})"),
        format!("--admin-auth-key=$({ADMIN_AUTH_KEY_ENV})"),
    ];
    repl_args.extend(configs.replication.args(WORKER_REPLICATION_SECTIONS));
    let mut repl = qserv_container(ctx, "repl-wrk", repl_args);
    repl.env = Some(root_and_auth_key_env(ctx));
    repl.ports = Some(vec![port("repl-http", WORKER_HTTP_LOADER_PORT)]);
    let (readiness, liveness) = http_probes("repl-http");
    repl.readiness_probe = Some(readiness);
    repl.liveness_probe = Some(liveness);
    repl.resources = resources.cloned();
    // Contributions are staged under /qserv/data/ingest before loading.
    repl.volume_mounts = Some(vec![mount(DATA_VOLUME, DATA_DIR), config_mount()]);

    let mariadb = mariadb_container(ctx, resources, MariadbLayout::Qserv, vec![]);

    StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(spec.workers.replicas),
            service_name: Some(name),
            pod_management_policy: Some("Parallel".into()),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(ctx, component, &configs.worker)),
                spec: Some(PodSpec {
                    containers: vec![mariadb, xrootd, cmsd, repl],
                    volumes: Some(vec![
                        config_volume(config_map_name(ctx, ConfigKind::Worker)),
                        empty_dir(XROOTD_ADMIN_VOLUME),
                    ]),
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            persistent_volume_claim_retention_policy: Some(pvc_retention(ctx)),
            volume_claim_templates: Some(vec![pvc_template(ctx, component, &spec.workers.storage)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}
