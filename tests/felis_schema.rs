//! The Felis reader against `lsst-felis` itself, on the real `lsst-sdm-schemas` files: every
//! table's MySQL definition is the one `felis create --engine-url mysql://` writes, as text and
//! as MariaDB understands it.
//!
//! "Equal" covers each column (name, order, type, `NOT NULL`, `DEFAULT`, `COMMENT`), the primary
//! key, `ENGINE`, `CHARSET` when Felis names one and the table's `COMMENT`. Left out, for the
//! reasons in `qserv_data::catalog::felis`: `AUTO_INCREMENT`, foreign keys, unique and check
//! constraints and indexes, and the charset of a table whose file names none (ours: utf8mb4).

mod common;

use mysql_async::prelude::Queryable;
use qserv_operator::catalog::{FelisFile, SchemaFile};

use common::felis::{FelisTable, felis_create, sdm_schemas_dir, statement_without_column_comments};

/// Our column lines and options, in Felis's spelling: identifiers unquoted (SQLAlchemy quotes
/// only some), and Felis's `AUTO_INCREMENT` and constraint lines dropped.
fn normalized(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("CONSTRAINT "))
        .map(|l| l.replace('`', "").replace(" AUTO_INCREMENT", ""))
        .collect()
}

fn our_lines(columns: &str) -> Vec<String> {
    columns
        .split(",\n  ")
        .map(|l| l.trim().to_string())
        .collect()
}

/// Asserts that each table of `file` is defined as Felis defines it; returns the tables.
fn assert_defined_as_felis_defines(file: &std::path::Path, ours: &FelisFile) -> Vec<String> {
    let felis = felis_create(file, "oracle");
    let mut names: Vec<&str> = felis.iter().map(|t| t.name.as_str()).collect();
    let mut ours_names = ours.table_names();
    ours_names.sort();
    names.sort();
    assert_eq!(ours_names, names, "{}", file.display());
    let mut compared = Vec::new();
    for table in &felis {
        let definition = ours.definition(&table.name).unwrap();
        let at = format!("{} {}", file.display(), table.name);
        assert_eq!(
            normalized(&our_lines(&definition.columns)),
            normalized(&table.lines),
            "{at}"
        );
        let options = if table.options.contains("CHARSET=") {
            definition.options.clone()
        } else {
            definition.options.replace("DEFAULT CHARSET=utf8mb4", "")
        };
        assert_eq!(
            options.split_whitespace().collect::<Vec<_>>(),
            table.options.split_whitespace().collect::<Vec<_>>(),
            "{at}"
        );
        compared.push(at);
    }
    compared
}

/// Every Felis type, the `mysql:datatype` overrides SQLAlchemy compiles in its own ways
/// (`DECIMAL(10,2)` → `DECIMAL`, `DATETIME(6)` → `DATETIME`, a timestamp's precision winning
/// over its override, `NVARCHAR` → `NATIONAL VARCHAR`), defaults of each kind, and quotes,
/// backslashes and `%` in descriptions.
#[test]
fn every_type_override_and_default_is_written_as_felis_writes_it() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/felis/types.yaml");
    let ours = FelisFile::read(&file).unwrap();
    assert_eq!(assert_defined_as_felis_defines(&file, &ours).len(), 2);
    // What was compared, spelt out once: the override lines as SQLAlchemy compiles them.
    let overrides = ours.definition("Overrides").unwrap();
    for line in [
        "`o_decimal` DECIMAL",
        "`o_datetime` DATETIME",
        "`o_timestamp` TIMESTAMP NULL",
        "`o_timestamp_precise` DATETIME(6)",
        "`o_nvarchar` NATIONAL VARCHAR(5)",
    ] {
        assert!(
            our_lines(&overrides.columns).contains(&line.to_string()),
            "{line}"
        );
    }
}

#[test]
fn every_table_of_the_sdm_schemas_is_defined_as_felis_defines_it() {
    let dir = sdm_schemas_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| SchemaFile::is_felis_path(p))
        .collect();
    files.sort();
    let (mut compared, mut refused) = (Vec::new(), Vec::new());
    for file in &files {
        let ours = match FelisFile::read(file) {
            Ok(ours) => ours,
            Err(err) => {
                // Files that borrow columns from other files: refused, saying so.
                let err = err.to_string();
                assert!(
                    err.contains("columns borrowed from other Felis files"),
                    "{}: {err}",
                    file.display()
                );
                refused.push(file.file_name().unwrap().to_string_lossy().into_owned());
                continue;
            }
        };
        compared.extend(assert_defined_as_felis_defines(file, &ours));
    }
    println!("compared {} tables; refused {refused:?}", compared.len());
    // dp02_dc2.yaml has 12 tables, and every one was compared.
    let dp02: Vec<_> = compared
        .iter()
        .filter(|t| t.contains("dp02_dc2.yaml"))
        .collect();
    assert_eq!(dp02.len(), 12, "{dp02:?}");
    assert!(compared.len() > 100, "{}", compared.len());
}

/// A column as information_schema describes it.
type ColumnInfo = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

async fn columns_of(conn: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<ColumnInfo> {
    conn.exec(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT, \
         COLLATION_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    .await
    .unwrap()
}

/// (primary key columns in order, engine, table comment, table collation).
async fn table_of(
    conn: &mut mysql_async::Conn,
    db: &str,
    table: &str,
) -> (Vec<String>, String, String, String) {
    let key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
            (db, table),
        )
        .await
        .unwrap();
    let (engine, comment, collation): (String, String, String) = conn
        .exec_first(
            "SELECT ENGINE, TABLE_COMMENT, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db, table),
        )
        .await
        .unwrap()
        .unwrap();
    (key, engine, comment, collation)
}

/// Creates `statement`; when MariaDB refuses it as too large (error 1117: the column names and
/// comments overflow the `.frm`), `bare` instead. Returns whether comments were dropped.
async fn create(conn: &mut mysql_async::Conn, statement: &str, bare: &str) -> bool {
    match conn.query_drop(statement).await {
        Ok(()) => false,
        Err(mysql_async::Error::Server(e)) if e.code == 1117 => {
            conn.query_drop(bare).await.unwrap();
            true
        }
        Err(err) => panic!("{err}\n{statement}"),
    }
}

#[tokio::test]
async fn every_dp02_table_means_in_mariadb_what_felis_s_means() {
    let file = sdm_schemas_dir().join("dp02_dc2.yaml");
    let ours = FelisFile::read(&file).unwrap();
    let felis: Vec<FelisTable> = felis_create(&file, "felis_dp02");
    let mut conn = common::connect().await;
    for db in ["felis_dp02", "ours_dp02"] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .await
            .unwrap();
        // Felis's tables get the database's charset: the same as ours.
        conn.query_drop(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"))
            .await
            .unwrap();
    }
    let mut without_comments = Vec::new();
    for table in &felis {
        let definition = ours.definition(&table.name).unwrap();
        let name = format!("ours_dp02.`{}`", table.name);
        let ours_bare = create(
            &mut conn,
            &definition.create_table(&name, true),
            &definition.create_table(&name, false),
        )
        .await;
        let felis_bare = create(
            &mut conn,
            &table.statement,
            &statement_without_column_comments(table),
        )
        .await;
        assert_eq!(ours_bare, felis_bare, "{}", table.name);
        if ours_bare {
            without_comments.push(table.name.clone());
        }
        let (f, o) = (
            columns_of(&mut conn, "felis_dp02", &table.name).await,
            columns_of(&mut conn, "ours_dp02", &table.name).await,
        );
        assert!(!f.is_empty(), "{}", table.name);
        assert_eq!(o, f, "{}", table.name);
        assert_eq!(
            table_of(&mut conn, "ours_dp02", &table.name).await,
            table_of(&mut conn, "felis_dp02", &table.name).await,
            "{}",
            table.name
        );
    }
    assert_eq!(felis.len(), 12);
    // Only Object's 991 columns overflow MariaDB's definition record with their comments.
    assert_eq!(without_comments, ["Object"]);
    // Felis's AUTO_INCREMENT is the one difference left: on a primary key's column, not ours.
    let extra: Vec<(String, String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA IN ('felis_dp02', 'ours_dp02') AND EXTRA <> '' \
             ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .unwrap();
    assert!(
        extra.iter().all(|(db, _, _)| db == "felis_dp02"),
        "{extra:?}"
    );
    assert_eq!(extra.len(), 8, "{extra:?}");
}

/// DP0.2's `Object` (991 columns) as a reference table: MariaDB refuses Felis's definition with
/// its column comments as too large (error 1117), so the loader creates it without them; every
/// other part is Felis's, and the rows load with the Felis types.
#[tokio::test]
async fn dp02_object_loads_into_a_reference_without_its_column_comments() {
    use qserv_operator::catalog::{CsvOptions, DEFAULT_BATCH_ROWS, InputFormat, SelectionSpec};
    use qserv_operator::load::{Input, ReferenceLoad, load_reference};
    use std::sync::Arc;

    let yaml = sdm_schemas_dir().join("dp02_dc2.yaml");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("Object.csv");
    common::felis::felis_rows(
        &yaml,
        "Object",
        50,
        &csv,
        &["--ra", "coord_ra", "--dec", "coord_dec"],
    );

    let schema_file = SchemaFile::new(&yaml, "Object");
    let mut options = CsvOptions::csv();
    options.header = true;
    options.schema = Some(Arc::new(schema_file.arrow_schema().unwrap()));
    let input = Input {
        files: vec![csv],
        format: InputFormat::Csv(options),
        selection: SelectionSpec {
            table: "Object".into(),
            ..Default::default()
        },
        batch_rows: DEFAULT_BATCH_ROWS,
    };
    let mut load = ReferenceLoad::new("felis_object", "Object", input);
    load.schema_file = Some(schema_file);
    let summary = load_reference(&common::endpoint(), &load, None)
        .await
        .unwrap();
    assert_eq!(summary.rows, 50);

    let mut conn = common::connect().await;
    conn.query_drop("DROP DATABASE IF EXISTS felis_object_oracle")
        .await
        .unwrap();
    conn.query_drop("CREATE DATABASE felis_object_oracle CHARACTER SET utf8mb4")
        .await
        .unwrap();
    let felis = felis_create(&yaml, "felis_object_oracle");
    let object = felis.iter().find(|t| t.name == "Object").unwrap();
    let bare = statement_without_column_comments(object);
    assert!(
        create(&mut conn, &object.statement, &bare).await,
        "refused with comments"
    );
    let ours = columns_of(&mut conn, "felis_object", "Object").await;
    assert_eq!(ours.len(), 991);
    assert!(ours.iter().all(|c| c.4.is_empty()), "no column comments");
    assert_eq!(
        ours,
        columns_of(&mut conn, "felis_object_oracle", "Object").await
    );
    assert_eq!(
        table_of(&mut conn, "felis_object", "Object").await,
        table_of(&mut conn, "felis_object_oracle", "Object").await
    );
    let ids: i64 = conn
        .query_first("SELECT COUNT(DISTINCT objectId) FROM felis_object.Object WHERE coord_ra BETWEEN 59.5 AND 60.5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids, 50);
}
