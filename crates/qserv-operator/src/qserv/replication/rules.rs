//! What the real service refuses or misreads, checked by the client before it sends anything,
//! so an ingest that cannot succeed stops before it has registered a database: the dialect
//! tokens `/ingest/csv` takes, the director tables' column types, the length of names.

use super::error::ReplicationError;
use super::types::{CsvDialect, TableKind, TableRegistration};

/// The dialect of a contribution as `/ingest/csv` takes it: each parameter one of the
/// literal (escaped) tokens `Q@2026.3.3-rc1:src/replica/util/Csv.cc:82-85` allows, which
/// `Csv.cc:37-38` translates to the character. Anything else is refused ("the value ... is
/// not allowed for the given parameter", `Csv.cc:61-64`); an empty value means the default
/// (`src/replica/ingest/IngestUtils.cc:36-42`), so "no escape character" cannot be said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialectTokens {
    pub fields_terminated_by: &'static str,
    pub fields_enclosed_by: &'static str,
    pub fields_escaped_by: &'static str,
    pub lines_terminated_by: &'static str,
}

/// The tokens of `d`: each parameter given as the character itself or as its token.
pub fn dialect_tokens(d: &CsvDialect) -> Result<DialectTokens, String> {
    fn pick(
        param: &str,
        value: &str,
        choices: &[(&[&str], &'static str)],
        allowed: &str,
    ) -> Result<&'static str, String> {
        choices
            .iter()
            .find(|(spellings, _)| spellings.contains(&value))
            .map(|(_, token)| *token)
            .ok_or_else(|| {
                format!(
                    "{param} {value:?}: Qserv's /ingest/csv takes only {allowed} \
                     (Q@2026.3.3-rc1:src/replica/util/Csv.cc:82-85)"
                )
            })
    }
    Ok(DialectTokens {
        fields_terminated_by: pick(
            "fields_terminated_by",
            &d.fields_terminated_by,
            &[(&["\t", r"\t"], r"\t"), (&[","], ",")],
            "a tab or a comma",
        )?,
        fields_enclosed_by: pick(
            "fields_enclosed_by",
            &d.fields_enclosed_by,
            &[(&["", r"\0"], r"\0"), (&["'"], "'"), (&["\""], "\"")],
            "no enclosing, ' or \"",
        )?,
        fields_escaped_by: pick(
            "fields_escaped_by",
            &d.fields_escaped_by,
            &[(&["\\", r"\\"], r"\\")],
            "a backslash (an empty value means a backslash too)",
        )?,
        lines_terminated_by: pick(
            "lines_terminated_by",
            &d.lines_terminated_by,
            &[(&["\n", r"\n"], r"\n")],
            "a newline",
        )?,
    })
}

/// A character set name as MySQL spells them (the worker puts it in `LOAD DATA ...
/// CHARACTER SET`, `Q@2026.3.3-rc1:src/replica/mysql/DatabaseMySQLGenerator.h:1014-1026`).
pub fn check_charset(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "charset_name {name:?} is not a MySQL character set name"
        ));
    }
    Ok(())
}

/// The longest database and table names together: the row counters table is
/// `<database>__<table>__rows` and MySQL names have at most 64 characters
/// (`Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:213-219`).
pub const MAX_DATABASE_TABLE_NAME: usize = 64 - "__".len() - "__rows".len();

/// The column Qserv adds to every table itself (`HttpIngestModule.cc:122,597-600`).
pub const TRANSACTION_COLUMN: &str = "qserv_trans_id";

/// What `POST /ingest/table` would refuse of `t`.
pub fn check_table(t: &TableRegistration) -> Result<(), ReplicationError> {
    let invalid = |reason: String| ReplicationError::Invalid {
        request: format!("POST /ingest/table (table {}.{})", t.database, t.table),
        reason,
    };
    if t.database.len() + t.table.len() > MAX_DATABASE_TABLE_NAME {
        return Err(invalid(format!(
            "the database and table names have {} characters together; Qserv takes at most \
             {MAX_DATABASE_TABLE_NAME} (Q@2026.3.3-rc1:src/replica/config/ConfigDatabase.cc:216-219)",
            t.database.len() + t.table.len()
        )));
    }
    for c in &t.schema {
        if c.name == TRANSACTION_COLUMN {
            return Err(invalid(format!(
                "column {TRANSACTION_COLUMN} is reserved: Qserv adds it \
                 (Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:597-600)"
            )));
        }
        // Director tables are materialized as MEMORY tables per sub-chunk, which cannot hold
        // variable-size types; the server refuses any type containing these words.
        let upper = c.sql_type.to_ascii_uppercase();
        if matches!(t.kind, TableKind::Director { .. })
            && ["BLOB", "TEXT"].iter().any(|w| upper.contains(w))
        {
            return Err(invalid(format!(
                "column {} of director table {} has type {}: Qserv refuses TEXT and BLOB types \
                 in director tables (Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:106-114); \
                 give the column a width (CHAR(n) or VARCHAR(n)) or leave it out",
                c.name, t.table, c.sql_type
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qserv::replication::Column;

    #[test]
    fn dialects_become_the_tokens_qserv_takes_or_are_refused() {
        let t = dialect_tokens(&CsvDialect::load_data_default()).unwrap();
        assert_eq!(
            (
                t.fields_terminated_by,
                t.fields_enclosed_by,
                t.fields_escaped_by,
                t.lines_terminated_by
            ),
            (r"\t", r"\0", r"\\", r"\n")
        );
        let quoted = CsvDialect {
            fields_enclosed_by: "\"".into(),
            ..CsvDialect::qserv_testdata()
        };
        let t = dialect_tokens(&quoted).unwrap();
        assert_eq!((t.fields_terminated_by, t.fields_enclosed_by), (",", "\""));
        let given_as_tokens = CsvDialect {
            fields_terminated_by: r"\t".into(),
            fields_escaped_by: r"\\".into(),
            ..CsvDialect::qserv_testdata()
        };
        assert_eq!(
            dialect_tokens(&given_as_tokens)
                .unwrap()
                .fields_terminated_by,
            r"\t"
        );
        let pipe = CsvDialect {
            fields_terminated_by: "|".into(),
            ..CsvDialect::qserv_testdata()
        };
        assert_eq!(
            dialect_tokens(&pipe).unwrap_err(),
            "fields_terminated_by \"|\": Qserv's /ingest/csv takes only a tab or a comma \
             (Q@2026.3.3-rc1:src/replica/util/Csv.cc:82-85)"
        );
        let unescaped = CsvDialect {
            fields_escaped_by: String::new(),
            ..CsvDialect::qserv_testdata()
        };
        assert!(
            dialect_tokens(&unescaped)
                .unwrap_err()
                .starts_with("fields_escaped_by \"\": ")
        );
        assert!(check_charset("utf8mb4").is_ok());
        assert!(check_charset("utf8; DROP").is_err());
    }

    fn director(database: &str, table: &str, columns: &[(&str, &str)]) -> TableRegistration {
        TableRegistration {
            database: database.into(),
            table: table.into(),
            kind: TableKind::Director {
                key: "id".into(),
                latitude_key: "dec".into(),
                longitude_key: "ra".into(),
            },
            schema: columns.iter().map(|(n, t)| Column::new(n, t)).collect(),
            charset_name: None,
            collation_name: None,
        }
    }

    #[test]
    fn text_in_directors_long_names_and_the_reserved_column_are_refused() {
        let ok = director("db", "Object", &[("id", "BIGINT"), ("name", "CHAR(20)")]);
        check_table(&ok).unwrap();
        let text = director("db", "Object", &[("id", "BIGINT"), ("name", "text")]);
        let e = check_table(&text).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "POST /ingest/table (table db.Object): not sent: column name of director table \
                 Object has type text: Qserv refuses TEXT and BLOB"
            ),
            "{e}"
        );
        let mut child = text.clone();
        child.kind = TableKind::Regular;
        check_table(&child).expect("only directors are screened");
        let long = director(&"d".repeat(30), &"t".repeat(27), &[("id", "INT")]);
        let e = check_table(&long).unwrap_err().to_string();
        assert!(
            e.contains("57 characters together; Qserv takes at most 56"),
            "{e}"
        );
        check_table(&director(
            &"d".repeat(30),
            &"t".repeat(26),
            &[("id", "INT")],
        ))
        .unwrap();
        let reserved = director("db", "Object", &[("qserv_trans_id", "INT")]);
        assert!(
            check_table(&reserved)
                .unwrap_err()
                .to_string()
                .contains("column qserv_trans_id is reserved")
        );
    }
}
