//! What the anomaly kinds' kernels share: an edit (rows of a column and their new
//! values) and the Arrow helpers that apply one (literals of a column's type, splicing
//! replaced runs into an array, finding the rows at picked table positions). Each
//! kind's kernel, what it learns of the whole table chunk by chunk in table order and
//! its edit of a batch, is in its own file (`point.rs`, `contextual.rs`,
//! `collective.rs`). A batch's rows are addressed by their positions in the table, so
//! an edit is the same whether the table comes whole, in chunks, or as the few rows an
//! anomaly moves.

use super::value::Value;
use crate::error::Result;
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_data::{ArrayData, transform::MutableArrayData};
use arrow_schema::DataType;
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

pub(super) fn is_text(t: &DataType) -> bool {
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

pub(super) fn column<'a>(batch: &'a RecordBatch, name: &str) -> (usize, &'a ArrayRef) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_gen::rng::RandomStream;

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
