//! The source side of a stream: a table's batches, put in event-time order chunk by
//! chunk (anomalies injected chunk by chunk too, after a survey pass), or gathered,
//! injected and stably sorted when the table does not come in event-time order;
//! produced on their own thread.

use crate::anomaly::{Anomaly, AnomalyRegistry, ColumnRead, Injector, Placement, Positioned};
use crate::batches::Batches;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use spindle_gen::{DomainPlan, InFlight, Partition, Spindle};
use std::collections::VecDeque;
use std::sync::Arc;

/// Rows per chunk when a gathered table is cut up again for streaming.
pub const STREAM_CHUNK_ROWS: usize = 65_536;

/// Reads some columns of a table from its start (see [`TableSource::columns`]).
pub type ColumnReader = Arc<dyn Fn(&[String]) -> Result<Batches> + Send + Sync>;

/// Makes a table's rows at the positions given, in that order (see
/// [`TableSource::rows_at`]).
pub type RowMaker = Arc<dyn Fn(&[u64]) -> Result<RecordBatch> + Send + Sync>;

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
    /// Makes rows at any positions, each on its own (a generated table: see
    /// [`DomainPlan::generate_rows`]). With [`TableSource::columns`], a stream whose
    /// collective anomalies move rows to other times makes each chunk in the order it
    /// is sent, instead of keeping the moved rows and merging them into the chunks.
    /// `None`: rows in table order only.
    pub rows_at: Option<RowMaker>,
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
            rows_at: None,
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
        let rows_at = plan.generates_rows(name).then(|| {
            let plan = plan.clone();
            Arc::new(move |rows: &[u64]| Ok(plan.generate_rows(name, rows)?)) as RowMaker
        });
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
            rows_at,
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

pub(super) type Chunk = Result<Positioned>;

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
            if let (Some(event_time), Some(columns), Some(rows_at)) =
                (merge_by, source.columns.clone(), source.rows_at.clone())
            {
                let anomalies = anomalies.clone();
                let event_time = event_time.to_string();
                let plan = move || {
                    let injector = anomalies.plan_placed(
                        &source.name,
                        &source.schema,
                        seed,
                        columns.as_ref(),
                        &event_time,
                    )?;
                    Ok(Placer {
                        keys: columns(&injector.placement_columns())?,
                        injector,
                        rows_at,
                        in_flight: InFlight::new(),
                        placements: VecDeque::new(),
                        placed_all: false,
                    })
                };
                return Ok(Box::new(Planned::new(plan)));
            }
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
                Ok(Injecting {
                    rows: (source.rows)()?.fuse(),
                    injector,
                    merge,
                    next: 0,
                })
            };
            return Ok(Box::new(Planned::new(plan)));
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
    Ok(Box::new((0..n).step_by(STREAM_CHUNK_ROWS).map(move |at| {
        let len = STREAM_CHUNK_ROWS.min(n - at);
        Ok((table.slice(at, len), seq.slice(at, len)))
    })))
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
    let kinds = || anomalies.anomalies().iter().map(Anomaly::as_kind);
    if kinds().any(|a| a.overwrites() == Some(column)) {
        return None;
    }
    if !kinds().any(|a| a.moves_rows()) {
        return Some(None);
    }
    let field = schema.field_with_name(column).ok()?;
    matches!(
        field.data_type(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
    .then_some(Some(column))
}

/// A table's chunks as sent, made by `S` once planned: the plan (the survey) is made by
/// the first call for a chunk, so on the thread producing the chunks (whose allocations
/// the stream then reuses). Chunks left empty are skipped; the first error ends it.
struct Planned<S> {
    stage: Stage<S>,
}

enum Stage<S> {
    Planning(Box<dyn FnOnce() -> Result<S> + Send>),
    Sending(Box<S>),
    Done,
}

/// Gives a planned table's chunks as sent (see [`Planned`]).
trait SendChunks {
    /// The next chunk (possibly empty), or `None` after the last.
    fn next_chunk(&mut self) -> Result<Option<Positioned>>;
}

impl<S: SendChunks> Planned<S> {
    fn new(plan: impl FnOnce() -> Result<S> + Send + 'static) -> Self {
        Self {
            stage: Stage::Planning(Box::new(plan)),
        }
    }
}

impl<S: SendChunks> Iterator for Planned<S> {
    type Item = Chunk;
    fn next(&mut self) -> Option<Chunk> {
        loop {
            let chunks = match &mut self.stage {
                Stage::Planning(_) => {
                    let Stage::Planning(plan) = std::mem::replace(&mut self.stage, Stage::Done)
                    else {
                        unreachable!("matched above")
                    };
                    match plan() {
                        Ok(chunks) => self.stage = Stage::Sending(Box::new(chunks)),
                        Err(e) => return Some(Err(e)),
                    }
                    continue;
                }
                Stage::Sending(chunks) => chunks,
                Stage::Done => return None,
            };
            match chunks.next_chunk() {
                Ok(Some((b, _))) if b.num_rows() == 0 => continue,
                Ok(Some(chunk)) => return Some(Ok(chunk)),
                Ok(None) => {
                    self.stage = Stage::Done;
                    return None;
                }
                Err(e) => {
                    self.stage = Stage::Done;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A table injected chunk by chunk as read in table order (see [`Injector`]).
struct Injecting {
    rows: std::iter::Fuse<Batches>,
    injector: Injector,
    /// The moved rows are merged in by event time (else put back in their place).
    merge: bool,
    /// Table position of the next chunk's first row.
    next: i64,
}

impl SendChunks for Injecting {
    fn next_chunk(&mut self) -> Result<Option<Positioned>> {
        let Some(batch) = self.rows.next() else {
            return self.injector.rest();
        };
        let b = batch?;
        if self.merge {
            return Ok(Some(self.injector.merged(&b)?));
        }
        let n = b.num_rows() as i64;
        let seq = Int64Array::from_iter_values(self.next..self.next + n);
        self.next += n;
        Ok(Some((self.injector.in_place(&b)?, seq)))
    }
}

/// A table injected chunk by chunk, each chunk made in the order it is sent (see
/// [`Injector::place`]); its rows made on the pool, a window of chunks ahead.
struct Placer {
    /// The columns [`Injector::place`] reads, chunk by chunk.
    keys: Batches,
    injector: Injector,
    rows_at: RowMaker,
    in_flight: InFlight<Result<RecordBatch>>,
    /// The placement of each chunk in flight, in order.
    placements: VecDeque<Placement>,
    /// Every chunk, and the moved rows sent after the last, has been placed.
    placed_all: bool,
}

impl Placer {
    /// Places chunks and starts making their rows until the window is full.
    fn fill(&mut self) -> Result<()> {
        while self.in_flight.has_room() && !self.placed_all {
            let placement = match self.keys.next() {
                Some(chunk) => self.injector.place(&chunk?)?,
                None => {
                    self.placed_all = true;
                    match self.injector.rest_placed()? {
                        Some(placement) => placement,
                        None => break,
                    }
                }
            };
            let (rows_at, positions) = (self.rows_at.clone(), placement.positions.clone());
            self.in_flight.start(move || rows_at(&positions));
            self.placements.push_back(placement);
        }
        Ok(())
    }
}

impl SendChunks for Placer {
    fn next_chunk(&mut self) -> Result<Option<Positioned>> {
        self.fill()?;
        let Some(pending) = self.in_flight.pop() else {
            return Ok(None);
        };
        let placement = self.placements.pop_front().expect("one for each in flight");
        // Start the chunk that takes the freed place before waiting on this one.
        self.fill()?;
        let rows = pending.wait()?;
        Ok(Some(self.injector.finish_placed(&rows, &placement)?))
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
