//! The emission side of a stream: each ordered batch counted, cut to `max_events`,
//! cut to this part's share when the run is partitioned, sent as fast as the sink
//! takes it or paced in real time; dropped events handed to the ground-truth sink.

use crate::anomaly::{ANOMALY_TYPE, IS_ANOMALY};
use crate::config::StreamConfig;
use crate::delivery::{Delivered, Dropped, count_late, take_rows};
use crate::error::Result;
use crate::pacer::{Pacer, Slots};
use crate::result::StopReason;
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt64Array};
use spindle_gen::Partition;
use spindle_sinks::StreamWriter;
use spindle_sinks::event::{DUPLICATE_OF, WATERMARK};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether emission goes on after a batch (a stop: `max_events`, the duration, the
/// stop flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

/// A part's share of a batch: its rows, their in-order slots (when out-of-order
/// delivery moved rows), and their run-wide indexes (the slots' `positions` unset).
type Share<'p> = (RecordBatch, Option<Cow<'p, [u64]>>, Slots<'static>);

/// The state of one run's emission stage.
pub(super) struct Run<'a> {
    pub(super) config: &'a StreamConfig,
    pub(super) sink: &'a mut dyn StreamWriter,
    pub(super) stop: &'a AtomicBool,
    pub(super) progress: &'a mut Option<Box<dyn FnMut(u64) + Send>>,
    pub(super) pacer: Option<Pacer>,
    pub(super) started: Instant,
    /// The share of the run this stream sends: every `count`-th event, from `index`.
    pub(super) part: Partition,
    /// Events of the whole run (all parts) before the next batch.
    pub(super) position: u64,
    /// Events this stream sent.
    pub(super) emitted: u64,
    pub(super) anomalies: u64,
    pub(super) late: u64,
    pub(super) running_max: Option<u64>,
    pub(super) reason: StopReason,
    /// Where dropped events go, if anywhere.
    pub(super) ground_truth: Option<&'a mut dyn StreamWriter>,
    /// Dropped events not yet known to be within the run's span.
    pub(super) held_drops: Vec<Dropped>,
    /// One past the largest in-order position the run has passed on to its parts.
    pub(super) horizon: u64,
    pub(super) duplicates: u64,
    pub(super) dropped: u64,
    pub(super) watermarks: u64,
}

impl Run<'_> {
    /// Emits a chunk from the delivery stage, and reports the events it dropped once
    /// the run has passed them (a run stopped by `max_events` reports only the drops
    /// before its last event).
    pub(super) fn deliver(&mut self, delivered: Delivered) -> Result<Flow> {
        self.held_drops.extend(delivered.dropped);
        let flow = self.emit(delivered.batch, Some(&delivered.positions))?;
        self.report_drops(false)?;
        Ok(flow)
    }

    /// Reports the held drops of this part before the horizon, or all of them when
    /// `all` (the run completed); keeps the others.
    pub(super) fn report_drops(&mut self, all: bool) -> Result<()> {
        let Partition { index, count } = self.part;
        let mut kept = Vec::new();
        for dropped in std::mem::take(&mut self.held_drops) {
            let (mut ours, mut later) = (Vec::new(), Vec::new());
            for (row, &p) in dropped.positions.iter().enumerate() {
                if !(all || p < self.horizon) {
                    later.push(row as u32);
                } else if p % count == index {
                    ours.push(row as u32);
                }
            }
            if !later.is_empty() {
                kept.push(Dropped {
                    positions: later
                        .iter()
                        .map(|&r| dropped.positions[r as usize])
                        .collect(),
                    batch: take_rows(&dropped.batch, &later)?,
                });
            }
            if ours.is_empty() {
                continue;
            }
            self.dropped += ours.len() as u64;
            let batch = self.labelled(take_rows(&dropped.batch, &ours)?)?;
            if let Some(sink) = self.ground_truth.as_deref_mut() {
                sink.send_batches(&[batch])?;
            }
        }
        self.held_drops = kept;
        Ok(())
    }

    /// `batch` without its anomaly labels if the run leaves them out.
    fn labelled(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if self.config.label_anomalies || batch.schema().index_of(IS_ANOMALY).is_err() {
            return Ok(batch);
        }
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| {
                let name = batch.schema().field(i).name().clone();
                name != IS_ANOMALY && name != ANOMALY_TYPE
            })
            .collect();
        Ok(batch.project(&keep)?)
    }

    pub(super) fn emit(&mut self, batch: RecordBatch, positions: Option<&[u64]>) -> Result<Flow> {
        if self.stop.load(Ordering::Relaxed) {
            self.reason = StopReason::Interrupted;
            return Ok(Flow::Stop);
        }
        let mut batch = batch;
        let mut limited = false;
        if let Some(max) = self.config.max_events {
            let room = max.saturating_sub(self.position) as usize;
            if batch.num_rows() >= room {
                batch = batch.slice(0, room);
                limited = true;
            }
        }
        match positions {
            Some(p) => {
                if let Some(&max) = p[..batch.num_rows()].iter().max() {
                    self.horizon = self.horizon.max(max + 1);
                }
            }
            None => self.horizon = self.position + batch.num_rows() as u64,
        }
        let (batch, positions, slots) = self.share(batch, positions)?;
        if let Ok(schema_index) = batch.schema().index_of(IS_ANOMALY) {
            let labels = batch.column(schema_index).as_boolean();
            self.anomalies += labels.true_count() as u64;
        }
        let batch = self.labelled(batch)?;
        let positions = positions.as_deref();
        let flow = match self.pacer.as_mut() {
            Some(pacer) => {
                let outcome = pacer.emit(
                    &batch,
                    Slots { positions, ..slots },
                    self.sink,
                    self.stop,
                    self.progress,
                    self.emitted,
                )?;
                self.count_sent(&batch, positions, outcome.sent as usize);
                self.emitted += outcome.sent;
                match outcome.stopped {
                    Some(reason) => {
                        self.reason = reason;
                        Flow::Stop
                    }
                    None => Flow::Continue,
                }
            }
            None => self.send_fast(&batch, positions)?,
        };
        if flow == Flow::Continue && limited {
            self.reason = StopReason::MaxEvents;
            return Ok(Flow::Stop);
        }
        Ok(flow)
    }

    /// This part's rows of `batch` (the run's next events), their in-order slots, and
    /// where they are in the run; advances the run's position past the batch.
    fn share<'p>(&mut self, batch: RecordBatch, positions: Option<&'p [u64]>) -> Result<Share<'p>> {
        let first = self.position;
        self.position += batch.num_rows() as u64;
        let Partition { index, count } = self.part;
        if count == 1 {
            let slots = Slots {
                first,
                stride: 1,
                positions: None,
            };
            return Ok((batch, positions.map(Cow::Borrowed), slots));
        }
        let offset = (index + count - first % count) % count;
        let rows: Vec<u64> = (offset..batch.num_rows() as u64)
            .step_by(usize::try_from(count).unwrap_or(usize::MAX))
            .collect();
        let positions =
            positions.map(|p| Cow::Owned(rows.iter().map(|&r| p[r as usize]).collect()));
        let batch = arrow_select::take::take_record_batch(&batch, &UInt64Array::from(rows))?;
        let slots = Slots {
            first: first + offset,
            stride: count,
            positions: None,
        };
        Ok((batch, positions, slots))
    }

    /// Counts the first `sent` events of `batch`: late ones (duplicates' copies
    /// aside), copies, and watermarks.
    fn count_sent(&mut self, batch: &RecordBatch, positions: Option<&[u64]>, sent: usize) {
        let marked = |name: &str| {
            batch
                .column_by_name(name)
                .map(|c| c.slice(0, sent.min(c.len())))
        };
        let copies = marked(DUPLICATE_OF);
        if let Some(c) = &copies {
            self.duplicates += (c.len() - c.null_count()) as u64;
        }
        if let Some(w) = marked(WATERMARK) {
            self.watermarks += (w.len() - w.null_count()) as u64;
        }
        if let Some(p) = positions {
            let p = &p[..sent.min(p.len())];
            self.late += match copies.filter(|c| c.null_count() < c.len()) {
                Some(c) => {
                    let originals: Vec<u64> = (0..p.len())
                        .filter(|&i| c.is_null(i))
                        .map(|i| p[i])
                        .collect();
                    count_late(&originals, &mut self.running_max)
                }
                None => count_late(p, &mut self.running_max),
            };
        }
    }

    fn send_fast(&mut self, batch: &RecordBatch, positions: Option<&[u64]>) -> Result<Flow> {
        let size = self.config.batch_size;
        let slices: Vec<RecordBatch> = (0..batch.num_rows())
            .step_by(size)
            .map(|at| batch.slice(at, size.min(batch.num_rows() - at)))
            .collect();
        match self.sink.send_batches(&slices) {
            Ok(()) => {}
            Err(spindle_sinks::Error::Closed(_)) => {
                self.reason = StopReason::ReaderClosed;
                return Ok(Flow::Stop);
            }
            Err(e) => return Err(e.into()),
        }
        self.count_sent(batch, positions, batch.num_rows());
        self.emitted += batch.num_rows() as u64;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.emitted);
        }
        if self
            .config
            .duration_seconds
            .is_some_and(|d| self.started.elapsed().as_secs_f64() >= d)
        {
            self.reason = StopReason::Duration;
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }
}
