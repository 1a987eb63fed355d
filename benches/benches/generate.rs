//! Generation throughput: rows per second for each Retail table at `medium`.
// criterion's macros generate the undocumented `benches` and `main` functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spindle_gen::{Domain, RetailDomain, Scale, chunk_ranges};

fn tables(c: &mut Criterion) {
    let domain = RetailDomain::new();
    let plan = domain.plan(Scale::Medium, 42).unwrap();
    let mut group = c.benchmark_group("generate_medium");
    group.sample_size(10);
    for table in domain.table_names() {
        let driver = domain.table(table).unwrap().driver;
        let units = plan.units(driver);
        group.throughput(Throughput::Elements(plan.row_count(table)));
        group.bench_function(table, |b| {
            b.iter(|| {
                chunk_ranges(0..units, 65_536)
                    .into_iter()
                    .map(|r| plan.generate(&[table], r).unwrap()[0].num_rows())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tables);
criterion_main!(benches);
