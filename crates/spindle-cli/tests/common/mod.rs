//! Helpers shared by the tests that run the `spindle` binary as a process.
// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `spindle` with `args` and collects its output.
pub fn spindle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .output()
        .unwrap()
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

/// A Python with pyarrow and duckdb (`.ci/run` makes one); skipped without it, except
/// under CI, where it must be there.
pub fn interop_python() -> Option<String> {
    match std::env::var("SPINDLE_INTEROP_PYTHON") {
        Ok(python) => Some(python),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CI must provide SPINDLE_INTEROP_PYTHON (a Python with pyarrow and duckdb)")
        }
        Err(_) => {
            eprintln!(
                "skipped: set SPINDLE_INTEROP_PYTHON to a Python with pyarrow and duckdb to run this test"
            );
            None
        }
    }
}
