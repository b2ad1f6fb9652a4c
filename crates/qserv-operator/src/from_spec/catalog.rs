//! From a `CatalogIngest` table spec to reader and selection settings: the one place where
//! the catalog module meets the CRD types, so the readers stay free of Kubernetes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::catalog_ingest::{self as api, Format, TableSpec};

use crate::catalog::InputFormat;
use crate::catalog::csv::CsvOptions;
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::select::{AngleUnit, BandFilter, Cone, Position, SelectionSpec};
use crate::catalog::sqlschema::schema_from_ddl_file;

/// How to read `table`'s files; `source_dir` resolves its `schema` DDL file.
pub fn input_format(table: &TableSpec, source_dir: &Path) -> Result<InputFormat> {
    Ok(match table.format {
        Format::Hdf5 => InputFormat::Hdf5 {
            dataset: table
                .hdf5
                .as_ref()
                .and_then(|h| h.dataset.clone())
                .unwrap_or_else(|| table.name.clone()),
        },
        Format::Parquet => InputFormat::Parquet,
        Format::Csv | Format::Tsv => {
            let mut options = if table.format == Format::Tsv {
                CsvOptions::tsv()
            } else {
                CsvOptions::csv()
            };
            if let Some(dialect) = &table.csv {
                if let Some(d) = &dialect.delimiter {
                    options.delimiter =
                        delimiter_byte(d).ok_or_else(|| CatalogError::Selection {
                            table: table.name.clone(),
                            reason: format!("csv delimiter {d:?} is not one ASCII character"),
                        })?;
                }
                if let Some(null) = &dialect.null_token {
                    options.null = null.clone();
                }
                options.header = dialect.header;
                options.fields = dialect.fields.clone();
            }
            if let Some(schema) = &table.schema {
                options.schema = Some(Arc::new(schema_from_ddl_file(
                    &source_dir.join(schema),
                    Some(&table.name),
                )?));
            }
            InputFormat::Csv(options)
        }
    })
}

/// The input files of `table` under `source_dir`, in order: each entry of `files` is a path
/// or a glob over the file names of one directory (`Object*.tsv.gz`, `2024/*.parquet`),
/// expanded in name order. An entry that matches nothing is an error (a typo would otherwise
/// ingest nothing, successfully).
pub fn table_files(table: &TableSpec, source_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in &table.files {
        let path = source_dir.join(entry);
        let is_glob = entry.contains(['*', '?', '[', '{']);
        if !is_glob {
            std::fs::metadata(&path).map_err(|err| CatalogError::io(&path, err))?;
            files.push(path);
            continue;
        }
        let dir = path.parent().unwrap_or(source_dir).to_path_buf();
        let pattern = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let matcher = globset::Glob::new(pattern)
            .map_err(|err| CatalogError::io(&path, format!("bad file pattern: {err}")))?
            .compile_matcher();
        let mut matched: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|err| CatalogError::io(&dir, err))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && matcher.is_match(e.file_name()))
            .map(|e| e.path())
            .collect();
        if matched.is_empty() {
            return Err(CatalogError::io(&path, "the pattern matches no file"));
        }
        matched.sort();
        files.extend(matched);
    }
    Ok(files)
}

fn delimiter_byte(d: &str) -> Option<u8> {
    match d {
        "\\t" | "\t" => Some(b'\t'),
        _ if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
        _ => None,
    }
}

/// What to keep of `table`, given the ingest's region and band filter.
pub fn selection_spec(
    table: &TableSpec,
    region: Option<&api::ConeRegion>,
    filters: Option<&api::BandFilter>,
) -> Result<SelectionSpec> {
    let error = |reason: String| CatalogError::Selection {
        table: table.name.clone(),
        reason,
    };
    let position = match (&table.ra_column, &table.dec_column) {
        (Some(ra), Some(dec)) => Some(Position {
            ra: ra.clone(),
            dec: dec.clone(),
            unit: match table.angle_unit {
                api::AngleUnit::Degree => AngleUnit::Degree,
                api::AngleUnit::Radian => AngleUnit::Radian,
            },
        }),
        _ => None,
    };
    let cone = match region {
        Some(r) => Some(Cone {
            ra: r.ra,
            dec: r.dec,
            radius: r.radius_degrees().map_err(error)?,
        }),
        None => None,
    };
    let keep = [
        &table.id_column,
        &table.ra_column,
        &table.dec_column,
        &table.foreign_key,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    Ok(SelectionSpec {
        table: table.name.clone(),
        columns: table.columns.clone(),
        keep,
        position,
        cone,
        band: filters.map(|f| BandFilter {
            column: f.column.clone(),
            values: f.values.clone(),
        }),
    })
}
