//! [`StreamingMultiWriter`]: several sinks fed concurrently.
//!
//! Every sink runs on a worker thread behind a bounded buffer of batches, so a slow
//! sink slows only itself until its buffer is full; a failing sink is dropped from the
//! fan-out (its error is recorded) and never holds up, loses or corrupts another's
//! output. Batches are shared, not copied: an Arrow batch is a set of reference-counted
//! buffers.

use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use spindle_sinks::{SharedEvents, StreamWriter};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Batches buffered per sink before the sender waits.
pub const DEFAULT_BUFFER_BATCHES: usize = 16;

/// How one sink fared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkResult {
    /// The sink's name.
    pub name: String,
    /// Events it took (for a broker: acknowledged).
    pub events_sent: u64,
    /// Distinct tables it received.
    pub tables_processed: u64,
    /// Seconds from start to its last event.
    pub elapsed_seconds: f64,
    /// What went wrong, if anything.
    pub errors: Vec<String>,
    /// Its reader went away (`--sink console` piped into `head`): it took no more
    /// events, and that is not a failure, as for a single console sink.
    pub reader_closed: bool,
}

impl SinkResult {
    /// No errors.
    pub fn success(&self) -> bool {
        self.errors.is_empty()
    }

    fn status(&self) -> &'static str {
        match (self.success(), self.reader_closed) {
            (false, _) => "FAIL",
            (true, true) => "CLOSED",
            (true, false) => "OK",
        }
    }
}

/// How all sinks fared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamingMultiWriteResult {
    /// One result per sink, in the order they were added.
    pub sinks: Vec<SinkResult>,
    /// Events handed to the sinks (each sink's own count is in `sinks`).
    pub total_events: u64,
    /// Distinct tables streamed.
    pub total_tables: u64,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
}

impl StreamingMultiWriteResult {
    /// Every sink succeeded.
    pub fn success(&self) -> bool {
        self.sinks.iter().all(SinkResult::success)
    }

    /// Some, but not all, sinks failed.
    pub fn partial_failure(&self) -> bool {
        !self.success() && self.sinks.iter().any(SinkResult::success)
    }

    /// A table like the reference's `summary()`.
    pub fn summary(&self) -> String {
        let status = if self.success() {
            "SUCCESS"
        } else if self.partial_failure() {
            "PARTIAL FAILURE"
        } else {
            "FAILURE"
        };
        let mut lines = vec![
            "StreamingMultiWriter Result".to_string(),
            "=".repeat(56),
            format!("Sinks:         {}", self.sinks.len()),
            format!(
                "Total events:  {}",
                spindle_gen::thousands(self.total_events)
            ),
            format!("Total tables:  {}", self.total_tables),
            format!("Elapsed:       {:.1}s", self.elapsed_seconds),
            format!("Status:        {status}"),
            String::new(),
            format!(
                "{:<22} {:<10} {:>10} {:>8} {:>7}",
                "Sink", "Status", "Events", "Tables", "Errors"
            ),
            "-".repeat(60),
        ];
        for s in &self.sinks {
            lines.push(format!(
                "{:<22} {:<10} {:>10} {:>8} {:>7}",
                s.name,
                s.status(),
                spindle_gen::thousands(s.events_sent),
                s.tables_processed,
                s.errors.len()
            ));
            for e in &s.errors {
                lines.push(format!("  {e}"));
            }
        }
        lines.join("\n")
    }
}

/// A counting semaphore: at most `n` sinks send at once.
struct Gate {
    free: Mutex<usize>,
    wake: std::sync::Condvar,
}

/// A turn at the gate, given back on drop.
struct Turn<'a>(&'a Gate);

impl Gate {
    fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            wake: std::sync::Condvar::new(),
        }
    }

    fn acquire(&self) -> Turn<'_> {
        let mut free = self.free.lock().expect("gate lock");
        while *free == 0 {
            free = self.wake.wait(free).expect("gate lock");
        }
        *free -= 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("gate lock") += 1;
        self.0.wake.notify_one();
    }
}

enum Message {
    Batches(Arc<SharedEvents>),
    Flush(SyncSender<()>),
}

struct Shared {
    delivered: AtomicU64,
    /// The sink failed.
    failed: AtomicBool,
    /// The sink takes no more events: it failed, or its reader went away.
    stopped: AtomicBool,
    result: Mutex<SinkResult>,
    /// The sink's failure as it returned it, kind and all, until the fan-out hands it
    /// on (with `stop_on_sink_error`).
    error: Mutex<Option<spindle_sinks::Error>>,
}

struct Worker {
    name: String,
    sender: Option<SyncSender<Message>>,
    shared: Arc<Shared>,
    /// Hands the sink back when its channel closes; `None` if it panicked.
    handle: Option<JoinHandle<Option<Box<dyn StreamWriter>>>>,
}

/// Sends every batch to several named sinks at once.
pub struct StreamingMultiWriter {
    pending: Vec<(String, Box<dyn StreamWriter>)>,
    workers: Vec<Worker>,
    /// Largest number of rows per `send_batch` call. Default 100.
    pub batch_size: usize,
    /// Stop everything at the first sink error (default: carry on with the others).
    pub stop_on_sink_error: bool,
    /// Batches buffered per sink. Default 16.
    pub buffer_batches: usize,
    /// Most sinks sending at once; `None`: all of them.
    pub max_workers: Option<usize>,
    started: Option<Instant>,
    events: u64,
    tables: std::collections::BTreeSet<String>,
}

impl Default for StreamingMultiWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamingMultiWriter {
    /// A writer with no sinks.
    pub fn new() -> Self {
        Self {
            pending: Vec::new(),
            workers: Vec::new(),
            batch_size: 100,
            stop_on_sink_error: false,
            buffer_batches: DEFAULT_BUFFER_BATCHES,
            max_workers: None,
            started: None,
            events: 0,
            tables: Default::default(),
        }
    }

    /// Adds a sink called `name`; returns `self` for chaining.
    pub fn add_sink(&mut self, name: &str, sink: Box<dyn StreamWriter>) -> &mut Self {
        self.pending.push((name.to_string(), sink));
        self
    }

    /// Removes the sink called `name` and hands it back, still open: before streaming
    /// starts, as it was added; once started, when it has written every batch it was
    /// sent, and without a place in the final report. `None` if there is no such sink,
    /// or if its thread panicked.
    pub fn remove_sink(&mut self, name: &str) -> Option<Box<dyn StreamWriter>> {
        if let Some(at) = self.pending.iter().position(|(n, _)| n == name) {
            return Some(self.pending.remove(at).1);
        }
        let at = self.workers.iter().position(|w| w.name == name)?;
        let mut worker = self.workers.remove(at);
        worker.sender = None; // the worker writes what it holds, then hands the sink back
        worker.handle.take()?.join().ok().flatten()
    }

    /// The sinks' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.pending
            .iter()
            .map(|(n, _)| n.clone())
            .chain(self.workers.iter().map(|w| w.name.clone()))
            .collect()
    }

    fn start(&mut self) {
        if self.started.is_some() {
            return;
        }
        let started = Instant::now();
        self.started = Some(started);
        let limit = self.max_workers.unwrap_or(usize::MAX).max(1);
        let running = Arc::new(Gate::new(limit));
        for (name, mut sink) in self.pending.drain(..) {
            let (sender, receiver) = sync_channel::<Message>(self.buffer_batches.max(1));
            let shared = Arc::new(Shared {
                delivered: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                error: Mutex::new(None),
                result: Mutex::new(SinkResult {
                    name: name.clone(),
                    ..Default::default()
                }),
            });
            let state = shared.clone();
            let gate = running.clone();
            let thread = format!("the thread of sink {name}");
            let handle = std::thread::spawn(move || {
                let mut tables = std::collections::BTreeSet::new();
                for message in receiver {
                    let (work, answer) = match message {
                        Message::Batches(delivery) => {
                            let _turn = gate.acquire();
                            for batch in delivery.batches() {
                                if let Some(t) = spindle_sinks::event::table_of(batch) {
                                    tables.insert(t);
                                }
                            }
                            (Some(delivery), None)
                        }
                        Message::Flush(done) => (None, Some(done)),
                    };
                    // A sink's bug (a panic) fails that sink, not the run.
                    let outcome = catch_unwind(AssertUnwindSafe(|| match &work {
                        Some(delivery) => sink.send_shared(delivery),
                        None => sink.flush(),
                    }));
                    let mut result = state.result.lock().expect("result lock");
                    let panicked = outcome.is_err();
                    if !panicked {
                        // The counts are final before a flush is answered.
                        state.delivered.store(sink.delivered(), Ordering::Relaxed);
                        result.events_sent = sink.delivered();
                    }
                    result.tables_processed = tables.len() as u64;
                    result.elapsed_seconds = started.elapsed().as_secs_f64();
                    let stopped = !matches!(outcome, Ok(Ok(())));
                    match outcome {
                        Ok(Ok(())) => {}
                        Ok(Err(spindle_sinks::Error::Closed(_))) => result.reader_closed = true,
                        Ok(Err(e)) => {
                            result.errors.push(e.to_string());
                            state.error.lock().expect("error lock").get_or_insert(e);
                        }
                        Err(panic) => result.errors.push(
                            Error::Panicked {
                                thread: thread.clone(),
                                message: crate::error::panic_message(panic.as_ref()),
                            }
                            .to_string(),
                        ),
                    }
                    state
                        .failed
                        .store(!result.errors.is_empty(), Ordering::Relaxed);
                    state.stopped.store(stopped, Ordering::Relaxed);
                    drop(result);
                    if let Some(done) = answer {
                        let _ = done.send(());
                    }
                    if panicked {
                        return None; // a sink in an unknown state is not closed
                    }
                    if stopped {
                        break; // the receiver is dropped: the fan-out stops sending here
                    }
                }
                Some(sink)
            });
            self.workers.push(Worker {
                name,
                sender: Some(sender),
                shared,
                handle: Some(handle),
            });
        }
    }

    fn any_failed(&self) -> bool {
        self.workers
            .iter()
            .any(|w| w.shared.failed.load(Ordering::Relaxed))
    }

    /// Hands `batch` to every healthy sink, in slices of at most `batch_size` rows.
    ///
    /// # Errors
    /// With `stop_on_sink_error`, the first sink failure.
    pub fn send(&mut self, batch: &RecordBatch) -> Result<()> {
        let size = self.batch_size.max(1);
        let slices = (0..batch.num_rows())
            .step_by(size)
            .map(|at| batch.slice(at, size.min(batch.num_rows() - at)))
            .collect();
        self.send_slices(slices)
    }

    /// Hands `batches`, as they are, to every healthy sink.
    fn send_slices(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        self.start();
        self.check_stop()?;
        for batch in &batches {
            self.events += batch.num_rows() as u64;
            if let Some(t) = spindle_sinks::event::table_of(batch) {
                self.tables.insert(t);
            }
        }
        let delivery = Arc::new(SharedEvents::new(batches));
        for w in &mut self.workers {
            if let Some(sender) = &w.sender {
                if sender.send(Message::Batches(delivery.clone())).is_err() {
                    w.sender = None; // that sink failed; its error is recorded
                }
            }
        }
        Ok(())
    }

    /// With `stop_on_sink_error`, the first sink failure so far.
    fn check_stop(&self) -> Result<()> {
        match self.stop_on_sink_error && self.any_failed() {
            true => Err(self.first_error()),
            false => Ok(()),
        }
    }

    /// The first failure, as its sink returned it where it can be handed on, else its
    /// text (a panic).
    fn first_error(&self) -> Error {
        let original = self.workers.iter().find_map(|w| {
            let stopped = w.shared.failed.load(Ordering::Relaxed);
            stopped
                .then(|| w.shared.error.lock().expect("error lock").take())
                .flatten()
        });
        if let Some(e) = original {
            return Error::Sink(e);
        }
        let message = self
            .workers
            .iter()
            .find_map(|w| {
                let r = w.shared.result.lock().expect("result lock");
                r.errors.first().map(|e| format!("sink {}: {e}", r.name))
            })
            .unwrap_or_default();
        Error::invalid("sink", message)
    }

    /// Waits until every healthy sink has written and flushed what it was sent.
    pub fn flush_all(&mut self) {
        self.start();
        let waits: Vec<_> = self
            .workers
            .iter()
            .filter_map(|w| {
                let (done, wait) = sync_channel(1);
                w.sender.as_ref()?.send(Message::Flush(done)).ok()?;
                Some(wait)
            })
            .collect();
        for w in waits {
            let _ = w.recv();
        }
    }

    /// Streams `(table, batch)` pairs to every sink, then closes them all. A batch of
    /// table rows is made events as a streamer makes them: `_spindle_table`,
    /// `_spindle_seq` counted per table across its batches, and `_spindle_event_time`
    /// from the table's first timestamp column; a batch that is events already (it has
    /// `_spindle_table`) goes as it is.
    pub fn stream(
        &mut self,
        batches: impl IntoIterator<Item = Result<(String, RecordBatch)>>,
    ) -> StreamingMultiWriteResult {
        let mut source_error = None;
        let mut next_seq: std::collections::HashMap<String, i64> = Default::default();
        for item in batches {
            let sent = item.and_then(|(table, batch)| {
                let schema = batch.schema();
                if schema
                    .column_with_name(crate::streamer::META_TABLE)
                    .is_some()
                {
                    return self.send(&batch);
                }
                let seq = next_seq.entry(table.clone()).or_insert(0);
                let rows = batch.num_rows() as i64;
                let seqs = arrow_array::Int64Array::from_iter_values(*seq..*seq + rows);
                *seq += rows;
                let event_time = crate::streamer::event_time_column(&table, &schema, None)?;
                let events =
                    crate::streamer::with_metadata(&batch, seqs, &table, event_time.as_deref())?;
                self.send(&events)
            });
            if let Err(e) = sent {
                source_error = Some(e.to_string());
                break;
            }
        }
        let mut result = self.finish();
        if let Some(e) = source_error {
            for s in &mut result.sinks {
                if s.errors.is_empty() {
                    s.errors.push(format!("stopped: {e}"));
                }
            }
        }
        result
    }

    /// Streams one table's batch; returns each sink's success.
    pub fn stream_table(&mut self, batch: &RecordBatch) -> Vec<(String, bool)> {
        let _ = self.send(batch);
        self.flush_all();
        self.workers
            .iter()
            .map(|w| (w.name.clone(), !w.shared.failed.load(Ordering::Relaxed)))
            .collect()
    }

    /// Closes every sink and reports.
    pub fn finish(&mut self) -> StreamingMultiWriteResult {
        self.start();
        let mut sinks = Vec::new();
        for w in &mut self.workers {
            w.sender = None;
            let joined = w.handle.take().map(JoinHandle::join);
            let mut r = w.shared.result.lock().expect("result lock").clone();
            if let Some(Err(panic)) = &joined {
                let panicked = Error::Panicked {
                    thread: format!("the thread of sink {}", w.name),
                    message: crate::error::panic_message(panic.as_ref()),
                };
                r.errors.push(panicked.to_string());
            }
            if let Some(Ok(Some(mut sink))) = joined {
                if let Err(e) = sink.close() {
                    r.errors.push(e.to_string());
                }
                r.events_sent = sink.delivered();
            }
            sinks.push(r);
        }
        StreamingMultiWriteResult {
            sinks,
            total_events: self.events,
            total_tables: self.tables.len() as u64,
            elapsed_seconds: self.started.map_or(0.0, |s| s.elapsed().as_secs_f64()),
        }
    }
}

/// The multi-writer as one sink, for a streamer: fans every batch out; `delivered()`
/// is what every healthy sink has taken.
pub struct FanOut {
    writer: StreamingMultiWriter,
    result: Arc<Mutex<Option<StreamingMultiWriteResult>>>,
}

impl FanOut {
    /// Fans out to `writer`'s sinks.
    pub fn new(writer: StreamingMultiWriter) -> Self {
        Self {
            writer,
            result: Arc::default(),
        }
    }

    /// Where the per-sink results appear once the fan-out is closed.
    pub fn report(&self) -> Arc<Mutex<Option<StreamingMultiWriteResult>>> {
        self.result.clone()
    }
}

impl StreamWriter for FanOut {
    fn send_batch(&mut self, batch: &RecordBatch) -> spindle_sinks::Result<()> {
        self.writer.send(batch).map_err(Error::into_sink_error)
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> spindle_sinks::Result<()> {
        // The streamer has cut them to its batch size already: no copy, no re-slicing.
        self.writer
            .send_slices(batches.to_vec())
            .map_err(Error::into_sink_error)
    }

    /// Waits for every sink; with `stop_on_sink_error`, fails with the first sink
    /// failure, even one that came after the last batch was handed over.
    fn flush(&mut self) -> spindle_sinks::Result<()> {
        self.writer.flush_all();
        self.writer.check_stop().map_err(Error::into_sink_error)
    }

    fn close(&mut self) -> spindle_sinks::Result<()> {
        let mut result = self.result.lock().expect("result lock");
        if result.is_none() {
            *result = Some(self.writer.finish());
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        if let Some(r) = self.result.lock().expect("result lock").as_ref() {
            return r
                .sinks
                .iter()
                .filter(|s| s.success() && !s.reader_closed)
                .map(|s| s.events_sent)
                .min()
                .unwrap_or(0);
        }
        let healthy: Vec<u64> = self
            .writer
            .workers
            .iter()
            .filter(|w| !w.shared.stopped.load(Ordering::Relaxed))
            .map(|w| w.shared.delivered.load(Ordering::Relaxed))
            .collect();
        healthy.into_iter().min().unwrap_or(0)
    }

    fn describe(&self) -> String {
        format!("fan-out to {}", self.writer.names().join(", "))
    }
}
