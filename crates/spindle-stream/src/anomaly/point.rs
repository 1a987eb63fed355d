//! The point anomaly: its spec, and its kernel: the baseline it learns of the table (the mean absolute
//! value of its column, summed in fixed blocks so that chunking cannot change it) and
//! its edit of a batch (picked rows multiplied).

use super::kernels::{Edit, column, picked_rows};
use super::kind::{AnomalyKind, InPlaceKind, InPlacePlan, Learner, find_column, pick_count};

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use spindle_gen::dist::sample_without_replacement;
use spindle_gen::rng::RandomStream;
use std::sync::Arc;

/// A value far outside the column's normal range: `mean(|column|) x U(min, max) x
/// U(0.8, 1.2)`, rounded to cents. Integer columns become Float64.
#[derive(Clone, Debug, PartialEq)]
pub struct PointAnomaly {
    /// Short label, used in `point:<name>`.
    pub name: String,
    /// Numeric column to modify.
    pub column: String,
    /// `(min, max)` multiplier of the column's mean absolute value. Default (10, 100).
    pub multiplier_range: (f64, f64),
    /// Share of rows to modify. Default 0.01.
    pub fraction: f64,
}

impl PointAnomaly {
    /// A point anomaly with the reference's defaults.
    pub fn new(name: &str, column: &str) -> Self {
        Self {
            name: name.into(),
            column: column.into(),
            multiplier_range: (10.0, 100.0),
            fraction: 0.01,
        }
    }
    /// Sets the multiplier range.
    pub fn multiplier_range(mut self, min: f64, max: f64) -> Self {
        self.multiplier_range = (min, max);
        self
    }
    /// Sets the share of rows.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

impl AnomalyKind for PointAnomaly {
    fn kind(&self) -> &'static str {
        "point"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn fraction(&self) -> f64 {
        self.fraction
    }

    fn check_settings(&self, label: &str) -> Result<()> {
        let (lo, hi) = self.multiplier_range;
        if lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi {
            return Ok(());
        }
        Err(Error::invalid(
            "multiplier_range",
            format!("{label}: ({lo}, {hi}) must satisfy 0 < min <= max"),
        ))
    }

    fn check_columns(&self, table: &str, schema: &Schema) -> Result<()> {
        let what = "point anomaly column";
        let t = schema
            .field(find_column(what, &self.column, table, schema)?)
            .data_type();
        if t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..)) {
            return Ok(());
        }
        Err(Error::column(
            what,
            &self.column,
            format!("is {t}, not a number"),
            table,
            schema,
        ))
    }

    fn surveyed(&self) -> Vec<&str> {
        vec![&self.column]
    }

    fn overwrites(&self) -> Option<&str> {
        Some(&self.column)
    }
}

/// Table rows summed per block by [`AbsMean`]: the mean is summed left to right within
/// a block, then block by block, so it does not depend on how the table is chunked.
const MEAN_BLOCK_ROWS: u64 = 65_536;

/// The mean absolute value of a point anomaly's column (its baseline), over the table
/// in order.
#[derive(Default)]
struct AbsMean {
    total: (f64, u64),
    block: (f64, u64),
    block_index: u64,
}

impl AbsMean {
    /// Adds `array`, the column's values from table position `first`.
    fn add(&mut self, array: &ArrayRef, first: u64) -> Result<()> {
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
    fn finish(mut self) -> f64 {
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
struct PointPlan {
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
    fn new(p: &PointAnomaly, n: u64, baseline: f64, stream: RandomStream) -> Self {
        Self {
            rows: sample_without_replacement(stream, n, pick_count(n, p.fraction)),
            baseline,
            range: p.multiplier_range,
            stream,
            column: p.column.clone(),
        }
    }
}

impl InPlaceKind for PointAnomaly {
    fn learner(&self, _schema: &Schema, stream: RandomStream) -> Box<dyn Learner + '_> {
        Box::new(PointLearner {
            anomaly: self,
            mean: AbsMean::default(),
            stream,
        })
    }
}

/// A point anomaly's survey: its column's baseline.
struct PointLearner<'a> {
    anomaly: &'a PointAnomaly,
    mean: AbsMean,
    stream: RandomStream,
}

impl Learner for PointLearner<'_> {
    fn learn(&mut self, batch: &RecordBatch, first: u64) -> Result<Vec<(u32, u64)>> {
        self.mean
            .add(column(batch, &self.anomaly.column).1, first)?;
        Ok(Vec::new())
    }

    fn plan(self: Box<Self>, rows: u64) -> Box<dyn InPlacePlan> {
        let baseline = self.mean.finish();
        Box::new(PointPlan::new(self.anomaly, rows, baseline, self.stream))
    }
}

impl InPlacePlan for PointPlan {
    fn next_ranks(&mut self, _batch: &RecordBatch) -> Result<Vec<(u32, u64)>> {
        Ok(Vec::new())
    }

    fn picks_by_position(&self) -> Option<&[u64]> {
        Some(&self.rows)
    }

    fn picked(&self, positions: &[u64], _ranks: &[(u32, u64)]) -> Vec<u32> {
        picked_rows(positions, &self.rows)
    }

    fn edit_rows(&self, batch: &RecordBatch, positions: &[u64], rows: Vec<u32>) -> Result<Edit> {
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
        Ok(Edit {
            column: index,
            new_type: (*array.data_type() != DataType::Float64).then_some(DataType::Float64),
            nullable: false,
            rows,
            values: Arc::new(Float64Array::from(values)),
        })
    }
}
