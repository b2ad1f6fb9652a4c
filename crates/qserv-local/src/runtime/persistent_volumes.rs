//! PersistentVolumes on a one-node cluster: a claim whose `spec.volumeName` names a PV with
//! `hostPath` (or `local`) is backed by that directory of this machine, the way an admin
//! hands existing data (the shared catalogs) to pods. The claim shows `Bound` to the volume,
//! the volume `Bound` with its `claimRef`, then `Released` once the claim is deleted.
//!
//! The host directory is never removed, whatever the volume's reclaim policy: it is data the
//! runtime did not create (Kubernetes' own hostPath deleter refuses anything outside `/tmp`).
//!
//! Differences from Kubernetes: binding is only by the claim's `volumeName` (no matching of
//! free volumes by class and size, no pre-binding by the volume's `claimRef` alone); a
//! `Released` volume binds again to a new claim of the same namespace and name (Kubernetes
//! wants its `claimRef` cleared first).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;

use super::context::Ctx;

/// What backs a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimBacking {
    /// No `volumeName`: the runtime provisions a directory under `<state>/volumes`.
    Provisioned,
    /// The host directory of the named volume.
    Host { volume: String, path: PathBuf },
}

/// The backing of `pvc`, or why it has none yet (the message names the claim and volume).
pub fn backing(ctx: &Ctx, pvc: &PersistentVolumeClaim) -> Result<ClaimBacking, String> {
    let Some(volume) = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()) else {
        return Ok(ClaimBacking::Provisioned);
    };
    let claim = format!(
        "persistentvolumeclaim \"{}\" (volumeName {volume})",
        pvc.name_any()
    );
    let pv = ctx
        .stores
        .pvs
        .get(&ObjectRef::new(volume))
        .ok_or_else(|| format!("{claim}: persistentvolume \"{volume}\" not found"))?;
    if let Some(other) = bound_elsewhere(&pv, pvc) {
        return Err(format!(
            "{claim}: persistentvolume \"{volume}\" is bound to claim {other}"
        ));
    }
    let spec = pv.spec.as_ref();
    let host_path = spec.and_then(|s| s.host_path.as_ref());
    let path = host_path
        .map(|h| h.path.clone())
        .or_else(|| spec.and_then(|s| s.local.as_ref().map(|l| l.path.clone())))
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!(
                "{claim}: persistentvolume \"{volume}\" has neither hostPath nor local: local \
                 mode backs only volumes that are directories of this machine"
            )
        })?;
    // `Directory` promises existing data: a typo must not become an empty new directory.
    if host_path.and_then(|h| h.type_.as_deref()) == Some("Directory") && !path.is_dir() {
        return Err(format!(
            "{claim}: persistentvolume \"{volume}\": hostPath {} is not a directory",
            path.display()
        ));
    }
    Ok(ClaimBacking::Host {
        volume: volume.to_string(),
        path,
    })
}

/// `namespace/name` of the claim the volume is bound to, when that is not `pvc`.
fn bound_elsewhere(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> Option<String> {
    let r = pv.spec.as_ref()?.claim_ref.as_ref()?;
    let (ns, name) = (r.namespace.clone()?, r.name.clone()?);
    let same = Some(ns.as_str()) == pvc.namespace().as_deref() && name == pvc.name_any();
    (!same).then(|| format!("{ns}/{name}"))
}

/// Records the binding on the volume: `claimRef` to the claim, phase `Bound`.
pub async fn bind(ctx: &Ctx, volume: &str, pvc: &PersistentVolumeClaim) {
    let Some(pv) = ctx.stores.pvs.get(&ObjectRef::new(volume)) else {
        return;
    };
    let uid = pvc.metadata.uid.clone();
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    if claim_ref.is_none_or(|r| r.uid != uid) {
        let patch = serde_json::json!({"spec": {"claimRef": {
            "kind": "PersistentVolumeClaim",
            "apiVersion": "v1",
            "namespace": pvc.namespace(),
            "name": pvc.name_any(),
            "uid": uid,
        }}});
        if let Err(e) = api
            .patch(volume, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(pv = volume, %e, "claimRef not recorded yet");
            return;
        }
    }
    set_phase(&api, &pv, "Bound").await;
}

/// Volumes whose claim is gone turn `Released`; new unbound ones `Available`.
pub async fn update_phases(ctx: &Ctx) {
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    for pv in ctx.stores.pvs.state() {
        let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let phase = match claim_ref {
            None => "Available",
            Some(r) => {
                let claim = ObjectRef::new(r.name.as_deref().unwrap_or_default())
                    .within(r.namespace.as_deref().unwrap_or_default());
                let present = ctx
                    .stores
                    .pvcs
                    .get(&claim)
                    .is_some_and(|c| c.metadata.uid == r.uid || r.uid.is_none());
                if present {
                    continue;
                }
                "Released"
            }
        };
        set_phase(&api, &pv, phase).await;
    }
}

async fn set_phase(api: &Api<PersistentVolume>, pv: &PersistentVolume, phase: &str) {
    if pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
        return;
    }
    let patch = serde_json::json!({"status": {"phase": phase}});
    if let Err(e) = api
        .patch_status(
            &pv.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::debug!(pv = %pv.name_any(), %e, "volume phase not written yet");
    }
}
