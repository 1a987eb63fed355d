//! Helpers shared by the tests that run the `spindle` binary as a process.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `spindle` with `args` and collects its output.
pub fn spindle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .output()
        .unwrap()
}

/// The names of the domains `spindle list` lists (all 14: the test fails otherwise).
#[cfg(any(feature = "kafka", feature = "delta"))]
pub fn domains() -> Vec<String> {
    let listed = spindle(&["list"]);
    let domains: Vec<String> = text(&listed.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("domain "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(domains.len(), 14, "{domains:?}");
    domains
}

/// Bytes of a process's stdout or stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The row count a Parquet file's footer declares.
pub fn parquet_rows(path: &Path) -> i64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().num_rows()
}

/// A Python with pyarrow and duckdb (`.ci/run` makes one): the tests that use it are
/// `#[ignore]`d, so they run only when asked (`--include-ignored`), and then it must be
/// there.
pub fn interop_python() -> String {
    std::env::var("SPINDLE_INTEROP_PYTHON")
        .expect("set SPINDLE_INTEROP_PYTHON to a Python with pyarrow and duckdb to run this test")
}

/// Runs `command` (a read-back script), fails the test if it fails, and parses each
/// line it printed as JSON.
#[cfg(any(feature = "avro", feature = "kafka", feature = "delta"))]
pub fn json_lines_printed(command: &mut Command) -> Vec<serde_json::Value> {
    let o = command.output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Python's `as_json(v)`, for the read-back scripts: a value a reader decoded (an
/// instant, a date, a record of them) as the JSON-lines sinks write it.
#[cfg(any(feature = "avro", feature = "kafka"))]
pub const PY_AS_JSON: &str = r#"
import datetime

def as_json(v):
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%d %H:%M:%S.%f" if v.microsecond else "%Y-%m-%d %H:%M:%S")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: as_json(x) for k, x in v.items()}
    return v
"#;

/// Runs `spindle stream` with `args` (seed 42, quiet) into the JSON-lines file `out`;
/// fails the test if it fails.
pub fn stream_to(args: &[&str], out: &Path) {
    let sink = format!("file:{}", out.display());
    let mut all = vec!["stream", "--seed", "42", "--quiet", "--sink", &sink];
    all.extend_from_slice(args);
    let o = spindle(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
}

/// The JSON object of each line of `path`.
pub fn json_objects(path: &Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            serde_json::Value::Object(o) => o,
            other => panic!("not an object: {other}"),
        })
        .collect()
}

/// Checks that `spindle stream retail --sink file:/dev/null ARGS` exits 2 with an
/// error containing `message`, for each case.
pub fn assert_stream_refused(cases: &[(&[&str], &str)]) {
    for (args, message) in cases {
        let mut all = vec!["stream", "retail", "--sink", "file:/dev/null"];
        all.extend_from_slice(args);
        let o = spindle(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            text(&o.stderr).contains(message),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

/// Retail's tables, parents first.
pub const RETAIL_TABLES: [&str; 9] = [
    "product_category",
    "product",
    "store",
    "promotion",
    "customer",
    "address",
    "order",
    "order_line",
    "return",
];

/// Runs `spindle generate retail --scale small --format FORMAT --output FOLDER` (seed
/// 42); fails the test if it fails.
pub fn generate_retail_small(format: &str, folder: &Path) {
    let o = spindle(&[
        "generate",
        "retail",
        "--scale",
        "small",
        "--format",
        format,
        "--output",
        folder.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}
