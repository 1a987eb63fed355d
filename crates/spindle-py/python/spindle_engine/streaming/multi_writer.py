"""``StreamingMultiWriter``: one stream fanned out to several sinks, each behind its
own buffer and thread in the engine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Iterable

from spindle_engine.streaming._engine import _arrow_tables, _stream_once
from spindle_engine.streaming.config import StreamConfig
from spindle_engine.streaming.stream_writer import StreamWriter


@dataclass
class SinkResult:
    """Per-sink result."""

    sink_name: str
    success: bool
    events_sent: int = 0
    tables_processed: int = 0
    elapsed_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return len(self.errors)


@dataclass
class StreamingMultiWriteResult:
    """Aggregated result of streaming to several sinks."""

    sinks: list[SinkResult] = field(default_factory=list)
    total_events: int = 0
    total_tables: int = 0
    elapsed_seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(s.success for s in self.sinks) and len(self.sinks) > 0

    @property
    def partial_failure(self) -> bool:
        return any(not s.success for s in self.sinks) and any(s.success for s in self.sinks)

    def summary(self) -> str:
        """The report the seed prints."""
        status = "SUCCESS" if self.success else "PARTIAL FAILURE" if self.partial_failure else "FAILURE"
        lines = [
            "StreamingMultiWriter Result",
            "=" * 56,
            f"Sinks:         {len(self.sinks)}",
            f"Total events:  {self.total_events:,}",
            f"Total tables:  {self.total_tables}",
            f"Elapsed:       {self.elapsed_seconds:.1f}s",
            f"Status:        {status}",
            "",
            f"{'Sink':<22} {'Status':<10} {'Events':>10} {'Tables':>8} {'Errors':>7}",
            "-" * 60,
        ]
        for sr in self.sinks:
            lines.append(
                f"{sr.sink_name:<22} {'OK' if sr.success else 'FAIL':<10} {sr.events_sent:>10,} "
                f"{sr.tables_processed:>8} {sr.error_count:>7}"
            )
            for err in sr.errors[:3]:
                lines.append(f"  Error: {err}")
        return "\n".join(lines)


class StreamingMultiWriter:
    """Streams to several sinks at once: ``StreamingMultiWriter(console=ConsoleSink(),
    file=FileSink("events.jsonl"))``. A sink that fails is reported (and, with
    ``stop_on_sink_error``, stops the stream); the others go on. It can also be the
    ``sink`` of a :class:`SpindleStreamer`."""

    def __init__(
        self,
        max_workers: int | None = None,
        batch_size: int = 100,
        stop_on_sink_error: bool = False,
        **sinks: StreamWriter,
    ) -> None:
        if not sinks:
            raise ValueError("At least one sink must be provided")
        self._sinks: dict[str, StreamWriter] = dict(sinks)
        self._max_workers = max_workers or len(sinks)
        self._batch_size = batch_size
        self._stop_on_sink_error = stop_on_sink_error

    def add_sink(self, name: str, sink: StreamWriter) -> "StreamingMultiWriter":
        """Adds a sink and returns ``self`` for chaining."""
        self._sinks[name] = sink
        return self

    def remove_sink(self, name: str) -> "StreamingMultiWriter":
        """Removes a sink by name."""
        self._sinks.pop(name, None)
        return self

    @property
    def sink_names(self) -> list[str]:
        return list(self._sinks)

    def _native_sinks(self) -> list:
        if not self._sinks:
            raise ValueError("At least one sink must be provided")
        return [(name, sink._native_sink()) for name, sink in self._sinks.items()]

    def _fan_out(self) -> dict:
        return {"batch_size": self._batch_size, "stop_on_sink_error": self._stop_on_sink_error}

    def stream_table(self, table_name: str, df) -> dict[str, bool]:
        """Streams one table (pandas or pyarrow) to every sink: ``{sink: success}``."""
        result = self._stream_one(table_name, df)
        return {s["name"]: not s["errors"] for s in result["sinks"]}

    def _stream_one(self, table_name: str, df) -> dict:

        source = {"tables": _arrow_tables({table_name: df})}
        config = StreamConfig(batch_size=self._batch_size)
        sinks = self._native_sinks()
        return _stream_once(source, config, None, 42, sinks, table_name, None, fan_out=self._fan_out())[1]

    def stream(self, generator: Iterable) -> StreamingMultiWriteResult:
        """Streams ``(table_name, DataFrame or pyarrow Table)`` pairs (e.g.
        ``Spindle().generate_stream(...)``) to every sink, then closes the sinks."""
        started = time.time()
        stats = {name: SinkResult(sink_name=name, success=True) for name in self._sinks}
        tables: set[str] = set()
        for table_name, df in generator:
            tables.add(table_name)
            multi = self._stream_one(table_name, df)
            for s in multi["sinks"]:
                stat = stats[s["name"]]
                stat.events_sent += s["events_sent"]
                stat.errors.extend(s["errors"])
                stat.success = stat.success and not s["errors"]
            if self._stop_on_sink_error and any(not s.success for s in stats.values()):
                break
        for name, sink in self._sinks.items():
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001 - reported, as the seed does
                stats[name].errors.append(f"close: {e}")
                stats[name].success = False
        sinks = list(stats.values())
        for s in sinks:
            s.tables_processed = len(tables)
        return StreamingMultiWriteResult(
            sinks=sinks,
            total_events=sum(s.events_sent for s in sinks) // max(1, len(sinks)),
            total_tables=len(tables),
            elapsed_seconds=time.time() - started,
        )
