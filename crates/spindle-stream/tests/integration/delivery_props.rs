//! Properties of the delivery stage: the out-of-order permutation, and lateness by
//! event time, duplicates, drops and watermarks.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use spindle_stream::StreamConfig;
use spindle_stream::{Delivered, Delivery, count_late};
use std::sync::Arc;

/// Runs `n` events through the permuter in chunks of `chunk`; returns the emitted
/// positions and the values the rows carried.
fn permute(n: usize, fraction: f64, k: u64, chunk: usize, seed: u64) -> (Vec<u64>, Vec<i64>) {
    let schema = Arc::new(Schema::new(vec![Field::new("i", DataType::Int64, false)]));
    let mut ooo = Delivery::new(&late_by_slots(fraction, k), seed, None).unwrap();
    let (mut positions, mut values) = (Vec::new(), Vec::new());
    let mut take = |r: Delivered| {
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

fn late_by_slots(fraction: f64, k: u64) -> StreamConfig {
    StreamConfig {
        out_of_order_fraction: fraction,
        out_of_order_max_delay_slots: k,
        ..StreamConfig::default()
    }
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
        let model = Delivery::new(&late_by_slots(fraction, k), seed, None).unwrap();
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

/// What a run of the delivery stage sent and dropped.
#[derive(Debug, PartialEq)]
struct Run {
    /// In-order position of each event sent.
    positions: Vec<u64>,
    /// Event time (microseconds) of each event sent.
    times: Vec<i64>,
    /// Whether each event sent is a duplicate's copy.
    copies: Vec<bool>,
    /// The watermark stamped on each event sent, if any.
    stamps: Vec<Option<i64>>,
    /// In-order positions dropped.
    dropped: Vec<u64>,
}

/// `n` events one to three seconds apart (ties included), as with_metadata makes them.
fn timed_events(n: usize, seed: u64) -> RecordBatch {
    let mut t = 1_700_000_000_000_000i64;
    let times: Vec<i64> = (0..n as u64)
        .map(|i| {
            t += (spindle_gen::rng::RandomStream::new(seed, "test.gaps").below(i, 4) as i64)
                * 1_000_000;
            t
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("_spindle_seq", DataType::Int64, false),
        Field::new(
            "_spindle_event_time",
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
            true,
        ),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(arrow_array::TimestampMicrosecondArray::from(times)),
        ],
    )
    .unwrap()
}

fn deliver(events: &RecordBatch, config: &StreamConfig, chunk: usize, seed: u64) -> Run {
    let data_type = events.schema().field(1).data_type().clone();
    let mut stage = Delivery::new(config, seed, Some(&data_type)).unwrap();
    let mut run = Run {
        positions: vec![],
        times: vec![],
        copies: vec![],
        stamps: vec![],
        dropped: vec![],
    };
    let take = |d: Delivered, run: &mut Run| {
        let b = &d.batch;
        assert_eq!(b.num_rows(), d.positions.len());
        let seq = b
            .column_by_name("_spindle_seq")
            .unwrap()
            .as_primitive::<Int64Type>();
        // The rows carried are the events the positions name.
        assert!(
            d.positions
                .iter()
                .zip(seq.values())
                .all(|(&p, &s)| p as i64 == s)
        );
        run.positions.extend(&d.positions);
        let times = b.column_by_name("_spindle_event_time").unwrap();
        let times = times.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        run.times.extend(times.values().iter().copied());
        match b.column_by_name("_spindle_duplicate_of") {
            Some(c) => {
                let c = c.as_primitive::<Int64Type>();
                for i in 0..c.len() {
                    // A copy names its original's _spindle_seq.
                    assert!(c.is_null(i) || c.value(i) == seq.value(i));
                    run.copies.push(c.is_valid(i));
                }
            }
            None => run.copies.extend(std::iter::repeat_n(false, b.num_rows())),
        }
        match b.column_by_name("_spindle_watermark") {
            Some(c) => {
                let c = c.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
                run.stamps
                    .extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i))));
            }
            None => run.stamps.extend(std::iter::repeat_n(None, b.num_rows())),
        }
        if let Some(dropped) = d.dropped {
            run.dropped.extend(dropped.positions);
        }
    };
    let n = events.num_rows();
    let mut at = 0;
    while at < n {
        let len = chunk.min(n - at);
        take(stage.push(&events.slice(at, len)).unwrap(), &mut run);
        at += len;
    }
    if let Some(rest) = stage.finish().unwrap() {
        take(rest, &mut run);
    }
    run
}

fn faults(
    late: f64,
    lateness: Option<f64>,
    duplicates: f64,
    drops: f64,
    watermark: Option<spindle_stream::WatermarkEvery>,
) -> StreamConfig {
    StreamConfig {
        out_of_order_fraction: late,
        out_of_order_max_delay_slots: 7,
        max_lateness_seconds: lateness,
        duplicate_fraction: duplicates,
        duplicate_max_delay_slots: 5,
        drop_fraction: drops,
        watermark,
        ..StreamConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// Every fault at once, by slots or by event time: each event not dropped is sent
    /// once as itself, each copy after its original and within its delay, the
    /// lateness bound in seconds holds for every event, every watermark is a true
    /// lower bound of what follows and never goes back, and none of it depends on
    /// chunking.
    #[test]
    fn faults_keep_their_ground_truth_whatever_the_chunking(
        n in 0usize..1200,
        late in 0.0f64..=0.6,
        by_time in any::<bool>(),
        lateness_s in 1.0f64..20.0,
        exponential in any::<bool>(),
        duplicates in 0.0f64..=0.5,
        drops in 0.0f64..=0.3,
        every in prop_oneof![
            (1u64..50).prop_map(spindle_stream::WatermarkEvery::Events),
            (0.5f64..30.0).prop_map(spindle_stream::WatermarkEvery::Seconds),
        ],
        chunk in 1usize..300,
        seed in any::<u64>(),
    ) {
        let events = timed_events(n, seed);
        let mut config = faults(late, None, duplicates, drops, Some(every));
        if by_time && late > 0.0 {
            config.max_lateness_seconds = Some(lateness_s);
            if exponential {
                config.lateness_distribution = spindle_stream::LatenessDistribution::Exponential;
            }
        }
        let run = deliver(&events, &config, chunk, seed);
        prop_assert_eq!(&run, &deliver(&events, &config, n.max(1), seed));

        // Originals: exactly the events not dropped, each once.
        let mut originals: Vec<u64> = run.positions.iter().zip(&run.copies)
            .filter(|(_, c)| !**c).map(|(p, _)| *p).collect();
        originals.sort_unstable();
        let mut expected: Vec<u64> = (0..n as u64).filter(|p| !run.dropped.contains(p)).collect();
        expected.sort_unstable();
        prop_assert_eq!(originals, expected);
        // Copies: after their original, at most once each.
        let mut seen = std::collections::HashSet::new();
        let mut copied = std::collections::HashSet::new();
        for (&p, &copy) in run.positions.iter().zip(&run.copies) {
            if copy {
                prop_assert!(seen.contains(&p), "copy of {} before its original", p);
                prop_assert!(copied.insert(p), "{} copied twice", p);
            } else {
                seen.insert(p);
            }
        }
        // Lateness by event time: never sent after an event more than the bound younger.
        if let Some(l) = config.max_lateness_seconds {
            let mut newest = i64::MIN;
            for (j, &t) in run.times.iter().enumerate() {
                if !run.copies[j] {
                    prop_assert!(newest <= t + (l * 1e6).ceil() as i64,
                        "event {} at {} sent after one at {}", run.positions[j], t, newest);
                }
                newest = newest.max(t);
            }
        }
        // Watermarks: a bound on everything after, never decreasing, where asked.
        let mut suffix_min = vec![i64::MAX; run.times.len() + 1];
        for j in (0..run.times.len()).rev() {
            suffix_min[j] = suffix_min[j + 1].min(run.times[j]);
        }
        let mut last = i64::MIN;
        for (j, stamp) in run.stamps.iter().enumerate() {
            if let Some(w) = *stamp {
                prop_assert!(w <= suffix_min[j + 1], "watermark {} at {} passes a later event", w, j);
                prop_assert!(w >= last);
                last = w;
            }
            if let spindle_stream::WatermarkEvery::Events(k) = every {
                prop_assert_eq!(stamp.is_some(), (j as u64 + 1) % k == 0);
            }
        }
    }
}

#[test]
fn faults_come_in_the_shares_asked() {
    let n = 200_000;
    let events = timed_events(n, 7);
    let config = faults(
        0.1,
        Some(30.0),
        0.02,
        0.01,
        Some(spindle_stream::WatermarkEvery::Seconds(60.0)),
    );
    let run = deliver(&events, &config, 65_536, 7);
    let share = |count: usize| count as f64 / n as f64;
    let copies = run.copies.iter().filter(|c| **c).count();
    let dropped = run.dropped.len();
    assert!((share(copies) - 0.02).abs() < 0.002, "{copies} copies");
    assert!((share(dropped) - 0.01).abs() < 0.001, "{dropped} dropped");
    // Late events by event time: those sent after a younger event.
    let originals: Vec<u64> = run
        .positions
        .iter()
        .zip(&run.copies)
        .filter(|(_, c)| !**c)
        .map(|(p, _)| *p)
        .collect();
    let late = share(count_late(&originals, &mut None) as usize);
    assert!(late > 0.07 && late < 0.1, "{late} late");
    // A watermark about every minute of event time (events are 1.5 s apart on
    // average), each at most the lateness bound behind the newest event sent.
    let stamps: Vec<(usize, i64)> = run
        .stamps
        .iter()
        .enumerate()
        .filter_map(|(j, s)| s.map(|w| (j, w)))
        .collect();
    let span = (run.times.iter().max().unwrap() - run.times.iter().min().unwrap()) as f64 / 60e6;
    assert!(
        (stamps.len() as f64 - span).abs() < 0.02 * span,
        "{} watermarks",
        stamps.len()
    );
    let mut newest = i64::MIN;
    let mut at = 0;
    for (j, &t) in run.times.iter().enumerate() {
        newest = newest.max(t);
        if at < stamps.len() && stamps[at].0 == j {
            assert!(
                newest - stamps[at].1 <= 30_000_000 + 5 * 3_000_000,
                "watermark {} behind",
                newest - stamps[at].1
            );
            at += 1;
        }
    }
}
