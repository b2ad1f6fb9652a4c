//! A Felis table as MySQL DDL, by the rules `felis create --engine-url mysql://` follows: Felis's
//! metadata builder (`felis@30.2026.4300:felis/metadata.py`) hands SQLAlchemy 2.1's MySQL DDL
//! compiler (`sqlalchemy/dialects/mysql/base.py`, cited as `sqlalchemy@2.1.9:...`) a column
//! type per Felis type (`felis@30.2026.4300:felis/db/_sqltypes.py:90-149`), the `mysql:datatype`
//! override (`felis@30.2026.4300:felis/db/_variants.py:96-134`), `nullable`, `value` and
//! `description`.
//!
//! What is deliberately left out is listed, with the reasons, in the parent module.

use super::model::{Column, Datatype, DefaultValue};

/// The MySQL type of a column, as Felis compiles it; `Err` is the reason and the key at fault.
pub(super) fn column_type(c: &Column) -> Result<String, (&'static str, String)> {
    // A timestamp's precision wins over `mysql:datatype` (it is applied after the override,
    // `felis@30.2026.4300:felis/metadata.py:58-77,102-112`).
    if c.datatype == Datatype::Timestamp
        && let Some(p) = c.precision
    {
        return Ok(format!("DATETIME({p})"));
    }
    if let Some(given) = &c.mysql_datatype {
        return override_type(given).map_err(|reason| ("mysql:datatype", reason));
    }
    let length = c.length.unwrap_or_default();
    // `felis@30.2026.4300:felis/db/_sqltypes.py:90-149`, compiled by SQLAlchemy's MySQL types.
    Ok(match c.datatype {
        Datatype::Boolean => "BOOL".into(),
        Datatype::Byte => "TINYINT".into(),
        Datatype::Short => "SMALLINT".into(),
        Datatype::Int => "INTEGER".into(),
        Datatype::Long => "BIGINT".into(),
        Datatype::Float => "FLOAT".into(),
        Datatype::Double => "DOUBLE".into(),
        Datatype::Char => format!("CHAR({length})"),
        Datatype::String => format!("VARCHAR({length})"),
        Datatype::Unicode => format!("NATIONAL VARCHAR({length})"),
        Datatype::Text => "LONGTEXT".into(),
        // `mysql.LONGBLOB` takes no length: the length of a Felis binary is lost in MySQL.
        Datatype::Binary => "LONGBLOB".into(),
        Datatype::Timestamp => "DATETIME".into(),
    })
}

/// A `mysql:datatype` as Felis turns it into a SQLAlchemy type: the name before `(` must be a
/// type of SQLAlchemy's MySQL dialect (case matters), and the first lone integer in parentheses
/// is its one argument (`felis@30.2026.4300:felis/db/_variants.py:92,122-133`); what the type's
/// constructor does with that argument decides the text (`sqlalchemy@2.1.9:dialects/mysql/types.py`).
fn override_type(given: &str) -> Result<String, String> {
    let name = given.split('(').next().unwrap_or_default();
    let arg = first_integer_argument(given);
    let optional = |sql: &str| match arg {
        Some(n) => format!("{sql}({n})"),
        None => sql.to_string(),
    };
    let required = |sql: &str| match arg {
        Some(n) => Ok(format!("{sql}({n})")),
        None => Err(format!("`{given}`: {name} needs a length, e.g. {name}(64)")),
    };
    let no_argument = |sql: &str| match arg {
        Some(_) => Err(format!("`{given}`: {name} takes no length")),
        None => Ok(sql.to_string()),
    };
    Ok(match name {
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INTEGER" | "BIGINT" | "FLOAT" | "DECIMAL"
        | "NUMERIC" | "CHAR" | "TEXT" | "BLOB" | "BINARY" | "YEAR" | "BIT" => optional(name),
        "NCHAR" => optional("NATIONAL CHAR"),
        "VARCHAR" | "VARBINARY" => required(name)?,
        "NVARCHAR" => required("NATIONAL VARCHAR")?,
        "DOUBLE" | "REAL" => match arg {
            Some(_) => {
                return Err(format!(
                    "`{given}`: SQLAlchemy's {name} takes a precision and a scale or neither"
                ));
            }
            None => name.to_string(),
        },
        "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "DATE" => no_argument(name)?,
        // Their constructors take no length: it is dropped.
        "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => name.to_string(),
        // The argument lands in `timezone`, not in the fractional-second precision: dropped.
        "DATETIME" | "TIMESTAMP" | "TIME" => name.to_string(),
        "BOOLEAN" => "BOOL".to_string(),
        "JSON" | "ENUM" | "SET" | "INET4" | "INET6" => {
            return Err(format!(
                "`{given}`: {name} columns cannot be read from catalog files"
            ));
        }
        _ => {
            return Err(format!(
                "`{given}`: {name:?} is not a type of SQLAlchemy's MySQL dialect (names are \
                 upper case: TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT, DOUBLE, DECIMAL, CHAR, \
                 VARCHAR, TEXT, BLOB, BINARY, VARBINARY, DATETIME, TIMESTAMP, DATE, BOOLEAN, ...)"
            ));
        }
    })
}

/// Felis's `\((\d+)\)`: the first parenthesised run of digits anywhere in the text.
fn first_integer_argument(text: &str) -> Option<u64> {
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && after[digits..].starts_with(')') {
            return after[..digits].parse().ok();
        }
        rest = after;
    }
    None
}

/// One column definition as SQLAlchemy's MySQL compiler writes it
/// (`sqlalchemy@2.1.9:dialects/mysql/base.py:2047-2116`): name, type, `NOT NULL` (or `NULL` for a
/// nullable TIMESTAMP), the description as `COMMENT` (unless `comment` is false), `DEFAULT`.
pub(super) fn column_definition(c: &Column, sql_type: &str, comment: bool) -> String {
    let mut out = format!(
        "{} {sql_type}",
        crate::catalog::ddl::quote_identifier(&c.name)
    );
    if !c.nullable {
        out.push_str(" NOT NULL");
    } else if sql_type == "TIMESTAMP" {
        out.push_str(" NULL");
    }
    if comment && let Some(description) = &c.description {
        out.push_str(" COMMENT ");
        out.push_str(&string_literal(description));
    }
    if let Some(value) = &c.value {
        out.push_str(" DEFAULT ");
        out.push_str(&default_clause(value));
    }
    out
}

/// Keywords Felis passes through as SQL rather than as a string
/// (`felis@30.2026.4300:felis/metadata.py:116,279-283`).
const SQL_DEFAULTS: [&str; 4] = ["CURRENT_TIMESTAMP", "NOW()", "LOCALTIMESTAMP", "NULL"];

/// What follows `DEFAULT`: a string as a literal, other values as Python prints them, wrapped in
/// parentheses when they hold a non-word character and are not a literal already
/// (`sqlalchemy@2.1.9:dialects/mysql/base.py:2099-2115`).
fn default_clause(value: &DefaultValue) -> String {
    let text = match value {
        DefaultValue::Str(s) if SQL_DEFAULTS.contains(&s.as_str()) => s.clone(),
        DefaultValue::Str(s) => string_literal(s),
        DefaultValue::Int(i) => i.to_string(),
        DefaultValue::Float(f) => python_float(*f),
        DefaultValue::Bool(true) => "True".into(),
        DefaultValue::Bool(false) => "False".into(),
    };
    let lower = text.to_ascii_lowercase();
    let plain = text.starts_with(['\'', '"', '('])
        || on_update(&lower)
        || ["now(", "current_timestamp("]
            .iter()
            .any(|f| lower.strip_prefix(f).is_some_and(digits_then_paren));
    let has_non_word = text.chars().any(|c| !(c.is_alphanumeric() || c == '_'));
    if !plain && has_non_word {
        format!("({text})")
    } else {
        text
    }
}

/// Python's `re.search(r"ON +UPDATE", d, re.I)`.
fn on_update(lower: &str) -> bool {
    lower
        .match_indices("on ")
        .any(|(i, _)| lower[i + 2..].trim_start_matches(' ').starts_with("update"))
}

fn digits_then_paren(rest: &str) -> bool {
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && rest[digits..].starts_with(')')
}

/// A string literal as SQLAlchemy renders it for MySQL: quotes doubled, then backslashes
/// doubled (`sqlalchemy@2.1.9:dialects/mysql/base.py:1678-1684`).
pub(super) fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''").replace('\\', "\\\\"))
}

/// Python's `repr(float)`: the shortest digits that read back the same, in positional notation
/// for exponents -4..16 and scientific (`1e+20`, `1e-05`) outside.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e17`, `1e-5`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let body = if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            let padded = format!("{digits:0<int_len$}");
            let (int, frac) = padded.split_at(int_len);
            format!("{int}.{}", if frac.is_empty() { "0" } else { frac })
        } else {
            format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{dot}e{exp_sign}{:02}", exponent.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        for (f, python) in [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.0, "0.0"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1.25e-7, "1.25e-07"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(python_float(f), python, "{f}");
        }
    }

    #[test]
    fn defaults_are_wrapped_as_sqlalchemy_wraps_them() {
        let d = |v: DefaultValue| default_clause(&v);
        assert_eq!(d(DefaultValue::Float(1.5)), "(1.5)");
        assert_eq!(d(DefaultValue::Int(0)), "0");
        assert_eq!(d(DefaultValue::Int(-1)), "(-1)");
        assert_eq!(d(DefaultValue::Bool(true)), "True");
        assert_eq!(d(DefaultValue::Str("it's".into())), "'it''s'");
        assert_eq!(d(DefaultValue::Str("NOW()".into())), "(NOW())");
        assert_eq!(
            d(DefaultValue::Str("CURRENT_TIMESTAMP".into())),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(d(DefaultValue::Str("NULL".into())), "NULL");
    }

    #[test]
    fn overrides_compile_as_sqlalchemy_compiles_them() {
        for (given, sql) in [
            ("VARCHAR(64)", "VARCHAR(64)"),
            ("VARCHAR(10) CHARACTER SET latin1", "VARCHAR(10)"),
            ("BIGINT", "BIGINT"),
            ("BIGINT(20)", "BIGINT(20)"),
            ("DECIMAL(10,2)", "DECIMAL"),
            ("DATETIME(6)", "DATETIME"),
            ("TIMESTAMP(3)", "TIMESTAMP"),
            ("NVARCHAR(5)", "NATIONAL VARCHAR(5)"),
            ("NCHAR", "NATIONAL CHAR"),
            ("BOOLEAN", "BOOL"),
            ("LONGBLOB(5)", "LONGBLOB"),
        ] {
            assert_eq!(override_type(given).as_deref(), Ok(sql), "{given}");
        }
        for (given, reason) in [
            ("varchar(64)", "is not a type of SQLAlchemy's MySQL dialect"),
            ("INT", "is not a type of SQLAlchemy's MySQL dialect"),
            ("VARCHAR", "needs a length"),
            ("DOUBLE(10)", "a precision and a scale or neither"),
            ("LONGTEXT(5)", "takes no length"),
            ("JSON", "cannot be read from catalog files"),
        ] {
            let err = override_type(given).unwrap_err();
            assert!(err.contains(reason), "{given}: {err}");
        }
    }
}
