//! The workers of the replication system: listed from its configuration, and removed once
//! their pods are gone for good (a scaled-down StatefulSet).
//!
//! Qserv forgets a worker only when told to: the registry keeps every worker that ever
//! reported (`RegistryServices::removeWorker` is its only way out,
//! `Q@2026.3.3-rc1:src/replica/registry/RegistryServices.cc:46-50`, and nothing in the
//! replication system calls it), and the controller adds every worker the registry lists but
//! its configuration lacks, each `registry.heartbeat-ival-sec`, when
//! `controller.auto-register-workers` is on (`src/replica/contr/Controller.cc:64-90`; the
//! operator turns it on). So a departed worker goes from the registry first, then from the
//! configuration; in the other order the controller could register it again in between.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{API_VERSION, ReplicationClient};
use super::error::{ReplicationError, Result};
use super::transport::{Repeat, Wait, str_of, urlencode};
use super::types::WorkerInfo;

/// The registry's lowest API version (`checkApiVersion(__func__, 52)` in every handler,
/// `Q@2026.3.3-rc1:src/replica/registry/RegistryHttpSvcMod.cc:106,137`).
pub const REGISTRY_MIN_VERSION: u32 = 52;

/// The error text of `Configuration::deleteWorker` for a worker it does not know
/// (`ConfigUnknownWorker`, `Q@2026.3.3-rc1:src/replica/config/Configuration.cc:699-705`; a
/// `runtime_error`, so `http::Module::execute` prefixes "operation failed due to: ",
/// `src/http/Module.cc:50-51`; `Configuration::_context` is `"CONFIG  " + func`, `:205`).
pub fn unknown_worker_error(name: &str) -> String {
    format!("operation failed due to: CONFIG  deleteWorker unknown worker '{name}'.")
}

impl ReplicationClient {
    /// `GET /replication/config`: the workers the controller's configuration lists, enabled
    /// or not.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        Ok(self.config().await?.workers)
    }

    /// `DELETE /replication/config/worker/:worker` with `auth_key` (the route takes
    /// `AuthType::REQUIRED`, `Q@2026.3.3-rc1:src/replica/contr/HttpProcessor.cc:184-189`).
    /// Handler: `HttpConfigurationModule::_deleteWorker` (`HttpConfigurationModule.cc:164-171`:
    /// API ≥ 12, `Configuration::deleteWorker`, answers `{}`). `Ok(true)`: deleted;
    /// `Ok(false)`: the configuration did not know it (already gone, which is what the
    /// operator wants); any other refusal is an error with the server's text.
    pub async fn delete_worker(&self, name: &str) -> Result<bool> {
        let path = format!("/replication/config/worker/{}", urlencode(name));
        let sent = self
            .send(
                Method::DELETE,
                &self.base_url,
                &path,
                &format!("worker {name}"),
                Some(self.with_auth(json!({}))),
                // Deleting twice is harmless: the second gets "unknown worker", taken as done.
                Repeat::Transient,
                Wait::Short,
            )
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(ReplicationError::Refused { ref error, .. })
                if *error == unknown_worker_error(name) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /worker/:name` of the registry at `registry_url` (e.g.
    /// `http://qserv-ci-repl-registry:8080`), so the controller does not register the worker
    /// again (see the module doc). The registry checks the keys (`AuthType::REQUIRED` by
    /// default, `RegistryHttpSvcMod.h:82`), then `instance_id` from the body
    /// (`RegistryHttpSvcMod.cc:85`, `src/http/BaseModule.cc:92-100`), then the version; an
    /// unknown name is no error (`json::erase` of a missing key, `RegistryServices.cc:49`).
    pub async fn delete_registry_worker(
        &self,
        registry_url: &str,
        instance_id: &str,
        name: &str,
    ) -> Result<()> {
        let base = registry_url.trim_end_matches('/');
        let path = format!("/worker/{}", urlencode(name));
        let body = json!({
            "version": API_VERSION, "instance_id": instance_id, "auth_key": self.auth_key,
        });
        let v = self
            .send(
                Method::DELETE,
                base,
                &path,
                &format!("registered worker {name}"),
                Some(body),
                Repeat::Transient,
                Wait::Short,
            )
            .await?;
        // The answer lists the services left; only an absent name tells it went.
        let listed = v
            .pointer("/services/workers")
            .and_then(Value::as_object)
            .is_some_and(|w| w.contains_key(name));
        if listed {
            return Err(self.bad(
                &format!("DELETE {path}"),
                name,
                "the registry still lists the worker",
            ));
        }
        Ok(())
    }
}

/// One `config.workers[]` entry.
pub(super) fn worker_of(w: &Value) -> WorkerInfo {
    let flag = |k: &str| w.get(k).and_then(Value::as_u64) == Some(1);
    let host = |k: &str, field: &str| w.get(k).map(|h| str_of(h, field)).unwrap_or_default();
    WorkerInfo {
        name: str_of(w, "name"),
        is_enabled: flag("is-enabled"),
        is_read_only: flag("is-read-only"),
        svc_host_name: host("svc-host", "name"),
        svc_host_addr: host("svc-host", "addr"),
        http_loader_host_addr: host("http-loader-host", "addr"),
        http_loader_port: w
            .get("http-loader-port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_worker_reads_as_config_worker_to_json_writes_it() {
        let w = worker_of(&json!({
            "name": "5f0c7a9e-0d6f-11ef-9a51-0242ac120002", "is-enabled": 1, "is-read-only": 0,
            "svc-host": {"addr": "10.1.2.3", "name": "qserv-ci-worker-2.qserv-ci-worker.default.svc.cluster.local"},
            "svc-port": 25000, "http-loader-host": {"addr": "10.1.2.3", "name": "x"},
            "http-loader-port": 25004,
        }));
        assert_eq!(w.name, "5f0c7a9e-0d6f-11ef-9a51-0242ac120002");
        assert!(w.is_enabled && !w.is_read_only);
        assert_eq!(w.svc_host_addr, "10.1.2.3");
        assert_eq!(
            (w.http_loader_host_addr.as_str(), w.http_loader_port),
            ("10.1.2.3", 25004)
        );
        assert_eq!(
            w.short_host_names().collect::<Vec<_>>(),
            ["qserv-ci-worker-2"]
        );
    }

    #[test]
    fn several_canonical_names_give_several_short_names() {
        let mut w = worker_of(&json!({"name": "w"}));
        assert_eq!(w.short_host_names().count(), 0);
        w.svc_host_name = "a-0.a.ns.svc.cluster.local,a-0".into();
        assert_eq!(w.short_host_names().collect::<Vec<_>>(), ["a-0", "a-0"]);
    }

    #[test]
    fn the_unknown_worker_text_is_the_servers() {
        assert_eq!(
            unknown_worker_error("w1"),
            "operation failed due to: CONFIG  deleteWorker unknown worker 'w1'."
        );
    }
}
