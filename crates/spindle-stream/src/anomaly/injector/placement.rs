//! Chunks made in the order they are sent: the rows that stay and the moved rows that
//! arrive among them, placed, then edited and labelled.

use super::survey::*;
use super::*;
use crate::anomaly::registry::label_text;

/// The rows the collective anomalies move, where each chunk is made in the order it is
/// sent ([`Injector::place`]): what their edits need, without their values.
pub(super) struct Placed {
    /// What each anomaly, in registry order, does to the moved rows.
    pub(super) of_moved: Vec<OfMoved>,
}

/// What an anomaly does to each moved row (by index among the moved rows).
pub(super) enum OfMoved {
    /// Whether an anomaly that picks by position (point) picks the row.
    Picked(Vec<bool>),
    /// The row's rank among the eligible rows, for an anomaly that picks among them
    /// (contextual; `u64::MAX`: not eligible).
    Ranked(Vec<u64>),
    /// The collective anomaly's edit of the moved rows (its column one of the table's,
    /// its rows indexes among the moved rows; `None` when none moves), and each row's
    /// value in it (`u32::MAX`: this anomaly does not move the row).
    Collective(Option<Edit>, Vec<u32>),
}

/// One chunk as it is sent, where it is made in that order: the table positions of its
/// rows, and which of them are moved rows.
pub(crate) struct Placement {
    /// Table position of each row, in the order sent.
    pub(crate) positions: Arc<[u64]>,
    /// Table position of the chunk's first row.
    pub(super) first: u64,
    /// The row each of the chunk's rows is sent as (`u32::MAX`: it is a moved row, sent
    /// elsewhere).
    pub(super) sent_as: Vec<u32>,
    /// The moved rows: (row, index among the moved rows).
    pub(super) moved: Vec<(u32, u32)>,
    /// For each anomaly, in registry order: a contextual one's ranks of the eligible
    /// rows, as (row, rank), ascending by rank; empty otherwise.
    pub(super) ranks: Vec<Vec<(u32, u64)>>,
}

impl Injector {
    /// The columns [`Injector::place`] reads of each chunk: the event time, then each
    /// contextual anomaly's condition.
    pub(crate) fn placement_columns(&self) -> Vec<String> {
        let buffer = self.merge.as_ref().expect("planned with plan_placed");
        let mut columns = vec![buffer.column.clone()];
        for a in self.registry.anomalies() {
            if let Some(column) = a.as_kind().eligible_by() {
                push_new(&mut columns, column);
            }
        }
        columns
    }

    /// The next chunk of the table as it is to be sent, where rows are made in the
    /// order sent (see [`AnomalyRegistry::plan_placed`]): `chunk` holds the next rows'
    /// event times and contextual conditions, in table order. Its rows that are not
    /// moved rows, merged with the moved rows whose new event time comes before the
    /// chunk's last row: the rows [`Injector::merged`] would send for the chunk, in the
    /// same order.
    pub(crate) fn place(&mut self, chunk: &RecordBatch) -> Result<Placement> {
        let n = chunk.num_rows();
        let first = self.next;
        self.next += n as u64;
        // The ranks of the chunk's eligible rows, moved ones included.
        let mut chunk_ranks = Vec::with_capacity(self.plans.len());
        for plan in &mut self.plans {
            chunk_ranks.push(match plan {
                Plan::InPlace(plan) => plan.next_ranks(chunk)?,
                Plan::Collective(_) => Vec::new(),
            });
        }
        let buffer = self.merge.as_mut().expect("planned with plan_placed");
        let placed = self.placed.as_ref().expect("planned with plan_placed");
        let moved_positions = &self.moved.positions;
        let keys = event_keys(chunk, &buffer.column)?;
        let end = first + n as u64;
        let out = &moved_positions[moved_positions.partition_point(|&p| p < first)
            ..moved_positions.partition_point(|&p| p < end)];
        let mut out = out.iter().map(|&p| (p - first) as usize).peekable();
        let mut positions = Vec::with_capacity(n);
        let mut sent_as = vec![u32::MAX; n];
        let mut moved = Vec::new();
        let mut b = buffer.next;
        for r in 0..n {
            if out.next_if_eq(&r).is_some() {
                continue;
            }
            let key = (keys[r], first + r as u64);
            while b < buffer.keys.len() {
                let i = buffer.order[b];
                let position = moved_positions[i as usize];
                if (buffer.keys[b], position) > key {
                    break;
                }
                moved.push((positions.len() as u32, i));
                positions.push(position);
                b += 1;
            }
            sent_as[r] = positions.len() as u32;
            positions.push(key.1);
        }
        buffer.next = b;
        let ranks = chunk_ranks
            .into_iter()
            .zip(&placed.of_moved)
            .map(|(in_chunk, of_moved)| {
                let stay = in_chunk
                    .into_iter()
                    .map(|(r, rank)| (sent_as[r as usize], rank))
                    .filter(|&(row, _)| row != u32::MAX);
                sent_ranks(stay, &moved, of_moved)
            })
            .collect();
        Ok(Placement {
            positions: positions.into(),
            first,
            sent_as,
            moved,
            ranks,
        })
    }

    /// After the last chunk placed: the moved rows not yet sent (their event time is
    /// after the table's last row's), placed as [`Injector::place`] does, or `None`.
    ///
    /// # Errors
    /// The table had fewer or more rows than when surveyed.
    pub(crate) fn rest_placed(&mut self) -> Result<Option<Placement>> {
        if self.next != self.rows {
            return Err(changed_between_reads());
        }
        let buffer = self.merge.as_mut().expect("planned with plan_placed");
        let placed = self.placed.as_ref().expect("planned with plan_placed");
        let rest = &buffer.order[buffer.next..];
        if rest.is_empty() {
            return Ok(None);
        }
        let moved: Vec<(u32, u32)> = (0..).zip(rest.iter().copied()).collect();
        let positions = rest
            .iter()
            .map(|&i| self.moved.positions[i as usize])
            .collect();
        let ranks = placed
            .of_moved
            .iter()
            .map(|of_moved| sent_ranks(std::iter::empty(), &moved, of_moved))
            .collect();
        buffer.next = buffer.order.len();
        Ok(Some(Placement {
            positions,
            first: 0,
            sent_as: Vec::new(),
            moved,
            ranks,
        }))
    }

    /// `batch`, the rows of `placement` as the table makes them, with its anomalies and
    /// labels; and each row's table position.
    pub(crate) fn finish_placed(
        &self,
        batch: &RecordBatch,
        placement: &Placement,
    ) -> Result<Positioned> {
        let placed = self.placed.as_ref().expect("planned with plan_placed");
        let positions = &placement.positions;
        let mut edits = Vec::with_capacity(self.plans.len());
        for (k, (plan, of_moved)) in self.plans.iter().zip(&placed.of_moved).enumerate() {
            // The moved rows for which `test` holds of their index among the moved rows.
            let moved_rows = |test: &dyn Fn(u32) -> bool| -> Vec<u32> {
                placement
                    .moved
                    .iter()
                    .filter(|&&(_, i)| test(i))
                    .map(|&(row, _)| row)
                    .collect()
            };
            let edit = match (plan, of_moved) {
                (Plan::InPlace(plan), OfMoved::Picked(picked)) => {
                    let (first, sent_as) = (placement.first, &placement.sent_as);
                    let picks = plan.picks_by_position().expect("picks by position");
                    let picks = &picks[picks.partition_point(|&x| x < first)
                        ..picks.partition_point(|&x| x < first + sent_as.len() as u64)];
                    let mut rows: Vec<u32> = picks
                        .iter()
                        .map(|&x| sent_as[(x - first) as usize])
                        .filter(|&row| row != u32::MAX)
                        .chain(moved_rows(&|i| picked[i as usize]))
                        .collect();
                    rows.sort_unstable();
                    plan.edit_rows(batch, positions, rows)?
                }
                (Plan::InPlace(plan), _) => {
                    // Ascending by rank, not by row: moved rows arrive among the others.
                    let mut rows = plan.picked(positions, &placement.ranks[k]);
                    rows.sort_unstable();
                    plan.edit_rows(batch, positions, rows)?
                }
                // Without moved rows, nothing to do (as for the rows that stay).
                (Plan::Collective(_), OfMoved::Collective(Some(all), value_of)) => {
                    let rows = moved_rows(&|i| value_of[i as usize] != u32::MAX);
                    let taken = placement
                        .moved
                        .iter()
                        .map(|&(_, i)| value_of[i as usize])
                        .filter(|&j| j != u32::MAX);
                    Edit {
                        column: all.column,
                        new_type: None,
                        nullable: false,
                        rows,
                        values: arrow_select::take::take(
                            &all.values,
                            &UInt32Array::from_iter_values(taken),
                            None,
                        )?,
                    }
                }
                _ => continue,
            };
            edits.push((k, edit));
        }
        let edited = self.registry.apply(batch, &edits, &self.kinds)?;
        let seq = Int64Array::from_iter_values(positions.iter().map(|&p| p as i64));
        Ok((label_text(edited)?, seq))
    }
}

/// An anomaly's ranks of a chunk's eligible rows, as (row, rank) ascending by
/// rank: those of the rows that `stay`, and those of the `moved` rows (row, index among
/// the moved rows) that `of_moved` ranks. Empty for other anomalies.
pub(super) fn sent_ranks(
    stay: impl Iterator<Item = (u32, u64)>,
    moved: &[(u32, u32)],
    of_moved: &OfMoved,
) -> Vec<(u32, u64)> {
    let OfMoved::Ranked(moved_rank) = of_moved else {
        return Vec::new();
    };
    let mut ranks: Vec<(u32, u64)> = stay
        .chain(moved.iter().filter_map(|&(row, i)| {
            let rank = moved_rank[i as usize];
            (rank != u64::MAX).then_some((row, rank))
        }))
        .collect();
    ranks.sort_unstable_by_key(|&(_, rank)| rank);
    ranks
}
