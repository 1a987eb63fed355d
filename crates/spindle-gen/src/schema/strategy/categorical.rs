//! Categories: `weighted_enum` and `lifecycle` (one of a set of labels, weighted),
//! the labels typed as their column is (booleans, numbers, text).

use super::super::eval::{Eval, cast_strict};
use super::super::model::{ColumnType, Generator};
use super::super::parse::{Gen, Parser};
use super::{Planning, Prep, Strategy};
use crate::dist::Alias;
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array};
use std::sync::Arc;

pub(super) const WEIGHTED_ENUM: Strategy = Strategy {
    name: "weighted_enum",
    keys: &["values", "phases"],
    parse: |p, _, g| p.enumeration(g),
};

/// The reference's lifecycle: phases and their weights, read as a weighted enum.
pub(super) const LIFECYCLE: Strategy = Strategy {
    name: "lifecycle",
    ..WEIGHTED_ENUM
};

impl Parser<'_> {
    fn enumeration(&mut self, g: &Gen) -> Option<Generator> {
        let (v, at) = g.get("values").or_else(|| g.get("phases")).or_else(|| {
            self.err(
                format!("{}.values", g.path),
                "missing: an object of value: weight",
            );
            None
        })?;
        let m = self.object(v, &at)?;
        if m.is_empty() {
            self.err(&at, "has no values");
            return None;
        }
        let mut labels = Vec::new();
        let mut weights = Vec::new();
        for (label, w) in m {
            let wpath = format!("{at}.{label}");
            let w = self.number(w, &wpath)?;
            if w < 0.0 {
                self.err(wpath, "a weight must be at least 0");
                return None;
            }
            labels.push(label.clone());
            weights.push(w);
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            self.err(&at, "the weights sum to 0");
            return None;
        }
        Some(Generator::Enum { labels, weights })
    }
}

/// The alias table of the weights and the labels in the column's type.
pub(super) fn prep(at: &Planning, labels: &[String], weights: &[f64]) -> Result<Prep> {
    let typed = typed_labels(at.col().ty, labels)
        .map_err(|e| Error::Schema(format!("{}.generator.values: {e}", at.path)))?;
    Ok(Prep {
        alias: Some(Alias::new(weights)),
        labels: Some(typed),
        ..Prep::default()
    })
}

/// `labels` as values of a column of type `ty`, or why they do not fit it.
fn typed_labels(ty: ColumnType, labels: &[String]) -> std::result::Result<ArrayRef, String> {
    if ty == ColumnType::Boolean {
        let b: Option<Vec<bool>> = labels
            .iter()
            .map(|l| match l.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "y" | "t" => Some(true),
                "false" | "0" | "no" | "n" | "f" => Some(false),
                _ => None,
            })
            .collect();
        return b
            .map(|b| Arc::new(BooleanArray::from(b)) as ArrayRef)
            .ok_or_else(|| {
                format!(
                    "labels must be true or false for a boolean column: {}",
                    labels.join(", ")
                )
            });
    }
    if ty.is_numeric() {
        let f: Option<Vec<f64>> = labels
            .iter()
            .map(|l| l.trim().parse::<f64>().ok())
            .collect();
        return match f {
            Some(f) if ty == ColumnType::Integer => Ok(Arc::new(Int64Array::from(
                f.iter().map(|x| x.round() as i64).collect::<Vec<_>>(),
            )) as ArrayRef),
            Some(f) => Ok(Arc::new(Float64Array::from(f)) as ArrayRef),
            None => Err(format!(
                "labels must be numbers for a {ty:?} column: {}",
                labels.join(", ")
            )),
        };
    }
    let text: ArrayRef = Arc::new(StringArray::from(labels.to_vec()));
    cast_strict(&text, &ty.data_type())
        .map_err(|e| format!("labels do not fit the column's type: {e}"))
}

impl Eval<'_> {
    pub(super) fn enumeration(&self, c: usize) -> Result<ArrayRef> {
        let prep = &self.e.preps[self.t][c];
        let s = self.stream(c);
        let alias = prep.alias.as_ref().expect("enum has weights");
        let idx = UInt64Array::from(self.rows.map(|r| alias.sample(s, r) as u64));
        Ok(arrow_select::take::take(
            prep.labels.as_ref().expect("enum has labels"),
            &idx,
            None,
        )?)
    }
}
