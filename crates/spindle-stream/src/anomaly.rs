//! Labelled anomalies as column kernels: point, contextual and collective.
//!
//! Each anomaly turns the input batch into a set of edits (rows and their new values)
//! without touching it; the registry computes every anomaly's edits in parallel on
//! rayon, then applies them in registry order, so a later anomaly overrides an earlier
//! one on the same cell and label. Every random draw comes from
//! `(seed, anomaly position and name, row or group)`, so the result does not depend on
//! the thread count.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;
use spindle_gen::dist::sample_without_replacement;
use spindle_gen::rng::RandomStream;
use std::collections::HashMap;
use std::sync::Arc;

pub use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};

/// A literal value used by [`ContextualAnomaly`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// No value: as an anomalous value it writes a null (the seed's "NULL shipping
    /// address"), making the column nullable in every batch; as a normal value it makes
    /// rows whose condition column is null eligible.
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

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

/// A normal value in the wrong context: among rows whose `condition_column` is one of
/// `normal_values`, a share gets one of `anomalous_values` written into `column`.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextualAnomaly {
    /// Short label, used in `contextual:<name>`.
    pub name: String,
    /// Column to overwrite.
    pub column: String,
    /// Column deciding which rows are eligible.
    pub condition_column: String,
    /// Values of `condition_column` that make a row eligible.
    pub normal_values: Vec<Value>,
    /// Values written into `column`, one drawn per row.
    pub anomalous_values: Vec<Value>,
    /// Share of eligible rows to modify. Default 0.01.
    pub fraction: f64,
}

impl ContextualAnomaly {
    /// A contextual anomaly with the reference's default fraction.
    pub fn new(
        name: &str,
        column: &str,
        condition_column: &str,
        normal_values: Vec<Value>,
        anomalous_values: Vec<Value>,
    ) -> Self {
        Self {
            name: name.into(),
            column: column.into(),
            condition_column: condition_column.into(),
            normal_values,
            anomalous_values,
            fraction: 0.01,
        }
    }
    /// Sets the share of eligible rows.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }
}

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

/// Any of the three kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Anomaly {
    /// See [`PointAnomaly`].
    Point(PointAnomaly),
    /// See [`ContextualAnomaly`].
    Contextual(ContextualAnomaly),
    /// See [`CollectiveAnomaly`].
    Collective(CollectiveAnomaly),
}

impl From<PointAnomaly> for Anomaly {
    fn from(a: PointAnomaly) -> Self {
        Anomaly::Point(a)
    }
}
impl From<ContextualAnomaly> for Anomaly {
    fn from(a: ContextualAnomaly) -> Self {
        Anomaly::Contextual(a)
    }
}
impl From<CollectiveAnomaly> for Anomaly {
    fn from(a: CollectiveAnomaly) -> Self {
        Anomaly::Collective(a)
    }
}

impl Anomaly {
    /// The label written into `_spindle_anomaly_type`: `kind:name`.
    pub fn anomaly_type(&self) -> String {
        match self {
            Anomaly::Point(a) => format!("point:{}", a.name),
            Anomaly::Contextual(a) => format!("contextual:{}", a.name),
            Anomaly::Collective(a) => format!("collective:{}", a.name),
        }
    }

    fn fraction(&self) -> f64 {
        match self {
            Anomaly::Point(a) => a.fraction,
            Anomaly::Contextual(a) => a.fraction,
            Anomaly::Collective(a) => a.fraction,
        }
    }

    /// Checks settings that do not depend on a table.
    ///
    /// # Errors
    /// A fraction outside 0..=1, a bad multiplier range or window, no values.
    pub fn validate(&self) -> Result<()> {
        let f = self.fraction();
        let label = self.anomaly_type();
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::invalid(
                "fraction",
                format!("{label}: {f} is not in 0..=1"),
            ));
        }
        match self {
            Anomaly::Point(a) => {
                let (lo, hi) = a.multiplier_range;
                if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                    return Err(Error::invalid(
                        "multiplier_range",
                        format!("{label}: ({lo}, {hi}) must satisfy 0 < min <= max"),
                    ));
                }
            }
            Anomaly::Contextual(a) => {
                if a.normal_values.is_empty() || a.anomalous_values.is_empty() {
                    return Err(Error::invalid(
                        "normal_values",
                        format!("{label}: normal_values and anomalous_values must not be empty"),
                    ));
                }
            }
            Anomaly::Collective(a) => {
                if !(a.window_seconds.is_finite() && a.window_seconds > 0.0) {
                    return Err(Error::invalid(
                        "window_seconds",
                        format!("{label}: {} must be > 0", a.window_seconds),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How many of `n` candidates a `fraction` picks: as the reference,
/// `max(1, floor(n x fraction))`, but none for a zero fraction or no candidates.
pub fn pick_count(n: u64, fraction: f64) -> u64 {
    if n == 0 || fraction <= 0.0 {
        0
    } else {
        ((n as f64 * fraction).floor() as u64).clamp(1, n)
    }
}

/// What one anomaly changes: rows (ascending), the column and its new values.
struct Edit {
    column: usize,
    /// New type of the column, when it changes (integer to float for point anomalies).
    new_type: Option<DataType>,
    /// The anomaly may write nulls: the column is nullable in every batch, whether this
    /// one got a null or not, so that the schema never changes along a stream.
    nullable: bool,
    rows: Vec<u32>,
    values: ArrayRef,
}

/// The result of [`AnomalyRegistry::inject`].
#[derive(Debug)]
pub struct Injected {
    /// The input with values changed and the two label columns appended.
    pub batch: RecordBatch,
    /// Rows labelled anomalous.
    pub labelled: u64,
}

/// An ordered set of anomalies applied together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnomalyRegistry {
    anomalies: Vec<Anomaly>,
}

impl AnomalyRegistry {
    /// A registry of `anomalies`, applied in this order.
    pub fn new(anomalies: Vec<Anomaly>) -> Self {
        Self { anomalies }
    }

    /// Adds an anomaly; returns `self` for chaining.
    pub fn add(&mut self, anomaly: impl Into<Anomaly>) -> &mut Self {
        self.anomalies.push(anomaly.into());
        self
    }

    /// How many anomalies are registered.
    pub fn len(&self) -> usize {
        self.anomalies.len()
    }

    /// Whether none are registered.
    pub fn is_empty(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// The anomalies in order.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Checks every anomaly against `schema` of `table` without injecting anything.
    ///
    /// # Errors
    /// A missing column, a column of the wrong type, or a bad setting.
    pub fn check(&self, table: &str, schema: &Schema) -> Result<()> {
        for a in &self.anomalies {
            a.validate()?;
            let find = |what: &str, name: &str| {
                schema
                    .index_of(name)
                    .map_err(|_| Error::column(what, name, "does not exist", table, schema))
            };
            match a {
                Anomaly::Point(p) => {
                    let i = find("point anomaly column", &p.column)?;
                    let t = schema.field(i).data_type();
                    if !(t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..)))
                    {
                        return Err(Error::column(
                            "point anomaly column",
                            &p.column,
                            format!("is {t}, not a number"),
                            table,
                            schema,
                        ));
                    }
                }
                Anomaly::Contextual(c) => {
                    let i = find("contextual anomaly column", &c.column)?;
                    find("contextual condition column", &c.condition_column)?;
                    let t = schema.field(i).data_type();
                    for v in &c.anomalous_values {
                        if Self::literal(v, t).is_none() {
                            return Err(Error::column(
                                "contextual anomaly column",
                                &c.column,
                                format!("is {t}, which cannot hold the anomalous value {v:?}"),
                                table,
                                schema,
                            ));
                        }
                    }
                }
                Anomaly::Collective(c) => {
                    find("collective group column", &c.group_column)?;
                    let i = find("collective timestamp column", &c.timestamp_column)?;
                    let t = schema.field(i).data_type();
                    if !matches!(t, DataType::Timestamp(..)) {
                        return Err(Error::column(
                            "collective timestamp column",
                            &c.timestamp_column,
                            format!("is {t}, not a timestamp"),
                            table,
                            schema,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Injects every anomaly into `batch` (rows of `table`) and appends the labels.
    ///
    /// # Errors
    /// As [`AnomalyRegistry::check`], and Arrow errors.
    pub fn inject(&self, batch: &RecordBatch, table: &str, seed: u64) -> Result<Injected> {
        self.check(table, &batch.schema())?;
        let edits: Vec<Edit> = self
            .anomalies
            .par_iter()
            .enumerate()
            .map(|(k, a)| {
                let stream = RandomStream::new(seed, &format!("anomaly.{k}.{}", a.anomaly_type()));
                match a {
                    Anomaly::Point(p) => point_edit(p, batch, stream),
                    Anomaly::Contextual(c) => contextual_edit(c, batch, stream),
                    Anomaly::Collective(c) => collective_edit(c, batch, stream),
                }
            })
            .collect::<Result<_>>()?;

        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut label: Vec<Option<u16>> = vec![None; n];
        for (k, edit) in edits.iter().enumerate() {
            let mut current = columns[edit.column].clone();
            if let Some(t) = &edit.new_type {
                current = arrow_cast::cast(&current, t)?;
                fields[edit.column] = fields[edit.column].clone().with_data_type(t.clone());
            }
            if edit.nullable {
                fields[edit.column] = fields[edit.column].clone().with_nullable(true);
            }
            columns[edit.column] = replace_rows(&current, &edit.rows, &edit.values)?;
            for &r in &edit.rows {
                label[r as usize] = Some(k as u16);
            }
        }
        let names: Vec<String> = self.anomalies.iter().map(Anomaly::anomaly_type).collect();
        let labelled = label.iter().filter(|l| l.is_some()).count() as u64;
        columns.push(Arc::new(BooleanArray::from_iter(
            label.iter().map(|l| Some(l.is_some())),
        )));
        columns.push(Arc::new(StringArray::from_iter(
            label.iter().map(|l| l.map(|k| names[k as usize].as_str())),
        )));
        fields.push(Field::new(IS_ANOMALY, DataType::Boolean, false));
        fields.push(Field::new(ANOMALY_TYPE, DataType::Utf8, true));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            batch.schema().metadata().clone(),
        ));
        Ok(Injected {
            batch: RecordBatch::try_new(schema, columns)?,
            labelled,
        })
    }

    /// `value` as a one-element array of type `t`, if it fits.
    fn literal(value: &Value, t: &DataType) -> Option<ArrayRef> {
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
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if v.is_string())
}

/// `array` with `rows` (ascending) replaced by `values`, by one `interleave`.
fn replace_rows(array: &ArrayRef, rows: &[u32], values: &ArrayRef) -> Result<ArrayRef> {
    if rows.is_empty() {
        return Ok(array.clone());
    }
    let values = if values.data_type() == array.data_type() {
        values.clone()
    } else {
        arrow_cast::cast(values, array.data_type())?
    };
    let mut indices: Vec<(usize, usize)> = (0..array.len()).map(|i| (0, i)).collect();
    for (k, &r) in rows.iter().enumerate() {
        indices[r as usize] = (1, k);
    }
    Ok(arrow_select::interleave::interleave(
        &[array.as_ref(), values.as_ref()],
        &indices,
    )?)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> (usize, &'a ArrayRef) {
    let i = batch.schema().index_of(name).expect("checked before");
    (i, batch.column(i))
}

fn point_edit(p: &PointAnomaly, batch: &RecordBatch, stream: RandomStream) -> Result<Edit> {
    let (index, array) = column(batch, &p.column);
    let values = arrow_cast::cast(array, &DataType::Float64)?;
    let values = values.as_primitive::<Float64Type>();
    // Mean absolute value, summed in parallel over fixed chunks (same result whatever
    // the thread count: chunk sums are added in chunk order).
    let (sum, count) = (0..values.len().div_ceil(65_536))
        .into_par_iter()
        .map(|c| {
            let slice = values.slice(c * 65_536, (values.len() - c * 65_536).min(65_536));
            slice
                .iter()
                .flatten()
                .fold((0.0, 0u64), |(s, n), v| (s + v.abs(), n + 1))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold((0.0, 0u64), |(s, n), (a, b)| (s + a, n + b));
    let baseline = if count == 0 || sum == 0.0 {
        1.0
    } else {
        sum / count as f64
    };
    let n = batch.num_rows() as u64;
    let rows = sample_without_replacement(stream, n, pick_count(n, p.fraction));
    let (lo, hi) = p.multiplier_range;
    let new: Vec<f64> = rows
        .iter()
        .map(|&r| {
            let m = lo + (hi - lo) * stream.unit2(r, 1);
            let noise = 0.8 + 0.4 * stream.unit2(r, 2);
            (baseline * m * noise * 100.0).round() / 100.0
        })
        .collect();
    let original = array.data_type();
    Ok(Edit {
        column: index,
        new_type: (*original != DataType::Float64).then_some(DataType::Float64),
        nullable: false,
        rows: rows.iter().map(|&r| r as u32).collect(),
        values: Arc::new(Float64Array::from(new)),
    })
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

fn contextual_edit(
    c: &ContextualAnomaly,
    batch: &RecordBatch,
    stream: RandomStream,
) -> Result<Edit> {
    let (index, array) = column(batch, &c.column);
    let (_, condition) = column(batch, &c.condition_column);
    let eligible = eligible_rows(condition, &c.normal_values)?;
    let picks = sample_without_replacement(
        stream,
        eligible.len() as u64,
        pick_count(eligible.len() as u64, c.fraction),
    );
    let rows: Vec<u32> = picks.iter().map(|&k| eligible[k as usize] as u32).collect();
    let literals: Vec<ArrayRef> = c
        .anomalous_values
        .iter()
        .map(|v| AnomalyRegistry::literal(v, array.data_type()).expect("checked before"))
        .collect();
    let sources: Vec<&dyn Array> = literals.iter().map(|a| a.as_ref()).collect();
    let choice: Vec<(usize, usize)> = rows
        .iter()
        .map(|&r| {
            (
                stream.below2(u64::from(r), 1, literals.len() as u64) as usize,
                0,
            )
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
        nullable: c.anomalous_values.contains(&Value::Null),
        rows,
        values,
    })
}

/// Group keys of a column: integers as themselves, anything else by its text.
enum Keys {
    Int(Vec<Option<i64>>),
    Text(ArrayRef),
}

fn group_rows(array: &ArrayRef) -> Result<Vec<Vec<u32>>> {
    let keys = if array.data_type().is_integer() {
        let ints = arrow_cast::cast(array, &DataType::Int64)?;
        Keys::Int(ints.as_primitive::<Int64Type>().iter().collect())
    } else {
        Keys::Text(arrow_cast::cast(array, &DataType::Utf8)?)
    };
    // Groups in order of first appearance: deterministic for a given input.
    let mut groups: Vec<Vec<u32>> = Vec::new();
    match keys {
        Keys::Int(values) => {
            let mut at: HashMap<i64, usize> = HashMap::new();
            for (row, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    let g = *at.entry(*v).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push(row as u32);
                }
            }
        }
        Keys::Text(array) => {
            let strings = array.as_string::<i32>();
            let mut at: HashMap<&str, usize> = HashMap::new();
            for row in 0..strings.len() {
                if strings.is_valid(row) {
                    let g = *at.entry(strings.value(row)).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push(row as u32);
                }
            }
        }
    }
    Ok(groups)
}

fn collective_edit(
    c: &CollectiveAnomaly,
    batch: &RecordBatch,
    stream: RandomStream,
) -> Result<Edit> {
    let (_, group_array) = column(batch, &c.group_column);
    let (index, ts_array) = column(batch, &c.timestamp_column);
    let DataType::Timestamp(unit, _) = ts_array.data_type() else {
        unreachable!("checked before")
    };
    let per_second = match unit {
        TimeUnit::Second => 1.0,
        TimeUnit::Millisecond => 1e3,
        TimeUnit::Microsecond => 1e6,
        TimeUnit::Nanosecond => 1e9,
    };
    let ticks = arrow_cast::cast(ts_array, &DataType::Int64)?;
    let ticks = ticks.as_primitive::<Int64Type>();
    let eligible: Vec<Vec<u32>> = group_rows(group_array)?
        .into_iter()
        .filter(|rows| rows.len() >= 2)
        .collect();
    let chosen = sample_without_replacement(
        stream,
        eligible.len() as u64,
        pick_count(eligible.len() as u64, c.fraction),
    );
    let window = c.window_seconds * per_second;
    let mut edits: Vec<(u32, i64)> = chosen
        .par_iter()
        .flat_map_iter(|&g| {
            let mut rows = eligible[g as usize].clone();
            // Null times sort first and take the window's start.
            rows.sort_by_key(|&r| {
                (
                    ticks.is_valid(r as usize).then(|| ticks.value(r as usize)),
                    r,
                )
            });
            let start = rows
                .iter()
                .find(|&&r| ticks.is_valid(r as usize))
                .map_or(0, |&r| ticks.value(r as usize));
            let mut offsets: Vec<f64> = (0..rows.len() as u64)
                .map(|j| stream.unit2(g, j + 1) * window)
                .collect();
            offsets.sort_by(f64::total_cmp);
            rows.into_iter()
                .zip(offsets)
                .map(move |(r, o)| (r, start + o as i64))
        })
        .collect();
    edits.sort_unstable_by_key(|e| e.0);
    let values = arrow_cast::cast(
        &(Arc::new(arrow_array::Int64Array::from_iter_values(
            edits.iter().map(|e| e.1),
        )) as ArrayRef),
        ts_array.data_type(),
    )?;
    Ok(Edit {
        column: index,
        new_type: None,
        nullable: false,
        rows: edits.iter().map(|e| e.0).collect(),
        values,
    })
}
