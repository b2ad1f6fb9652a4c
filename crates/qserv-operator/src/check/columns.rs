//! A result's columns: their names, compared as MariaDB compares column names, and how the
//! `mysql` client shows their values, which is what Qserv's integration test runner compares
//! (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py:300-319`: `mysql --batch --binary-as-hex`).
//!
//! - Names: the runner compares the header lines byte for byte, so `COUNT(*)` and `count(*)`
//!   differ there. MariaDB takes them for the same column: column names and aliases are
//!   compared case-insensitively (system character set `utf8mb3_general_ci`: `é` = `É`, but
//!   `é` ≠ `e` and `ß` ≠ `ss`, checked by `tests/check.rs` against MariaDB's own duplicate
//!   column rule). Names are compared that way here, and nothing more: an alias is the name;
//!   an expression's name is its text as written (MariaDB) or as Qserv renders it
//!   (`Q@2026.3.3-rc1:src/qana/TablePlugin.cc:162-172`), so `COUNT( * )` and `COUNT(*)`, or
//!   `MAX(a) - MIN(a)` and `(MAX(a)-MIN(a))`, remain different names, as they are for MariaDB:
//!   the suites write `-- pragma noheader` for those (`data/case01/queries/1101.1_having.sql`).
//! - Values: `--binary-as-hex` prints a binary string, BIT or GEOMETRY value as `0x` and hex
//!   digits (the client's `is_binary_field`: character set `binary` and one of those types;
//!   MariaDB 10.11's client checked: numbers and dates print as text), every other value as its
//!   text. So a value binary on one side and text on the other differs for the runner even
//!   with the same bytes, and here too.

use mysql_async::Column;
use mysql_async::consts::ColumnType;

/// A value as MariaDB renders it in the text protocol; `None` for NULL.
pub type Cell = Option<Vec<u8>>;

/// The MariaDB character set number of binary strings (`binary`, id 63).
const BINARY_CHARSET: u16 = 63;

/// Rendered rows longer than this show only their first column and the differing ones.
const MAX_ROW_TEXT: usize = 400;

/// Column names and how their values are shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    pub names: Vec<String>,
    kinds: Vec<Kind>,
}

/// How the `mysql` client shows a column's values.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Number,
    Text,
    /// `0x` and hex digits (`--binary-as-hex`).
    Hex,
}

impl Columns {
    pub fn new(columns: &[Column]) -> Self {
        let kinds = columns
            .iter()
            .map(|c| kind(c.column_type(), c.character_set()))
            .collect();
        Columns {
            names: columns.iter().map(|c| c.name_str().into_owned()).collect(),
            kinds,
        }
    }

    /// The columns at `keep`.
    pub fn project(&self, keep: &[usize]) -> Columns {
        Columns {
            names: keep.iter().map(|&i| self.names[i].clone()).collect(),
            kinds: keep.iter().map(|&i| self.kinds[i]).collect(),
        }
    }

    /// Columns of text, or of hex where `hex` says (for tests).
    #[cfg(test)]
    pub(crate) fn of(hex: &[bool]) -> Columns {
        Columns {
            names: (0..hex.len()).map(|i| format!("c{i}")).collect(),
            kinds: hex
                .iter()
                .map(|&h| if h { Kind::Hex } else { Kind::Text })
                .collect(),
        }
    }

    /// Whether column `index`'s values are shown in hex.
    pub fn hex(&self, index: usize) -> bool {
        self.kinds.get(index) == Some(&Kind::Hex)
    }

    /// Whether both have the same names, as MariaDB compares them.
    pub fn same_names(&self, other: &Columns) -> bool {
        self.names.len() == other.names.len()
            && self
                .names
                .iter()
                .zip(&other.names)
                .all(|(a, b)| same_name(a, b))
    }
}

/// The client's `is_binary_field`, then numbers apart from text (for people).
fn kind(t: ColumnType, charset: u16) -> Kind {
    use ColumnType::*;
    let binary_type = matches!(
        t,
        MYSQL_TYPE_BIT
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_GEOMETRY
    );
    let number = crate::db::is_numeric(t);
    if charset == BINARY_CHARSET && binary_type {
        Kind::Hex
    } else if number {
        Kind::Number
    } else {
        Kind::Text
    }
}

/// Whether MariaDB takes `a` and `b` for the same column name: equal once each character is
/// lowercased (Unicode simple case mapping, as `utf8mb3_general_ci` compares letters).
pub fn same_name(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// Columns Qserv adds to the tables it stores: `qserv_trans_id` on every table
/// (`doc/ingest/api/concepts/transactions.rst`, "Row tagging": visible and queriable) and
/// `chunkId`/`subChunkId` on partitioned ones, so `SELECT *` returns them.
const QSERV_COLUMNS: [&str; 3] = ["qserv_trans_id", "chunkId", "subChunkId"];

/// The indexes of the Qserv result's columns to compare, when leaving out the columns Qserv
/// adds makes its column list the reference's; `None` to compare every column.
pub fn qserv_columns_kept(qserv: &Columns, reference: &Columns) -> Option<Vec<usize>> {
    if qserv.same_names(reference) {
        return None;
    }
    let keep: Vec<usize> = (0..qserv.names.len())
        .filter(|&i| {
            let name = &qserv.names[i];
            !QSERV_COLUMNS.iter().any(|q| same_name(q, name))
                || reference.names.iter().any(|r| same_name(r, name))
        })
        .collect();
    qserv.project(&keep).same_names(reference).then_some(keep)
}

/// Whether two rows print the same (NULL apart from every value, as the runner cannot tell
/// NULL from the string `NULL` but should).
pub fn same_row(q: &[Cell], qc: &Columns, r: &[Cell], rc: &Columns) -> bool {
    q.len() == r.len() && (0..q.len()).all(|i| same_cell(q, qc, r, rc, i))
}

fn same_cell(q: &[Cell], qc: &Columns, r: &[Cell], rc: &Columns, i: usize) -> bool {
    q.get(i) == r.get(i) && (q.get(i).is_none_or(Option::is_none) || qc.hex(i) == rc.hex(i))
}

/// `row` as `(v1, v2, ...)`; long rows show their first column and the columns that differ
/// from `other` as `name=value`.
pub fn show_row(
    row: Option<&Vec<Cell>>,
    columns: &Columns,
    other: Option<(&Vec<Cell>, &Columns)>,
) -> String {
    let Some(row) = row else {
        return "(no row)".into();
    };
    let full: Vec<String> = row
        .iter()
        .enumerate()
        .map(|(i, c)| show_cell(c.as_deref(), columns.kinds.get(i).copied()))
        .collect();
    let text = format!("({})", full.join(", "));
    if text.len() <= MAX_ROW_TEXT {
        return text;
    }
    let name = |i: usize| columns.names.get(i).map_or("?", String::as_str);
    let mut parts = vec![format!("{}={}", name(0), full[0])];
    let mut length = parts[0].len();
    let mut last = 0;
    for (i, value) in full.iter().enumerate().skip(1) {
        let differs = other.is_none_or(|(o, oc)| !same_cell(row, columns, o, oc, i));
        if !differs {
            continue;
        }
        // Bounded: a missing 200-column row shows its first columns, not all of them.
        if length > MAX_ROW_TEXT {
            break;
        }
        if i > last + 1 {
            parts.push("…".into());
        }
        let part = format!("{}={value}", name(i));
        length += part.len() + 2;
        parts.push(part);
        last = i;
    }
    if last + 1 < full.len() {
        parts.push("…".into());
    }
    format!("({})", parts.join(", "))
}

/// Shows one cell of `columns`' column `index` (for messages of other checks).
pub fn show_value(columns: &Columns, index: usize, cell: &Cell) -> String {
    show_cell(cell.as_deref(), columns.kinds.get(index).copied())
}

/// A value for people: numbers as they are, strings quoted, hex as the client prints it (and
/// bytes that are not UTF-8), NULL as NULL.
fn show_cell(cell: Option<&[u8]>, kind: Option<Kind>) -> String {
    let Some(bytes) = cell else {
        return "NULL".into();
    };
    match (kind, std::str::from_utf8(bytes)) {
        (Some(Kind::Number), Ok(text)) => text.to_string(),
        (Some(Kind::Hex), _) | (_, Err(_)) => {
            let mut hex = String::from("0x");
            for b in bytes {
                hex.push_str(&format!("{b:02X}"));
            }
            hex
        }
        (_, Ok(text)) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn columns(n: usize) -> Columns {
        Columns {
            names: (0..n).map(|i| format!("c{i}")).collect(),
            kinds: (0..n)
                .map(|i| [Kind::Number, Kind::Text, Kind::Hex][i % 3])
                .collect(),
        }
    }

    fn named(names: &[&str]) -> Columns {
        Columns {
            names: names.iter().map(|n| n.to_string()).collect(),
            kinds: vec![Kind::Number; names.len()],
        }
    }

    #[test]
    fn names_compare_case_insensitively_and_nothing_more() {
        assert!(same_name("COUNT(*)", "count(*)"));
        assert!(same_name("objectId", "OBJECTID"));
        assert!(same_name("Élan", "élan"));
        assert!(!same_name("COUNT( * )", "COUNT(*)"));
        assert!(!same_name("é", "e"));
        assert!(!same_name("ß", "ss"));
        assert!(!same_name("a", "a "));
        assert!(named(&["A", "b"]).same_names(&named(&["a", "B"])));
        assert!(!named(&["a", "b"]).same_names(&named(&["a"])));
    }

    #[test]
    fn only_the_columns_qserv_adds_are_left_out() {
        let reference = named(&["filterId", "filterName"]);
        let kept = |q: &[&str]| qserv_columns_kept(&named(q), &reference);
        assert_eq!(
            kept(&["qserv_trans_id", "filterId", "filterName"]),
            Some(vec![1, 2])
        );
        assert_eq!(
            kept(&[
                "qserv_trans_id",
                "filterId",
                "filterName",
                "chunkId",
                "subChunkId"
            ]),
            Some(vec![1, 2])
        );
        assert_eq!(kept(&["filterId", "filterName"]), None, "same columns");
        assert_eq!(
            kept(&["FILTERID", "filterName"]),
            None,
            "same as MariaDB sees them"
        );
        assert_eq!(
            kept(&["qserv_trans_id", "FilterId", "filterName", "CHUNKID"]),
            Some(vec![1, 2])
        );
        // Anything else is a difference: another column, another order, a missing one.
        assert_eq!(kept(&["qserv_trans_id", "filterId", "photBW"]), None);
        assert_eq!(kept(&["qserv_trans_id", "filterName", "filterId"]), None);
        assert_eq!(kept(&["qserv_trans_id", "filterId"]), None);
        // A column the reference has too is compared, even if Qserv could have added it.
        let with_chunk = named(&["chunkId", "id"]);
        assert_eq!(
            qserv_columns_kept(&named(&["qserv_trans_id", "chunkId", "id"]), &with_chunk),
            Some(vec![1, 2])
        );
    }

    #[test]
    fn hex_and_text_of_the_same_bytes_differ_unless_null() {
        let hex = Columns {
            names: vec!["v".into()],
            kinds: vec![Kind::Hex],
        };
        let text = Columns {
            names: vec!["v".into()],
            kinds: vec![Kind::Text],
        };
        let a = vec![Some(b"A".to_vec())];
        let null = vec![None];
        assert!(same_row(&a, &hex, &a, &hex));
        assert!(same_row(&a, &text, &a, &text));
        assert!(!same_row(&a, &hex, &a, &text));
        assert!(same_row(&null, &hex, &null, &text));
        assert!(!same_row(&null, &text, &[Some(b"NULL".to_vec())], &text));
        assert!(!same_row(&a, &text, &[Some(b"A".to_vec()), None], &text));
        assert_eq!(show_row(Some(&a), &hex, None), "(0x41)");
        assert_eq!(show_row(Some(&a), &text, None), "('A')");
        assert_eq!(
            kind(ColumnType::MYSQL_TYPE_BIT, BINARY_CHARSET),
            Kind::Hex,
            "the client prints BIT in hex"
        );
        assert_eq!(
            kind(ColumnType::MYSQL_TYPE_GEOMETRY, BINARY_CHARSET),
            Kind::Hex
        );
        assert_eq!(
            kind(ColumnType::MYSQL_TYPE_VAR_STRING, BINARY_CHARSET),
            Kind::Hex
        );
        assert_eq!(kind(ColumnType::MYSQL_TYPE_VAR_STRING, 45), Kind::Text);
        // Numbers and dates carry the binary character set too, and print as text.
        assert_eq!(
            kind(ColumnType::MYSQL_TYPE_LONGLONG, BINARY_CHARSET),
            Kind::Number
        );
        assert_eq!(
            kind(ColumnType::MYSQL_TYPE_DATETIME, BINARY_CHARSET),
            Kind::Text
        );
    }

    #[test]
    fn cells_show_null_strings_and_binary_apart() {
        let c = columns(3);
        let row = vec![
            Some(b"42".to_vec()),
            Some(b"NULL".to_vec()),
            Some(vec![0, 0xab]),
        ];
        assert_eq!(show_row(Some(&row), &c, None), "(42, 'NULL', 0x00AB)");
        let row = vec![None, Some(b"".to_vec()), None];
        assert_eq!(show_row(Some(&row), &c, None), "(NULL, '', NULL)");
        assert_eq!(show_row(None, &c, Some((&row, &c))), "(no row)");
    }

    #[test]
    fn long_rows_show_key_and_differing_columns() {
        let c = columns(90);
        let row: Vec<Cell> = (0..90)
            .map(|i| Some(format!("{i}000000").into_bytes()))
            .collect();
        let mut other = row.clone();
        other[40] = Some(b"x".to_vec());
        assert_eq!(
            show_row(Some(&row), &c, Some((&other, &c))),
            "(c0=0000000, …, c40='40000000', …)"
        );
        // Against a missing row every column differs: the text stays short.
        let alone = show_row(Some(&row), &c, None);
        assert!(
            alone.starts_with("(c0=0000000, c1='1000000', c2=0x"),
            "{alone}"
        );
        assert!(
            alone.ends_with(", …)") && alone.len() < MAX_ROW_TEXT + 60,
            "{alone}"
        );
        // A column shown in hex on one side only differs even with equal bytes.
        let mut as_text = c.clone();
        as_text.kinds[50] = Kind::Text;
        assert!(c.hex(50) && !as_text.hex(50));
        assert_eq!(
            show_row(Some(&row), &c, Some((&row, &as_text))),
            "(c0=0000000, …, c50=0x3530303030303030, …)"
        );
    }
}
