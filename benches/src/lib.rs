//! Criterion benchmarks live in `benches/`; `compare.sh` times whole runs beside the
//! Python reference. This crate has no code of its own.
