//! Golden digests: the bytes Spindle writes for a fixed seed and configuration, pinned,
//! so that any change of output is a decision made on purpose (a changelog line and a
//! new `golden.txt`), never an accident of a refactor or a dependency upgrade.
//!
//! Pinned: every Retail table at `small` (seed 42) as JSON lines and as Parquet; every
//! built-in schema domain at `fabric_demo` (seed 42) as JSON lines; a stream of
//! orders with late events and all three anomaly kinds; and an interleaved stream of
//! orders, lines and returns with those anomalies and every delivery fault, and its
//! tables in a Parquet file each; and the change stream of orders.
//!
//! To re-pin after a deliberate change: `SPINDLE_BLESS=1 cargo test -p spindle-cli
//! --test integration golden`, then review the diff of `tests/golden.txt` and say why in
//! CHANGELOG.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden.txt");

/// 64-bit FNV-1a: a fixed, documented function, enough to tell outputs apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn spindle(args: &[&str]) {
    let o = crate::common::spindle(args);
    assert!(
        o.status.success(),
        "spindle {args:?}: {}",
        crate::common::text(&o.stderr)
    );
}

/// `name -> "<digest> <bytes>"` for every file in `dir`, named `prefix/file`.
fn digest_files(dir: &Path, prefix: &str, into: &mut BTreeMap<String, String>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        into.insert(
            format!("{prefix}/{name}"),
            format!("{:016x} {}", fnv1a(&bytes), bytes.len()),
        );
    }
}

fn generate(domain: &str, scale: &str, format: &str, dir: &Path) {
    spindle(&[
        "generate",
        domain,
        "--scale",
        scale,
        "--seed",
        "42",
        "--format",
        format,
        "--quiet",
        "--output",
        dir.to_str().unwrap(),
    ]);
}

fn actual_digests() -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut digests = BTreeMap::new();
    for format in ["jsonl", "parquet"] {
        let dir = tmp.path().join(format!("retail-{format}"));
        generate("retail", "small", format, &dir);
        digest_files(&dir, &format!("retail-small-{format}"), &mut digests);
    }
    for domain in spindle_gen::domains() {
        let name = domain.name();
        if name == "retail" {
            continue;
        }
        let dir = tmp.path().join(name);
        generate(name, "fabric_demo", "jsonl", &dir);
        digest_files(&dir, &format!("{name}-fabric_demo-jsonl"), &mut digests);
    }

    let anomalies = tmp.path().join("anomalies.toml");
    std::fs::write(
        &anomalies,
        r#"[[anomaly]]
kind = "point"
name = "extreme_total"
column = "order_total"
multiplier_range = [10.0, 50.0]
fraction = 0.02
[[anomaly]]
kind = "contextual"
name = "returned_delivered"
column = "status"
condition_column = "status"
normal_values = ["returned"]
anomalous_values = ["delivered", "completed"]
fraction = 0.25
[[anomaly]]
kind = "collective"
name = "burst"
group_column = "customer_id"
timestamp_column = "order_date"
window_seconds = 300
fraction = 0.01
"#,
    )
    .unwrap();
    let stream_dir = tmp.path().join("stream");
    std::fs::create_dir(&stream_dir).unwrap();
    let events = stream_dir.join("order-events.jsonl");
    spindle(&[
        "stream",
        "retail",
        "--table",
        "order",
        "--scale",
        "small",
        "--seed",
        "42",
        "--out-of-order",
        "0.05",
        "--max-delay-slots",
        "40",
        "--anomalies",
        anomalies.to_str().unwrap(),
        "--quiet",
        "--sink",
        &format!("file:{}", events.display()),
    ]);
    digest_files(&stream_dir, "stream-retail-order", &mut digests);

    // An interleaved stream with the same anomalies and every delivery fault, as JSON
    // lines, and its tables in a Parquet file each.
    let merged_dir = tmp.path().join("interleaved");
    let truth = tmp.path().join("dropped.jsonl");
    let interleaved = |sink: String, extra: &[&str]| {
        let mut args = vec![
            "stream",
            "retail",
            "--tables",
            "order,order_line,return",
            "--interleave",
            "--scale",
            "small",
            "--seed",
            "42",
            "--anomalies",
            anomalies.to_str().unwrap(),
            "--quiet",
            "--sink",
            &sink,
        ];
        args.extend_from_slice(extra);
        spindle(&args);
    };
    interleaved(
        format!("file:{}", merged_dir.join("events.jsonl").display()),
        &[
            "--out-of-order",
            "0.05",
            "--max-lateness",
            "3600",
            "--duplicate-fraction",
            "0.01",
            "--drop-fraction",
            "0.01",
            "--watermark-every",
            "3600s",
            "--ground-truth",
            truth.to_str().unwrap(),
        ],
    );
    interleaved(
        format!("parquet:{}", merged_dir.join("{table}.parquet").display()),
        &[],
    );
    digest_files(&merged_dir, "stream-retail-interleaved", &mut digests);

    // The change stream of orders, with deletes.
    let changes_dir = tmp.path().join("cdc");
    spindle(&[
        "stream",
        "retail",
        "--table",
        "order",
        "--cdc",
        "--cdc-delete-fraction",
        "0.05",
        "--scale",
        "small",
        "--seed",
        "42",
        "--quiet",
        "--sink",
        &format!("file:{}", changes_dir.join("order-changes.jsonl").display()),
    ]);
    digest_files(&changes_dir, "stream-retail-cdc", &mut digests);
    digests
}

#[test]
fn output_bytes_match_the_pinned_digests() {
    let actual = actual_digests();
    let rendered: String = actual.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    if std::env::var_os("SPINDLE_BLESS").is_some() {
        std::fs::write(GOLDEN, &rendered).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    let changed: Vec<String> = differing_lines(&pinned, &rendered);
    assert!(
        changed.is_empty(),
        "output changed from the pinned digests (if on purpose: SPINDLE_BLESS=1 and a \
         CHANGELOG.md line):\n{}",
        changed.join("\n")
    );
}

/// The lines of `pinned` and `actual` that differ, marked `-` and `+`.
fn differing_lines(pinned: &str, actual: &str) -> Vec<String> {
    let a: std::collections::BTreeSet<&str> = pinned.lines().collect();
    let b: std::collections::BTreeSet<&str> = actual.lines().collect();
    a.difference(&b)
        .map(|l| format!("- {l}"))
        .chain(b.difference(&a).map(|l| format!("+ {l}")))
        .collect()
}
