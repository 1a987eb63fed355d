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
//!
//! A file per kind holds its spec, its answers to [`AnomalyKind`] (`kind.rs`) and its
//! kernel (`point.rs`, `contextual.rs`, `collective.rs`); `kernels.rs` the edit they share and its Arrow helpers;
//! `registry.rs` the checks and the order edits apply in; `injector.rs` the survey
//! pass and the chunk-by-chunk injection (merged or placed).

use crate::error::{Error, Result};

mod collective;
mod contextual;
mod injector;
mod kernels;
mod kind;
mod point;
mod registry;

pub use collective::CollectiveAnomaly;
pub use contextual::ContextualAnomaly;
pub(crate) use injector::{ColumnRead, Injector, Placement, Positioned};
pub(crate) use kind::AnomalyKind;
pub use point::PointAnomaly;
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
    /// The kind it is, for what every kind answers.
    pub(crate) fn as_kind(&self) -> &dyn AnomalyKind {
        match self {
            Anomaly::Point(a) => a,
            Anomaly::Contextual(a) => a,
            Anomaly::Collective(a) => a,
        }
    }

    /// The label written into `_spindle_anomaly_type`: `kind:name`.
    pub fn anomaly_type(&self) -> String {
        let a = self.as_kind();
        format!("{}:{}", a.kind(), a.name())
    }

    /// Checks settings that do not depend on a table.
    ///
    /// # Errors
    /// A fraction outside 0..=1, a bad multiplier range or window, no values.
    pub fn validate(&self) -> Result<()> {
        let f = self.as_kind().fraction();
        let label = self.anomaly_type();
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::invalid(
                "fraction",
                format!("{label}: {f} is not in 0..=1"),
            ));
        }
        self.as_kind().check_settings(&label)
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
