//! The schema-update Job: when `spec.image` changes on a cluster whose databases were set up by
//! another image, that image's schema migrations must run before its processes start. Every
//! Qserv entrypoint migrates only an *uninitialised* database itself and otherwise waits, every
//! 10 s, for the schema to reach its version (`_do_smig(update=False)` and `_wait_for_update`,
//! `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:78-125`; proxy `:621`, worker-xrootd
//! `:454`, worker-cmsd `:376`, worker-repl `:523`), so without this Job the rolled pods would wait
//! for ever. `entrypoint smig-update` (`entrypoint.py:983-1003`, `script.py:850-879`) runs the
//! pending migrations of the czar, each worker and the replication database with
//! `update=True`; the new pods then pass their wait. The Go operator runs the same command in
//! its start scripts (lsst/qserv-operator `configmap/proxy/start/start.sh`).
//!
//! It never runs on a new cluster: there the entrypoints initialise the databases themselves,
//! and smig-update on an uninitialised database would create the accounts with one password
//! for all (the czar's and the workers' differ, see `defaults.rs`).

use std::fmt::Write as _;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

use super::meta::{Component, Ctx};
use super::pod::{ROOT_PASSWORD_ENV, mysql_uri, pod_security_context, qserv_container, secret_env};
use super::secrets::SecretKey;

/// `<cluster>-smig-update-<8 hex of sha256(image)>`: one Job per target image, so a second
/// image change makes a new Job (a Job's template is immutable) and the old one is pruned.
pub fn job_name(ctx: &Ctx) -> String {
    let digest = Sha256::digest(ctx.cluster.spec.image.as_bytes());
    let mut hex = String::new();
    for b in &digest[..4] {
        let _ = write!(hex, "{b:02x}");
    }
    ctx.named(&format!("{}-{hex}", Component::SchemaUpdate.suffix()))
}

/// The Job running `entrypoint smig-update` of `spec.image` on every database of the cluster,
/// as root (the migrations alter schemas); the replication database's non-admin user is the one
/// the controller uses (`qsreplica`, see `replication.rs`).
pub fn schema_update_job(ctx: &Ctx) -> Job {
    let spec = &ctx.cluster.spec;
    let root = |host: &str, db: Option<&str>| mysql_uri("root", Some(ROOT_PASSWORD_ENV), host, db);
    let czar = ctx.object_name(Component::Czar);
    let workers = ctx.object_name(Component::Worker);
    let repl_db = ctx.object_name(Component::ReplicationDb);
    let mut args = vec![
        "smig-update".to_string(),
        format!("--czar-connection={}", root(&czar, None)),
    ];
    for ordinal in 0..spec.workers.replicas {
        let host = format!("{workers}-{ordinal}.{workers}");
        args.push(format!("--worker-connection={}", root(&host, None)));
    }
    args.push(format!(
        "--repl-connection={}",
        root(&repl_db, Some("qservReplica"))
    ));
    args.push(format!(
        "--repl-connection-nonadmin={}",
        mysql_uri("qsreplica", None, &repl_db, Some("qservReplica"))
    ));
    let mut container = qserv_container(ctx, "smig-update", args);
    container.env = Some(vec![secret_env(
        ctx,
        ROOT_PASSWORD_ENV,
        SecretKey::MariadbRootPassword,
    )]);
    let component = Component::SchemaUpdate;
    Job {
        metadata: ctx.meta(job_name(ctx), component),
        spec: Some(JobSpec {
            // The databases restart as the image change rolls their pods, and Qserv's command
            // fails at once when one cannot be reached (`update=True` does not wait,
            // `script.py:121-122`): retries with the Job controller's backoff (10 s doubling,
            // capped at 6 min) ride out a roll of about half an hour.
            backoff_limit: Some(10),
            template: PodTemplateSpec {
                // The instance's labels: its NetworkPolicy lets the Job reach the databases.
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    restart_policy: Some("Never".into()),
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// Whether the databases need the image's migrations: the cluster ran another image before
/// (a cluster seen for the first time, `schema_image` unset, adopts its image).
pub fn needs_schema_update(schema_image: Option<&str>, image: &str) -> bool {
    schema_image.is_some_and(|done| done != image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::build::DesiredObject;
    use crate::cluster::build::tests::{built_with_schema, cluster};

    #[test]
    fn only_an_image_change_of_a_known_cluster_needs_it() {
        assert!(!needs_schema_update(None, "img:2"));
        assert!(!needs_schema_update(Some("img:2"), "img:2"));
        assert!(needs_schema_update(Some("img:1"), "img:2"));
    }

    #[test]
    fn the_job_migrates_every_database_of_the_cluster_as_root() {
        let jobs = |schema: Option<&str>| -> Vec<Job> {
            built_with_schema("{workers: {replicas: 3}}", schema)
                .into_iter()
                .filter_map(|o| match o {
                    DesiredObject::Job(j) => Some(j),
                    _ => None,
                })
                .collect()
        };
        assert!(jobs(None).is_empty());
        let image = cluster("{}").spec.image;
        assert!(jobs(Some(&image)).is_empty());
        let job = jobs(Some("ghcr.io/lsst/qserv:2026.2.2-rc1")).remove(0);
        let name = job.metadata.name.clone().unwrap();
        assert!(
            name.starts_with("qserv-ci-smig-update-") && name.len() == 29,
            "{name}"
        );
        let pod = job.spec.unwrap().template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some(image.as_str()));
        assert_eq!(c.command.as_deref(), Some(&["entrypoint".to_string()][..]));
        let root = "mysql://root:$(MYSQL_ROOT_PASSWORD)@";
        assert_eq!(
            c.args.as_deref().unwrap(),
            [
                "smig-update".to_string(),
                format!("--czar-connection={root}qserv-ci-czar:3306"),
                format!("--worker-connection={root}qserv-ci-worker-0.qserv-ci-worker:3306"),
                format!("--worker-connection={root}qserv-ci-worker-1.qserv-ci-worker:3306"),
                format!("--worker-connection={root}qserv-ci-worker-2.qserv-ci-worker:3306"),
                format!("--repl-connection={root}qserv-ci-repl-db:3306/qservReplica"),
                "--repl-connection-nonadmin=mysql://qsreplica@qserv-ci-repl-db:3306/qservReplica"
                    .to_string(),
            ]
        );
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        // The instance's labels, which its NetworkPolicy admits.
        let labels = job.metadata.labels.unwrap();
        assert_eq!(labels["app.kubernetes.io/instance"], "qserv-ci");
        assert_eq!(labels["app.kubernetes.io/component"], "smig-update");
    }
}
