//! Where an ingest's input is, as far as the operator can know before any Job runs.
//!
//! A `source.pvc` claim must exist before the Jobs are created: their pods would otherwise sit
//! unschedulable while the ingest claims to be partitioning. Where the operator sees the Jobs'
//! filesystem (local mode), a `source.path`, or a claim bound to a `hostPath` (or `local`)
//! PersistentVolume, is a directory the preflight can read, so a missing file or column fails
//! the ingest at once with its name instead of in a Job's log.
//!
//! On a real cluster only the claim's existence is checked (`get` on the claim, which the
//! chart's RBAC grants); volumes are cluster-scoped and read only in local mode.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::{Api, Client};

use crate::api::catalog_ingest::CatalogIngest;

/// What the operator knows of the input before launching Jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// The directory the Jobs will read, visible here too; `what` names it for messages
    /// (`spec.source.path`, `spec.source.pvc catalogs (volume catalogs, /data) + subPath clusters`).
    Visible { dir: PathBuf, what: String },
    /// There, but not readable from the operator (a provisioned claim, a real cluster, a URL).
    Unseen,
    /// Not there yet: the ingest waits, with this message.
    Missing(String),
}

/// Resolves `ingest.spec.source`. `local`: the operator shares the Jobs' filesystem.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    ingest: &CatalogIngest,
    local: bool,
) -> Result<SourceState, kube::Error> {
    let source = &ingest.spec.source;
    if let Some(path) = &source.path {
        return Ok(if local {
            SourceState::Visible {
                dir: PathBuf::from(path),
                what: "spec.source.path".into(),
            }
        } else {
            SourceState::Unseen
        });
    }
    let Some(claim) = &source.pvc else {
        return Ok(SourceState::Unseen);
    };
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let Some(pvc) = pvcs.get_opt(&claim.claim_name).await? else {
        return Ok(SourceState::Missing(format!(
            "spec.source.pvc: PersistentVolumeClaim {} not found in namespace {namespace}",
            claim.claim_name
        )));
    };
    let volume_name = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
    let (true, Some(volume_name)) = (local, volume_name) else {
        return Ok(SourceState::Unseen);
    };
    let Some(pv) = Api::<PersistentVolume>::all(client.clone())
        .get_opt(&volume_name)
        .await?
    else {
        return Ok(SourceState::Missing(format!(
            "spec.source.pvc: PersistentVolumeClaim {} names PersistentVolume {volume_name}, \
             which does not exist",
            claim.claim_name
        )));
    };
    let spec = pv.spec.as_ref();
    let host = spec
        .and_then(|s| s.host_path.as_ref().map(|h| h.path.clone()))
        .or_else(|| spec.and_then(|s| s.local.as_ref().map(|l| l.path.clone())));
    let Some(host) = host else {
        return Ok(SourceState::Unseen);
    };
    let sub_path = claim.sub_path.as_deref().filter(|s| !s.is_empty());
    let dir = match sub_path {
        Some(sub) => PathBuf::from(&host).join(sub),
        None => PathBuf::from(&host),
    };
    let what = format!(
        "spec.source.pvc {} (PersistentVolume {volume_name} at {host}{})",
        claim.claim_name,
        sub_path
            .map(|s| format!(", subPath {s}"))
            .unwrap_or_default()
    );
    Ok(SourceState::Visible { dir, what })
}
