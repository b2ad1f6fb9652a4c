//! A catalog schema as a MySQL/MariaDB `CREATE TABLE`, for the reference and chunk tables.
//!
//! Types are mapped faithfully (no widening): int8..int64 → TINYINT..BIGINT, unsigned ones →
//! `... UNSIGNED`, float32 → FLOAT, float64 → DOUBLE, bool → BOOLEAN, fixed-width strings →
//! CHAR(n) (VARCHAR(n) beyond 255, the CHAR limit), other strings → TEXT, bytes → BINARY(n) /
//! VARBINARY(n) / BLOB. A type given by a DDL file is used verbatim. Units and descriptions
//! become the column COMMENT (`description [unit]`).
//!
//! NaN rule for loaders: readers already turn float NaN into null, and float columns are
//! nullable, so a loader writes every null as `\N` in `LOAD DATA` and never sees a NaN.

use arrow_schema::{DataType, Field, Schema};

use super::error::{CatalogError, Result};
use super::schema::ColumnMeta;

/// `CREATE TABLE IF NOT EXISTS` for `table` with one column per field, in schema order.
/// Engine and charset are left to the loader (Qserv chunk tables use MyISAM).
pub fn create_table_sql(table: &str, schema: &Schema) -> Result<String> {
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{}\n)",
        quote_identifier(table),
        column_definitions(table, schema)?
    ))
}

/// The column definitions of [`create_table_sql`] (the text between its parentheses), one
/// line per field; `table` only names the table in errors.
pub fn column_definitions(table: &str, schema: &Schema) -> Result<String> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let sql_type = sql_type(field).map_err(|reason| CatalogError::SqlType {
            table: table.to_string(),
            column: field.name().clone(),
            reason,
        })?;
        let mut column = format!("  {} {sql_type}", quote_identifier(field.name()));
        if !field.is_nullable() {
            column.push_str(" NOT NULL");
        }
        if let Some(comment) = comment(field) {
            column.push_str(&format!(" COMMENT {}", quote_string(&comment)));
        }
        columns.push(column);
    }
    Ok(columns.join(",\n"))
}

/// The MySQL type of a field.
pub fn sql_type(field: &Field) -> Result<String, String> {
    if let Some(given) = field.sql_type() {
        return Ok(given.to_string());
    }
    let width = field.string_width();
    Ok(match field.data_type() {
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Utf8 | DataType::Utf8View => match width {
            Some(n) if n <= 255 => format!("CHAR({})", n.max(1)),
            Some(n) if n <= 16_383 => format!("VARCHAR({n})"),
            _ => "TEXT".into(),
        },
        DataType::LargeUtf8 => "LONGTEXT".into(),
        DataType::Binary | DataType::BinaryView => match width {
            Some(n) if n <= 255 => format!("BINARY({})", n.max(1)),
            Some(n) if n <= 65_535 => format!("VARBINARY({n})"),
            _ => "BLOB".into(),
        },
        DataType::FixedSizeBinary(n) => format!("BINARY({n})"),
        DataType::LargeBinary => "LONGBLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, _) => "DATETIME(6)".into(),
        other => return Err(format!("type {other} has no MySQL column type")),
    })
}

fn comment(field: &Field) -> Option<String> {
    match (field.description(), field.unit()) {
        (Some(d), Some(u)) => Some(format!("{d} [{u}]")),
        (Some(d), None) => Some(d.to_string()),
        (None, Some(u)) => Some(format!("[{u}]")),
        (None, None) => None,
    }
}

/// A backquoted identifier (a backquote inside is doubled).
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A single-quoted string literal, safe whatever the SQL mode (no backslash reliance).
fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema::{
        META_DESCRIPTION, META_SQL_TYPE, META_STRING_WIDTH, META_UNIT, column_field,
    };

    #[test]
    fn every_type_maps_faithfully_with_comments_and_quoting() {
        let schema = Schema::new(vec![
            column_field("id", DataType::Int64, false, &[]),
            column_field(
                "coord_ra",
                DataType::Float64,
                true,
                &[(META_UNIT, Some("rad"))],
            ),
            column_field(
                "e1",
                DataType::Float32,
                true,
                &[(META_DESCRIPTION, Some("it's e1"))],
            ),
            column_field(
                "n",
                DataType::Int32,
                false,
                &[(META_UNIT, Some("ct")), (META_DESCRIPTION, Some("count"))],
            ),
            column_field("i8", DataType::Int8, false, &[]),
            column_field("i16", DataType::Int16, false, &[]),
            column_field("u8", DataType::UInt8, false, &[]),
            column_field("u64", DataType::UInt64, false, &[]),
            column_field("flag", DataType::Boolean, false, &[]),
            column_field(
                "patch",
                DataType::Utf8,
                false,
                &[(META_STRING_WIDTH, Some("4"))],
            ),
            column_field(
                "long",
                DataType::Utf8,
                true,
                &[(META_STRING_WIDTH, Some("1000"))],
            ),
            column_field("free", DataType::Utf8, true, &[]),
            column_field(
                "poly",
                DataType::Binary,
                false,
                &[(META_STRING_WIDTH, Some("120"))],
            ),
            column_field(
                "given",
                DataType::Int64,
                false,
                &[(META_SQL_TYPE, Some("bigint(20)"))],
            ),
            column_field("we`ird", DataType::Int16, true, &[]),
        ]);
        let sql = create_table_sql("deepCoadd_meas", &schema).unwrap();
        let expected = "CREATE TABLE IF NOT EXISTS `deepCoadd_meas` (
  `id` BIGINT NOT NULL,
  `coord_ra` DOUBLE COMMENT '[rad]',
  `e1` FLOAT COMMENT 'it''s e1',
  `n` INT NOT NULL COMMENT 'count [ct]',
  `i8` TINYINT NOT NULL,
  `i16` SMALLINT NOT NULL,
  `u8` TINYINT UNSIGNED NOT NULL,
  `u64` BIGINT UNSIGNED NOT NULL,
  `flag` BOOLEAN NOT NULL,
  `patch` CHAR(4) NOT NULL,
  `long` VARCHAR(1000),
  `free` TEXT,
  `poly` BINARY(120) NOT NULL,
  `given` bigint(20) NOT NULL,
  `we``ird` SMALLINT
)";
        assert_eq!(sql, expected);
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let schema = Schema::new(vec![Field::new(
            "l",
            DataType::new_list(DataType::Int8, true),
            true,
        )]);
        let err = create_table_sql("t", &schema).unwrap_err().to_string();
        assert!(err.starts_with("table `t`, column `l`: type List"), "{err}");
    }
}
