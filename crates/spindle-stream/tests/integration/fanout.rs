//! Parquet read back with a real reader, and the multi-writer's isolation of sinks.

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use spindle_gen::{RetailDomain, Scale};
use spindle_sinks::{FileMode, FileSink, ParquetOptions, ParquetSink, StreamWriter};
use spindle_stream::{
    AnomalyRegistry, FanOut, PointAnomaly, SpindleStreamer, StreamConfig, StreamingMultiWriter,
};

/// A sink that takes batches until it holds `rows_before_failing` rows, then fails every
/// later batch the way `failure` says (an error, or a panic for a sink with a bug).
struct FailingSink {
    rows: u64,
    rows_before_failing: u64,
    failure: fn() -> spindle_sinks::Result<()>,
}
impl FailingSink {
    fn new(rows_before_failing: u64, failure: fn() -> spindle_sinks::Result<()>) -> Self {
        Self {
            rows: 0,
            rows_before_failing,
            failure,
        }
    }
}
impl StreamWriter for FailingSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> spindle_sinks::Result<()> {
        if self.rows >= self.rows_before_failing {
            return (self.failure)();
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }
    fn close(&mut self) -> spindle_sinks::Result<()> {
        Ok(())
    }
    fn delivered(&self) -> u64 {
        self.rows
    }
    fn describe(&self) -> String {
        "failing".into()
    }
}

fn disk_full() -> spindle_sinks::Result<()> {
    Err(spindle_sinks::Error::Invalid {
        field: "sink",
        message: "disk full".into(),
    })
}

/// A sink that, like a broker, counts events as delivered only once flushed, and is slow
/// to tell its count.
#[derive(Default)]
struct AcksOnFlush {
    sent: u64,
    acked: u64,
}
impl StreamWriter for AcksOnFlush {
    fn send_batch(&mut self, batch: &RecordBatch) -> spindle_sinks::Result<()> {
        self.sent += batch.num_rows() as u64;
        Ok(())
    }
    fn flush(&mut self) -> spindle_sinks::Result<()> {
        self.acked = self.sent;
        Ok(())
    }
    fn close(&mut self) -> spindle_sinks::Result<()> {
        self.flush()
    }
    fn delivered(&self) -> u64 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        self.acked
    }
    fn describe(&self) -> String {
        "acks-on-flush".into()
    }
}

#[test]
fn fan_out_reports_what_was_delivered_after_the_final_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = StreamingMultiWriter::new();
    writer
        .add_sink(
            "file",
            Box::new(FileSink::new(dir.path().join("e.jsonl"), FileMode::Overwrite).unwrap()),
        )
        .add_sink("broker", Box::new(AcksOnFlush::default()));
    let mut s = SpindleStreamer::from_domain(
        &RetailDomain::new(),
        Scale::Small,
        42,
        Box::new(FanOut::new(writer)),
    )
    .unwrap();
    let result = s.stream("order", None).unwrap();
    s.close().unwrap();
    assert_eq!(result.events_sent, 5_000);
}

#[test]
fn fan_out_feeds_every_sink_and_isolates_a_failing_one() {
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, parquet) = (dir.path().join("e.jsonl"), dir.path().join("e.parquet"));
    let second_jsonl = dir.path().join("again.jsonl");
    let mut writer = StreamingMultiWriter::new();
    writer
        .add_sink(
            "file",
            Box::new(FileSink::new(&jsonl, FileMode::Overwrite).unwrap()),
        )
        .add_sink(
            "file again",
            Box::new(FileSink::new(&second_jsonl, FileMode::Overwrite).unwrap()),
        )
        .add_sink(
            "parquet",
            Box::new(ParquetSink::new(&parquet, ParquetOptions::default()).unwrap()),
        )
        .add_sink("flaky", Box::new(FailingSink::new(200, disk_full)));
    assert_eq!(
        writer.names(),
        vec!["file", "file again", "parquet", "flaky"]
    );
    let fan = FanOut::new(writer);
    let report = fan.report();
    let registry = AnomalyRegistry::new(vec![
        PointAnomaly::new("p", "order_total").fraction(0.02).into(),
    ]);
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(fan))
        .unwrap()
        .with_config(StreamConfig {
            out_of_order_fraction: 0.05,
            ..Default::default()
        })
        .with_anomalies(registry);
    let result = s.stream("order", None).unwrap();
    s.close().unwrap();
    assert_eq!(result.events_sent, 5_000);
    let multi = report.lock().unwrap().clone().unwrap();
    assert!(multi.partial_failure() && !multi.success());
    let by_name = |n: &str| multi.sinks.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!(by_name("file").events_sent, 5_000);
    assert_eq!(by_name("file again").events_sent, 5_000);
    assert_eq!(by_name("parquet").events_sent, 5_000);
    assert_eq!(by_name("flaky").events_sent, 200);
    assert_eq!(
        by_name("flaky").errors,
        vec!["invalid sink: disk full".to_string()]
    );
    assert!(multi.summary().contains("PARTIAL FAILURE"));

    // The Parquet file reads back with a real reader and holds what the JSON file holds.
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 5_000);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[8..],
        [
            "_spindle_is_anomaly",
            "_spindle_anomaly_type",
            "_spindle_table",
            "_spindle_seq",
            "_spindle_event_time"
        ]
    );
    let from_parquet = spindle_sinks::JsonEncoder::lines()
        .encode_batches(&batches)
        .unwrap()
        .concat();
    assert_eq!(
        String::from_utf8(from_parquet).unwrap(),
        std::fs::read_to_string(&jsonl).unwrap()
    );
    // Both JSON-lines sinks wrote the one shared encoding, whole.
    assert_eq!(
        std::fs::read(&jsonl).unwrap(),
        std::fs::read(&second_jsonl).unwrap()
    );
}

#[test]
fn a_sink_that_panics_is_a_failure_naming_it_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("e.jsonl");
    let mut writer = StreamingMultiWriter::new();
    writer
        .add_sink(
            "file",
            Box::new(FileSink::new(&jsonl, FileMode::Overwrite).unwrap()),
        )
        .add_sink(
            "buggy",
            Box::new(FailingSink::new(1, || {
                panic!("index out of bounds in a sink")
            })),
        );
    let fan = FanOut::new(writer);
    let report = fan.report();
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(fan))
        .unwrap();
    assert_eq!(s.stream("order", None).unwrap().events_sent, 5_000);
    s.close().unwrap();
    let multi = report.lock().unwrap().clone().unwrap();
    assert!(multi.partial_failure(), "{}", multi.summary());
    let buggy = multi.sinks.iter().find(|s| s.name == "buggy").unwrap();
    assert!(
        buggy.errors[0].contains("the thread of sink buggy stopped on a bug")
            && buggy.errors[0].contains("index out of bounds in a sink"),
        "{:?}",
        buggy.errors
    );
    assert_eq!(
        std::fs::read_to_string(&jsonl).unwrap().lines().count(),
        5_000
    );
}

#[test]
fn a_sink_removed_while_streaming_has_written_what_it_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (early, late) = (
        dir.path().join("early.jsonl"),
        dir.path().join("late.jsonl"),
    );
    let mut writer = StreamingMultiWriter::new();
    writer
        .add_sink(
            "early",
            Box::new(FileSink::new(&early, FileMode::Overwrite).unwrap()),
        )
        .add_sink(
            "late",
            Box::new(FileSink::new(&late, FileMode::Overwrite).unwrap()),
        );
    let batch = spindle_gen::Spindle::generate(&RetailDomain::new(), Scale::Small, 42)
        .unwrap()
        .table("store")
        .unwrap()
        .clone();
    writer.send(&batch).unwrap();
    let mut removed = writer.remove_sink("early").expect("a sink called early");
    removed.close().unwrap();
    writer.send(&batch).unwrap();
    let result = writer.finish();
    assert_eq!(writer.names(), vec!["late"]);
    assert_eq!(result.sinks.len(), 1);
    assert_eq!(result.sinks[0].events_sent, 2 * batch.num_rows() as u64);
    let lines = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!((lines(&early), lines(&late)), (150, 300));
    assert!(writer.remove_sink("early").is_none());
}

#[test]
fn stopping_on_a_sink_error_hands_on_that_error_as_it_was() {
    let mut writer = StreamingMultiWriter::new();
    writer.stop_on_sink_error = true;
    writer.add_sink(
        "full",
        Box::new(FailingSink::new(1, || {
            let full = std::io::Error::from_raw_os_error(28); // ENOSPC
            Err(spindle_sinks::Error::io("/data/events.jsonl", full))
        })),
    );
    let mut s = SpindleStreamer::from_domain(
        &RetailDomain::new(),
        Scale::Small,
        42,
        Box::new(FanOut::new(writer)),
    )
    .unwrap();
    let err = s.stream("order", None).unwrap_err();
    match err {
        spindle_stream::Error::Sink(spindle_sinks::Error::Io { path, source }) => {
            assert_eq!(path, std::path::Path::new("/data/events.jsonl"));
            assert_eq!(source.raw_os_error(), Some(28));
        }
        other => panic!("the kind is lost: {other:?}"),
    }
}

#[test]
fn stream_makes_table_rows_events_with_their_table_and_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.jsonl");
    let tables = spindle_gen::Spindle::generate(&RetailDomain::new(), Scale::Small, 42).unwrap();
    let order = tables.table("order").unwrap().clone();
    let store = tables.table("store").unwrap().clone();
    let mut writer = StreamingMultiWriter::new();
    writer.add_sink(
        "file",
        Box::new(FileSink::new(&path, FileMode::Overwrite).unwrap()),
    );
    let pairs = vec![
        Ok(("order".to_string(), order.slice(0, 60))),
        Ok(("store".to_string(), store.slice(0, 5))),
        Ok(("order".to_string(), order.slice(60, 40))),
    ];
    let result = writer.stream(pairs);
    assert!(result.success(), "{}", result.summary());
    assert_eq!(result.total_events, 105);
    assert_eq!(result.total_tables, 2);
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let orders: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["_spindle_table"] == "order")
        .collect();
    assert_eq!(orders.len(), 100);
    for (i, e) in orders.iter().enumerate() {
        assert_eq!(
            e["_spindle_seq"], i as i64,
            "sequence counted across batches"
        );
        assert_eq!(e["_spindle_event_time"], e["order_date"]);
    }
    let stores: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["_spindle_table"] == "store")
        .collect();
    assert_eq!(stores.len(), 5);
    assert_eq!(stores[4]["_spindle_seq"], 4);
}
