//! An [`IngestPlan`] from what the ingest Job has: a CatalogIngest spec and the partitioner's
//! output directory of each table (`<chunks_root>/<table>`, written through
//! `from_spec::partition::table_plan`), or Qserv's own `/ingest/table` JSON files (as
//! qserv_testdata ships them in `ingest/<table>.json`) and their chunk directories.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::chunk_files::REGULAR_FILE;
use super::ingest::{IngestError, IngestOptions, IngestPlan, IngestSummary, TablePlan, run_ingest};
use super::regular::write_contribution_file;
use crate::api::catalog_ingest::{CatalogIngestSpec, TableRole, TableSpec};
use crate::catalog::{self, CatalogReader};
use crate::from_spec;
use crate::qserv::replication::{
    Column, CsvDialect, ReplicationClient, TableKind, TableRegistration, UTF8_CHARSET,
    UTF8_COLLATION,
};

/// What the CatalogIngest's load step does: the spec's partitioned tables, from the
/// partitioner's output under `chunks_root`, and its regular tables, read here into
/// `<chunks_root>/<table>/regular.txt`, ingested through `client`.
pub fn ingest_spec<'a>(
    client: &'a ReplicationClient,
    spec: &'a CatalogIngestSpec,
    source_dir: &'a Path,
    chunks_root: &'a Path,
    opts: &'a IngestOptions,
) -> BoxFuture<'a, Result<IngestSummary, IngestError>> {
    Box::pin(ingest_spec_unboxed(
        client,
        spec,
        source_dir,
        chunks_root,
        opts,
    ))
}

async fn ingest_spec_unboxed(
    client: &ReplicationClient,
    spec: &CatalogIngestSpec,
    source_dir: &Path,
    chunks_root: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let (spec, source, root) = (
        spec.clone(),
        source_dir.to_path_buf(),
        chunks_root.to_path_buf(),
    );
    // Reading the catalog files (schemas, regular tables): off the async threads.
    let plan = tokio::task::spawn_blocking(move || {
        write_regular_tables(&spec, &source, &root)?;
        plan_from_spec(&spec, &source, &root)
    })
    .await
    .map_err(|e| IngestError::Plan(e.to_string()))??;
    run_ingest(client, &plan, opts).await
}

/// Writes each regular table of `spec` as its contribution file,
/// `<chunks_root>/<table>/regular.txt` (the same rows the reference gets).
pub fn write_regular_tables(
    spec: &CatalogIngestSpec,
    source_dir: &Path,
    chunks_root: &Path,
) -> Result<(), IngestError> {
    for table in spec.tables.iter().filter(|t| t.role == TableRole::Regular) {
        let plan_err =
            |e: &dyn std::fmt::Display| IngestError::Plan(format!("table {}: {e}", table.name));
        let dir = chunks_root.join(&table.name);
        std::fs::create_dir_all(&dir).map_err(|e| plan_err(&format!("{}: {e}", dir.display())))?;
        let input = crate::load::Input {
            files: from_spec::catalog::table_files(table, source_dir).map_err(|e| plan_err(&e))?,
            format: from_spec::catalog::input_format(table, source_dir)
                .map_err(|e| plan_err(&e))?,
            selection: from_spec::catalog::selection_spec(
                table,
                spec.region.as_ref(),
                spec.filters.as_ref(),
            )
            .map_err(|e| plan_err(&e))?,
            batch_rows: catalog::DEFAULT_BATCH_ROWS,
        };
        let written = write_contribution_file(&input, &dir.join(REGULAR_FILE))
            .map_err(|e| IngestError::Plan(e.to_string()))?;
        tracing::info!(
            table = table.name,
            rows = written.rows,
            "regular table read"
        );
    }
    Ok(())
}

/// The plan of `spec`'s tables: partitioned tables from the partitioner's output under
/// `chunks_root/<table>`, regular ones from [`write_regular_tables`]'s files.
pub fn plan_from_spec(
    spec: &CatalogIngestSpec,
    source_dir: &Path,
    chunks_root: &Path,
) -> Result<IngestPlan, IngestError> {
    let p = &spec.partitioning;
    let mut tables = Vec::new();
    for table in &spec.tables {
        let plan_err =
            |e: &dyn std::fmt::Display| IngestError::Plan(format!("table {}: {e}", table.name));
        let kind = match table.role {
            TableRole::Regular => {
                tables.push(regular_table_plan(spec, table, source_dir, chunks_root)?);
                continue;
            }
            // A director is registered with the position it is partitioned by: Qserv locates its
            // rows and builds its sub-chunks from those columns.
            TableRole::Director => {
                let (ra, dec) = table.partition_position().ok_or_else(|| {
                    IngestError::Plan(format!(
                        "table {}: raColumn and decColumn are required",
                        table.name
                    ))
                })?;
                TableKind::Director {
                    key: required(&table.id_column, &table.name, "idColumn")?,
                    latitude_key: dec.to_string(),
                    longitude_key: ra.to_string(),
                }
            }
            // A child is registered with its own position columns, if any (case02's Source:
            // `ra`, `decl`), which need not be those it is partitioned by (its director's,
            // `raObject`, `declObject`); Qserv allows none
            // (`Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:322-335`).
            TableRole::Child => TableKind::Child {
                director_table: required(&table.director, &table.name, "director")?,
                key: required(&table.foreign_key, &table.name, "foreignKey")?,
                latitude_key: table.dec_column.clone(),
                longitude_key: table.ra_column.clone(),
            },
        };
        let table_dir = chunks_root.join(&table.name);
        let chunk_dirs = shard_dirs(&table_dir).map_err(|e| plan_err(&e))?;
        let (config, _) =
            crate::from_spec::partition::table_plan(spec, table, source_dir, &table_dir)
                .map_err(|e| plan_err(&e))?;
        // The partitioner's output columns, typed as the reference's (see `column_types`).
        let schema = selected_schema(spec, table, source_dir).map_err(|e| plan_err(&e))?;
        let typed = column_types(table, source_dir, &schema).map_err(|e| plan_err(&e))?;
        let mut columns = Vec::new();
        for name in &config.output_fields {
            let sql_type = if *name == config.chunk_field || *name == config.sub_chunk_field {
                "INT NOT NULL".to_string()
            } else {
                typed
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| plan_err(&format!("no column {name} in the input")))?
            };
            columns.push(Column::new(name, &sql_type));
        }
        tables.push(TablePlan {
            registration: TableRegistration {
                database: spec.database.clone(),
                table: table.name.clone(),
                kind,
                schema: columns,
                // Our readers write UTF-8; the table stores it as such.
                charset_name: Some(UTF8_CHARSET.into()),
                collation_name: Some(UTF8_COLLATION.into()),
            },
            chunk_dirs,
            dialect: CsvDialect::of_partitioner(&config.output_dialect),
        });
    }
    Ok(IngestPlan {
        database: spec.database.clone(),
        num_stripes: p.stripes as u32,
        num_sub_stripes: p.sub_stripes as u32,
        overlap: p.overlap,
        tables,
    })
}

/// A regular table: every selected column in reader order (as its contribution file has
/// them), typed as the reference's (see `column_types`); `LOAD DATA`'s default dialect.
fn regular_table_plan(
    spec: &CatalogIngestSpec,
    table: &TableSpec,
    source_dir: &Path,
    chunks_root: &Path,
) -> Result<TablePlan, IngestError> {
    let plan_err =
        |e: &dyn std::fmt::Display| IngestError::Plan(format!("table {}: {e}", table.name));
    let schema = selected_schema(spec, table, source_dir).map_err(|e| plan_err(&e))?;
    let columns = column_types(table, source_dir, &schema)
        .map_err(|e| plan_err(&e))?
        .into_iter()
        .map(|(name, sql_type)| Column::new(&name, &sql_type))
        .collect();
    Ok(TablePlan {
        registration: TableRegistration {
            database: spec.database.clone(),
            table: table.name.clone(),
            kind: TableKind::Regular,
            schema: columns,
            charset_name: Some(UTF8_CHARSET.into()),
            collation_name: Some(UTF8_COLLATION.into()),
        },
        chunk_dirs: vec![chunks_root.join(&table.name)],
        dialect: CsvDialect::load_data_default(),
    })
}

/// The MySQL type of each column the readers give (`schema`, in its order), as the reference
/// table has it: the table's schema file (DDL or Felis) decides the type of a column it
/// defines, whatever the input format; other columns get the type of the reader's.
fn column_types(
    table: &TableSpec,
    source_dir: &Path,
    schema: &arrow_schema::Schema,
) -> Result<Vec<(String, String)>, String> {
    let file_schema = from_spec::catalog::schema_file(table, source_dir)
        .and_then(|file| file.map(|f| f.arrow_schema()).transpose())
        .map_err(|e| e.to_string())?;
    schema
        .fields()
        .iter()
        .map(|field| {
            let defined = file_schema
                .as_ref()
                .and_then(|s| s.field_with_name(field.name()).ok());
            let sql_type = catalog::ddl::sql_type(defined.unwrap_or(field))?;
            Ok((field.name().clone(), sql_type))
        })
        .collect()
}

/// The schema a table's readers give after the spec's selection (opens its first file).
fn selected_schema(
    spec: &CatalogIngestSpec,
    table: &TableSpec,
    source_dir: &Path,
) -> Result<arrow_schema::SchemaRef, String> {
    let format = from_spec::catalog::input_format(table, source_dir).map_err(|e| e.to_string())?;
    let files = from_spec::catalog::table_files(table, source_dir).map_err(|e| e.to_string())?;
    let selection =
        from_spec::catalog::selection_spec(table, spec.region.as_ref(), spec.filters.as_ref())
            .map_err(|e| e.to_string())?;
    let first = files.first().ok_or("no input files")?;
    Ok(CatalogReader::open(first, &format, 1)
        .and_then(|r| r.select(&selection))
        .map_err(|e| e.to_string())?
        .schema())
}

/// A table's partitioner output: `dir` itself, or its numbered shard subdirectories
/// (`<table>/0`, `<table>/1`, ... as the partition Job writes them) when it has some.
fn shard_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut shards = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && name.parse::<u32>().is_ok() {
            shards.push(entry.path());
        }
    }
    if shards.is_empty() {
        return Ok(vec![dir.to_path_buf()]);
    }
    shards.sort();
    Ok(shards)
}

fn required(v: &Option<String>, table: &str, field: &str) -> Result<String, IngestError> {
    v.clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| IngestError::Plan(format!("table {table}: {field} is required")))
}

/// A table from a Qserv `/ingest/table` JSON file (`database`, `table`, `is_partitioned`,
/// `director_table`, `director_key`, `latitude_key`, `longitude_key`, `schema`).
pub fn table_from_json(
    file: &Path,
    chunk_dir: PathBuf,
    mut dialect: CsvDialect,
) -> Result<TablePlan, IngestError> {
    let err = |reason: String| IngestError::Plan(format!("{}: {reason}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| err(e.to_string()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let schema: Vec<Column> = serde_json::from_value(v.get("schema").cloned().unwrap_or_default())
        .map_err(|e| err(format!("schema: {e}")))?;
    let opt = |k: &str| Some(s(k)).filter(|x| !x.is_empty());
    let kind = if v.get("is_partitioned").and_then(Value::as_u64) != Some(1) {
        TableKind::Regular
    } else if s("director_table").is_empty() {
        TableKind::Director {
            key: s("director_key"),
            latitude_key: s("latitude_key"),
            longitude_key: s("longitude_key"),
        }
    } else {
        TableKind::Child {
            director_table: s("director_table"),
            key: s("director_key"),
            latitude_key: opt("latitude_key"),
            longitude_key: opt("longitude_key"),
        }
    };
    // The files are in the table's character set when the JSON names one.
    if let Some(charset) = opt("charset_name") {
        dialect.charset_name = charset;
    }
    if s("table").is_empty() || schema.is_empty() {
        return Err(err("needs `table` and a non-empty `schema`".into()));
    }
    Ok(TablePlan {
        registration: TableRegistration {
            database: s("database"),
            table: s("table"),
            kind,
            schema,
            charset_name: opt("charset_name"),
            collation_name: opt("collation_name"),
        },
        chunk_dirs: vec![chunk_dir],
        dialect,
    })
}
