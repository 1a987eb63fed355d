"""KafkaSink against a real Kafka-protocol broker (tansu, started by .ci/run; set
SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU), consumed back with confluent-kafka; and
EventHubSink's connection string (its endpoint needs Azure)."""

import datetime
import json
import os
import subprocess
import time

import pytest

from spindle_engine import RetailDomain
from spindle_engine.streaming import (
    EventHubSink,
    FileSink,
    KafkaSink,
    SpindleStreamer,
    StreamConfig,
    StreamingMultiWriter,
)


# confluent_kafka.TIMESTAMP_CREATE_TIME: the producer's timestamp, kept by the broker.
TIMESTAMP_CREATE_TIME = 1


def broker():
    bootstrap, tansu = os.environ.get("SPINDLE_KAFKA_BOOTSTRAP"), os.environ.get("SPINDLE_TANSU")
    if not (bootstrap and tansu):
        if os.environ.get("CI"):
            pytest.fail("CI must provide SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU")
        pytest.skip("set SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU to run the Kafka test")
    return bootstrap, tansu


def consume(bootstrap, topic, expected):
    """Every message of `topic` (key, partition, payload, headers, (timestamp type,
    timestamp)) once `expected` have arrived and the topic has been quiet for two
    seconds."""
    from confluent_kafka import Consumer

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"check-{topic}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    messages, deadline, quiet_since = [], time.monotonic() + 60, time.monotonic()
    try:
        while time.monotonic() < deadline and (len(messages) < expected or time.monotonic() - quiet_since < 2):
            m = consumer.poll(0.2)
            if m is None:
                continue
            assert m.error() is None, m.error()
            quiet_since = time.monotonic()
            messages.append((
                m.key().decode(), m.partition(), m.value().decode(), dict(m.headers() or []), m.timestamp(),
            ))
    finally:
        consumer.close()
    return messages


def test_kafka_sink_delivers_every_event_once_keyed_by_its_column():
    bootstrap, tansu = broker()
    topic = f"spindle-py-{time.time_ns()}"
    subprocess.run(
        [tansu, "topic", "create", topic, "--broker", f"tcp://{bootstrap}", "--partitions", "3"],
        check=True, capture_output=True,
    )
    # The seed's constructor: a list of bootstrap servers, the topic, the key column.
    kafka = KafkaSink(bootstrap_servers=[bootstrap], topic=topic, key_column="customer_id")
    file = FileSink("same.jsonl", mode="w")
    writer = StreamingMultiWriter(kafka=kafka, file=file)
    result = SpindleStreamer(
        domain=RetailDomain(), sink=writer,
        config=StreamConfig(out_of_order_fraction=0.05, max_events=2_000),
    ).stream("order")
    kafka.close()
    file.close()
    assert result.events_sent == 2_000

    messages = consume(bootstrap, topic, 2_000)
    assert len(messages) == 2_000, "exactly the events sent, no more"
    partition_of_key = {}
    for key, partition, payload, headers, timestamp in messages:
        event = json.loads(payload)
        assert key == str(event["customer_id"]), "keyed by the customer"
        assert partition_of_key.setdefault(key, partition) == partition, "one customer, one partition"
        assert headers["_spindle_table"] == b"order"
        # The record's CreateTime is the event's time, to the millisecond.
        assert timestamp == (TIMESTAMP_CREATE_TIME, millis(event["_spindle_event_time"])), payload
    assert len(set(partition_of_key.values())) == 3, "spread over the 3 partitions"
    assert len({json.loads(p)["_spindle_seq"] for _, _, p, _, _ in messages}) == 2_000, "no duplicates"
    # The broker got the bytes the file got.
    assert sorted(p for _, _, p, _, _ in messages) == sorted(open("same.jsonl").read().splitlines())


def millis(text):
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) in milliseconds since the epoch, rounded down."""
    instant = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)
    delta = instant - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta // datetime.timedelta(microseconds=1)) // 1_000


def test_kafka_sink_can_stamp_send_time_and_refuses_bad_options():
    bootstrap, tansu = broker()
    topic = f"spindle-py-send-{time.time_ns()}"
    subprocess.run(
        [tansu, "topic", "create", topic, "--broker", f"tcp://{bootstrap}", "--partitions", "1"],
        check=True, capture_output=True,
    )
    before = time.time() * 1000
    kafka = KafkaSink(bootstrap, topic, key_column="customer_id", timestamp="send", idempotence=False)
    SpindleStreamer(domain=RetailDomain(), sink=kafka, config=StreamConfig(max_events=100)).stream("order")
    kafka.close()
    after = time.time() * 1000
    messages = consume(bootstrap, topic, 100)
    assert len(messages) == 100
    for *_, (kind, stamp) in messages:
        assert kind == TIMESTAMP_CREATE_TIME and before - 1_000 <= stamp <= after + 1_000, stamp
    with pytest.raises(ValueError, match="'now' is not one of event, send"):
        KafkaSink(bootstrap, topic, timestamp="now")


def test_event_hub_sink_takes_its_settings_from_the_connection_string():
    # The sink connects when made, so a namespace that does not answer fails at once,
    # naming its Kafka endpoint (derived from the connection string) and the hub.
    cs = ("Endpoint=sb://spindle-test.invalid/;SharedAccessKeyName=send;"
          "SharedAccessKey=abc123=;EntityPath=orders")
    with pytest.raises(ConnectionError, match=r"spindle-test\.invalid:9093"):
        EventHubSink(cs, partition_key_column="customer_id")
    for bad, needle in [
        ("SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h", "Endpoint"),
        ("Endpoint=https://x/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h", "sb://"),
        ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b", "EntityPath"),
        ("garbage", "KEY=VALUE"),
    ]:
        with pytest.raises(ValueError, match=needle):
            EventHubSink(bad)

