//! How the demo puts objects in: the example manifests with the real kubectl (what a user would
//! type, echoed with its output), or through kube::Client when kubectl is not installed; and the
//! `catalogs` volume the examples' `source.pvc` names.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::Deserialize;

use qserv_operator::api::{CatalogIngest, QservCluster};

const MANAGER: &str = "qserv-operator-demo";

/// The claim (and volume) name the example CatalogIngests read from.
pub const CATALOGS: &str = "catalogs";

/// kubectl, or its stand-in when it is not installed.
pub struct Applier {
    kubeconfig: PathBuf,
    kubectl: bool,
    client: Client,
    namespace: String,
}

impl Applier {
    pub fn new(kubeconfig: &Path, client: Client, namespace: &str) -> Applier {
        let kubectl = Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success());
        Applier {
            kubeconfig: kubeconfig.to_path_buf(),
            kubectl,
            client,
            namespace: namespace.into(),
        }
    }

    pub fn has_kubectl(&self) -> bool {
        self.kubectl
    }

    /// `kubectl apply --server-side -f FILE`, echoed; without kubectl the same apply through
    /// the client (QservCluster and CatalogIngest documents only).
    pub async fn apply_file(&self, file: &Path) -> anyhow::Result<()> {
        let shown = file.display().to_string();
        if self.kubectl {
            return self
                .kubectl(&["apply", "--server-side", "-f", &shown])
                .await;
        }
        println!("$ (kubectl not installed; applying {shown} with the client)");
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {shown}"))?;
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc)
                .with_context(|| format!("{shown}: not YAML"))?;
            match value["kind"].as_str() {
                Some("QservCluster") => self.apply_typed::<QservCluster>(&shown, value).await?,
                Some("CatalogIngest") => self.apply_typed::<CatalogIngest>(&shown, value).await?,
                other => anyhow::bail!(
                    "{shown}: kind {other:?} cannot be applied without kubectl (only QservCluster \
                     and CatalogIngest)"
                ),
            }
        }
        Ok(())
    }

    async fn apply_typed<K>(&self, file: &str, value: serde_json::Value) -> anyhow::Result<()>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let obj: K = serde_json::from_value(value).with_context(|| format!("{file}: invalid"))?;
        let name = obj.meta().name.clone().unwrap_or_default();
        Api::<K>::namespaced(self.client.clone(), &self.namespace)
            .patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&obj))
            .await
            .with_context(|| format!("{file}: applying {} {name}", K::kind(&())))?;
        println!("{}/{name} serverside-applied", K::kind(&()).to_lowercase());
        Ok(())
    }

    /// Runs kubectl (off the async workers, so the in-process API server keeps serving),
    /// echoing the command line and its output; fails with its stderr.
    pub async fn kubectl(&self, args: &[&str]) -> anyhow::Result<()> {
        println!("$ kubectl {}", args.join(" "));
        let kubeconfig = self.kubeconfig.clone();
        let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&owned)
                .output()
        })
        .await?
        .context("running kubectl")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        anyhow::ensure!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

/// The PersistentVolume `catalogs` backed by `data` (a host directory) and the claim of the
/// same name bound to it, so the examples' `source.pvc: {claimName: catalogs, subPath: ...}`
/// read the shared data as they would on a cluster whose admin provided that volume.
pub async fn catalogs_volume(client: &Client, namespace: &str, data: &Path) -> anyhow::Result<()> {
    let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": CATALOGS},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadOnlyMany"],
            // The data is not ours: never deleted, whatever happens to the claim.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "hostPath": {"path": data, "type": "Directory"},
        },
    }))?;
    Api::<PersistentVolume>::all(client.clone())
        .patch(CATALOGS, &PatchParams::apply(MANAGER), &Patch::Apply(&pv))
        .await
        .with_context(|| format!("applying PersistentVolume {CATALOGS}"))?;
    let pvc: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": CATALOGS, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "volumeName": CATALOGS,
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }))?;
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .patch(CATALOGS, &PatchParams::apply(MANAGER), &Patch::Apply(&pvc))
        .await
        .with_context(|| format!("applying PersistentVolumeClaim {namespace}/{CATALOGS}"))?;
    Ok(())
}
