//! Injection chunk by chunk in table order: each chunk edited in place, and the moved
//! rows merged into the stream at their new event times.

use super::placement::OfMoved;
use super::survey::*;
use super::*;
use crate::anomaly::registry::label_text;

/// The rows the collective anomalies move, finished, in table order, held in the
/// pieces the survey kept them in (copied into one batch, they would be held twice
/// while it is made). Their anomaly type column is a dictionary over the registry's
/// kinds (a few labels over millions of rows), as [`AnomalyRegistry::apply`] makes it.
#[derive(Default)]
pub(super) struct Moved {
    pub(super) pieces: Vec<RecordBatch>,
    /// Index among the moved rows of each piece's first row.
    pub(super) starts: Vec<usize>,
    /// Table position of each moved row, ascending.
    pub(super) positions: Vec<u64>,
}

impl Moved {
    /// The piece holding moved row `i`, and the row's index in it.
    pub(super) fn locate(&self, i: usize) -> (usize, usize) {
        let piece = self.starts.partition_point(|&s| s <= i) - 1;
        (piece, i - self.starts[piece])
    }

    /// The moved rows `rows` (indexes among them, at least one), in that order, as one
    /// batch (labels still coded).
    pub(super) fn take(&self, rows: &[usize]) -> Result<RecordBatch> {
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
pub(super) struct Sources {
    /// Source number of each piece, 0 while unused.
    pub(super) number: Vec<usize>,
    pub(super) used: Vec<usize>,
}

impl Sources {
    pub(super) fn new(pieces: usize) -> Self {
        Self {
            number: vec![0; pieces],
            used: Vec::new(),
        }
    }

    /// The source number of `piece`.
    pub(super) fn of(&mut self, piece: usize) -> usize {
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
pub(super) fn gather(sources: &[&RecordBatch], indices: &[(usize, usize)]) -> Result<RecordBatch> {
    let columns = (0..sources[0].num_columns())
        .map(|c| {
            let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(c).as_ref()).collect();
            gather_column(&arrays, indices)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(sources[0].schema(), columns)?)
}

pub(super) fn gather_column(arrays: &[&dyn Array], indices: &[(usize, usize)]) -> Result<ArrayRef> {
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

/// The moved rows' order in the stream: by event time, then table position.
pub(super) struct MergeBuffer {
    /// Indexes into the moved rows, in stream order.
    pub(super) order: Vec<u32>,
    /// Their event times, in stream order.
    pub(super) keys: Vec<i64>,
    /// How many have been sent.
    pub(super) next: usize,
    pub(super) column: String,
}

impl MergeBuffer {
    /// The moved rows at `positions`, of event times `keys`, in stream order by
    /// `column`.
    pub(super) fn new(keys: &[i64], positions: &[u64], column: &str) -> Self {
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

impl Injector {
    /// A planned injection of `registry`'s anomalies, with their random `streams` and
    /// `plans`, into a table of `rows` rows; no rows moved yet.
    pub(super) fn new(
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
    pub(super) fn place_moved(
        &mut self,
        kept: Vec<Kept>,
        schema: &SchemaRef,
        event_time: &str,
    ) -> Result<()> {
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
                Plan::InPlace(plan) => match plan.picks_by_position() {
                    Some(picks) => {
                        let mut picked = vec![false; positions.len()];
                        for i in kernels::picked_rows(positions, picks) {
                            picked[i as usize] = true;
                        }
                        OfMoved::Picked(picked)
                    }
                    None => {
                        let mut ranks = vec![u64::MAX; positions.len()];
                        for &(i, rank) in all.iter().flat_map(|all| &all.ranks[k]) {
                            ranks[i as usize] = rank;
                        }
                        OfMoved::Ranked(ranks)
                    }
                },
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
    pub(super) fn finish_moved(&self, kept: Vec<Kept>) -> Result<Moved> {
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
                        Plan::InPlace(plan) => (
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
    pub(super) fn edit_chunk(
        &mut self,
        chunk: &RecordBatch,
    ) -> Result<(RecordBatch, Vec<u64>, Vec<u32>)> {
        let n = chunk.num_rows() as u64;
        let positions: Vec<u64> = (self.next..self.next + n).collect();
        self.next += n;
        let mut edits = Vec::new();
        for (k, plan) in self.plans.iter_mut().enumerate() {
            match plan {
                Plan::InPlace(plan) => {
                    let ranks = plan.next_ranks(chunk)?;
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
    pub(super) fn check_moved(&self, chunk: &RecordBatch, moved_rows: &[u32]) -> Result<()> {
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
