use super::*;
use crate::catalog::schema::ColumnMeta;

const FILE: &str = "sdm/small.yaml";

const SMALL: &str = r##"---
name: small
"@id": "#small"
description: A small schema
tables:
- name: Obj
  "@id": "#Obj"
  description: "Objects, it's said"
  primaryKey: "#Obj.id"
  tap:table_index: 1
  columns:
  - name: id
    "@id": "#Obj.id"
    datatype: long
    description: Unique id
    ivoa:ucd: meta.id;meta.main
  - name: coord_ra
    datatype: double
    description: "  RA  "
    fits:tunit: deg
  - name: flag
    datatype: boolean
    nullable: false
    value: false
  - name: band
    datatype: char
    length: 1
    ivoa:unit: ""
  - name: name
    datatype: text
    mysql:datatype: VARCHAR(64)
  - name: t
    datatype: timestamp
    precision: 6
  - name: n
    datatype: int
    value: -1
    votable:arraysize: "*"
- name: Other
  mysql:engine: null
  mysql:charset: latin1
  primaryKey: ["#Other.a", "#Other.b"]
  columns:
  - name: a
    datatype: short
  - name: b
    datatype: unicode
    length: 8
  - name: epoch
    datatype: timestamp
    mysql:datatype: BIGINT
"##;

fn parse(text: &str) -> Result<FelisFile> {
    FelisFile::parse(Path::new(FILE), text)
}

fn reason(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_table_gives_typed_fields_with_units_and_descriptions() {
    let felis = parse(SMALL).unwrap();
    assert_eq!(felis.name(), "small");
    assert_eq!(felis.table_names(), ["Obj", "Other"]);
    let schema = felis.arrow_schema("Obj").unwrap();
    let got: Vec<(&str, &DataType, bool, Option<&str>)> = schema
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().as_str(),
                f.data_type(),
                f.is_nullable(),
                f.sql_type(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // The primary key is NOT NULL whatever `nullable` says.
            ("id", &DataType::Int64, false, Some("BIGINT")),
            ("coord_ra", &DataType::Float64, true, Some("DOUBLE")),
            ("flag", &DataType::Boolean, false, Some("BOOL")),
            ("band", &DataType::Utf8, true, Some("CHAR(1)")),
            ("name", &DataType::Utf8, true, Some("VARCHAR(64)")),
            ("t", &DataType::Utf8, true, Some("DATETIME(6)")),
            ("n", &DataType::Int32, true, Some("INTEGER")),
        ]
    );
    let ra = schema.field_with_name("coord_ra").unwrap();
    assert_eq!((ra.unit(), ra.description()), (Some("deg"), Some("RA")));
    let band = schema.field_with_name("band").unwrap();
    assert_eq!((band.unit(), band.string_width()), (None, Some(1)));
    assert_eq!(
        schema.field_with_name("name").unwrap().string_width(),
        Some(64)
    );
    // A timestamp stored as a number by its override is read as that number.
    let other = felis.arrow_schema("Other").unwrap();
    let epoch = other.field_with_name("epoch").unwrap();
    assert_eq!(
        (epoch.data_type(), epoch.sql_type()),
        (&DataType::Int64, Some("BIGINT"))
    );
    assert_eq!(
        other.field_with_name("b").unwrap().sql_type(),
        Some("NATIONAL VARCHAR(8)")
    );
}

#[test]
fn a_table_gives_felis_s_mysql_definition() {
    let felis = parse(SMALL).unwrap();
    let obj = felis.definition("Obj").unwrap();
    assert_eq!(
        obj.columns,
        "  `id` BIGINT COMMENT 'Unique id',
  `coord_ra` DOUBLE COMMENT 'RA',
  `flag` BOOL NOT NULL DEFAULT False,
  `band` CHAR(1),
  `name` VARCHAR(64),
  `t` DATETIME(6),
  `n` INTEGER DEFAULT (-1),
  PRIMARY KEY (`id`)"
    );
    assert_eq!(
        obj.columns_without_comments.as_deref(),
        Some(
            "  `id` BIGINT,
  `coord_ra` DOUBLE,
  `flag` BOOL NOT NULL DEFAULT False,
  `band` CHAR(1),
  `name` VARCHAR(64),
  `t` DATETIME(6),
  `n` INTEGER DEFAULT (-1),
  PRIMARY KEY (`id`)"
        )
    );
    assert_eq!(
        obj.options,
        "ENGINE=MyISAM DEFAULT CHARSET=utf8mb4 COMMENT='Objects, it''s said'"
    );
    assert!(!obj.user_ddl);
    let other = felis.definition("Other").unwrap();
    assert_eq!(
        other.columns,
        "  `a` SMALLINT,\n  `b` NATIONAL VARCHAR(8),\n  `epoch` BIGINT,\n  PRIMARY KEY (`a`, `b`)"
    );
    assert_eq!(other.columns_without_comments, None);
    assert_eq!(other.options, "CHARSET=latin1");
}

#[test]
fn yaml_that_does_not_parse_names_the_file_line_and_column() {
    let broken = SMALL.replace("datatype: boolean", "datatype: boolean: true");
    let err = reason(&broken);
    assert!(err.starts_with("sdm/small.yaml: Felis schema: "), "{err}");
    assert!(err.contains("line 22 column 22"), "{err}");
}

#[test]
fn an_unknown_datatype_names_its_yaml_path() {
    let err = reason(&SMALL.replace("datatype: short", "datatype: shrt"));
    assert!(
        err.contains("tables[1].columns[0].datatype: unknown variant `shrt`, expected one of"),
        "{err}"
    );
    assert!(err.contains("at line 45 column 15"), "{err}");
}

#[test]
fn a_table_not_in_the_file_is_named_with_the_tables_there() {
    let felis = parse(SMALL).unwrap();
    let err = felis.arrow_schema("Object").unwrap_err().to_string();
    assert_eq!(
        err,
        "sdm/small.yaml: Felis schema: no table `Object` in schema small (its tables: Obj, Other)"
    );
    assert_eq!(
        felis.definition("Object").unwrap_err().to_string(),
        err,
        "the definition says the same"
    );
}

#[test]
fn what_felis_refuses_is_refused_at_its_yaml_path() {
    for (from, to, expected) in [
        (
            "    nullable: false\n",
            "    nulable: false\n",
            "tables[0].columns[2]: unknown field `nulable`",
        ),
        (
            "    length: 1\n",
            "",
            "tables[0].columns[3].length: a char column needs a length",
        ),
        (
            "    precision: 6\n",
            "    precision: 6\n    mysql:datatype: TIMESTAMP\n  - name: u\n    datatype: double\n    precision: 3\n",
            "tables[0].columns[6].precision: only timestamp columns have a precision",
        ),
        (
            "    value: -1\n",
            "    value: '-1'\n",
            "tables[0].columns[6].value: Str(\"-1\") is not a default for a int column",
        ),
        (
            "    fits:tunit: deg\n",
            "    fits:tunit: deg\n    ivoa:unit: deg\n",
            "tables[0].columns[1].ivoa:unit: a column has fits:tunit or ivoa:unit, not both",
        ),
        (
            "VARCHAR(64)",
            "varchar(64)",
            "tables[0].columns[4].mysql:datatype: `varchar(64)`: \"varchar\" is not a type",
        ),
        (
            "VARCHAR(64)",
            "JSON",
            "tables[0].columns[4].mysql:datatype: `JSON`: JSON columns cannot be read",
        ),
        (
            "primaryKey: \"#Obj.id\"",
            "primaryKey: \"#Other.a\"",
            "tables[0].primaryKey: \"#Other.a\" is not the @id of a column of table Obj",
        ),
        (
            "  - name: n\n",
            "  - name: id\n",
            "tables[0].columns[6].name: duplicate column name \"id\"",
        ),
        (
            "- name: Other\n",
            "- name: Obj\n",
            "tables[1].name: duplicate table name \"Obj\"",
        ),
        (
            "    \"@id\": \"#Obj.id\"\n",
            "    \"@id\": \"#Obj\"\n",
            "tables[0].columns[0].@id: duplicate @id \"#Obj\"",
        ),
        (
            "  tap:table_index: 1\n",
            "  columnRefs: {base: {Obj: {x: null}}}\n",
            "tables[0].columnRefs: columns borrowed from other Felis files are not supported",
        ),
    ] {
        assert!(SMALL.contains(from), "{from}");
        let err = reason(&SMALL.replacen(from, to, 1));
        assert!(
            err.starts_with("sdm/small.yaml: Felis schema: ") && err.contains(expected),
            "{expected}\n  got: {err}"
        );
    }
}
