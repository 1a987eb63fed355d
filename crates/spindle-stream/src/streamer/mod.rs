//! [`SpindleStreamer`]: a table in, an ordered stream of labelled events out.
//!
//! The stages, all on Arrow batches:
//! 1. the table's rows in event-time order, with their anomalies: tables that come in
//!    that order (`order` by `order_date`) stream chunk by chunk (with anomalies, after
//!    a survey pass over the table, the events collective anomalies move merged back
//!    at their new times); other tables are gathered whole, injected, and stably sorted
//!    (this is the memory cost: the whole table);
//! 2. metadata columns `_spindle_table`, `_spindle_seq` (row position before sorting)
//!    and `_spindle_event_time`; or, for a change stream ([`crate::cdc`]), the rows'
//!    changes as Debezium events; or, for several tables interleaved (`interleave`),
//!    each table's events as a lane, merged by event time into envelopes;
//! 3. delivery ([`crate::delivery`]): late events, duplicates, drops and watermarks,
//!    then `max_events`;
//! 4. a partitioned run's share: part `i` of `N` sends every `N`-th event of the run
//!    from its `i`-th, each at its instant in the run's schedule, so that the parts
//!    together send exactly one run's events on one run's clock;
//! 5. emission, as fast as the sink takes it or paced in real time; dropped events go
//!    to the ground-truth sink; envelopes are cut into runs of one table for a sink
//!    that does not write them itself.

mod emit;
mod interleave;
mod metadata;
mod source;

pub use metadata::{
    META_DUPLICATE_OF, META_EVENT_TIME, META_SEQ, META_TABLE, META_WATERMARK, with_metadata,
};
pub use source::{ColumnReader, RowMaker, STREAM_CHUNK_ROWS, TableSource, event_time_column};

use crate::anomaly::AnomalyRegistry;
use crate::cdc::ChangeStream;
use crate::config::StreamConfig;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::pacer::Pacer;
use crate::result::{StopReason, StreamResult};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use emit::{Flow, Run};
use interleave::{Envelope, Lane, Merge, Unenvelope, driver_timed};
use source::{Prefetch, ordered_chunks, time_or_date_column};
use spindle_gen::{Domain, DomainPlan, Scale};
use spindle_sinks::StreamWriter;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What a run's pacing and delivery know of its event time.
struct Timing {
    /// The event-time column of the events' payload, if any (live event time rewrites it).
    column: Option<String>,
    /// The type of `_spindle_event_time`, if the events have one.
    data_type: Option<arrow_schema::DataType>,
    /// When the run started (a fast run is timed from here, preparation included).
    started: Instant,
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
    ground_truth: Option<Box<dyn StreamWriter>>,
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
            ground_truth: None,
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

    /// Sends the events [`StreamConfig::drop_fraction`] drops here (this part's share
    /// of them, those within the run's span), as they would have been sent: a test's
    /// ground truth of what its pipeline never saw.
    pub fn with_ground_truth(mut self, sink: Box<dyn StreamWriter>) -> Self {
        self.ground_truth = Some(sink);
        self
    }

    /// A flag that, once set, ends the run after the events already sent are flushed.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Ends the run when `stop` is set (after the events already sent are flushed).
    pub fn with_stop_flag(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
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

    /// Closes the sink, and the ground-truth sink if there is one.
    ///
    /// # Errors
    /// A sink failed to flush.
    pub fn close(&mut self) -> Result<()> {
        let events = self.sink.close();
        if let Some(g) = self.ground_truth.as_mut() {
            g.close()?;
        }
        Ok(events?)
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
    /// that have it, and so do lateness by event time and watermarks to the tables with
    /// an event time (in the others, late events slip by slots).
    ///
    /// # Errors
    /// As [`SpindleStreamer::stream`]; stops at the first failure.
    pub fn stream_all(&mut self, timestamp_column: Option<&str>) -> Result<Vec<StreamResult>> {
        let names = self.table_names();
        let tables: Vec<&str> = names.iter().map(String::as_str).collect();
        self.stream_tables(&tables, timestamp_column)
    }

    /// Streams `tables` one after another, in the order given; as
    /// [`SpindleStreamer::stream_all`] otherwise.
    ///
    /// # Errors
    /// As [`SpindleStreamer::stream`]; stops at the first failure.
    pub fn stream_tables(
        &mut self,
        tables: &[&str],
        timestamp_column: Option<&str>,
    ) -> Result<Vec<StreamResult>> {
        let mut results = Vec::new();
        for &table in tables {
            let source = self.source(table)?;
            let column = timestamp_column.filter(|c| source.schema.index_of(c).is_ok());
            let mut config = self.config.clone();
            if event_time_column(table, &source.schema, column)?.is_none() {
                config.max_lateness_seconds = None;
                config.watermark = None;
            }
            let result = self.stream_with(source, column, &config)?;
            let stop = result.stop_reason;
            results.push(result);
            if matches!(stop, StopReason::Interrupted | StopReason::ReaderClosed) {
                break;
            }
        }
        Ok(results)
    }

    /// Streams `tables` as one stream, their events merged by event time: ties go to
    /// the table earlier in generation order (a parent before its children), then to
    /// table order. `timestamp_column` applies to the tables that have it; a table
    /// without an event time that is generated with its driver (`order_line` with
    /// `order`) takes its driver row's time; other tables without one come first, as
    /// reference data. Each event is sent as its table's own columns, labels and
    /// metadata, `_spindle_table` naming the table and `_spindle_event_time` a
    /// timestamp in microseconds for every table; delivery faults, `max_events`, parts
    /// and pacing apply to the merged stream. Anomalies apply to the tables that have
    /// the columns they name. Memory stays bounded where every table is generated in
    /// event-time order (or takes its driver's, which is); another table is gathered
    /// and sorted, as when it is streamed alone.
    ///
    /// # Errors
    /// An unknown or repeated table, none at all, anomalies that no table takes, and
    /// as [`SpindleStreamer::stream`].
    pub fn stream_interleaved(
        &mut self,
        tables: &[&str],
        timestamp_column: Option<&str>,
    ) -> Result<StreamResult> {
        let config = self.config.clone();
        config.validate()?;
        if config.cdc {
            return Err(Error::invalid(
                "cdc",
                "a change stream is one table's: an interleaved stream takes none",
            ));
        }
        let names = self.table_names();
        for (i, t) in tables.iter().enumerate() {
            if !names.iter().any(|n| n == t) {
                return Err(Error::UnknownTable {
                    name: t.to_string(),
                    allowed: names.join(", "),
                });
            }
            if tables[..i].contains(t) {
                return Err(Error::invalid("tables", format!("'{t}' is named twice")));
            }
        }
        if tables.is_empty() {
            return Err(Error::invalid(
                "tables",
                format!("none named; allowed: {}", names.join(", ")),
            ));
        }
        let started = Instant::now();
        let mut lanes = Vec::new();
        let mut first_refusal = None;
        for name in names.iter().filter(|n| tables.contains(&n.as_str())) {
            let mut source = self.source(name)?;
            let column = timestamp_column.filter(|c| source.schema.index_of(c).is_ok());
            let mut event_time = time_or_date_column(name, &source.schema, column)?;
            if let (None, Tables::Domain(plan)) = (&event_time, &self.tables) {
                if let Some(timed) = driver_timed(plan, name, timestamp_column)? {
                    source = timed;
                    event_time = Some(META_EVENT_TIME.to_string());
                }
            }
            let anomalies = match self.anomalies.check(name, &source.schema) {
                Ok(()) => self.anomalies.clone(),
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                    AnomalyRegistry::default()
                }
            };
            lanes.push((source, event_time, anomalies));
        }
        let labelled = lanes.iter().any(|(_, _, a)| !a.is_empty());
        if let (Some(refusal), false) = (first_refusal, labelled || self.anomalies.is_empty()) {
            return Err(refusal);
        }
        let shapes: Vec<(String, SchemaRef)> = lanes
            .iter()
            .map(|(s, _, _)| (s.name.clone(), s.schema.clone()))
            .collect();
        let envelope = Arc::new(Envelope::new(&shapes, labelled)?);
        let seed = self.seed;
        let lanes = lanes
            .into_iter()
            .enumerate()
            .map(|(rank, (source, event_time, anomalies))| {
                // Opened on the lane's thread: a table to sort is gathered there.
                let opened = std::iter::once_with(move || {
                    let name = source.name.clone();
                    let chunks = ordered_chunks(source, event_time.as_deref(), &anomalies, seed);
                    (chunks, name, event_time)
                });
                let events = opened.flat_map(|(chunks, name, column)| -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> {
                    match chunks {
                        Err(e) => Box::new(std::iter::once(Err(e))),
                        Ok(chunks) => Box::new(chunks.map(move |chunk| {
                            let (payload, seq) = chunk?;
                            with_metadata(&payload, seq, &name, column.as_deref())
                        })),
                    }
                });
                Lane::new(rank, &envelope, events)
            })
            .collect();
        let merged = Prefetch::new(Box::new(Merge::new(lanes, envelope.clone())));
        let timing = Timing {
            column: None,
            data_type: Some(interleave::EVENT_TIME_TYPE),
            started,
        };
        let label = shapes
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.emit_events(label, merged, timing, &config, Some(&envelope))
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
        let config = self.config.clone();
        self.stream_with(source, timestamp_column, &config)
    }

    /// Streams `source` under `config` (the streamer's, or one adjusted for a table).
    fn stream_with(
        &mut self,
        source: TableSource,
        timestamp_column: Option<&str>,
        config: &StreamConfig,
    ) -> Result<StreamResult> {
        config.validate()?;
        let table = source.name.clone();
        let event_time = match config.cdc {
            true => time_or_date_column(&table, &source.schema, timestamp_column)?,
            false => event_time_column(&table, &source.schema, timestamp_column)?,
        };
        if !self.anomalies.is_empty() {
            self.anomalies.check(&table, &source.schema)?;
        }
        let started = Instant::now();
        if let Some(cdc) = &config.cdc_config() {
            let Some(time) = event_time else {
                return Err(Error::invalid(
                    "cdc",
                    format!("table '{table}' has no timestamp or date column, which changes need"),
                ));
            };
            let changes = ChangeStream::new(&table, &source.schema, &time, cdc, self.seed)?;
            let chunks = ordered_chunks(source, Some(&time), &self.anomalies, self.seed)?;
            let events = changes.over(chunks);
            let timing = Timing {
                column: None,
                data_type: Some(interleave::EVENT_TIME_TYPE),
                started,
            };
            let events = Prefetch::new(Box::new(events));
            return self.emit_events(table, events, timing, config, None);
        }
        let event_time_type = event_time
            .as_deref()
            .map(|c| {
                source
                    .schema
                    .field_with_name(c)
                    .map(|f| f.data_type().clone())
            })
            .transpose()?;
        let chunks = Prefetch::new(ordered_chunks(
            source,
            event_time.as_deref(),
            &self.anomalies,
            self.seed,
        )?);
        let column = event_time.clone();
        let name = table.clone();
        let events = chunks.map(move |chunk| {
            let (payload, seq) = chunk?;
            with_metadata(&payload, seq, &name, column.as_deref())
        });
        let timing = Timing {
            column: event_time,
            data_type: event_time_type,
            started,
        };
        self.emit_events(table, events, timing, config, None)
    }

    /// Sends `events` (in event-time order, with their metadata) through the delivery,
    /// emission and sink stages under `config`; `envelope` when they are an
    /// interleaved stream's envelopes, cut into runs of one table before the sinks.
    fn emit_events(
        &mut self,
        table: String,
        events: impl Iterator<Item = Result<RecordBatch>>,
        timing: Timing,
        config: &StreamConfig,
        envelope: Option<&Envelope>,
    ) -> Result<StreamResult> {
        let Timing {
            column: event_time,
            data_type: event_time_type,
            started,
        } = timing;
        let delivered_before = self.sink.delivered();
        let mut sink = Unenvelope::around(self.sink.as_mut(), envelope);
        let mut ground_truth = self
            .ground_truth
            .as_mut()
            .map(|g| Unenvelope::around(g.as_mut(), envelope));
        let mut run = Run {
            config,
            sink: &mut sink,
            stop: &self.stop,
            progress: &mut self.progress,
            pacer: config
                .realtime
                .then(|| Pacer::new(config, self.seed, event_time.clone())),
            started,
            part: config.partition()?,
            position: 0,
            emitted: 0,
            anomalies: 0,
            late: 0,
            running_max: None,
            reason: StopReason::Completed,
            ground_truth: ground_truth
                .as_mut()
                .map(|g| -> &mut dyn StreamWriter { g }),
            held_drops: Vec::new(),
            horizon: 0,
            duplicates: 0,
            dropped: 0,
            watermarks: 0,
        };
        let mut delivery = config
            .reshapes_delivery()
            .then(|| Delivery::new(config, self.seed, event_time_type.as_ref()))
            .transpose()?;
        let mut flow = Flow::Continue;
        for events in events {
            flow = match delivery.as_mut() {
                Some(d) => run.deliver(d.push(&events?)?)?,
                None => run.emit(events?, None)?,
            };
            if flow == Flow::Stop {
                break;
            }
        }
        if flow == Flow::Continue {
            if let Some(rest) = delivery
                .as_mut()
                .map(Delivery::finish)
                .transpose()?
                .flatten()
            {
                flow = run.deliver(rest)?;
            }
            if flow == Flow::Continue {
                run.report_drops(true)?;
            }
        }
        let reason = run.reason;
        let (anomalies, late) = (run.anomalies, run.late);
        let (duplicates, dropped, watermarks) = (run.duplicates, run.dropped, run.watermarks);
        let lateness = run
            .pacer
            .as_ref()
            .and_then(|p| crate::result::Lateness::of(p.lateness(), p.per_second()));
        let run_started = run.pacer.as_ref().and_then(Pacer::started);
        match self.sink.flush() {
            Err(spindle_sinks::Error::Closed(_)) | Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(g) = self.ground_truth.as_mut() {
            g.flush()?;
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
            duplicate_count: duplicates,
            dropped_count: dropped,
            watermark_count: watermarks,
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
