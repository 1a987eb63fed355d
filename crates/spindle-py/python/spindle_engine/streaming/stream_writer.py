"""The sink contract: the seed's ``StreamWriter``."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from spindle_engine import _native


class StreamWriter(ABC):
    """Abstract base of all sinks.

    A subclass written in Python implements :meth:`send_batch`, which receives each
    batch as a list of event dicts (the values as the JSON lines have them: numbers,
    strings, booleans, None; times as ``"YYYY-MM-DD HH:MM:SS"`` strings). The built-in
    sinks never make dicts: the engine writes their bytes.
    """

    def send(self, event: dict[str, object]) -> None:
        """Sends one event."""
        self.send_batch([event])

    @abstractmethod
    def send_batch(self, events: list[dict[str, object]]) -> None:
        """Sends a batch of events."""

    def close(self) -> None:
        """Closes connections or files (nothing by default)."""

    def __enter__(self) -> "StreamWriter":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _native_sink(self) -> "_native.Sink":
        """The engine's handle on this sink, made once."""
        sink = self.__dict__.get("_spindle_native")
        if sink is None:
            loads = json.loads

            def deliver(lines: str) -> None:
                self.send_batch([loads(line) for line in lines.splitlines()])

            sink = _native.Sink.python(deliver, type(self).__name__)
            self.__dict__["_spindle_native"] = sink
        return sink


class NativeWriter(StreamWriter):
    """A sink whose bytes the engine writes (the built-in sinks)."""

    _sink: "_native.Sink"

    def send_batch(self, events: list[dict[str, object]]) -> None:
        """Sends events given as dicts (the engine sends its own batches without them)."""
        if not events:
            return
        import pyarrow as pa

        self._sink.send_arrow(pa.RecordBatch.from_pylist(events))
        self._sink.flush()

    def flush(self) -> None:
        """Pushes buffered events out."""
        self._sink.flush()

    def close(self) -> None:
        """Flushes and closes; closing twice is allowed."""
        self._sink.close()

    def _native_sink(self) -> "_native.Sink":
        return self._sink

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._sink!r})"
