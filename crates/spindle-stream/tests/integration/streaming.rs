//! The streamer end to end: event shape, ordering, counts, errors, determinism, and
//! partitioned runs (N parts of one run send exactly its events, each part every N-th
//! of them in the run's order, in real time on the run's one schedule).

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use spindle_gen::{Partition, RetailDomain, Scale};
use spindle_sinks::{FileMode, FileSink};
use spindle_stream::Pacer;
use spindle_stream::{
    AnomalyRegistry, CollectiveAnomaly, PointAnomaly, SpindleStreamer, StopReason, StreamConfig,
    StreamResult, UtcInstant,
};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

fn stream_small(config: StreamConfig, registry: AnomalyRegistry, path: &Path) -> StreamResult {
    let sink = FileSink::new(path, FileMode::Overwrite).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(config)
            .with_anomalies(registry);
    let r = s.stream("order", None).unwrap();
    s.close().unwrap();
    r
}

#[test]
fn event_shape_matches_the_reference_byte_for_byte() {
    // A 3,666-row order table whose last row is the spec's example.
    let n = 3_666;
    let base = 1_642_368_136_000_000i64; // 2022-01-16 21:22:16
    let mut ids: Vec<i64> = (1..=n).collect();
    ids[n as usize - 1] = 3_666;
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("store_id", DataType::Int64, false),
        Field::new("shipping_address_id", DataType::Int64, false),
        Field::new("promotion_id", DataType::Int64, true),
        Field::new(
            "order_date",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("status", DataType::Utf8, false),
        Field::new("order_total", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(Int64Array::from(vec![16; n as usize])),
        Arc::new(Int64Array::from(vec![124; n as usize])),
        Arc::new(Int64Array::from(vec![889; n as usize])),
        Arc::new(Int64Array::from(vec![None::<i64>; n as usize])),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..n).map(|i| base - (n - 1 - i) * 1_000_000),
        )),
        Arc::new(StringArray::from(vec!["completed"; n as usize])),
        Arc::new(Float64Array::from(vec![80.73; n as usize])),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let sink = FileSink::new(&path, FileMode::Overwrite).unwrap();
    // A registry that labels nothing still adds both label fields.
    let registry = AnomalyRegistry::new(vec![
        PointAnomaly::new("none", "order_total")
            .fraction(0.0)
            .into(),
    ]);
    let mut s = SpindleStreamer::from_tables(vec![("order".into(), vec![batch])], Box::new(sink))
        .unwrap()
        .with_anomalies(registry);
    let r = s.stream("order", None).unwrap();
    s.close().unwrap();
    assert_eq!(r.events_sent, 3_666);
    let last = lines(&path).pop().unwrap();
    assert_eq!(
        last,
        r#"{"order_id": 3666, "customer_id": 16, "store_id": 124, "shipping_address_id": 889, "promotion_id": null, "order_date": "2022-01-16 21:22:16", "status": "completed", "order_total": 80.73, "_spindle_is_anomaly": false, "_spindle_anomaly_type": null, "_spindle_table": "order", "_spindle_seq": 3665, "_spindle_event_time": "2022-01-16 21:22:16"}"#
    );
}

#[test]
fn small_orders_stream_in_event_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.jsonl");
    let r = stream_small(StreamConfig::default(), AnomalyRegistry::default(), &path);
    assert_eq!(r.events_sent, 5_000);
    assert_eq!((r.out_of_order_count, r.anomaly_count), (0, 0));
    assert_eq!(r.stop_reason, StopReason::Completed);
    let events: Vec<serde_json::Value> = lines(&path).iter().map(|l| json(l)).collect();
    assert_eq!(events.len(), 5_000);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["_spindle_seq"], i as u64);
        assert_eq!(e["_spindle_table"], "order");
        assert_eq!(e["_spindle_event_time"], e["order_date"]);
        if i > 0 {
            assert!(events[i - 1]["order_date"].as_str() <= e["order_date"].as_str());
        }
    }
    assert!(
        r.to_string()
            .starts_with("StreamResult(table='order', events=5,000, anomalies=0, ooo=0, ")
    );
}

#[test]
fn out_of_order_count_matches_the_output_and_max_events_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.jsonl");
    let config = StreamConfig {
        out_of_order_fraction: 0.2,
        out_of_order_max_delay_slots: 5,
        max_events: Some(4_321),
        ..Default::default()
    };
    let r = stream_small(config, AnomalyRegistry::default(), &path);
    assert_eq!(r.events_sent, 4_321);
    assert_eq!(r.stop_reason, StopReason::MaxEvents);
    let seqs: Vec<u64> = lines(&path)
        .iter()
        .map(|l| json(l)["_spindle_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 4_321);
    let late = (0..seqs.len())
        .filter(|&j| seqs[..j].iter().any(|&p| p > seqs[j]))
        .count() as u64;
    assert_eq!(r.out_of_order_count, late);
    assert!(late > 500 && late < 950, "{late}");
    for (j, &p) in seqs.iter().enumerate() {
        assert!(j as u64 <= p + 5);
    }
}

#[test]
fn same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: usize, name: &str| {
        let path = dir.path().join(name);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let config = StreamConfig {
                    out_of_order_fraction: 0.05,
                    ..Default::default()
                };
                let registry = AnomalyRegistry::new(vec![
                    PointAnomaly::new("extreme_total", "order_total")
                        .fraction(0.03)
                        .into(),
                    spindle_stream::CollectiveAnomaly::new("velocity", "customer_id", "order_date")
                        .fraction(0.05)
                        .into(),
                ]);
                stream_small(config, registry, &path)
            });
        std::fs::read(path).unwrap()
    };
    let one = run(1, "one.jsonl");
    assert_eq!(one, run(2, "two.jsonl"));
    assert!(one.len() > 1_000_000);
}

#[test]
fn tables_given_out_of_order_are_sorted_stably_with_their_seq() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("at", DataType::Timestamp(TimeUnit::Second, None), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4])),
            Arc::new(arrow_array::TimestampSecondArray::from(vec![
                Some(50),
                Some(10),
                None,
                Some(10),
                Some(5),
            ])),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let sink = FileSink::new(&path, FileMode::Overwrite).unwrap();
    let mut s =
        SpindleStreamer::from_tables(vec![("t".into(), vec![batch])], Box::new(sink)).unwrap();
    s.stream("t", None).unwrap();
    s.close().unwrap();
    let ids: Vec<i64> = lines(&path)
        .iter()
        .map(|l| json(l)["_spindle_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2, 4, 1, 3, 0]);
    assert_eq!(
        json(&lines(&path)[0])["_spindle_event_time"],
        serde_json::Value::Null
    );
}

#[test]
fn tables_without_time_keep_table_order_and_have_no_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    let sink = FileSink::new(&path, FileMode::Overwrite).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 1, Box::new(sink))
            .unwrap();
    let r = s.stream("order_line", None).unwrap();
    s.close().unwrap();
    assert_eq!(r.events_sent, 2_500);
    let first = &lines(&path)[0];
    assert!(!first.contains("_spindle_event_time"));
    assert!(
        first.ends_with(r#""_spindle_table": "order_line", "_spindle_seq": 0}"#),
        "{first}"
    );
}

#[test]
fn stream_all_sends_every_row_of_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.jsonl");
    let sink = FileSink::new(&path, FileMode::Overwrite).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 1, Box::new(sink))
            .unwrap();
    let results = s.stream_all(None).unwrap();
    s.close().unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.table.as_str()).collect();
    assert_eq!(names, RetailDomain::new_names());
    let total: u64 = results.iter().map(|r| r.events_sent).sum();
    assert_eq!(total as usize, lines(&path).len());
}

trait Names {
    fn new_names() -> Vec<&'static str>;
}
impl Names for RetailDomain {
    fn new_names() -> Vec<&'static str> {
        spindle_gen::Domain::table_names(&RetailDomain::new())
    }
}

#[test]
fn bad_input_is_named() {
    let sink = FileSink::new(
        tempfile::tempdir().unwrap().path().join("x"),
        FileMode::Overwrite,
    )
    .unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 1, Box::new(sink))
            .unwrap();
    let e = s.stream("orders", None).unwrap_err().to_string();
    assert!(e.contains("orders") && e.contains("order_line"), "{e}");
    let e = s.stream("order", Some("when")).unwrap_err().to_string();
    assert!(
        e.contains("when") && e.contains("order_date (Timestamp"),
        "{e}"
    );
    let e = s
        .stream("order", Some("order_total"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Float64, not a timestamp"), "{e}");
    let mut s = s.with_config(StreamConfig {
        out_of_order_fraction: -0.1,
        ..Default::default()
    });
    let e = s.stream("order", None).unwrap_err().to_string();
    assert!(e.contains("out_of_order_fraction"), "{e}");
}

fn stream_part(config: &StreamConfig, part: Partition, path: &Path) -> StreamResult {
    let sink = FileSink::new(path, FileMode::Overwrite).unwrap();
    let mut anomalies = AnomalyRegistry::default();
    anomalies
        .add(PointAnomaly::new("extreme_total", "order_total").fraction(0.02))
        .add(
            CollectiveAnomaly::new("velocity", "customer_id", "order_date")
                .window_seconds(300.0)
                .fraction(0.05),
        );
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(StreamConfig {
                part: part.index,
                parts: part.count,
                ..config.clone()
            })
            .with_anomalies(anomalies);
    let r = s.stream("order", None).unwrap();
    s.close().unwrap();
    r
}

#[test]
fn the_parts_send_exactly_the_run_each_every_nth_event_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = StreamConfig {
        out_of_order_fraction: 0.1,
        max_events: Some(4_001),
        batch_size: 37,
        ..Default::default()
    };
    let whole_path = dir.path().join("whole.jsonl");
    let whole_result = stream_part(&config, Partition::WHOLE, &whole_path);
    let whole = lines(&whole_path);
    assert_eq!(whole.len(), 4_001);
    for count in [2u64, 3, 7] {
        let mut sent = 0;
        let mut anomalies = 0;
        for index in 0..count {
            let path = dir.path().join(format!("part-{index}-of-{count}.jsonl"));
            let r = stream_part(&config, Partition::new(index, count).unwrap(), &path);
            let expected: Vec<&String> = whole
                .iter()
                .skip(index as usize)
                .step_by(count as usize)
                .collect();
            let got = lines(&path);
            assert_eq!(
                got.iter().collect::<Vec<_>>(),
                expected,
                "part {index} of {count}: every {count}-th event of the run, in its order"
            );
            assert_eq!(r.events_sent, got.len() as u64);
            sent += r.events_sent;
            anomalies += r.anomaly_count;
        }
        assert_eq!(sent, 4_001, "{count} parts send the run's events once");
        assert_eq!(anomalies, whole_result.anomaly_count, "{count} parts");
    }
}

#[test]
fn realtime_parts_share_one_schedule_from_start_at() {
    let dir = tempfile::tempdir().unwrap();
    let config = StreamConfig {
        realtime: true,
        events_per_second: 600.0,
        max_events: Some(900),
        batch_size: 1,
        ..Default::default()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let start_at = now + 300_000;
    let config = StreamConfig {
        start_at: Some(UtcInstant { micros: start_at }),
        ..config
    };
    // Three producers at once, each in its own thread; each writes its events' send
    // instants (the sink's clock) beside them.
    let results: Vec<(StreamResult, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3u64)
            .map(|index| {
                let config = &config;
                let path = dir.path().join(format!("rt-{index}.jsonl"));
                scope.spawn(move || {
                    let r = stream_part(config, Partition::new(index, 3).unwrap(), &path);
                    (r, lines(&path))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let finished = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let total: u64 = results.iter().map(|(r, _)| r.events_sent).sum();
    assert_eq!(total, 900);
    for (r, lines) in &results {
        assert_eq!(r.events_sent, 300, "{r}");
        assert_eq!(lines.len(), 300);
    }
    // One run's schedule: the last event of the run is due at due_at(899) after
    // start_at, and the three parts together end there, not three times later.
    let mut pacer = Pacer::new(&config, 42, None);
    let last_due = pacer.due_at(899);
    let took = (finished - start_at) as f64 / 1e6;
    assert!(
        took >= last_due - 0.005 && took < last_due + 1.0,
        "the parts ended {took:.3} s after start_at; the run's last event is due at {last_due:.3} s"
    );
    // Each part's rate is a third of the run's.
    for (r, _) in &results {
        assert!(
            r.events_per_second_actual > 150.0 && r.events_per_second_actual < 260.0,
            "{r}"
        );
    }
}
