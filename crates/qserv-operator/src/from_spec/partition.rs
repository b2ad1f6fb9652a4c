//! The partitioning of one CatalogIngest table: its layout, position and id columns, input
//! format and selection (columns, cone, bands) turned into a partitioner config and options.
//! The ingest Jobs, the demo and the tests all go through here.

use std::path::Path;

use serde_json::Value;

use crate::api::catalog_ingest::{CatalogIngestSpec, TableRole, TableSpec};
use crate::catalog::CatalogReader;
use crate::partition::config::{ConfigError, ConfigStore, PartitionConfig};
use crate::partition::run::{Options, PartitionError};

/// Config and options to partition `table` of `spec` from `source_dir` into `out_dir`.
pub fn table_plan(
    spec: &CatalogIngestSpec,
    table: &TableSpec,
    source_dir: &Path,
    out_dir: &Path,
) -> Result<(PartitionConfig, Options), PartitionError> {
    let key_error = |key: &str, message: String| ConfigError::Key {
        key: key.into(),
        message,
    };
    if table.role == TableRole::Regular {
        return Err(key_error(
            &format!("table {}", table.name),
            "a regular table is not partitioned (it is replicated to every worker)".into(),
        )
        .into());
    }
    let Some((ra, dec)) = table.partition_position() else {
        return Err(key_error(
            &format!("table {}", table.name),
            "needs raColumn and decColumn (or partition.raColumn and partition.decColumn)".into(),
        )
        .into());
    };
    let format = super::catalog::input_format(table, source_dir)?;
    let files = super::catalog::table_files(table, source_dir)?;
    let selection =
        super::catalog::selection_spec(table, spec.region.as_ref(), spec.filters.as_ref())?;
    let first = files.first().ok_or(PartitionError::NoInput)?;
    // The selected columns are the input fields; positions are located in degrees, from the
    // file's own units or the spec's.
    let compiled = CatalogReader::open(first, &format, 1)?.selection(&selection)?;
    let schema = compiled.schema();

    let mut store = ConfigStore::default();
    let p = &spec.partitioning;
    store.set("part.num-stripes", Value::from(p.stripes));
    store.set("part.num-sub-stripes", Value::from(p.sub_stripes));
    store.set(
        "part.overlap",
        Value::from(table.partition_overlap(p.overlap)),
    );
    store.set("part.pos", Value::from(format!("{ra}, {dec}")));
    if table.role == TableRole::Director
        && let Some(id) = &table.id_column
    {
        store.set("part.id", Value::from(id.clone()));
    }
    let names: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| Value::from(f.name().clone()))
        .collect();
    store.set("in.csv.field", Value::Array(names));
    let mut config = PartitionConfig::from_store(&store)?;
    if let Some((ra_unit, dec_unit)) = compiled.position_units() {
        (config.ra_unit, config.dec_unit) = (ra_unit, dec_unit);
    }
    let mut opts = Options::new(files, out_dir.to_path_buf());
    opts.format = Some(format);
    opts.selection = Some(selection);
    Ok((config, opts))
}
