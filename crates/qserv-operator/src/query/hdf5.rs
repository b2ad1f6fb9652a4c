//! `query --format hdf5`: the result as an astropy table in an HDF5 file (layout in
//! [`super::hdf5_columns`]), readable with `astropy.table.Table.read(F, path=...)`.
//!
//! Rows stream: they are packed into a buffer of about 1 MiB and appended to a chunked,
//! resizable 1-D dataset, so memory does not grow with the result. The file is written under a
//! temporary name beside the output and renamed when complete, so a failed query never leaves
//! a file that looks like a whole result (an existing file is replaced only on success).
//! Units and descriptions come from the COMMENT of the result's source columns (the loaders
//! write `description [unit]`), found through `information_schema` when the statement can be
//! prepared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hdf5_metno::sync::sync;
use hdf5_metno::{Dataset, Dataspace, Datatype, Extents, File};
use hdf5_metno_sys::h5d::H5Dwrite;
use hdf5_metno_sys::h5p::H5P_DEFAULT;
use mysql_async::Value;

use super::error::QueryError;
use super::hdf5_columns::{Hdf5Column, column_meta_yaml, row_type};

/// Dataset path astropy uses when none is given (`astropy.io.misc.hdf5`).
pub const DEFAULT_DATASET: &str = "__astropy_table__";
/// Suffix of the YAML metadata dataset (as `catalog::hdf5::META_SUFFIX`).
const META_SUFFIX: &str = ".__table_column_meta__";
/// Bytes of rows buffered before they are appended (also about the chunk size).
const BUFFER_BYTES: usize = 1 << 20;

/// Writes a result, row by row, into a new astropy HDF5 table.
pub struct Hdf5Writer {
    out: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    dataset: Dataset,
    dtype: Datatype,
    path: String,
    columns: Vec<Hdf5Column>,
    row_size: usize,
    rows_per_flush: usize,
    buf: Vec<u8>,
    buffered: usize,
    rows: u64,
}

impl Hdf5Writer {
    /// Creates the table `dataset` (an HDF5 path; groups are created) for `columns`, to become
    /// the file `out`.
    pub fn create(out: &Path, dataset: &str, columns: Vec<Hdf5Column>) -> Result<Self, QueryError> {
        let name = out
            .file_name()
            .map_or("result.h5".into(), |n| n.to_string_lossy().into_owned());
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
        let output_error = |reason: String| QueryError::Output {
            file: out.to_path_buf(),
            reason,
        };
        // std first: its error says why (HDF5's says only that the create failed).
        std::fs::File::create(&tmp).map_err(|err| output_error(err.to_string()))?;
        let file = File::create(&tmp).map_err(|err| {
            let _ = std::fs::remove_file(&tmp);
            output_error(err.to_string())
        })?;
        let (descriptor, row_size) = row_type(&columns);
        let rows_per_flush = (BUFFER_BYTES / row_size.max(1)).max(1);
        let created = (|| {
            let dtype = Datatype::from_descriptor(&descriptor)?;
            let dataset = file
                .new_dataset_builder()
                .empty_as(&dtype)
                .shape(Extents::resizable(0.into()))
                .chunk(rows_per_flush)
                .create(dataset)?;
            Ok::<_, hdf5_metno::Error>((dtype, dataset))
        })();
        let (dtype, dataset_handle) = created.map_err(|err| {
            let _ = std::fs::remove_file(&tmp);
            output_error(format!("dataset {dataset}: {err}"))
        })?;
        Ok(Hdf5Writer {
            out: out.to_path_buf(),
            tmp,
            file: Some(file),
            dataset: dataset_handle,
            dtype,
            path: dataset.to_string(),
            columns,
            row_size,
            rows_per_flush,
            buf: Vec::with_capacity(BUFFER_BYTES + row_size),
            buffered: 0,
            rows: 0,
        })
    }

    /// Appends a row (values in column order).
    pub fn row(&mut self, values: &[Value]) -> Result<(), QueryError> {
        for (column, value) in self.columns.iter().zip(values) {
            column
                .encode(value, &mut self.buf)
                .map_err(|reason| QueryError::Value {
                    row: self.rows + self.buffered as u64 + 1,
                    column: column.name.clone(),
                    reason,
                })?;
        }
        self.buffered += 1;
        if self.buffered >= self.rows_per_flush {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends the buffered rows to the dataset.
    fn flush(&mut self) -> Result<(), QueryError> {
        if self.buffered == 0 {
            return Ok(());
        }
        debug_assert_eq!(self.buf.len(), self.buffered * self.row_size);
        let first = self.rows as usize;
        let end = first + self.buffered;
        let written = (|| {
            self.dataset.resize(end)?;
            let file_space = self.dataset.space()?.select(first..end)?;
            let mem_space = Dataspace::try_new(self.buffered)?;
            sync(|| {
                // SAFETY: `buf` holds exactly `buffered` packed rows of the dataset's own type
                // (the memory type), the memory space has that many elements, and the ids
                // live through the call.
                hdf5_metno::h5check(unsafe {
                    H5Dwrite(
                        self.dataset.id(),
                        self.dtype.id(),
                        mem_space.id(),
                        file_space.id(),
                        H5P_DEFAULT,
                        self.buf.as_ptr().cast(),
                    )
                })
            })?;
            Ok::<_, hdf5_metno::Error>(())
        })();
        written.map_err(|err| QueryError::Output {
            file: self.out.clone(),
            reason: err.to_string(),
        })?;
        self.rows = end as u64;
        self.buffered = 0;
        self.buf.clear();
        Ok(())
    }

    /// Writes the remaining rows and the column metadata, closes the file and renames it to
    /// the output; returns the rows written.
    pub fn finish(mut self) -> Result<u64, QueryError> {
        self.flush()?;
        let lines = column_meta_yaml(&self.columns);
        let width = lines.iter().map(String::len).max().unwrap_or(1).max(1);
        let mut bytes = Vec::with_capacity(width * lines.len());
        for line in &lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.resize(bytes.len() + width - line.len(), 0);
        }
        let file = self.file.take().expect("open until finished");
        let output_error = |reason: String| QueryError::Output {
            file: self.out.clone(),
            reason,
        };
        let meta_path = format!("{}{META_SUFFIX}", self.path);
        let written = (|| {
            let string =
                Datatype::from_descriptor(&hdf5_metno::types::TypeDescriptor::FixedAscii(width))?;
            let meta = file
                .new_dataset_builder()
                .empty_as(&string)
                .shape(lines.len())
                .create(meta_path.as_str())?;
            let space = Dataspace::try_new(lines.len())?;
            sync(|| {
                // SAFETY: `bytes` holds `lines.len()` strings of `width` bytes, the type's size.
                hdf5_metno::h5check(unsafe {
                    H5Dwrite(
                        meta.id(),
                        string.id(),
                        space.id(),
                        space.id(),
                        H5P_DEFAULT,
                        bytes.as_ptr().cast(),
                    )
                })
            })?;
            drop(meta);
            file.close()
        })();
        written.map_err(|err| output_error(err.to_string()))?;
        std::fs::rename(&self.tmp, &self.out).map_err(|err| output_error(err.to_string()))?;
        Ok(self.rows)
    }
}

impl Drop for Hdf5Writer {
    /// An unfinished file is removed: only a complete result gets the output's name.
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            drop(file);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Units and descriptions of `columns` from the COMMENTs of their source columns, by
/// (database, table, column) of each result column; unknown ones are skipped.
pub async fn add_comments(
    conn: &mut mysql_async::Conn,
    columns: &mut [Hdf5Column],
    sources: &[(String, String, String)],
) {
    use mysql_async::prelude::Queryable;
    let mut comments: HashMap<(String, String), HashMap<String, String>> = HashMap::new();
    for (db, table, _) in sources {
        if db.is_empty() || table.is_empty() || comments.contains_key(&(db.clone(), table.clone()))
        {
            continue;
        }
        let rows: Vec<(String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (db, table),
            )
            .await
            .unwrap_or_default();
        comments.insert((db.clone(), table.clone()), rows.into_iter().collect());
    }
    for (column, (db, table, name)) in columns.iter_mut().zip(sources) {
        if let Some(comment) = comments
            .get(&(db.clone(), table.clone()))
            .and_then(|c| c.get(name))
        {
            column.set_comment(comment);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type};
    use mysql_async::consts::{ColumnFlags, ColumnType};

    fn columns() -> Vec<Hdf5Column> {
        let nn = ColumnFlags::NOT_NULL_FLAG;
        vec![
            Hdf5Column::new("id", ColumnType::MYSQL_TYPE_LONGLONG, nn, 20).unwrap(),
            Hdf5Column::new("x", ColumnType::MYSQL_TYPE_DOUBLE, ColumnFlags::empty(), 22).unwrap(),
            Hdf5Column::new("n", ColumnType::MYSQL_TYPE_LONG, ColumnFlags::empty(), 11).unwrap(),
        ]
    }

    /// Many flushes of a resizable dataset, read back by our astropy reader row by row.
    #[test]
    fn rows_stream_through_many_appends() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("big.h5");
        let mut w = Hdf5Writer::create(&out, "g/t", columns()).unwrap();
        assert!(w.rows_per_flush < 100_000, "several flushes");
        let n = 300_001u64;
        for i in 0..n {
            let x = if i.is_multiple_of(7) {
                Value::NULL
            } else {
                Value::Double(i as f64 / 3.0)
            };
            let m = if i.is_multiple_of(5) {
                Value::NULL
            } else {
                Value::Int(i as i64 % 1000)
            };
            w.row(&[Value::Int(i as i64), x, m]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), n);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["big.h5"]);
        let reader = crate::catalog::Hdf5Reader::open(&out, "g/t", 65_536).unwrap();
        let mut next = 0u64;
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let xs = batch.column(1).as_primitive::<Float64Type>();
            let ms = batch.column(2).as_primitive::<Int32Type>();
            for r in 0..batch.num_rows() {
                let i = next;
                assert_eq!(ids.value(r), i as i64);
                assert_eq!(xs.is_null(r), i.is_multiple_of(7), "row {i}");
                if !i.is_multiple_of(7) {
                    assert_eq!(xs.value(r), i as f64 / 3.0);
                }
                assert_eq!(ms.is_null(r), i.is_multiple_of(5), "row {i}");
                if !i.is_multiple_of(5) {
                    assert_eq!(ms.value(r), (i % 1000) as i32);
                }
                next += 1;
            }
        }
        assert_eq!(next, n);
    }

    /// A bad value fails naming row and column, and the unfinished file is removed.
    #[test]
    fn a_failed_result_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.h5");
        let mut w = Hdf5Writer::create(&out, "t", columns()).unwrap();
        w.row(&[Value::Int(1), Value::NULL, Value::NULL]).unwrap();
        let err = w
            .row(&[Value::NULL, Value::NULL, Value::NULL])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "row 2, column `id`: NULL in a column MariaDB declared NOT NULL"
        );
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
