//! Schemas broken at random: one value anywhere in a real schema replaced by a value
//! of another type or an extreme one. Each is refused with an error or generates; none
//! panics. A bounded property run (proptest's case count), part of `cargo test`.

use proptest::prelude::*;
use serde_json::Value;
use spindle_gen::schema::SchemaDomain;
use spindle_gen::{Domain, Scale, Spindle};

const SCHEMAS: [&str; 3] = [
    include_str!("../../data/domains/iot/iot.spindle.json"),
    include_str!("../../data/domains/financial/financial.spindle.json"),
    include_str!("../../data/domains/capital_markets/capital_markets.spindle.json"),
];

/// Most rows a mutated schema may ask for and still be generated here.
const MOST_ROWS: u64 = 200_000;

/// Every place in `doc` a value can be replaced: a path of keys and indices.
fn paths(doc: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                at.push(key.clone());
                paths(value, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                at.push(i.to_string());
                paths(value, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn replace(doc: &mut Value, path: &[String], with: Value) {
    let mut node = doc;
    for key in path {
        node = match node {
            Value::Object(map) => map.get_mut(key).expect("a path of the document"),
            Value::Array(items) => &mut items[key.parse::<usize>().expect("an index")],
            _ => unreachable!("paths go through objects and arrays"),
        };
    }
    *node = with;
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(100_000_000_000_000)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just(-1e300),
            Just(0.5),
            Just(1e300),
            Just(-0.0),
            Just(1e-300)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just(""),
            Just("x"),
            Just("2024-13-45"),
            Just("{seq:99}"),
            Just("a.b.c"),
            Just("9999-12-31")
        ]
        .prop_map(Value::from),
        Just(Value::Array(vec![])),
        Just(serde_json::json!({})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_broken_schema_is_refused_or_generated_never_a_panic(
        which in 0..SCHEMAS.len(),
        place in any::<prop::sample::Index>(),
        with in odd_value(),
    ) {
        let mut doc: Value = serde_json::from_str(SCHEMAS[which]).unwrap();
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let path = place.get(&all).clone();
        replace(&mut doc, &path, with);
        let Ok(domain) = SchemaDomain::from_json(&doc.to_string(), None) else {
            return Ok(());
        };
        let Ok(plan) = domain.plan(Scale::FabricDemo, 42) else {
            return Ok(());
        };
        let rows: u64 = domain.tables().iter().map(|t| plan.row_count(t.name)).sum();
        if rows <= MOST_ROWS {
            let _ = Spindle::generate(&domain, Scale::FabricDemo, 42);
        }
    }
}
