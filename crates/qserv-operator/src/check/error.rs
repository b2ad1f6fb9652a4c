//! What prevents the checks from running at all (a failed check is a result, not an error).

use super::compare;

/// An error that prevents the checks from running.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Endpoint(#[from] crate::db::DbError),
    #[error("{side} ({endpoint}): cannot connect to database `{database}`: {message}")]
    Database {
        side: compare::Side,
        endpoint: String,
        database: String,
        message: String,
    },
    #[error("query directory {0}")]
    QueryDir(std::io::Error),
    #[error("partitioning {stripes}/{sub_stripes}/{overlap}: {reason}")]
    Layout {
        stripes: i32,
        sub_stripes: i32,
        overlap: f64,
        reason: String,
    },
}
