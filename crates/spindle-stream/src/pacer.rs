//! Realtime pacing.
//!
//! Emission instants are computed ahead, a chunk at a time, as a non-homogeneous
//! Poisson process: each gap is exponential at the momentary rate
//! `events_per_second x bursts x time pattern`. A token bucket then caps short-term
//! bursts: it refills at twice the momentary rate and holds one second of events
//! (at least 10), so it never binds on an ordinary Poisson stream, only on extreme
//! clusters; as it can only delay events, and the first event comes one exponential
//! gap after the start, a run never opens with a burst.
//!
//! The pacer waits on a tokio timer until shortly before the next due instant, then
//! finishes the wait with a high-resolution sleep (tokio's timer ticks in whole
//! milliseconds) and a short spin for the last 200 us, and sends every event already
//! due in one call.

use crate::config::{EventTimeMode, StreamConfig};
use crate::error::Result;
use crate::result::StopReason;
use arrow_array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use spindle_gen::rng::RandomStream;
use spindle_sinks::StreamWriter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The run-wide indexes of a batch's rows: row `r` is event `first + r * stride` of
/// the whole run (`stride` is the part count of a partitioned run, else 1), and was in
/// in-order slot `positions[r]` before out-of-order delivery moved it.
#[derive(Clone, Copy, Debug)]
pub struct Slots<'a> {
    /// Run-wide index of the batch's first row.
    pub first: u64,
    /// Step between the run-wide indexes of consecutive rows.
    pub stride: u64,
    /// In-order slot of each row, when out-of-order delivery moved rows.
    pub positions: Option<&'a [u64]>,
}

impl Slots<'_> {
    /// Run-wide index of row `row`: the slot it is sent in.
    pub fn index(&self, row: usize) -> u64 {
        self.first + row as u64 * self.stride
    }

    /// In-order slot of row `row` (where it would be without out-of-order delivery).
    pub fn in_order(&self, row: usize) -> u64 {
        self.positions.map_or_else(|| self.index(row), |p| p[row])
    }
}

/// What one [`Pacer::emit`] call did.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmitOutcome {
    /// Events handed to the sink.
    pub sent: u64,
    /// Why the run must stop, if it must.
    pub stopped: Option<StopReason>,
}

/// Sends events at their scheduled instants.
pub struct Pacer {
    config: StreamConfig,
    event_time_column: Option<String>,
    gaps: RandomStream,
    runtime: tokio::runtime::Runtime,
    /// The schedule's origin (event `k` is due `due_at(k)` after it).
    start: Option<Instant>,
    /// When this pacer began sending: the origin, or later when the origin is past.
    began: Option<Instant>,
    wall_start_micros: i64,
    /// Due instants (seconds after start) of scheduled events, from index `first_due`.
    due: std::collections::VecDeque<f64>,
    first_due: u64,
    last_due: f64,
    tokens: f64,
    token_time: f64,
    lateness: Vec<f64>,
    /// Per second of the schedule: events due in it, events sent in it.
    per_second: Vec<(u64, u64)>,
}

/// One second of a planned schedule ([`Pacer::plan`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedSecond {
    /// The target rate at the middle of the second (events/s): base rate times bursts,
    /// shapes and the time pattern.
    pub target: f64,
    /// Events the schedule has due in the second (a Poisson draw around the target).
    pub planned: u64,
}

/// How much of a wait is left to the high-resolution sleep.
const FINE_WAIT: Duration = Duration::from_micros(1_500);
/// How much of a wait is left to a spin: a thread's sleep overshoots by 50-100 us,
/// which would merge events whose gaps are shorter than that.
const SPIN_WAIT: Duration = Duration::from_micros(200);
/// Longest single wait, so a stop request is seen promptly.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Now, in Unix microseconds.
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Pacer {
    /// A pacer for `config`; gap draws are seeded by `seed`; `event_time_column` is the
    /// payload column rewritten in [`EventTimeMode::Live`].
    pub fn new(config: &StreamConfig, seed: u64, event_time_column: Option<String>) -> Self {
        let wall = config
            .clock_start
            .map(|s| s.unix_seconds() * 1_000_000)
            .or(config.start_at.map(|s| s.micros))
            .unwrap_or_else(now_micros);
        Self {
            config: config.clone(),
            event_time_column,
            gaps: RandomStream::new(seed, "pacer.gaps"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread runtime builds"),
            start: None,
            began: None,
            wall_start_micros: wall,
            due: std::collections::VecDeque::new(),
            first_due: 0,
            last_due: 0.0,
            tokens: Self::capacity_at(config.events_per_second),
            token_time: 0.0,
            lateness: Vec::new(),
            per_second: Vec::new(),
        }
    }

    fn capacity_at(rate: f64) -> f64 {
        rate.max(10.0)
    }

    /// The momentary rate for event `index` due around `t` seconds after start.
    pub fn rate(&self, t: f64, index: u64) -> f64 {
        let pattern_clock = self.wall_start_micros as f64 / 1e6 + t * self.config.speedup;
        let secs = pattern_clock.floor() as i64;
        let hour = secs.rem_euclid(86_400) / 3_600;
        // 1970-01-01 was a Thursday (3 with Monday = 0).
        let dow = (secs.div_euclid(86_400) + 3).rem_euclid(7);
        self.config.events_per_second
            * self
                .config
                .rate_multiplier_at(t, index, hour as u8, dow as u8)
    }

    /// Extends the schedule through event `index`.
    fn schedule_through(&mut self, index: u64) {
        while self.first_due + (self.due.len() as u64) <= index {
            let i = self.first_due + self.due.len() as u64;
            let rate = self.rate(self.last_due, i);
            let mut t = self.last_due + self.gaps.exponential(i) / rate;
            // Token bucket: refills at twice the momentary rate, holds one second.
            let capacity = Self::capacity_at(rate);
            self.tokens = (self.tokens + (t - self.token_time) * 2.0 * rate).min(capacity);
            self.token_time = t;
            if self.tokens < 1.0 {
                t += (1.0 - self.tokens) / (2.0 * rate);
                self.tokens = 1.0;
                self.token_time = t;
            }
            self.tokens -= 1.0;
            self.last_due = t;
            self.due.push_back(t);
        }
    }

    /// The due instant of event `index` (seconds after start); an index whose instant
    /// was forgotten gets the earliest one kept.
    pub fn due_at(&mut self, index: u64) -> f64 {
        self.schedule_through(index);
        self.due[index.saturating_sub(self.first_due) as usize]
    }

    /// Forgets instants before event `index`, but for those that a late event or a
    /// duplicate's copy in live event-time mode may still ask for (its in-order slot,
    /// up to the delay bound back, at most 2^20 slots).
    fn forget_before(&mut self, index: u64, stride: u64) {
        let keep = match self.config.event_time {
            EventTimeMode::Live => self
                .config
                .out_of_order_max_delay_slots
                .max(self.config.duplicate_max_delay_slots)
                .min(1 << 20)
                .saturating_mul(stride),
            EventTimeMode::Table => 0,
        };
        let index = index.saturating_sub(keep);
        while self.first_due < index && self.due.len() > 1 {
            self.due.pop_front();
            self.first_due += 1;
        }
    }

    /// When sending began (the schedule's origin, or the first send when the origin,
    /// a shared `start_at`, had passed), if it did.
    pub fn started(&self) -> Option<Instant> {
        self.began
    }

    /// Lateness of every send so far (seconds after the due instant of its first event).
    pub fn lateness(&self) -> &[f64] {
        &self.lateness
    }

    /// Per second of the schedule so far, `(due, sent)`: events due in it and events
    /// sent in it (recorded with [`StreamConfig::report_lateness`]).
    pub fn per_second(&self) -> &[(u64, u64)] {
        &self.per_second
    }

    fn count_second(&mut self, at: f64, planned: u64, achieved: u64) {
        let second = at.max(0.0) as usize;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, (0, 0));
        }
        self.per_second[second].0 += planned;
        self.per_second[second].1 += achieved;
    }

    /// The schedule of a run of `seconds` seconds (or of `max_events` events, if fewer),
    /// second by second, as [`Pacer::emit`] would send it: the same draws, the same
    /// token bucket, nothing sent.
    pub fn plan(&mut self, seconds: u64, max_events: Option<u64>) -> Vec<PlannedSecond> {
        let mut planned = vec![0u64; seconds as usize];
        let mut index = 0;
        while max_events.is_none_or(|m| index < m) {
            let due = self.due_at(index);
            if due >= seconds as f64 {
                break;
            }
            planned[due as usize] += 1;
            index += 1;
            self.forget_before(index, 1);
        }
        // Event-index bursts apply from the first event due in a second.
        let mut first = 0;
        (0..seconds)
            .map(|s| {
                let target = self.rate(s as f64 + 0.5, first);
                first += planned[s as usize];
                PlannedSecond {
                    target,
                    planned: planned[s as usize],
                }
            })
            .collect()
    }

    /// The instant the schedule starts at: [`StreamConfig::start_at`] or now.
    fn start(&mut self) -> Instant {
        let start_at = self.config.start_at.map(|s| s.micros);
        let start = *self.start.get_or_insert_with(|| {
            let now = Instant::now();
            let Some(at) = start_at else {
                return now;
            };
            let ahead = at - now_micros();
            if ahead >= 0 {
                now + Duration::from_micros(ahead as u64)
            } else {
                now.checked_sub(Duration::from_micros(ahead.unsigned_abs()))
                    .unwrap_or(now)
            }
        });
        self.began.get_or_insert_with(|| start.max(Instant::now()));
        start
    }

    /// Sends `batch`, whose rows are the run's events at `slots`, at their instants;
    /// `emitted` events of this stream went before it (for `progress`).
    ///
    /// # Errors
    /// A sink failure other than a closed reader.
    pub fn emit(
        &mut self,
        batch: &RecordBatch,
        slots: Slots<'_>,
        sink: &mut dyn StreamWriter,
        stop: &AtomicBool,
        progress: &mut Option<Box<dyn FnMut(u64) + Send>>,
        emitted: u64,
    ) -> Result<EmitOutcome> {
        let start = self.start();
        let batch = match self.config.event_time {
            EventTimeMode::Live => self.live_times(batch, slots)?,
            EventTimeMode::Table => batch.clone(),
        };
        let deadline = self.config.duration_seconds;
        let n = batch.num_rows();
        let mut at = 0usize;
        while at < n {
            let due = self.due_at(slots.index(at));
            if deadline.is_some_and(|d| due >= d) {
                let d = deadline.unwrap_or(due);
                if self.wait_until(start, d, stop) {
                    return Ok(EmitOutcome {
                        sent: at as u64,
                        stopped: Some(StopReason::Interrupted),
                    });
                }
                return Ok(EmitOutcome {
                    sent: at as u64,
                    stopped: Some(StopReason::Duration),
                });
            }
            if self.wait_until(start, due, stop) {
                return Ok(EmitOutcome {
                    sent: at as u64,
                    stopped: Some(StopReason::Interrupted),
                });
            }
            // Everything due by now goes in one call, cut into batch_size pieces; none
            // due at the deadline or after it, even when this wait overshot it.
            let now = start.elapsed().as_secs_f64();
            if self.config.report_lateness {
                self.lateness.push(now - due);
            }
            let mut end = at + 1;
            while end < n {
                let due = self.due_at(slots.index(end));
                if due > now || deadline.is_some_and(|d| due >= d) {
                    break;
                }
                end += 1;
            }
            if self.config.report_lateness {
                for row in at..end {
                    let due = self.due_at(slots.index(row));
                    self.count_second(due, 1, 0);
                }
                self.count_second(now, 0, (end - at) as u64);
            }
            let size = self.config.batch_size;
            let slices: Vec<RecordBatch> = (at..end)
                .step_by(size)
                .map(|s| batch.slice(s, size.min(end - s)))
                .collect();
            match sink.send_batches(&slices) {
                Ok(()) => {}
                Err(spindle_sinks::Error::Closed(_)) => {
                    return Ok(EmitOutcome {
                        sent: at as u64,
                        stopped: Some(StopReason::ReaderClosed),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            at = end;
            self.forget_before(slots.index(at), slots.stride);
            if let Some(p) = progress.as_mut() {
                p(emitted + at as u64);
            }
        }
        Ok(EmitOutcome {
            sent: n as u64,
            stopped: None,
        })
    }

    /// Waits until `due` seconds after `start`; true if a stop was requested meanwhile.
    fn wait_until(&self, start: Instant, due: f64, stop: &AtomicBool) -> bool {
        let target = start + Duration::from_secs_f64(due.max(0.0));
        loop {
            if stop.load(Ordering::Relaxed) {
                return true;
            }
            let now = Instant::now();
            if now >= target {
                return false;
            }
            let left = target - now;
            if left > FINE_WAIT {
                let coarse = (left - FINE_WAIT).min(MAX_WAIT);
                self.runtime
                    .block_on(async { tokio::time::sleep(coarse).await });
            } else if left > SPIN_WAIT {
                std::thread::sleep(left - SPIN_WAIT);
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Rewrites the event-time columns with the wall-clock instant of each event's slot.
    fn live_times(&mut self, batch: &RecordBatch, slots: Slots<'_>) -> Result<RecordBatch> {
        let schema = batch.schema();
        let Ok(meta) = schema.index_of(spindle_sinks::event::EVENT_TIME) else {
            return Ok(batch.clone());
        };
        let micros: Vec<i64> = (0..batch.num_rows())
            .map(|r| self.wall_start_micros + (self.due_at(slots.in_order(r)) * 1e6) as i64)
            .collect();
        let live: ArrayRef = Arc::new(TimestampMicrosecondArray::from(micros));
        let mut columns = batch.columns().to_vec();
        let targets = [
            Some(meta),
            self.event_time_column
                .as_deref()
                .and_then(|c| schema.index_of(c).ok()),
        ];
        for i in targets.into_iter().flatten() {
            let wanted = schema.field(i).data_type();
            columns[i] = if wanted == live.data_type() {
                live.clone()
            } else {
                arrow_cast::cast(&live, wanted)?
            };
        }
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        Ok(RecordBatch::try_new(
            Arc::new(arrow_schema::Schema::new(fields)),
            columns,
        )?)
    }
}
