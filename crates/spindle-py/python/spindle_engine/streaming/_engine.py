"""The one call into the engine's streaming run, shared by ``SpindleStreamer`` and
``StreamingMultiWriter``, and the conversion of the tables they are given."""

from __future__ import annotations

import dataclasses

from spindle_engine import _native
from spindle_engine.streaming.config import StreamConfig
from spindle_engine.streaming.result import StreamResult


def _arrow_tables(tables: dict) -> dict:
    """pandas DataFrames and pyarrow Tables (or anything with ``__arrow_c_stream__``)
    as Arrow streams the engine reads without a copy (pandas is converted once)."""
    import pyarrow as pa

    out = {}
    for name, table in tables.items():
        if not hasattr(table, "__arrow_c_stream__"):
            if hasattr(table, "to_dict") and hasattr(table, "columns"):
                table = pa.Table.from_pandas(table, preserve_index=False)
            else:
                raise TypeError(
                    f"table {name!r}: expected a pandas DataFrame or a pyarrow Table, "
                    f"not {type(table).__name__}"
                )
        if isinstance(table, pa.Table):
            table = _engine_types(table)
        out[str(name)] = table
    return out


def _engine_types(table):
    """Types as the engine writes them: timestamps in microseconds (pandas has
    nanoseconds), text as ``string`` (pandas 3 makes ``large_string``), and the label
    columns a Python anomaly adds as bool and string."""
    import pyarrow as pa

    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.unit != "us":
            f = f.with_type(pa.timestamp("us", f.type.tz))
        elif pa.types.is_large_string(f.type) or (f.name == "_spindle_anomaly_type" and pa.types.is_null(f.type)):
            f = f.with_type(pa.string())
        elif f.name == "_spindle_is_anomaly" and not pa.types.is_boolean(f.type):
            f = f.with_type(pa.bool_())
        fields.append(f)
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)


def _stream_once(source: dict, config: StreamConfig, registry, seed: int, sinks, table, timestamp_column,
                 fan_out=None, part=None, start_at=None, ground_truth=None, interleave=None):
    """One run of the engine (a ``StreamJob``): ``[StreamResult]`` and the fan-out's
    report (or None). ``part=(i, n)`` and ``start_at`` override the config's."""
    if part is not None:
        config = dataclasses.replace(config, part=part[0], parts=part[1])
    if start_at is not None:
        config = dataclasses.replace(config, start_at=start_at)
    results, multi = _native.stream(
        sinks,
        config._native(),
        registry._native() if registry else [],
        table,
        timestamp_column,
        seed,
        fan_out=fan_out,
        ground_truth=None if ground_truth is None else ground_truth._native_sink(),
        interleave=interleave,
        **source,
    )
    return [StreamResult(**r) for r in results], multi
