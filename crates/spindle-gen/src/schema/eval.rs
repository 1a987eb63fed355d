//! Column kernels: every value is a function of (seed, table, column, row), computed
//! for any set of rows as an Arrow array. A chunk asks for a range of rows; a lookup
//! asks a parent table for the rows its foreign keys point at. Small tables are made
//! whole once and read with `take`.

use super::dataset::Dataset;
use super::layout::{Layout, Nest};
use super::model::*;
use super::words;
use crate::dist::{Alias, Feistel, Ranks, SortedUniforms, SpreadPrefix, Weighted, permutation};
use crate::error::{Error, Result};
use crate::rng::RandomStream;
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use arrow_buffer::BooleanBuffer;
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, TimeUnit};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

const DAY: i64 = 86_400_000_000;

/// Tables up to this many rows are made whole on first use and read with `take`. A
/// larger table's columns are made for the rows asked, chunk by chunk, in parallel:
/// making it whole on first use holds it in memory and keeps the threads that need it
/// waiting (with 200,000 here before: healthcare 0.26 -> 0.20 s and 139 -> 97 MiB and
/// education 42 -> 34 MiB at `medium`, hr 0.13 -> 0.09 s at `large`; pulse, whose
/// 500,000 trips read 50,000 riders, 0.15 -> 0.17 s until sorted columns read row by
/// row came from checkpoints).
pub const SMALL_TABLE_ROWS: u64 = 2_000;

/// Zipf picks over at most this many parents use an exact table; beyond, a continuous
/// approximation.
const ZIPF_TABLE_MAX: u64 = 1 << 22;

fn invalid(message: String) -> Error {
    Error::Schema(message)
}

/// Which rows of a table are asked for.
#[derive(Clone, Debug)]
pub enum Rows {
    /// A contiguous range.
    Range(Range<u64>),
    /// Any rows, in the order given.
    List(Arc<[u64]>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Range(r) => (r.end - r.start) as usize,
            Rows::List(l) => l.len(),
        }
    }

    /// `f(row)` for every row, in order.
    fn map<T>(&self, mut f: impl FnMut(u64) -> T) -> Vec<T> {
        match self {
            Rows::Range(r) => r.clone().map(f).collect(),
            Rows::List(l) => l.iter().map(|&r| f(r)).collect(),
        }
    }

    /// A Boolean column of `f(i, row)` for every row, packed as it is drawn.
    fn bools(&self, mut f: impl FnMut(usize, u64) -> bool) -> BooleanArray {
        let values = match self {
            Rows::Range(r) => BooleanBuffer::collect_bool(self.len(), |i| f(i, r.start + i as u64)),
            Rows::List(l) => BooleanBuffer::collect_bool(l.len(), |i| f(i, l[i])),
        };
        BooleanArray::new(values, None)
    }

    /// `f(i, row)` for every row.
    fn map_indexed<T>(&self, mut f: impl FnMut(usize, u64) -> T) -> Vec<T> {
        match self {
            Rows::Range(r) => r.clone().enumerate().map(|(i, row)| f(i, row)).collect(),
            Rows::List(l) => l.iter().enumerate().map(|(i, &row)| f(i, row)).collect(),
        }
    }

    /// A text column of what `f(i, row, out)` writes for every row. `out` is one
    /// buffer, emptied before each row, so no value is allocated on its own.
    fn texts(&self, mut f: impl FnMut(usize, u64, &mut String)) -> ArrayRef {
        let mut column = StringBuilder::with_capacity(self.len(), 16 * self.len());
        let mut out = String::new();
        let mut each = |i: usize, row: u64| {
            out.clear();
            f(i, row, &mut out);
            column.append_value(&out);
        };
        match self {
            Rows::Range(r) => r.clone().enumerate().for_each(|(i, row)| each(i, row)),
            Rows::List(l) => l.iter().enumerate().for_each(|(i, &row)| each(i, row)),
        }
        Arc::new(column.finish())
    }
}

/// Appends `text` after as many zeros as bring it to `width` characters
/// (`{:0>width$}`).
fn push_padded(out: &mut String, text: &str, width: usize) {
    out.extend(std::iter::repeat_n(
        '0',
        width.saturating_sub(text.chars().count()),
    ));
    out.push_str(text);
}

/// Appends `value` in decimal, zero-padded to `width` digits (`{:0width$}`).
fn push_decimal(out: &mut String, value: u64, width: usize) {
    push_padded(out, itoa::Buffer::new().format(value), width);
}

/// Appends the low `width` hexadecimal digits of `value`, lowercase and zero-padded
/// (`{:0width$x}` of a value below `16^width`).
fn push_hex(out: &mut String, value: u64, width: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend(
        (0..width)
            .rev()
            .map(|k| HEX[(value >> (4 * k)) as usize & 0xF] as char),
    );
}

/// Appends `x` lowercased, without its spaces (`x.to_lowercase().replace(' ', "")` for
/// any text without a final capital sigma), taking at most `limit` characters and
/// leaving out those in `skip`.
fn push_lower(out: &mut String, x: &str, skip: &[char], limit: usize) {
    let lowered = x.chars().flat_map(char::to_lowercase);
    for c in lowered
        .filter(|c| *c != ' ' && !skip.contains(c))
        .take(limit)
    {
        out.push(c);
    }
}

/// Pre-computed help for one column's kernel.
#[derive(Default)]
struct Prep {
    alias: Option<Alias>,
    weighted: Option<Weighted>,
    /// Day starts (microseconds) a temporal column chooses among.
    days: Vec<i64>,
    /// The labels of an enum, in the column's type.
    labels: Option<ArrayRef>,
    /// A foreign key under a cap: rows before each parent, in a shuffled order.
    cap: Option<Cap>,
    /// Record order of a unique record sample.
    perm: Option<Vec<u32>>,
    /// A skewed foreign key into a table generated in time order: the parent at each
    /// popularity rank (a Feistel permutation of the parent rows), so that how often a
    /// parent is picked does not follow when it appeared (the first customers to sign
    /// up are not the busiest ones), as in the reference, whose parents are not in
    /// time order.
    ranks: Option<Ranks>,
    /// Sorted positions of a temporal column generated in ascending order.
    sorted: Option<SortedUniforms>,
    /// For a sorted seasonal column with peak hours: weights of (day, hour) buckets.
    hours: Option<Weighted>,
}

/// Exact per-parent counts (each at most the cap) handed out over a pseudo-random
/// permutation of the child rows: row r's parent is the one whose share holds the
/// r-th position of the permutation.
struct Cap {
    /// Where each parent's share of the positions starts, and the total last.
    starts: Vec<u64>,
    /// The parent holding the first position of each block of `1 << block_bits`
    /// positions, where the search for a position's parent starts.
    guide: Vec<u32>,
    block_bits: u32,
    perm: Feistel,
}

impl Cap {
    /// Shares starting at `starts` (ascending from 0, the total last; at most
    /// `u32::MAX` parents), with a guide of one block per four parents or fewer (an
    /// eighth of the memory of `starts`), each block holding four to eight shares'
    /// positions on average.
    fn new(starts: Vec<u64>, perm: Feistel) -> Self {
        let parents = starts.len() as u64 - 1;
        let total = starts[starts.len() - 1];
        let block_bits = (total / parents.max(1)).max(1).ilog2() + 3;
        let mut guide = Vec::with_capacity((total >> block_bits) as usize + 1);
        let mut parent = 0;
        for block in 0..=(total >> block_bits) {
            let first = block << block_bits;
            while parent + 1 < parents as usize && starts[parent + 1] <= first {
                parent += 1;
            }
            guide.push(parent as u32);
        }
        Self {
            starts,
            guide,
            block_bits,
            perm,
        }
    }

    /// The parent of each child row of `rows`: the last whose share starts at or before
    /// the row's position (parents with no share are passed over), as
    /// `starts.partition_point(|&x| x <= position) - 1` but in a few steps from the
    /// position's block instead of a binary search over every parent.
    fn parents_of(&self, rows: &Rows) -> Vec<Option<u64>> {
        let mut positions = rows.map(|row| row);
        self.perm.apply_all(&mut positions);
        positions
            .into_iter()
            .map(|position| {
                let mut parent = self.guide[(position >> self.block_bits) as usize] as usize;
                while self.starts[parent + 1] <= position {
                    parent += 1;
                }
                Some(parent as u64)
            })
            .collect()
    }
}

/// One schema planned at one scale and seed.
pub struct Engine {
    pub(crate) schema: Arc<Schema>,
    pub(crate) layout: Arc<Layout>,
    pub(crate) counts: Vec<u64>,
    seed: u64,
    streams: Vec<Vec<RandomStream>>,
    preps: Vec<Vec<Prep>>,
    prefixes: Vec<Option<SpreadPrefix>>,
    full: Vec<Vec<OnceLock<std::result::Result<ArrayRef, String>>>>,
}

fn pareto_cap(alpha: f64) -> f64 {
    // The 99.5th percentile of Lomax(alpha).
    0.005f64.powf(-1.0 / alpha) - 1.0
}

impl Engine {
    /// Plans `schema` with `counts` rows per table.
    ///
    /// # Errors
    /// What the counts make impossible (a cap below the rows to share, a foreign key
    /// to an empty table, a sequence past the integer range), naming the column.
    pub fn new(
        schema: Arc<Schema>,
        layout: Arc<Layout>,
        counts: Vec<u64>,
        seed: u64,
    ) -> Result<Self> {
        let s = &schema;
        let streams: Vec<Vec<RandomStream>> = s
            .tables
            .iter()
            .map(|t| {
                t.columns
                    .iter()
                    .map(|c| RandomStream::new(seed, &format!("schema.{}.{}", t.name, c.name)))
                    .collect()
            })
            .collect();
        let prefixes = layout
            .nest
            .iter()
            .enumerate()
            .map(|(t, n)| {
                n.map(
                    |Nest {
                         parent,
                         ratio,
                         floor,
                         ..
                     }| SpreadPrefix {
                        per_unit: ratio,
                        floor,
                        units: counts[parent],
                        stream: RandomStream::new(
                            seed,
                            &format!("schema.{}#count", s.tables[t].name),
                        ),
                    },
                )
            })
            .collect();
        let mut preps = Vec::with_capacity(s.tables.len());
        for (t, table) in s.tables.iter().enumerate() {
            let mut row = Vec::with_capacity(table.columns.len());
            for (c, col) in table.columns.iter().enumerate() {
                let path = format!("tables.{}.columns.{}", table.name, col.name);
                row.push(Self::prep(
                    s,
                    &layout,
                    &counts,
                    t,
                    c,
                    col,
                    streams[t][c],
                    &path,
                )?);
            }
            preps.push(row);
        }
        let full = s
            .tables
            .iter()
            .map(|t| t.columns.iter().map(|_| OnceLock::new()).collect())
            .collect();
        Ok(Self {
            schema,
            layout,
            counts,
            seed,
            streams,
            preps,
            prefixes,
            full,
        })
    }

    /// The seed planned.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    #[allow(clippy::too_many_arguments)]
    fn prep(
        s: &Schema,
        layout: &Layout,
        counts: &[u64],
        t: usize,
        c: usize,
        col: &Column,
        stream: RandomStream,
        path: &str,
    ) -> Result<Prep> {
        let mut p = Prep::default();
        let n = counts[t];
        match &col.generator {
            Generator::Sequence { start, step } => {
                let last = i128::from(*start) + i128::from(*step) * i128::from(n.saturating_sub(1));
                if i64::try_from(last).is_err() {
                    return Err(invalid(format!(
                        "{path}.generator: {} rows run the sequence past the 64-bit range",
                        crate::report::thousands(n)
                    )));
                }
            }
            Generator::Enum { labels, weights } => {
                p.alias = Some(Alias::new(weights));
                let text: ArrayRef = Arc::new(StringArray::from(labels.clone()));
                let ty = col.ty.data_type();
                let typed = if col.ty == ColumnType::Boolean {
                    let b: Option<Vec<bool>> = labels
                        .iter()
                        .map(|l| match l.to_ascii_lowercase().as_str() {
                            "true" | "1" | "yes" | "y" | "t" => Some(true),
                            "false" | "0" | "no" | "n" | "f" => Some(false),
                            _ => None,
                        })
                        .collect();
                    b.map(|b| Arc::new(BooleanArray::from(b)) as ArrayRef)
                        .ok_or_else(|| {
                            format!(
                                "labels must be true or false for a boolean column: {}",
                                labels.join(", ")
                            )
                        })
                } else if col.ty.is_numeric() {
                    let f: Option<Vec<f64>> = labels
                        .iter()
                        .map(|l| l.trim().parse::<f64>().ok())
                        .collect();
                    match f {
                        Some(f) if col.ty == ColumnType::Integer => Ok(Arc::new(Int64Array::from(
                            f.iter().map(|x| x.round() as i64).collect::<Vec<_>>(),
                        ))
                            as ArrayRef),
                        Some(f) => Ok(Arc::new(Float64Array::from(f)) as ArrayRef),
                        None => Err(format!(
                            "labels must be numbers for a {:?} column: {}",
                            col.ty,
                            labels.join(", ")
                        )),
                    }
                } else {
                    cast_strict(&text, &ty)
                        .map_err(|e| format!("labels do not fit the column's type: {e}"))
                };
                p.labels =
                    Some(typed.map_err(|e| invalid(format!("{path}.generator.values: {e}")))?);
            }
            Generator::Distribution {
                dist: Dist::Zipf { alpha, max },
                ..
            } => {
                if *max > ZIPF_TABLE_MAX {
                    return Err(invalid(format!(
                        "{path}.generator.max: zipf ranks are limited to {}",
                        crate::report::thousands(ZIPF_TABLE_MAX)
                    )));
                }
                p.alias = Some(Alias::zipf(*max as usize, *alpha));
            }
            Generator::Temporal {
                pattern,
                start,
                end,
            } => {
                let sorted = layout.ordered_by[t] == Some(c);
                if sorted {
                    p.sorted = Some(SortedUniforms::new(stream.bits(u64::MAX - 7), path, n));
                }
                let first_day = start.div_euclid(DAY);
                let last_day = (end - 1).div_euclid(DAY);
                if last_day - first_day > 366 * 2000 {
                    return Err(invalid(format!(
                        "{path}.generator: the range spans more than 2,000 years"
                    )));
                }
                match pattern {
                    TemporalPattern::Uniform => {}
                    TemporalPattern::TradingDays => {
                        // 1970-01-01 was a Thursday: weekday index (Monday 0) is (day + 3) % 7.
                        p.days = (first_day..=last_day)
                            .filter(|d| (d + 3).rem_euclid(7) < 5)
                            .map(|d| d * DAY)
                            .collect();
                        if p.days.is_empty() {
                            return Err(invalid(format!(
                                "{path}.generator: the range holds no weekday"
                            )));
                        }
                    }
                    TemporalPattern::Seasonal { month, weekday, .. } => {
                        let mut weights = Vec::new();
                        for d in first_day..=last_day {
                            let date = chrono::DateTime::from_timestamp(d * 86_400, 0)
                                .expect("in range")
                                .date_naive();
                            let m = chrono::Datelike::month0(&date) as usize;
                            let w = (d + 3).rem_euclid(7) as usize;
                            p.days.push(d * DAY);
                            weights.push(month[m] * weekday[w]);
                        }
                        if weights.iter().sum::<f64>() <= 0.0 {
                            return Err(invalid(format!(
                                "{path}.generator: every day of the range has weight 0"
                            )));
                        }
                        if let (
                            true,
                            TemporalPattern::Seasonal {
                                hours: HourProfile::Peaks { peaks, sd },
                                ..
                            },
                        ) = (sorted, pattern)
                        {
                            let by_hour = hour_weights(peaks, *sd);
                            let buckets: Vec<f64> = weights
                                .iter()
                                .flat_map(|w| by_hour.iter().map(move |h| w * h))
                                .collect();
                            p.hours = Some(Weighted::new(&buckets));
                        }
                        p.weighted = Some(Weighted::new(&weights));
                    }
                }
            }
            Generator::ForeignKey {
                table,
                pick,
                max_per_parent,
                constrained_by,
                ..
            } => {
                let parents = counts[*table];
                if parents == 0 && n > 0 {
                    return Err(invalid(format!(
                        "{path}.generator.ref: table '{}' has no rows to refer to",
                        s.tables[*table].name
                    )));
                }
                if let Some(cap) = max_per_parent {
                    if u128::from(*cap) * u128::from(parents) < u128::from(n) {
                        return Err(invalid(format!(
                            "{path}.generator.max_per_parent: {} rows cannot go to {} parents at most {cap} each",
                            crate::report::thousands(n),
                            crate::report::thousands(parents)
                        )));
                    }
                    if parents > 200_000_000 {
                        return Err(invalid(format!(
                            "{path}.generator.max_per_parent: capped keys are limited to 200,000,000 parents"
                        )));
                    }
                    p.cap = Some(Self::cap(*pick, parents, n, *cap, stream));
                } else if let FkPick::Zipf(alpha) = pick {
                    if parents <= ZIPF_TABLE_MAX && parents > 0 {
                        p.alias = Some(Alias::zipf(parents as usize, *alpha));
                    }
                }
                if !matches!(pick, FkPick::Uniform)
                    && constrained_by.is_none()
                    && layout.ordered_by[*table].is_some()
                {
                    p.ranks = Some(Ranks::new(parents, n, stream.fork(u64::MAX - 4)));
                }
            }
            Generator::ReferenceData {
                weights: Some(w), ..
            }
            | Generator::RecordSample {
                weights: Some(w),
                unique: false,
                ..
            } => {
                p.alias = Some(Alias::new(w));
            }
            Generator::RecordSample {
                dataset,
                unique: true,
                weights,
                ..
            } => {
                if n <= dataset.len as u64 {
                    p.perm = Some(permutation(stream.fork(u64::MAX - 1), dataset.len));
                } else if let Some(w) = weights {
                    p.alias = Some(Alias::new(w));
                }
            }
            _ => {}
        }
        Ok(p)
    }

    /// Per-parent counts under a cap: each parent's count drawn around the pick's
    /// expected count (Poisson, as a key drawn row by row spreads them: parents without
    /// children and long tails included) and capped; then the total is made exact, the
    /// rows short (the capped excess among them) handed to uniform parents with room,
    /// as the reference hands a capped parent's excess, or the rows over taken from
    /// uniform rows.
    fn cap(pick: FkPick, parents: u64, rows: u64, cap: u64, stream: RandomStream) -> Cap {
        let p = parents as usize;
        let weights: Vec<f64> = match pick {
            FkPick::Uniform => vec![1.0; p],
            FkPick::Zipf(a) => (1..=p).map(|k| (k as f64).powf(-a)).collect(),
            FkPick::Pareto(a) => {
                let c = pareto_cap(a);
                let cdf = |x: f64| 1.0 - (1.0 + x).powf(-a);
                let tail = 0.005 / parents as f64;
                (0..p)
                    .map(|i| {
                        cdf((i + 1) as f64 * c / parents as f64)
                            - cdf(i as f64 * c / parents as f64)
                            + tail
                    })
                    .collect()
            }
        };
        let total_w: f64 = weights.iter().sum();
        let counts_stream = stream.fork(u64::MAX - 3);
        let mut counts: Vec<u64> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                counts_stream
                    .poisson(i as u64, w / total_w * rows as f64)
                    .min(cap)
            })
            .collect();
        let drawn: u64 = counts.iter().sum();
        let fix = stream.fork(u64::MAX - 2);
        let (mut short, mut over) = (rows.saturating_sub(drawn), drawn.saturating_sub(rows));
        let mut draw = 0;
        // A uniform parent gets a row short if it has room; a row over is taken from a
        // uniform parent with probability count / cap, so from a row drawn uniformly.
        // A scan finishes the job should the draws not (all but every parent full).
        while (short > 0 || over > 0) && draw < 64 * (rows + parents) {
            let i = fix.below(draw, parents) as usize;
            if short > 0 && counts[i] < cap {
                counts[i] += 1;
                short -= 1;
            } else if over > 0 && fix.below2(draw, 1, cap) < counts[i] {
                counts[i] -= 1;
                over -= 1;
            }
            draw += 1;
        }
        for c in counts.iter_mut() {
            let add = short.min(cap - *c);
            *c += add;
            short -= add;
            let take = over.min(*c);
            *c -= take;
            over -= take;
        }
        let mut starts = Vec::with_capacity(p + 1);
        let mut acc = 0;
        starts.push(0);
        for c in counts {
            acc += c;
            starts.push(acc);
        }
        Cap::new(starts, Feistel::new(rows, stream.fork(u64::MAX)))
    }

    /// Whether table `t` is made whole on first use.
    fn is_small(&self, t: usize) -> bool {
        self.counts[t] <= SMALL_TABLE_ROWS
    }

    /// The rows of table `t` that driver rows `units` produce.
    pub fn rows_for(&self, t: usize, units: Range<u64>) -> Range<u64> {
        match (self.layout.nest[t], self.prefixes[t]) {
            (Some(n), Some(prefix)) => {
                let parent = self.rows_for(n.parent, units);
                prefix.at(parent.start)..prefix.at(parent.end)
            }
            _ => units,
        }
    }

    /// The whole column `c` of small table `t`, made once.
    fn full_column(&self, t: usize, c: usize) -> Result<ArrayRef> {
        self.full[t][c]
            .get_or_init(|| {
                let mut ev = Eval::new(self, t, Rows::Range(0..self.counts[t]), true);
                ev.compute(c).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(Error::Schema)
    }

    /// Column `c` of table `t` at `rows`.
    pub fn column(&self, t: usize, c: usize, rows: Rows) -> Result<ArrayRef> {
        Eval::new(self, t, rows, false).value(c)
    }

    /// Column `c` of table `t` at the rows given (null where the row is null).
    fn values_at(&self, t: usize, c: usize, rows: &[Option<u64>]) -> Result<ArrayRef> {
        if self.is_small(t) {
            let full = self.full_column(t, c)?;
            let idx = UInt64Array::from(rows.to_vec());
            return Ok(arrow_select::take::take(&full, &idx, None)?);
        }
        let present: Vec<u64> = rows.iter().flatten().copied().collect();
        let values = self.column(t, c, Rows::List(present.into()))?;
        if values.len() == rows.len() {
            return Ok(values);
        }
        let mut next = 0u64;
        let idx: UInt64Array = rows
            .iter()
            .map(|r| {
                r.map(|_| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        Ok(arrow_select::take::take(&values, &idx, None)?)
    }

    /// The parent rows that key column `c` of table `t` holds at the rows given.
    fn fk_rows_at(&self, t: usize, c: usize, rows: &[Option<u64>]) -> Result<Arc<[Option<u64>]>> {
        let present: Vec<u64> = rows.iter().flatten().copied().collect();
        let mut ev = Eval::new(self, t, Rows::List(present.into()), false);
        let found = ev.fk_rows(c)?;
        let mut next = found.iter();
        Ok(rows
            .iter()
            .map(|r| r.and_then(|_| *next.next().expect("one per row")))
            .collect())
    }

    /// Columns `columns` of table `t` (those fields of `schema`, its schema) for driver
    /// rows `units`, each made with what it depends on alone.
    pub fn columns_of(
        &self,
        t: usize,
        columns: &[usize],
        units: Range<u64>,
        schema: &arrow_schema::SchemaRef,
    ) -> Result<arrow_array::RecordBatch> {
        let mut ev = Eval::new(self, t, Rows::Range(self.rows_for(t, units)), false);
        let arrays = columns
            .iter()
            .map(|&c| ev.value(c))
            .collect::<Result<Vec<_>>>()?;
        Ok(arrow_array::RecordBatch::try_new(
            Arc::new(schema.project(columns)?),
            arrays,
        )?)
    }

    /// Tables `tables` (one driver) for driver rows `units`, as batches in the order
    /// asked. Nested tables are made first, so that a parent's `computed` column reads
    /// the very columns its children's batch holds rather than making them again.
    pub fn batches(
        &self,
        tables: &[usize],
        units: Range<u64>,
        schemas: &[arrow_schema::SchemaRef],
    ) -> Result<Vec<arrow_array::RecordBatch>> {
        let depth = |mut t: usize| {
            let mut d = 0;
            while let Some(n) = self.layout.nest[t] {
                t = n.parent;
                d += 1;
            }
            d
        };
        let mut order: Vec<usize> = (0..tables.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(depth(tables[i])));
        let mut provided = Provided::new();
        let mut out: Vec<Option<arrow_array::RecordBatch>> = vec![None; tables.len()];
        for i in order {
            let t = tables[i];
            let rows = self.rows_for(t, units.clone());
            let columns = {
                let mut ev = Eval::new(self, t, Rows::Range(rows.clone()), false);
                ev.provided = Some(&provided);
                (0..self.schema.tables[t].columns.len())
                    .map(|c| ev.value(c))
                    .collect::<Result<Vec<_>>>()?
            };
            for (c, a) in columns.iter().enumerate() {
                provided.insert((t, c), (rows.clone(), a.clone()));
            }
            out[i] = Some(arrow_array::RecordBatch::try_new(
                schemas[i].clone(),
                columns,
            )?);
        }
        Ok(out
            .into_iter()
            .map(|b| b.expect("every table made"))
            .collect())
    }
}

/// Casts, failing rather than writing nulls where a value does not fit.
fn cast_strict(
    a: &ArrayRef,
    to: &DataType,
) -> std::result::Result<ArrayRef, arrow_schema::ArrowError> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    cast_with_options(
        a,
        to,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
}

fn f64s(a: &ArrayRef) -> Result<Float64Array> {
    Ok(cast_strict(a, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

fn micros(a: &ArrayRef) -> Result<TimestampMicrosecondArray> {
    let ty = DataType::Timestamp(TimeUnit::Microsecond, None);
    Ok(cast_strict(a, &ty)?
        .as_primitive::<TimestampMicrosecondType>()
        .clone())
}

fn texts(a: &ArrayRef) -> Result<StringArray> {
    Ok(cast_strict(a, &DataType::Utf8)?.as_string::<i32>().clone())
}

/// Columns already made for a chunk: (table, column) -> (rows, values).
type Provided = std::collections::HashMap<(usize, usize), (Range<u64>, ArrayRef)>;

/// One request: columns of one table at one set of rows.
struct Eval<'e> {
    e: &'e Engine,
    /// Columns of other tables made for the same chunk.
    provided: Option<&'e Provided>,
    t: usize,
    rows: Rows,
    /// This request is the whole-table one of a small table.
    whole: bool,
    values: Vec<Option<ArrayRef>>,
    fk_rows: Vec<Option<Arc<[Option<u64>]>>>,
    records: Vec<Option<Arc<[u32]>>>,
}

impl<'e> Eval<'e> {
    fn new(e: &'e Engine, t: usize, rows: Rows, whole: bool) -> Self {
        let m = e.schema.tables[t].columns.len();
        Self {
            e,
            provided: None,
            t,
            rows,
            whole,
            values: vec![None; m],
            fk_rows: vec![None; m],
            records: vec![None; m],
        }
    }

    fn table(&self) -> &'e Table {
        &self.e.schema.tables[self.t]
    }

    fn path(&self, c: usize) -> String {
        format!(
            "tables.{}.columns.{}",
            self.table().name,
            self.table().columns[c].name
        )
    }

    fn stream(&self, c: usize) -> RandomStream {
        self.e.streams[self.t][c]
    }

    fn value(&mut self, c: usize) -> Result<ArrayRef> {
        if let Some(v) = &self.values[c] {
            return Ok(v.clone());
        }
        let v = if self.e.is_small(self.t) {
            let full = self.e.full_column(self.t, c)?;
            match &self.rows {
                Rows::Range(r)
                    if self.whole || (r.start == 0 && r.end == self.e.counts[self.t]) =>
                {
                    full
                }
                Rows::Range(r) => full.slice(r.start as usize, (r.end - r.start) as usize),
                Rows::List(l) => {
                    let idx = UInt64Array::from(l.to_vec());
                    arrow_select::take::take(&full, &idx, None)?
                }
            }
        } else {
            self.compute(c)?
        };
        self.values[c] = Some(v.clone());
        Ok(v)
    }

    /// Computes column `c` at this request's rows: kernel, type, length, rules, nulls.
    fn compute(&mut self, c: usize) -> Result<ArrayRef> {
        let col = &self.table().columns[c];
        let raw = self.kernel(c)?;
        let ty = col.ty.data_type();
        let mut v = self
            .to_type(raw, col)
            .map_err(|e| invalid(format!("{}: {e}", self.path(c))))?;
        if let (Some(max), DataType::Utf8) = (col.max_length, &ty) {
            let s = v.as_string::<i32>();
            // No more bytes than `max` is no more characters: most values need no count.
            if s.iter()
                .flatten()
                .any(|x| x.len() > max && x.chars().count() > max)
            {
                let cut: StringArray = s
                    .iter()
                    .map(|x| x.map(|x| x.char_indices().nth(max).map_or(x, |(i, _)| &x[..i])))
                    .collect();
                v = Arc::new(cut);
            }
        }
        let fixes = &self.e.layout.fixes[self.t][c];
        if !fixes.is_empty() {
            v = self.enforce(c, v)?;
        }
        if !matches!(col.generator, Generator::ForeignKey { .. }) {
            if let Some(mask) = self.null_mask(c) {
                v = arrow_select::nullif::nullif(&v, &mask)?;
            }
        }
        Ok(v)
    }

    /// Rounds numbers as the column asks and casts to its type.
    fn to_type(
        &self,
        raw: ArrayRef,
        col: &Column,
    ) -> std::result::Result<ArrayRef, arrow_schema::ArrowError> {
        let digits = rounding_digits(col);
        if raw.data_type() == &DataType::Float64 {
            let f = raw.as_primitive::<Float64Type>();
            match col.ty {
                ColumnType::Integer => {
                    let i: Int64Array = f
                        .iter()
                        .map(|x| {
                            x.map(|x| x.round().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
                        })
                        .collect();
                    return Ok(Arc::new(i));
                }
                ColumnType::Float | ColumnType::Decimal => {
                    if let Some(d) = digits {
                        let factor = 10f64.powi(d);
                        let r = f.unary::<_, Float64Type>(|x| (x * factor).round() / factor);
                        return Ok(Arc::new(r));
                    }
                }
                _ => {}
            }
        }
        cast_strict(&raw, &col.ty.data_type())
    }

    fn null_mask(&self, c: usize) -> Option<BooleanArray> {
        let col = &self.table().columns[c];
        if !col.nullable || col.null_rate <= 0.0 {
            return None;
        }
        let s = self.stream(c).fork(0x4E55_4C4C);
        let rate = col.null_rate;
        Some(self.rows.bools(|_, r| s.unit(r) < rate))
    }

    /// Parent rows of foreign key column `c` (null where the key is null).
    fn fk_rows(&mut self, c: usize) -> Result<Arc<[Option<u64>]>> {
        if let Some(r) = &self.fk_rows[c] {
            return Ok(r.clone());
        }
        if let Generator::Lookup { via, table, column } = &self.table().columns[c].generator {
            // A copy of a parent's key: that key's rows, at the parent's rows.
            let parent_rows = self.fk_rows(*via)?;
            let rows = self.e.fk_rows_at(*table, *column, &parent_rows)?;
            self.fk_rows[c] = Some(rows.clone());
            return Ok(rows);
        }
        let Generator::ForeignKey {
            table,
            pick,
            constrained_by,
            ..
        } = &self.table().columns[c].generator
        else {
            return Err(invalid(format!("{}: is not a foreign key", self.path(c))));
        };
        let parents = self.e.counts[*table];
        let s = self.stream(c);
        let prep = &self.e.preps[self.t][c];
        let nest = self.e.layout.nest[self.t];
        let mut rows: Vec<Option<u64>> = if nest.is_some_and(|n| n.fk == c) {
            let prefix = self.e.prefixes[self.t].expect("a nested table has a prefix");
            match &self.rows {
                Rows::Range(r) if !r.is_empty() => {
                    let mut u = prefix.unit_of(r.start);
                    let mut cursor = prefix.cursor();
                    let mut next = cursor.at(u + 1);
                    r.clone()
                        .map(|row| {
                            while next <= row {
                                u += 1;
                                next = cursor.at(u + 1);
                            }
                            Some(u)
                        })
                        .collect()
                }
                _ => {
                    // A list's rows come in runs of one parent's (a parent's children
                    // looked up together): a row in the last one's unit needs no descent.
                    let mut last: Option<(u64, Range<u64>)> = None;
                    self.rows.map(|row| {
                        let (unit, rows) = match last.take() {
                            Some((unit, rows)) if rows.contains(&row) => (unit, rows),
                            _ => prefix.unit_and_rows_of(row),
                        };
                        last = Some((unit, rows));
                        Some(unit)
                    })
                }
            }
        } else if let Some(by) = constrained_by {
            let owners = self.fk_rows(*by)?;
            let target_prefix = self.e.prefixes[*table].expect("checked: the target is nested");
            let nullable = self.table().columns[c].nullable;
            self.rows.map_indexed(|i, row| {
                let owner = owners[i]?;
                let Range { start: lo, end: hi } = target_prefix.rows_of(owner);
                if hi > lo {
                    Some(lo + s.below(row, hi - lo))
                } else if nullable {
                    None
                } else {
                    Some(s.below2(row, 1, parents))
                }
            })
        } else if let Some(cap) = &prep.cap {
            cap.parents_of(&self.rows)
        } else {
            match pick {
                FkPick::Uniform => self.rows.map(|row| Some(s.below(row, parents))),
                FkPick::Zipf(alpha) => match &prep.alias {
                    Some(alias) => self.rows.map(|row| Some(alias.sample(s, row) as u64)),
                    None => {
                        // Continuous inverse of the power law over [1, parents + 1).
                        let a = *alpha;
                        let n = parents as f64 + 1.0;
                        self.rows.map(|row| {
                            let u = s.unit(row);
                            let k = if (a - 1.0).abs() < 1e-9 {
                                n.powf(u)
                            } else {
                                ((n.powf(1.0 - a) - 1.0) * u + 1.0).powf(1.0 / (1.0 - a))
                            };
                            Some((k as u64).saturating_sub(1).min(parents - 1))
                        })
                    }
                },
                FkPick::Pareto(alpha) => {
                    let a = *alpha;
                    let cap = pareto_cap(a);
                    self.rows.map(|row| {
                        let x = (1.0 - s.unit(row)).powf(-1.0 / a) - 1.0;
                        if x >= cap {
                            // The reference gives this tail to the last parent; spread it.
                            Some(s.below2(row, 1, parents))
                        } else {
                            Some(((x / cap * parents as f64) as u64).min(parents - 1))
                        }
                    })
                }
            }
        };
        if let Some(ranks) = &prep.ranks {
            ranks.apply_all(&mut rows);
        }
        if let Some(mask) = self.null_mask(c) {
            for (r, null) in rows.iter_mut().zip(mask.values().iter()) {
                if null {
                    *r = None;
                }
            }
        }
        let rows: Arc<[Option<u64>]> = rows.into();
        self.fk_rows[c] = Some(rows.clone());
        Ok(rows)
    }

    /// Record indices a `record_sample` column chose.
    fn records(&mut self, c: usize) -> Result<Arc<[u32]>> {
        if let Some(r) = &self.records[c] {
            return Ok(r.clone());
        }
        let Generator::RecordSample { dataset, .. } = &self.table().columns[c].generator else {
            return Err(invalid(format!(
                "{}: is not a record_sample column",
                self.path(c)
            )));
        };
        let prep = &self.e.preps[self.t][c];
        let s = self.stream(c);
        let len = dataset.len as u64;
        let idx: Vec<u32> = if let Some(perm) = &prep.perm {
            self.rows.map(|r| perm[r as usize])
        } else if let Some(alias) = &prep.alias {
            self.rows.map(|r| alias.sample(s, r) as u32)
        } else {
            self.rows.map(|r| s.below(r, len) as u32)
        };
        let idx: Arc<[u32]> = idx.into();
        self.records[c] = Some(idx.clone());
        Ok(idx)
    }

    fn take_field(
        dataset: &Dataset,
        field: usize,
        idx: impl Iterator<Item = u64>,
    ) -> Result<ArrayRef> {
        let idx: UInt64Array = idx.map(Some).collect();
        Ok(arrow_select::take::take(
            &dataset.fields[field].1,
            &idx,
            None,
        )?)
    }

    fn kernel(&mut self, c: usize) -> Result<ArrayRef> {
        let col = &self.table().columns[c];
        let s = self.stream(c);
        let e = self.e;
        Ok(match &col.generator {
            Generator::Null => arrow_array::new_null_array(&col.ty.data_type(), self.rows.len()),
            Generator::Sequence { start, step } => Arc::new(Int64Array::from(
                self.rows
                    .map(|r| start.wrapping_add(step.wrapping_mul(r as i64))),
            )),
            Generator::Uuid => self.rows.texts(|_, r, out| {
                let (hi, lo) = (s.bits(r), s.bits2(r, 1));
                let hi = (hi & !0xF000) | 0x4000;
                let lo = (lo & !(0xC << 60)) | (0x8 << 60);
                push_hex(out, hi >> 32, 8);
                out.push('-');
                push_hex(out, hi >> 16, 4);
                out.push('-');
                push_hex(out, hi, 4);
                out.push('-');
                push_hex(out, lo >> 48, 4);
                out.push('-');
                push_hex(out, lo, 12);
            }),
            Generator::Enum { .. } => {
                let prep = &e.preps[self.t][c];
                let alias = prep.alias.as_ref().expect("enum has weights");
                let idx = UInt64Array::from(self.rows.map(|r| alias.sample(s, r) as u64));
                arrow_select::take::take(
                    prep.labels.as_ref().expect("enum has labels"),
                    &idx,
                    None,
                )?
            }
            Generator::Distribution { dist, min, max, .. } => {
                let prep = &e.preps[self.t][c];
                let v = self.rows.map(|r| {
                    let x = draw(*dist, s, r, prep);
                    let x = min.map_or(x, |m| x.max(m));
                    max.map_or(x, |m| x.min(m))
                });
                Arc::new(Float64Array::from(v))
            }
            Generator::Temporal {
                pattern,
                start,
                end,
            } if e.preps[self.t][c].sorted.is_some() => {
                let prep = &e.preps[self.t][c];
                let (start, end) = (*start, *end);
                let positions = sorted_positions(prep.sorted.as_ref().expect("sorted"), &self.rows);
                let v: Vec<i64> = positions
                    .into_iter()
                    .map(|u| {
                        let t = match pattern {
                            TemporalPattern::Uniform => start + (u * (end - start) as f64) as i64,
                            TemporalPattern::TradingDays => {
                                let x = u * prep.days.len() as f64;
                                let i = (x as usize).min(prep.days.len() - 1);
                                prep.days[i] + ((x - i as f64) * DAY as f64) as i64
                            }
                            TemporalPattern::Seasonal { .. } => match &prep.hours {
                                Some(hours) => {
                                    let (i, frac) = hours.at_with_fraction(u);
                                    prep.days[i / 24]
                                        + (i % 24) as i64 * 3_600_000_000
                                        + (frac * 3.6e9) as i64
                                }
                                None => {
                                    let (i, frac) = prep
                                        .weighted
                                        .as_ref()
                                        .expect("seasonal days")
                                        .at_with_fraction(u);
                                    prep.days[i] + (frac * DAY as f64) as i64
                                }
                            },
                        };
                        t.clamp(start, end - 1)
                    })
                    .collect();
                Arc::new(TimestampMicrosecondArray::from(v))
            }
            Generator::Temporal {
                pattern,
                start,
                end,
            } => {
                let prep = &e.preps[self.t][c];
                let (start, end) = (*start, *end);
                let v = self.rows.map(|r| match pattern {
                    TemporalPattern::Uniform => start + s.below(r, (end - start) as u64) as i64,
                    TemporalPattern::TradingDays => {
                        let day = prep.days[s.below(r, prep.days.len() as u64) as usize];
                        (day + s.below2(r, 1, DAY as u64) as i64).clamp(start, end - 1)
                    }
                    TemporalPattern::Seasonal { hours, .. } => {
                        let day =
                            prep.days[prep.weighted.as_ref().expect("seasonal days").sample(s, r)];
                        let time = match hours {
                            HourProfile::Uniform => s.below2(r, 1, DAY as u64) as i64,
                            HourProfile::Peaks { peaks, sd } => {
                                let peak = peaks[s.below2(r, 2, peaks.len() as u64) as usize];
                                let z = s.fork(r).normal(3);
                                let hour = (peak + sd * z).floor().rem_euclid(24.0) as i64;
                                let minute = s.below2(r, 4, 60) as i64;
                                let second = s.below2(r, 5, 60) as i64;
                                (hour * 3600 + minute * 60 + second) * 1_000_000
                            }
                        };
                        (day + time).clamp(start, end - 1)
                    }
                });
                Arc::new(TimestampMicrosecondArray::from(v))
            }
            Generator::ForeignKey { table, column, .. } => {
                let rows = self.fk_rows(c)?;
                e.values_at(*table, *column, &rows)?
            }
            Generator::Faker(p) => self.faker(c, *p)?,
            Generator::Pattern(parts) => {
                let mut sources: Vec<Option<StringArray>> = Vec::new();
                for part in parts {
                    sources.push(match part {
                        PatternPart::Column(src, _) => Some(texts(&self.value(*src)?)?),
                        _ => None,
                    });
                }
                const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                self.rows.texts(|i, r, out| {
                    for (k, part) in parts.iter().enumerate() {
                        match part {
                            PatternPart::Literal(t) => out.push_str(t),
                            PatternPart::Seq(w) => push_decimal(out, r + 1, *w),
                            PatternPart::Random(n) => {
                                let f = s.fork(r);
                                for j in 0..*n {
                                    out.push(
                                        CHARS[f.below(k as u64 * 64 + j as u64, 36) as usize]
                                            as char,
                                    );
                                }
                            }
                            PatternPart::Column(_, w) => {
                                let src = sources[k].as_ref().expect("column part");
                                if src.is_valid(i) {
                                    push_padded(out, src.value(i), *w);
                                }
                            }
                        }
                    }
                })
            }
            Generator::ReferenceData { dataset, field, .. } => {
                let prep = &e.preps[self.t][c];
                let len = dataset.len as u64;
                let idx = self.rows.map(|r| match &prep.alias {
                    Some(a) => a.sample(s, r) as u64,
                    None => s.below(r, len),
                });
                Self::take_field(dataset, *field, idx.into_iter())?
            }
            Generator::RecordSample { dataset, field, .. } => {
                let idx = self.records(c)?;
                Self::take_field(dataset, *field, idx.iter().map(|&i| u64::from(i)))?
            }
            Generator::RecordField {
                dataset,
                anchor,
                field,
            } => {
                let idx = self.records(*anchor)?;
                Self::take_field(dataset, *field, idx.iter().map(|&i| u64::from(i)))?
            }
            Generator::Correlated {
                source,
                rule,
                lo,
                hi,
            } => {
                let src = f64s(&self.value(*source)?)?;
                let (lo, hi, rule) = (*lo, *hi, *rule);
                let v: Float64Array = self
                    .rows
                    .map_indexed(|i, r| {
                        if src.is_null(i) {
                            return None;
                        }
                        let x = src.value(i);
                        let f = lo + (hi - lo) * s.unit(r);
                        Some(match rule {
                            CorrelatedRule::Multiply => x * f,
                            CorrelatedRule::Add => x + f,
                            CorrelatedRule::Subtract => (x - f).max(0.0),
                        })
                    })
                    .into_iter()
                    .collect();
                Arc::new(v)
            }
            Generator::Derived { source, days } => {
                let src = match source {
                    Source::Local(l) => self.value(*l)?,
                    Source::Parent { via, table, column } => {
                        let rows = self.fk_rows(*via)?;
                        e.values_at(*table, *column, &rows)?
                    }
                };
                match days {
                    None => src,
                    Some(d) => {
                        let t = micros(&src)?;
                        let d = *d;
                        let v: TimestampMicrosecondArray = self
                            .rows
                            .map_indexed(|i, r| {
                                t.is_valid(i).then(|| t.value(i) + draw_days(d, s, r) * DAY)
                            })
                            .into_iter()
                            .collect();
                        Arc::new(v)
                    }
                }
            }
            Generator::Lookup { via, table, column } => {
                let rows = self.fk_rows(*via)?;
                e.values_at(*table, *column, &rows)?
            }
            Generator::Formula(expr) => {
                let mut cols = Vec::new();
                expr.columns(&mut cols);
                cols.sort_unstable();
                cols.dedup();
                let mut inputs: Vec<(usize, Float64Array)> = Vec::new();
                for src in cols {
                    inputs.push((src, f64s(&self.value(src)?)?));
                }
                let values = expr.eval_columns(self.rows.len(), &|col| {
                    inputs
                        .iter()
                        .find(|(x, _)| *x == col)
                        .map(|(_, a)| a.values().as_ref())
                        .expect("an input of the formula")
                });
                // A row is null where any input is.
                let nulls =
                    inputs
                        .iter()
                        .fold(None, |acc: Option<arrow_buffer::NullBuffer>, (_, a)| {
                            arrow_buffer::NullBuffer::union(acc.as_ref(), a.nulls())
                        });
                Arc::new(Float64Array::new(values.into(), nulls))
            }
            Generator::Computed {
                rule,
                child_table,
                child_column,
            } => self.computed(*rule, *child_table, *child_column)?,
            Generator::Conditional {
                condition,
                then,
                otherwise,
            } => {
                let mask = self.condition(condition)?;
                let ty = col.ty.data_type();
                let a = self.branch(then, &ty)?;
                let b = self.branch(otherwise, &ty)?;
                arrow_select::zip::zip(&mask, &a, &b)?
            }
            Generator::FirstPerParent {
                parent_column,
                default,
            } => {
                let parents = self.fk_rows(*parent_column)?;
                let prefix = e.prefixes[self.t].expect("checked: nested");
                // A range of rows has its parents in order: read their starts block by
                // block; a list's parents are anywhere.
                let mut cursor = prefix.cursor();
                let sequential = matches!(self.rows, Rows::Range(_));
                let mut start = |p: u64| {
                    if sequential {
                        cursor.at(p)
                    } else {
                        prefix.at(p)
                    }
                };
                let d = *default;
                Arc::new(self.rows.bools(|i, r| {
                    if parents[i].is_some_and(|p| start(p) == r) {
                        d
                    } else {
                        !d
                    }
                }))
            }
            Generator::SelfReferencing {
                pk_column,
                levels,
                root_count,
            } => {
                let (starts, sizes) = levels_of(e.counts[self.t], *levels, *root_count);
                let parents: Vec<Option<u64>> = self.rows.map(|r| {
                    let lv = starts.partition_point(|&x| x <= r) - 1;
                    if lv == 0 {
                        return None;
                    }
                    let (ps, pn) = if sizes[lv - 1] > 0 {
                        (starts[lv - 1], sizes[lv - 1])
                    } else {
                        (0, sizes[0])
                    };
                    Some(ps + s.below(r, pn))
                });
                e.values_at(self.t, *pk_column, &parents)?
            }
            Generator::SelfRefLevel { anchor } => {
                let Generator::SelfReferencing {
                    levels, root_count, ..
                } = &self.table().columns[*anchor].generator
                else {
                    return Err(invalid(format!(
                        "{}: no self_referencing anchor",
                        self.path(c)
                    )));
                };
                let (starts, _) = levels_of(e.counts[self.t], *levels, *root_count);
                Arc::new(Int64Array::from(
                    self.rows
                        .map(|r| starts.partition_point(|&x| x <= r) as i64),
                ))
            }
        })
    }

    fn faker(&mut self, c: usize, p: Provider) -> Result<ArrayRef> {
        let s = self.stream(c);
        let pick = |list: &'static [&'static str], r: u64, k: u64| {
            list[s.below2(r, k, list.len() as u64) as usize]
        };
        let copy = |list: &'static [&'static str], k: u64| {
            move |_: usize, r: u64, out: &mut String| out.push_str(pick(list, r, k))
        };
        Ok(match p {
            Provider::FirstName => self.rows.texts(copy(words::first_names(), 0)),
            Provider::LastName => self.rows.texts(copy(words::last_names(), 1)),
            Provider::Name => self.rows.texts(|_, r, out| {
                out.push_str(pick(words::first_names(), r, 0));
                out.push(' ');
                out.push_str(pick(words::last_names(), r, 1));
            }),
            Provider::Email => {
                let table = self.table();
                let names = match (
                    table.column_index("first_name"),
                    table.column_index("last_name"),
                ) {
                    (Some(f), Some(l))
                        if f != c
                            && l != c
                            && table.columns[f].ty == ColumnType::String
                            && table.columns[l].ty == ColumnType::String =>
                    {
                        Some((texts(&self.value(f)?)?, texts(&self.value(l)?)?))
                    }
                    _ => None,
                };
                self.rows.texts(|i, r, out| {
                    let (first, last) = match &names {
                        Some((f, l)) => (
                            if f.is_valid(i) {
                                f.value(i)
                            } else {
                                pick(words::first_names(), r, 0)
                            },
                            if l.is_valid(i) {
                                l.value(i)
                            } else {
                                pick(words::last_names(), r, 1)
                            },
                        ),
                        None => (
                            pick(words::first_names(), r, 0),
                            pick(words::last_names(), r, 1),
                        ),
                    };
                    push_lower(out, first, &[], usize::MAX);
                    out.push('.');
                    push_lower(out, last, &[], usize::MAX);
                    push_decimal(out, 1 + s.below2(r, 2, 998), 0);
                    out.push('@');
                    out.push_str(pick(words::email_domains(), r, 3));
                })
            }
            Provider::CompanyEmail => self.rows.texts(|_, r, out| {
                push_lower(out, pick(words::first_names(), r, 0), &[], usize::MAX);
                out.push('.');
                push_lower(out, pick(words::last_names(), r, 1), &[], usize::MAX);
                out.push('@');
                push_lower(out, pick(words::company_names(), r, 2), &[',', '.'], 20);
                out.push_str(".com");
            }),
            Provider::PhoneNumber => self.rows.texts(|_, r, out| {
                out.push('(');
                push_decimal(out, 200 + s.below2(r, 0, 799), 0);
                out.push_str(") ");
                push_decimal(out, 200 + s.below2(r, 1, 799), 0);
                out.push('-');
                push_decimal(out, 1000 + s.below2(r, 2, 9000), 0);
            }),
            Provider::Ssn => self.rows.texts(|_, r, out| {
                let area = match 1 + s.below2(r, 0, 899) {
                    666 => 665,
                    a => a,
                };
                push_decimal(out, area, 3);
                out.push('-');
                push_decimal(out, 1 + s.below2(r, 1, 99), 2);
                out.push('-');
                push_decimal(out, 1 + s.below2(r, 2, 9999), 4);
            }),
            Provider::Company => self.rows.texts(copy(words::company_names(), 0)),
            Provider::StreetAddress => self.rows.texts(|_, r, out| {
                push_decimal(out, 100 + s.below2(r, 0, 9900), 0);
                out.push(' ');
                out.push_str(pick(words::street_names(), r, 1));
                out.push(' ');
                out.push_str(pick(words::STREET_SUFFIXES, r, 2));
            }),
            Provider::Sentence => self.rows.texts(copy(words::sentences(), 0)),
            Provider::City => self.rows.texts(copy(words::US_CITIES, 0)),
            Provider::StateAbbr => self.rows.texts(copy(words::US_STATES, 0)),
            Provider::Uri => self.rows.texts(|_, r, out| {
                out.push_str("https://");
                out.push_str(pick(words::uri_domains(), r, 0));
                out.push('/');
                out.push_str(pick(words::uri_paths(), r, 1));
            }),
            Provider::RandomText => {
                const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                self.rows.texts(|_, r, out| {
                    let f = s.fork(r);
                    out.extend((0..12).map(|j| CHARS[f.below(j, 36) as usize] as char));
                })
            }
        })
    }

    fn computed(&mut self, rule: Aggregate, child: usize, child_column: usize) -> Result<ArrayRef> {
        let prefix = self.e.prefixes[child].expect("checked: the child is nested");
        let bounds: Vec<(u64, u64)> = match &self.rows {
            Rows::Range(r) => {
                let mut cursor = prefix.cursor();
                r.clone()
                    .map(|r| (cursor.at(r), cursor.at(r + 1)))
                    .collect()
            }
            Rows::List(_) => self.rows.map(|r| {
                let rows = prefix.rows_of(r);
                (rows.start, rows.end)
            }),
        };
        let child_rows = match &self.rows {
            Rows::Range(r) => Rows::Range(prefix.at(r.start)..prefix.at(r.end)),
            Rows::List(_) => Rows::List(
                bounds
                    .iter()
                    .flat_map(|&(a, b)| a..b)
                    .collect::<Vec<_>>()
                    .into(),
            ),
        };
        let made = match (
            &child_rows,
            self.provided.and_then(|p| p.get(&(child, child_column))),
        ) {
            (Rows::Range(want), Some((have, values))) if want == have => Some(values.clone()),
            _ => None,
        };
        let values = match made {
            Some(v) => f64s(&v)?,
            None => f64s(&self.e.column(child, child_column, child_rows)?)?,
        };
        let mut at = 0usize;
        let v: Vec<f64> = bounds
            .iter()
            .map(|&(a, b)| {
                let n = (b - a) as usize;
                let xs = (at..at + n)
                    .filter(|&i| values.is_valid(i))
                    .map(|i| values.value(i));
                at += n;
                match rule {
                    Aggregate::Sum => xs.sum(),
                    Aggregate::Count => xs.count() as f64,
                    Aggregate::Avg => {
                        let (sum, k) = xs.fold((0.0, 0usize), |(s, k), x| (s + x, k + 1));
                        if k == 0 { 0.0 } else { sum / k as f64 }
                    }
                    Aggregate::Min => xs.reduce(f64::min).unwrap_or(0.0),
                    Aggregate::Max => xs.reduce(f64::max).unwrap_or(0.0),
                }
            })
            .collect();
        Ok(Arc::new(Float64Array::from(v)))
    }

    fn condition(&mut self, cond: &Condition) -> Result<BooleanArray> {
        Ok(match cond {
            Condition::IsNull { column, negate } => {
                let v = self.value(*column)?;
                BooleanArray::from(
                    (0..v.len())
                        .map(|i| v.is_null(i) != *negate)
                        .collect::<Vec<_>>(),
                )
            }
            Condition::Equals {
                column,
                value,
                negate,
            } => {
                let v = self.value(*column)?;
                let numeric = value
                    .parse::<f64>()
                    .ok()
                    .filter(|_| v.data_type().is_numeric());
                let eq: Vec<bool> = match numeric {
                    Some(x) => {
                        let f = f64s(&v)?;
                        (0..f.len())
                            .map(|i| f.is_valid(i) && f.value(i) == x)
                            .collect()
                    }
                    None => {
                        let t = texts(&v)?;
                        (0..t.len())
                            .map(|i| t.is_valid(i) && t.value(i) == value)
                            .collect()
                    }
                };
                BooleanArray::from(eq.into_iter().map(|b| b != *negate).collect::<Vec<_>>())
            }
        })
    }

    fn branch(&mut self, b: &Branch, ty: &DataType) -> Result<ArrayRef> {
        let n = self.rows.len();
        let raw: ArrayRef = match b {
            Branch::Fixed(v) => match v {
                serde_json::Value::Number(x) => {
                    Arc::new(Float64Array::from(vec![x.as_f64().unwrap_or(0.0); n]))
                }
                serde_json::Value::String(x) => Arc::new(StringArray::from(vec![x.as_str(); n])),
                serde_json::Value::Bool(x) => Arc::new(BooleanArray::from(vec![*x; n])),
                _ => arrow_array::new_null_array(ty, n),
            },
            Branch::Lookup { via, table, column } => {
                let rows = self.fk_rows(*via)?;
                let v = self.e.values_at(*table, *column, &rows)?;
                if v.data_type().is_numeric() {
                    // The reference gives 0 where the key is null.
                    let f = f64s(&v)?;
                    Arc::new(
                        f.iter()
                            .map(|x| Some(x.unwrap_or(0.0)))
                            .collect::<Float64Array>(),
                    )
                } else {
                    v
                }
            }
        };
        Ok(cast_strict(&raw, ty)?)
    }

    /// Applies the column's rule comparisons to its values.
    fn enforce(&mut self, c: usize, v: ArrayRef) -> Result<ArrayRef> {
        let col = &self.table().columns[c];
        let fixes = self.e.layout.fixes[self.t][c].clone();
        let mut v = v;
        for f in fixes {
            let bound: Option<ArrayRef> = match f.bound {
                Operand::Column(b) => Some(self.value(b)?),
                Operand::Parent { via, table, column } => {
                    let rows = self.fk_rows(via)?;
                    Some(self.e.values_at(table, column, &rows)?)
                }
                Operand::Number(_) => None,
            };
            let number = match f.bound {
                Operand::Number(x) => Some(x),
                _ => None,
            };
            v = match col.ty {
                ColumnType::Date | ColumnType::Timestamp => {
                    let x = micros(&v)?;
                    let y = micros(bound.as_ref().expect("temporal rules compare columns"))?;
                    let grid = if col.ty == ColumnType::Date { DAY } else { 1 };
                    let out: TimestampMicrosecondArray = (0..x.len())
                        .map(|i| {
                            if x.is_null(i) || y.is_null(i) {
                                return x.is_valid(i).then(|| x.value(i));
                            }
                            Some(clamp_i64(x.value(i), f.op, y.value(i), DAY, grid))
                        })
                        .collect();
                    cast_strict(&(Arc::new(out) as ArrayRef), &col.ty.data_type())?
                }
                ColumnType::Integer => {
                    let x = v.as_primitive::<Int64Type>();
                    let bounds = numeric_bounds(bound.as_ref(), number, x.len())?;
                    let out: Int64Array = x
                        .iter()
                        .zip(bounds)
                        .map(|(x, b)| match (x, b) {
                            (Some(x), Some(b)) => {
                                Some(clamp_f64(x as f64, f.op, b, Some(0)) as i64)
                            }
                            (x, _) => x,
                        })
                        .collect();
                    Arc::new(out)
                }
                _ => {
                    let x = v.as_primitive::<Float64Type>();
                    let bounds = numeric_bounds(bound.as_ref(), number, x.len())?;
                    let digits = rounding_digits(col);
                    let out: Float64Array = x
                        .iter()
                        .zip(bounds)
                        .map(|(x, b)| match (x, b) {
                            (Some(x), Some(b)) => Some(clamp_f64(x, f.op, b, digits)),
                            (x, _) => x,
                        })
                        .collect();
                    Arc::new(out)
                }
            };
        }
        Ok(v)
    }
}

/// Digits a column's numbers are rounded to: a distribution's `round`, else the
/// column's `scale`; correlated values keep 2 without a scale, as the reference does.
fn rounding_digits(col: &Column) -> Option<i32> {
    match &col.generator {
        Generator::Distribution { round, .. } => round.or(col.scale),
        Generator::Correlated { .. } => Some(col.scale.unwrap_or(2)),
        _ => col.scale,
    }
}

/// Each row's bound of a rule comparison: the bound column's value (none where it is
/// null), or the rule's number.
fn numeric_bounds(
    bound: Option<&ArrayRef>,
    number: Option<f64>,
    n: usize,
) -> Result<Vec<Option<f64>>> {
    Ok(match bound {
        Some(b) => f64s(b)?.iter().collect(),
        None => vec![number; n],
    })
}

/// `x` moved the least distance to satisfy `x op y` on a grid of `10^-digits` (exact
/// when `digits` is `None`).
fn clamp_f64(x: f64, op: CmpOp, y: f64, digits: Option<i32>) -> f64 {
    // Worked out only for a row that breaks the rule (most rows do not).
    let step = || digits.map(|d| 10f64.powi(-d));
    let up = |v: f64| match digits {
        Some(d) => {
            let f = 10f64.powi(d);
            let r = (v * f).ceil() / f;
            if r < v { r + step().unwrap_or(0.0) } else { r }
        }
        None => v,
    };
    let down = |v: f64| match digits {
        Some(d) => {
            let f = 10f64.powi(d);
            let r = (v * f).floor() / f;
            if r > v { r - step().unwrap_or(0.0) } else { r }
        }
        None => v,
    };
    let tiny = |v: f64| step().unwrap_or(v.abs() * 1e-12 + 1e-12);
    match op {
        CmpOp::Ge if x < y => up(y),
        CmpOp::Gt if x <= y => {
            let v = up(y);
            if v > y { v } else { up(y + tiny(y)) }
        }
        CmpOp::Le if x > y => down(y),
        CmpOp::Lt if x >= y => {
            let v = down(y);
            if v < y { v } else { down(y - tiny(y)) }
        }
        _ => x,
    }
}

/// `x op y` for instants: `>=`/`<=` move `x` to the nearest grid point past `y`;
/// `>`/`<` to `y` plus or minus `strict` (a day, as the reference does).
fn clamp_i64(x: i64, op: CmpOp, y: i64, strict: i64, grid: i64) -> i64 {
    let up = |v: i64| v.div_euclid(grid) * grid + if v.rem_euclid(grid) == 0 { 0 } else { grid };
    let down = |v: i64| v.div_euclid(grid) * grid;
    match op {
        CmpOp::Ge if x < y => up(y),
        CmpOp::Gt if x <= y => up(y + strict),
        CmpOp::Le if x > y => down(y),
        CmpOp::Lt if x >= y => down(y - strict),
        _ => x,
    }
}

/// Level starts and sizes of a self-referencing hierarchy of `n` rows, as the
/// reference lays it out: `root_count` roots (at most n / levels), the rest split
/// evenly over the levels below.
fn levels_of(n: u64, levels: u64, root_count: Option<u64>) -> (Vec<u64>, Vec<u64>) {
    let root = root_count
        .unwrap_or((n / 10).max(1))
        .min(n / levels)
        .max(1)
        .min(n.max(1));
    let rest = n.saturating_sub(root);
    let below = levels - 1;
    let per = rest.checked_div(below).unwrap_or(0);
    let extra = if below > 0 { rest - per * below } else { rest };
    let mut starts = vec![0];
    let mut sizes = vec![root];
    let mut cursor = root;
    for lv in 0..below {
        let size = per + u64::from(lv < extra);
        starts.push(cursor);
        sizes.push(size);
        cursor += size;
    }
    (starts, sizes)
}

/// Sorted positions of `rows`.
fn sorted_positions(sorted: &SortedUniforms, rows: &Rows) -> Vec<f64> {
    match rows {
        Rows::Range(r) => sorted.range(r.start, r.end),
        Rows::List(list) => sorted.at(list),
    }
}

/// The share of each hour of the day when whole hours are drawn around `peaks` with
/// spread `sd` (a mixture of normals, floored and wrapped onto the day).
fn hour_weights(peaks: &[f64], sd: f64) -> [f64; 24] {
    let cdf = |x: f64| {
        if sd > 0.0 {
            0.5 * (1.0 + erf(x / (sd * std::f64::consts::SQRT_2)))
        } else if x >= 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let mut w = [0.0; 24];
    for (h, slot) in w.iter_mut().enumerate() {
        for peak in peaks {
            for k in -3..=3 {
                let lo = h as f64 + 24.0 * f64::from(k) - peak;
                *slot += cdf(lo + 1.0) - cdf(lo);
            }
        }
    }
    w
}

/// The error function (Abramowitz and Stegun 7.1.26, within 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// One draw of a distribution for row `r`.
fn draw(d: Dist, s: RandomStream, r: u64, prep: &Prep) -> f64 {
    match d {
        Dist::Uniform { min, max } => min + (max - min) * s.unit(r),
        Dist::Normal { mean, sd } => mean + sd * s.normal(r),
        Dist::LogNormal { mean, sigma } => (mean + sigma * s.normal(r)).exp(),
        Dist::Pareto { alpha, min } => min * (1.0 - s.unit(r)).powf(-1.0 / alpha),
        Dist::Zipf { .. } => (prep.alias.as_ref().expect("zipf table").sample(s, r) + 1) as f64,
        Dist::Geometric { p } => {
            if p >= 1.0 {
                1.0
            } else {
                ((1.0 - s.unit(r)).ln() / (1.0 - p).ln()).ceil().max(1.0)
            }
        }
        Dist::Poisson { lambda } => {
            if lambda < 30.0 {
                let f = s.fork(r);
                let limit = (-lambda).exp();
                let mut k = 0u64;
                let mut prod = f.unit(0);
                while prod > limit {
                    k += 1;
                    prod *= f.unit(k);
                }
                k as f64
            } else {
                (lambda + lambda.sqrt() * s.normal(r)).round().max(0.0)
            }
        }
        Dist::Bernoulli { p } => f64::from(u8::from(s.unit(r) < p)),
    }
}

/// Whole days for row `r` of a derived column.
fn draw_days(d: DaysDist, s: RandomStream, r: u64) -> i64 {
    let x = match d.dist {
        DaysShape::Uniform => d.min + (d.max - d.min) * s.unit2(r, 7),
        DaysShape::LogNormal { mean, sigma } => (mean + sigma * s.fork(r).normal(7))
            .exp()
            .clamp(d.min, d.max),
        DaysShape::Normal { mean, sd } => (mean + sd * s.fork(r).normal(7)).clamp(d.min, d.max),
    };
    x.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_written_as_format_writes_them() {
        for (text, width) in [("7", 3), ("é1", 4), ("12345", 2), ("", 2)] {
            let mut out = String::new();
            push_padded(&mut out, text, width);
            assert_eq!(out, format!("{text:0>width$}"));
        }
        let s = RandomStream::new(3, "digits");
        for r in 0..10_000u64 {
            let value = s.bits(r) >> (r % 64);
            for width in [0usize, 1, 3, 6, 25] {
                let mut out = String::from("x");
                push_decimal(&mut out, value, width);
                assert_eq!(out, format!("x{value:0width$}"));
            }
            for width in [1u32, 4, 8, 12, 16] {
                let mut out = String::new();
                push_hex(&mut out, value, width);
                let low = if width == 16 {
                    value
                } else {
                    value & ((1 << (4 * width)) - 1)
                };
                assert_eq!(out, format!("{low:0w$x}", w = width as usize));
            }
        }
    }

    #[test]
    fn tabulated_ranks_are_the_permutation() {
        let stream = RandomStream::new(4, "ranks");
        let perm = Feistel::new(5_000, stream);
        let table = Ranks::new(5_000, 20_000, stream);
        assert!(matches!(table, Ranks::Table(_)));
        assert!(matches!(
            Ranks::new(5_000, 19_999, stream),
            Ranks::Computed(_)
        ));
        let computed = Ranks::Computed(Feistel::new(5_000, stream));
        let mut ranks: Vec<Option<u64>> = (0..5_000).map(Some).collect();
        ranks[7] = None;
        let mut tabulated = ranks.clone();
        computed.apply_all(&mut ranks);
        table.apply_all(&mut tabulated);
        assert_eq!(ranks, tabulated);
        assert_eq!(ranks[7], None);
        assert!((0..5_000).all(|r| r == 7 || ranks[r] == Some(perm.apply(r as u64))));
    }

    /// The guide finds the same parent as a binary search over the shares, empty
    /// shares (runs of them, first and last) and a single parent included.
    #[test]
    fn capped_parents_from_the_guide_are_the_searched_ones() {
        let shares: [&[u64]; 5] = [
            &[3, 0, 0, 5, 1, 0, 7, 0, 0, 0, 2],
            &[0, 0, 4, 400, 1, 0],
            &[9],
            &[1; 300],
            &[400, 1, 1, 0, 2, 3, 0, 0, 1, 50],
        ];
        for counts in shares {
            let starts: Vec<u64> = std::iter::once(0)
                .chain(counts.iter().scan(0, |acc, &c| {
                    *acc += c;
                    Some(*acc)
                }))
                .collect();
            let rows = starts[starts.len() - 1];
            let stream = RandomStream::new(2, "cap");
            let (perm, cap) = (
                Feistel::new(rows, stream),
                Cap::new(starts.clone(), Feistel::new(rows, stream)),
            );
            let parents = cap.parents_of(&Rows::Range(0..rows));
            for (row, parent) in (0..rows).zip(parents) {
                let position = perm.apply(row);
                let searched = starts.partition_point(|&x| x <= position) as u64 - 1;
                assert_eq!(parent, Some(searched), "{counts:?} row {row}");
            }
        }
    }

    #[test]
    fn feistel_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let f = Feistel::new(n, RandomStream::new(1, "f"));
            let mut seen: Vec<u64> = (0..n).map(|x| f.apply(x)).collect();
            let mut all: Vec<u64> = (0..n).collect();
            f.apply_all(&mut all);
            assert_eq!(all, seen, "n = {n}: one at a time and all at once");
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn clamps_meet_the_comparison_on_the_grid() {
        assert_eq!(clamp_f64(5.0, CmpOp::Le, 4.123, Some(2)), 4.12);
        assert_eq!(clamp_f64(5.0, CmpOp::Lt, 5.0, Some(2)), 4.99);
        assert_eq!(clamp_f64(1.0, CmpOp::Gt, 1.0, Some(0)), 2.0);
        assert_eq!(clamp_f64(1.0, CmpOp::Ge, 1.5, Some(0)), 2.0);
        assert_eq!(clamp_f64(3.0, CmpOp::Ge, 1.5, Some(0)), 3.0);
        assert!(clamp_f64(0.0, CmpOp::Gt, 0.0, None) > 0.0);
        assert_eq!(clamp_i64(5, CmpOp::Ge, 7, DAY, 1), 7);
        assert_eq!(clamp_i64(DAY, CmpOp::Ge, DAY + 5, DAY, DAY), 2 * DAY);
        assert_eq!(clamp_i64(0, CmpOp::Gt, 10, DAY, 1), 10 + DAY);
    }

    #[test]
    fn levels_split_like_the_reference() {
        let (starts, sizes) = levels_of(50, 3, Some(8));
        assert_eq!(starts, vec![0, 8, 29]);
        assert_eq!(sizes, vec![8, 21, 21]);
        let (starts, sizes) = levels_of(1, 4, Some(5));
        assert_eq!((starts[0], sizes[0]), (0, 1));
    }
}
