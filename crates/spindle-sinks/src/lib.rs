//! Where Spindle's event streams go.
//!
//! Every sink takes whole Arrow [`RecordBatch`]es of events (payload columns, then the
//! anomaly labels, then the `_spindle_*` metadata) through the [`StreamWriter`] trait;
//! a row is formatted only inside a sink, and sinks format whole batches.

mod address;
#[cfg(feature = "avro")]
mod avro_schema;
#[cfg(feature = "avro")]
mod avro_sink;
mod console;
mod csv_sink;
mod error;
pub mod event;
mod file;
mod json;
#[cfg(feature = "kafka")]
mod json_schema;
#[cfg(feature = "kafka")]
mod kafka;
#[cfg(feature = "kafka")]
mod kafka_format;
#[cfg(feature = "parquet")]
mod parquet_sink;
mod per_table;
#[cfg(feature = "kafka")]
mod protobuf;
#[cfg(feature = "kafka")]
mod schema_registry;
#[cfg(all(test, feature = "kafka"))]
mod test_fixtures;

pub use address::{SINK_ADDRESS_FORMS, SinkAddress, SinkOpenOptions};
#[cfg(feature = "avro")]
pub use avro_sink::AvroSink;
pub use console::ConsoleSink;
pub use csv_sink::CsvSink;
pub use error::{Error, Result};
pub use file::{FileMode, FileSink};
pub use json::{BufferPool, JsonEncoder, JsonLayout, JsonLines, SharedEvents, envelope_tables};
#[cfg(feature = "kafka")]
pub use kafka::{
    EventHubOptions, EventHubSink, KafkaOptions, KafkaSink, MetadataPlace, RecordTime,
};
#[cfg(feature = "kafka")]
pub use kafka_format::{SubjectNaming, ValueFormat};
#[cfg(feature = "parquet")]
pub use parquet_sink::{ParquetCompression, ParquetOptions, ParquetSink};
pub use per_table::{OpenSink, PerTableSink};
#[cfg(feature = "kafka")]
pub use schema_registry::{REGISTRY_AUTH_ENV, REGISTRY_TOKEN_ENV};

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

    /// Sends events that other sinks are sent too (a fan-out). A sink that writes JSON
    /// lines takes their shared encoding ([`SharedEvents::json_lines`]: made once, by
    /// the first sink that asks); the default sends the batches.
    ///
    /// # Errors
    /// As [`StreamWriter::send_batch`].
    fn send_shared(&mut self, events: &SharedEvents) -> Result<()> {
        self.send_batches(events.batches())
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

    /// Whether the sink writes an interleaved stream's envelopes itself: batches whose
    /// first column is a dense union of structs, one per table
    /// ([`json::envelope_tables`]), each row written as its table's own columns and
    /// then the batch's others. JSON-lines sinks do; any other sink is sent runs of one
    /// table instead.
    fn writes_envelopes(&self) -> bool {
        false
    }
}

impl<W: StreamWriter + ?Sized> StreamWriter for Box<W> {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        (**self).send_batch(batch)
    }
    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        (**self).send_batches(batches)
    }
    fn send_shared(&mut self, events: &SharedEvents) -> Result<()> {
        (**self).send_shared(events)
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
    fn writes_envelopes(&self) -> bool {
        (**self).writes_envelopes()
    }
}

/// `batches` cut and gathered into groups of `size` rows, the first of `first` rows (the
/// last may hold fewer); slices share the batches' memory. Empty batches are dropped.
pub(crate) fn regroup(batches: &[RecordBatch], first: usize, size: usize) -> Vec<Vec<RecordBatch>> {
    let (mut groups, mut current, mut room) = (Vec::new(), Vec::new(), first.max(1));
    for batch in batches {
        let mut at = 0;
        while at < batch.num_rows() {
            let take = room.min(batch.num_rows() - at);
            current.push(batch.slice(at, take));
            (at, room) = (at + take, room - take);
            if room == 0 {
                groups.push(std::mem::take(&mut current));
                room = size.max(1);
            }
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int64Array};
    use std::sync::Arc;

    #[test]
    fn regroup_cuts_exact_groups_and_keeps_every_row_in_order() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "v",
            arrow_schema::DataType::Int64,
            false,
        )]));
        let mut next = 0;
        let batches: Vec<RecordBatch> = [7, 0, 250, 1, 100, 42]
            .iter()
            .map(|&n| {
                let values = Int64Array::from_iter_values(next..next + n);
                next += n;
                RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        let groups = regroup(&batches, 30, 64);
        let sizes: Vec<usize> = groups
            .iter()
            .map(|g| g.iter().map(RecordBatch::num_rows).sum())
            .collect();
        assert_eq!(sizes, [30, 64, 64, 64, 64, 64, 50]);
        let values: Vec<i64> = groups
            .iter()
            .flatten()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect();
        assert_eq!(values, (0..next).collect::<Vec<_>>());
        assert!(groups.iter().flatten().all(|b| b.num_rows() > 0));
    }
}
