//! Writes partitioned blocks into sph-partition's output layout: `<prefix>_<chunkId>.txt`,
//! `<prefix>_<chunkId>_overlap.txt`, `<prefix>_index.bin` (ChunkIndex.cc format), the object
//! index, plus our `partition-summary.json`.
//!
//! Memory stays bounded: rows are buffered per file up to a total budget, then flushed through
//! a bounded set of open files. Blocks arrive in input order, so every file's lines are in
//! input order whatever the number of threads.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::block::BlockOutput;

/// Files kept open at once (well under the usual 1024 descriptor limit).
const MAX_OPEN_FILES: usize = 256;

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

/// Buffers rows per output file and writes them in bounded memory.
pub struct ChunkWriter {
    dir: PathBuf,
    prefix: String,
    budget: usize,
    buffered: usize,
    buffers: HashMap<(i32, bool), Vec<u8>>,
    open: HashMap<(i32, bool), File>,
    sub_chunks: SubChunkCounts,
    summary: Summary,
    object_index: Option<io::BufWriter<File>>,
}

impl ChunkWriter {
    /// Writes into `dir` (which must exist). `budget` bounds the buffered bytes.
    pub fn new(dir: &Path, prefix: &str, budget: usize, object_index: bool) -> io::Result<Self> {
        let object_index = if object_index {
            let path = dir.join(format!("{prefix}_object_index.txt"));
            Some(io::BufWriter::new(File::create(path)?))
        } else {
            None
        };
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            budget,
            buffered: 0,
            buffers: HashMap::new(),
            open: HashMap::new(),
            sub_chunks: BTreeMap::new(),
            summary: Summary::default(),
            object_index,
        })
    }

    /// Appends a block (blocks must come in input order).
    pub fn write_block(&mut self, block: &BlockOutput) -> io::Result<()> {
        self.summary.rows_read += block.rows;
        for e in &block.entries {
            let bytes = &block.data[e.start as usize..(e.start + e.len) as usize];
            self.buffers
                .entry((e.chunk_id, e.overlap))
                .or_default()
                .extend_from_slice(bytes);
            self.buffered += bytes.len();
            let sub = self
                .sub_chunks
                .entry((e.chunk_id, e.sub_chunk_id))
                .or_default();
            let chunk = self.summary.chunks.entry(e.chunk_id).or_default();
            if e.overlap {
                sub.1 += 1;
                chunk.overlap_rows += 1;
                chunk.overlap_bytes += u64::from(e.len);
                self.summary.overlap_rows += 1;
            } else {
                sub.0 += 1;
                chunk.rows += 1;
                chunk.bytes += u64::from(e.len);
                self.summary.rows_written += 1;
            }
            self.summary.bytes += u64::from(e.len);
        }
        if let Some(index) = &mut self.object_index {
            index.write_all(&block.object_index)?;
        }
        if self.buffered > self.budget {
            self.flush()?;
        }
        Ok(())
    }

    pub fn count_rejected(&mut self, n: u64) {
        self.summary.rows_rejected += n;
    }

    fn path(&self, chunk_id: i32, overlap: bool) -> PathBuf {
        let suffix = if overlap { "_overlap" } else { "" };
        self.dir
            .join(format!("{}_{chunk_id}{suffix}.txt", self.prefix))
    }

    /// Writes out every buffer, in chunk order.
    fn flush(&mut self) -> io::Result<()> {
        let mut keys: Vec<(i32, bool)> = self
            .buffers
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        for key in keys {
            if !self.open.contains_key(&key) {
                if self.open.len() >= MAX_OPEN_FILES {
                    self.open.clear();
                }
                let path = self.path(key.0, key.1);
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                self.open.insert(key, file);
            }
            let buffer = self.buffers.get_mut(&key).expect("key comes from buffers");
            self.open
                .get_mut(&key)
                .expect("just opened")
                .write_all(buffer)?;
            buffer.clear();
        }
        // Drop buffers that grew for a burst of rows; keep the allocation count bounded too.
        self.buffers.retain(|_, b| b.capacity() <= 1 << 20);
        self.buffered = 0;
        Ok(())
    }

    /// Flushes everything, writes `<prefix>_index.bin` and the summary, and returns it.
    pub fn finish(mut self) -> io::Result<Summary> {
        self.flush()?;
        self.open.clear();
        if let Some(mut index) = self.object_index.take() {
            index.flush()?;
        }
        if !self.sub_chunks.is_empty() {
            let path = self.dir.join(format!("{}_index.bin", self.prefix));
            std::fs::write(path, encode_chunk_index(&self.sub_chunks))?;
        }
        let json = serde_json::to_vec_pretty(&self.summary).expect("summary serializes");
        std::fs::write(self.dir.join("partition-summary.json"), json)?;
        Ok(self.summary)
    }
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
}
