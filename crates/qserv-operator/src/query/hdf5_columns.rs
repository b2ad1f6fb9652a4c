//! Result columns as the members of an astropy HDF5 table (pure: types, value encoding and the
//! `__table_column_meta__` YAML). The layout is what astropy's `write_table_hdf5` writes and
//! our reader (`catalog::hdf5`) reads: a packed compound, little-endian numbers, bools as the
//! int8 enum {FALSE, TRUE} of h5py, strings as fixed-width NULL-padded bytes.
//!
//! MariaDB types map by width and signedness (TINYINT → int8/uint8, SMALLINT → int16,
//! MEDIUMINT/INT → int32, BIGINT → int64), FLOAT → float32, DOUBLE → float64, BOOLEAN (the
//! TINYINT(1) MariaDB reports for it) → bool, DECIMAL → float64 with a note in the description
//! (astropy has no decimal type), text, binary and temporal values → fixed-width bytes of the
//! column's maximal length in bytes (temporal values as MariaDB's text).
//!
//! NULL: a float NULL is NaN (astropy's own convention). Any other nullable column becomes an
//! astropy masked column, serialized as astropy does it: the data member `<name>` (0 or empty
//! where masked) followed by a bool member `<name>.mask`, tied together under
//! `__serialized_columns__` in the YAML. Whether a column is nullable comes from the result's
//! metadata, so the layout is fixed before the first row and the rows can stream.

use hdf5_metno::types::{CompoundField, CompoundType, FloatSize, IntSize, TypeDescriptor};
use mysql_async::Value;
use mysql_async::consts::{ColumnFlags, ColumnType};

/// Strings wider than this (TEXT, BLOB) have no sensible fixed width: the query should CAST.
pub const MAX_STRING_BYTES: usize = 4096;

/// How a column's values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int {
        bytes: usize,
        signed: bool,
    },
    Float32,
    Float64,
    /// DECIMAL, stored as float64.
    Decimal,
    Bool,
    /// Fixed-width bytes.
    Bytes(usize),
}

/// A result column as a member (or two, when masked) of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Hdf5Column {
    pub name: String,
    pub kind: Kind,
    /// Written as an astropy masked column (a nullable column that is not a float).
    pub masked: bool,
    pub unit: Option<String>,
    pub description: Option<String>,
}

impl Hdf5Column {
    /// The member(s) for a column of MariaDB type `column_type` with `flags`; `length` is the
    /// maximal length in bytes MariaDB reports. The error is the reason it has no member.
    pub fn new(
        name: &str,
        column_type: ColumnType,
        flags: ColumnFlags,
        length: usize,
    ) -> Result<Self, String> {
        use ColumnType::*;
        let signed = !flags.contains(ColumnFlags::UNSIGNED_FLAG);
        let int = |bytes| Kind::Int { bytes, signed };
        let kind = match column_type {
            // MariaDB's BOOLEAN is TINYINT(1); the display width is all that tells them apart.
            MYSQL_TYPE_TINY if length == 1 => Kind::Bool,
            MYSQL_TYPE_TINY => int(1),
            MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => int(2),
            MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => int(4),
            MYSQL_TYPE_LONGLONG => int(8),
            MYSQL_TYPE_FLOAT => Kind::Float32,
            MYSQL_TYPE_DOUBLE => Kind::Float64,
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => Kind::Decimal,
            MYSQL_TYPE_NULL => Kind::Bytes(1),
            _ if length > MAX_STRING_BYTES => {
                return Err(format!(
                    "values of up to {length} bytes (TEXT/BLOB) have no fixed width for HDF5; \
                     CAST the column to CHAR(n) or BINARY(n) with n <= {MAX_STRING_BYTES}"
                ));
            }
            _ => Kind::Bytes(length.max(1)),
        };
        let float = matches!(kind, Kind::Float32 | Kind::Float64 | Kind::Decimal);
        let nullable = !flags.contains(ColumnFlags::NOT_NULL_FLAG);
        Ok(Hdf5Column {
            name: name.to_string(),
            kind,
            masked: nullable && !float,
            unit: None,
            description: (kind == Kind::Decimal).then(|| DECIMAL_NOTE.to_string()),
        })
    }

    /// Sets unit and description from a column COMMENT as the loaders write it
    /// (`description [unit]`, `[unit]` or `description`).
    pub fn set_comment(&mut self, comment: &str) {
        let comment = comment.trim();
        if comment.is_empty() {
            return;
        }
        let (description, unit) = match comment.strip_suffix(']').and_then(|c| c.rsplit_once('[')) {
            Some((d, u)) => (d.trim(), Some(u.trim())),
            None => (comment, None),
        };
        self.unit = unit.filter(|u| !u.is_empty()).map(str::to_string);
        let description = (!description.is_empty()).then(|| description.to_string());
        self.description = match (description, self.kind) {
            (Some(d), Kind::Decimal) => Some(format!("{d} ({DECIMAL_NOTE})")),
            (None, Kind::Decimal) => Some(DECIMAL_NOTE.to_string()),
            (d, _) => d,
        };
    }

    /// Bytes of the data member.
    pub fn size(&self) -> usize {
        match self.kind {
            Kind::Int { bytes, .. } => bytes,
            Kind::Float32 => 4,
            Kind::Float64 | Kind::Decimal => 8,
            Kind::Bool => 1,
            Kind::Bytes(n) => n,
        }
    }

    fn descriptor(&self) -> TypeDescriptor {
        let int_size = |bytes| match bytes {
            1 => IntSize::U1,
            2 => IntSize::U2,
            4 => IntSize::U4,
            _ => IntSize::U8,
        };
        match self.kind {
            Kind::Int {
                bytes,
                signed: true,
            } => TypeDescriptor::Integer(int_size(bytes)),
            Kind::Int { bytes, .. } => TypeDescriptor::Unsigned(int_size(bytes)),
            Kind::Float32 => TypeDescriptor::Float(FloatSize::U4),
            Kind::Float64 | Kind::Decimal => TypeDescriptor::Float(FloatSize::U8),
            Kind::Bool => TypeDescriptor::Boolean,
            Kind::Bytes(n) => TypeDescriptor::FixedAscii(n),
        }
    }

    /// astropy's name of the data member's type (the YAML `datatype`).
    fn astropy_datatype(&self) -> String {
        match self.kind {
            Kind::Int { bytes, signed } => {
                format!("{}int{}", if signed { "" } else { "u" }, bytes * 8)
            }
            Kind::Float32 => "float32".into(),
            Kind::Float64 | Kind::Decimal => "float64".into(),
            Kind::Bool => "bool".into(),
            Kind::Bytes(_) => "string".into(),
        }
    }

    /// Appends the column's bytes for `value` (and its mask byte when masked).
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let null = matches!(value, Value::NULL);
        match self.kind {
            _ if null
                && !self.masked
                && !matches!(self.kind, Kind::Float32 | Kind::Float64 | Kind::Decimal) =>
            {
                return Err("NULL in a column MariaDB declared NOT NULL".into());
            }
            _ if null => match self.kind {
                Kind::Float32 => out.extend_from_slice(&f32::NAN.to_le_bytes()),
                Kind::Float64 | Kind::Decimal => out.extend_from_slice(&f64::NAN.to_le_bytes()),
                _ => out.resize(start + self.size(), 0),
            },
            Kind::Int { bytes, signed } => {
                let v = integer(value)?;
                let fits = if signed {
                    let min = -(1i128 << (bytes * 8 - 1));
                    (min..-min).contains(&v)
                } else {
                    (0..1i128 << (bytes * 8)).contains(&v)
                };
                if !fits {
                    return Err(format!("{v} does not fit the column's {} bytes", bytes));
                }
                out.extend_from_slice(&v.to_le_bytes()[..bytes]);
            }
            Kind::Bool => match integer(value)? {
                v @ (0 | 1) => out.push(v as u8),
                v => return Err(format!("{v} in a BOOLEAN (TINYINT(1)) column")),
            },
            Kind::Float32 => {
                let v = match value {
                    Value::Float(f) => *f,
                    other => float(other)? as f32,
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            Kind::Float64 | Kind::Decimal => out.extend_from_slice(&float(value)?.to_le_bytes()),
            Kind::Bytes(width) => {
                let text;
                let bytes: &[u8] = match value {
                    Value::Bytes(b) => b,
                    other => {
                        text = super::format::text(other).unwrap_or_default();
                        text.as_bytes()
                    }
                };
                if bytes.len() > width {
                    return Err(format!(
                        "a value of {} bytes exceeds the column's {width}",
                        bytes.len()
                    ));
                }
                out.extend_from_slice(bytes);
                out.resize(start + width, 0);
            }
        }
        if self.masked {
            out.push(u8::from(null));
        }
        Ok(())
    }
}

const DECIMAL_NOTE: &str = "DECIMAL in MariaDB, stored as float64";

fn integer(value: &Value) -> Result<i128, String> {
    match value {
        Value::Int(i) => Ok(i128::from(*i)),
        Value::UInt(u) => Ok(i128::from(*u)),
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{:?} is not an integer", String::from_utf8_lossy(b))),
        other => Err(format!("{other:?} is not an integer")),
    }
}

fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Double(d) => Ok(*d),
        Value::Float(f) => Ok(f64::from(*f)),
        Value::Int(i) => Ok(*i as f64),
        Value::UInt(u) => Ok(*u as f64),
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{:?} is not a number", String::from_utf8_lossy(b))),
        other => Err(format!("{other:?} is not a number")),
    }
}

/// The packed compound type of a row: each column's member, then `<name>.mask` after a
/// masked column. Returns it with the row size.
pub fn row_type(columns: &[Hdf5Column]) -> (TypeDescriptor, usize) {
    let mut fields = Vec::new();
    let mut offset = 0;
    let mut push = |name: String, ty: TypeDescriptor, size: usize| {
        let index = fields.len();
        fields.push(CompoundField {
            name,
            ty,
            offset,
            index,
        });
        offset += size;
    };
    for c in columns {
        push(c.name.clone(), c.descriptor(), c.size());
        if c.masked {
            push(format!("{}.mask", c.name), TypeDescriptor::Boolean, 1);
        }
    }
    let size = offset;
    (
        TypeDescriptor::Compound(CompoundType { fields, size }),
        size,
    )
}

/// The lines of `<path>.__table_column_meta__`, as astropy's `get_yaml_from_table` writes them
/// (strings are JSON-quoted, which YAML reads as double-quoted scalars).
pub fn column_meta_yaml(columns: &[Hdf5Column]) -> Vec<String> {
    let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut lines = vec!["datatype:".to_string()];
    for c in columns {
        let mut entry = format!("- {{name: {}", q(&c.name));
        if let Some(unit) = &c.unit {
            entry.push_str(&format!(", unit: {}", q(unit)));
        }
        entry.push_str(&format!(", datatype: {}", c.astropy_datatype()));
        if let Some(d) = &c.description {
            entry.push_str(&format!(", description: {}", q(d)));
        }
        entry.push('}');
        lines.push(entry);
        if c.masked {
            lines.push(format!(
                "- {{name: {}, datatype: bool}}",
                q(&format!("{}.mask", c.name))
            ));
        }
    }
    let masked: Vec<&Hdf5Column> = columns.iter().filter(|c| c.masked).collect();
    if !masked.is_empty() {
        lines.push("meta: !!omap".into());
        lines.push("- __serialized_columns__:".into());
        for c in masked {
            lines.push(format!("    {}:", q(&c.name)));
            lines.push("      __class__: astropy.table.column.MaskedColumn".into());
            lines.push(format!(
                "      data: !astropy.table.SerializedColumn {{name: {}}}",
                q(&c.name)
            ));
            lines.push(format!(
                "      mask: !astropy.table.SerializedColumn {{name: {}}}",
                q(&format!("{}.mask", c.name))
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(t: ColumnType, flags: ColumnFlags, length: usize) -> Hdf5Column {
        Hdf5Column::new("c", t, flags, length).unwrap()
    }

    #[test]
    fn types_map_by_width_signedness_and_nullability() {
        use ColumnType::*;
        let nn = ColumnFlags::NOT_NULL_FLAG;
        let un = ColumnFlags::NOT_NULL_FLAG | ColumnFlags::UNSIGNED_FLAG;
        assert_eq!(
            column(MYSQL_TYPE_TINY, nn, 4).kind,
            Kind::Int {
                bytes: 1,
                signed: true
            }
        );
        assert_eq!(
            column(MYSQL_TYPE_TINY, un, 3).kind,
            Kind::Int {
                bytes: 1,
                signed: false
            }
        );
        assert_eq!(column(MYSQL_TYPE_TINY, nn, 1).kind, Kind::Bool);
        assert_eq!(
            column(MYSQL_TYPE_INT24, nn, 9).kind,
            Kind::Int {
                bytes: 4,
                signed: true
            }
        );
        assert_eq!(
            column(MYSQL_TYPE_LONGLONG, un, 20).kind,
            Kind::Int {
                bytes: 8,
                signed: false
            }
        );
        assert_eq!(column(MYSQL_TYPE_VAR_STRING, nn, 40).kind, Kind::Bytes(40));
        assert!(!column(MYSQL_TYPE_DOUBLE, ColumnFlags::empty(), 22).masked);
        assert!(column(MYSQL_TYPE_LONG, ColumnFlags::empty(), 11).masked);
        let decimal = column(MYSQL_TYPE_NEWDECIMAL, nn, 12);
        assert_eq!(
            (decimal.kind, decimal.description.as_deref()),
            (Kind::Decimal, Some(DECIMAL_NOTE))
        );
        let e = Hdf5Column::new("t", MYSQL_TYPE_BLOB, nn, 65535).unwrap_err();
        assert!(e.contains("CAST the column"), "{e}");
    }

    #[test]
    fn values_encode_little_endian_with_masks() {
        let mut out = Vec::new();
        let i16m = column(ColumnType::MYSQL_TYPE_SHORT, ColumnFlags::empty(), 6);
        i16m.encode(&Value::Int(-2), &mut out).unwrap();
        i16m.encode(&Value::NULL, &mut out).unwrap();
        assert_eq!(out, [0xfe, 0xff, 0, 0, 0, 1]);
        assert!(
            i16m.encode(&Value::Int(40000), &mut out)
                .unwrap_err()
                .contains("does not fit")
        );

        let mut out = Vec::new();
        let s = column(ColumnType::MYSQL_TYPE_STRING, ColumnFlags::NOT_NULL_FLAG, 4);
        s.encode(&Value::Bytes(b"ab".to_vec()), &mut out).unwrap();
        assert_eq!(out, b"ab\0\0");
        assert!(s.encode(&Value::NULL, &mut out).is_err());
        assert!(
            s.encode(&Value::Bytes(b"abcde".to_vec()), &mut out)
                .is_err()
        );

        let mut out = Vec::new();
        let d = column(ColumnType::MYSQL_TYPE_NEWDECIMAL, ColumnFlags::empty(), 8);
        d.encode(&Value::Bytes(b"-1.25".to_vec()), &mut out)
            .unwrap();
        d.encode(&Value::NULL, &mut out).unwrap();
        assert_eq!(f64::from_le_bytes(out[..8].try_into().unwrap()), -1.25);
        assert!(f64::from_le_bytes(out[8..].try_into().unwrap()).is_nan());

        let b = column(ColumnType::MYSQL_TYPE_TINY, ColumnFlags::NOT_NULL_FLAG, 1);
        assert!(
            b.encode(&Value::Int(2), &mut Vec::new())
                .unwrap_err()
                .contains("BOOLEAN")
        );
    }

    #[test]
    fn comments_give_units_and_descriptions() {
        let mut c = column(ColumnType::MYSQL_TYPE_DOUBLE, ColumnFlags::empty(), 22);
        c.set_comment("Right ascension [rad]");
        assert_eq!(
            (c.description.as_deref(), c.unit.as_deref()),
            (Some("Right ascension"), Some("rad"))
        );
        c.set_comment("[deg]");
        assert_eq!(
            (c.description.as_deref(), c.unit.as_deref()),
            (None, Some("deg"))
        );
    }

    #[test]
    fn yaml_and_row_type_follow_astropy() {
        let mut i =
            Hdf5Column::new("i", ColumnType::MYSQL_TYPE_LONG, ColumnFlags::empty(), 11).unwrap();
        i.set_comment("an int [s]");
        let f =
            Hdf5Column::new("f", ColumnType::MYSQL_TYPE_DOUBLE, ColumnFlags::empty(), 22).unwrap();
        let yaml = column_meta_yaml(&[i.clone(), f.clone()]);
        assert_eq!(
            yaml,
            [
                "datatype:",
                "- {name: \"i\", unit: \"s\", datatype: int32, description: \"an int\"}",
                "- {name: \"i.mask\", datatype: bool}",
                "- {name: \"f\", datatype: float64}",
                "meta: !!omap",
                "- __serialized_columns__:",
                "    \"i\":",
                "      __class__: astropy.table.column.MaskedColumn",
                "      data: !astropy.table.SerializedColumn {name: \"i\"}",
                "      mask: !astropy.table.SerializedColumn {name: \"i.mask\"}",
            ]
        );
        let (TypeDescriptor::Compound(t), size) = row_type(&[i, f]) else {
            panic!("not a compound")
        };
        assert_eq!(size, 13);
        let layout: Vec<(&str, usize)> = t
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(layout, [("i", 0), ("i.mask", 4), ("f", 5)]);
    }
}
