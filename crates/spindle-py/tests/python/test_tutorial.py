"""The seed's Tutorial 06 (../shared/seeds/), step by step, as written there but for
the import line (``sqllocks_spindle`` -> ``spindle_engine``), each step asserting what
the tutorial says happens."""

import io
import json
import time
from contextlib import redirect_stdout

from spindle_engine import SpindleStreamer, StreamConfig, FileSink, RetailDomain
from spindle_engine.streaming import (
    AnomalyRegistry,
    PointAnomaly,
    ContextualAnomaly,
    CollectiveAnomaly,
)


def step1():
    config = StreamConfig(
        events_per_second=100,
        max_events=500,
        out_of_order_fraction=0.05,
    )

    sink = FileSink("./stream_demo/events.jsonl", mode="w")

    streamer = SpindleStreamer(
        domain=RetailDomain(),
        sink=sink,
        config=config,
        scale="small",
        seed=42,
    )

    result = streamer.stream("order")
    sink.close()

    print(f"Events sent: {result.events_sent}")
    print(f"Out-of-order events: {result.out_of_order_count}")
    print(f"Duration: {result.duration_seconds:.2f}s")
    return result


def read_events(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_step1_streams_500_events_to_a_file_with_metadata():
    out = io.StringIO()
    with redirect_stdout(out):
        result = step1()
    assert result.events_sent == 500
    assert out.getvalue().splitlines()[:2] == ["Events sent: 500", f"Out-of-order events: {result.out_of_order_count}"]
    events = read_events("./stream_demo/events.jsonl")
    assert len(events) == 500
    # Each event is late with probability 0.05: about 25 of 500 (within 4 sigma) ...
    assert abs(result.out_of_order_count - 25) <= 4 * (500 * 0.05 * 0.95) ** 0.5
    # ... and the count is the truth: only late events are sent after their place in
    # event-time order, by at most out_of_order_max_delay_slots (10) places.
    delayed = [i - e["_spindle_seq"] for i, e in enumerate(events) if i > e["_spindle_seq"]]
    assert 0 < len(delayed) <= result.out_of_order_count
    assert max(delayed) <= 10
    seqs = [e["_spindle_seq"] for e in events]
    assert len(set(seqs)) == 500 and max(seqs) < 500 + 10
    for event in events:
        assert event["_spindle_table"] == "order"
        assert {"order_id", "customer_id", "order_total", "status", "order_date"} <= event.keys()


def test_step2_and_3_inspect_events_and_count_late_arrivals():
    step1_result = step1()
    # Step 2, as written.
    with open("./stream_demo/events.jsonl") as f:
        for i, line in enumerate(f):
            if i >= 3:
                break
            event = json.loads(line)
            print(json.dumps(event, indent=2, default=str))
    # Step 3, as written (the tutorial looks for `event_time` or `timestamp`; Spindle's
    # event time is `_spindle_event_time`).
    events = []
    with open("./stream_demo/events.jsonl") as f:
        for line in f:
            events.append(json.loads(line))
    ooo_count = 0
    for i in range(1, len(events)):
        current_ts = events[i].get("_spindle_event_time") or events[i].get("timestamp", "")
        previous_ts = events[i - 1].get("_spindle_event_time") or events[i - 1].get("timestamp", "")
        if current_ts < previous_ts:
            ooo_count += 1
    print(f"Total events: {len(events)}")
    print(f"Out-of-order events: {ooo_count}")
    print(f"OOO rate: {ooo_count / len(events) * 100:.1f}%")
    # Only a late event is older than the one sent before it.
    assert 0 < ooo_count <= step1_result.out_of_order_count
    in_order = sorted(events, key=lambda e: e["_spindle_seq"])
    assert all(a["_spindle_event_time"] <= b["_spindle_event_time"] for a, b in zip(in_order, in_order[1:]))


def test_step3_delay_is_bounded_by_max_delay_slots():
    config = StreamConfig(
        max_events=50,
        realtime=False,
        out_of_order_fraction=0.20,  # 20% of events arrive out of order
        out_of_order_max_delay_slots=5,  # reordered by up to 5 positions
    )
    sink = FileSink("./stream_demo/ooo.jsonl", mode="w")
    result = SpindleStreamer(domain=RetailDomain(), sink=sink, config=config, scale="small", seed=42).stream("order")
    sink.close()
    assert 0 < result.out_of_order_count <= 25
    events = read_events("./stream_demo/ooo.jsonl")
    positions = {e["_spindle_seq"]: i for i, e in enumerate(events)}
    # An event is sent at most 5 places after its own.
    assert all(at - seq <= 5 for seq, at in positions.items())


def test_step4_realtime_paces_40_events_at_20_per_second():
    from spindle_engine.streaming import SpindleStreamer, StreamConfig, FileSink

    result = SpindleStreamer(
        domain=RetailDomain(),
        sink=FileSink("./stream_demo/rate_limited.jsonl", mode="w"),
        config=StreamConfig(
            events_per_second=20.0,
            max_events=40,
            realtime=True,  # enable rate limiting + Poisson spacing
        ),
        scale="fabric_demo",
        seed=42,
    ).stream("order")

    print(f"Events: {result.events_sent}")
    print(f"Elapsed: {result.elapsed_seconds:.2f}s")
    print(f"Actual rate: {result.events_per_second_actual:.1f} events/s (target: 20)")
    assert result.events_sent == 40
    # "40 events at 20/sec takes approximately 2 seconds": Poisson spacing, so about.
    assert 1.0 < result.elapsed_seconds < 4.0
    assert len(read_events("./stream_demo/rate_limited.jsonl")) == 40


def test_step5_burst_by_event_index_with_a_quiet_console():
    from spindle_engine import ConsoleSink, BurstWindow

    burst_config = StreamConfig(
        events_per_second=50,
        max_events=100,
        out_of_order_fraction=0.0,
        burst_windows=[BurstWindow(start_event=30, end_event=60, multiplier=5.0)],
    )

    console_sink = ConsoleSink(verbose=False)
    burst_streamer = SpindleStreamer(
        domain=RetailDomain(),
        sink=console_sink,
        config=burst_config,
        scale="small",
        seed=99,
    )
    out = io.StringIO()
    with redirect_stdout(out):
        burst_result = burst_streamer.stream("order")

    print(f"Events sent: {burst_result.events_sent}")
    print(f"Effective rate: {burst_result.events_sent / burst_result.duration_seconds:.0f} events/sec")
    assert burst_result.events_sent == 100
    assert out.getvalue() == "", "verbose=False prints nothing"


def test_step5_realtime_burst_sends_its_section_faster():
    from spindle_engine import BurstWindow

    burst_config = StreamConfig(
        events_per_second=10.0,
        max_events=80,
        realtime=True,
        burst_windows=[
            BurstWindow(
                start_offset_seconds=1.0,
                duration_seconds=2.0,
                multiplier=5.0,  # 50 events/sec during the burst
            )
        ],
    )
    arrivals = []

    from spindle_engine.streaming import StreamWriter

    class Clock(StreamWriter):
        def send_batch(self, events):
            now = time.monotonic()
            arrivals.extend(now for _ in events)

    burst_config.batch_size = 1
    started = time.monotonic()
    result = SpindleStreamer(domain=RetailDomain(), sink=Clock(), config=burst_config, seed=42).stream("order")
    assert result.events_sent == 80
    offsets = [t - started for t in arrivals]
    before = sum(1 for t in offsets if t < 1.0)
    during = sum(1 for t in offsets if 1.0 <= t < 3.0)
    # 10/s before the burst (about 10 events), 50/s in it (about 100, capped by the 80).
    assert before < 25, offsets[:30]
    assert during > 3 * before, (before, during)


def anomalous(path):
    return [e for e in read_events(path) if e.get("_spindle_is_anomaly")]


def test_step6_point_contextual_collective_and_combined():
    from spindle_engine.streaming import FileSink

    registry = AnomalyRegistry([
        PointAnomaly(
            name="extreme_total",
            column="order_total",
            multiplier_range=(10.0, 50.0),  # 10-50x the column mean
            fraction=0.05,  # 5% of events
        )
    ])
    result = SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("./stream_demo/point.jsonl", mode="w"),
        config=StreamConfig(max_events=1000), anomaly_registry=registry, scale="small", seed=42,
    ).stream("order")
    marked = anomalous("./stream_demo/point.jsonl")
    assert result.anomaly_count == len(marked) > 0
    assert all(e["_spindle_anomaly_type"] == "point:extreme_total" for e in marked)
    normal = [e["order_total"] for e in read_events("./stream_demo/point.jsonl") if not e.get("_spindle_is_anomaly")]
    assert min(e["order_total"] for e in marked) > max(normal) / 10

    registry = AnomalyRegistry([
        ContextualAnomaly(
            name="cancelled_delivered",
            column="status",
            condition_column="status",
            normal_values=["cancelled"],
            anomalous_values=["delivered", "completed"],
            fraction=0.40,
        )
    ])
    SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("./stream_demo/contextual.jsonl", mode="w"),
        anomaly_registry=registry, scale="small", seed=42,
    ).stream("order")
    marked = anomalous("./stream_demo/contextual.jsonl")
    assert marked and all(e["status"] in ("delivered", "completed") for e in marked)

    registry = AnomalyRegistry([
        CollectiveAnomaly(
            name="velocity_fraud",
            group_column="customer_id",
            timestamp_column="order_date",
            window_seconds=300,  # compress group into 5-minute window
            fraction=0.05,
        )
    ])
    SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("./stream_demo/collective.jsonl", mode="w"),
        anomaly_registry=registry, scale="fabric_demo", seed=42,
    ).stream("order")
    marked = anomalous("./stream_demo/collective.jsonl")
    assert marked
    groups = {}
    for e in marked:
        groups.setdefault(e["customer_id"], []).append(e["order_date"])
    from datetime import datetime

    for times in groups.values():
        parsed = [datetime.fromisoformat(t) for t in times]
        assert (max(parsed) - min(parsed)).total_seconds() <= 300

    combined_registry = AnomalyRegistry([
        PointAnomaly(
            name="extreme_total",
            column="order_total",
            multiplier_range=(10.0, 50.0),
            fraction=0.03,
        ),
        ContextualAnomaly(
            name="returned_delivered",
            column="status",
            condition_column="status",
            normal_values=["returned"],
            anomalous_values=["delivered", "completed"],
            fraction=0.25,
        ),
    ])

    result = SpindleStreamer(
        domain=RetailDomain(),
        sink=FileSink("./stream_demo/combined.jsonl", mode="w"),
        config=StreamConfig(max_events=300, realtime=False),
        anomaly_registry=combined_registry,
        scale="fabric_demo",
        seed=42,
    ).stream("order")
    events = read_events("./stream_demo/combined.jsonl")
    assert result.events_sent == len(events) == 300
    kinds = {e["_spindle_anomaly_type"] for e in events if e["_spindle_is_anomaly"]}
    assert kinds <= {"point:extreme_total", "contextual:returned_delivered"} and kinds


def test_step6_labels_off_keeps_the_anomalies_out_of_sight():
    registry = AnomalyRegistry([PointAnomaly("extreme_total", column="order_total", fraction=0.05)])
    with_labels = SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("labelled.jsonl", mode="w"),
        config=StreamConfig(max_events=200), anomaly_registry=registry,
    ).stream("order")
    without = SpindleStreamer(
        domain=RetailDomain(), sink=FileSink("unlabelled.jsonl", mode="w"),
        config=StreamConfig(max_events=200, label_anomalies=False), anomaly_registry=registry,
    ).stream("order")
    assert with_labels.anomaly_count == without.anomaly_count > 0
    labelled, unlabelled = read_events("labelled.jsonl"), read_events("unlabelled.jsonl")
    assert all("_spindle_is_anomaly" not in e and "_spindle_anomaly_type" not in e for e in unlabelled)
    strip = [{k: v for k, v in e.items() if not k.startswith("_spindle_is") and k != "_spindle_anomaly_type"} for e in labelled]
    assert strip == unlabelled


def test_step7_streams_pre_generated_tables():
    from spindle_engine import Spindle

    batch = Spindle().generate(domain=RetailDomain(), scale="fabric_demo", seed=42)

    out = io.StringIO()
    with redirect_stdout(out):
        for table_name in ["order", "order_line", "return"]:
            result = SpindleStreamer(
                tables=batch.tables,  # reuse pre-generated data
                sink=FileSink(f"./stream_demo/{table_name}.jsonl", mode="w"),
                config=StreamConfig(max_events=30, realtime=False),
            ).stream(table_name)
            print(f"  {table_name:<12} {result.events_sent:>3} events")
    assert out.getvalue().splitlines() == [
        "  order         30 events",
        "  order_line    30 events",
        "  return        30 events",
    ]
    for table_name in ["order", "order_line", "return"]:
        events = read_events(f"./stream_demo/{table_name}.jsonl")
        assert len(events) == 30 and {e["_spindle_table"] for e in events} == {table_name}
