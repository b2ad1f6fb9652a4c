//! The parts of a `CREATE TABLE` a schema file gives, so a loader can create the table under a
//! name of its own (a staging table, a chunk table).

/// Column and key definitions and table options of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDefinition {
    /// The text between the parentheses of `CREATE TABLE`.
    pub columns: String,
    /// The same without the columns' `COMMENT`s, for when the server refuses the definition as
    /// too large (MariaDB keeps every column's name and comment in one 64 KiB `.frm` record:
    /// error 1117, e.g. for DP0.2's `Object`, 991 columns). `None` for a user's DDL file, which
    /// is taken as written.
    pub columns_without_comments: Option<String>,
    /// Table options (`ENGINE=MyISAM ...`), after the closing parenthesis.
    pub options: String,
    /// A user's DDL file, created as a server in its default mode takes it: schemas dumped
    /// from MySQL 5.1 (qserv_testdata's) carry `DEFAULT '0000-00-00 00:00:00'`, which a strict
    /// session refuses. Only the `CREATE` relaxes (rows still load strictly); generated
    /// definitions are created strictly.
    pub user_ddl: bool,
}

impl TableDefinition {
    /// `CREATE TABLE <name> (...) <options>`, with or without the column comments; `name` is
    /// already quoted.
    pub fn create_table(&self, name: &str, with_comments: bool) -> String {
        let columns = match (&self.columns_without_comments, with_comments) {
            (Some(bare), false) => bare,
            _ => &self.columns,
        };
        let create = format!("CREATE TABLE {name} ({columns}) {}", self.options);
        if self.user_ddl {
            format!("SET STATEMENT sql_mode = 'NO_ENGINE_SUBSTITUTION' FOR {create}")
        } else {
            create
        }
    }
}
