//! [`SpindleStreamer`]: a table in, an ordered stream of labelled events out.
//!
//! The stages, all on Arrow batches:
//! 1. the table's rows in event-time order: generated tables that come in that order
//!    (`order` by `order_date`) stream chunk by chunk; other tables, and any table with
//!    anomalies, are gathered whole, injected, and stably sorted (this is the memory
//!    cost: the whole table);
//! 2. metadata columns `_spindle_table`, `_spindle_seq` (row position before sorting)
//!    and `_spindle_event_time`;
//! 3. the out-of-order permutation, then `max_events`;
//! 4. emission, as fast as the sink takes it or paced in real time.

use crate::anomaly::{ANOMALY_TYPE, AnomalyRegistry, IS_ANOMALY};
use crate::config::StreamConfig;
use crate::error::{Error, Result};
use crate::ooo::{OutOfOrder, count_late};
use crate::pacer::Pacer;
use crate::result::{StopReason, StreamResult};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use spindle_gen::{Domain, DomainPlan, Partition, Scale, Spindle};
use spindle_sinks::StreamWriter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Rows per chunk when a gathered table is cut up again for streaming.
pub const STREAM_CHUNK_ROWS: usize = 65_536;

pub use spindle_sinks::event::{
    EVENT_TIME as META_EVENT_TIME, SEQ as META_SEQ, TABLE as META_TABLE,
};

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

enum Tables {
    Domain(Arc<dyn DomainPlan>),
    Memory(Vec<(String, SchemaRef, Vec<RecordBatch>)>),
}

/// Streams tables through a sink as events.
///
/// # Examples
/// ```
/// use spindle_gen::{RetailDomain, Scale};
/// use spindle_sinks::{ConsoleSink, StreamWriter};
/// use spindle_stream::{SpindleStreamer, StreamConfig};
///
/// let sink = ConsoleSink::new(Box::new(std::io::sink()), "null");
/// let mut streamer = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 42, Box::new(sink))
///     .unwrap()
///     .with_config(StreamConfig { max_events: Some(500), out_of_order_fraction: 0.05, ..Default::default() });
/// let result = streamer.stream("order", None).unwrap();
/// assert_eq!(result.events_sent, 500);
/// ```
pub struct SpindleStreamer {
    tables: Tables,
    sink: Box<dyn StreamWriter>,
    config: StreamConfig,
    anomalies: AnomalyRegistry,
    seed: u64,
    stop: Arc<AtomicBool>,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
    pacer_options: crate::pacer::PacerOptions,
}

impl SpindleStreamer {
    fn with_tables(tables: Tables, seed: u64, sink: Box<dyn StreamWriter>) -> Self {
        Self {
            tables,
            sink,
            config: StreamConfig::default(),
            anomalies: AnomalyRegistry::default(),
            seed,
            stop: Arc::new(AtomicBool::new(false)),
            progress: None,
            pacer_options: Default::default(),
        }
    }

    /// Streams tables generated from `domain` at `scale` with `seed`.
    ///
    /// # Errors
    /// Invalid counts.
    pub fn from_domain(
        domain: &dyn Domain,
        scale: Scale,
        seed: u64,
        sink: Box<dyn StreamWriter>,
    ) -> Result<Self> {
        Ok(Self::from_plan(domain.plan(scale, seed)?, sink))
    }

    /// Streams tables of an already planned domain.
    pub fn from_plan(plan: Arc<dyn DomainPlan>, sink: Box<dyn StreamWriter>) -> Self {
        let seed = plan.seed();
        Self::with_tables(Tables::Domain(plan), seed, sink)
    }

    /// A streamer with no tables of its own, for [`SpindleStreamer::stream_source`]
    /// (e.g. a SQL query's result); seed 42 unless set.
    pub fn for_sources(sink: Box<dyn StreamWriter>) -> Self {
        Self::with_tables(Tables::Memory(Vec::new()), 42, sink)
    }

    /// Streams tables the caller already has, as `(name, batches)`; seed 42 unless set.
    ///
    /// # Errors
    /// A table with no batches (its schema is unknown) or batches of differing schemas.
    pub fn from_tables(
        tables: Vec<(String, Vec<RecordBatch>)>,
        sink: Box<dyn StreamWriter>,
    ) -> Result<Self> {
        let tables = tables
            .into_iter()
            .map(|(name, batches)| {
                let schema = batches.first().map(RecordBatch::schema).ok_or_else(|| {
                    Error::invalid("tables", format!("table '{name}' has no batches"))
                })?;
                if batches
                    .iter()
                    .any(|b| b.schema().fields() != schema.fields())
                {
                    return Err(Error::invalid(
                        "tables",
                        format!("batches of table '{name}' differ in schema"),
                    ));
                }
                Ok((name, schema, batches))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::with_tables(Tables::Memory(tables), 42, sink))
    }

    /// Uses `config` (checked when a stream starts).
    pub fn with_config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Injects `anomalies` into every table streamed.
    pub fn with_anomalies(mut self, anomalies: AnomalyRegistry) -> Self {
        self.anomalies = anomalies;
        self
    }

    /// Seeds the out-of-order and anomaly draws.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Realtime pacing options beyond [`StreamConfig`].
    pub fn with_pacer_options(mut self, options: crate::pacer::PacerOptions) -> Self {
        self.pacer_options = options;
        self
    }

    /// A flag that, once set, ends the run after the events already sent are flushed.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Calls `progress(events_sent)` after every send.
    pub fn with_progress(mut self, progress: impl FnMut(u64) + Send + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// The sink.
    pub fn sink_mut(&mut self) -> &mut dyn StreamWriter {
        self.sink.as_mut()
    }

    /// Closes the sink.
    ///
    /// # Errors
    /// The sink failed to flush.
    pub fn close(&mut self) -> Result<()> {
        Ok(self.sink.close()?)
    }

    /// The tables available, in generation order.
    pub fn table_names(&self) -> Vec<String> {
        match &self.tables {
            Tables::Domain(plan) => plan
                .domain()
                .table_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Tables::Memory(t) => t.iter().map(|(n, _, _)| n.clone()).collect(),
        }
    }

    fn source(&self, table: &str) -> Result<TableSource> {
        match &self.tables {
            Tables::Domain(plan) => TableSource::generated(plan.clone(), table),
            Tables::Memory(tables) => tables
                .iter()
                .find(|(n, _, _)| n == table)
                .map(|(n, schema, batches)| {
                    TableSource::from_batches(n, schema.clone(), batches.clone())
                })
                .ok_or_else(|| Error::UnknownTable {
                    name: table.to_string(),
                    allowed: self.table_names().join(", "),
                }),
        }
    }

    /// Streams every row of `table`. Event time is `timestamp_column`, or the table's
    /// first timestamp column; a table with neither keeps table order.
    ///
    /// # Errors
    /// An unknown table or column, invalid settings, a sink failure.
    pub fn stream(&mut self, table: &str, timestamp_column: Option<&str>) -> Result<StreamResult> {
        let source = self.source(table)?;
        self.stream_source(source, timestamp_column)
    }

    /// Streams every table in generation order; `timestamp_column` applies to the tables
    /// that have it.
    ///
    /// # Errors
    /// As [`SpindleStreamer::stream`]; stops at the first failure.
    pub fn stream_all(&mut self, timestamp_column: Option<&str>) -> Result<Vec<StreamResult>> {
        let mut results = Vec::new();
        for table in self.table_names() {
            let source = self.source(&table)?;
            let column = timestamp_column.filter(|c| source.schema.index_of(c).is_ok());
            let result = self.stream_source(source, column)?;
            let stop = result.stop_reason;
            results.push(result);
            if matches!(stop, StopReason::Interrupted | StopReason::ReaderClosed) {
                break;
            }
        }
        Ok(results)
    }

    /// Streams any [`TableSource`] (generated, in memory, or a query's result).
    ///
    /// # Errors
    /// As [`SpindleStreamer::stream`].
    pub fn stream_source(
        &mut self,
        source: TableSource,
        timestamp_column: Option<&str>,
    ) -> Result<StreamResult> {
        self.config.validate()?;
        self.pacer_options.validate()?;
        let table = source.name.clone();
        let event_time = event_time_column(&table, &source.schema, timestamp_column)?;
        if !self.anomalies.is_empty() {
            self.anomalies.check(&table, &source.schema)?;
        }
        let started = Instant::now();
        let delivered_before = self.sink.delivered();
        let mut run = Run {
            config: &self.config,
            sink: self.sink.as_mut(),
            stop: &self.stop,
            progress: &mut self.progress,
            pacer: self.config.realtime.then(|| {
                Pacer::new(
                    &self.config,
                    &self.pacer_options,
                    self.seed,
                    event_time.clone(),
                )
            }),
            started,
            emitted: 0,
            anomalies: 0,
            late: 0,
            running_max: None,
            reason: StopReason::Completed,
        };
        let mut ooo = (self.config.out_of_order_fraction > 0.0).then(|| {
            OutOfOrder::new(
                self.config.out_of_order_fraction,
                self.config.out_of_order_max_delay_slots,
                self.seed,
            )
        });
        let chunks = Prefetch::new(ordered_chunks(
            source,
            event_time.as_deref(),
            &self.anomalies,
            self.seed,
        )?);
        let mut flow = Flow::Continue;
        for chunk in chunks {
            let (payload, seq) = chunk?;
            let events = with_metadata(&payload, seq, &table, event_time.as_deref())?;
            flow = match ooo.as_mut() {
                Some(o) => {
                    let r = o.push(&events)?;
                    run.emit(r.batch, Some(&r.positions))?
                }
                None => run.emit(events, None)?,
            };
            if flow == Flow::Stop {
                break;
            }
        }
        if flow == Flow::Continue {
            if let Some(rest) = ooo.as_mut().map(OutOfOrder::finish).transpose()?.flatten() {
                run.emit(rest.batch, Some(&rest.positions))?;
            }
        }
        let reason = run.reason;
        let (anomalies, late) = (run.anomalies, run.late);
        let lateness = run
            .pacer
            .as_ref()
            .and_then(|p| crate::result::Lateness::of(p.lateness()));
        let run_started = run.pacer.as_ref().and_then(Pacer::started);
        match self.sink.flush() {
            Err(spindle_sinks::Error::Closed(_)) | Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
        // A realtime run is timed from its first emission (as the reference times its
        // emit loop); a fast run from the start, preparation included.
        let elapsed = run_started
            .map_or_else(|| started.elapsed(), |s| s.elapsed())
            .as_secs_f64();
        let sent = self.sink.delivered() - delivered_before;
        Ok(StreamResult {
            table,
            events_sent: sent,
            anomaly_count: anomalies,
            out_of_order_count: late,
            elapsed_seconds: elapsed,
            events_per_second_actual: if elapsed > 0.0 {
                sent as f64 / elapsed
            } else {
                0.0
            },
            stop_reason: reason,
            lateness,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The state of one run's emission stage.
struct Run<'a> {
    config: &'a StreamConfig,
    sink: &'a mut dyn StreamWriter,
    stop: &'a AtomicBool,
    progress: &'a mut Option<Box<dyn FnMut(u64) + Send>>,
    pacer: Option<Pacer>,
    started: Instant,
    emitted: u64,
    anomalies: u64,
    late: u64,
    running_max: Option<u64>,
    reason: StopReason,
}

impl Run<'_> {
    fn emit(&mut self, batch: RecordBatch, positions: Option<&[u64]>) -> Result<Flow> {
        if self.stop.load(Ordering::Relaxed) {
            self.reason = StopReason::Interrupted;
            return Ok(Flow::Stop);
        }
        let mut batch = batch;
        let mut limited = false;
        if let Some(max) = self.config.max_events {
            let room = max.saturating_sub(self.emitted) as usize;
            if batch.num_rows() >= room {
                batch = batch.slice(0, room);
                limited = true;
            }
        }
        if let Ok(schema_index) = batch.schema().index_of(IS_ANOMALY) {
            let labels = batch.column(schema_index).as_boolean();
            self.anomalies += labels.true_count() as u64;
            if !self.config.label_anomalies {
                let keep: Vec<usize> = (0..batch.num_columns())
                    .filter(|&i| {
                        let name = batch.schema().field(i).name().clone();
                        name != IS_ANOMALY && name != ANOMALY_TYPE
                    })
                    .collect();
                batch = batch.project(&keep)?;
            }
        }
        let flow = match self.pacer.as_mut() {
            Some(pacer) => {
                let outcome = pacer.emit(
                    &batch,
                    positions,
                    self.sink,
                    self.stop,
                    self.progress,
                    self.emitted,
                )?;
                self.count_late(positions, outcome.sent as usize);
                self.emitted += outcome.sent;
                match outcome.stopped {
                    Some(reason) => {
                        self.reason = reason;
                        Flow::Stop
                    }
                    None => Flow::Continue,
                }
            }
            None => self.send_fast(&batch, positions)?,
        };
        if flow == Flow::Continue && limited {
            self.reason = StopReason::MaxEvents;
            return Ok(Flow::Stop);
        }
        Ok(flow)
    }

    fn count_late(&mut self, positions: Option<&[u64]>, sent: usize) {
        if let Some(p) = positions {
            self.late += count_late(&p[..sent.min(p.len())], &mut self.running_max);
        }
    }

    fn send_fast(&mut self, batch: &RecordBatch, positions: Option<&[u64]>) -> Result<Flow> {
        let size = self.config.batch_size;
        let slices: Vec<RecordBatch> = (0..batch.num_rows())
            .step_by(size)
            .map(|at| batch.slice(at, size.min(batch.num_rows() - at)))
            .collect();
        match self.sink.send_batches(&slices) {
            Ok(()) => {}
            Err(spindle_sinks::Error::Closed(_)) => {
                self.reason = StopReason::ReaderClosed;
                return Ok(Flow::Stop);
            }
            Err(e) => return Err(e.into()),
        }
        self.count_late(positions, batch.num_rows());
        self.emitted += batch.num_rows() as u64;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.emitted);
        }
        if self
            .config
            .duration_seconds
            .is_some_and(|d| self.started.elapsed().as_secs_f64() >= d)
        {
            self.reason = StopReason::Duration;
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }
}

/// Pulls an iterator on its own thread, one item ahead, so producing the next chunk
/// (generation, sorting) overlaps with emitting this one. If that thread panics, the
/// last item is an error saying so: a run never ends early as if it were complete.
struct Prefetch {
    receiver: std::sync::mpsc::Receiver<Chunk>,
    producer: Option<std::thread::JoinHandle<()>>,
}

impl Prefetch {
    fn new(inner: Box<dyn Iterator<Item = Chunk> + Send>) -> Self {
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

type Chunk = Result<(RecordBatch, Int64Array)>;

/// The table's rows in event-time order, chunk by chunk, each with its `_spindle_seq`.
fn ordered_chunks(
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
    Ok(Box::new((0..n).step_by(STREAM_CHUNK_ROWS).map(move |at| {
        let len = STREAM_CHUNK_ROWS.min(n - at);
        Ok((table.slice(at, len), seq.slice(at, len)))
    })))
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

/// `payload` followed by `_spindle_table`, `_spindle_seq` and `_spindle_event_time`.
/// Metadata columns the payload already has (a replayed stream) are replaced.
pub fn with_metadata(
    payload: &RecordBatch,
    seq: Int64Array,
    table: &str,
    event_time: Option<&str>,
) -> Result<RecordBatch> {
    let schema = payload.schema();
    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(schema.fields().len() + 3);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
    for (field, column) in schema.fields().iter().zip(payload.columns()) {
        if ![META_TABLE, META_SEQ, META_EVENT_TIME].contains(&field.name().as_str()) {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    let n = payload.num_rows();
    fields.push(Arc::new(Field::new(META_TABLE, DataType::Utf8, false)));
    columns.push(Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(table, n),
    )));
    fields.push(Arc::new(Field::new(META_SEQ, DataType::Int64, false)));
    columns.push(Arc::new(seq));
    if let Some(column) = event_time {
        let index = schema.index_of(column)?;
        let field = schema.field(index);
        fields.push(Arc::new(Field::new(
            META_EVENT_TIME,
            field.data_type().clone(),
            true,
        )));
        columns.push(payload.column(index).clone());
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
