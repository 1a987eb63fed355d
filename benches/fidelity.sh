#!/usr/bin/env bash
# Compares every domain column by column with the Python reference (sqllocks-spindle
# 3.0.0, in a throwaway venv) and rewrites FIDELITY.md.
# Usage: benches/fidelity.sh [--scale small] [--domains iot,financial]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SPINDLE_REF_VENV:-$(mktemp -d)/venv}"
if ! "$venv/bin/python" -c "import sqllocks_spindle, pyarrow" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "sqllocks-spindle==3.0.0" "pyarrow>=15"
fi
(cd "$root" && cargo build --release -q -p spindle-cli)
exec "$venv/bin/python" "$root/benches/fidelity.py" --spindle "$root/target/release/spindle" --out "$root/FIDELITY.md" "$@"
