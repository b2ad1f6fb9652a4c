//! Worker scale-down guard. A StatefulSet scale-down removes the highest ordinals; if one of
//! those workers holds chunk tables, its chunks would vanish from query results (the test
//! instances this operator makes have no replicas to fall back on). So the controller asks each
//! worker that would go away, and keeps the current size unless `spec.workers.allowDataLoss`.
//! Once the pods are gone, [`deregister_departed`] removes them from the replication system,
//! which would otherwise keep placing chunks on them.

use std::time::Duration;

use super::departed::{Departed, departed};
use crate::qserv::replication::{ClientOptions, ReplicationClient, RetryPolicy};
use crate::qserv::worker::chunk_table_count;

/// One worker that would be removed.
#[derive(Debug, Clone)]
pub struct DepartingWorker {
    pub pod: String,
    pub endpoint: String,
}

/// Why the scale-down must not happen, or None when every departing worker holds no chunks.
pub async fn refuse_scale_down(departing: &[DepartingWorker]) -> Option<String> {
    let mut problems = Vec::new();
    for worker in departing {
        match chunk_table_count(&worker.endpoint).await {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{} holds {n} chunk tables", worker.pod)),
            Err(e) => problems.push(format!(
                "cannot tell whether {} holds chunks ({e})",
                worker.pod
            )),
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "scale-down to fewer workers refused: {}; set spec.workers.allowDataLoss: true to \
             remove them anyway",
            problems.join("; ")
        )
    })
}

/// Where the operator reaches the cluster's replication system, and its keys.
#[derive(Debug, Clone)]
pub struct ReplicationAccess {
    /// The controller, `status.endpoints.replication` (`http://<cluster>-repl.<ns>.svc:8080`).
    pub controller_url: String,
    /// The registry, `http://<cluster>-repl-registry.<ns>.svc:8080`.
    pub registry_url: String,
    /// `--instance-id` of every Qserv container: the cluster's name.
    pub instance_id: String,
    pub auth_key: String,
    pub admin_auth_key: String,
}

/// Removes the workers a carried-out scale-down left in the replication system (those
/// [`departed`] finds beyond `desired` pods of `sts`): from the registry, then from the
/// configuration (the order [`crate::qserv::replication`]'s `workers` module explains).
/// Returns the workers removed; an error says which removal failed, with Qserv's text. A
/// controller that cannot be listed is skipped (logged): nothing is known to remove.
pub async fn deregister_departed(
    access: &ReplicationAccess,
    sts: &str,
    desired: i32,
) -> Result<Vec<Departed>, String> {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        long_request_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        },
    };
    let client = ReplicationClient::with_options(
        &access.controller_url,
        &access.auth_key,
        &access.admin_auth_key,
        options,
    )
    .map_err(|e| e.to_string())?;
    // A controller that does not answer yet (pods ready before its HTTP server, a test
    // cluster without Qserv) has nothing to say: looked at again next reconcile. What it
    // refuses once it answers is an error.
    let workers = match client.workers().await {
        Ok(workers) => workers,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the replication system's workers");
            return Ok(Vec::new());
        }
    };
    let gone = departed(&workers, sts, desired);
    for d in &gone {
        client
            .delete_registry_worker(&access.registry_url, &access.instance_id, &d.worker)
            .await
            .map_err(|e| format!("cannot remove worker {} (pod {}): {e}", d.worker, d.pod))?;
        client
            .delete_worker(&d.worker)
            .await
            .map_err(|e| format!("cannot remove worker {} (pod {}): {e}", d.worker, d.pod))?;
    }
    Ok(gone)
}
