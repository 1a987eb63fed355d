//! What an anomaly is: the three kinds as one enum ([`Anomaly`]), the literal values
//! contextual anomalies compare and write ([`Value`]), and how many of a table's
//! candidates a fraction picks ([`pick_count`]).

use super::collective::CollectiveAnomaly;
use super::contextual::ContextualAnomaly;
use super::kind::AnomalyKind;
use super::point::PointAnomaly;
use crate::error::{Error, Result};

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
