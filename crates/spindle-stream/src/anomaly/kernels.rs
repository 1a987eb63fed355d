//! The kernels: each anomaly's edits of a batch (rows and their new values) as
//! functions over its arrays, leaving the batch untouched.

use super::{CollectiveAnomaly, ContextualAnomaly, PointAnomaly, Value, pick_count};
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use rayon::prelude::*;
use spindle_gen::dist::sample_without_replacement;
use spindle_gen::rng::RandomStream;
use std::collections::HashMap;
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

fn column<'a>(batch: &'a RecordBatch, name: &str) -> (usize, &'a ArrayRef) {
    let i = batch.schema().index_of(name).expect("checked before");
    (i, batch.column(i))
}

pub(super) fn point_edit(
    p: &PointAnomaly,
    batch: &RecordBatch,
    stream: RandomStream,
) -> Result<Edit> {
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

pub(super) fn contextual_edit(
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
        .map(|v| literal(v, array.data_type()).expect("checked before"))
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

pub(super) fn collective_edit(
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
