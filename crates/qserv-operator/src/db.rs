//! A MySQL-protocol endpoint (a MariaDB server, or Qserv's czar) given as a
//! `mysql://user[:password]@host:port[/db]` URL: parsing (the password never shown), connecting
//! where [`crate::connect_to`] says the host is reached, the session every loader connection
//! starts with, and the message of a driver error.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

/// An endpoint that does not parse, or cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The endpoint URL does not parse.
    #[error("endpoint `{url}`: {reason}")]
    Endpoint { url: String, reason: String },

    /// No connection could be made (refused, unknown host, access denied).
    #[error("cannot connect to MariaDB at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Session settings of every loader connection:
/// - strict SQL mode, so a value MariaDB would truncate or replace (too long, out of range,
///   not a number) is an error naming the row instead of a warning and silently other data;
/// - utf8mb4 on the wire, the encoding of the readers' strings.
const SESSION: &str = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,\
ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', NAMES utf8mb4";

/// Where a MariaDB server listens, and how to log in.
#[derive(Clone, Debug)]
pub struct Endpoint {
    opts: Opts,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self> {
        let opts = Opts::from_url(url).map_err(|err| DbError::Endpoint {
            // The URL may hold a password: show only what the parser reports.
            url: redact(url),
            reason: err.to_string(),
        })?;
        Ok(Endpoint { opts })
    }

    /// `host:port`, for messages (never the password).
    pub fn address(&self) -> String {
        format!("{}:{}", self.opts.ip_or_hostname(), self.opts.tcp_port())
    }

    /// The parsed URL (for clients that need a session of their own, like the result checks).
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// The connection options with the host and port where the server is reached from here:
    /// a Service name goes where the address map says (local mode, port-forwards).
    pub fn reached_opts(&self) -> mysql_async::OptsBuilder {
        let (host, port) =
            crate::connect_to::resolve(self.opts.ip_or_hostname(), self.opts.tcp_port());
        mysql_async::OptsBuilder::from_opts(self.opts.clone())
            .ip_or_hostname(host)
            .tcp_port(port)
    }

    /// A connection on `database` that sends nothing but what the handshake carries (no session
    /// statements), the way lsst/qserv's integration tests reach a czar (`itest.py`,
    /// `run_attached`: the `mysql` client with `--database`).
    pub async fn connect_on(&self, database: &str) -> Result<Conn, mysql_async::Error> {
        Conn::new(self.reached_opts().db_name(Some(database))).await
    }

    /// A new connection with the loader session settings.
    pub async fn connect(&self) -> Result<Conn> {
        let connect_error = |err: mysql_async::Error| DbError::Connect {
            endpoint: self.address(),
            reason: reason(&err),
        };
        let mut conn = Conn::new(self.reached_opts())
            .await
            .map_err(connect_error)?;
        conn.query_drop(SESSION).await.map_err(connect_error)?;
        Ok(conn)
    }
}

/// The innermost message of a driver error (its own display repeats the wrapping layers).
/// Whether a result column of `column_type` holds numbers (the text protocol still sends
/// them as text).
pub fn is_numeric(column_type: mysql_async::consts::ColumnType) -> bool {
    use mysql_async::consts::ColumnType::*;
    matches!(
        column_type,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_YEAR
    )
}

pub fn reason(err: &mysql_async::Error) -> String {
    match err {
        mysql_async::Error::Io(mysql_async::IoError::Io(e)) => e.to_string(),
        mysql_async::Error::Server(e) => e.message.clone(),
        other => other.to_string(),
    }
}

/// `url` with the password part replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_and_redaction() {
        let e = Endpoint::parse("mysql://root@127.0.0.1:3307/db").unwrap();
        assert_eq!(e.address(), "127.0.0.1:3307");
        assert_eq!(
            redact("mysql://qsmaster:secret@czar:3306/x"),
            "mysql://qsmaster:***@czar:3306/x"
        );
        let err = Endpoint::parse("mysql://u:pw@host:notaport").unwrap_err();
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}
