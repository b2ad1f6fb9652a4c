//! The partitioner's output files of a table (`chunk_<id>.txt`, `chunk_<id>_overlap.txt`,
//! see `crate::partition::writer`), found and counted without loading them.

use std::path::{Path, PathBuf};

/// A chunk or overlap file to send.
#[derive(Debug, Clone)]
pub(crate) struct ChunkFile {
    pub table: usize,
    pub chunk: u32,
    pub overlap: bool,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// `chunk_<id>.txt` / `chunk_<id>_overlap.txt` → (id, overlap).
fn parse_chunk_file_name(name: &str) -> Option<(u32, bool)> {
    let rest = name.strip_prefix("chunk_")?.strip_suffix(".txt")?;
    let (id, overlap) = match rest.strip_suffix("_overlap") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    Some((id.parse().ok()?, overlap))
}

/// A table directory whose chunk files cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{dir}: {reason}")]
pub struct ChunkFilesError {
    pub dir: String,
    pub reason: String,
}

/// Every non-empty chunk file of a table with its line count (streamed, not loaded).
pub(crate) fn scan_chunk_files(
    table: usize,
    dir: &Path,
) -> Result<Vec<ChunkFile>, ChunkFilesError> {
    let err = |reason: String| ChunkFilesError {
        dir: dir.display().to_string(),
        reason,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| err(e.to_string()))? {
        let entry = entry.map_err(|e| err(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((chunk, overlap)) = parse_chunk_file_name(&name) else {
            continue;
        };
        let path = entry.path();
        let (rows, bytes) = count_lines(&path).map_err(|e| err(format!("{name}: {e}")))?;
        if rows > 0 {
            out.push(ChunkFile {
                table,
                chunk,
                overlap,
                path,
                rows,
                bytes,
            });
        }
    }
    out.sort_by_key(|f| (f.chunk, f.overlap));
    Ok(out)
}

/// A regular table's contribution file in a table directory (see [`crate::load::regular`]).
pub const REGULAR_FILE: &str = "regular.txt";

/// The contribution file of a regular table in `dir`, sent whole to every worker (chunk 0, as
/// Qserv reports regular tables). `None` when it has no rows.
pub(crate) fn scan_regular_file(
    table: usize,
    dir: &Path,
) -> Result<Option<ChunkFile>, ChunkFilesError> {
    let path = dir.join(REGULAR_FILE);
    let (rows, bytes) = count_lines(&path).map_err(|e| ChunkFilesError {
        dir: dir.display().to_string(),
        reason: format!("{REGULAR_FILE}: {e}"),
    })?;
    Ok((rows > 0).then_some(ChunkFile {
        table,
        chunk: 0,
        overlap: false,
        path,
        rows,
        bytes,
    }))
}

/// Lines (a last line without `\n` counts) and bytes of a file.
fn count_lines(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut lines, mut bytes, mut last) = (0u64, 0u64, b'\n');
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        bytes += n as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok((lines, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_file_names() {
        assert_eq!(parse_chunk_file_name("chunk_6630.txt"), Some((6630, false)));
        assert_eq!(
            parse_chunk_file_name("chunk_6630_overlap.txt"),
            Some((6630, true))
        );
        assert_eq!(parse_chunk_file_name("chunk_index.bin"), None);
        assert_eq!(parse_chunk_file_name("chunk_object_index.txt"), None);
        assert_eq!(parse_chunk_file_name("partition-summary.json"), None);
    }

    #[test]
    fn lines_are_counted_with_or_without_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "x\ny\n").unwrap();
        assert_eq!(count_lines(&a).unwrap(), (2, 4));
        std::fs::write(&a, "x\ny").unwrap();
        assert_eq!(count_lines(&a).unwrap(), (2, 3));
        std::fs::write(&a, "").unwrap();
        assert_eq!(count_lines(&a).unwrap(), (0, 0));
    }
}
