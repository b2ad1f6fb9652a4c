//! Column descriptions carried in Arrow field metadata, so one `Schema` says everything a
//! loader or the DDL generator needs: name, type, nullability (Arrow), and unit, description,
//! string width and a verbatim SQL type (metadata).

use std::collections::HashMap;

use arrow_schema::{DataType, Field};

/// Physical unit of a column (astropy's `unit`, e.g. `rad`, `ct`).
pub const META_UNIT: &str = "unit";
/// Free-text description of a column.
pub const META_DESCRIPTION: &str = "description";
/// Width in bytes of a fixed-width string column (HDF5 `S4` → 4, SQL `CHAR(34)` → 34).
pub const META_STRING_WIDTH: &str = "string_width";
/// The column's MySQL type taken verbatim from a DDL file (e.g. `bigint(20)`); when present the
/// DDL generator uses it instead of deriving one from the Arrow type.
pub const META_SQL_TYPE: &str = "sql_type";

/// A field with catalog metadata; empty values are left out.
pub fn column_field(
    name: &str,
    data_type: DataType,
    nullable: bool,
    meta: &[(&str, Option<&str>)],
) -> Field {
    let metadata: HashMap<String, String> = meta
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v.to_string()))
        })
        .collect();
    Field::new(name, data_type, nullable).with_metadata(metadata)
}

/// Read accessors for the metadata of [`column_field`].
pub trait ColumnMeta {
    fn unit(&self) -> Option<&str>;
    fn description(&self) -> Option<&str>;
    fn string_width(&self) -> Option<usize>;
    fn sql_type(&self) -> Option<&str>;
}

impl ColumnMeta for Field {
    fn unit(&self) -> Option<&str> {
        self.metadata().get(META_UNIT).map(String::as_str)
    }
    fn description(&self) -> Option<&str> {
        self.metadata().get(META_DESCRIPTION).map(String::as_str)
    }
    fn string_width(&self) -> Option<usize> {
        self.metadata()
            .get(META_STRING_WIDTH)
            .and_then(|w| w.parse().ok())
    }
    fn sql_type(&self) -> Option<&str> {
        self.metadata().get(META_SQL_TYPE).map(String::as_str)
    }
}
