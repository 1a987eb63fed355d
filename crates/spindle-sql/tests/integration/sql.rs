//! Queries over Parquet, CSV, JSON-lines and generated tables, checked against the same
//! computation done directly on the Arrow batches.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use spindle_gen::{RetailDomain, Scale, Spindle};
use spindle_sinks::{CsvSink, FileMode, FileSink, ParquetOptions, ParquetSink, StreamWriter};
use spindle_sql::SqlSources;
use spindle_stream::{SpindleStreamer, StreamConfig};
use std::collections::HashMap;
use std::path::Path;

fn write(sink: &mut dyn StreamWriter, batch: &RecordBatch) {
    sink.send_batch(batch).unwrap();
    sink.close().unwrap();
}

/// fabric_demo tables: order as Parquet, customer as CSV, order_line as JSON lines.
fn files(dir: &Path) -> spindle_gen::GenerationResult {
    let r = Spindle::generate(&RetailDomain::new(), Scale::FabricDemo, 42).unwrap();
    write(
        &mut ParquetSink::new(dir.join("orders.parquet"), ParquetOptions::default()).unwrap(),
        r.table("order").unwrap(),
    );
    write(
        &mut CsvSink::new(dir.join("customer.csv")).unwrap(),
        r.table("customer").unwrap(),
    );
    write(
        &mut FileSink::new(dir.join("lines.jsonl"), FileMode::Overwrite).unwrap(),
        r.table("order_line").unwrap(),
    );
    r
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn int_column(batches: &[RecordBatch], i: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(i).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[test]
fn filters_joins_and_aggregates_agree_with_direct_computation() {
    let dir = tempfile::tempdir().unwrap();
    let generated = files(dir.path());
    let orders = generated.table("order").unwrap();
    let mut s = SqlSources::new();
    assert_eq!(
        s.register(dir.path().join("orders.parquet").to_str().unwrap())
            .unwrap(),
        "orders"
    );
    s.register(&format!(
        "customer={}",
        dir.path().join("customer.csv").display()
    ))
    .unwrap();
    s.register(&format!(
        "lines={}",
        dir.path().join("lines.jsonl").display()
    ))
    .unwrap();

    // Filter.
    let status = orders.column_by_name("status").unwrap().as_string::<i32>();
    let returned = status.iter().filter(|s| *s == Some("returned")).count();
    let got = s
        .collect("SELECT order_id FROM orders WHERE status = 'returned'")
        .unwrap();
    assert_eq!(rows(&got), returned);

    // Join of Parquet and CSV.
    let customers = generated.table("customer").unwrap();
    let tier: HashMap<i64, String> = (0..customers.num_rows())
        .map(|i| {
            (
                customers.column(0).as_primitive::<Int64Type>().value(i),
                customers
                    .column_by_name("loyalty_tier")
                    .unwrap()
                    .as_string::<i32>()
                    .value(i)
                    .to_string(),
            )
        })
        .collect();
    let joined = s
        .collect("SELECT o.customer_id, c.loyalty_tier FROM orders o JOIN customer c ON o.customer_id = c.customer_id")
        .unwrap();
    assert_eq!(rows(&joined), orders.num_rows());
    for b in &joined {
        for i in 0..b.num_rows() {
            let id = b.column(0).as_primitive::<Int64Type>().value(i);
            assert_eq!(b.column(1).as_string::<i32>().value(i), tier[&id]);
        }
    }

    // Aggregate.
    let mut expect: HashMap<i64, (i64, i64)> = HashMap::new();
    let ids = orders
        .column_by_name("customer_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let totals = orders
        .column_by_name("order_total")
        .unwrap()
        .as_primitive::<Float64Type>();
    for i in 0..orders.num_rows() {
        let e = expect.entry(ids.value(i)).or_default();
        e.0 += 1;
        e.1 += (totals.value(i) * 100.0).round() as i64;
    }
    let agg = s
        .collect("SELECT customer_id, COUNT(*) AS n, SUM(order_total) AS total FROM orders GROUP BY customer_id")
        .unwrap();
    assert_eq!(rows(&agg), expect.len());
    for b in &agg {
        for i in 0..b.num_rows() {
            let id = b.column(0).as_primitive::<Int64Type>().value(i);
            let n = b.column(1).as_primitive::<Int64Type>().value(i);
            let total = b.column(2).as_primitive::<Float64Type>().value(i);
            assert_eq!(
                (n, (total * 100.0).round() as i64),
                expect[&id],
                "customer {id}"
            );
        }
    }

    // JSON lines.
    let lines = s.collect("SELECT COUNT(*) FROM lines").unwrap();
    assert_eq!(int_column(&lines, 0), vec![2_500]);
}

#[test]
fn generated_tables_join_in_sql() {
    let mut s = SqlSources::new();
    s.register_domain(&RetailDomain::new(), Scale::FabricDemo, 42)
        .unwrap();
    let got = s
        .collect("SELECT COUNT(*) FROM order_line l JOIN \"order\" o ON l.order_id = o.order_id WHERE o.status = 'completed'")
        .unwrap();
    let r = Spindle::generate(&RetailDomain::new(), Scale::FabricDemo, 42).unwrap();
    let orders = r.table("order").unwrap();
    let completed: std::collections::HashSet<i64> = (0..orders.num_rows())
        .filter(|&i| {
            orders
                .column_by_name("status")
                .unwrap()
                .as_string::<i32>()
                .value(i)
                == "completed"
        })
        .map(|i| orders.column(0).as_primitive::<Int64Type>().value(i))
        .collect();
    let lines = r.table("order_line").unwrap();
    let expected = lines
        .column_by_name("order_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .filter(|o| completed.contains(o))
        .count() as i64;
    assert_eq!(int_column(&got, 0), vec![expected]);
}

#[test]
fn an_ordered_query_streams_without_gathering_and_events_come_in_order() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let mut s = SqlSources::new();
    s.register(&format!(
        "orders={}",
        dir.path().join("orders.parquet").display()
    ))
    .unwrap();
    let source = s
        .query("returned", "SELECT order_id, order_date, order_total FROM orders WHERE status = 'returned' ORDER BY order_date")
        .unwrap();
    assert_eq!(source.ordered_by.as_deref(), Some("order_date"));
    let unordered = s.query("all", "SELECT * FROM orders").unwrap();
    assert_eq!(unordered.ordered_by, None);

    let out = dir.path().join("events.jsonl");
    let sink = FileSink::new(&out, FileMode::Overwrite).unwrap();
    let mut streamer = SpindleStreamer::from_tables(Vec::new(), Box::new(sink))
        .unwrap()
        .with_config(StreamConfig {
            out_of_order_fraction: 0.0,
            ..Default::default()
        });
    let r = streamer.stream_source(source, None).unwrap();
    streamer.close().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let times: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["_spindle_event_time"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(times.len() as u64, r.events_sent);
    assert!(r.events_sent > 30);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("\"_spindle_table\": \"returned\"")
    );
}

#[test]
fn bad_sources_and_queries_carry_datafusion_s_reason() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let mut s = SqlSources::new();
    let e = s.register("missing.parquet").unwrap_err().to_string();
    assert!(
        e.contains("missing.parquet") && e.contains("cannot read"),
        "{e}"
    );
    std::fs::write(dir.path().join("x.xlsx"), "x").unwrap();
    let e = s
        .register(dir.path().join("x.xlsx").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown format") && e.contains(".parquet"),
        "{e}"
    );
    s.register(&format!(
        "orders={}",
        dir.path().join("orders.parquet").display()
    ))
    .unwrap();
    for (sql, needle) in [
        ("SELEC * FROM orders", "SELEC"),
        ("SELECT * FROM nope", "nope"),
        ("SELECT total_amount FROM orders", "total_amount"),
    ] {
        let e = s.collect(sql).err().unwrap().to_string();
        assert!(
            e.starts_with("query failed") && e.contains(needle),
            "{sql}: {e}"
        );
    }
}

#[test]
fn a_folder_of_parts_streams_every_matching_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("orders");
    std::fs::create_dir(&parts).unwrap();
    let generated = Spindle::generate(&RetailDomain::new(), Scale::FabricDemo, 42).unwrap();
    let orders = generated.table("order").unwrap();
    let third = orders.num_rows().div_ceil(3);
    for (i, start) in (0..orders.num_rows()).step_by(third).enumerate() {
        let len = third.min(orders.num_rows() - start);
        write(
            &mut ParquetSink::new(
                parts.join(format!("part-{i}.parquet")),
                ParquetOptions::default(),
            )
            .unwrap(),
            &orders.slice(start, len),
        );
    }
    let mut s = SqlSources::new();
    assert_eq!(s.register(&format!("o={}", parts.display())).unwrap(), "o");
    // Several files are several partitions: DataFusion starts their readers on the
    // session's runtime when the stream is created.
    let source = s
        .query(
            "big",
            "SELECT order_id, order_date FROM o WHERE order_total > 100",
        )
        .unwrap();
    let out = dir.path().join("events.jsonl");
    let sink = FileSink::new(&out, FileMode::Overwrite).unwrap();
    let mut streamer = SpindleStreamer::for_sources(Box::new(sink));
    let r = streamer.stream_source(source, None).unwrap();
    streamer.close().unwrap();

    let totals = orders
        .column_by_name("order_total")
        .unwrap()
        .as_primitive::<Float64Type>();
    let ids = orders
        .column_by_name("order_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut expected: Vec<i64> = (0..orders.num_rows())
        .filter(|&i| totals.value(i) > 100.0)
        .map(|i| ids.value(i))
        .collect();
    let mut got: Vec<i64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["order_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(got.len() as u64, r.events_sent);
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
}

#[test]
fn a_file_that_records_its_order_streams_ordered_without_a_sort() {
    let dir = tempfile::tempdir().unwrap();
    let generated = Spindle::generate(&RetailDomain::new(), Scale::FabricDemo, 42).unwrap();
    let orders = generated.table("order").unwrap();
    for (file, sorted_by) in [("sorted", Some("order_date")), ("plain", None)] {
        write(
            &mut ParquetSink::new(
                dir.path().join(format!("{file}.parquet")),
                ParquetOptions {
                    row_group_rows: 1000,
                    ..Default::default()
                }
                .sorted_by(sorted_by),
            )
            .unwrap(),
            orders,
        );
    }
    let mut s = SqlSources::new();
    for file in ["sorted", "plain"] {
        s.register(dir.path().join(format!("{file}.parquet")).to_str().unwrap())
            .unwrap();
    }
    let query = |table: &str| {
        format!(
            "SELECT order_id, order_date FROM {table} WHERE order_id % 2 = 0 ORDER BY order_date"
        )
    };
    let sorted_plan = s.explain(&query("sorted")).unwrap();
    assert!(!sorted_plan.contains("SortExec"), "{sorted_plan}");
    assert!(s.explain(&query("plain")).unwrap().contains("SortExec"));

    let source = s.query("half", &query("sorted")).unwrap();
    assert_eq!(source.ordered_by.as_deref(), Some("order_date"));
    let batches: Vec<RecordBatch> = (source.rows)().unwrap().map(Result::unwrap).collect();
    assert_eq!(rows(&batches), orders.num_rows() / 2);
    let times: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(1)
                .as_primitive::<arrow_array::types::TimestampMicrosecondType>()
                .values()
                .to_vec()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}
