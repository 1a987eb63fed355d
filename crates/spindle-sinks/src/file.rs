//! JSON-lines files.

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::json::{BufferPool, JsonEncoder, JsonLines, SharedEvents};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// How a [`FileSink`] opens an existing file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileMode {
    /// Add to the end (the reference's default `"a"`).
    #[default]
    Append,
    /// Start empty (`"w"`).
    Overwrite,
}

impl std::str::FromStr for FileMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "a" | "append" => Ok(FileMode::Append),
            "w" | "overwrite" => Ok(FileMode::Overwrite),
            other => Err(Error::Invalid {
                field: "mode",
                message: format!("'{other}' is not one of a, append, w, overwrite"),
            }),
        }
    }
}

/// What the caller hands the writer thread.
enum Job {
    /// Encoded lines (possibly shared with other sinks of a fan-out).
    Lines(Arc<JsonLines>),
    /// Lines being encoded on the rayon pool: written when ready, in the order handed
    /// over.
    Encoding(Receiver<Result<JsonLines>>),
    /// Write out everything so far, then answer.
    Flush(SyncSender<std::io::Result<()>>),
}

/// Encoded lines waiting for the writer thread, at most.
const QUEUED_JOBS: usize = 8;

/// Events per job at most: with [`QUEUED_JOBS`], the text waiting for the disk stays
/// under about 20 MB however large the batches sent.
const JOB_ROWS: usize = 8_192;

/// Sends of at least this many events are encoded on the rayon pool while the caller
/// goes on; smaller ones (realtime ticks) are encoded at once, on the caller's thread.
/// Encoding in parallel still happens on the pool either way.
const POOL_ENCODE_ROWS: usize = 1_024;

/// The thread that owns the file: the `write` calls happen here, so a slow disk or the
/// kernel's write-back throttling stalls this thread, not the caller's pacing.
struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Writer {
    fn start(file: File, written: Arc<AtomicU64>, spare: BufferPool) -> Self {
        let (jobs, queue) = sync_channel::<Job>(QUEUED_JOBS);
        let thread = std::thread::spawn(move || -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for job in queue {
                match job {
                    Job::Lines(lines) => {
                        write_lines(&mut out, &lines)?;
                        written.fetch_add(lines.events(), Ordering::Relaxed);
                        // Shared lines are recycled by whoever lets go of them last.
                        if let Ok(lines) = Arc::try_unwrap(lines) {
                            lines.recycle(&spare);
                        }
                    }
                    Job::Encoding(encoded) => {
                        let lines = encoded
                            .recv()
                            .map_err(|_| std::io::Error::other("an encoding task was lost"))?
                            .map_err(std::io::Error::other)?;
                        write_lines(&mut out, &lines)?;
                        written.fetch_add(lines.events(), Ordering::Relaxed);
                        lines.recycle(&spare);
                    }
                    Job::Flush(answer) => {
                        let flushed = out.flush();
                        let failed = flushed.is_err();
                        let _ = answer.send(flushed);
                        if failed {
                            return Ok(()); // reported through the answer
                        }
                    }
                }
            }
            out.flush()
        });
        Self {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Hands over a job; if the thread has stopped, its error.
    fn send(&mut self, job: Job) -> std::io::Result<()> {
        let Some(jobs) = self.jobs.as_ref() else {
            return Err(std::io::Error::other("the file is closed"));
        };
        if jobs.send(job).is_ok() {
            return Ok(());
        }
        self.finish()
            .and(Err(std::io::Error::other("the writer thread stopped")))
    }

    /// Writes out what was handed over, and waits for it.
    fn flush(&mut self) -> std::io::Result<()> {
        let (answer, reply) = sync_channel(1);
        self.send(Job::Flush(answer))?;
        match reply.recv() {
            Ok(result) => result,
            Err(_) => self.finish(),
        }
    }

    /// Stops the thread after it wrote everything; its first error, if any.
    fn finish(&mut self) -> std::io::Result<()> {
        self.jobs = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread panicked"))),
            None => Ok(()),
        }
    }
}

fn write_lines(out: &mut impl Write, lines: &JsonLines) -> std::io::Result<()> {
    lines
        .parts()
        .iter()
        .try_for_each(|part| out.write_all(part))
}

/// Writes events as JSON lines (one object per line) to a file. Large sends are encoded
/// on the rayon pool while the caller goes on (small ones at once), and written, in
/// order, by a thread of the sink's own; `delivered` counts events whose lines reached
/// the file (exact after `flush`).
pub struct FileSink {
    path: PathBuf,
    writer: Writer,
    written: Arc<AtomicU64>,
    /// The last schema found writable, so encoding on the pool cannot fail on types.
    checked: Option<SchemaRef>,
    /// Buffers the writer thread hands back after writing them.
    spare: BufferPool,
}

impl FileSink {
    /// Opens `path`, creating its parent folders.
    ///
    /// # Errors
    /// The folder or file cannot be created.
    pub fn new(path: impl AsRef<Path>, mode: FileMode) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(mode == FileMode::Append)
            .truncate(mode == FileMode::Overwrite)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let written = Arc::new(AtomicU64::new(0));
        let spare = BufferPool::default();
        Ok(Self {
            path,
            writer: Writer::start(file, written.clone(), spare.clone()),
            spare,
            written,
            checked: None,
        })
    }

    fn hand_over(&mut self, job: Job) -> Result<()> {
        self.writer.send(job).map_err(|e| Error::io(&self.path, e))
    }

    /// Checks each new schema before its batches are encoded out of the caller's sight.
    fn check_schema(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        if self
            .checked
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &schema))
        {
            return Ok(());
        }
        JsonEncoder::check_schema(&schema)?;
        self.checked = Some(schema);
        Ok(())
    }
}

impl StreamWriter for FileSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        // The pieces go to the writer as they are: no joining copy.
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let events: usize = batches.iter().map(RecordBatch::num_rows).sum();
        // A caller that is itself a rayon worker encodes at once: its pool might have no
        // other thread to run the encoding while it waits on this sink.
        if events < POOL_ENCODE_ROWS || rayon::current_thread_index().is_some() {
            let lines = JsonLines::encode_into(batches, &self.spare)?;
            return self.hand_over(Job::Lines(Arc::new(lines)));
        }
        for batch in batches {
            self.check_schema(batch)?;
        }
        for job in crate::regroup(batches, JOB_ROWS, JOB_ROWS) {
            let (lines, encoded) = sync_channel(1);
            let spare = self.spare.clone();
            rayon::spawn(move || {
                // The receiver is gone only if the writer thread stopped on an error.
                let _ = lines.send(JsonLines::encode_into(&job, &spare));
            });
            self.hand_over(Job::Encoding(encoded))?;
        }
        Ok(())
    }

    fn send_shared(&mut self, events: &SharedEvents) -> Result<()> {
        self.hand_over(Job::Lines(events.json_lines()?))
    }

    fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))
    }

    fn close(&mut self) -> Result<()> {
        self.writer.finish().map_err(|e| Error::io(&self.path, e))
    }

    fn delivered(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn writes_envelopes(&self) -> bool {
        true
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Best effort: whole batches are written, so the file ends at a line boundary.
        let _ = self.writer.finish();
    }
}
