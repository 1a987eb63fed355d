//! The survey pass: what the anomalies learn of the whole table before its first event,
//! and the rows the collective anomalies move, kept or located.

use super::*;

/// Reads a table from its start: once for the survey, again for the injection (and a
/// third time in the rare case that the survey did not keep every moved row).
pub(crate) type Reread<'a> = &'a dyn Fn() -> Result<Batches>;

/// Reads some columns of a table from its start, for a survey that keeps no rows (see
/// [`crate::streamer::TableSource::columns`]).
pub(crate) type ColumnRead<'a> = &'a dyn Fn(&[String]) -> Result<Batches>;

/// One anomaly, planned for a table.
pub(super) enum Plan {
    InPlace(Box<dyn InPlacePlan>),
    Collective(Chosen),
}

/// Rows the survey keeps: their values as read, their table positions, and for each
/// contextual anomaly (by registry index) the ranks of the eligible ones.
pub(super) struct Kept {
    pub(super) batch: RecordBatch,
    pub(super) positions: Vec<u64>,
    pub(super) ranks: Vec<Vec<(u32, u64)>>,
}

impl Kept {
    /// The rows `rows` (ascending) of `batch`, at `positions`, with `ranks`.
    pub(super) fn take(
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
    pub(super) fn concat(pieces: Vec<Kept>) -> Result<Self> {
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
pub(super) const KEPT_PIECE_ROWS: usize = 1 << 16;

/// Joins the pieces `kept[from..]` into one.
pub(super) fn join_from(kept: &mut Vec<Kept>, from: usize) -> Result<()> {
    if kept.len().saturating_sub(from) > 1 {
        let pieces = kept.split_off(from);
        kept.push(Kept::concat(pieces)?);
    }
    Ok(())
}

/// What the survey gathers for each anomaly.
pub(super) enum Gathered<'a> {
    InPlace(Box<dyn Learner + 'a>),
    Collective(GroupSurvey),
}

/// Reads `batches` (the table of `schema` from its start) for what `registry` needs of
/// the whole table, keeping the rows `keep` marks; returns the row count, what each
/// anomaly gathered and the kept rows.
pub(super) fn survey<'a>(
    registry: &'a AnomalyRegistry,
    schema: &Schema,
    streams: &[RandomStream],
    margin_sigmas: f64,
    batches: Batches,
    mut keep: impl FnMut(&mut [Gathered], &RecordBatch, &mut [bool], &mut Vec<Kept>) -> Result<()>,
) -> Result<(u64, Vec<Gathered<'a>>, Vec<Kept>)> {
    let anomalies = registry.anomalies();
    let mut gathered: Vec<Gathered> = anomalies
        .iter()
        .zip(streams)
        .map(|(a, &stream)| match a.role() {
            Role::InPlace(a) => Gathered::InPlace(a.learner(schema, stream)),
            Role::Collective(c) => Gathered::Collective(GroupSurvey::new(c, stream, margin_sigmas)),
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
        for (g, ranks) in gathered.iter_mut().zip(&mut ranks) {
            if let Gathered::InPlace(learner) = g {
                *ranks = learner.learn(&batch, rows)?;
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
pub(super) fn retain_rows(
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
pub(super) const PRUNE_WHEN_BOUND_BELOW: f64 = 0.9;

impl AnomalyRegistry {
    /// The random stream of the anomaly at `index`.
    pub(super) fn stream(&self, seed: u64, index: usize) -> RandomStream {
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
    pub(super) fn surveyed_columns(&self, also: Option<&str>) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for a in self.anomalies() {
            for column in a.as_kind().surveyed() {
                push_new(&mut columns, column);
            }
        }
        if let Some(also) = also {
            push_new(&mut columns, also);
        }
        columns
    }

    /// Whether a collective anomaly is registered (the survey then keeps rows).
    pub(super) fn moves_rows(&self) -> bool {
        self.anomalies().iter().any(|a| a.as_kind().moves_rows())
    }

    /// [`AnomalyRegistry::plan`], the survey keeping the rows of groups whose priority
    /// is up to `margin_sigmas` above the expected bound.
    pub(super) fn plan_with_margin(
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
    pub(super) fn survey_plans(
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
            schema,
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
        for g in gathered {
            plans.push(match g {
                Gathered::InPlace(learner) => Plan::InPlace(learner.plan(rows)),
                Gathered::Collective(s) => {
                    let (chosen, kept_all) = s.choose();
                    all_kept &= kept_all;
                    Plan::Collective(chosen)
                }
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
            let read_again = read.read()?;
            kept = survey(
                self,
                schema,
                &streams,
                0.0,
                read_again,
                |_, batch, marks, _| moved_row(&plans, batch, marks),
            )?
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
pub(super) enum SurveyRead<'a> {
    Rows(Reread<'a>),
    Columns(ColumnRead<'a>, Vec<String>),
}

impl SurveyRead<'_> {
    pub(super) fn read(&self) -> Result<Batches> {
        match self {
            Self::Rows(reread) => reread(),
            Self::Columns(read, columns) => read(columns),
        }
    }
}

/// What the survey learns: the table's row count, each anomaly's plan (and random
/// stream), and the rows the collective anomalies move, in table order.
pub(super) struct Surveyed {
    pub(super) rows: u64,
    pub(super) streams: Vec<RandomStream>,
    pub(super) plans: Vec<Plan>,
    pub(super) kept: Vec<Kept>,
}
