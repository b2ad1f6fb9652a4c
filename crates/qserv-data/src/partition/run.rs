//! The CSV/TSV partitioning pipeline: one reader thread cuts the input into blocks of lines,
//! `threads` workers parse, locate and lay out rows, and the calling thread writes blocks back in
//! input order. Channels are bounded, so memory does not grow with the input. Output goes to a
//! temporary sibling directory renamed into place only when everything succeeded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::bounded;

use super::arrow_rows::ArrowRows;
use crate::catalog::{CatalogReader, InputFormat, SelectionSpec};

use super::block::{BlockBuilder, BlockOutput, Reject, RowTemplate};
use super::chunker::{Chunker, ChunkerError};
use super::config::{AngleUnit, OutField, PartitionConfig, RowLayout};
use super::counts::Counts;
use super::csv::{Dialect, Record};
use super::input::{BlockReader, InputError, lines};
use super::position::check_position;
use super::writer::{ChunkWriter, Summary};

/// How to run a partitioning job.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub out_dir: PathBuf,
    /// Worker threads (>= 1).
    pub threads: usize,
    /// Rows that may be rejected (written to `rejected.csv`) before the run fails.
    pub max_rejects: u64,
    pub progress: bool,
    /// Bytes of input per block handed to a worker.
    pub block_size: usize,
    /// Bytes of output buffered before it is written to the chunk files.
    pub buffer_budget: usize,
    /// `None` for sph-partition's CSV/TSV input (dialects from the config); otherwise the
    /// inputs are read with the catalog readers (HDF5, Parquet) and `config.input_fields` are
    /// their column names.
    pub format: Option<InputFormat>,
    /// Columns, cone and bands to keep of catalog inputs (`format` set); `config.input_fields`
    /// are then the selected columns.
    pub selection: Option<SelectionSpec>,
}

impl Options {
    pub fn new(inputs: Vec<PathBuf>, out_dir: PathBuf) -> Self {
        Options {
            inputs,
            out_dir,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_rejects: 0,
            progress: false,
            block_size: 512 << 10,
            buffer_budget: 12 << 20,
            format: None,
            selection: None,
        }
    }
}

/// Why a run failed; nothing is left in the output directory when it does.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// The command line does not describe a run (a missing or bad option).
    #[error("{0}")]
    Arguments(String),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{path}: line {line}: {field}{reason}")]
    Row {
        path: PathBuf,
        line: u64,
        field: String,
        reason: String,
    },
    #[error("{path}: line {line}: {field}{reason} (more than --max-rejects {max} rejected rows)")]
    TooManyRejects {
        path: PathBuf,
        line: u64,
        field: String,
        reason: String,
        max: u64,
    },
    #[error("partitioning layout: {0}")]
    Layout(#[from] ChunkerError),
    #[error("output directory {0} exists and is not empty")]
    OutDirNotEmpty(PathBuf),
    #[error("writing {path}: {source}")]
    Output { path: PathBuf, source: io::Error },
    #[error("no input files")]
    NoInput,
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
}

/// Partitions the inputs (CSV/TSV as sph-partition would, or catalog files when
/// `opts.format` is set) into `opts.out_dir`.
pub fn partition_files(
    config: &PartitionConfig,
    opts: &Options,
) -> Result<Summary, PartitionError> {
    if opts.inputs.is_empty() {
        return Err(PartitionError::NoInput);
    }
    let chunker = Chunker::new(config.num_stripes, config.num_sub_stripes, config.overlap)?;
    let staging = Staging::create(&opts.out_dir)?;
    let summary = run_pipeline(config, opts, &chunker, staging.path())?;
    staging.publish()?;
    Ok(summary)
}

/// A temporary sibling of the output directory, removed unless published.
struct Staging {
    tmp: PathBuf,
    dest: PathBuf,
    published: bool,
}

impl Staging {
    fn create(dest: &Path) -> Result<Self, PartitionError> {
        let out_err = |source| PartitionError::Output {
            path: dest.to_path_buf(),
            source,
        };
        if dest.exists() && std::fs::read_dir(dest).map_err(out_err)?.next().is_some() {
            return Err(PartitionError::OutDirNotEmpty(dest.to_path_buf()));
        }
        let name = dest
            .file_name()
            .map_or("out".into(), |n| n.to_string_lossy().into_owned());
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(out_err)?;
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|source| PartitionError::Output {
            path: tmp.clone(),
            source,
        })?;
        Ok(Staging {
            tmp,
            dest: dest.to_path_buf(),
            published: false,
        })
    }

    fn path(&self) -> &Path {
        &self.tmp
    }

    fn publish(mut self) -> Result<(), PartitionError> {
        let out_err = |source| PartitionError::Output {
            path: self.dest.clone(),
            source,
        };
        if self.dest.exists() {
            std::fs::remove_dir(&self.dest).map_err(out_err)?;
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(out_err)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// A unit of work: lines, or a batch of rows, of one input file.
struct Work {
    seq: u64,
    input: usize,
    /// 1-based number of the first line (CSV) or row (Arrow) in its input. With a selection,
    /// rows are numbered among the selected rows (the readers do not report the rest).
    first_line: u64,
    payload: Payload,
}

/// Lines of CSV/TSV text, or a batch from a catalog reader.
enum Payload {
    Lines(Vec<u8>),
    Batch(arrow_array::RecordBatch),
}

fn run_pipeline(
    config: &PartitionConfig,
    opts: &Options,
    chunker: &Chunker,
    dir: &Path,
) -> Result<Summary, PartitionError> {
    let threads = opts.threads.max(1);
    let (work_tx, work_rx) = bounded::<Work>(threads * 2);
    let (done_tx, done_rx) = bounded::<BlockOutput>(threads * 2);
    // Tickets bound the blocks between the reader and the writer, so a slow block cannot make
    // the reorder buffer grow without limit.
    let in_flight = threads * 2 + 1;
    let (ticket_tx, ticket_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        ticket_tx.send(()).expect("room for every ticket");
    }
    // Emptied buffers go back to the reader and the workers instead of being reallocated.
    let (spare_input_tx, spare_input_rx) = bounded::<Vec<u8>>(in_flight);
    let (spare_output_tx, spare_output_rx) = bounded::<BlockOutput>(in_flight);
    let cancel = AtomicBool::new(false);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let total_bytes: u64 = opts
        .inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let out_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PartitionError::Output { path, source }
    };
    let mut writer = ChunkWriter::new(
        dir,
        &config.prefix,
        opts.buffer_budget,
        threads,
        config.id.is_some(),
    )
    .map_err(out_err(dir))?;
    let progress = Progress::new(opts.progress, total_bytes, bytes_read.clone());
    let started = Instant::now();

    let counts = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut seq = 0;
            // Rows read before the selection's row filters, when it has some.
            let mut before_selection: Option<u64> = None;
            // Hands one unit of work on; false when the run is over (cancelled or failed).
            let mut send = |input: usize, first_line: u64, payload: Payload| {
                if cancel.load(Ordering::Relaxed) || ticket_rx.recv().is_err() {
                    return false;
                }
                let work = Work {
                    seq,
                    input,
                    first_line,
                    payload,
                };
                seq += 1;
                work_tx.send(work).is_ok()
            };
            for (input, path) in opts.inputs.iter().enumerate() {
                match &opts.format {
                    None => {
                        let mut r = BlockReader::open(path, bytes_read.clone())?;
                        loop {
                            let buffer = spare_input_rx.try_recv().unwrap_or_default();
                            let Some(block) = r.next_block(opts.block_size, buffer)? else {
                                break;
                            };
                            if !send(input, block.first_line, Payload::Lines(block.data)) {
                                return Ok(before_selection);
                            }
                        }
                    }
                    Some(format) => {
                        let rows = (opts.block_size / 128).max(1024);
                        let mut first_row = 1;
                        // No selection: every column and row (an empty spec).
                        let everything = SelectionSpec::default();
                        let selection = opts.selection.as_ref().unwrap_or(&everything);
                        let mut selected =
                            CatalogReader::open(path, format, rows)?.select(selection)?;
                        for batch in selected.by_ref() {
                            let batch = batch?;
                            if batch.num_rows() == 0 {
                                continue;
                            }
                            let n = batch.num_rows() as u64;
                            if !send(input, first_row, Payload::Batch(batch)) {
                                return Ok(before_selection);
                            }
                            first_row += n;
                        }
                        if selected.filters_rows() {
                            *before_selection.get_or_insert(0) += selected.rows_in();
                        }
                    }
                }
            }
            drop(work_tx);
            Ok::<Option<u64>, PartitionError>(before_selection)
        });
        let mut workers = Vec::new();
        for _ in 0..threads {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let spare_input_tx = spare_input_tx.clone();
            let spare_output_rx = spare_output_rx.clone();
            workers.push(s.spawn(move || {
                let (mut csv, mut arrow) = (None, None);
                for work in work_rx {
                    let next = spare_output_rx.try_recv().unwrap_or_default();
                    let out = match work.payload {
                        Payload::Lines(data) => {
                            let rows = csv.get_or_insert_with(|| CsvRows::new(config, chunker));
                            let out =
                                rows.process(&data, work.first_line, work.seq, work.input, next);
                            let _ = spare_input_tx.try_send(data);
                            out
                        }
                        Payload::Batch(batch) => arrow
                            .get_or_insert_with(|| ArrowRows::new(config, chunker))
                            .process(&batch, work.first_line, work.seq, work.input, next),
                    };
                    if done_tx.send(out).is_err() {
                        break;
                    }
                }
                let mut counts = Counts::default();
                for builder in [csv.map(|r| r.builder), arrow.map(|r| r.builder)]
                    .into_iter()
                    .flatten()
                {
                    counts.merge(builder.into_counts());
                }
                counts
            }));
        }
        drop(done_tx);
        drop(work_rx);

        let result = write_in_order(
            opts,
            &done_rx,
            &ticket_tx,
            &spare_output_tx,
            &mut writer,
            dir,
            &progress,
        );
        drop(ticket_tx);
        if result.is_err() {
            cancel.store(true, Ordering::Relaxed);
            // Let blocked workers and the reader finish.
            for _ in done_rx.iter() {}
        }
        let read = reader.join().expect("reader thread panicked");
        let mut counts = Counts::default();
        for w in workers {
            counts.merge(w.join().expect("worker thread panicked"));
        }
        result?;
        let before_selection = read?;
        Ok::<(Counts, Option<u64>), PartitionError>((counts, before_selection))
    })?;
    let (counts, before_selection) = counts;
    writer.set_rows_before_selection(before_selection);
    let summary = writer.finish(counts).map_err(out_err(dir))?;
    progress.finish(&summary, started.elapsed().as_secs_f64());
    Ok(summary)
}

/// Consumes worker output in input order: rejects first (fail or record), then the rows.
fn write_in_order(
    opts: &Options,
    done: &crossbeam_channel::Receiver<BlockOutput>,
    tickets: &crossbeam_channel::Sender<()>,
    spare: &crossbeam_channel::Sender<BlockOutput>,
    writer: &mut ChunkWriter,
    dir: &Path,
    progress: &Progress,
) -> Result<(), PartitionError> {
    let mut pending: BTreeMap<u64, BlockOutput> = BTreeMap::new();
    let mut next = 0u64;
    let mut rejected = 0u64;
    let mut rejects_file: Option<io::BufWriter<File>> = None;
    let rejects_path = dir.join("rejected.csv");
    for block in done {
        pending.insert(block.seq, block);
        while let Some(mut block) = pending.remove(&next) {
            next += 1;
            let path = &opts.inputs[block.input];
            for r in &block.rejects {
                rejected += 1;
                let field = r
                    .field
                    .as_ref()
                    .map(|f| format!("field {f}: "))
                    .unwrap_or_default();
                if rejected > opts.max_rejects {
                    let (line, reason) = (r.line, r.reason.clone());
                    return Err(if opts.max_rejects == 0 {
                        PartitionError::Row {
                            path: path.clone(),
                            line,
                            field,
                            reason,
                        }
                    } else {
                        PartitionError::TooManyRejects {
                            path: path.clone(),
                            line,
                            field,
                            reason,
                            max: opts.max_rejects,
                        }
                    });
                }
                let file = match &mut rejects_file {
                    Some(f) => f,
                    None => {
                        let mut f =
                            io::BufWriter::new(File::create(&rejects_path).map_err(|source| {
                                PartitionError::Output {
                                    path: rejects_path.clone(),
                                    source,
                                }
                            })?);
                        writeln!(f, "file,line,field,reason,row").map_err(|source| {
                            PartitionError::Output {
                                path: rejects_path.clone(),
                                source,
                            }
                        })?;
                        rejects_file.insert(f)
                    }
                };
                write_reject(file, path, r).map_err(|source| PartitionError::Output {
                    path: rejects_path.clone(),
                    source,
                })?;
            }
            writer.count_rejected(block.rejects.len() as u64);
            writer
                .write_block(&block)
                .map_err(|source| PartitionError::Output {
                    path: dir.to_path_buf(),
                    source,
                })?;
            progress.rows(block.rows);
            let _ = tickets.send(());
            block.clear();
            let _ = spare.try_send(block);
        }
    }
    if let Some(mut f) = rejects_file {
        f.flush().map_err(|source| PartitionError::Output {
            path: rejects_path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// One RFC 4180 CSV line per rejected row.
fn write_reject(out: &mut impl Write, path: &Path, r: &Reject) -> io::Result<()> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    writeln!(
        out,
        "{},{},{},{},{}",
        quote(&path.display().to_string()),
        r.line,
        quote(r.field.as_deref().unwrap_or("")),
        quote(&r.reason),
        quote(&String::from_utf8_lossy(&r.raw))
    )
}

/// Turns CSV lines into located, re-encoded rows (sph-partition's `Editor` + `Worker::map`).
struct CsvRows<'a> {
    config: &'a PartitionConfig,
    builder: BlockBuilder<'a>,
    layout: RowLayout,
    dialects_match: bool,
    record: Record,
    row: RowTemplate,
    scratch: Vec<u8>,
    id_bytes: Vec<u8>,
}

impl<'a> CsvRows<'a> {
    fn new(config: &'a PartitionConfig, chunker: &'a Chunker) -> Self {
        let layout = config.layout();
        CsvRows {
            config,
            builder: BlockBuilder::new(chunker, config.output_dialect.delimiter),
            layout,
            dialects_match: config.input_dialect == config.output_dialect,
            record: Record::default(),
            row: RowTemplate::default(),
            scratch: Vec::new(),
            id_bytes: Vec::new(),
        }
    }

    fn process(
        &mut self,
        data: &[u8],
        first_line: u64,
        seq: u64,
        input: usize,
        next: BlockOutput,
    ) -> BlockOutput {
        for (line_no, line) in lines(first_line, data) {
            if let Err((field, reason)) = self.line(line) {
                self.builder.reject(Reject {
                    line: line_no,
                    field,
                    reason,
                    raw: line.to_vec(),
                });
            }
        }
        self.builder.finish(seq, input, next)
    }

    fn line(&mut self, line: &[u8]) -> Result<(), (Option<String>, String)> {
        let cfg = self.config;
        if line.is_empty() {
            return Err((None, "empty line".into()));
        }
        cfg.input_dialect
            .split(line, cfg.input_fields.len(), &mut self.record)
            .map_err(|e| (None, e.to_string()))?;
        let ra = self.coordinate(line, self.layout.ra, self.config.ra_unit)?;
        let dec = self.coordinate(line, self.layout.dec, self.config.dec_unit)?;
        let (ra, dec) = check_position(ra, dec, cfg.normalize_ra).map_err(|(which, reason)| {
            let field = if which == 0 { &cfg.pos.0 } else { &cfg.pos.1 };
            (Some(field.clone()), reason)
        })?;
        let id = match self.layout.id {
            Some(i) => {
                let (raw, decode) = self.record.field(line, i);
                if cfg.input_dialect.is_null(raw) {
                    return Err((
                        Some(cfg.input_fields[i].clone()),
                        "object id is NULL".into(),
                    ));
                }
                self.scratch.clear();
                if decode {
                    cfg.input_dialect.decode_into(raw, &mut self.scratch);
                } else {
                    self.scratch.extend_from_slice(raw);
                }
                self.id_bytes.clear();
                cfg.output_dialect
                    .encode_into(&self.scratch, &mut self.id_bytes)
                    .map_err(|e| (Some(cfg.input_fields[i].clone()), e.to_string()))?;
                true
            }
            None => false,
        };
        self.encode_row(line)?;
        let id = if id {
            Some(self.id_bytes.as_slice())
        } else {
            None
        };
        self.builder.add(ra, dec, &self.row, id);
        Ok(())
    }

    fn coordinate(
        &mut self,
        line: &[u8],
        i: usize,
        unit: AngleUnit,
    ) -> Result<f64, (Option<String>, String)> {
        let cfg = self.config;
        let name = || Some(cfg.input_fields[i].clone());
        let (raw, decode) = self.record.field(line, i);
        if cfg.input_dialect.is_null(raw) {
            return Err((name(), "NULL position".into()));
        }
        self.scratch.clear();
        if decode {
            cfg.input_dialect.decode_into(raw, &mut self.scratch);
        } else {
            self.scratch.extend_from_slice(raw);
        }
        let text = std::str::from_utf8(&self.scratch)
            .map_err(|_| (name(), "not a number (not UTF-8)".into()))?;
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| (name(), format!("not a number: {text:?}")))?;
        if !value.is_finite() {
            return Err((name(), format!("not a finite number: {text:?}")));
        }
        Ok(unit.to_degrees(value))
    }

    fn encode_row(&mut self, line: &[u8]) -> Result<(), (Option<String>, String)> {
        let cfg = self.config;
        let (input, output): (&Dialect, &Dialect) = (&cfg.input_dialect, &cfg.output_dialect);
        self.row.clear();
        for (k, field) in self.layout.plan.iter().enumerate() {
            if k > 0 {
                self.row.bytes_mut().push(output.delimiter);
            }
            match *field {
                OutField::Slot(slot) => self.row.push_slot(slot),
                OutField::Null => self.row.bytes_mut().extend_from_slice(&output.null),
                OutField::Input(i) => {
                    let (raw, decode) = self.record.field(line, i);
                    if self.dialects_match {
                        self.row.bytes_mut().extend_from_slice(raw);
                    } else if input.is_null(raw) {
                        self.row.bytes_mut().extend_from_slice(&output.null);
                    } else {
                        let value = if decode {
                            self.scratch.clear();
                            input.decode_into(raw, &mut self.scratch);
                            self.scratch.as_slice()
                        } else {
                            raw
                        };
                        output
                            .encode_into(value, self.row.bytes_mut())
                            .map_err(|e| (Some(cfg.input_fields[i].clone()), e.to_string()))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A progress bar on a terminal (rows, rows/s, bytes, ETA) and a final summary line.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    rows: AtomicU64,
    /// Input bytes read so far (compressed bytes for .gz), against the input files' size.
    bytes_read: Arc<AtomicU64>,
}

impl Progress {
    fn new(enabled: bool, total_bytes: u64, bytes_read: Arc<AtomicU64>) -> Self {
        let bar = (enabled && io::IsTerminal::is_terminal(&io::stderr())).then(|| {
            let bar = indicatif::ProgressBar::new(total_bytes);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg} (ETA {eta})",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            rows: AtomicU64::new(0),
            bytes_read,
        }
    }

    fn rows(&self, n: u64) {
        let rows = self.rows.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes_read.load(Ordering::Relaxed));
            let secs = bar.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{rows} rows, {:.0} rows/s", rows as f64 / secs));
        }
    }

    fn finish(&self, summary: &Summary, secs: f64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::debug!(rows = summary.rows_read, secs, "partitioning finished");
    }
}
