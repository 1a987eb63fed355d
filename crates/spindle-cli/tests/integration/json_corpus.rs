//! The event JSON is byte-compatible with CPython's `json.dumps`: `json_corpus.py` writes
//! awkward values (extreme and subnormal floats, integers past 2^53, quotes, control
//! characters, non-ASCII text and emoji, timestamps at second and microsecond precision
//! and at the ends of Python's range, aware instants, dates, nulls in every type) to a
//! Parquet file and the events CPython writes for them; `spindle replay` of that file
//! must write the same bytes.

use crate::common::{interop_python, spindle, text};
use std::process::Command;

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON, a Python with pyarrow and duckdb (.ci/run makes one and runs it)"]
fn replayed_events_equal_what_cpython_writes() {
    let python = interop_python();
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("corpus.parquet");
    let expected_path = dir.path().join("expected.jsonl");
    let actual_path = dir.path().join("actual.jsonl");
    let o = Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/json_corpus.py"))
        .args([&parquet, &expected_path])
        .arg("corpus")
        .output()
        .unwrap();
    assert!(o.status.success(), "json_corpus.py: {}", text(&o.stderr));

    let o = spindle(&[
        "replay",
        "--source",
        &format!("corpus={}", parquet.display()),
        "--quiet",
        "--sink",
        &format!("file:{}", actual_path.display()),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    let expected = std::fs::read_to_string(&expected_path).unwrap();
    let actual = std::fs::read_to_string(&actual_path).unwrap();
    assert!(expected.lines().count() > 100, "the corpus has its rows");
    for (row, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        assert_eq!(a, e, "row {row}: spindle (left) and CPython (right) differ");
    }
    assert_eq!(actual.lines().count(), expected.lines().count(), "rows");
    assert_eq!(actual, expected, "the files, byte for byte");
}
