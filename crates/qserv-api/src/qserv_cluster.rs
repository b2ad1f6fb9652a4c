//! `QservCluster`: one Qserv test instance (czar, workers, xrootd redirector, replication
//! system, optional reference MariaDB) and the status a user or CI waits on.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::validation::{FieldPath, Problems, ValidationErrors};

/// The Qserv release this operator targets, in one place: the default images, the REST API
/// version range the client speaks and the entrypoint options the pods are built for all follow
/// it. Moving to the next release is: change this tag, run `scripts/qserv-conformance` against
/// that tag's sources, fix what it names (README, "Qserv release").
#[macro_export]
macro_rules! qserv_release {
    () => {
        "2026.3.3-rc1"
    };
}
pub const QSERV_RELEASE: &str = qserv_release!();

/// Default Qserv image: czar, worker, xrootd and replication binaries in one image. Since
/// 2026.2.2-rc1 Qserv publishes it on ghcr.io (lsst/qserv commit 5057318b8; the repository
/// names in `Q@2026.3.3-rc1:python/lsst/qserv/admin/qservCli/opt.py:231-235`).
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/lsst/qserv:", qserv_release!());
/// Default MariaDB image for czar, workers and the replication database (Qserv's build of
/// MariaDB with the scisql UDFs, `Q@2026.3.3-rc1:deploy/docker/mariadb/Dockerfile`). At a
/// release its tag is the release tag (`Q@2026.3.3-rc1:python/lsst/qserv/admin/qservCli/images.py:34-62`).
pub const DEFAULT_DB_IMAGE: &str = concat!("ghcr.io/lsst/qserv-mariadb:", qserv_release!());

/// A Qserv test instance: one czar, N workers, an xrootd redirector, the replication controller,
/// registry and database, and optionally a plain MariaDB holding unpartitioned reference copies
/// of ingested catalogs. Readiness is reported in `status.conditions` (`Ready`, `Progressing`,
/// `Degraded`), so `kubectl wait --for=condition=Ready qsc/NAME` works.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "qserv.in2p3.fr",
    version = "v1alpha1",
    kind = "QservCluster",
    doc = "A Qserv test instance: czar, workers, xrootd, replication system, optional reference database.",
    plural = "qservclusters",
    shortname = "qsc",
    category = "qserv",
    namespaced,
    status = "QservClusterStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Workers","type":"string","description":"ready/desired workers","jsonPath":".status.components.workers"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","priority":1,"jsonPath":".status.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct QservClusterSpec {
    /// Qserv container image (czar, worker, xrootd and replication processes).
    #[serde(default = "default_image")]
    #[x_kube(validation = Rule::new("self != ''").message("image must not be empty"))]
    pub image: String,

    /// MariaDB container image for the czar, the workers and the replication database.
    #[serde(default = "default_db_image")]
    #[x_kube(validation = Rule::new("self != ''").message("dbImage must not be empty"))]
    pub db_image: String,

    /// The czar: query front end (MariaDB proxy on 4040) and its result database.
    #[serde(default)]
    pub czar: CzarSpec,

    /// The workers, each holding a share of the chunks.
    #[serde(default)]
    pub workers: WorkersSpec,

    /// The replication system (controller on 8080, registry, replication database).
    #[serde(default)]
    pub replication: ReplicationSpec,

    /// The xrootd redirector that routes czar requests to workers.
    #[serde(default)]
    pub xrootd: XrootdSpec,

    /// How the query endpoint (czar proxy, port 4040) is exposed.
    #[serde(default)]
    pub query_service: QueryServiceSpec,

    /// Overrides of Qserv configuration, per component: `czar`, `worker`, `replication`.
    /// Keys are `section.option` of the component's INI-style config; a change rolls the
    /// component's pods.
    #[serde(default, skip_serializing_if = "ConfigOverrides::is_empty")]
    pub config: ConfigOverrides,

    /// Create NetworkPolicies that only let Qserv components talk to each other, and clients
    /// reach the query and replication endpoints.
    #[serde(default)]
    pub network_policies: bool,

    /// Delete the cluster this long after creation (Go duration style: `2h`, `90m`, `1h30m`).
    /// Meant for CI instances; `status.expiresAt` shows when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,

    /// What happens to the PersistentVolumeClaims when the cluster is deleted.
    #[serde(default)]
    pub storage_retention: StorageRetention,

    /// A plain MariaDB that holds unpartitioned copies of ingested catalogs, used by the
    /// result checks of CatalogIngest.
    #[serde(default)]
    pub reference: ReferenceSpec,
}

fn default_image() -> String {
    DEFAULT_IMAGE.to_string()
}

fn default_db_image() -> String {
    DEFAULT_DB_IMAGE.to_string()
}

/// A PersistentVolumeClaim request.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Requested size (a Kubernetes quantity: `10Gi`).
    #[serde(default = "default_storage_size")]
    pub size: Quantity,
    /// StorageClass of the claim; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("10Gi".to_string())
}

/// The czar.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CzarSpec {
    /// Storage of the czar's MariaDB (results, query metadata).
    #[serde(default)]
    pub storage: StorageSpec,
    /// Compute resources of the czar containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// The workers.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkersSpec {
    /// Number of workers.
    #[serde(default = "default_workers")]
    #[x_kube(validation = Rule::new("self >= 1").message("workers.replicas must be >= 1"))]
    pub replicas: i32,
    /// Storage of each worker's MariaDB (the chunk tables).
    #[serde(default)]
    pub storage: StorageSpec,
    /// Compute resources of the worker containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Allow scaling down workers that hold ingested chunks (their data is lost).
    #[serde(default)]
    pub allow_data_loss: bool,
}

impl Default for WorkersSpec {
    fn default() -> Self {
        WorkersSpec {
            replicas: default_workers(),
            storage: StorageSpec::default(),
            resources: None,
            allow_data_loss: false,
        }
    }
}

fn default_workers() -> i32 {
    2
}

/// The replication system.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationSpec {
    /// Storage of the replication database.
    #[serde(default)]
    pub storage: StorageSpec,
    /// The replication controller's scratch volume at `/qserv/data`: director-index builds
    /// stage their files under `/qserv/data/ingest` (`database.qserv-master-tmp-dir`,
    /// `Q@2026.3.3-rc1:src/replica/config/ConfigurationSchema.cc:247-250`), which would otherwise
    /// fill the node's ephemeral storage.
    #[serde(default)]
    pub controller_storage: StorageSpec,
    /// Compute resources of the replication controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// The xrootd redirector.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct XrootdSpec {
    /// Number of redirector replicas: 1. The release's xrootd templates name one manager
    /// address (`all.manager {{cmsd_manager_name}}:2131`,
    /// `Q@2026.3.3-rc1:src/admin/templates/xrootd/etc/cmsd-worker.cf.jinja:52` and
    /// `xrootd-manager.cf.jinja`), so workers and the czar would use only one of several.
    #[serde(default = "default_xrootd_replicas")]
    #[x_kube(validation = Rule::new("self == 1").message(
        "xrootd.replicas must be 1: Qserv 2026.3.3-rc1 configures a single redirector address"
    ))]
    pub replicas: i32,
}

impl Default for XrootdSpec {
    fn default() -> Self {
        XrootdSpec {
            replicas: default_xrootd_replicas(),
        }
    }
}

fn default_xrootd_replicas() -> i32 {
    1
}

/// Kubernetes Service type of the query endpoint.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

/// The query Service (czar proxy, MySQL protocol on 4040).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nodePort) || self.type == 'NodePort'").message("nodePort is only allowed with type NodePort"))]
pub struct QueryServiceSpec {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Node port (30000-32767) when `type` is `NodePort`; allocated by Kubernetes when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 30000 && self <= 32767").message("nodePort must be in 30000-32767"))]
    pub node_port: Option<i32>,
}

/// Configuration overrides per component (`section.option: value`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigOverrides {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub czar: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub worker: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replication: BTreeMap<String, String>,
}

impl ConfigOverrides {
    pub fn is_empty(&self) -> bool {
        self.czar.is_empty() && self.worker.is_empty() && self.replication.is_empty()
    }
}

/// PVC lifecycle on cluster deletion.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum StorageRetention {
    /// Keep the PVCs (and the data) after the cluster is deleted.
    #[default]
    Retain,
    /// Delete the PVCs with the cluster (CI instances).
    Delete,
}

/// The reference MariaDB.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceSpec {
    /// Deploy the reference database.
    #[serde(default)]
    pub enabled: bool,
    /// Its storage.
    #[serde(default)]
    pub storage: StorageSpec,
}

/// Observed state of a QservCluster.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QservClusterStatus {
    /// Coarse summary: Pending, Creating, Ready, Updating, Degraded, Terminating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClusterPhase>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing and Degraded, each with a reason and a message.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Ready/desired counts per component (`czar: 1/1`, `workers: 3/4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<ComponentCounts>,
    /// Where to reach the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// When the cluster deletes itself (from `spec.ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// The Qserv image whose schema migrations the cluster's databases have had. When
    /// `spec.image` changes, the Job `<cluster>-smig-update-<hash>` runs that image's
    /// `entrypoint smig-update` on the czar, worker and replication databases (the new pods
    /// wait for it), then this becomes the new image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_image: Option<String>,
}

/// Phase of a QservCluster.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ClusterPhase {
    Pending,
    Creating,
    Ready,
    Updating,
    Degraded,
    Terminating,
}

/// `ready/desired` per component.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentCounts {
    pub czar: String,
    pub workers: String,
    pub xrootd: String,
    pub replication_controller: String,
    pub replication_registry: String,
    pub replication_database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Endpoints of a running cluster.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// MySQL-protocol query endpoint, `host:4040`.
    pub query: String,
    /// Replication controller REST API, `http://host:8080`.
    pub replication: String,
    /// Reference MariaDB, `host:3306`, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Parses a TTL such as `2h`, `90m`, `1h30m` (Go duration style) or `PT2H` (ISO 8601).
pub fn parse_ttl(text: &str) -> Result<jiff::SignedDuration, String> {
    let d: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("not a duration like 2h, 90m or 1h30m: {text:?}"))?;
    if d <= jiff::SignedDuration::ZERO {
        return Err(format!("must be positive, got {text:?}"));
    }
    Ok(d)
}

impl QservClusterSpec {
    /// Every problem in the spec, with field paths under `spec`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let spec = FieldPath::root("spec");
        let mut p = Problems::default();
        p.not_empty(&spec.at("image"), &self.image);
        p.not_empty(&spec.at("dbImage"), &self.db_image);
        p.min_i64(
            &spec.at("workers").at("replicas"),
            self.workers.replicas.into(),
            1,
        );
        let xrootd = self.xrootd.replicas;
        p.ensure(&spec.at("xrootd").at("replicas"), xrootd == 1, || {
            format!(
                "must be 1 (Qserv 2026.3.3-rc1 configures a single redirector address), got {xrootd}"
            )
        });
        check_storage(&mut p, &spec.at("czar").at("storage"), &self.czar.storage);
        check_storage(
            &mut p,
            &spec.at("workers").at("storage"),
            &self.workers.storage,
        );
        check_storage(
            &mut p,
            &spec.at("replication").at("storage"),
            &self.replication.storage,
        );
        if self.reference.enabled {
            check_storage(
                &mut p,
                &spec.at("reference").at("storage"),
                &self.reference.storage,
            );
        }
        if let Some(port) = self.query_service.node_port {
            let at = spec.at("queryService").at("nodePort");
            let type_ = self.query_service.type_;
            p.ensure(&at, type_ == ServiceType::NodePort, || {
                format!("is only allowed with type NodePort, got type {type_:?}")
            });
            p.ensure(&at, (30000..=32767).contains(&port), || {
                format!("must be in 30000-32767, got {port}")
            });
        }
        for (component, map) in [
            ("czar", &self.config.czar),
            ("worker", &self.config.worker),
            ("replication", &self.config.replication),
        ] {
            let at = spec.at("config").at(component);
            for key in map.keys() {
                let ok = key
                    .split_once('.')
                    .is_some_and(|(s, o)| !s.is_empty() && !o.is_empty());
                p.ensure(&at, ok, || format!("key {key:?} must be `section.option`"));
            }
        }
        if let Some(ttl) = &self.ttl
            && let Err(e) = parse_ttl(ttl)
        {
            p.add(&spec.at("ttl"), e);
        }
        p.finish()
    }
}

fn check_storage(p: &mut Problems, at: &FieldPath, storage: &StorageSpec) {
    let ok = parse_quantity_bytes(&storage.size.0).is_some_and(|b| b > 0.0);
    p.ensure(&at.at("size"), ok, || {
        format!(
            "must be a positive size like 10Gi or 500M, got {:?}",
            storage.size.0
        )
    });
}

/// Bytes of a Kubernetes storage quantity (`10Gi`, `500M`, `1e9`); None when malformed.
pub fn parse_quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    value.is_finite().then_some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cel::check_cel_rules;
    use kube::CustomResourceExt;

    fn spec(yaml: &str) -> QservClusterSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn an_empty_spec_gets_working_defaults() {
        let s = spec("{}");
        assert_eq!(s.workers.replicas, 2);
        assert_eq!(s.xrootd.replicas, 1);
        assert_eq!(s.image, DEFAULT_IMAGE);
        assert_eq!(s.storage_retention, StorageRetention::Retain);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let s = spec(
            r#"
            image: ""
            workers: {replicas: 0, storage: {size: lots}}
            xrootd: {replicas: -1}
            queryService: {type: ClusterIP, nodePort: 80}
            config: {czar: {nosection: "1"}}
            ttl: soon
            reference: {enabled: true, storage: {size: "0"}}
            "#,
        );
        let errors = s.validate().unwrap_err();
        assert_eq!(
            errors.to_string().split("; ").collect::<Vec<_>>(),
            vec![
                "spec.image: must not be empty",
                "spec.workers.replicas: must be >= 1, got 0",
                "spec.xrootd.replicas: must be 1 (Qserv 2026.3.3-rc1 configures a single redirector address), got -1",
                "spec.workers.storage.size: must be a positive size like 10Gi or 500M, got \"lots\"",
                "spec.reference.storage.size: must be a positive size like 10Gi or 500M, got \"0\"",
                "spec.queryService.nodePort: is only allowed with type NodePort, got type ClusterIP",
                "spec.queryService.nodePort: must be in 30000-32767, got 80",
                "spec.config.czar: key \"nosection\" must be `section.option`",
                "spec.ttl: not a duration like 2h, 90m or 1h30m: \"soon\"",
            ]
        );
    }

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("2h").unwrap().as_secs(), 7200);
        assert_eq!(parse_ttl("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_ttl("90m").unwrap().as_secs(), 5400);
        assert_eq!(parse_ttl("PT2H").unwrap().as_secs(), 7200);
        assert!(parse_ttl("0s").unwrap_err().contains("must be positive"));
        assert!(parse_ttl("-5m").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity_bytes("10Gi"), Some(10.0 * 1024f64.powi(3)));
        assert_eq!(parse_quantity_bytes("500M"), Some(5e8));
        assert_eq!(parse_quantity_bytes("1e9"), Some(1e9));
        assert_eq!(parse_quantity_bytes("12"), Some(12.0));
        assert_eq!(parse_quantity_bytes("10GB"), None);
        assert_eq!(parse_quantity_bytes(""), None);
    }

    fn object(spec: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
                           "metadata": {"name": "q"}, "spec": spec})
    }

    #[test]
    fn cel_rules_reject_what_the_api_server_would() {
        let crd = QservCluster::crd();
        check_cel_rules(&crd, &object(serde_json::json!({})), None).unwrap();
        let errors = check_cel_rules(
            &crd,
            &object(serde_json::json!({"workers": {"replicas": 0}, "queryService": {"nodePort": 30001}})),
            None,
        )
        .unwrap_err();
        let messages: Vec<String> = errors.0.iter().map(|e| e.message.clone()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("workers.replicas must be >= 1")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("nodePort is only allowed with type NodePort")),
            "{messages:?}"
        );
        assert_eq!(messages.len(), 2, "{messages:?}");
    }
}
