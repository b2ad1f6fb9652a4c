//! Writes partitioned blocks into sph-partition's output layout: `<prefix>_<chunkId>.txt`,
//! `<prefix>_<chunkId>_overlap.txt`, `<prefix>_index.bin` (ChunkIndex.cc format), the object
//! index, plus our `partition-summary.json`.
//!
//! Creating a file costs far more than appending to one, and a full-sky catalog touches tens of
//! thousands of chunk files, so every output file is created and written exactly once, at the
//! end. Until then rows sit in a bounded in-memory arena; when it fills, it is sorted by file
//! and spilled as one sequential "run" to a scratch file. The final merge reads each file's
//! pieces from the runs in input order and writes the files on several threads. Blocks arrive
//! in input order and sorts are stable, so every file's lines are in input order whatever the
//! number of threads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::block::BlockOutput;
use super::counts::{ChunkCounts, Counts};

/// What a partitioning run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub rows_read: u64,
    /// Rows of the input before the selection's row filters (a cone, bands), when it has some:
    /// `rows_read` of them were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_before_selection: Option<u64>,
    pub rows_rejected: u64,
    pub rows_written: u64,
    pub overlap_rows: u64,
    pub bytes: u64,
    pub chunks: BTreeMap<i32, ChunkCounts>,
}

/// An output file: chunk id and overlap flag, ordered as sph-partition names them.
type FileKey = (i32, bool);

/// A stretch of one file's bytes: in the arena, or in a spilled run.
#[derive(Debug, Clone, Copy)]
struct Piece {
    key: FileKey,
    offset: u64,
    len: u64,
}

/// Where a file's bytes are, in merge order.
#[derive(Debug, Clone, Copy)]
enum Source {
    Run(usize),
    Memory,
}

/// Buffers rows per output file and writes every file once at the end.
pub struct ChunkWriter {
    dir: PathBuf,
    prefix: String,
    budget: usize,
    threads: usize,
    arena: Vec<u8>,
    pieces: Vec<Piece>,
    runs: Vec<(File, Vec<Piece>)>,
    summary: Summary,
    object_index: Option<BufWriter<File>>,
}

impl ChunkWriter {
    /// Writes into `dir` (which must exist, and also holds the scratch runs). `budget` bounds
    /// the buffered bytes; `threads` write the files at the end.
    pub fn new(
        dir: &Path,
        prefix: &str,
        budget: usize,
        threads: usize,
        object_index: bool,
    ) -> io::Result<Self> {
        let object_index = if object_index {
            Some(BufWriter::new(File::create(
                dir.join(format!("{prefix}_object_index.txt")),
            )?))
        } else {
            None
        };
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            budget,
            threads: threads.max(1),
            // Sized once: growing by doubling would copy it and overshoot the budget.
            arena: Vec::with_capacity(budget + budget / 4),
            pieces: Vec::new(),
            runs: Vec::new(),
            summary: Summary::default(),
            object_index,
        })
    }

    /// Appends a block (blocks must come in input order).
    pub fn write_block(&mut self, block: &BlockOutput) -> io::Result<()> {
        self.summary.rows_read += block.rows;
        let mut run_key: Option<(i32, bool)> = None;
        for e in &block.entries {
            let bytes = &block.data[e.start as usize..(e.start + e.len) as usize];
            let key = (e.chunk_id, e.overlap);
            // Consecutive rows of one file extend the same piece.
            match self.pieces.last_mut() {
                Some(p) if run_key == Some(key) && p.offset + p.len == self.arena.len() as u64 => {
                    p.len += bytes.len() as u64
                }
                _ => self.pieces.push(Piece {
                    key,
                    offset: self.arena.len() as u64,
                    len: bytes.len() as u64,
                }),
            }
            run_key = Some(key);
            self.arena.extend_from_slice(bytes);
        }
        if let Some(index) = &mut self.object_index {
            index.write_all(&block.object_index)?;
        }
        if self.arena.len() > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    pub fn count_rejected(&mut self, n: u64) {
        self.summary.rows_rejected += n;
    }

    /// Sorts the arena's pieces by file (stable: input order within a file) and writes them
    /// as one sequential run.
    fn spill(&mut self) -> io::Result<()> {
        let path = self.dir.join(format!(".run-{}", self.runs.len()));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // The run is only read back through this handle; the name can go now.
        std::fs::remove_file(&path)?;
        let mut out = BufWriter::with_capacity(1 << 20, &file);
        let mut index: Vec<Piece> = Vec::new();
        let mut written = 0u64;
        for p in sorted(std::mem::take(&mut self.pieces)) {
            out.write_all(&self.arena[p.offset as usize..(p.offset + p.len) as usize])?;
            match index.last_mut() {
                Some(last) if last.key == p.key => last.len += p.len,
                _ => index.push(Piece {
                    key: p.key,
                    offset: written,
                    len: p.len,
                }),
            }
            written += p.len;
        }
        out.flush()?;
        drop(out);
        self.runs.push((file, index));
        self.arena.clear();
        Ok(())
    }

    fn path(&self, (chunk_id, overlap): FileKey) -> PathBuf {
        let suffix = if overlap { "_overlap" } else { "" };
        self.dir
            .join(format!("{}_{chunk_id}{suffix}.txt", self.prefix))
    }

    /// Writes every chunk file, `<prefix>_index.bin` and the summary, and returns it.
    /// What the selection's row filters read (see [`Summary::rows_before_selection`]).
    pub fn set_rows_before_selection(&mut self, rows: Option<u64>) {
        self.summary.rows_before_selection = rows;
    }

    pub fn finish(mut self, counts: Counts) -> io::Result<Summary> {
        if let Some(mut index) = self.object_index.take() {
            index.flush()?;
        }
        // Every source (the spilled runs, then memory) is sorted by file, so the files can be
        // written by walking all sources in step, without a merged copy of their indexes.
        let memory = sorted(std::mem::take(&mut self.pieces));
        let mut sources: Vec<(Source, &[Piece])> = self
            .runs
            .iter()
            .enumerate()
            .map(|(r, (_, index))| (Source::Run(r), index.as_slice()))
            .collect();
        sources.push((Source::Memory, &memory));
        let files = file_sizes(&sources);
        // Contiguous ranges of files of about equal bytes, one per thread.
        let total: u64 = files.iter().map(|f| f.1).sum();
        let share = total / self.threads as u64 + 1;
        let mut ranges: Vec<&[(FileKey, u64)]> = Vec::new();
        let (mut start, mut acc) = (0usize, 0u64);
        for (i, f) in files.iter().enumerate() {
            acc += f.1;
            if acc >= share || i + 1 == files.len() {
                ranges.push(&files[start..=i]);
                start = i + 1;
                acc = 0;
            }
        }
        let (this, sources) = (&self, &sources);
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .into_iter()
                .map(|r| s.spawn(move || this.write_files(sources, r)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("writer thread panicked"))
        })?;
        drop(memory);
        self.summary.chunks = counts.chunks();
        for c in self.summary.chunks.values() {
            self.summary.rows_written += c.rows;
            self.summary.overlap_rows += c.overlap_rows;
            self.summary.bytes += c.bytes + c.overlap_bytes;
        }
        let index = counts.chunk_index();
        if !index.is_empty() {
            std::fs::write(self.dir.join(format!("{}_index.bin", self.prefix)), index)?;
        }
        let json = serde_json::to_vec_pretty(&self.summary).expect("summary serializes");
        std::fs::write(self.dir.join("partition-summary.json"), json)?;
        Ok(self.summary)
    }

    /// Creates and writes the files in `files` (a contiguous, sorted range), taking each file's
    /// pieces from every source in order: runs as spilled, then memory.
    fn write_files(
        &self,
        sources: &[(Source, &[Piece])],
        files: &[(FileKey, u64)],
    ) -> io::Result<()> {
        let Some(first) = files.first() else {
            return Ok(());
        };
        let mut cursors: Vec<usize> = sources
            .iter()
            .map(|(_, s)| s.partition_point(|p| p.key < first.0))
            .collect();
        let mut buf = vec![0u8; 1 << 20];
        for &(key, _) in files {
            // One write per file in the common case: a file's pieces are small and many.
            let mut out = BufWriter::with_capacity(1 << 20, File::create(self.path(key))?);
            for ((source, pieces), cursor) in sources.iter().zip(cursors.iter_mut()) {
                while let Some(p) = pieces.get(*cursor).filter(|p| p.key == key) {
                    *cursor += 1;
                    match source {
                        Source::Memory => out.write_all(
                            &self.arena[p.offset as usize..(p.offset + p.len) as usize],
                        )?,
                        Source::Run(r) => {
                            let (mut at, end) = (p.offset, p.offset + p.len);
                            while at < end {
                                let n = ((end - at) as usize).min(buf.len());
                                self.runs[*r].0.read_exact_at(&mut buf[..n], at)?;
                                out.write_all(&buf[..n])?;
                                at += n as u64;
                            }
                        }
                    }
                }
            }
            out.flush()?;
        }
        Ok(())
    }
}

/// Every file of the sorted sources with its total bytes, in file order.
fn file_sizes(sources: &[(Source, &[Piece])]) -> Vec<(FileKey, u64)> {
    let mut heads: std::collections::BinaryHeap<std::cmp::Reverse<(FileKey, usize, usize)>> =
        sources
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.1.is_empty())
            .map(|(i, s)| std::cmp::Reverse((s.1[0].key, i, 0)))
            .collect();
    let mut out: Vec<(FileKey, u64)> = Vec::new();
    while let Some(std::cmp::Reverse((key, src, at))) = heads.pop() {
        let len = sources[src].1[at].len;
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 += len,
            _ => out.push((key, len)),
        }
        if let Some(next) = sources[src].1.get(at + 1) {
            heads.push(std::cmp::Reverse((next.key, src, at + 1)));
        }
    }
    out
}

/// Pieces sorted by file, keeping input order within a file.
fn sorted(mut pieces: Vec<Piece>) -> Vec<Piece> {
    pieces.sort_by_key(|p| p.key);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::block::Entry;

    fn block(rows: &[(i32, bool, &str)]) -> BlockOutput {
        let mut b = BlockOutput::default();
        for &(chunk, overlap, text) in rows {
            let start = b.data.len() as u32;
            b.data.extend_from_slice(text.as_bytes());
            b.entries.push(Entry {
                chunk_id: chunk,
                sub_chunk_id: 1,
                overlap,
                start,
                len: text.len() as u32,
            });
            b.rows += u64::from(!overlap);
        }
        b
    }

    #[test]
    fn spilled_runs_merge_back_in_input_order() {
        for budget in [0, 10, 1 << 20] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = ChunkWriter::new(dir.path(), "chunk", budget, 2, false).unwrap();
            w.write_block(&block(&[
                (7, false, "a1\n"),
                (3, false, "b1\n"),
                (7, true, "o1\n"),
            ]))
            .unwrap();
            w.write_block(&block(&[(3, false, "b2\n"), (7, false, "a2\n")]))
                .unwrap();
            w.write_block(&block(&[(7, false, "a3\n"), (9, false, "c1\n")]))
                .unwrap();
            let mut counts = Counts::default();
            for (chunk, overlap) in [
                (7, false),
                (3, false),
                (7, true),
                (3, false),
                (7, false),
                (7, false),
                (9, false),
            ] {
                counts.add(chunk, 1, overlap, 3);
            }
            let summary = w.finish(counts).unwrap();
            let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
            assert_eq!(read("chunk_7.txt"), "a1\na2\na3\n", "budget {budget}");
            assert_eq!(read("chunk_3.txt"), "b1\nb2\n");
            assert_eq!(read("chunk_7_overlap.txt"), "o1\n");
            assert_eq!(read("chunk_9.txt"), "c1\n");
            assert_eq!((summary.rows_written, summary.overlap_rows), (6, 1));
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".run"))
                .collect();
            assert!(names.is_empty(), "scratch runs left: {names:?}");
        }
    }
}
