//! Pieces shared by the pod templates: probes, security contexts, secret env vars, volumes,
//! the MariaDB container and the PVC template.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSecurityContext, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::RenderedConfig;
use super::meta::{CONFIG_HASH_ANNOTATION, Component, Ctx};
use super::ports::MARIADB_PORT;
use super::secrets::SecretKey;
use crate::api::qserv_cluster::{StorageRetention, StorageSpec};

/// Where the Qserv containers see the rendered config files (not `/config-etc`: the entrypoint
/// renders its own files there and needs it writable).
pub const CONFIG_DIR: &str = "/config-qserv";
/// Data directory of the Qserv images (`/qserv/data`, created and owned by the `qserv` user in
/// lsst/qserv `admin/tools/docker/base/Dockerfile`); MariaDB's `datadir` is
/// `/qserv/data/mysql` (lsst/qserv `src/admin/templates/mariadb/etc/my.cnf`).
pub const DATA_DIR: &str = "/qserv/data";
/// Name of the data volume and of the PVC template.
pub const DATA_VOLUME: &str = "data";
pub const CONFIG_VOLUME: &str = "config";

/// uid/gid of the `qserv` user of the Qserv image (`useradd --uid 1000 qserv`, `USER qserv`).
pub const QSERV_UID: i64 = 1000;
/// uid/gid the MariaDB image runs as: it adds the same `qserv` user and sets `USER qserv`
/// (`Q@2026.3.3-rc1:deploy/docker/mariadb/Dockerfile:52-58`).
pub const MARIADB_UID: i64 = QSERV_UID;

/// Pod-level security: never root; volumes group-owned by the qserv group (gid 1000), which both
/// images run as.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        fs_group: Some(QSERV_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Container-level security for a process running as `uid`: no privilege escalation, no
/// capabilities. The docker-compose setup runs every Qserv process as `qserv` without added
/// capabilities, so none are needed here either.
pub fn security_context(uid: i64) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

pub fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// Readiness and liveness probes that open a TCP connection to a named port; periods as in the
/// Go operator (lsst/qserv-operator `pkg/scheme/qserv/container.go`, `getProbe`).
pub fn tcp_probes(port_name: &str) -> (Probe, Probe) {
    let probe = |period| Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port_name.into()),
            ..TCPSocketAction::default()
        }),
        initial_delay_seconds: Some(10),
        period_seconds: Some(period),
        ..Probe::default()
    };
    (probe(5), probe(10))
}

/// Readiness and liveness probes on `GET /meta/version`, which every replication HTTP service
/// serves (lsst/qserv `src/replica/IngestHttpSvc.cc`, `src/replica/registry/RegistryHttpSvc.cc`,
/// and the controller's `HttpProcessor.cc`).
pub fn http_probes(port_name: &str) -> (Probe, Probe) {
    let probe = |period| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/meta/version".into()),
            port: IntOrString::String(port_name.into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(10),
        period_seconds: Some(period),
        ..Probe::default()
    };
    (probe(5), probe(10))
}

/// An env var read from the cluster's Secret. Arguments use it as `$(NAME)`, which the kubelet
/// expands, so no password is ever written in a pod spec.
pub fn secret_env(ctx: &Ctx, name: &str, key: SecretKey) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: ctx.secret_name(),
                key: key.key().into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Env var holding the MariaDB root password, under the name the MariaDB image reads.
pub const ROOT_PASSWORD_ENV: &str = "MYSQL_ROOT_PASSWORD";
pub const AUTH_KEY_ENV: &str = "QSERV_REPL_AUTH_KEY";
/// The czar's qsmaster password (generated; see `czar.rs`).
pub const QSMASTER_PASSWORD_ENV: &str = "QSERV_QSMASTER_PASSWORD";
pub const ADMIN_AUTH_KEY_ENV: &str = "QSERV_REPL_ADMIN_AUTH_KEY";

/// The replication auth keys as env vars, for `--repl-auth-key=$(QSERV_REPL_AUTH_KEY)` etc.
pub fn auth_key_env(ctx: &Ctx) -> Vec<EnvVar> {
    vec![
        secret_env(ctx, AUTH_KEY_ENV, SecretKey::ReplicationAuthKey),
        secret_env(ctx, ADMIN_AUTH_KEY_ENV, SecretKey::ReplicationAdminAuthKey),
    ]
}

/// The MariaDB root password and the replication auth keys: what every Qserv process that
/// talks to its database and to the replication system reads.
pub fn root_and_auth_key_env(ctx: &Ctx) -> Vec<EnvVar> {
    let mut env = vec![secret_env(
        ctx,
        ROOT_PASSWORD_ENV,
        SecretKey::MariadbRootPassword,
    )];
    env.extend(auth_key_env(ctx));
    env
}

pub fn config_volume(config_map: String) -> Volume {
    Volume {
        name: CONFIG_VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map,
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

pub fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

pub fn config_mount() -> VolumeMount {
    VolumeMount {
        read_only: Some(true),
        ..mount(CONFIG_VOLUME, CONFIG_DIR)
    }
}

/// The PVC template `data` of a StatefulSet, sized from the spec. It carries the component's
/// labels so the finalizer finds the claims to keep or delete.
pub fn pvc_template(
    ctx: &Ctx,
    component: Component,
    storage: &StorageSpec,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            labels: Some(ctx.labels(component)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), storage.size.clone())])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// What happens to the claims of a StatefulSet: deleted with it only when
/// `spec.storageRetention: Delete` (the finalizer enforces the same on cluster deletion and
/// records it in events); always kept on scale-down, so a worker scaled away and back finds its
/// chunks again (scaling down a worker that holds data needs `allowDataLoss` anyway).
pub fn pvc_retention(ctx: &Ctx) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    let when_deleted = match ctx.cluster.spec.storage_retention {
        StorageRetention::Retain => "Retain",
        StorageRetention::Delete => "Delete",
    };
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(when_deleted.into()),
        when_scaled: Some("Retain".into()),
    }
}

/// How a MariaDB container gets its configuration and data.
pub enum MariadbLayout {
    /// Qserv's layout: `my.cnf` from the component's ConfigMap (datadir `/qserv/data/mysql`),
    /// data volume at `/qserv/data`.
    Qserv,
    /// A stock MariaDB: default config, data volume at `/var/lib/mysql`.
    Plain,
}

/// A MariaDB server on 3306 (the docker-compose `*-db` services: image `QSERV_MARIADB_IMAGE`,
/// `command: --port 3306`, root password from the environment).
pub fn mariadb_container(
    ctx: &Ctx,
    resources: Option<&ResourceRequirements>,
    layout: MariadbLayout,
    extra_env: Vec<EnvVar>,
) -> Container {
    let (readiness, liveness) = tcp_probes("mariadb");
    let mut env = vec![secret_env(
        ctx,
        ROOT_PASSWORD_ENV,
        SecretKey::MariadbRootPassword,
    )];
    env.extend(extra_env);
    let volume_mounts = match layout {
        MariadbLayout::Qserv => vec![
            mount(DATA_VOLUME, DATA_DIR),
            VolumeMount {
                name: CONFIG_VOLUME.into(),
                mount_path: "/etc/mysql/my.cnf".into(),
                sub_path: Some("my.cnf".into()),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ],
        MariadbLayout::Plain => vec![mount(DATA_VOLUME, "/var/lib/mysql")],
    };
    Container {
        name: "mariadb".into(),
        image: Some(ctx.cluster.spec.db_image.clone()),
        args: Some(vec![format!("--port={MARIADB_PORT}")]),
        env: Some(env),
        ports: Some(vec![port("mariadb", MARIADB_PORT)]),
        readiness_probe: Some(readiness),
        liveness_probe: Some(liveness),
        startup_probe: Some(mariadb_startup_probe()),
        resources: resources.cloned(),
        security_context: Some(security_context(MARIADB_UID)),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    }
}

/// Holds off liveness while a new MariaDB initialises: the image's entrypoint first runs a
/// temporary server with `--skip-networking` and the init scripts (Qserv's adds scisql,
/// `Q@2026.3.3-rc1:deploy/docker/mariadb/Dockerfile:44-45`), so the port stays closed for a
/// while; a liveness kill mid-way would leave a half-initialised data directory that the
/// entrypoint then skips. Up to 10 minutes (60 x 10 s), then liveness takes over.
pub fn mariadb_startup_probe() -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("mariadb".into()),
            ..TCPSocketAction::default()
        }),
        period_seconds: Some(10),
        failure_threshold: Some(60),
        ..Probe::default()
    }
}

/// A container running the Qserv `entrypoint` CLI
/// (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/entrypoint.py`) with the given subcommand arguments.
pub fn qserv_container(ctx: &Ctx, name: &str, args: Vec<String>) -> Container {
    Container {
        name: name.into(),
        image: Some(ctx.cluster.spec.image.clone()),
        command: Some(vec!["entrypoint".into()]),
        args: Some(args),
        security_context: Some(security_context(QSERV_UID)),
        ..Container::default()
    }
}

/// `mysql://user[:password]@host:3306[/db]`; the password is always a `$(VAR)` reference.
pub fn mysql_uri(user: &str, password_env: Option<&str>, host: &str, db: Option<&str>) -> String {
    let password = password_env.map(|v| format!("$({v})"));
    mysql_uri_with_password(user, password.as_deref(), host, db)
}

/// As [`mysql_uri`], with the password written out: only for a password the Qserv release
/// hard-codes (the worker's qsmaster, [`super::defaults::WORKER_QSMASTER_PASSWORD`]).
pub fn mysql_uri_with_password(
    user: &str,
    password: Option<&str>,
    host: &str,
    db: Option<&str>,
) -> String {
    let password = password.map(|p| format!(":{p}")).unwrap_or_default();
    let db = db.map(|d| format!("/{d}")).unwrap_or_default();
    format!("mysql://{user}{password}@{host}:{MARIADB_PORT}{db}")
}

/// Pod-template metadata: the component's labels and the hash of the config it mounts.
pub fn pod_meta(ctx: &Ctx, component: Component, config: &RenderedConfig) -> ObjectMeta {
    pod_meta_with_hash(ctx, component, config.hash.clone())
}

pub fn pod_meta_with_hash(ctx: &Ctx, component: Component, hash: String) -> ObjectMeta {
    ObjectMeta {
        labels: Some(ctx.labels(component)),
        annotations: Some(BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_string(), hash)])),
        ..ObjectMeta::default()
    }
}
