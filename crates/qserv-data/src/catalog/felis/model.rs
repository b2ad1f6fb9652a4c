//! The Felis data model as its YAML files spell it (PyPI `lsst-felis` 30.2026.4300, cited as
//! `felis@30.2026.4300:PATH:LINE`), deserialized as written: every key Felis knows is accepted
//! and any other refused, as Felis's models do (`extra="forbid"`,
//! `felis@30.2026.4300:felis/datamodel.py:76`), so a misspelt
//! `nulable: false` is an error rather than a silently nullable column. Keys that play no part
//! in MySQL DDL (TAP, VOTable, UCDs) are accepted and not kept.

// Keys Felis knows but the DDL does not use are fields here only so that `deny_unknown_fields`
// refuses nothing else; they are never read.
#![allow(dead_code)]

use serde::Deserialize;
use serde::de::IgnoredAny;

/// A Felis file: one schema (a database) and its tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub name: String,
    #[serde(rename = "@id")]
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "votable:utype")]
    pub votable_utype: Option<IgnoredAny>,
    pub version: Option<IgnoredAny>,
    /// Other Felis files whose columns `columnRefs` borrow (not supported here).
    #[serde(default)]
    pub resources: serde_norway::Mapping,
    pub tables: Vec<Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    #[serde(rename = "@id")]
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "votable:utype")]
    pub votable_utype: Option<IgnoredAny>,
    /// Column ids (`#Object.objectId`), one or a list.
    #[serde(rename = "primaryKey")]
    pub primary_key: Option<OneOrMany>,
    #[serde(rename = "tap:table_index")]
    pub tap_table_index: Option<IgnoredAny>,
    /// Felis defaults it to MyISAM; an explicit `null` leaves the engine to the server
    /// (`felis@30.2026.4300:felis/datamodel.py:952`).
    #[serde(rename = "mysql:engine", default = "myisam")]
    pub mysql_engine: Option<String>,
    #[serde(rename = "mysql:charset")]
    pub mysql_charset: Option<String>,
    #[serde(rename = "columnRefs", default)]
    pub column_refs: serde_norway::Mapping,
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(rename = "columnGroups")]
    pub column_groups: Option<IgnoredAny>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub indexes: Vec<Index>,
}

fn myisam() -> Option<String> {
    Some("MyISAM".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "@id")]
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "votable:utype")]
    pub votable_utype: Option<IgnoredAny>,
    pub datatype: Datatype,
    pub length: Option<u64>,
    /// Fractional digits of a timestamp's seconds.
    pub precision: Option<u64>,
    #[serde(default = "yes")]
    pub nullable: bool,
    /// The column's default.
    pub value: Option<DefaultValue>,
    pub autoincrement: Option<bool>,
    #[serde(rename = "ivoa:ucd")]
    pub ivoa_ucd: Option<IgnoredAny>,
    #[serde(rename = "fits:tunit")]
    pub fits_tunit: Option<String>,
    #[serde(rename = "ivoa:unit")]
    pub ivoa_unit: Option<String>,
    #[serde(rename = "tap:column_index")]
    pub tap_column_index: Option<IgnoredAny>,
    #[serde(rename = "tap:principal")]
    pub tap_principal: Option<IgnoredAny>,
    #[serde(rename = "votable:arraysize")]
    pub votable_arraysize: Option<IgnoredAny>,
    #[serde(rename = "tap:std")]
    pub tap_std: Option<IgnoredAny>,
    #[serde(rename = "votable:xtype")]
    pub votable_xtype: Option<IgnoredAny>,
    #[serde(rename = "votable:datatype")]
    pub votable_datatype: Option<IgnoredAny>,
    /// A MySQL type that replaces the one of `datatype` (`VARCHAR(64)`).
    #[serde(rename = "mysql:datatype")]
    pub mysql_datatype: Option<String>,
    #[serde(rename = "postgresql:datatype")]
    pub postgresql_datatype: Option<IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// Felis's types (`felis@30.2026.4300:felis/datamodel.py:131-153`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    Boolean,
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    Char,
    String,
    Unicode,
    Text,
    Binary,
    Timestamp,
}

impl Datatype {
    /// Types that need a `length` (`is_sized`, `felis@30.2026.4300:felis/types.py:164-180`).
    pub fn is_sized(self) -> bool {
        matches!(
            self,
            Datatype::Char | Datatype::String | Datatype::Unicode | Datatype::Binary
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Datatype::Boolean => "boolean",
            Datatype::Byte => "byte",
            Datatype::Short => "short",
            Datatype::Int => "int",
            Datatype::Long => "long",
            Datatype::Float => "float",
            Datatype::Double => "double",
            Datatype::Char => "char",
            Datatype::String => "string",
            Datatype::Unicode => "unicode",
            Datatype::Text => "text",
            Datatype::Binary => "binary",
            Datatype::Timestamp => "timestamp",
        }
    }
}

/// A column's `value`: Felis takes a string, an integer, a decimal number or a boolean
/// (`felis@30.2026.4300:felis/datamodel.py:194`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DefaultValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn ids(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(id) => vec![id.as_str()],
            OneOrMany::Many(ids) => ids.iter().map(String::as_str).collect(),
        }
    }
}

/// A table constraint: `@type` ForeignKey, Unique or Check (`felis@30.2026.4300:felis/datamodel.py:572-715`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    #[serde(rename = "@id")]
    pub id: Option<String>,
    #[serde(rename = "@type")]
    pub kind: ConstraintKind,
    pub description: Option<String>,
    #[serde(rename = "votable:utype")]
    pub votable_utype: Option<IgnoredAny>,
    pub deferrable: Option<IgnoredAny>,
    pub initially: Option<IgnoredAny>,
    pub columns: Option<IgnoredAny>,
    #[serde(rename = "referencedColumns")]
    pub referenced_columns: Option<IgnoredAny>,
    pub on_delete: Option<IgnoredAny>,
    pub on_update: Option<IgnoredAny>,
    pub expression: Option<IgnoredAny>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum ConstraintKind {
    ForeignKey,
    Unique,
    Check,
}

/// An index on columns or expressions (`felis@30.2026.4300:felis/datamodel.py:723`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    #[serde(rename = "@id")]
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "votable:utype")]
    pub votable_utype: Option<IgnoredAny>,
    pub columns: Option<IgnoredAny>,
    pub expressions: Option<IgnoredAny>,
}
