//! [`StreamJob`]: one streaming run orchestrated once, for the CLI and the Python
//! package alike. A job is checked in full ([`StreamJob::check`]) before any output is
//! opened, then [`StreamJob::run`] builds the fan-out (and its report), the ground-truth
//! sink, the stop flag and the streamer, streams what was selected (a table, several,
//! several interleaved, a change stream, a prepared source) and closes every sink.

use crate::anomaly::AnomalyRegistry;
use crate::cdc::Lifecycle;
use crate::config::StreamConfig;
use crate::error::{Error, Result};
use crate::multi::{FanOut, StreamingMultiWriteResult, StreamingMultiWriter};
use crate::result::StreamResult;
use crate::streamer::{SpindleStreamer, TableSource, event_time_column};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use spindle_gen::DomainPlan;
use spindle_sinks::StreamWriter;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Where a job's rows come from.
pub enum Rows {
    /// A planned domain's generated tables.
    Plan(Arc<dyn DomainPlan>),
    /// Tables the caller has, as `(name, batches)`, with the seed of their draws.
    Tables(Vec<(String, Vec<RecordBatch>)>, u64),
}

impl Rows {
    /// The tables there are, in generation order (a caller's in the order given).
    pub fn table_names(&self) -> Vec<String> {
        match self {
            Rows::Plan(plan) => plan
                .domain()
                .table_names()
                .iter()
                .map(|t| t.to_string())
                .collect(),
            Rows::Tables(tables, _) => tables.iter().map(|(name, _)| name.clone()).collect(),
        }
    }
}

/// What a job streams.
pub enum Selection {
    /// One table: its rows as events, or their changes when `cdc` is on.
    Table(String),
    /// Tables one after another, each its own stream (those without an event time go
    /// without lateness by event time and watermarks).
    Tables(Vec<String>),
    /// Tables merged into one stream by event time.
    Interleaved(Vec<String>),
    /// A prepared source, such as a SQL query's result.
    Source(TableSource),
}

/// How several sinks are fed.
#[derive(Clone, Copy, Debug)]
pub struct FanOutOptions {
    /// Events per batch handed to each sink.
    pub batch_size: usize,
    /// Stop the run at the first sink that fails, rather than carrying on with the rest.
    pub stop_on_sink_error: bool,
}

/// Where a job's events go.
#[derive(Default)]
pub struct Outputs {
    /// The sinks, each named for the fan-out's report.
    pub sinks: Vec<(String, Box<dyn StreamWriter>)>,
    /// How to feed them; `None`: one sink is used as it is, several with the run's
    /// batch size and without stopping at a failed sink.
    pub fan_out: Option<FanOutOptions>,
    /// Where dropped events go, as they would have been sent.
    pub ground_truth: Option<Box<dyn StreamWriter>>,
}

/// What a job did.
#[derive(Debug)]
pub struct JobOutcome {
    /// One result per stream (one per table streamed one after another, else one).
    pub results: Vec<StreamResult>,
    /// The fan-out's report, when there was one.
    pub fan_out: Option<StreamingMultiWriteResult>,
}

/// One streaming run: its rows, what to stream, and the settings.
pub struct StreamJob {
    /// Where the rows come from.
    pub rows: Rows,
    /// What to stream.
    pub selection: Selection,
    /// The run's settings.
    pub config: StreamConfig,
    /// Anomalies to inject.
    pub anomalies: AnomalyRegistry,
    /// The column holding event time (default: each table's first timestamp column).
    pub timestamp_column: Option<String>,
    stop: Arc<AtomicBool>,
}

impl StreamJob {
    /// A job streaming `selection` of `rows` under `config`. A change stream of a
    /// domain's table without a lifecycle of its own gets the table's built-in one.
    pub fn new(rows: Rows, selection: Selection, mut config: StreamConfig) -> Self {
        if let (Rows::Plan(plan), Selection::Table(table)) = (&rows, &selection) {
            if config.cdc && config.cdc_lifecycle.is_none() {
                config.cdc_lifecycle = plan.domain().table(table).ok().and_then(Lifecycle::of);
            }
        }
        Self {
            rows,
            selection,
            config,
            anomalies: AnomalyRegistry::default(),
            timestamp_column: None,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the run sends events of several tables (to the same sinks).
    pub fn sends_several_tables(&self) -> bool {
        match &self.selection {
            Selection::Tables(tables) | Selection::Interleaved(tables) => tables.len() > 1,
            Selection::Table(_) | Selection::Source(_) => false,
        }
    }

    /// A flag that, once set, ends the run after the events already sent are flushed.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Checks everything that can be checked before output is opened: the settings,
    /// the tables, and for each table its event time against the delivery settings and
    /// the anomalies' columns.
    ///
    /// # Errors
    /// The first problem, naming the setting, table or column.
    pub fn check(&self) -> Result<()> {
        self.config.validate()?;
        let several = matches!(self.selection, Selection::Tables(_));
        if self.config.cdc && !matches!(self.selection, Selection::Table(_)) {
            return Err(Error::invalid(
                "cdc",
                "a change stream is one table's: select one table",
            ));
        }
        for (table, schema) in self.schemas()? {
            // Tables streamed one after another take the column where they have it.
            let column = self
                .timestamp_column
                .as_deref()
                .filter(|c| !several || schema.index_of(c).is_ok());
            let event_time = event_time_column(&table, &schema, column)?;
            if matches!(self.selection, Selection::Interleaved(_)) {
                // Every table's event time is a timestamp there; anomalies go to the
                // tables that have their columns (checked when the stream starts).
                continue;
            }
            let time_type = event_time
                .map(|c| schema.field_with_name(&c).map(|f| f.data_type().clone()))
                .transpose()?;
            if !(several && time_type.is_none()) {
                crate::delivery::check_event_time(&self.config, time_type.as_ref())
                    .map_err(|e| in_table(&table, e))?;
            }
            self.anomalies.check(&table, &schema)?;
        }
        Ok(())
    }

    /// The selected tables and their schemas.
    fn schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        let names: Vec<String> = match &self.selection {
            Selection::Table(t) => vec![t.clone()],
            Selection::Tables(t) | Selection::Interleaved(t) => t.clone(),
            Selection::Source(source) => {
                return Ok(vec![(source.name.clone(), source.schema.clone())]);
            }
        };
        names
            .into_iter()
            .map(|name| {
                let schema = match &self.rows {
                    Rows::Plan(plan) => plan.domain().table(&name)?.schema.clone(),
                    Rows::Tables(tables, _) => tables
                        .iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, batches)| batches.first())
                        .map(RecordBatch::schema)
                        .ok_or_else(|| Error::UnknownTable {
                            name: name.clone(),
                            allowed: tables
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?,
                };
                Ok((name, schema))
            })
            .collect()
    }

    /// Streams the selection into `outputs`, calling `progress(events_sent)` after every
    /// send, and closes every sink. A reader that went away (a closed pipe) ends the run
    /// without an error.
    ///
    /// # Errors
    /// Invalid settings, a sink that failed, a failed generation: the run's error first,
    /// else the first sink's that failed to close.
    pub fn run(
        self,
        outputs: Outputs,
        progress: Option<Box<dyn FnMut(u64) + Send>>,
    ) -> Result<JobOutcome> {
        let (sink, report) = fan_out(outputs.sinks, outputs.fan_out, &self.config)?;
        let mut streamer = match self.rows {
            Rows::Plan(plan) => SpindleStreamer::from_plan(plan, sink),
            Rows::Tables(tables, seed) => {
                SpindleStreamer::from_tables(tables, sink)?.with_seed(seed)
            }
        }
        .with_config(self.config)
        .with_anomalies(self.anomalies)
        .with_stop_flag(self.stop);
        if let Some(progress) = progress {
            streamer = streamer.with_progress(progress);
        }
        if let Some(sink) = outputs.ground_truth {
            streamer = streamer.with_ground_truth(sink);
        }
        let timestamp_column = self.timestamp_column.as_deref();
        let results = match self.selection {
            Selection::Table(t) => streamer.stream(&t, timestamp_column).map(|r| vec![r]),
            Selection::Tables(t) => {
                let names: Vec<&str> = t.iter().map(String::as_str).collect();
                streamer.stream_tables(&names, timestamp_column)
            }
            Selection::Interleaved(t) => {
                let names: Vec<&str> = t.iter().map(String::as_str).collect();
                streamer
                    .stream_interleaved(&names, timestamp_column)
                    .map(|r| vec![r])
            }
            Selection::Source(source) => streamer
                .stream_source(source, timestamp_column)
                .map(|r| vec![r]),
        };
        let closed = streamer.close();
        let results = results?;
        match closed {
            Ok(()) | Err(Error::Sink(spindle_sinks::Error::Closed(_))) => {}
            Err(e) => return Err(e),
        }
        let fan_out = report.and_then(|r| r.lock().expect("report lock").clone());
        Ok(JobOutcome { results, fan_out })
    }
}

/// The report a fan-out fills when it closes.
type Report = Arc<std::sync::Mutex<Option<StreamingMultiWriteResult>>>;

/// One sink as it is, or several behind a fan-out (with its report).
fn fan_out(
    sinks: Vec<(String, Box<dyn StreamWriter>)>,
    options: Option<FanOutOptions>,
    config: &StreamConfig,
) -> Result<(Box<dyn StreamWriter>, Option<Report>)> {
    let options = match (options, sinks.len()) {
        (None, 1) => {
            let (_, sink) = sinks.into_iter().next().expect("one sink");
            return Ok((sink, None));
        }
        (_, 0) => return Err(Error::invalid("sinks", "a run needs at least one sink")),
        (Some(options), _) => options,
        (None, _) => FanOutOptions {
            batch_size: config.batch_size,
            stop_on_sink_error: false,
        },
    };
    let mut writer = StreamingMultiWriter::new();
    writer.batch_size = options.batch_size;
    writer.stop_on_sink_error = options.stop_on_sink_error;
    for (name, sink) in sinks {
        writer.add_sink(&name, sink);
    }
    let fan = FanOut::new(writer);
    let report = fan.report();
    Ok((Box::new(fan), Some(report)))
}

/// `error`, about table `table`.
fn in_table(table: &str, error: Error) -> Error {
    match error {
        Error::Invalid { field, message } => Error::Invalid {
            field,
            message: format!("{message} (table {table})"),
        },
        other => other,
    }
}
