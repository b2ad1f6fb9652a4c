//! `lsst-felis` as the oracle of the Felis reader: the real `felis create --dry-run --engine-url
//! mysql://` of the venv (scripts/requirements-test.txt), its output cut into tables, and the
//! real schema files of `lsst-sdm-schemas`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin")
}

/// The directory of the `lsst-sdm-schemas` YAML files (`dp02_dc2.yaml`, ...), as the venv's
/// Python finds the package.
pub fn sdm_schemas_dir() -> PathBuf {
    let out = Command::new(venv().join("python"))
        .args([
            "-c",
            "import os, lsst.sdm.schemas as s; print(os.path.dirname(s.__file__))",
        ])
        .output()
        .expect("the venv's python runs (scripts/setup.sh makes it)");
    assert!(
        out.status.success(),
        "lsst-sdm-schemas is not in .venv: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Writes `rows` rows of Felis table `table` of `yaml` as CSV with a header into `csv`
/// (`tests/python/felis_rows.py`, from lsst-felis's own model); `position` names the columns
/// to fill with positions (`--ra COL --dec COL`), if any.
pub fn felis_rows(yaml: &Path, table: &str, rows: usize, csv: &Path, position: &[&str]) {
    let out = Command::new(venv().join("python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/felis_rows.py"))
        .arg(yaml)
        .args([table, &rows.to_string()])
        .arg(csv)
        .args(position)
        .output()
        .expect("the venv's python runs (scripts/setup.sh makes it)");
    assert!(
        out.status.success(),
        "felis_rows.py {table}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One `CREATE TABLE` of Felis's output.
#[derive(Debug, Clone)]
pub struct FelisTable {
    pub name: String,
    /// The statement as Felis prints it (schema-qualified, see [`felis_create`]).
    pub statement: String,
    /// The lines between the parentheses, without their trailing comma.
    pub lines: Vec<String>,
    /// What follows the closing parenthesis.
    pub options: String,
}

/// Felis's MySQL DDL of every table of `file`, with the tables qualified by `database`
/// (`--schema-name`). The dry run prints statements compiled for a `pyformat` driver, which
/// doubles `%`; the driver undoes that when it runs them, so they are undone here too.
pub fn felis_create(file: &Path, database: &str) -> Vec<FelisTable> {
    let out = Command::new(venv().join("felis"))
        .args(["create", "--dry-run", "--engine-url", "mysql://"])
        .args(["--schema-name", database])
        .arg(file)
        .output()
        .expect("felis runs");
    assert!(
        out.status.success(),
        "felis create {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap().replace("%%", "%");
    // Each CREATE TABLE ends with a line `;`; CREATE INDEX statements may follow it.
    text.match_indices("\nCREATE TABLE ")
        .map(|(start, _)| {
            let rest = &text[start + 1..];
            rest[..rest.find("\n;").expect("statements end with ;")].trim()
        })
        .map(|statement| {
            let head_end = statement.find(" (\n").expect("CREATE TABLE name (");
            let name = statement["CREATE TABLE ".len()..head_end]
                .rsplit('.')
                .next()
                .unwrap()
                .trim_matches('`')
                .to_string();
            let close = statement.rfind("\n)").expect("closing parenthesis");
            let lines = statement[head_end + 3..close]
                .split(", \n")
                .map(|l| l.trim_start_matches('\t').trim_end().to_string())
                .collect();
            FelisTable {
                name,
                statement: statement.to_string(),
                lines,
                options: statement[close + 2..].trim().to_string(),
            }
        })
        .collect()
}

/// A column line without its `COMMENT '...'` clause (quotes doubled, backslashes escaped).
pub fn without_comment(line: &str) -> String {
    let Some(at) = line.find(" COMMENT '") else {
        return line.to_string();
    };
    let rest = &line[at + " COMMENT '".len()..];
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => break,
            _ => i += 1,
        }
    }
    format!("{}{}", &line[..at], &rest[(i + 1).min(rest.len())..])
}

/// A statement of [`felis_create`] without its columns' comments (for a table MariaDB refuses
/// with them as too large).
pub fn statement_without_column_comments(table: &FelisTable) -> String {
    let head_end = table.statement.find(" (\n").unwrap();
    let lines: Vec<String> = table.lines.iter().map(|l| without_comment(l)).collect();
    format!(
        "{} (\n{}\n){}",
        &table.statement[..head_end],
        lines.join(",\n"),
        table.options
    )
}
