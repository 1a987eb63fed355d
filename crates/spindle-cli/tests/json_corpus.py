"""Golden JSON corpus: awkward values as a Parquet file, and the event lines CPython's
own json.dumps writes for them, in the reference's event shape.

Usage: python json_corpus.py OUT.parquet OUT.jsonl TABLE

The events are what the reference sends (`json.dumps(event, default=str)`): the row's
columns in order, then `_spindle_table`, `_spindle_seq` and `_spindle_event_time`
(`str()` of the event time). Two deliberate differences from the reference, which
Spindle documents: a missing value is `null` in every type (pandas turns it into `NaN`
in numeric columns, and integer columns with a gap into floats), and a non-finite float
is `null` (json.dumps writes the bare tokens `NaN` and `Infinity`, which are not JSON and
which strict consumers reject); `allow_nan=False` below proves no other value needs
either.
"""

import datetime as dt
import json
import math
import sys

import pyarrow as pa
import pyarrow.parquet as pq

parquet_path, jsonl_path, table_name = sys.argv[1:4]

FLOATS = [
    1e-7, 1e16, 0.1 + 0.2, -0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308,
    2.0**53, 2.0**53 + 2, -(2.0**53), 9007199254740993.0, 1e-4, 0.0001234, 9.999e-5,
    123456789012345.6, 1e15, 9.999999999999999e15, 1e22, 1e100, 1.5, -2.5e-300,
    2.2250738585072014e-308, 80.73, 0.07, 19.99, 1e13 + 0.01, 0.0, 100.0, -1.0, 1 / 3,
    float("nan"), float("inf"), float("-inf"), None,
]
INTS = [
    0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53 + 1), 2**63 - 1, -(2**63), 10**15,
    None, 42,
]
STRINGS = [
    "plain", 'quote " inside', "back\\slash", "slash / stays", "tab\tnew\nline\rreturn",
    "\b\f", "nul \x00 unit \x1f del \x7f", "caf\u00e9", "na\u00efve \u2013 \u201cquoted\u201d",
    "\u65e5\u672c\u8a9e", "emoji \U0001F600\U0001F389", "flag \U0001F1FA\U0001F1F8",
    "line sep \u2028 para \u2029", "bom \ufeff", "", " ", None, "{\"json\": [1, 2]}",
]
BOOLS = [True, False, None]
base = dt.datetime(2024, 2, 29, 23, 59, 58)
AT = [
    dt.datetime(1, 1, 1), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1970, 1, 1), dt.datetime(2000, 2, 29, 12, 0, 0, 500000),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 1, 1, 0, 0, 0, 1), None,
]
DATES = [dt.date(1, 1, 1), dt.date(1969, 12, 31), dt.date(2000, 2, 29), dt.date(9999, 12, 31), None]

n = max(len(FLOATS), len(INTS), len(STRINGS)) * 3


def cycle(values):
    return [values[i % len(values)] for i in range(n)]


# The event time: ascending, at second and sub-second precision, so that the replay keeps
# row order and every row's `_spindle_event_time` is known.
steps = [0, 1, 500000, 1, 999999, 0]
ts, t = [], base
for i in range(n):
    t = t + dt.timedelta(seconds=1 if i % 2 else 0, microseconds=steps[i % len(steps)])
    ts.append(t)

columns = {
    "ts": pa.array(ts, pa.timestamp("us")),
    "f": pa.array(cycle(FLOATS), pa.float64()),
    "i": pa.array(cycle(INTS), pa.int64()),
    "i32": pa.array([None if v is None else v % 2**31 - 2**30 for v in cycle(INTS)], pa.int32()),
    "s": pa.array(cycle(STRINGS), pa.string()),
    "b": pa.array(cycle(BOOLS), pa.bool_()),
    "at": pa.array(cycle(AT), pa.timestamp("us")),
    "at_utc": pa.array(cycle(AT), pa.timestamp("us", tz="UTC")),
    "d": pa.array(cycle(DATES), pa.date32()),
    "gap": pa.array([None] * n, pa.int64()),
}
table = pa.table(columns)
pq.write_table(table, parquet_path)


def json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return str(value)
    return value


with open(jsonl_path, "w", encoding="ascii", newline="\n") as out:
    for seq, row in enumerate(table.to_pylist()):
        event = {name: json_value(value) for name, value in row.items()}
        event["_spindle_table"] = table_name
        event["_spindle_seq"] = seq
        event["_spindle_event_time"] = str(row["ts"])
        out.write(json.dumps(event, allow_nan=False) + "\n")
