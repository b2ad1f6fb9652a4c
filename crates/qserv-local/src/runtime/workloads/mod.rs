//! The built-in workload controllers local mode needs: StatefulSet, Deployment, Job. They
//! read the reflector stores and write through the API, like kube-controller-manager.
//! Every pass is level-triggered and idempotent; names are deterministic, so a pass that
//! still sees a stale store gets a 409 instead of creating a duplicate.

pub mod deployment;
pub mod job;
pub mod statefulset;
pub mod template;

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Result, RuntimeError};

/// Creates `obj`; an existing object of that name is fine (the store lagged behind).
pub(crate) async fn create_ignoring_conflict<K>(
    api: &Api<K>,
    kind: &'static str,
    ns: &str,
    obj: &K,
) -> Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(source) => Err(RuntimeError::Api {
            kind,
            namespace: ns.into(),
            name: obj.meta().name.clone().unwrap_or_default(),
            source: Box::new(source),
        }),
    }
}

/// Deletes `name`; already gone is fine.
pub(crate) async fn delete_ignoring_missing<K>(
    api: &Api<K>,
    kind: &'static str,
    ns: &str,
    name: &str,
) -> Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(RuntimeError::Api {
            kind,
            namespace: ns.into(),
            name: name.into(),
            source: Box::new(source),
        }),
    }
}
