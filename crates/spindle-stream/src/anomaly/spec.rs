//! What an anomaly is: the three kinds as one enum ([`Anomaly`]), each answering
//! [`AnomalyKind`].

use super::collective::CollectiveAnomaly;
use super::contextual::ContextualAnomaly;
use super::kind::{AnomalyKind, InPlaceKind};
use super::point::PointAnomaly;
use crate::error::{Error, Result};

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

/// How the injector drives an anomaly (see [`Anomaly::role`]).
pub(super) enum Role<'a> {
    /// Its values edited where its rows stand.
    InPlace(&'a dyn InPlaceKind),
    /// Its rows moved in event time.
    Collective(&'a CollectiveAnomaly),
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

    /// The kind it is, for how the injector drives it: in place, or moving rows.
    pub(super) fn role(&self) -> Role<'_> {
        match self {
            Anomaly::Point(a) => Role::InPlace(a),
            Anomaly::Contextual(a) => Role::InPlace(a),
            Anomaly::Collective(a) => Role::Collective(a),
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
