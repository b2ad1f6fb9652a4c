//! Pod volumes as local directories: a PVC → its directory under `<state>/volumes` (kept
//! until the PVC object is deleted) or, when it names a hostPath PersistentVolume, that
//! volume's path; hostPath → that path, emptyDir and any other kind → a
//! directory in the pod's scratch dir, ConfigMap and Secret → their keys written as files
//! there.
//!
//! Processes see no mount namespace, so a path under a `mountPath` in an arg or env value is
//! rewritten to the backing directory (see [`Mounts::rewrite`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod, Volume};
use kube::runtime::reflector::ObjectRef;

use crate::runtime::context::Ctx;
use crate::runtime::persistent_volumes::{self, ClaimBacking};

/// Volume name → its backing directory.
pub type Backing = BTreeMap<String, PathBuf>;

/// Prepares every volume of the pod. `Err` is why the pod must wait (a PVC not there yet) or
/// cannot start.
pub fn prepare(ctx: &Ctx, pod: &Pod, scratch: &Path) -> Result<Backing, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    // Also the containers' working directory.
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let mut out = Backing::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let dir = volume_dir(ctx, ns, v, scratch)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("volume {}: {}: {e}", v.name, dir.display()))?;
        write_files(ctx, ns, v, &dir)?;
        out.insert(v.name.clone(), dir);
    }
    Ok(out)
}

fn volume_dir(ctx: &Ctx, ns: &str, v: &Volume, scratch: &Path) -> Result<PathBuf, String> {
    if let Some(claim) = &v.persistent_volume_claim {
        let pvc = ctx
            .stores
            .pvcs
            .get(&ObjectRef::new(&claim.claim_name).within(ns))
            .ok_or_else(|| {
                format!(
                    "volume {}: persistentvolumeclaim \"{}\" not found",
                    v.name, claim.claim_name
                )
            })?;
        return match persistent_volumes::backing(ctx, &pvc) {
            Ok(ClaimBacking::Provisioned) => {
                let uid = pvc.metadata.uid.as_deref().unwrap_or_default();
                Ok(ctx.volume_dir(ns, &claim.claim_name, uid))
            }
            Ok(ClaimBacking::Host { path, .. }) => Ok(path),
            Err(why) => Err(format!("volume {}: {why}", v.name)),
        };
    }
    // The node is this machine: a hostPath is the directory itself.
    if let Some(host) = &v.host_path {
        let path = PathBuf::from(&host.path);
        // `Directory` promises an existing directory (the ingest Jobs' `source.path`): say so
        // here rather than let the container fail on an empty one created for it.
        if host.type_.as_deref() == Some("Directory") && !path.is_dir() {
            return Err(format!(
                "volume {}: hostPath {} is not a directory (type Directory)",
                v.name,
                path.display()
            ));
        }
        return Ok(path);
    }
    Ok(scratch.join("volumes").join(&v.name))
}

fn write_files(ctx: &Ctx, ns: &str, v: &Volume, dir: &Path) -> Result<(), String> {
    let files: BTreeMap<String, Vec<u8>> = if let Some(cm) = &v.config_map {
        match ctx
            .stores
            .configmaps
            .get(&ObjectRef::new(&cm.name).within(ns))
        {
            Some(c) => c
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                .collect(),
            None if cm.optional == Some(true) => BTreeMap::new(),
            None => {
                return Err(format!(
                    "volume {}: configmap \"{}\" not found",
                    v.name, cm.name
                ));
            }
        }
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.as_deref().unwrap_or_default();
        match ctx.stores.secrets.get(&ObjectRef::new(name).within(ns)) {
            Some(secret) => {
                let mut files: BTreeMap<String, Vec<u8>> = secret
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect();
                for (k, v) in secret.string_data.iter().flatten() {
                    files.insert(k.clone(), v.clone().into_bytes());
                }
                files
            }
            None if s.optional == Some(true) => BTreeMap::new(),
            None => return Err(format!("volume {}: secret \"{name}\" not found", v.name)),
        }
    } else {
        return Ok(());
    };
    for (key, bytes) in files {
        let path = dir.join(&key);
        std::fs::write(&path, bytes)
            .map_err(|e| format!("volume {}: {}: {e}", v.name, path.display()))?;
    }
    Ok(())
}

/// A container's mounts: `mountPath` → backing path (with `subPath`), longest first.
#[derive(Debug, Clone, Default)]
pub struct Mounts(Vec<(String, PathBuf)>);

impl Mounts {
    pub fn of(container: &Container, backing: &Backing) -> Mounts {
        let mut mounts: Vec<(String, PathBuf)> = container
            .volume_mounts
            .iter()
            .flatten()
            .filter_map(|m| {
                let dir = backing.get(&m.name)?;
                let path = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                    Some(sub) => dir.join(sub),
                    None => dir.clone(),
                };
                Some((m.mount_path.trim_end_matches('/').to_string(), path))
            })
            .collect();
        mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Mounts(mounts)
    }

    /// The backing directory of the first mount without `subPath` (MariaDB's data volume).
    pub fn first_dir(container: &Container, backing: &Backing) -> Option<PathBuf> {
        container
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.sub_path.as_deref().unwrap_or_default().is_empty())
            .and_then(|m| backing.get(&m.name).cloned())
    }

    /// `value` with a leading mount path (or one after `--flag=`) replaced by its backing
    /// path: `/data/in.csv` → `<state>/volumes/.../in.csv`.
    pub fn rewrite(&self, value: &str) -> String {
        let (flag, path) = match value.split_once('=') {
            Some((flag, path)) if flag.starts_with('-') => (Some(flag), path),
            _ => (None, value),
        };
        for (mount, dir) in &self.0 {
            if let Some(rest) = path.strip_prefix(mount.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                let rewritten = format!("{}{rest}", dir.display());
                return match flag {
                    Some(flag) => format!("{flag}={rewritten}"),
                    None => rewritten,
                };
            }
        }
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_mounts_are_rewritten_longest_first() {
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "cfg", "mountPath": "/data/config/", "subPath": "x"}
            ]
        }))
        .unwrap();
        let backing = Backing::from([
            ("data".to_string(), PathBuf::from("/s/v/data")),
            ("cfg".to_string(), PathBuf::from("/s/p/cfg")),
        ]);
        let m = Mounts::of(&container, &backing);
        assert_eq!(m.rewrite("/data/in.csv"), "/s/v/data/in.csv");
        assert_eq!(m.rewrite("/data"), "/s/v/data");
        assert_eq!(m.rewrite("--out-dir=/data/out"), "--out-dir=/s/v/data/out");
        assert_eq!(m.rewrite("/data/config/a.json"), "/s/p/cfg/x/a.json");
        assert_eq!(m.rewrite("/database"), "/database");
        assert_eq!(m.rewrite("relative"), "relative");
        assert_eq!(
            Mounts::first_dir(&container, &backing),
            Some(PathBuf::from("/s/v/data"))
        );
    }
}
