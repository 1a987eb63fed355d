//! Integer, instant, floating-point and text columns, which the Parquet sink encodes
//! itself (delta pages, dictionaries, statistics, page index), read back with the
//! parquet crate's reader: every value, the row groups' statistics, and each page's
//! entry in the page index.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;
use proptest::prelude::*;
use spindle_sinks::{ParquetCompression, ParquetOptions, ParquetSink, StreamWriter};
use std::sync::Arc;

/// Columns of [`table`]: the integer and instant ones, then the floating-point ones.
const INTEGER_COLUMNS: [usize; 3] = [0, 1, 2];
const FLOAT_COLUMNS: [usize; 2] = [3, 4];

/// A table of one nullable Int64 column, one non-null Int64 column and one nullable
/// millisecond instant, each holding `values` (the non-null one with 0 for nulls), then
/// one nullable and one non-null Float64 column holding `floats` likewise.
fn table(values: &[Option<i64>], floats: &[Option<f64>]) -> RecordBatch {
    assert_eq!(values.len(), floats.len());
    let schema = Arc::new(Schema::new(vec![
        Field::new("maybe", DataType::Int64, true),
        Field::new("always", DataType::Int64, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("amount", DataType::Float64, true),
        Field::new("price", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(values.to_vec())),
        Arc::new(Int64Array::from_iter_values(
            values.iter().map(|v| v.unwrap_or(0)),
        )),
        Arc::new(TimestampMillisecondArray::from(values.to_vec()).with_timezone("UTC")),
        Arc::new(Float64Array::from(floats.to_vec())),
        Arc::new(Float64Array::from_iter_values(
            floats.iter().map(|v| v.unwrap_or(0.0)),
        )),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Writes `table` in batches cut at `cuts`, returns what the reader reads back and the
/// file's metadata with its page index.
fn round_trip(
    table: &RecordBatch,
    cuts: &[usize],
    options: ParquetOptions,
) -> (RecordBatch, Arc<ParquetMetaData>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("integers.parquet");
    let mut sink = ParquetSink::new(&path, options).unwrap();
    let mut at = 0;
    for &cut in cuts.iter().chain([&table.num_rows()]) {
        let cut = cut.clamp(at, table.num_rows());
        sink.send_batch(&table.slice(at, cut - at)).unwrap();
        at = cut;
    }
    sink.close().unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).unwrap();
    let metadata = builder.metadata().clone();
    let read: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let read = arrow_select::concat::concat_batches(&table.schema(), &read).unwrap();
    (read, metadata)
}

/// Smallest and largest of `values` as Parquet statistics give them: NaN left out, a
/// zero minimum as -0.0 and a zero maximum as +0.0 (compared by bits, so that the
/// signs of zeros count).
fn float_bounds(values: &[f64]) -> Option<(u64, u64)> {
    let ordered: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let low = ordered.iter().copied().reduce(f64::min)?;
    let high = ordered.iter().copied().reduce(f64::max)?;
    let low = if low == 0.0 { -0.0 } else { low };
    let high = if high == 0.0 { 0.0 } else { high };
    Some((low.to_bits(), high.to_bits()))
}

/// Checks every row group's statistics and page index of integer column `column`
/// against the values of `table` that the group holds.
fn check_integer_statistics(table: &RecordBatch, metadata: &ParquetMetaData, column: usize) {
    let values = arrow_cast::cast(table.column(column), &DataType::Int64).unwrap();
    let values = values.as_primitive::<Int64Type>();
    for_each_page(table, metadata, column, |group, page, range| {
        let held = values.slice(range.start, range.len());
        let non_null: Vec<i64> = held.iter().flatten().collect();
        let (min, max) = (non_null.iter().min(), non_null.iter().max());
        match page {
            None => {
                let chunk = metadata.row_group(group).column(column);
                assert!(
                    chunk
                        .encodings()
                        .any(|e| e == Encoding::DELTA_BINARY_PACKED)
                );
                let Some(Statistics::Int64(stats)) = chunk.statistics() else {
                    panic!("group {group} column {column}: no Int64 statistics");
                };
                assert_eq!(stats.null_count_opt(), Some(held.null_count() as u64));
                assert_eq!((stats.min_opt(), stats.max_opt()), (min, max));
            }
            Some(page) => {
                let index = &metadata.column_index().unwrap()[group][column];
                let ColumnIndexMetaData::INT64(pages) = index else {
                    panic!("group {group} column {column}: no INT64 page index");
                };
                assert_eq!(pages.null_count(page), Some(held.null_count() as i64));
                assert_eq!(pages.is_null_page(page), non_null.is_empty());
                assert_eq!((pages.min_value(page), pages.max_value(page)), (min, max));
            }
        }
    });
}

/// As [`check_integer_statistics`], for floating-point column `column`. Exactly the
/// chunks with a page whose values are all NaN have no page index (no bound can be
/// given for that page).
fn check_float_statistics(table: &RecordBatch, metadata: &ParquetMetaData, column: usize) {
    let values = table.column(column).as_primitive::<Float64Type>();
    let mut unindexed_groups = std::collections::BTreeSet::new();
    let mut groups_with_a_nan_page = std::collections::BTreeSet::new();
    for_each_page(table, metadata, column, |group, page, range| {
        let held = values.slice(range.start, range.len());
        let non_null: Vec<f64> = held.iter().flatten().collect();
        let bounds = float_bounds(&non_null);
        let bits = |low: Option<&f64>, high: Option<&f64>| {
            low.zip(high).map(|(l, h)| (l.to_bits(), h.to_bits()))
        };
        match page {
            None => {
                let chunk = metadata.row_group(group).column(column);
                assert!(chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY));
                let Some(Statistics::Double(stats)) = chunk.statistics() else {
                    panic!("group {group} column {column}: no Double statistics");
                };
                assert_eq!(stats.null_count_opt(), Some(held.null_count() as u64));
                assert_eq!(bits(stats.min_opt(), stats.max_opt()), bounds);
            }
            Some(page) => {
                if !non_null.is_empty() && bounds.is_none() {
                    groups_with_a_nan_page.insert(group);
                }
                match &metadata.column_index().unwrap()[group][column] {
                    ColumnIndexMetaData::DOUBLE(pages) => {
                        assert_eq!(pages.null_count(page), Some(held.null_count() as i64));
                        assert_eq!(pages.is_null_page(page), non_null.is_empty());
                        let page_bounds = bits(pages.min_value(page), pages.max_value(page));
                        assert_eq!(page_bounds, bounds);
                    }
                    ColumnIndexMetaData::NONE => {
                        unindexed_groups.insert(group);
                    }
                    other => panic!("group {group} column {column}: {other:?}"),
                }
            }
        }
    });
    assert_eq!(
        unindexed_groups, groups_with_a_nan_page,
        "column {column}: the chunks without a page index are those with a page of NaN"
    );
}

/// Calls `check(group, None, rows)` for each row group of column `column` and
/// `check(group, Some(page), rows)` for each of its pages, with the rows of `table`
/// they hold.
fn for_each_page(
    table: &RecordBatch,
    metadata: &ParquetMetaData,
    column: usize,
    mut check: impl FnMut(usize, Option<usize>, std::ops::Range<usize>),
) {
    let mut first_row = 0;
    for (group, meta) in metadata.row_groups().iter().enumerate() {
        let rows = meta.num_rows() as usize;
        check(group, None, first_row..first_row + rows);
        let locations = &metadata.offset_index().unwrap()[group][column].page_locations;
        for (page, location) in locations.iter().enumerate() {
            let start = location.first_row_index as usize;
            let end = locations
                .get(page + 1)
                .map_or(rows, |next| next.first_row_index as usize);
            check(group, Some(page), first_row + start..first_row + end);
        }
        first_row += rows;
    }
    assert_eq!(first_row, table.num_rows());
}

/// Checks the statistics and page index of every column of `table`.
fn check_statistics(table: &RecordBatch, metadata: &ParquetMetaData) {
    for column in INTEGER_COLUMNS {
        check_integer_statistics(table, metadata, column);
    }
    for column in FLOAT_COLUMNS {
        check_float_statistics(table, metadata, column);
    }
}

fn codec() -> impl Strategy<Value = ParquetCompression> {
    prop_oneof![
        Just(ParquetCompression::Zstd),
        Just(ParquetCompression::Snappy),
        Just(ParquetCompression::None),
    ]
}

/// Values with every kind of difference: small steps, repeats, extremes of the type
/// (a difference that overflows), and nulls.
fn value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        3 => (-50i64..50).prop_map(Some),
        2 => any::<i64>().prop_map(Some),
        1 => Just(Some(i64::MIN)),
        1 => Just(Some(i64::MAX)),
        2 => Just(None),
    ]
}

/// Amounts that repeat, any number at all, the values statistics treat specially (NaN,
/// both zeros, infinities), and nulls.
fn float() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        3 => (-500i64..500).prop_map(|cents| Some(cents as f64 / 100.0)),
        2 => any::<f64>().prop_map(Some),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(-0.0)),
        1 => Just(Some(0.0)),
        1 => Just(Some(f64::INFINITY)),
        1 => Just(Some(f64::NEG_INFINITY)),
        2 => Just(None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_value_statistic_and_page_bound_reads_back(
        rows in proptest::collection::vec((value(), float()), 0..1_200),
        cuts in proptest::collection::vec(0usize..1_200, 0..4),
        row_group_rows in 1usize..700,
        compression in codec(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (values, floats): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let table = table(&values, &floats);
        let options = ParquetOptions { compression, row_group_rows, ..ParquetOptions::default() };
        let (read, metadata) = round_trip(&table, &cuts, options);
        prop_assert_eq!(&read, &table);
        check_statistics(&table, &metadata);
    }
}

#[test]
fn long_row_groups_are_cut_into_pages_the_index_can_skip() {
    // Ascending with gaps and a few nulls, 2.5 row groups of several pages each.
    let values: Vec<Option<i64>> = (0..125_000i64)
        .map(|i| (i % 1_000 != 7).then_some(1_640_995_200_000 + i * 997 + (i * i) % 13))
        .collect();
    let floats: Vec<Option<f64>> = values
        .iter()
        .map(|v| v.map(|v| (v % 100_000) as f64 / 100.0))
        .collect();
    let table = table(&values, &floats);
    let options = ParquetOptions {
        row_group_rows: 50_000,
        ..ParquetOptions::default()
    };
    let (read, metadata) = round_trip(&table, &[10_000, 10_001, 70_000], options);
    assert_eq!(read, table);
    let groups: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [50_000, 50_000, 25_000]);
    check_statistics(&table, &metadata);
    let pages = &metadata.offset_index().unwrap()[0][0].page_locations;
    assert!(pages.len() >= 2, "a 50,000-row chunk has several pages");
    assert_eq!(
        metadata.column_index().unwrap()[0][2].get_boundary_order(),
        Some(parquet::basic::BoundaryOrder::ASCENDING),
        "ascending pages are marked so readers can search them"
    );
}

#[test]
fn an_ascending_chunk_keeps_the_codec_only_where_it_saves_an_eighth() {
    // Both ascend, so both may be compressed; the first page decides. Constant steps
    // pack to almost nothing and their page headers compress; random gaps of up to a
    // million bit-pack to 20 random bits each, which the codec cannot shrink.
    let steps: Vec<Option<i64>> = (0..30_000i64).map(|i| Some(i * 5)).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut at = 0i64;
    let gaps: Vec<Option<i64>> = (0..30_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            at += (state >> 44) as i64;
            Some(at)
        })
        .collect();
    for (values, compressed) in [(steps, true), (gaps, false)] {
        let table = table(&values, &vec![Some(1.5); values.len()]);
        let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
        assert_eq!(read, table);
        let codec = metadata.row_group(0).column(0).compression();
        assert_eq!(codec != Compression::UNCOMPRESSED, compressed, "{codec:?}");
    }
}

#[test]
fn floats_past_a_full_dictionary_are_written_plain() {
    // 250,000 amounts in one row group, each value once or twice (3 distinct in 5,
    // too many repeats to give up the dictionary early): the dictionary takes the
    // first 131,072 distinct ones, and the pages after the one that fills it are plain.
    let rows = 250_000usize;
    let floats: Vec<Option<f64>> = (0..rows)
        .map(|i| (i % 9 != 4).then_some((i * 3 / 5) as f64 * 0.25 - 1_000.0))
        .collect();
    let table = table(&vec![Some(1); rows], &floats);
    let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
    assert_eq!(read, table);
    assert_eq!(metadata.num_row_groups(), 1);
    let chunk = metadata.row_group(0).column(3);
    let dictionary_first = chunk
        .dictionary_page_offset()
        .is_some_and(|at| at < chunk.data_page_offset());
    assert!(
        dictionary_first,
        "the dictionary page comes before the data pages"
    );
    check_statistics(&table, &metadata);
}

#[test]
fn unique_floats_give_up_the_dictionary_after_the_first_page() {
    // 200,000 distinct amounts: the first page (20,000 rows) is dictionary-encoded, its
    // values all new, so the pages after it are plain and the dictionary page holds
    // that page's values only (160,000 bytes, not the full 1 MiB).
    let rows = 200_000usize;
    let floats: Vec<Option<f64>> = (0..rows).map(|i| Some(i as f64 * 0.37 - 9.5)).collect();
    let table = table(&vec![Some(1); rows], &floats);
    let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
    assert_eq!(read, table);
    let chunk = metadata.row_group(0).column(3);
    let encodings: Vec<Encoding> = chunk.encodings().collect();
    assert!(
        encodings.contains(&Encoding::RLE_DICTIONARY),
        "{encodings:?}"
    );
    assert!(encodings.contains(&Encoding::PLAIN), "{encodings:?}");
    let dictionary_bytes = chunk.data_page_offset() - chunk.dictionary_page_offset().unwrap();
    assert!(
        dictionary_bytes <= 20_000 * 8 + 64,
        "dictionary page of {dictionary_bytes} bytes"
    );
    check_statistics(&table, &metadata);
}

/// A table of one nullable and one non-null text column, both holding `texts` (the
/// non-null one with "" for nulls).
fn text_table(texts: &[Option<String>]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(texts.to_vec())),
        Arc::new(StringArray::from_iter_values(
            texts.iter().map(|t| t.as_deref().unwrap_or("")),
        )),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Per row group and column: the statistics' bounds, null count and exactness.
type ChunkStatistics = (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>, bool, bool);

fn chunk_statistics(metadata: &ParquetMetaData) -> Vec<ChunkStatistics> {
    let chunks = metadata.row_groups().iter().flat_map(|g| g.columns());
    chunks
        .map(|chunk| {
            let s = chunk.statistics().expect("every chunk has statistics");
            (
                s.min_bytes_opt().map(<[u8]>::to_vec),
                s.max_bytes_opt().map(<[u8]>::to_vec),
                s.null_count_opt(),
                s.min_is_exact(),
                s.max_is_exact(),
            )
        })
        .collect()
}

/// Writes `table` with Spindle's encoders and with the parquet crate's; both files
/// must read back as `table` and carry the same statistics in every row group. Returns
/// the metadata of Spindle's file.
fn same_as_the_crate_writes(
    table: &RecordBatch,
    cuts: &[usize],
    options: ParquetOptions,
) -> Arc<ParquetMetaData> {
    let crate_options = ParquetOptions {
        own_encoders: false,
        ..options.clone()
    };
    let (own, own_metadata) = round_trip(table, cuts, options);
    let (theirs, their_metadata) = round_trip(table, cuts, crate_options);
    assert_eq!(&own, table);
    assert_eq!(&theirs, table);
    assert_eq!(
        chunk_statistics(&own_metadata),
        chunk_statistics(&their_metadata),
        "statistics: Spindle's encoders (left), the parquet crate's (right)"
    );
    own_metadata
}

/// Checks every row group's statistics and page index of text column `column`
/// (values under 64 bytes, which no writer truncates) against `table`.
fn check_text_statistics(table: &RecordBatch, metadata: &ParquetMetaData, column: usize) {
    let values = table.column(column).as_string::<i32>();
    for_each_page(table, metadata, column, |group, page, range| {
        let held = values.slice(range.start, range.len());
        let non_null: Vec<&[u8]> = held.iter().flatten().map(str::as_bytes).collect();
        let (min, max) = (non_null.iter().min(), non_null.iter().max());
        match page {
            None => {
                let chunk = metadata.row_group(group).column(column);
                let Some(Statistics::ByteArray(stats)) = chunk.statistics() else {
                    panic!("group {group} column {column}: no ByteArray statistics");
                };
                assert_eq!(stats.null_count_opt(), Some(held.null_count() as u64));
                let bounds = (
                    stats.min_opt().map(|b| b.data()),
                    stats.max_opt().map(|b| b.data()),
                );
                assert_eq!(bounds, (min.copied(), max.copied()));
            }
            Some(page) => {
                let index = &metadata.column_index().unwrap()[group][column];
                let ColumnIndexMetaData::BYTE_ARRAY(pages) = index else {
                    panic!("group {group} column {column}: no BYTE_ARRAY page index");
                };
                assert_eq!(pages.null_count(page), Some(held.null_count() as i64));
                assert_eq!(pages.is_null_page(page), non_null.is_empty());
                let bounds = (pages.min_value(page), pages.max_value(page));
                assert_eq!(bounds, (min.copied(), max.copied()));
            }
        }
    });
}

/// Labels that repeat, text in several scripts, the empty string, and nulls.
fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(vec!["completed", "shipped", "returned", "Zoë", "東京", ""])
            .prop_map(|t| Some(t.to_string())),
        2 => "[a-zé]{0,12}".prop_map(Some),
        2 => Just(None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_text_statistic_and_page_bound_reads_back(
        texts in proptest::collection::vec(text(), 0..1_200),
        cuts in proptest::collection::vec(0usize..1_200, 0..4),
        row_group_rows in 1usize..700,
        compression in codec(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let table = text_table(&texts);
        let options = ParquetOptions { compression, row_group_rows, ..ParquetOptions::default() };
        let (read, metadata) = round_trip(&table, &cuts, options);
        prop_assert_eq!(&read, &table);
        for column in 0..2 {
            check_text_statistics(&table, &metadata, column);
        }
    }
}

/// Labels that repeat, and text longer than the 64 bytes a bound may take, in scripts
/// whose characters take 1 to 4 bytes, so that cuts fall inside characters; some end
/// in characters that cannot be incremented.
fn long_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => prop::sample::select(vec!["completed", "shipped"]).prop_map(|t| Some(t.to_string())),
        3 => "[a-zé東😀]{40,90}".prop_map(Some),
        1 => "[a-z]{60,70}\u{10FFFF}{0,3}\u{7F}{0,3}".prop_map(Some),
        1 => Just(None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn long_text_bounds_are_cut_as_the_parquet_crate_cuts_them(
        texts in proptest::collection::vec(long_text(), 1..600),
        row_group_rows in 1usize..400,
    ) {
        let table = text_table(&texts);
        let options = ParquetOptions { row_group_rows, ..ParquetOptions::default() };
        let metadata = same_as_the_crate_writes(&table, &[], options);
        // Page bounds: at most 64 bytes (or the whole value where no cut can be made
        // an upper bound), and still bounds of every value of the page.
        for column in 0..2 {
            let values = table.column(column).as_string::<i32>();
            for_each_page(&table, &metadata, column, |group, page, range| {
                let Some(page) = page else { return };
                let index = &metadata.column_index().unwrap()[group][column];
                let ColumnIndexMetaData::BYTE_ARRAY(pages) = index else {
                    panic!("no BYTE_ARRAY page index");
                };
                let held = values.slice(range.start, range.len());
                for value in held.iter().flatten() {
                    let value = value.as_bytes();
                    let (min, max) = (pages.min_value(page).unwrap(), pages.max_value(page).unwrap());
                    assert!(min <= value && value <= max, "{min:?} {value:?} {max:?}");
                    assert!(min.len() <= 64);
                    assert!(max.len() <= 64 || max == value);
                }
            });
        }
    }
}

#[test]
fn numbers_and_labels_have_the_statistics_the_parquet_crate_writes() {
    let values: Vec<Option<i64>> = (0..50_000)
        .map(|i| (i % 7 != 3).then(|| (i * 7_919) % 10_007 - 5_000))
        .collect();
    let floats: Vec<Option<f64>> = (0..50_000)
        .map(|i| match i % 9 {
            0 => None,
            1 => Some(-0.0),
            2 => Some(f64::NAN),
            _ => Some((i % 1_000) as f64 / 100.0 - 3.0),
        })
        .collect();
    let options = ParquetOptions {
        row_group_rows: 20_000,
        ..ParquetOptions::default()
    };
    same_as_the_crate_writes(&table(&values, &floats), &[7_000], options.clone());
    let texts: Vec<Option<String>> = (0..30_000)
        .map(|i| (i % 5 != 0).then(|| ["north", "south", "Zoë", "東京"][i % 4].to_string()))
        .collect();
    same_as_the_crate_writes(&text_table(&texts), &[100], options);
}

#[test]
fn pages_of_long_text_stay_under_a_mebibyte() {
    // 20,000 rows of 2 KiB (repeating, so the column gets a dictionary, which then
    // fills): a page of the row limit would hold 40 MiB.
    let texts: Vec<Option<String>> = (0..20_000)
        .map(|i| Some(format!("{:04}{}", i % 1_000, "x".repeat(2_044))))
        .collect();
    let table = text_table(&texts);
    let metadata = same_as_the_crate_writes(&table, &[], ParquetOptions::default());
    let pages = &metadata.offset_index().unwrap()[0][0].page_locations;
    assert!(pages.len() >= 40, "{} pages", pages.len());
    for pair in pages.windows(2) {
        // Each value takes its 2,048 bytes and a 4-byte length written plain.
        let rows = (pair[1].first_row_index - pair[0].first_row_index) as usize;
        assert!(rows * 2_052 <= 1 << 20, "a page of {rows} rows");
    }
}

#[test]
fn text_past_a_full_dictionary_is_written_plain() {
    // A first batch of repeated labels lays the column out with a dictionary; then
    // 60,000 distinct 20-byte values (1.4 MiB with their lengths) fill it past its
    // 1 MiB page, within one row group and within a page.
    let texts: Vec<Option<String>> = (0..80_000)
        .map(|i| match i {
            0..5_000 => Some(["north", "south"][i % 2].to_string()),
            _ if i % 11 == 3 => None,
            _ => Some(format!("customer-{i:011}")),
        })
        .collect();
    let table = text_table(&texts);
    let (read, metadata) = round_trip(&table, &[5_000, 12_345], ParquetOptions::default());
    assert_eq!(read, table);
    assert_eq!(metadata.num_row_groups(), 1);
    let chunk = metadata.row_group(0).column(0);
    assert!(chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY));
    for column in 0..2 {
        check_text_statistics(&table, &metadata, column);
    }
}

/// Whether the chunk of `column` (in the only row group) has dictionary pages.
fn has_dictionary(metadata: &ParquetMetaData, column: usize) -> bool {
    let chunk = metadata.row_group(0).column(column);
    chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY)
}

#[test]
fn text_that_repeats_over_the_column_gets_a_dictionary_where_its_first_rows_barely_do() {
    // Page addresses drawn from 19,000: the first 4,096 are 90% distinct, the column's
    // 50,000 about 35%. Unique values (every one new) stay plain.
    let pages = spindle_gen::rng::RandomStream::new(7, "pages");
    let address = |i: u64| format!("https://example.com/page/{}", pages.below(i, 19_000));
    let texts: Vec<Option<String>> = (0..50_000).map(|i| Some(address(i))).collect();
    let sample = texts[..4_096]
        .iter()
        .collect::<std::collections::HashSet<_>>();
    assert!((3_600..3_800).contains(&sample.len()), "{}", sample.len());
    let table = text_table(&texts);
    let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
    assert_eq!(read, table);
    assert!(has_dictionary(&metadata, 0) && has_dictionary(&metadata, 1));

    let unique: Vec<Option<String>> = (0..50_000)
        .map(|i| Some(format!("user-{i}@example.com")))
        .collect();
    let table = text_table(&unique);
    let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
    assert_eq!(read, table);
    assert!(!has_dictionary(&metadata, 0) && !has_dictionary(&metadata, 1));
}
