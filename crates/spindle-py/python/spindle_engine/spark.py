"""Spindle on Apache Spark: tables generated in parallel by the engine in Spark tasks,
and streams sent by many producers at once.

Each Spark task runs the Rust engine on its part ``i`` of ``n`` and hands Arrow
batches to Spark (``mapInArrow``), with no Python per row. The parts of a run
together are exactly the single-machine run's rows, whatever ``n`` is; the engine's
randomness is counter-based, so a part depends on its index only, not on the task or
machine that makes it. The executors need this package installed (see SCALING.md).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING

from spindle_engine import _domain_name, _native
from spindle_engine.streaming.config import StreamConfig
from spindle_engine.streaming.streamer import StreamResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["generate", "generate_table", "stream"]

# Rows per Arrow batch handed to Spark (a part is generated whole, then cut).
_BATCH_ROWS = 131_072


def _partitions(spark: "SparkSession", partitions: int | None) -> int:
    n = spark.sparkContext.defaultParallelism if partitions is None else partitions
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"invalid partitions: {partitions!r}; expected an int of at least 1")
    return n


def generate_table(
    spark: "SparkSession",
    domain,
    table: str,
    scale: str = "medium",
    seed: int = 42,
    partitions: int | None = None,
) -> "DataFrame":
    """``table`` of ``domain`` (a domain object, a built-in name or a ``.spindle.json``
    path) at ``scale`` as a Spark DataFrame made by ``partitions`` tasks (default: the
    session's default parallelism), each generating its part with the engine.

    Timestamps without a zone become ``TIMESTAMP_NTZ`` (the values as generated,
    whatever the session's time zone). Nothing is generated until an action runs.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    name = _domain_name(domain)
    n = _partitions(spark, partitions)
    # Checks the domain, table and scale on the driver, before any task starts.
    arrow_schema = _native.table_schema(name, table)
    _native.row_counts(name, scale)
    spark_schema = from_arrow_schema(arrow_schema, prefer_timestamp_ntz=True)

    def make(batches):
        from spindle_engine import _native as engine

        for ids in batches:
            for part in ids.column(0).to_pylist():
                (_, rows), = engine.generate(name, scale, seed, [table], part=(part, n))[0]
                for at in range(0, rows.num_rows, _BATCH_ROWS):
                    yield rows.slice(at, _BATCH_ROWS)

    return spark.range(n, numPartitions=n).mapInArrow(make, spark_schema)


def generate(
    spark: "SparkSession",
    domain,
    scale: str = "medium",
    seed: int = 42,
    partitions: int | None = None,
    tables: list[str] | None = None,
) -> "dict[str, DataFrame]":
    """Every table of ``domain`` (or ``tables``), as :func:`generate_table` makes each:
    ``{name: DataFrame}`` in generation order."""
    name = _domain_name(domain)
    names = [t for t, _ in _native.row_counts(name, scale)]
    if tables is not None:
        unknown = [t for t in tables if t not in names]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}; allowed: {', '.join(names)}")
        names = [t for t in names if t in tables]
    return {t: generate_table(spark, name, t, scale=scale, seed=seed, partitions=partitions) for t in names}


def stream(
    spark: "SparkSession",
    domain,
    table: str,
    sink: str,
    rate: float | None = None,
    partitions: int | None = None,
    scale: str = "medium",
    seed: int = 42,
    config: StreamConfig | None = None,
    start_delay: float = 2.0,
) -> list[StreamResult]:
    """Streams ``table`` from ``partitions`` Spark tasks at once, one producer each:
    part ``i`` sends every ``partitions``-th event of the run from the ``i``-th, so
    together they send exactly one run's events. Returns each part's StreamResult.

    ``sink`` is a sink address, as the CLI's ``--sink`` takes it (``kafka://HOST:PORT/
    TOPIC?key=COLUMN``, ``parquet:PATH``, ``file:PATH``); ``{part}`` in it becomes the
    part's index, so that file sinks get one file each. ``rate`` (events per second,
    all parts together) makes the run realtime; ``config`` gives the other stream
    settings. A realtime run runs its tasks as one barrier stage (all start together,
    so there must be as many task slots as parts) and starts its one schedule
    ``start_delay`` seconds after the last task is ready, bursts and time patterns
    included: the parts together keep the run's rate.
    """
    name = _domain_name(domain)
    n = _partitions(spark, partitions)
    config = config or StreamConfig()
    if rate is not None:
        config = dataclasses.replace(config, events_per_second=rate, realtime=True)
    settings = config._settings()
    _native.row_counts(name, scale)
    _native.table_schema(name, table)
    realtime = config.realtime

    def run(parts):
        from spindle_engine import _native as engine

        for part in parts:
            sink_part = engine.Sink.address(sink.replace("{part}", str(part)))
            start_at = None
            if realtime:
                from pyspark import BarrierTaskContext

                # Every task is ready (its sink connected): one clock from the last.
                ready = BarrierTaskContext.get().allGather(repr(time.time()))
                start_at = max(float(t) for t in ready) + start_delay
            # The part, and in real time the one clock, in the run's settings.
            part_settings = dict(settings, part=part, parts=n)
            if start_at is not None:
                part_settings["start_at"] = start_at
            try:
                results, _ = engine.stream(
                    [("sink", sink_part)], json.dumps(part_settings), [], table, None, seed,
                    domain=name, scale_name=scale,
                )
            finally:
                sink_part.close()
            yield (part, results[0])

    rdd = spark.sparkContext.parallelize(range(n), n)
    rdd = rdd.barrier().mapPartitions(run) if realtime else rdd.mapPartitions(run)
    return [StreamResult(**r) for _, r in sorted(rdd.collect(), key=lambda pr: pr[0])]
