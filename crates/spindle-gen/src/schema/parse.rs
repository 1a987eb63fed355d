//! Reads a `.spindle.json` document into a checked [`Schema`]. Every problem found is
//! reported with the path of the key at fault (`tables.order.columns.x.generator.ref`),
//! and all of them are collected, not only the first.

use super::dataset::{Dataset, DatasetBase};
use super::error::{SchemaError, SchemaErrors};
use super::model::*;
use super::strategy::{self, DAY, Site};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};
use std::sync::Arc;

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
pub(super) struct TableNames {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
}

pub(super) struct Parser<'a> {
    errors: Vec<SchemaError>,
    warnings: Vec<String>,
    pub datasets: DatasetBase<'a>,
    pub names: Vec<TableNames>,
    /// `model.date_range` as microsecond bounds (start, exclusive end).
    pub date_range: Option<(i64, i64)>,
}

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Parses a date (`2024-01-31`) or date and time (`2024-01-31 12:00:00`, or with `T`)
/// into microseconds since the epoch, and whether it was a date alone.
pub(super) fn parse_instant(s: &str) -> Option<(i64, bool)> {
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
pub(super) struct Gen<'v> {
    pub path: String,
    pub top: &'v Map<String, Value>,
    pub params: Option<&'v Map<String, Value>>,
}

impl<'v> Gen<'v> {
    pub fn get(&self, key: &str) -> Option<(&'v Value, String)> {
        if let Some(v) = self.params.and_then(|p| p.get(key)) {
            return Some((v, format!("{}.params.{key}", self.path)));
        }
        self.top
            .get(key)
            .map(|v| (v, format!("{}.{key}", self.path)))
    }
}

impl Parser<'_> {
    pub(super) fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SchemaError {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(super) fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.err(path, format!("must be an object, not {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn check_keys(&mut self, m: &Map<String, Value>, path: &str, allowed: &[&str]) {
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

    pub(super) fn text<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.err(path, format!("must be text, not {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn number(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.err(path, format!("must be a number, not {}", kind(v)));
                None
            }
        }
    }

    pub(super) fn count(&mut self, v: &Value, path: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n <= MAX_ROWS => Some(n),
            Some(n) => {
                self.err(
                    path,
                    format!(
                        "{n} is above the limit of {}",
                        crate::report::thousands(MAX_ROWS)
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

    pub(super) fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
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
        let (name, description, domain, seed) = self.model(root);
        let mut tables = self.tables(root)?;
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
            (year(end - DAY) - year(start) + 1).max(1) as u64
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

    /// The `model` object: name, description, domain and seed; its date range is kept
    /// for the temporal columns that refer to it.
    fn model(&mut self, root: &Map<String, Value>) -> (String, String, String, u64) {
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
        (name, description, domain, seed)
    }

    /// The tables, each column's generator free to refer to any table.
    fn tables(&mut self, root: &Map<String, Value>) -> Option<Vec<Table>> {
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
        Some(
            tables_m
                .iter()
                .enumerate()
                .map(|(ti, (tname, tv))| self.table(ti, tname, tv))
                .collect(),
        )
    }

    /// `{start, end}` as microseconds, the end date included whole.
    pub(super) fn range(&mut self, v: &Value, path: &str) -> Option<(i64, i64)> {
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
        let end = if date_only { end + DAY } else { end };
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

    pub(super) fn column_list(&self, ti: usize) -> String {
        join(self.names[ti].columns.iter().map(|(n, _)| n.as_str()))
    }

    fn table_list(&self) -> String {
        join(self.names.iter().map(|t| t.name.as_str()))
    }

    /// A column of table `ti` by name.
    pub(super) fn col_ref(&mut self, ti: usize, name: &str, path: &str) -> Option<usize> {
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

    pub(super) fn table_ref(&mut self, name: &str, path: &str) -> Option<usize> {
        let found = self.names.iter().position(|t| t.name == name);
        if found.is_none() {
            let allowed = self.table_list();
            self.err(path, format!("no table '{name}'; tables: {allowed}"));
        }
        found
    }

    /// `table.column`.
    pub(super) fn table_col_ref(&mut self, text: &str, path: &str) -> Option<(usize, usize)> {
        let Some((t, c)) = text.split_once('.') else {
            self.err(path, format!("'{text}' must be table.column"));
            return None;
        };
        let ti = self.table_ref(t, path)?;
        let ci = self.col_ref(ti, c, path)?;
        Some((ti, ci))
    }

    pub(super) fn gen_text<'v>(&mut self, g: &Gen<'v>, key: &str) -> Option<&'v str> {
        let (v, at) = g.get(key)?;
        self.text(v, &at)
    }

    pub(super) fn required_text<'v>(&mut self, g: &Gen<'v>, key: &str) -> Option<&'v str> {
        if g.get(key).is_none() {
            self.err(format!("{}.{key}", g.path), "missing");
            return None;
        }
        self.gen_text(g, key)
    }

    pub(super) fn gen_number(&mut self, g: &Gen, key: &str) -> Option<f64> {
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
        let name = match top.get("strategy") {
            Some(s) => self.text(s, &format!("{path}.strategy")).unwrap_or(""),
            None => {
                self.err(
                    format!("{path}.strategy"),
                    format!("missing; strategies: {}", strategy::names()),
                );
                return Generator::Null;
            }
        };
        if name.is_empty() {
            return Generator::Null;
        }
        let Some(found) = strategy::named(name) else {
            self.err(
                format!("{path}.strategy"),
                format!(
                    "unknown strategy '{name}'; strategies: {}",
                    strategy::names()
                ),
            );
            return Generator::Null;
        };
        let site = Site {
            table: ti,
            column: ci,
        };
        let generator = (found.parse)(self, site, &g);
        let mut all: Vec<&str> = vec!["strategy", "params", "description"];
        all.extend_from_slice(found.keys);
        self.check_keys(top, path, &all);
        if let Some(p) = params {
            self.check_keys(p, &format!("{path}.params"), found.keys);
        }
        generator.unwrap_or(Generator::Null)
    }

    /// The objects of list `v` at `path`, each with its path (an error for anything
    /// else).
    pub(super) fn objects<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
    ) -> Vec<(String, &'v Map<String, Value>)> {
        let Value::Array(items) = v else {
            self.err(path, format!("must be a list, not {}", kind(v)));
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let at = format!("{path}.{i}");
                self.object(item, &at).map(|m| (at, m))
            })
            .collect()
    }

    fn relationships(&mut self, v: &Value) -> Vec<Relationship> {
        let mut out = Vec::new();
        for (path, m) in self.objects(v, "relationships") {
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

    fn generation(&mut self, v: &Value) -> (Scales, Vec<(usize, DerivedCount)>) {
        let (mut scales, mut derived) = (Vec::new(), Vec::new());
        let Some(m) = self.object(v, "generation") else {
            return (scales, derived);
        };
        self.check_keys(
            m,
            "generation",
            &["scale", "scales", "derived_counts", "output"],
        );
        if let Some(sv) = m.get("scales") {
            scales = self.scales(sv);
        }
        if let Some(dv) = m.get("derived_counts") {
            derived = self.derived_counts(dv);
        }
        (scales, derived)
    }

    /// `generation.scales`: per scale, the tables' row counts.
    fn scales(&mut self, sv: &Value) -> Scales {
        let mut scales = Vec::new();
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
        scales
    }

    /// `generation.derived_counts`: tables whose count follows from others'.
    fn derived_counts(&mut self, dv: &Value) -> Vec<(usize, DerivedCount)> {
        let mut derived = Vec::new();
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
                let count = self.derived_count(sm, &path);
                if let Some(c) = count {
                    derived.push((ti, c));
                }
            }
        }
        derived
    }

    /// One table's derived count: `fixed`, `per_parent` (with `ratio`) or `per_year`.
    fn derived_count(&mut self, sm: &Map<String, Value>, path: &str) -> Option<DerivedCount> {
        if let Some(n) = sm.get("fixed") {
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
            self.err(path, "must have fixed, per_parent (with ratio) or per_year");
            None
        }
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
