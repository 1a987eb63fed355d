//! The source side of a stream: a table's batches, put in event-time order chunk by
//! chunk (or gathered, injected and stably sorted), produced on their own thread.

use crate::anomaly::AnomalyRegistry;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use spindle_gen::{DomainPlan, Partition, Spindle};
use std::sync::Arc;

/// A table to stream: its batches in table order.
pub struct TableSource {
    /// Table name (becomes `_spindle_table`).
    pub name: String,
    /// Schema of every batch.
    pub schema: SchemaRef,
    /// The rows, in table order.
    pub batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    /// A timestamp column the rows already come in ascending order of, if known.
    pub ordered_by: Option<String>,
}

impl TableSource {
    /// A source over batches already in memory.
    pub fn from_batches(name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            name: name.to_string(),
            schema,
            batches: Box::new(batches.into_iter().map(Ok)),
            ordered_by: None,
        }
    }

    /// A generated table, produced chunk by chunk.
    ///
    /// # Errors
    /// An unknown table.
    pub fn generated(plan: Arc<dyn DomainPlan>, table: &str) -> Result<Self> {
        let spec = plan.domain().table(table)?.clone();
        let batches = Spindle::iter_table(
            plan,
            table,
            Partition::WHOLE,
            spindle_gen::DEFAULT_CHUNK_UNITS,
        )?;
        Ok(Self {
            name: spec.name.to_string(),
            schema: spec.schema.clone(),
            batches: Box::new(batches.map(|b| b.map_err(Error::from))),
            ordered_by: spec.ordered_by.map(str::to_string),
        })
    }
}

/// Pulls an iterator on its own thread, one item ahead, so producing the next chunk
/// (generation, sorting) overlaps with emitting this one. If that thread panics, the
/// last item is an error saying so: a run never ends early as if it were complete.
pub(super) struct Prefetch {
    receiver: std::sync::mpsc::Receiver<Chunk>,
    producer: Option<std::thread::JoinHandle<()>>,
}

impl Prefetch {
    pub(super) fn new(inner: Box<dyn Iterator<Item = Chunk> + Send>) -> Self {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let producer = std::thread::spawn(move || {
            for item in inner {
                if sender.send(item).is_err() {
                    break; // the run stopped early
                }
            }
        });
        Self {
            receiver,
            producer: Some(producer),
        }
    }
}

impl Iterator for Prefetch {
    type Item = Chunk;
    fn next(&mut self) -> Option<Chunk> {
        if let Ok(item) = self.receiver.recv() {
            return Some(item);
        }
        // The producer is done: finished, or dead.
        match self.producer.take()?.join() {
            Ok(()) => None,
            Err(panic) => Some(Err(Error::Panicked {
                thread: "the thread producing the table's chunks".into(),
                message: crate::error::panic_message(panic.as_ref()),
            })),
        }
    }
}

/// The event-time column: the one named (which must exist and hold times or text), or
/// the first timestamp column, or none.
pub fn event_time_column(
    table: &str,
    schema: &Schema,
    named: Option<&str>,
) -> Result<Option<String>> {
    match named {
        Some(name) => {
            let field = schema.field_with_name(name).map_err(|_| {
                Error::column("timestamp column", name, "does not exist", table, schema)
            })?;
            match field.data_type() {
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 | DataType::Utf8 => {
                    Ok(Some(name.to_string()))
                }
                other => Err(Error::column(
                    "timestamp column",
                    name,
                    format!("is {other}, not a timestamp, date or string"),
                    table,
                    schema,
                )),
            }
        }
        None => Ok(schema
            .fields()
            .iter()
            .find(|f| matches!(f.data_type(), DataType::Timestamp(..)))
            .map(|f| f.name().clone())),
    }
}

pub(super) type Chunk = Result<(RecordBatch, Int64Array)>;

/// The table's rows in event-time order, chunk by chunk, each with its `_spindle_seq`.
pub(super) fn ordered_chunks(
    source: TableSource,
    event_time: Option<&str>,
    anomalies: &AnomalyRegistry,
    seed: u64,
) -> Result<Box<dyn Iterator<Item = Chunk> + Send>> {
    let already_ordered = match event_time {
        None => true,
        Some(column) => source.ordered_by.as_deref() == Some(column),
    };
    if already_ordered && anomalies.is_empty() {
        let mut offset = 0i64;
        return Ok(Box::new(source.batches.map(move |b| {
            let b = b?;
            let seq = Int64Array::from_iter_values(offset..offset + b.num_rows() as i64);
            offset += b.num_rows() as i64;
            Ok((b, seq))
        })));
    }
    // Gather the whole table: anomalies pick rows and groups over all of it, and a
    // table not generated in event-time order has to be sorted.
    let schema = source.schema.clone();
    let batches = source.batches.collect::<Result<Vec<_>>>()?;
    let mut table = arrow_select::concat::concat_batches(&schema, &batches)?;
    drop(batches);
    if !anomalies.is_empty() {
        table = anomalies.inject(&table, &source.name, seed)?.batch;
    }
    let n = table.num_rows();
    let mut seq = Int64Array::from_iter_values(0..n as i64);
    if let Some(column) = event_time {
        if let Some(order) = stable_order(table.column_by_name(column).expect("checked"))? {
            let indices = arrow_array::UInt32Array::from(order);
            table = arrow_select::take::take_record_batch(&table, &indices)?;
            seq = arrow_cast::cast(&indices, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .clone();
        }
    }
    Ok(Box::new((0..n).step_by(super::STREAM_CHUNK_ROWS).map(
        move |at| {
            let len = super::STREAM_CHUNK_ROWS.min(n - at);
            Ok((table.slice(at, len), seq.slice(at, len)))
        },
    )))
}

/// A stable ascending order of `column` (nulls first), or `None` if already in order.
fn stable_order(column: &ArrayRef) -> Result<Option<Vec<u32>>> {
    let n = column.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    if let DataType::Utf8 = column.data_type() {
        let s = column.as_string::<i32>();
        let key = |i: u32| s.is_valid(i as usize).then(|| s.value(i as usize));
        if (1..n as u32).all(|i| key(i - 1) <= key(i)) {
            return Ok(None);
        }
        order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    } else {
        let ticks = arrow_cast::cast(column, &DataType::Int64)?;
        let t = ticks.as_primitive::<Int64Type>();
        let key = |i: u32| t.is_valid(i as usize).then(|| t.value(i as usize));
        if (1..n as u32).all(|i| key(i - 1) <= key(i)) {
            return Ok(None);
        }
        order.sort_by_key(|&i| key(i));
    }
    Ok(Some(order))
}
