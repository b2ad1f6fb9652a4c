//! A table's schema file, as a CatalogIngest table's `schema` or the CLI's `--schema` names it:
//! a MySQL DDL file (a mysqldump `.schema`, as qserv_testdata ships them) or, by its `.yaml` /
//! `.yml` extension, a Felis schema (Rubin's `sdm_schemas`). Either gives the two things the
//! loaders need: the Arrow schema (the column types the CSV/TSV readers use, with units and
//! descriptions) and the parts of the table's `CREATE TABLE`.

use std::path::{Path, PathBuf};

use arrow_schema::Schema;

use super::definition::TableDefinition;
use super::error::{CatalogError, Result};
use super::felis::FelisFile;
use super::sqlschema::{create_table_parts, schema_from_ddl_file};

/// One table of a schema file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFile {
    pub path: PathBuf,
    /// The table's name in the file. A Felis file must have it; a DDL file without it gives
    /// its first `CREATE TABLE` (qserv_testdata has one table per `.schema` file).
    pub table: String,
}

impl SchemaFile {
    pub fn new(path: impl Into<PathBuf>, table: &str) -> SchemaFile {
        SchemaFile {
            path: path.into(),
            table: table.to_string(),
        }
    }

    /// Whether `path` names a Felis schema (`.yaml` or `.yml`) rather than a DDL file.
    pub fn is_felis_path(path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    }

    pub fn is_felis(&self) -> bool {
        Self::is_felis_path(&self.path)
    }

    /// The table's columns as Arrow fields.
    pub fn arrow_schema(&self) -> Result<Schema> {
        if self.is_felis() {
            return FelisFile::read(&self.path)?.arrow_schema(&self.table);
        }
        schema_from_ddl_file(&self.path, Some(&self.table))
            .or_else(|_| schema_from_ddl_file(&self.path, None))
    }

    /// The table's `CREATE TABLE` parts: generated from a Felis file, verbatim from a DDL file.
    pub fn definition(&self) -> Result<TableDefinition> {
        if self.is_felis() {
            return FelisFile::read(&self.path)?.definition(&self.table);
        }
        let text =
            std::fs::read_to_string(&self.path).map_err(|err| CatalogError::io(&self.path, err))?;
        let (columns, options) = create_table_parts(&text, Some(&self.table))
            .or_else(|_| create_table_parts(&text, None))
            .map_err(|reason| CatalogError::Ddl {
                file: self.path.clone(),
                reason,
            })?;
        Ok(TableDefinition {
            columns: columns.to_string(),
            columns_without_comments: None,
            options: options.to_string(),
            user_ddl: true,
        })
    }
}
