//! `spindle_engine._native`: the Spindle engine for the Python package `spindle-engine`.
//!
//! The package's Python layer (`python/spindle_engine`) keeps the seed's classes,
//! names and defaults; this module does the work: generation, streaming with every
//! stream setting, the sinks. Arrow data crosses the boundary through the Arrow C data
//! interface (pyarrow objects in and out, no copy). The GIL is released while Rust
//! works; a stream runs on a thread of its own while the calling thread watches for
//! Ctrl-C, so an interrupted stream stops, flushes, and then raises KeyboardInterrupt.

mod sinks;

use arrow_array::RecordBatch;
use arrow_array::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use pyo3::exceptions::{
    PyConnectionError, PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sinks::{ErrorSlot, Shared, Sink};
use spindle_gen::{Domain, Partition, Scale};
use spindle_stream::{
    Anomaly, AnomalyRegistry, BurstWindow, CollectiveAnomaly, ContextualAnomaly, FanOut,
    PointAnomaly, SpindleStreamer, StreamConfig, StreamResult, StreamingMultiWriteResult,
    StreamingMultiWriter, TimePattern, Value,
};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// The Python exception a user expects for an engine error: a bad setting, table or
/// column is a ValueError (with the CLI's message), a missing file FileNotFoundError,
/// another I/O failure OSError, a Kafka broker that does not answer or fails a
/// delivery ConnectionError, anything else RuntimeError.
fn py_error(error: &(dyn std::error::Error + 'static)) -> PyErr {
    let message = error.to_string();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
                _ => PyOSError::new_err(message),
            };
        }
        cause = e.source();
    }
    let sink_error = match error.downcast_ref::<spindle_stream::Error>() {
        Some(spindle_stream::Error::Sink(e)) => Some(e),
        Some(_) => None,
        None => error.downcast_ref::<spindle_sinks::Error>(),
    };
    let invalid = match (sink_error, error.downcast_ref::<spindle_stream::Error>()) {
        (Some(spindle_sinks::Error::Kafka(_)), _) => {
            return PyConnectionError::new_err(message);
        }
        (Some(e), _) => matches!(
            e,
            spindle_sinks::Error::Invalid { .. }
                | spindle_sinks::Error::Unsupported { .. }
                | spindle_sinks::Error::SchemaChanged { .. }
        ),
        (None, Some(e)) => matches!(
            e,
            spindle_stream::Error::Invalid { .. }
                | spindle_stream::Error::Column { .. }
                | spindle_stream::Error::UnknownTable { .. }
                | spindle_stream::Error::Generate(_)
        ),
        (None, None) => error.downcast_ref::<spindle_gen::Error>().is_some(),
    };
    if invalid {
        PyValueError::new_err(message)
    } else {
        PyRuntimeError::new_err(message)
    }
}

fn gen_error(e: spindle_gen::Error) -> PyErr {
    py_error(&e)
}

fn stream_error(e: spindle_stream::Error) -> PyErr {
    py_error(&e)
}

/// A domain by built-in name or `.spindle.json` path (FileNotFoundError for a path
/// that is not there).
fn domain(name: &str) -> PyResult<Box<dyn Domain>> {
    let path = std::path::Path::new(name);
    if name.ends_with(".json") && !path.exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "schema file {name} does not exist"
        )));
    }
    spindle_gen::domain_by_name(name).map_err(gen_error)
}

fn scale(name: &str) -> PyResult<Scale> {
    name.parse::<Scale>().map_err(gen_error)
}

/// The built-in domains' names, Retail first (no schema is parsed).
#[pyfunction]
fn domain_names() -> Vec<&'static str> {
    spindle_gen::domain_names()
}

/// A domain's tables and their row counts at `scale`, in generation order.
#[pyfunction]
fn row_counts(name: &str, scale_name: &str) -> PyResult<Vec<(String, u64)>> {
    let d = domain(name)?;
    let s = scale(scale_name)?;
    Ok(d.row_counts(&s)
        .into_iter()
        .map(|(t, n)| (t.to_string(), n))
        .collect())
}

/// A time pattern preset's `(hour_multipliers, dow_multipliers)`.
#[pyfunction]
fn time_pattern(name: &str) -> PyResult<(BTreeMap<u8, f64>, BTreeMap<u8, f64>)> {
    let p = TimePattern::preset(name).map_err(stream_error)?;
    Ok((p.hour_multipliers, p.dow_multipliers))
}

/// Named pyarrow objects.
type Named<'py> = Vec<(String, Bound<'py, PyAny>)>;

/// Part `index` of `count` (`None`: the whole run), or a ValueError naming the field.
fn partition(part: Option<(u64, u64)>) -> PyResult<Partition> {
    part.map_or(Ok(Partition::WHOLE), |(index, count)| {
        Partition::new(index, count).map_err(gen_error)
    })
}

/// A table's columns as the engine makes them: a `pyarrow.Schema`, without generating.
#[pyfunction]
fn table_schema<'py>(py: Python<'py>, name: &str, table: &str) -> PyResult<Bound<'py, PyAny>> {
    let d = domain(name)?;
    let spec = d.table(table).map_err(gen_error)?;
    spec.schema.as_ref().to_pyarrow(py)
}

/// Generates `tables` (all when empty) of a domain: `[(name, pyarrow.RecordBatch)]` in
/// generation order, plus the seconds it took. With `part=(i, n)`, only part `i` of a
/// run split into `n` parts (the parts together are the whole run's rows).
#[pyfunction]
#[pyo3(signature = (name, scale_name, seed, tables=Vec::new(), part=None))]
fn generate<'py>(
    py: Python<'py>,
    name: &str,
    scale_name: &str,
    seed: u64,
    tables: Vec<String>,
    part: Option<(u64, u64)>,
) -> PyResult<(Named<'py>, f64)> {
    let d = domain(name)?;
    let s = scale(scale_name)?;
    let part = partition(part)?;
    let all = d.table_names();
    let names: Vec<&str> = if tables.is_empty() {
        all
    } else {
        tables.iter().map(String::as_str).collect()
    };
    let result = py
        .detach(|| spindle_gen::Spindle::generate_tables(d.as_ref(), s, seed, part, &names))
        .map_err(gen_error)?;
    let out = result
        .tables
        .iter()
        .map(|(n, batch)| Ok((n.clone(), batch.to_pyarrow(py)?)))
        .collect::<PyResult<_>>()?;
    Ok((out, result.elapsed.as_secs_f64()))
}

/// A value of a contextual anomaly: None, bool, int, float or str.
fn value(v: &Bound<PyAny>) -> PyResult<Value> {
    if v.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if let Ok(i) = v.extract::<i64>() {
        Ok(Value::Int(i))
    } else if let Ok(f) = v.extract::<f64>() {
        Ok(Value::Float(f))
    } else if let Ok(s) = v.extract::<String>() {
        Ok(Value::Text(s))
    } else {
        Err(PyValueError::new_err(format!(
            "anomaly values must be None, bool, int, float or str, not {}",
            v.get_type().name()?
        )))
    }
}

/// One built-in anomaly from the dict the Python layer makes of it.
fn anomaly(spec: &Bound<PyDict>) -> PyResult<Anomaly> {
    let get = |key: &str| -> PyResult<Bound<PyAny>> {
        spec.get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("anomaly: missing '{key}'")))
    };
    let name: String = get("name")?.extract()?;
    let fraction: f64 = get("fraction")?.extract()?;
    let kind: String = get("kind")?.extract()?;
    Ok(match kind.as_str() {
        "point" => {
            let (lo, hi): (f64, f64) = get("multiplier_range")?.extract()?;
            PointAnomaly::new(&name, &get("column")?.extract::<String>()?)
                .multiplier_range(lo, hi)
                .fraction(fraction)
                .into()
        }
        "contextual" => {
            let values = |key: &str| -> PyResult<Vec<Value>> {
                get(key)?.try_iter()?.map(|v| value(&v?)).collect()
            };
            ContextualAnomaly::new(
                &name,
                &get("column")?.extract::<String>()?,
                &get("condition_column")?.extract::<String>()?,
                values("normal_values")?,
                values("anomalous_values")?,
            )
            .fraction(fraction)
            .into()
        }
        "collective" => CollectiveAnomaly::new(
            &name,
            &get("group_column")?.extract::<String>()?,
            &get("timestamp_column")?.extract::<String>()?,
        )
        .window_seconds(get("window_seconds")?.extract()?)
        .fraction(fraction)
        .into(),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown anomaly kind '{other}'; allowed: point, contextual, collective"
            )));
        }
    })
}

/// The stream settings, from the fields of a `StreamConfig`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ConfigSpec {
    events_per_second: f64,
    duration_seconds: Option<f64>,
    max_events: Option<i64>,
    out_of_order_fraction: f64,
    out_of_order_max_delay_slots: i64,
    burst_windows: Vec<BurstSpec>,
    /// `(hour_multipliers, dow_multipliers)`.
    time_pattern: Option<(BTreeMap<u8, f64>, BTreeMap<u8, f64>)>,
    label_anomalies: bool,
    batch_size: i64,
    realtime: bool,
    max_lateness_seconds: Option<f64>,
    lateness_distribution: String,
    duplicate_fraction: f64,
    duplicate_max_delay_slots: i64,
    drop_fraction: f64,
    /// `N` (events) or `Ns` (seconds of event time).
    watermark_every: Option<String>,
    rate_shapes: Vec<String>,
    cdc: bool,
    /// A lifecycle's text (`status:shipped=processing/24/6;...`); None: the table's own.
    cdc_lifecycle: Option<String>,
    cdc_delete_fraction: f64,
    cdc_tombstones: bool,
}

/// A burst window by time offset or by event index, whichever is given.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct BurstSpec {
    start_offset_seconds: Option<f64>,
    duration_seconds: Option<f64>,
    start_event: Option<i64>,
    end_event: Option<i64>,
    multiplier: f64,
}

fn non_negative(field: &str, v: i64) -> PyResult<u64> {
    u64::try_from(v)
        .map_err(|_| PyValueError::new_err(format!("invalid {field}: {v} must be >= 0")))
}

impl ConfigSpec {
    fn config(&self) -> PyResult<StreamConfig> {
        let burst_windows = self
            .burst_windows
            .iter()
            .map(|w| match *w {
                BurstSpec {
                    start_offset_seconds: Some(start),
                    duration_seconds: Some(duration),
                    start_event: None,
                    end_event: None,
                    multiplier,
                } => Ok(BurstWindow::time(start, duration, multiplier)),
                BurstSpec {
                    start_offset_seconds: None,
                    duration_seconds: None,
                    start_event: Some(start),
                    end_event: Some(end),
                    multiplier,
                } => Ok(BurstWindow::events(
                    non_negative("burst_windows", start)?,
                    non_negative("burst_windows", end)?,
                    multiplier,
                )),
                _ => Err(PyValueError::new_err(
                    "invalid burst_windows: a BurstWindow takes start_offset_seconds and \
                     duration_seconds, or start_event and end_event",
                )),
            })
            .collect::<PyResult<_>>()?;
        let config = StreamConfig {
            events_per_second: self.events_per_second,
            duration_seconds: self.duration_seconds,
            max_events: self
                .max_events
                .map(|m| non_negative("max_events", m))
                .transpose()?,
            out_of_order_fraction: self.out_of_order_fraction,
            out_of_order_max_delay_slots: non_negative(
                "out_of_order_max_delay_slots",
                self.out_of_order_max_delay_slots,
            )?,
            burst_windows,
            time_pattern: self.time_pattern.as_ref().map(|(hours, days)| TimePattern {
                hour_multipliers: hours.clone(),
                dow_multipliers: days.clone(),
            }),
            label_anomalies: self.label_anomalies,
            batch_size: usize::try_from(self.batch_size).unwrap_or(0),
            realtime: self.realtime,
            max_lateness_seconds: self.max_lateness_seconds,
            lateness_distribution: self.lateness_distribution.parse().map_err(stream_error)?,
            duplicate_fraction: self.duplicate_fraction,
            duplicate_max_delay_slots: non_negative(
                "duplicate_max_delay_slots",
                self.duplicate_max_delay_slots,
            )?,
            drop_fraction: self.drop_fraction,
            cdc: self
                .cdc
                .then(|| -> PyResult<_> {
                    Ok(spindle_stream::CdcConfig {
                        lifecycle: self
                            .cdc_lifecycle
                            .as_deref()
                            .map(str::parse)
                            .transpose()
                            .map_err(stream_error)?,
                        delete_fraction: self.cdc_delete_fraction,
                        tombstones: self.cdc_tombstones,
                        ..Default::default()
                    })
                })
                .transpose()?,
            watermark: self
                .watermark_every
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(stream_error)?,
            rate_shapes: self
                .rate_shapes
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()
                .map_err(stream_error)?,
        };
        config.validate().map_err(stream_error)?;
        Ok(config)
    }
}

/// Where a stream's rows come from.
enum Source {
    Domain(Box<dyn Domain>, Scale),
    Tables(Vec<(String, Vec<RecordBatch>)>),
}

/// Reads pyarrow tables (anything with `__arrow_c_stream__`) without copying them.
fn tables(py_tables: &Bound<PyDict>) -> PyResult<Vec<(String, Vec<RecordBatch>)>> {
    py_tables
        .iter()
        .map(|(name, table)| {
            let name: String = name.extract()?;
            let reader = ArrowArrayStreamReader::from_pyarrow_bound(&table)?;
            let batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| py_error(&e))?;
            Ok((name, batches))
        })
        .collect()
}

/// How `stream` fans out to several sinks.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct FanOutSpec {
    batch_size: i64,
    stop_on_sink_error: bool,
}

fn result_dict<'py>(py: Python<'py>, r: &StreamResult) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("table", &r.table)?;
    d.set_item("events_sent", r.events_sent)?;
    d.set_item("anomaly_count", r.anomaly_count)?;
    d.set_item("out_of_order_count", r.out_of_order_count)?;
    d.set_item("elapsed_seconds", r.elapsed_seconds)?;
    d.set_item("stop_reason", r.stop_reason.as_str())?;
    d.set_item("duplicate_count", r.duplicate_count)?;
    d.set_item("dropped_count", r.dropped_count)?;
    d.set_item("watermark_count", r.watermark_count)?;
    Ok(d)
}

fn multi_dict<'py>(py: Python<'py>, m: &StreamingMultiWriteResult) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let sinks = m
        .sinks
        .iter()
        .map(|s| {
            let sd = PyDict::new(py);
            sd.set_item("name", &s.name)?;
            sd.set_item("events_sent", s.events_sent)?;
            sd.set_item("tables_processed", s.tables_processed)?;
            sd.set_item("elapsed_seconds", s.elapsed_seconds)?;
            sd.set_item("errors", &s.errors)?;
            Ok(sd)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("sinks", sinks)?;
    d.set_item("total_events", m.total_events)?;
    d.set_item("total_tables", m.total_tables)?;
    d.set_item("elapsed_seconds", m.elapsed_seconds)?;
    Ok(d)
}

/// What `stream` returns: the results of its tables, and the fan-out's.
type Outcome<'py> = (Vec<Bound<'py, PyDict>>, Option<Bound<'py, PyDict>>);

/// Streams `table` (None: every table in generation order) to `sinks` and returns
/// `([StreamResult fields], StreamingMultiWriteResult fields or None)`.
///
/// The rows come from `domain` at `scale_name` and `seed`, or from `tables` (a dict
/// of pyarrow tables). One sink is used as it is; several (`fan_out` given) are fed
/// by a `StreamingMultiWriter`, each behind its own buffer. `part=(i, n)` sends only
/// part `i` of `n` of the run's events; `start_at` (Unix seconds) is the wall-clock
/// instant a realtime schedule starts at, the same for every part of a run.
/// `ground_truth` receives the events `drop_fraction` drops. `interleave` (table names)
/// merges those tables into one stream by event time instead.
#[pyfunction]
#[pyo3(signature = (sinks, config, anomalies, table, timestamp_column, seed, domain=None, scale_name="small", tables=None, fan_out=None, part=None, start_at=None, ground_truth=None, interleave=None))]
#[allow(clippy::too_many_arguments)]
fn stream<'py>(
    py: Python<'py>,
    sinks: Vec<(String, Py<Sink>)>,
    config: ConfigSpec,
    anomalies: Vec<Bound<'py, PyDict>>,
    table: Option<String>,
    timestamp_column: Option<String>,
    seed: u64,
    domain: Option<&str>,
    scale_name: &str,
    tables: Option<Bound<'py, PyDict>>,
    fan_out: Option<FanOutSpec>,
    part: Option<(u64, u64)>,
    start_at: Option<f64>,
    ground_truth: Option<Py<Sink>>,
    interleave: Option<Vec<String>>,
) -> PyResult<Outcome<'py>> {
    let mut config = config.config()?;
    let part = partition(part)?;
    if start_at.is_some_and(|t| !t.is_finite()) {
        return Err(PyValueError::new_err(
            "invalid start_at: expected Unix seconds (time.time()) or a datetime",
        ));
    }
    let pacer = spindle_stream::PacerOptions {
        start_at: start_at.map(|t| (t * 1e6).round() as i64),
        ..Default::default()
    };
    let registry = AnomalyRegistry::new(
        anomalies
            .iter()
            .map(anomaly)
            .collect::<PyResult<Vec<_>>>()?,
    );
    let source = match (domain, &tables) {
        (Some(name), None) => Source::Domain(self::domain(name)?, scale(scale_name)?),
        (None, Some(t)) => Source::Tables(self::tables(t)?),
        _ => {
            return Err(PyValueError::new_err(
                "Provide either 'domain' or 'tables'.",
            ));
        }
    };
    let slots: Vec<ErrorSlot> = sinks.iter().map(|(_, s)| s.get().errors()).collect();
    let (sink, report): (Box<dyn spindle_sinks::StreamWriter>, _) = match fan_out {
        None => {
            let [(_, one)] = sinks.as_slice() else {
                return Err(PyValueError::new_err("one sink, or a fan-out"));
            };
            (Box::new(Shared::of(one.get())), None)
        }
        Some(spec) => {
            let mut writer = StreamingMultiWriter::new();
            writer.batch_size = usize::try_from(spec.batch_size).unwrap_or(0);
            writer.stop_on_sink_error = spec.stop_on_sink_error;
            for (name, s) in &sinks {
                writer.add_sink(name, Box::new(Shared::of(s.get())));
            }
            let fan = FanOut::new(writer);
            let report = fan.report();
            (Box::new(fan), Some(report))
        }
    };
    if let (Some(cdc), Source::Domain(d, _), Some(t)) = (config.cdc.as_mut(), &source, &table) {
        if cdc.lifecycle.is_none() {
            cdc.lifecycle = spindle_stream::Lifecycle::built_in(d.name(), t);
        }
    }
    let mut streamer = match source {
        Source::Domain(d, s) => {
            let plan = py.detach(|| d.plan(s, seed)).map_err(gen_error)?;
            SpindleStreamer::from_plan(plan, sink)
        }
        Source::Tables(t) => SpindleStreamer::from_tables(t, sink)
            .map_err(stream_error)?
            .with_seed(seed),
    }
    .with_config(config)
    .with_anomalies(registry)
    .with_pacer_options(pacer)
    .with_part(part);
    if let Some(sink) = &ground_truth {
        streamer = streamer.with_ground_truth(Box::new(Shared::of(sink.get())));
    }
    let stop = streamer.stop_flag();

    // The stream runs on a thread of its own; this thread waits with the GIL released
    // and looks for Ctrl-C (Python runs signal handlers on the main thread only).
    let mut interrupted = None;
    let outcome = std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let worker = scope.spawn(move || {
            let results = match (&interleave, &table) {
                (Some(names), _) => {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    streamer
                        .stream_interleaved(&names, timestamp_column.as_deref())
                        .map(|r| vec![r])
                }
                (None, Some(t)) => streamer
                    .stream(t, timestamp_column.as_deref())
                    .map(|r| vec![r]),
                (None, None) => streamer.stream_all(timestamp_column.as_deref()),
            };
            let closed = streamer.close();
            // Dropping the tables may call back into pyarrow (buffers it exported), which
            // takes the GIL: done here, before this thread says it is finished.
            drop(streamer);
            drop(done);
            (results, closed)
        });
        // Woken at once when the stream ends (the sender is dropped, also by a panic),
        // else every 50 ms to look for Ctrl-C. (A Mutex: the wait runs without the GIL.)
        let finished = std::sync::Mutex::new(finished);
        let wait = || {
            finished
                .lock()
                .expect("one waiter")
                .recv_timeout(Duration::from_millis(50))
        };
        while py.detach(wait) == Err(RecvTimeoutError::Timeout) {
            if interrupted.is_none()
                && let Err(e) = py.check_signals()
            {
                stop.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
        py.detach(|| worker.join())
    });
    let (results, closed) = outcome.map_err(|_| PyRuntimeError::new_err("the stream panicked"))?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    let failed = results.and_then(|r| closed.map(|()| r));
    let results = match failed {
        Ok(r) => r,
        Err(e) => {
            // A Python sink's own exception is raised as it was.
            for slot in &slots {
                if let Some(original) = slot.lock().expect("error slot").take() {
                    return Err(original);
                }
            }
            return Err(stream_error(e));
        }
    };
    let multi = report
        .and_then(|r| r.lock().expect("report lock").clone())
        .map(|m| multi_dict(py, &m))
        .transpose()?;
    let results = results
        .iter()
        .map(|r| result_dict(py, r))
        .collect::<PyResult<_>>()?;
    Ok((results, multi))
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(domain_names, m)?)?;
    m.add_function(wrap_pyfunction!(row_counts, m)?)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(stream, m)?)?;
    m.add_function(wrap_pyfunction!(time_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(table_schema, m)?)?;
    m.add_class::<Sink>()?;
    Ok(())
}
