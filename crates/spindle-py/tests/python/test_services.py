"""KafkaSink against a real Kafka-protocol broker (tansu, started by .ci/run; set
SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU), consumed back with confluent-kafka; and
EventHubSink's connection string (its endpoint needs Azure)."""

import datetime
import json
import os
import pathlib
import subprocess
import sys
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


# The test suite's schema registry (Confluent's REST API, in memory).
REGISTRY_SCRIPT = pathlib.Path(__file__).parents[3] / "spindle-cli" / "tests" / "support" / "schema_registry.py"


@pytest.fixture
def registry():
    server = subprocess.Popen([sys.executable, str(REGISTRY_SCRIPT)], stdout=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{server.stdout.readline().strip()}"
    finally:
        server.kill()
        server.wait()


def test_kafka_sink_writes_avro_that_confluents_deserializer_reads(registry):
    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    bootstrap, tansu = broker()
    topic = f"spindle-py-avro-{time.time_ns()}"
    subprocess.run(
        [tansu, "topic", "create", topic, "--broker", f"tcp://{bootstrap}", "--partitions", "3"],
        check=True, capture_output=True,
    )
    kafka = KafkaSink(bootstrap, topic, key_column="customer_id", value_format="avro",
                      schema_registry_url=registry)
    file = FileSink("avro-same.jsonl", mode="w")
    SpindleStreamer(
        domain=RetailDomain(), sink=StreamingMultiWriter(kafka=kafka, file=file),
        config=StreamConfig(out_of_order_fraction=0.05, max_events=1_000),
    ).stream("order")
    kafka.close()
    file.close()
    expected = {e["_spindle_seq"]: e for e in map(json.loads, open("avro-same.jsonl"))}

    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, deadline = {}, time.monotonic() + 60
    try:
        while len(seen) < len(expected) and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is None:
                continue
            assert m.error() is None, m.error()
            event = deserialize(m.value(), SerializationContext(topic, MessageField.VALUE))
            assert m.value()[0] == 0, "the Confluent wire format's magic byte"
            stamp = event["_spindle_event_time"]
            assert m.timestamp() == (TIMESTAMP_CREATE_TIME, millis(stamp.strftime("%Y-%m-%d %H:%M:%S.%f")))
            for k, v in event.items():
                if isinstance(v, datetime.datetime):
                    v = v.replace(tzinfo=None)
                    event[k] = v.strftime("%Y-%m-%d %H:%M:%S.%f" if v.microsecond else "%Y-%m-%d %H:%M:%S")
            assert m.key().decode() == str(event["customer_id"])
            seen[event["_spindle_seq"]] = event
    finally:
        consumer.close()
    assert seen == expected

    # Bad settings and a refusing registry are ValueErrors naming the setting.
    with pytest.raises(ValueError, match="add registry="):
        KafkaSink(bootstrap, topic, value_format="avro")
    with pytest.raises(ValueError, match="'thrift' is not one of json, avro, json-schema, protobuf"):
        KafkaSink(bootstrap, topic, value_format="thrift", schema_registry_url=registry)
    with pytest.raises(ValueError, match="'header' is not one of value, headers"):
        KafkaSink(bootstrap, topic, metadata="header")
    lookup_only = KafkaSink(bootstrap, topic, value_format="avro", schema_registry_url=registry,
                            subject_naming="record", auto_register=False)
    with pytest.raises(ValueError, match="subject 'spindle.order' has no version"):
        SpindleStreamer(domain=RetailDomain(), sink=lookup_only,
                        config=StreamConfig(max_events=10)).stream("order")


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

