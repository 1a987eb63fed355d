//! A hierarchy within a table: `self_referencing` (rows split into levels, each
//! row's parent drawn from the level above, roots null) and `self_ref_field` (the
//! level a row was given).

use super::super::eval::Eval;
use super::super::model::Generator;
use super::super::parse::{Gen, Parser};
use super::Strategy;
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, Int64Array};
use std::sync::Arc;

pub(super) const SELF_REFERENCING: Strategy = Strategy {
    name: "self_referencing",
    keys: &["pk_column", "levels", "max_depth", "root_count"],
    parse: |p, at, g| p.self_referencing(at.table, g),
};

pub(super) const SELF_REF_FIELD: Strategy = Strategy {
    name: "self_ref_field",
    keys: &["field"],
    parse: |p, _, g| p.self_ref_field(g),
};

impl Parser<'_> {
    fn self_referencing(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let name = self.required_text(g, "pk_column")?;
        let pk_column = self.col_ref(ti, name, &format!("{}.pk_column", g.path))?;
        let levels = match g.get("levels").or_else(|| g.get("max_depth")) {
            Some((v, at)) => match v.as_u64() {
                Some(n) if (1..=64).contains(&n) => n,
                _ => {
                    self.err(at, "must be a whole number in 1..64");
                    return None;
                }
            },
            None => 3,
        };
        let root_count = match g.get("root_count") {
            Some((v, at)) => Some(self.count(v, &at)?.max(1)),
            None => None,
        };
        Some(Generator::SelfReferencing {
            pk_column,
            levels,
            root_count,
        })
    }

    fn self_ref_field(&mut self, g: &Gen) -> Option<Generator> {
        let field = self.gen_text(g, "field").unwrap_or("level");
        if field != "level" {
            self.err(
                format!("{}.field", g.path),
                format!("unknown field '{field}'; allowed: level"),
            );
            return None;
        }
        // The anchor is found once every column is known (`resolve_anchors`).
        Some(Generator::SelfRefLevel { anchor: usize::MAX })
    }
}

impl Eval<'_> {
    pub(super) fn self_referencing(
        &self,
        c: usize,
        pk_column: usize,
        levels: u64,
        root_count: Option<u64>,
    ) -> Result<ArrayRef> {
        let s = self.stream(c);
        let (starts, sizes) = levels_of(self.e.counts[self.t], levels, root_count);
        let parents: Vec<Option<u64>> = self.rows.map(|r| {
            let lv = starts.partition_point(|&x| x <= r) - 1;
            if lv == 0 {
                return None;
            }
            let (ps, pn) = if sizes[lv - 1] > 0 {
                (starts[lv - 1], sizes[lv - 1])
            } else {
                (0, sizes[0])
            };
            Some(ps + s.below(r, pn))
        });
        self.e.values_at(self.t, pk_column, &parents)
    }

    pub(super) fn self_ref_level(&self, c: usize, anchor: usize) -> Result<ArrayRef> {
        let Generator::SelfReferencing {
            levels, root_count, ..
        } = &self.table().columns[anchor].generator
        else {
            return Err(Error::Schema(format!(
                "{}: no self_referencing anchor",
                self.path(c)
            )));
        };
        let (starts, _) = levels_of(self.e.counts[self.t], *levels, *root_count);
        Ok(Arc::new(Int64Array::from(
            self.rows
                .map(|r| starts.partition_point(|&x| x <= r) as i64),
        )))
    }
}

/// Level starts and sizes of a self-referencing hierarchy of `n` rows, as the
/// reference lays it out: `root_count` roots (at most n / levels), the rest split
/// evenly over the levels below.
fn levels_of(n: u64, levels: u64, root_count: Option<u64>) -> (Vec<u64>, Vec<u64>) {
    let root = root_count
        .unwrap_or((n / 10).max(1))
        .min(n / levels)
        .max(1)
        .min(n.max(1));
    let rest = n.saturating_sub(root);
    let below = levels - 1;
    let per = rest.checked_div(below).unwrap_or(0);
    let extra = if below > 0 { rest - per * below } else { rest };
    let mut starts = vec![0];
    let mut sizes = vec![root];
    let mut cursor = root;
    for lv in 0..below {
        let size = per + u64::from(lv < extra);
        starts.push(cursor);
        sizes.push(size);
        cursor += size;
    }
    (starts, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_split_like_the_reference() {
        let (starts, sizes) = levels_of(50, 3, Some(8));
        assert_eq!(starts, vec![0, 8, 29]);
        assert_eq!(sizes, vec![8, 21, 21]);
        let (starts, sizes) = levels_of(1, 4, Some(5));
        assert_eq!((starts[0], sizes[0]), (0, 1));
    }
}
