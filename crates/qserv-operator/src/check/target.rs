//! Where checks run (two endpoints and a database) and what they check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mysql_async::Conn;

use super::CheckError;
use super::builtin::{self, TableCheck};
use super::compare;
use crate::api::catalog_ingest::{CatalogIngestSpec, CheckSpec};
use crate::db::{Endpoint, reason};
use crate::qserv::czar;

/// The two servers and the database the checks run on.
#[derive(Clone, Debug)]
pub struct CheckTarget {
    /// Qserv's query endpoint (the czar).
    pub qserv: Endpoint,
    /// The plain MariaDB holding the unpartitioned copies; without one, the checks comparing
    /// with it are skipped and row counts are checked against the rows read only.
    pub reference: Option<Endpoint>,
    /// Database name on both sides.
    pub database: String,
    /// The Qserv side lacks Qserv's own SQL functions (`scisql_*`, `qserv_areaspec_*`): checks
    /// calling them are skipped.
    pub without_qserv_functions: bool,
}

impl CheckTarget {
    pub fn parse(
        qserv: &str,
        reference: Option<&str>,
        database: &str,
        without_qserv_functions: bool,
    ) -> Result<Self, CheckError> {
        Ok(CheckTarget {
            qserv: Endpoint::parse(qserv)?,
            reference: reference.map(Endpoint::parse).transpose()?,
            database: database.to_string(),
            without_qserv_functions,
        })
    }
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckPlan {
    /// Tables for the built-in checks.
    pub tables: Vec<TableCheck>,
    /// Layout of the partitioned tables: (stripes, sub-stripes, overlap in degrees).
    pub layout: Option<(i32, i32, f64)>,
    /// The user's checks.
    pub checks: Vec<CheckSpec>,
    /// A qserv_testdata `queries/` directory.
    pub queries: Option<PathBuf>,
    /// Cap of sorted comparisons, bytes per side ([`DEFAULT_MAX_SORT_BYTES`] when 0).
    pub max_sort_bytes: usize,
    /// Longest a user check or a query may run (none: no limit). Built-in checks scan whole
    /// tables and have no limit.
    pub timeout: Option<Duration>,
}

impl CheckPlan {
    /// Built-in checks of the spec's tables (rows read unknown) and its checks.
    pub fn from_spec(spec: &CatalogIngestSpec) -> Result<Self, CheckError> {
        let p = &spec.partitioning;
        Ok(CheckPlan {
            tables: builtin::tables_from_spec(spec),
            layout: Some((p.stripes, p.sub_stripes, p.overlap)),
            checks: spec.checks.clone(),
            ..CheckPlan::default()
        })
    }

    /// Sets the rows read of the named tables (others keep theirs).
    pub fn with_rows_read(mut self, rows_read: &BTreeMap<String, u64>) -> Self {
        for table in &mut self.tables {
            if let Some(n) = rows_read.get(&table.name) {
                table.rows_read = Some(*n);
            }
        }
        self
    }
}

/// One open connection per side, on the checked database.
pub struct Conns {
    pub qserv: Conn,
    pub reference: Option<Conn>,
}

impl Conns {
    pub async fn open(target: &CheckTarget) -> Result<Self, CheckError> {
        let reference = async {
            match &target.reference {
                Some(endpoint) => {
                    use_database(endpoint, &target.database, compare::Side::Reference)
                        .await
                        .map(Some)
                }
                None => Ok(None),
            }
        };
        let (q, r) = futures::join!(
            use_database(&target.qserv, &target.database, compare::Side::Qserv),
            reference
        );
        Ok(Conns {
            qserv: q?,
            reference: r?,
        })
    }

    pub async fn disconnect(self) {
        let reference = async {
            if let Some(r) = self.reference {
                let _ = r.disconnect().await;
            }
        };
        let _ = futures::join!(self.qserv.disconnect(), reference);
    }
}

/// A connection on the checked database: Qserv's side as its czar is reached
/// ([`crate::qserv::czar::connect`]), the reference's the same way, so both are compared alike.
async fn use_database(
    endpoint: &Endpoint,
    database: &str,
    side: compare::Side,
) -> Result<Conn, CheckError> {
    let conn = match side {
        compare::Side::Qserv => czar::connect(endpoint, database).await,
        compare::Side::Reference => endpoint.connect_on(database).await,
    };
    conn.map_err(|err| CheckError::Database {
        side,
        endpoint: endpoint.address(),
        database: database.to_string(),
        message: reason(&err),
    })
}
