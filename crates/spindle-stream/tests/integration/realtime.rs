//! Realtime pacing: Poisson gaps, rates, bursts, duration, stop, live event time.
//! These tests sleep; they check behaviour (rates within tolerance, distribution
//! fit), not speed.

use arrow_array::RecordBatch;
use spindle_gen::{RetailDomain, Scale};
use spindle_sinks::{Result as SinkResult, StreamWriter};
use spindle_stream::Pacer;
use spindle_stream::{
    BurstWindow, EventTimeMode, SpindleStreamer, StopReason, StreamConfig, StreamResult, UtcInstant,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A sink that records the instant each event reached it.
#[derive(Clone)]
struct Recorder {
    times: Arc<Mutex<Vec<f64>>>,
    start: Instant,
    batches: Arc<Mutex<Vec<RecordBatch>>>,
    /// How long the first send blocks (a slow sink).
    first_send_stall: Arc<Mutex<Option<std::time::Duration>>>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            times: Arc::default(),
            start: Instant::now(),
            batches: Arc::default(),
            first_send_stall: Arc::default(),
        }
    }
}

impl StreamWriter for Recorder {
    fn send_batch(&mut self, batch: &RecordBatch) -> SinkResult<()> {
        if let Some(stall) = self.first_send_stall.lock().unwrap().take() {
            std::thread::sleep(stall);
        }
        let t = self.start.elapsed().as_secs_f64();
        self.times
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(t, batch.num_rows()));
        self.batches.lock().unwrap().push(batch.clone());
        Ok(())
    }
    fn close(&mut self) -> SinkResult<()> {
        Ok(())
    }
    fn delivered(&self) -> u64 {
        self.times.lock().unwrap().len() as u64
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
}

fn run(config: StreamConfig) -> (StreamResult, Vec<f64>, Vec<RecordBatch>) {
    run_into(Recorder::new(), config)
}

/// A realtime run of orders at `small` into `recorder`.
fn run_into(
    recorder: Recorder,
    config: StreamConfig,
) -> (StreamResult, Vec<f64>, Vec<RecordBatch>) {
    let mut s = SpindleStreamer::from_domain(
        &RetailDomain::new(),
        Scale::Small,
        42,
        Box::new(recorder.clone()),
    )
    .unwrap()
    .with_config(StreamConfig {
        realtime: true,
        ..config
    });
    let r = s.stream("order", None).unwrap();
    let times = recorder.times.lock().unwrap().clone();
    let batches = recorder.batches.lock().unwrap().clone();
    (r, times, batches)
}

/// Kolmogorov-Smirnov statistic of `sample` against Exp(rate).
fn ks_exponential(sample: &mut [f64], rate: f64) -> f64 {
    sample.sort_by(f64::total_cmp);
    let n = sample.len() as f64;
    sample
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = 1.0 - (-rate * x).exp();
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn gaps_are_exponential_and_the_rate_holds() {
    let (r, times, _) = run(StreamConfig {
        events_per_second: 500.0,
        max_events: Some(2_000),
        batch_size: 1,
        ..Default::default()
    });
    assert_eq!(r.events_sent, 2_000);
    // The wall clock: the mean rate holds (a send delayed by a busy machine is caught up
    // by the next ones, which are due on the schedule, not after the late one).
    let rate = 1_999.0 / (times[1_999] - times[0]);
    assert!((rate - 500.0).abs() < 50.0, "mean rate {rate}");
    // The schedule the sends follow: gaps are exponential. Checked on the due instants
    // rather than on the wall clock, whose gaps a loaded machine (a parallel build)
    // bends without the pacer being at fault.
    let config = StreamConfig {
        events_per_second: 500.0,
        realtime: true,
        ..Default::default()
    };
    let mut pacer = Pacer::new(&config, 42, None);
    let due: Vec<f64> = (0..2_000).map(|i| pacer.due_at(i)).collect();
    let mut gaps: Vec<f64> = due.windows(2).map(|w| w[1] - w[0]).collect();
    let d = ks_exponential(&mut gaps, 500.0);
    let critical = 1.628 / (gaps.len() as f64).sqrt(); // 1% level
    assert!(d < critical, "KS distance {d} >= {critical}");
}

#[test]
fn a_burst_window_raises_the_rate_in_the_window_only() {
    let config = StreamConfig {
        events_per_second: 200.0,
        duration_seconds: Some(3.0),
        burst_windows: vec![BurstWindow::time(1.0, 1.0, 5.0)],
        ..Default::default()
    };
    let (r, times, _) = run(config);
    assert_eq!(r.stop_reason, StopReason::Duration);
    let count = |a: f64, b: f64| times.iter().filter(|&&t| t >= a && t < b).count() as f64;
    let (before, during, after) = (count(0.05, 0.95), count(1.05, 1.95), count(2.05, 2.95));
    assert!((before / 0.9 - 200.0).abs() < 50.0, "before {before}");
    assert!((during / 0.9 - 1_000.0).abs() < 150.0, "during {during}");
    assert!((after / 0.9 - 200.0).abs() < 50.0, "after {after}");
}

#[test]
fn an_event_index_burst_speeds_up_those_events() {
    let config = StreamConfig {
        events_per_second: 50.0,
        max_events: Some(90),
        burst_windows: vec![BurstWindow::events(30, 60, 5.0)],
        ..Default::default()
    };
    let (_, times, _) = run(config);
    let slow = times[29] - times[0];
    let fast = times[59] - times[30];
    assert!(fast * 2.5 < slow, "burst span {fast}s vs normal {slow}s");
}

#[test]
fn duration_stops_on_time_and_reports_exactly_what_was_sent() {
    let config = StreamConfig {
        events_per_second: 1_000.0,
        duration_seconds: Some(1.0),
        ..Default::default()
    };
    let (r, times, _) = run(config);
    assert_eq!(r.stop_reason, StopReason::Duration);
    assert_eq!(r.events_sent, times.len() as u64);
    assert!(
        r.events_sent > 850 && r.events_sent < 1_150,
        "{}",
        r.events_sent
    );
    assert!(
        r.elapsed_seconds >= 1.0 && r.elapsed_seconds < 1.3,
        "{}",
        r.elapsed_seconds
    );
}

#[test]
fn a_run_does_not_start_with_a_burst() {
    let config = StreamConfig {
        events_per_second: 20.0,
        max_events: Some(40),
        ..Default::default()
    };
    let (r, times, _) = run(config);
    assert_eq!(r.events_sent, 40);
    let first_second = times.iter().filter(|&&t| t < 0.5).count();
    assert!(
        first_second < 25,
        "{first_second} events in the first half second"
    );
    assert!(
        r.events_per_second_actual < 30.0 && r.events_per_second_actual > 12.0,
        "{}",
        r.events_per_second_actual
    );
}

#[test]
fn the_stop_flag_ends_the_run_with_what_was_sent() {
    let recorder = Recorder::new();
    let mut s = SpindleStreamer::from_domain(
        &RetailDomain::new(),
        Scale::Small,
        42,
        Box::new(recorder.clone()),
    )
    .unwrap()
    .with_config(StreamConfig {
        realtime: true,
        events_per_second: 100.0,
        ..Default::default()
    });
    let stop = s.stop_flag();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let r = s.stream("order", None).unwrap();
    assert_eq!(r.stop_reason, StopReason::Interrupted);
    assert_eq!(r.events_sent, recorder.delivered());
    assert!(
        r.elapsed_seconds < 0.7 && r.events_sent > 20 && r.events_sent < 90,
        "{r}"
    );
}

#[test]
fn live_event_time_carries_the_emission_instant() {
    let clock = 1_764_356_400i64; // 2025-11-28 19:00:00 UTC
    let config = StreamConfig {
        events_per_second: 200.0,
        max_events: Some(200),
        clock_start: Some(UtcInstant {
            micros: clock * 1_000_000,
        }),
        event_time: EventTimeMode::Live,
        ..Default::default()
    };
    let (_, times, batches) = run(config);
    let mut k = 0;
    for b in &batches {
        use arrow_array::cast::AsArray;
        let live = b
            .column_by_name("order_date")
            .unwrap()
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        let meta = b
            .column_by_name("_spindle_event_time")
            .unwrap()
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            assert_eq!(live.value(i), meta.value(i));
            let offset = (live.value(i) - clock * 1_000_000) as f64 / 1e6;
            assert!(
                offset <= times[k] + 1e-3 && times[k] - offset < 0.05,
                "due {offset} sent {}",
                times[k]
            );
            k += 1;
        }
    }
    assert_eq!(k, 200);
}

#[test]
fn a_sink_that_stalls_past_the_duration_gets_nothing_due_after_it() {
    // The first send blocks for 1.5 s of a 1 s run: the pacer wakes past the deadline
    // with events due on both sides of it, sends those due before it, and stops.
    let config = StreamConfig {
        events_per_second: 1_000.0,
        duration_seconds: Some(1.0),
        realtime: true,
        ..Default::default()
    };
    let mut pacer = Pacer::new(&config, 42, None);
    let due_before = (0..).take_while(|&i| pacer.due_at(i) < 1.0).count() as u64;
    let recorder = Recorder::new();
    *recorder.first_send_stall.lock().unwrap() = Some(std::time::Duration::from_millis(1_500));
    let (r, times, _) = run_into(recorder, config);
    assert_eq!(r.stop_reason, StopReason::Duration);
    assert!(due_before > 900, "{due_before}");
    assert_eq!(r.events_sent, due_before, "{r}");
    assert_eq!(times.len() as u64, due_before);
}
