//! Integer and instant columns, which the Parquet sink encodes itself (delta pages,
//! statistics, page index), read back with the parquet crate's reader: every value, the
//! row groups' statistics, and each page's entry in the page index.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;
use proptest::prelude::*;
use spindle_sinks::{ParquetCompression, ParquetOptions, ParquetSink, StreamWriter};
use std::sync::Arc;

/// A table of one nullable Int64 column, one non-null Int64 column and one nullable
/// millisecond instant, each holding `values` (the non-null one with 0 for nulls).
fn table(values: &[Option<i64>]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("maybe", DataType::Int64, true),
        Field::new("always", DataType::Int64, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(values.to_vec())),
        Arc::new(Int64Array::from_iter_values(
            values.iter().map(|v| v.unwrap_or(0)),
        )),
        Arc::new(TimestampMillisecondArray::from(values.to_vec()).with_timezone("UTC")),
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

/// Checks every row group's statistics and page index of column `column` against the
/// values of `table` that the group holds.
fn check_statistics(table: &RecordBatch, metadata: &ParquetMetaData, column: usize) {
    let values = arrow_cast::cast(table.column(column), &DataType::Int64).unwrap();
    let values = values.as_primitive::<Int64Type>();
    let mut first_row = 0;
    for (index, group) in metadata.row_groups().iter().enumerate() {
        let rows = group.num_rows() as usize;
        let held = values.slice(first_row, rows);
        let chunk = group.column(column);
        assert!(
            chunk
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED)
        );
        let non_null: Vec<i64> = held.iter().flatten().collect();
        let Some(Statistics::Int64(stats)) = chunk.statistics() else {
            panic!("group {index} column {column}: no Int64 statistics");
        };
        assert_eq!(stats.null_count_opt(), Some(held.null_count() as u64));
        assert_eq!(stats.min_opt(), non_null.iter().min());
        assert_eq!(stats.max_opt(), non_null.iter().max());

        let locations = &metadata.offset_index().unwrap()[index][column].page_locations;
        let ColumnIndexMetaData::INT64(pages) = &metadata.column_index().unwrap()[index][column]
        else {
            panic!("group {index} column {column}: no INT64 page index");
        };
        assert_eq!(pages.num_pages() as usize, locations.len());
        for (page, location) in locations.iter().enumerate() {
            let start = location.first_row_index as usize;
            let end = locations
                .get(page + 1)
                .map_or(rows, |next| next.first_row_index as usize);
            let in_page = held.slice(start, end - start);
            let page_values: Vec<i64> = in_page.iter().flatten().collect();
            assert_eq!(pages.null_count(page), Some(in_page.null_count() as i64));
            assert_eq!(pages.is_null_page(page), page_values.is_empty());
            assert_eq!(pages.min_value(page), page_values.iter().min());
            assert_eq!(pages.max_value(page), page_values.iter().max());
        }
        first_row += rows;
    }
    assert_eq!(first_row, table.num_rows());
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_value_statistic_and_page_bound_reads_back(
        values in proptest::collection::vec(value(), 0..1_200),
        cuts in proptest::collection::vec(0usize..1_200, 0..4),
        row_group_rows in 1usize..700,
        compression in codec(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let table = table(&values);
        let options = ParquetOptions { compression, row_group_rows, sorted_by: None };
        let (read, metadata) = round_trip(&table, &cuts, options);
        prop_assert_eq!(&read, &table);
        for column in 0..3 {
            check_statistics(&table, &metadata, column);
        }
    }
}

#[test]
fn long_row_groups_are_cut_into_pages_the_index_can_skip() {
    // Ascending with gaps and a few nulls, 2.5 row groups of several pages each.
    let values: Vec<Option<i64>> = (0..125_000i64)
        .map(|i| (i % 1_000 != 7).then_some(1_640_995_200_000 + i * 997 + (i * i) % 13))
        .collect();
    let table = table(&values);
    let options = ParquetOptions {
        row_group_rows: 50_000,
        ..ParquetOptions::default()
    };
    let (read, metadata) = round_trip(&table, &[10_000, 10_001, 70_000], options);
    assert_eq!(read, table);
    let groups: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [50_000, 50_000, 25_000]);
    for column in 0..3 {
        check_statistics(&table, &metadata, column);
    }
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
        let table = table(&values);
        let (read, metadata) = round_trip(&table, &[], ParquetOptions::default());
        assert_eq!(read, table);
        let codec = metadata.row_group(0).column(0).compression();
        assert_eq!(codec != Compression::UNCOMPRESSED, compressed, "{codec:?}");
    }
}
