//! The collective anomaly: its spec, and its kernel: group sizes counted over the table (dense integer
//! keys in two bits each, others hashed), the groups chosen by priority, and its edit
//! of a batch (a chosen group's rows packed into one window of event time).

use super::kernels::{Edit, column};
use super::kind::{AnomalyKind, find_column, pick_count};

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use foldhash::fast::FixedState;
use spindle_gen::rng::RandomStream;
use std::collections::{HashMap, HashSet};

/// Rows abnormal together: a share of the groups of `group_column` (with at least two
/// rows) get their timestamps squeezed into `window_seconds`, starting at the group's
/// own first event, order kept.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectiveAnomaly {
    /// Short label, used in `collective:<name>`.
    pub name: String,
    /// Column whose distinct values define groups (e.g. `customer_id`).
    pub group_column: String,
    /// Timestamp column to squeeze.
    pub timestamp_column: String,
    /// Length of the burst window in seconds. Default 600.
    pub window_seconds: f64,
    /// Share of groups to corrupt. Default 0.005.
    pub fraction: f64,
}

impl CollectiveAnomaly {
    /// A collective anomaly with the reference's defaults.
    pub fn new(name: &str, group_column: &str, timestamp_column: &str) -> Self {
        Self {
            name: name.into(),
            group_column: group_column.into(),
            timestamp_column: timestamp_column.into(),
            window_seconds: 600.0,
            fraction: 0.005,
        }
    }
    /// Sets the window length.
    pub fn window_seconds(mut self, seconds: f64) -> Self {
        self.window_seconds = seconds;
        self
    }
    /// Sets the share of groups.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

impl AnomalyKind for CollectiveAnomaly {
    fn kind(&self) -> &'static str {
        "collective"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn fraction(&self) -> f64 {
        self.fraction
    }

    fn check_settings(&self, label: &str) -> Result<()> {
        if self.window_seconds.is_finite() && self.window_seconds > 0.0 {
            return Ok(());
        }
        Err(Error::invalid(
            "window_seconds",
            format!("{label}: {} must be > 0", self.window_seconds),
        ))
    }

    fn check_columns(&self, table: &str, schema: &Schema) -> Result<()> {
        find_column("collective group column", &self.group_column, table, schema)?;
        let what = "collective timestamp column";
        let t = schema
            .field(find_column(what, &self.timestamp_column, table, schema)?)
            .data_type();
        if matches!(t, DataType::Timestamp(..)) {
            return Ok(());
        }
        Err(Error::column(
            what,
            &self.timestamp_column,
            format!("is {t}, not a timestamp"),
            table,
            schema,
        ))
    }

    fn surveyed(&self) -> Vec<&str> {
        vec![&self.group_column, &self.timestamp_column]
    }

    fn overwrites(&self) -> Option<&str> {
        None
    }

    fn moves_rows(&self) -> bool {
        true
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
