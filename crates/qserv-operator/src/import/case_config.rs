//! Where a dataset keeps each table's files: the test-case entry of Qserv's integration-test
//! runner (`Q@2026.3.3-rc1:etc/integration_tests.yaml`, read by
//! `python/lsst/qserv/admin/itest_load.py:194-259`, `LoadDb`), or, without one, the layout every
//! qserv_testdata case has (`data/<table>.tsv.gz`, `data/schema/<table>.schema`,
//! `data/partition/<table>.json` then `common.json`, `data/ingest/<table>.json` and
//! `database.json`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ImportError;

/// One test case of the runner's YAML (`test_cases[]`), paths relative to the dataset root.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseConfig {
    pub id: String,
    /// `data/{table_name}.tsv.gz`
    pub data: String,
    /// `data/schema/{table_name}.schema`
    pub schema: String,
    pub partition: PartitionFiles,
    pub ingest: IngestFiles,
    /// The tables in load order (directors first).
    pub tables: Vec<String>,
    /// Query numbers the runner skips for this case.
    #[serde(default)]
    pub skip_numbers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PartitionFiles {
    /// sph-partition config files, most specific first: `itest_load.py:283-285` passes them in
    /// this order and, at 2026.3.3-rc1, later files override earlier ones (a JSON merge patch,
    /// `src/partition/ConfigStore.cc:45-50`).
    pub config: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestFiles {
    pub database: String,
    pub table: String,
}

#[derive(Deserialize)]
struct RunnerConfig {
    test_cases: Vec<CaseConfig>,
}

impl CaseConfig {
    /// The case `id` of the runner's YAML `file`.
    pub fn from_file(file: &Path, id: &str) -> Result<CaseConfig, ImportError> {
        let text = std::fs::read_to_string(file).map_err(|e| ImportError::file(file, e))?;
        let config: RunnerConfig =
            serde_norway::from_str(&text).map_err(|e| ImportError::file(file, e))?;
        let ids: Vec<String> = config.test_cases.iter().map(|c| c.id.clone()).collect();
        config
            .test_cases
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                ImportError::file(
                    file,
                    format!("no test case {id:?} (test_cases: {})", ids.join(", ")),
                )
            })
    }

    /// The qserv_testdata layout for the dataset at `root`: every table with an ingest config
    /// (`data/ingest/<table>.json`), directors first, then their children, then the others;
    /// the data file found by its extension.
    pub fn conventional(root: &Path) -> Result<CaseConfig, ImportError> {
        let ingest_dir = root.join("data/ingest");
        let mut names: Vec<String> = std::fs::read_dir(&ingest_dir)
            .map_err(|e| ImportError::file(&ingest_dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let table = name.strip_suffix(".json")?.to_string();
                (table != "database" && table != "metadata").then_some(table)
            })
            .collect();
        names.sort();
        let data = ["tsv.gz", "csv.gz", "tsv", "csv"]
            .into_iter()
            .find(|ext| {
                names
                    .iter()
                    .any(|t| root.join(format!("data/{t}.{ext}")).is_file())
            })
            .ok_or_else(|| {
                ImportError::file(
                    &root.join("data"),
                    "no data/<table>.{tsv,csv}[.gz] file for the tables of data/ingest/",
                )
            })?;
        Ok(CaseConfig {
            id: root
                .file_name()
                .map_or("dataset".into(), |n| n.to_string_lossy().into_owned()),
            data: format!("data/{{table_name}}.{data}"),
            schema: "data/schema/{table_name}.schema".into(),
            partition: PartitionFiles {
                config: vec![
                    "data/partition/{table_name}.json".into(),
                    "data/partition/common.json".into(),
                ],
            },
            ingest: IngestFiles {
                database: "data/ingest/database.json".into(),
                table: "data/ingest/{table_name}.json".into(),
            },
            tables: names,
            skip_numbers: Vec::new(),
        })
    }

    /// A template with `{table_name}` filled in.
    pub fn path(template: &str, table: &str) -> PathBuf {
        PathBuf::from(template.replace("{table_name}", table))
    }
}
