//! Interleaved streams through the library: what a sink that does not write envelopes
//! gets (runs of one table, each as that table's events) is, event for event, what a
//! JSON-lines sink writes from the envelopes; anomalies land on the tables that have
//! their columns, counted exactly; bad table lists are refused.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use spindle_gen::{RetailDomain, Scale};
use spindle_sinks::event::table_of;
use spindle_sinks::{FileMode, FileSink, JsonEncoder, StreamWriter};
use spindle_stream::IS_ANOMALY;
use spindle_stream::{
    AnomalyRegistry, CollectiveAnomaly, PointAnomaly, SpindleStreamer, StreamConfig, WatermarkEvery,
};
use std::sync::{Arc, Mutex};

/// Keeps every batch it is sent (a sink that takes runs of one table).
struct Keep(Arc<Mutex<Vec<RecordBatch>>>);

impl StreamWriter for Keep {
    fn send_batch(&mut self, batch: &RecordBatch) -> spindle_sinks::Result<()> {
        self.0.lock().unwrap().push(batch.clone());
        Ok(())
    }
    fn close(&mut self) -> spindle_sinks::Result<()> {
        Ok(())
    }
    fn delivered(&self) -> u64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.num_rows() as u64)
            .sum()
    }
    fn describe(&self) -> String {
        "keep".into()
    }
}

fn config() -> StreamConfig {
    StreamConfig {
        out_of_order_fraction: 0.05,
        max_lateness_seconds: Some(3_600.0),
        duplicate_fraction: 0.02,
        drop_fraction: 0.01,
        watermark: Some(WatermarkEvery::Events(500)),
        batch_size: 64,
        ..StreamConfig::default()
    }
}

fn anomalies() -> AnomalyRegistry {
    AnomalyRegistry::new(vec![
        PointAnomaly::new("extreme_total", "order_total")
            .fraction(0.02)
            .into(),
        CollectiveAnomaly::new("burst", "customer_id", "order_date")
            .fraction(0.01)
            .into(),
    ])
}

fn interleave(sink: Box<dyn StreamWriter>) -> spindle_stream::StreamResult {
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, sink)
        .unwrap()
        .with_config(config())
        .with_anomalies(anomalies());
    let r = s
        .stream_interleaved(&["order", "order_line", "return"], None)
        .unwrap();
    s.close().unwrap();
    r
}

#[test]
fn runs_of_one_table_carry_exactly_the_json_sinks_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let file = FileSink::new(&path, FileMode::Overwrite).unwrap();
    let from_envelopes = interleave(Box::new(file));
    let kept = Arc::new(Mutex::new(Vec::new()));
    let from_runs = interleave(Box::new(Keep(kept.clone())));
    assert_eq!(from_envelopes.events_sent, from_runs.events_sent);
    assert_eq!(from_envelopes.anomaly_count, from_runs.anomaly_count);
    assert!(from_runs.duplicate_count > 0 && from_runs.watermark_count > 0);

    let runs = kept.lock().unwrap().clone();
    let mut tables = std::collections::BTreeSet::new();
    for run in &runs {
        let table = table_of(run).unwrap();
        let names = run
            .column_by_name("_spindle_table")
            .unwrap()
            .as_string::<i32>();
        assert!(names.iter().all(|t| t == Some(table.as_str())));
        // The table's own columns first, as it has them.
        let own = RetailDomain::new();
        let spec = spindle_gen::Domain::table(&own, &table).unwrap();
        for (i, field) in spec.schema.fields().iter().enumerate() {
            assert_eq!(run.schema().field(i).name(), field.name());
        }
        tables.insert(table);
    }
    assert_eq!(tables.len(), 3);
    let encoded = JsonEncoder::lines().encode_batches(&runs).unwrap().concat();
    assert_eq!(
        String::from_utf8(encoded).unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
}

#[test]
fn anomalies_land_on_the_tables_with_their_columns_exactly() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let r = interleave(Box::new(Keep(kept.clone())));
    let mut per_table = std::collections::BTreeMap::<String, usize>::new();
    for run in kept.lock().unwrap().iter() {
        let flags = run.column_by_name(IS_ANOMALY).unwrap().as_boolean();
        // Copies are counted as sent; the originals are what the registry picked.
        let copies = run.column_by_name("_spindle_duplicate_of").unwrap();
        let picked = (0..run.num_rows())
            .filter(|&i| flags.value(i) && copies.is_null(i))
            .count();
        *per_table.entry(table_of(run).unwrap()).or_default() += picked;
    }
    assert_eq!(per_table["order_line"], 0);
    assert_eq!(per_table["return"], 0);
    // 2% of 5,000 orders are points, 1% of customers' orders burst; drops take some.
    assert!((100..=160).contains(&per_table["order"]), "{per_table:?}");
    assert!(r.anomaly_count >= per_table["order"] as u64);
}

#[test]
fn table_lists_are_checked() {
    let sink = || -> Box<dyn StreamWriter> { Box::new(Keep(Arc::default())) };
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 42, sink()).unwrap();
    let unknown = s
        .stream_interleaved(&["order", "orders"], None)
        .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown table 'orders'"),
        "{unknown}"
    );
    let twice = s.stream_interleaved(&["order", "order"], None).unwrap_err();
    assert!(
        twice.to_string().contains("'order' is named twice"),
        "{twice}"
    );
    let none = s.stream_interleaved(&[], None).unwrap_err();
    assert!(none.to_string().contains("none named"), "{none}");
    // Anomalies no table of the stream can take are refused, naming the column.
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::FabricDemo, 42, sink())
        .unwrap()
        .with_anomalies(AnomalyRegistry::new(vec![
            PointAnomaly::new("x", "order_total").into(),
        ]));
    let refused = s
        .stream_interleaved(&["order_line", "return"], None)
        .unwrap_err();
    assert!(refused.to_string().contains("order_total"), "{refused}");
}
