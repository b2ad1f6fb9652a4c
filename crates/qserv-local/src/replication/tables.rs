//! The MariaDB side of the stand-in: chunk tables on the workers as Qserv lays them out, and
//! the czar's read path over them. Statement builders are pure; [`Sql`] runs them.
//!
//! Layout (lsst/qserv `doc/ingest/api/reference/rest/general.rst`, "Base versus final table
//! names"; `doc/ingest/api/concepts/transactions.rst`, "Row tagging" and "Implementation
//! Details"): a partitioned table `T` is `T_<chunk>` and `TFullOverlap_<chunk>` on the worker
//! that holds the chunk, plus the empty dummy chunk `T_1234567890` on every worker; each has
//! the column `qserv_trans_id INT UNSIGNED NOT NULL` first and is MyISAM, partitioned
//! `PARTITION BY LIST (qserv_trans_id)` with one partition `p<id>` per super-transaction
//! (`p0` for the reserved default transaction; the form is the one in
//! `src/replica/util/testQueryGenerator.cc`). Aborting drops the transaction's partition;
//! publishing removes the partitioning.
//!
//! The same names are being written in `qserv_operator::qserv::chunk_tables` (branch `chunks`); these
//! private copies go when the lead merges both.

use mysql_async::prelude::Queryable;

use qserv_operator::db::Endpoint;
use qserv_operator::qserv::replication::Column;

/// Qserv's dummy chunk: every worker has it for every partitioned table.
pub const DUMMY_CHUNK: u32 = 1_234_567_890;

pub fn chunk_table(table: &str, chunk: u32, overlap: bool) -> String {
    if overlap {
        format!("{table}FullOverlap_{chunk}")
    } else {
        format!("{table}_{chunk}")
    }
}

pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub fn qualified(db: &str, table: &str) -> String {
    format!("{}.{}", quote(db), quote(table))
}

/// `CREATE TABLE` of a chunk table (or a regular table), partitioned by transaction, in the
/// table's character set and collation (`SqlCreateTableJob`,
/// `Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:631-635`).
pub fn create_chunk_table(db: &str, name: &str, schema: &[Column], charset: &Charset) -> String {
    let columns: Vec<String> = std::iter::once("`qserv_trans_id` INT UNSIGNED NOT NULL".into())
        .chain(
            schema
                .iter()
                .map(|c| format!("{} {}", quote(&c.name), c.sql_type)),
        )
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE=MyISAM {} \
         PARTITION BY LIST (`qserv_trans_id`) (PARTITION `p0` VALUES IN (0))",
        qualified(db, name),
        columns.join(", "),
        charset.table_options()
    )
}

/// A table's character set and collation (checked names: letters, digits, `_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charset {
    pub charset: String,
    pub collation: String,
}

impl Charset {
    pub fn table_options(&self) -> String {
        format!(
            "DEFAULT CHARSET={} COLLATE={}",
            self.charset, self.collation
        )
    }
}

pub fn add_partition(db: &str, name: &str, transaction: u32) -> String {
    format!(
        "ALTER TABLE {} ADD PARTITION (PARTITION `p{transaction}` VALUES IN ({transaction}))",
        qualified(db, name)
    )
}

pub fn drop_partition(db: &str, name: &str, transaction: u32) -> String {
    format!(
        "ALTER TABLE {} DROP PARTITION `p{transaction}`",
        qualified(db, name)
    )
}

/// A `'...'` SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The worker's view of table `T`: every chunk table it holds (overlap tables are for
/// near-neighbour queries, never part of `T`).
pub fn worker_view(db: &str, table: &str, chunks: &[u32]) -> String {
    let selects: Vec<String> = chunks
        .iter()
        .map(|&c| {
            format!(
                "SELECT * FROM {}",
                qualified(db, &chunk_table(table, c, false))
            )
        })
        .collect();
    format!(
        "CREATE OR REPLACE VIEW {} AS {}",
        qualified(db, table),
        selects.join(" UNION ALL ")
    )
}

/// Runs statements on one MariaDB server.
pub struct Sql {
    pub endpoint: Endpoint,
    pub label: String,
}

impl Sql {
    pub fn new(url: &str, label: &str) -> Result<Self, String> {
        Ok(Sql {
            endpoint: Endpoint::parse(url).map_err(|e| e.to_string())?,
            label: label.into(),
        })
    }

    pub async fn conn(&self) -> Result<mysql_async::Conn, String> {
        self.endpoint
            .connect()
            .await
            .map_err(|e| format!("{}: {e}", self.label))
    }

    /// Runs each statement in order on one connection.
    pub async fn run(&self, statements: &[String]) -> Result<(), String> {
        if statements.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        for s in statements {
            conn.query_drop(s)
                .await
                .map_err(|e| format!("{}: {e} (in: {})", self.label, short(s)))?;
        }
        conn.disconnect().await.ok();
        Ok(())
    }

    /// Partition names of a table (`p0`, `p12`, ...); empty when it is not partitioned.
    pub async fn partitions(&self, db: &str, table: &str) -> Result<Vec<String>, String> {
        let mut conn = self.conn().await?;
        let rows: Vec<Option<String>> = conn
            .exec(
                "SELECT PARTITION_NAME FROM information_schema.PARTITIONS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (db, table),
            )
            .await
            .map_err(|e| format!("{}: {e}", self.label))?;
        conn.disconnect().await.ok();
        Ok(rows.into_iter().flatten().collect())
    }

    /// Base tables of `db` (not views).
    pub async fn tables(&self, db: &str) -> Result<Vec<String>, String> {
        let mut conn = self.conn().await?;
        let rows: Vec<String> = conn
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
                (db,),
            )
            .await
            .map_err(|e| format!("{}: {e}", self.label))?;
        conn.disconnect().await.ok();
        Ok(rows)
    }

    /// `(qserv_trans_id, rows)` of a table.
    pub async fn rows_by_transaction(
        &self,
        db: &str,
        table: &str,
    ) -> Result<Vec<(u32, u64)>, String> {
        let mut conn = self.conn().await?;
        let rows: Vec<(u32, u64)> = conn
            .query(format!(
                "SELECT `qserv_trans_id`, COUNT(*) FROM {} GROUP BY `qserv_trans_id`",
                qualified(db, table)
            ))
            .await
            .map_err(|e| format!("{}: {e}", self.label))?;
        conn.disconnect().await.ok();
        Ok(rows)
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 200 {
        format!("{}...", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_tables_are_named_and_partitioned_as_qserv_does() {
        assert_eq!(chunk_table("Object", 6630, false), "Object_6630");
        assert_eq!(chunk_table("Object", 6630, true), "ObjectFullOverlap_6630");
        let latin1 = Charset {
            charset: "latin1".into(),
            collation: "latin1_general_ci".into(),
        };
        let ddl = create_chunk_table(
            "db",
            "Object_1",
            &[Column::new("id", "BIGINT NOT NULL")],
            &latin1,
        );
        assert_eq!(
            ddl,
            "CREATE TABLE IF NOT EXISTS `db`.`Object_1` (`qserv_trans_id` INT UNSIGNED NOT NULL, \
             `id` BIGINT NOT NULL) ENGINE=MyISAM DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci \
             PARTITION BY LIST (`qserv_trans_id`) (PARTITION `p0` VALUES IN (0))"
        );
        assert_eq!(
            add_partition("db", "Object_1", 7),
            "ALTER TABLE `db`.`Object_1` ADD PARTITION (PARTITION `p7` VALUES IN (7))"
        );
        assert_eq!(
            worker_view("db", "Object", &[DUMMY_CHUNK, 5]),
            "CREATE OR REPLACE VIEW `db`.`Object` AS SELECT * FROM `db`.`Object_1234567890` \
             UNION ALL SELECT * FROM `db`.`Object_5`"
        );
    }
}
