//! What a schema implies before any scale is chosen: which tables are laid out grouped
//! by a parent ("nested"), where each business rule is enforced, and that nothing
//! depends on itself.

use super::error::{SchemaError, SchemaErrors};
use super::model::*;
use super::rules;
use super::strategy::{local_deps, remote_deps};

/// A table whose rows are grouped by parent: `per_parent` rows of a parent reached by
/// a uniform foreign key, when something needs the grouping. Its rows for a range of parents are a contiguous range, so
/// the table is generated alongside its parent, and per-parent facts (first child,
/// children's sums, a parent's own children to choose from) need no whole-table pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nest {
    /// The parent table.
    pub parent: usize,
    /// The foreign key column to it.
    pub fk: usize,
    /// Mean rows per parent row.
    pub ratio: f64,
    /// Rows every parent has (1 where the parent aggregates its children and the mean
    /// is at least 1: an order is made of its lines; 0 otherwise, where parents
    /// without children are as common as the reference's uniform key makes them).
    pub floor: u64,
}

/// The scale-independent plan of a schema.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Per table: the parent it is nested under.
    pub nest: Vec<Option<Nest>>,
    /// Per table: the table whose rows drive its generation (itself, or the root of
    /// its nesting chain).
    pub driver: Vec<usize>,
    /// Per table, per column: the comparisons enforced on it.
    pub fixes: Vec<Vec<Vec<Comparison>>>,
    /// Tables with parents before children (ties in file order).
    pub table_order: Vec<usize>,
    /// Per table: the column anomalies target by default.
    pub main_measure: Vec<Option<usize>>,
    /// Per table: the timestamp column its rows are generated in ascending order of
    /// (the first timestamp column, when a temporal strategy makes it, no rule moves
    /// it, it has no nulls and the table is not nested), so it streams without a sort.
    pub ordered_by: Vec<Option<usize>>,
}

fn col_path(s: &Schema, t: usize, c: usize) -> String {
    format!(
        "tables.{}.columns.{}.generator",
        s.tables[t].name, s.tables[t].columns[c].name
    )
}

/// Works out the layout, or every problem that prevents one.
///
/// # Errors
/// Each problem with its path: a computed column over a table that is not nested under
/// it, a first_per_parent or constrained_by that cannot be met, a rule that cannot be
/// enforced, a circular dependency.
pub fn layout(s: &Schema) -> Result<Layout, SchemaErrors> {
    let nest = nesting(s);
    let driver = drivers(s, &nest)?;
    let mut errors = Vec::new();
    check_nesting(s, &nest, &mut errors);
    let rules::Placement { fixes, reads } = rules::place(s, &mut errors);
    if errors.is_empty() {
        // No column may read itself, in its table or through others.
        let local = |t: usize, c: usize| -> Vec<usize> {
            let mut d = local_deps(&s.tables[t], c);
            d.extend(&reads[t][c]);
            d
        };
        let remote = |t: usize, c: usize| -> Vec<(usize, usize)> {
            let mut r = remote_deps(s, &nest, t, c);
            for f in &fixes[t][c] {
                if let Operand::Parent { table, column, .. } = f.bound {
                    r.push((table, column));
                }
            }
            r
        };
        errors.extend(global_cycle(s, &local, &remote));
    }
    if !errors.is_empty() {
        return Err(SchemaErrors(errors));
    }
    Ok(Layout {
        table_order: table_order(s),
        main_measure: s.tables.iter().map(main_measure).collect(),
        ordered_by: ordered_by(s, &nest, &fixes),
        nest,
        driver,
        fixes,
    })
}

/// The tables laid out under a parent: those something needs grouped (a parent's
/// computed aggregate over them, a first-per-parent flag in them, or a key
/// constrained to a parent's own rows of them) whose count is per parent and that
/// have a uniform key to it. Other per-parent tables draw their keys independently
/// (as the reference does), which also lets them be generated in event-time order.
fn nesting(s: &Schema) -> Vec<Option<Nest>> {
    let n = s.tables.len();
    let mut needs_nest = vec![false; n];
    let mut aggregated = vec![false; n];
    for (t, table) in s.tables.iter().enumerate() {
        for col in &table.columns {
            match &col.generator {
                Generator::Computed { child_table, .. } => {
                    needs_nest[*child_table] = true;
                    aggregated[*child_table] = true;
                }
                Generator::ForeignKey {
                    table: target,
                    constrained_by: Some(_),
                    ..
                } => needs_nest[*target] = true,
                Generator::FirstPerParent { .. } => needs_nest[t] = true,
                _ => {}
            }
        }
    }
    let mut nest: Vec<Option<Nest>> = vec![None; n];
    for (t, count) in &s.derived {
        let DerivedCount::PerParent { parent, ratio } = count else {
            continue;
        };
        if *parent == *t || !needs_nest[*t] {
            continue;
        }
        let fk = s.tables[*t].columns.iter().position(|c| {
            matches!(c.generator, Generator::ForeignKey { table, pick: FkPick::Uniform, max_per_parent: None, constrained_by: None, .. } if table == *parent)
        });
        if let Some(fk) = fk {
            nest[*t] = Some(Nest {
                parent: *parent,
                fk,
                ratio: *ratio,
                floor: u64::from(aggregated[*t] && *ratio >= 1.0),
            });
        }
    }
    nest
}

/// Each table's driver (the root of its nesting chain); an error where a chain does
/// not end (a table nested, through others, under itself).
fn drivers(s: &Schema, nest: &[Option<Nest>]) -> Result<Vec<usize>, SchemaErrors> {
    let n = s.tables.len();
    let mut errors = Vec::new();
    let mut driver = vec![0; n];
    for (t, slot) in driver.iter_mut().enumerate() {
        let mut d = t;
        let mut steps = 0;
        while let Some(p) = nest[d] {
            d = p.parent;
            steps += 1;
            if steps > n {
                errors.push(SchemaError {
                    path: format!("generation.derived_counts.{}", s.tables[t].name),
                    message: "per_parent tables form a cycle".into(),
                });
                break;
            }
        }
        *slot = d;
    }
    if errors.is_empty() {
        Ok(driver)
    } else {
        Err(SchemaErrors(errors))
    }
}

/// The strategies that need a nesting have the one they need.
fn check_nesting(s: &Schema, nest: &[Option<Nest>], errors: &mut Vec<SchemaError>) {
    for (t, table) in s.tables.iter().enumerate() {
        for (c, col) in table.columns.iter().enumerate() {
            let problem = match &col.generator {
                Generator::Computed { child_table, .. }
                    if nest[*child_table].map(|n| n.parent) != Some(t) =>
                {
                    let child = &s.tables[*child_table].name;
                    Some((
                        "child_table",
                        format!(
                            "'{child}' must be nested under '{}': generation.derived_counts.{child} with per_parent '{}' and a uniform foreign_key column to it",
                            table.name, table.name
                        ),
                    ))
                }
                Generator::FirstPerParent { parent_column, .. }
                    if nest[t].map(|n| n.fk) != Some(*parent_column) =>
                {
                    Some((
                        "parent_column",
                        format!(
                            "'{}' must be the foreign key '{}' is nested by (derived_counts per_parent with a uniform foreign_key)",
                            table.columns[*parent_column].name, table.name
                        ),
                    ))
                }
                Generator::ForeignKey {
                    table: target,
                    constrained_by: Some(by),
                    ..
                } => {
                    let by_table = match table.columns[*by].generator {
                        Generator::ForeignKey { table, .. } => Some(table),
                        _ => None,
                    };
                    (nest[*target].map(|n| n.parent) != by_table || by_table.is_none()).then(|| {
                        (
                            "constrained_by",
                            format!(
                                "'{}' must be nested under the table '{}' refers to",
                                s.tables[*target].name, table.columns[*by].name
                            ),
                        )
                    })
                }
                _ => None,
            };
            if let Some((key, message)) = problem {
                errors.push(SchemaError {
                    path: format!("{}.{key}", col_path(s, t, c)),
                    message,
                });
            }
        }
    }
}

/// Tables with parents (foreign keys) first; tables whose keys form a cycle (allowed:
/// values are made on demand) in file order.
fn table_order(s: &Schema) -> Vec<usize> {
    let n = s.tables.len();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while order.len() < n {
        let before = order.len();
        for t in 0..n {
            if placed[t] {
                continue;
            }
            let ready = s.tables[t].columns.iter().all(|c| match c.generator {
                Generator::ForeignKey { table, .. } => table == t || placed[table],
                _ => true,
            });
            if ready {
                placed[t] = true;
                order.push(t);
            }
        }
        if order.len() == before {
            for (t, p) in placed.iter_mut().enumerate() {
                if !*p {
                    *p = true;
                    order.push(t);
                }
            }
        }
    }
    order
}

/// Per table: its first timestamp column, where a temporal strategy makes it, no rule
/// moves it, it has no nulls and the table is not nested (generated ascending).
fn ordered_by(
    s: &Schema,
    nest: &[Option<Nest>],
    fixes: &[Vec<Vec<Comparison>>],
) -> Vec<Option<usize>> {
    s.tables
        .iter()
        .enumerate()
        .map(|(t, table)| {
            let c = table
                .columns
                .iter()
                .position(|c| c.ty == ColumnType::Timestamp)?;
            let col = &table.columns[c];
            (nest[t].is_none()
                && matches!(col.generator, Generator::Temporal { .. })
                && fixes[t][c].is_empty()
                && !(col.nullable && col.null_rate > 0.0))
                .then_some(c)
        })
        .collect()
}

/// The first column, across tables, that reads itself through other columns.
fn global_cycle(
    s: &Schema,
    local: &dyn Fn(usize, usize) -> Vec<usize>,
    remote: &dyn Fn(usize, usize) -> Vec<(usize, usize)>,
) -> Option<SchemaError> {
    let ids: Vec<(usize, usize)> = s
        .tables
        .iter()
        .enumerate()
        .flat_map(|(t, table)| (0..table.columns.len()).map(move |c| (t, c)))
        .collect();
    let index = |t: usize, c: usize| ids.iter().position(|&x| x == (t, c)).expect("known column");
    let edges: Vec<Vec<usize>> = ids
        .iter()
        .map(|&(t, c)| {
            let mut e: Vec<usize> = local(t, c).into_iter().map(|d| index(t, d)).collect();
            for (rt, rc) in remote(t, c) {
                // A foreign key to its own table reads other rows' keys, not itself.
                if (rt, rc) != (t, c) {
                    e.push(index(rt, rc));
                }
            }
            e
        })
        .collect();
    let mut state = vec![0u8; ids.len()];
    for start in 0..ids.len() {
        if state[start] != 0 {
            continue;
        }
        // Iterative depth-first search with an explicit path.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next < edges[node].len() {
                let d = edges[node][*next];
                *next += 1;
                match state[d] {
                    0 => {
                        state[d] = 1;
                        stack.push((d, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(x, _)| x == d).unwrap_or(0);
                        let names: Vec<String> = stack[from..]
                            .iter()
                            .map(|&(x, _)| x)
                            .chain(std::iter::once(d))
                            .map(|x| {
                                let (t, c) = ids[x];
                                format!("{}.{}", s.tables[t].name, s.tables[t].columns[c].name)
                            })
                            .collect();
                        let (t, c) = ids[d];
                        return Some(SchemaError {
                            path: col_path(s, t, c),
                            message: format!("circular dependency: {}", names.join(" -> ")),
                        });
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// The table's main measure: its first money-like or measured number that is not a
/// key (a decimal or float made by a distribution, arithmetic or a lookup), else its
/// first drawn integer.
fn main_measure(t: &Table) -> Option<usize> {
    let measured = |c: &Column| {
        matches!(
            c.generator,
            Generator::Distribution { .. }
                | Generator::Correlated { .. }
                | Generator::Formula(_)
                | Generator::Computed { .. }
                | Generator::Lookup { .. }
        ) && !c.name.ends_with("_id")
    };
    t.columns
        .iter()
        .position(|c| matches!(c.ty, ColumnType::Float | ColumnType::Decimal) && measured(c))
        .or_else(|| {
            t.columns
                .iter()
                .position(|c| c.ty == ColumnType::Integer && measured(c))
        })
}

/// Rows of every table at the scale called `scale`: the scale's anchor counts, then
/// `derived_counts` (which win, as in the reference), then 100 for any table left.
///
/// # Errors
/// A scale the schema does not define (naming those it does), a count above the limit.
pub fn counts(s: &Schema, scale: &str) -> Result<Vec<u64>, String> {
    let found = s.scales.iter().find(|(name, _)| name == scale).or_else(|| {
        (scale == "fabric_demo")
            .then(|| s.scales.iter().find(|(n, _)| n == "demo"))
            .flatten()
    });
    let Some((_, anchors)) = found else {
        let names: Vec<&str> = s.scales.iter().map(|(n, _)| n.as_str()).collect();
        return Err(if names.is_empty() {
            format!("scale '{scale}': the schema defines no generation.scales")
        } else {
            format!(
                "scale '{scale}' is not in the schema's generation.scales; allowed: {}",
                names.join(", ")
            )
        });
    };
    let n = s.tables.len();
    let mut counts: Vec<Option<u64>> = vec![None; n];
    for &(t, rows) in anchors {
        counts[t] = Some(rows);
    }
    // Derived counts may chain (a per_parent of a per_parent): resolve in passes.
    let derived: Vec<(usize, &DerivedCount)> = s.derived.iter().map(|(t, d)| (*t, d)).collect();
    let mut resolved = vec![false; n];
    for _ in 0..=derived.len() {
        let mut progress = false;
        for &(t, d) in &derived {
            if resolved[t] {
                continue;
            }
            let value = match d {
                DerivedCount::Fixed(v) => Some(*v),
                DerivedCount::PerYear(v) => Some(v.saturating_mul(s.years.max(1))),
                DerivedCount::PerParent { parent, ratio } => {
                    let parent_resolved =
                        resolved[*parent] || !derived.iter().any(|(x, _)| x == parent);
                    parent_resolved.then(|| (ratio * counts[*parent].unwrap_or(100) as f64) as u64)
                }
            };
            if let Some(v) = value {
                counts[t] = Some(v);
                resolved[t] = true;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    if let Some(&(t, _)) = derived.iter().find(|(t, _)| !resolved[*t]) {
        return Err(format!(
            "generation.derived_counts.{}: per_parent tables form a cycle",
            s.tables[t].name
        ));
    }
    let out: Vec<u64> = counts.into_iter().map(|c| c.unwrap_or(100)).collect();
    for (t, &rows) in out.iter().enumerate() {
        if rows > MAX_ROWS {
            return Err(format!(
                "table '{}' would have {} rows at scale '{scale}', above the limit of {}",
                s.tables[t].name,
                crate::report::thousands(rows),
                crate::report::thousands(MAX_ROWS)
            ));
        }
    }
    Ok(out)
}
