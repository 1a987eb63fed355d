//! Facts about a parent's children, for tables laid out grouped by parent (nested):
//! `computed` (an aggregate of the children's column: sum, count, mean, min, max) and
//! `first_per_parent` (a flag on each parent's first child).

use super::super::eval::{Eval, Rows, f64s};
use super::super::model::{Aggregate, Generator};
use super::super::parse::{Gen, Parser};
use super::Strategy;
use crate::error::Result;
use arrow_array::{Array, ArrayRef, Float64Array};
use std::sync::Arc;

pub(super) const COMPUTED: Strategy = Strategy {
    name: "computed",
    keys: &["rule", "child_table", "child_column"],
    parse: |p, _, g| p.computed(g),
};

pub(super) const FIRST_PER_PARENT: Strategy = Strategy {
    name: "first_per_parent",
    keys: &["parent_column", "default"],
    parse: |p, at, g| p.first_per_parent(at.table, g),
};

impl Parser<'_> {
    fn computed(&mut self, g: &Gen) -> Option<Generator> {
        let rule = match self.gen_text(g, "rule").unwrap_or("sum_children") {
            "sum_children" => Aggregate::Sum,
            "count_children" => Aggregate::Count,
            "avg_children" => Aggregate::Avg,
            "min_children" => Aggregate::Min,
            "max_children" => Aggregate::Max,
            other => {
                self.err(
                    format!("{}.rule", g.path),
                    format!("unknown rule '{other}'; allowed: sum_children, count_children, avg_children, min_children, max_children"),
                );
                return None;
            }
        };
        let table_name = self.required_text(g, "child_table")?;
        let column_name = self.required_text(g, "child_column")?;
        let child_table = self.table_ref(table_name, &format!("{}.child_table", g.path))?;
        let child_column = self.col_ref(
            child_table,
            column_name,
            &format!("{}.child_column", g.path),
        )?;
        Some(Generator::Computed {
            rule,
            child_table,
            child_column,
        })
    }

    fn first_per_parent(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let name = self.required_text(g, "parent_column")?;
        let parent_column = self.col_ref(ti, name, &format!("{}.parent_column", g.path))?;
        let default = match g.get("default") {
            Some((v, at)) => self.boolean(v, &at)?,
            None => true,
        };
        Some(Generator::FirstPerParent {
            parent_column,
            default,
        })
    }
}

impl Eval<'_> {
    pub(super) fn computed(
        &mut self,
        rule: Aggregate,
        child: usize,
        child_column: usize,
    ) -> Result<ArrayRef> {
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

    pub(super) fn first_per_parent(
        &mut self,
        parent_column: usize,
        default: bool,
    ) -> Result<ArrayRef> {
        let parents = self.fk_rows(parent_column)?;
        let prefix = self.e.prefixes[self.t].expect("checked: nested");
        // A range of rows has its parents in order: read their starts block by block;
        // a list's parents are anywhere.
        let mut cursor = prefix.cursor();
        let sequential = matches!(self.rows, Rows::Range(_));
        let mut start = |p: u64| {
            if sequential {
                cursor.at(p)
            } else {
                prefix.at(p)
            }
        };
        Ok(Arc::new(self.rows.bools(|i, r| {
            if parents[i].is_some_and(|p| start(p) == r) {
                default
            } else {
                !default
            }
        })))
    }
}
