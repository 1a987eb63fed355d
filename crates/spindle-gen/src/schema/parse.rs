//! Reads a `.spindle.json` document into a checked [`Schema`]. Every problem found is
//! reported with the path of the key at fault (`tables.order.columns.x.generator.ref`),
//! and all of them are collected, not only the first.

use super::dataset::{self, Dataset, DatasetBase, VALUE_FIELD};
use super::error::{SchemaError, SchemaErrors};
use super::formula::Expr;
use super::model::*;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The strategies the engine knows, for messages.
pub const STRATEGIES: &str = "sequence, uuid, weighted_enum, lifecycle, distribution, temporal, foreign_key, faker, pattern, reference_data, record_sample, record_field, correlated, derived, lookup, formula, computed, conditional, first_per_parent, self_referencing, self_ref_field";

/// Parses `text` (a `.spindle.json` document); datasets come from `datasets`.
///
/// # Errors
/// Every problem found, each naming its path.
pub fn parse_str(text: &str, datasets: DatasetBase) -> Result<Schema, SchemaErrors> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        SchemaErrors(vec![SchemaError {
            path: String::new(),
            message: format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        }])
    })?;
    let mut p = Parser {
        errors: Vec::new(),
        warnings: Vec::new(),
        datasets,
        names: Vec::new(),
        date_range: None,
    };
    let schema = p.document(&doc);
    if p.errors.is_empty() {
        Ok(schema.expect("a schema without errors"))
    } else {
        Err(SchemaErrors(p.errors))
    }
}

/// A table's name and its columns' names and types, known before generators are read.
struct TableNames {
    name: String,
    columns: Vec<(String, ColumnType)>,
}

struct Parser<'a> {
    errors: Vec<SchemaError>,
    warnings: Vec<String>,
    datasets: DatasetBase<'a>,
    names: Vec<TableNames>,
    /// `model.date_range` as microsecond bounds (start, exclusive end).
    date_range: Option<(i64, i64)>,
}

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

/// Parses a date (`2024-01-31`) or date and time (`2024-01-31 12:00:00`, or with `T`)
/// into microseconds since the epoch, and whether it was a date alone.
fn parse_instant(s: &str) -> Option<(i64, bool)> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let t = d.and_hms_opt(0, 0, 0)?;
        return Some((t.and_utc().timestamp_micros(), true));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some((t.and_utc().timestamp_micros(), false));
        }
    }
    None
}

/// The generator object of one column, with its optional `params` object: parameters
/// are looked up in `params` first, then beside `strategy` (both shapes are used).
struct Gen<'v> {
    path: String,
    top: &'v Map<String, Value>,
    params: Option<&'v Map<String, Value>>,
}

impl<'v> Gen<'v> {
    fn get(&self, key: &str) -> Option<(&'v Value, String)> {
        if let Some(v) = self.params.and_then(|p| p.get(key)) {
            return Some((v, format!("{}.params.{key}", self.path)));
        }
        self.top
            .get(key)
            .map(|v| (v, format!("{}.{key}", self.path)))
    }
}

impl Parser<'_> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SchemaError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.err(path, format!("must be an object, not {}", kind(other)));
                None
            }
        }
    }

    fn check_keys(&mut self, m: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in m.keys() {
            if !allowed.contains(&key.as_str()) {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                self.err(at, format!("unknown key; allowed: {}", allowed.join(", ")));
            }
        }
    }

    fn text<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.err(path, format!("must be text, not {}", kind(other)));
                None
            }
        }
    }

    fn number(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.err(path, format!("must be a number, not {}", kind(v)));
                None
            }
        }
    }

    fn count(&mut self, v: &Value, path: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n <= crate::schema::MAX_ROWS => Some(n),
            Some(n) => {
                self.err(
                    path,
                    format!(
                        "{n} is above the limit of {}",
                        crate::report::thousands(crate::schema::MAX_ROWS)
                    ),
                );
                None
            }
            None => {
                self.err(
                    path,
                    format!("must be a whole number of at least 0, not {}", kind(v)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.err(path, format!("must be true or false, not {}", kind(other)));
                None
            }
        }
    }

    fn document(&mut self, doc: &Value) -> Option<Schema> {
        let root = self.object(doc, "")?;
        self.check_keys(
            root,
            "",
            &[
                "$schema",
                "model",
                "tables",
                "relationships",
                "business_rules",
                "generation",
            ],
        );
        let empty = Map::new();
        let model = match root.get("model") {
            Some(v) => self.object(v, "model").unwrap_or(&empty),
            None => &empty,
        };
        self.check_keys(
            model,
            "model",
            &[
                "name",
                "description",
                "domain",
                "schema_mode",
                "locale",
                "seed",
                "date_range",
            ],
        );
        let field = |p: &mut Self, key: &str| -> String {
            model
                .get(key)
                .and_then(|v| p.text(v, &format!("model.{key}")))
                .unwrap_or_default()
                .to_string()
        };
        let name = match field(self, "name") {
            n if n.is_empty() => "unnamed".to_string(),
            n => n,
        };
        let description = field(self, "description");
        let domain = field(self, "domain");
        let seed = match model.get("seed") {
            Some(v) => v.as_u64().unwrap_or_else(|| {
                self.err(
                    "model.seed",
                    format!("must be a whole number of at least 0, not {}", kind(v)),
                );
                0
            }),
            None => 42,
        };
        if let Some(v) = model.get("date_range") {
            self.date_range = self.range(v, "model.date_range");
        }

        let Some(tables_v) = root.get("tables") else {
            self.err("tables", "missing: a schema needs at least one table");
            return None;
        };
        let tables_m = self.object(tables_v, "tables")?;
        if tables_m.is_empty() {
            self.err("tables", "has no tables");
        }
        // First pass: names and types, so that generators may refer to any table.
        for (tname, tv) in tables_m {
            let mut columns = Vec::new();
            if let Some(cols) = tv.get("columns").and_then(Value::as_object) {
                for (cname, cv) in cols {
                    let ty = cv
                        .get("type")
                        .and_then(Value::as_str)
                        .and_then(ColumnType::parse)
                        .unwrap_or(ColumnType::String);
                    columns.push((cname.clone(), ty));
                }
            }
            self.names.push(TableNames {
                name: tname.clone(),
                columns,
            });
        }
        let mut tables = Vec::new();
        for (ti, (tname, tv)) in tables_m.iter().enumerate() {
            tables.push(self.table(ti, tname, tv));
        }
        self.resolve_anchors(&mut tables);
        let relationships = match root.get("relationships") {
            Some(v) => self.relationships(v),
            None => Vec::new(),
        };
        let rules = match root.get("business_rules") {
            Some(v) => self.rules(v, &tables),
            None => Vec::new(),
        };
        let (scales, derived) = match root.get("generation") {
            Some(v) => self.generation(v),
            None => (Vec::new(), Vec::new()),
        };
        let years = self.date_range.map_or(1, |(start, end)| {
            let year = |micros: i64| {
                chrono::DateTime::from_timestamp_micros(micros)
                    .map_or(1970, |d| i64::from(chrono::Datelike::year(&d)))
            };
            (year(end - DAY_MICROS) - year(start) + 1).max(1) as u64
        });
        let schema = Schema {
            name,
            description,
            domain,
            seed,
            years,
            tables,
            relationships,
            rules,
            scales,
            derived,
            warnings: std::mem::take(&mut self.warnings),
        };
        self.check_references(&schema);
        Some(schema)
    }

    /// `{start, end}` as microseconds, the end date included whole.
    fn range(&mut self, v: &Value, path: &str) -> Option<(i64, i64)> {
        let m = self.object(v, path)?;
        self.check_keys(m, path, &["start", "end"]);
        let bound = |p: &mut Self, key: &str| -> Option<(i64, bool)> {
            let at = format!("{path}.{key}");
            let Some(v) = m.get(key) else {
                p.err(&at, "missing: a date such as 2024-01-31");
                return None;
            };
            let s = p.text(v, &at)?;
            let parsed = parse_instant(s);
            if parsed.is_none() {
                p.err(
                    &at,
                    format!(
                        "'{s}' is not a date (2024-01-31) or date and time (2024-01-31 12:00:00)"
                    ),
                );
            }
            parsed
        };
        let (start, _) = bound(self, "start")?;
        let (end, date_only) = bound(self, "end")?;
        let end = if date_only { end + DAY_MICROS } else { end };
        if end <= start {
            self.err(path, "end must come after start");
            return None;
        }
        Some((start, end))
    }

    fn col_type(&mut self, v: Option<&Value>, path: &str) -> ColumnType {
        let Some(v) = v else {
            return ColumnType::String;
        };
        match self.text(v, path) {
            Some(s) => ColumnType::parse(s).unwrap_or_else(|| {
                self.err(
                    path,
                    format!("unknown type '{s}'; allowed: {}", ColumnType::ALLOWED),
                );
                ColumnType::String
            }),
            None => ColumnType::String,
        }
    }

    fn table(&mut self, ti: usize, tname: &str, tv: &Value) -> Table {
        let path = format!("tables.{tname}");
        let mut table = Table {
            name: tname.to_string(),
            description: String::new(),
            columns: Vec::new(),
            primary_key: Vec::new(),
        };
        let Some(m) = self.object(tv, &path) else {
            return table;
        };
        self.check_keys(
            m,
            &path,
            &["description", "columns", "primary_key", "cdm_mapping"],
        );
        if let Some(d) = m.get("description") {
            table.description = self
                .text(d, &format!("{path}.description"))
                .unwrap_or_default()
                .to_string();
        }
        let cols_path = format!("{path}.columns");
        let Some(cols) = m.get("columns") else {
            self.err(cols_path, "missing: a table needs at least one column");
            return table;
        };
        let Some(cols) = self.object(cols, &cols_path) else {
            return table;
        };
        if cols.is_empty() {
            self.err(&cols_path, "has no columns");
        }
        for (ci, (cname, cv)) in cols.iter().enumerate() {
            let cpath = format!("{cols_path}.{cname}");
            table.columns.push(self.column(ti, ci, cname, cv, &cpath));
        }
        if let Some(pk) = m.get("primary_key") {
            let pk_path = format!("{path}.primary_key");
            let names: Vec<&str> = match pk {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                other => {
                    self.err(
                        &pk_path,
                        format!("must be a list of column names, not {}", kind(other)),
                    );
                    Vec::new()
                }
            };
            for n in names {
                match table.column_index(n) {
                    Some(i) => table.primary_key.push(i),
                    None => {
                        let allowed = self.column_list(ti);
                        self.err(&pk_path, format!("no column '{n}'; columns: {allowed}"));
                    }
                }
            }
        }
        table
    }

    fn column(&mut self, ti: usize, ci: usize, cname: &str, cv: &Value, path: &str) -> Column {
        let mut col = Column {
            name: cname.to_string(),
            ty: ColumnType::String,
            nullable: false,
            null_rate: 0.0,
            max_length: None,
            scale: None,
            generator: Generator::Null,
        };
        let Some(m) = self.object(cv, path) else {
            return col;
        };
        self.check_keys(
            m,
            path,
            &[
                "type",
                "nullable",
                "null_rate",
                "max_length",
                "precision",
                "scale",
                "generator",
                "description",
                "strategy",
            ],
        );
        if m.contains_key("strategy") {
            self.warnings.push(format!(
                "{path}.strategy: ignored; a column's strategy goes in its generator"
            ));
        }
        col.ty = self.col_type(m.get("type"), &format!("{path}.type"));
        if let Some(v) = m.get("nullable") {
            col.nullable = self
                .boolean(v, &format!("{path}.nullable"))
                .unwrap_or(false);
        }
        if let Some(v) = m.get("null_rate") {
            let at = format!("{path}.null_rate");
            if let Some(r) = self.number(v, &at) {
                if !(0.0..=1.0).contains(&r) {
                    self.err(&at, format!("{r} is not in 0..1"));
                } else {
                    col.null_rate = r;
                }
            }
        }
        if col.null_rate > 0.0 && !col.nullable {
            self.warnings.push(format!(
                "{path}.null_rate: ignored because the column is not nullable"
            ));
        }
        if let Some(v) = m.get("max_length") {
            let at = format!("{path}.max_length");
            match v.as_u64() {
                Some(n) if n > 0 => col.max_length = Some(n as usize),
                _ => self.err(at, "must be a whole number of at least 1"),
            }
        }
        if let Some(v) = m.get("precision") {
            if v.as_u64().is_none() {
                self.err(
                    format!("{path}.precision"),
                    "must be a whole number of at least 0",
                );
            }
        }
        if let Some(v) = m.get("scale") {
            match v.as_u64() {
                Some(n) if n <= 15 => col.scale = Some(n as i32),
                _ => self.err(format!("{path}.scale"), "must be a whole number in 0..15"),
            }
        }
        if let Some(g) = m.get("generator") {
            col.generator = self.generator(ti, ci, g, &format!("{path}.generator"));
        }
        col
    }

    fn column_list(&self, ti: usize) -> String {
        join(self.names[ti].columns.iter().map(|(n, _)| n.as_str()))
    }

    fn table_list(&self) -> String {
        join(self.names.iter().map(|t| t.name.as_str()))
    }

    /// A column of table `ti` by name.
    fn col_ref(&mut self, ti: usize, name: &str, path: &str) -> Option<usize> {
        let found = self.names[ti].columns.iter().position(|(n, _)| n == name);
        if found.is_none() {
            let allowed = self.column_list(ti);
            let table = self.names[ti].name.clone();
            self.err(
                path,
                format!("no column '{name}' in table '{table}'; columns: {allowed}"),
            );
        }
        found
    }

    fn table_ref(&mut self, name: &str, path: &str) -> Option<usize> {
        let found = self.names.iter().position(|t| t.name == name);
        if found.is_none() {
            let allowed = self.table_list();
            self.err(path, format!("no table '{name}'; tables: {allowed}"));
        }
        found
    }

    /// `table.column`.
    fn table_col_ref(&mut self, text: &str, path: &str) -> Option<(usize, usize)> {
        let Some((t, c)) = text.split_once('.') else {
            self.err(path, format!("'{text}' must be table.column"));
            return None;
        };
        let ti = self.table_ref(t, path)?;
        let ci = self.col_ref(ti, c, path)?;
        Some((ti, ci))
    }

    fn gen_text<'v>(&mut self, g: &Gen<'v>, key: &str) -> Option<&'v str> {
        let (v, at) = g.get(key)?;
        self.text(v, &at)
    }

    fn required_text<'v>(&mut self, g: &Gen<'v>, key: &str) -> Option<&'v str> {
        if g.get(key).is_none() {
            self.err(format!("{}.{key}", g.path), "missing");
            return None;
        }
        self.gen_text(g, key)
    }

    fn gen_number(&mut self, g: &Gen, key: &str) -> Option<f64> {
        let (v, at) = g.get(key)?;
        self.number(v, &at)
    }

    fn generator(&mut self, ti: usize, ci: usize, v: &Value, path: &str) -> Generator {
        let Some(top) = self.object(v, path) else {
            return Generator::Null;
        };
        if top.is_empty() {
            return Generator::Null;
        }
        let params = match top.get("params") {
            Some(p) => self.object(p, &format!("{path}.params")),
            None => None,
        };
        let g = Gen {
            path: path.to_string(),
            top,
            params,
        };
        let strategy = match top.get("strategy") {
            Some(s) => self.text(s, &format!("{path}.strategy")).unwrap_or(""),
            None => {
                self.err(
                    format!("{path}.strategy"),
                    format!("missing; strategies: {STRATEGIES}"),
                );
                return Generator::Null;
            }
        };
        let (allowed, generator): (&[&str], Option<Generator>) = match strategy {
            "sequence" => (&["start", "step"], self.sequence(&g)),
            "uuid" => (&[], Some(Generator::Uuid)),
            "weighted_enum" | "lifecycle" => (&["values", "phases"], self.enumeration(&g)),
            "distribution" => (
                &[
                    "distribution",
                    "mean",
                    "sigma",
                    "std",
                    "std_dev",
                    "min",
                    "max",
                    "alpha",
                    "p",
                    "lambda",
                    "probability",
                    "round",
                ],
                self.distribution(&g),
            ),
            "temporal" => (
                &[
                    "pattern",
                    "range_ref",
                    "date_range",
                    "range",
                    "start",
                    "end",
                    "month_weights",
                    "day_of_week_weights",
                    "profiles",
                ],
                self.temporal(&g),
            ),
            "foreign_key" => (
                &[
                    "ref",
                    "distribution",
                    "alpha",
                    "max_per_parent",
                    "constrained_by",
                ],
                self.foreign_key(ti, &g),
            ),
            "faker" => (&["provider"], self.faker(&g)),
            "pattern" => (&["format"], self.pattern(ti, ci, &g)),
            "reference_data" => (
                &["dataset", "field", "weight_field"],
                self.reference_data(&g),
            ),
            "record_sample" => (
                &["dataset", "field", "unique", "weight_field"],
                self.record_sample(&g),
            ),
            "record_field" => (&["dataset", "field"], self.record_field(&g)),
            "correlated" => (
                &[
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
                self.correlated(ti, &g),
            ),
            "derived" => (
                &[
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
                self.derived(ti, &g),
            ),
            "lookup" => (
                &["source_table", "source_column", "via"],
                self.lookup(ti, &g),
            ),
            "formula" => (&["expression"], self.formula(ti, &g)),
            "computed" => (&["rule", "child_table", "child_column"], self.computed(&g)),
            "conditional" => (
                &["condition", "true_generator", "false_generator"],
                self.conditional(ti, &g),
            ),
            "first_per_parent" => (&["parent_column", "default"], self.first_per_parent(ti, &g)),
            "self_referencing" => (
                &["pk_column", "levels", "max_depth", "root_count"],
                self.self_referencing(ti, &g),
            ),
            "self_ref_field" => (&["field"], self.self_ref_field(&g)),
            "" => return Generator::Null,
            other => {
                self.err(
                    format!("{path}.strategy"),
                    format!("unknown strategy '{other}'; strategies: {STRATEGIES}"),
                );
                return Generator::Null;
            }
        };
        let mut all: Vec<&str> = vec!["strategy", "params", "description"];
        all.extend_from_slice(allowed);
        self.check_keys(top, path, &all);
        if let Some(p) = params {
            self.check_keys(p, &format!("{path}.params"), allowed);
        }
        generator.unwrap_or(Generator::Null)
    }

    fn sequence(&mut self, g: &Gen) -> Option<Generator> {
        let int = |p: &mut Self, key: &str, default: i64| -> Option<i64> {
            match g.get(key) {
                None => Some(default),
                Some((v, at)) => v.as_i64().or_else(|| {
                    p.err(at, format!("must be a whole number, not {}", kind(v)));
                    None
                }),
            }
        };
        let start = int(self, "start", 1)?;
        let step = int(self, "step", 1)?;
        if step == 0 {
            self.err(format!("{}.step", g.path), "must not be 0");
            return None;
        }
        Some(Generator::Sequence { start, step })
    }

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

    fn distribution(&mut self, g: &Gen) -> Option<Generator> {
        let name = self.gen_text(g, "distribution").unwrap_or("uniform");
        let num = |p: &mut Self, key: &str| p.gen_number(g, key);
        let min = num(self, "min");
        let max = num(self, "max");
        let positive = |p: &mut Self, key: &str, v: f64| -> Option<f64> {
            if v > 0.0 {
                Some(v)
            } else {
                p.err(
                    format!("{}.{key}", g.path),
                    format!("must be above 0, not {v}"),
                );
                None
            }
        };
        let dist = match name {
            "uniform" => Dist::Uniform {
                min: min.unwrap_or(0.0),
                max: max.unwrap_or(1.0),
            },
            "normal" => {
                let sd = num(self, "std_dev")
                    .or_else(|| num(self, "sigma"))
                    .or_else(|| num(self, "std"))
                    .unwrap_or(1.0);
                Dist::Normal {
                    mean: num(self, "mean").unwrap_or(0.0),
                    sd: if sd >= 0.0 {
                        sd
                    } else {
                        positive(self, "sigma", sd)?
                    },
                }
            }
            "log_normal" | "lognormal" => {
                let sigma = num(self, "sigma")
                    .or_else(|| num(self, "std"))
                    .unwrap_or(1.0);
                Dist::LogNormal {
                    mean: num(self, "mean").unwrap_or(0.0),
                    sigma: if sigma >= 0.0 {
                        sigma
                    } else {
                        positive(self, "sigma", sigma)?
                    },
                }
            }
            "pareto" => {
                let alpha = num(self, "alpha").unwrap_or(1.5);
                Dist::Pareto {
                    alpha: positive(self, "alpha", alpha)?,
                    min: min.unwrap_or(1.0),
                }
            }
            "zipf" => {
                let alpha = num(self, "alpha").unwrap_or(1.5);
                if alpha <= 1.0 {
                    self.err(
                        format!("{}.alpha", g.path),
                        format!("must be above 1 for zipf, not {alpha}"),
                    );
                    return None;
                }
                let max = max.unwrap_or(1000.0);
                if max < 1.0 {
                    self.err(format!("{}.max", g.path), "must be at least 1 for zipf");
                    return None;
                }
                Dist::Zipf {
                    alpha,
                    max: max as u64,
                }
            }
            "geometric" => {
                let p = num(self, "p").unwrap_or(0.5);
                if !(p > 0.0 && p <= 1.0) {
                    self.err(format!("{}.p", g.path), format!("{p} is not in (0, 1]"));
                    return None;
                }
                Dist::Geometric { p }
            }
            "poisson" => {
                let lambda = num(self, "lambda").unwrap_or(5.0);
                if !(0.0..=1e9).contains(&lambda) {
                    self.err(
                        format!("{}.lambda", g.path),
                        format!("{lambda} is not in 0..1e9"),
                    );
                    return None;
                }
                Dist::Poisson { lambda }
            }
            "bernoulli" => {
                let p = num(self, "probability").unwrap_or(0.5);
                if !(0.0..=1.0).contains(&p) {
                    self.err(
                        format!("{}.probability", g.path),
                        format!("{p} is not in 0..1"),
                    );
                    return None;
                }
                Dist::Bernoulli { p }
            }
            other => {
                self.err(
                    format!("{}.distribution", g.path),
                    format!("unknown distribution '{other}'; allowed: uniform, normal, log_normal, pareto, zipf, geometric, poisson, bernoulli"),
                );
                return None;
            }
        };
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                self.err(format!("{}.min", g.path), format!("{lo} is above max {hi}"));
                return None;
            }
        }
        let round = match g.get("round") {
            None => None,
            Some((v, at)) => match v.as_u64() {
                Some(n) if n <= 15 => Some(n as i32),
                _ => {
                    self.err(at, "must be a whole number in 0..15");
                    return None;
                }
            },
        };
        Some(Generator::Distribution {
            dist,
            min,
            max,
            round,
        })
    }

    fn weights<const N: usize>(
        &mut self,
        v: &Value,
        path: &str,
        names: [&str; N],
    ) -> Option<[f64; N]> {
        let m = self.object(v, path)?;
        let base = 1.0 / N as f64;
        let mut out = [base; N];
        for (key, w) in m {
            let at = format!("{path}.{key}");
            match names.iter().position(|n| n.eq_ignore_ascii_case(key)) {
                Some(i) => {
                    let w = self.number(w, &at)?;
                    if w < 0.0 {
                        self.err(at, "a weight must be at least 0");
                        return None;
                    }
                    out[i] = w;
                }
                None => self.err(at, format!("unknown key; allowed: {}", names.join(", "))),
            }
        }
        if out.iter().sum::<f64>() <= 0.0 {
            self.err(path, "the weights sum to 0");
            return None;
        }
        Some(out)
    }

    fn temporal(&mut self, g: &Gen) -> Option<Generator> {
        let pattern_name = self.gen_text(g, "pattern").unwrap_or("uniform");
        let (start, end) = if let Some((v, at)) = g.get("range_ref") {
            let r = self.text(v, &at)?;
            if r != "model.date_range" {
                self.err(
                    at,
                    format!("'{r}' is not a range; allowed: model.date_range"),
                );
                return None;
            }
            match self.date_range {
                Some(range) => range,
                None => {
                    self.err(at, "the model has no date_range");
                    return None;
                }
            }
        } else if let Some((v, at)) = g.get("date_range").or_else(|| g.get("range")) {
            self.range(v, &at)?
        } else {
            let bound = |p: &mut Self, key: &str, default: &str| -> Option<(i64, bool)> {
                let (s, at) = match g.get(key) {
                    Some((v, at)) => (p.text(v, &at)?, at),
                    None => (default, String::new()),
                };
                let parsed = parse_instant(s);
                if parsed.is_none() {
                    p.err(
                        at,
                        format!("'{s}' is not a date (2024-01-31) or date and time"),
                    );
                }
                parsed
            };
            let (start, _) = bound(self, "start", "2022-01-01")?;
            let (end, date_only) = bound(self, "end", "2025-12-31")?;
            let end = if date_only { end + DAY_MICROS } else { end };
            if end <= start {
                self.err(format!("{}.end", g.path), "must come after start");
                return None;
            }
            (start, end)
        };
        let pattern = match pattern_name {
            "uniform" => TemporalPattern::Uniform,
            "trading_days" => TemporalPattern::TradingDays,
            "seasonal" => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let profiles = match g.get("profiles") {
                    Some((v, at)) => {
                        let m = self.object(v, &at)?;
                        self.check_keys(m, &at, &["month", "day_of_week", "hour_of_day"]);
                        Some((m, at))
                    }
                    None => None,
                };
                let pick = |key: &str, top: &str| -> Option<(&Value, String)> {
                    profiles
                        .as_ref()
                        .and_then(|(m, at)| m.get(key).map(|v| (v, format!("{at}.{key}"))))
                        .or_else(|| g.get(top))
                };
                let month = match pick("month", "month_weights") {
                    Some((v, at)) => self.weights(v, &at, MONTHS)?,
                    None => [1.0 / 12.0; 12],
                };
                let weekday = match pick("day_of_week", "day_of_week_weights") {
                    Some((v, at)) => self.weights(v, &at, DAYS)?,
                    None => [1.0 / 7.0; 7],
                };
                let hours = match pick("hour_of_day", "hour_of_day") {
                    Some((v, at)) => self.hours(v, &at)?,
                    None => HourProfile::Uniform,
                };
                TemporalPattern::Seasonal {
                    month,
                    weekday,
                    hours,
                }
            }
            other => {
                self.err(
                    format!("{}.pattern", g.path),
                    format!("unknown pattern '{other}'; allowed: uniform, seasonal, trading_days"),
                );
                return None;
            }
        };
        Some(Generator::Temporal {
            pattern,
            start,
            end,
        })
    }

    fn hours(&mut self, v: &Value, path: &str) -> Option<HourProfile> {
        let m = self.object(v, path)?;
        self.check_keys(m, path, &["distribution", "peaks", "std_dev"]);
        match m.get("distribution").and_then(Value::as_str) {
            Some("bimodal") => {
                let peaks: Vec<f64> = match m.get("peaks") {
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
                    Some(_) => {
                        self.err(format!("{path}.peaks"), "must be a list of hours");
                        return None;
                    }
                    None => vec![12.0, 18.0],
                };
                if peaks.is_empty() {
                    self.err(format!("{path}.peaks"), "has no hours");
                    return None;
                }
                let sd = match m.get("std_dev") {
                    Some(v) => self.number(v, &format!("{path}.std_dev"))?,
                    None => 2.0,
                };
                Some(HourProfile::Peaks { peaks, sd })
            }
            Some("uniform") | None => Some(HourProfile::Uniform),
            Some(other) => {
                self.err(
                    format!("{path}.distribution"),
                    format!("unknown hour profile '{other}'; allowed: bimodal, uniform"),
                );
                None
            }
        }
    }

    fn foreign_key(&mut self, ti: usize, g: &Gen) -> Option<Generator> {
        let r = self.required_text(g, "ref")?;
        let (table, column) = self.table_col_ref(r, &format!("{}.ref", g.path))?;
        let name = self.gen_text(g, "distribution").unwrap_or("uniform");
        let alpha = self.gen_number(g, "alpha");
        let pick = match name {
            "uniform" => FkPick::Uniform,
            "zipf" => {
                let a = alpha.unwrap_or(1.5);
                if a <= 0.0 {
                    self.err(format!("{}.alpha", g.path), "must be above 0");
                    return None;
                }
                FkPick::Zipf(a)
            }
            "pareto" => {
                let a = alpha.unwrap_or(1.2);
                if a <= 0.0 {
                    self.err(format!("{}.alpha", g.path), "must be above 0");
                    return None;
                }
                FkPick::Pareto(a)
            }
            other => {
                self.err(
                    format!("{}.distribution", g.path),
                    format!("unknown distribution '{other}'; allowed: uniform, zipf, pareto"),
                );
                return None;
            }
        };
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

    fn faker(&mut self, g: &Gen) -> Option<Generator> {
        let name = self.gen_text(g, "provider").unwrap_or("word");
        match Provider::parse(name) {
            Some(p) => Some(Generator::Faker(p)),
            None => {
                self.err(
                    format!("{}.provider", g.path),
                    format!(
                        "unknown provider '{name}'; providers: {}",
                        Provider::ALLOWED
                    ),
                );
                None
            }
        }
    }

    fn pattern(&mut self, ti: usize, ci: usize, g: &Gen) -> Option<Generator> {
        let format = self.required_text(g, "format")?;
        let at = format!("{}.format", g.path);
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            let token = &rest[open + 1..close];
            let (name, width) = match token.split_once(':') {
                Some((n, w)) => (n, w.parse::<usize>().ok()),
                None => (token, Some(0)),
            };
            let valid_name =
                !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            let Some(width) = width.filter(|_| valid_name) else {
                // Not a token: kept as text, as the reference does.
                parts.push(PatternPart::Literal(rest[..=open].to_string()));
                rest = &rest[open + 1..];
                continue;
            };
            if width > 64 {
                self.err(&at, format!("width {width} of '{{{token}}}' is above 64"));
                return None;
            }
            if open > 0 {
                parts.push(PatternPart::Literal(rest[..open].to_string()));
            }
            parts.push(match name {
                "seq" => PatternPart::Seq(width),
                "random" => PatternPart::Random(if width == 0 { 4 } else { width }),
                col => {
                    let c = self.col_ref(ti, col, &at)?;
                    if c == ci {
                        self.err(&at, format!("'{{{token}}}' refers to the column itself"));
                        return None;
                    }
                    PatternPart::Column(c, width)
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(PatternPart::Literal(rest.to_string()));
        }
        // Merge neighbouring literals.
        let mut merged: Vec<PatternPart> = Vec::new();
        for p in parts {
            match (merged.last_mut(), p) {
                (Some(PatternPart::Literal(a)), PatternPart::Literal(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        Some(Generator::Pattern(merged))
    }

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

    fn dataset_weights(&mut self, g: &Gen, d: &Dataset) -> Option<Option<Vec<f64>>> {
        let Some(name) = self.gen_text(g, "weight_field") else {
            return Some(None);
        };
        let at = format!("{}.weight_field", g.path);
        let Some(f) = d.field(name) else {
            self.err(
                at,
                format!(
                    "no field '{name}' in dataset '{}'; fields: {}",
                    d.name,
                    d.field_names()
                ),
            );
            return None;
        };
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
                        self.err(
                            at,
                            format!(
                                "no field '{name}' in dataset '{}'; fields: {}",
                                d.name,
                                d.field_names()
                            ),
                        );
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
        let Some(field) = d.field(name) else {
            self.err(
                format!("{}.field", g.path),
                format!(
                    "no field '{name}' in dataset '{}'; fields: {}",
                    d.name,
                    d.field_names()
                ),
            );
            return None;
        };
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
        let Some(field) = d.field(field_name) else {
            self.err(
                format!("{}.field", g.path),
                format!(
                    "no field '{field_name}' in dataset '{}'; fields: {}",
                    d.name,
                    d.field_names()
                ),
            );
            return None;
        };
        // The anchor is found once every column is known (`resolve_anchors`).
        Some(Generator::RecordField {
            dataset: d,
            anchor: usize::MAX,
            field,
        })
    }

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

    /// `source_table`, `source_column`, `via` of a lookup (also a conditional branch's).
    fn lookup_parts(&mut self, ti: usize, g: &Gen) -> Option<(usize, usize, usize)> {
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

    fn relationships(&mut self, v: &Value) -> Vec<Relationship> {
        let Value::Array(items) = v else {
            self.err("relationships", format!("must be a list, not {}", kind(v)));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("relationships.{i}");
            let Some(m) = self.object(item, &path) else {
                continue;
            };
            self.check_keys(
                m,
                &path,
                &[
                    "name",
                    "parent",
                    "child",
                    "parent_table",
                    "child_table",
                    "parent_columns",
                    "child_columns",
                    "parent_key",
                    "child_key",
                    "type",
                    "cardinality",
                    "optional",
                    "description",
                ],
            );
            let get = |a: &str, b: &str| {
                m.get(a)
                    .or_else(|| m.get(b))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            let (parent, child) = (get("parent", "parent_table"), get("child", "child_table"));
            for (name, key) in [(parent, "parent"), (child, "child")] {
                self.table_ref(name, &format!("{path}.{key}"));
            }
            out.push(Relationship {
                name: get("name", "name").to_string(),
                parent: parent.to_string(),
                child: child.to_string(),
                kind: m
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("one_to_many")
                    .to_string(),
            });
        }
        out
    }

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

    fn rules(&mut self, v: &Value, tables: &[Table]) -> Vec<Rule> {
        let Value::Array(items) = v else {
            self.err("business_rules", format!("must be a list, not {}", kind(v)));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("business_rules.{i}");
            let Some(m) = self.object(item, &path) else {
                continue;
            };
            if let Some(rule) = self.rule(m, &path, tables) {
                out.push(rule);
            }
        }
        out
    }

    fn rule(&mut self, m: &Map<String, Value>, path: &str, tables: &[Table]) -> Option<Rule> {
        let s = |key: &str| m.get(key).and_then(Value::as_str);
        let name = s("name").unwrap_or("").to_string();
        let kind_name = s("type").unwrap_or("constraint");
        let table_of = |p: &mut Self, key: &str| -> Option<usize> {
            let at = format!("{path}.{key}");
            match s(key) {
                Some(t) => p.table_ref(t, &at),
                None => {
                    p.err(at, "missing");
                    None
                }
            }
        };
        match kind_name {
            "constraint" | "cross_column" => {
                self.check_keys(m, path, &["name", "type", "table", "rule", "description"]);
                let table = table_of(self, "table")?;
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
                let table = table_of(self, "table")?;
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
            "cross_table" => {
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
                let (table, column, op, other_table, other_column, via) = if let Some(via) =
                    fk_to(lt, rt)
                {
                    (lt, lc, op, rt, rc, via)
                } else if let Some(via) = fk_to(rt, lt) {
                    (rt, rc, op.mirrored(), lt, lc, via)
                } else {
                    self.err(
                        format!("{path}.via"),
                        format!("neither '{}' nor '{}' has a foreign key column '{via_name}' to the other", self.names[lt].name, self.names[rt].name),
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
            "temporal_order" => {
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
                let later =
                    self.col_ref(table, s("later").unwrap_or(""), &format!("{path}.later"))?;
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
            other => {
                self.err(
                    format!("{path}.type"),
                    format!("unknown rule type '{other}'; allowed: constraint, cross_column, column_comparison, cross_table, temporal_order"),
                );
                None
            }
        }
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

    fn generation(&mut self, v: &Value) -> (Scales, Vec<(usize, DerivedCount)>) {
        let mut scales = Vec::new();
        let mut derived = Vec::new();
        let Some(m) = self.object(v, "generation") else {
            return (scales, derived);
        };
        self.check_keys(
            m,
            "generation",
            &["scale", "scales", "derived_counts", "output"],
        );
        if let Some(sv) = m.get("scales") {
            if let Some(sm) = self.object(sv, "generation.scales") {
                for (scale, counts) in sm {
                    let path = format!("generation.scales.{scale}");
                    let Some(cm) = self.object(counts, &path) else {
                        continue;
                    };
                    let mut rows = Vec::new();
                    for (table, n) in cm {
                        let at = format!("{path}.{table}");
                        match self.names.iter().position(|t| &t.name == table) {
                            Some(ti) => {
                                if let Some(n) = self.count(n, &at) {
                                    rows.push((ti, n));
                                }
                            }
                            None => self
                                .warnings
                                .push(format!("{at}: ignored: no table '{table}'")),
                        }
                    }
                    scales.push((scale.clone(), rows));
                }
            }
        }
        if let Some(dv) = m.get("derived_counts") {
            if let Some(dm) = self.object(dv, "generation.derived_counts") {
                for (table, spec) in dm {
                    let path = format!("generation.derived_counts.{table}");
                    let Some(ti) = self.table_ref(table, &path) else {
                        continue;
                    };
                    let Some(sm) = self.object(spec, &path) else {
                        continue;
                    };
                    self.check_keys(
                        sm,
                        &path,
                        &[
                            "fixed",
                            "per_parent",
                            "ratio",
                            "mean",
                            "per_year",
                            "description",
                        ],
                    );
                    let count = if let Some(n) = sm.get("fixed") {
                        self.count(n, &format!("{path}.fixed"))
                            .map(DerivedCount::Fixed)
                    } else if let Some(p) = sm.get("per_parent") {
                        let at = format!("{path}.per_parent");
                        let parent = self.text(p, &at).and_then(|p| {
                            let name = p.to_string();
                            self.table_ref(&name, &at)
                        });
                        let ratio = match sm.get("ratio").or_else(|| sm.get("mean")) {
                            Some(r) => self.number(r, &format!("{path}.ratio")),
                            None => Some(1.0),
                        };
                        match (parent, ratio) {
                            (Some(parent), Some(ratio)) if (0.0..=1e6).contains(&ratio) => {
                                Some(DerivedCount::PerParent { parent, ratio })
                            }
                            (Some(_), Some(ratio)) => {
                                self.err(
                                    format!("{path}.ratio"),
                                    format!("{ratio} is not in 0..1,000,000"),
                                );
                                None
                            }
                            _ => None,
                        }
                    } else if let Some(n) = sm.get("per_year") {
                        if self.date_range.is_none() {
                            self.err(format!("{path}.per_year"), "needs model.date_range");
                        }
                        self.count(n, &format!("{path}.per_year"))
                            .map(DerivedCount::PerYear)
                    } else {
                        self.err(
                            &path,
                            "must have fixed, per_parent (with ratio) or per_year",
                        );
                        None
                    };
                    if let Some(c) = count {
                        derived.push((ti, c));
                    }
                }
            }
        }
        (scales, derived)
    }

    /// Points `record_field` columns at their table's `record_sample` column of the same
    /// dataset, and `self_ref_field` columns at their table's `self_referencing` one.
    fn resolve_anchors(&mut self, tables: &mut [Table]) {
        for t in tables.iter_mut() {
            let samples: Vec<(usize, Arc<Dataset>)> = t
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match &c.generator {
                    Generator::RecordSample { dataset, .. } => Some((i, dataset.clone())),
                    _ => None,
                })
                .collect();
            let self_ref = t
                .columns
                .iter()
                .position(|c| matches!(c.generator, Generator::SelfReferencing { .. }));
            for c in &mut t.columns {
                let path = format!("tables.{}.columns.{}.generator", t.name, c.name);
                match &mut c.generator {
                    Generator::RecordField { dataset, anchor, .. } => {
                        match samples.iter().find(|(_, d)| Arc::ptr_eq(d, dataset)) {
                            Some((i, _)) => *anchor = *i,
                            None => self.err(
                                format!("{path}.dataset"),
                                format!("no record_sample column of dataset '{}' in table '{}' to read the record from", dataset.name, t.name),
                            ),
                        }
                    }
                    Generator::SelfRefLevel { anchor } => match self_ref {
                        Some(i) => *anchor = i,
                        None => self.err(path, format!("no self_referencing column in table '{}'", t.name)),
                    },
                    _ => {}
                }
            }
        }
    }

    /// Checks what needs every column's generator: foreign keys reached through
    /// `via`, record and level anchors.
    fn check_references(&mut self, schema: &Schema) {
        for t in &schema.tables {
            for (ci, c) in t.columns.iter().enumerate() {
                let path = format!("tables.{}.columns.{}.generator", t.name, c.name);
                let ti = schema.table_index(&t.name).expect("own table");
                let fk_target = |via: usize| match t.columns[via].generator {
                    Generator::ForeignKey { table, .. } => Some(table),
                    _ => None,
                };
                let key_target = |via: usize| schema.key_target(ti, via);
                let check_via = |p: &mut Self, via: usize, table: usize| {
                    if key_target(via) != Some(table) {
                        p.err(
                            format!("{path}.via"),
                            format!(
                                "'{}' is not a foreign key to '{}'",
                                t.columns[via].name, schema.tables[table].name
                            ),
                        );
                    }
                };
                match &c.generator {
                    Generator::Lookup { via, table, .. }
                    | Generator::Derived {
                        source: Source::Parent { via, table, .. },
                        ..
                    } => check_via(self, *via, *table),
                    Generator::Conditional {
                        then, otherwise, ..
                    } => {
                        for b in [then, otherwise] {
                            if let Branch::Lookup { via, table, .. } = b {
                                check_via(self, *via, *table);
                            }
                        }
                    }
                    Generator::FirstPerParent { parent_column, .. }
                        if fk_target(*parent_column).is_none() =>
                    {
                        self.err(
                            format!("{path}.parent_column"),
                            format!("'{}' is not a foreign key", t.columns[*parent_column].name),
                        );
                    }
                    Generator::ForeignKey {
                        constrained_by: Some(by),
                        ..
                    } if fk_target(*by).is_none() => {
                        self.err(
                            format!("{path}.constrained_by"),
                            format!("'{}' is not a foreign key", t.columns[*by].name),
                        );
                    }
                    Generator::ForeignKey { table, column, .. }
                        if schema.tables[*table].name == t.name && *column == ci =>
                    {
                        self.err(format!("{path}.ref"), "refers to the column itself");
                    }
                    Generator::SelfReferencing { pk_column, .. } if *pk_column == ci => {
                        self.err(format!("{path}.pk_column"), "refers to the column itself");
                    }
                    _ => {}
                }
            }
        }
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
