//! What every kind of anomaly answers, each in its own file (`point.rs`,
//! `contextual.rs`, `collective.rs`): its label, its share, the checks of its settings
//! and of the columns it reads, the columns its survey reads, the column it overwrites
//! and whether it moves rows in event time. A kind that edits values where its rows
//! stand (point, contextual) answers [`InPlaceKind`] too: what its survey learns of the
//! table ([`Learner`]), and its plan and edit ([`InPlacePlan`]), each in its own file.
//! The collective kind, whose survey keeps the rows it moves, is driven by the
//! injector through its own types (`GroupSurvey`, `Chosen`).

use super::kernels::Edit;
use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use spindle_gen::rng::RandomStream;

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

    /// The column whose values make a row eligible, where it picks among eligible rows
    /// (by rank in table order) rather than among all of them.
    fn eligible_by(&self) -> Option<&str> {
        None
    }
}

/// An anomaly that edits values where its rows stand (point, contextual).
pub(super) trait InPlaceKind: AnomalyKind {
    /// Starts the survey of a table of `schema` (checked), drawing from `stream`.
    fn learner(&self, schema: &Schema, stream: RandomStream) -> Box<dyn Learner + '_>;
}

/// What an in-place anomaly learns of the whole table in the survey, which reads it in
/// table order.
pub(super) trait Learner {
    /// Learns from `batch`, the table's next rows, the first at position `first`.
    /// Returns, for a kind that picks among eligible rows, the batch's eligible rows as
    /// (row, rank among the table's eligible rows), ascending; else nothing.
    ///
    /// # Errors
    /// Arrow errors.
    fn learn(&mut self, batch: &RecordBatch, first: u64) -> Result<Vec<(u32, u64)>>;

    /// Its plan, of what it learned over the table's `rows`.
    fn plan(self: Box<Self>, rows: u64) -> Box<dyn InPlacePlan>;
}

/// An in-place anomaly planned for a table: the rows it picks and their new values.
pub(super) trait InPlacePlan: Send + Sync {
    /// As [`Learner::learn`], of `batch`, the next rows of the table read again in
    /// table order.
    ///
    /// # Errors
    /// Arrow errors.
    fn next_ranks(&mut self, batch: &RecordBatch) -> Result<Vec<(u32, u64)>>;

    /// The table positions it picks, ascending, where it picks by position rather than
    /// by rank among eligible rows.
    fn picks_by_position(&self) -> Option<&[u64]>;

    /// The rows of a batch it picks, whose rows sit at `positions` (ascending) in the
    /// table and whose eligible rows have `ranks` (as [`Learner::learn`] gives them).
    fn picked(&self, positions: &[u64], ranks: &[(u32, u64)]) -> Vec<u32>;

    /// Its edit of `rows` (ascending, the ones it picks) of `batch`, whose rows sit at
    /// `positions` in the table.
    ///
    /// # Errors
    /// Arrow errors.
    fn edit_rows(&self, batch: &RecordBatch, positions: &[u64], rows: Vec<u32>) -> Result<Edit>;

    /// Its edit of `batch`, as [`InPlacePlan::picked`] and [`InPlacePlan::edit_rows`].
    ///
    /// # Errors
    /// Arrow errors.
    fn edit(&self, batch: &RecordBatch, positions: &[u64], ranks: &[(u32, u64)]) -> Result<Edit> {
        self.edit_rows(batch, positions, self.picked(positions, ranks))
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
