#!/usr/bin/env bash
# Times Spindle beside the Python reference (sqllocks-spindle 3.0.0), alternating
# runs, and rewrites BENCHMARKS.md.
# Usage: benches/compare.sh [--runs N] [--quick]
#        [--only schema|python|spark|anomalies|realism|kafka-formats]
#        [--baseline OLD_SPINDLE] [--kafka HOST:PORT --tansu PATH]
# (with --kafka, the sink benchmarks include a Kafka topic created with tansu;
# kafka-formats needs them). The Python
# package's release wheel is installed into the reference's venv, so both run on one Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SPINDLE_REF_VENV:-$(mktemp -d)/venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "sqllocks-spindle==3.0.0"
fi
(cd "$root" && cargo build --release -q -p spindle-cli)
case " $* " in
  *" anomalies "*|*" schema "*|*" realism "*|*" kafka-formats "*) ;;  # the CLI alone, or against the reference: no package needed
  *) "$venv/bin/pip" install -q --force-reinstall --no-deps "$root/crates/spindle-py" ;;
esac
case " $* " in
  *" spark "*) "$venv/bin/pip" install -q "pyspark==4.3.0" "dbldatagen>=0.4" jmespath pyparsing ;;  # dbldatagen needs both, undeclared
esac
exec "$venv/bin/python" "$root/benches/compare.py" --spindle "$root/target/release/spindle" \
  --package-python "$venv/bin/python" --out "$root/BENCHMARKS.md" "$@"
