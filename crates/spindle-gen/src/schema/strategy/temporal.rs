//! Instants (`temporal`) in a date range: uniform, on trading days, or seasonal
//! (weights by month and weekday, hours around peaks). A table's first timestamp is
//! drawn in ascending order when nothing else moves it, so it streams without a sort.

use super::super::eval::{Eval, Rows};
use super::super::model::{Generator, HourProfile, TemporalPattern};
use super::super::parse::{Gen, Parser, parse_instant};
use super::{Planning, Prep, Strategy};
use crate::dist::{SortedUniforms, Weighted};
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, TimestampMicrosecondArray};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Microseconds in a day.
pub(crate) const DAY: i64 = 86_400_000_000;

pub(super) const TEMPORAL: Strategy = Strategy {
    name: "temporal",
    keys: &[
        "pattern",
        "range_ref",
        "date_range",
        "range",
        "start",
        "end",
        "month_weights",
        "day_of_week_weights",
        "profiles",
    ],
    parse: |p, _, g| p.temporal(g),
};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl Parser<'_> {
    fn temporal(&mut self, g: &Gen) -> Option<Generator> {
        let pattern_name = self.gen_text(g, "pattern").unwrap_or("uniform");
        let (start, end) = self.temporal_range(g)?;
        let pattern = match pattern_name {
            "uniform" => TemporalPattern::Uniform,
            "trading_days" => TemporalPattern::TradingDays,
            "seasonal" => self.seasonal(g)?,
            other => {
                self.err(
                    format!("{}.pattern", g.path),
                    format!("unknown pattern '{other}'; allowed: uniform, seasonal, trading_days"),
                );
                return None;
            }
        };
        Some(Generator::Temporal {
            pattern,
            start,
            end,
        })
    }

    /// The range: the model's (`range_ref`), a `date_range` object, or `start`/`end`
    /// (2022-01-01 to 2025-12-31 by default), as microseconds with the end exclusive.
    fn temporal_range(&mut self, g: &Gen) -> Option<(i64, i64)> {
        if let Some((v, at)) = g.get("range_ref") {
            let r = self.text(v, &at)?;
            if r != "model.date_range" {
                self.err(
                    at,
                    format!("'{r}' is not a range; allowed: model.date_range"),
                );
                return None;
            }
            if self.date_range.is_none() {
                self.err(at, "the model has no date_range");
            }
            return self.date_range;
        }
        if let Some((v, at)) = g.get("date_range").or_else(|| g.get("range")) {
            return self.range(v, &at);
        }
        let (start, _) = self.bound(g, "start", "2022-01-01")?;
        let (end, date_only) = self.bound(g, "end", "2025-12-31")?;
        let end = if date_only { end + DAY } else { end };
        if end <= start {
            self.err(format!("{}.end", g.path), "must come after start");
            return None;
        }
        Some((start, end))
    }

    /// `start` or `end` as an instant, and whether it was a date alone.
    fn bound(&mut self, g: &Gen, key: &str, default: &str) -> Option<(i64, bool)> {
        let (s, at) = match g.get(key) {
            Some((v, at)) => (self.text(v, &at)?, at),
            None => (default, String::new()),
        };
        let parsed = parse_instant(s);
        if parsed.is_none() {
            self.err(
                at,
                format!("'{s}' is not a date (2024-01-31) or date and time"),
            );
        }
        parsed
    }

    /// Month and weekday weights and the hour profile, from `profiles` or the keys
    /// beside it.
    fn seasonal(&mut self, g: &Gen) -> Option<TemporalPattern> {
        let profiles: Option<(&Map<String, Value>, String)> = match g.get("profiles") {
            Some((v, at)) => {
                let m = self.object(v, &at)?;
                self.check_keys(m, &at, &["month", "day_of_week", "hour_of_day"]);
                Some((m, at))
            }
            None => None,
        };
        let pick = |key: &str, top: &str| -> Option<(&Value, String)> {
            profiles
                .as_ref()
                .and_then(|(m, at)| m.get(key).map(|v| (v, format!("{at}.{key}"))))
                .or_else(|| g.get(top))
        };
        let month = match pick("month", "month_weights") {
            Some((v, at)) => self.weights(v, &at, MONTHS)?,
            None => [1.0 / 12.0; 12],
        };
        let weekday = match pick("day_of_week", "day_of_week_weights") {
            Some((v, at)) => self.weights(v, &at, WEEKDAYS)?,
            None => [1.0 / 7.0; 7],
        };
        let hours = match pick("hour_of_day", "hour_of_day") {
            Some((v, at)) => self.hours(v, &at)?,
            None => HourProfile::Uniform,
        };
        Some(TemporalPattern::Seasonal {
            month,
            weekday,
            hours,
        })
    }

    fn weights<const N: usize>(
        &mut self,
        v: &Value,
        path: &str,
        names: [&str; N],
    ) -> Option<[f64; N]> {
        let m = self.object(v, path)?;
        let base = 1.0 / N as f64;
        let mut out = [base; N];
        for (key, w) in m {
            let at = format!("{path}.{key}");
            match names.iter().position(|n| n.eq_ignore_ascii_case(key)) {
                Some(i) => {
                    let w = self.number(w, &at)?;
                    if w < 0.0 {
                        self.err(at, "a weight must be at least 0");
                        return None;
                    }
                    out[i] = w;
                }
                None => self.err(at, format!("unknown key; allowed: {}", names.join(", "))),
            }
        }
        if out.iter().sum::<f64>() <= 0.0 {
            self.err(path, "the weights sum to 0");
            return None;
        }
        Some(out)
    }

    fn hours(&mut self, v: &Value, path: &str) -> Option<HourProfile> {
        let m = self.object(v, path)?;
        self.check_keys(m, path, &["distribution", "peaks", "std_dev"]);
        match m.get("distribution").and_then(Value::as_str) {
            Some("bimodal") => {
                let peaks: Vec<f64> = match m.get("peaks") {
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
                    Some(_) => {
                        self.err(format!("{path}.peaks"), "must be a list of hours");
                        return None;
                    }
                    None => vec![12.0, 18.0],
                };
                if peaks.is_empty() {
                    self.err(format!("{path}.peaks"), "has no hours");
                    return None;
                }
                let sd = match m.get("std_dev") {
                    Some(v) => self.number(v, &format!("{path}.std_dev"))?,
                    None => 2.0,
                };
                Some(HourProfile::Peaks { peaks, sd })
            }
            Some("uniform") | None => Some(HourProfile::Uniform),
            Some(other) => {
                self.err(
                    format!("{path}.distribution"),
                    format!("unknown hour profile '{other}'; allowed: bimodal, uniform"),
                );
                None
            }
        }
    }
}

/// The days a column chooses among (weighted, for a seasonal one), and the sorted
/// positions of a column drawn in ascending order.
pub(super) fn prep(at: &Planning, pattern: &TemporalPattern, start: i64, end: i64) -> Result<Prep> {
    let mut p = Prep::default();
    let sorted = at.layout.ordered_by[at.table] == Some(at.column);
    if sorted {
        p.sorted = Some(SortedUniforms::new(
            at.stream.bits(u64::MAX - 7),
            at.path,
            at.rows(),
        ));
    }
    let first_day = start.div_euclid(DAY);
    let last_day = (end - 1).div_euclid(DAY);
    let invalid = |why: &str| Error::Schema(format!("{}.generator: {why}", at.path));
    if last_day - first_day > 366 * 2000 {
        return Err(invalid("the range spans more than 2,000 years"));
    }
    match pattern {
        TemporalPattern::Uniform => {}
        TemporalPattern::TradingDays => {
            // 1970-01-01 was a Thursday: weekday index (Monday 0) is (day + 3) % 7.
            p.days = (first_day..=last_day)
                .filter(|d| (d + 3).rem_euclid(7) < 5)
                .map(|d| d * DAY)
                .collect();
            if p.days.is_empty() {
                return Err(invalid("the range holds no weekday"));
            }
        }
        TemporalPattern::Seasonal {
            month,
            weekday,
            hours,
        } => {
            let mut weights = Vec::new();
            for d in first_day..=last_day {
                let date = chrono::DateTime::from_timestamp(d * 86_400, 0)
                    .expect("in range")
                    .date_naive();
                let m = chrono::Datelike::month0(&date) as usize;
                let w = (d + 3).rem_euclid(7) as usize;
                p.days.push(d * DAY);
                weights.push(month[m] * weekday[w]);
            }
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(invalid("every day of the range has weight 0"));
            }
            if let (true, HourProfile::Peaks { peaks, sd }) = (sorted, hours) {
                let by_hour = hour_weights(peaks, *sd);
                let buckets: Vec<f64> = weights
                    .iter()
                    .flat_map(|w| by_hour.iter().map(move |h| w * h))
                    .collect();
                p.hours = Some(Weighted::new(&buckets));
            }
            p.weighted = Some(Weighted::new(&weights));
        }
    }
    Ok(p)
}

impl Eval<'_> {
    pub(super) fn temporal(
        &self,
        c: usize,
        pattern: &TemporalPattern,
        start: i64,
        end: i64,
    ) -> ArrayRef {
        let prep = &self.e.preps[self.t][c];
        let v = match &prep.sorted {
            Some(sorted) => sorted_positions(sorted, &self.rows)
                .into_iter()
                .map(|u| ascending_instant(prep, pattern, (start, end), u))
                .collect(),
            None => self.drawn_instants(c, pattern, start, end),
        };
        Arc::new(TimestampMicrosecondArray::from(v))
    }

    /// Instants drawn row by row.
    fn drawn_instants(
        &self,
        c: usize,
        pattern: &TemporalPattern,
        start: i64,
        end: i64,
    ) -> Vec<i64> {
        let (s, prep) = (self.stream(c), &self.e.preps[self.t][c]);
        self.rows.map(|r| match pattern {
            TemporalPattern::Uniform => start + s.below(r, (end - start) as u64) as i64,
            TemporalPattern::TradingDays => {
                let day = prep.days[s.below(r, prep.days.len() as u64) as usize];
                (day + s.below2(r, 1, DAY as u64) as i64).clamp(start, end - 1)
            }
            TemporalPattern::Seasonal { hours, .. } => {
                let day = prep.days[prep.weighted.as_ref().expect("seasonal days").sample(s, r)];
                let time = match hours {
                    HourProfile::Uniform => s.below2(r, 1, DAY as u64) as i64,
                    HourProfile::Peaks { peaks, sd } => {
                        let peak = peaks[s.below2(r, 2, peaks.len() as u64) as usize];
                        let z = s.fork(r).normal(3);
                        let hour = (peak + sd * z).floor().rem_euclid(24.0) as i64;
                        let minute = s.below2(r, 4, 60) as i64;
                        let second = s.below2(r, 5, 60) as i64;
                        (hour * 3600 + minute * 60 + second) * 1_000_000
                    }
                };
                (day + time).clamp(start, end - 1)
            }
        })
    }
}

/// The instant at sorted position `u` (in 0..1) of an ascending column.
fn ascending_instant(
    prep: &Prep,
    pattern: &TemporalPattern,
    (start, end): (i64, i64),
    u: f64,
) -> i64 {
    let t = match pattern {
        TemporalPattern::Uniform => start + (u * (end - start) as f64) as i64,
        TemporalPattern::TradingDays => {
            let x = u * prep.days.len() as f64;
            let i = (x as usize).min(prep.days.len() - 1);
            prep.days[i] + ((x - i as f64) * DAY as f64) as i64
        }
        TemporalPattern::Seasonal { .. } => match &prep.hours {
            Some(hours) => {
                let (i, frac) = hours.at_with_fraction(u);
                prep.days[i / 24] + (i % 24) as i64 * 3_600_000_000 + (frac * 3.6e9) as i64
            }
            None => {
                let (i, frac) = prep
                    .weighted
                    .as_ref()
                    .expect("seasonal days")
                    .at_with_fraction(u);
                prep.days[i] + (frac * DAY as f64) as i64
            }
        },
    };
    t.clamp(start, end - 1)
}

/// Sorted positions of `rows`.
fn sorted_positions(sorted: &SortedUniforms, rows: &Rows) -> Vec<f64> {
    match rows {
        Rows::Range(r) => sorted.range(r.start, r.end),
        Rows::List(list) => sorted.at(list),
    }
}

/// The share of each hour of the day when whole hours are drawn around `peaks` with
/// spread `sd` (a mixture of normals, floored and wrapped onto the day).
fn hour_weights(peaks: &[f64], sd: f64) -> [f64; 24] {
    let cdf = |x: f64| {
        if sd > 0.0 {
            0.5 * (1.0 + erf(x / (sd * std::f64::consts::SQRT_2)))
        } else if x >= 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let mut w = [0.0; 24];
    for (h, slot) in w.iter_mut().enumerate() {
        for peak in peaks {
            for k in -3..=3 {
                let lo = h as f64 + 24.0 * f64::from(k) - peak;
                *slot += cdf(lo + 1.0) - cdf(lo);
            }
        }
    }
    w
}

/// The error function (Abramowitz and Stegun 7.1.26, within 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}
