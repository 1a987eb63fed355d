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
use spindle_sinks::StreamWriter;
use spindle_stream::{
    Anomaly, AnomalyRegistry, CollectiveAnomaly, ContextualAnomaly, FanOutOptions, JobOutcome,
    Outputs, PointAnomaly, Rows, Selection, StreamConfig, StreamJob, StreamResult,
    StreamingMultiWriteResult, TimePattern, Value,
};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// The Python exception a user expects for an engine error: a bad setting, table or
/// column, or a schema registry that refuses or does not answer, is a ValueError (with
/// the CLI's message), a missing file FileNotFoundError,
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
                | spindle_sinks::Error::Registry(_)
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

/// The stream settings from the JSON object Python's `StreamConfig` makes of its
/// fields (keys as the engine declares them): a ValueError naming the key for a value
/// of the wrong type or form, or out of range.
fn stream_config(settings: &str) -> PyResult<StreamConfig> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(settings)
        .map_err(|e| PyValueError::new_err(format!("invalid stream settings: {e}")))?;
    let mut config = StreamConfig::default();
    for (key, value) in object {
        config.set_value(&key, value).map_err(stream_error)?;
    }
    config.validate().map_err(stream_error)?;
    Ok(config)
}

/// Every stream setting the engine declares: `(key, doc, default as JSON)`, for the
/// Python layer's checks and docs.
#[pyfunction]
fn stream_settings() -> Vec<(&'static str, String, String)> {
    let defaults = StreamConfig::default();
    StreamConfig::SETTINGS
        .iter()
        .map(|s| {
            let default = defaults.value_json(s.key).unwrap_or_default();
            (s.key, s.text(), default)
        })
        .collect()
}

/// The rate multiplier of `settings` (a `StreamConfig`'s JSON) at `elapsed` seconds,
/// wall-clock hour and day of week, counting event-index bursts that cover event
/// `index` when it is given: the pacer's own computation.
#[pyfunction]
#[pyo3(signature = (settings, elapsed, wall_hour, wall_dow, index=None))]
fn rate_multiplier(
    settings: &str,
    elapsed: f64,
    wall_hour: u8,
    wall_dow: u8,
    index: Option<u64>,
) -> PyResult<f64> {
    let config = stream_config(settings)?;
    Ok(match index {
        Some(i) => config.rate_multiplier_at(elapsed, i, wall_hour, wall_dow),
        None => config.get_rate_multiplier(elapsed, wall_hour, wall_dow),
    })
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
/// `settings` is the JSON of a `StreamConfig` (every key the engine declares, the
/// partition and the realtime start among them). The rows come from `domain` at
/// `scale_name` and `seed`, or from `tables` (a dict of pyarrow tables). One sink is
/// used as it is; several (`fan_out` given) are fed by a `StreamingMultiWriter`, each
/// behind its own buffer. `ground_truth` receives the events `drop_fraction` drops.
/// `interleave` (table names) merges those tables into one stream by event time
/// instead. The run is a [`StreamJob`], as the CLI's.
#[pyfunction]
#[pyo3(signature = (sinks, settings, anomalies, table, timestamp_column, seed, domain=None, scale_name="small", tables=None, fan_out=None, ground_truth=None, interleave=None))]
#[allow(clippy::too_many_arguments)]
fn stream<'py>(
    py: Python<'py>,
    sinks: Vec<(String, Py<Sink>)>,
    settings: &str,
    anomalies: Vec<Bound<'py, PyDict>>,
    table: Option<String>,
    timestamp_column: Option<String>,
    seed: u64,
    domain: Option<&str>,
    scale_name: &str,
    tables: Option<Bound<'py, PyDict>>,
    fan_out: Option<FanOutSpec>,
    ground_truth: Option<Py<Sink>>,
    interleave: Option<Vec<String>>,
) -> PyResult<Outcome<'py>> {
    let config = stream_config(settings)?;
    let registry = AnomalyRegistry::new(
        anomalies
            .iter()
            .map(anomaly)
            .collect::<PyResult<Vec<_>>>()?,
    );
    let rows = match (domain, &tables) {
        (Some(name), None) => {
            let (d, s) = (self::domain(name)?, scale(scale_name)?);
            Rows::Plan(py.detach(|| d.plan(s, seed)).map_err(gen_error)?)
        }
        (None, Some(t)) => Rows::Tables(self::tables(t)?, seed),
        _ => {
            return Err(PyValueError::new_err(
                "Provide either 'domain' or 'tables'.",
            ));
        }
    };
    let selection = match (interleave, table) {
        (Some(names), _) => Selection::Interleaved(names),
        (None, Some(t)) => Selection::Table(t),
        (None, None) => Selection::Tables(rows.table_names()),
    };
    let slots: Vec<ErrorSlot> = sinks.iter().map(|(_, s)| s.get().errors()).collect();
    let outputs = Outputs {
        sinks: sinks
            .iter()
            .map(|(name, s)| {
                let sink: Box<dyn StreamWriter> = Box::new(Shared::of(s.get()));
                (name.clone(), sink)
            })
            .collect(),
        fan_out: fan_out
            .map(|spec| {
                Ok::<_, PyErr>(FanOutOptions {
                    batch_size: usize::try_from(spec.batch_size).map_err(|_| {
                        PyValueError::new_err(format!(
                            "invalid batch_size: {} must be >= 1",
                            spec.batch_size
                        ))
                    })?,
                    stop_on_sink_error: spec.stop_on_sink_error,
                })
            })
            .transpose()?,
        ground_truth: ground_truth.map(|g| {
            let sink: Box<dyn StreamWriter> = Box::new(Shared::of(g.get()));
            sink
        }),
    };
    if outputs.sinks.len() > 1 && outputs.fan_out.is_none() {
        return Err(PyValueError::new_err("one sink, or a fan-out"));
    }
    let mut job = StreamJob::new(rows, selection, config);
    job.anomalies = registry;
    job.timestamp_column = timestamp_column;
    let outcome = run_watching_signals(py, job, outputs)?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
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
    let multi = outcome
        .fan_out
        .as_ref()
        .map(|m| multi_dict(py, m))
        .transpose()?;
    let results = outcome
        .results
        .iter()
        .map(|r| result_dict(py, r))
        .collect::<PyResult<_>>()?;
    Ok((results, multi))
}

/// Runs `job` on a thread of its own while this thread waits with the GIL released and
/// looks for Ctrl-C (Python runs signal handlers on the main thread only): an
/// interrupted run stops, flushes, and then raises KeyboardInterrupt.
fn run_watching_signals(
    py: Python<'_>,
    job: StreamJob,
    outputs: Outputs,
) -> PyResult<spindle_stream::Result<JobOutcome>> {
    let stop = job.stop_flag();
    let mut interrupted = None;
    let outcome = std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let worker = scope.spawn(move || {
            // The job drops its tables on this thread: that may call back into pyarrow
            // (buffers it exported), which takes the GIL, so before saying it finished.
            let outcome = job.run(outputs, None);
            drop(done);
            outcome
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
    let outcome = outcome.map_err(|_| PyRuntimeError::new_err("the stream panicked"))?;
    match interrupted {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
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
    m.add_function(wrap_pyfunction!(stream_settings, m)?)?;
    m.add_function(wrap_pyfunction!(rate_multiplier, m)?)?;
    m.add_function(wrap_pyfunction!(table_schema, m)?)?;
    m.add_class::<Sink>()?;
    Ok(())
}
