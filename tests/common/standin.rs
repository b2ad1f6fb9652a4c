//! The replication stand-in on two worker MariaDBs and a czar MariaDB, with the keys the
//! replication tests use.

use qserv_local::replication::{ReplicationStandIn, StandInConfig, StandInWorker};

use super::MariaDb;

pub const AUTH: &str = "ingest-key";
pub const ADMIN: &str = "admin-key";

/// A stand-in whose workers `worker-0` and `worker-1` are `workers`, publishing into `czar`.
pub async fn start(workers: [&MariaDb; 2], czar: &MariaDb) -> ReplicationStandIn {
    let mut config = StandInConfig::new(AUTH, ADMIN, &czar.url());
    config.workers = workers
        .iter()
        .enumerate()
        .map(|(i, w)| StandInWorker {
            name: format!("worker-{i}"),
            host: format!("worker-{i}.local"),
            mysql: w.url(),
        })
        .collect();
    ReplicationStandIn::start(config).await.unwrap()
}
