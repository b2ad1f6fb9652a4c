//! Row counts per chunk and sub-chunk: what `<prefix>_index.bin` and the summary report.
//! Every worker counts the rows it lays out, and the counts are merged at the end, so counting
//! costs nothing on the single thread that writes blocks in order.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

/// Counts for one chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChunkCounts {
    pub rows: u64,
    pub overlap_rows: u64,
    pub bytes: u64,
    pub overlap_bytes: u64,
}

/// Counts of one chunk. Sub-chunk counts sit in a small sorted vector rather than a map keyed
/// by (chunk, sub-chunk): a full-sky catalog touches about every sub-chunk (~1.3 M at 85/12),
/// and this layout is a third of a hash map's size. u32 is plenty: a sub-chunk is a few
/// hundredths of a square degree, far from 4 billion rows in one run.
#[derive(Debug, Default, Clone)]
struct ChunkAcc {
    counts: ChunkCounts,
    /// (subChunkId, rows, overlap rows), sorted by subChunkId.
    subs: Vec<(i32, u32, u32)>,
}

/// The counts of `sub` in a sorted sub-chunk list, inserted when new.
fn sub_entry(subs: &mut Vec<(i32, u32, u32)>, sub: i32) -> &mut (i32, u32, u32) {
    let i = match subs.binary_search_by_key(&sub, |e| e.0) {
        Ok(i) => i,
        Err(i) => {
            subs.insert(i, (sub, 0, 0));
            i
        }
    };
    &mut subs[i]
}

/// Rows, overlap rows and bytes per chunk and sub-chunk.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    chunks: FxHashMap<i32, ChunkAcc>,
}

impl Counts {
    /// Counts one output row of `len` bytes.
    pub fn add(&mut self, chunk_id: i32, sub: i32, overlap: bool, len: u64) {
        let ChunkAcc { counts, subs } = self.chunks.entry(chunk_id).or_default();
        let entry = sub_entry(subs, sub);
        if overlap {
            entry.2 = entry.2.saturating_add(1);
            counts.overlap_rows += 1;
            counts.overlap_bytes += len;
        } else {
            entry.1 = entry.1.saturating_add(1);
            counts.rows += 1;
            counts.bytes += len;
        }
    }

    /// Adds another worker's counts.
    pub fn merge(&mut self, other: Counts) {
        for (chunk, acc) in other.chunks {
            let mine = self.chunks.entry(chunk).or_default();
            mine.counts.rows += acc.counts.rows;
            mine.counts.overlap_rows += acc.counts.overlap_rows;
            mine.counts.bytes += acc.counts.bytes;
            mine.counts.overlap_bytes += acc.counts.overlap_bytes;
            for (sub, rows, overlap) in acc.subs {
                let e = sub_entry(&mut mine.subs, sub);
                e.1 = e.1.saturating_add(rows);
                e.2 = e.2.saturating_add(overlap);
            }
        }
    }

    /// Per-chunk counts, by chunk id.
    pub fn chunks(&self) -> BTreeMap<i32, ChunkCounts> {
        self.chunks
            .iter()
            .map(|(c, acc)| (*c, acc.counts))
            .collect()
    }

    /// `<prefix>_index.bin` content (ChunkIndex.cc format): per sub-chunk, three little-endian
    /// u64 — the key `(chunkId << 32) + subChunkId`, the rows and the overlap rows — sorted by
    /// key so the file is deterministic (readers do not depend on the order).
    pub fn chunk_index(&self) -> Vec<u8> {
        let mut chunk_ids: Vec<i32> = self.chunks.keys().copied().collect();
        chunk_ids.sort_unstable();
        let mut out = Vec::new();
        for chunk in chunk_ids {
            for &(sub, rows, overlap) in &self.chunks[&chunk].subs {
                push_index_entry(&mut out, chunk, sub, u64::from(rows), u64::from(overlap));
            }
        }
        out
    }
}

/// Rows and overlap rows per (chunkId, subChunkId), as read back from an index file.
pub type SubChunkCounts = BTreeMap<(i32, i32), (u64, u64)>;

fn push_index_entry(out: &mut Vec<u8>, chunk: i32, sub: i32, rows: u64, overlap: u64) {
    let key = ((i64::from(chunk) << 32) + i64::from(sub)) as u64;
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
    out.extend_from_slice(&overlap.to_le_bytes());
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
    fn chunk_index_roundtrips_in_qserv_layout_and_workers_merge() {
        let (mut a, mut b) = (Counts::default(), Counts::default());
        a.add(6630, 3, false, 10);
        a.add(6630, 3, true, 10);
        b.add(6630, 3, false, 10);
        b.add(6631, 0, false, 7);
        a.merge(b);
        let bytes = a.chunk_index();
        assert_eq!(bytes.len(), 48);
        // key = 6630 << 32 | 3, little-endian, then rows and overlap rows
        assert_eq!(&bytes[..8], &((6630u64 << 32) | 3).to_le_bytes());
        assert_eq!(&bytes[8..16], &2u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &1u64.to_le_bytes());
        let decoded = decode_chunk_index(&bytes).unwrap();
        assert_eq!(decoded[&(6630, 3)], (2, 1));
        assert_eq!(decoded[&(6631, 0)], (1, 0));
        assert_eq!(
            a.chunks()[&6630],
            ChunkCounts {
                rows: 2,
                overlap_rows: 1,
                bytes: 20,
                overlap_bytes: 10
            }
        );
        assert!(
            decode_chunk_index(&bytes[..47])
                .unwrap_err()
                .contains("47 bytes")
        );
    }
}
