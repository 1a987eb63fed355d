"""``SpindleStreamer``: generated or given tables streamed as events by the engine."""

from __future__ import annotations

from spindle_engine import _native
from spindle_engine.streaming._engine import _arrow_tables, _stream_once
from spindle_engine.streaming.anomaly import AnomalyRegistry
from spindle_engine.streaming.config import StreamConfig
from spindle_engine.streaming.multi_writer import StreamingMultiWriter
from spindle_engine.streaming.result import StreamResult
from spindle_engine.streaming.stream_writer import StreamWriter

__all__ = ["SpindleStreamer", "StreamResult"]


class SpindleStreamer:
    """Streams generated (or given) tables through a :class:`StreamWriter`.

    ``domain`` is a domain object (``RetailDomain()``) or its name, ``tables`` a dict of
    pandas DataFrames or pyarrow Tables; the engine generates, injects anomalies,
    reorders, paces and writes, with the GIL released.
    """

    def __init__(
        self,
        domain=None,
        tables: dict | None = None,
        sink: StreamWriter | None = None,
        config: StreamConfig | None = None,
        anomaly_registry: AnomalyRegistry | None = None,
        scale: str = "small",
        seed: int | None = 42,
    ) -> None:
        if domain is None and tables is None:
            raise ValueError("Provide either 'domain' or 'tables'.")
        self._domain = domain
        self._tables = _arrow_tables(tables) if tables is not None else None
        if sink is None:
            from spindle_engine.streaming.sinks import ConsoleSink

            sink = ConsoleSink()
        self._sink = sink
        self._config = config or StreamConfig()
        self._anomaly_registry = anomaly_registry
        self._scale = scale
        self._seed = 42 if seed is None else seed

    def _source(self) -> dict:
        if self._tables is not None:
            return {"tables": self._tables}
        from spindle_engine import _domain_name

        return {"domain": _domain_name(self._domain), "scale_name": self._scale}

    def _sinks(self) -> dict:
        if isinstance(self._sink, StreamingMultiWriter):
            return {"sinks": self._sink._native_sinks(), "fan_out": self._sink._fan_out()}
        return {"sinks": [("sink", self._sink._native_sink())]}

    def _run(self, table: str | None, timestamp_column: str | None, part=None, start_at=None,
             ground_truth=None) -> list[StreamResult]:
        sinks = self._sinks()
        registry = self._anomaly_registry
        custom = [a for a in registry or [] if not a._injected_by_engine]
        if not custom:
            source = self._source()
        elif table is None:
            return [r for t in self._table_names()
                    for r in self._run(t, timestamp_column, part, start_at, ground_truth)]
        else:
            source = {"tables": _arrow_tables({table: self._inject_python(table, custom)})}
            registry = AnomalyRegistry([a for a in registry if a._injected_by_engine])
        return _stream_once(source, self._config, registry, self._seed, table=table, timestamp_column=timestamp_column,
                            part=part, start_at=start_at, ground_truth=ground_truth, **sinks)[0]

    def _table_names(self) -> list[str]:
        if self._tables is not None:
            return list(self._tables)
        from spindle_engine import _domain_name

        return [t for t, _ in _native.row_counts(_domain_name(self._domain), self._scale)]

    def _inject_python(self, table: str, anomalies: list):
        """``table`` as a pandas DataFrame with the labels of the anomalies written in
        Python (``inject(df, rng)``, as the seed's registry applies them); the engine
        then injects the built-in kinds beside them and keeps these labels."""
        import numpy as np
        import pyarrow as pa

        if self._tables is not None:
            if table not in self._tables:
                raise ValueError(f"unknown table '{table}'; allowed: {', '.join(self._tables)}")
            arrow = pa.table(self._tables[table])
        else:
            from spindle_engine import Spindle

            arrow = Spindle().generate(domain=self._domain, scale=self._scale, seed=self._seed, tables=[table]).tables[table]
        df = arrow.to_pandas()
        df["_spindle_is_anomaly"] = False
        df["_spindle_anomaly_type"] = None
        rng = np.random.default_rng(self._seed)
        for anomaly in anomalies:
            df = anomaly.inject(df, rng)
        return df

    def stream(self, table: str, timestamp_column: str | None = None, *, part: tuple[int, int] | None = None,
               start_at=None, ground_truth=None) -> StreamResult:
        """Streams every row of ``table`` (up to ``max_events``) in event-time order,
        ``timestamp_column`` (default: the first timestamp column) giving event time.

        ``part=(i, n)`` sends only part ``i`` of ``n`` of the run's events (every
        ``n``-th from the ``i``-th): ``n`` producers with the same settings together
        send exactly one run. ``start_at`` (a datetime, naive meaning UTC, or Unix
        seconds) is the wall-clock instant a realtime schedule starts at; the parts
        of a realtime run need the same one. ``ground_truth`` (a sink) receives the
        events ``drop_fraction`` drops, as they would have been sent.
        """
        return self._run(table, timestamp_column, part, start_at, ground_truth)[0]

    def stream_all(self, timestamp_column: str | None = None, *, part: tuple[int, int] | None = None,
                   start_at=None, ground_truth=None) -> list[StreamResult]:
        """Streams every table in generation order (``part``, ``start_at``,
        ``ground_truth``: as :meth:`stream`)."""
        return self._run(None, timestamp_column, part, start_at, ground_truth)

    def stream_interleaved(self, tables: list[str], timestamp_column: str | None = None, *,
                           part: tuple[int, int] | None = None, start_at=None, ground_truth=None) -> StreamResult:
        """Streams ``tables`` as one stream, their events merged by event time (README
        "Interleaved tables"): a line right after its order and at its time,
        ``_spindle_table`` naming each event's table (``part``, ``start_at``,
        ``ground_truth``: as :meth:`stream`). Anomalies of the engine's kinds apply to
        the tables that have their columns."""
        registry = self._anomaly_registry
        if any(not a._injected_by_engine for a in registry or []):
            raise ValueError("stream_interleaved takes the engine's anomaly kinds, not anomalies written in Python")
        return _stream_once(self._source(), self._config, registry, self._seed, table=None,
                            timestamp_column=timestamp_column, part=part, start_at=start_at,
                            ground_truth=ground_truth, interleave=[str(t) for t in tables],
                            **self._sinks())[0][0]
