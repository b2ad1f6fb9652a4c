//! Which database each side of a check uses: the Qserv database of the CatalogIngest, and its
//! reference copy named as the query suites' runners name it.
//!
//! Two conventions exist, and the name tells which one a dataset follows:
//! - qserv_testdata's runner loads a case twice, as `qservTest_caseNN_qserv` into Qserv and as
//!   `qservTest_caseNN_mysql` into the plain MySQL reference
//!   (`lsst/qserv_testdata:python/lsst/qserv/tests/benchmark.py:382,387-388`), and its query
//!   files name those databases literally on their `-- withQserv` / `-- noQserv` lines
//!   (`datasets/case03/queries/0032_longSelectListItem.sql:4-5`) or through `{DBTAG_A}`, which
//!   each side replaces with its own database (`benchmark.py:203,215`);
//! - Qserv 2026.3.3-rc1's runner reads one name from the case's `data/ingest/database.json`
//!   (`qcase01`) and uses it on both sides (`Q@2026.3.3-rc1:python/lsst/qserv/admin/itest.py:794-795,824-826`).
//!
//! So a database whose name ends in `_qserv` has its reference copy under the same name ending
//! in `_mysql`; any other name is the same on both sides. Both runners are then followed: a
//! 2026 dataset keeps one name, and a qserv_testdata suite finds `<x>_mysql` on the reference,
//! whether it names it or says `{DBTAG_A}`. Literal names are never rewritten in the SQL: a
//! suite that names `qservTest_case03_qserv` needs the CatalogIngest's database to be that.

/// The suffix of a Qserv database in qserv_testdata's naming.
pub const QSERV_SUFFIX: &str = "_qserv";
/// The suffix of its reference copy.
pub const REFERENCE_SUFFIX: &str = "_mysql";

/// The reference copy's database for the Qserv database `qserv_database`.
pub fn reference_database(qserv_database: &str) -> String {
    match qserv_database.strip_suffix(QSERV_SUFFIX) {
        Some(stem) => format!("{stem}{REFERENCE_SUFFIX}"),
        None => qserv_database.to_string(),
    }
}

/// The database of each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Databases {
    pub qserv: String,
    pub reference: String,
}

impl Databases {
    /// `qserv` and its reference copy as [`reference_database`] names it.
    pub fn of(qserv: &str) -> Self {
        Databases {
            qserv: qserv.to_string(),
            reference: reference_database(qserv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qserv_testdata_names_pair_and_others_stay() {
        assert_eq!(
            reference_database("qservTest_case01_qserv"),
            "qservTest_case01_mysql"
        );
        assert_eq!(reference_database("qcase01"), "qcase01");
        assert_eq!(reference_database("clusters_macs2243"), "clusters_macs2243");
        // Only the suffix counts, and only once.
        assert_eq!(reference_database("qserv_data"), "qserv_data");
        assert_eq!(reference_database("a_qserv_qserv"), "a_qserv_mysql");
        assert_eq!(reference_database("_qserv"), "_mysql");
        assert_eq!(reference_database("x_QSERV"), "x_QSERV");
        assert_eq!(reference_database("db_mysql"), "db_mysql");
        assert_eq!(
            Databases::of("qservTest_case03_qserv"),
            Databases {
                qserv: "qservTest_case03_qserv".into(),
                reference: "qservTest_case03_mysql".into()
            }
        );
    }
}
