"""The built-in sinks, written by the engine."""

from __future__ import annotations

import os
import sys

from spindle_engine import _native
from spindle_engine.streaming.stream_writer import NativeWriter


class ConsoleSink(NativeWriter):
    """Prints events as JSON lines to ``file`` (default ``sys.stdout``, so a notebook
    shows them), each after ``prefix``, pretty-printed when ``indent`` is given.

    ``verbose=False`` (the seed's tutorial passes it) counts events without printing
    them.
    """

    def __init__(self, indent: int | None = None, prefix: str = "", file=None, verbose: bool = True) -> None:
        self._indent = indent
        self._prefix = prefix
        self._file = file or sys.stdout
        if verbose:
            self._sink = _native.Sink.console(self._file, indent, prefix)
        else:
            self._sink = _native.Sink.file(os.devnull, True)


class FileSink(NativeWriter):
    """Writes events as JSON lines to ``path`` (parent folders are created);
    ``mode`` is ``"a"`` (append, the default) or ``"w"`` (overwrite)."""

    def __init__(self, path: str | os.PathLike, mode: str = "a") -> None:
        if mode not in ("a", "w"):
            raise ValueError(f"invalid mode {mode!r}; allowed: 'a' (append), 'w' (overwrite)")
        self.path = os.fspath(path)
        self.mode = mode
        self._sink = _native.Sink.file(self.path, mode == "a")


class ParquetSink(NativeWriter):
    """Writes events to a Parquet file (zstd), complete when closed."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._sink = _native.Sink.parquet(self.path)


class KafkaSink(NativeWriter):
    """Produces events to a Kafka topic (librdkafka inside the engine), keyed by
    ``key_column`` when given.

    Each message's Kafka timestamp is its event's ``_spindle_event_time``
    (``timestamp="send"``: when it was produced). The producer is idempotent (no
    duplicate written on a retry) unless ``idempotence=False``.

    ``value_format="avro"`` writes each value as Avro in the Confluent wire format
    (``"json-schema"``: the JSON object, with a JSON Schema; ``"protobuf"``: a
    Protobuf message, with its ``.proto``), each table's schema
    registered in the schema registry at ``schema_registry_url``
    (credentials from ``SPINDLE_SCHEMA_REGISTRY_AUTH=user:password`` or
    ``SPINDLE_SCHEMA_REGISTRY_TOKEN``) under the subject ``subject_naming`` gives:
    ``"topic"`` (``TOPIC-value``, the default), ``"record"`` (``spindle.TABLE``) or
    ``"topic-record"`` (``TOPIC-spindle.TABLE``, for a topic of several tables).
    ``auto_register=False`` only looks schemas up.

    ``metadata="headers"`` sends the ``_spindle_*`` columns (sequence, event time,
    anomaly labels, ...) as message headers only, each as text, and leaves them out
    of the value and its schema."""

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        topic: str,
        key_column: str | None = None,
        timestamp: str = "event",
        idempotence: bool | None = None,
        value_format: str = "json",
        schema_registry_url: str | None = None,
        subject_naming: str | None = None,
        auto_register: bool = True,
        metadata: str = "value",
    ) -> None:
        servers = bootstrap_servers if isinstance(bootstrap_servers, str) else ",".join(bootstrap_servers)
        self.topic = topic
        self.key_column = key_column
        options = []
        if key_column:
            options.append(f"key={key_column}")
        if timestamp != "event":
            options.append(f"timestamp={timestamp}")
        if idempotence is not None:
            options.append(f"idempotence={'true' if idempotence else 'false'}")
        if value_format != "json":
            options.append(f"format={value_format}")
        if schema_registry_url is not None:
            options.append(f"registry={schema_registry_url}")
        if subject_naming is not None:
            options.append(f"subject={subject_naming}")
        if not auto_register:
            options.append("auto_register=false")
        if metadata != "value":
            options.append(f"metadata={metadata}")
        address = f"kafka://{servers}/{topic}"
        if options:
            address += "?" + "&".join(options)
        self._sink = _native.Sink.address(address)


class EventHubSink(NativeWriter):
    """Sends events to an Azure Event Hub through its Kafka endpoint."""

    def __init__(
        self,
        connection_string: str,
        eventhub_name: str | None = None,
        partition_key_column: str | None = None,
    ) -> None:
        self.eventhub_name = eventhub_name
        self.partition_key_column = partition_key_column
        self._sink = _native.Sink.event_hub(connection_string, eventhub_name, partition_key_column)
