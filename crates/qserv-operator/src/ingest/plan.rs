//! Plan of a CatalogIngest (pure): the Jobs of each phase, the scratch volume and the results
//! ConfigMap, built from the CatalogIngest and its QservCluster. Every Job runs this binary
//! (`qserv-operator job <step>`), so the CLI and the operator share one code path.
//!
//! | Job                 | step        | runs                                                     |
//! |---------------------|-------------|----------------------------------------------------------|
//! | `<ing>-partition`   | `partition` | Indexed: one index per (partitioned table, file shard)   |
//! | `<ing>-load`        | `load`      | the replication ingest: register, transaction, publish   |
//! | `<ing>-reference`   | `reference` | unpartitioned copy into the reference MariaDB (parallel) |
//! | `<ing>-check`       | `check`     | built-in and spec checks, Qserv vs reference             |
//!
//! Each step writes its report (JSON) under its own key of the ConfigMap `<ing>-results`, with
//! its own field manager, so concurrent steps never overwrite each other and the controller
//! reads every figure from the API server, on a real cluster as in local mode.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVar, EnvVarSource, HostPathVolumeSource, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    SecretKeySelector, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::api::catalog_ingest::{CatalogIngest, TableRole};
use crate::api::qserv_cluster::QservCluster;
use crate::cluster::build::SecretKey;

/// Where the Jobs mount the scratch volume (partitioner output).
pub const SCRATCH_DIR: &str = "/scratch";
/// Where the Jobs mount the input (a PVC, or the host path of `source.path`).
pub const SOURCE_DIR: &str = "/source";
/// Environment of the Job pods (read by `qserv-operator job`).
pub mod env {
    pub const INGEST: &str = "QSERV_INGEST";
    pub const RESULTS_CONFIGMAP: &str = "QSERV_INGEST_RESULTS";
    pub const NAMESPACE: &str = "QSERV_INGEST_NAMESPACE";
    pub const REPLICATION_URL: &str = "QSERV_REPLICATION_URL";
    pub const AUTH_KEY: &str = "QSERV_REPL_AUTH_KEY";
    pub const ADMIN_AUTH_KEY: &str = "QSERV_REPL_ADMIN_AUTH_KEY";
    pub const QUERY_HOST: &str = "QSERV_QUERY_HOST";
    pub const REFERENCE_HOST: &str = "QSERV_REFERENCE_HOST";
    pub const ROOT_PASSWORD: &str = "QSERV_MARIADB_ROOT_PASSWORD";
    /// qsmaster's password on the czar (the query endpoint passes the login through to it).
    pub const QSMASTER_PASSWORD: &str = "QSERV_QSMASTER_PASSWORD";
}

/// The steps, in order; `Reference` runs beside `Load`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Partition,
    Load,
    Reference,
    Check,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Partition, Step::Load, Step::Reference, Step::Check];

    pub fn name(self) -> &'static str {
        match self {
            Step::Partition => "partition",
            Step::Load => "load",
            Step::Reference => "reference",
            Step::Check => "check",
        }
    }

    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How Jobs are made.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// Image with this binary (the operator's own image).
    pub image: String,
    /// File shards per partitioned table (indexes of the partition Job).
    pub partition_shards: i32,
    /// Pods of a Job that run at once.
    pub parallelism: i32,
    /// Retries of a failed pod before the Job fails.
    pub backoff_limit: i32,
    /// ServiceAccount of the Job pods (needs `patch` on ConfigMaps for the reports).
    pub service_account: Option<String>,
    /// Size of the scratch PVC.
    pub scratch_size: String,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            image: format!("qserv/qserv-operator:{}", env!("CARGO_PKG_VERSION")),
            partition_shards: 2,
            parallelism: 2,
            backoff_limit: 2,
            service_account: None,
            scratch_size: "20Gi".into(),
        }
    }
}

/// One index of the partition Job: a table and the shard of its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionUnit {
    pub table: String,
    pub shard: i32,
    pub shards: i32,
}

/// The partition Job's indexes: tables with a position (directors and children) × shards.
pub fn partition_units(ingest: &CatalogIngest, shards: i32) -> Vec<PartitionUnit> {
    let shards = shards.max(1);
    ingest
        .spec
        .tables
        .iter()
        .filter(|t| t.role != TableRole::Regular)
        .flat_map(|t| {
            (0..shards).map(move |shard| PartitionUnit {
                table: t.name.clone(),
                shard,
                shards,
            })
        })
        .collect()
}

/// Partitioner output of one unit, under the scratch dir.
pub fn partition_dir(scratch: &std::path::Path, table: &str, shard: i32) -> std::path::PathBuf {
    scratch
        .join("partition")
        .join(table)
        .join(shard.to_string())
}

pub fn job_name(ingest: &CatalogIngest, step: Step) -> String {
    format!("{}-{}", ingest.name_any(), step.name())
}

pub fn results_name(ingest: &CatalogIngest) -> String {
    format!("{}-results", ingest.name_any())
}

pub fn scratch_name(ingest: &CatalogIngest) -> String {
    format!("{}-scratch", ingest.name_any())
}

/// Key of a step's report in the results ConfigMap.
pub fn report_key(step: Step, index: Option<i32>) -> String {
    match index {
        Some(i) => format!("{}-{i}.json", step.name()),
        None => format!("{}.json", step.name()),
    }
}

fn labels(ingest: &CatalogIngest, step: Option<Step>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".into(), "qserv-ingest".into()),
        ("app.kubernetes.io/instance".into(), ingest.name_any()),
        (
            "app.kubernetes.io/managed-by".into(),
            crate::identity::MANAGER.into(),
        ),
        ("app.kubernetes.io/part-of".into(), "qserv".into()),
    ]);
    if let Some(step) = step {
        labels.insert("app.kubernetes.io/component".into(), step.name().into());
    }
    labels
}

fn meta(ingest: &CatalogIngest, name: String, step: Option<Step>) -> ObjectMeta {
    let owner = OwnerReference {
        api_version: CatalogIngest::api_version(&()).into_owned(),
        kind: CatalogIngest::kind(&()).into_owned(),
        name: ingest.name_any(),
        uid: ingest.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    ObjectMeta {
        name: Some(name),
        namespace: ingest.namespace(),
        labels: Some(labels(ingest, step)),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    }
}

/// The (empty) ConfigMap the steps write their reports into.
pub fn results_configmap(ingest: &CatalogIngest) -> ConfigMap {
    ConfigMap {
        metadata: meta(ingest, results_name(ingest), None),
        ..ConfigMap::default()
    }
}

/// The scratch PVC shared by the partition and load Jobs.
pub fn scratch_pvc(ingest: &CatalogIngest, settings: &JobSettings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(ingest, scratch_name(ingest), None),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".into(),
                    Quantity(settings.scratch_size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// Why the ingest cannot be planned (checked before any Job exists).
pub fn plan_problem(ingest: &CatalogIngest) -> Option<String> {
    if ingest.spec.source.url.is_some() {
        return Some(
            "spec.source.url: http(s) sources are not supported yet; put the files on a PVC \
             (spec.source.pvc) or a host path (spec.source.path)"
                .into(),
        );
    }
    None
}

/// The Job of `step`; `extra_args` go after the common ones (the check step gets the rows read
/// per table, `--rows-read T=N`, from the partition reports).
pub fn job(
    ingest: &CatalogIngest,
    cluster: &QservCluster,
    step: Step,
    settings: &JobSettings,
    extra_args: &[String],
) -> Job {
    let namespace = ingest.namespace().unwrap_or_default();
    let cluster_name = cluster.name_any();
    let secret = format!("{cluster_name}-secrets");
    let secret_env = |name: &str, key: SecretKey| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.clone(),
                key: key.key().into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let value = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    };
    // The CatalogIngest as the Job saw it at creation: spec changes later do not reach a
    // running ingest.
    let ingest_json = serde_json::to_string(&serde_json::json!({
        "apiVersion": CatalogIngest::api_version(&()),
        "kind": CatalogIngest::kind(&()),
        "metadata": {"name": ingest.name_any(), "namespace": namespace,
                     "generation": ingest.metadata.generation},
        "spec": ingest.spec,
    }))
    .unwrap_or_default();
    let svc = |suffix: &str| format!("{cluster_name}-{suffix}.{namespace}.svc");
    let mut vars = vec![
        value(env::INGEST, ingest_json),
        value(env::RESULTS_CONFIGMAP, results_name(ingest)),
        value(env::NAMESPACE, namespace.clone()),
        value(
            env::REPLICATION_URL,
            format!(
                "http://{}:{}",
                svc("repl"),
                crate::cluster::build::ports::REPLICATION_HTTP_PORT
            ),
        ),
        value(
            env::QUERY_HOST,
            format!(
                "{}:{}",
                svc("query"),
                crate::cluster::build::ports::PROXY_PORT
            ),
        ),
        secret_env(env::AUTH_KEY, SecretKey::ReplicationAuthKey),
        secret_env(env::ADMIN_AUTH_KEY, SecretKey::ReplicationAdminAuthKey),
        secret_env(env::ROOT_PASSWORD, SecretKey::MariadbRootPassword),
        secret_env(env::QSMASTER_PASSWORD, SecretKey::QsmasterPassword),
    ];

    // Without a reference database the reference step does not run and reference checks are
    // skipped: the Jobs learn it from the variable's absence.
    if cluster.spec.reference.enabled {
        vars.push(value(
            env::REFERENCE_HOST,
            format!(
                "{}:{}",
                svc("reference"),
                crate::cluster::build::ports::MARIADB_PORT
            ),
        ));
    }

    let mut volumes = vec![Volume {
        name: "scratch".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: scratch_name(ingest),
            read_only: Some(false),
        }),
        ..Volume::default()
    }];
    let mut mounts = vec![VolumeMount {
        name: "scratch".into(),
        mount_path: SCRATCH_DIR.into(),
        ..VolumeMount::default()
    }];
    let source = &ingest.spec.source;
    if let Some(pvc) = &source.pvc {
        volumes.push(Volume {
            name: "source".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc.claim_name.clone(),
                read_only: Some(true),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "source".into(),
            mount_path: SOURCE_DIR.into(),
            sub_path: pvc.sub_path.clone(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    } else if let Some(path) = &source.path {
        volumes.push(Volume {
            name: "source".into(),
            host_path: Some(HostPathVolumeSource {
                path: path.clone(),
                type_: Some("Directory".into()),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "source".into(),
            mount_path: SOURCE_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    let (completions, indexed) = match step {
        Step::Partition => (
            partition_units(ingest, settings.partition_shards).len() as i32,
            true,
        ),
        _ => (1, false),
    };
    let mut args = vec![
        "job".to_string(),
        step.name().to_string(),
        "--source".into(),
        SOURCE_DIR.into(),
        "--scratch".into(),
        SCRATCH_DIR.into(),
    ];
    if step == Step::Partition {
        args.extend(["--shards".into(), settings.partition_shards.to_string()]);
    }
    args.extend(extra_args.iter().cloned());
    Job {
        metadata: meta(ingest, job_name(ingest, step), Some(step)),
        spec: Some(JobSpec {
            completions: Some(completions.max(1)),
            parallelism: Some(settings.parallelism.min(completions.max(1))),
            completion_mode: Some(if indexed { "Indexed" } else { "NonIndexed" }.into()),
            backoff_limit: Some(settings.backoff_limit),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(ingest, Some(step))),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: settings.service_account.clone(),
                    containers: vec![Container {
                        name: step.name().into(),
                        image: Some(settings.image.clone()),
                        command: Some(vec!["qserv-operator".into()]),
                        args: Some(args),
                        env: Some(vars),
                        volume_mounts: Some(mounts),
                        ..Container::default()
                    }],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest() -> CatalogIngest {
        let mut ing: CatalogIngest = serde_norway::from_str(include_str!(
            "../../../../examples/catalogingest-case01.yaml"
        ))
        .unwrap();
        ing.metadata.namespace = Some("ns".into());
        ing.metadata.uid = Some("uid-1".into());
        ing
    }

    fn cluster() -> QservCluster {
        let mut c: QservCluster =
            serde_norway::from_str(include_str!("../../../../examples/qservcluster-ci.yaml"))
                .unwrap();
        c.metadata.namespace = Some("ns".into());
        c
    }

    /// The check Job logs in to the query endpoint as qsmaster with the password the czar's
    /// migration created it with: the proxy's `--db-uri` takes the same Secret key
    /// (`cluster/build/czar.rs`; `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-621`).
    #[test]
    fn the_check_job_gets_the_czar_qsmaster_password_from_the_cluster_secret() {
        let job = job(
            &ingest(),
            &cluster(),
            Step::Check,
            &JobSettings::default(),
            &[],
        );
        let pod = job.spec.unwrap().template.spec.unwrap();
        let var = pod.containers[0]
            .env
            .iter()
            .flatten()
            .find(|e| e.name == env::QSMASTER_PASSWORD)
            .expect("QSERV_QSMASTER_PASSWORD");
        let r = var
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("qserv-ci-secrets", "qsmaster-password")
        );
        assert_eq!(var.value, None);
    }

    #[test]
    fn partition_job_is_indexed_over_tables_and_shards() {
        let ing = ingest();
        let units = partition_units(&ing, 2);
        let tables: Vec<_> = units.iter().map(|u| (u.table.as_str(), u.shard)).collect();
        // case01: Object (director) and Source (child) are partitioned; Filter is regular.
        assert_eq!(
            tables,
            [("Object", 0), ("Object", 1), ("Source", 0), ("Source", 1)]
        );
        let job = job(
            &ing,
            &cluster(),
            Step::Partition,
            &JobSettings::default(),
            &[],
        );
        let spec = job.spec.unwrap();
        assert_eq!(spec.completions, Some(4));
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        let pod = spec.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.command.as_deref().unwrap(), ["qserv-operator"]);
        assert_eq!(
            c.args.as_deref().unwrap(),
            [
                "job",
                "partition",
                "--source",
                "/source",
                "--scratch",
                "/scratch",
                "--shards",
                "2"
            ]
        );
        let env = c.env.as_ref().unwrap();
        let get = |n: &str| env.iter().find(|e| e.name == n).unwrap();
        assert_eq!(
            get(env::REPLICATION_URL).value.as_deref(),
            Some("http://qserv-ci-repl.ns.svc:8080")
        );
        // Secrets come by reference, never by value.
        let key = get(env::AUTH_KEY).value_from.as_ref().unwrap();
        assert_eq!(
            key.secret_key_ref.as_ref().unwrap().name,
            "qserv-ci-secrets"
        );
        assert!(get(env::AUTH_KEY).value.is_none());
        let spec_json: serde_json::Value =
            serde_json::from_str(get(env::INGEST).value.as_deref().unwrap()).unwrap();
        assert_eq!(spec_json["spec"]["database"], "qservTest_case01_qserv");
        assert_eq!(job.metadata.owner_references.unwrap()[0].uid, "uid-1");
    }

    #[test]
    fn source_path_is_a_host_path_mount_and_urls_are_refused() {
        let mut ing = ingest();
        ing.spec.source.path = Some("/data/case01".into());
        ing.spec.source.pvc = None;
        let job = job(&ing, &cluster(), Step::Load, &JobSettings::default(), &[]);
        let pod = job.spec.unwrap().template.spec.unwrap();
        let source = pod
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == "source")
            .unwrap();
        assert_eq!(source.host_path.unwrap().path, "/data/case01");
        assert_eq!(plan_problem(&ing), None);
        ing.spec.source.url = Some("https://example.org/case01/".into());
        assert!(plan_problem(&ing).unwrap().starts_with("spec.source.url"));
    }
}
