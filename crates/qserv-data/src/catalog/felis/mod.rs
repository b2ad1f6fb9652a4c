//! LSST Felis schemas (the YAML of Rubin's `sdm_schemas`, e.g. `dp02_dc2.yaml`): one table of a
//! Felis file as an Arrow schema (types, nullability, and the units and descriptions in the
//! field metadata every reader uses, see [`schema`](super::schema)) and as the MySQL
//! `CREATE TABLE` that `felis create --engine-url mysql://` writes for it (lsst-felis
//! 30.2026.4300 with SQLAlchemy 2.1.9; `tests/felis_schema.rs` compares the two on every table
//! of the `lsst-sdm-schemas` files).
//!
//! The definition equals Felis's in column names and order, types (`mysql:datatype` included),
//! `NOT NULL`, `DEFAULT`, `COMMENT` (the description), the primary key, `ENGINE`, `CHARSET` and
//! the table's `COMMENT`. Deliberately different:
//! - no `AUTO_INCREMENT` (SQLAlchemy adds it to a lone integer primary-key column): the
//!   reference is a copy of the rows Qserv gets, and with it MariaDB replaces an id of 0 or NULL
//!   by a generated one;
//! - no foreign keys, unique or check constraints, no indexes: Qserv's tables carry none, and the
//!   reference must take every row Qserv takes (a foreign key also names tables the ingest may
//!   not have);
//! - a table whose file sets no `mysql:charset` gets `DEFAULT CHARSET=utf8mb4` rather than the
//!   database's default: the readers write UTF-8, and Qserv's registration says utf8mb4.
//!
//! Arrow types: Felis's integers and floats as themselves, `boolean` as Boolean, `char`,
//! `string`, `unicode` and `text` as UTF-8 (width: `length`), `binary` as bytes, `timestamp` as
//! text (a `DATETIME` is loaded from its text, unchanged); a `mysql:datatype` decides the type
//! as a DDL file's type would. A primary-key column is not nullable (MySQL makes it `NOT NULL`),
//! whatever `nullable` says. The unit is `ivoa:unit` or `fits:tunit`.
//!
//! Known differences from Felis's own reading: `columnRefs`/`resources` (columns borrowed from
//! another file) are refused; units and UCDs are not checked against astropy's vocabulary;
//! YAML is read as YAML 1.2 where Felis's PyYAML reads 1.1 (`yes`/`no` are strings here,
//! `1.0e20` a number).

mod model;
mod mysql;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Field, Schema};

use super::definition::TableDefinition;
use super::error::{CatalogError, Result};
use super::schema::{META_DESCRIPTION, META_SQL_TYPE, META_STRING_WIDTH, META_UNIT, column_field};
use model::{Column, Datatype, DefaultValue};

/// A Felis file, read and checked whole (as Felis refuses a file with any bad table).
#[derive(Debug)]
pub struct FelisFile {
    file: PathBuf,
    schema: model::Schema,
    /// Per table, the MySQL type of each column.
    sql_types: Vec<Vec<String>>,
}

impl FelisFile {
    pub fn read(file: &Path) -> Result<FelisFile> {
        let text = std::fs::read_to_string(file).map_err(|err| CatalogError::io(file, err))?;
        FelisFile::parse(file, &text)
    }

    /// Parses `text`; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<FelisFile> {
        let error = |reason: String| CatalogError::Felis {
            file: file.to_path_buf(),
            reason,
        };
        let mut schema: model::Schema =
            serde_norway::from_str(text).map_err(|err| error(err.to_string()))?;
        let sql_types = check(&mut schema).map_err(error)?;
        Ok(FelisFile {
            file: file.to_path_buf(),
            schema,
            sql_types,
        })
    }

    /// The schema's (database's) name.
    pub fn name(&self) -> &str {
        &self.schema.name
    }

    pub fn table_names(&self) -> Vec<&str> {
        self.schema.tables.iter().map(|t| t.name.as_str()).collect()
    }

    /// The columns of `table` as Arrow fields, in the file's order.
    pub fn arrow_schema(&self, table: &str) -> Result<Schema> {
        let (t, types) = self.table(table)?;
        let key = primary_key_names(t);
        let fields: Vec<Field> = t
            .columns
            .iter()
            .zip(types)
            .map(|(c, sql_type)| field(c, sql_type, c.nullable && !key.contains(&c.name.as_str())))
            .collect();
        Ok(Schema::new(fields))
    }

    /// `table`'s `CREATE TABLE` parts (see the module comment for what they hold).
    pub fn definition(&self, table: &str) -> Result<TableDefinition> {
        let (t, types) = self.table(table)?;
        let key = primary_key_names(t);
        let columns = |comment: bool| {
            let mut lines: Vec<String> = t
                .columns
                .iter()
                .zip(types)
                .map(|(c, sql_type)| {
                    format!("  {}", mysql::column_definition(c, sql_type, comment))
                })
                .collect();
            if !key.is_empty() {
                let names: Vec<String> = key
                    .iter()
                    .map(|n| super::ddl::quote_identifier(n))
                    .collect();
                lines.push(format!("  PRIMARY KEY ({})", names.join(", ")));
            }
            lines.join(",\n")
        };
        // `felis@30.2026.4300:felis/metadata.py:228-241` and
        // `sqlalchemy@2.1.9:dialects/mysql/base.py:2118-2178`: ENGINE, CHARSET, COMMENT.
        let mut options = Vec::new();
        if let Some(engine) = &t.mysql_engine {
            options.push(format!("ENGINE={engine}"));
        }
        match &t.mysql_charset {
            Some(charset) => options.push(format!("CHARSET={charset}")),
            None => options.push("DEFAULT CHARSET=utf8mb4".to_string()),
        }
        if let Some(description) = &t.description {
            options.push(format!("COMMENT={}", mysql::string_literal(description)));
        }
        let has_comments = t.columns.iter().any(|c| c.description.is_some());
        Ok(TableDefinition {
            columns: columns(true),
            columns_without_comments: has_comments.then(|| columns(false)),
            options: options.join(" "),
            user_ddl: false,
        })
    }

    fn table(&self, name: &str) -> Result<(&model::Table, &[String])> {
        let index = self
            .schema
            .tables
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| CatalogError::Felis {
                file: self.file.clone(),
                reason: format!(
                    "no table `{name}` in schema {} (its tables: {})",
                    self.schema.name,
                    self.table_names().join(", ")
                ),
            })?;
        Ok((&self.schema.tables[index], &self.sql_types[index]))
    }
}

/// Names of the primary-key columns (ids resolved by [`check`]).
fn primary_key_names(t: &model::Table) -> Vec<&str> {
    let Some(key) = &t.primary_key else {
        return Vec::new();
    };
    key.ids()
        .into_iter()
        .filter_map(|id| t.columns.iter().find(|c| c.id.as_deref() == Some(id)))
        .map(|c| c.name.as_str())
        .collect()
}

/// The Arrow type (and string width) of a column whose MySQL type is `sql_type`: Felis's type,
/// or, when `mysql:datatype` decided the MySQL type, that type read as a DDL file's would be
/// (`None`: no reader can give it).
fn arrow_type(c: &Column, sql_type: &str) -> Option<(DataType, Option<usize>)> {
    let overridden =
        c.mysql_datatype.is_some() && !(c.datatype == Datatype::Timestamp && c.precision.is_some());
    if overridden {
        return super::sqlschema::arrow_type(&sql_type.replace("NATIONAL ", ""), false);
    }
    Some(match c.datatype {
        Datatype::Boolean => (DataType::Boolean, None),
        Datatype::Byte => (DataType::Int8, None),
        Datatype::Short => (DataType::Int16, None),
        Datatype::Int => (DataType::Int32, None),
        Datatype::Long => (DataType::Int64, None),
        Datatype::Float => (DataType::Float32, None),
        Datatype::Double => (DataType::Float64, None),
        Datatype::Char | Datatype::String | Datatype::Unicode => {
            (DataType::Utf8, c.length.map(|n| n as usize))
        }
        Datatype::Text | Datatype::Timestamp => (DataType::Utf8, None),
        Datatype::Binary => (DataType::Binary, None),
    })
}

fn field(c: &Column, sql_type: &str, nullable: bool) -> Field {
    let (data_type, width) = arrow_type(c, sql_type).expect("checked when the file was read");
    let unit = c.ivoa_unit.as_deref().or(c.fits_tunit.as_deref());
    column_field(
        &c.name,
        data_type,
        nullable,
        &[
            (META_SQL_TYPE, Some(sql_type)),
            (META_STRING_WIDTH, width.map(|w| w.to_string()).as_deref()),
            (META_DESCRIPTION, c.description.as_deref()),
            (META_UNIT, unit),
        ],
    )
}

/// Felis's checks that decide the DDL, each error at its YAML path
/// (`felis@30.2026.4300:felis/datamodel.py`: strings stripped :77, ids generated :1503-1558 and
/// unique :1672-1695, names unique :975,1563, `length` :314-349, `precision` :416, units :282,
/// `value` :238-275); returns each table's column types.
fn check(schema: &mut model::Schema) -> std::result::Result<Vec<Vec<String>>, String> {
    if !schema.resources.is_empty() {
        return Err(
            "resources: columns borrowed from other Felis files (resources and \
                    columnRefs) are not supported; use a file that defines its columns"
                .into(),
        );
    }
    let mut ids = HashSet::new();
    let mut unique_id = |id: &str, at: &str| {
        if ids.insert(id.to_string()) {
            Ok(())
        } else {
            Err(format!("{at}: duplicate @id {id:?}"))
        }
    };
    strip(&mut schema.name);
    let schema_id = schema
        .id
        .get_or_insert_with(|| format!("#{}", schema.name))
        .clone();
    unique_id(&schema_id, "@id")?;
    let mut table_names = HashSet::new();
    let mut all_types = Vec::with_capacity(schema.tables.len());
    for (i, t) in schema.tables.iter_mut().enumerate() {
        let at = format!("tables[{i}]");
        strip(&mut t.name);
        if !table_names.insert(t.name.clone()) {
            return Err(format!("{at}.name: duplicate table name {:?}", t.name));
        }
        if !t.column_refs.is_empty() {
            return Err(format!(
                "{at}.columnRefs: columns borrowed from other Felis files are not supported"
            ));
        }
        strip_opt(&mut t.description);
        strip_opt(&mut t.mysql_engine);
        strip_opt(&mut t.mysql_charset);
        let table_id = t.id.get_or_insert_with(|| format!("#{}", t.name)).clone();
        unique_id(&table_id, &format!("{at}.@id"))?;
        let mut names = HashSet::new();
        let mut types = Vec::with_capacity(t.columns.len());
        for (j, c) in t.columns.iter_mut().enumerate() {
            let at = format!("{at}.columns[{j}]");
            strip(&mut c.name);
            strip_opt(&mut c.description);
            strip_opt(&mut c.mysql_datatype);
            if let Some(DefaultValue::Str(s)) = &mut c.value {
                strip(s);
            }
            if !names.insert(c.name.clone()) {
                return Err(format!("{at}.name: duplicate column name {:?}", c.name));
            }
            let column_id =
                c.id.get_or_insert_with(|| format!("#{}.{}", t.name, c.name))
                    .clone();
            unique_id(&column_id, &format!("{at}.@id"))?;
            check_column(c).map_err(|(key, reason)| format!("{at}.{key}: {reason}"))?;
            let sql_type =
                mysql::column_type(c).map_err(|(key, reason)| format!("{at}.{key}: {reason}"))?;
            if arrow_type(c, &sql_type).is_none() {
                return Err(format!(
                    "{at}.mysql:datatype: {sql_type} columns cannot be read from catalog files"
                ));
            }
            types.push(sql_type);
        }
        if let Some(key) = &mut t.primary_key {
            match key {
                model::OneOrMany::One(id) => strip(id),
                model::OneOrMany::Many(ids) => ids.iter_mut().for_each(strip),
            }
            for id in key.ids() {
                if !t.columns.iter().any(|c| c.id.as_deref() == Some(id)) {
                    return Err(format!(
                        "{at}.primaryKey: {id:?} is not the @id of a column of table {}",
                        t.name
                    ));
                }
            }
        }
        all_types.push(types);
    }
    Ok(all_types)
}

/// One column's own rules; the error names the key.
fn check_column(c: &Column) -> std::result::Result<(), (&'static str, String)> {
    if c.datatype.is_sized() && c.length.is_none() {
        return Err((
            "length",
            format!("a {} column needs a length", c.datatype.name()),
        ));
    }
    if c.length == Some(0) {
        return Err(("length", "must be greater than 0".into()));
    }
    if c.precision.is_some() && c.datatype != Datatype::Timestamp {
        return Err((
            "precision",
            "only timestamp columns have a precision".into(),
        ));
    }
    if c.fits_tunit.is_some() && c.ivoa_unit.is_some() {
        return Err((
            "ivoa:unit",
            "a column has fits:tunit or ivoa:unit, not both".into(),
        ));
    }
    let Some(value) = &c.value else {
        return Ok(());
    };
    if c.autoincrement == Some(true) {
        return Err((
            "value",
            "an autoincremented column cannot have a default value".into(),
        ));
    }
    let fits = match (c.datatype, value) {
        (Datatype::Byte | Datatype::Short | Datatype::Int | Datatype::Long, v) => {
            matches!(v, DefaultValue::Int(_) | DefaultValue::Bool(_))
        }
        (Datatype::Float | Datatype::Double, v) => matches!(v, DefaultValue::Float(_)),
        (Datatype::Char | Datatype::String | Datatype::Unicode | Datatype::Text, v) => {
            matches!(v, DefaultValue::Str(s) if !s.is_empty())
        }
        (Datatype::Boolean, v) => matches!(v, DefaultValue::Bool(_)),
        (Datatype::Binary | Datatype::Timestamp, _) => true,
    };
    if fits {
        Ok(())
    } else {
        Err((
            "value",
            format!(
                "{value:?} is not a default for a {} column (integers take an integer, \
                 float and double a decimal number, strings a non-empty string, boolean \
                 true or false)",
                c.datatype.name()
            ),
        ))
    }
}

/// Felis strips the whitespace around every string (`str_strip_whitespace`).
fn strip(s: &mut String) {
    let trimmed = s.trim();
    if trimmed.len() != s.len() {
        *s = trimmed.to_string();
    }
}

fn strip_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        strip(s);
    }
}

#[cfg(test)]
mod tests;
