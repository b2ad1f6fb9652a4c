//! The arguments of `qserv-operator load`. They map one to one onto a [`ReferenceLoad`] or (with
//! `--partitioned`) a [`super::ChunkLoad`], so a Job and a person at a terminal run the same
//! code.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::{LoadError, Result};
use super::reference::ReferenceLoad;
use super::stream::Input;
use crate::catalog::{
    self, Cone, CsvOptions, DEFAULT_BATCH_ROWS, InputFormat, Position, SelectionSpec,
};

/// Input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// An astropy table in HDF5 (`--dataset` names it).
    Hdf5,
    /// Comma-separated; sph-partition's defaults otherwise: `"` quotes, `\` escapes, `NULL`
    /// and `\N` for NULL.
    Csv,
    /// Tab-separated as MySQL writes it: no quoting, `\` escapes, `\N` for NULL.
    Tsv,
    Parquet,
}

/// Load catalog files into one table of a plain MariaDB database (a reference), replacing it;
/// or, with `--to-workers` and `--partitioned`, the partitioner's output of a table onto Qserv
/// worker MariaDBs as chunk tables.
///
/// Partitioned: `load --to-workers mysql://root@w1:3306,mysql://root@w2:3306 --database D
/// --table T --partitioned DIR (--schema T.schema | --format F FILE) [--part-config C.json...]`.
/// Chunks go to workers in sorted order, round-robin; the plan is printed.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// MariaDB endpoint, `mysql://user[:password]@host:port`.
    #[arg(long, value_name = "URL", required_unless_present = "to_workers")]
    pub to: Option<String>,
    /// Worker MariaDBs that get the chunk tables of `--partitioned` output, comma-separated.
    #[arg(
        long,
        value_name = "URL,URL",
        value_delimiter = ',',
        conflicts_with = "to",
        requires = "partitioned"
    )]
    pub to_workers: Vec<String>,
    /// Partitioner output directory (`chunk_<id>.txt`, `chunk_<id>_overlap.txt`) to load onto
    /// `--to-workers`. The table's columns come from `--schema`, else from the catalog FILE.
    #[arg(long, value_name = "DIR", requires = "to_workers")]
    pub partitioned: Option<PathBuf>,
    /// sph-partition config files the output was made with (as given to `partition`): their
    /// output fields, dialect and prefix describe the chunk files. Default: the table's
    /// columns then chunkId, subChunkId, in the partitioner's default output dialect.
    #[arg(long, value_name = "FILE", requires = "partitioned")]
    pub part_config: Vec<PathBuf>,
    /// Database (created when missing).
    #[arg(long)]
    pub database: String,
    /// Table (replaced when it exists, once every row is loaded).
    #[arg(long)]
    pub table: String,
    /// Input file format (not needed with `--partitioned` and `--schema`).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// HDF5 dataset of the table (default: the table name).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Columns to keep, glob patterns separated by commas (`coord*,id`); default: all.
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Keep the rows within a cone: `RA,DEC,RADIUS`, all in degrees.
    #[arg(long, value_name = "RA,DEC,RADIUS_DEG", allow_hyphen_values = true, value_parser = parse_cone)]
    pub cone: Option<Cone>,
    /// Unit of the position columns when the file does not say (CSV/TSV, or a column without
    /// a unit); by default the file's own (astropy's `unit`, Parquet field metadata).
    #[arg(long, value_enum)]
    pub angle_unit: Option<catalog::AngleUnit>,
    #[arg(long, default_value = "coord_ra")]
    pub ra_column: String,
    #[arg(long, default_value = "coord_dec")]
    pub dec_column: String,
    /// The table's schema: a mysqldump `.schema` file (its CREATE TABLE) or a Felis YAML
    /// (`.yaml`/`.yml`, its table named `--table`); it defines the table and types CSV/TSV.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Load an input without rows as an empty table (by default it is an error and the table
    /// is left as it was).
    #[arg(long)]
    pub allow_empty: bool,
    /// CSV/TSV files start with a header line of column names.
    #[arg(long)]
    pub header: bool,
    /// CSV/TSV field delimiter (one character, `\t` for tab; default: by --format).
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// CSV/TSV quote character (sph-partition's `in.csv.quote`; default `"` for csv).
    #[arg(long, value_name = "C", conflicts_with = "no_quote")]
    pub quote: Option<String>,
    /// No quoting: quote characters are data (the default for tsv).
    #[arg(long)]
    pub no_quote: bool,
    /// CSV/TSV escape character (`in.csv.escape`; default `\`).
    #[arg(long, value_name = "C", conflicts_with = "no_escape")]
    pub escape: Option<String>,
    /// No escaping.
    #[arg(long)]
    pub no_escape: bool,
    /// The token that stands for NULL (`in.csv.null`; default `NULL` with quoting, else `\N`).
    #[arg(long, value_name = "TOKEN")]
    pub null: Option<String>,
    /// Rows per batch read from the files.
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
    /// Input files, loaded in order as one table (with `--partitioned`: the first gives the
    /// columns when there is no `--schema`).
    #[arg(required_unless_present = "partitioned")]
    pub files: Vec<PathBuf>,
}

fn parse_cone(text: &str) -> std::result::Result<Cone, String> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|err| format!("`{text}`: {err}"))?;
    match parts[..] {
        [ra, dec, radius] if radius >= 0.0 && dec.abs() <= 90.0 => Ok(Cone { ra, dec, radius }),
        [_, _, _] => Err(format!("`{text}`: need |DEC| <= 90 and RADIUS >= 0")),
        _ => Err(format!("`{text}`: expected RA,DEC,RADIUS_DEG")),
    }
}

impl LoadArgs {
    /// `--schema` for `--table`: a DDL file or a Felis YAML with a table of that name.
    pub fn schema_file(&self) -> Option<catalog::SchemaFile> {
        self.schema
            .as_ref()
            .map(|file| catalog::SchemaFile::new(file, &self.table))
    }

    /// The load these arguments describe (reads the schema file of CSV/TSV inputs).
    pub fn reference_load(&self) -> Result<ReferenceLoad> {
        let format = self.format.ok_or_else(|| {
            LoadError::Arguments("--format is needed to read the input files".into())
        })?;
        let schema_file = self.schema_file();
        let schema = match (&schema_file, format) {
            (Some(file), FileFormat::Csv | FileFormat::Tsv) => Some(Arc::new(
                file.arrow_schema()
                    .map_err(|err| LoadError::read(&self.table, err))?,
            )),
            _ => None,
        };
        let csv = |tsv: bool| -> Result<InputFormat> {
            let dialect = crate::api::catalog_ingest::CsvDialect {
                delimiter: self.delimiter.clone(),
                quote: self.quote.clone(),
                no_quote: self.no_quote,
                escape: self.escape.clone(),
                no_escape: self.no_escape,
                null_token: self.null.clone(),
                ..Default::default()
            };
            let chars = crate::api::catalog_ingest::CsvDialect::resolve(Some(&dialect), tsv)
                .map_err(|problems| {
                    let text: Vec<String> = problems
                        .iter()
                        .map(|(field, why)| format!("{field}: {why}"))
                        .collect();
                    LoadError::Arguments(format!("CSV dialect: {}", text.join("; ")))
                })?;
            let mut options = CsvOptions::with_dialect(catalog::Dialect::new(
                chars.delimiter,
                chars.quote,
                chars.escape,
                Some(chars.null),
            ));
            options.header = self.header;
            options.schema = schema.clone();
            Ok(InputFormat::Csv(options))
        };
        let format = match format {
            FileFormat::Hdf5 => InputFormat::Hdf5 {
                dataset: self.dataset.clone().unwrap_or_else(|| self.table.clone()),
            },
            FileFormat::Csv => csv(false)?,
            FileFormat::Tsv => csv(true)?,
            FileFormat::Parquet => InputFormat::Parquet,
        };
        let position = self.cone.map(|_| Position {
            ra: self.ra_column.clone(),
            dec: self.dec_column.clone(),
            unit: self.angle_unit,
        });
        let input = Input {
            files: self.files.clone(),
            format,
            selection: SelectionSpec {
                table: self.table.clone(),
                columns: self.columns.clone(),
                position,
                cone: self.cone,
                ..Default::default()
            },
            batch_rows: self.batch_rows.max(1),
        };
        let mut load = ReferenceLoad::new(&self.database, &self.table, input);
        load.schema_file = schema_file;
        load.allow_empty = self.allow_empty;
        Ok(load)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cones_parse_with_negative_declinations() {
        assert_eq!(
            parse_cone("340.83,-9.59,0.4").unwrap(),
            Cone {
                ra: 340.83,
                dec: -9.59,
                radius: 0.4
            }
        );
        assert!(parse_cone("1,2").unwrap_err().contains("expected RA,DEC"));
        assert!(parse_cone("1,95,1").unwrap_err().contains("|DEC| <= 90"));
        assert!(parse_cone("1,x,1").is_err());
    }
}
