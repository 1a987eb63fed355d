"""spindle_engine.spark on pyspark in local mode (local[2]): tables equal to the
single-machine run whatever the partition count, and partitioned streams that
together send exactly one run (into files, and into Kafka when a broker is given)."""

import json
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from spindle_engine import RetailDomain, Spindle
from spindle_engine.streaming import FileSink, SpindleStreamer, StreamConfig

from test_services import broker, consume

IOT_SCHEMA = str(Path(__file__).resolve().parents[3] / "spindle-gen/data/domains/iot/iot.spindle.json")


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install pyspark in the test venv")
        pytest.skip("pyspark is not installed")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("spindle-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def local(domain, table, scale):
    return Spindle().generate(domain=domain, scale=scale, seed=42, tables=[table]).tables[table]


def same_rows(spark_df, expected: pa.Table, key: list[str]):
    got = spark_df.toArrow()
    assert got.column_names == expected.column_names
    assert got.num_rows == expected.num_rows
    order = [(k, "ascending") for k in key]
    assert got.cast(expected.schema).sort_by(order).equals(expected.sort_by(order))


@pytest.mark.parametrize(
    "domain, table, key",
    [
        (RetailDomain(), "order", ["order_id"]),
        (RetailDomain(), "order_line", ["order_line_id"]),
        ("iot", "reading", ["reading_id"]),
        (IOT_SCHEMA, "reading", ["reading_id"]),
    ],
)
def test_a_table_is_the_single_machine_run_whatever_the_partition_count(spark, domain, table, key):
    from spindle_engine.spark import generate_table

    expected = local(domain, table, "small")
    for partitions in [1, 3, 4]:
        df = generate_table(spark, domain, table, scale="small", partitions=partitions)
        assert df.rdd.getNumPartitions() == partitions
        same_rows(df, expected, key)


def test_generate_makes_every_table_with_its_count_and_types(spark):
    from pyspark.sql.types import TimestampNTZType

    from spindle_engine import _native
    from spindle_engine.spark import generate

    tables = generate(spark, "retail", scale="fabric_demo", partitions=3)
    counts = dict(_native.row_counts("retail", "fabric_demo"))
    assert list(tables) == list(counts)
    for name, df in tables.items():
        assert df.count() == counts[name], name
    assert isinstance(tables["order"].schema["order_date"].dataType, TimestampNTZType)
    with pytest.raises(ValueError, match="allowed:.*order"):
        generate(spark, "retail", scale="small", tables=["orders"])
    with pytest.raises(ValueError, match="partitions"):
        generate(spark, "retail", partitions=0)


def test_stream_parts_into_files_are_one_run(spark):
    from spindle_engine.spark import stream

    whole = FileSink("whole.jsonl", mode="w")
    config = StreamConfig(out_of_order_fraction=0.05, max_events=3_001)
    SpindleStreamer(domain=RetailDomain(), sink=whole, config=config).stream("order")
    whole.close()
    expected = open("whole.jsonl").read().splitlines()

    results = stream(spark, "retail", "order", sink=f"file:{os.getcwd()}/part-{{part}}.jsonl",
                     partitions=3, scale="small", config=config)
    assert [r.events_sent for r in results] == [1_001, 1_000, 1_000]
    for part in range(3):
        got = open(f"part-{part}.jsonl").read().splitlines()
        assert got == expected[part::3], f"part {part}: every third event of the run, in its order"


def test_realtime_parts_keep_the_run_s_rate_together(spark):
    from spindle_engine.spark import stream

    started = time.time()
    results = stream(spark, "retail", "order", sink=f"file:{os.getcwd()}/rt-{{part}}.jsonl",
                     rate=400.0, partitions=2, scale="small", config=StreamConfig(max_events=800, batch_size=1),
                     start_delay=1.0)
    assert [r.events_sent for r in results] == [400, 400]
    # One schedule of 800 events at 400 events/s: about 2 s, shared by the two parts
    # (each at about 200 events/s), not 2 s each one after the other.
    for r in results:
        assert 1.2 < r.elapsed_seconds < 3.5, r
    assert time.time() - started < 30


def test_stream_parts_into_kafka_arrive_whole_without_duplicates(spark):
    import subprocess

    from spindle_engine.spark import stream

    bootstrap, tansu = broker()
    topic = f"spindle-spark-{time.time_ns()}"
    subprocess.run(
        [tansu, "topic", "create", topic, "--broker", f"tcp://{bootstrap}", "--partitions", "3"],
        check=True, capture_output=True,
    )
    results = stream(spark, "retail", "order", sink=f"kafka://{bootstrap}/{topic}?key=customer_id",
                     partitions=4, scale="small")
    assert sum(r.events_sent for r in results) == 5_000
    messages = consume(bootstrap, topic, 5_000)
    seqs = sorted(json.loads(payload)["_spindle_seq"] for _, _, payload, _, _ in messages)
    assert seqs == list(range(5_000)), "every event once: no duplicates, no gaps"
    partition_of_key = {}
    for key, partition, *_ in messages:
        assert partition_of_key.setdefault(key, partition) == partition, "a key stays on one partition"
