//! Values computed from the row: `correlated` (another column times a random factor,
//! or plus an offset), `derived` (a copy of a column of the row or its parent, or it
//! plus days), `formula` (arithmetic over the row's columns) and `conditional` (one of
//! two branches by a test on the row).

use super::super::eval::{Eval, cast_strict, f64s, micros, texts};
use super::super::formula::Expr;
use super::super::model::{
    Branch, Condition, CorrelatedRule, DaysDist, DaysShape, Generator, Source,
};
use super::super::parse::{Gen, Parser};
use super::Strategy;
use super::temporal::DAY;
use crate::error::Result;
use crate::rng::RandomStream;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::DataType;
use serde_json::Value;
use std::sync::Arc;

pub(super) const CORRELATED: Strategy = Strategy {
    name: "correlated",
    keys: &[
        "source_column",
        "rule",
        "operation",
        "factor_min",
        "factor_max",
        "offset_min",
        "offset_max",
        "min",
        "max",
    ],
    parse: |p, at, g| p.correlated(at.table, g),
};

pub(super) const DERIVED: Strategy = Strategy {
    name: "derived",
    keys: &[
        "source",
        "via",
        "rule",
        "operation",
        "days",
        "distribution",
        "min",
        "max",
        "mean",
        "sigma",
        "std_dev",
    ],
    parse: |p, at, g| p.derived(at.table, g),
};

pub(super) const FORMULA: Strategy = Strategy {
    name: "formula",
    keys: &["expression"],
    parse: |p, at, g| p.formula(at.table, g),
};

pub(super) const CONDITIONAL: Strategy = Strategy {
    name: "conditional",
    keys: &["condition", "true_generator", "false_generator"],
    parse: |p, at, g| p.conditional(at.table, g),
};

impl Parser<'_> {
    fn correlated(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let name = self.required_text(g, "source_column")?;
        let source = self.col_ref(ti, name, &format!("{}.source_column", g.path))?;
        let rule_name = self
            .gen_text(g, "rule")
            .or_else(|| self.gen_text(g, "operation"))
            .unwrap_or("multiply");
        let num = |p: &mut Self, a: &str, b: &str, default: f64| {
            p.gen_number(g, a)
                .or_else(|| p.gen_number(g, b))
                .unwrap_or(default)
        };
        let (rule, lo, hi) = match rule_name {
            "multiply" => (
                CorrelatedRule::Multiply,
                num(self, "factor_min", "min", 0.3),
                num(self, "factor_max", "max", 0.7),
            ),
            "add" => (
                CorrelatedRule::Add,
                num(self, "offset_min", "min", 0.0),
                num(self, "offset_max", "max", 10.0),
            ),
            "subtract" => (
                CorrelatedRule::Subtract,
                num(self, "offset_min", "min", 0.0),
                num(self, "offset_max", "max", 10.0),
            ),
            other => {
                self.err(
                    format!("{}.rule", g.path),
                    format!("unknown rule '{other}'; allowed: multiply, add, subtract"),
                );
                return None;
            }
        };
        if lo > hi {
            self.err(
                g.path.clone(),
                format!("the low end {lo} is above the high end {hi}"),
            );
            return None;
        }
        Some(Generator::Correlated {
            source,
            rule,
            lo,
            hi,
        })
    }

    fn derived(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let text = self.required_text(g, "source")?;
        let at = format!("{}.source", g.path);
        let source = match text.split_once('.') {
            Some(_) => {
                let (table, column) = self.table_col_ref(text, &at)?;
                let Some(via_name) = self.gen_text(g, "via") else {
                    self.err(
                        format!("{}.via", g.path),
                        format!("missing: a parent's column ('{text}') is reached through a foreign key column of this table"),
                    );
                    return None;
                };
                let via = self.col_ref(ti, via_name, &format!("{}.via", g.path))?;
                Source::Parent { via, table, column }
            }
            None => Source::Local(self.col_ref(ti, text, &at)?),
        };
        let rule = self
            .gen_text(g, "rule")
            .or_else(|| self.gen_text(g, "operation"))
            .unwrap_or(if g.get("days").is_some() {
                "add_days"
            } else {
                "copy"
            });
        let days = match rule {
            "copy" if g.get("days").is_none() => None,
            "copy" | "add_days" => {
                let fixed = self.gen_number(g, "days");
                let min = self.gen_number(g, "min").or(fixed).unwrap_or(1.0);
                let max = self.gen_number(g, "max").or(fixed).unwrap_or(30.0);
                if min > max {
                    self.err(g.path.clone(), format!("min {min} is above max {max}"));
                    return None;
                }
                if min.abs() > 1e6 || max.abs() > 1e6 {
                    self.err(g.path.clone(), "days must be within a million");
                    return None;
                }
                let dist = match self.gen_text(g, "distribution").unwrap_or("uniform") {
                    "uniform" => DaysShape::Uniform,
                    "log_normal" => DaysShape::LogNormal {
                        mean: self.gen_number(g, "mean").unwrap_or(2.0),
                        sigma: self.gen_number(g, "sigma").unwrap_or(0.8),
                    },
                    "normal" => DaysShape::Normal {
                        mean: self.gen_number(g, "mean").unwrap_or(10.0),
                        sd: self.gen_number(g, "std_dev").unwrap_or(3.0),
                    },
                    other => {
                        self.err(
                            format!("{}.distribution", g.path),
                            format!("unknown distribution '{other}'; allowed: uniform, log_normal, normal"),
                        );
                        return None;
                    }
                };
                Some(DaysDist { dist, min, max })
            }
            other => {
                self.err(
                    format!("{}.rule", g.path),
                    format!("unknown rule '{other}'; allowed: copy, add_days"),
                );
                return None;
            }
        };
        Some(Generator::Derived { source, days })
    }

    fn formula(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let text = self.required_text(g, "expression")?;
        let names: Vec<String> = self.names[ti]
            .columns
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        match Expr::parse(text, &|n| names.iter().position(|c| c == n)) {
            Ok(e) => Some(Generator::Formula(e)),
            Err(e) => {
                let allowed = self.column_list(ti);
                self.err(
                    format!("{}.expression", g.path),
                    format!("{e}; columns: {allowed}"),
                );
                None
            }
        }
    }

    fn branch(&mut self, ti: usize, v: &Value, path: &str) -> Option<Branch> {
        let m = self.object(v, path)?;
        if let Some(fixed) = m.get("fixed") {
            self.check_keys(m, path, &["fixed"]);
            if fixed.is_object() || fixed.is_array() {
                self.err(
                    format!("{path}.fixed"),
                    "must be a number, text, boolean or null",
                );
                return None;
            }
            return Some(Branch::Fixed(fixed.clone()));
        }
        match m.get("strategy").and_then(Value::as_str) {
            Some("lookup") => {
                self.check_keys(
                    m,
                    path,
                    &["strategy", "source_table", "source_column", "via"],
                );
                let g = Gen {
                    path: path.to_string(),
                    top: m,
                    params: None,
                };
                let (via, table, column) = self.lookup_parts(ti, &g)?;
                Some(Branch::Lookup { via, table, column })
            }
            _ => {
                self.err(path, "must be {\"fixed\": value} or a lookup generator");
                None
            }
        }
    }

    fn conditional(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let text = self.required_text(g, "condition")?.trim();
        let at = format!("{}.condition", g.path);
        let upper = text.to_ascii_uppercase();
        let condition = if let Some(col) = upper.strip_suffix("IS NOT NULL") {
            let name = text[..col.len()].trim();
            Condition::IsNull {
                column: self.col_ref(ti, name, &at)?,
                negate: true,
            }
        } else if let Some(col) = upper.strip_suffix("IS NULL") {
            let name = text[..col.len()].trim();
            Condition::IsNull {
                column: self.col_ref(ti, name, &at)?,
                negate: false,
            }
        } else if let Some((col, value, negate)) = text
            .split_once("!=")
            .map(|(a, b)| (a, b, true))
            .or_else(|| text.split_once("==").map(|(a, b)| (a, b, false)))
        {
            Condition::Equals {
                column: self.col_ref(ti, col.trim(), &at)?,
                value: value.trim().trim_matches(['\'', '"']).to_string(),
                negate,
            }
        } else {
            self.err(
                at,
                format!("'{text}' is not a condition; allowed: COLUMN IS NULL, COLUMN IS NOT NULL, COLUMN == VALUE, COLUMN != VALUE"),
            );
            return None;
        };
        let branch = |p: &mut Self, key: &str| -> Option<Branch> {
            let at = format!("{}.{key}", g.path);
            match g.top.get(key) {
                Some(v) => p.branch(ti, v, &at),
                None => {
                    p.err(at, "missing");
                    None
                }
            }
        };
        let then = branch(self, "true_generator")?;
        let otherwise = branch(self, "false_generator")?;
        Some(Generator::Conditional {
            condition,
            then,
            otherwise,
        })
    }
}

/// Columns of the row a conditional reads: its test's and its lookups' keys.
pub(super) fn conditional_reads(
    condition: &Condition,
    branches: [&Branch; 2],
    out: &mut Vec<usize>,
) {
    out.push(match condition {
        Condition::IsNull { column, .. } | Condition::Equals { column, .. } => *column,
    });
    for b in branches {
        if let Branch::Lookup { via, .. } = b {
            out.push(*via);
        }
    }
}

/// Parents' columns a conditional's lookups read.
pub(super) fn lookup_reads(branches: [&Branch; 2], out: &mut Vec<(usize, usize)>) {
    for b in branches {
        if let Branch::Lookup { table, column, .. } = b {
            out.push((*table, *column));
        }
    }
}

impl Eval<'_> {
    pub(super) fn correlated(
        &mut self,
        c: usize,
        source: usize,
        rule: CorrelatedRule,
        (lo, hi): (f64, f64),
    ) -> Result<ArrayRef> {
        let src = f64s(&self.value(source)?)?;
        let s = self.stream(c);
        let v: Float64Array = self
            .rows
            .map_indexed(|i, r| {
                if src.is_null(i) {
                    return None;
                }
                let x = src.value(i);
                let f = lo + (hi - lo) * s.unit(r);
                Some(match rule {
                    CorrelatedRule::Multiply => x * f,
                    CorrelatedRule::Add => x + f,
                    CorrelatedRule::Subtract => (x - f).max(0.0),
                })
            })
            .into_iter()
            .collect();
        Ok(Arc::new(v))
    }

    pub(super) fn derived(
        &mut self,
        c: usize,
        source: &Source,
        days: Option<DaysDist>,
    ) -> Result<ArrayRef> {
        let src = match source {
            Source::Local(l) => self.value(*l)?,
            Source::Parent { via, table, column } => {
                let rows = self.fk_rows(*via)?;
                self.e.values_at(*table, *column, &rows)?
            }
        };
        let Some(d) = days else {
            return Ok(src);
        };
        let (t, s) = (micros(&src)?, self.stream(c));
        let v: TimestampMicrosecondArray = self
            .rows
            .map_indexed(|i, r| t.is_valid(i).then(|| t.value(i) + draw_days(d, s, r) * DAY))
            .into_iter()
            .collect();
        Ok(Arc::new(v))
    }

    pub(super) fn formula(&mut self, expr: &Expr) -> Result<ArrayRef> {
        let mut cols = Vec::new();
        expr.columns(&mut cols);
        cols.sort_unstable();
        cols.dedup();
        let mut inputs: Vec<(usize, Float64Array)> = Vec::new();
        for src in cols {
            inputs.push((src, f64s(&self.value(src)?)?));
        }
        let values = expr.eval_columns(self.rows.len(), &|col| {
            inputs
                .iter()
                .find(|(x, _)| *x == col)
                .map(|(_, a)| a.values().as_ref())
                .expect("an input of the formula")
        });
        // A row is null where any input is.
        let nulls = inputs
            .iter()
            .fold(None, |acc: Option<arrow_buffer::NullBuffer>, (_, a)| {
                arrow_buffer::NullBuffer::union(acc.as_ref(), a.nulls())
            });
        Ok(Arc::new(Float64Array::new(values.into(), nulls)))
    }

    pub(super) fn conditional(
        &mut self,
        ty: &DataType,
        condition: &Condition,
        then: &Branch,
        otherwise: &Branch,
    ) -> Result<ArrayRef> {
        let mask = self.condition(condition)?;
        let a = self.branch(then, ty)?;
        let b = self.branch(otherwise, ty)?;
        Ok(arrow_select::zip::zip(&mask, &a, &b)?)
    }
    fn condition(&mut self, cond: &Condition) -> Result<BooleanArray> {
        Ok(match cond {
            Condition::IsNull { column, negate } => {
                let v = self.value(*column)?;
                BooleanArray::from(
                    (0..v.len())
                        .map(|i| v.is_null(i) != *negate)
                        .collect::<Vec<_>>(),
                )
            }
            Condition::Equals {
                column,
                value,
                negate,
            } => {
                let v = self.value(*column)?;
                let numeric = value
                    .parse::<f64>()
                    .ok()
                    .filter(|_| v.data_type().is_numeric());
                let eq: Vec<bool> = match numeric {
                    Some(x) => {
                        let f = f64s(&v)?;
                        (0..f.len())
                            .map(|i| f.is_valid(i) && f.value(i) == x)
                            .collect()
                    }
                    None => {
                        let t = texts(&v)?;
                        (0..t.len())
                            .map(|i| t.is_valid(i) && t.value(i) == value)
                            .collect()
                    }
                };
                BooleanArray::from(eq.into_iter().map(|b| b != *negate).collect::<Vec<_>>())
            }
        })
    }

    fn branch(&mut self, b: &Branch, ty: &DataType) -> Result<ArrayRef> {
        let n = self.rows.len();
        let raw: ArrayRef = match b {
            Branch::Fixed(v) => match v {
                serde_json::Value::Number(x) => {
                    Arc::new(Float64Array::from(vec![x.as_f64().unwrap_or(0.0); n]))
                }
                serde_json::Value::String(x) => Arc::new(StringArray::from(vec![x.as_str(); n])),
                serde_json::Value::Bool(x) => Arc::new(BooleanArray::from(vec![*x; n])),
                _ => arrow_array::new_null_array(ty, n),
            },
            Branch::Lookup { via, table, column } => {
                let rows = self.fk_rows(*via)?;
                let v = self.e.values_at(*table, *column, &rows)?;
                if v.data_type().is_numeric() {
                    // The reference gives 0 where the key is null.
                    let f = f64s(&v)?;
                    Arc::new(
                        f.iter()
                            .map(|x| Some(x.unwrap_or(0.0)))
                            .collect::<Float64Array>(),
                    )
                } else {
                    v
                }
            }
        };
        Ok(cast_strict(&raw, ty)?)
    }
}

/// Whole days for row `r` of a derived column.
fn draw_days(d: DaysDist, s: RandomStream, r: u64) -> i64 {
    let x = match d.dist {
        DaysShape::Uniform => d.min + (d.max - d.min) * s.unit2(r, 7),
        DaysShape::LogNormal { mean, sigma } => (mean + sigma * s.fork(r).normal(7))
            .exp()
            .clamp(d.min, d.max),
        DaysShape::Normal { mean, sd } => (mean + sd * s.fork(r).normal(7)).clamp(d.min, d.max),
    };
    x.round() as i64
}
