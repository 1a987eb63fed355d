//! Avro Object Container Files (`avro:PATH`, `generate --format avro`), written with
//! `arrow-avro` batch by batch over Arrow columns. The Avro schema is derived from the
//! first batch's Arrow schema: nullable columns as unions with null, instants as
//! `timestamp-micros` (UTC, as Spindle's instants are), dates as `date`, numbers as
//! `long` and `double`, text as `string`; dictionary-encoded text as plain text. The
//! file is complete once the sink closes.

use crate::StreamWriter;
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_avro::schema::{AVRO_NAME_METADATA_KEY, AVRO_NAMESPACE_METADATA_KEY};
use arrow_avro::writer::AvroWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The Arrow schema written for events of schema `sent`: a record named `name` (the
/// table's) in namespace `spindle`, instants in UTC microseconds, dictionaries as
/// their values; an error names a column Avro cannot carry.
fn avro_ready(sent: &SchemaRef, name: &str) -> Result<Schema> {
    let fields: Vec<Field> = sent
        .fields()
        .iter()
        .map(|f| {
            let ty = avro_type(f.data_type()).ok_or_else(|| Error::Unsupported {
                column: f.name().clone(),
                data_type: f.data_type().to_string(),
                format: "Avro",
            })?;
            Ok(f.as_ref().clone().with_data_type(ty))
        })
        .collect::<Result<_>>()?;
    let mut metadata = sent.metadata().clone();
    metadata.insert(AVRO_NAME_METADATA_KEY.into(), name.into());
    metadata.insert(AVRO_NAMESPACE_METADATA_KEY.into(), "spindle".into());
    Ok(Schema::new_with_metadata(fields, metadata))
}

/// The type a column of type `ty` is written as, if Avro carries it.
fn avro_type(ty: &DataType) -> Option<DataType> {
    Some(match ty {
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Dictionary(_, value) => avro_type(value)?,
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Boolean
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::Date32
        | DataType::Decimal128(_, _) => ty.clone(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        _ => return None,
    })
}

/// `batch`'s columns cast to the written schema.
fn avro_batch(batch: &RecordBatch, written: &Schema) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(written.fields())
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => arrow_cast::cast(c, f.data_type()),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(Arc::new(written.clone()), columns)?)
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
