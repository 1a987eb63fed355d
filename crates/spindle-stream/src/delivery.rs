//! Delivery as real systems get it wrong, computed chunk by chunk over events in
//! event-time order: late events (by slots or by event time), duplicates, drops, and
//! watermarks that say how late events can still come. Every draw depends on
//! `(seed, in-order position)` alone, so the output never depends on how the stream
//! is chunked.
//!
//! Events are taken in event-time order at steps `p = 0, 1, ..` (their in-order
//! positions). At step `p`:
//! 1. with lateness by event time, the late events whose lateness has run out (due
//!    before event `p`'s time) are sent, earliest due first, ties by position;
//! 2. event `p` is dropped (with probability `drop_fraction`: never sent, handed
//!    back as [`Delivered::dropped`]), or made late (with probability
//!    `out_of_order_fraction`: by a delay `d` in `1..=max_delay_slots`, due at step
//!    `p + d`; or by a lateness `l` up to `max_lateness_seconds`, due once an event
//!    more than `l` younger comes), or sent;
//! 3. the events due at step `p` are sent, in the order they became due.
//!
//! At the end, what is still pending is sent in the same order. An event sent may be
//! chosen (probability `duplicate_fraction`) to be sent again, a copy due
//! `1..=duplicate_max_delay_slots` steps later, marked with `_spindle_duplicate_of`.
//! So with lateness by slots no event is sent more than `max_delay_slots` places after
//! its in-order position, events that are not late only ever move earlier, and
//! lateness by event time is a bound in seconds: an event is never sent after an event
//! more than `max_lateness_seconds` younger.
//!
//! A watermark is the minimum event time of everything still to come: the events
//! pending here, and the next event to be taken (no older than the last taken). It is
//! exact for what this stage knows and never decreases.

use crate::config::{LatenessDistribution, StreamConfig, WatermarkEvery};
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Date32Array, Date64Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use spindle_gen::rng::RandomStream;
use spindle_sinks::event::{DUPLICATE_OF, EVENT_TIME, SEQ, WATERMARK};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

/// A chunk of events in sending order, with each event's in-order position.
#[derive(Debug)]
pub struct Delivered {
    /// The events, with `_spindle_duplicate_of` when duplicates are asked for and
    /// `_spindle_watermark` when watermarks are.
    pub batch: RecordBatch,
    /// In-order position (0-based) of each event of `batch` (a duplicate: its
    /// original's).
    pub positions: Vec<u64>,
    /// The events dropped while taking this chunk, never to be sent.
    pub dropped: Option<Dropped>,
}

/// Events dropped, with their in-order positions.
#[derive(Debug)]
pub struct Dropped {
    /// The events as they would have been sent (without the delivery columns).
    pub batch: RecordBatch,
    /// In-order position of each.
    pub positions: Vec<u64>,
}

/// Most buckets of the timing wheel: beyond this, a bucket holds events due in
/// different rounds, and memory follows the events pending rather than the largest
/// delay allowed (which may be anything up to `u64::MAX`).
const MAX_WHEEL_BUCKETS: u64 = 1 << 16;

/// An event waiting for its step.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The step it is sent at.
    due: u64,
    /// Order it became pending in (ties at one step go in this order).
    order: u64,
    event: Event,
}

/// An event of the buffer (ordered by in-order position first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    /// Its in-order position.
    position: u64,
    /// Its row in the carry batch.
    row: u32,
    /// Its event time in microseconds (`i64::MIN` for none).
    time: i64,
    /// Whether it is a duplicate's copy.
    copy: bool,
}

/// A late event waiting for an event younger than its lateness (ordered by due time,
/// then position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Overdue {
    /// Sent before the first event whose time (microseconds) is above this.
    due: i64,
    event: Event,
}

/// How late events are late.
#[derive(Clone, Copy, Debug)]
enum Lateness {
    /// By `1..=max` slots.
    Slots(u64),
    /// By up to `max` microseconds of event time.
    Time {
        max_micros: f64,
        distribution: LatenessDistribution,
    },
}

/// The rows sent by one call, and what they carry.
#[derive(Default)]
struct Out {
    rows: Vec<u32>,
    positions: Vec<u64>,
    copies: Vec<bool>,
    stamps: Vec<Option<i64>>,
}

/// The streaming delivery stage (see the module docs).
pub struct Delivery {
    late_fraction: f64,
    lateness: Lateness,
    late_draws: RandomStream,
    duplicate_fraction: f64,
    duplicate_max_delay: u64,
    duplicate_draws: RandomStream,
    drop_fraction: f64,
    drop_draws: RandomStream,
    watermark: Option<WatermarkEvery>,
    /// The event-time column's type, when times are needed.
    time_type: Option<DataType>,
    /// In-order position of the next event taken.
    next: u64,
    /// Events sent so far.
    sent: u64,
    /// Pending events made so far (their `order`).
    orders: u64,
    /// Timing wheel of `min(largest slot delay + 1, MAX_WHEEL_BUCKETS)` buckets: an
    /// event due at step `s` waits in bucket `s % buckets`, behind those pending before it.
    wheel: Vec<Vec<Pending>>,
    /// Late events by event time, earliest due first.
    overdue: BinaryHeap<Reverse<Overdue>>,
    /// Event times of every pending event, counted (kept for watermarks only).
    pending_times: BTreeMap<i64, u32>,
    /// Event time of the last event taken.
    last_time: i64,
    /// The last watermark stamped.
    last_stamp: Option<i64>,
    carry: Option<RecordBatch>,
}

impl Delivery {
    /// The stage for `config`'s delivery settings, draws seeded by `seed`;
    /// `event_time` is the type of the events' `_spindle_event_time`, if they have one.
    ///
    /// # Errors
    /// Lateness by event time or watermarks without an event time that is a
    /// timestamp or date.
    pub fn new(config: &StreamConfig, seed: u64, event_time: Option<&DataType>) -> Result<Self> {
        check_event_time(config, event_time)?;
        let needs_times = config.max_lateness_seconds.is_some() || config.watermark.is_some();
        let time_type = event_time.filter(|_| needs_times).cloned();
        let lateness = match config.max_lateness_seconds {
            Some(seconds) => Lateness::Time {
                max_micros: seconds * 1e6,
                distribution: config.lateness_distribution,
            },
            None => Lateness::Slots(config.out_of_order_max_delay_slots.max(1)),
        };
        let mut largest_slot_delay = 0;
        if let Lateness::Slots(max) = lateness {
            if config.out_of_order_fraction > 0.0 {
                largest_slot_delay = max;
            }
        }
        if config.duplicate_fraction > 0.0 {
            largest_slot_delay = largest_slot_delay.max(config.duplicate_max_delay_slots);
        }
        let buckets = largest_slot_delay.saturating_add(1).min(MAX_WHEEL_BUCKETS);
        Ok(Self {
            late_fraction: config.out_of_order_fraction,
            lateness,
            late_draws: RandomStream::new(seed, "stream.out_of_order"),
            duplicate_fraction: config.duplicate_fraction,
            duplicate_max_delay: config.duplicate_max_delay_slots.max(1),
            duplicate_draws: RandomStream::new(seed, "stream.duplicate"),
            drop_fraction: config.drop_fraction,
            drop_draws: RandomStream::new(seed, "stream.drop"),
            watermark: config.watermark,
            time_type,
            next: 0,
            sent: 0,
            orders: 0,
            wheel: vec![Vec::new(); buckets as usize],
            overdue: BinaryHeap::new(),
            pending_times: BTreeMap::new(),
            last_time: i64::MIN,
            last_stamp: None,
            carry: None,
        })
    }

    /// The slot delay of event `position` when late events slip by slots, or `None`
    /// if it is not late (or lateness is by event time).
    pub fn delay_of(&self, position: u64) -> Option<u64> {
        match self.lateness {
            Lateness::Slots(max) => (self.late_draws.unit(position) < self.late_fraction)
                .then(|| 1 + self.late_draws.below2(position, 1, max)),
            Lateness::Time { .. } => None,
        }
    }

    /// Whether event `position` is dropped.
    pub fn is_dropped(&self, position: u64) -> bool {
        self.drop_fraction > 0.0 && self.drop_draws.unit(position) < self.drop_fraction
    }

    /// The lateness of event `position` in microseconds of event time when lateness is
    /// by event time and the event is late.
    fn lateness_of(&self, position: u64) -> Option<i64> {
        match self.lateness {
            Lateness::Time {
                max_micros,
                distribution,
            } if self.late_draws.unit(position) < self.late_fraction => {
                let u = self.late_draws.unit2(position, 1);
                Some(distribution.lateness(u, max_micros).ceil() as i64)
            }
            _ => None,
        }
    }

    /// The copy delay of event `position` if it is sent twice.
    fn duplicate_delay(&self, position: u64) -> Option<u64> {
        (self.duplicate_fraction > 0.0
            && self.duplicate_draws.unit(position) < self.duplicate_fraction)
            .then(|| {
                1 + self
                    .duplicate_draws
                    .below2(position, 1, self.duplicate_max_delay)
            })
    }

    fn bucket(&self, step: u64) -> usize {
        (step % self.wheel.len() as u64) as usize
    }

    fn add_pending_time(&mut self, time: i64) {
        if self.watermark.is_some() {
            *self.pending_times.entry(time).or_default() += 1;
        }
    }

    fn remove_pending_time(&mut self, time: i64) {
        if self.watermark.is_some() {
            if let Some(count) = self.pending_times.get_mut(&time) {
                *count -= 1;
                if *count == 0 {
                    self.pending_times.remove(&time);
                }
            }
        }
    }

    fn wait(&mut self, due: u64, event: Event) {
        self.add_pending_time(event.time);
        let order = self.orders;
        self.orders += 1;
        let bucket = self.bucket(due);
        self.wheel[bucket].push(Pending { due, order, event });
    }

    /// Sends `event` at step `step`: its row out, its copy scheduled if it has one,
    /// its watermark stamped if one is due.
    fn send(&mut self, event: Event, step: u64, out: &mut Out) {
        out.rows.push(event.row);
        out.positions.push(event.position);
        if self.duplicate_fraction > 0.0 {
            out.copies.push(event.copy);
            if !event.copy {
                if let Some(delay) = self.duplicate_delay(event.position) {
                    let copy = Event {
                        copy: true,
                        ..event
                    };
                    self.wait(step.saturating_add(delay), copy);
                }
            }
        }
        let index = self.sent;
        self.sent += 1;
        if let Some(every) = self.watermark {
            out.stamps.push(self.stamp(every, index));
        }
    }

    /// The watermark stamped on the event sent `index`-th, if one is.
    fn stamp(&mut self, every: WatermarkEvery, index: u64) -> Option<i64> {
        let watermark = || {
            let pending = self.pending_times.keys().next().copied();
            let w = pending.map_or(self.last_time, |p| p.min(self.last_time));
            (w != i64::MIN).then_some(w)
        };
        match every {
            WatermarkEvery::Events(n) => ((index + 1) % n == 0).then(watermark).flatten(),
            WatermarkEvery::Seconds(s) => {
                let w = watermark()?;
                let period = |t: i64| (t as f64 / (s * 1e6)).floor();
                let due = self.last_stamp.is_none_or(|last| period(w) > period(last));
                due.then(|| {
                    self.last_stamp = Some(w);
                    w
                })
            }
        }
    }

    /// Sends the late events by event time due before an event at `time` (`None`:
    /// all of them, at the end), earliest due first.
    fn send_overdue(&mut self, time: Option<i64>, step: u64, out: &mut Out) {
        while let Some(Reverse(top)) = self.overdue.peek().copied() {
            if time.is_some_and(|t| top.due >= t) {
                break;
            }
            self.overdue.pop();
            self.remove_pending_time(top.event.time);
            self.send(top.event, step, out);
        }
    }

    /// Sends the events due at step `step`, in the order they became due.
    fn send_due(&mut self, step: u64, out: &mut Out) {
        let bucket = self.bucket(step);
        if self.wheel[bucket].is_empty() {
            return;
        }
        let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.wheel[bucket])
            .into_iter()
            .partition(|e| e.due == step);
        self.wheel[bucket] = waiting;
        for entry in due {
            self.remove_pending_time(entry.event.time);
            self.send(entry.event, step, out);
        }
    }

    /// Takes the next chunk of in-order events and returns those that can be sent.
    ///
    /// # Errors
    /// Arrow errors assembling the output (schemas must not change between chunks).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<Delivered> {
        let buffer = match self.carry.take() {
            Some(carry) => arrow_select::concat::concat_batches(&batch.schema(), [&carry, batch])?,
            None => batch.clone(),
        };
        let carried = buffer.num_rows() - batch.num_rows();
        let times = match &self.time_type {
            Some(_) => Some(micros(batch.column_by_name(EVENT_TIME).ok_or_else(
                || Error::invalid("watermark", "the events have no _spindle_event_time"),
            )?)?),
            None => None,
        };
        let by_time = matches!(self.lateness, Lateness::Time { .. });
        let mut out = Out::default();
        let mut dropped: (Vec<u32>, Vec<u64>) = Default::default();
        for r in 0..batch.num_rows() {
            let p = self.next;
            let time = times.as_ref().map_or(i64::MIN, |t| t[r]);
            if by_time {
                self.send_overdue(Some(time), p, &mut out);
            }
            self.last_time = time;
            let event = Event {
                position: p,
                row: (carried + r) as u32,
                time,
                copy: false,
            };
            if self.is_dropped(p) {
                dropped.0.push(event.row);
                dropped.1.push(p);
            } else if let Some(d) = self.delay_of(p) {
                self.wait(p.saturating_add(d), event);
            } else if let Some(l) = self.lateness_of(p) {
                self.add_pending_time(time);
                self.overdue.push(Reverse(Overdue {
                    due: time.saturating_add(l),
                    event,
                }));
            } else {
                self.send(event, p, &mut out);
            }
            self.send_due(p, &mut out);
            self.next += 1;
        }
        // Keep what is still pending, renumbered into a compact carry batch.
        let mut keep = Vec::new();
        for bucket in &mut self.wheel {
            for entry in bucket.iter_mut() {
                keep.push(entry.event.row);
                entry.event.row = (keep.len() - 1) as u32;
            }
        }
        let mut overdue = std::mem::take(&mut self.overdue).into_vec();
        for Reverse(entry) in &mut overdue {
            keep.push(entry.event.row);
            entry.event.row = (keep.len() - 1) as u32;
        }
        self.overdue = BinaryHeap::from(overdue);
        if !keep.is_empty() {
            self.carry = Some(take_rows(&buffer, &keep)?);
        }
        let dropped = (!dropped.0.is_empty())
            .then(|| {
                Ok::<_, Error>(Dropped {
                    batch: take_rows(&buffer, &dropped.0)?,
                    positions: dropped.1,
                })
            })
            .transpose()?;
        let mut delivered = self.assemble(&buffer, out)?;
        delivered.dropped = dropped;
        Ok(delivered)
    }

    /// Sends the events still pending at the end of the stream: late events by event
    /// time first (earliest due first), then those due at later steps.
    ///
    /// # Errors
    /// Arrow errors assembling the output.
    pub fn finish(&mut self) -> Result<Option<Delivered>> {
        let Some(carry) = self.carry.take() else {
            return Ok(None);
        };
        let mut out = Out::default();
        self.send_overdue(None, self.next, &mut out);
        // Steps past the end, in order (a copy scheduled meanwhile joins its step).
        let mut waiting: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
        let mut entries: Vec<Pending> = Vec::new();
        loop {
            for e in self.wheel.iter_mut().flat_map(|b| b.drain(..)) {
                waiting.push(Reverse((e.due, e.order, entries.len())));
                entries.push(e);
            }
            let Some(Reverse((due, _, at))) = waiting.pop() else {
                break;
            };
            let event = entries[at].event;
            self.remove_pending_time(event.time);
            self.send(event, due, &mut out);
        }
        Ok(Some(self.assemble(&carry, out)?))
    }

    /// The rows of `out` taken from `buffer`, with the delivery columns asked for.
    fn assemble(&self, buffer: &RecordBatch, out: Out) -> Result<Delivered> {
        let batch = take_rows(buffer, &out.rows)?;
        let schema = batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if self.duplicate_fraction > 0.0 {
            let seq = batch
                .column_by_name(SEQ)
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| {
                    Error::invalid("duplicate_fraction", "the events have no _spindle_seq")
                })?;
            let marks: Int64Array = seq
                .values()
                .iter()
                .zip(&out.copies)
                .map(|(&s, &copy)| copy.then_some(s))
                .collect();
            fields.push(Arc::new(Field::new(DUPLICATE_OF, DataType::Int64, true)));
            columns.push(Arc::new(marks));
        }
        if let (Some(_), Some(time_type)) = (self.watermark, &self.time_type) {
            fields.push(Arc::new(Field::new(WATERMARK, time_type.clone(), true)));
            columns.push(from_micros(&out.stamps, time_type));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Delivered {
            batch,
            positions: out.positions,
            dropped: None,
        })
    }
}

/// Checks that `config`'s lateness by event time and watermarks, if asked for, have an
/// event time that is a timestamp or a date (`event_time`: its type, if the stream has
/// one).
///
/// # Errors
/// [`Error::Invalid`] naming the setting and the event time's type.
pub fn check_event_time(config: &StreamConfig, event_time: Option<&DataType>) -> Result<()> {
    let field = if config.max_lateness_seconds.is_some() {
        "max_lateness_seconds"
    } else if config.watermark.is_some() {
        "watermark"
    } else {
        return Ok(());
    };
    match event_time {
        Some(DataType::Timestamp(..) | DataType::Date32 | DataType::Date64) => Ok(()),
        other => Err(Error::invalid(
            field,
            format!(
                "needs an event time that is a timestamp or a date; this stream's is {}",
                other.map_or("none (no timestamp column)".to_string(), |t| t.to_string())
            ),
        )),
    }
}

/// The rows `rows` of `batch`, in that order.
pub(crate) fn take_rows(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows.to_vec());
    Ok(arrow_select::take::take_record_batch(batch, &indices)?)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A time column as microseconds since the epoch (rounded down; null as `i64::MIN`).
fn micros(column: &ArrayRef) -> Result<Vec<i64>> {
    let scaled = |scale: fn(i64) -> i64| -> Result<Vec<i64>> {
        let ticks = arrow_cast::cast(column, &DataType::Int64)?;
        let ticks = ticks.as_primitive::<Int64Type>();
        Ok((0..ticks.len())
            .map(|i| {
                if ticks.is_valid(i) {
                    scale(ticks.value(i))
                } else {
                    i64::MIN
                }
            })
            .collect())
    };
    match column.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scaled(|t| t.saturating_mul(1_000_000)),
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => {
            scaled(|t| t.saturating_mul(1_000))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => scaled(|t| t),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => scaled(|t| t.div_euclid(1_000)),
        DataType::Date32 => {
            let days = column.as_primitive::<Int32Type>();
            Ok((0..days.len())
                .map(|i| {
                    if days.is_valid(i) {
                        i64::from(days.value(i)) * MICROS_PER_DAY
                    } else {
                        i64::MIN
                    }
                })
                .collect())
        }
        other => Err(Error::invalid(
            "watermark",
            format!("event time of type {other} is not a timestamp or a date"),
        )),
    }
}

/// Microseconds as a column of `data_type`, rounded down (a watermark stays a bound).
fn from_micros(values: &[Option<i64>], data_type: &DataType) -> ArrayRef {
    let map = |f: fn(i64) -> i64| values.iter().map(move |v| v.map(f));
    match data_type {
        DataType::Timestamp(unit, tz) => match unit {
            TimeUnit::Second => Arc::new(
                TimestampSecondArray::from_iter(map(|v| v.div_euclid(1_000_000)))
                    .with_timezone_opt(tz.clone()),
            ),
            TimeUnit::Millisecond => Arc::new(
                TimestampMillisecondArray::from_iter(map(|v| v.div_euclid(1_000)))
                    .with_timezone_opt(tz.clone()),
            ),
            TimeUnit::Microsecond => Arc::new(
                TimestampMicrosecondArray::from_iter(map(|v| v)).with_timezone_opt(tz.clone()),
            ),
            TimeUnit::Nanosecond => Arc::new(
                TimestampNanosecondArray::from_iter(map(|v| v.saturating_mul(1_000)))
                    .with_timezone_opt(tz.clone()),
            ),
        },
        DataType::Date64 => Arc::new(Date64Array::from_iter(map(|v| v.div_euclid(1_000)))),
        _ => Arc::new(Date32Array::from_iter(
            values
                .iter()
                .map(|v| v.map(|v| v.div_euclid(MICROS_PER_DAY) as i32)),
        )),
    }
}

/// Counts the late events of a sending order: those sent after an event with a later
/// in-order position. `running_max` carries the state across chunks.
pub fn count_late(positions: &[u64], running_max: &mut Option<u64>) -> u64 {
    let mut late = 0;
    for &p in positions {
        match running_max {
            Some(m) if p < *m => late += 1,
            Some(m) => *m = p,
            None => *running_max = Some(p),
        }
    }
    late
}
