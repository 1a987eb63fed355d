//! CSV files (for generated tables; events stream as JSON lines or Parquet).

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::json::ROWS_PER_TASK;
use arrow_array::RecordBatch;
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes batches as CSV with a header row; timestamps as `YYYY-MM-DD HH:MM:SS[.f]`.
/// Slices of a few thousand rows are formatted in parallel (arrow-csv's writer, each
/// slice its own), then written in order: the bytes of one writer over every row.
pub struct CsvSink {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    header_written: bool,
    delivered: u64,
}

/// The CSV writer of Spindle's files, with the header row or without.
fn csv_writer(header: bool, out: &mut Vec<u8>) -> arrow_csv::Writer<&mut Vec<u8>> {
    arrow_csv::WriterBuilder::new()
        .with_header(header)
        .with_timestamp_format("%Y-%m-%d %H:%M:%S%.f".to_string())
        .build(out)
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
        Ok(Self {
            path,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            header_written: false,
            delivered: 0,
        })
    }
}

/// `batches` cut into slices of at most [`ROWS_PER_TASK`] rows, in order (a batch
/// without rows as one empty slice, which writes the header if it comes first).
fn slices(batches: &[RecordBatch]) -> Vec<RecordBatch> {
    batches
        .iter()
        .flat_map(|b| {
            let rows = b.num_rows();
            (0..rows.max(1))
                .step_by(ROWS_PER_TASK)
                .map(move |at| b.slice(at, ROWS_PER_TASK.min(rows - at)))
        })
        .collect()
}

impl StreamWriter for CsvSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(|| Error::Invalid {
            field: "sink",
            message: format!("{} is closed", self.path.display()),
        })?;
        let slices = slices(batches);
        let header = !self.header_written;
        let parts = slices
            .par_iter()
            .enumerate()
            .map(|(i, slice)| {
                let mut out = Vec::with_capacity(slice.num_rows() * 96);
                csv_writer(header && i == 0, &mut out).write(slice)?;
                Ok(out)
            })
            .collect::<Result<Vec<Vec<u8>>>>()?;
        for part in &parts {
            file.write_all(part).map_err(|e| Error::io(&self.path, e))?;
        }
        self.header_written |= !slices.is_empty();
        self.delivered += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush().map_err(|e| Error::io(&self.path, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;

    /// Every row once, the header once, the same bytes as one arrow-csv writer over
    /// all the rows: batches larger and smaller than a slice, and one without rows.
    #[test]
    fn parallel_slices_write_the_bytes_of_one_writer() {
        let batch = |from: i64, rows: i64| {
            let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + rows));
            let names: ArrayRef = Arc::new(StringArray::from_iter_values(
                (from..from + rows).map(|i| format!("n,{i}\"q\"")),
            ));
            let times: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
                (from..from + rows).map(|i| 1_700_000_000_000_000 + i * 1_500),
            ));
            RecordBatch::try_from_iter([("id", ids), ("name", names), ("at", times)]).unwrap()
        };
        let batches = [
            batch(0, 0),
            batch(0, 20_000),
            batch(20_000, 3),
            batch(20_003, 9_000),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut sink = CsvSink::new(&path).unwrap();
        sink.send_batches(&batches[..2]).unwrap();
        sink.send_batch(&batches[2]).unwrap();
        sink.send_batches(&batches[3..]).unwrap();
        sink.close().unwrap();
        let mut expected = Vec::new();
        let mut one = csv_writer(true, &mut expected);
        for b in &batches {
            one.write(b).unwrap();
        }
        drop(one);
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written, expected);
        assert_eq!(
            String::from_utf8(written).unwrap().lines().count(),
            1 + 29_003
        );
        assert_eq!(sink.delivered(), 29_003);
    }
}
