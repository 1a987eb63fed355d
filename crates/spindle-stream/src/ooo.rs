//! Out-of-order delivery as an index permutation, computed in linear time and chunk by
//! chunk.
//!
//! Event `i` (its position in event-time order) is chosen with probability `fraction`
//! and, if chosen, given a delay `d` in `1..=k`. Emission walks the slots `p = 0, 1, ..`:
//! at slot `p` it emits event `p` unless it was chosen, then every chosen event whose
//! slot `i + d` is `p`, lowest `i` first; chosen events whose slot falls past the end
//! come last, in slot order. So no event is emitted more than `k` places after its
//! in-order position, events not chosen only ever move earlier, and the choice depends
//! on `(seed, i)` alone, never on how the stream is chunked.

use crate::error::Result;
use arrow_array::{RecordBatch, UInt32Array};
use spindle_gen::rng::RandomStream;

/// A chunk of events in emission order, with each event's in-order position.
#[derive(Debug)]
pub struct Reordered {
    /// The events.
    pub batch: RecordBatch,
    /// In-order position (0-based) of each event of `batch`.
    pub positions: Vec<u64>,
}

/// Most buckets of the timing wheel: beyond this, a bucket holds events due in
/// different rounds, and memory follows the events pending rather than the largest
/// delay allowed (which may be anything up to `u64::MAX`).
const MAX_WHEEL_BUCKETS: u64 = 1 << 16;

/// A chosen event waiting for its slot.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The slot it is emitted at.
    due: u64,
    /// Its in-order position.
    position: u64,
    /// Its row in the carry batch.
    row: u32,
}

/// Streaming out-of-order permuter.
pub struct OutOfOrder {
    fraction: f64,
    max_delay: u64,
    stream: RandomStream,
    next: u64,
    /// Timing wheel of `min(max_delay + 1, MAX_WHEEL_BUCKETS)` buckets: a chosen event
    /// due at slot `s` waits in bucket `s % buckets`, behind those chosen before it.
    wheel: Vec<Vec<Pending>>,
    carry: Option<RecordBatch>,
}

impl OutOfOrder {
    /// A permuter delaying about `fraction` of events by 1..=`max_delay` places.
    pub fn new(fraction: f64, max_delay: u64, seed: u64) -> Self {
        let max_delay = max_delay.max(1);
        let buckets = max_delay.saturating_add(1).min(MAX_WHEEL_BUCKETS);
        Self {
            fraction,
            max_delay,
            stream: RandomStream::new(seed, "stream.out_of_order"),
            next: 0,
            wheel: vec![Vec::new(); buckets as usize],
            carry: None,
        }
    }

    /// The delay of event `position`, or `None` if it is delivered in order.
    pub fn delay_of(&self, position: u64) -> Option<u64> {
        (self.stream.unit(position) < self.fraction)
            .then(|| 1 + self.stream.below2(position, 1, self.max_delay))
    }

    fn bucket(&self, slot: u64) -> usize {
        (slot % self.wheel.len() as u64) as usize
    }

    /// Takes the next chunk of in-order events and returns those that can be emitted.
    ///
    /// # Errors
    /// Arrow errors assembling the output (schemas must not change between chunks).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<Reordered> {
        let buffer = match self.carry.take() {
            Some(carry) => arrow_select::concat::concat_batches(&batch.schema(), [&carry, batch])?,
            None => batch.clone(),
        };
        let carried = buffer.num_rows() - batch.num_rows();
        let mut rows = Vec::with_capacity(buffer.num_rows());
        let mut positions = Vec::with_capacity(buffer.num_rows());
        for r in 0..batch.num_rows() {
            let p = self.next;
            let row = (carried + r) as u32;
            match self.delay_of(p) {
                Some(d) => {
                    let due = p.saturating_add(d);
                    let bucket = self.bucket(due);
                    self.wheel[bucket].push(Pending {
                        due,
                        position: p,
                        row,
                    });
                }
                None => {
                    rows.push(row);
                    positions.push(p);
                }
            }
            let bucket = self.bucket(p);
            // Those due now, lowest position first (the order they were chosen in).
            self.wheel[bucket].retain(|e| {
                let due = e.due == p;
                if due {
                    rows.push(e.row);
                    positions.push(e.position);
                }
                !due
            });
            self.next += 1;
        }
        // Keep what is still pending, renumbered into a compact carry batch.
        let mut keep = Vec::new();
        for bucket in &mut self.wheel {
            for entry in bucket.iter_mut() {
                keep.push(entry.row);
                entry.row = (keep.len() - 1) as u32;
            }
        }
        if !keep.is_empty() {
            self.carry = Some(take(&buffer, &keep)?);
        }
        Ok(Reordered {
            batch: take(&buffer, &rows)?,
            positions,
        })
    }

    /// Emits the events still pending at the end of the stream.
    ///
    /// # Errors
    /// Arrow errors assembling the output.
    pub fn finish(&mut self) -> Result<Option<Reordered>> {
        let Some(carry) = self.carry.take() else {
            return Ok(None);
        };
        let mut pending: Vec<Pending> = self.wheel.iter_mut().flat_map(|b| b.drain(..)).collect();
        pending.sort_unstable_by_key(|e| (e.due, e.position));
        let rows: Vec<u32> = pending.iter().map(|e| e.row).collect();
        let positions = pending.iter().map(|e| e.position).collect();
        Ok(Some(Reordered {
            batch: take(&carry, &rows)?,
            positions,
        }))
    }
}

fn take(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows.to_vec());
    Ok(arrow_select::take::take_record_batch(batch, &indices)?)
}

/// Counts the late events of an emission order: those emitted after an event with a
/// later in-order position. `running_max` carries the state across chunks.
pub fn count_late(positions: &[u64], running_max: &mut Option<u64>) -> u64 {
    let mut late = 0;
    for &p in positions {
        match running_max {
            Some(m) if p < *m => late += 1,
            Some(m) => *m = p,
            None => *running_max = Some(p),
        }
    }
    late
}
