//! The contextual anomaly: its spec, and its kernel: the ranks of the rows whose condition column holds a
//! normal value (learned over the table in order) and its edit of a batch (picked
//! eligible rows given an anomalous value).

use super::kernels::{Edit, column, is_text, literal, picked_rows};
use super::kind::{AnomalyKind, InPlaceKind, InPlacePlan, Learner, find_column, pick_count};
use super::value::Value;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use spindle_gen::dist::sample_without_replacement;
use spindle_gen::rng::RandomStream;

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

impl AnomalyKind for ContextualAnomaly {
    fn kind(&self) -> &'static str {
        "contextual"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn fraction(&self) -> f64 {
        self.fraction
    }

    fn check_settings(&self, label: &str) -> Result<()> {
        if self.normal_values.is_empty() || self.anomalous_values.is_empty() {
            return Err(Error::invalid(
                "normal_values",
                format!("{label}: normal_values and anomalous_values must not be empty"),
            ));
        }
        Ok(())
    }

    fn check_columns(&self, table: &str, schema: &Schema) -> Result<()> {
        let what = "contextual anomaly column";
        let i = find_column(what, &self.column, table, schema)?;
        find_column(
            "contextual condition column",
            &self.condition_column,
            table,
            schema,
        )?;
        let t = schema.field(i).data_type();
        match self
            .anomalous_values
            .iter()
            .find(|v| literal(v, t).is_none())
        {
            None => Ok(()),
            Some(v) => Err(Error::column(
                what,
                &self.column,
                format!("is {t}, which cannot hold the anomalous value {v:?}"),
                table,
                schema,
            )),
        }
    }

    fn surveyed(&self) -> Vec<&str> {
        vec![&self.condition_column]
    }

    fn overwrites(&self) -> Option<&str> {
        Some(&self.column)
    }

    fn eligible_by(&self) -> Option<&str> {
        Some(&self.condition_column)
    }
}

impl InPlaceKind for ContextualAnomaly {
    fn learner(&self, schema: &Schema, stream: RandomStream) -> Box<dyn Learner + '_> {
        let column_type = schema
            .field_with_name(&self.column)
            .expect("checked")
            .data_type()
            .clone();
        Box::new(ContextualLearner {
            anomaly: self,
            eligible: 0,
            column_type,
            stream,
        })
    }
}

/// A contextual anomaly's survey: the eligible rows' ranks.
struct ContextualLearner<'a> {
    anomaly: &'a ContextualAnomaly,
    /// Eligible rows so far.
    eligible: u64,
    column_type: DataType,
    stream: RandomStream,
}

impl Learner for ContextualLearner<'_> {
    fn learn(&mut self, batch: &RecordBatch, _first: u64) -> Result<Vec<(u32, u64)>> {
        let a = self.anomaly;
        let condition = column(batch, &a.condition_column).1;
        let ranks = eligible_ranks(condition, &a.normal_values, self.eligible)?;
        self.eligible += ranks.len() as u64;
        Ok(ranks)
    }

    fn plan(self: Box<Self>, _rows: u64) -> Box<dyn InPlacePlan> {
        Box::new(ContextualPlan::new(
            self.anomaly,
            self.eligible,
            &self.column_type,
            self.stream,
        ))
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
fn eligible_ranks(condition: &ArrayRef, values: &[Value], before: u64) -> Result<Vec<(u32, u64)>> {
    Ok(eligible_rows(condition, values)?
        .into_iter()
        .zip(before..)
        .map(|(row, rank)| (row as u32, rank))
        .collect())
}

/// A contextual anomaly planned for a table: which of its eligible rows it takes, by
/// rank among them in table order.
struct ContextualPlan {
    /// Ranks among the eligible rows, ascending.
    picks: Vec<u64>,
    literals: Vec<ArrayRef>,
    nullable: bool,
    stream: RandomStream,
    column: String,
    condition: String,
    normal_values: Vec<Value>,
    /// Eligible rows in the batches read again so far.
    seen: u64,
}

impl ContextualPlan {
    /// `max(1, floor(eligible x fraction))` of the table's `eligible` rows.
    fn new(
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
            seen: 0,
        }
    }
}

impl InPlacePlan for ContextualPlan {
    fn next_ranks(&mut self, batch: &RecordBatch) -> Result<Vec<(u32, u64)>> {
        let condition = column(batch, &self.condition).1;
        let ranks = eligible_ranks(condition, &self.normal_values, self.seen)?;
        self.seen += ranks.len() as u64;
        Ok(ranks)
    }

    fn picks_by_position(&self) -> Option<&[u64]> {
        None
    }

    fn picked(&self, _positions: &[u64], ranks: &[(u32, u64)]) -> Vec<u32> {
        let ranks_only: Vec<u64> = ranks.iter().map(|&(_, rank)| rank).collect();
        picked_rows(&ranks_only, &self.picks)
            .into_iter()
            .map(|k| ranks[k as usize].0)
            .collect()
    }

    fn edit_rows(&self, batch: &RecordBatch, positions: &[u64], rows: Vec<u32>) -> Result<Edit> {
        let (index, array) = column(batch, &self.column);
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
