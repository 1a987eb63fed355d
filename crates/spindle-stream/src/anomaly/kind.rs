//! What every kind of anomaly answers, each in its own file (`point.rs`,
//! `contextual.rs`, `collective.rs`): its label, its share, the checks of its settings
//! and of the columns it reads, the columns its survey reads, the column it overwrites
//! and whether it moves rows in event time. What a kind learns in the survey, its plan
//! and its edit are types of its own file (`AbsMean` and `PointPlan`, ...), driven by
//! the injector.

use crate::error::{Error, Result};
use arrow_schema::Schema;

/// One kind of anomaly (see the module docs).
pub(crate) trait AnomalyKind {
    /// The kind's word in labels: `point`, `contextual`, `collective`.
    fn kind(&self) -> &'static str;

    /// The anomaly's name, after the kind in its label.
    fn name(&self) -> &str;

    /// Share of the eligible rows (or groups) it picks.
    fn fraction(&self) -> f64;

    /// Checks the kind's own settings; `label` names the anomaly in errors.
    ///
    /// # Errors
    /// A setting out of its range, naming it.
    fn check_settings(&self, label: &str) -> Result<()>;

    /// Checks the columns it reads and writes against `schema` of `table`.
    ///
    /// # Errors
    /// A missing column, or one of a type it cannot use.
    fn check_columns(&self, table: &str, schema: &Schema) -> Result<()>;

    /// The columns its survey pass reads.
    fn surveyed(&self) -> Vec<&str>;

    /// The column whose values it overwrites in place, if any.
    fn overwrites(&self) -> Option<&str>;

    /// Whether it gives rows new event times (they then leave their place).
    fn moves_rows(&self) -> bool {
        false
    }
}

/// The index of column `name` in `schema` of `table`; `what` says what the anomaly
/// uses it for, in the error where there is none.
pub(super) fn find_column(what: &str, name: &str, table: &str, schema: &Schema) -> Result<usize> {
    schema
        .index_of(name)
        .map_err(|_| Error::column(what, name, "does not exist", table, schema))
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
