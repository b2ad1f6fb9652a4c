//! `qserv-operator render`: every object a QservCluster creates, offline (the `helm template`
//! habit): what a reviewer reads before applying, and what `scripts/qserv-conformance` feeds
//! to the Qserv release's own entrypoint.
//!
//! The objects are the build stage's, with two things a real reconcile would take from the API
//! server filled in: the namespace (`metadata.namespace`, else `default`) and the owner's uid (a
//! placeholder, [`PLACEHOLDER_UID`]: the output is to read, the controller applies). The Secret
//! holds freshly generated values, as the controller's first reconcile would.

use std::path::Path;

use kube::ResourceExt;
use serde::Deserialize;

use super::build::{self, DesiredObject, GeneratedSecrets};
use crate::api::QservCluster;

/// The owner uid of rendered objects.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: document {index}: {reason}")]
    Document {
        path: String,
        index: usize,
        reason: String,
    },
    #[error("{path}: no QservCluster in it")]
    NoCluster { path: String },
}

/// The QservClusters of a YAML file (other kinds are skipped: a file may hold CatalogIngests).
pub fn clusters_in(path: &Path) -> Result<Vec<QservCluster>, RenderError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RenderError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (index, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let problem = |reason: String| RenderError::Document {
            path: shown.clone(),
            index,
            reason,
        };
        let value = serde_json::Value::deserialize(doc).map_err(|e| problem(e.to_string()))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some("QservCluster") {
            continue;
        }
        let cluster: QservCluster =
            serde_json::from_value(value).map_err(|e| problem(e.to_string()))?;
        out.push(cluster);
    }
    if out.is_empty() {
        return Err(RenderError::NoCluster { path: shown });
    }
    Ok(out)
}

/// New secret values from the OS's randomness (v4 UUIDs), as a cluster's first reconcile
/// makes them.
pub fn fresh_secrets() -> GeneratedSecrets {
    build::generate_secrets(|| uuid::Uuid::new_v4().as_u64_pair().0)
}

/// Every object of `cluster`, as the build stage makes them for `secrets`; with `from_image`,
/// as right after `spec.image` changed from it (the schema-update Job included).
pub fn render(
    mut cluster: QservCluster,
    secrets: &GeneratedSecrets,
    from_image: Option<&str>,
) -> Result<Vec<DesiredObject>, String> {
    if cluster.namespace().is_none() {
        cluster.metadata.namespace = Some("default".into());
    }
    cluster.metadata.uid = Some(PLACEHOLDER_UID.into());
    let name = cluster.name_any();
    build::build_with_schema(&cluster, secrets, from_image)
        .map_err(|e| format!("QservCluster {name}: {e}"))
}

/// The objects as one multi-document YAML stream (keys sorted, as `kubectl get -o yaml`; the
/// k8s-openapi types write their own `apiVersion` and `kind`).
pub fn to_yaml(objects: &[DesiredObject]) -> Result<String, serde_norway::Error> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(object)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_renders_every_object_with_kind_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        std::fs::write(
            &file,
            "apiVersion: qserv.in2p3.fr/v1alpha1\nkind: CatalogIngest\nmetadata: {name: x}\n\
             spec: {}\n---\napiVersion: qserv.in2p3.fr/v1alpha1\nkind: QservCluster\n\
             metadata: {name: demo}\nspec: {workers: {replicas: 2}}\n",
        )
        .unwrap();
        let clusters = clusters_in(&file).unwrap();
        assert_eq!(clusters.len(), 1);
        let secrets = build::generate_secrets(|| 7);
        let objects = render(clusters[0].clone(), &secrets, None).unwrap();
        let upgrade = render(
            clusters[0].clone(),
            &secrets,
            Some("ghcr.io/lsst/qserv:old"),
        )
        .unwrap();
        assert_eq!(upgrade.len(), objects.len() + 1);
        assert_eq!(upgrade.last().unwrap().kind(), "Job");
        let yaml = to_yaml(&objects).unwrap();
        let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&yaml)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), objects.len());
        assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "default"));
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert!(
            kinds.contains(&"Secret") && kinds.contains(&"StatefulSet"),
            "{kinds:?}"
        );
        assert!(
            yaml.starts_with("---\napiVersion: v1\nkind: Secret\n"),
            "{yaml}"
        );
    }

    #[test]
    fn a_file_without_a_cluster_or_with_a_bad_one_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("none.yaml");
        std::fs::write(&file, "kind: ConfigMap\n").unwrap();
        assert!(
            clusters_in(&file)
                .unwrap_err()
                .to_string()
                .ends_with("none.yaml: no QservCluster in it")
        );
        std::fs::write(
            &file,
            "kind: QservCluster\nmetadata: {name: a}\nspec: {workers: 3}\n",
        )
        .unwrap();
        let err = clusters_in(&file).unwrap_err().to_string();
        assert!(err.contains("none.yaml: document 0: "), "{err}");
    }
}
