//! Injection in bounded memory: a survey pass over the table learns what the anomalies
//! need of all of it (row count, a column's mean, eligible rows, group sizes) and keeps
//! only the rows the collective anomalies move; then the table is read again, chunk by
//! chunk, each chunk edited on its own. The moved rows, finished at the end of the
//! survey, are put back in their place, or merged into the stream at their new event
//! time.
//!
//! A generated table that makes rows at any positions (see
//! [`spindle_gen::DomainPlan::generate_rows`]) is streamed without moving rows at all:
//! the survey reads just the columns it looks at and keeps, of the moved rows, their
//! positions and what their edits need; each chunk is then made in the order it is sent,
//! its rows that stay and the moved rows that arrive among them, and edited
//! ([`Injector::place`], [`Injector::finish_placed`]). The same events as merging kept
//! rows into chunks made in table order, without a second pass over each chunk's memory
//! or the moved rows' values held.

mod merge;
mod placement;
mod survey;

use crate::anomaly::collective::{Chosen, GroupSurvey, PRIORITY_MARGIN_SIGMAS, collective_edit};
use crate::anomaly::kernels::{self, Edit};
use crate::anomaly::kind::{InPlacePlan, Learner};
use crate::anomaly::registry::AnomalyRegistry;
use crate::anomaly::spec::Anomaly;
use crate::anomaly::spec::Role;
use crate::batches::Batches;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Int64Array, RecordBatch, UInt32Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Schema, SchemaRef};
use rayon::prelude::*;
use spindle_gen::rng::RandomStream;
use std::sync::Arc;

use merge::{MergeBuffer, Moved};
use placement::Placed;
pub(crate) use placement::Placement;
pub(crate) use survey::ColumnRead;
use survey::Plan;

/// A planned injection, applied to the table chunk by chunk in table order (see
/// [`AnomalyRegistry::plan`]).
pub(crate) struct Injector {
    registry: AnomalyRegistry,
    /// The values of the anomaly type column's dictionary (see
    /// [`AnomalyRegistry::apply`]), shared by every batch this injector labels.
    kinds: ArrayRef,
    streams: Vec<RandomStream>,
    plans: Vec<Plan>,
    /// Rows of the table, as the survey counted them.
    rows: u64,
    /// Table position of the next chunk's first row.
    next: u64,
    /// The rows the collective anomalies move, finished (edited and labelled); or,
    /// where they are made where they are sent, their positions alone.
    moved: Moved,
    merge: Option<MergeBuffer>,
    /// What the moved rows' edits need, where they are made where they are sent (see
    /// [`AnomalyRegistry::plan_placed`]).
    placed: Option<Placed>,
}

/// A chunk's rows as events: the batch and each row's table position.
pub(crate) type Positioned = (RecordBatch, Int64Array);

/// Adds `column` to `columns` unless it is there already.
pub(super) fn push_new(columns: &mut Vec<String>, column: &str) {
    if !columns.iter().any(|c| c == column) {
        columns.push(column.to_string());
    }
}

pub(super) fn changed_between_reads() -> Error {
    Error::invalid(
        "source",
        "the table's rows changed between two reads of it: anomalies read a table twice \
         (once to plan, once to inject) and need the same rows in the same order each \
         time (for a query, an ORDER BY on every row)",
    )
}

/// `column` of `batch` as one `i64` per row (ticks of times, days of dates; nulls
/// first), for ordering events.
pub(super) fn event_keys(batch: &RecordBatch, column: &str) -> Result<Vec<i64>> {
    let array = batch.column_by_name(column).expect("checked");
    let ticks = arrow_cast::cast(array, &DataType::Int64)?;
    let ticks = ticks.as_primitive::<Int64Type>();
    Ok((0..ticks.len())
        .map(|i| {
            if ticks.is_valid(i) {
                ticks.value(i)
            } else {
                i64::MIN
            }
        })
        .collect())
}

/// A batch made of `runs` of rows of `batches` (all of one schema).
pub(super) fn splice(
    batches: &[&RecordBatch],
    runs: &[(usize, usize, usize)],
) -> Result<RecordBatch> {
    let columns = (0..batches[0].num_columns())
        .map(|c| {
            let arrays: Vec<&ArrayRef> = batches.iter().map(|b| b.column(c)).collect();
            kernels::splice(&arrays, runs)
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new(batches[0].schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::merge::*;
    use super::survey::*;
    use super::*;
    use crate::anomaly::{CollectiveAnomaly, ContextualAnomaly, Value};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The survey joins the rows it keeps into pieces of `KEPT_PIECE_ROWS` or more as
    /// they come (the last few at the end), the rows, their positions and the
    /// contextual ranks (row within the piece) unchanged in order and value.
    #[test]
    fn the_survey_joins_the_rows_it_keeps_into_large_pieces() {
        let registry = AnomalyRegistry::new(vec![Anomaly::Contextual(ContextualAnomaly {
            name: "flip".into(),
            column: "v".into(),
            condition_column: "v".into(),
            normal_values: vec![Value::Int(0)],
            anomalous_values: vec![Value::Int(1)],
            fraction: 0.5,
        })]);
        let streams = [RandomStream::new(1, "survey")];
        // Chunks of these sizes; every third row has v = 0 (eligible), and the survey
        // keeps every row of positions 0..8 and 30..: whole chunks but for one.
        let sizes = [
            KEPT_PIECE_ROWS / 2,
            KEPT_PIECE_ROWS / 4,
            5,
            KEPT_PIECE_ROWS / 4 + 30,
            7,
            11,
        ];
        let chunk = |first: u64, rows: usize| {
            let values = (first..first + rows as u64).map(|p| i64::from(p % 3 != 0));
            RecordBatch::try_from_iter([(
                "v",
                Arc::new(Int64Array::from_iter_values(values)) as ArrayRef,
            )])
            .unwrap()
        };
        let mut first = 0;
        let mut chunks = Vec::new();
        for size in sizes {
            chunks.push(Ok(chunk(first, size)));
            first += size as u64;
        }
        let total = first;
        let kept_position = |p: u64| !(8..30).contains(&p);
        let mut at = 0u64;
        let schema = chunks[0].as_ref().unwrap().schema();
        let (rows, _, kept) = survey::survey(
            &registry,
            &schema,
            &streams,
            0.0,
            Box::new(chunks.into_iter()),
            |_, batch, marks, _| {
                for (row, mark) in marks.iter_mut().enumerate() {
                    *mark = kept_position(at + row as u64);
                }
                at += batch.num_rows() as u64;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rows, total);
        let sizes: Vec<usize> = kept.iter().map(|k| k.batch.num_rows()).collect();
        // The first four chunks' kept rows (22 left out) reach the size; the last two
        // are joined at the end.
        assert_eq!(sizes, [KEPT_PIECE_ROWS + 13, 7 + 11]);
        let positions: Vec<u64> = (0..total).filter(|&p| kept_position(p)).collect();
        let all = Kept::concat(kept).unwrap();
        assert!(all.positions == positions, "positions");
        let values = all.batch.column(0).as_primitive::<Int64Type>();
        assert!(
            positions
                .iter()
                .enumerate()
                .all(|(row, &p)| values.value(row) == i64::from(p % 3 != 0)),
            "rows"
        );
        let ranks: Vec<(u32, u64)> = positions
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p % 3 == 0)
            .map(|(row, &p)| (row as u32, p / 3))
            .collect();
        assert!(all.ranks == [ranks], "ranks");
    }

    /// When the survey's bound falls below a chosen group's priority (a few in a
    /// million runs with the real margin; every run with a negative one), the chosen
    /// groups' rows are read again and the result is the same.
    #[test]
    fn a_survey_that_missed_chosen_rows_reads_them_again() {
        let orders = spindle_gen::Spindle::generate(
            &spindle_gen::RetailDomain::new(),
            spindle_gen::Scale::Small,
            42,
        )
        .unwrap()
        .table("order")
        .unwrap()
        .clone();
        let registry = AnomalyRegistry::new(vec![
            CollectiveAnomaly::new("c", "customer_id", "order_date")
                .fraction(0.3)
                .into(),
        ]);
        let inject = |margin: f64| {
            let reads = AtomicUsize::new(0);
            let table = orders.clone();
            let reread = || -> Result<Batches> {
                reads.fetch_add(1, Ordering::SeqCst);
                let table = table.clone();
                Ok(Box::new(
                    (0..5).map(move |i| Ok(table.slice(i * 1_000, 1_000))),
                ))
            };
            let mut injector = registry
                .plan_with_margin("order", &orders.schema(), 7, &reread, None, margin)
                .unwrap();
            let batch = injector.in_place(&orders).unwrap();
            injector.rest().unwrap();
            (batch, reads.load(Ordering::SeqCst))
        };
        let (expected, reads) = inject(PRIORITY_MARGIN_SIGMAS);
        assert_eq!(reads, 1);
        let (again, reads) = inject(-20.0);
        assert_eq!(reads, 2, "the chosen rows were read again");
        assert_eq!(again, expected);
    }

    /// `gather` gives what Arrow's interleave gives, for booleans with and without
    /// nulls and for dictionaries that share their values or not.
    #[test]
    fn gather_equals_arrow_interleave() {
        use arrow_array::StringArray;
        let kinds: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let coded = |keys: Vec<Option<u16>>, values: &ArrayRef| -> ArrayRef {
            Arc::new(DictionaryArray::new(keys.into(), values.clone()))
        };
        let own: ArrayRef = Arc::new(StringArray::from(vec!["x", "b"]));
        let batch =
            |flags: Vec<Option<bool>>, dense: Vec<bool>, shared: ArrayRef, mixed: ArrayRef| {
                RecordBatch::try_from_iter([
                    ("nullable", Arc::new(BooleanArray::from(flags)) as ArrayRef),
                    ("dense", Arc::new(BooleanArray::from(dense)) as ArrayRef),
                    ("shared", shared),
                    ("mixed", mixed),
                ])
                .unwrap()
            };
        let one = batch(
            vec![Some(true), None, Some(false)],
            vec![true, false, true],
            coded(vec![Some(0), None, Some(1)], &kinds),
            coded(vec![Some(1), Some(0), None], &kinds),
        );
        let two = batch(
            vec![None, Some(true)],
            vec![false, true],
            coded(vec![Some(1), Some(1)], &kinds),
            coded(vec![Some(0), None], &own),
        );
        let indices = [(1, 1), (0, 2), (0, 0), (1, 0), (0, 1), (1, 1), (0, 2)];
        let gathered = gather(&[&one, &two], &indices).unwrap();
        let expected =
            arrow_select::interleave::interleave_record_batch(&[&one, &two], &indices).unwrap();
        assert_eq!(gathered.schema(), expected.schema());
        for (got, want) in gathered.columns().iter().zip(expected.columns()) {
            let text = |a: &ArrayRef| arrow_cast::cast(a, &DataType::Utf8).unwrap();
            assert_eq!(text(got).as_ref(), text(want).as_ref());
            assert_eq!(got.logical_nulls(), want.logical_nulls());
        }
        let shared = gathered.column(2).as_dictionary::<UInt16Type>();
        assert!(
            Arc::ptr_eq(shared.values(), &kinds),
            "shared values kept, not copied"
        );
    }
}
