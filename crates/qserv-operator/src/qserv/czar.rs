//! The czar's SQL endpoint: mysql-proxy on port 4040 in front of the czar, which passes the
//! MySQL handshake through to the czar's MariaDB and rewrites queries per chunk
//! (lsst/qserv `src/admin/templates/proxy/etc/my-proxy.cnf.jinja`, `proxy-backend-addresses`).

use mysql_async::Conn;

use crate::db::Endpoint;

/// A connection on `database` as lsst/qserv's integration tests make one to Qserv (`itest.py`,
/// `run_attached`: the `mysql` client with `--database`): the database in the handshake, no
/// session statements, and only text-protocol queries afterwards, which is all a czar needs to
/// understand.
pub async fn connect(czar: &Endpoint, database: &str) -> Result<Conn, mysql_async::Error> {
    czar.connect_on(database).await
}
