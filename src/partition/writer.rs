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

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::block::BlockOutput;

/// Counts for one chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChunkCounts {
    pub rows: u64,
    pub overlap_rows: u64,
    pub bytes: u64,
    pub overlap_bytes: u64,
}

/// What a partitioning run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub rows_written: u64,
    pub overlap_rows: u64,
    pub bytes: u64,
    pub chunks: BTreeMap<i32, ChunkCounts>,
}

/// Rows and overlap rows per (chunkId, subChunkId).
pub type SubChunkCounts = BTreeMap<(i32, i32), (u64, u64)>;

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
    /// Per chunk, its counts.
    chunks: FxHashMap<i32, ChunkCounts>,
    /// Per `(chunkId << 32) + subChunkId`, (rows, overlap rows). u32 keeps this map compact (a
    /// full-sky catalog touches about every sub-chunk); a sub-chunk is a few hundredths of a
    /// square degree, far from 4 billion rows in one run.
    sub_chunks: FxHashMap<u64, (u32, u32)>,
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
            chunks: FxHashMap::default(),
            sub_chunks: FxHashMap::default(),
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
            self.count(e.chunk_id, e.sub_chunk_id, e.overlap, u64::from(e.len));
        }
        if let Some(index) = &mut self.object_index {
            index.write_all(&block.object_index)?;
        }
        if self.arena.len() > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn count(&mut self, chunk_id: i32, sub: i32, overlap: bool, len: u64) {
        let chunk = self.chunks.entry(chunk_id).or_default();
        let key = ((i64::from(chunk_id) << 32) + i64::from(sub)) as u64;
        let subs = self.sub_chunks.entry(key).or_default();
        if overlap {
            subs.1 = subs.1.saturating_add(1);
            chunk.overlap_rows += 1;
            chunk.overlap_bytes += len;
            self.summary.overlap_rows += 1;
        } else {
            subs.0 = subs.0.saturating_add(1);
            chunk.rows += 1;
            chunk.bytes += len;
            self.summary.rows_written += 1;
        }
        self.summary.bytes += len;
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
    pub fn finish(mut self) -> io::Result<Summary> {
        if let Some(mut index) = self.object_index.take() {
            index.flush()?;
        }
        // The merge plan: for each file, its pieces from every run then memory, in input order.
        let mut plan: Vec<(FileKey, Source, u64, u64)> = Vec::new();
        for (r, (_, index)) in self.runs.iter().enumerate() {
            plan.extend(
                index
                    .iter()
                    .map(|p| (p.key, Source::Run(r), p.offset, p.len)),
            );
        }
        plan.extend(
            sorted(std::mem::take(&mut self.pieces))
                .into_iter()
                .map(|p| (p.key, Source::Memory, p.offset, p.len)),
        );
        plan.sort_by_key(|(key, _, _, _)| *key); // stable: runs in order, then memory
        let files = split_by_file(&plan);
        let total: u64 = plan.iter().map(|p| p.3).sum();
        let share = total / self.threads as u64 + 1;
        // Contiguous groups of files of about equal bytes, one per thread.
        let mut groups: Vec<&[(FileKey, Source, u64, u64)]> = Vec::new();
        let (mut start, mut acc) = (0usize, 0u64);
        for (i, f) in files.iter().enumerate() {
            acc += f.iter().map(|p| p.3).sum::<u64>();
            if acc >= share || i + 1 == files.len() {
                let end: usize = files[..=i].iter().map(|f| f.len()).sum();
                groups.push(&plan[start..end]);
                start = end;
                acc = 0;
            }
        }
        let this = &self;
        std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .into_iter()
                .map(|g| s.spawn(move || this.write_files(g)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("writer thread panicked"))
        })?;
        self.summary.chunks = self
            .chunks
            .iter()
            .map(|(c, counts)| (*c, *counts))
            .collect();
        let index: SubChunkCounts = self
            .sub_chunks
            .iter()
            .map(|(key, (rows, overlap))| {
                (
                    ((*key as i64 >> 32) as i32, (*key & 0xffff_ffff) as i32),
                    (u64::from(*rows), u64::from(*overlap)),
                )
            })
            .collect();
        if !index.is_empty() {
            std::fs::write(
                self.dir.join(format!("{}_index.bin", self.prefix)),
                encode_chunk_index(&index),
            )?;
        }
        let json = serde_json::to_vec_pretty(&self.summary).expect("summary serializes");
        std::fs::write(self.dir.join("partition-summary.json"), json)?;
        Ok(self.summary)
    }

    /// Creates and writes the files of one contiguous part of the plan.
    fn write_files(&self, plan: &[(FileKey, Source, u64, u64)]) -> io::Result<()> {
        let mut buf = vec![0u8; 1 << 20];
        for file_plan in split_by_file(plan) {
            let mut out = File::create(self.path(file_plan[0].0))?;
            for &(_, source, offset, len) in file_plan {
                match source {
                    Source::Memory => {
                        out.write_all(&self.arena[offset as usize..(offset + len) as usize])?
                    }
                    Source::Run(r) => {
                        let (mut at, end) = (offset, offset + len);
                        while at < end {
                            let n = ((end - at) as usize).min(buf.len());
                            self.runs[r].0.read_exact_at(&mut buf[..n], at)?;
                            out.write_all(&buf[..n])?;
                            at += n as u64;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Pieces sorted by file, keeping input order within a file.
fn sorted(mut pieces: Vec<Piece>) -> Vec<Piece> {
    pieces.sort_by_key(|p| p.key);
    pieces
}

/// Splits a plan sorted by file into one slice per file.
fn split_by_file<T>(plan: &[(FileKey, T, u64, u64)]) -> Vec<&[(FileKey, T, u64, u64)]> {
    plan.chunk_by(|a, b| a.0 == b.0).collect()
}

/// ChunkIndex.cc's file format: per sub-chunk, three little-endian u64 — the key
/// `(chunkId << 32) + subChunkId`, the row count and the overlap row count. Sorted by key here,
/// so the file is deterministic (readers do not depend on the order).
pub fn encode_chunk_index(sub_chunks: &SubChunkCounts) -> Vec<u8> {
    let mut out = Vec::with_capacity(sub_chunks.len() * 24);
    for (&(chunk, sub), &(rows, overlap)) in sub_chunks {
        let key = ((i64::from(chunk) << 32) + i64::from(sub)) as u64;
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&rows.to_le_bytes());
        out.extend_from_slice(&overlap.to_le_bytes());
    }
    out
}

/// Reads a `<prefix>_index.bin` back: ((chunkId, subChunkId), (rows, overlap rows)).
pub fn decode_chunk_index(bytes: &[u8]) -> Result<SubChunkCounts, String> {
    if !bytes.len().is_multiple_of(24) {
        return Err(format!(
            "{} bytes is not a whole number of 24-byte entries",
            bytes.len()
        ));
    }
    let mut out = BTreeMap::new();
    for entry in bytes.chunks_exact(24) {
        let word =
            |i: usize| u64::from_le_bytes(entry[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let key = word(0) as i64;
        let counts = out
            .entry(((key >> 32) as i32, (key & 0xffff_ffff) as i32))
            .or_insert((0, 0));
        counts.0 += word(1);
        counts.1 += word(2);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::block::Entry;

    #[test]
    fn chunk_index_roundtrips_in_qserv_layout() {
        let mut m = BTreeMap::new();
        m.insert((6630, 3), (10, 2));
        m.insert((6631, 0), (1, 0));
        let bytes = encode_chunk_index(&m);
        assert_eq!(bytes.len(), 48);
        // key = 6630 << 32 | 3, little-endian
        assert_eq!(&bytes[..8], &((6630u64 << 32) | 3).to_le_bytes());
        assert_eq!(&bytes[8..16], &10u64.to_le_bytes());
        assert_eq!(decode_chunk_index(&bytes).unwrap(), m);
        assert!(
            decode_chunk_index(&bytes[..47])
                .unwrap_err()
                .contains("47 bytes")
        );
    }

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
            let summary = w.finish().unwrap();
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
