//! Reference datasets of a schema: JSON files in `reference_data/` beside the schema
//! (a list of values, or a list of records), and the built-in `us_zip_locations`.

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, Float64Array};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// A dataset: its records as columns.
#[derive(Debug)]
pub struct Dataset {
    /// The dataset's name (its file name without `.json`).
    pub name: String,
    /// How many records it has.
    pub len: usize,
    /// One typed array per field, in the order fields first appear.
    pub fields: Vec<(String, ArrayRef)>,
    /// The records as read, for fields inside nested lists (`industries.industry_name`).
    raw: Vec<Value>,
}

/// The name of the single field of a dataset that is a list of plain values.
pub const VALUE_FIELD: &str = "value";

/// Datasets that ship with Spindle rather than beside a schema.
pub const BUILT_IN: &[&str] = &["us_zip_locations"];

impl Dataset {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| n == name)
    }

    /// The field names, for messages.
    pub fn field_names(&self) -> String {
        self.fields
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every value of `outer.inner` over the records' nested lists, as a dataset of
    /// one field, or `None` when no record has such a list.
    pub fn flattened(&self, path: &str) -> Option<Dataset> {
        let (outer, inner) = path.split_once('.')?;
        let mut values = Vec::new();
        for record in &self.raw {
            if let Some(Value::Array(items)) = record.get(outer) {
                for item in items {
                    if let Some(v) = item.get(inner) {
                        values.push(v.clone());
                    }
                }
            }
        }
        if values.is_empty() {
            return None;
        }
        Some(Dataset {
            name: format!("{}.{path}", self.name),
            len: values.len(),
            fields: vec![(VALUE_FIELD.to_string(), typed_array(&values))],
            raw: Vec::new(),
        })
    }

    /// Builds a dataset from parsed JSON: a list of values or a list of records.
    ///
    /// # Errors
    /// A document that is not a non-empty list of values or of objects.
    pub fn from_json(name: &str, doc: Value) -> Result<Dataset, String> {
        let Value::Array(items) = doc else {
            return Err("must be a JSON list of values or of objects".into());
        };
        if items.is_empty() {
            return Err("is an empty list".into());
        }
        let fields = if items.iter().all(Value::is_object) {
            let mut names: Vec<String> = Vec::new();
            for item in &items {
                for key in item.as_object().expect("object").keys() {
                    if !names.contains(key) {
                        names.push(key.clone());
                    }
                }
            }
            names
                .into_iter()
                .map(|n| {
                    let column: Vec<Value> = items
                        .iter()
                        .map(|i| i.get(&n).cloned().unwrap_or(Value::Null))
                        .collect();
                    let array = typed_array(&column);
                    (n, array)
                })
                .collect()
        } else if items.iter().any(Value::is_object) {
            return Err("mixes objects and plain values".into());
        } else {
            vec![(VALUE_FIELD.to_string(), typed_array(&items))]
        };
        Ok(Dataset {
            name: name.to_string(),
            len: items.len(),
            fields,
            raw: items,
        })
    }

    /// The weights of a numeric field (`None` if the field is not numeric, or has a
    /// negative, non-finite or missing weight, or they sum to zero).
    pub fn weights(&self, field: usize) -> Option<Vec<f64>> {
        let array =
            arrow_cast::cast(&self.fields[field].1, &arrow_schema::DataType::Float64).ok()?;
        let values = array.as_any().downcast_ref::<Float64Array>()?;
        if values.null_count() > 0 {
            return None;
        }
        let w: Vec<f64> = values.values().to_vec();
        (w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() > 0.0).then_some(w)
    }
}

/// One typed array of JSON values: Int64 if all are integers, Float64 if all are
/// numbers, Boolean if all are booleans, else text (numbers written as JSON writes
/// them). Nulls stay null.
fn typed_array(values: &[Value]) -> ArrayRef {
    let present = values.iter().filter(|v| !v.is_null());
    if present.clone().all(|v| v.is_i64()) {
        let mut b = Int64Builder::with_capacity(values.len());
        values.iter().for_each(|v| b.append_option(v.as_i64()));
        return Arc::new(b.finish());
    }
    if present.clone().all(Value::is_number) {
        let mut b = Float64Builder::with_capacity(values.len());
        values.iter().for_each(|v| b.append_option(v.as_f64()));
        return Arc::new(b.finish());
    }
    if present.clone().all(Value::is_boolean) {
        let mut b = BooleanBuilder::with_capacity(values.len());
        values.iter().for_each(|v| b.append_option(v.as_bool()));
        return Arc::new(b.finish());
    }
    let mut b = StringBuilder::new();
    for v in values {
        match v {
            Value::Null => b.append_null(),
            Value::String(s) => b.append_value(s),
            other => b.append_value(other.to_string()),
        }
    }
    Arc::new(b.finish())
}

/// The built-in ZIP centroids as a dataset (`zip`, `city`, `state`, `lat`, `lng`).
fn zip_dataset() -> Arc<Dataset> {
    static ZIPS: OnceLock<Arc<Dataset>> = OnceLock::new();
    ZIPS.get_or_init(|| {
        let zips = crate::reference::zip_centroids();
        Arc::new(Dataset {
            name: "us_zip_locations".into(),
            len: zips.len(),
            fields: vec![
                ("zip".into(), Arc::new(zips.zip.clone())),
                ("city".into(), Arc::new(zips.city.clone())),
                ("state".into(), Arc::new(zips.state.clone())),
                ("lat".into(), Arc::new(zips.lat.clone())),
                ("lng".into(), Arc::new(zips.lng.clone())),
            ],
            raw: Vec::new(),
        })
    })
    .clone()
}

/// Where a schema's datasets come from.
#[derive(Clone, Copy, Debug)]
pub enum DatasetBase<'a> {
    /// Files beside the schema file (none for a schema given as text alone).
    Dir(Option<&'a Path>),
    /// A built-in domain's datasets, compiled in: (name, JSON text).
    Embedded(&'static str, &'static [(&'static str, &'static str)]),
}

fn parse_file(name: &str, origin: &str, text: &str) -> Result<Dataset, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{origin}: invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    Dataset::from_json(name, doc).map_err(|e| format!("{origin}: {e}"))
}

/// Loads the dataset `name`: `reference_data/NAME.json` beside the schema, then
/// `NAME.json` beside it (or a built-in domain's own), then the built-in ones. Each
/// is read once per process.
///
/// # Errors
/// Where it was looked for, or what is wrong with the file.
pub fn load(name: &str, base: DatasetBase) -> Result<Arc<Dataset>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Dataset>>>> = OnceLock::new();
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("'{name}' is not a dataset name"));
    }
    let cache = CACHE.get_or_init(Default::default);
    let cached =
        |key: &str, make: &dyn Fn() -> Result<Dataset, String>| -> Result<Arc<Dataset>, String> {
            if let Some(d) = cache.lock().expect("dataset cache").get(key) {
                return Ok(d.clone());
            }
            let d = Arc::new(make()?);
            // The first copy made wins: a parse matches columns to datasets by identity
            // (`Arc::ptr_eq`), so a second thread's copy must not replace one already
            // handed out.
            Ok(cache
                .lock()
                .expect("dataset cache")
                .entry(key.to_string())
                .or_insert(d)
                .clone())
        };
    let mut tried = Vec::new();
    match base {
        DatasetBase::Dir(Some(dir)) => {
            for path in [
                dir.join("reference_data").join(format!("{name}.json")),
                dir.join(format!("{name}.json")),
            ] {
                if path.is_file() {
                    let origin = path.display().to_string();
                    return cached(&origin, &|| {
                        let text = std::fs::read_to_string(&path)
                            .map_err(|e| format!("cannot read {origin}: {e}"))?;
                        parse_file(name, &origin, &text)
                    });
                }
                tried.push(path.display().to_string());
            }
        }
        DatasetBase::Dir(None) => tried.push("no files: the schema has no folder".to_string()),
        DatasetBase::Embedded(domain, sets) => {
            if let Some((_, text)) = sets.iter().find(|(n, _)| *n == name) {
                let origin = format!("built-in {domain}/reference_data/{name}.json");
                return cached(&origin, &|| parse_file(name, &origin, text));
            }
            tried.push(format!("the built-in {domain} domain's datasets"));
        }
    }
    if name == "us_zip_locations" {
        return Ok(zip_dataset());
    }
    Err(format!(
        "no dataset '{name}' (looked for {}; built in: {})",
        tried.join(", "),
        BUILT_IN.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrow_schema::DataType;

    #[test]
    fn records_become_typed_columns() {
        let doc = serde_json::json!([
            {"name": "a", "weight": 2, "charge": 1.5, "ok": true},
            {"name": "b", "weight": 1, "charge": 2, "ok": false, "extra": "x"}
        ]);
        let d = Dataset::from_json("t", doc).unwrap();
        assert_eq!(d.len, 2);
        let ty = |f: &str| d.fields[d.field(f).unwrap()].1.data_type().clone();
        assert_eq!(ty("name"), DataType::Utf8);
        assert_eq!(ty("weight"), DataType::Int64);
        assert_eq!(ty("charge"), DataType::Float64);
        assert_eq!(ty("ok"), DataType::Boolean);
        assert_eq!(d.fields[d.field("extra").unwrap()].1.null_count(), 1);
        assert_eq!(d.weights(d.field("weight").unwrap()), Some(vec![2.0, 1.0]));
        assert_eq!(d.weights(d.field("name").unwrap()), None);
    }

    #[test]
    fn nested_lists_flatten_and_bad_documents_fail() {
        let doc = serde_json::json!([
            {"sector": "IT", "industries": [{"industry_name": "Software"}, {"industry_name": "Chips"}]},
            {"sector": "Energy", "industries": [{"industry_name": "Oil"}]}
        ]);
        let d = Dataset::from_json("g", doc).unwrap();
        let flat = d.flattened("industries.industry_name").unwrap();
        assert_eq!(flat.len, 3);
        assert!(d.flattened("industries.nope").is_none());
        assert!(Dataset::from_json("x", serde_json::json!({"a": 1})).is_err());
        assert!(Dataset::from_json("x", serde_json::json!([])).is_err());
        assert!(Dataset::from_json("x", serde_json::json!([{"a": 1}, 2])).is_err());
    }

    /// Threads loading one dataset at once all get the same copy: a schema's columns
    /// are matched to their dataset by identity, and a copy made by a racing thread
    /// once replaced the first in the cache, so a parse in another thread could find
    /// its `record_field` column's dataset differ from its `record_sample`'s (seen as a
    /// flaky "no record_sample column" when tests loaded one domain in parallel).
    #[test]
    fn concurrent_loads_share_one_copy() {
        let records: Vec<String> = (0..20_000)
            .map(|i| format!("{{\"code\": \"c{i}\", \"weight\": {i}}}"))
            .collect();
        let text = format!("[{}]", records.join(","));
        let sets: &'static [(&'static str, &'static str)] =
            Box::leak(vec![("racing", &*Box::leak(text.into_boxed_str()))].into_boxed_slice());
        for round in 0..4 {
            let domain: &'static str = Box::leak(format!("race{round}").into_boxed_str());
            let barrier = std::sync::Barrier::new(8);
            let copies: Vec<Arc<Dataset>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            load("racing", DatasetBase::Embedded(domain, sets)).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let cached = load("racing", DatasetBase::Embedded(domain, sets)).unwrap();
            for copy in &copies {
                assert!(Arc::ptr_eq(copy, &cached), "round {round}: a second copy");
            }
        }
    }

    #[test]
    fn missing_datasets_say_where_they_were_looked_for() {
        let err = load("nope", DatasetBase::Dir(Some(Path::new("/nonexistent")))).unwrap_err();
        assert!(
            err.contains("/nonexistent/reference_data/nope.json"),
            "{err}"
        );
        assert!(err.contains("us_zip_locations"), "{err}");
        assert!(load("../etc/passwd", DatasetBase::Dir(None)).is_err());
        let zips = load("us_zip_locations", DatasetBase::Dir(None)).unwrap();
        assert_eq!(zips.field_names(), "zip, city, state, lat, lng");
    }
}
