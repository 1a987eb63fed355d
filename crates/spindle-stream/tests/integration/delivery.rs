//! Delivery faults end to end through the streamer, each against its ground truth:
//! late events by event time, duplicates, drops (and the ground-truth sink), and
//! watermarks; counts in the result; partitioned runs and `max_events`.

use serde_json::Value;
use spindle_gen::{Partition, RetailDomain, Scale};
use spindle_sinks::{FileMode, FileSink};
use spindle_stream::{
    LatenessDistribution, SpindleStreamer, StreamConfig, StreamResult, WatermarkEvery,
};
use std::collections::BTreeSet;
use std::path::Path;

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn seq(e: &Value) -> u64 {
    e["_spindle_seq"].as_u64().unwrap()
}

fn time(e: &Value) -> &str {
    e["_spindle_event_time"].as_str().unwrap()
}

fn is_copy(e: &Value) -> bool {
    !e["_spindle_duplicate_of"].is_null()
}

/// Orders at `small` are about 3.5 hours apart: lateness up to 2 days and a watermark
/// a day make every fault show many times over.
fn faulty() -> StreamConfig {
    StreamConfig {
        out_of_order_fraction: 0.1,
        max_lateness_seconds: Some(2.0 * 86_400.0),
        lateness_distribution: LatenessDistribution::Exponential,
        duplicate_fraction: 0.05,
        duplicate_max_delay_slots: 20,
        drop_fraction: 0.03,
        watermark: Some(WatermarkEvery::Seconds(86_400.0)),
        batch_size: 37,
        ..StreamConfig::default()
    }
}

fn run(config: &StreamConfig, part: Partition, out: &Path, truth: &Path) -> StreamResult {
    let sink = FileSink::new(out, FileMode::Overwrite).unwrap();
    let ground_truth = FileSink::new(truth, FileMode::Overwrite).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(StreamConfig {
                part: part.index,
                parts: part.count,
                ..config.clone()
            })
            .with_ground_truth(Box::new(ground_truth));
    let r = s.stream("order", None).unwrap();
    s.close().unwrap();
    r
}

#[test]
fn every_fault_is_in_the_events_or_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (out, truth) = (
        dir.path().join("events.jsonl"),
        dir.path().join("dropped.jsonl"),
    );
    let r = run(&faulty(), Partition::WHOLE, &out, &truth);
    let sent = events(&out);
    let dropped = events(&truth);
    let n = 5_000u64;

    // Sent originals and dropped events are the table, each once.
    let originals: Vec<u64> = sent.iter().filter(|e| !is_copy(e)).map(seq).collect();
    let mut all: Vec<u64> = originals
        .iter()
        .copied()
        .chain(dropped.iter().map(seq))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
    // The result counts what the files hold.
    let copies: Vec<&Value> = sent.iter().filter(|e| is_copy(e)).collect();
    let stamped = sent
        .iter()
        .filter(|e| !e["_spindle_watermark"].is_null())
        .count();
    assert_eq!(r.events_sent, sent.len() as u64);
    assert_eq!(r.dropped_count, dropped.len() as u64);
    assert_eq!(r.duplicate_count, copies.len() as u64);
    assert_eq!(r.watermark_count, stamped as u64);
    assert!(
        r.dropped_count > 100 && r.duplicate_count > 180 && r.out_of_order_count > 300,
        "{r}"
    );
    let shown = r.to_string();
    for part in ["duplicates=", "dropped=", "watermarks="] {
        assert!(shown.contains(part), "{shown}");
    }
    // A copy is its original's event, sent after it, marked with its _spindle_seq.
    for copy in &copies {
        let at = sent.iter().position(|e| e == *copy).unwrap();
        let first = sent.iter().position(|e| seq(e) == seq(copy)).unwrap();
        assert!(first < at);
        let mut unmarked = (*copy).clone();
        unmarked["_spindle_duplicate_of"] = Value::Null;
        unmarked["_spindle_watermark"] = sent[first]["_spindle_watermark"].clone();
        assert_eq!(unmarked, sent[first]);
        assert_eq!(copy["_spindle_duplicate_of"].as_u64(), Some(seq(copy)));
    }
    // Lateness by event time: no event after one more than two days younger; watermarks
    // are bounds on every later event (copies included), rising.
    let parse = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap();
    let mut newest = None;
    for e in sent.iter().filter(|e| !is_copy(e)) {
        let t = parse(time(e));
        if let Some(newest) = newest {
            assert!(
                newest - t <= chrono::TimeDelta::days(2),
                "{} sent after {newest}",
                time(e)
            );
        }
        newest = newest.max(Some(t));
    }
    let mut last = String::new();
    for (j, e) in sent.iter().enumerate() {
        if let Some(w) = e["_spindle_watermark"].as_str() {
            assert!(
                sent[j + 1..].iter().all(|later| time(later) >= w),
                "watermark {w} at {j}"
            );
            assert!(w >= last.as_str());
            last = w.to_string();
        }
    }
    // Dropped events are written as they would have been sent.
    let columns = |e: &Value| {
        e.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    let mut expected = columns(&sent[0]);
    expected.remove("_spindle_duplicate_of");
    expected.remove("_spindle_watermark");
    assert_eq!(columns(&dropped[0]), expected);
}

#[test]
fn parts_and_max_events_split_the_faults_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = StreamConfig {
        max_events: Some(3_001),
        ..faulty()
    };
    let path = |name: &str| dir.path().join(name);
    let whole = run(
        &config,
        Partition::WHOLE,
        &path("whole.jsonl"),
        &path("whole-dropped.jsonl"),
    );
    let sent = events(&path("whole.jsonl"));
    let dropped = events(&path("whole-dropped.jsonl"));
    assert_eq!(sent.len(), 3_001);
    // A run cut by max_events reports exactly the drops before its last event: those
    // of the uncut run below the largest in-order position sent.
    let uncut = run(
        &faulty(),
        Partition::WHOLE,
        &path("uncut.jsonl"),
        &path("uncut-dropped.jsonl"),
    );
    let horizon = sent.iter().map(seq).max().unwrap();
    let expected: Vec<Value> = events(&path("uncut-dropped.jsonl"))
        .into_iter()
        .filter(|e| seq(e) < horizon)
        .collect();
    assert_eq!(dropped, expected);
    assert!(uncut.dropped_count > whole.dropped_count);

    let parts = 3;
    let (mut duplicates, mut drops, mut watermarks) = (0, 0, 0);
    let mut part_drops = Vec::new();
    for index in 0..parts {
        let out = path(&format!("part-{index}.jsonl"));
        let truth = path(&format!("part-{index}-dropped.jsonl"));
        let r = run(&config, Partition::new(index, parts).unwrap(), &out, &truth);
        let got = events(&out);
        let every_nth: Vec<Value> = sent
            .iter()
            .skip(index as usize)
            .step_by(parts as usize)
            .cloned()
            .collect();
        assert_eq!(got, every_nth, "part {index}");
        duplicates += r.duplicate_count;
        drops += r.dropped_count;
        watermarks += r.watermark_count;
        part_drops.extend(events(&truth));
    }
    assert_eq!(
        (duplicates, drops, watermarks),
        (
            whole.duplicate_count,
            whole.dropped_count,
            whole.watermark_count
        )
    );
    part_drops.sort_by_key(seq);
    assert_eq!(part_drops, dropped);
}

#[test]
fn faults_that_need_event_times_say_so() {
    let sink = || {
        Box::new(spindle_sinks::ConsoleSink::new(
            Box::new(std::io::sink()),
            "null",
        ))
    };
    let cases = [
        (
            StreamConfig {
                watermark: Some(WatermarkEvery::Events(10)),
                ..StreamConfig::default()
            },
            "watermark",
        ),
        (
            StreamConfig {
                out_of_order_fraction: 0.1,
                max_lateness_seconds: Some(5.0),
                ..StreamConfig::default()
            },
            "max_lateness_seconds",
        ),
    ];
    for (config, field) in cases {
        // `store` has no timestamp column.
        let mut s =
            SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 42, sink())
                .unwrap()
                .with_config(config);
        let e = s.stream("store", None).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains("timestamp"), "{e}");
    }
    let bad = StreamConfig {
        max_lateness_seconds: Some(5.0),
        ..StreamConfig::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("out_of_order_fraction"), "{e}");
    let e = "5x".parse::<WatermarkEvery>().unwrap_err().to_string();
    assert!(e.contains("30s"), "{e}");
}
