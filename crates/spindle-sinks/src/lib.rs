//! Where Spindle's event streams go.
//!
//! Every sink takes whole Arrow [`RecordBatch`]es of events (payload columns, then the
//! anomaly labels, then the `_spindle_*` metadata) through the [`StreamWriter`] trait;
//! a row is formatted only inside a sink, and sinks format whole batches.

pub mod console;
pub mod csv_sink;
pub mod error;
pub mod file;
pub mod json;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod parquet_sink;

pub use console::ConsoleSink;
pub use csv_sink::CsvSink;
pub use error::{Error, Result};
pub use file::{FileMode, FileSink};
pub use json::{JsonEncoder, JsonLayout};
#[cfg(feature = "kafka")]
pub use kafka::{EventHubOptions, EventHubSink, KafkaOptions, KafkaSink};
pub use parquet_sink::{ParquetCompression, ParquetOptions, ParquetSink};

use arrow_array::RecordBatch;

/// A destination for events.
pub trait StreamWriter: Send {
    /// Sends every row of `batch` as one event.
    ///
    /// # Errors
    /// The destination failed; [`Error::Closed`] when its reader went away.
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Sends several batches in order, as that many [`StreamWriter::send_batch`] calls.
    /// Sinks that format text override it to format the batches in parallel.
    ///
    /// # Errors
    /// As [`StreamWriter::send_batch`]; batches after a failing one are not sent.
    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        batches.iter().try_for_each(|b| self.send_batch(b))
    }

    /// Sends row `row` of `batch` as one event.
    ///
    /// # Errors
    /// As [`StreamWriter::send_batch`].
    fn send(&mut self, batch: &RecordBatch, row: usize) -> Result<()> {
        self.send_batch(&batch.slice(row, 1))
    }

    /// Pushes buffered events to the destination.
    ///
    /// # Errors
    /// As [`StreamWriter::send_batch`].
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Flushes and releases the destination; later sends are errors.
    ///
    /// # Errors
    /// As [`StreamWriter::send_batch`].
    fn close(&mut self) -> Result<()>;

    /// Events the destination has taken (written, or acknowledged by a broker).
    fn delivered(&self) -> u64;

    /// A short description for messages and summaries (`file:events.jsonl`).
    fn describe(&self) -> String;
}

impl<W: StreamWriter + ?Sized> StreamWriter for Box<W> {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        (**self).send_batch(batch)
    }
    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        (**self).send_batches(batches)
    }
    fn send(&mut self, batch: &RecordBatch, row: usize) -> Result<()> {
        (**self).send(batch, row)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn close(&mut self) -> Result<()> {
        (**self).close()
    }
    fn delivered(&self) -> u64 {
        (**self).delivered()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// The `_spindle_table` value of the first row of `batch`, if the column is there.
pub fn table_of(batch: &RecordBatch) -> Option<String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let column = batch.column_by_name("_spindle_table")?;
    let strings = column.as_string_opt::<i32>()?;
    (!strings.is_empty() && strings.is_valid(0)).then(|| strings.value(0).to_string())
}
