//! From a `CatalogIngest` table spec to reader and selection settings: the one place where
//! the catalog module meets the CRD types, so the readers stay free of Kubernetes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::catalog_ingest::{self as api, Format, TableSpec};

use crate::catalog::csv::{CsvOptions, Dialect};
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::select::{AngleUnit, BandFilter, Cone, Position, SelectionSpec};
use crate::catalog::{InputFormat, SchemaFile};

/// The schema file of `table` (its `schema`, a DDL file or a Felis YAML, under `source_dir`)
/// and the table in it (`schemaTable`, else `name`).
pub fn schema_file(table: &TableSpec, source_dir: &Path) -> Result<Option<SchemaFile>> {
    let Some(schema) = &table.schema else {
        return Ok(None);
    };
    let path = inside_source(source_dir, schema, &table.name, "schema")?;
    let in_file = table.schema_table.as_deref().unwrap_or(&table.name);
    Ok(Some(SchemaFile::new(path, in_file)))
}

/// How to read `table`'s files; `source_dir` resolves its `schema` file.
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
            let chars = api::CsvDialect::resolve(table.csv.as_ref(), table.format == Format::Tsv)
                .map_err(|problems| CatalogError::Selection {
                table: table.name.clone(),
                reason: problems
                    .iter()
                    .map(|(field, message)| format!("csv.{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
            let mut options = CsvOptions::with_dialect(Dialect::new(
                chars.delimiter,
                chars.quote,
                chars.escape,
                Some(chars.null),
            ));
            if let Some(dialect) = &table.csv {
                options.header = dialect.header;
                options.fields = dialect.fields.clone();
            }
            if let Some(file) = schema_file(table, source_dir)? {
                options.schema = Some(Arc::new(file.arrow_schema()?));
            }
            InputFormat::Csv(options)
        }
    })
}

/// The input files of `table` under `source_dir`, in order: each entry of `files` is a path
/// or a glob over the file names of one directory (`Object*.tsv.gz`, `2024/*.parquet`),
/// expanded in name order. An entry that matches nothing is an error (a typo would otherwise
/// ingest nothing, successfully).
/// `source_dir/relative`, refused when it leaves the source: an absolute path or `..` (as
/// `validate` refuses them), or a symlink to outside (checked on the resolved path when it
/// exists). `table` and `field` name the spec field in the error.
pub fn inside_source(
    source_dir: &Path,
    relative: &str,
    table: &str,
    field: &str,
) -> Result<PathBuf> {
    if !crate::api::validation::stays_inside(relative) {
        return Err(outside(
            table,
            field,
            relative,
            source_dir,
            "is outside the source".into(),
        ));
    }
    let path = source_dir.join(relative);
    resolves_inside(source_dir, &path, table, field)?;
    Ok(path)
}

/// An existing `path` under `source_dir` whose real path (symlinks followed) is outside it is
/// refused.
fn resolves_inside(source_dir: &Path, path: &Path, table: &str, field: &str) -> Result<()> {
    if let (Ok(real), Ok(root)) = (path.canonicalize(), source_dir.canonicalize())
        && !real.starts_with(&root)
    {
        let why = format!("resolves to {}, outside the source", real.display());
        return Err(outside(
            table,
            field,
            &path.display().to_string(),
            source_dir,
            why,
        ));
    }
    Ok(())
}

fn outside(table: &str, field: &str, value: &str, source_dir: &Path, why: String) -> CatalogError {
    CatalogError::Selection {
        table: table.to_string(),
        reason: format!(
            "{field}: {value:?} {why} (the source is {})",
            source_dir.display()
        ),
    }
}

pub fn table_files(table: &TableSpec, source_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (j, entry) in table.files.iter().enumerate() {
        let field = format!("files[{j}]");
        let path = inside_source(source_dir, entry, &table.name, &field)?;
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
        for m in &matched {
            resolves_inside(source_dir, m, &table.name, &field)?;
        }
        if matched.is_empty() {
            return Err(CatalogError::io(&path, "the pattern matches no file"));
        }
        matched.sort();
        files.extend(matched);
    }
    Ok(files)
}

/// The catalog's angle unit for the spec's.
pub fn angle_unit(unit: api::AngleUnit) -> AngleUnit {
    match unit {
        api::AngleUnit::Degree => AngleUnit::Degree,
        api::AngleUnit::Radian => AngleUnit::Radian,
        api::AngleUnit::Arcminute => AngleUnit::Arcminute,
        api::AngleUnit::Arcsecond => AngleUnit::Arcsecond,
        api::AngleUnit::Milliarcsecond => AngleUnit::Milliarcsecond,
        api::AngleUnit::Hourangle => AngleUnit::HourAngle,
    }
}

/// The units of `table`'s partitioning position columns (ra, dec), as its first input file's
/// metadata and the spec say (see [`crate::catalog::select::position_unit`]); `None` for a
/// table without a position.
pub fn position_units(
    spec: &api::CatalogIngestSpec,
    table: &TableSpec,
    source_dir: &Path,
) -> Result<Option<(AngleUnit, AngleUnit)>> {
    if table.partition_position().is_none() {
        return Ok(None);
    }
    let format = input_format(table, source_dir)?;
    let files = table_files(table, source_dir)?;
    let selection = selection_spec(table, spec.region.as_ref(), spec.filters.as_ref())?;
    let Some(first) = files.first() else {
        return Ok(None);
    };
    Ok(crate::catalog::CatalogReader::open(first, &format, 1)?
        .selection(&selection)?
        .position_units())
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
    // Partitioned tables are selected by the position they are partitioned by, so a child's
    // rows stay with their director's.
    let position = match table.partition_position() {
        Some((ra, dec)) => Some(Position {
            ra: ra.to_string(),
            dec: dec.to_string(),
            unit: table.angle_unit.map(angle_unit),
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
    let partition_columns = table
        .partition
        .as_ref()
        .map(|p| [&p.ra_column, &p.dec_column]);
    let keep = [
        &table.id_column,
        &table.ra_column,
        &table.dec_column,
        &table.foreign_key,
    ]
    .into_iter()
    .chain(partition_columns.into_iter().flatten())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema::ColumnMeta;

    fn table(files: &[&str]) -> TableSpec {
        serde_json::from_value(serde_json::json!({
            "name": "T", "format": "tsv", "files": files
        }))
        .unwrap()
    }

    /// The Job refuses what `validate` refuses, and also a symlink inside the source that
    /// points outside it (which no lexical check can see).
    #[test]
    fn files_that_leave_the_source_are_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("a.tsv"), "1\n").unwrap();
        std::fs::write(dir.path().join("secret.tsv"), "x\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.tsv"), source.join("link.tsv")).unwrap();

        assert_eq!(
            table_files(&table(&["a.tsv"]), &source).unwrap(),
            [source.join("a.tsv")]
        );
        let err = table_files(&table(&["../secret.tsv"]), &source)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("table `T`: files[0]: \"../secret.tsv\" is outside the source"),
            "{err}"
        );
        let err = table_files(&table(&["a.tsv", "link.tsv"]), &source)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("files[1]:") && err.contains("outside the source"),
            "{err}"
        );
        // A pattern never follows a symlink out: it matches regular files only.
        assert_eq!(
            table_files(&table(&["*.tsv"]), &source).unwrap(),
            [source.join("a.tsv")]
        );
        let err = inside_source(&source, "/etc/passwd", "", "spec.queries")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.queries: \"/etc/passwd\" is outside the source"),
            "{err}"
        );
    }

    /// A Felis table whose file has a column of type `shrt`, broken YAML, or no such table:
    /// what the partition and reference Jobs read the table with fails, naming the file and
    /// the YAML path or the line and column (the same message the ingest's condition carries).
    #[test]
    fn bad_felis_schemas_fail_the_job_s_reading_with_the_file_and_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let felis = "name: s\ntables:\n- name: Other\n  columns: []\n- name: T\n  columns:\n  \
                     - {name: id, datatype: long}\n  - {name: ra, datatype: double}\n";
        std::fs::write(dir.path().join("T.csv"), "id,ra\n1,2.5\n").unwrap();
        let table = |schema: &str, schema_table: Option<&str>| -> TableSpec {
            serde_json::from_value(serde_json::json!({
                "name": "T", "format": "csv", "csv": {"header": true}, "files": ["T.csv"],
                "schema": schema, "schemaTable": schema_table,
            }))
            .unwrap()
        };
        std::fs::write(dir.path().join("good.yaml"), felis).unwrap();
        let schema = input_format(&table("good.yaml", None), dir.path()).unwrap();
        let InputFormat::Csv(options) = schema else {
            panic!("csv")
        };
        let fields = options.schema.unwrap();
        assert_eq!(fields.field(1).sql_type(), Some("DOUBLE"));

        std::fs::write(
            dir.path().join("typo.yaml"),
            felis.replace("datatype: double", "datatype: dubble"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("broken.yml"),
            felis.replace("columns: []", "columns: ["),
        )
        .unwrap();
        for (schema, schema_table, expected) in [
            (
                "typo.yaml",
                None,
                "typo.yaml: Felis schema: tables[1].columns[1].datatype: unknown variant `dubble`",
            ),
            ("broken.yml", None, "broken.yml: Felis schema: "),
            (
                "good.yaml",
                Some("U"),
                "good.yaml: Felis schema: no table `U` in schema s (its tables: Other, T)",
            ),
        ] {
            let t = table(schema, schema_table);
            let err = input_format(&t, dir.path()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            let file = schema_file(&t, dir.path()).unwrap().unwrap();
            assert_eq!(file.definition().unwrap_err().to_string(), err);
        }
        let err = input_format(&table("broken.yml", None), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not find expected node content at line 5 column 1"),
            "{err}"
        );
    }
}
