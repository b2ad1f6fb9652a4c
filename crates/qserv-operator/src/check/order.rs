//! In which order a query file's two results are compared.
//!
//! Qserv's runner writes each side's rows with the `mysql` client and compares the files: in
//! the order written, unless the file says `-- pragma sortresult`, when each file's lines are
//! sorted first (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py:114,175-190,1096-1100`;
//! qserv_testdata's runner the same, `benchmark.py:233-238`). But a query without `ORDER BY` has
//! no defined order in Qserv: each chunk's result is merged into the czar's result table as it
//! arrives (`Q@2026.3.3-rc1:src/ccontrol/UserQuerySelect.cc:292`) and the result is read back
//! with the user's `ORDER BY` only when there is one (`UserQuerySelect.cc:228-233`). Comparing
//! such a result in order fails whenever chunks arrive in another order, a false failure the
//! runner hides only where the files happen to agree. So, as the issue asks, order counts only
//! where the query orders:
//!
//! - `sortresult`: rows compared as sorted lists, as the runner does;
//! - otherwise, an `ORDER BY` at the top level of both sides' statements (not inside
//!   parentheses: a subquery's or a window's order is not the result's): rows compared in order,
//!   as the runner does;
//! - otherwise: rows compared as sorted lists too (the same rows in any order pass), where the
//!   runner would compare in order.
//!
//! An `ORDER BY` whose keys tie leaves the tied rows in no defined order either: such a file
//! needs `sortresult`, as it does for the runner.

use crate::read_only::tokens;

/// How rows are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// `-- pragma sortresult`: as sorted lists.
    Sorted,
    /// Both statements end in an `ORDER BY`: in order.
    OrderBy,
    /// No order given: as sorted lists.
    Unordered,
}

impl RowOrder {
    /// The order of a query file's comparison.
    pub fn of(sort_result: bool, qserv_sql: &str, reference_sql: &str) -> Self {
        if sort_result {
            RowOrder::Sorted
        } else if has_top_level_order_by(qserv_sql) && has_top_level_order_by(reference_sql) {
            RowOrder::OrderBy
        } else {
            RowOrder::Unordered
        }
    }

    /// Whether the rows are sorted before they are compared.
    pub fn sorts(self) -> bool {
        self != RowOrder::OrderBy
    }

    /// How the rows were compared, for a failure's message.
    pub fn describe(self) -> &'static str {
        match self {
            RowOrder::Sorted => "rows compared sorted (pragma sortresult)",
            RowOrder::OrderBy => "rows compared in order (ORDER BY)",
            RowOrder::Unordered => "rows compared sorted (no ORDER BY: any order is right)",
        }
    }
}

/// Whether `sql` has an `ORDER BY` outside any parentheses, read as MariaDB's lexer reads it
/// (strings, quoted names and comments skipped). SQL the lexer refuses has none: the read-only
/// guard refuses it before it runs.
pub fn has_top_level_order_by(sql: &str) -> bool {
    let Ok(tokens) = tokens(sql) else {
        return false;
    };
    let mut depth = 0usize;
    let mut previous_order = false;
    for token in &tokens {
        match token.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            word if depth == 0 && previous_order && word.eq_ignore_ascii_case("BY") => {
                return true;
            }
            _ => {}
        }
        previous_order = depth == 0 && token.eq_ignore_ascii_case("ORDER");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_top_level_order_by_orders_the_result() {
        for sql in [
            "SELECT a FROM t ORDER BY a",
            "select a from t order  by a desc limit 5",
            "SELECT a FROM t ORDER\tBY a",
            "SELECT a FROM t ORDER /* c */ BY a",
            "(SELECT a FROM t) UNION (SELECT a FROM u) ORDER BY a",
            "SELECT objectId, AVG(ra_PS) as ra FROM Object GROUP BY objectId ORDER BY ra",
            "SELECT `order`, a FROM t ORDER BY a;",
        ] {
            assert!(has_top_level_order_by(sql), "{sql}");
        }
        for sql in [
            "SELECT a FROM t",
            "SELECT a FROM (SELECT a FROM t ORDER BY a) s",
            "SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 1)",
            "SELECT ROW_NUMBER() OVER (ORDER BY a) FROM t",
            "SELECT GROUP_CONCAT(a ORDER BY a) FROM t",
            "(SELECT a FROM t ORDER BY a) UNION (SELECT a FROM u)",
            "SELECT 'ORDER BY' FROM t",
            "SELECT `ORDER BY` FROM t",
            "SELECT a FROM t -- ORDER BY a",
            "SELECT a FROM t # ORDER BY a",
            "SELECT a FROM t /* ORDER BY a */",
            "SELECT a AS `order`, b AS `by` FROM t",
            "SELECT a FROM t ORDER",
            "SELECT 'unterminated ORDER BY a",
        ] {
            assert!(!has_top_level_order_by(sql), "{sql}");
        }
    }

    #[test]
    fn sortresult_wins_and_both_sides_must_order() {
        let ordered = "SELECT a FROM t ORDER BY a";
        let unordered = "SELECT a FROM t";
        assert_eq!(RowOrder::of(true, ordered, ordered), RowOrder::Sorted);
        assert_eq!(RowOrder::of(false, ordered, ordered), RowOrder::OrderBy);
        assert_eq!(RowOrder::of(false, ordered, unordered), RowOrder::Unordered);
        assert_eq!(RowOrder::of(false, unordered, ordered), RowOrder::Unordered);
        assert_eq!(
            RowOrder::of(false, unordered, unordered),
            RowOrder::Unordered
        );
        assert!(RowOrder::Sorted.sorts() && RowOrder::Unordered.sorts());
        assert!(!RowOrder::OrderBy.sorts());
    }
}
