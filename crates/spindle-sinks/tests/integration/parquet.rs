//! The Parquet sink read back with the parquet crate's own reader: every value, row
//! groups cut where asked, encodings and the recorded sort order.

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};
use spindle_sinks::{ParquetCompression, ParquetOptions, ParquetSink, StreamWriter};
use std::sync::Arc;

fn batch(from: i64, rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("status", DataType::Utf8, true),
        Field::new("total", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, false),
    ]));
    let ids: Vec<i64> = (from..from + rows).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(TimestampMicrosecondArray::from(
            ids.iter()
                .map(|i| 1_640_995_200_000_000 + i * 7_000_000)
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            ids.iter()
                .map(|i| {
                    (i % 5 != 0).then(|| ["completed", "shipped", "returned"][(i % 3) as usize])
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            ids.iter()
                .map(|i| (i % 7 != 0).then_some(*i as f64 / 100.0))
                .collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            ids.iter().map(|i| i % 2 == 0).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

#[test]
fn every_value_row_groups_encodings_and_sort_order_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/events.parquet");
    let options = ParquetOptions {
        compression: ParquetCompression::Zstd,
        row_group_rows: 3_000,
        ..ParquetOptions::default()
    }
    .sorted_by(Some("at"));
    let mut sink = ParquetSink::new(&path, options).unwrap();
    let sent = [batch(0, 2_500), batch(2_500, 4_000), batch(6_500, 3_500)];
    for b in &sent {
        sink.send_batch(b).unwrap();
    }
    // Not closed yet: no footer, so the file is not mistaken for a complete one.
    assert!(ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).is_err());
    sink.close().unwrap();
    assert_eq!(sink.delivered(), 10_000);

    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    let metadata = builder.metadata().clone();
    let groups: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, vec![3_000, 3_000, 3_000, 1_000]);
    for group in metadata.row_groups() {
        let sorting = group.sorting_columns().expect("sort order recorded");
        assert_eq!(sorting.len(), 1);
        assert_eq!(sorting[0].column_idx, 1);
        assert!(!sorting[0].descending);
        assert!(
            group
                .column(0)
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED),
            "ids are delta-encoded"
        );
        assert!(
            group
                .column(2)
                .encodings()
                .any(|e| e == Encoding::RLE_DICTIONARY),
            "text is dictionary-encoded"
        );
    }
    let read: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let read = arrow_select::concat::concat_batches(&read[0].schema(), &read).unwrap();
    let expected = arrow_select::concat::concat_batches(&sent[0].schema(), &sent).unwrap();
    assert_eq!(read.schema().fields(), expected.schema().fields());
    assert_eq!(read, expected);
}

#[test]
fn a_changed_schema_is_refused_and_the_file_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let mut sink = ParquetSink::new(&path, ParquetOptions::default()).unwrap();
    sink.send_batch(&batch(0, 10)).unwrap();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    assert!(sink.send_batch(&other).is_err());
    sink.close().unwrap();
    let rows: usize = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 10);
}

#[test]
fn each_column_is_laid_out_for_the_values_of_the_first_batch() {
    let rows = 5_000u64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
        Field::new("lat", DataType::Float64, false),
    ]));
    // Random ids from a multiplicative hash: no order, few repeats.
    let scrambled = |i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as i64;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(
                (0..rows as i64).map(|i| i + 1),
            )),
            Arc::new(Int64Array::from_iter_values((0..rows).map(scrambled))),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| ["completed", "shipped", "returned"][(i % 3) as usize]),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("user{}@example.com", scrambled(i))),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| (i % 997) as f64 / 100.0),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| scrambled(i) as f64 / 1e5),
            )),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout.parquet");
    let mut sink = ParquetSink::new(&path, ParquetOptions::default()).unwrap();
    sink.send_batch(&batch).unwrap();
    sink.close().unwrap();

    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    let group = builder.metadata().row_group(0).clone();
    let layout = |index: usize| {
        let column = group.column(index);
        (
            column.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
            column
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED),
            column.compression() != Compression::UNCOMPRESSED,
        )
    };
    // (dictionary, delta, compressed)
    assert_eq!(
        layout(0),
        (false, true, true),
        "ascending ids: delta, compressed"
    );
    assert_eq!(layout(1), (false, true, false), "random ids: delta only");
    assert_eq!(layout(2), (true, false, true), "repeated text: dictionary");
    assert_eq!(
        layout(3),
        (false, false, true),
        "unique text: plain, compressed"
    );
    assert_eq!(
        layout(4),
        (true, false, true),
        "repeated numbers: dictionary"
    );
    assert_eq!(
        layout(5),
        (true, false, true),
        "numbers: dictionary even when unique (plain past a full dictionary page)"
    );
    let read: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let read = arrow_select::concat::concat_batches(&read[0].schema(), &read).unwrap();
    assert_eq!(read, batch);
}
