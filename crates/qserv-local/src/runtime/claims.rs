//! PVCs without a provisioner: a claim is `Bound` as soon as it exists (its directory under
//! `<state>/volumes` is the volume, created by the first pod that mounts it), and the
//! directory is removed once the claim object is deleted and no pod uses it. A claim naming a
//! PersistentVolume (`spec.volumeName`) is bound to it instead (see `persistent_volumes.rs`);
//! only directories under `<state>/volumes` are ever removed, never a volume's host path.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;

use super::context::Ctx;
use super::persistent_volumes::{self, ClaimBacking};

/// Marks PVCs `Bound`: to their directory (there is no provisioner: the directory is the
/// volume), or to the PersistentVolume they name once it exists and is theirs.
pub async fn bind(ctx: &Ctx) {
    // Before binding: a volume bound in this pass is still unbound in the store.
    persistent_volumes::update_phases(ctx).await;
    for pvc in ctx.stores.pvcs.state() {
        if pvc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let spec = pvc.spec.as_ref();
        let (capacity, access_modes) = match persistent_volumes::backing(ctx, &pvc) {
            Ok(ClaimBacking::Provisioned) if bound => continue,
            Ok(ClaimBacking::Provisioned) => (
                spec.and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.requests.clone())
                    .unwrap_or_default(),
                spec.and_then(|s| s.access_modes.clone()),
            ),
            Ok(ClaimBacking::Host { volume, .. }) => {
                persistent_volumes::bind(ctx, &volume, &pvc).await;
                if bound {
                    continue;
                }
                let pv = ctx.stores.pvs.get(&ObjectRef::new(&volume));
                let pv_spec = pv.as_ref().and_then(|p| p.spec.as_ref());
                (
                    pv_spec.and_then(|s| s.capacity.clone()).unwrap_or_default(),
                    pv_spec.and_then(|s| s.access_modes.clone()),
                )
            }
            // Stays Pending, as in Kubernetes, until the volume exists and is free.
            Err(why) => {
                tracing::debug!(pvc = %pvc.name_any(), %why, "claim not bound");
                continue;
            }
        };
        let ns = pvc.namespace().unwrap_or_else(|| "default".into());
        let patch = serde_json::json!({"status": {
            "phase": "Bound",
            "accessModes": access_modes,
            "capacity": capacity,
        }});
        let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
        if let Err(e) = api
            .patch_status(
                &pvc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::debug!(pvc = %pvc.name_any(), %e, "PVC not bound yet");
        }
    }
}

/// Removes the directories of PVC objects that no longer exist (and no pod still uses).
pub fn remove_orphan_volumes(ctx: &Ctx) {
    let root = ctx.state_dir.join("volumes");
    let Ok(namespaces) = std::fs::read_dir(&root) else {
        return;
    };
    let claims: std::collections::HashSet<PathBuf> = ctx
        .stores
        .pvcs
        .state()
        .iter()
        .map(|p| {
            ctx.volume_dir(
                &p.namespace().unwrap_or_default(),
                &p.name_any(),
                p.metadata.uid.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let pods = ctx.stores.pods.state();
    // Pods whose object is gone but whose worker is still stopping (their server may still
    // write to the volume): wait for the next pass in their namespace.
    let stopping: Vec<String> = ctx
        .live()
        .keys()
        .filter(|(ns, name)| {
            !pods
                .iter()
                .any(|p| p.namespace().as_deref() == Some(ns.as_str()) && p.name_any() == *name)
        })
        .map(|(ns, _)| ns.clone())
        .collect();
    for ns in namespaces.flatten() {
        let ns_name = ns.file_name().to_string_lossy().into_owned();
        if stopping.contains(&ns_name) {
            continue;
        }
        for dir in std::fs::read_dir(ns.path()).into_iter().flatten().flatten() {
            let path = dir.path();
            let claimed = claims.contains(&path)
                || pods.iter().any(|p| {
                    p.namespace().as_deref() == Some(ns_name.as_str()) && uses_dir(ctx, p, &path)
                });
            if claimed {
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), %e, "volume of a deleted PVC not removed");
            }
        }
    }
}

fn uses_dir(ctx: &Ctx, pod: &k8s_openapi::api::core::v1::Pod, dir: &Path) -> bool {
    let ns = pod.namespace().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .any(|c| {
            let prefix = ctx.volume_dir(&ns, &c.claim_name, "");
            dir.to_string_lossy()
                .starts_with(&*prefix.to_string_lossy())
        })
}
