//! `qserv-operator query`: runs one SQL statement on a MariaDB or Qserv endpoint and writes
//! the result as a table, CSV or JSON, streaming rows (except the table, which needs widths).
//!
//! Statements go through the binary protocol (a prepared statement) so floats arrive as the
//! stored bits; a statement MariaDB cannot prepare falls back to the text protocol.

mod error;
pub mod format;
pub mod hdf5;
pub mod hdf5_columns;

use futures::future::LocalBoxFuture;
use std::io::Write;
use std::path::{Path, PathBuf};

use mysql_async::prelude::Queryable;

use crate::db::{Endpoint, reason};
pub use error::QueryError;
pub use format::{OutputFormat, ResultColumn, RowWriter};

/// MariaDB's "This command is not supported in the prepared statement protocol yet".
const ER_UNSUPPORTED_PS: u16 = 1295;

/// Arguments of `qserv-operator query`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueryArgs {
    /// `mysql://user[:password]@host:port[/database]`.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// The SQL statement.
    pub sql: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Write the result to this file instead of standard output (required for hdf5).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// HDF5 path of the table in the `--format hdf5` output (astropy's default path if unset).
    #[arg(long, value_name = "PATH", default_value = hdf5::DEFAULT_DATASET)]
    pub dataset: String,
}

/// Runs `args.sql` and writes its result; returns the number of rows.
pub fn run<'a>(args: &'a QueryArgs) -> LocalBoxFuture<'a, Result<u64, QueryError>> {
    Box::pin(run_unboxed(args))
}

async fn run_unboxed(args: &QueryArgs) -> Result<u64, QueryError> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    crate::read_only::only_a_query(&args.sql)?;
    if args.format == OutputFormat::Hdf5 {
        return run_hdf5(args, &endpoint).await;
    }
    // The output is opened first: an unwritable path fails before the query runs.
    let (out, file): (Box<dyn Write>, PathBuf) = match &args.out {
        Some(path) => (
            Box::new(std::fs::File::create(path).map_err(|err| output_error(path, err))?),
            path.clone(),
        ),
        None => (
            Box::new(std::io::stdout().lock()),
            PathBuf::from("(stdout)"),
        ),
    };
    let out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut conn = endpoint.connect().await?;
    crate::read_only::make_read_only(&mut conn).await;
    let sql_error = |err: mysql_async::Error| QueryError::Sql {
        endpoint: endpoint.address(),
        message: reason(&err),
    };
    // The same loop over either protocol's result (their types differ).
    macro_rules! write_all {
        ($result:expr) => {{
            let mut result = $result;
            let columns = result_columns(result.columns_ref());
            let mut writer = RowWriter::new(out, args.format, columns)
                .map_err(|err| output_error(&file, err))?;
            loop {
                match result.next().await {
                    Ok(Some(row)) => writer
                        .row(&row.unwrap())
                        .map_err(|err| output_error(&file, err))?,
                    Ok(None) => break,
                    // A statement can fail after its first rows.
                    Err(err) => return Err(sql_error(err)),
                }
            }
            writer.finish().map_err(|err| output_error(&file, err))?
        }};
    }
    let rows = match conn.prep(args.sql.as_str()).await {
        Ok(statement) => write_all!(conn.exec_iter(statement, ()).await.map_err(sql_error)?),
        Err(mysql_async::Error::Server(e)) if e.code == ER_UNSUPPORTED_PS => {
            write_all!(
                conn.query_iter(args.sql.as_str())
                    .await
                    .map_err(sql_error)?
            )
        }
        Err(err) => return Err(sql_error(err)),
    };
    let _ = conn.disconnect().await;
    Ok(rows)
}

/// `run` for `--format hdf5`: the output is created once the result's columns are known
/// (from the prepared statement, before it runs, when MariaDB can prepare it).
async fn run_hdf5(args: &QueryArgs, endpoint: &Endpoint) -> Result<u64, QueryError> {
    let out = args.out.as_deref().ok_or_else(|| QueryError::Output {
        file: PathBuf::from("(stdout)"),
        reason: "HDF5 output needs --out FILE".into(),
    })?;
    let mut conn = endpoint.connect().await?;
    crate::read_only::make_read_only(&mut conn).await;
    let sql_error = |err: mysql_async::Error| QueryError::Sql {
        endpoint: endpoint.address(),
        message: reason(&err),
    };
    macro_rules! write_all {
        ($result:expr, $writer:expr) => {{
            let mut result = $result;
            let mut writer = $writer;
            loop {
                match result.next().await {
                    Ok(Some(row)) => writer.row(&row.unwrap())?,
                    Ok(None) => break,
                    Err(err) => return Err(sql_error(err)),
                }
            }
            writer.finish()?
        }};
    }
    let rows = match conn.prep(args.sql.as_str()).await {
        Ok(statement) => {
            let mut columns = hdf5_columns(&statement.columns())?;
            let sources: Vec<(String, String, String)> = statement
                .columns()
                .iter()
                .map(|c| {
                    (
                        c.schema_str().into_owned(),
                        c.org_table_str().into_owned(),
                        c.org_name_str().into_owned(),
                    )
                })
                .collect();
            hdf5::add_comments(&mut conn, &mut columns, &sources).await;
            let writer = hdf5::Hdf5Writer::create(out, &args.dataset, columns)?;
            write_all!(
                conn.exec_iter(statement, ()).await.map_err(sql_error)?,
                writer
            )
        }
        Err(mysql_async::Error::Server(e)) if e.code == ER_UNSUPPORTED_PS => {
            let result = conn
                .query_iter(args.sql.as_str())
                .await
                .map_err(sql_error)?;
            let columns = hdf5_columns(result.columns_ref())?;
            let writer = hdf5::Hdf5Writer::create(out, &args.dataset, columns)?;
            write_all!(result, writer)
        }
        Err(err) => return Err(sql_error(err)),
    };
    let _ = conn.disconnect().await;
    Ok(rows)
}

fn hdf5_columns(
    columns: &[mysql_async::Column],
) -> Result<Vec<hdf5_columns::Hdf5Column>, QueryError> {
    columns
        .iter()
        .map(|c| {
            let name = c.name_str().into_owned();
            hdf5_columns::Hdf5Column::new(
                &name,
                c.column_type(),
                c.flags(),
                c.column_length() as usize,
            )
            .map_err(|reason| QueryError::Column {
                column: name,
                reason,
            })
        })
        .collect()
}

fn result_columns(columns: &[mysql_async::Column]) -> Vec<ResultColumn> {
    columns
        .iter()
        .map(|c| ResultColumn::new(&c.name_str(), c.column_type()))
        .collect()
}

fn output_error(file: &Path, err: std::io::Error) -> QueryError {
    QueryError::Output {
        file: file.to_path_buf(),
        reason: err.to_string(),
    }
}
