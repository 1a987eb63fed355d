//! Chunked, parallel generation: a run split into parts, a part's units cut into
//! chunks, and chunks made on the rayon pool a window ahead and taken in order.

use crate::domain::{Domain, DomainPlan};
use crate::error::{Error, Result};
use arrow_array::RecordBatch;

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

/// Driving rows per chunk unless asked otherwise. Small chunks keep memory low (a
/// window of them is in flight, plus what sinks buffer) and cost no speed: 4,096
/// orders (about 10,000 order lines) is plenty of work per pool task. Measured at
/// `medium`: 65,536 needed 210 MiB to write Parquet, 4,096 needs 75 MiB, same time.
pub const DEFAULT_CHUNK_UNITS: u64 = 4_096;

/// One part of a partitioned run: part `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Which part, `0..count`.
    pub index: u64,
    /// How many parts the run is split into.
    pub count: u64,
}

impl Partition {
    /// The whole run.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// Part `index` of `count`.
    ///
    /// # Errors
    /// `count` of zero or `index` not below `count`.
    pub fn new(index: u64, count: u64) -> Result<Self> {
        if count == 0 {
            return Err(Error::Invalid {
                field: "parts",
                message: "must be at least 1".into(),
            });
        }
        if index >= count {
            return Err(Error::Invalid {
                field: "part",
                message: format!("{index} is not in 0..{count}"),
            });
        }
        Ok(Self { index, count })
    }

    /// This part's share of `units` driving rows: a contiguous range.
    pub fn units(&self, units: u64) -> Range<u64> {
        let at = |i: u64| (u128::from(units) * u128::from(i) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// Splits `units` into chunk ranges of `chunk` units.
pub fn chunk_ranges(units: Range<u64>, chunk: u64) -> Vec<Range<u64>> {
    let chunk = chunk.max(1);
    let mut out = Vec::new();
    let mut start = units.start;
    while start < units.end {
        let end = (start + chunk).min(units.end);
        out.push(start..end);
        start = end;
    }
    out
}

/// Work started on the rayon pool ahead of its caller, a window of it at a time, its
/// results taken in the order it was started: generation keeps going while the caller
/// consumes, and memory stays bounded by the window.
pub struct InFlight<T> {
    pending: VecDeque<Pending<T>>,
    window: usize,
}

/// The result of work started on the pool, once it is done (see [`Pending::wait`]).
pub struct Pending<T>(std::sync::mpsc::Receiver<T>);

impl<T> Pending<T> {
    /// The result, waited for. A caller that is itself a pool thread runs queued pool
    /// work while it waits, so the work it waits for cannot sit behind it in the queue.
    ///
    /// # Panics
    /// If the work panicked.
    pub fn wait(self) -> T {
        loop {
            match self.0.try_recv() {
                Ok(done) => return done,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    panic!("work started on the pool panicked")
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => {}
                    // Not a pool thread, or nothing queued: the work is done elsewhere.
                    None | Some(rayon::Yield::Idle) => {
                        return self.0.recv().expect("work on the pool does not panic");
                    }
                },
            }
        }
    }
}

impl<T: Send + 'static> Default for InFlight<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> InFlight<T> {
    /// Nothing in flight; a window of twice the pool's threads.
    pub fn new() -> Self {
        Self {
            pending: VecDeque::new(),
            window: 2 * rayon::current_num_threads().max(1),
        }
    }

    /// Whether more work may be started.
    pub fn has_room(&self) -> bool {
        self.pending.len() < self.window
    }

    /// Starts `work` on the pool.
    pub fn start(&mut self, work: impl FnOnce() -> T + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            // The caller may have gone; then nobody wants the result.
            let _ = tx.send(work());
        });
        self.pending.push_back(Pending(rx));
    }

    /// The work started first of what is still in flight (its place freed for more),
    /// or `None` when nothing is.
    pub fn pop(&mut self) -> Option<Pending<T>> {
        self.pending.pop_front()
    }
}

/// Yields the batches of a group of tables with one driver, chunk by chunk, in order.
/// Chunks are generated ahead on the rayon pool ([`InFlight`]), so generation keeps
/// going while the caller consumes: memory is bounded by the window, and each chunk is
/// a function of its range alone (the thread count does not change a byte).
pub struct ChunkStream {
    plan: Arc<dyn DomainPlan>,
    tables: Vec<&'static str>,
    ranges: VecDeque<Range<u64>>,
    in_flight: InFlight<Result<Vec<RecordBatch>>>,
    /// [`DomainPlan::prepare`] has been called for the tables.
    prepared: bool,
    /// Only these columns of the one table, if set (see [`ChunkStream::columns`]).
    columns: Option<Arc<[String]>>,
}

impl ChunkStream {
    /// The chunks of `tables` (same driver) over `units`.
    pub fn new(
        plan: Arc<dyn DomainPlan>,
        tables: Vec<&'static str>,
        units: Range<u64>,
        chunk_units: u64,
    ) -> Self {
        Self {
            plan,
            tables,
            ranges: chunk_ranges(units, chunk_units).into(),
            in_flight: InFlight::new(),
            prepared: false,
            columns: None,
        }
    }

    /// The chunks of the columns `columns` of `table` over `units` (see
    /// [`DomainPlan::generate_columns`]).
    pub fn columns(
        plan: Arc<dyn DomainPlan>,
        table: &'static str,
        columns: Arc<[String]>,
        units: Range<u64>,
        chunk_units: u64,
    ) -> Self {
        Self {
            columns: Some(columns),
            ..Self::new(plan, vec![table], units, chunk_units)
        }
    }

    /// Driving rows of each chunk not yet started.
    pub fn remaining_ranges(&self) -> impl Iterator<Item = &Range<u64>> {
        self.ranges.iter()
    }

    /// Starts chunks until the window is full (preparing the plan for them first).
    fn fill(&mut self) {
        if !self.prepared {
            self.plan.prepare(&self.tables);
            self.prepared = true;
        }
        while self.in_flight.has_room() {
            let Some(range) = self.ranges.pop_front() else {
                break;
            };
            let plan = self.plan.clone();
            let tables = self.tables.clone();
            let columns = self.columns.clone();
            self.in_flight.start(move || match columns {
                Some(columns) => {
                    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                    plan.generate_columns(tables[0], &names, range)
                        .map(|b| vec![b])
                }
                None => plan.generate(&tables, range),
            });
        }
    }
}

impl Iterator for ChunkStream {
    type Item = Result<Vec<RecordBatch>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.fill();
        let front = self.in_flight.pop()?;
        // Start the chunk that takes the freed place before waiting on this one.
        self.fill();
        Some(front.wait())
    }
}

/// Groups `tables` by driver, keeping the domain's generation order of first mention.
pub fn driver_groups(
    domain: &dyn Domain,
    tables: &[&str],
) -> Result<Vec<(&'static str, Vec<&'static str>)>> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for name in tables {
        let spec = domain.table(name)?;
        match groups.iter_mut().find(|(d, _)| *d == spec.driver) {
            Some((_, list)) => list.push(spec.name),
            None => groups.push((spec.driver, vec![spec.name])),
        }
    }
    Ok(groups)
}
