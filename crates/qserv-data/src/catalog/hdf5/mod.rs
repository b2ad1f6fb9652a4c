//! Reader for astropy tables stored in HDF5: a table is a 1-D compound dataset (one member
//! per column, packed, in the writer's byte order), with units and descriptions in the YAML
//! dataset `<table>.__table_column_meta__`.
//!
//! Rows are read in bounded hyperslabs as raw bytes (the file's own type is the memory type,
//! so HDF5 converts nothing) and each column is decoded from its offset in the row. Nothing
//! depends on a Rust struct per table, and memory stays at one batch whatever the file size.

mod decode;
mod layout;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use hdf5_metno::sync::sync;
use hdf5_metno::{Dataset, Dataspace, Datatype, File};
use hdf5_metno_sys::h5d::H5Dread;
use hdf5_metno_sys::h5p::H5P_DEFAULT;

use super::astropy_meta;
use super::error::{CatalogError, Result};
use super::schema::{META_DESCRIPTION, META_STRING_WIDTH, META_UNIT, column_field};
use layout::{FieldKind, RowLayout};

/// Suffix astropy appends to a table's path for the dataset holding its YAML metadata.
pub const META_SUFFIX: &str = ".__table_column_meta__";

/// Streams an astropy HDF5 table as Arrow record batches of at most `batch_rows` rows.
pub struct Hdf5Reader {
    file_path: PathBuf,
    dataset_path: String,
    // The file handle is kept so the dataset's file stays open for the reader's lifetime.
    _file: File,
    dataset: Dataset,
    dtype: Datatype,
    layout: RowLayout,
    /// Layout indices of the output columns (mask columns are folded into their data).
    outputs: Vec<usize>,
    /// (data, mask) layout indices of astropy masked columns.
    masks: Vec<(usize, usize)>,
    schema: SchemaRef,
    rows: u64,
    next_row: u64,
    batch_rows: u64,
    buf: Vec<u8>,
}

impl Hdf5Reader {
    /// Opens the table at `dataset` (an HDF5 path such as `deepCoadd_meas`) in `file`.
    pub fn open(file: &Path, dataset: &str, batch_rows: usize) -> Result<Self> {
        std::fs::metadata(file).map_err(|err| CatalogError::io(file, err))?;
        let h5 = File::open(file).map_err(|err| CatalogError::Hdf5File {
            file: file.to_path_buf(),
            reason: err.to_string(),
        })?;
        let not_a_table = |reason: String| CatalogError::NotATable {
            file: file.to_path_buf(),
            dataset: dataset.to_string(),
            reason,
        };
        let ds = match h5.dataset(dataset) {
            Ok(ds) => ds,
            Err(_) if h5.group(dataset).is_ok() => {
                return Err(not_a_table("it is a group, not a dataset".to_string()));
            }
            Err(_) => {
                return Err(CatalogError::DatasetNotFound {
                    file: file.to_path_buf(),
                    dataset: dataset.to_string(),
                    available: table_names(&h5).join(", "),
                });
            }
        };
        let shape = ds.shape();
        if shape.len() != 1 {
            return Err(not_a_table(format!(
                "it has {} dimensions, a table has 1",
                shape.len()
            )));
        }
        let dtype = ds.dtype().map_err(|err| not_a_table(err.to_string()))?;
        let layout = layout::row_layout(dtype.id()).map_err(not_a_table)?;
        let meta = read_column_meta(&h5, file, dataset)?;
        let index_of = |name: &str| layout.fields.iter().position(|f| f.name == name);
        // Masked columns: the data column becomes nullable, its mask column disappears.
        let masks: Vec<(usize, usize)> = meta
            .masks
            .iter()
            .filter_map(|(data, mask)| Some((index_of(data)?, index_of(mask)?)))
            .filter(|&(_, m)| layout.fields[m].kind == FieldKind::Bool)
            .collect();
        let outputs: Vec<usize> = (0..layout.fields.len())
            .filter(|i| !masks.iter().any(|&(_, m)| m == *i))
            .collect();
        let fields: Vec<_> = outputs
            .iter()
            .map(|&i| {
                let f = &layout.fields[i];
                let (data_type, nullable) = decode::arrow_type(f.kind);
                let nullable = nullable || masks.iter().any(|&(d, _)| d == i);
                let doc = meta.docs.get(&f.name).cloned().unwrap_or_default();
                let width = match f.kind {
                    FieldKind::FixedString { size, .. } => Some(size.to_string()),
                    _ => None,
                };
                column_field(
                    &f.name,
                    data_type,
                    nullable,
                    &[
                        (META_UNIT, doc.unit.as_deref()),
                        (META_DESCRIPTION, doc.description.as_deref()),
                        (META_STRING_WIDTH, width.as_deref()),
                    ],
                )
            })
            .collect();
        // A batch that ends mid-chunk makes HDF5 decompress that chunk again for the next
        // batch; whole chunks per batch read every chunk once. Chunks larger than a batch
        // are read in parts (the batch bound wins over decompression work).
        let batch_rows = batch_rows.max(1);
        let batch_rows = match ds.chunk().and_then(|c| c.first().copied()) {
            Some(chunk) if chunk > 0 && chunk <= batch_rows => batch_rows / chunk * chunk,
            _ => batch_rows,
        } as u64;
        Ok(Hdf5Reader {
            file_path: file.to_path_buf(),
            dataset_path: dataset.to_string(),
            _file: h5,
            rows: shape[0] as u64,
            dataset: ds,
            dtype,
            layout,
            outputs,
            masks,
            schema: Arc::new(Schema::new(fields)),
            next_row: 0,
            batch_rows,
            buf: Vec::new(),
        })
    }

    /// The table's schema (every column, with units and descriptions).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Number of rows in the table.
    pub fn num_rows(&self) -> u64 {
        self.rows
    }

    fn read_batch(&mut self, first: u64, end: u64) -> Result<RecordBatch> {
        let row_size = self.layout.row_size;
        read_rows(
            &self.dataset,
            &self.dtype,
            row_size,
            first,
            end,
            &mut self.buf,
        )
        .map_err(|err| CatalogError::Hdf5Read {
            file: self.file_path.clone(),
            dataset: self.dataset_path.clone(),
            first,
            end,
            reason: err.to_string(),
        })?;
        let mut decoded = Vec::with_capacity(self.layout.fields.len());
        for field in &self.layout.fields {
            let array = decode::decode_field(&self.buf, row_size, field).map_err(|err| {
                CatalogError::Hdf5Value {
                    file: self.file_path.clone(),
                    dataset: self.dataset_path.clone(),
                    row: first + err.row as u64,
                    field: field.name.clone(),
                    reason: err.reason,
                }
            })?;
            decoded.push(array);
        }
        for &(data, mask) in &self.masks {
            decoded[data] = decode::apply_mask(&decoded[data], &decoded[mask]);
        }
        let columns: Vec<_> = self.outputs.iter().map(|&i| decoded[i].clone()).collect();
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|err| CatalogError::Hdf5Read {
            file: self.file_path.clone(),
            dataset: self.dataset_path.clone(),
            first,
            end,
            reason: err.to_string(),
        })
    }
}

impl Iterator for Hdf5Reader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_row >= self.rows {
            return None;
        }
        let first = self.next_row;
        let end = (first + self.batch_rows).min(self.rows);
        let batch = self.read_batch(first, end);
        // After an error the rest of the file is not trusted: the stream ends there.
        self.next_row = if batch.is_ok() { end } else { self.rows };
        Some(batch)
    }
}

/// Reads rows `first..end` of a 1-D dataset as raw bytes in the file's own type into `buf`.
fn read_rows(
    dataset: &Dataset,
    dtype: &Datatype,
    row_size: usize,
    first: u64,
    end: u64,
    buf: &mut Vec<u8>,
) -> hdf5_metno::Result<()> {
    let count = (end - first) as usize;
    let file_space = dataset.space()?.select(first as usize..end as usize)?;
    let mem_space = Dataspace::try_new(count)?;
    buf.resize(count * row_size, 0);
    sync(|| {
        // SAFETY: `buf` holds exactly `count` rows of the file type, the memory space selects
        // `count` elements, and the ids stay alive for the call.
        hdf5_metno::h5check(unsafe {
            H5Dread(
                dataset.id(),
                dtype.id(),
                mem_space.id(),
                file_space.id(),
                H5P_DEFAULT,
                buf.as_mut_ptr().cast(),
            )
        })
    })?;
    Ok(())
}

/// Units, descriptions and masked columns from `<dataset>.__table_column_meta__`, when astropy
/// wrote it.
fn read_column_meta(h5: &File, file: &Path, dataset: &str) -> Result<astropy_meta::TableMeta> {
    let meta_error = |reason: String| CatalogError::TableMeta {
        file: file.to_path_buf(),
        dataset: dataset.to_string(),
        reason,
    };
    let Ok(ds) = h5.dataset(&format!("{dataset}{META_SUFFIX}")) else {
        return Ok(Default::default());
    };
    // The metadata is a short 1-D array of fixed-width strings (one YAML line each).
    let dtype = ds.dtype().map_err(|err| meta_error(err.to_string()))?;
    let width = dtype.size();
    let lines = ds.shape().first().copied().unwrap_or(0) as u64;
    let mut buf = Vec::new();
    read_rows(&ds, &dtype, width, 0, lines, &mut buf).map_err(|err| meta_error(err.to_string()))?;
    let lines: Vec<String> = buf
        .chunks_exact(width.max(1))
        .map(|line| {
            let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
            String::from_utf8_lossy(&line[..end]).into_owned()
        })
        .collect();
    astropy_meta::parse_column_meta(&lines).map_err(meta_error)
}

/// Top-level datasets that look like tables, for "no such dataset" messages.
fn table_names(h5: &File) -> Vec<String> {
    let mut names: Vec<String> = h5
        .member_names()
        .unwrap_or_default()
        .into_iter()
        .filter(|name| !name.ends_with(META_SUFFIX))
        .collect();
    names.sort();
    names
}
