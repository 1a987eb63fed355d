//! The column strategies of the schema format, by family. Each family's file holds,
//! for its strategies, how their generator object is read, what they read of other
//! columns, what a plan works out for them once, and their kernel (the values for any
//! set of rows). This module routes to them: the table of strategy names and keys,
//! and one match per phase over [`Generator`] (exhaustive, so that a new strategy is
//! routed everywhere or does not compile).
//!
//! | family | strategies |
//! |---|---|
//! | `identity` | sequence, uuid |
//! | `categorical` | weighted_enum, lifecycle |
//! | `distribution` | distribution |
//! | `temporal` | temporal |
//! | `keys` | foreign_key, lookup |
//! | `text` | faker, pattern |
//! | `records` | reference_data, record_sample, record_field |
//! | `derived` | correlated, derived, formula, conditional |
//! | `per_parent` | computed, first_per_parent |
//! | `hierarchy` | self_referencing, self_ref_field |

mod categorical;
mod derived;
mod distribution;
mod hierarchy;
mod identity;
mod keys;
mod per_parent;
mod records;
mod temporal;
mod text;

use super::eval::Eval;
use super::layout::{Layout, Nest};
use super::model::{Column, Generator, Schema, Source, Table};
use super::parse::{Gen, Parser};
use crate::dist::{Alias, Ranks, SortedUniforms, Weighted};
use crate::error::Result;
use crate::rng::RandomStream;
use arrow_array::ArrayRef;

pub(super) use temporal::DAY;

/// Pre-computed help for one column's kernel.
#[derive(Default)]
pub(super) struct Prep {
    alias: Option<Alias>,
    weighted: Option<Weighted>,
    /// Day starts (microseconds) a temporal column chooses among.
    days: Vec<i64>,
    /// The labels of an enum, in the column's type.
    labels: Option<ArrayRef>,
    /// A foreign key under a cap: rows before each parent, in a shuffled order.
    cap: Option<keys::Cap>,
    /// Record order of a unique record sample.
    perm: Option<Vec<u32>>,
    /// A skewed foreign key into a table generated in time order: the parent at each
    /// popularity rank (a Feistel permutation of the parent rows), so that how often a
    /// parent is picked does not follow when it appeared (the first customers to sign
    /// up are not the busiest ones), as in the reference, whose parents are not in
    /// time order.
    ranks: Option<Ranks>,
    /// Sorted positions of a temporal column generated in ascending order.
    sorted: Option<SortedUniforms>,
    /// For a sorted seasonal column with peak hours: weights of (day, hour) buckets.
    hours: Option<Weighted>,
}

/// Where a generator object is read: its table and column.
#[derive(Clone, Copy)]
pub(super) struct Site {
    pub(super) table: usize,
    pub(super) column: usize,
}

/// Reads one strategy's generator object (its parameters are `Gen`'s).
type Parse = for<'p, 'v> fn(&mut Parser<'p>, Site, &Gen<'v>) -> Option<Generator>;

/// One strategy of the format: its name in `generator.strategy`, the parameter keys
/// it takes (beside `strategy` or in `params`), and how it is read.
pub(super) struct Strategy {
    pub(super) name: &'static str,
    pub(super) keys: &'static [&'static str],
    pub(super) parse: Parse,
}

/// Every strategy, in the order messages list them.
const ALL: [Strategy; 21] = [
    identity::SEQUENCE,
    identity::UUID,
    categorical::WEIGHTED_ENUM,
    categorical::LIFECYCLE,
    distribution::DISTRIBUTION,
    temporal::TEMPORAL,
    keys::FOREIGN_KEY,
    text::FAKER,
    text::PATTERN,
    records::REFERENCE_DATA,
    records::RECORD_SAMPLE,
    records::RECORD_FIELD,
    derived::CORRELATED,
    derived::DERIVED,
    keys::LOOKUP,
    derived::FORMULA,
    per_parent::COMPUTED,
    derived::CONDITIONAL,
    per_parent::FIRST_PER_PARENT,
    hierarchy::SELF_REFERENCING,
    hierarchy::SELF_REF_FIELD,
];

/// The strategy called `name`.
pub(super) fn named(name: &str) -> Option<&'static Strategy> {
    ALL.iter().find(|s| s.name == name)
}

/// Every strategy's name, for messages.
pub(super) fn names() -> String {
    ALL.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// A column being planned: what its prep may read.
pub(super) struct Planning<'a> {
    pub(super) schema: &'a Schema,
    pub(super) layout: &'a Layout,
    pub(super) counts: &'a [u64],
    pub(super) table: usize,
    pub(super) column: usize,
    pub(super) stream: RandomStream,
    /// `tables.T.columns.C`, for messages.
    pub(super) path: &'a str,
}

impl Planning<'_> {
    /// The column planned.
    fn col(&self) -> &Column {
        &self.schema.tables[self.table].columns[self.column]
    }

    /// Rows of its table.
    fn rows(&self) -> u64 {
        self.counts[self.table]
    }
}

/// What column `at`'s kernel needs worked out once per plan (weights tables, sorted
/// positions, caps), or why the plan's counts make the column impossible.
pub(super) fn prep(at: &Planning) -> Result<Prep> {
    match &at.col().generator {
        Generator::Sequence { start, step } => identity::check_sequence(at, *start, *step),
        Generator::Enum { labels, weights } => categorical::prep(at, labels, weights),
        Generator::Distribution { dist, .. } => distribution::prep(at, *dist),
        Generator::Temporal {
            pattern,
            start,
            end,
        } => temporal::prep(at, pattern, *start, *end),
        Generator::ForeignKey { .. } => keys::prep(at),
        Generator::ReferenceData { .. } | Generator::RecordSample { .. } => records::prep(at),
        _ => Ok(Prep::default()),
    }
}

impl Eval<'_> {
    /// Column `c`'s values at this request's rows, before its type, rules and nulls.
    pub(super) fn kernel(&mut self, c: usize) -> Result<ArrayRef> {
        let col = &self.table().columns[c];
        match &col.generator {
            Generator::Null => Ok(arrow_array::new_null_array(
                &col.ty.data_type(),
                self.rows.len(),
            )),
            Generator::Sequence { start, step } => Ok(self.sequence(*start, *step)),
            Generator::Uuid => Ok(self.uuid(c)),
            Generator::Enum { .. } => self.enumeration(c),
            Generator::Distribution { dist, min, max, .. } => {
                Ok(self.distribution(c, *dist, *min, *max))
            }
            Generator::Temporal {
                pattern,
                start,
                end,
            } => Ok(self.temporal(c, pattern, *start, *end)),
            Generator::ForeignKey { table, column, .. } => {
                let rows = self.fk_rows(c)?;
                self.e.values_at(*table, *column, &rows)
            }
            Generator::Lookup { via, table, column } => {
                let rows = self.fk_rows(*via)?;
                self.e.values_at(*table, *column, &rows)
            }
            Generator::Faker(p) => self.faker(c, *p),
            Generator::Pattern(parts) => self.pattern(c, parts),
            Generator::ReferenceData { dataset, field, .. } => {
                self.reference_data(c, dataset, *field)
            }
            Generator::RecordSample { dataset, field, .. } => self.record_field(c, dataset, *field),
            Generator::RecordField {
                dataset,
                anchor,
                field,
            } => self.record_field(*anchor, dataset, *field),
            Generator::Correlated {
                source,
                rule,
                lo,
                hi,
            } => self.correlated(c, *source, *rule, (*lo, *hi)),
            Generator::Derived { source, days } => self.derived(c, source, *days),
            Generator::Formula(expr) => self.formula(expr),
            Generator::Computed {
                rule,
                child_table,
                child_column,
            } => self.computed(*rule, *child_table, *child_column),
            Generator::Conditional {
                condition,
                then,
                otherwise,
            } => self.conditional(&col.ty.data_type(), condition, then, otherwise),
            Generator::FirstPerParent {
                parent_column,
                default,
            } => self.first_per_parent(*parent_column, *default),
            Generator::SelfReferencing {
                pk_column,
                levels,
                root_count,
            } => self.self_referencing(c, *pk_column, *levels, *root_count),
            Generator::SelfRefLevel { anchor } => self.self_ref_level(c, *anchor),
        }
    }
}

/// Columns of the same table that column `c` reads.
pub fn local_deps(t: &Table, c: usize) -> Vec<usize> {
    let mut out = Vec::new();
    match &t.columns[c].generator {
        Generator::Null
        | Generator::Sequence { .. }
        | Generator::Uuid
        | Generator::Enum { .. }
        | Generator::Distribution { .. }
        | Generator::Temporal { .. }
        | Generator::ReferenceData { .. }
        | Generator::RecordSample { .. }
        | Generator::Computed { .. } => {}
        Generator::ForeignKey { constrained_by, .. } => out.extend(*constrained_by),
        Generator::Faker(provider) => text::faker_reads(t, c, *provider, &mut out),
        Generator::Pattern(parts) => text::pattern_reads(parts, &mut out),
        Generator::RecordField { anchor, .. } | Generator::SelfRefLevel { anchor } => {
            out.push(*anchor)
        }
        Generator::Correlated { source, .. }
        | Generator::Derived {
            source: Source::Local(source),
            ..
        } => out.push(*source),
        Generator::Derived {
            source: Source::Parent { via, .. },
            ..
        }
        | Generator::Lookup { via, .. } => out.push(*via),
        Generator::Formula(e) => e.columns(&mut out),
        Generator::Conditional {
            condition,
            then,
            otherwise,
        } => derived::conditional_reads(condition, [then, otherwise], &mut out),
        Generator::FirstPerParent { parent_column, .. } => out.push(*parent_column),
        Generator::SelfReferencing { pk_column, .. } => out.push(*pk_column),
    }
    out
}

/// Columns of other tables (or other rows) that column `c` of table `t` reads, given
/// the tables' nesting.
pub(super) fn remote_deps(
    s: &Schema,
    nest: &[Option<Nest>],
    t: usize,
    c: usize,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    match &s.tables[t].columns[c].generator {
        Generator::ForeignKey {
            table,
            column,
            constrained_by,
            ..
        } => {
            out.push((*table, *column));
            // A constrained key chooses among the target's rows of one owner.
            if let (Some(_), Some(n)) = (constrained_by, nest[*table]) {
                out.push((*table, n.fk));
            }
        }
        Generator::Derived {
            source: Source::Parent { table, column, .. },
            ..
        }
        | Generator::Lookup { table, column, .. } => out.push((*table, *column)),
        Generator::Conditional {
            then, otherwise, ..
        } => derived::lookup_reads([then, otherwise], &mut out),
        Generator::Computed {
            child_table,
            child_column,
            ..
        } => out.push((*child_table, *child_column)),
        _ => {}
    }
    out
}
