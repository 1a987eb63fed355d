"""The seed's API reference (../shared/seeds/), example by example, with only the
import changed; the defaults; custom Python sinks; pandas in, pyarrow out; errors."""

import dataclasses
import inspect
import io
import json
import os
import signal
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spindle_engine
from spindle_engine import RetailDomain, Spindle
from spindle_engine.streaming import (
    AnomalyRegistry,
    BurstWindow,
    CollectiveAnomaly,
    ConsoleSink,
    ContextualAnomaly,
    FileSink,
    PointAnomaly,
    SpindleStreamer,
    StreamConfig,
    StreamingMultiWriter,
    StreamWriter,
    TimePattern,
)


def defaults(cls):
    return {
        name: p.default
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def test_constructors_have_the_seed_s_defaults():
    assert defaults(SpindleStreamer) == {
        "domain": None, "tables": None, "sink": None, "config": None,
        "anomaly_registry": None, "scale": "small", "seed": 42,
    }
    assert defaults(FileSink) == {"mode": "a"}
    assert {k: v for k, v in defaults(ConsoleSink).items() if k != "verbose"} == {
        "indent": None, "prefix": "", "file": None,
    }
    assert defaults(StreamingMultiWriter) == {"max_workers": None, "batch_size": 100, "stop_on_sink_error": False}
    assert defaults(PointAnomaly) == {"multiplier_range": (10.0, 100.0), "fraction": 0.01}
    assert defaults(ContextualAnomaly) == {"fraction": 0.01}
    assert defaults(CollectiveAnomaly) == {"window_seconds": 600.0, "fraction": 0.005}
    c = StreamConfig()
    assert (c.events_per_second, c.duration_seconds, c.max_events, c.out_of_order_fraction,
            c.out_of_order_max_delay_slots, c.burst_windows, c.time_pattern, c.label_anomalies,
            c.batch_size, c.realtime) == (10.0, None, None, 0.0, 10, [], None, True, 100, False)


def test_every_engine_setting_is_a_stream_config_field_with_the_engine_s_default():
    from spindle_engine.streaming.config import _KEY_OF_FIELD

    field_of = {key: name for name, key in _KEY_OF_FIELD.items()}
    settings = spindle_engine._native.stream_settings()
    assert len(settings) >= 29
    names = {f.name for f in dataclasses.fields(StreamConfig)}
    assert {field_of.get(key, key) for key, _, _ in settings} == names
    sent = StreamConfig()._settings()
    for key, doc, default in settings:
        assert doc.strip(), key
        assert sent[key] == json.loads(default), key


def test_rate_multipliers_are_the_engine_s():
    c = StreamConfig(
        burst_windows=[BurstWindow(start_offset_seconds=0, duration_seconds=20, multiplier=2.0),
                       BurstWindow(start_event=30, end_event=60, multiplier=3.0)],
        rate_shapes=["step:10:3"],
        time_pattern=TimePattern.retail_peak(),
    )
    assert c.get_rate_multiplier(11.0, wall_hour=20, wall_dow=0) == 2.0 * 3.0 * 2.0
    assert c.get_rate_multiplier(11.0, wall_hour=20, wall_dow=0, event_index=30) == 2.0 * 3.0 * 2.0 * 3.0
    assert c.get_rate_multiplier(25.0, wall_hour=3, wall_dow=6) == pytest.approx(3.0 * 0.4 * 1.8)


def test_api_reference_examples():
    # BurstWindow: 10x rate burst starting at t=30s, lasting 60 seconds
    window = BurstWindow(start_offset_seconds=30, duration_seconds=60, multiplier=10.0)
    assert window.is_active(30) and not window.is_active(90)
    assert StreamConfig(burst_windows=[window]).get_rate_multiplier(45, 0, 0) == 10.0
    assert TimePattern.retail_peak().get_multiplier(20, 6) == 2.0 * 1.8

    # SpindleStreamer
    result = SpindleStreamer(
        domain=RetailDomain(),
        sink=FileSink("events.jsonl", mode="w"),
        config=StreamConfig(max_events=500),
    ).stream("order")
    print(result)
    assert result.events_sent == 500
    assert repr(result).startswith("StreamResult(table='order', events=500, anomalies=0, ooo=0, ")
    assert sum(1 for _ in open("events.jsonl")) == 500

    # AnomalyRegistry
    registry = AnomalyRegistry([
        PointAnomaly("extreme_total", column="order_total"),
        ContextualAnomaly(
            "winter_in_summer",
            column="status",
            condition_column="status",
            normal_values=["completed"],
            anomalous_values=["Winter Coats", "Heavy Jackets"],
        ),
    ])
    assert repr(registry) == "AnomalyRegistry(['point:extreme_total', 'contextual:winter_in_summer'])"
    assert len(registry) == 2

    # StreamingMultiWriter
    smw = StreamingMultiWriter(
        console=ConsoleSink(file=io.StringIO()),
        file=FileSink("multi.jsonl"),
    )
    spindle = Spindle()
    result = smw.stream(spindle.generate_stream(domain=RetailDomain(), scale="fabric_demo", seed=42))
    print(result.summary())
    counts = spindle.generate(domain=RetailDomain(), scale="fabric_demo", seed=42).row_counts
    assert result.success and result.total_events == sum(counts.values())
    assert result.total_tables == len(counts)
    summary = result.summary().splitlines()
    assert summary[:2] == ["StreamingMultiWriter Result", "=" * 56]
    assert summary[6] == "Status:        SUCCESS"
    tables = {json.loads(line)["_spindle_table"] for line in open("multi.jsonl")}
    assert tables == set(counts)


def test_console_sink_writes_to_its_file_with_prefix_and_indent():
    out = io.StringIO()
    sink = ConsoleSink(indent=2, prefix="» ", file=out)
    SpindleStreamer(domain=RetailDomain(), sink=sink, config=StreamConfig(max_events=3)).stream("order")
    text = out.getvalue()
    assert text.count("» {") == 3
    first = text.split("» ")[1]
    assert json.loads(first) == json.loads(json.dumps(json.loads(first), indent=2))
    assert first.startswith('{\n  "order_id": 1,')


def test_a_python_stream_writer_receives_lists_of_dicts():
    class Collect(StreamWriter):
        def __init__(self):
            self.batches = []

        def send_batch(self, events):
            self.batches.append(events)

    sink = Collect()
    result = SpindleStreamer(
        domain=RetailDomain(), sink=sink, config=StreamConfig(max_events=250, batch_size=100)
    ).stream("order")
    assert result.events_sent == 250
    assert [len(b) for b in sink.batches] == [100, 100, 50]
    events = [e for b in sink.batches for e in b]
    assert all(isinstance(e, dict) for e in events)
    assert [e["_spindle_seq"] for e in events] == list(range(250))
    # The dicts hold what the file sink writes.
    SpindleStreamer(domain=RetailDomain(), sink=FileSink("same.jsonl", "w"), config=StreamConfig(max_events=250)).stream("order")
    assert events == [json.loads(line) for line in open("same.jsonl")]


def test_a_python_sink_s_exception_is_raised_as_it_was():
    class Broken(StreamWriter):
        def send_batch(self, events):
            raise ConnectionError("broker down")

    with pytest.raises(ConnectionError, match="broker down"):
        SpindleStreamer(domain=RetailDomain(), sink=Broken(), config=StreamConfig(max_events=10)).stream("order")


def test_pandas_in_pyarrow_out():
    batch = Spindle().generate(domain=RetailDomain(), scale="fabric_demo", seed=42)
    order = batch.tables["order"]
    assert isinstance(order, pa.Table)
    df = order.to_pandas()
    assert len(df) == order.num_rows and list(df.columns) == order.column_names
    # A DataFrame goes back in (nanosecond timestamps and all) and streams the same rows.
    a = SpindleStreamer(tables={"order": df}, sink=FileSink("from_pandas.jsonl", "w")).stream("order")
    b = SpindleStreamer(tables={"order": order}, sink=FileSink("from_arrow.jsonl", "w")).stream("order")
    assert a.events_sent == b.events_sent == order.num_rows
    # pandas turns an integer column with nulls into floats (3 -> 3.0): equal values.
    from_pandas = [json.loads(line) for line in open("from_pandas.jsonl")]
    from_arrow = [json.loads(line) for line in open("from_arrow.jsonl")]
    assert from_pandas == from_arrow


def test_generation_is_deterministic_and_matches_the_seed():
    a = Spindle().generate(domain=RetailDomain(), scale="fabric_demo", seed=7)
    b = Spindle().generate(domain="retail", scale="fabric_demo", seed=7)
    assert a.generation_order == b.generation_order
    assert all(a.tables[t].equals(b.tables[t]) for t in a.tables)
    c = Spindle().generate(domain=RetailDomain(), scale="fabric_demo", seed=8)
    assert not a.tables["order"].equals(c.tables["order"])


def test_every_built_in_domain_has_a_class_and_generates():
    names = {cls.name for cls in vars(spindle_engine).values()
             if isinstance(cls, type) and issubclass(cls, spindle_engine.Domain) and cls is not spindle_engine.Domain}
    assert len(names) == 14 and {"retail", "iot", "financial", "hr", "telecom"} <= names
    from spindle_engine import IoTDomain, HRDomain, FinancialDomain

    assert HRDomain().name == "hr"
    result = Spindle().generate(domain=IoTDomain(), scale="fabric_demo")
    assert result.row_counts == IoTDomain().row_counts("fabric_demo")
    r = SpindleStreamer(domain=FinancialDomain(), sink=FileSink("tx.jsonl", "w"),
                        config=StreamConfig(max_events=100), scale="fabric_demo").stream("transaction")
    assert r.events_sent == 100


def test_a_spindle_json_schema_generates_like_its_built_in_domain():
    from pathlib import Path

    schema = Path(__file__).resolve().parents[3] / "spindle-gen/data/domains/iot/iot.spindle.json"
    from_file = Spindle().generate(schema=schema, scale="fabric_demo")
    built_in = Spindle().generate(domain="iot", scale="fabric_demo")
    assert from_file.generation_order == built_in.generation_order
    assert all(from_file.tables[t].equals(built_in.tables[t]) for t in built_in.tables)


def test_multi_writer_as_a_streamer_s_sink():
    smw = StreamingMultiWriter(a=FileSink("a.jsonl", "w"), b=FileSink("b.jsonl", "w"))
    result = SpindleStreamer(domain=RetailDomain(), sink=smw, config=StreamConfig(max_events=120)).stream("order")
    assert result.events_sent == 120
    for sink in smw._sinks.values():
        sink.close()
    assert open("a.jsonl").read() == open("b.jsonl").read()
    assert sum(1 for _ in open("a.jsonl")) == 120


def test_parquet_sink_reads_back_in_pyarrow():
    from spindle_engine.streaming import ParquetSink

    sink = ParquetSink("events.parquet")
    SpindleStreamer(domain=RetailDomain(), sink=sink, config=StreamConfig(max_events=1000)).stream("order")
    sink.close()
    table = pq.read_table("events.parquet")
    assert table.num_rows == 1000
    assert table.column("_spindle_seq").to_pylist() == list(range(1000))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: StreamConfig(out_of_order_fraction=1.5), ValueError, "out_of_order_fraction"),
        (lambda: StreamConfig(batch_size=0), ValueError, "batch_size"),
        (lambda: StreamConfig(events_per_second=-5, realtime=True), ValueError, "events_per_second"),
        (lambda: StreamConfig(max_events=-1), ValueError, "max_events"),
        (lambda: StreamConfig(drop_fraction=2), ValueError, "drop_fraction"),
        (lambda: StreamConfig(watermark_every="soon"), ValueError, "watermark"),
        (lambda: StreamConfig(rate_shapes=["sine:60:2"]), ValueError, "rate_shapes"),
        (lambda: StreamConfig(event_time="wall"), ValueError, "event_time"),
        (lambda: StreamConfig(speedup=0), ValueError, "speedup"),
        (lambda: StreamConfig(clock_start="yesterday"), ValueError, "clock_start"),
        (lambda: StreamConfig(cdc_tombstones=True), ValueError, "cdc"),
        (lambda: StreamConfig(out_of_order_fraction=0.1, max_lateness_seconds=60,
                              lateness_distribution="pareto"), ValueError, "lateness_distribution"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_field(make, error, message):
    with pytest.raises(error, match=message):
        SpindleStreamer(domain=RetailDomain(), sink=FileSink("x.jsonl", "w"), config=make()).stream("order")


def test_bad_input_raises_what_a_user_expects():
    sink = FileSink("x.jsonl", "w")
    with pytest.raises(ValueError, match="allowed:.*order"):
        SpindleStreamer(domain=RetailDomain(), sink=sink).stream("orders")
    with pytest.raises(ValueError, match="allowed:.*small"):
        SpindleStreamer(domain=RetailDomain(), sink=sink, scale="huge").stream("order")
    with pytest.raises(ValueError, match="order_totl"):
        SpindleStreamer(
            domain=RetailDomain(), sink=sink,
            anomaly_registry=AnomalyRegistry([PointAnomaly("p", column="order_totl")]),
        ).stream("order")
    with pytest.raises(ValueError, match="fraction"):
        SpindleStreamer(
            domain=RetailDomain(), sink=sink,
            anomaly_registry=AnomalyRegistry([PointAnomaly("p", column="order_total", fraction=2.0)]),
        ).stream("order")
    with pytest.raises(ValueError, match="Provide either"):
        SpindleStreamer(sink=sink)
    with pytest.raises(FileNotFoundError):
        Spindle().generate(schema="no/such/model.spindle.json")
    with pytest.raises(ValueError, match="mode"):
        FileSink("y.jsonl", mode="r")
    with pytest.raises(ValueError, match="start_event"):
        BurstWindow(multiplier=2.0)
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        SpindleStreamer(tables={"t": [1, 2, 3]})
    sink.close()
    with pytest.raises(ValueError, match="closed"):
        SpindleStreamer(domain=RetailDomain(), sink=sink).stream("order")


def test_ctrl_c_stops_a_realtime_stream_flushes_and_raises_keyboard_interrupt():
    sink = FileSink("slow.jsonl", "w")
    streamer = SpindleStreamer(
        domain=RetailDomain(), sink=sink,
        config=StreamConfig(events_per_second=50, realtime=True, batch_size=1),
    )
    # Python's own Ctrl-C handler, as at a terminal: a process started in the background
    # by a shell inherits SIGINT ignored, and Python keeps it so.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            streamer.stream("order")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 10
    lines = open("slow.jsonl").read().splitlines()
    # About a second at 50 events/s, every one flushed whole.
    assert 10 < len(lines) < 200
    assert [json.loads(line)["_spindle_seq"] for line in lines] == list(range(len(lines)))


def test_a_python_anomaly_subclass_works_beside_the_built_in_kinds():
    from spindle_engine.streaming import Anomaly

    class NegativeTotal(Anomaly):
        """A refund booked as a sale: the seed's protocol, inject(df, rng)."""

        anomaly_type = "custom:negative_total"
        fraction = 0.02

        def inject(self, df, rng):
            rows = rng.choice(len(df), size=int(len(df) * self.fraction), replace=False)
            df.loc[rows, "order_total"] = -df.loc[rows, "order_total"]
            df.loc[rows, "_spindle_is_anomaly"] = True
            df.loc[rows, "_spindle_anomaly_type"] = self.anomaly_type
            return df

    registry = AnomalyRegistry([NegativeTotal(), PointAnomaly("extreme_total", column="order_total", fraction=0.01)])
    result = SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("mixed.jsonl", "w"), anomaly_registry=registry, scale="fabric_demo",
    ).stream("order")
    events = [json.loads(line) for line in open("mixed.jsonl")]
    kinds = {}
    for e in events:
        if e["_spindle_is_anomaly"]:
            kinds.setdefault(e["_spindle_anomaly_type"], []).append(e)
    n = len(events)
    assert set(kinds) == {"custom:negative_total", "point:extreme_total"}
    assert len(kinds["point:extreme_total"]) == max(1, int(n * 0.01))
    # A built-in anomaly may land on a row the Python one marked; it then names it.
    assert 0 < len(kinds["custom:negative_total"]) <= int(n * 0.02)
    assert all(e["order_total"] < 0 for e in kinds["custom:negative_total"])
    assert result.anomaly_count == sum(len(v) for v in kinds.values())
    assert all(e["_spindle_anomaly_type"] is None for e in events if not e["_spindle_is_anomaly"])


def test_the_version_is_the_wheel_s():
    from importlib.metadata import version

    assert spindle_engine.__version__ == version("spindle-engine")


def test_stream_parts_together_are_the_run():
    config = StreamConfig(out_of_order_fraction=0.05, max_events=1_001)
    whole = FileSink("whole.jsonl", mode="w")
    SpindleStreamer(domain=RetailDomain(), sink=whole, config=config).stream("order")
    whole.close()
    expected = open("whole.jsonl").read().splitlines()
    for i in range(2):
        sink = FileSink(f"part{i}.jsonl", mode="w")
        r = SpindleStreamer(domain=RetailDomain(), sink=sink, config=config).stream("order", part=(i, 2))
        sink.close()
        assert r.events_sent == len(expected[i::2])
        assert open(f"part{i}.jsonl").read().splitlines() == expected[i::2]
    realtime = SpindleStreamer(domain=RetailDomain(), sink=FileSink("rt.jsonl", "w"),
                               config=StreamConfig(realtime=True, max_events=10))
    with pytest.raises(ValueError, match="start_at"):
        realtime.stream("order", part=(0, 2))
    with pytest.raises(ValueError, match="part"):
        realtime.stream("order", part=(2, 2))
    # A shared start in the past: the events already due go at once.
    r = realtime.stream("order", part=(0, 2), start_at=time.time() - 60)
    assert r.events_sent == 5 and r.elapsed_seconds < 5


def test_delivery_faults_are_counted_and_marked():
    config = StreamConfig(out_of_order_fraction=0.1, max_lateness_seconds=2 * 86_400,
                          duplicate_fraction=0.05, drop_fraction=0.03, watermark_every="86400s",
                          rate_shapes=["sine:60:0.5"])
    sink, truth = FileSink("faults.jsonl", mode="w"), FileSink("dropped.jsonl", mode="w")
    r = SpindleStreamer(domain=RetailDomain(), sink=sink, config=config).stream("order", ground_truth=truth)
    sink.close()
    truth.close()
    dropped = [json.loads(line) for line in open("dropped.jsonl")]
    events = [json.loads(line) for line in open("faults.jsonl")]
    copies = [e for e in events if e["_spindle_duplicate_of"] is not None]
    originals = {e["_spindle_seq"] for e in events if e["_spindle_duplicate_of"] is None}
    assert r.events_sent == len(events)
    assert r.duplicate_count == len(copies) > 0
    assert all(c["_spindle_duplicate_of"] == c["_spindle_seq"] for c in copies)
    # Each order is sent once as itself, or dropped (and then in the ground truth).
    assert r.dropped_count == len(dropped) > 0
    assert sorted(originals | {e["_spindle_seq"] for e in dropped}) == list(range(5_000))
    assert r.watermark_count == sum(e["_spindle_watermark"] is not None for e in events) > 0
    assert "duplicates=" in repr(r) and "dropped=" in repr(r)


def test_interleaved_tables_come_as_one_event_time_stream():
    sink = FileSink("merged.jsonl", mode="w")
    r = SpindleStreamer(domain=RetailDomain(), sink=sink).stream_interleaved(["order_line", "order"])
    sink.close()
    events = [json.loads(line) for line in open("merged.jsonl")]
    assert r.events_sent == len(events) == 5_000 + 12_500
    assert r.table == "order,order_line"
    times = [e["_spindle_event_time"] for e in events]
    assert times == sorted(times)
    order_at = {}
    for i, e in enumerate(events):
        if e["_spindle_table"] == "order":
            order_at[e["order_id"]] = e["order_date"]
        else:
            # A line comes after its order, at its order's time.
            assert order_at[e["order_id"]] == e["_spindle_event_time"]
    with pytest.raises(ValueError, match="unknown table 'orders'"):
        SpindleStreamer(domain=RetailDomain(), sink=FileSink("x.jsonl", mode="w")).stream_interleaved(["orders"])


def test_a_change_stream_replays_to_the_generated_table():
    config = StreamConfig(cdc=True, cdc_delete_fraction=0.05)
    sink = FileSink("changes.jsonl", mode="w")
    r = SpindleStreamer(domain=RetailDomain(), sink=sink, config=config).stream("order")
    sink.close()
    changes = [json.loads(line) for line in open("changes.jsonl")]
    assert r.events_sent == len(changes)
    rows, deleted = {}, set()
    for c in changes:
        if c["op"] == "c":
            assert c["before"] is None and c["after"]["status"] == "processing"
            rows[c["after"]["order_id"]] = c["after"]
        elif c["op"] == "u":
            assert rows[c["after"]["order_id"]] == c["before"]
            rows[c["after"]["order_id"]] = c["after"]
        else:
            assert c["op"] == "d" and rows.pop(c["before"]["order_id"]) == c["before"]
            deleted.add(c["before"]["order_id"])
    generated = Spindle().generate(domain=RetailDomain(), scale="small", seed=42, tables=["order"]).tables["order"]
    expected = {
        row["order_id"]: row for row in generated.to_pylist() if row["order_id"] not in deleted
    }
    assert 150 <= len(deleted) <= 350
    assert {k: v["status"] for k, v in rows.items()} == {k: v["status"] for k, v in expected.items()}
    assert {k: v["order_total"] for k, v in rows.items()} == {k: v["order_total"] for k, v in expected.items()}
    # A lifecycle of one's own, and a bad one named.
    custom = StreamConfig(cdc=True, cdc_lifecycle="status:completed=placed/2/1", max_events=50)
    sink = FileSink("custom.jsonl", mode="w")
    SpindleStreamer(domain=RetailDomain(), sink=sink, config=custom).stream("order")
    sink.close()
    assert {json.loads(line)["after"]["status"] for line in open("custom.jsonl")} >= {"placed", "completed"}
    with pytest.raises(ValueError, match="cdc_lifecycle"):
        SpindleStreamer(domain=RetailDomain(), sink=sink,
                        config=StreamConfig(cdc=True, cdc_lifecycle="status")).stream("order")
