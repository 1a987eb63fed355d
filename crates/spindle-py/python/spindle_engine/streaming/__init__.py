"""The streaming engine: the seed's ``sqllocks_spindle.streaming`` API on Spindle."""

from spindle_engine.streaming.anomaly import (
    Anomaly,
    AnomalyRegistry,
    CollectiveAnomaly,
    ContextualAnomaly,
    PointAnomaly,
)
from spindle_engine.streaming.config import BurstWindow, StreamConfig, TimePattern
from spindle_engine.streaming.multi_writer import (
    SinkResult,
    StreamingMultiWriter,
    StreamingMultiWriteResult,
)
from spindle_engine.streaming.sinks import (
    ConsoleSink,
    EventHubSink,
    FileSink,
    KafkaSink,
    ParquetSink,
)
from spindle_engine.streaming.stream_writer import StreamWriter
from spindle_engine.streaming.streamer import SpindleStreamer, StreamResult

__all__ = [
    "Anomaly",
    "AnomalyRegistry",
    "BurstWindow",
    "CollectiveAnomaly",
    "ConsoleSink",
    "ContextualAnomaly",
    "EventHubSink",
    "FileSink",
    "KafkaSink",
    "ParquetSink",
    "PointAnomaly",
    "SinkResult",
    "SpindleStreamer",
    "StreamConfig",
    "StreamResult",
    "StreamWriter",
    "StreamingMultiWriteResult",
    "StreamingMultiWriter",
    "TimePattern",
]
