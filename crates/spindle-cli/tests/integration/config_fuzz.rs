//! `--config` files with any of the known keys set to values of any type, in range or
//! not: the run either works or exits 2 with an error, never panics or hangs. Flags win
//! over the file, so the flags below keep every case small and short whatever the file
//! says (scale, table, sink, rate, duration, events).

use proptest::prelude::*;
use std::time::{Duration, Instant};

const KEYS: [&str; 38] = [
    "domain",
    "table",
    "all_tables",
    "scale",
    "orders",
    "customers",
    "products",
    "seed",
    "events_per_second",
    "duration_seconds",
    "max_events",
    "out_of_order_fraction",
    "out_of_order_max_delay_slots",
    "burst_windows",
    "time_pattern",
    "label_anomalies",
    "batch_size",
    "realtime",
    "timestamp_column",
    "output",
    "append",
    "indent",
    "clock_start",
    "start_at",
    "part",
    "parts",
    "speedup",
    "event_time",
    "anomaly_fraction",
    "anomaly",
    "sink",
    "anomalies",
    "report_lateness",
    "quiet",
    "source",
    "sql",
    "sql_file",
    "no_such_key",
];

fn toml_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "-1",
        "0",
        "1",
        "3",
        "9223372036854775807",
        "1000000000000",
        "-1.5",
        "0.0",
        "0.5",
        "1e300",
        "nan",
        "inf",
        "true",
        "false",
        "\"\"",
        "\"x\"",
        "\"order\"",
        "\"2025-11-28T19:00:00\"",
        "\"business_hours\"",
        "[]",
        "[1, 2]",
        "[\"a\"]",
        "[{start_offset_seconds = 0, duration_seconds = 1, multiplier = 0}]",
        "[{kind = \"point\", name = \"p\", column = \"order_total\", fraction = 2}]",
        "{}",
        "{preset = \"retail_peak\"}",
    ])
    .prop_map(String::from)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_config_file_runs_or_is_refused_with_exit_2(
        entries in proptest::collection::vec((prop::sample::select(KEYS.to_vec()), toml_value()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("run.toml");
        let mut text = String::new();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in &entries {
            // A key twice is a TOML error of its own; one is enough.
            if seen.insert(*key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        std::fs::write(&config, &text).unwrap();
        let events = dir.path().join("events.jsonl");
        let started = Instant::now();
        let o = crate::common::spindle(&[
            "stream", "retail", "--config", config.to_str().unwrap(),
            "--table", "order", "--scale", "small", "--max-events", "3",
            "--rate", "1000000", "--duration", "5", "--quiet",
            "--sink", &format!("file:{}", events.display()),
        ]);
        let err = crate::common::text(&o.stderr);
        prop_assert!(started.elapsed() < Duration::from_secs(60), "{text}: took too long");
        prop_assert!(!err.contains("panicked"), "{text}: {err}");
        match o.status.code() {
            Some(0) => {}
            Some(2) => prop_assert!(err.starts_with("error: "), "{text}: {err}"),
            other => prop_assert!(false, "{text}: exit {other:?}: {err}"),
        }
    }
}
