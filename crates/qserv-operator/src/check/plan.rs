//! What a check run checks: the built-in checks of the tables, the user's checks, a query
//! directory, the caps.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::CheckError;
use super::builtin::{self, TableCheck};
use crate::api::catalog_ingest::{CatalogIngestSpec, CheckSpec};

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
    /// Its files not to run, by number (see [`super::suite`]).
    pub skip_numbers: Vec<String>,
    /// Cap of sorted comparisons, bytes per side ([`DEFAULT_MAX_SORT_BYTES`] when 0).
    pub max_sort_bytes: usize,
    /// Longest a user check or a query may run (none: no limit). Built-in checks scan whole
    /// tables and have no limit.
    pub timeout: Option<Duration>,
}

impl CheckPlan {
    /// Built-in checks of the spec's tables (rows read unknown), its checks and its query skip
    /// numbers (the directory itself is where the caller finds it).
    pub fn from_spec(spec: &CatalogIngestSpec) -> Result<Self, CheckError> {
        let p = &spec.partitioning;
        Ok(CheckPlan {
            tables: builtin::tables_from_spec(spec),
            layout: Some((p.stripes, p.sub_stripes, p.overlap)),
            checks: spec.checks.clone(),
            skip_numbers: spec.query_skip_numbers.clone(),
            ..CheckPlan::default()
        })
    }

    /// Sets the units (ra, dec) of the named tables' positions, as their input files say.
    pub fn with_position_units(
        mut self,
        units: &BTreeMap<String, (crate::catalog::AngleUnit, crate::catalog::AngleUnit)>,
    ) -> Self {
        for table in &mut self.tables {
            if let (Some(position), Some(u)) = (&mut table.position, units.get(&table.name)) {
                position.units = Some(*u);
            }
        }
        self
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
