//! The garbage collector's part: ownerReference cascade (or orphaning) when an owner goes,
//! collection of objects whose owners are all gone, and a namespace's contents going with it.

use serde_json::Value;

use super::{Propagation, ResourceType, Store, meta_str};

impl Store {
    /// An object whose owners are all gone is deleted (written, say, by a controller that
    /// re-applied it from a stale cache just after the owner was deleted). The
    /// write itself succeeds (as with the real, asynchronous collector); watchers see it go.
    pub(super) fn collect_if_orphaned(&mut self, rt: &ResourceType, obj: &Value) {
        let Some(refs) = obj["metadata"]["ownerReferences"]
            .as_array()
            .filter(|refs| !refs.is_empty())
        else {
            return;
        };
        let owner_exists = |uid: &Value| {
            self.all_objects()
                .any(|(_, o)| o["metadata"]["uid"] == *uid)
        };
        if refs.iter().any(|r| owner_exists(&r["uid"])) {
            return;
        }
        let (ns, name) = (meta_str(obj, "namespace"), meta_str(obj, "name"));
        if let Err(e) = self.delete(rt, ns, name, Propagation::Cascade) {
            tracing::debug!(%e, "orphan already gone");
        }
    }

    /// The garbage collector's job: dependents of a deleted owner are deleted (or orphaned).
    pub(super) fn cascade(&mut self, owner_uid: &str, propagation: Propagation) {
        let dependents: Vec<(ResourceType, String, String)> = self
            .all_objects()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
            })
            .filter_map(|(storage, o)| {
                let rt = self.storage_type(storage)?;
                Some((
                    rt,
                    meta_str(o, "namespace").to_string(),
                    meta_str(o, "name").to_string(),
                ))
            })
            .collect();
        for (rt, ns, name) in dependents {
            let result = match propagation {
                Propagation::Cascade => self.delete(&rt, &ns, &name, Propagation::Cascade),
                Propagation::Orphan => self.get(&rt, &ns, &name).and_then(|mut o| {
                    if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != owner_uid);
                    }
                    self.replace(&rt, o)
                }),
            };
            if let Err(e) = result {
                tracing::debug!(%e, "dependent already gone");
            }
        }
    }

    pub(super) fn delete_namespace_contents(&mut self, ns: &str) {
        let doomed: Vec<(ResourceType, String)> = self
            .all_objects()
            .filter(|(_, o)| meta_str(o, "namespace") == ns)
            .filter_map(|(storage, o)| {
                Some((self.storage_type(storage)?, meta_str(o, "name").to_string()))
            })
            .collect();
        for (rt, name) in doomed {
            if let Err(e) = self.delete(&rt, ns, &name, Propagation::Cascade) {
                tracing::debug!(%e, "namespaced object already gone");
            }
        }
    }
}
