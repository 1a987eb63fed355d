//! Parquet files.

use crate::StreamWriter;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::basic::{Compression, Encoding};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

mod chunks;
mod compression;
use chunks::{OwnChunk, OwnEncoding};
pub use compression::ParquetCompression;

/// Settings of a [`ParquetSink`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Codec of every column.
    pub compression: ParquetCompression,
    /// Rows per row group (the unit readers skip and parallelize over).
    pub row_group_rows: usize,
    /// A column the rows arrive in ascending order of, recorded in every row group's
    /// `sorting_columns` so that readers (Spindle's `replay`, DataFusion) can stream the
    /// file in that order without sorting it. The caller vouches for the order.
    pub sorted_by: Option<String>,
    /// Spindle encodes integer, instant, double and repeated-text columns itself, a page
    /// at a time (the default, and faster: `cargo bench -p spindle-benches --bench
    /// stream -- serialize_medium_order` compares the two); `false` writes every column through
    /// the parquet crate's own column writers, with the same layout (encodings,
    /// dictionaries, codec, page limits). The two files hold the same values and
    /// statistics; the bytes differ.
    pub own_encoders: bool,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::Zstd,
            row_group_rows: 256 * 1024,
            sorted_by: None,
            own_encoders: true,
        }
    }
}

impl ParquetOptions {
    /// These options with rows declared in ascending order of `column`.
    pub fn sorted_by(mut self, column: Option<&str>) -> Self {
        self.sorted_by = column.map(str::to_string);
        self
    }

    /// Writer properties for `schema`, its columns laid out as `layouts` says. A column
    /// with an `own_encoding` gets plain, uncompressed defaults: its Arrow writer is made
    /// with the row group's only to be dropped, and with a codec or a delta encoder it
    /// would first make a Zstandard context or a 1 MiB buffer.
    fn properties(
        &self,
        schema: &Schema,
        layouts: &[ColumnLayout],
        own_encoding: &[Option<(OwnEncoding, ParquetCompression)>],
    ) -> WriterProperties {
        let codec = self.compression.parquet();
        // Flat schemas only: a top-level column's index is its leaf index.
        let sorting = self
            .sorted_by
            .as_deref()
            .and_then(|c| schema.index_of(c).ok())
            .filter(|_| schema.fields().iter().all(|f| !f.data_type().is_nested()))
            .map(|index| {
                vec![SortingColumn {
                    column_idx: index as i32,
                    descending: false,
                    nulls_first: true,
                }]
            });
        let mut builder = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .set_sorting_columns(sorting)
            .set_dictionary_enabled(false);
        for ((field, layout), own) in schema.fields().iter().zip(layouts).zip(own_encoding) {
            let path = ColumnPath::from(field.name().as_str());
            if own.is_some() {
                builder = builder.set_column_compression(path, Compression::UNCOMPRESSED);
                continue;
            }
            if layout.dictionary {
                builder = builder.set_column_dictionary_enabled(path.clone(), true);
            }
            if layout.delta {
                builder = builder.set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED);
            }
            if !layout.compress {
                builder = builder.set_column_compression(path, Compression::UNCOMPRESSED);
            }
        }
        builder.build()
    }
}

/// How one column is laid out in the file.
#[derive(Clone, Copy, Debug)]
struct ColumnLayout {
    /// Values are written once in a dictionary page and referred to by index.
    dictionary: bool,
    /// Integers are written as bit-packed differences (also the fallback when a
    /// dictionary outgrows its page).
    delta: bool,
    /// The codec is applied; off where it would not shrink the pages.
    compress: bool,
}

/// Fewest non-null values a first batch must have for [`ColumnLayout::of`] to judge a
/// column by them; with fewer it is laid out by type.
const LAYOUT_SAMPLE_MIN_ROWS: usize = 64;

/// Rows of the first batch [`ColumnLayout::of`] looks at.
const LAYOUT_SAMPLE_ROWS: usize = 4096;

impl ColumnLayout {
    /// The layout of each column of `schema`. With a `sample` (the first batch), each
    /// column's layout is chosen from its values (see [`ColumnLayout::of`]); without
    /// one, by type (see [`ColumnLayout::by_type`]).
    fn of_columns(schema: &Schema, sample: Option<&RecordBatch>) -> Vec<Self> {
        let fields = schema.fields().iter().enumerate();
        fields
            .map(|(index, field)| match sample {
                Some(batch) => Self::of(batch.column(index).as_ref()),
                None => Self::by_type(field.data_type()),
            })
            .collect()
    }

    /// The layout for a column of `data_type`, values unseen: text, floating-point
    /// numbers and dictionaries get a dictionary, integers and instants delta encoding,
    /// everything the codec.
    fn by_type(data_type: &DataType) -> Self {
        Self {
            dictionary: data_type.is_floating()
                || matches!(
                    data_type,
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Dictionary(..)
                ),
            delta: is_integer_like(data_type),
            compress: true,
        }
    }

    /// The layout for a column like `sample` (its first [`LAYOUT_SAMPLE_ROWS`] rows):
    /// - text gets a dictionary unless nearly every value is new (more than 19 in 20
    ///   distinct: streets, emails), where interning costs time and the dictionary
    ///   ends up as big as the column. A sample shows a column's repeats only in part
    ///   (4,096 page addresses drawn from 19,000 are 90% distinct, 5,000 first names
    ///   68%, yet a dictionary holds either in a fraction of the column's bytes and
    ///   spares the codec the text); where the whole column repeats too little after
    ///   all, the encoder turns to plain pages itself ([`chunks`]' trial, or a full
    ///   dictionary page);
    /// - floating-point numbers always get one: interning 8 bytes costs less than
    ///   compressing them, amounts in cents repeat over a whole column even where a
    ///   first batch shows few repeats (`order_total`), and where they do not the
    ///   dictionary outgrows its page and the rest of the chunk is written plain;
    /// - integers and instants are delta-encoded, never given a dictionary (bit-packing
    ///   differences costs less than interning), and compressed only when mostly
    ///   ascending (ids, event times): differences of random ids are as random as the
    ///   ids, and the codec spends time on them for nothing.
    fn of(sample: &dyn Array) -> Self {
        let by_type = Self::by_type(sample.data_type());
        let sample = sample.slice(0, sample.len().min(LAYOUT_SAMPLE_ROWS));
        let rows = sample.len() - sample.null_count();
        if rows < LAYOUT_SAMPLE_MIN_ROWS {
            return by_type;
        }
        let repeats = || distinct_values(sample.as_ref()).is_some_and(|n| n * 20 <= rows * 19);
        Self {
            dictionary: matches!(sample.data_type(), DataType::Dictionary(..))
                || sample.data_type().is_floating()
                || (by_type.dictionary && repeats()),
            delta: by_type.delta,
            compress: !by_type.delta || mostly_ascending(sample.as_ref()),
        }
    }
}

/// Whether `data_type` is stored as a Parquet integer (delta encoding applies).
fn is_integer_like(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int32
            | DataType::Int64
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Timestamp(..)
    )
}

/// How many distinct non-null values `array` holds, for text; `None` for other types.
fn distinct_values(array: &dyn Array) -> Option<usize> {
    fn count<T: Eq + std::hash::Hash>(values: impl Iterator<Item = Option<T>>) -> usize {
        values.flatten().collect::<HashSet<_>>().len()
    }
    Some(match array.data_type() {
        DataType::Utf8 => count(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => count(array.as_string::<i64>().iter()),
        DataType::Utf8View => count(array.as_string_view().iter()),
        _ => return None,
    })
}

/// Whether an integer column rises from row to row at least seven times in eight.
fn mostly_ascending(array: &dyn Array) -> bool {
    let Ok(values) = arrow_cast::cast(array, &DataType::Int64) else {
        return false;
    };
    // Nulls are skipped: delta encoding only sees the values.
    let values: Vec<i64> = values
        .as_primitive::<Int64Type>()
        .iter()
        .flatten()
        .collect();
    let descents = values.windows(2).filter(|pair| pair[1] < pair[0]).count();
    descents * 8 <= values.len()
}

/// Write buffer of a Parquet file.
const FILE_BUFFER_BYTES: usize = 64 * 1024;

/// An open file: the row group being written has one encoder per leaf column, fed in
/// parallel (rayon), so a wide table is encoded on every core.
struct OpenFile {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Per field of a flat schema: how Spindle encodes the column itself, and the codec
    /// of its pages; `None` where the parquet crate does.
    own_encoding: Vec<Option<(OwnEncoding, ParquetCompression)>>,
    group: Option<Vec<ColumnEncoder>>,
    rows_in_group: usize,
    groups_written: usize,
}

/// The encoder of one leaf column of the row group being written.
enum ColumnEncoder {
    /// The parquet crate's.
    Arrow(Box<ArrowColumnWriter>),
    /// Spindle's, for integers, instants, doubles and repeated text.
    Own(Box<dyn OwnChunk>),
}

/// What one encoder is given of one batch.
enum ColumnSlice {
    /// A leaf, for the parquet crate's encoder.
    Leaf(ArrowLeafColumn),
    /// The column itself, for Spindle's.
    Column(ArrayRef),
}

/// An encoded column chunk, ready to be appended to its row group.
enum EncodedChunk {
    /// From the parquet crate's encoder.
    Arrow(ArrowColumnChunk),
    /// From Spindle's: the chunk's bytes and its metadata.
    Own(Bytes, ColumnCloseResult),
}

impl OpenFile {
    /// The encoders of a new row group.
    fn column_encoders(&self) -> Result<Vec<ColumnEncoder>> {
        let arrow = self.factory.create_column_writers(self.groups_written)?;
        // Own encoding is only chosen for flat schemas: leaf `index` is field `index`.
        let encoders = arrow.into_iter().enumerate().map(|(index, writer)| {
            match self.own_encoding.get(index).copied().flatten() {
                Some((encoding, codec)) => ColumnEncoder::Own(
                    encoding.chunk(self.file.schema_descr().column(index), codec),
                ),
                None => ColumnEncoder::Arrow(Box::new(writer)),
            }
        });
        Ok(encoders.collect())
    }

    /// Encodes `batches`, which together fit in the current row group: each column's
    /// encoder takes its slices of all of them, the columns in parallel.
    fn write(&mut self, batches: &[RecordBatch]) -> Result<()> {
        if self.group.is_none() {
            self.group = Some(self.column_encoders()?);
        }
        let encoders = self.group.as_mut().expect("created above");
        let mut slices: Vec<Vec<ColumnSlice>> = (0..encoders.len())
            .map(|_| Vec::with_capacity(batches.len()))
            .collect();
        for batch in batches {
            let mut slots = slices.iter_mut();
            let columns = self.schema.fields().iter().zip(batch.columns());
            for ((field, column), own) in columns.zip(self.own_encoding.iter().map(Option::is_some))
            {
                if own {
                    let slot = slots.next().expect("one encoder per column");
                    slot.push(ColumnSlice::Column(column.clone()));
                    continue;
                }
                for leaf in compute_leaves(field, column)? {
                    let slot = slots.next().expect("one encoder per leaf");
                    slot.push(ColumnSlice::Leaf(leaf));
                }
            }
        }
        encoders
            .par_iter_mut()
            .zip(slices.par_iter())
            .try_for_each(|(encoder, column)| {
                column
                    .iter()
                    .try_for_each(|slice| match (&mut *encoder, slice) {
                        (ColumnEncoder::Arrow(writer), ColumnSlice::Leaf(leaf)) => {
                            Ok(writer.write(leaf)?)
                        }
                        (ColumnEncoder::Own(writer), ColumnSlice::Column(array)) => {
                            writer.write(array)
                        }
                        _ => unreachable!("slices are cut for their encoder"),
                    })
            })?;
        self.rows_in_group += batches.iter().map(RecordBatch::num_rows).sum::<usize>();
        Ok(())
    }

    /// Closes the current row group (encoders finish in parallel) and appends it.
    fn finish_group(&mut self) -> Result<()> {
        let Some(encoders) = self.group.take() else {
            return Ok(());
        };
        let chunks = encoders
            .into_par_iter()
            .map(|encoder| match encoder {
                ColumnEncoder::Arrow(writer) => Ok(EncodedChunk::Arrow(writer.close()?)),
                ColumnEncoder::Own(writer) => {
                    let (bytes, close) = writer.finish()?;
                    Ok(EncodedChunk::Own(bytes, close))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            match chunk {
                EncodedChunk::Arrow(chunk) => chunk.append_to_row_group(&mut group)?,
                EncodedChunk::Own(bytes, close) => group.append_column(&bytes, close)?,
            }
        }
        group.close()?;
        self.rows_in_group = 0;
        self.groups_written += 1;
        Ok(())
    }
}

/// Writes event batches to one Parquet file. The file is readable once closed; until
/// then it has no footer, so a run that dies never leaves a file that looks complete.
pub struct ParquetSink {
    path: PathBuf,
    options: ParquetOptions,
    writer: Option<OpenFile>,
    delivered: u64,
    closed: bool,
}

impl ParquetSink {
    /// A sink writing to `path` (created, with its parent folders, on the first batch).
    ///
    /// # Errors
    /// The parent folder cannot be created.
    pub fn new(path: impl AsRef<Path>, options: ParquetOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(Self {
            path,
            options,
            writer: None,
            delivered: 0,
            closed: false,
        })
    }

    /// Opens the file for `schema` now, so that a run with no events still leaves a
    /// valid (empty) file.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn open(&mut self, schema: SchemaRef) -> Result<()> {
        self.open_with(schema, None)
    }

    /// Opens the file for `schema`, laying out each column for values like `sample`'s.
    fn open_with(&mut self, schema: SchemaRef, sample: Option<&RecordBatch>) -> Result<()> {
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|e| Error::io(&self.path, e))?;
            let layouts = ColumnLayout::of_columns(&schema, sample);
            // Own encoders only for flat schemas: there, leaf `i` is field `i`.
            let flat = schema.fields().iter().all(|f| !f.data_type().is_nested());
            let own = self.options.own_encoders && flat;
            let own_encoding = schema
                .fields()
                .iter()
                .zip(&layouts)
                .map(|(field, layout)| {
                    let own = OwnEncoding::of(field.data_type(), layout.delta, layout.dictionary)
                        .filter(|_| own)?;
                    let codec = match layout.compress {
                        true => self.options.compression,
                        false => ParquetCompression::None,
                    };
                    Some((own, codec))
                })
                .collect::<Vec<_>>();
            // The Arrow writer lays out the file (schema, embedded Arrow schema); its
            // lower half then takes row groups encoded column by column in parallel.
            // Encoded column chunks are larger than the buffer and go straight to the
            // file; it gathers only headers and small pages (1 MiB per open file cost
            // 4 to 9 MiB of peak memory at `medium`, and no time).
            let (file, factory) = ArrowWriter::try_new(
                BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
                schema.clone(),
                Some(self.options.properties(&schema, &layouts, &own_encoding)),
            )?
            .into_serialized_writer()?;
            self.writer = Some(OpenFile {
                file,
                factory,
                schema,
                own_encoding,
                group: None,
                rows_in_group: 0,
                groups_written: 0,
            });
        }
        Ok(())
    }
}

impl StreamWriter for ParquetSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        if self.closed {
            return Err(Error::Invalid {
                field: "sink",
                message: format!("{} is closed", self.path.display()),
            });
        }
        let Some(first) = batches.first() else {
            return Ok(());
        };
        self.open_with(first.schema(), Some(first))?;
        let open = self.writer.as_ref().expect("opened above");
        if let Some(other) = batches
            .iter()
            .find(|b| open.schema.fields() != b.schema().fields())
        {
            return Err(Error::SchemaChanged {
                sink: self.describe(),
                table: crate::event::table_of(other).unwrap_or_else(|| "?".into()),
            });
        }
        // Slices gather until they fill the row group, then are encoded together.
        let group_rows = self.options.row_group_rows.max(1);
        let open = self.writer.as_mut().expect("opened above");
        for group in crate::regroup(batches, group_rows - open.rows_in_group, group_rows) {
            open.write(&group)?;
            if open.rows_in_group == group_rows {
                open.finish_group()?;
            }
        }
        self.delivered += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(open) = self.writer.as_mut() {
            open.finish_group()?;
            open.file.flush().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        if let Some(mut open) = self.writer.take() {
            open.finish_group()?;
            open.file.close()?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        format!("parquet:{}", self.path.display())
    }
}
