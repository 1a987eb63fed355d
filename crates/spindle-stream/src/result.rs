//! What a streaming run reports.

use std::fmt;

/// Why a run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopReason {
    /// Every event of the table was sent.
    #[default]
    Completed,
    /// `max_events` was reached.
    MaxEvents,
    /// `duration_seconds` ran out.
    Duration,
    /// The run was interrupted (Ctrl-C, SIGTERM, or the stop flag).
    Interrupted,
    /// The sink's reader went away (a closed pipe).
    ReaderClosed,
}

impl StopReason {
    /// Its name in snake case (`max_events`), as Python and reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::MaxEvents => "max_events",
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
            StopReason::ReaderClosed => "reader_closed",
        }
    }
}

/// Events due and sent in one second of a realtime run's schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondRate {
    /// Seconds from the schedule's start.
    pub second: u64,
    /// Events the schedule had due in it.
    pub planned: u64,
    /// Events sent in it.
    pub achieved: u64,
}

/// How late realtime sends were against their due instants, in milliseconds, and the
/// rate planned and achieved second by second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lateness {
    /// Sends measured (each carries every event due at that moment).
    pub sends: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// Per second of the schedule: events due and events sent.
    pub per_second: Vec<SecondRate>,
}

impl Lateness {
    /// Summarizes lateness samples given in seconds, and `(due, sent)` counts per
    /// second; `None` for no samples.
    pub fn of(samples: &[f64], per_second: &[(u64, u64)]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize] * 1e3;
        Some(Self {
            sends: s.len() as u64,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            per_second: per_second
                .iter()
                .enumerate()
                .map(|(second, &(planned, achieved))| SecondRate {
                    second: second as u64,
                    planned,
                    achieved,
                })
                .collect(),
        })
    }
}

/// The result of streaming one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamResult {
    /// The table streamed.
    pub table: String,
    /// Events the sink took (for a broker: acknowledged).
    pub events_sent: u64,
    /// Events sent that carry an anomaly label.
    pub anomaly_count: u64,
    /// Events sent after an event that follows them in event-time order (duplicates'
    /// copies not counted).
    pub out_of_order_count: u64,
    /// Duplicates' copies sent (events carrying `_spindle_duplicate_of`).
    pub duplicate_count: u64,
    /// Events dropped (never sent) within the run's span, as the ground-truth sink got them.
    pub dropped_count: u64,
    /// Events sent carrying a `_spindle_watermark`.
    pub watermark_count: u64,
    /// Wall-clock seconds of the run.
    pub elapsed_seconds: f64,
    /// `events_sent / elapsed_seconds`.
    pub events_per_second_actual: f64,
    /// Why the run ended.
    pub stop_reason: StopReason,
    /// Realtime lateness, when [`crate::StreamConfig::report_lateness`] is on.
    pub lateness: Option<Lateness>,
}

impl StreamResult {
    /// The same as `elapsed_seconds` (the name the reference's tutorial uses).
    pub fn duration_seconds(&self) -> f64 {
        self.elapsed_seconds
    }
}

impl fmt::Display for StreamResult {
    /// `StreamResult(table='order', events=5,000, anomalies=0, ooo=250, 0.01s @ 500,000 eps)`,
    /// with `duplicates=`, `dropped=` and `watermarks=` after `ooo` when not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut faults = String::new();
        for (name, count) in [
            ("duplicates", self.duplicate_count),
            ("dropped", self.dropped_count),
            ("watermarks", self.watermark_count),
        ] {
            if count > 0 {
                faults.push_str(&format!(", {name}={count}"));
            }
        }
        write!(
            f,
            "StreamResult(table='{}', events={}, anomalies={}, ooo={}{faults}, {:.2}s @ {} eps)",
            self.table,
            spindle_gen::thousands(self.events_sent),
            self.anomaly_count,
            self.out_of_order_count,
            self.elapsed_seconds,
            spindle_gen::thousands(self.events_per_second_actual.round() as u64)
        )
    }
}
