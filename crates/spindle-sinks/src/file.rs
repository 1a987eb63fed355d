//! JSON-lines files.

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::json::JsonEncoder;
use arrow_array::RecordBatch;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Writes events as JSON lines (one object per line) to a file.
pub struct FileSink {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    encoder: JsonEncoder,
    delivered: u64,
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
        Ok(Self {
            path,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            encoder: JsonEncoder::lines(),
            delivered: 0,
        })
    }

    fn writer(&mut self) -> Result<&mut BufWriter<File>> {
        let path = &self.path;
        self.out.as_mut().ok_or_else(|| Error::Invalid {
            field: "sink",
            message: format!("{} is closed", path.display()),
        })
    }
}

impl StreamWriter for FileSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bytes = self.encoder.encode_batch(batch)?;
        let path = self.path.clone();
        self.writer()?
            .write_all(&bytes)
            .map_err(|e| Error::io(path, e))?;
        self.delivered += batch.num_rows() as u64;
        Ok(())
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let parts = self.encoder.encode_batches(batches)?;
        let path = self.path.clone();
        let out = self.writer()?;
        for part in &parts {
            out.write_all(part).map_err(|e| Error::io(&path, e))?;
        }
        self.delivered += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.writer()?.flush().map_err(|e| Error::io(path, e))
    }

    fn close(&mut self) -> Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Best effort: whole batches were written, so the file ends at a line boundary.
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}
