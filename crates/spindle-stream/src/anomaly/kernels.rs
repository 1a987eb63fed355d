//! The kernels: what each anomaly needs to know of the whole table (a column's mean,
//! a count of eligible rows, group sizes), gathered chunk by chunk in table order, and
//! each anomaly's edits of a batch (rows and their new values) as functions over its
//! arrays, leaving the batch untouched. A batch's rows are addressed by their positions
//! in the table, so an edit is the same whether the table comes whole, in chunks, or
//! as the few rows an anomaly moves.

use super::{CollectiveAnomaly, ContextualAnomaly, PointAnomaly, Value, pick_count};
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_data::{ArrayData, transform::MutableArrayData};
use arrow_schema::{DataType, TimeUnit};
use foldhash::fast::FixedState;
use spindle_gen::dist::sample_without_replacement;
use spindle_gen::rng::RandomStream;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What one anomaly changes: rows (ascending), the column and its new values.
pub(super) struct Edit {
    pub(super) column: usize,
    /// New type of the column, when it changes (integer to float for point anomalies).
    pub(super) new_type: Option<DataType>,
    /// The anomaly may write nulls: the column is nullable in every batch, whether this
    /// one got a null or not, so that the schema never changes along a stream.
    pub(super) nullable: bool,
    pub(super) rows: Vec<u32>,
    pub(super) values: ArrayRef,
}

/// `value` as a one-element array of type `t`, if it fits.
pub(super) fn literal(value: &Value, t: &DataType) -> Option<ArrayRef> {
    let array: ArrayRef = match value {
        Value::Text(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        Value::Int(i) => Arc::new(arrow_array::Int64Array::from(vec![*i])),
        Value::Float(f) => Arc::new(Float64Array::from(vec![*f])),
        Value::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Value::Null => return Some(arrow_array::new_null_array(t, 1)),
    };
    let text_into_non_text = matches!(value, Value::Text(_)) && !is_text(t);
    let number_into_bool = !matches!(value, Value::Bool(_)) && *t == DataType::Boolean;
    if text_into_non_text || number_into_bool {
        return None;
    }
    let options = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    arrow_cast::cast_with_options(&array, t, &options).ok()
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if v.is_string())
}

/// An array made of `runs` of rows of `arrays` (all of one type): `(array, start,
/// len)` each, copied a run at a time.
pub(super) fn splice(arrays: &[&ArrayRef], runs: &[(usize, usize, usize)]) -> Result<ArrayRef> {
    let data: Vec<ArrayData> = arrays.iter().map(|a| a.to_data()).collect();
    let len = runs.iter().map(|r| r.2).sum();
    let mut out = MutableArrayData::new(data.iter().collect(), false, len);
    for &(array, start, n) in runs {
        out.try_extend(array, start, start + n)?;
    }
    Ok(arrow_array::make_array(out.freeze()))
}

/// Runs (see [`splice`]) for `len` rows of array 0 with its `rows` (ascending) taken
/// instead from array 1, whose rows come in order.
pub(super) fn replacement_runs(rows: &[u32], len: usize) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(2 * rows.len() + 1);
    let mut at = 0;
    for (k, &r) in rows.iter().enumerate() {
        let r = r as usize;
        if r > at {
            runs.push((0, at, r - at));
        }
        match runs.last_mut() {
            Some((1, start, n)) if *start + *n == k => *n += 1,
            _ => runs.push((1, k, 1)),
        }
        at = r + 1;
    }
    if at < len {
        runs.push((0, at, len - at));
    }
    runs
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> (usize, &'a ArrayRef) {
    let i = batch.schema().index_of(name).expect("checked before");
    (i, batch.column(i))
}

/// The rows (indexes into `positions`) whose table position is in `picked`; both
/// ascending.
pub(super) fn picked_rows(positions: &[u64], picked: &[u64]) -> Vec<u32> {
    let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
        return Vec::new();
    };
    let from = picked.partition_point(|&p| p < first);
    let to = picked.partition_point(|&p| p <= last);
    let picked = &picked[from..to];
    if last - first + 1 == positions.len() as u64 {
        // Consecutive positions (a chunk of the table): the row is the offset.
        return picked.iter().map(|&p| (p - first) as u32).collect();
    }
    let mut at = 0;
    let mut rows = Vec::with_capacity(picked.len().min(positions.len()));
    for (row, &position) in positions.iter().enumerate() {
        // Past a wide gap (the positions of moved rows, or the ranks of their eligible
        // rows, come from anywhere in the table), the picks under it are skipped by
        // halves rather than one by one.
        if picked.get(at + 8).is_some_and(|&p| p < position) {
            at += picked[at..].partition_point(|&p| p < position);
        }
        while at < picked.len() && picked[at] < position {
            at += 1;
        }
        if at == picked.len() {
            break;
        }
        if picked[at] == position {
            rows.push(row as u32);
        }
    }
    rows
}

/// Table rows summed per block by [`AbsMean`]: the mean is summed left to right within
/// a block, then block by block, so it does not depend on how the table is chunked.
const MEAN_BLOCK_ROWS: u64 = 65_536;

/// The mean absolute value of a point anomaly's column (its baseline), over the table
/// in order.
#[derive(Default)]
pub(super) struct AbsMean {
    total: (f64, u64),
    block: (f64, u64),
    block_index: u64,
}

impl AbsMean {
    /// Adds `array`, the column's values from table position `first`.
    pub(super) fn add(&mut self, array: &ArrayRef, first: u64) -> Result<()> {
        let values = arrow_cast::cast(array, &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        let mut at = 0u64;
        let len = values.len() as u64;
        while at < len {
            let position = first + at;
            let index = position / MEAN_BLOCK_ROWS;
            if index != self.block_index {
                self.close_block();
                self.block_index = index;
            }
            let end = len.min((index + 1) * MEAN_BLOCK_ROWS - first);
            let slice = values.slice(at as usize, (end - at) as usize);
            self.block = slice
                .iter()
                .flatten()
                .fold(self.block, |(s, n), v| (s + v.abs(), n + 1));
            at = end;
        }
        Ok(())
    }

    fn close_block(&mut self) {
        let (s, n) = std::mem::take(&mut self.block);
        self.total = (self.total.0 + s, self.total.1 + n);
    }

    /// The mean, or 1 for a column of nulls or zeros.
    pub(super) fn finish(mut self) -> f64 {
        self.close_block();
        let (sum, count) = self.total;
        if count == 0 || sum == 0.0 {
            1.0
        } else {
            sum / count as f64
        }
    }
}

/// A point anomaly planned for a table: its rows and baseline.
pub(super) struct PointPlan {
    /// Table positions, ascending.
    rows: Vec<u64>,
    baseline: f64,
    range: (f64, f64),
    stream: RandomStream,
    column: String,
}

impl PointPlan {
    /// `max(1, floor(n x fraction))` of the table's `n` rows: which ones depends on `n`
    /// alone.
    pub(super) fn new(p: &PointAnomaly, n: u64, baseline: f64, stream: RandomStream) -> Self {
        Self {
            rows: sample_without_replacement(stream, n, pick_count(n, p.fraction)),
            baseline,
            range: p.multiplier_range,
            stream,
            column: p.column.clone(),
        }
    }

    /// The table positions it picks, ascending.
    pub(super) fn picks(&self) -> &[u64] {
        &self.rows
    }

    /// The edit of `batch`, whose rows sit at `positions` in the table.
    pub(super) fn edit(&self, batch: &RecordBatch, positions: &[u64]) -> Edit {
        self.edit_rows(batch, positions, picked_rows(positions, &self.rows))
    }

    /// The edit of `rows` (ascending, the ones it picks) of `batch`, whose rows sit at
    /// `positions` in the table.
    pub(super) fn edit_rows(&self, batch: &RecordBatch, positions: &[u64], rows: Vec<u32>) -> Edit {
        let (index, array) = column(batch, &self.column);
        let (lo, hi) = self.range;
        let stream = self.stream;
        let values: Vec<f64> = rows
            .iter()
            .map(|&row| {
                let r = positions[row as usize];
                let m = lo + (hi - lo) * stream.unit2(r, 1);
                let noise = 0.8 + 0.4 * stream.unit2(r, 2);
                (self.baseline * m * noise * 100.0).round() / 100.0
            })
            .collect();
        Edit {
            column: index,
            new_type: (*array.data_type() != DataType::Float64).then_some(DataType::Float64),
            nullable: false,
            rows,
            values: Arc::new(Float64Array::from(values)),
        }
    }
}

/// Rows of `array` whose value is one of `values`.
fn eligible_rows(array: &ArrayRef, values: &[Value]) -> Result<Vec<u64>> {
    let t = array.data_type();
    let nulls_wanted = values.contains(&Value::Null);
    let null_row = |i: usize| nulls_wanted && array.is_null(i);
    if is_text(t) {
        let strings = arrow_cast::cast(array, &DataType::Utf8)?;
        let strings = strings.as_string::<i32>();
        let wanted: Vec<String> = values
            .iter()
            .filter_map(|v| match v {
                Value::Text(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                Value::Float(f) => Some(f.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
            })
            .collect();
        return Ok((0..strings.len())
            .filter(|&i| {
                null_row(i) || (strings.is_valid(i) && wanted.iter().any(|w| w == strings.value(i)))
            })
            .map(|i| i as u64)
            .collect());
    }
    if *t == DataType::Boolean {
        let b = array.as_boolean();
        let wanted: Vec<bool> = values
            .iter()
            .filter_map(|v| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            })
            .collect();
        return Ok((0..b.len())
            .filter(|&i| null_row(i) || (b.is_valid(i) && wanted.contains(&b.value(i))))
            .map(|i| i as u64)
            .collect());
    }
    // Numbers (and anything castable to them): compare as f64.
    let numbers = arrow_cast::cast(array, &DataType::Float64)?;
    let numbers = numbers.as_primitive::<Float64Type>();
    let wanted: Vec<f64> = values
        .iter()
        .filter_map(|v| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Text(s) => s.parse().ok(),
            Value::Bool(_) | Value::Null => None,
        })
        .collect();
    Ok((0..numbers.len())
        .filter(|&i| null_row(i) || (numbers.is_valid(i) && wanted.contains(&numbers.value(i))))
        .map(|i| i as u64)
        .collect())
}

/// The rows of `condition` whose value is one of `values`, each with its rank among a
/// table's eligible rows, the first of them having rank `before`.
pub(super) fn eligible_ranks(
    condition: &ArrayRef,
    values: &[Value],
    before: u64,
) -> Result<Vec<(u32, u64)>> {
    Ok(eligible_rows(condition, values)?
        .into_iter()
        .zip(before..)
        .map(|(row, rank)| (row as u32, rank))
        .collect())
}

/// A contextual anomaly planned for a table: which of its eligible rows it takes, by
/// rank among them in table order.
pub(super) struct ContextualPlan {
    /// Ranks among the eligible rows, ascending.
    picks: Vec<u64>,
    literals: Vec<ArrayRef>,
    nullable: bool,
    stream: RandomStream,
    column: String,
    condition: String,
    normal_values: Vec<Value>,
}

impl ContextualPlan {
    /// `max(1, floor(eligible x fraction))` of the table's `eligible` rows.
    pub(super) fn new(
        c: &ContextualAnomaly,
        eligible: u64,
        column_type: &DataType,
        stream: RandomStream,
    ) -> Self {
        Self {
            picks: sample_without_replacement(stream, eligible, pick_count(eligible, c.fraction)),
            literals: c
                .anomalous_values
                .iter()
                .map(|v| literal(v, column_type).expect("checked before"))
                .collect(),
            nullable: c.anomalous_values.contains(&Value::Null),
            stream,
            column: c.column.clone(),
            condition: c.condition_column.clone(),
            normal_values: c.normal_values.clone(),
        }
    }

    /// The eligible rows of `batch`, each with its rank among the table's eligible
    /// rows, the first of them having rank `before`.
    pub(super) fn ranks(&self, batch: &RecordBatch, before: u64) -> Result<Vec<(u32, u64)>> {
        eligible_ranks(
            column(batch, &self.condition).1,
            &self.normal_values,
            before,
        )
    }

    /// The edit of `batch`, whose rows sit at `positions` in the table and whose
    /// eligible rows have `ranks` (ascending).
    pub(super) fn edit(
        &self,
        batch: &RecordBatch,
        positions: &[u64],
        ranks: &[(u32, u64)],
    ) -> Result<Edit> {
        let (index, array) = column(batch, &self.column);
        let ranks_only: Vec<u64> = ranks.iter().map(|&(_, rank)| rank).collect();
        let rows: Vec<u32> = picked_rows(&ranks_only, &self.picks)
            .into_iter()
            .map(|k| ranks[k as usize].0)
            .collect();
        let sources: Vec<&dyn Array> = self.literals.iter().map(|a| a.as_ref()).collect();
        let choice: Vec<(usize, usize)> = rows
            .iter()
            .map(|&row| {
                let r = positions[row as usize];
                let k = self.stream.below2(r, 1, self.literals.len() as u64) as usize;
                (k, 0)
            })
            .collect();
        let values = if rows.is_empty() {
            arrow_array::new_empty_array(array.data_type())
        } else {
            arrow_select::interleave::interleave(&sources, &choice)?
        };
        Ok(Edit {
            column: index,
            new_type: None,
            nullable: self.nullable,
            rows,
            values,
        })
    }
}

/// A group key: integers as themselves, anything else by its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum GroupKey {
    Int(i64),
    Text(Box<str>),
}

impl GroupKey {
    fn borrowed(&self) -> KeyRef<'_> {
        match self {
            GroupKey::Int(v) => KeyRef::Int(*v),
            GroupKey::Text(s) => KeyRef::Text(s),
        }
    }
}

/// A group column's keys, row by row (`None` for a null: in no group).
pub(super) enum Keys {
    Int(arrow_array::Int64Array),
    Text(ArrayRef),
}

impl Keys {
    pub(super) fn of(array: &ArrayRef) -> Result<Self> {
        Ok(if array.data_type().is_integer() {
            Keys::Int(
                arrow_cast::cast(array, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            )
        } else {
            Keys::Text(arrow_cast::cast(array, &DataType::Utf8)?)
        })
    }

    /// The key of `row`, without allocating for integers.
    fn with<T>(&self, row: usize, f: impl FnOnce(Option<KeyRef<'_>>) -> T) -> T {
        match self {
            Keys::Int(a) => f(a.is_valid(row).then(|| KeyRef::Int(a.value(row)))),
            Keys::Text(a) => {
                let s = a.as_string::<i32>();
                f(s.is_valid(row).then(|| KeyRef::Text(s.value(row))))
            }
        }
    }
}

/// A borrowed [`GroupKey`].
#[derive(Clone, Copy)]
enum KeyRef<'a> {
    Int(i64),
    Text(&'a str),
}

impl KeyRef<'_> {
    /// 64 bits that name the group in random draws: the integer itself, or the text's
    /// FNV-1a hash.
    fn bits(self) -> u64 {
        match self {
            KeyRef::Int(v) => v as u64,
            KeyRef::Text(s) => s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
            }),
        }
    }

    fn owned(self) -> GroupKey {
        match self {
            KeyRef::Int(v) => GroupKey::Int(v),
            KeyRef::Text(s) => GroupKey::Text(s.into()),
        }
    }
}

/// Integer keys in `0..DENSE_KEYS` are counted in a bit array (2 bits a key, at most
/// 4 MiB, grown as keys show: small enough to stay in cache), others in hash maps.
const DENSE_KEYS: usize = 1 << 24;

/// Whether each key has one row, or two or more, over the table so far (the survey
/// needs no more than that: a group with two rows is eligible).
#[derive(Default)]
struct GroupCounts {
    /// Bits `2k` (seen) and `2k + 1` (seen twice) of key `k`, 32 keys a word.
    dense: Vec<u64>,
    ints: HashMap<i64, bool, FixedState>,
    texts: HashMap<Box<str>, bool, FixedState>,
}

impl GroupCounts {
    /// Counts a row of `key`; whether it is the key's second row.
    fn count(&mut self, key: KeyRef<'_>) -> bool {
        fn see(twice: &mut bool) -> bool {
            let second = !*twice;
            *twice = true;
            second
        }
        match key {
            KeyRef::Int(v) if (0..DENSE_KEYS as i64).contains(&v) => {
                let (word, shift) = (v as usize / 32, 2 * (v as u32 % 32));
                if word >= self.dense.len() {
                    let len = (word + 1).max(2 * self.dense.len()).min(DENSE_KEYS / 32);
                    self.dense.resize(len, 0);
                }
                let bits = (self.dense[word] >> shift) & 3;
                let seen: u64 = if bits == 0 { 1 } else { 3 };
                self.dense[word] |= seen << shift;
                bits == 1
            }
            KeyRef::Int(v) => match self.ints.get_mut(&v) {
                Some(twice) => see(twice),
                None => {
                    self.ints.insert(v, false);
                    false
                }
            },
            KeyRef::Text(s) => match self.texts.get_mut(s) {
                Some(twice) => see(twice),
                None => {
                    self.texts.insert(s.into(), false);
                    false
                }
            },
        }
    }

    /// Every key with two rows or more.
    fn eligible(&self) -> impl Iterator<Item = KeyRef<'_>> {
        let dense = (0i64..)
            .step_by(32)
            .zip(&self.dense)
            .flat_map(|(base, &word)| {
                (0..32)
                    .filter(move |k| (word >> (2 * k + 1)) & 1 == 1)
                    .map(move |k| KeyRef::Int(base + k))
            });
        let ints = self
            .ints
            .iter()
            .filter(|&(_, &twice)| twice)
            .map(|(&v, _)| KeyRef::Int(v));
        let texts = self
            .texts
            .iter()
            .filter(|&(_, &twice)| twice)
            .map(|(s, _)| KeyRef::Text(s));
        dense.chain(ints).chain(texts)
    }
}

/// How sure the survey is to keep the rows of every group it will choose: the bound on
/// the chosen groups' priorities is this many standard deviations above the expected.
pub(super) const PRIORITY_MARGIN_SIGMAS: f64 = 5.0;

/// What a collective anomaly learns of a table in one pass: every group's size, and the
/// rows of every group that may be chosen.
///
/// Groups are chosen by priority: each key's counter-based random bits, the `k`
/// eligible groups (two rows or more) with the lowest priorities being chosen, where
/// `k = max(1, floor(eligible x fraction))`. So the survey can keep, as it reads, only
/// the rows of groups whose priority is below a bound the `k`-th lowest is all but
/// sure to stay under (`fraction` plus five standard deviations of the `k`-th lowest of
/// as many uniform draws as there are eligible groups so far); the bound only falls
/// as groups become eligible.
pub(super) struct GroupSurvey {
    counts: GroupCounts,
    eligible: u64,
    fraction: f64,
    stream: RandomStream,
    /// Rows of groups whose priority is below this are kept.
    pub(super) bound: u64,
    /// Standard deviations the bound keeps above the expected `k`-th priority.
    margin_sigmas: f64,
    column: String,
}

/// The largest priority for a share `p` of the 64-bit range.
fn priority_bound(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else if p <= 0.0 {
        0
    } else {
        (p * 2f64.powi(64)) as u64
    }
}

impl GroupSurvey {
    pub(super) fn new(c: &CollectiveAnomaly, stream: RandomStream, margin_sigmas: f64) -> Self {
        Self {
            counts: GroupCounts::default(),
            eligible: 0,
            fraction: c.fraction,
            stream,
            bound: priority_bound(if c.fraction > 0.0 { 1.0 } else { 0.0 }),
            margin_sigmas,
            column: c.group_column.clone(),
        }
    }

    fn priority(&self, key: KeyRef<'_>) -> u64 {
        self.stream.bits2(key.bits(), 0)
    }

    /// The group keys of `batch`.
    pub(super) fn keys(&self, batch: &RecordBatch) -> Result<Keys> {
        Keys::of(column(batch, &self.column).1)
    }

    /// Counts the rows of `keys` (the next rows of the table); marks in `keep` the rows
    /// whose group's priority is under the bound.
    pub(super) fn add(&mut self, keys: &Keys, keep: &mut [bool]) {
        match keys {
            Keys::Int(a) => {
                for (v, keep) in a.iter().zip(keep) {
                    if let Some(v) = v {
                        *keep |= self.add_key(KeyRef::Int(v));
                    }
                }
            }
            Keys::Text(a) => {
                for (s, keep) in a.as_string::<i32>().iter().zip(keep) {
                    if let Some(s) = s {
                        *keep |= self.add_key(KeyRef::Text(s));
                    }
                }
            }
        }
    }

    /// Counts a row of `key`; whether its group's priority is under the bound.
    fn add_key(&mut self, key: KeyRef<'_>) -> bool {
        if self.counts.count(key) {
            self.eligible += 1;
        }
        self.priority(key) < self.bound
    }

    /// Lowers the bound after the groups seen so far; whether it fell.
    pub(super) fn tighten(&mut self) -> bool {
        if self.eligible == 0 || self.fraction <= 0.0 || self.fraction >= 1.0 {
            return false;
        }
        let e = self.eligible as f64;
        let f = self.fraction;
        let share = f + self.margin_sigmas * (f * (1.0 - f) / e).sqrt() + 10.0 / e;
        let bound = priority_bound(share).min(self.bound);
        let fell = bound < self.bound;
        self.bound = bound;
        fell
    }

    /// Whether `row` of `keys` has a priority under the bound.
    pub(super) fn under_bound(&self, keys: &Keys, row: usize) -> bool {
        keys.with(row, |key| {
            key.is_some_and(|k| self.priority(k) < self.bound)
        })
    }

    /// The chosen groups, and whether all their rows were kept (all their priorities
    /// under the final bound).
    pub(super) fn choose(self) -> (Chosen, bool) {
        let k = pick_count(self.eligible, self.fraction) as usize;
        let mut ranked: Vec<(u64, GroupKey)> = self
            .counts
            .eligible()
            .map(|key| (self.priority(key), key.owned()))
            .collect();
        if k < ranked.len() {
            ranked.select_nth_unstable(k);
            ranked.truncate(k);
        }
        let kept = ranked.iter().all(|(p, _)| *p < self.bound);
        let mut chosen = Chosen {
            ints: HashSet::default(),
            texts: HashSet::default(),
            column: self.column,
        };
        for (_, key) in ranked {
            match key {
                GroupKey::Int(v) => chosen.ints.insert(v),
                GroupKey::Text(s) => chosen.texts.insert(s),
            };
        }
        (chosen, kept)
    }
}

/// The groups a collective anomaly chose.
pub(super) struct Chosen {
    ints: HashSet<i64, FixedState>,
    texts: HashSet<Box<str>, FixedState>,
    column: String,
}

impl Chosen {
    /// The group keys of `batch`.
    pub(super) fn keys(&self, batch: &RecordBatch) -> Result<Keys> {
        Keys::of(column(batch, &self.column).1)
    }

    /// Whether `row` of `keys` is in a chosen group.
    pub(super) fn contains(&self, keys: &Keys, row: usize) -> bool {
        keys.with(row, |key| match key {
            Some(KeyRef::Int(v)) => self.ints.contains(&v),
            Some(KeyRef::Text(s)) => self.texts.contains(s),
            None => false,
        })
    }

    /// How many groups were chosen.
    pub(super) fn len(&self) -> usize {
        self.ints.len() + self.texts.len()
    }
}

/// A collective anomaly's edit of the rows of `pieces` (at least one) taken as one batch (the rows of
/// its chosen groups, which must all be among them, at `positions` in the table): the
/// rows (ascending) and their new times.
pub(super) fn collective_edit(
    c: &CollectiveAnomaly,
    chosen: &Chosen,
    pieces: &[&RecordBatch],
    positions: &[u64],
    stream: RandomStream,
) -> Result<Edit> {
    let first = pieces.first().expect("at least one piece");
    let (index, ts_array) = column(first, &c.timestamp_column);
    let ts_type = ts_array.data_type().clone();
    let DataType::Timestamp(unit, _) = ts_type else {
        unreachable!("checked before")
    };
    let per_second = match unit {
        TimeUnit::Second => 1.0,
        TimeUnit::Millisecond => 1e3,
        TimeUnit::Microsecond => 1e6,
        TimeUnit::Nanosecond => 1e9,
    };
    // Each row's time (nulls first) and each chosen group's rows, over all pieces.
    let mut ticks: Vec<i64> = Vec::with_capacity(positions.len());
    let mut valid: Vec<bool> = Vec::with_capacity(positions.len());
    let mut groups: HashMap<GroupKey, Vec<u32>, FixedState> = HashMap::default();
    for piece in pieces {
        let times = arrow_cast::cast(column(piece, &c.timestamp_column).1, &DataType::Int64)?;
        let times = times.as_primitive::<Int64Type>();
        let keys = chosen.keys(piece)?;
        for row in 0..piece.num_rows() {
            let at = ticks.len() as u32;
            ticks.push(times.value(row));
            valid.push(times.is_valid(row));
            if chosen.contains(&keys, row) {
                let key = keys.with(row, |k| k.expect("a chosen key").owned());
                groups.entry(key).or_default().push(at);
            }
        }
    }
    let window = c.window_seconds * per_second;
    let time = |r: u32| valid[r as usize].then(|| ticks[r as usize]);
    let mut new_time: Vec<i64> = vec![0; ticks.len()];
    let mut moved: Vec<bool> = vec![false; ticks.len()];
    for (key, mut rows) in groups {
        // Null times sort first and take the window's start; rows in table order.
        rows.sort_by_key(|&r| (time(r), positions[r as usize]));
        let start = rows.iter().find_map(|&r| time(r)).unwrap_or(0);
        let g = key.borrowed().bits();
        let mut offsets: Vec<f64> = (0..rows.len() as u64)
            .map(|j| stream.unit2(g, j + 1) * window)
            .collect();
        offsets.sort_by(f64::total_cmp);
        for (r, o) in rows.into_iter().zip(offsets) {
            new_time[r as usize] = start + o as i64;
            moved[r as usize] = true;
        }
    }
    let rows: Vec<u32> = (0..new_time.len() as u32)
        .filter(|&r| moved[r as usize])
        .collect();
    let values =
        arrow_array::Int64Array::from_iter_values(rows.iter().map(|&r| new_time[r as usize]));
    Ok(Edit {
        column: index,
        new_type: None,
        nullable: false,
        rows,
        values: arrow_cast::cast(&values, &ts_type)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `picked_rows` finds exactly the rows whose position is picked, for positions in
    /// runs (a chunk), with wide gaps (moved rows' positions, ranks from anywhere in the
    /// table) and consecutive, against picks dense and sparse.
    #[test]
    fn picked_rows_are_the_rows_at_picked_positions() {
        let stream = RandomStream::new(3, "picked rows");
        let mut draw = 0u64;
        let mut next = |below: u64| {
            draw += 1;
            stream.below(draw, below)
        };
        for case in 0..200u64 {
            let mut positions: Vec<u64> = Vec::new();
            let mut at = next(1_000);
            for _ in 0..next(300) {
                // Mostly small steps, sometimes a jump far ahead.
                at += if next(10) == 0 {
                    1 + next(1_000_000)
                } else {
                    1 + next(3)
                };
                positions.push(at);
            }
            if case % 10 == 0 {
                let first = next(1_000);
                positions = (first..first + next(300)).collect();
            }
            let end = positions.last().map_or(10, |&p| p + 10);
            // Anything from one pick in 20 positions to as many as there are.
            let count = (end / (1 + next(20))).min(3 * positions.len() as u64 + 10);
            let mut picked: Vec<u64> = (0..count).map(|_| next(end)).collect();
            // Some picks are the positions themselves, so that there is something to find.
            picked.extend(positions.iter().filter(|_| next(4) == 0));
            picked.sort_unstable();
            picked.dedup();
            let expected: Vec<u32> = (0..positions.len() as u32)
                .filter(|&r| picked.binary_search(&positions[r as usize]).is_ok())
                .collect();
            assert_eq!(picked_rows(&positions, &picked), expected, "case {case}");
        }
    }
}
