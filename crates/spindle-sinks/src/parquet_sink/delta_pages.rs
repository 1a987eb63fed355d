//! Column chunks of 64-bit integers and instants, encoded by Spindle itself.
//!
//! The parquet crate's delta encoder packs values one call per value, and its column
//! writer walks each value again for statistics; on Spindle's tables that made integer
//! columns most of the time spent writing Parquet. [`DeltaChunkWriter`] encodes a whole
//! page at a time instead: DELTA_BINARY_PACKED values (blocks of 128 differences in 4
//! miniblocks of 32, bit-packed word by word), definition levels straight from the
//! Arrow validity bitmap, statistics in the same pass, the codec, and the column and
//! offset index readers use to skip pages. The finished chunk is spliced into the row
//! group beside the chunks the parquet crate encodes.

use super::ParquetCompression;
use crate::error::Result;
use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
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

/// Differences per DELTA_BINARY_PACKED block.
const BLOCK: usize = 128;

/// Miniblocks per block; each has its own bit width.
const MINIBLOCKS: usize = 4;

/// Differences per miniblock.
const MINIBLOCK: usize = BLOCK / MINIBLOCKS;

/// Whether a column of `data_type` can be written by [`DeltaChunkWriter`]: signed
/// 64-bit integers and instants (Parquet INT64, ordered as signed numbers).
pub(super) fn writes(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Int64 | DataType::Timestamp(..))
}

/// The 64-bit values of an Int64 or Timestamp array (nulls included, as stored).
fn values_of(array: &dyn Array) -> &[i64] {
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

/// One row group's chunk of an INT64 column, filled page by page.
pub(super) struct DeltaChunkWriter {
    descr: ColumnDescPtr,
    codec: ParquetCompression,
    /// Definition levels are written (the column is nullable).
    nullable: bool,
    /// Non-null values of the page being filled.
    values: Vec<i64>,
    /// Validity of each row of the page being filled (nullable columns only).
    defined: BooleanBufferBuilder,
    rows_in_page: usize,
    pages: TrackedWrite<Vec<u8>>,
    uncompressed_bytes: usize,
    rows: u64,
    nulls: u64,
    /// Smallest and largest non-null value of the chunk.
    range: Option<(i64, i64)>,
    /// Smallest and largest value of the last page that had any.
    last_page_range: Option<(i64, i64)>,
    ascending: bool,
    descending: bool,
    column_index: ColumnIndexBuilder,
    offset_index: OffsetIndexBuilder,
}

impl DeltaChunkWriter {
    /// A writer for the chunk of column `descr`, pages compressed with `codec`.
    pub(super) fn new(descr: ColumnDescPtr, codec: ParquetCompression) -> Self {
        let nullable = descr.max_def_level() > 0;
        Self {
            column_index: ColumnIndexBuilder::new(descr.physical_type()),
            descr,
            codec,
            nullable,
            values: Vec::with_capacity(PAGE_ROWS),
            defined: BooleanBufferBuilder::new(if nullable { PAGE_ROWS } else { 0 }),
            rows_in_page: 0,
            pages: TrackedWrite::new(Vec::new()),
            uncompressed_bytes: 0,
            rows: 0,
            nulls: 0,
            range: None,
            last_page_range: None,
            ascending: true,
            descending: true,
            offset_index: OffsetIndexBuilder::new(),
        }
    }

    /// Appends the rows of `array` (Int64 or Timestamp), closing pages as they fill.
    pub(super) fn write(&mut self, array: &ArrayRef) -> Result<()> {
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
        let values = values_of(array.as_ref());
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
        encode_deltas(&self.values, &mut buf);
        let range = min_max(&self.values);
        let page_nulls = (rows - self.values.len()) as i64;
        self.values.clear();

        let uncompressed = buf.len();
        let body = self.compress(buf)?;
        let page = Page::DataPage {
            buf: Bytes::from(body),
            num_values: rows as u32,
            encoding: Encoding::DELTA_BINARY_PACKED,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.pages)
            .write_page(CompressedPage::new(page, uncompressed))?;
        self.uncompressed_bytes += spec.uncompressed_size;
        self.rows += rows as u64;
        self.offset_index
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offset_index.append_row_count(rows as i64);
        match range {
            None => self.column_index.append(true, vec![], vec![], page_nulls),
            Some((min, max)) => {
                self.column_index.append(
                    false,
                    min.to_le_bytes().to_vec(),
                    max.to_le_bytes().to_vec(),
                    page_nulls,
                );
                if let Some((last_min, last_max)) = self.last_page_range {
                    self.ascending &= last_min <= min && last_max <= max;
                    self.descending &= last_min >= min && last_max >= max;
                }
                self.last_page_range = Some((min, max));
                self.range = Some(match self.range {
                    None => (min, max),
                    Some((low, high)) => (low.min(min), high.max(max)),
                });
            }
        }
        Ok(())
    }

    /// `page` through the chunk's codec. The first page tries it: when it does not
    /// save an eighth, the chunk is written uncompressed (differences of random ids or
    /// of event times compress little, and the codec would cost time on every page).
    fn compress(&mut self, page: Vec<u8>) -> Result<Vec<u8>> {
        if self.codec == ParquetCompression::None {
            return Ok(page);
        }
        let first_page = self.rows == 0;
        let compressed = self.codec.compress(&page)?;
        if first_page && compressed.len() * 8 > page.len() * 7 {
            self.codec = ParquetCompression::None;
            return Ok(page);
        }
        Ok(compressed)
    }

    /// Closes the last page and returns the chunk's bytes with what the row group
    /// needs to splice them in (metadata, statistics, page index).
    pub(super) fn finish(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        if self.rows_in_page > 0 || self.rows == 0 {
            self.close_page()?;
        }
        self.column_index
            .set_boundary_order(match (self.ascending, self.descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
        let bytes = Bytes::from(self.pages.into_inner()?);
        let (min, max) = self.range.unzip();
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_compression(self.codec.parquet())
            .set_encodings(vec![Encoding::RLE, Encoding::DELTA_BINARY_PACKED])
            .set_num_values(self.rows as i64)
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(self.uncompressed_bytes as i64)
            .set_data_page_offset(0)
            .set_statistics(Statistics::int64(min, max, None, Some(self.nulls), false))
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows,
            metadata,
            bloom_filter: None,
            column_index: Some(self.column_index.build()?),
            offset_index: Some(self.offset_index.build()),
        };
        Ok((bytes, close))
    }
}

/// Smallest and largest of `values`, `None` when empty.
fn min_max(values: &[i64]) -> Option<(i64, i64)> {
    let first = *values.first()?;
    Some(
        values
            .iter()
            .fold((first, first), |(low, high), &v| (low.min(v), high.max(v))),
    )
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
            let mut packed = [0u64; MINIBLOCK];
            for (slot, &delta) in packed.iter_mut().zip(miniblock) {
                *slot = delta.wrapping_sub(min_delta) as u64;
            }
            let width = 64 - packed.iter().fold(0, |all, &v| all | v).leading_zeros();
            out[widths_at + index] = width as u8;
            bit_pack(&packed, width, out);
        }
    }
}

/// Appends the low `width` bits of each of 32 values, least significant bit first:
/// `4 * width` bytes.
fn bit_pack(values: &[u64; MINIBLOCK], width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    // 32 values of up to 64 bits fill up to 32 words; one more takes the spill of the
    // last value, so that no branch is needed.
    let mut words = [0u64; MINIBLOCK + 1];
    let mut bit = 0;
    for &value in values {
        let (word, shift) = (bit / 64, bit % 64);
        words[word] |= value << shift;
        // The bits that did not fit (none when shift is 0: shifting by 64 in two steps).
        words[word + 1] |= (value >> 1) >> (63 - shift);
        bit += width as usize;
    }
    let bytes = 4 * width as usize;
    let mut packed = [0u8; 8 * MINIBLOCK];
    for (chunk, word) in packed.chunks_exact_mut(8).zip(&words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&packed[..bytes]);
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
}
