//! Change streams (`--cdc`) through the binary: replaying the changes in order gives
//! back the generated table, less the rows deleted; every update moves along the
//! lifecycle; the envelope holds what a Debezium consumer reads.

use crate::common::{
    assert_stream_refused, json_objects as objects, spindle, stream_to as stream, text,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The table's own columns of a plain stream's event.
fn own(event: &Map<String, Value>) -> Value {
    Value::Object(
        event
            .iter()
            .filter(|(k, _)| !k.starts_with("_spindle_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Applies `changes` in order, checking each against the state it changes; returns
/// the final rows by key and the keys deleted.
fn replay(changes: &[Map<String, Value>], key: &str) -> (BTreeMap<i64, Value>, Vec<i64>) {
    let (mut rows, mut deleted) = (BTreeMap::new(), Vec::new());
    let mut last_ts = i64::MIN;
    for (i, change) in changes.iter().enumerate() {
        let ts = change["ts_ms"].as_i64().unwrap();
        assert!(ts >= last_ts, "change {i} goes back in time");
        last_ts = ts;
        assert_eq!(change["source"]["sequence"].as_i64(), Some(i as i64));
        assert_eq!(change["_spindle_seq"].as_i64(), Some(i as i64));
        let (before, after) = (&change["before"], &change["after"]);
        let id = match change["op"].as_str().unwrap() {
            "c" => {
                assert!(before.is_null());
                let id = after[key].as_i64().unwrap();
                assert!(
                    rows.insert(id, after.clone()).is_none(),
                    "{id} created twice"
                );
                id
            }
            "u" => {
                let id = after[key].as_i64().unwrap();
                assert_eq!(
                    rows.get(&id),
                    Some(before),
                    "update {i} of a state not held"
                );
                rows.insert(id, after.clone());
                id
            }
            "d" => {
                assert!(after.is_null());
                let id = before[key].as_i64().unwrap();
                assert_eq!(rows.remove(&id).as_ref(), Some(before), "delete {i}");
                deleted.push(id);
                id
            }
            other => panic!("op {other}"),
        };
        assert_eq!(
            change["_spindle_key"].as_str(),
            Some(id.to_string().as_str())
        );
    }
    (rows, deleted)
}

#[test]
fn replaying_the_order_changes_gives_the_generated_orders_less_the_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (cdc, plain) = (dir.path().join("cdc.jsonl"), dir.path().join("plain.jsonl"));
    let table = ["retail", "--table", "order", "--scale", "small"];
    stream(
        &[&table[..], &["--cdc", "--cdc-delete-fraction", "0.05"]].concat(),
        &cdc,
    );
    stream(&table, &plain);
    let changes = objects(&cdc);
    let (rows, deleted) = replay(&changes, "order_id");

    let generated: BTreeMap<i64, Value> = objects(&plain)
        .iter()
        .map(|e| (e["order_id"].as_i64().unwrap(), own(e)))
        .collect();
    assert_eq!(generated.len(), 5_000);
    assert!((150..=350).contains(&deleted.len()), "{}", deleted.len());
    let mut expected = generated.clone();
    for id in &deleted {
        expected.remove(id);
    }
    assert_eq!(rows, expected);

    // Every order is created once; updates follow the lifecycle, at later times.
    let creates = changes.iter().filter(|c| c["op"] == "c").count();
    assert_eq!(creates, 5_000);
    let allowed = [
        ("processing", "shipped"),
        ("shipped", "completed"),
        ("completed", "returned"),
        ("processing", "cancelled"),
    ];
    let mut updates = 0;
    for c in changes.iter().filter(|c| c["op"] == "u") {
        let step = (
            c["before"]["status"].as_str().unwrap(),
            c["after"]["status"].as_str().unwrap(),
        );
        assert!(allowed.contains(&step), "{step:?}");
        updates += 1;
    }
    // 77% completed (2 updates), 9% returned (3), 8% shipped and 4% cancelled (1).
    assert!((9_000..=10_500).contains(&updates), "{updates}");
    // Every final status is reached from processing (or is processing).
    assert!(
        changes
            .iter()
            .filter(|c| c["op"] == "c")
            .all(|c| c["after"]["status"] == "processing")
    );
}

#[test]
fn a_table_without_a_lifecycle_is_created_and_deleted_only() {
    let dir = tempfile::tempdir().unwrap();
    let (cdc, plain) = (dir.path().join("cdc.jsonl"), dir.path().join("plain.jsonl"));
    let table = ["financial", "--table", "account", "--scale", "fabric_demo"];
    stream(
        &[&table[..], &["--cdc", "--cdc-delete-fraction", "0.1"]].concat(),
        &cdc,
    );
    stream(&table, &plain);
    let changes = objects(&cdc);
    assert!(changes.iter().all(|c| c["op"] == "c" || c["op"] == "d"));
    let (rows, deleted) = replay(&changes, "account_id");
    let mut expected: BTreeMap<i64, Value> = objects(&plain)
        .iter()
        .map(|e| (e["account_id"].as_i64().unwrap(), own(e)))
        .collect();
    assert!(!deleted.is_empty());
    for id in &deleted {
        expected.remove(id);
    }
    assert_eq!(rows, expected);
}

#[test]
fn cdc_settings_are_checked() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--table", "order", "--cdc", "--cdc-lifecycle", "status"],
            "invalid cdc_lifecycle: 'status' names no column; expected COLUMN:FINAL=",
        ),
        (
            &[
                "--table",
                "order",
                "--cdc",
                "--cdc-lifecycle",
                "status:shipped=processing/x/1",
            ],
            "'x' in stage 'processing/x/1' is not a number",
        ),
        (
            &[
                "--table",
                "order",
                "--cdc",
                "--cdc-lifecycle",
                "total:a=b/1/1",
            ],
            "lifecycle column 'total' does not exist in table 'order'",
        ),
        (
            &["--table", "order", "--cdc-delete-fraction", "0.1"],
            "are settings of a change stream: set cdc too (set by --cdc",
        ),
        (
            &["--table", "order", "--cdc", "--cdc-delete-fraction", "1.5"],
            "1.5 must be in [0, 1] (set by --cdc-delete-fraction",
        ),
        (
            &["--tables", "order,order_line", "--cdc"],
            "--cdc streams the changes of one --table",
        ),
        (
            &["--table", "store", "--cdc"],
            "table 'store' has no timestamp or date column",
        ),
    ];
    assert_stream_refused(&cases);
}

/// The first column of `table` of `domain`, from `spindle describe`.
fn primary_key(domain: &str, table: &str) -> String {
    let o = spindle(&["describe", domain]);
    let out = text(&o.stdout);
    let at = out
        .find(&format!("\ntable {table} - "))
        .unwrap_or_else(|| panic!("{domain} has no table {table}"));
    out[at + 1..]
        .lines()
        .skip(1)
        .find(|l| l.starts_with("    "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string()
}

#[test]
fn every_built_in_lifecycle_replays_to_its_generated_table() {
    let dir = tempfile::tempdir().unwrap();
    for (domain, table, lifecycle) in spindle_stream::Lifecycle::built_ins() {
        let (cdc, plain) = (dir.path().join("cdc.jsonl"), dir.path().join("plain.jsonl"));
        let args = [domain, "--table", table, "--scale", "fabric_demo"];
        stream(&[&args[..], &["--cdc"]].concat(), &cdc);
        stream(&args, &plain);
        let key = primary_key(domain, table);
        let changes = objects(&cdc);
        let (rows, deleted) = replay(&changes, &key);
        assert!(deleted.is_empty());
        let generated: BTreeMap<i64, Value> = objects(&plain)
            .iter()
            .map(|e| (e[key.as_str()].as_i64().unwrap(), own(e)))
            .collect();
        assert_eq!(rows, generated, "{domain}.{table}");
        // Every final value with a path is reached through it, one stage at a time.
        let column = lifecycle.column.as_str();
        let mut reached = 0;
        for c in changes.iter().filter(|c| c["op"] == "u") {
            let (from, to) = (
                c["before"][column].as_str().unwrap(),
                c["after"][column].as_str().unwrap(),
            );
            let id = c["after"][key.as_str()].as_i64().unwrap();
            let last = generated[&id][column].as_str().unwrap();
            let (_, stages) = lifecycle.paths.iter().find(|(v, _)| v == last).unwrap();
            let at = stages.iter().position(|s| s.state == from).unwrap();
            let next = stages.get(at + 1).map_or(last, |s| s.state.as_str());
            assert_eq!(to, next, "{domain}.{table}: {from} -> {to}");
            reached += usize::from(to == last);
        }
        let with_paths = generated
            .values()
            .filter(|r| lifecycle.paths.iter().any(|(v, _)| r[column] == v.as_str()))
            .count();
        assert!(
            with_paths > 0,
            "{domain}.{table}: no row has a final value with a path"
        );
        assert_eq!(reached, with_paths, "{domain}.{table}");
    }
}

#[test]
fn a_lifecycle_given_on_the_command_line_drives_the_updates() {
    let dir = tempfile::tempdir().unwrap();
    let (cdc, plain) = (dir.path().join("cdc.jsonl"), dir.path().join("plain.jsonl"));
    let table = ["retail", "--table", "order", "--scale", "small"];
    let lifecycle = [
        "--cdc",
        "--cdc-lifecycle",
        "status:completed=placed/2/1>packed/10/5",
    ];
    stream(&[&table[..], &lifecycle[..]].concat(), &cdc);
    stream(&table, &plain);
    let changes = objects(&cdc);
    let (rows, _) = replay(&changes, "order_id");
    let generated: BTreeMap<i64, Value> = objects(&plain)
        .iter()
        .map(|e| (e["order_id"].as_i64().unwrap(), own(e)))
        .collect();
    assert_eq!(rows, generated);
    let completed = generated
        .values()
        .filter(|r| r["status"] == "completed")
        .count();
    let updates: Vec<(&str, &str)> = changes
        .iter()
        .filter(|c| c["op"] == "u")
        .map(|c| {
            (
                c["before"]["status"].as_str().unwrap(),
                c["after"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(updates.len(), 2 * completed);
    assert!(
        updates
            .iter()
            .all(|u| matches!(u, ("placed", "packed") | ("packed", "completed")))
    );
}
