//! Change streams (CDC): a table's rows as the changes of their lives, in the Debezium
//! JSON envelope.
//!
//! Each row is created at its event time in the first state of its [`Lifecycle`]
//! (an order `processing`), moves through the states before its generated value at
//! later times (`shipped` a day later, `completed` three days after that; dwell times
//! drawn normal, floored at 0.1 hours, as the reference's workflow simulator draws
//! them), and ends as the generator made it; a share of rows is then deleted. Replaying
//! the changes in order gives back the generated table, less the deleted rows. A
//! table without a lifecycle has creates (and deletes) only.
//!
//! Each change is one event: `before` and `after` (the row's versions, null for a
//! create's before and a delete's after), `op` (`c`, `u`, `d`), `ts_ms` (the change's
//! time in milliseconds), `source` (`connector`, `table`, `sequence`: the change's
//! place in the table's change stream), then the anomaly labels if any, `_spindle_key`
//! (the primary key, the table's first column, as text: a Kafka sink keys messages by
//! it unless given another key) and the metadata columns (`_spindle_seq` = `source.sequence`,
//! `_spindle_event_time` the change's time in microseconds). Changes go in order of
//! time, then row, then step, every draw by the row's `_spindle_seq`: the same bytes
//! whatever the chunking or thread count.

use crate::error::{Error, Result};
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use spindle_gen::rng::RandomStream;
use spindle_gen::{Domain, TableSpec};
use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};
use spindle_sinks::event::{EVENT_TIME as META_EVENT_TIME, SEQ as META_SEQ, TABLE as META_TABLE};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

/// The least time a row stays in a state, in hours (the reference's `min_dwell_hours`).
pub const MIN_DWELL_HOURS: f64 = 0.1;

/// The most changes in one batch of events (those due beyond it wait for the next).
const MAX_BATCH_CHANGES: usize = 65_536;

/// The most stages a lifecycle path may have.
pub const MAX_STAGES: usize = 200;

pub use spindle_sinks::event::KEY as KEY_COLUMN;

const MICROS_PER_HOUR: f64 = 3_600_000_000.0;

/// A state a row passes through, and how long it stays there.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The column's value in this state.
    pub state: String,
    /// Mean hours in it before the next change.
    pub hours: f64,
    /// Standard deviation of those hours.
    pub spread_hours: f64,
}

impl Stage {
    /// `state`, lasting `hours` on average, give or take `spread_hours`.
    pub fn new(state: &str, hours: f64, spread_hours: f64) -> Self {
        Self {
            state: state.to_string(),
            hours,
            spread_hours,
        }
    }
}

/// How a table's rows move through states over their lives: per final value of
/// `column`, the states a row is in before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    /// The column whose value moves (`status`).
    pub column: String,
    /// Per final value: the stages before it, in order. A value not listed is the
    /// row's state from its creation on.
    pub paths: Vec<(String, Vec<Stage>)>,
}

/// The form of a lifecycle's text, for errors.
const LIFECYCLE_FORM: &str = "COLUMN:FINAL=STATE/HOURS/SPREAD>STATE/HOURS/SPREAD;FINAL=... \
     (e.g. status:shipped=processing/24/6;completed=processing/24/6>shipped/72/24)";

impl Lifecycle {
    /// Retail's order: `processing`, then `shipped` about a day later, `completed`
    /// about three days after that, `returned` about five days later still; a
    /// cancelled order is cancelled about four hours after it was placed (the dwell
    /// times of the reference's order workflow).
    pub fn retail_order() -> Self {
        let retail = spindle_gen::RetailDomain::new();
        let order = retail.table("order").expect("retail has orders");
        Self::of(order).expect("retail's order has a lifecycle")
    }

    /// The lifecycle `table` declares, if its domain gives it one (a workflow table
    /// of each domain: orders, claims, shipments, work orders, leads...).
    pub fn of(table: &TableSpec) -> Option<Self> {
        table
            .lifecycle
            .map(|text| text.parse().expect("the built-in lifecycles are tested"))
    }

    /// Every lifecycle the built-in domains declare, as `(domain, table, lifecycle)`.
    pub fn built_ins() -> Vec<(&'static str, &'static str, Self)> {
        let mut all = Vec::new();
        for domain in spindle_gen::domains() {
            for table in domain.tables() {
                if let Some(lifecycle) = Self::of(table) {
                    all.push((domain.name(), table.name, lifecycle));
                }
            }
        }
        all
    }

    fn validate(&self) -> Result<()> {
        for (value, stages) in &self.paths {
            if stages.len() > MAX_STAGES {
                return Err(Error::invalid(
                    "cdc.lifecycle",
                    format!(
                        "the path to '{value}' has {} stages; at most {MAX_STAGES}",
                        stages.len()
                    ),
                ));
            }
            for s in stages {
                let finite = |x: f64| x.is_finite() && x >= 0.0;
                if !(finite(s.hours) && finite(s.spread_hours)) {
                    return Err(Error::invalid(
                        "cdc.lifecycle",
                        format!(
                            "stage '{}' before '{value}': hours {} and spread {} must be finite and >= 0",
                            s.state, s.hours, s.spread_hours
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Lifecycle {
    /// The text form [`Lifecycle`] parses from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.column)?;
        for (i, (value, stages)) in self.paths.iter().enumerate() {
            let stages: Vec<String> = stages
                .iter()
                .map(|s| format!("{}/{}/{}", s.state, s.hours, s.spread_hours))
                .collect();
            let sep = if i == 0 { "" } else { ";" };
            write!(f, "{sep}{value}={}", stages.join(">"))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Lifecycle {
    type Err = Error;

    /// `COLUMN:FINAL=STATE/HOURS/SPREAD>...;FINAL=...`: per final value of the column,
    /// the states before it with their mean hours and spread.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |what: String| {
            Error::invalid(
                "cdc_lifecycle",
                format!("{what}; expected {LIFECYCLE_FORM}"),
            )
        };
        let (column, rest) = text
            .split_once(':')
            .ok_or_else(|| bad(format!("'{text}' names no column")))?;
        let column = column.trim();
        if column.is_empty() {
            return Err(bad("an empty column name".into()));
        }
        let mut paths: Vec<(String, Vec<Stage>)> = Vec::new();
        for path in rest.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (value, stages) = path
                .split_once('=')
                .ok_or_else(|| bad(format!("path '{path}' has no '='")))?;
            let value = value.trim().to_string();
            if paths.iter().any(|(v, _)| *v == value) {
                return Err(bad(format!("'{value}' has two paths")));
            }
            let stages = stages
                .split('>')
                .map(|stage| {
                    let parts: Vec<&str> = stage.split('/').map(str::trim).collect();
                    let [state, hours, spread] = parts.as_slice() else {
                        return Err(bad(format!("stage '{stage}' is not STATE/HOURS/SPREAD")));
                    };
                    let number = |n: &str| {
                        n.parse::<f64>()
                            .map_err(|_| bad(format!("'{n}' in stage '{stage}' is not a number")))
                    };
                    Ok(Stage::new(state, number(hours)?, number(spread)?))
                })
                .collect::<Result<Vec<_>>>()?;
            paths.push((value, stages));
        }
        if paths.is_empty() {
            return Err(bad(format!("'{text}' has no path")));
        }
        let lifecycle = Self {
            column: column.to_string(),
            paths,
        };
        lifecycle.validate()?;
        Ok(lifecycle)
    }
}

crate::settings::deserialize_from_text!(Lifecycle);
crate::settings::parsed_setting!(crate::settings::json_text => Lifecycle);

/// Settings of a change stream.
#[derive(Clone, Debug, PartialEq)]
pub struct CdcConfig {
    /// The states rows pass through; `None`: creates (and deletes) only.
    pub lifecycle: Option<Lifecycle>,
    /// Share of rows deleted after their last change, each row drawn on its own.
    pub delete_fraction: f64,
    /// Mean hours from a row's last change to its deletion (exponential).
    pub delete_after_hours: f64,
    /// Follow each delete with a tombstone (`_spindle_tombstone` true, the envelope's
    /// fields null): a Kafka sink sends it as the key with no value.
    pub tombstones: bool,
}

impl Default for CdcConfig {
    fn default() -> Self {
        Self {
            lifecycle: None,
            delete_fraction: 0.0,
            delete_after_hours: 168.0,
            tombstones: false,
        }
    }
}

impl CdcConfig {
    /// Checks every field, naming the first one out of range.
    ///
    /// # Errors
    /// [`Error::Invalid`] with the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.delete_fraction) {
            return Err(Error::invalid(
                "cdc_delete_fraction",
                format!("{} must be in [0, 1]", self.delete_fraction),
            ));
        }
        if !(self.delete_after_hours.is_finite() && self.delete_after_hours >= 0.0) {
            return Err(Error::invalid(
                "cdc_delete_after_hours",
                format!("{} must be >= 0", self.delete_after_hours),
            ));
        }
        match &self.lifecycle {
            Some(l) => l.validate(),
            None => Ok(()),
        }
    }
}

/// The step of a row's deletion.
const DELETE: u8 = u8::MAX - 1;
/// The step of the tombstone after a deletion.
const TOMBSTONE: u8 = u8::MAX;

/// One change of one row: at `time`, version `step` of the row (or its deletion, or
/// the tombstone after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    time: i64,
    seq: i64,
    step: u8,
    /// Where the row is among the retained rows.
    row: u64,
}

/// The change-stream stage: rows in event-time order in, change events out.
pub(crate) struct ChangeStream {
    table: String,
    /// The table's own columns (labels and metadata left out).
    own: Fields,
    /// Where `own` and the labels are in the incoming rows.
    own_at: Vec<usize>,
    labels_at: Option<(usize, usize)>,
    event_time_at: usize,
    /// The lifecycle column's place among `own`, and the lifecycle.
    moving: Option<(usize, Lifecycle)>,
    delete_fraction: f64,
    delete_after_hours: f64,
    tombstones: bool,
    dwell: RandomStream,
    delete: RandomStream,
    /// The rows with changes still to come, by the index of their first row: each
    /// chunk, and apart from it the rows it will delete.
    retained: VecDeque<Retained>,
    next_row: u64,
    /// Changes not yet sent, earliest first.
    pending: BinaryHeap<Reverse<Change>>,
    next_sequence: i64,
    schema: SchemaRef,
}

struct Retained {
    /// The index of the first row.
    first: u64,
    /// Per row: its changes not yet sent.
    left: Vec<u8>,
    /// Rows with changes left.
    live: usize,
    /// The rows kept: all of them, or (`kept`) those with changes left.
    rows: RecordBatch,
    /// When compacted, the offsets (from `first`) of the rows kept, ascending.
    kept: Option<Vec<u32>>,
}

impl Retained {
    /// Rows `rows` from index `first`, with `left[r]` changes to come for row `r`.
    fn new(first: u64, rows: RecordBatch, left: Vec<u8>) -> Self {
        let live = left.iter().filter(|&&n| n > 0).count();
        Self {
            first,
            left,
            live,
            rows,
            kept: None,
        }
    }

    /// One past the index of the last row.
    fn end(&self) -> u64 {
        self.first + self.left.len() as u64
    }

    /// Where row `row` is in `rows`.
    fn position(&self, row: u64) -> usize {
        let offset = (row - self.first) as usize;
        match &self.kept {
            None => offset,
            Some(kept) => kept
                .binary_search(&(offset as u32))
                .expect("a row with changes left is kept"),
        }
    }

    /// Counts a change of row `row` as sent.
    fn sent(&mut self, row: u64) {
        let left = &mut self.left[(row - self.first) as usize];
        *left -= 1;
        if *left == 0 {
            self.live -= 1;
        }
    }

    /// Keeps only the rows with changes left, once they are a quarter of those held.
    fn compact(&mut self) -> Result<()> {
        if self.rows.num_rows() < 256 || self.live * 4 > self.rows.num_rows() {
            return Ok(());
        }
        let offsets: Vec<u32> = (0..self.left.len() as u32)
            .filter(|&o| self.left[o as usize] > 0)
            .collect();
        let positions: Vec<u32> = offsets
            .iter()
            .map(|&o| self.position(self.first + u64::from(o)) as u32)
            .collect();
        self.rows = arrow_select::take::take_record_batch(
            &self.rows,
            &arrow_array::UInt32Array::from(positions),
        )?;
        self.kept = Some(offsets);
        Ok(())
    }
}

impl ChangeStream {
    /// The change stream of `table` (rows of `schema`, event time `event_time`).
    pub(crate) fn new(
        table: &str,
        schema: &Schema,
        event_time: &str,
        config: &CdcConfig,
        seed: u64,
    ) -> Result<Self> {
        config.validate()?;
        let not_own = [IS_ANOMALY, ANOMALY_TYPE];
        let own_at: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !not_own.contains(&schema.field(i).name().as_str()))
            .collect();
        let own: Fields = own_at.iter().map(|&i| schema.fields()[i].clone()).collect();
        if own.is_empty() {
            return Err(Error::invalid(
                "cdc",
                format!("table '{table}' has no columns"),
            ));
        }
        let labels_at = schema
            .index_of(IS_ANOMALY)
            .ok()
            .zip(schema.index_of(ANOMALY_TYPE).ok());
        let moving = match &config.lifecycle {
            None => None,
            Some(l) => {
                let at = own
                    .iter()
                    .position(|f| f.name() == &l.column)
                    .ok_or_else(|| {
                        Error::column(
                            "lifecycle column",
                            &l.column,
                            "does not exist",
                            table,
                            schema,
                        )
                    })?;
                if own[at].data_type() != &DataType::Utf8 {
                    return Err(Error::column(
                        "lifecycle column",
                        &l.column,
                        format!("is {}, not text", own[at].data_type()),
                        table,
                        schema,
                    ));
                }
                Some((at, l.clone()))
            }
        };
        let version = DataType::Struct(own.clone());
        let mut fields = vec![
            Field::new("before", version.clone(), true),
            Field::new("after", version, true),
            Field::new("op", DataType::Utf8, config.tombstones),
            Field::new("ts_ms", DataType::Int64, false),
            Field::new("source", DataType::Struct(source_fields()), false),
        ];
        if labels_at.is_some() {
            fields.push(Field::new(IS_ANOMALY, DataType::Boolean, false));
            fields.push(Field::new(ANOMALY_TYPE, DataType::Utf8, true));
        }
        if config.tombstones {
            fields.push(Field::new(
                spindle_sinks::event::TOMBSTONE,
                DataType::Boolean,
                false,
            ));
        }
        fields.push(Field::new(KEY_COLUMN, DataType::Utf8, true));
        fields.push(Field::new(META_TABLE, DataType::Utf8, false));
        fields.push(Field::new(META_SEQ, DataType::Int64, false));
        fields.push(Field::new(
            META_EVENT_TIME,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ));
        let root = RandomStream::new(seed, "cdc");
        Ok(Self {
            table: table.to_string(),
            own,
            own_at,
            labels_at,
            event_time_at: schema.index_of(event_time)?,
            moving,
            delete_fraction: config.delete_fraction,
            delete_after_hours: config.delete_after_hours,
            tombstones: config.tombstones,
            dwell: root.fork(1),
            delete: root.fork(2),
            retained: VecDeque::new(),
            next_row: 0,
            pending: BinaryHeap::new(),
            next_sequence: 0,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The stages before `value` (none if it has no path).
    fn stages(&self, value: &str) -> &[Stage] {
        match &self.moving {
            Some((_, l)) => l
                .paths
                .iter()
                .find(|(v, _)| v == value)
                .map_or(&[], |(_, s)| s.as_slice()),
            None => &[],
        }
    }

    /// Takes the next rows (in event-time order, with their `_spindle_seq`) and their
    /// changes; returns the last row's creation time (`None` for no rows).
    fn push(&mut self, rows: &RecordBatch, seqs: &Int64Array) -> Result<Option<i64>> {
        if rows.num_rows() == 0 {
            return Ok(None);
        }
        let times = arrow_cast::cast(
            rows.column(self.event_time_at),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let times = times.as_primitive::<TimestampMicrosecondType>();
        if times.null_count() > 0 {
            return Err(Error::invalid(
                "cdc",
                format!(
                    "table '{}' has rows without an event time: a change needs one",
                    self.table
                ),
            ));
        }
        let states = self
            .moving
            .as_ref()
            .map(|(at, _)| rows.column(self.own_at[*at]).as_string::<i32>().clone());
        let first = self.next_row;
        let n = rows.num_rows() as u64;
        let mut changes = Vec::with_capacity(rows.num_rows() * 2);
        // Rows to be deleted, copied apart: a deletion may come long after the rest of
        // its chunk's changes, and must not keep the whole chunk.
        let mut doomed: Vec<u32> = Vec::new();
        for r in 0..rows.num_rows() {
            let (seq, mut time) = (seqs.value(r), times.value(r));
            let row = first + r as u64;
            changes.push(Change {
                time,
                seq,
                step: 0,
                row,
            });
            let stages = match &states {
                Some(s) if s.is_valid(r) => self.stages(s.value(r)),
                _ => &[],
            };
            for (k, stage) in stages.iter().enumerate() {
                let draw = self.dwell.normal(seq as u64 * 256 + k as u64);
                let hours = (stage.hours + stage.spread_hours * draw).max(MIN_DWELL_HOURS);
                time = time.saturating_add((hours * MICROS_PER_HOUR) as i64);
                changes.push(Change {
                    time,
                    seq,
                    step: k as u8 + 1,
                    row,
                });
            }
            if self.delete_fraction > 0.0 && self.delete.unit(seq as u64) < self.delete_fraction {
                let gap = self.delete_after_hours * self.delete.fork(1).exponential(seq as u64);
                let time = time.saturating_add((gap.max(MIN_DWELL_HOURS) * MICROS_PER_HOUR) as i64);
                let row = first + n + doomed.len() as u64;
                doomed.push(r as u32);
                changes.push(Change {
                    time,
                    seq,
                    step: DELETE,
                    row,
                });
                if self.tombstones {
                    changes.push(Change {
                        time,
                        seq,
                        step: TOMBSTONE,
                        row,
                    });
                }
            }
        }
        let mut left = vec![0u8; n as usize + doomed.len()];
        for c in &changes {
            left[(c.row - first) as usize] += 1;
        }
        let late = left.split_off(n as usize);
        self.retained
            .push_back(Retained::new(first, rows.clone(), left));
        if !doomed.is_empty() {
            let indices = arrow_array::UInt32Array::from(doomed);
            let rows = arrow_select::take::take_record_batch(rows, &indices)?;
            self.retained
                .push_back(Retained::new(first + n, rows, late));
        }
        self.next_row = self.retained.back().map_or(first, Retained::end);
        self.pending.extend(changes.into_iter().map(Reverse));
        Ok(Some(times.value(rows.num_rows() - 1)))
    }

    /// The change events of `rows` (chunks in event-time order, with their
    /// `_spindle_seq`): as each chunk comes in, the changes due before any later row's
    /// creation; once the rows are all in, the changes still pending.
    pub(crate) fn over(
        mut self,
        mut rows: impl Iterator<Item = Result<(RecordBatch, Int64Array)>>,
    ) -> impl Iterator<Item = Result<RecordBatch>> {
        // The latest creation time read: every later row is created then or after, so
        // the changes up to it are due (all of them once the rows are all in: `None`).
        let mut horizon = Some(i64::MIN);
        let mut rows_done = false;
        std::iter::from_fn(move || {
            loop {
                if let Some(batch) = self.emit(horizon).transpose() {
                    return Some(batch);
                }
                if rows_done {
                    return None;
                }
                match rows.next() {
                    Some(chunk) => match chunk.and_then(|(rows, seqs)| self.push(&rows, &seqs)) {
                        Ok(Some(latest)) => horizon = Some(latest),
                        Ok(None) => {}
                        Err(e) => return Some(Err(e)),
                    },
                    None => (rows_done, horizon) = (true, None),
                }
            }
        })
    }

    /// The retained chunk holding row `row`.
    fn chunk_of(&self, row: u64) -> usize {
        self.retained.partition_point(|r| r.end() <= row)
    }

    fn emit(&mut self, horizon: Option<i64>) -> Result<Option<RecordBatch>> {
        let mut changes = Vec::new();
        while let Some(Reverse(next)) = self.pending.peek() {
            if horizon.is_some_and(|h| next.time > h) || changes.len() == MAX_BATCH_CHANGES {
                break;
            }
            changes.push(*next);
            self.pending.pop();
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let batch = self.assemble(&changes)?;
        // Rows whose changes are all out are let go.
        for c in &changes {
            let at = self.chunk_of(c.row);
            self.retained[at].sent(c.row);
        }
        self.retained.retain(|r| r.live > 0);
        for r in &mut self.retained {
            r.compact()?;
        }
        Ok(Some(batch))
    }

    /// The events of `changes`, in order.
    fn assemble(&mut self, changes: &[Change]) -> Result<RecordBatch> {
        let n = changes.len();
        let picks: Vec<(usize, usize)> = changes
            .iter()
            .map(|c| {
                let at = self.chunk_of(c.row);
                (at, self.retained[at].position(c.row))
            })
            .collect();
        let gather = |column: usize| -> Result<ArrayRef> {
            let arrays: Vec<&dyn Array> = self
                .retained
                .iter()
                .map(|r| r.rows.column(column).as_ref())
                .collect();
            Ok(arrow_select::interleave::interleave(&arrays, &picks)?)
        };
        let finals: Vec<ArrayRef> = self
            .own_at
            .iter()
            .map(|&c| gather(c))
            .collect::<Result<_>>()?;
        // The lifecycle column of each version: before (step - 1) and after (step).
        let (before_moving, after_moving) = match &self.moving {
            None => (None, None),
            Some((at, _)) => {
                let state = finals[*at].as_string::<i32>();
                let mut before = StringBuilder::with_capacity(n, n * 10);
                let mut after = StringBuilder::with_capacity(n, n * 10);
                for (i, c) in changes.iter().enumerate() {
                    if state.is_null(i) {
                        before.append_null();
                        after.append_null();
                        continue;
                    }
                    let value = state.value(i);
                    let stages = self.stages(value);
                    let name =
                        |version: usize| stages.get(version).map_or(value, |s| s.state.as_str());
                    match c.step {
                        DELETE | TOMBSTONE => {
                            before.append_value(value);
                            after.append_value(value);
                        }
                        0 => {
                            before.append_value(name(0));
                            after.append_value(name(0));
                        }
                        k => {
                            before.append_value(name(k as usize - 1));
                            after.append_value(name(k as usize));
                        }
                    }
                }
                (
                    Some(Arc::new(before.finish()) as ArrayRef),
                    Some(Arc::new(after.finish()) as ArrayRef),
                )
            }
        };
        let version = |moved: Option<ArrayRef>, valid: Vec<bool>| -> Result<ArrayRef> {
            let mut columns = finals.clone();
            if let (Some((at, _)), Some(m)) = (&self.moving, moved) {
                columns[*at] = m;
            }
            Ok(Arc::new(StructArray::try_new(
                self.own.clone(),
                columns,
                Some(NullBuffer::from(valid)),
            )?))
        };
        let before = version(
            before_moving,
            changes
                .iter()
                .map(|c| !matches!(c.step, 0 | TOMBSTONE))
                .collect(),
        )?;
        let after = version(
            after_moving,
            changes.iter().map(|c| c.step < DELETE).collect(),
        )?;
        let op: StringArray = changes
            .iter()
            .map(|c| match c.step {
                0 => Some("c"),
                DELETE => Some("d"),
                TOMBSTONE => None,
                _ => Some("u"),
            })
            .collect();
        let sequences = Int64Array::from_iter_values((self.next_sequence..).take(n));
        self.next_sequence += n as i64;
        let ts_ms = Int64Array::from_iter_values(changes.iter().map(|c| c.time.div_euclid(1_000)));
        let source = StructArray::try_new(
            source_fields(),
            vec![
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    "spindle", n,
                ))),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    self.table.as_str(),
                    n,
                ))),
                Arc::new(sequences.clone()),
                Arc::new(ts_ms.clone()),
            ],
            None,
        )?;
        let mut columns: Vec<ArrayRef> = vec![
            before,
            after,
            Arc::new(op),
            Arc::new(ts_ms),
            Arc::new(source),
        ];
        if let Some((flag, kind)) = self.labels_at {
            columns.push(gather(flag)?);
            columns.push(gather(kind)?);
        }
        if self.tombstones {
            columns.push(Arc::new(arrow_array::BooleanArray::from_iter(
                changes.iter().map(|c| Some(c.step == TOMBSTONE)),
            )));
        }
        columns.push(arrow_cast::cast(&finals[0], &DataType::Utf8)?);
        columns.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.table.as_str(), n),
        )));
        columns.push(Arc::new(sequences));
        columns.push(Arc::new(TimestampMicrosecondArray::from_iter_values(
            changes.iter().map(|c| c.time),
        )));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// The fields of a change's `source`.
fn source_fields() -> Fields {
    Fields::from(vec![
        Field::new("connector", DataType::Utf8, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("sequence", DataType::Int64, false),
        Field::new("ts_ms", DataType::Int64, false),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_lifecycle_reads_back_from_its_text() {
        for (domain, table, lifecycle) in Lifecycle::built_ins() {
            let again: Lifecycle = lifecycle.to_string().parse().unwrap();
            assert_eq!(again, lifecycle, "{domain}.{table}");
            assert!(lifecycle.paths.iter().all(|(_, stages)| !stages.is_empty()));
        }
        assert_eq!(Lifecycle::built_ins().len(), 14);
    }
}
