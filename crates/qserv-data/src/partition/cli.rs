//! `qserv-operator partition`: sph-partition's JSON configs and `part.*` keys as flags, CSV/TSV
//! or catalog (HDF5, Parquet) input, and a summary line with throughput and peak memory.

use std::path::PathBuf;

use super::run::PartitionError;
use crate::{catalog, partition};

/// `qserv-operator partition`: sph-partition's JSON configs and `part.*` keys as flags.
#[derive(clap::Args, Debug)]
pub struct PartitionArgs {
    /// sph-partition JSON config file; repeat it, later files override earlier ones.
    #[arg(long = "config-file", value_name = "F")]
    config_files: Vec<PathBuf>,
    /// Input: a file (.gz is read transparently), a directory or a glob; repeatable.
    #[arg(long = "in", value_name = "PATH", required = true)]
    inputs: Vec<String>,
    /// Output directory (created; must be empty). Written atomically: nothing appears unless
    /// the whole run succeeds.
    #[arg(long, value_name = "D")]
    out_dir: PathBuf,
    /// Worker threads (default: every core).
    #[arg(short = 'j', long = "jobs")]
    jobs: Option<usize>,
    /// Unit of the position fields. Default: degrees for CSV/TSV (sph-partition's), the file's
    /// own for --format hdf5|parquet (astropy's `unit`, Parquet field metadata), which an
    /// unknown or missing unit there needs.
    #[arg(long, value_enum)]
    angle_unit: Option<partition::AngleUnit>,
    /// Wrap right ascensions into [0, 360) instead of rejecting rows outside it.
    #[arg(long)]
    normalize_ra: bool,
    /// Rows that may be rejected (listed in rejected.csv with the reason) before failing.
    #[arg(long, default_value_t = 0)]
    max_rejects: u64,
    /// Number of stripes (part.num-stripes).
    #[arg(long = "part.num-stripes")]
    num_stripes: Option<u32>,
    /// Sub-stripes per stripe (part.num-sub-stripes).
    #[arg(long = "part.num-sub-stripes")]
    num_sub_stripes: Option<u32>,
    /// Overlap radius in degrees (part.overlap).
    #[arg(long = "part.overlap")]
    overlap: Option<f64>,
    /// Position fields, "ra, dec" (part.pos).
    #[arg(long = "part.pos")]
    pos: Option<String>,
    /// Object id field; writes <prefix>_object_index.txt (part.id).
    #[arg(long = "part.id")]
    id: Option<String>,
    /// Chunk id output field (part.chunk).
    #[arg(long = "part.chunk")]
    chunk: Option<String>,
    /// Sub-chunk id output field (part.sub-chunk).
    #[arg(long = "part.sub-chunk")]
    sub_chunk: Option<String>,
    /// Output file prefix (part.prefix, default "chunk").
    #[arg(long = "part.prefix")]
    prefix: Option<String>,
    /// Input field names, comma separated (in.csv.field).
    #[arg(long = "in.csv.field")]
    in_fields: Option<String>,
    /// Input format: sph-partition's CSV/TSV (dialect from the config), or a catalog read
    /// through Arrow (astropy HDF5, Parquet) whose column names are the input fields.
    #[arg(long, value_enum, default_value_t = PartitionFormat::Csv)]
    format: PartitionFormat,
    /// HDF5 dataset (the astropy table's path) with --format hdf5.
    #[arg(long)]
    dataset: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PartitionFormat {
    Csv,
    Hdf5,
    Parquet,
}

pub fn run(args: PartitionArgs) -> Result<(), PartitionError> {
    let mut store = partition::ConfigStore::default();
    for file in &args.config_files {
        store.add_file(file)?;
    }
    let flags: [(&str, Option<serde_json::Value>); 9] = [
        ("part.num-stripes", args.num_stripes.map(Into::into)),
        ("part.num-sub-stripes", args.num_sub_stripes.map(Into::into)),
        ("part.overlap", args.overlap.map(Into::into)),
        ("part.pos", args.pos.map(Into::into)),
        ("part.id", args.id.map(Into::into)),
        ("part.chunk", args.chunk.map(Into::into)),
        ("part.sub-chunk", args.sub_chunk.map(Into::into)),
        ("part.prefix", args.prefix.map(Into::into)),
        ("in.csv.field", args.in_fields.map(Into::into)),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            store.set(key, value);
        }
    }
    let inputs = partition::input::expand_inputs(&args.inputs)?;
    let format = match args.format {
        PartitionFormat::Csv => None,
        PartitionFormat::Parquet => Some(catalog::InputFormat::Parquet),
        PartitionFormat::Hdf5 => Some(catalog::InputFormat::Hdf5 {
            dataset: args
                .dataset
                .clone()
                .ok_or_else(|| PartitionError::Arguments("--format hdf5 needs --dataset".into()))?,
        }),
    };
    let mut catalog_schema = None;
    if let (Some(format), Some(first)) = (&format, inputs.first()) {
        // The catalog's own column names are the input fields.
        let schema = catalog::CatalogReader::open(first, format, 1)?.schema();
        let names: Vec<serde_json::Value> = schema
            .fields()
            .iter()
            .map(|f| f.name().clone().into())
            .collect();
        store.set("in.csv.field", serde_json::Value::Array(names));
        catalog_schema = Some(schema);
    }
    let mut config = partition::PartitionConfig::from_store(&store)?;
    (config.ra_unit, config.dec_unit) = match &catalog_schema {
        // A catalog's position units are its own (or named by --angle-unit), as a
        // CatalogIngest's are.
        Some(schema) => {
            let unit = |name: &str| {
                schema
                    .field_with_name(name)
                    .map_err(|e| e.to_string())
                    .and_then(|field| catalog::select::position_unit(field, args.angle_unit))
                    .map_err(|e| PartitionError::Arguments(format!("{}: {e}", inputs[0].display())))
            };
            (unit(&config.pos.0)?, unit(&config.pos.1)?)
        }
        // sph-partition's positions are degrees.
        None => {
            let unit = args.angle_unit.unwrap_or_default();
            (unit, unit)
        }
    };
    config.normalize_ra = args.normalize_ra;
    let mut opts = partition::Options::new(inputs, args.out_dir.clone());
    opts.format = format;
    if let Some(j) = args.jobs {
        if j < 1 {
            return Err(PartitionError::Arguments("-j must be at least 1".into()));
        }
        opts.threads = j;
    }
    opts.max_rejects = args.max_rejects;
    opts.progress = true;
    let started = std::time::Instant::now();
    let summary = partition::partition_files(&config, &opts)?;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib()
        .map(|m| format!(", peak RSS {m:.0} MiB"))
        .unwrap_or_default();
    println!(
        "partitioned {} rows from {} file(s) into {} chunks in {} ({} overlap rows, {} rejected) in {:.2}s, {:.0} rows/s{peak}",
        summary.rows_read,
        opts.inputs.len(),
        summary.chunks.len(),
        args.out_dir.display(),
        summary.overlap_rows,
        summary.rows_rejected,
        secs,
        summary.rows_read as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
