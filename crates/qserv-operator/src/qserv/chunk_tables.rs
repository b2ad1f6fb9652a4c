//! Names and DDL of the tables a Qserv worker holds for a partitioned table (pure; shared by
//! the direct chunk loader and the stand-in of the replication ingest service).
//!
//! Facts from lsst/qserv:
//! - `src/replica/ingest/IngestFileSvc.cc` (`loadDataIntoTable`): for every partitioned table
//!   of the database, a worker creates `<Table>_<chunk>`, `<Table>FullOverlap_<chunk>` and the
//!   same two for the dummy chunk, each `CREATE TABLE IF NOT EXISTS ... LIKE <Table>`, where
//!   `<Table>` is the (empty) prototype table of the database. So the overlap table exists for
//!   every partitioned table, directors and children alike (empty when there is no overlap),
//!   and the dummy chunk tables are never loaded.
//! - `src/global/constants.h`: `DUMMY_CHUNK = 1234567890`, `CHUNK_COLUMN = "chunkId"`,
//!   `SUB_CHUNK_COLUMN = "subChunkId"`.
//!
//! Not reproduced: the ingest service also gives the prototype a `qserv_trans_id INT NOT NULL`
//! column and MySQL partitions per super-transaction (`HttpIngestModule::_partitionByColumn`);
//! they only exist for its transactions and are no part of the data.

use crate::catalog::ddl::quote_identifier;

/// The chunk every worker has (empty) tables for, so a query touching no real chunk of a
/// worker still finds its tables (`lsst::qserv::DUMMY_CHUNK`, `src/global/constants.h`).
pub const DUMMY_CHUNK: u32 = 1_234_567_890;
/// Column of the chunk id in partitioned tables (`lsst::qserv::CHUNK_COLUMN`).
pub const CHUNK_COLUMN: &str = "chunkId";
/// Column of the sub-chunk id in partitioned tables (`lsst::qserv::SUB_CHUNK_COLUMN`).
pub const SUB_CHUNK_COLUMN: &str = "subChunkId";
/// Type of both id columns: the partitioner writes them as 32-bit ints (`Chunker.cc`).
const ID_COLUMN_TYPE: &str = "INT NOT NULL";

/// `<table>_<chunk>`: the rows whose position is in the chunk.
pub fn chunk_table(table: &str, chunk: u32) -> String {
    format!("{table}_{chunk}")
}

/// `<table>FullOverlap_<chunk>`: the rows within the overlap radius outside the chunk.
pub fn overlap_table(table: &str, chunk: u32) -> String {
    format!("{table}FullOverlap_{chunk}")
}

/// Both tables of `chunk`: `[chunk_table, overlap_table]`.
pub fn tables_of_chunk(table: &str, chunk: u32) -> [String; 2] {
    [chunk_table(table, chunk), overlap_table(table, chunk)]
}

/// `database`.`table`, quoted.
pub fn qualified(database: &str, table: &str) -> String {
    format!("{}.{}", quote_identifier(database), quote_identifier(table))
}

/// Column definitions of `chunkId` / `subChunkId` that `columns` (the names of the table's
/// columns) lacks: a partitioned table carries both (the partitioner appends them to every row
/// unless its output fields already name them, as sph-partition does).
pub fn missing_chunk_columns<S: AsRef<str>>(columns: &[S]) -> Vec<String> {
    [CHUNK_COLUMN, SUB_CHUNK_COLUMN]
        .into_iter()
        .filter(|id| !columns.iter().any(|c| c.as_ref() == *id))
        .map(|id| format!("{} {ID_COLUMN_TYPE}", quote_identifier(id)))
        .collect()
}

/// `CREATE TABLE` of the prototype `database`.`table`: `columns` is the text between the
/// parentheses (column and key definitions, e.g. a `.schema` file's, verbatim), `options` the
/// table options after them (`ENGINE=MyISAM ...`). Missing chunk id columns are appended, given
/// the names of the columns already there.
pub fn create_prototype_sql<S: AsRef<str>>(
    database: &str,
    table: &str,
    columns: &str,
    column_names: &[S],
    options: &str,
) -> String {
    let mut body = columns.trim_end().to_string();
    for extra in missing_chunk_columns(column_names) {
        body.push_str(",\n  ");
        body.push_str(&extra);
    }
    format!(
        "CREATE TABLE {} (\n{body}\n) {options}",
        qualified(database, table)
    )
    .trim_end()
    .to_string()
}

/// `CREATE TABLE IF NOT EXISTS` of `<table>_<chunk>` (or its overlap table) like the prototype
/// `<table>`, as the worker's ingest service does.
pub fn create_chunk_table_sql(database: &str, table: &str, chunk: u32, overlap: bool) -> String {
    let name = if overlap {
        overlap_table(table, chunk)
    } else {
        chunk_table(table, chunk)
    };
    create_table_like_sql(database, &name, table)
}

/// `CREATE TABLE IF NOT EXISTS database.name LIKE database.prototype`.
pub fn create_table_like_sql(database: &str, name: &str, prototype: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} LIKE {}",
        qualified(database, name),
        qualified(database, prototype)
    )
}

/// Which worker gets each chunk: chunks sorted by id, dealt round-robin over the workers in the
/// order given (chunk `i` of the sorted list to worker `i % workers`). Deterministic, so a
/// re-run with the same workers puts every chunk where the previous run did, and balanced in
/// counts (neighbouring chunk ids, neighbours on the sky, land on different workers).
/// Returns one list per worker; empty when there are no workers.
pub fn assign_chunks(chunks: &[u32], workers: usize) -> Vec<Vec<u32>> {
    let mut sorted = chunks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut plan = vec![Vec::new(); workers];
    if workers == 0 {
        return plan;
    }
    for (i, chunk) in sorted.into_iter().enumerate() {
        plan[i % workers].push(chunk);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_qserv() {
        assert_eq!(chunk_table("Object", 6630), "Object_6630");
        assert_eq!(overlap_table("Object", 6630), "ObjectFullOverlap_6630");
        assert_eq!(
            tables_of_chunk("Source", DUMMY_CHUNK),
            ["Source_1234567890", "SourceFullOverlap_1234567890"]
        );
    }

    #[test]
    fn chunk_tables_are_created_like_the_prototype() {
        assert_eq!(
            create_chunk_table_sql("db", "Object", 7, true),
            "CREATE TABLE IF NOT EXISTS `db`.`ObjectFullOverlap_7` LIKE `db`.`Object`"
        );
        assert_eq!(
            create_chunk_table_sql("d`b", "Object", 7, false),
            "CREATE TABLE IF NOT EXISTS `d``b`.`Object_7` LIKE `d``b`.`Object`"
        );
    }

    #[test]
    fn the_prototype_gets_the_missing_id_columns() {
        let sql = create_prototype_sql(
            "db",
            "Source",
            "\n  `id` bigint NOT NULL,\n  `chunkId` int DEFAULT NULL\n",
            &["id", "chunkId"],
            "ENGINE=MyISAM",
        );
        assert_eq!(
            sql,
            "CREATE TABLE `db`.`Source` (\n\n  `id` bigint NOT NULL,\n  `chunkId` int DEFAULT NULL,\n  \
             `subChunkId` INT NOT NULL\n) ENGINE=MyISAM"
        );
        assert_eq!(missing_chunk_columns(&["chunkId", "subChunkId"]).len(), 0);
        assert_eq!(
            missing_chunk_columns::<&str>(&[]),
            ["`chunkId` INT NOT NULL", "`subChunkId` INT NOT NULL"]
        );
    }

    #[test]
    fn chunks_are_dealt_round_robin_in_id_order() {
        let plan = assign_chunks(&[9, 3, 7, 1, 3, 5], 2);
        assert_eq!(plan, vec![vec![1, 5, 9], vec![3, 7]]);
        assert_eq!(assign_chunks(&[4, 2], 3), vec![vec![2], vec![4], vec![]]);
        assert!(assign_chunks(&[1], 0).is_empty());
    }
}
