//! `import-dataset`: a CatalogIngest written from a dataset's own configs, as Qserv's
//! integration-test runner reads them (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest_load.py`):
//! the database and its layout from `ingest/database.json`; per table, its role and the columns
//! Qserv registers from `ingest/<table>.json` (`director_table`, `director_key`,
//! `latitude_key`, `longitude_key`), how it is partitioned from its sph-partition configs
//! (`part.pos`, `part.overlap`, `in.csv.*`, merged in the runner's order), and, for the tables
//! `LOAD DATA` reads whole (regular ones), the dialect of `ingest/<table>.json`
//! (`fields_terminated_by`, `fields_enclosed_by`, `fields_escaped_by`, with the runner's
//! defaults, `itest_table.py:66-84`). Nothing is guessed: what the configs do not say takes
//! sph-partition's or `LOAD DATA`'s default, written out.

pub mod case_config;
pub mod cli;
mod error;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api::catalog_ingest::{
    AngleUnit, CatalogIngest, CatalogIngestSpec, CsvDialect, Format, Partitioning, Source,
    TablePartition, TableRole, TableSpec,
};
use crate::partition::config::{ConfigStore, dialect_from_store};
pub use case_config::CaseConfig;
pub use error::ImportError;

/// What to import and how the CatalogIngest reaches the files.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The dataset's directory (`case01/`: `data/`, `queries/`); the source's root.
    pub root: PathBuf,
    /// The runner's test case (`etc/integration_tests.yaml`); else the qserv_testdata layout.
    pub case: Option<CaseConfig>,
    /// Only these tables (in the case's order), e.g. to leave out one whose data is missing.
    pub tables: Option<Vec<String>>,
    pub name: Option<String>,
    pub cluster: String,
    /// Where the ingest Jobs find `root` (default: `path: <root>`, local mode).
    pub source: Option<Source>,
}

/// The CatalogIngest `options` describe.
pub fn import_dataset(options: &ImportOptions) -> Result<CatalogIngest, ImportError> {
    let root = &options.root;
    let case = match &options.case {
        Some(c) => c.clone(),
        None => CaseConfig::conventional(root)?,
    };
    let database_file = root.join(&case.ingest.database);
    let database = read_json(&database_file)?;
    let number = |key: &str| {
        database
            .get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| ImportError::file(&database_file, format!("no number `{key}`")))
    };
    let partitioning = Partitioning {
        stripes: number("num_stripes")? as i32,
        sub_stripes: number("num_sub_stripes")? as i32,
        overlap: number("overlap")?,
    };
    let database_name = database
        .get("database")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::file(&database_file, "no string `database`"))?
        .to_string();

    let names: Vec<&String> = match &options.tables {
        Some(only) => {
            if let Some(unknown) = only.iter().find(|t| !case.tables.contains(t)) {
                return Err(ImportError::table(
                    unknown,
                    format!(
                        "not a table of case {} ({})",
                        case.id,
                        case.tables.join(", ")
                    ),
                ));
            }
            case.tables.iter().filter(|t| only.contains(t)).collect()
        }
        None => case.tables.iter().collect(),
    };
    let mut tables = names
        .into_iter()
        .map(|name| import_table(root, &case, name, partitioning.overlap))
        .collect::<Result<Vec<_>, _>>()?;
    if options.case.is_none() {
        // Directors before their children, as the runner's case lists them.
        tables.sort_by_key(|t| match t.role {
            TableRole::Director => 0,
            TableRole::Child => 1,
            TableRole::Regular => 2,
        });
    }
    let queries = root.join("queries").is_dir().then(|| "queries".to_string());
    let spec = CatalogIngestSpec {
        cluster: options.cluster.clone(),
        database: database_name.clone(),
        partitioning,
        source: options.source.clone().unwrap_or_else(|| Source {
            // An absolute path: the Jobs do not run where the command ran.
            path: Some(
                root.canonicalize()
                    .unwrap_or_else(|_| root.clone())
                    .display()
                    .to_string(),
            ),
            ..Source::default()
        }),
        tables,
        region: None,
        filters: None,
        checks: Vec::new(),
        // The runner's skip numbers apply to the case's queries (`itest.py:819`).
        query_skip_numbers: if queries.is_some() {
            case.skip_numbers.clone()
        } else {
            Vec::new()
        },
        queries,
        allow_warnings: false,
    };
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| case.id.to_ascii_lowercase().replace('_', "-"));
    Ok(CatalogIngest::new(&name, spec))
}

/// One table: its ingest config, its merged partition configs, its files.
fn import_table(
    root: &Path,
    case: &CaseConfig,
    name: &str,
    database_overlap: f64,
) -> Result<TableSpec, ImportError> {
    let ingest_file = root.join(CaseConfig::path(&case.ingest.table, name));
    let ingest = read_json(&ingest_file)?;
    let text = |key: &str| {
        ingest
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if text("director_table2").is_some() {
        return Err(ImportError::table(
            name,
            format!(
                "{}: a match table (director_table2) between two directors, which \
                 sph-partition-matches partitions: not supported; leave it out (--tables)",
                ingest_file.display()
            ),
        ));
    }
    let data = CaseConfig::path(&case.data, name);
    if !root.join(&data).is_file() {
        return Err(ImportError::file(&root.join(&data), "no such data file"));
    }
    let schema = CaseConfig::path(&case.schema, name);
    let format = if data.to_string_lossy().contains(".tsv") {
        Format::Tsv
    } else {
        Format::Csv
    };
    let mut table = TableSpec {
        name: name.to_string(),
        format,
        csv: None,
        hdf5: None,
        files: vec![data.display().to_string()],
        role: TableRole::Regular,
        id_column: None,
        ra_column: None,
        dec_column: None,
        angle_unit: None,
        partition: None,
        director: None,
        foreign_key: None,
        columns: Vec::new(),
        schema: root
            .join(&schema)
            .is_file()
            .then(|| schema.display().to_string()),
        schema_table: None,
        allow_empty: false,
    };
    let partitioned = ingest.get("is_partitioned").and_then(Value::as_u64) == Some(1);
    if !partitioned {
        table.csv = Some(load_data_dialect(&ingest, &ingest_file)?);
        return Ok(table);
    }
    let store = partition_store(root, case, name)?;
    let key_error = |e: crate::partition::config::ConfigError| {
        ImportError::table(name, format!("partition configs: {e}"))
    };
    let pos = store
        .string("part.pos")
        .map_err(key_error)?
        .ok_or_else(|| ImportError::table(name, "partitioned, but its configs have no part.pos"))?;
    let (ra, dec) = match pos.split(',').map(str::trim).collect::<Vec<_>>()[..] {
        [ra, dec] if !ra.is_empty() && !dec.is_empty() => (ra.to_string(), dec.to_string()),
        _ => {
            return Err(ImportError::table(
                name,
                format!("part.pos {pos:?} is not \"ra, dec\""),
            ));
        }
    };
    // sph-partition's default overlap (`Q@2026.3.3-rc1:src/partition/Chunker.cc:256`).
    let overlap = store
        .f64("part.overlap")
        .map_err(key_error)?
        .unwrap_or(0.01);
    // The columns Qserv registers as the table's position; a child may have none.
    (table.ra_column, table.dec_column) = (text("longitude_key"), text("latitude_key"));
    match text("director_table") {
        None => {
            table.role = TableRole::Director;
            table.id_column = text("director_key");
        }
        Some(director) => {
            table.role = TableRole::Child;
            table.director = Some(director);
            table.foreign_key = text("director_key");
        }
    }
    // sph-partition takes positions in degrees (`Q@2026.3.3-rc1:src/partition/Chunker.h:49,54`);
    // the dataset's files say nothing else.
    table.angle_unit = Some(AngleUnit::Degree);
    let mut partition = TablePartition::default();
    if table.ra_column.as_deref() != Some(&ra) || table.dec_column.as_deref() != Some(&dec) {
        partition.ra_column = Some(ra);
        partition.dec_column = Some(dec);
    }
    if overlap != table.partition_overlap(database_overlap) {
        partition.overlap = Some(overlap);
    }
    if partition != TablePartition::default() {
        table.partition = Some(partition);
    }
    let dialect = dialect_from_store(&store, "in.csv.")
        .map_err(|e| ImportError::table(name, format!("partition configs: {e}")))?;
    table.csv = Some(CsvDialect {
        delimiter: Some(char_text(dialect.delimiter)),
        quote: dialect.quote.map(char_text),
        no_quote: dialect.quote.is_none(),
        escape: dialect.escape.map(char_text),
        no_escape: dialect.escape.is_none(),
        null_token: Some(String::from_utf8_lossy(&dialect.null).into_owned()),
        header: false,
        fields: if table.schema.is_none() {
            store
                .string_list("in.csv.field")
                .map_err(key_error)?
                .unwrap_or_default()
        } else {
            Vec::new()
        },
    });
    Ok(table)
}

/// The table's sph-partition configs merged as the runner passes them (existing files only: a
/// regular table has none of its own).
fn partition_store(
    root: &Path,
    case: &CaseConfig,
    table: &str,
) -> Result<ConfigStore, ImportError> {
    let mut store = ConfigStore::default();
    for template in &case.partition.config {
        let file = root.join(CaseConfig::path(template, table));
        if file.is_file() {
            store
                .add_file(&file)
                .map_err(|e| ImportError::file(&file, e))?;
        }
    }
    Ok(store)
}

/// The dialect `LOAD DATA` reads a regular table's file with: the ingest config's
/// `fields_terminated_by`, `fields_enclosed_by`, `fields_escaped_by`, defaulting as the runner
/// does to tab, none and `\` (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest_table.py:66-84`).
/// NULL is `\N` (and, with quoting, the unquoted word `NULL`), as `LOAD DATA` reads it.
fn load_data_dialect(ingest: &Value, file: &Path) -> Result<CsvDialect, ImportError> {
    let field = |key: &str, default: &str| -> Result<Option<u8>, ImportError> {
        let value = ingest
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(default);
        match value {
            "" => Ok(None),
            "\\t" | "\t" => Ok(Some(b'\t')),
            "\\\\" | "\\" => Ok(Some(b'\\')),
            "\\0" => Ok(None),
            v if v.len() == 1 => Ok(Some(v.as_bytes()[0])),
            v => Err(ImportError::file(
                file,
                format!("{key} {v:?} is not one character"),
            )),
        }
    };
    let delimiter = field("fields_terminated_by", "\\t")?.unwrap_or(b'\t');
    let quote = field("fields_enclosed_by", "")?;
    let escape = field("fields_escaped_by", "\\\\")?;
    Ok(CsvDialect {
        delimiter: Some(char_text(delimiter)),
        quote: quote.map(char_text),
        no_quote: quote.is_none(),
        escape: escape.map(char_text),
        no_escape: escape.is_none(),
        null_token: Some("\\N".into()),
        header: false,
        fields: Vec::new(),
    })
}

/// A dialect character as the CRD takes it (`\t` for tab).
fn char_text(c: u8) -> String {
    match c {
        b'\t' => "\\t".into(),
        c => char::from(c).to_string(),
    }
}

fn read_json(file: &Path) -> Result<Value, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::file(file, e))?;
    serde_json::from_str(&text).map_err(|e| ImportError::file(file, format!("not JSON: {e}")))
}

/// The manifest as YAML, with a comment saying where it came from.
pub fn to_yaml(ingest: &CatalogIngest, from: &str) -> Result<String, serde_norway::Error> {
    Ok(format!(
        "# Written by `qserv-operator import-dataset` from {from}.\n---\n{}",
        serde_norway::to_string(ingest)?
    ))
}
