//! The Python package, tested as its users get it: maturin builds the wheel (the dev
//! profile, so the test build's artifacts are reused), pip installs it into the
//! interop venv, and pytest runs `tests/python` (the seed's tutorial and API
//! examples, custom sinks, pandas and pyarrow, errors, Ctrl-C).
//!
//! Needs `SPINDLE_INTEROP_PYTHON`: a Python with maturin, pytest, pyarrow and pandas
//! (`.ci/run` makes one): `#[ignore]`d, run by `.ci/run` with `--include-ignored`.

use std::path::Path;
use std::process::Command;

fn run(what: &str, command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
#[ignore = "needs SPINDLE_INTEROP_PYTHON, a Python with maturin, pytest, pyarrow and pandas (.ci/run makes one and runs it)"]
fn the_wheel_installs_and_pytest_passes() {
    let python = std::env::var("SPINDLE_INTEROP_PYTHON")
        .expect("set SPINDLE_INTEROP_PYTHON to a Python with maturin, pytest, pyarrow and pandas");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wheels = tempfile::tempdir().unwrap();
    run(
        "maturin build",
        Command::new(&python)
            .args([
                "-m",
                "maturin",
                "build",
                "--profile",
                "dev",
                "--manifest-path",
            ])
            .arg(crate_dir.join("Cargo.toml"))
            .arg("--out")
            .arg(wheels.path()),
    );
    let wheel = std::fs::read_dir(wheels.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote a wheel");
    assert!(
        wheel.to_string_lossy().contains("-abi3-"),
        "an abi3 wheel: {}",
        wheel.display()
    );
    run(
        "pip install",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel),
    );
    let report = run(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(crate_dir.join("tests/python")),
    );
    eprintln!("{report}");
}
