//! Stream settings: [`StreamConfig`], [`BurstWindow`] and [`TimePattern`], with the
//! reference's names, defaults and presets.

use crate::error::{Error, Result};
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
                "burst",
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

/// Settings of a streaming run, with the reference's fields and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamConfig {
    /// Base target throughput (realtime mode), events per second. Default 10.
    pub events_per_second: f64,
    /// Stop after this many wall-clock seconds.
    pub duration_seconds: Option<f64>,
    /// Stop after this many events.
    pub max_events: Option<u64>,
    /// Share of events delivered late, 0..=1. Default 0.
    pub out_of_order_fraction: f64,
    /// How many positions a late event may slip at most. Default 10.
    pub out_of_order_max_delay_slots: u64,
    /// Rate bursts.
    pub burst_windows: Vec<BurstWindow>,
    /// Time-of-day and day-of-week rate shape.
    pub time_pattern: Option<TimePattern>,
    /// Keep the `_spindle_is_anomaly` / `_spindle_anomaly_type` labels. Default true.
    pub label_anomalies: bool,
    /// Events per `send_batch` call. Default 100.
    pub batch_size: usize,
    /// Pace events at the configured rate; otherwise emit as fast as sinks take them.
    pub realtime: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            events_per_second: 10.0,
            duration_seconds: None,
            max_events: None,
            out_of_order_fraction: 0.0,
            out_of_order_max_delay_slots: 10,
            burst_windows: Vec::new(),
            time_pattern: None,
            label_anomalies: true,
            batch_size: 100,
            realtime: false,
        }
    }
}

impl StreamConfig {
    /// Checks every field, naming the first one out of range.
    ///
    /// # Errors
    /// [`Error::Invalid`] with the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
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
        let f = self.out_of_order_fraction;
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::invalid(
                "out_of_order_fraction",
                format!("{f} is not in 0..=1"),
            ));
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
        Ok(())
    }

    /// The composite multiplier of time bursts and the time pattern at `elapsed`
    /// seconds, wall-clock `wall_hour` and `wall_dow` (0 = Monday); at least 0.001.
    pub fn get_rate_multiplier(&self, elapsed: f64, wall_hour: u8, wall_dow: u8) -> f64 {
        let bursts: f64 = self
            .burst_windows
            .iter()
            .filter(|w| w.is_active(elapsed))
            .map(BurstWindow::multiplier)
            .product();
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
}
