//! Labelled anomalies as column kernels: point, contextual and collective.
//!
//! Each anomaly first learns what it needs of the whole table (the row count, a
//! column's mean, how many rows its condition holds on, group sizes) in a survey pass,
//! then turns any batch of the table's rows into a set of edits (rows and their new
//! values) without touching it; the registry applies them in registry order, so a
//! later anomaly overrides an earlier one on the same cell and label. Every random draw
//! comes from `(seed, anomaly position and name, table position or group key)`, so the
//! result does not depend on the thread count or on how the table is chunked: a table
//! injected chunk by chunk equals the table injected whole.

use crate::error::{Error, Result};

mod injector;
mod kernels;
mod registry;

pub(crate) use injector::{ColumnRead, Injector, Placement, Positioned};
pub use registry::{AnomalyRegistry, Injected};

pub use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};

/// A literal value used by [`ContextualAnomaly`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// No value: as an anomalous value it writes a null (the seed's "NULL shipping
    /// address"), making the column nullable in every batch; as a normal value it makes
    /// rows whose condition column is null eligible.
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A value far outside the column's normal range: `mean(|column|) x U(min, max) x
/// U(0.8, 1.2)`, rounded to cents. Integer columns become Float64.
#[derive(Clone, Debug, PartialEq)]
pub struct PointAnomaly {
    /// Short label, used in `point:<name>`.
    pub name: String,
    /// Numeric column to modify.
    pub column: String,
    /// `(min, max)` multiplier of the column's mean absolute value. Default (10, 100).
    pub multiplier_range: (f64, f64),
    /// Share of rows to modify. Default 0.01.
    pub fraction: f64,
}

impl PointAnomaly {
    /// A point anomaly with the reference's defaults.
    pub fn new(name: &str, column: &str) -> Self {
        Self {
            name: name.into(),
            column: column.into(),
            multiplier_range: (10.0, 100.0),
            fraction: 0.01,
        }
    }
    /// Sets the multiplier range.
    pub fn multiplier_range(mut self, min: f64, max: f64) -> Self {
        self.multiplier_range = (min, max);
        self
    }
    /// Sets the share of rows.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

/// A normal value in the wrong context: among rows whose `condition_column` is one of
/// `normal_values`, a share gets one of `anomalous_values` written into `column`.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextualAnomaly {
    /// Short label, used in `contextual:<name>`.
    pub name: String,
    /// Column to overwrite.
    pub column: String,
    /// Column deciding which rows are eligible.
    pub condition_column: String,
    /// Values of `condition_column` that make a row eligible.
    pub normal_values: Vec<Value>,
    /// Values written into `column`, one drawn per row.
    pub anomalous_values: Vec<Value>,
    /// Share of eligible rows to modify. Default 0.01.
    pub fraction: f64,
}

impl ContextualAnomaly {
    /// A contextual anomaly with the reference's default fraction.
    pub fn new(
        name: &str,
        column: &str,
        condition_column: &str,
        normal_values: Vec<Value>,
        anomalous_values: Vec<Value>,
    ) -> Self {
        Self {
            name: name.into(),
            column: column.into(),
            condition_column: condition_column.into(),
            normal_values,
            anomalous_values,
            fraction: 0.01,
        }
    }
    /// Sets the share of eligible rows.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

/// Rows abnormal together: a share of the groups of `group_column` (with at least two
/// rows) get their timestamps squeezed into `window_seconds`, starting at the group's
/// own first event, order kept.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectiveAnomaly {
    /// Short label, used in `collective:<name>`.
    pub name: String,
    /// Column whose distinct values define groups (e.g. `customer_id`).
    pub group_column: String,
    /// Timestamp column to squeeze.
    pub timestamp_column: String,
    /// Length of the burst window in seconds. Default 600.
    pub window_seconds: f64,
    /// Share of groups to corrupt. Default 0.005.
    pub fraction: f64,
}

impl CollectiveAnomaly {
    /// A collective anomaly with the reference's defaults.
    pub fn new(name: &str, group_column: &str, timestamp_column: &str) -> Self {
        Self {
            name: name.into(),
            group_column: group_column.into(),
            timestamp_column: timestamp_column.into(),
            window_seconds: 600.0,
            fraction: 0.005,
        }
    }
    /// Sets the window length.
    pub fn window_seconds(mut self, seconds: f64) -> Self {
        self.window_seconds = seconds;
        self
    }
    /// Sets the share of groups.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

/// Any of the three kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Anomaly {
    /// See [`PointAnomaly`].
    Point(PointAnomaly),
    /// See [`ContextualAnomaly`].
    Contextual(ContextualAnomaly),
    /// See [`CollectiveAnomaly`].
    Collective(CollectiveAnomaly),
}

impl From<PointAnomaly> for Anomaly {
    fn from(a: PointAnomaly) -> Self {
        Anomaly::Point(a)
    }
}
impl From<ContextualAnomaly> for Anomaly {
    fn from(a: ContextualAnomaly) -> Self {
        Anomaly::Contextual(a)
    }
}
impl From<CollectiveAnomaly> for Anomaly {
    fn from(a: CollectiveAnomaly) -> Self {
        Anomaly::Collective(a)
    }
}

impl Anomaly {
    /// The label written into `_spindle_anomaly_type`: `kind:name`.
    pub fn anomaly_type(&self) -> String {
        match self {
            Anomaly::Point(a) => format!("point:{}", a.name),
            Anomaly::Contextual(a) => format!("contextual:{}", a.name),
            Anomaly::Collective(a) => format!("collective:{}", a.name),
        }
    }

    fn fraction(&self) -> f64 {
        match self {
            Anomaly::Point(a) => a.fraction,
            Anomaly::Contextual(a) => a.fraction,
            Anomaly::Collective(a) => a.fraction,
        }
    }

    /// Checks settings that do not depend on a table.
    ///
    /// # Errors
    /// A fraction outside 0..=1, a bad multiplier range or window, no values.
    pub fn validate(&self) -> Result<()> {
        let f = self.fraction();
        let label = self.anomaly_type();
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::invalid(
                "fraction",
                format!("{label}: {f} is not in 0..=1"),
            ));
        }
        match self {
            Anomaly::Point(a) => {
                let (lo, hi) = a.multiplier_range;
                if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                    return Err(Error::invalid(
                        "multiplier_range",
                        format!("{label}: ({lo}, {hi}) must satisfy 0 < min <= max"),
                    ));
                }
            }
            Anomaly::Contextual(a) => {
                if a.normal_values.is_empty() || a.anomalous_values.is_empty() {
                    return Err(Error::invalid(
                        "normal_values",
                        format!("{label}: normal_values and anomalous_values must not be empty"),
                    ));
                }
            }
            Anomaly::Collective(a) => {
                if !(a.window_seconds.is_finite() && a.window_seconds > 0.0) {
                    return Err(Error::invalid(
                        "window_seconds",
                        format!("{label}: {} must be > 0", a.window_seconds),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How many of `n` candidates a `fraction` picks: as the reference,
/// `max(1, floor(n x fraction))`, but none for a zero fraction or no candidates.
pub fn pick_count(n: u64, fraction: f64) -> u64 {
    if n == 0 || fraction <= 0.0 {
        0
    } else {
        ((n as f64 * fraction).floor() as u64).clamp(1, n)
    }
}
