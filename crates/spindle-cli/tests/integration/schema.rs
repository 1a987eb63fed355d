//! Schema domains through the `spindle` binary: built-in names and `.spindle.json`
//! files in every command, `validate`, and bad schemas refused with exit 2 before any
//! output is written.

use crate::common::{parquet_rows, spindle, text};
use std::path::{Path, PathBuf};

fn schema_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spindle-gen/data/domains")
        .join(name)
        .join(format!("{name}.spindle.json"))
}

#[test]
fn list_shows_every_domain_and_describe_a_schema_domain() {
    let o = spindle(&["list"]);
    let s = text(&o.stdout);
    for d in [
        "retail",
        "capital_markets",
        "education",
        "financial",
        "healthcare",
        "hr",
        "insurance",
        "iot",
        "manufacturing",
        "marketing",
        "pulse",
        "real_estate",
        "supply_chain",
        "telecom",
    ] {
        assert!(s.contains(&format!("domain {d}:")), "{d}: {s}");
    }
    let o = spindle(&["describe", "iot"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("table reading") && s.contains("reading_timestamp"),
        "{s}"
    );
    assert!(s.contains("generated in reading_timestamp order"), "{s}");
    // reading at small: 500 devices x 2.5 sensors x 20 readings.
    assert!(s.contains("25,000"), "{s}");
}

#[test]
fn generate_a_schema_file_and_a_built_in_domain_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (by_file, by_name) = (dir.path().join("file"), dir.path().join("name"));
    let file = schema_file("telecom");
    for (domain, out) in [(file.to_str().unwrap(), &by_file), ("telecom", &by_name)] {
        let o = spindle(&[
            "generate",
            domain,
            "--scale",
            "small",
            "--format",
            "jsonl",
            "--output",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let mut names: Vec<String> = std::fs::read_dir(&by_file)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    for n in &names {
        assert_eq!(
            std::fs::read(by_file.join(n)).unwrap(),
            std::fs::read(by_name.join(n)).unwrap(),
            "{n}"
        );
    }
    // usage_record: 2,000 subscribers x 1.8 lines x 30 records.
    let lines = std::fs::read_to_string(by_file.join("usage_record.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 108_000);
}

#[test]
fn generate_parts_of_a_schema_domain_to_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    for part in 0..2 {
        let out = dir.path().join(format!("p{part}"));
        let o = spindle(&[
            "generate",
            "hr",
            "--scale",
            "small",
            "--part",
            &part.to_string(),
            "--parts",
            "2",
            "--output",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        total += parquet_rows(&out.join("compensation.parquet"));
    }
    assert_eq!(total, 1_500);
}

#[test]
fn stream_a_schema_table_in_event_time_order() {
    let o = spindle(&[
        "stream",
        "iot",
        "--table",
        "reading",
        "--scale",
        "small",
        "--max-events",
        "2000",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let events: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2000);
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["_spindle_event_time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(events[0]["_spindle_table"], "reading");
    assert!(
        text(&o.stderr).contains("StreamResult(table='reading', events=2,000"),
        "{}",
        text(&o.stderr)
    );
    // Anomalies pick the table's main measure.
    let o = spindle(&[
        "stream",
        "financial",
        "--table",
        "transaction",
        "--anomaly-fraction",
        "0.05",
        "--max-events",
        "500",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let flagged = text(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"_spindle_is_anomaly\": true"))
        .count();
    assert!(flagged > 0, "{}", text(&o.stderr));
}

#[test]
fn replay_queries_a_schema_domain() {
    let o = spindle(&[
        "sql",
        "--domain",
        "healthcare",
        "--scale",
        "fabric_demo",
        "--sql",
        "SELECT COUNT(*) AS n, SUM(CASE WHEN c.total_amount < 0 THEN 1 ELSE 0 END) AS negative FROM claim c",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("475") && s.contains("| 0"), "{s}");
}

#[test]
fn validate_prints_the_outline_or_every_problem() {
    let o = spindle(&["validate", schema_file("retail").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("generation order:")
            && s.contains("order_line")
            && s.contains("nested under order"),
        "{s}"
    );
    assert!(s.contains("order_date_after_signup"), "{s}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.spindle.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_file("iot")).unwrap()).unwrap();
    doc["tables"]["reading"]["columns"]["sensor_id"]["generator"]["ref"] = "sensr.sensor_id".into();
    doc["tables"]["reading"]["columns"]["reading_value"]["generator"]["strategy"] =
        "distributon".into();
    std::fs::write(&bad, doc.to_string()).unwrap();
    let o = spindle(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("tables.reading.columns.sensor_id.generator.ref: no table 'sensr'; tables: device_type, location, device, sensor, reading, alert, maintenance_log, command"), "{err}");
    assert!(err.contains("tables.reading.columns.reading_value.generator.strategy: unknown strategy 'distributon'"), "{err}");

    // The same file refused by generate, before any output exists.
    let out = dir.path().join("out");
    let o = spindle(&[
        "generate",
        bad.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    std::fs::write(&bad, "{\"tables\": {\n  \"a\": }").unwrap();
    let o = spindle(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid JSON at line 2, column"),
        "{}",
        text(&o.stderr)
    );
    let o = spindle(&["validate", "/nonexistent/x.spindle.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot read schema /nonexistent/x.spindle.json"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_scale_the_schema_lacks_is_refused_with_its_scales() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = spindle(&[
        "generate",
        "pulse",
        "--scale",
        "xxl",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists(), "nothing written");
    let err = text(&o.stderr);
    assert!(err.contains("scale 'xxl' is not in the schema's generation.scales; allowed: fabric_demo, small, medium, large, xlarge"), "{err}");
}
