//! Values from datasets: `reference_data` (a value or field, uniform or weighted),
//! `record_sample` (one record per row, unique while there are enough) and
//! `record_field` (another field of the record the row's sample chose).

use super::super::dataset::{self, Dataset, VALUE_FIELD};
use super::super::eval::Eval;
use super::super::model::Generator;
use super::super::parse::{Gen, Parser};
use super::{Planning, Prep, Strategy};
use crate::dist::{Alias, permutation};
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, UInt64Array};
use std::sync::Arc;

pub(super) const REFERENCE_DATA: Strategy = Strategy {
    name: "reference_data",
    keys: &["dataset", "field", "weight_field"],
    parse: |p, _, g| p.reference_data(g),
};

pub(super) const RECORD_SAMPLE: Strategy = Strategy {
    name: "record_sample",
    keys: &["dataset", "field", "unique", "weight_field"],
    parse: |p, _, g| p.record_sample(g),
};

pub(super) const RECORD_FIELD: Strategy = Strategy {
    name: "record_field",
    keys: &["dataset", "field"],
    parse: |p, _, g| p.record_field(g),
};

impl Parser<'_> {
    fn dataset(&mut self, g: &Gen) -> Option<Arc<Dataset>> {
        let name = self.required_text(g, "dataset")?;
        match dataset::load(name, self.datasets) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(format!("{}.dataset", g.path), e);
                None
            }
        }
    }

    /// Field `name` of dataset `d` (an error at `at` naming its fields where it has
    /// none).
    fn field_of(&mut self, d: &Dataset, name: &str, at: String) -> Option<usize> {
        let found = d.field(name);
        if found.is_none() {
            self.err(
                at,
                format!(
                    "no field '{name}' in dataset '{}'; fields: {}",
                    d.name,
                    d.field_names()
                ),
            );
        }
        found
    }

    fn dataset_weights(&mut self, g: &Gen, d: &Dataset) -> Option<Option<Vec<f64>>> {
        let Some(name) = self.gen_text(g, "weight_field") else {
            return Some(None);
        };
        let at = format!("{}.weight_field", g.path);
        let f = self.field_of(d, name, at.clone())?;
        match d.weights(f) {
            Some(w) => Some(Some(w)),
            None => {
                self.err(
                    at,
                    format!("field '{name}' must hold numbers of at least 0 with a positive sum"),
                );
                None
            }
        }
    }

    fn reference_data(&mut self, g: &Gen) -> Option<Generator> {
        let d = self.dataset(g)?;
        let field_name = self.gen_text(g, "field");
        let at = format!("{}.field", g.path);
        let mut weights = self.dataset_weights(g, &d)?;
        let (dataset, field) = match field_name {
            Some(name) => match d.field(name) {
                Some(f) => (d, f),
                None => match d.flattened(name) {
                    Some(flat) => {
                        weights = None;
                        (Arc::new(flat), 0)
                    }
                    None => {
                        // Neither a field nor a path into one: the error names the fields.
                        self.field_of(&d, name, at);
                        return None;
                    }
                },
            },
            None => {
                // The values themselves, or the records' `name` (else `value`), weighted
                // by their `weight` where they have one.
                let Some(f) = d.field("name").or_else(|| d.field(VALUE_FIELD)) else {
                    self.err(
                        at,
                        format!(
                            "missing: dataset '{}' has records without 'name'; fields: {}",
                            d.name,
                            d.field_names()
                        ),
                    );
                    return None;
                };
                if weights.is_none() {
                    weights = d.field("weight").and_then(|w| d.weights(w));
                }
                (d, f)
            }
        };
        Some(Generator::ReferenceData {
            dataset,
            field,
            weights,
        })
    }

    fn record_sample(&mut self, g: &Gen) -> Option<Generator> {
        let d = self.dataset(g)?;
        let name = self.required_text(g, "field")?;
        let field = self.field_of(&d, name, format!("{}.field", g.path))?;
        let unique = match g.get("unique") {
            Some((v, at)) => self.boolean(v, &at)?,
            None => false,
        };
        let weights = self.dataset_weights(g, &d)?;
        Some(Generator::RecordSample {
            dataset: d,
            field,
            unique,
            weights,
        })
    }

    fn record_field(&mut self, g: &Gen) -> Option<Generator> {
        let field_name = self.required_text(g, "field")?;
        let d = self.dataset(g)?;
        let field = self.field_of(&d, field_name, format!("{}.field", g.path))?;
        // The anchor is found once every column is known (`resolve_anchors`).
        Some(Generator::RecordField {
            dataset: d,
            anchor: usize::MAX,
            field,
        })
    }
}

/// The weights' alias table, or a unique sample's record order.
pub(super) fn prep(at: &Planning) -> Result<Prep> {
    let mut p = Prep::default();
    match &at.col().generator {
        Generator::ReferenceData {
            weights: Some(w), ..
        }
        | Generator::RecordSample {
            weights: Some(w),
            unique: false,
            ..
        } => p.alias = Some(Alias::new(w)),
        Generator::RecordSample {
            dataset,
            unique: true,
            weights,
            ..
        } => {
            if at.rows() <= dataset.len as u64 {
                p.perm = Some(permutation(at.stream.fork(u64::MAX - 1), dataset.len));
            } else if let Some(w) = weights {
                p.alias = Some(Alias::new(w));
            }
        }
        _ => {}
    }
    Ok(p)
}

impl Eval<'_> {
    /// Record indices a `record_sample` column chose.
    fn records(&mut self, c: usize) -> Result<Arc<[u32]>> {
        if let Some(r) = &self.records[c] {
            return Ok(r.clone());
        }
        let Generator::RecordSample { dataset, .. } = &self.table().columns[c].generator else {
            return Err(Error::Schema(format!(
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

    pub(super) fn reference_data(
        &self,
        c: usize,
        dataset: &Dataset,
        field: usize,
    ) -> Result<ArrayRef> {
        let (s, prep) = (self.stream(c), &self.e.preps[self.t][c]);
        let len = dataset.len as u64;
        let idx = self.rows.map(|r| match &prep.alias {
            Some(a) => a.sample(s, r) as u64,
            None => s.below(r, len),
        });
        take_field(dataset, field, idx.into_iter())
    }

    /// Field `field` of the records `record_sample` column `anchor` chose.
    pub(super) fn record_field(
        &mut self,
        anchor: usize,
        dataset: &Dataset,
        field: usize,
    ) -> Result<ArrayRef> {
        let idx = self.records(anchor)?;
        take_field(dataset, field, idx.iter().map(|&i| u64::from(i)))
    }
}

fn take_field(dataset: &Dataset, field: usize, idx: impl Iterator<Item = u64>) -> Result<ArrayRef> {
    let idx: UInt64Array = idx.map(Some).collect();
    Ok(arrow_select::take::take(
        &dataset.fields[field].1,
        &idx,
        None,
    )?)
}
