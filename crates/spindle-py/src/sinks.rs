//! Sinks as Python holds them: opened once, used by any number of runs (the seed's
//! sinks outlive a stream, and the user closes them), and sinks that hand events to
//! Python: a file object (`ConsoleSink`) or a `StreamWriter` subclass.

use arrow_array::RecordBatch;
use arrow_pyarrow::FromPyArrow;
use pyo3::prelude::*;
use pyo3::types::PyString;
use spindle_sinks::{
    ConsoleSink, Error, FileMode, FileSink, JsonEncoder, ParquetOptions, ParquetSink, Result,
    SharedEvents, SinkAddress, SinkOpenOptions, StreamWriter,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The exception a Python callback raised, kept so that the run raises it as it was.
pub type ErrorSlot = Arc<Mutex<Option<PyErr>>>;

/// The sink; `None` once the user closed it.
type Inner = Arc<Mutex<Option<Box<dyn StreamWriter>>>>;

fn with_open<T>(
    inner: &Inner,
    name: &str,
    f: impl FnOnce(&mut dyn StreamWriter) -> Result<T>,
) -> Result<T> {
    match inner.lock().expect("sink lock").as_mut() {
        Some(sink) => f(sink.as_mut()),
        None => Err(Error::Invalid {
            field: "sink",
            message: format!("{name} is closed"),
        }),
    }
}

/// A sink held by a Python object.
#[pyclass(module = "spindle_engine._native", frozen)]
pub struct Sink {
    inner: Inner,
    name: String,
    errors: ErrorSlot,
}

impl Sink {
    fn new(sink: Box<dyn StreamWriter>, errors: ErrorSlot) -> Self {
        Self {
            name: sink.describe(),
            inner: Arc::new(Mutex::new(Some(sink))),
            errors,
        }
    }

    fn opened(sink: Result<Box<dyn StreamWriter>>) -> PyResult<Self> {
        Ok(Self::new(
            sink.map_err(|e| crate::py_error(&e))?,
            ErrorSlot::default(),
        ))
    }

    /// Where a Python callback's exception is kept.
    pub fn errors(&self) -> ErrorSlot {
        self.errors.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn StreamWriter) -> Result<T>) -> Result<T> {
        with_open(&self.inner, &self.name, f)
    }

    fn raise(&self, e: Error) -> PyErr {
        self.errors
            .lock()
            .expect("error slot")
            .take()
            .unwrap_or_else(|| crate::py_error(&e))
    }
}

#[pymethods]
impl Sink {
    /// A JSON-lines file, appended to or replaced.
    #[staticmethod]
    fn file(path: PathBuf, append: bool) -> PyResult<Self> {
        let mode = if append {
            FileMode::Append
        } else {
            FileMode::Overwrite
        };
        Self::opened(FileSink::new(path, mode).map(|s| Box::new(s) as Box<dyn StreamWriter>))
    }

    /// A Parquet file (written whole on close).
    #[staticmethod]
    fn parquet(path: PathBuf) -> PyResult<Self> {
        Self::opened(
            ParquetSink::new(path, ParquetOptions::default())
                .map(|s| Box::new(s) as Box<dyn StreamWriter>),
        )
    }

    /// Any sink address of the CLI's `--sink` (`kafka://HOST:PORT/TOPIC?...`,
    /// `eventhub:...`, `file:PATH`, `parquet:PATH`).
    #[staticmethod]
    fn address(text: &str) -> PyResult<Self> {
        let address = SinkAddress::parse(text, None).map_err(|e| crate::py_error(&e))?;
        Self::opened(address.open(SinkOpenOptions::default()))
    }

    /// An Azure Event Hub through its Kafka endpoint.
    #[staticmethod]
    #[pyo3(signature = (connection_string, hub=None, partition_key_column=None))]
    fn event_hub(
        connection_string: String,
        hub: Option<String>,
        partition_key_column: Option<String>,
    ) -> PyResult<Self> {
        let options = spindle_sinks::EventHubOptions {
            connection_string,
            hub,
            partition_key_column,
        };
        Self::opened(
            spindle_sinks::EventHubSink::new(&options)
                .map(|s| Box::new(s) as Box<dyn StreamWriter>),
        )
    }

    /// JSON text written to a Python file object (`write(str)`, then `flush()` if it
    /// has one), each event after `prefix`, indented by `indent` spaces if given.
    #[staticmethod]
    #[pyo3(signature = (file, indent=None, prefix=""))]
    fn console(file: Py<PyAny>, indent: Option<usize>, prefix: &str) -> Self {
        let errors = ErrorSlot::default();
        let writer = PyWriter {
            file,
            pending: Vec::new(),
            errors: errors.clone(),
        };
        let sink = ConsoleSink::new(Box::new(writer), "console")
            .indent(indent)
            .prefix(prefix);
        Self::new(Box::new(sink), errors)
    }

    /// Events handed to `deliver(str)` as JSON lines, a batch at a time; the Python
    /// layer makes the seed's list of dicts of them for a `StreamWriter` subclass.
    #[staticmethod]
    fn python(deliver: Py<PyAny>, name: String) -> Self {
        let errors = ErrorSlot::default();
        let sink = PythonSink {
            deliver,
            name,
            encoder: JsonEncoder::lines(),
            delivered: 0,
            errors: errors.clone(),
        };
        Self::new(Box::new(sink), errors)
    }

    /// Sends a pyarrow RecordBatch (the rows of a `send_batch(events)` call).
    fn send_arrow(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        py.detach(|| self.with(|s| s.send_batch(&batch)))
            .map_err(|e| self.raise(e))
    }

    /// Pushes buffered events out.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.with(|s| s.flush()))
            .map_err(|e| self.raise(e))
    }

    /// Flushes and releases the destination; closing twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let sink = self.inner.lock().expect("sink lock").take();
        match sink {
            Some(mut s) => py.detach(|| s.close()).map_err(|e| self.raise(e)),
            None => Ok(()),
        }
    }

    /// Events the destination has taken.
    fn delivered(&self) -> u64 {
        self.with(|s| Ok(s.delivered())).unwrap_or(0)
    }

    fn __repr__(&self) -> String {
        format!("Sink({})", self.name)
    }
}

/// A run's handle on a [`Sink`]: ending the run flushes it, only the user closes it;
/// it counts the events of this run (the sink may have taken others before).
pub struct Shared {
    inner: Inner,
    name: String,
    delivered_before: u64,
}

impl Shared {
    /// The run's handle on `sink`.
    pub fn of(sink: &Sink) -> Self {
        Self {
            inner: sink.inner.clone(),
            name: sink.name.clone(),
            delivered_before: sink.delivered(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn StreamWriter) -> Result<T>) -> Result<T> {
        with_open(&self.inner, &self.name, f)
    }
}

impl StreamWriter for Shared {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.with(|s| s.send_batch(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        self.with(|s| s.send_batches(batches))
    }

    fn send_shared(&mut self, events: &SharedEvents) -> Result<()> {
        self.with(|s| s.send_shared(events))
    }

    fn flush(&mut self) -> Result<()> {
        self.with(|s| s.flush())
    }

    fn close(&mut self) -> Result<()> {
        self.flush()
    }

    fn delivered(&self) -> u64 {
        self.with(|s| Ok(s.delivered()))
            .unwrap_or(0)
            .saturating_sub(self.delivered_before)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

fn python_error(name: &str, e: PyErr, slot: &ErrorSlot) -> std::io::Error {
    let message = format!("{name}: {e}");
    *slot.lock().expect("error slot") = Some(e);
    std::io::Error::other(message)
}

/// `std::io::Write` over a Python file object. The JSON is ASCII, but a prefix may
/// not be: a character cut by a buffer boundary waits for its other bytes.
struct PyWriter {
    file: Py<PyAny>,
    pending: Vec<u8>,
    errors: ErrorSlot,
}

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).expect("checked UTF-8");
        Python::attach(|py| {
            self.file
                .call_method1(py, "write", (PyString::new(py, text),))
                .map(drop)
        })
        .map_err(|e| python_error("console", e, &self.errors))?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Python::attach(|py| {
            if self.file.bind(py).hasattr("flush")? {
                self.file.call_method0(py, "flush")?;
            }
            Ok(())
        })
        .map_err(|e| python_error("console", e, &self.errors))
    }
}

/// Events as JSON lines to a Python callable, a batch per call.
struct PythonSink {
    deliver: Py<PyAny>,
    name: String,
    encoder: JsonEncoder,
    delivered: u64,
    errors: ErrorSlot,
}

impl StreamWriter for PythonSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bytes = self.encoder.encode_batch(batch)?;
        let text = std::str::from_utf8(&bytes).expect("JSON is UTF-8");
        Python::attach(|py| self.deliver.call1(py, (PyString::new(py, text),)).map(drop))
            .map_err(|e| Error::io(&self.name, python_error(&self.name, e, &self.errors)))?;
        self.delivered += batch.num_rows() as u64;
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
