//! Streaming kernels: the out-of-order permutation, each anomaly kernel, JSON, Parquet
//! and Avro serialization, and the realtime scheduler's cost per event.
// criterion's macros generate the undocumented `benches` and `main` functions.
#![allow(missing_docs)]

use arrow_array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spindle_gen::{RetailDomain, Scale, Spindle};
use spindle_sinks::{AvroSink, JsonEncoder, ParquetOptions, ParquetSink, StreamWriter};
use spindle_stream::Delivery;
use spindle_stream::Pacer;
use spindle_stream::{
    AnomalyRegistry, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, StreamConfig, Value,
};

fn medium_orders() -> RecordBatch {
    Spindle::generate(&RetailDomain::new(), Scale::Medium, 42)
        .unwrap()
        .table("order")
        .unwrap()
        .clone()
}

fn out_of_order(c: &mut Criterion) {
    let orders = medium_orders();
    let mut group = c.benchmark_group("out_of_order");
    group.sample_size(10);
    group.throughput(Throughput::Elements(orders.num_rows() as u64));
    group.bench_function("medium_order_5pct_k10", |b| {
        b.iter(|| {
            let config = StreamConfig {
                out_of_order_fraction: 0.05,
                ..StreamConfig::default()
            };
            let mut ooo = Delivery::new(&config, 42, None).unwrap();
            let mut n = 0;
            for at in (0..orders.num_rows()).step_by(65_536) {
                let chunk = orders.slice(at, 65_536.min(orders.num_rows() - at));
                n += ooo.push(&chunk).unwrap().batch.num_rows();
            }
            n + ooo.finish().unwrap().map_or(0, |r| r.batch.num_rows())
        })
    });
    group.finish();
}

fn anomalies(c: &mut Criterion) {
    let orders = medium_orders();
    let point = PointAnomaly::new("extreme_total", "order_total")
        .multiplier_range(10.0, 50.0)
        .fraction(0.03);
    let contextual = ContextualAnomaly::new(
        "returned_delivered",
        "status",
        "status",
        vec![Value::from("returned")],
        vec![Value::from("delivered"), Value::from("completed")],
    )
    .fraction(0.25);
    let collective =
        CollectiveAnomaly::new("velocity_fraud", "customer_id", "order_date").fraction(0.05);
    let mut group = c.benchmark_group("anomaly_medium_order");
    group.sample_size(10);
    group.throughput(Throughput::Elements(orders.num_rows() as u64));
    for (name, registry) in [
        ("point", AnomalyRegistry::new(vec![point.clone().into()])),
        (
            "contextual",
            AnomalyRegistry::new(vec![contextual.clone().into()]),
        ),
        (
            "collective",
            AnomalyRegistry::new(vec![collective.clone().into()]),
        ),
        (
            "all_three",
            AnomalyRegistry::new(vec![point.into(), contextual.into(), collective.into()]),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| registry.inject(&orders, "order", 42).unwrap().labelled)
        });
    }
    group.finish();
}

fn serialization(c: &mut Criterion) {
    let orders = medium_orders();
    let json_bytes = JsonEncoder::lines().encode_batch(&orders).unwrap().len() as u64;
    let mut group = c.benchmark_group("serialize_medium_order");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(json_bytes));
    group.bench_function("json_lines", |b| {
        b.iter(|| JsonEncoder::lines().encode_batch(&orders).unwrap().len())
    });
    let dir = std::env::temp_dir().join("spindle-bench");
    // Spindle's own column encoders, then the parquet crate's for every column (same
    // layout): the gain ParquetOptions::own_encoders buys.
    for (name, own_encoders) in [
        ("parquet_zstd", true),
        ("parquet_zstd_crate_encoders", false),
    ] {
        let options = ParquetOptions {
            own_encoders,
            ..ParquetOptions::default()
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || ParquetSink::new(dir.join("orders.parquet"), options.clone()).unwrap(),
                |mut sink| {
                    sink.send_batch(&orders).unwrap();
                    sink.close().unwrap();
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Avro encoding of `order` at `medium` (an object container file to /dev/null: the
/// encoding, its cast of instants to UTC and dictionaries to text, and the file's
/// blocks), in rows per second.
fn avro(c: &mut Criterion) {
    let orders = medium_orders();
    let mut group = c.benchmark_group("avro_medium_order");
    group.sample_size(10);
    group.throughput(Throughput::Elements(orders.num_rows() as u64));
    group.bench_function("object_container_file", |b| {
        b.iter_batched(
            || AvroSink::new("/dev/null").unwrap(),
            |mut sink| {
                sink.send_batch(&orders).unwrap();
                sink.close().unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn scheduler(c: &mut Criterion) {
    let mut group = c.benchmark_group("realtime_scheduler");
    let n = 1_000_000u64;
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.bench_function("due_times_1m_eps", |b| {
        b.iter(|| {
            let config = StreamConfig {
                events_per_second: 1_000_000.0,
                realtime: true,
                ..Default::default()
            };
            let mut pacer = Pacer::new(&config, 42, None);
            (0..n).map(|i| pacer.due_at(i)).sum::<f64>()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    out_of_order,
    anomalies,
    serialization,
    avro,
    scheduler
);
criterion_main!(benches);
