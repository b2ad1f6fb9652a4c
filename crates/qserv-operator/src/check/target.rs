//! Where checks run: two endpoints and a database, and a connection to each side.

use mysql_async::Conn;

use super::CheckError;
use super::compare;
use super::databases::{Databases, reference_database};
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
    /// The database on Qserv.
    pub database: String,
    /// The database on the reference: [`reference_database`] of `database` unless set.
    pub reference_database: String,
    /// The Qserv side lacks Qserv's own SQL functions (`scisql_*`, `qserv_areaspec_*`): checks
    /// calling them are skipped.
    pub without_qserv_functions: bool,
}

impl CheckTarget {
    /// The target of the Qserv database `database`, its reference copy named by
    /// [`reference_database`].
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
            reference_database: reference_database(database),
            without_qserv_functions,
        })
    }

    /// Both databases.
    pub fn databases(&self) -> Databases {
        Databases {
            qserv: self.database.clone(),
            reference: self.reference_database.clone(),
        }
    }
}

/// One open connection per side, each on its side's database.
pub struct Conns {
    pub qserv: Conn,
    pub reference: Option<Conn>,
}

impl Conns {
    pub async fn open(target: &CheckTarget) -> Result<Self, CheckError> {
        let reference = async {
            match &target.reference {
                Some(endpoint) => use_database(
                    endpoint,
                    &target.reference_database,
                    compare::Side::Reference,
                )
                .await
                .map(Some),
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
    let mut conn = conn.map_err(|err| CheckError::Database {
        side,
        endpoint: endpoint.address(),
        database: database.to_string(),
        message: reason(&err),
    })?;
    // Checks only read: where the server takes it, nothing later on this connection can write.
    crate::read_only::make_read_only(&mut conn).await;
    Ok(conn)
}
