//! One entry point over the three formats: open a file, get its schema, iterate batches.

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::csv::{CsvOptions, CsvReader};
use super::error::Result;
use super::hdf5::Hdf5Reader;
use super::parquet::ParquetReader;
use super::select::{Selected, Selection, SelectionSpec};

/// Format of an input file, with what is needed to read it.
#[derive(Clone, Debug)]
pub enum InputFormat {
    /// An astropy table: the HDF5 path of its compound dataset.
    Hdf5 {
        dataset: String,
    },
    /// CSV or TSV text, plain or gzip.
    Csv(CsvOptions),
    Parquet,
}

/// A streaming reader of any supported format: an iterator of batches of at most the
/// requested number of rows, all with [`CatalogReader::schema`].
pub enum CatalogReader {
    Hdf5(Hdf5Reader),
    Csv(CsvReader),
    Parquet(ParquetReader),
}

impl CatalogReader {
    pub fn open(file: &Path, format: &InputFormat, batch_rows: usize) -> Result<Self> {
        Ok(match format {
            InputFormat::Hdf5 { dataset } => {
                CatalogReader::Hdf5(Hdf5Reader::open(file, dataset, batch_rows)?)
            }
            InputFormat::Csv(options) => {
                CatalogReader::Csv(CsvReader::open(file, options, batch_rows)?)
            }
            InputFormat::Parquet => CatalogReader::Parquet(ParquetReader::open(file, batch_rows)?),
        })
    }

    pub fn schema(&self) -> SchemaRef {
        match self {
            CatalogReader::Hdf5(r) => r.schema(),
            CatalogReader::Csv(r) => r.schema(),
            CatalogReader::Parquet(r) => r.schema(),
        }
    }

    /// Rows in the input when the format says so up front (HDF5, Parquet), for progress bars.
    pub fn num_rows(&self) -> Option<u64> {
        match self {
            CatalogReader::Hdf5(r) => Some(r.num_rows()),
            CatalogReader::Csv(_) => None,
            CatalogReader::Parquet(r) => Some(r.num_rows()),
        }
    }

    /// This reader with a selection applied to every batch.
    /// `spec` compiled against this reader's schema (its position units resolved).
    pub fn selection(&self, spec: &SelectionSpec) -> Result<Selection> {
        Selection::new(&self.schema(), spec)
    }

    pub fn select(self, spec: &SelectionSpec) -> Result<Selected<Self>> {
        let selection = Selection::new(&self.schema(), spec)?;
        Ok(Selected::new(self, selection, &spec.table))
    }
}

impl Iterator for CatalogReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CatalogReader::Hdf5(r) => r.next(),
            CatalogReader::Csv(r) => r.next(),
            CatalogReader::Parquet(r) => r.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loaders move readers into blocking tasks or threads.
    #[test]
    fn readers_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<CatalogReader>();
        assert_send::<Selected<CatalogReader>>();
    }
}
