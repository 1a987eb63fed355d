//! CSV files (for generated tables; events stream as JSON lines or Parquet).

use crate::StreamWriter;
use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes batches as CSV with a header row; timestamps as `YYYY-MM-DD HH:MM:SS[.f]`.
pub struct CsvSink {
    path: PathBuf,
    writer: Option<arrow_csv::Writer<BufWriter<File>>>,
    delivered: u64,
}

impl CsvSink {
    /// Creates `path` (and its parent folders).
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let writer = arrow_csv::WriterBuilder::new()
            .with_header(true)
            .with_timestamp_format("%Y-%m-%d %H:%M:%S%.f".to_string())
            .build(BufWriter::with_capacity(1 << 20, file));
        Ok(Self {
            path,
            writer: Some(writer),
            delivered: 0,
        })
    }
}

impl StreamWriter for CsvSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let writer = self.writer.as_mut().ok_or_else(|| Error::Invalid {
            field: "sink",
            message: format!("{} is closed", self.path.display()),
        })?;
        writer.write(batch)?;
        self.delivered += batch.num_rows() as u64;
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let mut inner = w.into_inner();
            std::io::Write::flush(&mut inner).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        format!("csv:{}", self.path.display())
    }
}
