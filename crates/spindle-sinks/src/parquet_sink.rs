//! Parquet files.

use crate::StreamWriter;
use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Compression codec of a [`ParquetSink`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard level 3 (default: small files, fast to read).
    #[default]
    Zstd,
    /// Snappy (fastest to write).
    Snappy,
    /// No compression.
    None,
}

impl std::str::FromStr for ParquetCompression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zstd" => Ok(Self::Zstd),
            "snappy" => Ok(Self::Snappy),
            "none" | "uncompressed" => Ok(Self::None),
            other => Err(Error::Invalid {
                field: "compression",
                message: format!("'{other}' is not one of zstd, snappy, none"),
            }),
        }
    }
}

/// Settings of a [`ParquetSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Codec of every column.
    pub compression: ParquetCompression,
    /// Rows per row group (the unit readers skip and parallelize over).
    pub row_group_rows: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::Zstd,
            row_group_rows: 256 * 1024,
        }
    }
}

impl ParquetOptions {
    fn properties(&self) -> WriterProperties {
        let codec = match self.compression {
            ParquetCompression::Zstd => {
                Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level"))
            }
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::None => Compression::UNCOMPRESSED,
        };
        WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .build()
    }
}

/// Writes event batches to one Parquet file. The file is readable once closed; until
/// then it has no footer, so a run that dies never leaves a file that looks complete.
pub struct ParquetSink {
    path: PathBuf,
    options: ParquetOptions,
    writer: Option<ArrowWriter<File>>,
    schema: Option<SchemaRef>,
    delivered: u64,
    closed: bool,
}

impl ParquetSink {
    /// A sink writing to `path` (created, with its parent folders, on the first batch).
    ///
    /// # Errors
    /// The parent folder cannot be created.
    pub fn new(path: impl AsRef<Path>, options: ParquetOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(Self {
            path,
            options,
            writer: None,
            schema: None,
            delivered: 0,
            closed: false,
        })
    }

    /// Opens the file for `schema` now, so that a run with no events still leaves a
    /// valid (empty) file.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn open(&mut self, schema: SchemaRef) -> Result<()> {
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|e| Error::io(&self.path, e))?;
            self.writer = Some(ArrowWriter::try_new(
                file,
                schema.clone(),
                Some(self.options.properties()),
            )?);
            self.schema = Some(schema);
        }
        Ok(())
    }
}

impl StreamWriter for ParquetSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.closed {
            return Err(Error::Invalid {
                field: "sink",
                message: format!("{} is closed", self.path.display()),
            });
        }
        self.open(batch.schema())?;
        if self
            .schema
            .as_ref()
            .is_some_and(|s| s.fields() != batch.schema().fields())
        {
            return Err(Error::SchemaChanged {
                sink: self.describe(),
                table: crate::table_of(batch).unwrap_or_else(|| "?".into()),
            });
        }
        self.writer.as_mut().expect("opened above").write(batch)?;
        self.delivered += batch.num_rows() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        if let Some(w) = self.writer.take() {
            w.close()?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        format!("parquet:{}", self.path.display())
    }
}
