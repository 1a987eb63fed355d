//! The source side of a stream: a table's batches, put in event-time order chunk by
//! chunk (anomalies injected chunk by chunk too, after a survey pass), or gathered,
//! injected and stably sorted when the table does not come in event-time order;
//! produced on their own thread.

use crate::anomaly::{Anomaly, AnomalyRegistry, ColumnRead, Injector};
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use spindle_gen::{DomainPlan, Partition, Spindle};
use std::sync::Arc;

/// A table's batches in table order.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// Reads some columns of a table from its start (see [`TableSource::columns`]).
pub type ColumnReader = Arc<dyn Fn(&[String]) -> Result<Batches> + Send + Sync>;

/// A table to stream: its batches in table order, as many times as asked.
pub struct TableSource {
    /// Table name (becomes `_spindle_table`).
    pub name: String,
    /// Schema of every batch.
    pub schema: SchemaRef,
    /// Reads the rows from the start, in table order. A stream reads once, or twice
    /// with anomalies (a survey pass first), so every read must give the same rows in
    /// the same order.
    pub rows: Arc<dyn Fn() -> Result<Batches> + Send + Sync>,
    /// Reads just the columns named (in that order) from the start, in table order,
    /// where the source makes them more cheaply than whole rows (a generated table:
    /// see [`DomainPlan::generate_columns`]). The survey before anomaly injection
    /// reads what it needs this way when it keeps no rows. `None`: whole rows only.
    pub columns: Option<ColumnReader>,
    /// A timestamp column the rows already come in ascending order of, if known.
    pub ordered_by: Option<String>,
}

impl TableSource {
    /// A source over batches already in memory.
    pub fn from_batches(name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            name: name.to_string(),
            schema,
            rows: Arc::new(move || Ok(Box::new(batches.clone().into_iter().map(Ok)))),
            columns: None,
            ordered_by: None,
        }
    }

    /// A generated table, produced chunk by chunk.
    ///
    /// # Errors
    /// An unknown table.
    pub fn generated(plan: Arc<dyn DomainPlan>, table: &str) -> Result<Self> {
        let spec = plan.domain().table(table)?.clone();
        let name = spec.name;
        let columns_plan = plan.clone();
        Ok(Self {
            name: name.to_string(),
            schema: spec.schema.clone(),
            rows: Arc::new(move || {
                let batches = Spindle::iter_table(
                    plan.clone(),
                    name,
                    Partition::WHOLE,
                    spindle_gen::DEFAULT_CHUNK_UNITS,
                )?;
                Ok(Box::new(batches.map(|b| b.map_err(Error::from))))
            }),
            columns: Some(Arc::new(move |columns: &[String]| {
                let batches = Spindle::iter_table_columns(
                    columns_plan.clone(),
                    name,
                    columns,
                    Partition::WHOLE,
                    spindle_gen::DEFAULT_CHUNK_UNITS,
                )?;
                Ok(Box::new(batches.map(|b| b.map_err(Error::from))) as Batches)
            })),
            ordered_by: spec.ordered_by.map(str::to_string),
        })
    }
}

/// Pulls an iterator on its own thread, one item ahead, so producing the next chunk
/// (generation, sorting) overlaps with emitting this one. If that thread panics, the
/// last item is an error saying so: a run never ends early as if it were complete.
pub(super) struct Prefetch<T> {
    receiver: std::sync::mpsc::Receiver<Result<T>>,
    producer: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Prefetch<T> {
    pub(super) fn new(inner: Box<dyn Iterator<Item = Result<T>> + Send>) -> Self {
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

impl<T> Iterator for Prefetch<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
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

/// The event time of a stream that orders several tables or a row's changes in time:
/// as [`event_time_column`], or else the first date column.
pub(super) fn time_or_date_column(
    table: &str,
    schema: &Schema,
    named: Option<&str>,
) -> Result<Option<String>> {
    Ok(event_time_column(table, schema, named)?.or_else(|| {
        schema
            .fields()
            .iter()
            .find(|f| matches!(f.data_type(), DataType::Date32 | DataType::Date64))
            .map(|f| f.name().clone())
    }))
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
        return Ok(Box::new((source.rows)()?.map(move |b| {
            let b = b?;
            let seq = Int64Array::from_iter_values(offset..offset + b.num_rows() as i64);
            offset += b.num_rows() as i64;
            Ok((b, seq))
        })));
    }
    if already_ordered {
        if let Some(merge_by) = injection_order(&source.schema, event_time, anomalies) {
            let anomalies = anomalies.clone();
            let merge_by = merge_by.map(str::to_string);
            let merge = merge_by.is_some();
            let plan = move || {
                let mut injector = anomalies.plan(
                    &source.name,
                    &source.schema,
                    seed,
                    source.rows.as_ref(),
                    source.columns.as_deref().map(|read| read as ColumnRead<'_>),
                )?;
                if let Some(column) = &merge_by {
                    injector.merge_by(column)?;
                }
                Ok(((source.rows)()?, injector))
            };
            return Ok(Box::new(Injecting {
                stage: Stage::Planning(Box::new(plan)),
                merge,
                next: 0,
            }));
        }
    }
    // Gather the whole table: it has to be sorted.
    let schema = source.schema.clone();
    let batches = (source.rows)()?.collect::<Result<Vec<_>>>()?;
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

/// How a table already in event-time order gets its anomalies chunk by chunk: with
/// the rows collective anomalies move merged back by `event_time` (`Some(column)`), or
/// in their place (`Some(None)`: no event time, or nothing moves); `None` when that
/// cannot keep the order (an anomaly writes the event-time column, or rows move by an
/// event time that is text), and the table must be gathered and sorted.
fn injection_order<'a>(
    schema: &Schema,
    event_time: Option<&'a str>,
    anomalies: &AnomalyRegistry,
) -> Option<Option<&'a str>> {
    let Some(column) = event_time else {
        return Some(None);
    };
    let mut moves = false;
    for a in anomalies.anomalies() {
        match a {
            Anomaly::Contextual(c) if c.column == column => return None,
            Anomaly::Collective(_) => moves = true,
            _ => {}
        }
    }
    if !moves {
        return Some(None);
    }
    let field = schema.field_with_name(column).ok()?;
    matches!(
        field.data_type(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
    .then_some(Some(column))
}

/// A table injected chunk by chunk (see [`Injector`]).
struct Injecting {
    stage: Stage,
    merge: bool,
    /// Table position of the next chunk's first row.
    next: i64,
}

enum Stage {
    /// Surveys the table and opens its second read: done by the first call for a
    /// chunk, so on the thread producing the chunks (whose allocations the stream then
    /// reuses).
    Planning(Box<dyn FnOnce() -> Result<(Batches, Injector)> + Send>),
    Injecting(Batches, Box<Injector>),
    Done,
}

impl Iterator for Injecting {
    type Item = Chunk;
    fn next(&mut self) -> Option<Chunk> {
        loop {
            let (rows, injector) = match &mut self.stage {
                Stage::Planning(_) => {
                    let Stage::Planning(plan) = std::mem::replace(&mut self.stage, Stage::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let (rows, injector) = match plan() {
                        Ok(started) => started,
                        Err(e) => return Some(Err(e)),
                    };
                    self.stage = Stage::Injecting(rows, Box::new(injector));
                    continue;
                }
                Stage::Injecting(rows, injector) => (rows, injector),
                Stage::Done => return None,
            };
            let Some(batch) = rows.next() else {
                let rest = injector.rest().transpose();
                self.stage = Stage::Done;
                return rest;
            };
            let chunk = batch.and_then(|b| {
                if self.merge {
                    injector.merged(&b)
                } else {
                    let n = b.num_rows() as i64;
                    let seq = Int64Array::from_iter_values(self.next..self.next + n);
                    self.next += n;
                    Ok((injector.in_place(&b)?, seq))
                }
            });
            match chunk {
                Ok((b, _)) if b.num_rows() == 0 => continue,
                Err(e) => {
                    self.stage = Stage::Done;
                    return Some(Err(e));
                }
                chunk => return Some(chunk),
            }
        }
    }
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
