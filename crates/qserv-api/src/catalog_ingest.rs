//! `CatalogIngest`: a declarative ingest of a catalog into a QservCluster, with a reference copy
//! in plain MariaDB and result checks that prove Qserv answers like the reference.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::angle::parse_angle_degrees;
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
    /// source: each runs on Qserv and on the reference and must give the same rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')").message("queries must be a path inside the source (relative, without ..)"))]
    pub queries: Option<String>,
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
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AngleUnit {
    #[default]
    Degree,
    Radian,
}

/// One table to ingest.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.role != 'director' || (has(self.idColumn) && has(self.raColumn) && has(self.decColumn))").message("a director table needs idColumn, raColumn and decColumn"))]
#[x_kube(validation = Rule::new("self.role != 'child' || (has(self.director) && has(self.foreignKey))").message("a child table needs director and foreignKey"))]
#[x_kube(validation = Rule::new("self.format == 'hdf5' || !has(self.hdf5)").message("hdf5 options need format hdf5"))]
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
    /// Unit of ra/dec in the input; radians are converted to degrees for partitioning.
    #[serde(default)]
    pub angle_unit: AngleUnit,
    /// Director table of a child table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub director: Option<String>,
    /// Column of a child table holding the director's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<String>,
    /// Columns to keep, as glob patterns over column names (`coord*`, `id`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// MySQL DDL of the table (a file relative to the source); derived from the input's
    /// schema when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')").message("schema must be a path inside the source (relative, without ..)"))]
    pub schema: Option<String>,
    /// The table may be empty: its input may have no rows. Otherwise an input without rows
    /// fails the ingest (an empty file is far more often a broken export than intended).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
}

/// CSV/TSV dialect, as in sph-partition's `in.csv.*` options.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvDialect {
    /// Field delimiter (one character; `\t` for tab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// The token that stands for NULL (sph-partition's `in.csv.null`), e.g. `\N`. Not named
    /// `null`: a bare `null:` key is a YAML null, not a string, for kubectl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_token: Option<String>,
    /// The first line is a header of column names.
    #[serde(default)]
    pub header: bool,
    /// Column names when there is no header (in file order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
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
                if let Some(d) = &csv.delimiter {
                    let ok = d == "\\t" || d.chars().count() == 1;
                    p.ensure(&tat.at("csv").at("delimiter"), ok, || {
                        format!("must be one character (or \\t), got {d:?}")
                    });
                }
            }
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
}
