//! `spindle generate --format delta`: each table a Delta table, read back by the
//! `deltalake` Python package (and pyarrow): the rows of the Parquet files of the same
//! run, one commit per table or per part, the statistics in the log equal to the data's,
//! parts run concurrently and again committing each part once, and no half table left
//! by a run that is killed.

use crate::common::{interop_python, spindle, text};
use std::path::Path;
use std::process::Command;

/// Compares each Delta table under `delta` with the Parquet file of the same name under
/// `parquet` and prints, per table, a JSON summary: versions, rows, whether the rows
/// are equal (sorted by every column when `sorted`), and any statistic of an add action
/// that differs from the data's.
const CHECK_SCRIPT: &str = r#"
import json, os, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from deltalake import DeltaTable

delta, parquet, ordered = sys.argv[1], sys.argv[2], sys.argv[3] == "ordered"

def sort_all(t):
    return t.sort_by([(c, "ascending") for c in t.column_names])

def stat_text(v):
    """A bound as text (a zero of either sign as 0.0: Parquet writes a float column's
    zero minimum as -0.0)."""
    if isinstance(v, float):
        v = v + 0.0
    return None if v is None else str(v).replace(" ", "T")

for name in sorted(os.listdir(delta)):
    dt = DeltaTable(os.path.join(delta, name))
    got = pa.table(dt.to_pyarrow_table())
    want = pq.read_table(os.path.join(parquet, name + ".parquet"))
    same = got.equals(want) if ordered else sort_all(got).equals(sort_all(want))
    adds = pa.table(dt.get_add_actions(flatten=True))
    wrong = []
    files = adds.to_pylist()
    for add in files:
        part = pq.read_table(os.path.join(delta, name, add["path"]))
        if add["num_records"] != part.num_rows:
            wrong.append([add["path"], "num_records", add["num_records"], part.num_rows])
        for column in part.column_names:
            values = part[column]
            nulls = values.null_count
            if add.get("null_count." + column) != nulls:
                wrong.append([column, "null_count", add.get("null_count." + column), nulls])
            if pa.types.is_boolean(values.type) or nulls == part.num_rows:
                continue
            bounds = pc.min_max(values)
            for end in ("min", "max"):
                logged, actual = add.get(end + "." + column), bounds[end].as_py()
                if stat_text(logged) == stat_text(actual):
                    continue
                # A text longer than Parquet keeps in statistics has a truncated bound:
                # a prefix below the least value, or above the greatest.
                truncated = (isinstance(actual, str) and len(actual.encode()) > 64 and logged is not None
                             and (logged <= actual if end == "min" else logged >= actual))
                if not truncated:
                    wrong.append([column, end, stat_text(logged), stat_text(actual)])
    schema = {f.name: str(f.type) for f in got.schema}
    print(json.dumps({"table": name, "version": dt.version(), "files": len(files),
                      "rows": got.num_rows, "expected_rows": want.num_rows, "same": same,
                      "wrong_stats": wrong[:5], "schema": schema,
                      "history": [h.get("operation") for h in dt.history()]}))
"#;

/// Runs the check script over the tables in `delta` against the files in `parquet`.
fn check_tables(delta: &Path, parquet: &Path, ordered: bool) -> Vec<serde_json::Value> {
    crate::common::json_lines_printed(
        Command::new(interop_python())
            .args(["-c", CHECK_SCRIPT])
            .arg(delta)
            .arg(parquet)
            .arg(if ordered { "ordered" } else { "any-order" }),
    )
}

/// Runs `spindle generate DOMAIN --quiet ARGS --output OUT`; fails the test if it fails.
fn generate(domain: &str, args: &[&str], out: &Path) {
    let out = out.to_str().unwrap();
    let mut all = vec!["generate", domain, "--quiet", "--output", out];
    all.extend_from_slice(args);
    let o = spindle(&all);
    assert!(o.status.success(), "{all:?}: {}", text(&o.stderr));
}

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON with deltalake and pyarrow (.ci/run provides it)"]
fn every_domains_tables_read_back_as_the_parquet_rows_with_their_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let domains = crate::common::domains();
    for domain in &domains {
        let delta = dir.path().join(domain).join("delta");
        let parquet = dir.path().join(domain).join("parquet");
        generate(domain, &["--format", "delta"], &delta);
        generate(domain, &["--format", "parquet"], &parquet);
        let tables = check_tables(&delta, &parquet, true);
        assert!(!tables.is_empty(), "{domain}");
        for t in tables {
            assert_eq!(t["same"], true, "{domain}: {t}");
            // One commit: the table's creation with its one file.
            assert_eq!(t["version"], 0, "{domain}: {t}");
            assert_eq!(t["files"], 1, "{domain}: {t}");
            assert_eq!(t["wrong_stats"], serde_json::json!([]), "{domain}: {t}");
        }
    }
}

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON with deltalake and pyarrow (.ci/run provides it)"]
fn parts_run_at_once_and_again_commit_each_part_once() {
    let dir = tempfile::tempdir().unwrap();
    let delta = dir.path().join("delta");
    let out = delta.to_str().unwrap();
    let base = [
        "generate",
        "retail",
        "--quiet",
        "--tables",
        "order,order_line",
    ];
    let part_args = |part: &'static str| {
        let mut args = base.to_vec();
        args.extend(["--format", "delta", "--output", out, "--parts", "3"]);
        args.extend(["--part", part]);
        args
    };
    // Three producers at once: one creates each table, the others append.
    let running: Vec<_> = ["0", "1", "2"]
        .into_iter()
        .map(|part| {
            Command::new(env!("CARGO_BIN_EXE_spindle"))
                .args(part_args(part))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in running {
        assert!(child.wait().unwrap().success());
    }
    // A part run again (a retried task) adds nothing.
    let again = spindle(&part_args("1"));
    assert!(again.status.success(), "{}", text(&again.stderr));
    let parquet = dir.path().join("parquet");
    generate(
        "retail",
        &["--tables", "order,order_line", "--format", "parquet"],
        &parquet,
    );
    for t in check_tables(&delta, &parquet, false) {
        assert_eq!(t["same"], true, "{t}");
        assert_eq!(t["rows"], t["expected_rows"], "{t}");
        assert_eq!(t["version"], 2, "{t}");
        assert_eq!(t["files"], 3, "{t}");
        assert_eq!(t["wrong_stats"], serde_json::json!([]), "{t}");
        // No file beside the three committed ones and the log.
        let folder = delta.join(t["table"].as_str().unwrap());
        let entries = std::fs::read_dir(&folder).unwrap().count();
        assert_eq!(entries, 4, "{}", folder.display());
    }
}

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON with deltalake and pyarrow (.ci/run provides it)"]
fn an_existing_table_is_replaced_only_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let delta = dir.path().join("delta");
    let order = ["--tables", "order", "--format", "delta"];
    generate("retail", &order, &delta);
    let out = delta.to_str().unwrap();
    let again = spindle(&[
        "generate", "retail", "--tables", "order", "--format", "delta", "--output", out, "--seed",
        "7",
    ]);
    assert_eq!(again.status.code(), Some(2));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("--output") && stderr.contains("pass --force"),
        "{stderr}"
    );
    // Refused with another table first in line: that table's data file goes too.
    let two = spindle(&[
        "generate",
        "retail",
        "--tables",
        "customer,order",
        "--format",
        "delta",
        "--output",
        out,
    ]);
    assert_eq!(two.status.code(), Some(2), "{}", text(&two.stderr));
    let customer = delta.join("customer");
    assert!(!customer.exists(), "{}", customer.display());
    // Forced: version 1 holds the new run's rows only.
    generate(
        "retail",
        &[
            "--tables", "order", "--format", "delta", "--seed", "7", "--force",
        ],
        &delta,
    );
    let parquet = dir.path().join("parquet");
    generate(
        "retail",
        &["--tables", "order", "--format", "parquet", "--seed", "7"],
        &parquet,
    );
    let tables = check_tables(&delta, &parquet, true);
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0]["same"], true, "{}", tables[0]);
    assert_eq!(tables[0]["version"], 1, "{}", tables[0]);
    assert_eq!(tables[0]["files"], 1, "{}", tables[0]);
}

#[test]
fn bad_table_settings_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 2] = [
        (
            &["--output", "ftp://host/lake"],
            "invalid --output: 'ftp://host/lake': tables go to a local path or file://",
        ),
        (
            &["--output", out, "--parts", "2", "--force"],
            "invalid --force",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec![
            "generate", "retail", "--tables", "order", "--format", "delta",
        ];
        all.extend_from_slice(args);
        let o = spindle(&all);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON with deltalake and pyarrow (.ci/run provides it)"]
fn a_killed_run_leaves_no_table_or_a_whole_one() {
    let dir = tempfile::tempdir().unwrap();
    let delta = dir.path().join("delta");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args([
            "generate", "retail", "--quiet", "--tables", "order", "--scale", "large",
        ])
        .args(["--format", "delta", "--output", delta.to_str().unwrap()])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let script = "import sys\n\
        from deltalake import DeltaTable\n\
        from deltalake.exceptions import TableNotFoundError\n\
        try:\n    print(DeltaTable(sys.argv[1]).to_pyarrow_table().num_rows)\n\
        except TableNotFoundError:\n    print('none')";
    let o = Command::new(interop_python())
        .args(["-c", script])
        .arg(delta.join("order"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows = text(&o.stdout).trim().to_string();
    if rows != "none" {
        // The run finished before the kill: then the table is whole.
        let parquet = dir.path().join("parquet");
        generate(
            "retail",
            &[
                "--tables", "order", "--scale", "large", "--format", "parquet",
            ],
            &parquet,
        );
        let full = crate::common::parquet_rows(&parquet.join("order.parquet"));
        assert_eq!(rows, full.to_string());
    }
}
