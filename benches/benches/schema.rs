//! The schema engine by strategy family: rows per second of one 1,000,000-row table
//! whose columns all use strategies of the family (plus a sequence key), generated in
//! chunks of 4,096 rows as `spindle generate` does.
// criterion's macros generate the undocumented `benches` and `main` functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spindle_gen::schema::SchemaDomain;
use spindle_gen::{Domain, Scale, chunk_ranges};

/// Above [`SMALL_TABLE_ROWS`](spindle_gen::schema::SMALL_TABLE_ROWS), so that every
/// iteration generates its chunks rather than reading a table made once.
const ROWS: u64 = 1_000_000;

/// A one-table schema (plus a 1,000-row `parent` for keys) with `columns`.
fn schema(columns: &str) -> SchemaDomain {
    let text = format!(
        r#"{{"model": {{"name": "bench", "date_range": {{"start": "2022-01-01", "end": "2025-12-31"}}}},
        "tables": {{
          "parent": {{"primary_key": ["parent_id"], "columns": {{
            "parent_id": {{"type": "integer", "generator": {{"strategy": "sequence"}}}},
            "price": {{"type": "decimal", "scale": 2, "generator": {{"strategy": "distribution", "distribution": "log_normal", "mean": 3, "sigma": 1}}}},
            "since": {{"type": "timestamp", "generator": {{"strategy": "temporal", "range_ref": "model.date_range"}}}}}}}},
          "t": {{"primary_key": ["id"], "columns": {{
            "id": {{"type": "integer", "generator": {{"strategy": "sequence"}}}},
            {columns}}}}}}},
        "generation": {{"scales": {{"medium": {{"parent": 1000, "t": {ROWS}}}}}}}}}"#
    );
    SchemaDomain::from_json(&text, None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn families(c: &mut Criterion) {
    let families = [
        (
            "numbers",
            r#"
            "a": {"type": "float", "generator": {"strategy": "distribution", "distribution": "normal", "mean": 10, "sigma": 2, "round": 2}},
            "b": {"type": "integer", "generator": {"strategy": "distribution", "distribution": "log_normal", "mean": 2, "sigma": 0.5, "min": 1}},
            "c": {"type": "string", "generator": {"strategy": "weighted_enum", "values": {"x": 0.5, "y": 0.3, "z": 0.2}}},
            "d": {"type": "decimal", "scale": 2, "generator": {"strategy": "correlated", "source_column": "a", "rule": "multiply", "params": {"factor_min": 0.5, "factor_max": 0.9}}}"#,
        ),
        (
            "temporal",
            r#"
            "a": {"type": "timestamp", "generator": {"strategy": "temporal", "pattern": "uniform", "range_ref": "model.date_range"}},
            "b": {"type": "timestamp", "generator": {"strategy": "temporal", "pattern": "seasonal", "range_ref": "model.date_range", "profiles": {"month": {"Dec": 0.2}, "hour_of_day": {"distribution": "bimodal", "peaks": [12, 19], "std_dev": 2}}}},
            "c": {"type": "date", "generator": {"strategy": "temporal", "pattern": "trading_days", "range_ref": "model.date_range"}},
            "d": {"type": "timestamp", "generator": {"strategy": "derived", "source": "b", "rule": "add_days", "params": {"distribution": "log_normal", "mean": 2, "sigma": 0.8, "min": 1, "max": 90}}}"#,
        ),
        (
            "keys and lookups",
            r#"
            "a": {"type": "integer", "generator": {"strategy": "foreign_key", "ref": "parent.parent_id", "distribution": "zipf", "alpha": 1.3}},
            "b": {"type": "integer", "generator": {"strategy": "foreign_key", "ref": "parent.parent_id", "distribution": "pareto", "alpha": 1.2, "max_per_parent": 2000}},
            "c": {"type": "decimal", "scale": 2, "generator": {"strategy": "lookup", "source_table": "parent", "source_column": "price", "via": "a"}},
            "d": {"type": "decimal", "scale": 2, "generator": {"strategy": "formula", "expression": "c * 3 * (1 - 10 / 100)"}}"#,
        ),
        (
            "text",
            r#"
            "first_name": {"type": "string", "generator": {"strategy": "faker", "provider": "first_name"}},
            "last_name": {"type": "string", "generator": {"strategy": "faker", "provider": "last_name"}},
            "email": {"type": "string", "generator": {"strategy": "faker", "provider": "email"}},
            "code": {"type": "string", "generator": {"strategy": "pattern", "format": "CUS-{seq:8}-{random:4}"}},
            "city": {"type": "string", "generator": {"strategy": "record_sample", "dataset": "us_zip_locations", "field": "city"}},
            "zip": {"type": "string", "generator": {"strategy": "record_field", "dataset": "us_zip_locations", "field": "zip"}}"#,
        ),
    ];
    let mut group = c.benchmark_group("schema_families");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    for (name, columns) in families {
        let domain = schema(columns);
        let plan = domain.plan(Scale::Medium, 42).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                chunk_ranges(0..ROWS, 4_096)
                    .into_iter()
                    .map(|r| plan.generate(&["t"], r).unwrap()[0].num_rows())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, families);
criterion_main!(benches);
