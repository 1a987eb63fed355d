//! Avro Object Container Files (`avro:PATH`, `generate --format avro`), written with
//! `arrow-avro` batch by batch over Arrow columns, in the schema of the first batch
//! (see [`crate::avro_schema`]). The file is complete once the sink closes.

use crate::StreamWriter;
use crate::avro_schema::{avro_batch, avro_ready};
use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use arrow_avro::writer::AvroWriter;
use arrow_schema::{Schema, SchemaRef};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes the events of one table to an Avro file.
pub struct AvroSink {
    path: PathBuf,
    /// The file, until the writer is made at the first batch.
    file: Option<File>,
    open: Option<Open>,
    written: u64,
    closed: bool,
}

impl AvroSink {
    /// A sink writing `path`.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            path,
            file: Some(file),
            open: None,
            written: 0,
            closed: false,
        })
    }

    /// The open file for events like `batch`'s (made at the first batch, its schema
    /// from that batch's); an error for a batch of another schema.
    fn writer_for(&mut self, batch: &RecordBatch) -> Result<&mut Open> {
        let sent = &batch.schema();
        if self.open.is_none() {
            // The file's name up to its first dot (`order.avro.part` is `order`).
            let stem = self.path.file_name().map(|s| {
                let name = s.to_string_lossy();
                name.split('.').next().unwrap_or_default().to_string()
            });
            let name = crate::event::table_of(batch).or(stem).unwrap_or_default();
            let written = avro_ready(sent, &name)?;
            let file = self.file.take().ok_or_else(|| Error::Invalid {
                field: "sink",
                message: format!("{} failed before", self.describe()),
            })?;
            let writer = AvroWriter::new(BufWriter::with_capacity(1 << 20, file), written.clone())
                .map_err(|e| avro_error(&self.path, e))?;
            self.open = Some(Open {
                writer,
                sent: sent.clone(),
                written,
            });
        }
        let open = self.open.as_mut().expect("opened above");
        if open.sent.fields() != sent.fields() {
            return Err(Error::SchemaChanged {
                sink: format!("avro:{}", self.path.display()),
                table: crate::event::table_of(batch).unwrap_or_else(|| "?".into()),
            });
        }
        Ok(open)
    }
}

/// An open file: its writer, the schema of the events sent and the one written.
struct Open {
    writer: AvroWriter<BufWriter<File>>,
    sent: SchemaRef,
    written: Schema,
}

fn avro_error(path: &Path, e: arrow_avro::errors::AvroError) -> Error {
    Error::Invalid {
        field: "avro",
        message: format!("{}: {e}", path.display()),
    }
}

impl StreamWriter for AvroSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.closed {
            return Err(Error::Invalid {
                field: "sink",
                message: format!("avro:{} is closed", self.path.display()),
            });
        }
        let path = self.path.clone();
        let open = self.writer_for(batch)?;
        let written = avro_batch(batch, &open.written)?;
        open.writer
            .write(&written)
            .map_err(|e| avro_error(&path, e))?;
        self.written += batch.num_rows() as u64;
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if let Some(mut open) = self.open.take() {
            open.writer
                .finish()
                .map_err(|e| avro_error(&self.path, e))?;
            use std::io::Write as _;
            open.writer
                .into_inner()
                .flush()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.written
    }

    fn describe(&self) -> String {
        format!("avro:{}", self.path.display())
    }
}
