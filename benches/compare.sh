#!/usr/bin/env bash
# Times Spindle beside the Python reference (sqllocks-spindle 3.0.0), alternating
# runs, and rewrites BENCHMARKS.md.
# Usage: benches/compare.sh [--runs N] [--quick] [--schema-only] [--kafka HOST:PORT --tansu PATH]
# (with --kafka, the sink benchmarks include a Kafka topic created with tansu)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SPINDLE_REF_VENV:-$(mktemp -d)/venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "sqllocks-spindle==3.0.0"
fi
(cd "$root" && cargo build --release -q -p spindle-cli)
exec "$venv/bin/python" "$root/benches/compare.py" --spindle "$root/target/release/spindle" --out "$root/BENCHMARKS.md" "$@"
