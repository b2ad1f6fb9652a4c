//! `CatalogIngest`: a declarative ingest of a catalog into a QservCluster, with a reference copy
//! in plain MariaDB and result checks that prove Qserv answers like the reference.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::angle::parse_angle_degrees;
pub use super::csv_dialect::CsvDialect;
use super::validation::{FieldPath, Problems, ValidationErrors};

/// Ingest of one catalog (a Qserv database of one or more tables) into a QservCluster:
/// partition the input into chunks with overlap, load it through Qserv's replication ingest
/// API, load an unpartitioned reference copy, run result checks, and report rows, chunks and
/// each check's outcome in `status`.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "qserv.in2p3.fr",
    version = "v1alpha1",
    kind = "CatalogIngest",
    doc = "A declarative ingest of a catalog into a QservCluster, proven by result checks.",
    plural = "catalogingests",
    shortname = "cing",
    category = "qserv",
    namespaced,
    status = "CatalogIngestStatus",
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.cluster"}"#,
    printcolumn = r#"{"name":"Database","type":"string","priority":1,"jsonPath":".spec.database"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Rows","type":"integer","jsonPath":".status.rowsLoaded"}"#,
    printcolumn = r#"{"name":"Checks","type":"string","description":"passed/total result checks","jsonPath":".status.checksSummary"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CatalogIngestSpec {
    /// Name of the QservCluster (same namespace) to ingest into.
    #[x_kube(validation = Rule::new("self != ''").message("cluster must not be empty"))]
    pub cluster: String,

    /// Qserv database to create and publish (letters, digits, '_').
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]{0,63}$')").message("database must be a SQL identifier"))]
    pub database: String,

    /// Spherical partitioning of the database; immutable once set.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("partitioning is immutable"))]
    pub partitioning: Partitioning,

    /// Where the input files are.
    pub source: Source,

    /// The tables to ingest; directors are registered before their children.
    #[x_kube(validation = Rule::new("self.all(t, t.role != 'child' || (has(t.director) && self.exists(d, d.name == t.director && d.role == 'director')))").message("a child table's director must be a director table of this ingest"))]
    #[schemars(length(min = 1, max = 64))]
    pub tables: Vec<TableSpec>,

    /// Keep only rows inside this cone (applied to every table with ra/dec columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<ConeRegion>,

    /// Keep only rows of these bands (applied to tables that have the column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<BandFilter>,

    /// Result checks run after publishing, against Qserv and the reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub checks: Vec<CheckSpec>,
    /// A directory of qserv_testdata-style queries (`NNNN_name.sql`, with `-- pragma
    /// sortresult`, `-- withQserv`, `-- noQserv`; `.FIXME` files skipped), relative to the
    /// source: each runs on Qserv and on the reference and must give the same rows. The
    /// reference copy of a `database` ending in `_qserv` ends in `_mysql` instead, as
    /// qserv_testdata names it (and `{DBTAG_A}` says on each side); other names are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')").message("queries must be a path inside the source (relative, without ..)"))]
    pub queries: Option<String>,
    /// Query numbers of `queries` not to run, as `skip_numbers` in Qserv's
    /// `etc/integration_tests.yaml`: a `.sql` file is skipped when the text before the first
    /// `_` of its name is one of them (`2100` skips `2100_groupByChunkId.sql`, not
    /// `2100.1_x.sql`). Skipped files are listed in `status.skippedChecks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("self.all(n, n.matches('^[^_/]+$'))").message("querySkipNumbers: a query number is the text before the first '_' of a file name: not empty, without '_' or '/'"))]
    pub query_skip_numbers: Vec<String>,
    /// Let a table through when Qserv's `LOAD DATA` of a contribution reports warnings (values
    /// coerced or truncated, missing fields: `num_warnings` of the contribution,
    /// `Q@2026.3.3-rc1:src/replica/ingest/TransactionContrib.cc`). By default a warning fails
    /// the table and its transaction is aborted; either way the count is in
    /// `status.tables[].warnings`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_warnings: bool,
}

/// Qserv's spherical partitioning parameters (`part.num-stripes`, `part.num-sub-stripes`,
/// `part.overlap`). 340/3/0.01667 is LSST DP0.2 production; 85/12/0.01667 the test datasets.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Partitioning {
    /// Number of latitude stripes.
    #[serde(default = "default_stripes")]
    #[x_kube(validation = Rule::new("self > 0").message("stripes must be > 0"))]
    pub stripes: i32,
    /// Sub-stripes per stripe.
    #[serde(default = "default_sub_stripes")]
    #[x_kube(validation = Rule::new("self > 0").message("subStripes must be > 0"))]
    pub sub_stripes: i32,
    /// Overlap radius in degrees (0 <= overlap < 10).
    #[serde(default = "default_overlap")]
    #[x_kube(validation = Rule::new("self >= 0.0 && self < 10.0").message("overlap must be in [0, 10) degrees"))]
    pub overlap: f64,
}

impl Default for Partitioning {
    fn default() -> Self {
        Partitioning {
            stripes: default_stripes(),
            sub_stripes: default_sub_stripes(),
            overlap: default_overlap(),
        }
    }
}

fn default_stripes() -> i32 {
    340
}
fn default_sub_stripes() -> i32 {
    3
}
fn default_overlap() -> f64 {
    0.01667
}

/// Input location: exactly one of `url`, `pvc`, `path`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.url), has(self.pvc), has(self.path)].filter(x, x).size() == 1").message("source needs exactly one of url, pvc, path"))]
pub struct Source {
    /// Base http(s) URL; table `files` are relative to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A PersistentVolumeClaim mounted into the ingest Jobs; `files` are relative to `subPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcSource>,
    /// A directory on the machine running the Jobs (local mode, or a hostPath).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Input files on a PVC.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    pub claim_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// Input file format.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Hdf5,
    Parquet,
}

/// Role of a table in Qserv.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableRole {
    /// Partitioned by its own position; other tables may refer to its id.
    Director,
    /// Partitioned by the position of the director row its foreign key refers to.
    Child,
    /// Not partitioned: replicated to every worker.
    #[default]
    Regular,
}

/// Unit of the position columns.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AngleUnit {
    Degree,
    Radian,
    Arcminute,
    Arcsecond,
    Milliarcsecond,
    /// astropy's `hourangle` (15 degrees).
    Hourangle,
}

/// One table to ingest.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.role != 'director' || (has(self.idColumn) && has(self.raColumn) && has(self.decColumn))").message("a director table needs idColumn, raColumn and decColumn"))]
#[x_kube(validation = Rule::new("self.role != 'child' || (has(self.director) && has(self.foreignKey))").message("a child table needs director and foreignKey"))]
#[x_kube(validation = Rule::new("self.role != 'child' || (has(self.raColumn) && has(self.decColumn)) || (has(self.partition) && has(self.partition.raColumn) && has(self.partition.decColumn))").message("a child table needs the position its rows are partitioned by: raColumn and decColumn, or partition.raColumn and partition.decColumn"))]
#[x_kube(validation = Rule::new("self.format == 'hdf5' || !has(self.hdf5)").message("hdf5 options need format hdf5"))]
#[x_kube(validation = Rule::new("self.role != 'regular' || !has(self.partition)").message("partition is only for director and child tables"))]
#[x_kube(validation = Rule::new("!has(self.schemaTable) || has(self.schema)").message("schemaTable names a table of schema: it needs schema"))]
pub struct TableSpec {
    /// Table name in Qserv.
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]{0,63}$')").message("table name must be a SQL identifier"))]
    pub name: String,
    /// Input format.
    pub format: Format,
    /// CSV/TSV dialect (defaults follow the format: `,` or tab, `\N` for NULL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvDialect>,
    /// HDF5 options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdf5: Option<Hdf5Options>,
    /// Input files relative to the source: paths or glob patterns (`Object*.tsv.gz`), inside
    /// it (no absolute path, no `..`).
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self.all(f, !f.startsWith('/') && !f.matches('(^|/)[.][.](/|$)'))").message("files must be paths inside the source (relative, without ..)"))]
    pub files: Vec<String>,
    /// Qserv table role.
    #[serde(default)]
    pub role: TableRole,
    /// Unique object id column (director tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Right ascension column (director and child tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ra_column: Option<String>,
    /// Declination column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dec_column: Option<String>,
    /// Unit of the position columns in the input, when the file does not say (CSV/TSV, or a
    /// column without a unit). By default the file's own: astropy's `unit` (HDF5, Parquet),
    /// Parquet field metadata, Felis `ivoa:unit`, a DDL COMMENT ending `[unit]`; a file that
    /// names another angle is an error. Positions are converted to degrees where they are
    /// needed (partitioning, the cone, the checks); the data keeps its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub angle_unit: Option<AngleUnit>,
    /// This table's own partitioning, where it differs from the defaults: the columns its rows
    /// are located by and its overlap (sph-partition's `part.pos` and `part.overlap` of the
    /// table's `partition/<table>.json`). Director and child tables only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<TablePartition>,
    /// Director table of a child table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub director: Option<String>,
    /// Column of a child table holding the director's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<String>,
    /// Columns to keep, as glob patterns over column names (`coord*`, `id`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The table's schema, a file relative to the source: a MySQL DDL file (its `CREATE TABLE`
    /// of this table, else its first), or a Felis YAML (`.yaml`/`.yml`, e.g. Rubin's
    /// `dp02_dc2.yaml`) with a table of this name (or `schemaTable`). It defines the reference
    /// table, the columns Qserv registers and the types CSV/TSV files are read with; derived
    /// from the input's schema when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')").message("schema must be a path inside the source (relative, without ..)"))]
    pub schema: Option<String>,
    /// The table of `schema` that defines this one, when its name there is not `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_table: Option<String>,
    /// The table may be empty: its input may have no rows. Otherwise an input without rows
    /// fails the ingest (an empty file is far more often a broken export than intended).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
}

/// How one table is partitioned (sph-partition's `part.pos`, `part.overlap`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.raColumn) == has(self.decColumn)").message("partition.raColumn and partition.decColumn must be given together"))]
pub struct TablePartition {
    /// Right ascension column the rows are located by (`part.pos`). Default: the table's
    /// `raColumn`. A child table partitioned by its director's position names the copy of that
    /// position it carries (case01's Source: `raObject`), while its own `raColumn` is what
    /// Qserv registers as the table's longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ra_column: Option<String>,
    /// Declination column the rows are located by. Default: the table's `decColumn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dec_column: Option<String>,
    /// Overlap radius of this table in degrees (`part.overlap`). Default: `partitioning.overlap`
    /// for a director, 0 for a child (Qserv registers dependent tables without overlap,
    /// `Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:1226-1228`). A director's overlap
    /// must be the database's: Qserv keeps one per database family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0.0 && self < 10.0").message("partition.overlap must be in [0, 10) degrees"))]
    pub overlap: Option<f64>,
}

impl TableSpec {
    /// The columns the table's rows are located by: its own partitioning position, else its
    /// `raColumn`/`decColumn`.
    pub fn partition_position(&self) -> Option<(&str, &str)> {
        let own = self
            .partition
            .as_ref()
            .and_then(|p| Some((p.ra_column.as_deref()?, p.dec_column.as_deref()?)));
        own.or_else(|| Some((self.ra_column.as_deref()?, self.dec_column.as_deref()?)))
    }

    /// The overlap the table is partitioned with, given the database's.
    pub fn partition_overlap(&self, database_overlap: f64) -> f64 {
        match self.partition.as_ref().and_then(|p| p.overlap) {
            Some(o) => o,
            None if self.role == TableRole::Child => 0.0,
            None => database_overlap,
        }
    }
}

/// HDF5 options.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hdf5Options {
    /// Path of the table's compound dataset in the file (defaults to the table name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// A cone on the sky.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConeRegion {
    /// Centre right ascension, degrees.
    #[x_kube(validation = Rule::new("self >= 0.0 && self < 360.0").message("ra must be in [0, 360)"))]
    pub ra: f64,
    /// Centre declination, degrees.
    #[x_kube(validation = Rule::new("self >= -90.0 && self <= 90.0").message("dec must be in [-90, 90]"))]
    pub dec: f64,
    /// Radius with a unit: `0.4 degree`, `24 arcmin`, `90 arcsec`, `0.007 radian`.
    pub radius: String,
}

impl ConeRegion {
    /// The radius in degrees.
    pub fn radius_degrees(&self) -> Result<f64, String> {
        parse_angle_degrees(&self.radius)
    }
}

/// Keep rows whose band column is in `values`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BandFilter {
    /// Column holding the band.
    #[serde(default = "default_band_column")]
    pub column: String,
    /// Accepted bands, e.g. `[u, g, r, i, z]`.
    #[schemars(length(min = 1))]
    pub values: Vec<String>,
}

fn default_band_column() -> String {
    "filter".to_string()
}

/// What a check's result is compared with.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The same SQL on the reference MariaDB returns the same rows.
    Reference,
    /// The query returns `rows` rows.
    Rows,
    /// The query returns one value equal to `value`.
    Value,
}

/// A result check.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.expect != 'rows' || has(self.rows)").message("expect: rows needs rows"))]
#[x_kube(validation = Rule::new("self.expect != 'value' || has(self.value)").message("expect: value needs value"))]
pub struct CheckSpec {
    /// Name shown in status.
    pub name: String,
    /// The query (run on the czar, and on the reference for `expect: reference`).
    pub sql: String,
    /// What the result is compared with.
    pub expect: Expect,
    /// Expected row count for `expect: rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// Expected single value for `expect: value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Compare rows as sorted sets (the query has no ORDER BY).
    #[serde(default)]
    pub sort: bool,
}

/// Observed state of a CatalogIngest.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogIngestStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<IngestPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Partitioned, Loaded, Verified.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Rows loaded into Qserv over all tables (without overlap copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_loaded: Option<i64>,
    /// `passed/total` result checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_summary: Option<String>,
    /// Per-table figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableStatus>,
    /// Per-check outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// Checks that were not run, with the reason (queries that need Qserv-only UDFs in local
    /// mode, `.FIXME` query files, reference checks without a reference database).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_checks: Vec<SkippedCheck>,
    /// Jobs created for this ingest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
    /// Qserv super-transaction id in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
}

/// Phase of a CatalogIngest.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum IngestPhase {
    Pending,
    Partitioning,
    Loading,
    Publishing,
    Verifying,
    Succeeded,
    Failed,
}

/// Figures of one table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableStatus {
    pub name: String,
    /// Input files read for the table.
    #[serde(default)]
    pub files: i64,
    /// Their paths in the source, when there are at most [`TableStatus::MAX_FILE_NAMES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_names: Vec<String>,
    pub rows_read: i64,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    pub chunks: i64,
    pub overlap_rows: i64,
    pub bytes: i64,
    /// Warnings Qserv's `LOAD DATA` reported for the table's contributions.
    #[serde(default)]
    pub warnings: i64,
    /// Seconds the steps spent on the table, added: its partitioning (every shard), its
    /// contributions into Qserv, its reference load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

impl TableStatus {
    /// Up to this many input files are named in `fileNames`.
    pub const MAX_FILE_NAMES: usize = 10;

    /// Sets `files` and, when they are few, `fileNames`.
    pub fn set_files(&mut self, names: Vec<String>) {
        self.files = names.len() as i64;
        self.file_names = if names.len() <= Self::MAX_FILE_NAMES {
            names
        } else {
            Vec::new()
        };
    }
}

/// A check that was not run.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedCheck {
    pub name: String,
    pub reason: String,
}

/// Outcome of one result check.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qserv_rows: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_rows: Option<i64>,
    /// The first differing row, rendered `qserv: (...) reference: (...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

impl CatalogIngestSpec {
    /// Every problem in the spec, with field paths under `spec`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let spec = FieldPath::root("spec");
        let mut p = Problems::default();
        p.dns_label(&spec.at("cluster"), &self.cluster);
        p.sql_identifier(&spec.at("database"), &self.database);
        self.check_partitioning(&mut p, &spec.at("partitioning"));
        self.check_source(&mut p, &spec.at("source"));
        self.check_tables(&mut p, &spec.at("tables"));
        if let Some(queries) = &self.queries {
            p.inside_source(&spec.at("queries"), queries);
        }
        self.check_query_skip_numbers(&mut p, &spec.at("querySkipNumbers"));
        if let Some(region) = &self.region {
            let at = spec.at("region");
            p.ensure(&at.at("ra"), (0.0..360.0).contains(&region.ra), || {
                format!("must be in [0, 360), got {}", region.ra)
            });
            p.ensure(&at.at("dec"), (-90.0..=90.0).contains(&region.dec), || {
                format!("must be in [-90, 90], got {}", region.dec)
            });
            match region.radius_degrees() {
                Ok(r) => p.ensure(&at.at("radius"), r > 0.0 && r <= 180.0, || {
                    format!("must be in (0, 180] degrees, got {r}")
                }),
                Err(e) => p.add(&at.at("radius"), e),
            }
        }
        if let Some(filters) = &self.filters {
            let at = spec.at("filters");
            p.not_empty(&at.at("column"), &filters.column);
            p.ensure(&at.at("values"), !filters.values.is_empty(), || {
                "must not be empty".into()
            });
        }
        let mut seen = BTreeSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            let at = spec.at("checks").index(i);
            p.not_empty(&at.at("name"), &check.name);
            p.ensure(&at.at("name"), seen.insert(check.name.as_str()), || {
                format!("duplicate check name {:?}", check.name)
            });
            p.not_empty(&at.at("sql"), &check.sql);
            match check.expect {
                Expect::Rows => {
                    p.ensure(&at.at("rows"), check.rows.is_some_and(|r| r >= 0), || {
                        "expect: rows needs rows >= 0".into()
                    })
                }
                Expect::Value => p.ensure(&at.at("value"), check.value.is_some(), || {
                    "expect: value needs value".into()
                }),
                Expect::Reference => {}
            }
        }
        p.finish()
    }

    fn check_partitioning(&self, p: &mut Problems, at: &FieldPath) {
        let part = &self.partitioning;
        p.ensure(&at.at("stripes"), part.stripes > 0, || {
            format!("must be > 0, got {}", part.stripes)
        });
        p.ensure(&at.at("subStripes"), part.sub_stripes > 0, || {
            format!("must be > 0, got {}", part.sub_stripes)
        });
        p.ensure(
            &at.at("overlap"),
            (0.0..10.0).contains(&part.overlap),
            || format!("must be in [0, 10) degrees, got {}", part.overlap),
        );
    }

    /// A skip number is compared with the text before the first `_` of a file name: one that
    /// is empty or holds `_` or `/` can never match, and without `queries` nothing is skipped.
    fn check_query_skip_numbers(&self, p: &mut Problems, at: &FieldPath) {
        p.ensure(
            at,
            self.query_skip_numbers.is_empty() || self.queries.is_some(),
            || "skips files of spec.queries, which is not set".into(),
        );
        for (i, number) in self.query_skip_numbers.iter().enumerate() {
            p.ensure(
                &at.index(i),
                !number.is_empty() && !number.contains(['_', '/']),
                || {
                    format!(
                        "{number:?} can never match: a query number is the text before the \
                         first '_' of a file name (not empty, without '_' or '/')"
                    )
                },
            );
        }
    }

    fn check_source(&self, p: &mut Problems, at: &FieldPath) {
        let s = &self.source;
        let given = [s.url.is_some(), s.pvc.is_some(), s.path.is_some()]
            .into_iter()
            .filter(|x| *x)
            .count();
        p.ensure(at, given == 1, || {
            format!("needs exactly one of url, pvc, path; got {given}")
        });
        if let Some(url) = &s.url {
            p.ensure(
                &at.at("url"),
                url.starts_with("http://") || url.starts_with("https://"),
                || format!("must be an http(s) URL, got {url:?}"),
            );
        }
        if let Some(pvc) = &s.pvc {
            p.dns_label(&at.at("pvc").at("claimName"), &pvc.claim_name);
        }
        if let Some(path) = &s.path {
            p.not_empty(&at.at("path"), path);
        }
    }

    fn check_tables(&self, p: &mut Problems, at: &FieldPath) {
        p.ensure(at, !self.tables.is_empty(), || {
            "at least one table is needed".into()
        });
        let mut names = BTreeSet::new();
        for (i, t) in self.tables.iter().enumerate() {
            let tat = at.index(i);
            p.sql_identifier(&tat.at("name"), &t.name);
            p.ensure(&tat.at("name"), names.insert(t.name.as_str()), || {
                format!("duplicate table name {:?}", t.name)
            });
            p.ensure(&tat.at("files"), !t.files.is_empty(), || {
                "at least one file or pattern is needed".into()
            });
            for (j, f) in t.files.iter().enumerate() {
                let fat = tat.at("files").index(j);
                p.not_empty(&fat, f);
                p.inside_source(&fat, f);
                if let Err(e) = globset::Glob::new(f) {
                    p.add(&fat, format!("not a valid glob: {e}"));
                }
            }
            for (j, pattern) in t.columns.iter().enumerate() {
                if let Err(e) = globset::Glob::new(pattern) {
                    p.add(
                        &tat.at("columns").index(j),
                        format!("not a valid glob: {e}"),
                    );
                }
            }
            if let Some(schema) = &t.schema {
                p.inside_source(&tat.at("schema"), schema);
            }
            if let Some(schema_table) = &t.schema_table {
                p.not_empty(&tat.at("schemaTable"), schema_table);
                p.ensure(&tat.at("schemaTable"), t.schema.is_some(), || {
                    "names a table of schema: it needs schema".into()
                });
            }
            self.check_position_columns(p, &tat, t);
            if t.hdf5.is_some() && t.format != Format::Hdf5 {
                p.add(
                    &tat.at("hdf5"),
                    format!("is only allowed with format hdf5, got {:?}", t.format),
                );
            }
            if let Some(csv) = &t.csv {
                if matches!(t.format, Format::Hdf5 | Format::Parquet) {
                    p.add(
                        &tat.at("csv"),
                        format!("is only allowed with format csv or tsv, got {:?}", t.format),
                    );
                }
                if let Err(problems) = CsvDialect::resolve(Some(csv), t.format == Format::Tsv) {
                    for (field, message) in problems {
                        p.add(&tat.at("csv").at(field), message);
                    }
                }
            }
        }
        self.check_director_overlaps(p, at);
    }

    /// Qserv keeps one overlap per database family (stripes, sub-stripes), the first
    /// registered, and registers every director table with it
    /// (`Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:229-251,1226-1228`): a director
    /// partitioned with another overlap would be queried as if it had the family's, and
    /// near-neighbour queries would miss pairs.
    fn check_director_overlaps(&self, p: &mut Problems, at: &FieldPath) {
        let database = self.partitioning.overlap;
        let mut first: Option<(&str, f64)> = None;
        for (i, t) in self.tables.iter().enumerate() {
            if t.role != TableRole::Director {
                continue;
            }
            let overlap = t.partition_overlap(database);
            let path = at.index(i).at("partition").at("overlap");
            match first {
                Some((other, theirs)) if theirs != overlap => p.add(
                    &path,
                    format!(
                        "{overlap} differs from director table {other}'s overlap {theirs}: Qserv \
                         keeps one overlap per database family and registers every director \
                         table with it (HttpIngestModule.cc:229-251,1226-1228)"
                    ),
                ),
                _ if overlap != database => p.add(
                    &path,
                    format!(
                        "{overlap} differs from the database's overlap {database} \
                         (spec.partitioning.overlap): Qserv keeps one overlap per database family \
                         and registers every director table with it \
                         (HttpIngestModule.cc:229-251,1226-1228)"
                    ),
                ),
                _ => {}
            }
            first.get_or_insert((t.name.as_str(), overlap));
        }
    }

    /// Directors need id, ra and dec; children need their director and foreign key; ra and dec
    /// come as a pair wherever they are given.
    fn check_position_columns(&self, p: &mut Problems, tat: &FieldPath, t: &TableSpec) {
        let columns = [
            ("idColumn", &t.id_column),
            ("raColumn", &t.ra_column),
            ("decColumn", &t.dec_column),
        ];
        for (field, value) in columns {
            match value {
                Some(v) => p.not_empty(&tat.at(field), v),
                None if t.role == TableRole::Director => {
                    p.add(&tat.at(field), "is required for a director table")
                }
                None => {}
            }
        }
        if t.ra_column.is_some() != t.dec_column.is_some() {
            p.add(tat, "raColumn and decColumn must be given together");
        }
        if let Some(part) = &t.partition {
            let pat = tat.at("partition");
            p.ensure(&pat, t.role != TableRole::Regular, || {
                "is only for director and child tables (a regular table is not partitioned)".into()
            });
            if part.ra_column.is_some() != part.dec_column.is_some() {
                p.add(&pat, "raColumn and decColumn must be given together");
            }
            for (field, value) in [
                ("raColumn", &part.ra_column),
                ("decColumn", &part.dec_column),
            ] {
                if let Some(v) = value {
                    p.not_empty(&pat.at(field), v);
                }
            }
            if let Some(o) = part.overlap {
                p.ensure(&pat.at("overlap"), (0.0..10.0).contains(&o), || {
                    format!("must be in [0, 10) degrees, got {o}")
                });
            }
        }
        if t.role == TableRole::Child && t.partition_position().is_none() {
            p.add(
                tat,
                "a child table needs the position its rows are partitioned by: raColumn and \
                 decColumn, or partition.raColumn and partition.decColumn",
            );
        }
        if t.role == TableRole::Child {
            match &t.director {
                None => p.add(&tat.at("director"), "is required for a child table"),
                Some(d) => {
                    let ok = self
                        .tables
                        .iter()
                        .any(|o| &o.name == d && o.role == TableRole::Director);
                    p.ensure(&tat.at("director"), ok, || {
                        format!("must name a director table of this ingest, got {d:?}")
                    });
                }
            }
            if t.foreign_key.as_deref().is_none_or(|k| k.trim().is_empty()) {
                p.add(&tat.at("foreignKey"), "is required for a child table");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cel::check_cel_rules;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn good() -> serde_json::Value {
        json!({
            "cluster": "qserv-ci",
            "database": "case01",
            "partitioning": {"stripes": 85, "subStripes": 12, "overlap": 0.01667},
            "source": {"path": "/data/case01"},
            "tables": [
                {"name": "Object", "format": "tsv", "files": ["Object.tsv.gz"], "role": "director",
                 "idColumn": "objectId", "raColumn": "ra_PS", "decColumn": "decl_PS"},
                {"name": "Source", "format": "tsv", "files": ["Source.tsv.gz"], "role": "child",
                 "director": "Object", "foreignKey": "objectId",
                 "raColumn": "raObject", "decColumn": "declObject"}
            ],
            "checks": [{"name": "count", "sql": "SELECT COUNT(*) FROM Object", "expect": "reference"}]
        })
    }

    fn spec(v: serde_json::Value) -> CatalogIngestSpec {
        serde_json::from_value(v).unwrap()
    }

    fn object(spec: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "CatalogIngest",
               "metadata": {"name": "i"}, "spec": spec})
    }

    #[test]
    fn a_good_spec_passes_both_validations() {
        assert_eq!(spec(good()).validate(), Ok(()));
        check_cel_rules(&CatalogIngest::crd(), &object(good()), None).unwrap();
    }

    #[test]
    fn partitioning_defaults_to_lsst_production() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("partitioning");
        let p = spec(v).partitioning;
        assert_eq!((p.stripes, p.sub_stripes, p.overlap), (340, 3, 0.01667));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = json!({
            "cluster": "Qserv_CI",
            "database": "9db",
            "partitioning": {"stripes": 0, "subStripes": -2, "overlap": 12.0},
            "source": {"url": "ftp://x", "path": "/data"},
            "region": {"ra": 360.0, "dec": -91.0, "radius": "2 parsecs"},
            "tables": [
                {"name": "Object", "format": "csv", "files": ["[bad"], "role": "director",
                 "raColumn": "ra", "hdf5": {"dataset": "x"}, "csv": {"delimiter": ";;"}},
                {"name": "Object", "format": "hdf5", "files": [], "role": "child",
                 "director": "Nope", "csv": {}}
            ],
            "checks": [
                {"name": "c", "sql": "SELECT 1", "expect": "rows"},
                {"name": "c", "sql": " ", "expect": "value"}
            ]
        });
        let errors = spec(bad).validate().unwrap_err();
        assert_eq!(
            errors.paths(),
            vec![
                "spec.cluster",
                "spec.database",
                "spec.partitioning.stripes",
                "spec.partitioning.subStripes",
                "spec.partitioning.overlap",
                "spec.source",
                "spec.source.url",
                "spec.tables[0].files[0]",
                "spec.tables[0].idColumn",
                "spec.tables[0].decColumn",
                "spec.tables[0]",
                "spec.tables[0].hdf5",
                "spec.tables[0].csv.delimiter",
                "spec.tables[1].name",
                "spec.tables[1].files",
                "spec.tables[1]",
                "spec.tables[1].director",
                "spec.tables[1].foreignKey",
                "spec.tables[1].csv",
                "spec.region.ra",
                "spec.region.dec",
                "spec.region.radius",
                "spec.checks[0].rows",
                "spec.checks[1].name",
                "spec.checks[1].sql",
                "spec.checks[1].value",
            ],
            "{errors}"
        );
        let text = errors.to_string();
        for expected in [
            "spec.partitioning.overlap: must be in [0, 10) degrees, got 12",
            "spec.source: needs exactly one of url, pvc, path; got 2",
            "spec.tables[0].idColumn: is required for a director table",
            "spec.tables[1].name: duplicate table name \"Object\"",
            "spec.tables[1].director: must name a director table of this ingest, got \"Nope\"",
            "spec.region.radius: unknown angle unit \"parsec\" in \"2 parsecs\"",
            "spec.checks[1].name: duplicate check name \"c\"",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }

    fn cel_messages(spec: serde_json::Value, old: Option<serde_json::Value>) -> Vec<String> {
        match check_cel_rules(
            &CatalogIngest::crd(),
            &object(spec),
            old.map(object).as_ref(),
        ) {
            Ok(()) => vec![],
            Err(e) => {
                e.0.into_iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect()
            }
        }
    }

    #[test]
    fn cel_rules_reject_bad_tables_and_sources() {
        let mut v = good();
        v["source"] = json!({"path": "/a", "url": "http://b"});
        v["tables"][0].as_object_mut().unwrap().remove("raColumn");
        v["tables"][1]["director"] = json!("Missing");
        v["partitioning"]["overlap"] = json!(10.5);
        let messages = cel_messages(v, None);
        for expected in [
            "source needs exactly one of url, pvc, path",
            "a director table needs idColumn, raColumn and decColumn",
            "a child table's director must be a director table of this ingest",
            "overlap must be in [0, 10) degrees",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "missing {expected:?} in {messages:?}"
            );
        }
        assert_eq!(messages.len(), 4, "{messages:?}");
    }

    /// `schemaTable` names a table of `schema`: without `schema`, or empty, it is refused by
    /// `validate` and (the first) by the CRD's CEL; with a Felis file it is taken.
    #[test]
    fn a_schema_table_needs_a_schema() {
        let mut v = good();
        v["tables"][0]["schemaTable"] = json!("DiaObject");
        v["tables"][0].as_object_mut().unwrap().remove("schema");
        v["tables"][1]["schema"] = json!("sdm/dp02_dc2.yaml");
        v["tables"][1]["schemaTable"] = json!(" ");
        let errors = spec(v.clone()).validate().unwrap_err();
        assert_eq!(
            errors.to_string(),
            "spec.tables[0].schemaTable: names a table of schema: it needs schema; \
             spec.tables[1].schemaTable: must not be empty",
        );
        assert_eq!(
            cel_messages(v.clone(), None),
            ["spec.tables[0]: schemaTable names a table of schema: it needs schema"]
        );
        v["tables"][0]["schema"] = json!("sdm/dp02_dc2.yaml");
        v["tables"][1]["schemaTable"] = json!("Object");
        assert_eq!(spec(v.clone()).validate(), Ok(()));
        assert_eq!(cel_messages(v, None), Vec::<String>::new());
    }

    /// `files`, `schema` and `queries` stay inside the source, in `validate` and in the CRD's
    /// CEL (what kube-apiserver applies before storing).
    #[test]
    fn paths_that_leave_the_source_are_refused_by_both_validations() {
        let mut v = good();
        v["tables"][0]["files"] =
            json!(["../../../../etc/passwd", "ok/../Object.tsv.gz", "a/b*.tsv"]);
        v["tables"][0]["schema"] = json!("/etc/shadow");
        v["tables"][1]["schema"] = json!("schema/..");
        v["queries"] = json!("queries/../../elsewhere");
        let errors = spec(v.clone()).validate().unwrap_err();
        let problems: Vec<&str> = errors
            .paths()
            .into_iter()
            .filter(|p| p.contains("files") || p.contains("schema") || p.contains("queries"))
            .collect();
        assert_eq!(
            problems,
            [
                "spec.tables[0].files[0]",
                "spec.tables[0].files[1]",
                "spec.tables[0].schema",
                "spec.tables[1].schema",
                "spec.queries",
            ],
            "{errors}"
        );
        assert!(errors.to_string().contains(
            "spec.tables[0].files[0]: must be a path inside the source (relative, without `..`), got \"../../../../etc/passwd\""
        ));
        let messages = cel_messages(v, None);
        for expected in [
            "files must be paths inside the source",
            "schema must be a path inside the source",
            "queries must be a path inside the source",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "missing {expected:?} in {messages:?}"
            );
        }
        // Names that merely contain dots are fine.
        let mut fine = good();
        fine["tables"][0]["files"] = json!(["..hidden/x.tsv", "a..b.tsv", "dir/./f.tsv"]);
        fine["queries"] = json!("queries");
        assert_eq!(spec(fine.clone()).validate(), Ok(()));
        assert_eq!(cel_messages(fine, None), Vec::<String>::new());
    }

    /// Skip numbers that could never match a file name are refused by both validations; the
    /// list needs `queries`, which `validate` alone can see.
    #[test]
    fn skip_numbers_that_cannot_match_are_refused() {
        let mut v = good();
        v["queries"] = json!("queries");
        v["querySkipNumbers"] = json!(["2100", "3020.2", "0003_x", "", "a/b"]);
        let errors = spec(v.clone()).validate().unwrap_err();
        assert_eq!(
            errors.paths(),
            [
                "spec.querySkipNumbers[2]",
                "spec.querySkipNumbers[3]",
                "spec.querySkipNumbers[4]"
            ],
            "{errors}"
        );
        assert!(errors.to_string().contains(
            "spec.querySkipNumbers[2]: \"0003_x\" can never match: a query number is the text \
             before the first '_' of a file name (not empty, without '_' or '/')"
        ));
        let messages = cel_messages(v, None);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("querySkipNumbers: a query number is the text before the first"),
            "{messages:?}"
        );
        let mut fine = good();
        fine["queries"] = json!("queries");
        fine["querySkipNumbers"] = json!(["2100", "3008", "3020.2"]);
        assert_eq!(spec(fine.clone()).validate(), Ok(()));
        assert_eq!(cel_messages(fine.clone(), None), Vec::<String>::new());
        assert_eq!(
            spec(fine.clone()).query_skip_numbers,
            ["2100", "3008", "3020.2"]
        );
        fine.as_object_mut().unwrap().remove("queries");
        let errors = spec(fine).validate().unwrap_err();
        assert_eq!(
            errors.to_string(),
            "spec.querySkipNumbers: skips files of spec.queries, which is not set"
        );
    }

    #[test]
    fn cel_rules_make_partitioning_immutable() {
        let mut changed = good();
        changed["partitioning"]["stripes"] = json!(340);
        let messages = cel_messages(changed.clone(), Some(good()));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("partitioning is immutable"),
            "{messages:?}"
        );
        // Other fields may change.
        let mut other = good();
        other["checks"] = json!([]);
        assert_eq!(cel_messages(other, Some(good())), Vec::<String>::new());
    }

    /// Every dialect option of sph-partition, with its rules, each problem at its field.
    #[test]
    fn csv_dialects_are_checked_field_by_field() {
        let mut v = good();
        v["tables"][0]["csv"] = json!({"quote": "'", "escape": "'", "nullToken": "\\N"});
        v["tables"][1]["csv"] = json!({"noQuote": true, "quote": "\"", "delimiter": "|"});
        let errors = spec(v).validate().unwrap_err();
        assert_eq!(
            errors.paths(),
            ["spec.tables[0].csv.escape", "spec.tables[1].csv.noQuote"],
            "{errors}"
        );
        assert!(
            errors
                .to_string()
                .contains("spec.tables[0].csv.escape: '\\'' is also the quote character"),
            "{errors}"
        );
        let mut fine = good();
        fine["tables"][0]["csv"] =
            json!({"delimiter": ",", "quote": "\"", "escape": "\\", "nullToken": "\\N"});
        fine["tables"][1]["csv"] = json!({"noQuote": true, "noEscape": true, "delimiter": "|"});
        assert_eq!(spec(fine.clone()).validate(), Ok(()));
        check_cel_rules(&CatalogIngest::crd(), &object(fine), None).unwrap();
    }

    /// A table's own partitioning as its `partition/<table>.json` gives it; one overlap per
    /// database family for the directors.
    #[test]
    fn per_table_partitioning_and_one_overlap_per_family() {
        let mut v = good();
        // case02's Source: partitioned by its director's position, registered with its own.
        v["tables"][1]["raColumn"] = json!("ra");
        v["tables"][1]["decColumn"] = json!("decl");
        v["tables"][1]["partition"] =
            json!({"raColumn": "raObject", "decColumn": "declObject", "overlap": 0.0});
        let s = spec(v.clone());
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(
            s.tables[1].partition_position(),
            Some(("raObject", "declObject"))
        );
        assert_eq!(s.tables[0].partition_position(), Some(("ra_PS", "decl_PS")));
        assert_eq!(s.tables[0].partition_overlap(0.01667), 0.01667);
        assert_eq!(s.tables[1].partition_overlap(0.01667), 0.0);
        check_cel_rules(&CatalogIngest::crd(), &object(v.clone()), None).unwrap();

        // Two directors with different overlaps: the second names the first.
        let mut two = v.clone();
        let mut other = two["tables"][0].clone();
        other["name"] = json!("RefObject");
        other["partition"] = json!({"overlap": 0.001});
        two["tables"].as_array_mut().unwrap().push(other);
        let errors = spec(two).validate().unwrap_err();
        assert_eq!(
            errors.paths(),
            ["spec.tables[2].partition.overlap"],
            "{errors}"
        );
        assert!(
            errors.to_string().contains(
                "spec.tables[2].partition.overlap: 0.001 differs from director table Object's \
                 overlap 0.01667: Qserv keeps one overlap per database family"
            ),
            "{errors}"
        );
        // A director's overlap other than the database's, a regular table with a partition,
        // a child without any position.
        let mut bad = v;
        bad["tables"][0]["partition"] = json!({"overlap": 0.002, "raColumn": "ra_SG"});
        bad["tables"][1]
            .as_object_mut()
            .unwrap()
            .remove("partition");
        bad["tables"][1].as_object_mut().unwrap().remove("raColumn");
        bad["tables"][1]
            .as_object_mut()
            .unwrap()
            .remove("decColumn");
        bad["tables"].as_array_mut().unwrap().push(json!({
            "name": "Filter", "format": "tsv", "files": ["Filter.tsv"], "partition": {"overlap": 1}
        }));
        let errors = spec(bad.clone()).validate().unwrap_err();
        assert_eq!(
            errors.paths(),
            [
                "spec.tables[0].partition",
                "spec.tables[1]",
                "spec.tables[2].partition",
                "spec.tables[0].partition.overlap",
            ],
            "{errors}"
        );
        assert!(errors.to_string().contains(
            "0.002 differs from the database's overlap 0.01667 (spec.partitioning.overlap)"
        ));
        let messages = cel_messages(bad, None);
        for expected in [
            "partition.raColumn and partition.decColumn must be given together",
            "a child table needs the position its rows are partitioned by",
            "partition is only for director and child tables",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "missing {expected:?} in {messages:?}"
            );
        }
    }
}
