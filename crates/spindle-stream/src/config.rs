//! Stream settings: [`StreamConfig`], [`BurstWindow`] and [`TimePattern`], with the
//! reference's names, defaults and presets, and beyond them rate shapes
//! ([`RateShape`]) and delivery faults ([`LatenessDistribution`], [`WatermarkEvery`]).

use crate::cdc::{CdcConfig, Lifecycle};
use crate::error::{Error, Result};
use crate::settings::{
    SettingError, SettingValue, UtcInstant, deserialize_from_text, json_text, parsed_setting,
};
use serde::{Deserialize, Deserializer};
use spindle_gen::Partition;
use std::collections::BTreeMap;

/// A stretch of the stream whose rate is multiplied by a factor.
///
/// Users meet two forms: by time offset from the stream's start (the reference's API),
/// and by event index (the reference's tutorial). Both are accepted; overlapping
/// windows multiply.
#[derive(Clone, Debug, PartialEq)]
pub enum BurstWindow {
    /// Active for `start_offset_seconds <= elapsed < start_offset_seconds + duration_seconds`.
    Time {
        /// Seconds from the stream's start when the burst begins.
        start_offset_seconds: f64,
        /// How long the burst lasts, in seconds.
        duration_seconds: f64,
        /// Rate multiplier during the burst (10.0 = ten times the base rate).
        multiplier: f64,
    },
    /// Active for events `start_event <= index < end_event` (0-based, in emission order).
    Events {
        /// First event of the burst.
        start_event: u64,
        /// First event after the burst.
        end_event: u64,
        /// Rate multiplier during the burst.
        multiplier: f64,
    },
}

impl BurstWindow {
    /// A burst by time offset, as `BurstWindow(start_offset_seconds=.., duration_seconds=.., multiplier=..)`.
    pub fn time(start_offset_seconds: f64, duration_seconds: f64, multiplier: f64) -> Self {
        BurstWindow::Time {
            start_offset_seconds,
            duration_seconds,
            multiplier,
        }
    }

    /// A burst by event index, as `BurstWindow(start_event=.., end_event=.., multiplier=..)`.
    pub fn events(start_event: u64, end_event: u64, multiplier: f64) -> Self {
        BurstWindow::Events {
            start_event,
            end_event,
            multiplier,
        }
    }

    /// The window's multiplier.
    pub fn multiplier(&self) -> f64 {
        match self {
            BurstWindow::Time { multiplier, .. } | BurstWindow::Events { multiplier, .. } => {
                *multiplier
            }
        }
    }

    /// Whether a time window covers `elapsed` seconds (event windows never do).
    pub fn is_active(&self, elapsed: f64) -> bool {
        match self {
            BurstWindow::Time {
                start_offset_seconds,
                duration_seconds,
                ..
            } => {
                *start_offset_seconds <= elapsed
                    && elapsed < start_offset_seconds + duration_seconds
            }
            BurstWindow::Events { .. } => false,
        }
    }

    /// Whether an event window covers event `index` (time windows never do).
    pub fn covers_event(&self, index: u64) -> bool {
        match self {
            BurstWindow::Events {
                start_event,
                end_event,
                ..
            } => *start_event <= index && index < *end_event,
            BurstWindow::Time { .. } => false,
        }
    }

    fn validate(&self, at: usize) -> Result<()> {
        let field = "burst_windows";
        let m = self.multiplier();
        if !(m.is_finite() && m > 0.0) {
            return Err(Error::invalid(
                field,
                format!("window {at}: multiplier {m} must be > 0"),
            ));
        }
        match self {
            BurstWindow::Time {
                start_offset_seconds: s,
                duration_seconds: d,
                ..
            } => {
                if !(s.is_finite() && *s >= 0.0) {
                    return Err(Error::invalid(
                        field,
                        format!("window {at}: start_offset_seconds {s} must be >= 0"),
                    ));
                }
                if !(d.is_finite() && *d > 0.0) {
                    return Err(Error::invalid(
                        field,
                        format!("window {at}: duration_seconds {d} must be > 0"),
                    ));
                }
            }
            BurstWindow::Events {
                start_event,
                end_event,
                ..
            } => {
                if end_event <= start_event {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "window {at}: end_event {end_event} must be greater than start_event {start_event}"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for BurstWindow {
    type Err = Error;

    /// `START:DURATION:MULT` (seconds) or `#START-END:MULT` (event indices).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "burst_windows",
                format!(
                    "'{s}' is not START:DURATION:MULTIPLIER (seconds, e.g. 30:60:10) or #START-END:MULTIPLIER (event indices, e.g. #30-60:5)"
                ),
            )
        };
        let window = if let Some(rest) = s.strip_prefix('#') {
            let (range, mult) = rest.split_once(':').ok_or_else(bad)?;
            let (a, b) = range.split_once('-').ok_or_else(bad)?;
            BurstWindow::events(
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
                mult.trim().parse().map_err(|_| bad())?,
            )
        } else {
            let parts: Vec<&str> = s.split(':').collect();
            let [a, b, c] = parts.as_slice() else {
                return Err(bad());
            };
            let num = |x: &str| x.trim().parse::<f64>().map_err(|_| bad());
            BurstWindow::time(num(a)?, num(b)?, num(c)?)
        };
        window.validate(0).map(|()| window)
    }
}

/// A shape of the rate over the run's seconds, a multiplier of the base rate that
/// composes (multiplies) with bursts, time patterns and other shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateShape {
    /// `1 + amplitude x sin(2 pi t / period)`: a wave around the base rate.
    Sine {
        /// Seconds per cycle.
        period_seconds: f64,
        /// Swing, as a share of the base rate, in `0..1`.
        amplitude: f64,
    },
    /// From `from` to `to` times the base rate, linearly over the first `over_seconds`,
    /// then `to`.
    Ramp {
        /// Multiplier at the start.
        from: f64,
        /// Multiplier at `over_seconds` and after.
        to: f64,
        /// Seconds the ramp takes.
        over_seconds: f64,
    },
    /// 1 before `at_seconds`, `multiplier` from then on.
    Step {
        /// When the step comes.
        at_seconds: f64,
        /// Multiplier after it.
        multiplier: f64,
    },
    /// `high` in the first half of each period, `low` in the second.
    Square {
        /// Seconds per cycle.
        period_seconds: f64,
        /// Multiplier in the second half.
        low: f64,
        /// Multiplier in the first half.
        high: f64,
    },
}

impl RateShape {
    /// The forms a shape is written in.
    pub const FORMS: &'static str = "sine:PERIOD:AMPLITUDE, ramp:FROM:TO:OVER, step:AT:MULTIPLIER or square:PERIOD:LOW:HIGH (seconds and multipliers, e.g. sine:60:0.5)";

    /// The multiplier at `elapsed` seconds into the run.
    pub fn multiplier(&self, elapsed: f64) -> f64 {
        match *self {
            RateShape::Sine {
                period_seconds,
                amplitude,
            } => 1.0 + amplitude * (std::f64::consts::TAU * elapsed / period_seconds).sin(),
            RateShape::Ramp {
                from,
                to,
                over_seconds,
            } => from + (to - from) * (elapsed / over_seconds).clamp(0.0, 1.0),
            RateShape::Step {
                at_seconds,
                multiplier,
            } => {
                if elapsed >= at_seconds {
                    multiplier
                } else {
                    1.0
                }
            }
            RateShape::Square {
                period_seconds,
                low,
                high,
            } => {
                if (elapsed / period_seconds).fract() < 0.5 {
                    high
                } else {
                    low
                }
            }
        }
    }

    fn validate(&self, at: usize) -> Result<()> {
        let bad = |what: String| Err(Error::invalid("rate_shapes", format!("shape {at}: {what}")));
        let positive = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                bad(format!("{name} {v} must be > 0"))
            }
        };
        match *self {
            RateShape::Sine {
                period_seconds,
                amplitude,
            } => {
                positive("period", period_seconds)?;
                if !(0.0..1.0).contains(&amplitude) {
                    return bad(format!(
                        "amplitude {amplitude} is not in 0..1 (the rate must stay above 0)"
                    ));
                }
            }
            RateShape::Ramp {
                from,
                to,
                over_seconds,
            } => {
                positive("from", from)?;
                positive("to", to)?;
                positive("over", over_seconds)?;
            }
            RateShape::Step {
                at_seconds,
                multiplier,
            } => {
                if !(at_seconds.is_finite() && at_seconds >= 0.0) {
                    return bad(format!("at {at_seconds} must be >= 0"));
                }
                positive("multiplier", multiplier)?;
            }
            RateShape::Square {
                period_seconds,
                low,
                high,
            } => {
                positive("period", period_seconds)?;
                positive("low", low)?;
                positive("high", high)?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for RateShape {
    type Err = Error;

    /// `sine:PERIOD:AMPLITUDE`, `ramp:FROM:TO:OVER`, `step:AT:MULTIPLIER` or
    /// `square:PERIOD:LOW:HIGH`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("rate_shapes", format!("'{s}' is not {}", RateShape::FORMS));
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or_default().trim();
        let numbers: Vec<f64> = parts
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        let shape = match (kind, numbers.as_slice()) {
            ("sine", &[period_seconds, amplitude]) => RateShape::Sine {
                period_seconds,
                amplitude,
            },
            ("ramp", &[from, to, over_seconds]) => RateShape::Ramp {
                from,
                to,
                over_seconds,
            },
            ("step", &[at_seconds, multiplier]) => RateShape::Step {
                at_seconds,
                multiplier,
            },
            ("square", &[period_seconds, low, high]) => RateShape::Square {
                period_seconds,
                low,
                high,
            },
            _ => return Err(bad()),
        };
        shape.validate(0).map(|()| shape)
    }
}

/// Rate multipliers by wall-clock hour (0-23) and day of week (0 = Monday).
/// Hours and days not listed multiply by 1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimePattern {
    /// Hour of day (0-23) to multiplier.
    pub hour_multipliers: BTreeMap<u8, f64>,
    /// Day of week (0 = Monday .. 6 = Sunday) to multiplier.
    pub dow_multipliers: BTreeMap<u8, f64>,
}

impl TimePattern {
    /// The preset names.
    pub const PRESETS: [&'static str; 2] = ["business_hours", "retail_peak"];

    /// Higher traffic 8:00-18:00, lower evenings, very low nights and weekends
    /// (the reference's figures).
    pub fn business_hours() -> Self {
        let mut hours: BTreeMap<u8, f64> = (0..24).map(|h| (h, 0.3)).collect();
        hours.extend((8..18).map(|h| (h, 1.5)));
        hours.extend((18..21).map(|h| (h, 1.0)));
        Self {
            hour_multipliers: hours,
            dow_multipliers: [(5, 0.4), (6, 0.2)].into(),
        }
    }

    /// E-commerce: evening peak 19:00-23:00, lunch bump, weekends elevated
    /// (the reference's figures).
    pub fn retail_peak() -> Self {
        let mut hours: BTreeMap<u8, f64> = (0..24).map(|h| (h, 0.4)).collect();
        hours.extend((19..23).map(|h| (h, 2.0)));
        hours.extend((12..15).map(|h| (h, 1.2)));
        Self {
            hour_multipliers: hours,
            dow_multipliers: [(5, 1.5), (6, 1.8)].into(),
        }
    }

    /// The preset called `name`.
    ///
    /// # Errors
    /// An unknown name, listing the presets.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "business_hours" => Ok(Self::business_hours()),
            "retail_peak" => Ok(Self::retail_peak()),
            other => Err(Error::invalid(
                "time_pattern",
                format!(
                    "unknown preset '{other}'; allowed: {}",
                    Self::PRESETS.join(", ")
                ),
            )),
        }
    }

    /// The multiplier at `hour` on day `dow`.
    pub fn get_multiplier(&self, hour: u8, dow: u8) -> f64 {
        self.hour_multipliers.get(&hour).copied().unwrap_or(1.0)
            * self.dow_multipliers.get(&dow).copied().unwrap_or(1.0)
    }

    fn validate(&self) -> Result<()> {
        for (&h, &m) in &self.hour_multipliers {
            if h > 23 {
                return Err(Error::invalid(
                    "time_pattern",
                    format!("hour {h} is not in 0..=23"),
                ));
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(Error::invalid(
                    "time_pattern",
                    format!("hour {h}: multiplier {m} must be > 0"),
                ));
            }
        }
        for (&d, &m) in &self.dow_multipliers {
            if d > 6 {
                return Err(Error::invalid(
                    "time_pattern",
                    format!("day of week {d} is not in 0..=6 (0 = Monday)"),
                ));
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(Error::invalid(
                    "time_pattern",
                    format!("day {d}: multiplier {m} must be > 0"),
                ));
            }
        }
        Ok(())
    }
}

/// How the lateness of an event delayed by event time is drawn, up to
/// [`StreamConfig::max_lateness_seconds`] (`L`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LatenessDistribution {
    /// Uniform in `(0, L]`.
    #[default]
    Uniform,
    /// Exponential with mean `L / 4`, cut at `L` (most events a little late, a few
    /// nearly `L` late): the long tail a mobile or batching producer shows.
    Exponential,
}

impl LatenessDistribution {
    /// The names, as flags and config files spell them.
    pub const NAMES: [&'static str; 2] = ["uniform", "exponential"];

    /// A lateness in `(0, max]` from a uniform draw `u` in `[0, 1)`.
    pub fn lateness(self, u: f64, max: f64) -> f64 {
        let v = 1.0 - u; // in (0, 1]
        match self {
            LatenessDistribution::Uniform => v * max,
            LatenessDistribution::Exponential => {
                // Inverse of the exponential's CDF cut at `max`.
                let mean = max / 4.0;
                let tail = (-max / mean).exp();
                -mean * (1.0 - (1.0 - v) * (1.0 - tail)).ln()
            }
        }
    }
}

impl std::str::FromStr for LatenessDistribution {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "exponential" => Ok(Self::Exponential),
            other => Err(Error::invalid(
                "lateness_distribution",
                format!(
                    "unknown distribution '{other}'; allowed: {}",
                    Self::NAMES.join(", ")
                ),
            )),
        }
    }
}

/// What the event-time column carries in realtime mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventTimeMode {
    /// The table's own times.
    #[default]
    Table,
    /// The wall-clock instant of the event's in-order slot: events keep their order
    /// and Poisson gaps, and a late event carries the (earlier) time of its slot.
    Live,
}

impl EventTimeMode {
    /// The names, as flags and config files spell them.
    pub const NAMES: [&'static str; 2] = ["table", "live"];
}

impl std::str::FromStr for EventTimeMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "table" => Ok(Self::Table),
            "live" => Ok(Self::Live),
            other => Err(Error::invalid(
                "event_time",
                format!("'{other}'; allowed: {}", Self::NAMES.join(", ")),
            )),
        }
    }
}

impl std::fmt::Display for EventTimeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EventTimeMode::Table => "table",
            EventTimeMode::Live => "live",
        })
    }
}

/// When events carry a watermark (`_spindle_watermark`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WatermarkEvery {
    /// On every `n`-th event of the run.
    Events(u64),
    /// On the run's first event with a watermark, then on the first event whose
    /// watermark has passed the next multiple of this many seconds of event time (since
    /// the Unix epoch): every 60 seconds stamps once per minute of event time.
    Seconds(f64),
}

impl std::str::FromStr for WatermarkEvery {
    type Err = Error;

    /// `N` (events) or `Ns` (seconds of event time, e.g. `30s`, `0.5s`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "watermark",
                format!(
                    "'{s}' is not N (every N events, e.g. 1000) or Ns (every N seconds of event time, e.g. 30s)"
                ),
            )
        };
        let every = match s.trim().strip_suffix('s') {
            Some(secs) => WatermarkEvery::Seconds(secs.trim().parse().map_err(|_| bad())?),
            None => WatermarkEvery::Events(s.trim().parse().map_err(|_| bad())?),
        };
        every.validate().map(|()| every)
    }
}

impl WatermarkEvery {
    fn validate(&self) -> Result<()> {
        match *self {
            WatermarkEvery::Events(0) => Err(Error::invalid(
                "watermark",
                "every 0 events: must be at least 1",
            )),
            WatermarkEvery::Seconds(s) if !(s.is_finite() && s > 0.0) => Err(Error::invalid(
                "watermark",
                format!("every {s} seconds: must be > 0"),
            )),
            _ => Ok(()),
        }
    }
}

crate::settings::settings! {
    /// Settings of a streaming run: the reference's fields and defaults, and beyond them
    /// delivery faults, realtime pacing, partitioned runs and change streams. This is
    /// the one declaration of every run setting: `--config` keys, the CLI's flags and
    /// Python's `StreamConfig` all come from it ([`StreamConfig::SETTINGS`]).
    pub struct StreamConfig {
        /// Base target throughput (realtime mode), events per second.
        pub events_per_second: f64 = 10.0,
        /// Stop after this many wall-clock seconds.
        pub duration_seconds: Option<f64> = None,
        /// Stop after this many events.
        pub max_events: Option<u64> = None,
        /// Share of events delivered late, 0..=1.
        pub out_of_order_fraction: f64 = 0.0,
        /// How many positions a late event may slip at most.
        pub out_of_order_max_delay_slots: u64 = 10,
        /// Rate bursts: START:DURATION:MULTIPLIER (seconds) or #START-END:MULTIPLIER
        /// (event indices); in a file also a table of either form.
        pub burst_windows: Vec<BurstWindow> = Vec::new(),
        /// Time-of-day and day-of-week rate shape: a preset (business_hours,
        /// retail_peak) or a table of hour_multipliers and dow_multipliers.
        pub time_pattern: Option<TimePattern> = None,
        /// Shapes of the rate over the run's seconds (they multiply): sine:PERIOD:AMPLITUDE,
        /// ramp:FROM:TO:OVER, step:AT:MULTIPLIER or square:PERIOD:LOW:HIGH.
        pub rate_shapes: Vec<RateShape> = Vec::new(),
        /// Keep the `_spindle_is_anomaly` / `_spindle_anomaly_type` labels (anomalies are
        /// injected either way).
        pub label_anomalies: bool = true,
        /// Events per send.
        pub batch_size: usize = 100,
        /// Pace events at the configured rate; otherwise emit as fast as sinks take them.
        pub realtime: bool = false,
        /// Delay late events by event time instead of by slots: a late event (one of
        /// `out_of_order_fraction`) is sent after every event up to its lateness younger
        /// than it, the lateness drawn from `lateness_distribution` up to this many
        /// seconds. None: late events slip by slots.
        pub max_lateness_seconds: Option<f64> = None,
        /// How lateness by event time is drawn: uniform or exponential.
        pub lateness_distribution: LatenessDistribution = LatenessDistribution::Uniform,
        /// Share of events sent twice, 0..=1: the copy comes 1..=`duplicate_max_delay_slots`
        /// events after the original, `_spindle_duplicate_of` set to its `_spindle_seq`.
        pub duplicate_fraction: f64 = 0.0,
        /// How many events after its original a duplicate comes at most.
        pub duplicate_max_delay_slots: u64 = 10,
        /// Share of events never sent, 0..=1: counted in the result and handed to the
        /// ground-truth sink, if any.
        pub drop_fraction: f64 = 0.0,
        /// Stamp `_spindle_watermark` (the event time no later event of the run is older
        /// than) on events: every N events, or every Ns seconds of event time (e.g. 1000
        /// or 30s).
        pub watermark: Option<WatermarkEvery> = None,
        /// Instant the time pattern's clock starts at (UTC, e.g. 2025-11-28T19:00:00, or
        /// Unix seconds). None: the schedule's start.
        pub clock_start: Option<UtcInstant> = None,
        /// Wall-clock instant the realtime schedule starts at (UTC, e.g.
        /// 2026-11-28T19:00:00.5, or Unix seconds): event k is due this long after it as
        /// in any run, so every part of a partitioned realtime run needs the same. None:
        /// when the first batch is ready.
        pub start_at: Option<UtcInstant> = None,
        /// Run the time pattern's clock this many times faster than real time.
        pub speedup: f64 = 1.0,
        /// What the event-time column carries: table (the table's times) or live (the
        /// emission instant of the event's slot, realtime only).
        pub event_time: EventTimeMode = EventTimeMode::Table,
        /// Record how late realtime sends were against their due instants, and the events
        /// planned and sent in each second.
        pub report_lateness: bool = false,
        /// Send only this part (0-based) of the run's events: every `parts`-th event from
        /// the `part`-th; N producers with parts 0..N send exactly one run's events.
        pub part: u64 = 0,
        /// How many parts (producers) the run's events are split over.
        pub parts: u64 = 1,
        /// Stream the table as the changes of its rows' lives (Debezium envelopes) rather
        /// than one event per row.
        pub cdc: bool = false,
        /// With cdc: the states rows move through, COLUMN:FINAL=STATE/HOURS/SPREAD>...;...
        /// (e.g. status:shipped=processing/24/6). None: the table's built-in one, if any.
        pub cdc_lifecycle: Option<Lifecycle> = None,
        /// With cdc: share of rows deleted after their last change, 0..=1.
        pub cdc_delete_fraction: f64 = 0.0,
        /// With cdc: mean hours from a row's last change to its deletion (exponential).
        pub cdc_delete_after_hours: f64 = 168.0,
        /// With cdc: follow each delete with a tombstone (in Kafka, the key with no
        /// value, so that compaction forgets the row).
        pub cdc_tombstones: bool = false,
    }
}

impl StreamConfig {
    /// Whether any delivery fault or watermark is asked for: the stage that permutes,
    /// drops, duplicates and stamps events runs only then.
    pub fn reshapes_delivery(&self) -> bool {
        self.out_of_order_fraction > 0.0
            || self.duplicate_fraction > 0.0
            || self.drop_fraction > 0.0
            || self.watermark.is_some()
    }

    /// Checks every field, naming the first one out of range.
    ///
    /// # Errors
    /// [`Error::Invalid`] with the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        self.validate_cdc()?;
        self.validate_realtime()?;
        let eps = self.events_per_second;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::invalid(
                "events_per_second",
                format!("{eps} must be > 0"),
            ));
        }
        if let Some(d) = self.duration_seconds {
            if !(d.is_finite() && d > 0.0) {
                return Err(Error::invalid(
                    "duration_seconds",
                    format!("{d} must be > 0"),
                ));
            }
        }
        if self.max_events == Some(0) {
            return Err(Error::invalid("max_events", "must be at least 1"));
        }
        for (field, f) in [
            ("out_of_order_fraction", self.out_of_order_fraction),
            ("duplicate_fraction", self.duplicate_fraction),
            ("drop_fraction", self.drop_fraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(Error::invalid(field, format!("{f} is not in 0..=1")));
            }
        }
        if let Some(l) = self.max_lateness_seconds {
            if !(l.is_finite() && l > 0.0) {
                return Err(Error::invalid(
                    "max_lateness_seconds",
                    format!("{l} must be > 0"),
                ));
            }
            if self.out_of_order_fraction == 0.0 {
                return Err(Error::invalid(
                    "max_lateness_seconds",
                    "delays the late share of events: set out_of_order_fraction above 0 too",
                ));
            }
        }
        if self.duplicate_max_delay_slots == 0 {
            return Err(Error::invalid(
                "duplicate_max_delay_slots",
                "must be at least 1",
            ));
        }
        if let Some(w) = &self.watermark {
            w.validate()?;
        }
        if self.out_of_order_max_delay_slots == 0 {
            return Err(Error::invalid(
                "out_of_order_max_delay_slots",
                "must be at least 1",
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        for (i, w) in self.burst_windows.iter().enumerate() {
            w.validate(i)?;
        }
        if let Some(p) = &self.time_pattern {
            p.validate()?;
        }
        for (i, shape) in self.rate_shapes.iter().enumerate() {
            shape.validate(i)?;
        }
        Ok(())
    }

    /// The share of the run this process sends (`part` of `parts`).
    ///
    /// # Errors
    /// `parts` of zero or `part` not below it, naming the key.
    pub fn partition(&self) -> Result<Partition> {
        Partition::new(self.part, self.parts).map_err(|e| match e {
            spindle_gen::Error::Invalid { field, message } => Error::invalid(field, message),
            other => other.into(),
        })
    }

    /// The change-stream settings, when `cdc` is on.
    pub fn cdc_config(&self) -> Option<CdcConfig> {
        self.cdc.then(|| CdcConfig {
            lifecycle: self.cdc_lifecycle.clone(),
            delete_fraction: self.cdc_delete_fraction,
            delete_after_hours: self.cdc_delete_after_hours,
            tombstones: self.cdc_tombstones,
        })
    }

    fn validate_cdc(&self) -> Result<()> {
        match self.cdc_config() {
            Some(cdc) => cdc.validate(),
            None if self.cdc_lifecycle.is_some()
                || self.cdc_delete_fraction != 0.0
                || self.cdc_tombstones =>
            {
                Err(Error::invalid(
                    "cdc",
                    "cdc_lifecycle, cdc_delete_fraction and cdc_tombstones are settings of a change stream: set cdc too",
                ))
            }
            None => Ok(()),
        }
    }

    /// The pacing settings: a positive speedup, live event time without settings that
    /// work on the table's times, and one clock for the parts of a realtime run.
    fn validate_realtime(&self) -> Result<()> {
        if !(self.speedup.is_finite() && self.speedup > 0.0) {
            return Err(Error::invalid(
                "speedup",
                format!("{} must be > 0", self.speedup),
            ));
        }
        if self.event_time == EventTimeMode::Live {
            let by_table_time = [
                ("max_lateness_seconds", self.max_lateness_seconds.is_some()),
                ("watermark", self.watermark.is_some()),
            ];
            if let Some((field, _)) = by_table_time.iter().find(|(_, on)| *on) {
                return Err(Error::invalid(
                    field,
                    "works on the table's event times, which live event time replaces: use event time 'table'",
                ));
            }
        }
        let part = self.partition()?;
        if part.count > 1 && self.realtime && self.start_at.is_none() {
            return Err(Error::invalid(
                "start_at",
                "the parts of a realtime run share one clock: give every part the same start instant",
            ));
        }
        Ok(())
    }

    /// The composite multiplier of time bursts, rate shapes and the time pattern at
    /// `elapsed` seconds, wall-clock `wall_hour` and `wall_dow` (0 = Monday); at least
    /// 0.001.
    pub fn get_rate_multiplier(&self, elapsed: f64, wall_hour: u8, wall_dow: u8) -> f64 {
        let bursts: f64 = self
            .burst_windows
            .iter()
            .filter(|w| w.is_active(elapsed))
            .map(BurstWindow::multiplier)
            .product::<f64>()
            * self
                .rate_shapes
                .iter()
                .map(|s| s.multiplier(elapsed))
                .product::<f64>();
        let pattern = self
            .time_pattern
            .as_ref()
            .map_or(1.0, |p| p.get_multiplier(wall_hour, wall_dow));
        (bursts * pattern).max(0.001)
    }

    /// [`StreamConfig::get_rate_multiplier`] also counting event-index bursts that cover
    /// event `index`.
    pub fn rate_multiplier_at(&self, elapsed: f64, index: u64, wall_hour: u8, wall_dow: u8) -> f64 {
        let events: f64 = self
            .burst_windows
            .iter()
            .filter(|w| w.covers_event(index))
            .map(BurstWindow::multiplier)
            .product();
        (self.get_rate_multiplier(elapsed, wall_hour, wall_dow) * events).max(0.001)
    }
}

// The settings' text forms (as flags take them and defaults are listed) and file forms.

impl std::fmt::Display for BurstWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BurstWindow::Time {
                start_offset_seconds,
                duration_seconds,
                multiplier,
            } => write!(f, "{start_offset_seconds}:{duration_seconds}:{multiplier}"),
            BurstWindow::Events {
                start_event,
                end_event,
                multiplier,
            } => write!(f, "#{start_event}-{end_event}:{multiplier}"),
        }
    }
}

impl std::fmt::Display for RateShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            RateShape::Sine {
                period_seconds,
                amplitude,
            } => write!(f, "sine:{period_seconds}:{amplitude}"),
            RateShape::Ramp {
                from,
                to,
                over_seconds,
            } => write!(f, "ramp:{from}:{to}:{over_seconds}"),
            RateShape::Step {
                at_seconds,
                multiplier,
            } => write!(f, "step:{at_seconds}:{multiplier}"),
            RateShape::Square {
                period_seconds,
                low,
                high,
            } => write!(f, "square:{period_seconds}:{low}:{high}"),
        }
    }
}

impl std::fmt::Display for LatenessDistribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LatenessDistribution::Uniform => "uniform",
            LatenessDistribution::Exponential => "exponential",
        })
    }
}

impl std::fmt::Display for WatermarkEvery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatermarkEvery::Events(n) => write!(f, "{n}"),
            WatermarkEvery::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

deserialize_from_text!(RateShape, LatenessDistribution, EventTimeMode);
parsed_setting!(json_text =>
    BurstWindow,
    RateShape,
    WatermarkEvery,
    LatenessDistribution,
    EventTimeMode,
);

impl<'de> Deserialize<'de> for BurstWindow {
    /// The flag's text, or a table by time offset or by event index.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Time {
                start_offset_seconds: f64,
                duration_seconds: f64,
                multiplier: f64,
            },
            Events {
                start_event: u64,
                end_event: u64,
                multiplier: f64,
            },
        }
        let window = match Form::deserialize(d)? {
            Form::Text(text) => {
                return text
                    .parse::<BurstWindow>()
                    .map_err(|e| serde::de::Error::custom(e.message()));
            }
            Form::Time {
                start_offset_seconds,
                duration_seconds,
                multiplier,
            } => BurstWindow::time(start_offset_seconds, duration_seconds, multiplier),
            Form::Events {
                start_event,
                end_event,
                multiplier,
            } => BurstWindow::events(start_event, end_event, multiplier),
        };
        window
            .validate(0)
            .map(|()| window)
            .map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl<'de> Deserialize<'de> for WatermarkEvery {
    /// `N` or `Ns` as text, or a whole number of events.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Events(u64),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Events(n) => n.to_string(),
            Form::Text(text) => text,
        }
        .parse::<WatermarkEvery>()
        .map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl<'de> Deserialize<'de> for TimePattern {
    /// A preset's name, or a table of `hour_multipliers` and `dow_multipliers` (keys
    /// are numbers, written as text in TOML and JSON).
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Multipliers {
            #[serde(default)]
            hour_multipliers: BTreeMap<String, f64>,
            #[serde(default)]
            dow_multipliers: BTreeMap<String, f64>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Preset(String),
            Custom(Multipliers),
        }
        let numbered = |m: BTreeMap<String, f64>, what: &str| {
            m.into_iter()
                .map(|(k, v)| {
                    k.trim()
                        .parse::<u8>()
                        .map(|k| (k, v))
                        .map_err(|_| format!("{what} '{k}' is not a number"))
                })
                .collect::<std::result::Result<BTreeMap<u8, f64>, String>>()
        };
        let pattern = match Form::deserialize(d)? {
            Form::Preset(name) => TimePattern::preset(&name),
            Form::Custom(Multipliers {
                hour_multipliers,
                dow_multipliers,
            }) => {
                let pattern = TimePattern {
                    hour_multipliers: numbered(hour_multipliers, "hour")
                        .map_err(serde::de::Error::custom)?,
                    dow_multipliers: numbered(dow_multipliers, "day of week")
                        .map_err(serde::de::Error::custom)?,
                };
                pattern.validate().map(|()| pattern)
            }
        };
        pattern.map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl SettingValue for TimePattern {
    fn from_texts(texts: &[&str]) -> std::result::Result<Self, String> {
        match texts {
            [name] => TimePattern::preset(name.trim()).map_err(|e| e.to_string()),
            _ => Err(format!("takes one preset, not {}", texts.len())),
        }
    }

    fn to_json(&self) -> String {
        let object = |m: &BTreeMap<u8, f64>| {
            let entries: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", entries.join(", "))
        };
        format!(
            "{{\"hour_multipliers\": {}, \"dow_multipliers\": {}}}",
            object(&self.hour_multipliers),
            object(&self.dow_multipliers)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference() {
        let c = StreamConfig::default();
        assert_eq!(c.events_per_second, 10.0);
        assert_eq!(c.out_of_order_max_delay_slots, 10);
        assert_eq!(c.batch_size, 100);
        assert!(c.label_anomalies && !c.realtime && c.max_events.is_none());
        c.validate().unwrap();
    }

    #[test]
    fn multipliers_stack_and_respect_window_edges() {
        let c = StreamConfig {
            burst_windows: vec![
                BurstWindow::time(1.0, 2.0, 5.0),
                BurstWindow::time(2.0, 1.0, 2.0),
                BurstWindow::events(30, 60, 3.0),
            ],
            time_pattern: Some(TimePattern::retail_peak()),
            ..Default::default()
        };
        assert_eq!(c.get_rate_multiplier(0.5, 10, 0), 0.4);
        assert_eq!(c.get_rate_multiplier(1.0, 20, 0), 5.0 * 2.0);
        assert_eq!(c.get_rate_multiplier(2.5, 20, 6), 5.0 * 2.0 * 2.0 * 1.8);
        assert_eq!(c.get_rate_multiplier(3.0, 20, 0), 2.0);
        assert_eq!(c.rate_multiplier_at(3.0, 30, 20, 0), 6.0);
        assert_eq!(c.rate_multiplier_at(3.0, 60, 20, 0), 2.0);
        assert_eq!(
            TimePattern::business_hours().get_multiplier(9, 5),
            1.5 * 0.4
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad = [
            (
                StreamConfig {
                    events_per_second: 0.0,
                    ..Default::default()
                },
                "events_per_second",
            ),
            (
                StreamConfig {
                    out_of_order_fraction: 1.5,
                    ..Default::default()
                },
                "out_of_order_fraction",
            ),
            (
                StreamConfig {
                    batch_size: 0,
                    ..Default::default()
                },
                "batch_size",
            ),
            (
                StreamConfig {
                    max_events: Some(0),
                    ..Default::default()
                },
                "max_events",
            ),
            (
                StreamConfig {
                    burst_windows: vec![BurstWindow::time(-1.0, 1.0, 2.0)],
                    ..Default::default()
                },
                "burst_windows",
            ),
            (
                StreamConfig {
                    burst_windows: vec![BurstWindow::events(5, 5, 2.0)],
                    ..Default::default()
                },
                "burst_windows",
            ),
            (
                StreamConfig {
                    burst_windows: vec![BurstWindow::time(1.0, 1.0, 0.0)],
                    ..Default::default()
                },
                "burst_windows",
            ),
        ];
        for (config, field) in bad {
            let msg = config.validate().unwrap_err().to_string();
            assert!(msg.contains(field), "{msg}");
        }
    }

    #[test]
    fn rate_shapes_parse_compose_and_name_their_field() {
        let sine: RateShape = "sine:60:0.5".parse().unwrap();
        assert!((sine.multiplier(15.0) - 1.5).abs() < 1e-12);
        assert!((sine.multiplier(45.0) - 0.5).abs() < 1e-12);
        let ramp: RateShape = "ramp:0.5:2:100".parse().unwrap();
        assert_eq!(
            [
                ramp.multiplier(0.0),
                ramp.multiplier(50.0),
                ramp.multiplier(500.0)
            ],
            [0.5, 1.25, 2.0]
        );
        let step: RateShape = "step:10:3".parse().unwrap();
        assert_eq!([step.multiplier(9.9), step.multiplier(10.0)], [1.0, 3.0]);
        let square: RateShape = "square:4:0.5:2".parse().unwrap();
        assert_eq!(
            [
                square.multiplier(1.0),
                square.multiplier(3.0),
                square.multiplier(5.0)
            ],
            [2.0, 0.5, 2.0]
        );
        let c = StreamConfig {
            rate_shapes: vec![step, square],
            burst_windows: vec![BurstWindow::time(0.0, 20.0, 2.0)],
            ..Default::default()
        };
        assert_eq!(c.get_rate_multiplier(11.0, 0, 0), 2.0 * 3.0 * 0.5);
        for bad in [
            "sine:60",
            "sine:60:1",
            "ramp:0:1:10",
            "step:-1:2",
            "square:0:1:2",
            "saw:1:2",
        ] {
            let e = bad.parse::<RateShape>().unwrap_err().to_string();
            assert!(e.contains("rate_shapes"), "{bad}: {e}");
        }
        assert!(
            "wave"
                .parse::<RateShape>()
                .unwrap_err()
                .to_string()
                .contains("square:PERIOD:LOW:HIGH")
        );
    }

    #[test]
    fn burst_specs_parse_in_both_forms() {
        assert_eq!(
            "30:60:10".parse::<BurstWindow>().unwrap(),
            BurstWindow::time(30.0, 60.0, 10.0)
        );
        assert_eq!(
            "#30-60:5".parse::<BurstWindow>().unwrap(),
            BurstWindow::events(30, 60, 5.0)
        );
        for bad in ["30:60", "a:b:c", "#60-30:5", "1:2:-3", "#1-2"] {
            assert!(bad.parse::<BurstWindow>().is_err(), "{bad}");
        }
        assert!(
            TimePattern::preset("lunch")
                .unwrap_err()
                .to_string()
                .contains("retail_peak")
        );
    }

    #[test]
    fn every_setting_reads_its_default_back_and_a_bad_value_names_its_key() {
        let defaults = StreamConfig::default();
        assert!(StreamConfig::SETTINGS.len() >= 29);
        for setting in StreamConfig::SETTINGS {
            let key = setting.key;
            assert!(!setting.doc.trim().is_empty(), "{key} has no doc");
            let json = defaults.value_json(key).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{key}: default {json} is not JSON: {e}"));
            let mut config = StreamConfig::default();
            config.set_value(key, value).unwrap();
            assert_eq!(config, defaults, "{key}");
            let wrong = serde_json::json!({ "not": ["a", "setting"] });
            let e = config.set_value(key, wrong).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid {key}:")), "{e}");
        }
        let e = StreamConfig::default()
            .set("rate", &["10"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key 'rate'") && e.contains("events_per_second"),
            "{e}"
        );
    }

    #[test]
    fn flag_texts_and_file_values_set_the_same_settings() {
        let mut by_flags = StreamConfig::default();
        by_flags
            .set("burst_windows", &["30:60:10", "#5-9:2"])
            .unwrap();
        by_flags.set("watermark", &["30s"]).unwrap();
        by_flags.set("time_pattern", &["retail_peak"]).unwrap();
        by_flags.set("start_at", &["2025-11-28T19:00:00"]).unwrap();
        by_flags.set("event_time", &["live"]).unwrap();
        by_flags.set("realtime", &["true"]).unwrap();
        let mut by_values = StreamConfig::default();
        let file = serde_json::json!({
            "burst_windows": [
                { "start_offset_seconds": 30, "duration_seconds": 60, "multiplier": 10 },
                "#5-9:2"
            ],
            "watermark": "30s",
            "time_pattern": "retail_peak",
            "start_at": 1_764_356_400,
            "event_time": "live",
            "realtime": true,
        });
        for (key, value) in file.as_object().unwrap() {
            by_values.set_value(key, value.clone()).unwrap();
        }
        assert_eq!(by_flags, by_values);
        let whole: StreamConfig = serde_json::from_value(file).unwrap();
        assert_eq!(whole, by_values);
        let e = by_flags.set("speedup", &["fast"]).unwrap_err().to_string();
        assert!(e.starts_with("invalid speedup: not a number"), "{e}");
        // One prefix, the key's: the value type's own field is not named again.
        let e = by_flags
            .set("burst_windows", &["x"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid burst_windows: 'x' is not START:"),
            "{e}"
        );
        let e = by_flags
            .set_value("burst_windows", serde_json::json!(["#9-5:2"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid burst_windows: window 0: end_event 5"),
            "{e}"
        );
        // serde's own words stay whole.
        let e = by_flags
            .set_value("events_per_second", serde_json::json!({ "a": 1 }))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid events_per_second: invalid type: map"),
            "{e}"
        );
        let e = by_flags
            .set("event_time", &["wall"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed: table, live"), "{e}");
    }
}
