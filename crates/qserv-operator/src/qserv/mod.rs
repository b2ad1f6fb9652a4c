//! The client of Qserv: everything the operator says to a Qserv service goes through here, and
//! each call cites the Qserv handler that answers it (lsst/qserv at the release the operator
//! targets).
//!
//! - [`replication`]: the replication system's REST API, the Master Replication Controller
//!   (database and table registration, transactions, chunk placement, publishing, the director
//!   index, row counters) and the workers' HTTP ingest services (contributions); its API
//!   version and error shapes.
//! - [`czar`]: the czar's SQL endpoint (mysql-proxy in front of the czar), as Qserv's own
//!   integration tests reach it.
//! - [`worker`]: what the operator asks a worker's MariaDB directly (whether it holds chunks).
//! - [`chunk_tables`]: the names and DDL of the tables a worker holds for a partitioned table.
//!
//! `load/` (the ingest workflow), `check/` (result checks), `cluster/` (scale-down) and
//! `ingest/` (the Jobs) use this module; nothing else in the operator speaks to Qserv.

pub mod chunk_tables;
pub mod czar;
pub mod replication;
pub mod worker;
