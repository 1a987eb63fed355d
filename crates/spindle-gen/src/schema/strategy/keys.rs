//! Keys to other rows: `foreign_key` (a parent's key, picked uniformly, by Zipf or
//! Pareto popularity, under a cap per parent, or among an owner's own rows) and
//! `lookup` (a parent's column through such a key).

use super::super::eval::{Eval, Rows};
use super::super::model::{FkPick, Generator};
use super::super::parse::{Gen, Parser};
use super::distribution::ZIPF_TABLE_MAX;
use super::{Planning, Prep, Strategy};
use crate::dist::{Alias, Feistel, Ranks, SpreadPrefix};
use crate::error::{Error, Result};
use crate::rng::RandomStream;
use std::ops::Range;
use std::sync::Arc;

pub(super) const FOREIGN_KEY: Strategy = Strategy {
    name: "foreign_key",
    keys: &[
        "ref",
        "distribution",
        "alpha",
        "max_per_parent",
        "constrained_by",
    ],
    parse: |p, at, g| p.foreign_key(at.table, g),
};

pub(super) const LOOKUP: Strategy = Strategy {
    name: "lookup",
    keys: &["source_table", "source_column", "via"],
    parse: |p, at, g| p.lookup(at.table, g),
};

/// Parent tables with more rows than this cannot be capped (`max_per_parent`).
const CAPPED_PARENTS_MAX: u64 = 200_000_000;

impl Parser<'_> {
    fn foreign_key(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let r = self.required_text(g, "ref")?;
        let (table, column) = self.table_col_ref(r, &format!("{}.ref", g.path))?;
        let pick = self.fk_pick(g)?;
        let max_per_parent = match g.get("max_per_parent") {
            Some((v, at)) => match v.as_u64() {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    self.err(at, "must be a whole number of at least 1");
                    return None;
                }
            },
            None => None,
        };
        let constrained_by = match g.get("constrained_by") {
            Some((v, at)) => {
                let name = self.text(v, &at)?;
                Some(self.col_ref(ti, name, &at)?)
            }
            None => None,
        };
        Some(Generator::ForeignKey {
            table,
            column,
            pick,
            max_per_parent,
            constrained_by,
        })
    }

    fn fk_pick(&mut self, g: &Gen) -> Option<FkPick> {
        let name = self.gen_text(g, "distribution").unwrap_or("uniform");
        let alpha = self.gen_number(g, "alpha");
        let positive = |p: &mut Self, a: f64| {
            if a <= 0.0 {
                p.err(format!("{}.alpha", g.path), "must be above 0");
                return None;
            }
            Some(a)
        };
        Some(match name {
            "uniform" => FkPick::Uniform,
            "zipf" => FkPick::Zipf(positive(self, alpha.unwrap_or(1.5))?),
            "pareto" => FkPick::Pareto(positive(self, alpha.unwrap_or(1.2))?),
            other => {
                self.err(
                    format!("{}.distribution", g.path),
                    format!("unknown distribution '{other}'; allowed: uniform, zipf, pareto"),
                );
                return None;
            }
        })
    }

    /// `source_table`, `source_column`, `via` of a lookup (also a conditional branch's).
    pub(super) fn lookup_parts(&mut self, ti: usize, g: &Gen) -> Option<(usize, usize, usize)> {
        let table_name = self.required_text(g, "source_table")?;
        let column_name = self.required_text(g, "source_column")?;
        let via_name = self.required_text(g, "via")?;
        let table = self.table_ref(table_name, &format!("{}.source_table", g.path))?;
        let column = self.col_ref(table, column_name, &format!("{}.source_column", g.path))?;
        let via = self.col_ref(ti, via_name, &format!("{}.via", g.path))?;
        Some((via, table, column))
    }

    fn lookup(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let (via, table, column) = self.lookup_parts(ti, g)?;
        Some(Generator::Lookup { via, table, column })
    }
}

/// A key's cap shares, Zipf table and popularity ranks; or why the counts make it
/// impossible (no parents, a cap below the rows to share).
pub(super) fn prep(at: &Planning) -> Result<Prep> {
    let Generator::ForeignKey {
        table,
        pick,
        max_per_parent,
        constrained_by,
        ..
    } = &at.col().generator
    else {
        return Ok(Prep::default());
    };
    let (n, parents) = (at.rows(), at.counts[*table]);
    let invalid =
        |key: &str, why: String| Error::Schema(format!("{}.generator.{key}: {why}", at.path));
    if parents == 0 && n > 0 {
        let name = &at.schema.tables[*table].name;
        return Err(invalid(
            "ref",
            format!("table '{name}' has no rows to refer to"),
        ));
    }
    let mut p = Prep::default();
    if let Some(cap) = max_per_parent {
        if u128::from(*cap) * u128::from(parents) < u128::from(n) {
            return Err(invalid(
                "max_per_parent",
                format!(
                    "{} rows cannot go to {} parents at most {cap} each",
                    crate::report::thousands(n),
                    crate::report::thousands(parents)
                ),
            ));
        }
        if parents > CAPPED_PARENTS_MAX {
            return Err(invalid(
                "max_per_parent",
                "capped keys are limited to 200,000,000 parents".into(),
            ));
        }
        p.cap = Some(cap_shares(*pick, parents, n, *cap, at.stream));
    } else if let FkPick::Zipf(alpha) = pick {
        if parents <= ZIPF_TABLE_MAX && parents > 0 {
            p.alias = Some(Alias::zipf(parents as usize, *alpha));
        }
    }
    if !matches!(pick, FkPick::Uniform)
        && constrained_by.is_none()
        && at.layout.ordered_by[*table].is_some()
    {
        p.ranks = Some(Ranks::new(parents, n, at.stream.fork(u64::MAX - 4)));
    }
    Ok(p)
}

/// Per-parent counts under a cap: each parent's count drawn around the pick's
/// expected count (Poisson, as a key drawn row by row spreads them: parents without
/// children and long tails included) and capped; then the total is made exact, the
/// rows short (the capped excess among them) handed to uniform parents with room,
/// as the reference hands a capped parent's excess, or the rows over taken from
/// uniform rows.
fn cap_shares(pick: FkPick, parents: u64, rows: u64, cap: u64, stream: RandomStream) -> Cap {
    let p = parents as usize;
    let weights: Vec<f64> = match pick {
        FkPick::Uniform => vec![1.0; p],
        FkPick::Zipf(a) => (1..=p).map(|k| (k as f64).powf(-a)).collect(),
        FkPick::Pareto(a) => {
            let c = pareto_cap(a);
            let cdf = |x: f64| 1.0 - (1.0 + x).powf(-a);
            let tail = 0.005 / parents as f64;
            (0..p)
                .map(|i| {
                    cdf((i + 1) as f64 * c / parents as f64) - cdf(i as f64 * c / parents as f64)
                        + tail
                })
                .collect()
        }
    };
    let total_w: f64 = weights.iter().sum();
    let counts_stream = stream.fork(u64::MAX - 3);
    let mut counts: Vec<u64> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            counts_stream
                .poisson(i as u64, w / total_w * rows as f64)
                .min(cap)
        })
        .collect();
    let drawn: u64 = counts.iter().sum();
    let fix = stream.fork(u64::MAX - 2);
    let (mut short, mut over) = (rows.saturating_sub(drawn), drawn.saturating_sub(rows));
    let mut draw = 0;
    // A uniform parent gets a row short if it has room; a row over is taken from a
    // uniform parent with probability count / cap, so from a row drawn uniformly.
    // A scan finishes the job should the draws not (all but every parent full).
    while (short > 0 || over > 0) && draw < 64 * (rows + parents) {
        let i = fix.below(draw, parents) as usize;
        if short > 0 && counts[i] < cap {
            counts[i] += 1;
            short -= 1;
        } else if over > 0 && fix.below2(draw, 1, cap) < counts[i] {
            counts[i] -= 1;
            over -= 1;
        }
        draw += 1;
    }
    for c in counts.iter_mut() {
        let add = short.min(cap - *c);
        *c += add;
        short -= add;
        let take = over.min(*c);
        *c -= take;
        over -= take;
    }
    let mut starts = Vec::with_capacity(p + 1);
    let mut acc = 0;
    starts.push(0);
    for c in counts {
        acc += c;
        starts.push(acc);
    }
    Cap::new(starts, Feistel::new(rows, stream.fork(u64::MAX)))
}

impl Eval<'_> {
    /// Parent rows of foreign key (or lookup of a key) column `c`, null where the key
    /// is null; made once per request.
    pub(in crate::schema) fn fk_rows(&mut self, c: usize) -> Result<Arc<[Option<u64>]>> {
        if let Some(r) = &self.fk_rows[c] {
            return Ok(r.clone());
        }
        let rows = match &self.table().columns[c].generator {
            Generator::Lookup { via, table, column } => {
                // A copy of a parent's key: that key's rows, at the parent's rows.
                let parent_rows = self.fk_rows(*via)?;
                self.e.fk_rows_at(*table, *column, &parent_rows)?
            }
            Generator::ForeignKey {
                table,
                pick,
                constrained_by,
                ..
            } => self.key_parents(c, *table, *pick, *constrained_by)?.into(),
            _ => {
                return Err(Error::Schema(format!(
                    "{}: is not a foreign key",
                    self.path(c)
                )));
            }
        };
        self.fk_rows[c] = Some(Arc::clone(&rows));
        Ok(rows)
    }

    /// The parents key column `c` picks in `table`: its nesting parent, one of its
    /// owner's rows, a capped share, or a draw; ranked by popularity and nulled.
    fn key_parents(
        &mut self,
        c: usize,
        table: usize,
        pick: FkPick,
        constrained_by: Option<usize>,
    ) -> Result<Vec<Option<u64>>> {
        let prep = &self.e.preps[self.t][c];
        let nest = self.e.layout.nest[self.t];
        let mut rows = if nest.is_some_and(|n| n.fk == c) {
            let prefix = self.e.prefixes[self.t].expect("a nested table has a prefix");
            self.nesting_parents(prefix)
        } else if let Some(by) = constrained_by {
            self.owned_parents(c, table, by)?
        } else if let Some(cap) = &prep.cap {
            cap.parents_of(&self.rows)
        } else {
            self.drawn_parents(c, pick, self.e.counts[table])
        };
        if let Some(ranks) = &prep.ranks {
            ranks.apply_all(&mut rows);
        }
        if let Some(mask) = self.null_mask(c) {
            for (r, null) in rows.iter_mut().zip(mask.values().iter()) {
                if null {
                    *r = None;
                }
            }
        }
        Ok(rows)
    }

    /// The parent each row of a nested table is laid out under.
    fn nesting_parents(&self, prefix: SpreadPrefix) -> Vec<Option<u64>> {
        match &self.rows {
            Rows::Range(r) if !r.is_empty() => {
                let mut u = prefix.unit_of(r.start);
                let mut cursor = prefix.cursor();
                let mut next = cursor.at(u + 1);
                r.clone()
                    .map(|row| {
                        while next <= row {
                            u += 1;
                            next = cursor.at(u + 1);
                        }
                        Some(u)
                    })
                    .collect()
            }
            _ => {
                // A list's rows come in runs of one parent's (a parent's children
                // looked up together): a row in the last one's unit needs no descent.
                let mut last: Option<(u64, Range<u64>)> = None;
                self.rows.map(|row| {
                    let (unit, rows) = match last.take() {
                        Some((unit, rows)) if rows.contains(&row) => (unit, rows),
                        _ => prefix.unit_and_rows_of(row),
                    };
                    last = Some((unit, rows));
                    Some(unit)
                })
            }
        }
    }

    /// One of the rows of `table` that belong to the row's owner (key column `by`);
    /// any row of it where the owner has none and the column may not be null.
    fn owned_parents(&mut self, c: usize, table: usize, by: usize) -> Result<Vec<Option<u64>>> {
        let owners = self.fk_rows(by)?;
        let target_prefix = self.e.prefixes[table].expect("checked: the target is nested");
        let nullable = self.table().columns[c].nullable;
        let (s, parents) = (self.stream(c), self.e.counts[table]);
        Ok(self.rows.map_indexed(|i, row| {
            let owner = owners[i]?;
            let Range { start: lo, end: hi } = target_prefix.rows_of(owner);
            if hi > lo {
                Some(lo + s.below(row, hi - lo))
            } else if nullable {
                None
            } else {
                Some(s.below2(row, 1, parents))
            }
        }))
    }

    /// A parent drawn for each row: uniformly, or by Zipf or Pareto popularity rank.
    fn drawn_parents(&self, c: usize, pick: FkPick, parents: u64) -> Vec<Option<u64>> {
        let s = self.stream(c);
        match pick {
            FkPick::Uniform => self.rows.map(|row| Some(s.below(row, parents))),
            FkPick::Zipf(alpha) => match &self.e.preps[self.t][c].alias {
                Some(alias) => self.rows.map(|row| Some(alias.sample(s, row) as u64)),
                None => {
                    // Continuous inverse of the power law over [1, parents + 1).
                    let n = parents as f64 + 1.0;
                    self.rows.map(|row| {
                        let u = s.unit(row);
                        let k = if (alpha - 1.0).abs() < 1e-9 {
                            n.powf(u)
                        } else {
                            ((n.powf(1.0 - alpha) - 1.0) * u + 1.0).powf(1.0 / (1.0 - alpha))
                        };
                        Some((k as u64).saturating_sub(1).min(parents - 1))
                    })
                }
            },
            FkPick::Pareto(alpha) => {
                let cap = pareto_cap(alpha);
                self.rows.map(|row| {
                    let x = (1.0 - s.unit(row)).powf(-1.0 / alpha) - 1.0;
                    if x >= cap {
                        // The reference gives this tail to the last parent; spread it.
                        Some(s.below2(row, 1, parents))
                    } else {
                        Some(((x / cap * parents as f64) as u64).min(parents - 1))
                    }
                })
            }
        }
    }
}

/// Exact per-parent counts (each at most the cap) handed out over a pseudo-random
/// permutation of the child rows: row r's parent is the one whose share holds the
/// r-th position of the permutation.
pub(super) struct Cap {
    /// Where each parent's share of the positions starts, and the total last.
    starts: Vec<u64>,
    /// The parent holding the first position of each block of `1 << block_bits`
    /// positions, where the search for a position's parent starts.
    guide: Vec<u32>,
    block_bits: u32,
    perm: Feistel,
}

impl Cap {
    /// Shares starting at `starts` (ascending from 0, the total last; at most
    /// `u32::MAX` parents), with a guide of one block per four parents or fewer (an
    /// eighth of the memory of `starts`), each block holding four to eight shares'
    /// positions on average.
    fn new(starts: Vec<u64>, perm: Feistel) -> Self {
        let parents = starts.len() as u64 - 1;
        let total = starts[starts.len() - 1];
        let block_bits = (total / parents.max(1)).max(1).ilog2() + 3;
        let mut guide = Vec::with_capacity((total >> block_bits) as usize + 1);
        let mut parent = 0;
        for block in 0..=(total >> block_bits) {
            let first = block << block_bits;
            while parent + 1 < parents as usize && starts[parent + 1] <= first {
                parent += 1;
            }
            guide.push(parent as u32);
        }
        Self {
            starts,
            guide,
            block_bits,
            perm,
        }
    }

    /// The parent of each child row of `rows`: the last whose share starts at or before
    /// the row's position (parents with no share are passed over), as
    /// `starts.partition_point(|&x| x <= position) - 1` but in a few steps from the
    /// position's block instead of a binary search over every parent.
    fn parents_of(&self, rows: &Rows) -> Vec<Option<u64>> {
        let mut positions = rows.map(|row| row);
        self.perm.apply_all(&mut positions);
        positions
            .into_iter()
            .map(|position| {
                let mut parent = self.guide[(position >> self.block_bits) as usize] as usize;
                while self.starts[parent + 1] <= position {
                    parent += 1;
                }
                Some(parent as u64)
            })
            .collect()
    }
}

fn pareto_cap(alpha: f64) -> f64 {
    // The 99.5th percentile of Lomax(alpha).
    0.005f64.powf(-1.0 / alpha) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide finds the same parent as a binary search over the shares, empty
    /// shares (runs of them, first and last) and a single parent included.
    #[test]
    fn capped_parents_from_the_guide_are_the_searched_ones() {
        let shares: [&[u64]; 5] = [
            &[3, 0, 0, 5, 1, 0, 7, 0, 0, 0, 2],
            &[0, 0, 4, 400, 1, 0],
            &[9],
            &[1; 300],
            &[400, 1, 1, 0, 2, 3, 0, 0, 1, 50],
        ];
        for counts in shares {
            let starts: Vec<u64> = std::iter::once(0)
                .chain(counts.iter().scan(0, |acc, &c| {
                    *acc += c;
                    Some(*acc)
                }))
                .collect();
            let rows = starts[starts.len() - 1];
            let stream = RandomStream::new(2, "cap");
            let (perm, cap) = (
                Feistel::new(rows, stream),
                Cap::new(starts.clone(), Feistel::new(rows, stream)),
            );
            let parents = cap.parents_of(&Rows::Range(0..rows));
            for (row, parent) in (0..rows).zip(parents) {
                let position = perm.apply(row);
                let searched = starts.partition_point(|&x| x <= position) as u64 - 1;
                assert_eq!(parent, Some(searched), "{counts:?} row {row}");
            }
        }
    }
}
