//! PVCs without a provisioner: a claim is `Bound` as soon as it exists (its directory under
//! `<state>/volumes` is the volume, created by the first pod that mounts it), and the
//! directory is removed once the claim object is deleted and no pod uses it.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

use super::context::Ctx;

/// Marks PVCs `Bound` (there is no provisioner: the directory is the volume).
pub async fn bind(ctx: &Ctx) {
    for pvc in ctx.stores.pvcs.state() {
        let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if bound || pvc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let ns = pvc.namespace().unwrap_or_else(|| "default".into());
        let capacity = pvc
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.clone())
            .unwrap_or_default();
        let patch = serde_json::json!({"status": {
            "phase": "Bound",
            "accessModes": pvc.spec.as_ref().and_then(|s| s.access_modes.clone()),
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
