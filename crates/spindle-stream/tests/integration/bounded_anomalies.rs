//! Anomalies injected chunk by chunk (a survey pass, then the table read again) give
//! exactly what injecting the whole table at once and sorting it gives, however the
//! table is chunked; a table that reads differently the second time is an error.

use arrow_array::RecordBatch;
use spindle_gen::{Domain, RetailDomain, Scale, Spindle};
use spindle_sinks::{FileMode, FileSink};
use spindle_stream::{
    Anomaly, AnomalyRegistry, Batches, CollectiveAnomaly, ContextualAnomaly, PointAnomaly,
    SpindleStreamer, StreamConfig, StreamResult, TableSource, Value,
};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The tutorial's three kinds, a second collective on another group column over the
/// first's rows, and a contextual anomaly writing nulls.
fn registry() -> AnomalyRegistry {
    AnomalyRegistry::new(vec![
        PointAnomaly::new("extreme_total", "order_total")
            .multiplier_range(10.0, 50.0)
            .fraction(0.03)
            .into(),
        ContextualAnomaly::new(
            "returned_delivered",
            "status",
            "status",
            vec![Value::from("returned")],
            vec![Value::from("delivered"), Value::from("completed")],
        )
        .fraction(0.25)
        .into(),
        CollectiveAnomaly::new("velocity_fraud", "customer_id", "order_date")
            .window_seconds(300.0)
            .fraction(0.05)
            .into(),
        ContextualAnomaly::new(
            "lost_address",
            "shipping_address_id",
            "status",
            vec![Value::from("shipped")],
            vec![Value::Null],
        )
        .fraction(0.02)
        .into(),
        CollectiveAnomaly::new("store_rush", "store_id", "order_date")
            .window_seconds(60.0)
            .fraction(0.02)
            .into(),
    ])
}

fn orders(scale: Scale) -> RecordBatch {
    Spindle::generate(&RetailDomain::new(), scale, 42)
        .unwrap()
        .table("order")
        .unwrap()
        .clone()
}

fn config() -> StreamConfig {
    StreamConfig {
        out_of_order_fraction: 0.05,
        ..Default::default()
    }
}

/// Streams `source` (or the generated `order` table) into `path`.
fn stream(source: Option<TableSource>, path: &Path) -> spindle_stream::Result<StreamResult> {
    stream_with(registry(), source, path)
}

/// [`stream`] with the anomalies of `registry`.
fn stream_with(
    registry: AnomalyRegistry,
    source: Option<TableSource>,
    path: &Path,
) -> spindle_stream::Result<StreamResult> {
    let sink = Box::new(FileSink::new(path, FileMode::Overwrite).unwrap());
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Medium, 42, sink)
        .unwrap()
        .with_config(config())
        .with_anomalies(registry);
    let r = match source {
        Some(source) => s.stream_source(source, None),
        None => s.stream("order", None),
    };
    s.close().unwrap();
    r
}

/// `table` cut into batches of `rows`, claimed to be in `order_date` order (so it is
/// injected chunk by chunk), counting its reads.
fn chunked(table: &RecordBatch, rows: usize, reads: Arc<AtomicUsize>) -> TableSource {
    let table = table.clone();
    TableSource {
        name: "order".into(),
        schema: table.schema(),
        rows: Arc::new(move || -> spindle_stream::Result<Batches> {
            reads.fetch_add(1, Ordering::SeqCst);
            let table = table.clone();
            let n = table.num_rows();
            Ok(Box::new(
                (0..n)
                    .step_by(rows)
                    .map(move |at| Ok(table.slice(at, rows.min(n - at)))),
            ))
        }),
        columns: None,
        rows_at: None,
        ordered_by: Some("order_date".into()),
    }
}

#[test]
fn chunk_by_chunk_injection_equals_the_whole_table_injected_and_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let table = orders(Scale::Medium);
    // The whole table gathered, injected at once and sorted: a source whose order is
    // not known.
    let whole = dir.path().join("whole.jsonl");
    let mut gathered = TableSource::from_batches("order", table.schema(), vec![table.clone()]);
    gathered.ordered_by = None;
    let expected = stream(Some(gathered), &whole).unwrap();
    let expected_bytes = std::fs::read(&whole).unwrap();
    assert!(expected.anomaly_count > 20_000, "{expected:?}");

    // Generated chunks of 4,096 orders, read twice.
    let generated = dir.path().join("generated.jsonl");
    let r = stream(None, &generated).unwrap();
    assert_eq!(
        (r.events_sent, r.anomaly_count, r.out_of_order_count),
        (
            expected.events_sent,
            expected.anomaly_count,
            expected.out_of_order_count
        )
    );
    assert!(std::fs::read(&generated).unwrap() == expected_bytes);

    // Chunks of other sizes: a few hundred rows, more than the mean's blocks.
    for rows in [777, 100_000] {
        let reads = Arc::new(AtomicUsize::new(0));
        let path = dir.path().join(format!("chunks-{rows}.jsonl"));
        let source = chunked(&table, rows, reads.clone());
        let r = stream(Some(source), &path).unwrap();
        assert_eq!(r.anomaly_count, expected.anomaly_count, "chunks of {rows}");
        assert!(
            std::fs::read(&path).unwrap() == expected_bytes,
            "chunks of {rows}"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2, "a survey and the stream");
    }
}

#[test]
fn moved_events_keep_the_stream_in_event_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ordered.jsonl");
    let sink = Box::new(FileSink::new(&path, FileMode::Overwrite).unwrap());
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, sink)
        .unwrap()
        .with_anomalies(registry());
    let r = s.stream("order", None).unwrap();
    s.close().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 5_000);
    let mut seqs: Vec<i64> = events
        .iter()
        .map(|e| e["_spindle_seq"].as_i64().unwrap())
        .collect();
    for w in events.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (ta, tb) = (
            a["_spindle_event_time"].as_str().unwrap(),
            b["_spindle_event_time"].as_str().unwrap(),
        );
        assert!(ta <= tb, "{a} before {b}");
        if ta == tb {
            assert!(a["_spindle_seq"].as_i64() < b["_spindle_seq"].as_i64());
        }
    }
    // The events no anomaly touched keep the table's order; collective ones moved.
    let stayed: Vec<i64> = events
        .iter()
        .filter(|e| e["_spindle_is_anomaly"] == false)
        .map(|e| e["_spindle_seq"].as_i64().unwrap())
        .collect();
    let bad: Vec<_> = stayed.windows(2).filter(|w| w[0] >= w[1]).take(5).collect();
    assert!(bad.is_empty(), "{bad:?}");
    let moved = events
        .windows(2)
        .filter(|w| w[1]["_spindle_seq"].as_i64() < w[0]["_spindle_seq"].as_i64())
        .count();
    assert!(
        moved > 20,
        "events before an event that was after them: {moved}"
    );
    seqs.sort_unstable();
    assert!(
        seqs.iter().copied().eq(0..5_000),
        "every order once, none twice"
    );
    assert_eq!(
        r.anomaly_count as usize,
        text.matches("\"_spindle_is_anomaly\": true").count()
    );
}

#[test]
fn a_table_that_reads_differently_the_second_time_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let table = orders(Scale::Small);
    for change in ["fewer rows", "another order"] {
        let reads = Arc::new(AtomicUsize::new(0));
        let table = table.clone();
        let source = TableSource {
            name: "order".into(),
            schema: table.schema(),
            rows: Arc::new(move || -> spindle_stream::Result<Batches> {
                let first = reads.fetch_add(1, Ordering::SeqCst) == 0;
                let n = table.num_rows();
                let batches = if first {
                    vec![table.clone()]
                } else if change == "fewer rows" {
                    vec![table.slice(0, n - 1)]
                } else {
                    // The same rows, the halves swapped.
                    vec![table.slice(n / 2, n - n / 2), table.slice(0, n / 2)]
                };
                Ok(Box::new(batches.into_iter().map(Ok)))
            }),
            columns: None,
            rows_at: None,
            ordered_by: Some("order_date".into()),
        };
        let e = stream(Some(source), &dir.path().join("x.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("changed between two reads") && e.contains("ORDER BY"),
            "{change}: {e}"
        );
    }
}

/// Without a collective anomaly the survey keeps no rows: a generated table's survey
/// reads just the columns the anomalies look at (the point anomaly's column and the two
/// contextual ones' condition, once), and the stream is byte for byte the one a survey
/// of whole rows gives.
#[test]
fn a_survey_of_just_the_columns_it_reads_gives_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    // The file's anomalies but the collective ones.
    let registry = || {
        let all = registry();
        let others = all
            .anomalies()
            .iter()
            .filter(|a| !matches!(a, Anomaly::Collective(_)));
        AnomalyRegistry::new(others.cloned().collect())
    };
    let plan = RetailDomain::new().plan(Scale::Medium, 42).unwrap();
    let generated = TableSource::generated(plan.clone(), "order").unwrap();
    let read = generated
        .columns
        .clone()
        .expect("a generated table reads columns");
    let asked: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let counted = TableSource {
        columns: Some(Arc::new({
            let asked = asked.clone();
            move |columns: &[String]| {
                asked.lock().unwrap().push(columns.to_vec());
                read(columns)
            }
        })),
        ..generated
    };
    let whole_rows = TableSource {
        columns: None,
        rows_at: None,
        ..TableSource::generated(plan, "order").unwrap()
    };
    let (by_columns, by_rows) = (
        dir.path().join("columns.jsonl"),
        dir.path().join("rows.jsonl"),
    );
    let a = stream_with(registry(), Some(counted), &by_columns).unwrap();
    let b = stream_with(registry(), Some(whole_rows), &by_rows).unwrap();
    assert_eq!(*asked.lock().unwrap(), vec![vec!["order_total", "status"]]);
    assert!(a.anomaly_count > 5_000, "{a:?}");
    assert_eq!(a.anomaly_count, b.anomaly_count);
    assert!(std::fs::read(&by_columns).unwrap() == std::fs::read(&by_rows).unwrap());
}

/// Where a generated table makes rows at any positions (Retail's `order`), a stream whose
/// collective anomalies move rows makes each chunk in the order it is sent (the survey
/// reads columns and keeps no row): byte for byte the stream that keeps the moved rows
/// and merges them into the chunks gives, with the file's anomalies (two collective
/// ones, a contextual one writing nulls).
#[test]
fn chunks_made_in_the_order_sent_give_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let plan = RetailDomain::new().plan(Scale::Medium, 42).unwrap();
    let generated = TableSource::generated(plan.clone(), "order").unwrap();
    let make = generated.rows_at.clone().expect("order is made by row");
    let made = Arc::new(AtomicUsize::new(0));
    let placed = TableSource {
        rows_at: Some(Arc::new({
            let made = made.clone();
            move |rows: &[u64]| {
                made.fetch_add(1, Ordering::SeqCst);
                make(rows)
            }
        })),
        ..generated
    };
    let merged = TableSource {
        rows_at: None,
        ..TableSource::generated(plan, "order").unwrap()
    };
    let (by_position, by_merge) = (
        dir.path().join("placed.jsonl"),
        dir.path().join("merged.jsonl"),
    );
    let a = stream(Some(placed), &by_position).unwrap();
    let b = stream(Some(merged), &by_merge).unwrap();
    // A chunk a 4,096 orders, and the moved rows left after the last.
    assert!(made.load(Ordering::SeqCst) > 100);
    assert!(a.anomaly_count > 10_000, "{a:?}");
    assert_eq!(
        (a.events_sent, a.anomaly_count),
        (b.events_sent, b.anomaly_count)
    );
    assert!(std::fs::read(&by_position).unwrap() == std::fs::read(&by_merge).unwrap());
}
