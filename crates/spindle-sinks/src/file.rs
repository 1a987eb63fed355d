//! JSON-lines files.

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::json::JsonEncoder;
use arrow_array::RecordBatch;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
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
    /// Encoded lines, and how many events they hold.
    Lines(Vec<Vec<u8>>, u64),
    /// Write out everything so far, then answer.
    Flush(SyncSender<std::io::Result<()>>),
}

/// Encoded lines waiting for the writer thread, at most (a few MB: bounded memory).
const QUEUED_JOBS: usize = 8;

/// The thread that owns the file: encoding stays with the caller (in parallel), the
/// `write` calls happen here, so a slow disk or the kernel's write-back throttling
/// stalls this thread, not the caller's pacing.
struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Writer {
    fn start(file: File, written: Arc<AtomicU64>) -> Self {
        let (jobs, queue) = sync_channel::<Job>(QUEUED_JOBS);
        let thread = std::thread::spawn(move || -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for job in queue {
                match job {
                    Job::Lines(parts, events) => {
                        for part in &parts {
                            out.write_all(part)?;
                        }
                        written.fetch_add(events, Ordering::Relaxed);
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

/// Writes events as JSON lines (one object per line) to a file. Batches are encoded in
/// parallel on the caller's side and written, in order, by a thread of the sink's own;
/// `delivered` counts events whose lines reached the file (exact after `flush`).
pub struct FileSink {
    path: PathBuf,
    writer: Writer,
    encoder: JsonEncoder,
    written: Arc<AtomicU64>,
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
        Ok(Self {
            path,
            writer: Writer::start(file, written.clone()),
            encoder: JsonEncoder::lines(),
            written,
        })
    }

    fn hand_over(&mut self, parts: Vec<Vec<u8>>, events: u64) -> Result<()> {
        self.writer
            .send(Job::Lines(parts, events))
            .map_err(|e| Error::io(&self.path, e))
    }
}

impl StreamWriter for FileSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        // The pieces go to the writer as they are: no joining copy.
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let parts = self.encoder.encode_batches(batches)?;
        let events = batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        self.hand_over(parts, events)
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
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Best effort: whole batches are written, so the file ends at a line boundary.
        let _ = self.writer.finish();
    }
}
