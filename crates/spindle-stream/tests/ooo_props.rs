//! Properties of the out-of-order permutation.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use spindle_stream::ooo::{OutOfOrder, count_late};
use std::sync::Arc;

/// Runs `n` events through the permuter in chunks of `chunk`; returns the emitted
/// positions and the values the rows carried.
fn permute(n: usize, fraction: f64, k: u64, chunk: usize, seed: u64) -> (Vec<u64>, Vec<i64>) {
    let schema = Arc::new(Schema::new(vec![Field::new("i", DataType::Int64, false)]));
    let mut ooo = OutOfOrder::new(fraction, k, seed);
    let (mut positions, mut values) = (Vec::new(), Vec::new());
    let mut take = |r: spindle_stream::ooo::Reordered| {
        positions.extend(r.positions);
        values.extend(
            r.batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
    };
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(
                start as i64..end as i64,
            ))],
        )
        .unwrap();
        take(ooo.push(&batch).unwrap());
        start = end;
    }
    if let Some(rest) = ooo.finish().unwrap() {
        take(rest);
    }
    (positions, values)
}

fn late_by_brute_force(positions: &[u64]) -> u64 {
    (0..positions.len())
        .filter(|&j| positions[..j].iter().any(|&p| p > positions[j]))
        .count() as u64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn is_a_bounded_permutation_whatever_the_chunking(
        n in 0usize..1500,
        fraction in 0.0f64..=1.0,
        k in 1u64..25,
        chunk in 1usize..400,
        seed in any::<u64>(),
    ) {
        let (positions, values) = permute(n, fraction, k, chunk, seed);
        // The rows carried are the rows the positions name.
        prop_assert_eq!(positions.iter().map(|&p| p as i64).collect::<Vec<_>>(), values);
        // A permutation of 0..n.
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..n as u64).collect::<Vec<_>>());
        // Nothing lands more than k places after its in-order position.
        for (j, &p) in positions.iter().enumerate() {
            prop_assert!(j as u64 <= p + k, "event {} emitted at {}", p, j);
        }
        // The reported count is the number of events that arrive late.
        let mut max = None;
        prop_assert_eq!(count_late(&positions, &mut max), late_by_brute_force(&positions));
        // Chunking does not change the result.
        let (whole, _) = permute(n, fraction, k, n.max(1), seed);
        prop_assert_eq!(positions, whole);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The emission order is one sort: an event in order at its own slot, a late one at
    /// slot `position + delay` after it, ties by position; this holds for delays far past
    /// the permuter's timing wheel (where a bucket holds events due in different
    /// rounds) and up to `u64::MAX`, which allocates nothing in proportion.
    #[test]
    fn is_one_sort_by_due_slot_at_any_max_delay(
        n in 0usize..1500,
        fraction in 0.0f64..=1.0,
        k in prop_oneof![1u64..25, 60_000u64..200_000, Just(u64::MAX)],
        chunk in 1usize..400,
        seed in any::<u64>(),
    ) {
        let (positions, _) = permute(n, fraction, k, chunk, seed);
        let model = OutOfOrder::new(fraction, k, seed);
        let mut keys: Vec<(u64, bool, u64)> = (0..n as u64)
            .map(|p| match model.delay_of(p) {
                Some(d) => (p.saturating_add(d), true, p),
                None => (p, false, p),
            })
            .collect();
        keys.sort_unstable();
        prop_assert_eq!(positions, keys.iter().map(|k| k.2).collect::<Vec<_>>());
    }
}

#[test]
fn moves_about_the_requested_share() {
    let n = 200_000;
    for fraction in [0.01, 0.05, 0.2] {
        let (positions, _) = permute(n, fraction, 10, 65_536, 42);
        let late = count_late(&positions, &mut None) as f64 / n as f64;
        assert!(
            late > 0.7 * fraction && late < 1.05 * fraction,
            "fraction {fraction}: {late} late"
        );
    }
    let (positions, _) = permute(1000, 0.0, 10, 100, 1);
    assert_eq!(positions, (0..1000).collect::<Vec<u64>>());
}
