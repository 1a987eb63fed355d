//! Anomaly kernels: exact counts, value ranges, where they land, labels, determinism.
#![allow(clippy::needless_range_loop)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use spindle_gen::{RetailDomain, Scale, Spindle};
use spindle_stream::{ANOMALY_TYPE, IS_ANOMALY, pick_count};
use spindle_stream::{
    AnomalyRegistry, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, SpindleStreamer,
    StreamConfig, Value,
};
use std::collections::{HashMap, HashSet};

fn medium_orders() -> RecordBatch {
    Spindle::generate(&RetailDomain::new(), Scale::Medium, 42)
        .unwrap()
        .table("order")
        .unwrap()
        .clone()
}

fn labels(b: &RecordBatch) -> (Vec<bool>, Vec<Option<String>>) {
    let flags = b.column_by_name(IS_ANOMALY).unwrap().as_boolean();
    let types = b.column_by_name(ANOMALY_TYPE).unwrap().as_string::<i32>();
    (
        flags.iter().map(Option::unwrap).collect(),
        types.iter().map(|t| t.map(String::from)).collect(),
    )
}

#[test]
fn point_anomalies_hit_exactly_the_promised_rows_and_range() {
    let orders = medium_orders();
    let before = orders
        .column_by_name("order_total")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    let baseline = before.values().iter().map(|v| v.abs()).sum::<f64>() / before.len() as f64;
    let registry = AnomalyRegistry::new(vec![
        PointAnomaly::new("extreme_total", "order_total")
            .multiplier_range(10.0, 50.0)
            .fraction(0.03)
            .into(),
    ]);
    let out = registry.inject(&orders, "order", 7).unwrap();
    let n = orders.num_rows() as u64;
    assert_eq!(out.labelled, pick_count(n, 0.03));
    assert_eq!(out.labelled, 15_000);
    let after = out
        .batch
        .column_by_name("order_total")
        .unwrap()
        .as_primitive::<Float64Type>();
    let (flags, types) = labels(&out.batch);
    for i in 0..orders.num_rows() {
        if flags[i] {
            let v = after.value(i);
            assert!(
                v >= (baseline * 10.0 * 0.8 * 100.0).floor() / 100.0
                    && v <= (baseline * 50.0 * 1.2 * 100.0).ceil() / 100.0,
                "{v}"
            );
            assert_eq!((v * 100.0).round() / 100.0, v);
            assert_eq!(types[i].as_deref(), Some("point:extreme_total"));
        } else {
            assert_eq!(after.value(i), before.value(i));
            assert_eq!(types[i], None);
        }
    }
}

#[test]
fn point_anomalies_turn_integer_columns_into_floats() {
    let orders = medium_orders();
    let registry = AnomalyRegistry::new(vec![PointAnomaly::new("odd_store", "store_id").into()]);
    let out = registry.inject(&orders, "order", 1).unwrap();
    assert_eq!(
        out.batch.column_by_name("store_id").unwrap().data_type(),
        &arrow_schema::DataType::Float64
    );
    assert_eq!(out.labelled, 5_000);
}

#[test]
fn contextual_anomalies_only_touch_rows_whose_condition_held() {
    let orders = medium_orders();
    let status = orders
        .column_by_name("status")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let eligible = status.iter().filter(|s| *s == Some("returned")).count() as u64;
    let registry = AnomalyRegistry::new(vec![
        ContextualAnomaly::new(
            "returned_delivered",
            "status",
            "status",
            vec![Value::from("returned")],
            vec![Value::from("delivered"), Value::from("completed")],
        )
        .fraction(0.25)
        .into(),
    ]);
    let out = registry.inject(&orders, "order", 3).unwrap();
    assert_eq!(out.labelled, pick_count(eligible, 0.25));
    let after = out
        .batch
        .column_by_name("status")
        .unwrap()
        .as_string::<i32>();
    let (flags, _) = labels(&out.batch);
    let mut seen = HashSet::new();
    for i in 0..orders.num_rows() {
        if flags[i] {
            assert_eq!(status.value(i), "returned");
            assert!(["delivered", "completed"].contains(&after.value(i)));
            seen.insert(after.value(i).to_string());
        } else {
            assert_eq!(after.value(i), status.value(i));
        }
    }
    assert_eq!(seen.len(), 2, "both replacement values are used");
}

#[test]
fn a_contextual_anomaly_can_write_nulls_into_a_non_null_column() {
    // The seed's example: a NULL shipping address on orders that were shipped.
    let orders = medium_orders();
    let column = orders.schema().index_of("shipping_address_id").unwrap();
    assert!(!orders.schema().field(column).is_nullable());
    let registry = AnomalyRegistry::new(vec![
        ContextualAnomaly::new(
            "null_address",
            "shipping_address_id",
            "status",
            vec![Value::from("shipped")],
            vec![Value::Null],
        )
        .fraction(0.1)
        .into(),
    ]);
    let status = orders.column_by_name("status").unwrap().as_string::<i32>();
    let shipped = status.iter().filter(|s| *s == Some("shipped")).count() as u64;
    // Each slice is its own batch; the column is nullable in every one, nulls or not.
    for (at, len) in [(0, orders.num_rows()), (0, 1)] {
        let out = registry.inject(&orders.slice(at, len), "order", 3).unwrap();
        assert!(out.batch.schema().field(column).is_nullable());
    }
    let out = registry.inject(&orders, "order", 3).unwrap();
    assert_eq!(out.labelled, pick_count(shipped, 0.1));
    let after = out.batch.column(column);
    let (flags, _) = labels(&out.batch);
    for i in 0..orders.num_rows() {
        assert_eq!(
            after.is_null(i),
            flags[i],
            "row {i}: null exactly where labelled"
        );
        if flags[i] {
            assert_eq!(status.value(i), "shipped");
        }
    }
    // And rows whose condition column is null are eligible where null is a normal value.
    let again = AnomalyRegistry::new(vec![
        ContextualAnomaly::new(
            "null_to_zero",
            "shipping_address_id",
            "shipping_address_id",
            vec![Value::Null],
            vec![Value::Int(0)],
        )
        .fraction(1.0)
        .into(),
    ]);
    let nulls = after.null_count() as u64;
    let cleaned = out
        .batch
        .project(&(0..orders.num_columns()).collect::<Vec<_>>())
        .unwrap();
    let fixed = again.inject(&cleaned, "order", 4).unwrap();
    assert_eq!(fixed.labelled, nulls);
    assert_eq!(fixed.batch.column(column).null_count(), 0);
}

#[test]
fn collective_anomalies_squeeze_whole_groups_into_their_window() {
    let orders = medium_orders();
    let customers = orders
        .column_by_name("customer_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    let dates = orders
        .column_by_name("order_date")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .clone();
    let mut group_size: HashMap<i64, usize> = HashMap::new();
    for c in customers.values() {
        *group_size.entry(*c).or_default() += 1;
    }
    let eligible = group_size.values().filter(|&&n| n >= 2).count() as u64;
    let registry = AnomalyRegistry::new(vec![
        CollectiveAnomaly::new("velocity_fraud", "customer_id", "order_date")
            .window_seconds(300.0)
            .fraction(0.05)
            .into(),
    ]);
    let out = registry.inject(&orders, "order", 9).unwrap();
    let after = out
        .batch
        .column_by_name("order_date")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let (flags, types) = labels(&out.batch);
    let mut chosen: HashMap<i64, Vec<usize>> = HashMap::new();
    for i in 0..orders.num_rows() {
        if flags[i] {
            chosen.entry(customers.value(i)).or_default().push(i);
            assert_eq!(types[i].as_deref(), Some("collective:velocity_fraud"));
        } else {
            assert_eq!(after.value(i), dates.value(i));
        }
    }
    assert_eq!(chosen.len() as u64, pick_count(eligible, 0.05));
    assert_eq!(
        out.labelled as usize,
        chosen.values().map(Vec::len).sum::<usize>()
    );
    for (customer, rows) in &chosen {
        assert_eq!(
            rows.len(),
            group_size[customer],
            "the whole group is labelled"
        );
        let first = rows.iter().map(|&r| dates.value(r)).min().unwrap();
        for &r in rows {
            let t = after.value(r);
            assert!(
                t >= first && t < first + 300_000_000,
                "inside the window from the group's first event"
            );
        }
        // Order within the group is kept.
        let mut by_old: Vec<usize> = rows.clone();
        by_old.sort_by_key(|&r| (dates.value(r), r));
        assert!(
            by_old
                .windows(2)
                .all(|w| after.value(w[0]) <= after.value(w[1]))
        );
    }
}

#[test]
fn unknown_or_mistyped_columns_are_errors_listing_the_columns() {
    let orders = medium_orders();
    let e = AnomalyRegistry::new(vec![PointAnomaly::new("x", "total_amount").into()])
        .inject(&orders, "order", 1)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("total_amount")
            && e.contains("does not exist")
            && e.contains("order_total (Float64)"),
        "{e}"
    );
    let e = AnomalyRegistry::new(vec![PointAnomaly::new("x", "status").into()])
        .inject(&orders, "order", 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("status") && e.contains("not a number"), "{e}");
    let e = AnomalyRegistry::new(vec![
        CollectiveAnomaly::new("x", "customer_id", "status").into(),
    ])
    .inject(&orders, "order", 1)
    .unwrap_err()
    .to_string();
    assert!(e.contains("not a timestamp"), "{e}");
    let e = AnomalyRegistry::new(vec![
        PointAnomaly::new("x", "order_total").fraction(2.0).into(),
    ])
    .inject(&orders, "order", 1)
    .unwrap_err()
    .to_string();
    assert!(e.contains("fraction") && e.contains("0..=1"), "{e}");
}

#[test]
fn injection_is_deterministic_across_thread_counts() {
    let orders = medium_orders();
    let registry = AnomalyRegistry::new(vec![
        PointAnomaly::new("p", "order_total").into(),
        CollectiveAnomaly::new("c", "customer_id", "order_date").into(),
    ]);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| registry.inject(&orders, "order", 5).unwrap().batch)
    };
    let (a, b) = (run(1), run(2));
    assert!(
        a.columns()
            .iter()
            .zip(b.columns())
            .all(|(x, y)| x.to_data() == y.to_data())
    );
}

#[test]
fn labels_off_still_injects_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |label: bool, name: &str| {
        let path = dir.path().join(name);
        let sink = spindle_sinks::FileSink::new(&path, spindle_sinks::FileMode::Overwrite).unwrap();
        let mut s =
            SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
                .unwrap()
                .with_config(StreamConfig {
                    label_anomalies: label,
                    ..Default::default()
                })
                .with_anomalies(AnomalyRegistry::new(vec![
                    PointAnomaly::new("p", "order_total").fraction(0.02).into(),
                    CollectiveAnomaly::new("c", "customer_id", "order_date")
                        .fraction(0.05)
                        .into(),
                ]));
        let r = s.stream("order", None).unwrap();
        s.close().unwrap();
        (r, std::fs::read_to_string(path).unwrap())
    };
    let (labelled, with) = run(true, "with.jsonl");
    let (unlabelled, without) = run(false, "without.jsonl");
    assert!(labelled.anomaly_count >= 100);
    assert_eq!(labelled.anomaly_count, unlabelled.anomaly_count);
    assert_eq!(
        with.matches("\"_spindle_is_anomaly\": true").count() as u64,
        labelled.anomaly_count
    );
    assert!(!without.contains("_spindle_is_anomaly") && !without.contains("_spindle_anomaly_type"));
    // The same values were injected: strip the labels and the streams are identical.
    let stripped: String = with
        .lines()
        .map(|l| {
            let start = l.find(", \"_spindle_is_anomaly\"").unwrap();
            let end = l.find(", \"_spindle_table\"").unwrap();
            format!("{}{}\n", &l[..start], &l[end..])
        })
        .collect();
    assert_eq!(stripped, without);
    // Collective events took their new place in event-time order.
    let times: Vec<String> = without
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["_spindle_event_time"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

/// A table that already carries labels (anomalies a Python `Anomaly` subclass
/// injected) keeps them where no built-in anomaly lands; the label columns stay one
/// pair, last.
#[test]
fn labels_already_in_the_table_are_kept_beside_the_registry_s() {
    use arrow_array::{BooleanArray, StringArray};
    use std::sync::Arc;

    let orders = medium_orders();
    let n = orders.num_rows();
    let before: Vec<bool> = (0..n).map(|r| r % 7 == 0).collect();
    let mut columns = orders.columns().to_vec();
    columns.push(Arc::new(BooleanArray::from(before.clone())));
    columns.push(Arc::new(StringArray::from_iter(
        before.iter().map(|&b| b.then_some("custom:mine")),
    )));
    let mut fields: Vec<_> = orders.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        IS_ANOMALY,
        arrow_schema::DataType::Boolean,
        false,
    )));
    fields.push(Arc::new(arrow_schema::Field::new(
        ANOMALY_TYPE,
        arrow_schema::DataType::Utf8,
        true,
    )));
    let labelled =
        RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap();

    let registry = AnomalyRegistry::new(vec![
        PointAnomaly::new("extreme_total", "order_total")
            .fraction(0.01)
            .into(),
    ]);
    let alone = registry.inject(&orders, "order", 42).unwrap().batch;
    let merged = registry.inject(&labelled, "order", 42).unwrap();
    assert_eq!(merged.batch.num_columns(), orders.num_columns() + 2);
    let (alone_flags, alone_types) = labels(&alone);
    let (flags, types) = labels(&merged.batch);
    let mut count = 0;
    for r in 0..n {
        let expected = if alone_flags[r] {
            alone_types[r].clone()
        } else if before[r] {
            Some("custom:mine".to_string())
        } else {
            None
        };
        assert_eq!(types[r], expected, "row {r}");
        assert_eq!(flags[r], expected.is_some(), "row {r}");
        count += usize::from(flags[r]);
    }
    assert_eq!(merged.labelled, count as u64);
    // The values the registry changed are the same with or without earlier labels.
    assert_eq!(
        merged.batch.column_by_name("order_total").unwrap(),
        alone.column_by_name("order_total").unwrap()
    );
}
