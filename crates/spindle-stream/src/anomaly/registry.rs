//! The registry: anomalies checked against a table, their edits computed in parallel
//! and applied in order, and the label columns.

use super::kernels::{self, Edit};
use super::spec::Anomaly;
use crate::batches::Batches;
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt16Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, DictionaryArray, PrimitiveArray,
    RecordBatch, StringArray, UInt16Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer};
use arrow_schema::{DataType, Field, Schema};
use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};
use std::sync::Arc;

/// Rows per slice when [`AnomalyRegistry::inject`] surveys a batch.
const SURVEY_CHUNK_ROWS: usize = 65_536;

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
            a.as_kind().check_columns(table, schema)?;
        }
        Ok(())
    }

    /// Injects every anomaly into `batch` (rows of `table`) and appends the labels. A
    /// batch that already has label columns keeps its labels on the rows no anomaly
    /// here touches (the labels end up last, as always).
    ///
    /// # Errors
    /// As [`AnomalyRegistry::check`], and Arrow errors.
    pub fn inject(&self, batch: &RecordBatch, table: &str, seed: u64) -> Result<Injected> {
        let whole = batch.clone();
        let chunks = move || -> Result<Batches> {
            let whole = whole.clone();
            let n = whole.num_rows();
            Ok(Box::new((0..n).step_by(SURVEY_CHUNK_ROWS).map(move |at| {
                Ok(whole.slice(at, SURVEY_CHUNK_ROWS.min(n - at)))
            })))
        };
        let mut injector = self.plan(table, &batch.schema(), seed, &chunks, None)?;
        let batch = injector.in_place(batch)?;
        injector.rest()?;
        let labelled = batch
            .column(batch.num_columns() - 2)
            .as_boolean()
            .true_count() as u64;
        Ok(Injected { batch, labelled })
    }

    /// The anomaly types, in registry order: the values of the anomaly type column's
    /// dictionary in the batches [`AnomalyRegistry::apply`] makes.
    pub(super) fn kinds(&self) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            self.anomalies.iter().map(Anomaly::anomaly_type),
        ))
    }

    /// `batch` with `edits` (each with its anomaly's index) applied in order, so a
    /// later anomaly overrides an earlier one on the same cell and label, and the label
    /// columns appended. The anomaly type column is a dictionary whose values are
    /// `kinds` (from [`AnomalyRegistry::kinds`]), so batches made with the same `kinds`
    /// are gathered together without merging dictionaries; where the input carried
    /// labels already, it has values of its own.
    pub(super) fn apply(
        &self,
        batch: &RecordBatch,
        edits: &[(usize, Edit)],
        kinds: &ArrayRef,
    ) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut label = vec![0u16; n];
        let mut labelled = BooleanBufferBuilder::new(n);
        labelled.append_n(n, false);
        for (k, edit) in edits {
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
                label[r as usize] = *k as u16;
                labelled.set_bit(r as usize, true);
            }
        }
        let labelled = labelled.finish();
        // Labels the input already carries (anomalies injected before, e.g. by a Python
        // `Anomaly` subclass) stay where no anomaly of this registry lands.
        let schema = batch.schema();
        let earlier = match (schema.index_of(IS_ANOMALY), schema.index_of(ANOMALY_TYPE)) {
            (Ok(is), Ok(kind)) => {
                let kind = arrow_cast::cast(&columns[kind], &DataType::Utf8)?;
                Some((
                    columns[is].as_boolean().clone(),
                    kind.as_string::<i32>().clone(),
                ))
            }
            _ => None,
        };
        let dictionary = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let (is_anomaly, anomaly_type): (BooleanArray, ArrayRef) = match &earlier {
            // Each row's label: its anomaly's index into the kinds.
            None => {
                let codes = UInt16Array::new(label.into(), Some(NullBuffer::new(labelled.clone())));
                (
                    BooleanArray::new(labelled, None),
                    Arc::new(DictionaryArray::<UInt16Type>::try_new(
                        codes,
                        kinds.clone(),
                    )?),
                )
            }
            Some((is, kind)) => {
                let marked_before = |r: usize| is.is_valid(r) && is.value(r);
                let kind_of = |r: usize| {
                    if labelled.value(r) {
                        Some(kinds.as_string::<i32>().value(label[r] as usize))
                    } else {
                        (marked_before(r) && kind.is_valid(r)).then(|| kind.value(r))
                    }
                };
                let texts = StringArray::from_iter((0..n).map(kind_of));
                (
                    BooleanArray::from_iter(
                        (0..n).map(|r| Some(labelled.value(r) || marked_before(r))),
                    ),
                    arrow_cast::cast(&texts, &dictionary)?,
                )
            }
        };
        if earlier.is_some() {
            let keep: Vec<usize> = (0..columns.len())
                .filter(|&i| {
                    let name = fields[i].name();
                    name != IS_ANOMALY && name != ANOMALY_TYPE
                })
                .collect();
            columns = keep.iter().map(|&i| columns[i].clone()).collect();
            fields = keep.iter().map(|&i| fields[i].clone()).collect();
        }
        columns.push(Arc::new(is_anomaly));
        columns.push(anomaly_type);
        fields.push(Field::new(IS_ANOMALY, DataType::Boolean, false));
        fields.push(Field::new(ANOMALY_TYPE, dictionary, true));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            batch.schema().metadata().clone(),
        ));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// `array` with `rows` (ascending) replaced by `values`, copied a run at a time.
/// `batch` as sent: its anomaly type column (the last), coded by
/// [`AnomalyRegistry::apply`], as text.
pub(in crate::anomaly) fn label_text(batch: RecordBatch) -> Result<RecordBatch> {
    let (schema, mut columns, _) = batch.into_parts();
    let mut fields = schema.fields().to_vec();
    let (kind, field) = (columns.pop(), fields.pop());
    let (kind, field) = (kind.expect("labelled"), field.expect("labelled"));
    columns.push(arrow_cast::cast(&kind, &DataType::Utf8)?);
    fields.push(Arc::new(
        field.as_ref().clone().with_data_type(DataType::Utf8),
    ));
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

fn replace_rows(array: &ArrayRef, rows: &[u32], values: &ArrayRef) -> Result<ArrayRef> {
    if rows.is_empty() {
        return Ok(array.clone());
    }
    let values = if values.data_type() == array.data_type() {
        values.clone()
    } else {
        arrow_cast::cast(values, array.data_type())?
    };
    let without_nulls = array.null_count() == 0 && values.null_count() == 0;
    match array.data_type() {
        DataType::Float64 if without_nulls => {
            Ok(replace_values::<Float64Type>(array, rows, &values))
        }
        DataType::Int64 if without_nulls => Ok(replace_values::<Int64Type>(array, rows, &values)),
        _ => {
            let runs = kernels::replacement_runs(rows, array.len());
            kernels::splice(&[array, &values], &runs)
        }
    }
}

/// [`replace_rows`] of a primitive array without nulls: its values copied, then the
/// rows overwritten (cheaper than copying the runs between them).
fn replace_values<T: ArrowPrimitiveType>(
    array: &ArrayRef,
    rows: &[u32],
    values: &ArrayRef,
) -> ArrayRef {
    let mut out = array.as_primitive::<T>().values().to_vec();
    for (&r, &v) in rows.iter().zip(values.as_primitive::<T>().values()) {
        out[r as usize] = v;
    }
    Arc::new(PrimitiveArray::<T>::new(out.into(), None))
}
