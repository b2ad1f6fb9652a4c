//! The partitioning core: rows in (position + encoded bytes), chunk-addressed output out.
//! It knows nothing of files or formats, so the CSV pipeline and the HDF5/Parquet readers share
//! it: a reader encodes each row once as a [`RowTemplate`], the [`BlockBuilder`] locates it and
//! writes one copy per chunk location (home plus overlap) with the ids filled in.

use super::chunker::{Chunker, Location};
use super::counts::Counts;

/// Where a location's ids go in an output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    ChunkId,
    SubChunkId,
}

/// One encoded output row with slots for the chunk and sub-chunk ids.
#[derive(Debug, Default, Clone)]
pub struct RowTemplate {
    bytes: Vec<u8>,
    slots: Vec<(usize, Slot)>,
}

impl RowTemplate {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.slots.clear();
    }

    /// Bytes to append (already encoded in the output dialect).
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    pub fn push_slot(&mut self, slot: Slot) {
        self.slots.push((self.bytes.len(), slot));
    }

    /// Appends the row for `loc`, newline-terminated.
    pub fn write(&self, loc: Location, out: &mut Vec<u8>) {
        let mut ids = itoa::Buffer::new();
        let mut at = 0;
        for &(pos, slot) in &self.slots {
            out.extend_from_slice(&self.bytes[at..pos]);
            let id = match slot {
                Slot::ChunkId => loc.chunk_id,
                Slot::SubChunkId => loc.sub_chunk_id,
            };
            out.extend_from_slice(ids.format(id).as_bytes());
            at = pos;
        }
        out.extend_from_slice(&self.bytes[at..]);
        out.push(b'\n');
    }
}

/// One output row of a block: where it goes and where its bytes are in [`BlockOutput::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub chunk_id: i32,
    pub sub_chunk_id: i32,
    pub overlap: bool,
    pub start: u32,
    pub len: u32,
}

/// A row the partitioner refused, with its 1-based line (or row) number.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// The partitioned rows of one block of input, in input order.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// Position of the block in the input stream; the writer consumes blocks in this order.
    pub seq: u64,
    /// Index of the input the block came from.
    pub input: usize,
    pub data: Vec<u8>,
    pub entries: Vec<Entry>,
    /// `id<delim>chunkId<delim>subChunkId` lines for the object index (home locations only).
    pub object_index: Vec<u8>,
    /// Rows accepted (each counted once, however many copies were written).
    pub rows: u64,
    pub rejects: Vec<Reject>,
}

impl BlockOutput {
    /// Empties the block, keeping its allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
        self.object_index.clear();
        self.rows = 0;
        self.rejects.clear();
    }
}

/// Locates rows and lays out their copies; one per worker thread.
pub struct BlockBuilder<'c> {
    chunker: &'c Chunker,
    locations: Vec<(Location, bool)>,
    index_delimiter: u8,
    out: BlockOutput,
    /// Counts of every row this builder laid out, across blocks.
    counts: Counts,
}

impl<'c> BlockBuilder<'c> {
    pub fn new(chunker: &'c Chunker, index_delimiter: u8) -> Self {
        BlockBuilder {
            chunker,
            locations: Vec::new(),
            index_delimiter,
            out: BlockOutput::default(),
            counts: Counts::default(),
        }
    }

    /// Adds a row at (ra, dec) in degrees, already validated (0 <= ra < 360, |dec| <= 90).
    /// `encoded_id` (output dialect) goes to the object index for the home location.
    pub fn add(&mut self, ra: f64, dec: f64, row: &RowTemplate, encoded_id: Option<&[u8]>) {
        self.locations.clear();
        self.chunker
            .locate_with_overlap(ra, dec, &mut self.locations);
        for &(loc, overlap) in &self.locations {
            let start = self.out.data.len();
            row.write(loc, &mut self.out.data);
            let len = self.out.data.len() - start;
            self.counts
                .add(loc.chunk_id, loc.sub_chunk_id, overlap, len as u64);
            self.out.entries.push(Entry {
                chunk_id: loc.chunk_id,
                sub_chunk_id: loc.sub_chunk_id,
                overlap,
                start: start as u32,
                len: len as u32,
            });
            if let (Some(id), false) = (encoded_id, overlap) {
                let d = self.index_delimiter;
                let mut ids = itoa::Buffer::new();
                let index = &mut self.out.object_index;
                index.extend_from_slice(id);
                index.push(d);
                index.extend_from_slice(ids.format(loc.chunk_id).as_bytes());
                index.push(d);
                index.extend_from_slice(ids.format(loc.sub_chunk_id).as_bytes());
                index.push(b'\n');
            }
        }
        self.out.rows += 1;
    }

    pub fn reject(&mut self, reject: Reject) {
        self.out.rejects.push(reject);
    }

    /// The counts of every row laid out so far (merged across workers at the end).
    pub fn into_counts(self) -> Counts {
        self.counts
    }

    /// Hands over the block and starts the next one in `next` (a recycled, cleared block, so
    /// large buffers are reused instead of reallocated for every block).
    pub fn finish(&mut self, seq: u64, input: usize, next: BlockOutput) -> BlockOutput {
        let mut out = std::mem::replace(&mut self.out, next);
        out.seq = seq;
        out.input = input;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_location_gets_a_copy_with_its_ids() {
        let chunker = Chunker::new(85, 12, 0.01667).unwrap();
        let mut row = RowTemplate::default();
        row.bytes_mut().extend_from_slice(b"42,0.001,0.0,");
        row.push_slot(Slot::ChunkId);
        row.bytes_mut().push(b',');
        row.push_slot(Slot::SubChunkId);
        let mut b = BlockBuilder::new(&chunker, b',');
        // Next to ra = 0 the overlap wraps to the chunk just below 360.
        b.add(0.001, 0.0, &row, Some(b"42"));
        let out = b.finish(7, 0, BlockOutput::default());
        assert_eq!(out.seq, 7);
        assert_eq!(out.rows, 1);
        assert!(out.entries.len() >= 2, "{:?}", out.entries);
        let home = out
            .entries
            .iter()
            .filter(|e| !e.overlap)
            .collect::<Vec<_>>();
        assert_eq!(home.len(), 1);
        let loc = chunker.locate(0.001, 0.0);
        assert_eq!(
            (home[0].chunk_id, home[0].sub_chunk_id),
            (loc.chunk_id, loc.sub_chunk_id)
        );
        for e in &out.entries {
            let text = std::str::from_utf8(&out.data[e.start as usize..(e.start + e.len) as usize])
                .unwrap();
            assert_eq!(
                text,
                format!("42,0.001,0.0,{},{}\n", e.chunk_id, e.sub_chunk_id)
            );
        }
        let wrapped = out.entries.iter().filter(|e| e.overlap).any(|e| {
            let (ra_min, _, _, _) = chunker
                .sub_chunk_bounds(Location {
                    chunk_id: e.chunk_id,
                    sub_chunk_id: e.sub_chunk_id,
                })
                .unwrap();
            ra_min > 359.0
        });
        assert!(
            wrapped,
            "no overlap copy on the far side of ra = 0: {:?}",
            out.entries
        );
        assert_eq!(
            String::from_utf8(out.object_index).unwrap(),
            format!("42,{},{}\n", loc.chunk_id, loc.sub_chunk_id)
        );
    }
}
