//! Column chunks of 64-bit integers, instants and floating-point numbers, encoded by
//! Spindle itself.
//!
//! The parquet crate's encoders take one call per value (its delta encoder packs bits
//! one value at a time, its dictionary interns through a general-purpose hash table)
//! and its column writer walks each value again for statistics; on Spindle's tables
//! that made these columns most of the time spent writing Parquet. [`ChunkWriter`]
//! works a page at a time instead: values encoded in one pass ([`DeltaValues`]:
//! DELTA_BINARY_PACKED, for integers and instants; [`DictionaryValues`]: a dictionary
//! of 8-byte values, for floating-point numbers), definition levels straight from the
//! Arrow validity bitmap, statistics, the codec, and the column and offset index that
//! readers use to skip pages. The finished chunk is spliced into the row group beside
//! the chunks the parquet crate encodes.

use super::ParquetCompression;
use crate::error::Result;
use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows per data page: the parquet crate's default page row limit, so readers skip
/// pages of the same size in every column.
const PAGE_ROWS: usize = 20_000;

/// The encodings Spindle writes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OwnEncoding {
    /// DELTA_BINARY_PACKED, for integers and instants.
    Delta,
    /// A dictionary, for floating-point numbers.
    Dictionary,
}

impl OwnEncoding {
    /// Spindle's encoding for a column of `data_type` to be delta-encoded (`delta`) or
    /// given a dictionary (`dictionary`), where it has one; `None` leaves the column
    /// to the parquet crate.
    pub(super) fn of(data_type: &DataType, delta: bool, dictionary: bool) -> Option<Self> {
        match data_type {
            DataType::Int64 | DataType::Timestamp(..) if delta => Some(Self::Delta),
            DataType::Float64 if dictionary => Some(Self::Dictionary),
            _ => None,
        }
    }
}

/// Spindle's encoder of one leaf column for one row group.
pub(super) enum OwnChunk {
    /// Integers and instants, delta-encoded.
    Delta(ChunkWriter<DeltaValues>),
    /// Floating-point numbers, dictionary-encoded.
    Dictionary(ChunkWriter<DictionaryValues>),
}

impl OwnChunk {
    /// An encoder of column `descr` in `encoding`, pages compressed with `codec`.
    pub(super) fn new(
        encoding: OwnEncoding,
        descr: ColumnDescPtr,
        codec: ParquetCompression,
    ) -> Self {
        match encoding {
            OwnEncoding::Delta => Self::Delta(ChunkWriter::new(descr, codec, DeltaValues)),
            OwnEncoding::Dictionary => {
                Self::Dictionary(ChunkWriter::new(descr, codec, DictionaryValues::default()))
            }
        }
    }

    /// Appends the rows of `array`, closing pages as they fill.
    pub(super) fn write(&mut self, array: &ArrayRef) -> Result<()> {
        match self {
            Self::Delta(writer) => writer.write(array),
            Self::Dictionary(writer) => writer.write(array),
        }
    }

    /// The chunk's bytes and what the row group needs to splice them in.
    pub(super) fn finish(self) -> Result<(Bytes, ColumnCloseResult)> {
        match self {
            Self::Delta(writer) => writer.finish(),
            Self::Dictionary(writer) => writer.finish(),
        }
    }
}

/// How the non-null values of a page are written, and what statistics say of them.
pub(super) trait PageValues {
    /// The values' type.
    type Value: Copy + PartialOrd + Default;

    /// Whether the first data page decides if the chunk keeps the codec (see
    /// [`ChunkWriter::compress_data_page`]); otherwise it always does.
    const CODEC_ON_TRIAL: bool;

    /// The values of `array` (nulls included, as stored).
    fn values_of(array: &dyn Array) -> &[Self::Value];

    /// Appends the page's `values` to `out`; returns the encoding used.
    fn encode(&mut self, values: &[Self::Value], out: &mut Vec<u8>) -> Encoding;

    /// The dictionary page (PLAIN values) and its number of entries, if the encoding
    /// has one.
    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)>;

    /// Encodings the chunk's pages may use (levels included).
    fn encodings(&self) -> Vec<Encoding>;

    /// Smallest and largest of `values` as statistics record them; `None` when no
    /// value can be ordered.
    fn range(values: &[Self::Value]) -> Option<(Self::Value, Self::Value)>;

    /// `value` as the page index stores it.
    fn index_bytes(value: Self::Value) -> Vec<u8>;

    /// Chunk statistics.
    fn statistics(range: Option<(Self::Value, Self::Value)>, nulls: u64) -> Statistics;
}

/// Where a written data page sits in the chunk's data pages.
struct PagePlace {
    offset: u64,
    size: usize,
    rows: usize,
}

/// One row group's chunk of one column, filled page by page.
pub(super) struct ChunkWriter<E: PageValues> {
    descr: ColumnDescPtr,
    codec: ParquetCompression,
    encoding: E,
    /// Definition levels are written (the column is nullable).
    nullable: bool,
    /// Non-null values of the page being filled.
    values: Vec<E::Value>,
    /// Validity of each row of the page being filled (nullable columns only).
    defined: BooleanBufferBuilder,
    rows_in_page: usize,
    /// The data pages written so far (the dictionary page, if any, goes before them).
    pages: TrackedWrite<Vec<u8>>,
    places: Vec<PagePlace>,
    uncompressed_bytes: usize,
    rows: u64,
    nulls: u64,
    /// Smallest and largest value of the chunk.
    range: Option<(E::Value, E::Value)>,
    /// Smallest and largest value of the last page that had any.
    last_page_range: Option<(E::Value, E::Value)>,
    ascending: bool,
    descending: bool,
    column_index: ColumnIndexBuilder,
}

impl<E: PageValues> ChunkWriter<E> {
    /// A writer for the chunk of column `descr`, pages compressed with `codec`.
    fn new(descr: ColumnDescPtr, codec: ParquetCompression, encoding: E) -> Self {
        let nullable = descr.max_def_level() > 0;
        Self {
            column_index: ColumnIndexBuilder::new(descr.physical_type()),
            descr,
            codec,
            encoding,
            nullable,
            values: Vec::with_capacity(PAGE_ROWS),
            defined: BooleanBufferBuilder::new(if nullable { PAGE_ROWS } else { 0 }),
            rows_in_page: 0,
            pages: TrackedWrite::new(Vec::new()),
            places: Vec::new(),
            uncompressed_bytes: 0,
            rows: 0,
            nulls: 0,
            range: None,
            last_page_range: None,
            ascending: true,
            descending: true,
        }
    }

    /// Appends the rows of `array`, closing pages as they fill.
    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let mut offset = 0;
        while offset < array.len() {
            let take = (PAGE_ROWS - self.rows_in_page).min(array.len() - offset);
            self.append(&array.slice(offset, take));
            offset += take;
            if self.rows_in_page == PAGE_ROWS {
                self.close_page()?;
            }
        }
        Ok(())
    }

    /// Appends rows that fit in the current page.
    fn append(&mut self, array: &ArrayRef) {
        let values = E::values_of(array.as_ref());
        match array.logical_nulls().filter(|n| n.null_count() > 0) {
            None => {
                self.values.extend_from_slice(values);
                if self.nullable {
                    self.defined.append_n(values.len(), true);
                }
            }
            Some(nulls) => {
                self.values.extend(
                    values
                        .iter()
                        .zip(nulls.iter())
                        .filter_map(|(value, valid)| valid.then_some(*value)),
                );
                self.defined.append_buffer(nulls.inner());
                self.nulls += nulls.null_count() as u64;
            }
        }
        self.rows_in_page += array.len();
    }

    /// Encodes, compresses and writes the page being filled; records its statistics.
    fn close_page(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.rows_in_page);
        let mut buf = Vec::with_capacity(self.values.len() * 2 + 64);
        if self.nullable {
            let defined = self.defined.finish();
            let levels = definition_levels(defined.values(), rows, defined.count_set_bits());
            buf.extend_from_slice(&(levels.len() as u32).to_le_bytes());
            buf.extend_from_slice(&levels);
        }
        let encoding = self.encoding.encode(&self.values, &mut buf);
        let range = E::range(&self.values);
        let page_nulls = (rows - self.values.len()) as i64;
        let null_page = self.values.is_empty();
        self.values.clear();

        let uncompressed = buf.len();
        let body = self.compress_data_page(buf)?;
        let page = Page::DataPage {
            buf: Bytes::from(body),
            num_values: rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.pages)
            .write_page(CompressedPage::new(page, uncompressed))?;
        self.uncompressed_bytes += spec.uncompressed_size;
        self.rows += rows as u64;
        self.places.push(PagePlace {
            offset: spec.offset,
            size: spec.compressed_size,
            rows,
        });
        match range {
            None if null_page => self.column_index.append(true, vec![], vec![], page_nulls),
            // Values none of which can be ordered (all NaN): no page has bounds then.
            None => self.column_index.to_invalid(),
            Some((min, max)) => {
                self.column_index.append(
                    false,
                    E::index_bytes(min),
                    E::index_bytes(max),
                    page_nulls,
                );
                if let Some((last_min, last_max)) = self.last_page_range {
                    self.ascending &= last_min <= min && last_max <= max;
                    self.descending &= last_min >= min && last_max >= max;
                }
                self.last_page_range = Some((min, max));
                self.range = Some(match self.range {
                    None => (min, max),
                    Some((low, high)) => (
                        if min < low { min } else { low },
                        if max > high { max } else { high },
                    ),
                });
            }
        }
        Ok(())
    }

    /// `page` through the chunk's codec. Where the encoding puts the codec on trial,
    /// the first page tries it: when it does not save an eighth, the chunk is written
    /// uncompressed (the codec would cost time on every page for little).
    fn compress_data_page(&mut self, page: Vec<u8>) -> Result<Vec<u8>> {
        if self.codec == ParquetCompression::None {
            return Ok(page);
        }
        let compressed = self.codec.compress(&page)?;
        let first_page = self.rows == 0;
        if E::CODEC_ON_TRIAL && first_page && compressed.len() * 8 > page.len() * 7 {
            self.codec = ParquetCompression::None;
            return Ok(page);
        }
        Ok(compressed)
    }

    /// Closes the last page and returns the chunk's bytes (the dictionary page first,
    /// if any) with what the row group needs to splice them in (metadata, statistics,
    /// page index).
    fn finish(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        if self.rows_in_page > 0 || self.rows == 0 {
            self.close_page()?;
        }
        let mut chunk = TrackedWrite::new(Vec::new());
        if let Some((plain, entries)) = self.encoding.dictionary_page() {
            let uncompressed = plain.len();
            let page = Page::DictionaryPage {
                buf: Bytes::from(self.codec.compress(&plain)?),
                num_values: entries as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = SerializedPageWriter::new(&mut chunk)
                .write_page(CompressedPage::new(page, uncompressed))?;
            self.uncompressed_bytes += spec.uncompressed_size;
        }
        let data_offset = chunk.bytes_written();
        let mut bytes = chunk.into_inner()?;
        bytes.extend_from_slice(&self.pages.into_inner()?);
        let bytes = Bytes::from(bytes);

        let mut offset_index = OffsetIndexBuilder::new();
        for place in &self.places {
            let offset = data_offset as u64 + place.offset;
            offset_index.append_offset_and_size(offset as i64, place.size as i32);
            offset_index.append_row_count(place.rows as i64);
        }
        self.column_index
            .set_boundary_order(match (self.ascending, self.descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
        let column_index = match self.column_index.valid() {
            true => Some(self.column_index.build()?),
            false => None,
        };
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_compression(self.codec.parquet())
            .set_encodings(self.encoding.encodings())
            .set_num_values(self.rows as i64)
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(self.uncompressed_bytes as i64)
            .set_dictionary_page_offset((data_offset > 0).then_some(0))
            .set_data_page_offset(data_offset as i64)
            .set_statistics(E::statistics(self.range, self.nulls))
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows,
            metadata,
            bloom_filter: None,
            column_index,
            offset_index: Some(offset_index.build()),
        };
        Ok((bytes, close))
    }
}

/// The 64-bit values of an Int64 or Timestamp array.
fn integers_of(array: &dyn Array) -> &[i64] {
    match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().values(),
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive::<TimestampSecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            array.as_primitive::<TimestampMillisecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            array.as_primitive::<TimestampNanosecondType>().values()
        }
        other => unreachable!("delta chunks take Int64 and Timestamp columns, not {other}"),
    }
}

/// Differences per DELTA_BINARY_PACKED block.
const BLOCK: usize = 128;

/// Miniblocks per block; each has its own bit width.
const MINIBLOCKS: usize = 4;

/// Differences per miniblock.
const MINIBLOCK: usize = BLOCK / MINIBLOCKS;

/// DELTA_BINARY_PACKED pages of signed 64-bit integers (Parquet INT64, signed order).
pub(super) struct DeltaValues;

impl PageValues for DeltaValues {
    type Value = i64;
    // Differences of random ids or of event times compress little.
    const CODEC_ON_TRIAL: bool = true;

    fn values_of(array: &dyn Array) -> &[i64] {
        integers_of(array)
    }

    fn encode(&mut self, values: &[i64], out: &mut Vec<u8>) -> Encoding {
        encode_deltas(values, out);
        Encoding::DELTA_BINARY_PACKED
    }

    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)> {
        None
    }

    fn encodings(&self) -> Vec<Encoding> {
        vec![Encoding::RLE, Encoding::DELTA_BINARY_PACKED]
    }

    fn range(values: &[i64]) -> Option<(i64, i64)> {
        let first = *values.first()?;
        Some(
            values
                .iter()
                .fold((first, first), |(low, high), &v| (low.min(v), high.max(v))),
        )
    }

    fn index_bytes(value: i64) -> Vec<u8> {
        value.to_le_bytes().to_vec()
    }

    fn statistics(range: Option<(i64, i64)>, nulls: u64) -> Statistics {
        let (min, max) = range.unzip();
        Statistics::int64(min, max, None, Some(nulls), false)
    }
}

/// Appends `values` in DELTA_BINARY_PACKED: a header (block size, miniblocks per block,
/// value count, first value), then blocks of differences, each stored as its smallest
/// difference and, per miniblock, a bit width and the differences above the smallest,
/// bit-packed.
fn encode_deltas(values: &[i64], out: &mut Vec<u8>) {
    put_uleb128(out, BLOCK as u64);
    put_uleb128(out, MINIBLOCKS as u64);
    put_uleb128(out, values.len() as u64);
    put_uleb128(out, zigzag(values.first().copied().unwrap_or(0)));
    let mut deltas = [0i64; BLOCK];
    let later = values.get(1..).unwrap_or_default();
    for (current, previous) in later.chunks(BLOCK).zip(values.chunks(BLOCK)) {
        let deltas = &mut deltas[..current.len()];
        for ((delta, &value), &before) in deltas.iter_mut().zip(current).zip(previous) {
            *delta = value.wrapping_sub(before);
        }
        let min_delta = deltas
            .iter()
            .copied()
            .min()
            .expect("a block is never empty");
        put_uleb128(out, zigzag(min_delta));
        let widths_at = out.len();
        // Widths of miniblocks past the last values stay 0 (their bodies are omitted).
        out.extend_from_slice(&[0; MINIBLOCKS]);
        for (index, miniblock) in deltas.chunks(MINIBLOCK).enumerate() {
            // A short last miniblock is padded to full size.
            let mut packed = [0u64; MINIBLOCK];
            for (slot, &delta) in packed.iter_mut().zip(miniblock) {
                *slot = delta.wrapping_sub(min_delta) as u64;
            }
            let width = bits_needed(packed.iter().fold(0, |all, &v| all | v));
            out[widths_at + index] = width as u8;
            bit_pack(&packed, width, out);
        }
    }
}

/// Most entries of a chunk's dictionary: 1 MiB of 8-byte values (the parquet crate's
/// default dictionary page limit). A chunk with more distinct values writes the rest
/// of its pages plain.
const DICTIONARY_ENTRIES: usize = 128 * 1024;

/// Dictionary-encoded pages of 64-bit floating-point numbers (Parquet DOUBLE): each
/// distinct value (by bit pattern) is stored once in the dictionary page, and data
/// pages hold bit-packed indices into it (RLE_DICTIONARY). Once the dictionary is
/// full, pages are written PLAIN.
#[derive(Default)]
pub(super) struct DictionaryValues {
    /// Distinct values, as bits, in order of first appearance.
    entries: Vec<u64>,
    /// Open-addressing table (linear probing, at most half full): each slot holds a
    /// value's bits and its index into `entries` plus 1, or 0 when empty, so that a
    /// lookup reads one place in memory.
    slots: Vec<(u64, u32)>,
    /// `64 - log2(slots.len())`: the hash's top bits pick the first slot.
    shift: u32,
    /// Pages are written plain from now on (the dictionary filled up).
    plain: bool,
}

impl DictionaryValues {
    /// The index of `bits` in the dictionary, added if new; `None` when new and the
    /// dictionary is full.
    fn index_of(&mut self, bits: u64) -> Option<u32> {
        if self.slots.len() < 2 * (self.entries.len() + 1) {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.first_slot(bits);
        loop {
            match self.slots[slot] {
                (_, 0) => break,
                (held, index) if held == bits => return Some(index - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
        if self.entries.len() == DICTIONARY_ENTRIES {
            return None;
        }
        self.entries.push(bits);
        self.slots[slot] = (bits, self.entries.len() as u32);
        Some(self.entries.len() as u32 - 1)
    }

    /// The first slot to probe for `bits`: the top bits of a multiplicative hash, which
    /// depend on every bit of the value (floats that differ only in their exponent and
    /// first mantissa bits, like whole numbers, spread as well as any).
    fn first_slot(&self, bits: u64) -> usize {
        ((bits ^ (bits >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Doubles the table (at least 1,024 slots), placing every entry again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        self.slots = vec![(0, 0); size];
        self.shift = 64 - size.trailing_zeros();
        let mask = size - 1;
        for (index, &bits) in self.entries.iter().enumerate() {
            let mut slot = self.first_slot(bits);
            while self.slots[slot].1 != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = (bits, index as u32 + 1);
        }
    }
}

impl PageValues for DictionaryValues {
    type Value = f64;
    // The dictionary page, written last, compresses well even where the indices in
    // the first page do not.
    const CODEC_ON_TRIAL: bool = false;

    fn values_of(array: &dyn Array) -> &[f64] {
        array.as_primitive::<Float64Type>().values()
    }

    fn encode(&mut self, values: &[f64], out: &mut Vec<u8>) -> Encoding {
        if values.is_empty() {
            // A page of nulls needs no dictionary.
            return Encoding::PLAIN;
        }
        if !self.plain {
            let mut indices = Vec::with_capacity(values.len().next_multiple_of(8));
            for &value in values {
                match self.index_of(value.to_bits()) {
                    Some(index) => indices.push(u64::from(index)),
                    None => break,
                }
            }
            if indices.len() == values.len() {
                // Indices as one bit-packed run (a multiple of 8 values, zero-padded),
                // after their bit width; at least 1 bit, so no reader meets a width of 0.
                let width = bits_needed(self.entries.len().saturating_sub(1) as u64).max(1);
                out.push(width as u8);
                indices.resize(values.len().next_multiple_of(8), 0);
                put_uleb128(out, ((indices.len() / 8) as u64) << 1 | 1);
                bit_pack(&indices, width, out);
                return Encoding::RLE_DICTIONARY;
            }
            self.plain = true;
        }
        out.reserve(values.len() * 8);
        for value in values {
            out.extend_from_slice(&value.to_le_bytes());
        }
        Encoding::PLAIN
    }

    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)> {
        if self.entries.is_empty() {
            return None;
        }
        let plain = self.entries.iter().flat_map(|bits| bits.to_le_bytes());
        Some((plain.collect(), self.entries.len()))
    }

    fn encodings(&self) -> Vec<Encoding> {
        vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY]
    }

    /// NaN is left out; a zero bound is written as -0.0 for the minimum and +0.0 for
    /// the maximum, as the format asks (both zeros compare equal).
    fn range(values: &[f64]) -> Option<(f64, f64)> {
        let mut ordered = values.iter().copied().filter(|v| !v.is_nan());
        let first = ordered.next()?;
        let (low, high) = ordered.fold((first, first), |(low, high), v| {
            (
                if v < low { v } else { low },
                if v > high { v } else { high },
            )
        });
        Some((
            if low == 0.0 { -0.0 } else { low },
            if high == 0.0 { 0.0 } else { high },
        ))
    }

    fn index_bytes(value: f64) -> Vec<u8> {
        value.to_le_bytes().to_vec()
    }

    fn statistics(range: Option<(f64, f64)>, nulls: u64) -> Statistics {
        let (min, max) = range.unzip();
        Statistics::double(min, max, None, Some(nulls), false)
    }
}

/// Definition levels (bit width 1) of `rows` rows in the RLE / bit-packing hybrid: one
/// repeated run when every row has a value, else one bit-packed run, which is the
/// validity bitmap itself (least significant bit first, 1 = defined).
fn definition_levels(bitmap: &[u8], rows: usize, defined: usize) -> Vec<u8> {
    let mut levels = Vec::with_capacity(bitmap.len() + 10);
    if defined == rows {
        put_uleb128(&mut levels, (rows as u64) << 1);
        levels.push(1);
    } else {
        let groups = rows.div_ceil(8);
        put_uleb128(&mut levels, ((groups as u64) << 1) | 1);
        levels.extend_from_slice(&bitmap[..groups]);
    }
    levels
}

/// Bits needed to write `value` (0 for 0).
fn bits_needed(value: u64) -> u32 {
    64 - value.leading_zeros()
}

/// Appends the low `width` bits of each of `values`, least significant bit first, in
/// `(values.len() * width).div_ceil(8)` bytes.
fn bit_pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    out.reserve((values.len() * width as usize).div_ceil(8));
    let mut word = 0u64;
    let mut bits = 0;
    for &value in values {
        word |= value << bits;
        bits += width;
        if bits >= 64 {
            out.extend_from_slice(&word.to_le_bytes());
            bits -= 64;
            // The high bits of `value` that did not fit (none when it ended the word).
            word = (value >> 1) >> (width - bits - 1);
        }
    }
    out.extend_from_slice(&word.to_le_bytes()[..(bits as usize).div_ceil(8)]);
}

/// `value` zigzag-encoded: small magnitudes of either sign become small numbers.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends `value` as an unsigned LEB128 varint.
fn put_uleb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_and_zigzag_match_the_format() {
        let mut out = Vec::new();
        put_uleb128(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }

    #[test]
    fn bit_packing_puts_the_first_value_in_the_lowest_bits() {
        let mut values = [0u64; MINIBLOCK];
        values[0] = 0b101;
        values[1] = 0b011;
        let mut out = Vec::new();
        bit_pack(&values, 3, &mut out);
        assert_eq!(out.len(), 12, "32 values of 3 bits are 12 bytes");
        assert_eq!(out[0], 0b0001_1101);
        assert!(out[1..].iter().all(|&b| b == 0));
    }

    #[test]
    fn bit_packing_carries_values_across_words_at_every_width() {
        for width in 1..=64u32 {
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1 << width) - 1
            };
            let values: Vec<u64> = (0..16u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask)
                .collect();
            let mut out = Vec::new();
            bit_pack(&values, width, &mut out);
            assert_eq!(out.len(), (16 * width as usize).div_ceil(8));
            // Read back bit by bit.
            let bit = |n: usize| (out[n / 8] >> (n % 8)) & 1;
            for (i, &value) in values.iter().enumerate() {
                let read = (0..width as usize).fold(0u64, |acc, b| {
                    acc | u64::from(bit(i * width as usize + b)) << b
                });
                assert_eq!(read, value, "width {width}, value {i}");
            }
        }
    }

    #[test]
    fn a_constant_step_packs_to_zero_widths() {
        let values: Vec<i64> = (0..257).map(|i| 1000 + 3 * i).collect();
        let mut out = Vec::new();
        encode_deltas(&values, &mut out);
        // Header (4 varints: 128, 4, 257, zigzag 1000 in two bytes) then two blocks of
        // one min delta (6) and four zero widths each, no bodies.
        assert_eq!(
            out,
            [
                0x80, 0x01, 4, 0x81, 0x02, 0xD0, 0x0F, 6, 0, 0, 0, 0, 6, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn float_bounds_skip_nan_and_sign_their_zeros() {
        let range = DictionaryValues::range(&[0.0, f64::NAN, 2.5, -0.0]).unwrap();
        assert_eq!(range.0.to_bits(), (-0.0f64).to_bits());
        assert_eq!(range.1, 2.5);
        let range = DictionaryValues::range(&[-1.0, -0.0]).unwrap();
        assert_eq!((range.0, range.1.to_bits()), (-1.0, 0.0f64.to_bits()));
        assert_eq!(DictionaryValues::range(&[f64::NAN]), None);
    }

    #[test]
    fn the_dictionary_fills_up_then_refuses_new_values() {
        let mut dictionary = DictionaryValues::default();
        for i in 0..DICTIONARY_ENTRIES as u64 {
            assert_eq!(dictionary.index_of(i * 7), Some(i as u32));
        }
        assert_eq!(
            dictionary.index_of(3 * 7),
            Some(3),
            "known values keep their index"
        );
        assert_eq!(dictionary.index_of(1), None, "a new value finds it full");
    }
}
