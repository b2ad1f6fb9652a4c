//! Statements of a load and their errors: MariaDB's messages become [`LoadError`]s naming the
//! table, and a rejected row's "at row N" becomes the input file and row.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::error::{LoadError, Result};
use crate::db::reason;

/// MariaDB reports some problems as warnings even in strict mode; a load treats the first
/// one as the error it is.
pub(crate) async fn first_warning(conn: &mut Conn) -> std::result::Result<(), mysql_async::Error> {
    let warning: Option<(String, u16, String)> = conn.query_first("SHOW WARNINGS LIMIT 1").await?;
    match warning {
        Some((_, code, message)) => Err(mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message,
            state: "01000".into(),
        })),
        None => Ok(()),
    }
}

/// Runs statements and turns driver errors into [`LoadError`]s naming the table.
pub(crate) struct Sql {
    pub(crate) endpoint: String,
    pub(crate) table: String,
}

impl Sql {
    pub(crate) fn error(&self, action: &str, message: &str) -> LoadError {
        LoadError::Sql {
            table: self.table.clone(),
            action: action.to_string(),
            message: message.to_string(),
        }
    }

    pub(crate) async fn run(&self, conn: &mut Conn, action: &str, statement: &str) -> Result<()> {
        conn.query_drop(statement).await.map_err(|err| match err {
            mysql_async::Error::Server(e) => LoadError::Sql {
                table: self.table.clone(),
                action: action.to_string(),
                message: e.message,
            },
            other => self.load_error(other, |row| (Default::default(), row)),
        })
    }

    /// A driver error during a load. `locate` maps the 1-based row of the failing statement
    /// (MariaDB's "at row N") to the input file and the row in it.
    pub(crate) fn load_error(
        &self,
        err: mysql_async::Error,
        locate: impl Fn(u64) -> (std::path::PathBuf, u64),
    ) -> LoadError {
        match err {
            mysql_async::Error::Server(e) => match row_of(&e.message) {
                Some(row) => {
                    let (file, row) = locate(row);
                    LoadError::RowRejected {
                        table: self.table.clone(),
                        file,
                        row,
                        message: e.message,
                    }
                }
                None => LoadError::Sql {
                    table: self.table.clone(),
                    action: "load the rows".into(),
                    message: e.message,
                },
            },
            err @ mysql_async::Error::Io(_) => LoadError::ConnectionLost {
                endpoint: self.endpoint.clone(),
                table: self.table.clone(),
                reason: reason(&err),
            },
            other => LoadError::Sql {
                table: self.table.clone(),
                action: "load the rows".into(),
                message: reason(&other),
            },
        }
    }
}

/// The row number of MariaDB messages such as "Data too long for column 'x' at row 3".
fn row_of(message: &str) -> Option<u64> {
    let at = message.rfind(" at row ")?;
    let digits: String = message[at + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_numbers_come_from_mariadb_messages() {
        assert_eq!(row_of("Data too long for column 'name' at row 3"), Some(3));
        assert_eq!(
            row_of("Incorrect integer value: 'x' for column `db`.`t`.`a` at row 12"),
            Some(12)
        );
        assert_eq!(row_of("Table 'x' doesn't exist"), None);
    }
}
