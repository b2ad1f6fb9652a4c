//! Column names and types from a MySQL `CREATE TABLE` statement (a mysqldump `.schema` file,
//! as in lsst/qserv_testdata), turned into an Arrow schema for the CSV/TSV reader.
//!
//! Each field keeps its SQL type verbatim in [`META_SQL_TYPE`](super::schema::META_SQL_TYPE),
//! so the DDL written for the loader is the one given, not a lossy round trip through Arrow.

use std::path::Path;

use arrow_schema::{DataType, Field, Schema};

use super::error::{CatalogError, Result};
use super::schema::{META_DESCRIPTION, META_SQL_TYPE, META_STRING_WIDTH, META_UNIT, column_field};

/// Reads the `CREATE TABLE` of `table` (or the only/first one when `table` is `None`).
pub fn schema_from_ddl_file(file: &Path, table: Option<&str>) -> Result<Schema> {
    let text = std::fs::read_to_string(file).map_err(|err| CatalogError::io(file, err))?;
    schema_from_ddl(&text, table).map_err(|reason| CatalogError::Ddl {
        file: file.to_path_buf(),
        reason,
    })
}

/// Parses DDL text; the error is a plain reason, the caller adds the file.
pub fn schema_from_ddl(text: &str, table: Option<&str>) -> Result<Schema, String> {
    let body = create_table_body(text, table)?;
    let mut fields = Vec::new();
    for item in split_top_level(body) {
        let item = item.trim();
        let first = item
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let is_index = [
            "PRIMARY",
            "KEY",
            "INDEX",
            "UNIQUE",
            "CONSTRAINT",
            "FOREIGN",
            "FULLTEXT",
            "SPATIAL",
            "CHECK",
        ]
        .contains(&first.as_str());
        if item.is_empty() || (is_index && !item.starts_with('`')) {
            continue;
        }
        fields.push(column(item)?);
    }
    if fields.is_empty() {
        return Err("CREATE TABLE has no columns".to_string());
    }
    Ok(Schema::new(fields))
}

/// The wanted `CREATE TABLE` of a DDL text, verbatim: its column and key definitions (between
/// the parentheses) and its table options (after them, up to `;`, e.g. `ENGINE=MyISAM`). A
/// loader creates the table from these under a name of its own.
pub fn create_table_parts<'a>(
    text: &'a str,
    table: Option<&str>,
) -> Result<(&'a str, &'a str), String> {
    let body = create_table_body(text, table)?;
    // `body` is a slice of `text`; the closing parenthesis follows it.
    let close = body.as_ptr() as usize - text.as_ptr() as usize + body.len();
    let rest = &text[close + 1..];
    let options = rest[..rest.find(';').unwrap_or(rest.len())].trim();
    Ok((body, options))
}

/// The text between the parentheses of the wanted `CREATE TABLE`.
fn create_table_body<'a>(text: &'a str, table: Option<&str>) -> Result<&'a str, String> {
    let upper = text.to_ascii_uppercase();
    let mut search = 0;
    while let Some(found) = upper[search..].find("CREATE TABLE") {
        let start = search + found;
        let open = text[start..]
            .find('(')
            .map(|p| start + p)
            .ok_or("CREATE TABLE without (")?;
        let name = text[start + "CREATE TABLE".len()..open]
            .trim()
            .trim_start_matches("IF NOT EXISTS")
            .trim()
            .rsplit('.')
            .next()
            .unwrap_or("")
            .trim_matches('`')
            .to_string();
        let close = matching_paren(text, open)
            .ok_or_else(|| format!("CREATE TABLE `{name}`: unbalanced parentheses"))?;
        if table.is_none_or(|t| t == name) {
            return Ok(&text[open + 1..close]);
        }
        search = close;
    }
    Err(match table {
        Some(t) => format!("no CREATE TABLE `{t}`"),
        None => "no CREATE TABLE statement".to_string(),
    })
}

/// Index of the `)` closing the `(` at `open`, skipping quoted text.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<u8> = None;
    for (i, &b) in text.as_bytes().iter().enumerate().skip(open) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"' | b'`') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits on commas outside parentheses and quotes.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<u8>, 0);
    for (i, &b) in body.as_bytes().iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"' | b'`') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b',') if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
}

/// The name of a backtick-quoted identifier whose opening backtick is already consumed, and what
/// follows its closing one; a backtick inside is written doubled (MySQL "Schema Object Names").
fn quoted_identifier(quoted: &str) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '`' {
            name.push(c);
            continue;
        }
        if chars.peek().is_some_and(|&(_, next)| next == '`') {
            chars.next();
            name.push('`');
        } else {
            return Some((name, &quoted[i + 1..]));
        }
    }
    None
}

/// MySQL "Schema Object Names": unquoted identifiers are `[0-9a-zA-Z$_]` and U+0080..U+FFFF.
fn unquoted_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '$' || c == '_' || ('\u{80}'..='\u{FFFF}').contains(&c)
}

/// One column definition: `` `name` type[(args)] [unsigned] [NOT NULL] [COMMENT '...'] ``.
fn column(item: &str) -> Result<Field, String> {
    let (name, rest) = if let Some(quoted) = item.strip_prefix('`') {
        quoted_identifier(quoted).ok_or_else(|| format!("unterminated name in `{item}`"))?
    } else {
        let (name, rest) = item
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("no type in `{item}`"))?;
        if !name.chars().all(unquoted_identifier_char) {
            return Err(format!(
                "column name {name:?} is not a valid unquoted identifier (MySQL allows \
                 [0-9a-zA-Z$_] and U+0080..U+FFFF there): quote it with backticks"
            ));
        }
        (name.to_string(), rest)
    };
    let name = name.as_str();
    let rest = rest.trim_start();
    let type_end = match (rest.find('('), rest.find(char::is_whitespace)) {
        (Some(p), ws) if ws.is_none_or(|w| p < w) => matching_paren(rest, p)
            .map(|c| c + 1)
            .ok_or_else(|| format!("column `{name}`: unbalanced type"))?,
        (_, Some(w)) => w,
        (_, None) => rest.len(),
    };
    let sql_type = &rest[..type_end];
    // Modifiers end where the comment starts, so a comment saying "not null" changes nothing.
    let modifiers = rest[type_end..].to_ascii_uppercase();
    let modifiers = &modifiers[..modifiers.find("COMMENT").unwrap_or(modifiers.len())];
    let unsigned = modifiers.split_whitespace().next() == Some("UNSIGNED");
    let nullable = !modifiers.contains("NOT NULL");
    let (data_type, width) = arrow_type(sql_type, unsigned)
        .ok_or_else(|| format!("column `{name}`: unsupported type `{sql_type}`"))?;
    let comment = comment(&rest[type_end..]);
    let (description, unit) = match comment.as_deref() {
        Some(c) => split_unit(c),
        None => (None, None),
    };
    let sql_type_full = if unsigned {
        format!("{sql_type} unsigned")
    } else {
        sql_type.to_string()
    };
    Ok(column_field(
        name,
        data_type,
        nullable,
        &[
            (META_SQL_TYPE, Some(&sql_type_full)),
            (META_STRING_WIDTH, width.map(|w| w.to_string()).as_deref()),
            (META_DESCRIPTION, description),
            (META_UNIT, unit),
        ],
    ))
}

/// A column COMMENT as our DDL writes it (`catalog::ddl`): `description [unit]`, or `[unit]`
/// alone; any other comment is all description.
fn split_unit(comment: &str) -> (Option<&str>, Option<&str>) {
    let trimmed = comment.trim_end();
    if let Some(open) = trimmed.rfind('[')
        && trimmed.ends_with(']')
    {
        let unit = trimmed[open + 1..trimmed.len() - 1].trim();
        if !unit.is_empty() && !unit.contains(['[', ']']) {
            let description = trimmed[..open].trim_end();
            return ((!description.is_empty()).then_some(description), Some(unit));
        }
    }
    (Some(comment), None)
}

/// The Arrow type of a MySQL type, and the declared width of CHAR/VARCHAR/BINARY columns.
pub(crate) fn arrow_type(sql_type: &str, unsigned: bool) -> Option<(DataType, Option<usize>)> {
    let lower = sql_type.to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((b, a)) => (b.trim(), a.trim_end_matches(')')),
        None => (lower.as_str(), ""),
    };
    let width = args
        .split(',')
        .next()
        .and_then(|w| w.trim().parse::<usize>().ok());
    let int =
        |signed: DataType, unsigned_type: DataType| if unsigned { unsigned_type } else { signed };
    Some(match base {
        "tinyint" => (int(DataType::Int8, DataType::UInt8), None),
        "smallint" => (int(DataType::Int16, DataType::UInt16), None),
        "mediumint" | "int" | "integer" => (int(DataType::Int32, DataType::UInt32), None),
        "bigint" => (int(DataType::Int64, DataType::UInt64), None),
        "bool" | "boolean" => (DataType::Boolean, None),
        "float" => (DataType::Float32, None),
        "double" | "real" | "double precision" => (DataType::Float64, None),
        // Exact decimals and dates stay text: converting them would change their values.
        "decimal" | "numeric" | "date" | "datetime" | "timestamp" | "time" | "year" | "enum"
        | "set" | "bit" => (DataType::Utf8, None),
        "char" | "varchar" => (DataType::Utf8, width),
        "tinytext" | "text" | "mediumtext" | "longtext" => (DataType::Utf8, None),
        "binary" | "varbinary" => (DataType::Binary, width),
        "tinyblob" | "blob" | "mediumblob" | "longblob" => (DataType::Binary, None),
        _ => return None,
    })
}

/// The text of a `COMMENT '...'` clause, with `''` and `\'` unescaped.
fn comment(modifiers: &str) -> Option<String> {
    let at = modifiers.to_ascii_uppercase().find("COMMENT")?;
    let rest = modifiers[at + "COMMENT".len()..]
        .trim_start()
        .strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema::ColumnMeta;

    const DUMP: &str = "DROP TABLE IF EXISTS `T`;\n/*!40101 SET x */;\nCREATE TABLE `T` (\n  \
        `id` bigint(20) NOT NULL,\n  `name` char(34) DEFAULT NULL COMMENT 'IAU name, it''s long',\n  \
        `ra` double NOT NULL,\n  `f` float DEFAULT NULL,\n  `n` int(10) unsigned NOT NULL,\n  \
        `poly` binary(120) NOT NULL,\n  `price` decimal(10,2) DEFAULT NULL,\n  \
        PRIMARY KEY (`id`),\n  KEY `a` (`name`)\n) ENGINE=MyISAM DEFAULT CHARSET=latin1;\n";

    #[test]
    fn mysqldump_columns_become_typed_fields() {
        let schema = schema_from_ddl(DUMP, None).unwrap();
        let got: Vec<(String, DataType, bool)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id".into(), DataType::Int64, false),
                ("name".into(), DataType::Utf8, true),
                ("ra".into(), DataType::Float64, false),
                ("f".into(), DataType::Float32, true),
                ("n".into(), DataType::UInt32, false),
                ("poly".into(), DataType::Binary, false),
                ("price".into(), DataType::Utf8, true),
            ]
        );
        let name = schema.field_with_name("name").unwrap();
        assert_eq!(name.sql_type(), Some("char(34)"));
        assert_eq!(name.string_width(), Some(34));
        assert_eq!(name.description(), Some("IAU name, it's long"));
        assert_eq!(
            schema.field_with_name("n").unwrap().sql_type(),
            Some("int(10) unsigned")
        );
        assert_eq!(
            schema.field_with_name("price").unwrap().sql_type(),
            Some("decimal(10,2)")
        );
    }

    #[test]
    fn create_table_parts_are_verbatim() {
        let (body, options) = create_table_parts(DUMP, Some("T")).unwrap();
        assert!(
            body.trim_start().starts_with("`id` bigint(20) NOT NULL,"),
            "{body}"
        );
        assert!(body.trim_end().ends_with("KEY `a` (`name`)"), "{body}");
        assert_eq!(options, "ENGINE=MyISAM DEFAULT CHARSET=latin1");
    }

    #[test]
    fn a_named_table_is_picked_and_a_missing_one_is_an_error() {
        let two = format!("{DUMP}\nCREATE TABLE `U` (`x` tinyint(4) NOT NULL);");
        let u = schema_from_ddl(&two, Some("U")).unwrap();
        assert_eq!(u.field(0).data_type(), &DataType::Int8);
        assert_eq!(
            schema_from_ddl(&two, Some("V")).unwrap_err(),
            "no CREATE TABLE `V`"
        );
        let bad = "CREATE TABLE `W` (`x` geometry NOT NULL)";
        assert_eq!(
            schema_from_ddl(bad, None).unwrap_err(),
            "column `x`: unsupported type `geometry`"
        );
    }

    /// Found by the ddl_schema fuzz target: a name with a backtick, which we render doubled
    /// (`ddl::quote_identifier`), was read back wrong, and an unquoted name with one was taken.
    #[test]
    fn doubled_backticks_quote_a_backtick_and_unquoted_names_are_identifiers() {
        let schema = schema_from_ddl("CREATE TABLE t (`a``b` INT, `c` DOUBLE)", None).unwrap();
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["a`b", "c"]);
        let err = schema_from_ddl("CREATE TABLE t (a-b INT)", None).unwrap_err();
        assert!(err.contains("not a valid unquoted identifier"), "{err}");
    }

    /// A COMMENT our DDL writes (`description [unit]`) gives the unit back, so a position
    /// column's unit survives a DDL file; other comments are descriptions.
    #[test]
    fn a_comment_s_trailing_bracket_is_the_unit() {
        use crate::catalog::schema::ColumnMeta;
        let ddl = "CREATE TABLE t (\n  `ra` double NOT NULL COMMENT 'Right ascension [deg]',\n  \
                   `dec` double COMMENT '[rad]',\n  `f` int COMMENT 'flags [see doc] of x',\n  \
                   `g` int COMMENT 'plain')";
        let schema = schema_from_ddl(ddl, None).unwrap();
        let doc = |i: usize| {
            let f = schema.field(i);
            (
                f.description().map(str::to_string),
                f.unit().map(str::to_string),
            )
        };
        assert_eq!(doc(0), (Some("Right ascension".into()), Some("deg".into())));
        assert_eq!(doc(1), (None, Some("rad".into())));
        assert_eq!(doc(2), (Some("flags [see doc] of x".into()), None));
        assert_eq!(doc(3), (Some("plain".into()), None));
        // What our DDL writer makes of a unit reads back as that unit.
        let sql = crate::catalog::create_table_sql("t", &schema).unwrap();
        let again = schema_from_ddl(&sql, None).unwrap();
        assert_eq!(again.field(0).unit(), Some("deg"));
        assert_eq!(again.field(0).description(), Some("Right ascension"));
    }
}
