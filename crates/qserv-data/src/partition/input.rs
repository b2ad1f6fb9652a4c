//! Input files for the CSV pipeline: expanding paths, globs and directories, transparent gzip,
//! and cutting the byte stream into blocks of whole lines with their first line number.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

/// A problem with an input file as a whole.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: truncated or corrupt gzip data ({source})")]
    Gzip { path: PathBuf, source: io::Error },
    #[error("{pattern}: matches no file")]
    NoMatch { pattern: String },
    #[error("{pattern}: not a valid glob: {message}")]
    BadPattern { pattern: String, message: String },
    #[error("{path}: empty file (no rows)")]
    Empty { path: PathBuf },
}

/// Files named by `--in` arguments: a file, a directory (its files, sorted, recursively) or a
/// glob. The result is sorted per argument and free of duplicates.
pub fn expand_inputs(patterns: &[String]) -> Result<Vec<PathBuf>, InputError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let mut found = Vec::new();
        let path = Path::new(pattern);
        if path.is_dir() {
            collect_dir(path, &mut found)?;
        } else if pattern.contains(['*', '?', '[']) {
            let paths = glob::glob(pattern).map_err(|e| InputError::BadPattern {
                pattern: pattern.clone(),
                message: e.to_string(),
            })?;
            for entry in paths {
                let p = entry.map_err(|e| {
                    let path = e.path().to_path_buf();
                    InputError::Io {
                        path,
                        source: e.into(),
                    }
                })?;
                if p.is_file() {
                    found.push(p);
                }
            }
        } else if path.is_file() {
            found.push(path.to_path_buf());
        } else {
            return Err(InputError::Io {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such file or directory"),
            });
        }
        if found.is_empty() {
            return Err(InputError::NoMatch {
                pattern: pattern.clone(),
            });
        }
        found.sort();
        for p in found {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let io_err = |source| InputError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Counts bytes read from the underlying file (for progress on compressed input).
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A block of whole lines from one file.
#[derive(Debug)]
pub struct Block {
    /// 1-based number of the block's first line in its file.
    pub first_line: u64,
    pub data: Vec<u8>,
}

/// Reads a file (plain or gzip, detected by its magic bytes) as blocks of whole lines.
pub struct BlockReader {
    path: PathBuf,
    reader: Box<dyn Read + Send>,
    gzip: bool,
    carry: Vec<u8>,
    next_line: u64,
    eof: bool,
    any_data: bool,
}

impl BlockReader {
    pub fn open(path: &Path, counter: Arc<AtomicU64>) -> Result<Self, InputError> {
        let io_err = |source| InputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 2];
        let n = file.read(&mut magic).map_err(io_err)?;
        let gzip = n == 2 && magic == [0x1f, 0x8b];
        let file = File::open(path).map_err(io_err)?;
        let counted = Counting {
            inner: file,
            counter,
        };
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                counted,
            )))
        } else {
            Box::new(counted)
        };
        Ok(BlockReader {
            path: path.to_path_buf(),
            reader,
            gzip,
            carry: Vec::new(),
            next_line: 1,
            eof: false,
            any_data: false,
        })
    }

    /// The next block of about `target` bytes of whole lines, built in `buffer` (a recycled
    /// allocation, or empty); `None` at the end.
    pub fn next_block(
        &mut self,
        target: usize,
        mut buffer: Vec<u8>,
    ) -> Result<Option<Block>, InputError> {
        buffer.clear();
        buffer.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut data = buffer;
        while !self.eof && data.len() < target {
            let before = data.len();
            data.resize(before.max(target).max(before + (1 << 16)), 0);
            let n = match self.reader.read(&mut data[before..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(source) if self.gzip => {
                    return Err(InputError::Gzip {
                        path: self.path.clone(),
                        source,
                    });
                }
                Err(source) => {
                    return Err(InputError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            };
            data.truncate(before + n);
            if n == 0 {
                self.eof = true;
            }
        }
        if data.is_empty() {
            if !self.any_data {
                return Err(InputError::Empty {
                    path: self.path.clone(),
                });
            }
            return Ok(None);
        }
        self.any_data = true;
        if !self.eof {
            // Keep the partial last line for the next block.
            match memchr::memrchr(b'\n', &data) {
                Some(end) => {
                    self.carry.extend_from_slice(&data[end + 1..]);
                    data.truncate(end + 1);
                }
                None => {
                    // A line longer than the block: read on until it ends.
                    self.carry = data;
                    return self.next_block(target.saturating_mul(2), Vec::new());
                }
            }
        }
        let first_line = self.next_line;
        let newlines = memchr::memchr_iter(b'\n', &data).count() as u64;
        self.next_line += newlines + u64::from(!data.ends_with(b"\n"));
        Ok(Some(Block { first_line, data }))
    }
}

/// Splits whole lines (without `\n` or a trailing `\r`), numbering them from `first_line`.
pub fn lines(first_line: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|c| *c == b'\n')
        .enumerate()
        .map(move |(i, line)| {
            (
                first_line + i as u64,
                line.strip_suffix(b"\r").unwrap_or(line),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(path: &Path, target: usize) -> Result<Vec<(u64, String)>, InputError> {
        let mut r = BlockReader::open(path, Arc::new(AtomicU64::new(0)))?;
        let mut out = Vec::new();
        while let Some(b) = r.next_block(target, Vec::new())? {
            out.extend(
                lines(b.first_line, &b.data)
                    .map(|(n, l)| (n, String::from_utf8_lossy(l).into_owned())),
            );
        }
        Ok(out)
    }

    #[test]
    fn blocks_cut_at_lines_and_number_them_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "a,1\r\nbb,2\r\nccc,3\nlast,4").unwrap();
        for target in [1, 4, 7, 1 << 20] {
            let got = read_all(&path, target).unwrap();
            assert_eq!(
                got,
                vec![
                    (1, "a,1".into()),
                    (2, "bb,2".into()),
                    (3, "ccc,3".into()),
                    (4, "last,4".into())
                ],
                "target {target}"
            );
        }
    }

    #[test]
    fn gzip_is_detected_and_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..20_000 {
            writeln!(enc, "{i},{}", i * 7).unwrap();
        }
        let bytes = enc.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let got = read_all(&path, 4096).unwrap();
        assert_eq!(got.len(), 20_000);
        assert_eq!(got[19_999], (20_000, "19999,139993".into()));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_all(&path, 4096).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}: truncated or corrupt gzip data",
                path.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn empty_files_and_missing_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.tsv");
        std::fs::write(&path, "").unwrap();
        let e = read_all(&path, 100).unwrap_err().to_string();
        assert_eq!(e, format!("{}: empty file (no rows)", path.display()));
        let pattern = format!("{}/*.nothing", dir.path().display());
        assert_eq!(
            expand_inputs(std::slice::from_ref(&pattern))
                .unwrap_err()
                .to_string(),
            format!("{pattern}: matches no file")
        );
        let missing = dir.path().join("missing.tsv").display().to_string();
        assert!(
            expand_inputs(std::slice::from_ref(&missing))
                .unwrap_err()
                .to_string()
                .starts_with(&missing)
        );
    }
}
