//! Broken schemas are refused before anything is generated, with every problem named
//! by its path and the allowed values.

use spindle_gen::schema::SchemaDomain;
use spindle_gen::{Domain, Scale};

/// A valid two-table schema, as a JSON value to break.
fn base() -> serde_json::Value {
    serde_json::json!({
        "model": {"name": "shop", "date_range": {"start": "2024-01-01", "end": "2024-12-31"}},
        "tables": {
            "device": {"primary_key": ["device_id"], "columns": {
                "device_id": {"type": "integer", "generator": {"strategy": "sequence"}},
                "installed": {"type": "date", "generator": {"strategy": "temporal", "range_ref": "model.date_range"}}
            }},
            "sensor": {"primary_key": ["sensor_id"], "columns": {
                "sensor_id": {"type": "integer", "generator": {"strategy": "sequence"}},
                "device_id": {"type": "integer", "generator": {"strategy": "foreign_key", "ref": "device.device_id"}},
                "low": {"type": "float", "generator": {"strategy": "distribution", "distribution": "uniform", "min": 0, "max": 10}},
                "high": {"type": "float", "generator": {"strategy": "correlated", "source_column": "low", "rule": "add", "params": {"min": 1, "max": 5}}}
            }}
        },
        "business_rules": [
            {"name": "high_above_low", "type": "cross_column", "table": "sensor", "rule": "high > low"}
        ],
        "generation": {"scales": {"small": {"device": 10}}, "derived_counts": {"sensor": {"per_parent": "device", "ratio": 2.5}}}
    })
}

fn error_of(doc: &serde_json::Value) -> String {
    match SchemaDomain::from_json(&doc.to_string(), None) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(e) => e.to_string(),
    }
}

fn set(doc: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let mut at = doc;
    for key in &path[..path.len() - 1] {
        at = at.get_mut(*key).unwrap_or_else(|| panic!("no {key}"));
    }
    at[path[path.len() - 1]] = value;
}

#[test]
fn the_base_schema_is_valid() {
    let d = SchemaDomain::from_json(&base().to_string(), None).unwrap();
    assert_eq!(d.counts("small").unwrap(), vec![10, 25]);
    let report = d.report();
    assert!(
        report.contains("sensor") && report.contains("made on its own"),
        "{report}"
    );
}

#[test]
fn malformed_json_names_line_and_column() {
    let err = SchemaDomain::from_json("{\n  \"tables\": {,\n}", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid JSON at line 2, column"), "{err}");
}

#[test]
fn an_unknown_table_names_the_path_and_the_tables() {
    let mut doc = base();
    set(
        &mut doc,
        &[
            "tables",
            "sensor",
            "columns",
            "device_id",
            "generator",
            "ref",
        ],
        "devce.device_id".into(),
    );
    let err = error_of(&doc);
    assert!(
        err.contains("tables.sensor.columns.device_id.generator.ref: no table 'devce'; tables: device, sensor"),
        "{err}"
    );
}

#[test]
fn unknown_strategies_parameters_types_and_columns_are_named() {
    let mut doc = base();
    set(
        &mut doc,
        &[
            "tables",
            "device",
            "columns",
            "installed",
            "generator",
            "strategy",
        ],
        "temporl".into(),
    );
    set(
        &mut doc,
        &["tables", "sensor", "columns", "low", "generator", "mn"],
        3.into(),
    );
    set(
        &mut doc,
        &["tables", "sensor", "columns", "low", "type"],
        "flaot".into(),
    );
    set(
        &mut doc,
        &[
            "tables",
            "sensor",
            "columns",
            "high",
            "generator",
            "source_column",
        ],
        "lo".into(),
    );
    let err = error_of(&doc);
    // Every problem, not only the first.
    assert!(err.contains("tables.device.columns.installed.generator.strategy: unknown strategy 'temporl'; strategies: sequence"), "{err}");
    assert!(
        err.contains(
            "tables.sensor.columns.low.generator.mn: unknown key; allowed: strategy, params"
        ),
        "{err}"
    );
    assert!(
        err.contains("tables.sensor.columns.low.type: unknown type 'flaot'; allowed: integer"),
        "{err}"
    );
    assert!(err.contains("tables.sensor.columns.high.generator.source_column: no column 'lo' in table 'sensor'; columns: sensor_id, device_id, low, high"), "{err}");
    assert_eq!(err.lines().count(), 4, "{err}");
}

#[test]
fn a_column_cycle_is_refused() {
    let mut doc = base();
    set(
        &mut doc,
        &["tables", "sensor", "columns", "low", "generator"],
        serde_json::json!({"strategy": "formula", "expression": "high - 1"}),
    );
    let err = error_of(&doc);
    assert!(err.contains("circular dependency"), "{err}");
    assert!(err.contains("low") && err.contains("high"), "{err}");
}

#[test]
fn a_cycle_across_tables_is_refused() {
    let mut doc = base();
    set(
        &mut doc,
        &["tables", "device", "columns", "installed"],
        serde_json::json!({"type": "float", "generator": {"strategy": "computed", "rule": "sum_children", "child_table": "sensor", "child_column": "low"}}),
    );
    set(
        &mut doc,
        &["tables", "sensor", "columns", "low", "generator"],
        serde_json::json!({"strategy": "lookup", "source_table": "device", "source_column": "installed", "via": "device_id"}),
    );
    let err = error_of(&doc);
    assert!(err.contains("circular dependency"), "{err}");
}

#[test]
fn a_derived_count_of_a_missing_parent_and_a_missing_dataset_are_named() {
    let mut doc = base();
    set(
        &mut doc,
        &["generation", "derived_counts", "sensor"],
        serde_json::json!({"per_parent": "devices", "ratio": 2}),
    );
    set(
        &mut doc,
        &["tables", "device", "columns", "installed"],
        serde_json::json!({"type": "string", "generator": {"strategy": "reference_data", "dataset": "device_names"}}),
    );
    let err = error_of(&doc);
    assert!(err.contains("generation.derived_counts.sensor.per_parent: no table 'devices'; tables: device, sensor"), "{err}");
    assert!(
        err.contains(
            "tables.device.columns.installed.generator.dataset: no dataset 'device_names'"
        ),
        "{err}"
    );
}

#[test]
fn rules_that_cannot_be_enforced_are_refused() {
    let mut doc = base();
    doc["business_rules"][0]["rule"] = "device_id > 3".into();
    let err = error_of(&doc);
    assert!(err.contains("business_rules.0: 'device_id > 3' would adjust 'sensor.device_id', which is a foreign key"), "{err}");
    let mut doc = base();
    doc["business_rules"][0]["rule"] = "high == low".into();
    let err = error_of(&doc);
    assert!(
        err.contains("business_rules.0.rule: 'high == low' is not a comparison"),
        "{err}"
    );
}

#[test]
fn plans_refuse_what_the_counts_make_impossible() {
    let mut doc = base();
    set(
        &mut doc,
        &["tables", "sensor", "columns", "device_id", "generator"],
        serde_json::json!({"strategy": "foreign_key", "ref": "device.device_id", "distribution": "zipf", "alpha": 1.3, "max_per_parent": 2}),
    );
    set(
        &mut doc,
        &["generation", "derived_counts", "sensor"],
        serde_json::json!({"fixed": 50}),
    );
    let d = SchemaDomain::from_json(&doc.to_string(), None).unwrap();
    let err = d.plan(Scale::Small, 1).err().unwrap().to_string();
    assert!(err.contains("tables.sensor.columns.device_id.generator.max_per_parent: 50 rows cannot go to 10 parents at most 2 each"), "{err}");
    let err = d.plan(Scale::Medium, 1).err().unwrap().to_string();
    assert!(
        err.contains("scale 'medium' is not in the schema's generation.scales; allowed: small"),
        "{err}"
    );
}

#[test]
fn a_cap_holds_exactly_and_costs_no_row() {
    let mut doc = base();
    set(
        &mut doc,
        &["tables", "sensor", "columns", "device_id", "generator"],
        serde_json::json!({"strategy": "foreign_key", "ref": "device.device_id", "distribution": "pareto", "alpha": 1.1, "max_per_parent": 6}),
    );
    set(
        &mut doc,
        &["generation", "derived_counts", "sensor"],
        serde_json::json!({"fixed": 55}),
    );
    let d = SchemaDomain::from_json(&doc.to_string(), None).unwrap();
    let result = spindle_gen::Spindle::generate(&d, Scale::Small, 3).unwrap();
    let sensor = result.table("sensor").unwrap();
    assert_eq!(sensor.num_rows(), 55);
    let ids =
        arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int64Type>(sensor.column(1));
    let mut per = std::collections::HashMap::<i64, u64>::new();
    for v in ids.values() {
        *per.entry(*v).or_default() += 1;
    }
    assert!(per.values().all(|&n| n <= 6), "{per:?}");
    // Skewed: the first device, most likely, is full.
    assert_eq!(per[&1], 6, "{per:?}");
}

#[test]
fn uuids_are_random_version_4_and_distinct() {
    let mut doc = base();
    set(
        &mut doc,
        &["tables", "sensor", "columns", "serial"],
        serde_json::json!({"type": "string", "generator": {"strategy": "uuid"}}),
    );
    set(
        &mut doc,
        &["generation", "derived_counts", "sensor"],
        serde_json::json!({"fixed": 5000}),
    );
    let d = SchemaDomain::from_json(&doc.to_string(), None).unwrap();
    let result = spindle_gen::Spindle::generate(&d, Scale::Small, 3).unwrap();
    let sensor = result.table("sensor").unwrap();
    let serials = arrow_array::cast::AsArray::as_string::<i32>(
        sensor.column_by_name("serial").unwrap().as_ref(),
    );
    let mut seen = std::collections::HashSet::new();
    for serial in serials.iter() {
        let serial = serial.unwrap();
        let groups: Vec<&str> = serial.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12], "{serial}");
        assert!(
            serial
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(groups[2].starts_with('4'), "version 4: {serial}");
        assert!(
            "89ab".contains(&groups[3][..1]),
            "RFC 4122 variant: {serial}"
        );
        assert!(seen.insert(serial.to_string()), "{serial} twice");
    }
    assert_eq!(seen.len(), 5000);
}
