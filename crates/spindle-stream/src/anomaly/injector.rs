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

use super::collective::{Chosen, GroupSurvey, PRIORITY_MARGIN_SIGMAS, collective_edit};
use super::contextual::{self, ContextualPlan};
use super::kernels::{self, Edit};
use super::point::{AbsMean, PointPlan};
use super::{Anomaly, AnomalyRegistry};
use crate::error::{Error, Result};
use crate::streamer::Batches;
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

/// Reads a table from its start: once for the survey, again for the injection (and a
/// third time in the rare case that the survey did not keep every moved row).
pub(crate) type Reread<'a> = &'a dyn Fn() -> Result<Batches>;

/// Reads some columns of a table from its start, for a survey that keeps no rows (see
/// [`crate::streamer::TableSource::columns`]).
pub(crate) type ColumnRead<'a> = &'a dyn Fn(&[String]) -> Result<Batches>;

/// One anomaly, planned for a table.
enum Plan {
    Point(PointPlan),
    Contextual {
        plan: ContextualPlan,
        /// Eligible rows in the chunks injected so far.
        seen: u64,
    },
    Collective(Chosen),
}

/// Rows the survey keeps: their values as read, their table positions, and for each
/// contextual anomaly (by registry index) the ranks of the eligible ones.
struct Kept {
    batch: RecordBatch,
    positions: Vec<u64>,
    ranks: Vec<Vec<(u32, u64)>>,
}

impl Kept {
    /// The rows `rows` (ascending) of `batch`, at `positions`, with `ranks`.
    fn take(
        batch: &RecordBatch,
        positions: &[u64],
        ranks: &[Vec<(u32, u64)>],
        rows: &[u32],
    ) -> Result<Self> {
        let mut new_index = vec![u32::MAX; batch.num_rows()];
        for (i, &r) in rows.iter().enumerate() {
            new_index[r as usize] = i as u32;
        }
        Ok(Self {
            batch: arrow_select::take::take_record_batch(batch, &UInt32Array::from(rows.to_vec()))?,
            positions: rows.iter().map(|&r| positions[r as usize]).collect(),
            ranks: ranks
                .iter()
                .map(|ranks| {
                    ranks
                        .iter()
                        .filter(|(r, _)| new_index[*r as usize] != u32::MAX)
                        .map(|&(r, rank)| (new_index[r as usize], rank))
                        .collect()
                })
                .collect(),
        })
    }

    /// `pieces` (at least one) as one, in order.
    fn concat(pieces: Vec<Kept>) -> Result<Self> {
        let batches: Vec<&RecordBatch> = pieces.iter().map(|k| &k.batch).collect();
        let batch = arrow_select::concat::concat_batches(&batches[0].schema(), batches)?;
        let mut positions = Vec::with_capacity(batch.num_rows());
        let mut ranks = vec![Vec::new(); pieces[0].ranks.len()];
        for piece in &pieces {
            let offset = positions.len() as u32;
            positions.extend_from_slice(&piece.positions);
            for (all, these) in ranks.iter_mut().zip(&piece.ranks) {
                all.extend(these.iter().map(|&(row, rank)| (row + offset, rank)));
            }
        }
        Ok(Self {
            batch,
            positions,
            ranks,
        })
    }
}

/// Rows of a piece of kept rows: the few a chunk gives are gathered into pieces of about
/// this many. Held in hundreds of small pieces, a chunk's moved rows would be read from
/// arrays spread over memory when merged into the stream, a cache and address
/// translation miss per value; from a few large pieces, each column's reads stay within
/// a few megabytes.
const KEPT_PIECE_ROWS: usize = 1 << 16;

/// Joins the pieces `kept[from..]` into one.
fn join_from(kept: &mut Vec<Kept>, from: usize) -> Result<()> {
    if kept.len().saturating_sub(from) > 1 {
        let pieces = kept.split_off(from);
        kept.push(Kept::concat(pieces)?);
    }
    Ok(())
}

/// What the survey gathers for each anomaly.
enum Gathered {
    Point(AbsMean),
    /// Eligible rows so far.
    Contextual(u64),
    Collective(GroupSurvey),
}

/// Reads `batches` (the table from its start) for what `registry` needs of the whole
/// table, keeping the rows `keep` marks; returns the row count, what each anomaly
/// gathered and the kept rows.
fn survey(
    registry: &AnomalyRegistry,
    streams: &[RandomStream],
    margin_sigmas: f64,
    batches: Batches,
    mut keep: impl FnMut(&mut [Gathered], &RecordBatch, &mut [bool], &mut Vec<Kept>) -> Result<()>,
) -> Result<(u64, Vec<Gathered>, Vec<Kept>)> {
    let anomalies = registry.anomalies();
    let mut gathered: Vec<Gathered> = anomalies
        .iter()
        .zip(streams)
        .map(|(a, &stream)| match a {
            Anomaly::Point(_) => Gathered::Point(AbsMean::default()),
            Anomaly::Contextual(_) => Gathered::Contextual(0),
            Anomaly::Collective(c) => {
                Gathered::Collective(GroupSurvey::new(c, stream, margin_sigmas))
            }
        })
        .collect();
    let mut kept: Vec<Kept> = Vec::new();
    // `kept[joined..]` are the pieces not yet joined, with about `unjoined` rows (fewer
    // where pruning has taken some; then they are joined a little early).
    let (mut joined, mut unjoined) = (0, 0);
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch?;
        let n = batch.num_rows();
        let positions: Vec<u64> = (rows..rows + n as u64).collect();
        let mut ranks = vec![Vec::new(); anomalies.len()];
        for ((a, g), ranks) in anomalies.iter().zip(&mut gathered).zip(&mut ranks) {
            match (a, g) {
                (Anomaly::Point(p), Gathered::Point(mean)) => {
                    mean.add(batch.column_by_name(&p.column).expect("checked"), rows)?;
                }
                (Anomaly::Contextual(c), Gathered::Contextual(seen)) => {
                    let condition = batch.column_by_name(&c.condition_column).expect("checked");
                    *ranks = contextual::eligible_ranks(condition, &c.normal_values, *seen)?;
                    *seen += ranks.len() as u64;
                }
                _ => {}
            }
        }
        let mut marks = vec![false; n];
        keep(&mut gathered, &batch, &mut marks, &mut kept)?;
        // Pruning may have dropped pieces: those left stay in order.
        joined = joined.min(kept.len());
        let chosen: Vec<u32> = (0..n as u32).filter(|&r| marks[r as usize]).collect();
        if !chosen.is_empty() {
            kept.push(Kept::take(&batch, &positions, &ranks, &chosen)?);
            unjoined += chosen.len();
            if unjoined >= KEPT_PIECE_ROWS {
                join_from(&mut kept, joined)?;
                (joined, unjoined) = (kept.len(), 0);
            }
        }
        rows += n as u64;
    }
    join_from(&mut kept, joined)?;
    Ok((rows, gathered, kept))
}

/// Keeps, of the kept rows, those `marks` marks.
fn retain_rows(
    kept: &mut Vec<Kept>,
    mark: impl Fn(&RecordBatch, &mut [bool]) -> Result<()>,
) -> Result<()> {
    let mut retained = Vec::with_capacity(kept.len());
    for k in kept.drain(..) {
        let mut marks = vec![false; k.batch.num_rows()];
        mark(&k.batch, &mut marks)?;
        let rows: Vec<u32> = (0..marks.len() as u32)
            .filter(|&r| marks[r as usize])
            .collect();
        if rows.len() == marks.len() {
            retained.push(k);
        } else if !rows.is_empty() {
            retained.push(Kept::take(&k.batch, &k.positions, &k.ranks, &rows)?);
        }
    }
    *kept = retained;
    Ok(())
}

/// How far the survey's bounds must fall, as a share of their value when the kept rows
/// were last pruned, before the kept rows are pruned again.
const PRUNE_WHEN_BOUND_BELOW: f64 = 0.9;

impl AnomalyRegistry {
    /// The random stream of the anomaly at `index`.
    fn stream(&self, seed: u64, index: usize) -> RandomStream {
        let a = &self.anomalies()[index];
        RandomStream::new(seed, &format!("anomaly.{index}.{}", a.anomaly_type()))
    }

    /// Plans injection into `table` (of `schema`), reading it with `reread`: a survey
    /// pass (and a second one in the rare case it did not keep every row a collective
    /// anomaly moves), after which [`Injector`] edits the table chunk by chunk, read
    /// once more in the same order. Without a collective anomaly the survey keeps no
    /// rows, and reads with `columns`, if given, just the columns it looks at (a
    /// generated table makes a column's values without the rest of its rows).
    ///
    /// # Errors
    /// As [`AnomalyRegistry::check`], the readers' errors, and Arrow errors.
    pub(crate) fn plan(
        &self,
        table: &str,
        schema: &SchemaRef,
        seed: u64,
        reread: Reread<'_>,
        columns: Option<ColumnRead<'_>>,
    ) -> Result<Injector> {
        self.plan_with_margin(table, schema, seed, reread, columns, PRIORITY_MARGIN_SIGMAS)
    }

    /// The columns the survey looks at (each point anomaly's column, each contextual
    /// one's condition, each collective one's group and time), then `also`, each once.
    fn surveyed_columns(&self, also: Option<&str>) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for a in self.anomalies() {
            let read: &[&String] = match a {
                Anomaly::Point(p) => &[&p.column],
                Anomaly::Contextual(c) => &[&c.condition_column],
                Anomaly::Collective(c) => &[&c.group_column, &c.timestamp_column],
            };
            for &column in read {
                push_new(&mut columns, column);
            }
        }
        if let Some(also) = also {
            push_new(&mut columns, also);
        }
        columns
    }

    /// Whether a collective anomaly is registered (the survey then keeps rows).
    fn moves_rows(&self) -> bool {
        self.anomalies()
            .iter()
            .any(|a| matches!(a, Anomaly::Collective(_)))
    }

    /// [`AnomalyRegistry::plan`], the survey keeping the rows of groups whose priority
    /// is up to `margin_sigmas` above the expected bound.
    fn plan_with_margin(
        &self,
        table: &str,
        schema: &SchemaRef,
        seed: u64,
        reread: Reread<'_>,
        columns: Option<ColumnRead<'_>>,
        margin_sigmas: f64,
    ) -> Result<Injector> {
        self.check(table, schema)?;
        let read = match columns {
            Some(read) if !self.moves_rows() => {
                SurveyRead::Columns(read, self.surveyed_columns(None))
            }
            _ => SurveyRead::Rows(reread),
        };
        let surveyed = self.survey_plans(schema, seed, &read, margin_sigmas)?;
        let mut injector = Injector::new(self, surveyed.streams, surveyed.plans, surveyed.rows);
        injector.moved = injector.finish_moved(surveyed.kept)?;
        Ok(injector)
    }

    /// Plans injection into `table` (of `schema`), a generated table whose rows
    /// [`Injector::place`] then makes in the order they are sent, merged by
    /// `event_time`: the survey reads with `columns` just the columns it looks at, and
    /// keeps of the rows the collective anomalies move only what their edits need.
    ///
    /// # Errors
    /// As [`AnomalyRegistry::plan`].
    pub(crate) fn plan_placed(
        &self,
        table: &str,
        schema: &SchemaRef,
        seed: u64,
        columns: ColumnRead<'_>,
        event_time: &str,
    ) -> Result<Injector> {
        self.check(table, schema)?;
        let read = SurveyRead::Columns(columns, self.surveyed_columns(Some(event_time)));
        let surveyed = self.survey_plans(schema, seed, &read, PRIORITY_MARGIN_SIGMAS)?;
        let mut injector = Injector::new(self, surveyed.streams, surveyed.plans, surveyed.rows);
        injector.place_moved(surveyed.kept, schema, event_time)?;
        Ok(injector)
    }

    /// The survey (see [`AnomalyRegistry::plan`]) reading with `read`: each anomaly
    /// planned, and the rows the collective anomalies move, as read.
    fn survey_plans(
        &self,
        schema: &SchemaRef,
        seed: u64,
        read: &SurveyRead<'_>,
        margin_sigmas: f64,
    ) -> Result<Surveyed> {
        let surveyed = read.read()?;
        let anomalies = self.anomalies();
        let streams: Vec<RandomStream> =
            (0..anomalies.len()).map(|k| self.stream(seed, k)).collect();
        // Pass 1: the statistics, and the rows of groups whose priority is under the
        // collective anomalies' bounds (which fall as the groups show).
        let mut pruned_at: Vec<u64> = vec![u64::MAX; anomalies.len()];
        let (rows, gathered, mut kept) = survey(
            self,
            &streams,
            margin_sigmas,
            surveyed,
            |gathered, batch, marks, kept| {
                let mut prune = false;
                for (g, at) in gathered.iter_mut().zip(&mut pruned_at) {
                    if let Gathered::Collective(s) = g {
                        let keys = s.keys(batch)?;
                        s.add(&keys, marks);
                        s.tighten();
                        if (s.bound as f64) < PRUNE_WHEN_BOUND_BELOW * *at as f64 {
                            *at = s.bound;
                            prune = true;
                        }
                    }
                }
                if prune {
                    let under_a_bound = |batch: &RecordBatch, marks: &mut [bool]| {
                        for g in gathered.iter() {
                            if let Gathered::Collective(s) = g {
                                let keys = s.keys(batch)?;
                                for (row, mark) in marks.iter_mut().enumerate() {
                                    *mark |= s.under_bound(&keys, row);
                                }
                            }
                        }
                        Ok(())
                    };
                    retain_rows(kept, under_a_bound)?;
                }
                Ok(())
            },
        )?;
        let mut plans = Vec::with_capacity(anomalies.len());
        let mut all_kept = true;
        for ((a, g), &stream) in anomalies.iter().zip(gathered).zip(&streams) {
            plans.push(match (a, g) {
                (Anomaly::Point(p), Gathered::Point(mean)) => {
                    Plan::Point(PointPlan::new(p, rows, mean.finish(), stream))
                }
                (Anomaly::Contextual(c), Gathered::Contextual(eligible)) => {
                    let t = schema.field_with_name(&c.column).expect("checked");
                    Plan::Contextual {
                        plan: ContextualPlan::new(c, eligible, t.data_type(), stream),
                        seen: 0,
                    }
                }
                (Anomaly::Collective(_), Gathered::Collective(s)) => {
                    let (chosen, kept_all) = s.choose();
                    all_kept &= kept_all;
                    Plan::Collective(chosen)
                }
                _ => unreachable!("gathered in registry order"),
            });
        }
        let moved_row = |plans: &[Plan], batch: &RecordBatch, marks: &mut [bool]| -> Result<()> {
            for plan in plans {
                if let Plan::Collective(chosen) = plan {
                    if chosen.len() == 0 {
                        continue;
                    }
                    let keys = chosen.keys(batch)?;
                    for (row, mark) in marks.iter_mut().enumerate() {
                        *mark |= chosen.contains(&keys, row);
                    }
                }
            }
            Ok(())
        };
        if !all_kept {
            // Pass 1b: the bound was passed (a few in a million runs): read the chosen
            // groups' rows again.
            kept = survey(self, &streams, 0.0, read.read()?, |_, batch, marks, _| {
                moved_row(&plans, batch, marks)
            })?
            .2;
        } else {
            // Only the chosen groups' rows stay.
            retain_rows(&mut kept, |batch, marks| moved_row(&plans, batch, marks))?;
        }
        Ok(Surveyed {
            rows,
            streams,
            plans,
            kept,
        })
    }
}

/// How the survey reads the table: whole rows, or just some columns.
enum SurveyRead<'a> {
    Rows(Reread<'a>),
    Columns(ColumnRead<'a>, Vec<String>),
}

impl SurveyRead<'_> {
    fn read(&self) -> Result<Batches> {
        match self {
            Self::Rows(reread) => reread(),
            Self::Columns(read, columns) => read(columns),
        }
    }
}

/// What the survey learns: the table's row count, each anomaly's plan (and random
/// stream), and the rows the collective anomalies move, in table order.
struct Surveyed {
    rows: u64,
    streams: Vec<RandomStream>,
    plans: Vec<Plan>,
    kept: Vec<Kept>,
}

/// The rows the collective anomalies move, finished, in table order, held in the
/// pieces the survey kept them in (copied into one batch, they would be held twice
/// while it is made). Their anomaly type column is a dictionary over the registry's
/// kinds (a few labels over millions of rows), as [`AnomalyRegistry::apply`] makes it.
#[derive(Default)]
struct Moved {
    pieces: Vec<RecordBatch>,
    /// Index among the moved rows of each piece's first row.
    starts: Vec<usize>,
    /// Table position of each moved row, ascending.
    positions: Vec<u64>,
}

impl Moved {
    /// The piece holding moved row `i`, and the row's index in it.
    fn locate(&self, i: usize) -> (usize, usize) {
        let piece = self.starts.partition_point(|&s| s <= i) - 1;
        (piece, i - self.starts[piece])
    }

    /// The moved rows `rows` (indexes among them, at least one), in that order, as one
    /// batch (labels still coded).
    fn take(&self, rows: &[usize]) -> Result<RecordBatch> {
        let mut sources = Sources::new(self.pieces.len());
        let indices: Vec<(usize, usize)> = rows
            .iter()
            .map(|&i| {
                let (piece, row) = self.locate(i);
                (sources.of(piece) - 1, row)
            })
            .collect();
        let batches: Vec<&RecordBatch> = sources.used.iter().map(|&p| &self.pieces[p]).collect();
        gather(&batches, &indices)
    }
}

/// The pieces of [`Moved`] a gather reads, numbered from 1 in the order first used
/// (source 0 being the chunk they are merged into).
struct Sources {
    /// Source number of each piece, 0 while unused.
    number: Vec<usize>,
    used: Vec<usize>,
}

impl Sources {
    fn new(pieces: usize) -> Self {
        Self {
            number: vec![0; pieces],
            used: Vec::new(),
        }
    }

    /// The source number of `piece`.
    fn of(&mut self, piece: usize) -> usize {
        if self.number[piece] == 0 {
            self.used.push(piece);
            self.number[piece] = self.used.len();
        }
        self.number[piece]
    }
}

/// The rows at `indices` (source, row) of `sources` (batches of one schema), as one
/// batch: Arrow's interleave, but for boolean columns and dictionaries sharing their
/// values, which it would copy through its generic path (slow over the hundreds of
/// pieces moved rows are held in).
fn gather(sources: &[&RecordBatch], indices: &[(usize, usize)]) -> Result<RecordBatch> {
    let columns = (0..sources[0].num_columns())
        .map(|c| {
            let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(c).as_ref()).collect();
            gather_column(&arrays, indices)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(sources[0].schema(), columns)?)
}

fn gather_column(arrays: &[&dyn Array], indices: &[(usize, usize)]) -> Result<ArrayRef> {
    let interleave = arrow_select::interleave::interleave;
    match arrays[0].data_type() {
        DataType::Boolean => {
            let arrays: Vec<&BooleanArray> = arrays.iter().map(|a| a.as_boolean()).collect();
            let bit = |test: &dyn Fn(&BooleanArray, usize) -> bool| {
                BooleanBuffer::collect_bool(indices.len(), |i| {
                    let (a, row) = indices[i];
                    test(arrays[a], row)
                })
            };
            let values = bit(&|a, row| a.value(row));
            let nulls = arrays
                .iter()
                .any(|a| a.null_count() > 0)
                .then(|| NullBuffer::new(bit(&|a, row| a.is_valid(row))));
            Ok(Arc::new(BooleanArray::new(values, nulls)))
        }
        DataType::Dictionary(key, _) if **key == DataType::UInt16 => {
            let dictionaries: Vec<&DictionaryArray<UInt16Type>> = arrays
                .iter()
                .map(|a| a.as_dictionary::<UInt16Type>())
                .collect();
            let values = dictionaries[0].values();
            if !dictionaries.iter().all(|d| Arc::ptr_eq(d.values(), values)) {
                return Ok(interleave(arrays, indices)?);
            }
            let keys: Vec<&dyn Array> = dictionaries
                .iter()
                .map(|d| d.keys() as &dyn Array)
                .collect();
            let keys = interleave(&keys, indices)?;
            let keys = keys.as_primitive::<UInt16Type>().clone();
            Ok(Arc::new(DictionaryArray::try_new(keys, values.clone())?))
        }
        _ => Ok(interleave(arrays, indices)?),
    }
}

/// `batch` as sent: its anomaly type column (the last), coded by
/// [`AnomalyRegistry::apply`], as text.
fn label_text(batch: RecordBatch) -> Result<RecordBatch> {
    let (schema, mut columns, _) = batch.into_parts();
    let mut fields = schema.fields().to_vec();
    let (kind, field) = (columns.pop(), fields.pop());
    let (kind, field) = (kind.expect("labelled"), field.expect("labelled"));
    columns.push(arrow_cast::cast(&kind, &DataType::Utf8)?);
    fields.push(Arc::new(
        field.as_ref().clone().with_data_type(DataType::Utf8),
    ));
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// The moved rows' order in the stream: by event time, then table position.
struct MergeBuffer {
    /// Indexes into the moved rows, in stream order.
    order: Vec<u32>,
    /// Their event times, in stream order.
    keys: Vec<i64>,
    /// How many have been sent.
    next: usize,
    column: String,
}

impl MergeBuffer {
    /// The moved rows at `positions`, of event times `keys`, in stream order by
    /// `column`.
    fn new(keys: &[i64], positions: &[u64], column: &str) -> Self {
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.par_sort_unstable_by_key(|&i| (keys[i as usize], positions[i as usize]));
        Self {
            keys: order.iter().map(|&i| keys[i as usize]).collect(),
            order,
            next: 0,
            column: column.to_string(),
        }
    }
}

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

/// The rows the collective anomalies move, where each chunk is made in the order it is
/// sent ([`Injector::place`]): what their edits need, without their values.
struct Placed {
    /// What each anomaly, in registry order, does to the moved rows.
    of_moved: Vec<OfMoved>,
}

/// What an anomaly does to each moved row (by index among the moved rows).
enum OfMoved {
    /// Whether the point anomaly picks the row.
    Point(Vec<bool>),
    /// The row's rank among the eligible rows (`u64::MAX`: not eligible).
    Contextual(Vec<u64>),
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
    first: u64,
    /// The row each of the chunk's rows is sent as (`u32::MAX`: it is a moved row, sent
    /// elsewhere).
    sent_as: Vec<u32>,
    /// The moved rows: (row, index among the moved rows).
    moved: Vec<(u32, u32)>,
    /// For each anomaly, in registry order: a contextual one's ranks of the eligible
    /// rows, as (row, rank), ascending by rank; empty otherwise.
    ranks: Vec<Vec<(u32, u64)>>,
}

/// A chunk's rows as events: the batch and each row's table position.
pub(crate) type Positioned = (RecordBatch, Int64Array);

impl Injector {
    /// A planned injection of `registry`'s anomalies, with their random `streams` and
    /// `plans`, into a table of `rows` rows; no rows moved yet.
    fn new(
        registry: &AnomalyRegistry,
        streams: Vec<RandomStream>,
        plans: Vec<Plan>,
        rows: u64,
    ) -> Self {
        Self {
            registry: registry.clone(),
            kinds: registry.kinds(),
            streams,
            plans,
            rows,
            next: 0,
            moved: Moved::default(),
            merge: None,
            placed: None,
        }
    }

    /// Keeps, of the moved rows `kept` (some columns of them, of `schema`'s table),
    /// what their edits need where they are made where they are sent: positions,
    /// contextual ranks, the collective anomalies' edits, and their stream order by
    /// `event_time` (after those edits).
    fn place_moved(&mut self, kept: Vec<Kept>, schema: &SchemaRef, event_time: &str) -> Result<()> {
        let all = match kept.is_empty() {
            true => None,
            false => Some(Kept::concat(kept)?),
        };
        let positions: &[u64] = all.as_ref().map_or(&[], |all| &all.positions);
        let mut keys = match &all {
            Some(all) => event_keys(&all.batch, event_time)?,
            None => Vec::new(),
        };
        let time_column = schema.index_of(event_time)?;
        let mut of_moved = Vec::with_capacity(self.plans.len());
        for (k, plan) in self.plans.iter().enumerate() {
            of_moved.push(match plan {
                Plan::Point(p) => {
                    let mut picked = vec![false; positions.len()];
                    for i in kernels::picked_rows(positions, p.picks()) {
                        picked[i as usize] = true;
                    }
                    OfMoved::Point(picked)
                }
                Plan::Contextual { .. } => {
                    let mut ranks = vec![u64::MAX; positions.len()];
                    for &(i, rank) in all.iter().flat_map(|all| &all.ranks[k]) {
                        ranks[i as usize] = rank;
                    }
                    OfMoved::Contextual(ranks)
                }
                Plan::Collective(chosen) => match (&all, &self.registry.anomalies()[k]) {
                    (Some(all), Anomaly::Collective(c)) => {
                        let mut edit = collective_edit(
                            c,
                            chosen,
                            &[&all.batch],
                            &all.positions,
                            self.streams[k],
                        )?;
                        // The column as the table has it, not as the survey read it.
                        edit.column =
                            schema.index_of(all.batch.schema().field(edit.column).name())?;
                        let mut value_of = vec![u32::MAX; positions.len()];
                        for (j, &i) in edit.rows.iter().enumerate() {
                            value_of[i as usize] = j as u32;
                        }
                        // The event times it sets, over earlier ones'.
                        if edit.column == time_column {
                            let ticks = arrow_cast::cast(&edit.values, &DataType::Int64)?;
                            let ticks = ticks.as_primitive::<Int64Type>().values();
                            for (&i, &tick) in edit.rows.iter().zip(ticks) {
                                keys[i as usize] = tick;
                            }
                        }
                        OfMoved::Collective(Some(edit), value_of)
                    }
                    _ => OfMoved::Collective(None, Vec::new()),
                },
            });
        }
        self.merge = Some(MergeBuffer::new(&keys, positions, event_time));
        self.moved = Moved {
            pieces: Vec::new(),
            starts: Vec::new(),
            positions: all.map_or_else(Vec::new, |all| all.positions),
        };
        self.placed = Some(Placed { of_moved });
        Ok(())
    }

    /// The moved rows with every anomaly's edits and the labels, piece by piece (each
    /// kept piece freed as it is replaced).
    fn finish_moved(&self, kept: Vec<Kept>) -> Result<Moved> {
        let mut starts = Vec::with_capacity(kept.len());
        let mut positions = Vec::new();
        for piece in &kept {
            starts.push(positions.len());
            positions.extend_from_slice(&piece.positions);
        }
        // The collective anomalies' new times, over the moved rows (a group's rows are
        // in several pieces): computed on just the group and time columns.
        let mut collective: Vec<(usize, Edit)> = Vec::new();
        for (k, plan) in self.plans.iter().enumerate() {
            let Plan::Collective(chosen) = plan else {
                continue;
            };
            let Anomaly::Collective(c) = &self.registry.anomalies()[k] else {
                unreachable!("planned in registry order")
            };
            let pieces: Vec<&RecordBatch> = kept.iter().map(|piece| &piece.batch).collect();
            if pieces.is_empty() {
                continue;
            }
            let edit = collective_edit(c, chosen, &pieces, &positions, self.streams[k])?;
            collective.push((k, edit));
        }
        // One piece after the other, on this thread: each piece's memory, freed as it
        // is replaced, is what the next one's edits reuse (rayon's threads would each
        // allocate anew).
        let pieces = kept
            .into_iter()
            .zip(&starts)
            .map(|(piece, &start)| {
                let end = start + piece.batch.num_rows();
                let mut edits = Vec::with_capacity(self.plans.len());
                for (k, plan) in self.plans.iter().enumerate() {
                    edits.push(match plan {
                        Plan::Point(p) => (k, p.edit(&piece.batch, &piece.positions)),
                        Plan::Contextual { plan, .. } => (
                            k,
                            plan.edit(&piece.batch, &piece.positions, &piece.ranks[k])?,
                        ),
                        Plan::Collective(_) => {
                            let (_, all) = collective
                                .iter()
                                .find(|(j, _)| *j == k)
                                .expect("made above");
                            let from = all.rows.partition_point(|&r| (r as usize) < start);
                            let to = all.rows.partition_point(|&r| (r as usize) < end);
                            (
                                k,
                                Edit {
                                    column: all.column,
                                    new_type: None,
                                    nullable: false,
                                    rows: all.rows[from..to]
                                        .iter()
                                        .map(|&r| r - start as u32)
                                        .collect(),
                                    values: all.values.slice(from, to - from),
                                },
                            )
                        }
                    });
                }
                self.registry.apply(&piece.batch, &edits, &self.kinds)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Moved {
            pieces,
            starts,
            positions,
        })
    }

    /// The next chunk of the table (in table order), edited, where the moved rows are
    /// the finished ones; and the rows of the chunk that are moved rows, with their
    /// index among them.
    fn edit_chunk(&mut self, chunk: &RecordBatch) -> Result<(RecordBatch, Vec<u64>, Vec<u32>)> {
        let n = chunk.num_rows() as u64;
        let positions: Vec<u64> = (self.next..self.next + n).collect();
        self.next += n;
        let mut edits = Vec::new();
        for (k, plan) in self.plans.iter_mut().enumerate() {
            match plan {
                Plan::Point(p) => edits.push((k, p.edit(chunk, &positions))),
                Plan::Contextual { plan, seen } => {
                    let ranks = plan.ranks(chunk, *seen)?;
                    *seen += ranks.len() as u64;
                    edits.push((k, plan.edit(chunk, &positions, &ranks)?));
                }
                // Its rows are all moved rows, finished already.
                Plan::Collective(_) => {}
            }
        }
        let edited = self.registry.apply(chunk, &edits, &self.kinds)?;
        let moved_rows = kernels::picked_rows(&positions, &self.moved.positions);
        self.check_moved(chunk, &moved_rows)?;
        Ok((edited, positions, moved_rows))
    }

    /// A re-read table must give the survey's rows in the survey's order: a moved row
    /// is in a chosen group.
    fn check_moved(&self, chunk: &RecordBatch, moved_rows: &[u32]) -> Result<()> {
        if moved_rows.is_empty() {
            return Ok(());
        }
        let mut in_a_group = vec![false; moved_rows.len()];
        for plan in &self.plans {
            if let Plan::Collective(chosen) = plan {
                let keys = chosen.keys(chunk)?;
                for (found, &row) in in_a_group.iter_mut().zip(moved_rows) {
                    *found |= chosen.contains(&keys, row as usize);
                }
            }
        }
        if in_a_group.contains(&false) {
            return Err(changed_between_reads());
        }
        Ok(())
    }

    /// The next chunk of the table with its anomalies and labels, the moved rows in
    /// their place.
    pub(crate) fn in_place(&mut self, chunk: &RecordBatch) -> Result<RecordBatch> {
        let (edited, positions, moved_rows) = self.edit_chunk(chunk)?;
        if moved_rows.is_empty() {
            return label_text(edited);
        }
        let first = self
            .moved
            .positions
            .partition_point(|&p| p < positions[moved_rows[0] as usize]);
        let finished = self
            .moved
            .take(&(first..first + moved_rows.len()).collect::<Vec<_>>())?;
        let runs = kernels::replacement_runs(&moved_rows, edited.num_rows());
        label_text(splice(&[&edited, &finished], &runs)?)
    }

    /// Makes [`Injector::merged`] merge the moved rows into the stream by
    /// `event_time` (a column of times or dates).
    pub(crate) fn merge_by(&mut self, event_time: &str) -> Result<()> {
        let mut keys = Vec::with_capacity(self.moved.positions.len());
        for piece in &self.moved.pieces {
            keys.extend(event_keys(piece, event_time)?);
        }
        self.merge = Some(MergeBuffer::new(&keys, &self.moved.positions, event_time));
        Ok(())
    }

    /// The next chunk of the table with its anomalies and labels, without the moved
    /// rows, merged with the moved rows whose new event time comes before the chunk's
    /// last row (stably: by event time, then table position), with each row's table
    /// position. The chunk must be in event-time order; see [`Injector::merge_by`].
    pub(crate) fn merged(&mut self, chunk: &RecordBatch) -> Result<Positioned> {
        let (edited, positions, moved_rows) = self.edit_chunk(chunk)?;
        let buffer = self.merge.as_mut().expect("merge_by first");
        let moved = &self.moved;
        let keys = event_keys(&edited, &buffer.column)?;
        let n = edited.num_rows();
        let mut indices = Vec::with_capacity(n);
        let mut seq = Vec::with_capacity(n);
        let mut sources = Sources::new(moved.pieces.len());
        let first = buffer.next;
        let mut b = first;
        let mut out = moved_rows.iter().peekable();
        for r in 0..n {
            if out.next_if_eq(&&(r as u32)).is_some() {
                continue;
            }
            let key = (keys[r], positions[r]);
            while b < buffer.keys.len() {
                let i = buffer.order[b] as usize;
                let position = moved.positions[i];
                if (buffer.keys[b], position) > key {
                    break;
                }
                let (piece, row) = moved.locate(i);
                indices.push((sources.of(piece), row));
                seq.push(position as i64);
                b += 1;
            }
            indices.push((0, r));
            seq.push(key.1 as i64);
        }
        buffer.next = b;
        // Nothing moved out or in: the chunk as it is.
        let batch = if b == first && moved_rows.is_empty() {
            edited
        } else {
            let batches: Vec<&RecordBatch> = std::iter::once(&edited)
                .chain(sources.used.iter().map(|&p| &moved.pieces[p]))
                .collect();
            gather(&batches, &indices)?
        };
        Ok((label_text(batch)?, Int64Array::from(seq)))
    }

    /// After the last chunk: the moved rows not yet merged (their event time is after
    /// the table's last row's), or `None`.
    ///
    /// # Errors
    /// The table had fewer or more rows than when surveyed.
    pub(crate) fn rest(&mut self) -> Result<Option<Positioned>> {
        if self.next != self.rows {
            return Err(changed_between_reads());
        }
        let Some(buffer) = self.merge.as_mut() else {
            return Ok(None);
        };
        let rest = &buffer.order[buffer.next..];
        if rest.is_empty() {
            return Ok(None);
        }
        let batch = label_text(
            self.moved
                .take(&rest.iter().map(|&i| i as usize).collect::<Vec<_>>())?,
        )?;
        let seq = Int64Array::from_iter_values(
            rest.iter()
                .map(|&i| self.moved.positions[i as usize] as i64),
        );
        buffer.next = buffer.order.len();
        Ok(Some((batch, seq)))
    }
}

impl Injector {
    /// The columns [`Injector::place`] reads of each chunk: the event time, then each
    /// contextual anomaly's condition.
    pub(crate) fn placement_columns(&self) -> Vec<String> {
        let buffer = self.merge.as_ref().expect("planned with plan_placed");
        let mut columns = vec![buffer.column.clone()];
        for a in self.registry.anomalies() {
            if let Anomaly::Contextual(c) = a {
                push_new(&mut columns, &c.condition_column);
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
                Plan::Contextual { plan, seen } => {
                    let ranks = plan.ranks(chunk, *seen)?;
                    *seen += ranks.len() as u64;
                    ranks
                }
                _ => Vec::new(),
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
                (Plan::Point(p), OfMoved::Point(picked)) => {
                    let (first, sent_as) = (placement.first, &placement.sent_as);
                    let picks = p.picks();
                    let picks = &picks[picks.partition_point(|&x| x < first)
                        ..picks.partition_point(|&x| x < first + sent_as.len() as u64)];
                    let mut rows: Vec<u32> = picks
                        .iter()
                        .map(|&x| sent_as[(x - first) as usize])
                        .filter(|&row| row != u32::MAX)
                        .chain(moved_rows(&|i| picked[i as usize]))
                        .collect();
                    rows.sort_unstable();
                    p.edit_rows(batch, positions, rows)
                }
                (Plan::Contextual { plan, .. }, _) => {
                    in_row_order(plan.edit(batch, positions, &placement.ranks[k])?)?
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

/// Adds `column` to `columns` unless it is there already.
fn push_new(columns: &mut Vec<String>, column: &str) {
    if !columns.iter().any(|c| c == column) {
        columns.push(column.to_string());
    }
}

/// A contextual anomaly's ranks of a chunk's eligible rows, as (row, rank) ascending by
/// rank: those of the rows that `stay`, and those of the `moved` rows (row, index among
/// the moved rows) that `of_moved` ranks. Empty for other anomalies.
fn sent_ranks(
    stay: impl Iterator<Item = (u32, u64)>,
    moved: &[(u32, u32)],
    of_moved: &OfMoved,
) -> Vec<(u32, u64)> {
    let OfMoved::Contextual(moved_rank) = of_moved else {
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

/// `edit` with its rows ascending, each with its value.
fn in_row_order(edit: Edit) -> Result<Edit> {
    if edit.rows.is_sorted() {
        return Ok(edit);
    }
    let mut order: Vec<u32> = (0..edit.rows.len() as u32).collect();
    order.sort_unstable_by_key(|&k| edit.rows[k as usize]);
    Ok(Edit {
        rows: order.iter().map(|&k| edit.rows[k as usize]).collect(),
        values: arrow_select::take::take(&edit.values, &UInt32Array::from(order), None)?,
        ..edit
    })
}

fn changed_between_reads() -> Error {
    Error::invalid(
        "source",
        "the table's rows changed between two reads of it: anomalies read a table twice \
         (once to plan, once to inject) and need the same rows in the same order each \
         time (for a query, an ORDER BY on every row)",
    )
}

/// `column` of `batch` as one `i64` per row (ticks of times, days of dates; nulls
/// first), for ordering events.
fn event_keys(batch: &RecordBatch, column: &str) -> Result<Vec<i64>> {
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
fn splice(batches: &[&RecordBatch], runs: &[(usize, usize, usize)]) -> Result<RecordBatch> {
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
        let (rows, _, kept) = survey(
            &registry,
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
