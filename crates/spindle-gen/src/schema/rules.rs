//! Business rules: comparisons between a table's columns (`a >= 0 AND a <= b`), with a
//! parent's column (`cross_table`, `temporal_order`) or a number. Read from
//! `business_rules`; each comparison placed on the side computed later (the column
//! adjusted); enforced by moving a breaking value the least distance that meets it, on
//! the column's grid (its rounding, whole days for dates).

use super::error::SchemaError;
use super::eval::{Eval, cast_strict, f64s, micros, rounding_digits};
use super::model::{CmpOp, ColumnType, Comparison, Generator, Operand, Rule, Schema, Table};
use super::parse::Parser;
use super::strategy::{DAY, local_deps};
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, TimestampMicrosecondArray};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where the rules are enforced: per table, per column, the comparisons adjusting it,
/// and the columns each reads for them.
pub(super) struct Placement {
    pub fixes: Vec<Vec<Vec<Comparison>>>,
    pub reads: Vec<Vec<Vec<usize>>>,
}

/// Places every rule's comparisons (errors for those that cannot be enforced).
pub(super) fn place(s: &Schema, errors: &mut Vec<SchemaError>) -> Placement {
    let mut placement = Placement {
        fixes: s
            .tables
            .iter()
            .map(|t| vec![Vec::new(); t.columns.len()])
            .collect(),
        reads: s
            .tables
            .iter()
            .map(|t| vec![Vec::new(); t.columns.len()])
            .collect(),
    };
    for (ri, rule) in s.rules.iter().enumerate() {
        let t = rule.table;
        for (left, op, right) in &rule.comparisons {
            let path = format!("business_rules.{ri}");
            let placed = adjusted_side(&s.tables[t], *left, *op, *right)
                .ok_or_else(|| {
                    format!(
                        "'{}' has no column of '{}' to adjust",
                        rule.text, s.tables[t].name
                    )
                })
                .and_then(|cmp| adjustable(s, rule, &cmp).map(|()| cmp));
            let cmp = match placed {
                Ok(cmp) => cmp,
                Err(message) => {
                    errors.push(SchemaError { path, message });
                    continue;
                }
            };
            match cmp.bound {
                Operand::Column(b) => placement.reads[t][cmp.column].push(b),
                Operand::Parent { via, .. } => placement.reads[t][cmp.column].push(via),
                Operand::Number(_) => {}
            }
            placement.fixes[t][cmp.column].push(cmp);
        }
    }
    placement
}

/// `left op right` as a comparison on the column adjusted: of two columns, the one
/// that reads the other (else the later one).
fn adjusted_side(table: &Table, left: Operand, op: CmpOp, right: Operand) -> Option<Comparison> {
    match (left, right) {
        (Operand::Column(a), Operand::Column(b)) => {
            let fix_b = reaches(table, b, a) || (!reaches(table, a, b) && b > a);
            Some(if fix_b {
                Comparison {
                    column: b,
                    op: op.mirrored(),
                    bound: Operand::Column(a),
                }
            } else {
                Comparison {
                    column: a,
                    op,
                    bound: Operand::Column(b),
                }
            })
        }
        (Operand::Column(a), bound) => Some(Comparison {
            column: a,
            op,
            bound,
        }),
        (bound, Operand::Column(b)) => Some(Comparison {
            column: b,
            op: op.mirrored(),
            bound,
        }),
        _ => None,
    }
}

/// Whether column `from` reads column `to`, directly or not.
fn reaches(table: &Table, from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; table.columns.len()];
    while let Some(x) = stack.pop() {
        for d in local_deps(table, x) {
            if d == to {
                return true;
            }
            if !seen[d] {
                seen[d] = true;
                stack.push(d);
            }
        }
    }
    false
}

/// Why `cmp` cannot adjust its column: a key or hierarchy, or values that are not
/// both numbers or both dates.
fn adjustable(s: &Schema, rule: &Rule, cmp: &Comparison) -> std::result::Result<(), String> {
    let table = &s.tables[rule.table];
    let col = &table.columns[cmp.column];
    let fixed_kind = match col.generator {
        Generator::ForeignKey { .. } => Some("a foreign key"),
        Generator::Sequence { .. } | Generator::Uuid => Some("a key"),
        Generator::SelfReferencing { .. } | Generator::SelfRefLevel { .. } => Some("a hierarchy"),
        _ => None,
    };
    if let Some(k) = fixed_kind {
        return Err(format!(
            "'{}' would adjust '{}.{}', which is {k}",
            rule.text, table.name, col.name
        ));
    }
    let temporal = |ty: ColumnType| matches!(ty, ColumnType::Date | ColumnType::Timestamp);
    let compares = |ty: ColumnType| ty.is_numeric() || temporal(ty);
    let bound_ty = match cmp.bound {
        Operand::Column(b) => Some(table.columns[b].ty),
        Operand::Parent {
            table: pt, column, ..
        } => Some(s.tables[pt].columns[column].ty),
        Operand::Number(_) => None,
    };
    let ok = compares(col.ty)
        && match bound_ty {
            None => col.ty.is_numeric(),
            Some(b) => compares(b) && temporal(b) == temporal(col.ty),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{}' compares values that are not both numbers or both dates",
            rule.text
        ))
    }
}

impl Parser<'_> {
    /// One side of a comparison in table `ti`: a column, `table.column`, or a number.
    fn operand(&mut self, ti: usize, text: &str, path: &str) -> Option<(Option<usize>, Operand)> {
        let text = text.trim();
        if let Ok(n) = text.parse::<f64>() {
            return Some((None, Operand::Number(n)));
        }
        if let Some((t, c)) = text.split_once('.') {
            let table = self.table_ref(t, path)?;
            let column = self.col_ref(table, c, path)?;
            return Some((Some(table), Operand::Column(column)));
        }
        Some((Some(ti), Operand::Column(self.col_ref(ti, text, path)?)))
    }

    pub(super) fn rules(&mut self, v: &Value, tables: &[Table]) -> Vec<Rule> {
        let mut out = Vec::new();
        for (path, m) in self.objects(v, "business_rules") {
            if let Some(rule) = self.rule(m, &path, tables) {
                out.push(rule);
            }
        }
        out
    }

    fn rule(&mut self, m: &Map<String, Value>, path: &str, tables: &[Table]) -> Option<Rule> {
        let s = |key: &str| m.get(key).and_then(Value::as_str);
        let name = s("name").unwrap_or("").to_string();
        match s("type").unwrap_or("constraint") {
            "constraint" | "cross_column" => {
                self.check_keys(m, path, &["name", "type", "table", "rule", "description"]);
                let table = self.rule_table(m, path)?;
                let text = s("rule").unwrap_or("");
                let comparisons = self.conjunction(table, text, &format!("{path}.rule"))?;
                Some(Rule {
                    name,
                    text: text.to_string(),
                    table,
                    comparisons,
                })
            }
            "column_comparison" => {
                self.check_keys(
                    m,
                    path,
                    &[
                        "name",
                        "type",
                        "table",
                        "left",
                        "operator",
                        "right",
                        "description",
                    ],
                );
                let table = self.rule_table(m, path)?;
                let text = format!(
                    "{} {} {}",
                    s("left").unwrap_or(""),
                    s("operator").unwrap_or(""),
                    s("right").unwrap_or("")
                );
                let comparisons = self.conjunction(table, &text, path)?;
                Some(Rule {
                    name,
                    text,
                    table,
                    comparisons,
                })
            }
            "cross_table" => self.cross_table_rule(m, path, name, tables),
            "temporal_order" => self.temporal_order_rule(m, path, name),
            other => {
                self.err(
                    format!("{path}.type"),
                    format!("unknown rule type '{other}'; allowed: constraint, cross_column, column_comparison, cross_table, temporal_order"),
                );
                None
            }
        }
    }

    /// The rule's `table`.
    fn rule_table(&mut self, m: &Map<String, Value>, path: &str) -> Option<usize> {
        let at = format!("{path}.table");
        match m.get("table").and_then(Value::as_str) {
            Some(t) => self.table_ref(t, &at),
            None => {
                self.err(at, "missing");
                None
            }
        }
    }

    /// `a.x >= b.y` where one table has a foreign key (`via`) to the other: enforced
    /// on the child's column against its parent's.
    fn cross_table_rule(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        name: String,
        tables: &[Table],
    ) -> Option<Rule> {
        let s = |key: &str| m.get(key).and_then(Value::as_str);
        self.check_keys(m, path, &["name", "type", "rule", "via", "description"]);
        let text = s("rule").unwrap_or("");
        let at = format!("{path}.rule");
        let Some((l, op, r)) = split_comparison(text) else {
            self.err(at, format!("'{text}' is not a comparison (a.x >= b.y)"));
            return None;
        };
        let Some(via_name) = s("via") else {
            self.err(
                format!("{path}.via"),
                "missing: the foreign key column joining the tables",
            );
            return None;
        };
        let (lt, lc) = self.table_col_ref(l, &at)?;
        let (rt, rc) = self.table_col_ref(r, &at)?;
        let fk_to = |table: usize, target: usize| -> Option<usize> {
            let c = tables[table].column_index(via_name)?;
            let mut at = (table, c);
            for _ in 0..tables.len() * 64 {
                match &tables[at.0].columns[at.1].generator {
                    Generator::ForeignKey { table, .. } => {
                        return (*table == target).then_some(c);
                    }
                    Generator::Lookup { table, column, .. } => at = (*table, *column),
                    _ => return None,
                }
            }
            None
        };
        let (table, column, op, other_table, other_column, via) = if let Some(via) = fk_to(lt, rt) {
            (lt, lc, op, rt, rc, via)
        } else if let Some(via) = fk_to(rt, lt) {
            (rt, rc, op.mirrored(), lt, lc, via)
        } else {
            self.err(
                format!("{path}.via"),
                format!(
                    "neither '{}' nor '{}' has a foreign key column '{via_name}' to the other",
                    self.names[lt].name, self.names[rt].name
                ),
            );
            return None;
        };
        Some(Rule {
            name,
            text: text.to_string(),
            table,
            comparisons: vec![(
                Operand::Column(column),
                op,
                Operand::Parent {
                    via,
                    table: other_table,
                    column: other_column,
                },
            )],
        })
    }

    /// `later >= earlier` in one table, or against its parent's column through
    /// `join_key`.
    fn temporal_order_rule(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        name: String,
    ) -> Option<Rule> {
        let s = |key: &str| m.get(key).and_then(Value::as_str);
        self.check_keys(
            m,
            path,
            &[
                "name",
                "type",
                "tables",
                "join_key",
                "earlier",
                "later",
                "description",
            ],
        );
        let names: Vec<&str> = m
            .get("tables")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if names.is_empty() || names.len() > 2 {
            self.err(
                format!("{path}.tables"),
                "must list the table, or the table and its parent",
            );
            return None;
        }
        let at = format!("{path}.tables");
        let table = self.table_ref(names[0], &at)?;
        let later = self.col_ref(table, s("later").unwrap_or(""), &format!("{path}.later"))?;
        let bound = if names.len() == 2 {
            let parent = self.table_ref(names[1], &at)?;
            let earlier = self.col_ref(
                parent,
                s("earlier").unwrap_or(""),
                &format!("{path}.earlier"),
            )?;
            let key = s("join_key").unwrap_or("");
            let via = self.col_ref(table, key, &format!("{path}.join_key"))?;
            Operand::Parent {
                via,
                table: parent,
                column: earlier,
            }
        } else {
            Operand::Column(self.col_ref(
                table,
                s("earlier").unwrap_or(""),
                &format!("{path}.earlier"),
            )?)
        };
        Some(Rule {
            name,
            text: format!(
                "{} >= {}",
                s("later").unwrap_or(""),
                s("earlier").unwrap_or("")
            ),
            table,
            comparisons: vec![(Operand::Column(later), CmpOp::Ge, bound)],
        })
    }

    /// `a >= 0 AND a <= b`: comparisons within table `ti`.
    fn conjunction(
        &mut self,
        ti: usize,
        text: &str,
        path: &str,
    ) -> Option<Vec<(Operand, CmpOp, Operand)>> {
        let mut out = Vec::new();
        for part in split_and(text) {
            let Some((l, op, r)) = split_comparison(part) else {
                self.err(
                    path,
                    format!("'{part}' is not a comparison; operators: <, <=, >, >="),
                );
                return None;
            };
            let (lt, left) = self.operand(ti, l, path)?;
            let (rt, right) = self.operand(ti, r, path)?;
            if lt.is_some_and(|t| t != ti) || rt.is_some_and(|t| t != ti) {
                self.err(
                    path,
                    format!("'{part}' refers to another table; use a cross_table rule with via"),
                );
                return None;
            }
            if matches!((left, right), (Operand::Number(_), Operand::Number(_))) {
                self.err(path, format!("'{part}' compares two numbers"));
                return None;
            }
            out.push((left, op, right));
        }
        if out.is_empty() {
            self.err(path, "is empty");
            return None;
        }
        Some(out)
    }
}

/// Splits `a AND b and c` on the word AND (any case).
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let upper = rest.to_ascii_uppercase();
        match upper.find(" AND ") {
            Some(i) => {
                parts.push(rest[..i].trim());
                rest = &rest[i + 5..];
            }
            None => {
                parts.push(rest.trim());
                break;
            }
        }
    }
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// `a >= b` into its sides and operator.
fn split_comparison(text: &str) -> Option<(&str, CmpOp, &str)> {
    for sym in [">=", "<=", ">", "<"] {
        if let Some(i) = text.find(sym) {
            let (l, r) = (text[..i].trim(), text[i + sym.len()..].trim());
            if l.is_empty() || r.is_empty() {
                return None;
            }
            return Some((l, CmpOp::parse(sym)?, r));
        }
    }
    None
}

impl Eval<'_> {
    /// Applies the column's rule comparisons to its values.
    pub(super) fn enforce(&mut self, c: usize, v: ArrayRef) -> Result<ArrayRef> {
        let col = &self.table().columns[c];
        let fixes = self.e.layout.fixes[self.t][c].clone();
        let mut v = v;
        for f in fixes {
            let bound: Option<ArrayRef> = match f.bound {
                Operand::Column(b) => Some(self.value(b)?),
                Operand::Parent { via, table, column } => {
                    let rows = self.fk_rows(via)?;
                    Some(self.e.values_at(table, column, &rows)?)
                }
                Operand::Number(_) => None,
            };
            let number = match f.bound {
                Operand::Number(x) => Some(x),
                _ => None,
            };
            v = match col.ty {
                ColumnType::Date | ColumnType::Timestamp => {
                    let x = micros(&v)?;
                    let y = micros(bound.as_ref().expect("temporal rules compare columns"))?;
                    let grid = if col.ty == ColumnType::Date { DAY } else { 1 };
                    let out: TimestampMicrosecondArray = (0..x.len())
                        .map(|i| {
                            if x.is_null(i) || y.is_null(i) {
                                return x.is_valid(i).then(|| x.value(i));
                            }
                            Some(clamp_i64(x.value(i), f.op, y.value(i), DAY, grid))
                        })
                        .collect();
                    cast_strict(&(Arc::new(out) as ArrayRef), &col.ty.data_type())?
                }
                ColumnType::Integer => {
                    let x = v.as_primitive::<Int64Type>();
                    let bounds = numeric_bounds(bound.as_ref(), number, x.len())?;
                    let out: Int64Array = x
                        .iter()
                        .zip(bounds)
                        .map(|(x, b)| match (x, b) {
                            (Some(x), Some(b)) => {
                                Some(clamp_f64(x as f64, f.op, b, Some(0)) as i64)
                            }
                            (x, _) => x,
                        })
                        .collect();
                    Arc::new(out)
                }
                _ => {
                    let x = v.as_primitive::<Float64Type>();
                    let bounds = numeric_bounds(bound.as_ref(), number, x.len())?;
                    let digits = rounding_digits(col);
                    let out: Float64Array = x
                        .iter()
                        .zip(bounds)
                        .map(|(x, b)| match (x, b) {
                            (Some(x), Some(b)) => Some(clamp_f64(x, f.op, b, digits)),
                            (x, _) => x,
                        })
                        .collect();
                    Arc::new(out)
                }
            };
        }
        Ok(v)
    }
}

/// Each row's bound of a rule comparison: the bound column's value (none where it is
/// null), or the rule's number.
fn numeric_bounds(
    bound: Option<&ArrayRef>,
    number: Option<f64>,
    n: usize,
) -> Result<Vec<Option<f64>>> {
    Ok(match bound {
        Some(b) => f64s(b)?.iter().collect(),
        None => vec![number; n],
    })
}

/// `x` moved the least distance to satisfy `x op y` on a grid of `10^-digits` (exact
/// when `digits` is `None`).
fn clamp_f64(x: f64, op: CmpOp, y: f64, digits: Option<i32>) -> f64 {
    // Worked out only for a row that breaks the rule (most rows do not).
    let step = || digits.map(|d| 10f64.powi(-d));
    let up = |v: f64| match digits {
        Some(d) => {
            let f = 10f64.powi(d);
            let r = (v * f).ceil() / f;
            if r < v { r + step().unwrap_or(0.0) } else { r }
        }
        None => v,
    };
    let down = |v: f64| match digits {
        Some(d) => {
            let f = 10f64.powi(d);
            let r = (v * f).floor() / f;
            if r > v { r - step().unwrap_or(0.0) } else { r }
        }
        None => v,
    };
    let tiny = |v: f64| step().unwrap_or(v.abs() * 1e-12 + 1e-12);
    match op {
        CmpOp::Ge if x < y => up(y),
        CmpOp::Gt if x <= y => {
            let v = up(y);
            if v > y { v } else { up(y + tiny(y)) }
        }
        CmpOp::Le if x > y => down(y),
        CmpOp::Lt if x >= y => {
            let v = down(y);
            if v < y { v } else { down(y - tiny(y)) }
        }
        _ => x,
    }
}

/// `x op y` for instants: `>=`/`<=` move `x` to the nearest grid point past `y`;
/// `>`/`<` to `y` plus or minus `strict` (a day, as the reference does).
fn clamp_i64(x: i64, op: CmpOp, y: i64, strict: i64, grid: i64) -> i64 {
    let up = |v: i64| v.div_euclid(grid) * grid + if v.rem_euclid(grid) == 0 { 0 } else { grid };
    let down = |v: i64| v.div_euclid(grid) * grid;
    match op {
        CmpOp::Ge if x < y => up(y),
        CmpOp::Gt if x <= y => up(y + strict),
        CmpOp::Le if x > y => down(y),
        CmpOp::Lt if x >= y => down(y - strict),
        _ => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_meet_the_comparison_on_the_grid() {
        assert_eq!(clamp_f64(5.0, CmpOp::Le, 4.123, Some(2)), 4.12);
        assert_eq!(clamp_f64(5.0, CmpOp::Lt, 5.0, Some(2)), 4.99);
        assert_eq!(clamp_f64(1.0, CmpOp::Gt, 1.0, Some(0)), 2.0);
        assert_eq!(clamp_f64(1.0, CmpOp::Ge, 1.5, Some(0)), 2.0);
        assert_eq!(clamp_f64(3.0, CmpOp::Ge, 1.5, Some(0)), 3.0);
        assert!(clamp_f64(0.0, CmpOp::Gt, 0.0, None) > 0.0);
        assert_eq!(clamp_i64(5, CmpOp::Ge, 7, DAY, 1), 7);
        assert_eq!(clamp_i64(DAY, CmpOp::Ge, DAY + 5, DAY, DAY), 2 * DAY);
        assert_eq!(clamp_i64(0, CmpOp::Gt, 10, DAY, 1), 10 + DAY);
    }
}
