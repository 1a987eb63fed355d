//! Column kernels: every value is a function of (seed, table, column, row), computed
//! for any set of rows as an Arrow array. A chunk asks for a range of rows; a lookup
//! asks a parent table for the rows its foreign keys point at. Small tables are made
//! whole once and read with `take`.

use super::layout::{Layout, Nest};
use super::model::{Column, ColumnType, Generator, Schema, Table};
use super::strategy::{self, Planning, Prep};
use crate::dist::SpreadPrefix;
use crate::error::{Error, Result};
use crate::rng::RandomStream;
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use arrow_buffer::BooleanBuffer;
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, TimeUnit};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// Tables up to this many rows are made whole on first use and read with `take`. A
/// larger table's columns are made for the rows asked, chunk by chunk, in parallel:
/// making it whole on first use holds it in memory and keeps the threads that need it
/// waiting (with 200,000 here before: healthcare 0.26 -> 0.20 s and 139 -> 97 MiB and
/// education 42 -> 34 MiB at `medium`, hr 0.13 -> 0.09 s at `large`; pulse, whose
/// 500,000 trips read 50,000 riders, 0.15 -> 0.17 s until sorted columns read row by
/// row came from checkpoints).
pub const SMALL_TABLE_ROWS: u64 = 2_000;

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
    pub(super) fn len(&self) -> usize {
        match self {
            Rows::Range(r) => (r.end - r.start) as usize,
            Rows::List(l) => l.len(),
        }
    }

    /// `f(row)` for every row, in order.
    pub(super) fn map<T>(&self, mut f: impl FnMut(u64) -> T) -> Vec<T> {
        match self {
            Rows::Range(r) => r.clone().map(f).collect(),
            Rows::List(l) => l.iter().map(|&r| f(r)).collect(),
        }
    }

    /// A Boolean column of `f(i, row)` for every row, packed as it is drawn.
    pub(super) fn bools(&self, mut f: impl FnMut(usize, u64) -> bool) -> BooleanArray {
        let values = match self {
            Rows::Range(r) => BooleanBuffer::collect_bool(self.len(), |i| f(i, r.start + i as u64)),
            Rows::List(l) => BooleanBuffer::collect_bool(l.len(), |i| f(i, l[i])),
        };
        BooleanArray::new(values, None)
    }

    /// `f(i, row)` for every row.
    pub(super) fn map_indexed<T>(&self, mut f: impl FnMut(usize, u64) -> T) -> Vec<T> {
        match self {
            Rows::Range(r) => r.clone().enumerate().map(|(i, row)| f(i, row)).collect(),
            Rows::List(l) => l.iter().enumerate().map(|(i, &row)| f(i, row)).collect(),
        }
    }

    /// A text column of what `f(i, row, out)` writes for every row. `out` is one
    /// buffer, emptied before each row, so no value is allocated on its own.
    pub(super) fn texts(&self, mut f: impl FnMut(usize, u64, &mut String)) -> ArrayRef {
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

/// One schema planned at one scale and seed.
pub struct Engine {
    pub(crate) schema: Arc<Schema>,
    pub(crate) layout: Arc<Layout>,
    pub(crate) counts: Vec<u64>,
    seed: u64,
    streams: Vec<Vec<RandomStream>>,
    pub(super) preps: Vec<Vec<Prep>>,
    pub(super) prefixes: Vec<Option<SpreadPrefix>>,
    full: Vec<Vec<OnceLock<std::result::Result<ArrayRef, String>>>>,
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
                row.push(strategy::prep(&Planning {
                    schema: s,
                    layout: &layout,
                    counts: &counts,
                    table: t,
                    column: c,
                    stream: streams[t][c],
                    path: &path,
                })?);
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
    pub(super) fn values_at(&self, t: usize, c: usize, rows: &[Option<u64>]) -> Result<ArrayRef> {
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
    pub(super) fn fk_rows_at(
        &self,
        t: usize,
        c: usize,
        rows: &[Option<u64>],
    ) -> Result<Arc<[Option<u64>]>> {
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
pub(super) fn cast_strict(
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

pub(super) fn f64s(a: &ArrayRef) -> Result<Float64Array> {
    Ok(cast_strict(a, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

pub(super) fn micros(a: &ArrayRef) -> Result<TimestampMicrosecondArray> {
    let ty = DataType::Timestamp(TimeUnit::Microsecond, None);
    Ok(cast_strict(a, &ty)?
        .as_primitive::<TimestampMicrosecondType>()
        .clone())
}

pub(super) fn texts(a: &ArrayRef) -> Result<StringArray> {
    Ok(cast_strict(a, &DataType::Utf8)?.as_string::<i32>().clone())
}

/// Columns already made for a chunk: (table, column) -> (rows, values).
type Provided = std::collections::HashMap<(usize, usize), (Range<u64>, ArrayRef)>;

/// One request: columns of one table at one set of rows.
pub(super) struct Eval<'e> {
    pub(super) e: &'e Engine,
    /// Columns of other tables made for the same chunk.
    pub(super) provided: Option<&'e Provided>,
    pub(super) t: usize,
    pub(super) rows: Rows,
    /// This request is the whole-table one of a small table.
    whole: bool,
    values: Vec<Option<ArrayRef>>,
    pub(super) fk_rows: Vec<Option<Arc<[Option<u64>]>>>,
    pub(super) records: Vec<Option<Arc<[u32]>>>,
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

    pub(super) fn table(&self) -> &'e Table {
        &self.e.schema.tables[self.t]
    }

    pub(super) fn path(&self, c: usize) -> String {
        format!(
            "tables.{}.columns.{}",
            self.table().name,
            self.table().columns[c].name
        )
    }

    pub(super) fn stream(&self, c: usize) -> RandomStream {
        self.e.streams[self.t][c]
    }

    pub(super) fn value(&mut self, c: usize) -> Result<ArrayRef> {
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

    pub(super) fn null_mask(&self, c: usize) -> Option<BooleanArray> {
        let col = &self.table().columns[c];
        if !col.nullable || col.null_rate <= 0.0 {
            return None;
        }
        let s = self.stream(c).fork(0x4E55_4C4C);
        let rate = col.null_rate;
        Some(self.rows.bools(|_, r| s.unit(r) < rate))
    }
}

/// Digits a column's numbers are rounded to: a distribution's `round`, else the
/// column's `scale`; correlated values keep 2 without a scale, as the reference does.
pub(super) fn rounding_digits(col: &Column) -> Option<i32> {
    match &col.generator {
        Generator::Distribution { round, .. } => round.or(col.scale),
        Generator::Correlated { .. } => Some(col.scale.unwrap_or(2)),
        _ => col.scale,
    }
}
