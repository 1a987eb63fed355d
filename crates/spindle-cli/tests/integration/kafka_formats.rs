//! Kafka values in Avro through a schema registry (`kafka://...?format=avro&registry=`),
//! against tansu and the test suite's registry (`tests/support/schema_registry.py`),
//! read back by confluent-kafka's own `AvroDeserializer` with its
//! `SchemaRegistryClient`: every message decodes to the event the JSON-lines sink of
//! the same run wrote, its record timestamp is the event time, and each failure of the
//! registry stops the run before its first message.

use crate::common::{PY_AS_JSON, interop_python, spindle, text};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The broker's address and the tansu binary (the tests are `#[ignore]`d: `.ci/run`
/// starts tansu and runs them).
fn broker() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("set {name} to run the Kafka tests"))
    };
    (var("SPINDLE_KAFKA_BOOTSTRAP"), var("SPINDLE_TANSU"))
}

/// A new topic of 3 partitions named `{prefix}-{nanos}`.
fn create_topic(prefix: &str) -> String {
    let (bootstrap, tansu) = broker();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("{prefix}-{nanos}");
    let status = Command::new(tansu)
        .args(["topic", "create", &topic, "--broker"])
        .arg(format!("tcp://{bootstrap}"))
        .args(["--partitions", "3"])
        .status()
        .unwrap();
    assert!(status.success(), "tansu topic create {topic}");
    topic
}

/// The test suite's schema registry, on a free port, stopped when dropped.
struct Registry {
    child: Child,
    url: String,
}

impl Registry {
    /// Starts one; with `auth` (`user:password`) it requires those credentials.
    fn start(auth: Option<&str>) -> Self {
        match auth {
            Some(auth) => Self::start_with(&["--auth", auth], "http"),
            None => Self::start_with(&[], "http"),
        }
    }

    /// Starts one with the script's `args`, answering at `scheme://127.0.0.1:PORT`.
    fn start_with(args: &[&str], scheme: &str) -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/schema_registry.py"
        );
        let mut child = Command::new(interop_python())
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        let url = format!("{scheme}://127.0.0.1:{}", port.trim());
        Self { child, url }
    }

    /// Registers `schema` (Avro JSON) under `subject` as another producer would.
    fn register(&self, subject: &str, schema: &str) {
        let script = "import json, sys, urllib.request\n\
            url, schema = sys.argv[1], sys.argv[2]\n\
            body = json.dumps({'schema': schema}).encode()\n\
            r = urllib.request.Request(url, body, {'Content-Type': 'application/json'})\n\
            print(urllib.request.urlopen(r).read().decode())";
        let url = format!("{}/subjects/{subject}/versions", self.url);
        let o = Command::new(interop_python())
            .args(["-c", script, &url, schema])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Consumes each topic given as `TOPIC=FORMAT` with confluent-kafka's deserializer of
/// the format and compares each message with the line of the JSON-lines file that has
/// its `_spindle_table` and `_spindle_seq`; prints one JSON summary per topic. Run
/// after [`PY_AS_JSON`].
const CONSUME_SCRIPT: &str = r#"
import datetime, importlib, json, os, sys, tempfile, time
import grpc_tools
from grpc_tools import protoc
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

bootstrap, registry, jsonl = sys.argv[1:4]
pairs = [a.split("=", 1) for a in sys.argv[4:]]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

lines = [json.loads(l) for l in open(jsonl)]
expected = {(l["_spindle_table"], l["_spindle_seq"]): l for l in lines}
client = SchemaRegistryClient({"url": registry})
proto_folder = tempfile.mkdtemp()
sys.path.insert(0, proto_folder)

def as_event(message):
    """A Protobuf message as the JSON event (instants as datetimes)."""
    event = {}
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not message.HasField(field.name):
            event[field.name] = None
            continue
        value = getattr(message, field.name)
        kind = field.message_type.full_name if field.message_type else None
        if kind == "google.protobuf.Timestamp":
            value = EPOCH + datetime.timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)
        elif kind is not None:
            value = as_event(value)
        event[field.name] = value
    return event

def protobuf_deserializer():
    """confluent-kafka's ProtobufDeserializer of the class protoc makes of each
    registered .proto (by the message's schema id)."""
    inner = {}

    def deserialize(raw, ctx):
        schema_id = int.from_bytes(raw[1:5], "big")
        if schema_id not in inner:
            text = client.get_schema(schema_id).schema_str
            name = text.split("message ", 1)[1].split()[0]
            module = f"events_{schema_id}"
            open(os.path.join(proto_folder, f"{module}.proto"), "w").write(text)
            include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
            assert protoc.main(["protoc", f"-I{proto_folder}", f"-I{include}", f"--python_out={proto_folder}",
                                os.path.join(proto_folder, f"{module}.proto")]) == 0, text
            message_class = getattr(importlib.import_module(f"{module}_pb2"), name)
            inner[schema_id] = ProtobufDeserializer(message_class, {"use.deprecated.format": False})
        return as_event(inner[schema_id](raw, ctx))

    return deserialize

def headers_of(message):
    return {k for k, _ in message.headers() or []}

def as_text(value):
    """A metadata value as its header's text (JSON's, a string without quotes)."""
    return value if isinstance(value, str) else json.dumps(value)

def check(topic, value_format):
    deserialize = {"json": lambda: lambda raw, ctx: json.loads(raw),
                   "avro": lambda: AvroDeserializer(client),
                   "json-schema": lambda: JSONDeserializer(None, schema_registry_client=client),
                   "protobuf": protobuf_deserializer}[value_format]()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "check-" + topic,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, mismatch, bad_times, ids, magic = {}, None, 0, set(), set()
    headed, in_value = 0, 0
    deadline, quiet_since = time.monotonic() + 60, time.monotonic()
    while time.monotonic() < deadline and (len(seen) < len(lines) or time.monotonic() - quiet_since < 2):
        m = consumer.poll(0.2)
        if m is None:
            continue
        assert m.error() is None, m.error()
        quiet_since = time.monotonic()
        raw = m.value()
        magic.add(raw[0])
        ids.add(int.from_bytes(raw[1:5], "big"))
        record = deserialize(raw, SerializationContext(topic, MessageField.VALUE))
        if "_spindle_seq" not in record:
            # metadata=headers: the _spindle_* columns come as headers, as text.
            in_value += any(k.startswith("_spindle_") for k in record)
            record.update({k: v.decode() for k, v in m.headers() if k.startswith("_spindle_")})
            record["_spindle_seq"] = int(record["_spindle_seq"])
        event_time = record.get("_spindle_event_time")
        if isinstance(event_time, str):
            event_time = datetime.datetime.fromisoformat(event_time).replace(tzinfo=datetime.timezone.utc)
        if event_time is not None:
            millis = (event_time - EPOCH) // datetime.timedelta(milliseconds=1)
            bad_times += m.timestamp()[1] != millis
        record = as_json(record)
        key = (record["_spindle_table"], record["_spindle_seq"])
        seen[key] = seen.get(key, 0) + 1
        wanted = expected.get(key)
        if wanted is not None and "_spindle_seq" in headers_of(m):
            record["_spindle_seq"] = str(record["_spindle_seq"])
            wanted = {k: as_text(v) if k.startswith("_spindle_") else v
                      for k, v in wanted.items() if not (k.startswith("_spindle_") and v is None)}
            headed += 1
        if mismatch is None and record != wanted:
            mismatch = [record, wanted]
    consumer.close()
    subjects = client.get_subjects()
    mine = [s for s in subjects if s.startswith(topic + "-")]
    latest = client.get_latest_version(topic + "-value") if topic + "-value" in subjects else None
    return {
        "topic": topic, "messages": sum(seen.values()), "distinct": len(seen), "lines": len(lines),
        "missing": len(set(expected) - set(seen)), "mismatch": mismatch,
        "bad_times": bad_times, "magic": sorted(magic), "ids": sorted(ids),
        "headed": headed, "metadata_in_value": in_value,
        "subjects": subjects, "topic_subjects": mine,
        "schema": json.loads(latest.schema.schema_str) if latest and value_format != "protobuf" else None,
        "schema_type": client.get_latest_version(mine[0]).schema.schema_type if mine else None,
    }

for topic, value_format in pairs:
    print(json.dumps(check(topic, value_format)))
"#;

/// Runs the consumer script over `topic` of Avro values against the JSON-lines file
/// `jsonl`.
fn consume(topic: &str, registry: &Registry, jsonl: &Path) -> serde_json::Value {
    consume_format(topic, registry, jsonl, "avro")
}

/// [`consume`] with the deserializer of `format` (`avro`, `json-schema`, `protobuf`).
fn consume_format(
    topic: &str,
    registry: &Registry,
    jsonl: &Path,
    format: &str,
) -> serde_json::Value {
    consume_all(&[(topic, format)], registry, jsonl).remove(0)
}

/// [`consume_format`] of each (topic, format), in one process.
fn consume_all(
    topics: &[(&str, &str)],
    registry: &Registry,
    jsonl: &Path,
) -> Vec<serde_json::Value> {
    let (bootstrap, _) = broker();
    crate::common::json_lines_printed(
        Command::new(interop_python())
            .arg("-c")
            .arg(format!("{PY_AS_JSON}{CONSUME_SCRIPT}"))
            .args([&bootstrap, &registry.url])
            .arg(jsonl)
            .args(
                topics
                    .iter()
                    .map(|(topic, format)| format!("{topic}={format}")),
            ),
    )
}

/// The Kafka sink address of `topic` in Avro through `registry`, with `more` options.
fn avro_sink(topic: &str, registry: &Registry, more: &str) -> String {
    format!("{}{more}", format_sink(topic, "avro", registry))
}

/// The Kafka sink address of `topic` in `format` through `registry`.
fn format_sink(topic: &str, format: &str, registry: &Registry) -> String {
    let (bootstrap, _) = broker();
    format!(
        "kafka://{bootstrap}/{topic}?format={format}&registry={}",
        registry.url
    )
}

/// Runs `spindle stream ARGS --quiet` into each of `sinks` and the JSON-lines file
/// `jsonl`; fails the test if the run fails.
fn stream_beside_json(args: &[&str], sinks: &[String], jsonl: &Path) {
    let file = format!("file:{}", jsonl.display());
    let mut all = vec!["stream", "--quiet"];
    all.extend_from_slice(args);
    for sink in sinks.iter().chain([&file]) {
        all.extend(["--sink", sink.as_str()]);
    }
    let o = spindle(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
}

/// Asserts what the consumer script saw of a topic: each event of the run's JSON-lines
/// file once, decoded to that event, with its event time as the record's time.
fn assert_each_event_once(seen: &serde_json::Value) {
    assert_eq!(seen["messages"], seen["lines"], "{seen}");
    assert_eq!(seen["distinct"], seen["lines"], "{seen}");
    assert_eq!(seen["missing"], 0, "{seen}");
    assert_eq!(seen["mismatch"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["bad_times"], 0, "{seen}");
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro] (.ci/run provides them)"]
fn avro_messages_decode_with_confluents_deserializer_to_the_json_events() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    // Orders with late events and every anomaly kind (nulls written by the contextual
    // one), and a schema domain's table of other types.
    for (domain, table) in [("retail", "order"), ("healthcare", "claim")] {
        let topic = create_topic(&format!("avro-{table}"));
        let jsonl = dir.path().join(format!("{table}.jsonl"));
        stream_beside_json(
            &[
                domain,
                "--table",
                table,
                "--scale",
                "small",
                "--max-events",
                "3000",
                "--out-of-order",
                "0.05",
                "--anomaly-fraction",
                "0.02",
                "--seed",
                "7",
            ],
            &[avro_sink(&topic, &registry, "")],
            &jsonl,
        );
        let seen = consume(&topic, &registry, &jsonl);
        // The whole table, or the first 3,000 of its events.
        let lines = seen["lines"].as_u64().unwrap();
        assert!((2000..=3000).contains(&lines), "{seen}");
        assert_each_event_once(&seen);
        assert_eq!(seen["magic"], serde_json::json!([0]), "{seen}");
        assert_eq!(seen["ids"].as_array().unwrap().len(), 1, "{seen}");
        let subject = format!("{topic}-value");
        assert!(
            seen["subjects"]
                .as_array()
                .unwrap()
                .contains(&subject.clone().into()),
            "{seen}"
        );
        let schema = &seen["schema"];
        assert_eq!(schema["name"], table, "{schema}");
        assert_eq!(schema["namespace"], "spindle", "{schema}");
    }
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[json] (.ci/run provides them)"]
fn json_schema_messages_decode_with_confluents_deserializer_to_the_json_events() {
    schema_formats_decode_to_the_json_events("json-schema");
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[protobuf] and grpcio-tools (.ci/run provides them)"]
fn protobuf_messages_decode_with_confluents_deserializer_to_the_json_events() {
    schema_formats_decode_to_the_json_events("protobuf");
}

/// Streams with values in `format` decode, with confluent-kafka's deserializer of the
/// format, to the events of the JSON-lines sink of the same run: orders with
/// anomalies, orders' changes, a healthcare table.
fn schema_formats_decode_to_the_json_events(format: &str) {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    for (domain, table, more) in [
        ("retail", "order", &["--anomaly-fraction", "0.02"][..]),
        (
            "retail",
            "order",
            &["--cdc", "--cdc-delete-fraction", "0.05"][..],
        ),
        ("healthcare", "claim", &[][..]),
    ] {
        let topic = create_topic(&format!("{format}-{table}"));
        let jsonl = dir.path().join(format!("{table}.jsonl"));
        let mut args = vec![
            domain,
            "--table",
            table,
            "--max-events",
            "2000",
            "--out-of-order",
            "0.05",
        ];
        args.extend(more);
        let sink = format_sink(&topic, format, &registry);
        stream_beside_json(&args, &[sink], &jsonl);
        let seen = consume_format(&topic, &registry, &jsonl, format);
        assert_eq!(seen["lines"], 2000, "{seen}");
        assert_each_event_once(&seen);
        assert_eq!(seen["magic"], serde_json::json!([0]), "{seen}");
        let schema_type = if format == "protobuf" {
            "PROTOBUF"
        } else {
            "JSON"
        };
        assert_eq!(seen["schema_type"], schema_type, "{seen}");
    }
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro,protobuf] and grpcio-tools (.ci/run provides them)"]
fn metadata_as_headers_leaves_the_values_to_the_tables_columns() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("e.jsonl");
    let formats = ["json", "avro", "protobuf"];
    let topics: Vec<String> = formats
        .iter()
        .map(|f| create_topic(&format!("headers-{f}")))
        .collect();
    let (bootstrap, _) = broker();
    let sinks: Vec<String> = formats
        .iter()
        .zip(&topics)
        .map(|(&f, topic)| match f {
            "json" => format!("kafka://{bootstrap}/{topic}?metadata=headers"),
            f => format!("{}&metadata=headers", format_sink(topic, f, &registry)),
        })
        .collect();
    // Labels, watermarks on some events only (null elsewhere: no header), late events.
    let args = [
        "retail",
        "--table",
        "order",
        "--max-events",
        "2000",
        "--anomaly-fraction",
        "0.05",
        "--watermark-every",
        "100",
        "--out-of-order",
        "0.05",
    ];
    stream_beside_json(&args, &sinks, &jsonl);
    let pairs: Vec<(&str, &str)> = topics.iter().map(String::as_str).zip(formats).collect();
    for seen in consume_all(&pairs, &registry, &jsonl) {
        // Every message: its headers and value together are the JSON event.
        assert_each_event_once(&seen);
        assert_eq!(seen["headed"], 2000, "{seen}");
        assert_eq!(seen["metadata_in_value"], 0, "{seen}");
        if let Some(fields) = seen["schema"]["fields"].as_array() {
            assert!(
                fields
                    .iter()
                    .all(|f| !f["name"].as_str().unwrap().starts_with("_spindle_")),
                "{seen}"
            );
            assert!(fields.iter().any(|f| f["name"] == "order_id"), "{seen}");
        }
    }
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro,json,protobuf] and grpcio-tools (.ci/run provides them)"]
fn every_table_of_every_domain_decodes_in_each_format() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    let domains = crate::common::domains();
    let formats = ["avro", "json-schema", "protobuf"];
    for domain in &domains {
        let jsonl = dir.path().join(format!("{domain}.jsonl"));
        let topics: Vec<String> = formats
            .iter()
            .map(|f| create_topic(&format!("{f}-{domain}")))
            .collect();
        let sinks: Vec<String> = formats
            .iter()
            .zip(&topics)
            .map(|(f, topic)| format_sink(topic, f, &registry))
            .collect();
        let args = [
            domain,
            "--all-tables",
            "--scale",
            "small",
            "--max-events",
            "150",
        ];
        stream_beside_json(&args, &sinks, &jsonl);
        let tables: std::collections::BTreeSet<String> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["_spindle_table"].to_string()
            })
            .collect();
        let pairs: Vec<(&str, &str)> = topics.iter().map(String::as_str).zip(formats).collect();
        for seen in consume_all(&pairs, &registry, &jsonl) {
            assert_each_event_once(&seen);
            // A subject (and so a schema) per table.
            let subjects = seen["topic_subjects"].as_array().unwrap().len();
            assert_eq!(subjects, tables.len(), "{domain}: {seen}");
        }
    }
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro] (.ci/run provides them)"]
fn a_change_stream_takes_debeziums_avro_shape() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic("avro-cdc");
    let jsonl = dir.path().join("e.jsonl");
    let args = [
        "retail",
        "--table",
        "order",
        "--cdc",
        "--cdc-delete-fraction",
        "0.05",
        "--max-events",
        "3000",
    ];
    stream_beside_json(&args, &[avro_sink(&topic, &registry, "")], &jsonl);
    let seen = consume(&topic, &registry, &jsonl);
    assert_eq!(seen["lines"], 3000, "{seen}");
    assert_each_event_once(&seen);
    // Debezium's names: an Envelope whose before is a Value record and whose after
    // refers to it, with a Source record.
    let schema = &seen["schema"];
    assert_eq!(schema["name"], "Envelope", "{schema}");
    assert_eq!(schema["namespace"], "spindle.order", "{schema}");
    let field = |name: &str| {
        schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {schema}"))["type"]
            .clone()
    };
    assert_eq!(field("before")[0], "null", "{schema}");
    assert_eq!(field("before")[1]["name"], "Value", "{schema}");
    assert_eq!(
        field("after"),
        serde_json::json!(["null", "Value"]),
        "{schema}"
    );
    assert_eq!(field("source")["name"], "Source", "{schema}");
    assert_eq!(field("op"), "string", "{schema}");
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro] (.ci/run provides them)"]
fn an_interleaved_stream_sends_each_table_in_its_own_schema() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic("avro-interleaved");
    let jsonl = dir.path().join("e.jsonl");
    let args = [
        "retail",
        "--tables",
        "order,order_line,return",
        "--interleave",
        "--scale",
        "small",
        "--max-events",
        "4000",
        "--out-of-order",
        "0.05",
    ];
    stream_beside_json(&args, &[avro_sink(&topic, &registry, "")], &jsonl);
    let seen = consume(&topic, &registry, &jsonl);
    assert_eq!(seen["lines"], 4000, "{seen}");
    assert_each_event_once(&seen);
    // A subject per table, by topic and record: TOPIC-spindle.TABLE.
    let subjects: Vec<String> = ["order", "order_line", "return"]
        .iter()
        .map(|t| format!("{topic}-spindle.{t}"))
        .collect();
    assert_eq!(seen["subjects"], serde_json::json!(subjects), "{seen}");
    assert_eq!(seen["ids"].as_array().unwrap().len(), 3, "{seen}");
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON with confluent-kafka[avro] (.ci/run provides them)"]
fn subject_naming_and_lookup_only() {
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("e.jsonl");
    let topic = create_topic("avro-record");
    let run = |sink: &str| {
        spindle(&[
            "stream",
            "retail",
            "--table",
            "order",
            "--max-events",
            "500",
            "--quiet",
            "--sink",
            sink,
            "--sink",
            &format!("file:{}", jsonl.display()),
        ])
    };
    // Looking up a schema never registered fails before any message.
    let o = run(&avro_sink(&topic, &registry, "&auto_register=false"));
    assert_eq!(o.status.code(), Some(2));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(&format!("subject '{topic}-value' has no version"))
            && stderr.contains("auto_register=false"),
        "{stderr}"
    );
    // Record naming registers `spindle.order`; a lookup then finds it, the sink given
    // in a config file this time.
    let o = run(&avro_sink(&topic, &registry, "&subject=record"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let config = dir.path().join("run.toml");
    let sink = avro_sink(&topic, &registry, "&subject=record&auto_register=false");
    std::fs::write(
        &config,
        format!(
            "domain = \"retail\"\ntable = \"order\"\nmax_events = 500\nquiet = true\nsink = [{sink:?}, \"file:{}\"]\n",
            jsonl.display()
        ),
    )
    .unwrap();
    let o = spindle(&["stream", "--config", config.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let seen = consume(&topic, &registry, &jsonl);
    assert_eq!(
        seen["subjects"],
        serde_json::json!(["spindle.order"]),
        "{seen}"
    );
    // Both runs wrote the same 500 events, with one schema id.
    assert_eq!(seen["messages"], 1000, "{seen}");
    assert_eq!(seen["distinct"], 500, "{seen}");
    assert_eq!(seen["mismatch"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["ids"].as_array().unwrap().len(), 1, "{seen}");
}

#[test]
#[ignore = "needs a Kafka broker (SPINDLE_KAFKA_BOOTSTRAP, SPINDLE_TANSU) and SPINDLE_INTEROP_PYTHON (.ci/run provides them)"]
fn registry_failures_stop_the_run_before_its_first_message() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("e.jsonl");
    let run = |sink: &str, env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_spindle"));
        command.args([
            "stream",
            "retail",
            "--table",
            "order",
            "--max-events",
            "200",
            "--quiet",
            "--sink",
            sink,
        ]);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let refused = |sink: &str, env: &[(&str, &str)], message: &str| {
        let o = run(sink, env);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sink}: {stderr}");
        assert!(stderr.contains(message), "{sink}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    let registry = Registry::start(Some("alice:secret"));
    let topic = create_topic("avro-refused");
    let sink = avro_sink(&topic, &registry, "");
    refused(&sink, &[], "refused the credentials (HTTP 401");
    refused(
        &sink,
        &[("SPINDLE_SCHEMA_REGISTRY_AUTH", "alice:wrong")],
        "SPINDLE_SCHEMA_REGISTRY_AUTH=user:password",
    );
    // A subject whose latest schema ours cannot replace under BACKWARD.
    let old = r#"{"type":"record","name":"order","namespace":"spindle","fields":[{"name":"order_id","type":"long"}]}"#;
    let authorized = Registry::start(None);
    authorized.register(&format!("{topic}-value"), old);
    refused(
        &avro_sink(&topic, &authorized, ""),
        &[],
        &format!("subject '{topic}-value' rejected the schema"),
    );
    refused(
        &avro_sink(&topic, &authorized, ""),
        &[],
        "compatibility BACKWARD",
    );
    // Nothing was sent by the refused runs: the topic is still empty.
    std::fs::write(&jsonl, "").unwrap();
    let seen = consume(&topic, &authorized, &jsonl);
    assert_eq!(seen["messages"], 0, "{seen}");
    // A registry that does not answer.
    let (bootstrap, _) = broker();
    refused(
        &format!("kafka://{bootstrap}/{topic}?format=avro&registry=http://127.0.0.1:9"),
        &[],
        "schema registry http://127.0.0.1:9: cannot be reached",
    );
    // With the credentials, the run goes through.
    let o = run(&sink, &[("SPINDLE_SCHEMA_REGISTRY_AUTH", "alice:secret")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Over TLS: a certificate of an authority the system does not know is refused;
    // named in SSL_CERT_FILE, it is taken.
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let tls = Registry::start_with(
        &["--tls", cert.to_str().unwrap(), key.to_str().unwrap()],
        "https",
    );
    let sink = avro_sink(&topic, &tls, "&subject=record");
    refused(&sink, &[], "cannot be reached");
    let o = run(&sink, &[("SSL_CERT_FILE", cert.to_str().unwrap())]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn avro_settings_are_checked_before_anything_is_sent() {
    let cases: [(&str, &str); 9] = [
        (
            "file:events.jsonl?format=avro",
            "is a setting of Kafka sinks",
        ),
        ("console?format=protobuf", "avro:PATH writes Avro files"),
        (
            "kafka://h:1/t?format=avro",
            "format=avro writes the Confluent wire format",
        ),
        (
            "kafka://h:1/t?format=thrift&registry=http://r:1",
            "'thrift' is not one of json, avro, json-schema, protobuf",
        ),
        (
            "kafka://h:1/t?registry=http://r:1",
            "JSON values have no schema to register",
        ),
        (
            "kafka://h:1/t?format=avro&registry=http://r:1&subject=table",
            "'table' is not one of topic, record, topic-record",
        ),
        (
            "kafka://h:1/t?format=avro&registry=ftp://r:1",
            "is not an http:// or https:// address of a schema registry",
        ),
        (
            "kafka://h:1/t?metadata=header",
            "metadata: 'header' is not one of value, headers",
        ),
        (
            "kafka://h:1/t?metadata=headers&headers=false",
            "which headers=false turns off",
        ),
    ];
    for (sink, message) in cases {
        let o = spindle(&[
            "stream",
            "retail",
            "--table",
            "order",
            "--max-events",
            "1",
            "--sink",
            sink,
        ]);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sink}: {stderr}");
        assert!(stderr.contains(message), "{sink}: {stderr}");
    }
}
