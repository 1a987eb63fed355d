//! Column chunks of 64-bit integers, instants, floating-point numbers and repeated
//! text, encoded by Spindle itself.
//!
//! The parquet crate's encoders take one call per value (its delta encoder packs bits
//! one value at a time, its dictionaries intern through a general-purpose hash table)
//! and its column writer walks each value again for statistics; on Spindle's tables
//! that made these columns most of the time spent writing Parquet. [`ChunkWriter`]
//! works a page at a time instead: values encoded in one pass ([`DeltaValues`]:
//! DELTA_BINARY_PACKED, for integers and instants; [`FloatDictionary`] and
//! [`TextDictionary`]: dictionaries, for floating-point numbers and text that
//! repeats), definition levels straight from the Arrow validity bitmap, statistics,
//! the codec, and the column and offset index that readers use to skip pages. The
//! finished chunk is spliced into the row group beside the chunks the parquet crate
//! encodes.

use super::compression::ParquetCompression;
use crate::error::Result;
use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows per data page: the parquet crate's default page row limit, so readers skip
/// pages of the same size in every column.
const PAGE_ROWS: usize = parquet::file::properties::DEFAULT_DATA_PAGE_ROW_COUNT_LIMIT;

/// Most bytes of values in a data page (before the codec): the parquet crate's default
/// page size limit. Only text can reach it within [`PAGE_ROWS`] rows; a page of long
/// text closes early, and a single value larger than this gets a page of its own.
const PAGE_BYTES: usize = parquet::file::properties::DEFAULT_PAGE_SIZE;

/// Most bytes of a text bound in statistics and the page index: the parquet crate's
/// default, so that long text does not fill the footer and the index with copies of
/// itself. A cut minimum is a prefix (still a lower bound); a cut maximum is a prefix
/// with its last character incremented (still an upper bound); both are then marked
/// inexact in the statistics.
const TEXT_BOUND_BYTES: usize = 64;

/// The encodings Spindle writes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OwnEncoding {
    /// DELTA_BINARY_PACKED, for integers and instants.
    Delta,
    /// A dictionary of 64-bit floating-point numbers.
    FloatDictionary,
    /// A dictionary of text.
    TextDictionary,
}

impl OwnEncoding {
    /// Spindle's encoding for a column of `data_type` to be delta-encoded (`delta`) or
    /// given a dictionary (`dictionary`), where it has one; `None` leaves the column
    /// to the parquet crate.
    pub(super) fn of(data_type: &DataType, delta: bool, dictionary: bool) -> Option<Self> {
        match data_type {
            DataType::Int64 | DataType::Timestamp(..) if delta => Some(Self::Delta),
            DataType::Float64 if dictionary => Some(Self::FloatDictionary),
            DataType::Utf8 if dictionary => Some(Self::TextDictionary),
            _ => None,
        }
    }
}

impl OwnEncoding {
    /// An encoder of column `descr` in this encoding for one row group, pages
    /// compressed with `codec`.
    pub(super) fn chunk(
        self,
        descr: ColumnDescPtr,
        codec: ParquetCompression,
    ) -> Box<dyn OwnChunk> {
        match self {
            Self::Delta => Box::new(ChunkWriter::new(descr, codec, DeltaValues::default())),
            Self::FloatDictionary => {
                Box::new(ChunkWriter::new(descr, codec, FloatDictionary::default()))
            }
            Self::TextDictionary => {
                Box::new(ChunkWriter::new(descr, codec, TextDictionary::default()))
            }
        }
    }
}

/// Spindle's encoder of one leaf column for one row group, whatever its encoding.
pub(super) trait OwnChunk: Send {
    /// Appends the rows of `array`, closing pages as they fill.
    fn write(&mut self, array: &ArrayRef) -> Result<()>;

    /// The chunk's bytes and what the row group needs to splice them in.
    fn finish(self: Box<Self>) -> Result<(Bytes, ColumnCloseResult)>;
}

impl<E: PageValues + Send> OwnChunk for ChunkWriter<E>
where
    E::Bound: Send,
{
    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        ChunkWriter::write(self, array)
    }

    fn finish(self: Box<Self>) -> Result<(Bytes, ColumnCloseResult)> {
        ChunkWriter::finish(*self)
    }
}

/// How the non-null values of a page are taken in, written, and summed up in
/// statistics. The encoder keeps the page being filled: values are encoded as they
/// come, while the batch that brings them is still in the processor's caches.
pub(super) trait PageValues {
    /// What statistics record of a value.
    type Bound: Clone + PartialOrd;

    /// Whether the first data page decides if the chunk keeps the codec (see
    /// [`ChunkWriter::compress_data_page`]); otherwise it always does.
    const CODEC_ON_TRIAL: bool;

    /// Takes the non-null values of `array` (validity `nulls`, `None` when every row
    /// has a value) into the page being filled.
    fn take(&mut self, array: &ArrayRef, nulls: Option<&NullBuffer>);

    /// Smallest and largest value of the page as statistics record them; `None` when
    /// no value can be ordered. Called before [`PageValues::encode`].
    fn range(&mut self) -> Option<(Self::Bound, Self::Bound)>;

    /// Appends the page's values to `out` and starts a new page; returns the encoding
    /// used.
    fn encode(&mut self, out: &mut Vec<u8>) -> Encoding;

    /// The dictionary page (PLAIN values) and its number of entries, if the encoding
    /// has one.
    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)>;

    /// Encodings the chunk's pages may use (levels included).
    fn encodings(&self) -> Vec<Encoding>;

    /// Bytes the page being filled takes written plain: how [`PAGE_BYTES`] is kept.
    /// Fixed-width values never reach it within [`PAGE_ROWS`] rows, which is what the
    /// default says.
    fn page_bytes(&self) -> usize {
        0
    }

    /// How many of the first `rows` rows of `array` fit in `budget` more bytes of
    /// page (see [`PageValues::page_bytes`]).
    fn rows_within(array: &ArrayRef, rows: usize, _budget: usize) -> usize {
        rows.min(array.len())
    }

    /// A page's smallest and largest value as the page index stores them.
    fn index_bounds(min: &Self::Bound, max: &Self::Bound) -> (Vec<u8>, Vec<u8>);

    /// Chunk statistics.
    fn statistics(range: Option<(Self::Bound, Self::Bound)>, nulls: u64) -> Statistics;
}

/// Calls `each` with the non-null ones of `values` (validity `nulls`), in order.
fn for_each_non_null<T: Copy>(values: &[T], nulls: Option<&NullBuffer>, mut each: impl FnMut(T)) {
    match nulls {
        None => values.iter().for_each(|&value| each(value)),
        Some(nulls) => {
            for (&value, valid) in values.iter().zip(nulls.iter()) {
                if valid {
                    each(value);
                }
            }
        }
    }
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
    /// Non-null values in the page being filled.
    values_in_page: usize,
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
    range: Option<(E::Bound, E::Bound)>,
    /// Smallest and largest value of the last page that had any.
    last_page_range: Option<(E::Bound, E::Bound)>,
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
            values_in_page: 0,
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

    /// Appends the rows of `array`, closing pages as they fill ([`PAGE_ROWS`] rows or
    /// [`PAGE_BYTES`] bytes).
    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let mut offset = 0;
        while offset < array.len() {
            let rest = array.slice(offset, array.len() - offset);
            let budget = PAGE_BYTES.saturating_sub(self.encoding.page_bytes());
            let take = E::rows_within(&rest, PAGE_ROWS - self.rows_in_page, budget);
            // A value too large for any page gets one of its own.
            let take = take.max(usize::from(self.rows_in_page == 0));
            if take > 0 {
                self.append(&rest.slice(0, take));
                offset += take;
            }
            if self.rows_in_page == PAGE_ROWS || take == 0 {
                self.close_page()?;
            }
        }
        Ok(())
    }

    /// Appends rows that fit in the current page.
    fn append(&mut self, array: &ArrayRef) {
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        self.encoding.take(array, nulls.as_ref());
        self.values_in_page += array.len() - nulls.as_ref().map_or(0, NullBuffer::null_count);
        match &nulls {
            None if self.nullable => self.defined.append_n(array.len(), true),
            None => {}
            Some(nulls) => {
                self.defined.append_buffer(nulls.inner());
                self.nulls += nulls.null_count() as u64;
            }
        }
        self.rows_in_page += array.len();
    }

    /// Encodes, compresses and writes the page being filled; records its statistics.
    fn close_page(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.rows_in_page);
        let values = std::mem::take(&mut self.values_in_page);
        let mut buf = Vec::with_capacity(values * 2 + 64);
        if self.nullable {
            let defined = self.defined.finish();
            let levels = definition_levels(defined.values(), rows, defined.count_set_bits());
            buf.extend_from_slice(&(levels.len() as u32).to_le_bytes());
            buf.extend_from_slice(&levels);
        }
        let range = self.encoding.range();
        let encoding = self.encoding.encode(&mut buf);
        let page_nulls = (rows - values) as i64;
        let null_page = values == 0;

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
                let (low, high) = E::index_bounds(&min, &max);
                self.column_index.append(false, low, high, page_nulls);
                if let Some((last_min, last_max)) = &self.last_page_range {
                    self.ascending &= *last_min <= min && *last_max <= max;
                    self.descending &= *last_min >= min && *last_max >= max;
                }
                self.range = Some(match self.range.take() {
                    None => (min.clone(), max.clone()),
                    Some((low, high)) => (
                        if min < low { min.clone() } else { low },
                        if max > high { max.clone() } else { high },
                    ),
                });
                self.last_page_range = Some((min, max));
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
        let data_pages = self.pages.into_inner()?;
        let bytes = Bytes::from(match data_offset {
            0 => data_pages,
            _ => [chunk.into_inner()?, data_pages].concat(),
        });

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

/// The 64-bit values of an Int64 or Timestamp array (both hold `i64`s, whatever the
/// unit), nulls included as stored.
fn integers_of(array: &dyn Array) -> ScalarBuffer<i64> {
    let data = array.to_data();
    ScalarBuffer::new(data.buffers()[0].clone(), data.offset(), data.len())
}

/// Differences per DELTA_BINARY_PACKED block.
const BLOCK: usize = 128;

/// Miniblocks per block; each has its own bit width.
const MINIBLOCKS: usize = 4;

/// Differences per miniblock.
const MINIBLOCK: usize = BLOCK / MINIBLOCKS;

/// DELTA_BINARY_PACKED pages of signed 64-bit integers (Parquet INT64, signed order):
/// a header (block size, miniblocks per block, value count, first value), then blocks
/// of differences, each stored as its smallest difference and, per miniblock, a bit
/// width and the differences above the smallest, bit-packed. Blocks are packed as
/// values arrive.
#[derive(Default)]
pub(super) struct DeltaValues {
    /// Values in the page so far.
    count: u64,
    first: i64,
    last: i64,
    low: i64,
    high: i64,
    /// Differences not packed yet (fewer than a block).
    deltas: Vec<i64>,
    /// Blocks of the page packed so far.
    blocks: Vec<u8>,
}

impl DeltaValues {
    /// Adds `value` to the page.
    fn push(&mut self, value: i64) {
        if self.count == 0 {
            (self.first, self.low, self.high) = (value, value, value);
        } else {
            self.deltas.push(value.wrapping_sub(self.last));
            self.low = self.low.min(value);
            self.high = self.high.max(value);
            if self.deltas.len() == BLOCK {
                pack_block(&self.deltas, &mut self.blocks);
                self.deltas.clear();
            }
        }
        self.last = value;
        self.count += 1;
    }
}

impl PageValues for DeltaValues {
    type Bound = i64;
    // Differences of random ids or of event times compress little.
    const CODEC_ON_TRIAL: bool = true;

    fn take(&mut self, array: &ArrayRef, nulls: Option<&NullBuffer>) {
        self.deltas.reserve(BLOCK);
        for_each_non_null(&integers_of(array.as_ref()), nulls, |value| {
            self.push(value)
        });
    }

    fn encode(&mut self, out: &mut Vec<u8>) -> Encoding {
        if !self.deltas.is_empty() {
            pack_block(&self.deltas, &mut self.blocks);
        }
        put_uleb128(out, BLOCK as u64);
        put_uleb128(out, MINIBLOCKS as u64);
        put_uleb128(out, self.count);
        put_uleb128(out, zigzag(if self.count == 0 { 0 } else { self.first }));
        out.extend_from_slice(&self.blocks);
        self.count = 0;
        self.deltas.clear();
        self.blocks.clear();
        Encoding::DELTA_BINARY_PACKED
    }

    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)> {
        None
    }

    fn encodings(&self) -> Vec<Encoding> {
        vec![Encoding::RLE, Encoding::DELTA_BINARY_PACKED]
    }

    fn range(&mut self) -> Option<(i64, i64)> {
        (self.count > 0).then_some((self.low, self.high))
    }

    fn index_bounds(min: &i64, max: &i64) -> (Vec<u8>, Vec<u8>) {
        (min.to_le_bytes().to_vec(), max.to_le_bytes().to_vec())
    }

    fn statistics(range: Option<(i64, i64)>, nulls: u64) -> Statistics {
        let (min, max) = range.unzip();
        Statistics::int64(min, max, None, Some(nulls), false)
    }
}

/// Appends one DELTA_BINARY_PACKED block of (at most [`BLOCK`]) `deltas`: the smallest,
/// then per miniblock a bit width, then the miniblocks' differences above the smallest,
/// bit-packed.
fn pack_block(deltas: &[i64], out: &mut Vec<u8>) {
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

/// Most bytes of a chunk's dictionary page (the parquet crate's default limit). A chunk
/// with more distinct values writes its pages plain from the one that fills it on.
const DICTIONARY_PAGE_BYTES: usize = 1 << 20;

/// An open-addressing table (linear probing, at most half full) from keys to
/// dictionary indices. Each slot holds the top 32 bits of a multiplicative hash of the
/// key (a value's bits, or a hash of it), which also pick its first slot, and the index
/// plus 1, or 0 when empty: 8 bytes a slot, a lookup reading one place in the table
/// and, where the hashes agree, the entry it compares with.
#[derive(Default)]
struct DictionarySlots {
    slots: Vec<(u32, u32)>,
    /// `32 - log2(slots.len())`: the hash's top bits pick the first slot.
    shift: u32,
    filled: usize,
}

impl DictionarySlots {
    /// The index stored under `key` for which `same` holds, or (`Err`) the slot where
    /// such an index would go.
    fn find(&mut self, key: u64, same: impl Fn(u32) -> bool) -> Result<u32, usize> {
        if self.slots.len() < 2 * (self.filled + 1) {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let hash = Self::hash(key);
        let mut slot = (hash >> self.shift) as usize;
        loop {
            match self.slots[slot] {
                (_, 0) => return Err(slot),
                (held, index) if held == hash && same(index - 1) => return Ok(index - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Stores `index` under `key` in `slot` (as [`DictionarySlots::find`] gave it).
    fn insert(&mut self, slot: usize, key: u64, index: u32) {
        self.slots[slot] = (Self::hash(key), index + 1);
        self.filled += 1;
    }

    /// The top bits of a multiplicative hash of `key`, which depend on every bit of it
    /// (floats that differ only in their exponent and first mantissa bits, like whole
    /// numbers, spread as well as any).
    fn hash(key: u64) -> u32 {
        ((key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
    }

    /// Doubles the table (at least 1,024 slots), placing every entry again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        // Zeros written, not allocated zeroed: a zeroed allocation maps a shared page
        // of zeros that every first write to it then copies, flushing the other cores'
        // address translations each time.
        let mut slots = Vec::with_capacity(size);
        slots.resize(size, (0, 0));
        let old = std::mem::replace(&mut self.slots, slots);
        self.shift = 32 - size.trailing_zeros();
        let mask = size - 1;
        for (hash, index) in old.into_iter().filter(|&(_, index)| index != 0) {
            let mut slot = (hash >> self.shift) as usize;
            while self.slots[slot].1 != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = (hash, index);
        }
    }
}

/// Appends dictionary `indices` as an RLE_DICTIONARY page body: their bit width (at
/// least 1, so that no reader meets a width of 0) for a dictionary of `entries`, then
/// one bit-packed run of them, zero-padded to a multiple of 8.
fn encode_indices(indices: &[u32], entries: usize, out: &mut Vec<u8>) {
    let width = bits_needed(entries.saturating_sub(1) as u64).max(1);
    out.push(width as u8);
    let padded = indices.len().next_multiple_of(8);
    put_uleb128(out, ((padded / 8) as u64) << 1 | 1);
    let values: Vec<u64> = indices
        .iter()
        .map(|&index| u64::from(index))
        .chain(std::iter::repeat(0))
        .take(padded)
        .collect();
    bit_pack(&values, width, out);
}

/// The page being filled by a dictionary encoder: each value's index while the
/// dictionary has room, and the arrays the values came from, which are written plain
/// instead from the page in which the dictionary fills up on.
#[derive(Default)]
struct DictionaryPage {
    /// Index of each non-null value (0 once the chunk is written plain).
    indices: Vec<u32>,
    arrays: Vec<ArrayRef>,
    /// Pages are written plain from now on (the dictionary filled up, or would not pay).
    plain: bool,
    /// Non-null values of the chunk's pages encoded so far.
    encoded: usize,
}

/// A chunk whose first pages (at least this many values) are nearly all distinct values
/// writes its next pages plain: a dictionary of unique values only adds its indices,
/// and filling it costs a lookup a value.
const DICTIONARY_TRIAL_VALUES: usize = 10_000;

impl DictionaryPage {
    /// Records the next value's index, `None` when the dictionary had no room for it.
    fn push(&mut self, index: Option<u32>) {
        self.plain |= index.is_none();
        self.indices.push(index.unwrap_or(0));
    }

    /// Appends the page to `out` and starts a new one: nothing for a page of nulls, the
    /// values as `write_plain` writes the page's arrays once the dictionary is full,
    /// else the indices into a dictionary of `entries`.
    fn encode(
        &mut self,
        entries: usize,
        out: &mut Vec<u8>,
        write_plain: impl FnOnce(&[ArrayRef], &mut Vec<u8>),
    ) -> Encoding {
        let encoding = if self.indices.is_empty() {
            // A page of nulls needs no dictionary.
            Encoding::PLAIN
        } else if self.plain {
            write_plain(&self.arrays, out);
            Encoding::PLAIN
        } else {
            encode_indices(&self.indices, entries, out);
            Encoding::RLE_DICTIONARY
        };
        self.encoded += self.indices.len();
        // Nine in ten values new: the values are unique, or nearly (amounts, instants).
        self.plain |= self.encoded >= DICTIONARY_TRIAL_VALUES && entries * 10 > self.encoded * 9;
        self.indices.clear();
        self.arrays.clear();
        encoding
    }
}

/// Dictionary-encoded pages of 64-bit floating-point numbers (Parquet DOUBLE): each
/// distinct value (by bit pattern) is stored once in the dictionary page, and data
/// pages hold bit-packed indices into it (RLE_DICTIONARY). Once the dictionary is
/// full, or its first pages held nearly only distinct values
/// ([`DICTIONARY_TRIAL_VALUES`]), pages are written PLAIN.
#[derive(Default)]
pub(super) struct FloatDictionary {
    /// Distinct values, as bits, in order of first appearance.
    entries: Vec<u64>,
    /// Index of each value, keyed by its bits.
    slots: DictionarySlots,
    page: DictionaryPage,
    /// Smallest and largest value of the page, NaN left out.
    bounds: Option<(f64, f64)>,
}

impl FloatDictionary {
    /// The index of `bits` in the dictionary, added if new; `None` when new and the
    /// dictionary is full.
    fn index_of(&mut self, bits: u64) -> Option<u32> {
        let entries = &self.entries;
        match self
            .slots
            .find(bits, |index| entries[index as usize] == bits)
        {
            Ok(index) => Some(index),
            Err(_) if (self.entries.len() + 1) * 8 > DICTIONARY_PAGE_BYTES => None,
            Err(slot) => {
                let index = self.entries.len() as u32;
                self.entries.push(bits);
                self.slots.insert(slot, bits, index);
                Some(index)
            }
        }
    }
}

impl PageValues for FloatDictionary {
    type Bound = f64;
    // The dictionary page, written last, compresses well even where the indices in
    // the first page do not.
    const CODEC_ON_TRIAL: bool = false;

    fn take(&mut self, array: &ArrayRef, nulls: Option<&NullBuffer>) {
        self.page.arrays.push(array.clone());
        let values = array.as_primitive::<Float64Type>().values();
        for_each_non_null(values, nulls, |value| {
            if !value.is_nan() {
                self.bounds = Some(match self.bounds {
                    None => (value, value),
                    Some((low, high)) => (low.min(value), high.max(value)),
                });
            }
            let index = match self.page.plain {
                true => None,
                false => self.index_of(value.to_bits()),
            };
            self.page.push(index);
        });
    }

    /// NaN is left out; a zero bound is written as -0.0 for the minimum and +0.0 for
    /// the maximum, as the format asks (both zeros compare equal).
    fn range(&mut self) -> Option<(f64, f64)> {
        let (low, high) = self.bounds?;
        Some((
            if low == 0.0 { -0.0 } else { low },
            if high == 0.0 { 0.0 } else { high },
        ))
    }

    fn encode(&mut self, out: &mut Vec<u8>) -> Encoding {
        self.bounds = None;
        self.page.encode(self.entries.len(), out, |arrays, out| {
            for array in arrays {
                let values = array.as_primitive::<Float64Type>().values();
                let nulls = array.logical_nulls();
                for_each_non_null(values, nulls.as_ref(), |value| {
                    out.extend_from_slice(&value.to_le_bytes())
                });
            }
        })
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

    fn index_bounds(min: &f64, max: &f64) -> (Vec<u8>, Vec<u8>) {
        (min.to_le_bytes().to_vec(), max.to_le_bytes().to_vec())
    }

    fn statistics(range: Option<(f64, f64)>, nulls: u64) -> Statistics {
        let (min, max) = range.unzip();
        Statistics::double(min, max, None, Some(nulls), false)
    }
}

/// Dictionary-encoded pages of text (Parquet BYTE_ARRAY): each distinct value is stored
/// once in the dictionary page, and data pages hold bit-packed indices into it. Once
/// the dictionary is full, pages are written PLAIN, from the page that fills it on
/// (which is why a page's arrays are kept until it is written); so are the pages after
/// first pages of nearly only distinct values ([`DICTIONARY_TRIAL_VALUES`]).
#[derive(Default)]
pub(super) struct TextDictionary {
    /// Distinct values, one after the other, in order of first appearance.
    bytes: Vec<u8>,
    /// Where each distinct value ends in `bytes`.
    ends: Vec<usize>,
    /// Index of each value, keyed by a hash of it.
    slots: DictionarySlots,
    page: DictionaryPage,
    /// For each distinct value, the last page (numbered from 1) whose bounds it was
    /// compared with: bounds are found comparing each distinct value once a page.
    bounds_page: Vec<u32>,
    pages: u32,
    /// Bytes the page being filled takes written plain (see [`PageValues::page_bytes`]).
    page_text_bytes: usize,
}

/// Distinct value `index` of a dictionary held as `bytes` cut at `ends`.
fn entry<'a>(bytes: &'a [u8], ends: &[usize], index: u32) -> &'a [u8] {
    let index = index as usize;
    let start = index.checked_sub(1).map_or(0, |before| ends[before]);
    &bytes[start..ends[index]]
}

impl TextDictionary {
    /// Distinct value `index`.
    fn entry(&self, index: u32) -> &[u8] {
        entry(&self.bytes, &self.ends, index)
    }

    /// The index of `value` in the dictionary, added if new; `None` when new and the
    /// dictionary is full.
    fn index_of(&mut self, value: &[u8]) -> Option<u32> {
        let key = text_hash(value);
        let (bytes, ends) = (&self.bytes, &self.ends);
        match self
            .slots
            .find(key, |index| entry(bytes, ends, index) == value)
        {
            Ok(index) => Some(index),
            Err(_)
                if self.bytes.len() + value.len() + 4 * (self.ends.len() + 1)
                    > DICTIONARY_PAGE_BYTES =>
            {
                None
            }
            Err(slot) => {
                let index = self.ends.len() as u32;
                self.bytes.extend_from_slice(value);
                self.ends.push(self.bytes.len());
                self.bounds_page.push(0);
                self.slots.insert(slot, key, index);
                Some(index)
            }
        }
    }
}

/// The non-null values of text `arrays`.
fn text_values(arrays: &[ArrayRef]) -> impl Iterator<Item = &[u8]> {
    let arrays = arrays.iter();
    arrays.flat_map(|array| array.as_string::<i32>().iter().flatten().map(str::as_bytes))
}

/// A hash of `bytes`, eight at a time (the dictionary compares the bytes themselves on
/// a match, so it need only spread values well).
fn text_hash(bytes: &[u8]) -> u64 {
    const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
    let mix = |hash: u64, word: u64| (hash ^ word).wrapping_mul(MIX).rotate_left(29);
    let mut words = bytes.chunks_exact(8);
    let mut hash = bytes.len() as u64;
    for word in &mut words {
        hash = mix(hash, u64::from_le_bytes(word.try_into().expect("8 bytes")));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        hash = mix(hash, tail_word(rest));
    }
    hash
}

/// The 1 to 7 bytes of `rest` in one word, for hashing (the length is hashed apart):
/// two overlapping 4-byte reads, or the first, middle and last byte, instead of a copy
/// of unknown length.
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    if n >= 4 {
        let low = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes"));
        u64::from(low) | u64::from(high) << 32
    } else {
        u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16
    }
}

impl PageValues for TextDictionary {
    type Bound = Vec<u8>;
    // The dictionary page, written last, holds the text.
    const CODEC_ON_TRIAL: bool = false;

    fn take(&mut self, array: &ArrayRef, _nulls: Option<&NullBuffer>) {
        self.page.arrays.push(array.clone());
        let offsets = array.as_string::<i32>().value_offsets();
        self.page_text_bytes += (offsets[array.len()] - offsets[0]) as usize + 4 * array.len();
        for value in array.as_string::<i32>().iter().flatten() {
            let index = match self.page.plain {
                true => None,
                false => self.index_of(value.as_bytes()),
            };
            self.page.push(index);
        }
    }

    /// Text is ordered byte by byte, as the format orders UTF-8.
    fn range(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        if self.page.plain {
            let mut values = text_values(&self.page.arrays);
            let first = values.next()?;
            let (low, high) =
                values.fold((first, first), |(low, high), v| (low.min(v), high.max(v)));
            return Some((low.to_vec(), high.to_vec()));
        }
        self.pages += 1;
        let mut bounds: Option<(u32, u32)> = None;
        for &index in &self.page.indices {
            let seen = &mut self.bounds_page[index as usize];
            if std::mem::replace(seen, self.pages) == self.pages {
                continue;
            }
            let value = self.entry(index);
            bounds = Some(match bounds {
                None => (index, index),
                Some((low, high)) => (
                    if value < self.entry(low) { index } else { low },
                    if value > self.entry(high) {
                        index
                    } else {
                        high
                    },
                ),
            });
        }
        bounds.map(|(low, high)| (self.entry(low).to_vec(), self.entry(high).to_vec()))
    }

    fn encode(&mut self, out: &mut Vec<u8>) -> Encoding {
        self.page_text_bytes = 0;
        self.page.encode(self.ends.len(), out, |arrays, out| {
            for value in text_values(arrays) {
                out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                out.extend_from_slice(value);
            }
        })
    }

    fn dictionary_page(&self) -> Option<(Vec<u8>, usize)> {
        if self.ends.is_empty() {
            return None;
        }
        let mut plain = Vec::with_capacity(self.bytes.len() + 4 * self.ends.len());
        for index in 0..self.ends.len() as u32 {
            let value = self.entry(index);
            plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
            plain.extend_from_slice(value);
        }
        Some((plain, self.ends.len()))
    }

    fn encodings(&self) -> Vec<Encoding> {
        vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY]
    }

    fn page_bytes(&self) -> usize {
        self.page_text_bytes
    }

    /// Plain text takes each value's bytes and a 4-byte length.
    fn rows_within(array: &ArrayRef, rows: usize, budget: usize) -> usize {
        let offsets = array.as_string::<i32>().value_offsets();
        let bytes = |k: usize| (offsets[k] - offsets[0]) as usize + 4 * k;
        // The most rows, up to `rows`, whose bytes fit: `bytes` only grows with `k`.
        let (mut low, mut high) = (0, rows.min(array.len()));
        while low < high {
            let mid = (low + high).div_ceil(2);
            if bytes(mid) <= budget {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        low
    }

    fn index_bounds(min: &Vec<u8>, max: &Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        (text_lower_bound(min).0, text_upper_bound(max).0)
    }

    fn statistics(range: Option<(Vec<u8>, Vec<u8>)>, nulls: u64) -> Statistics {
        let Some((min, max)) = range else {
            return Statistics::byte_array(None, None, None, Some(nulls), false);
        };
        let (min, min_cut) = text_lower_bound(&min);
        let (max, max_cut) = text_upper_bound(&max);
        Statistics::ByteArray(
            ValueStatistics::new(Some(min.into()), Some(max.into()), None, Some(nulls), false)
                .with_min_is_exact(!min_cut)
                .with_max_is_exact(!max_cut),
        )
    }
}

/// `value` (UTF-8) cut to at most [`TEXT_BOUND_BYTES`] on a character boundary, still
/// a lower bound of it; `true` when cut.
fn text_lower_bound(value: &[u8]) -> (Vec<u8>, bool) {
    if value.len() <= TEXT_BOUND_BYTES {
        return (value.to_vec(), false);
    }
    let text = std::str::from_utf8(value).expect("text columns hold UTF-8");
    match (1..=TEXT_BOUND_BYTES).rfind(|&at| text.is_char_boundary(at)) {
        Some(at) => (value[..at].to_vec(), true),
        None => (value.to_vec(), false),
    }
}

/// `value` (UTF-8) cut to at most [`TEXT_BOUND_BYTES`] on a character boundary with
/// its last character that can be incremented (to one of the same length) incremented,
/// so that it is still an upper bound of `value`; `true` when cut. Left whole where no
/// character can be (as the parquet crate does).
fn text_upper_bound(value: &[u8]) -> (Vec<u8>, bool) {
    if value.len() <= TEXT_BOUND_BYTES {
        return (value.to_vec(), false);
    }
    let text = std::str::from_utf8(value).expect("text columns hold UTF-8");
    let at = (TEXT_BOUND_BYTES.saturating_sub(3)..=TEXT_BOUND_BYTES)
        .rfind(|&at| text.is_char_boundary(at))
        .expect("a character is at most 4 bytes");
    let prefix = &text[..at];
    for (index, c) in prefix.char_indices().rev() {
        let next = char::from_u32(c as u32 + 1).filter(|n| n.len_utf8() == c.len_utf8());
        if let Some(next) = next {
            let mut bound = prefix.as_bytes()[..index].to_vec();
            let mut buf = [0; 4];
            bound.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
            return (bound, true);
        }
    }
    (value.to_vec(), false)
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
    use arrow_array::{Float64Array, Int64Array};
    use std::sync::Arc;

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
        let values: ArrayRef =
            Arc::new(Int64Array::from_iter_values((0..257).map(|i| 1000 + 3 * i)));
        let mut encoder = DeltaValues::default();
        // In two batches: blocks are packed across them.
        encoder.take(&values.slice(0, 100), None);
        encoder.take(&values.slice(100, 157), None);
        assert_eq!(encoder.range(), Some((1000, 1768)));
        let mut out = Vec::new();
        encoder.encode(&mut out);
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
        let range_of = |values: &[f64]| {
            let mut dictionary = FloatDictionary::default();
            let array: ArrayRef = Arc::new(Float64Array::from(values.to_vec()));
            dictionary.take(&array, None);
            dictionary.range()
        };
        let range = range_of(&[0.0, f64::NAN, 2.5, -0.0]).unwrap();
        assert_eq!(range.0.to_bits(), (-0.0f64).to_bits());
        assert_eq!(range.1, 2.5);
        let range = range_of(&[-1.0, -0.0]).unwrap();
        assert_eq!((range.0, range.1.to_bits()), (-1.0, 0.0f64.to_bits()));
        assert_eq!(range_of(&[f64::NAN]), None);
    }

    #[test]
    fn the_dictionary_fills_up_then_refuses_new_values() {
        let mut dictionary = FloatDictionary::default();
        for i in 0..(DICTIONARY_PAGE_BYTES / 8) as u64 {
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
