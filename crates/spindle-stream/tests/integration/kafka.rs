//! Kafka against a real Kafka-protocol broker (tansu). Set SPINDLE_KAFKA_BOOTSTRAP
//! (e.g. 127.0.0.1:9092) and SPINDLE_TANSU (the tansu binary, used to create topics);
//! the tests are `#[ignore]`d: `.ci/run` starts tansu and runs them with `--include-ignored`.

use rdkafka::ClientConfig;
use rdkafka::Timestamp;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use spindle_gen::{RetailDomain, Scale};
use spindle_sinks::{FileMode, FileSink, KafkaOptions, KafkaSink};
use spindle_stream::{FanOut, SpindleStreamer, StreamConfig, StreamingMultiWriter};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

/// The broker's address and the tansu binary: the tests that use them are `#[ignore]`d,
/// so they run only when asked (`--include-ignored`), and then they must be set.
fn broker() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("set SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU to run the Kafka tests ({name} is not set)")
        })
    };
    (var("SPINDLE_KAFKA_BOOTSTRAP"), var("SPINDLE_TANSU"))
}

/// A new topic of 3 partitions named `{prefix}-{nanos}`.
fn create_topic(tansu: &str, bootstrap: &str, prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("{prefix}-{nanos}");
    create_named_topic(tansu, bootstrap, &topic, 3);
    topic
}

fn create_named_topic(tansu: &str, bootstrap: &str, topic: &str, partitions: u32) {
    let status = Command::new(tansu)
        .args([
            "topic",
            "create",
            topic,
            "--broker",
            &format!("tcp://{bootstrap}"),
            "--partitions",
            &partitions.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "tansu topic create {topic}");
}

/// The messages of `topic` from its start: until `expected` have come and the topic
/// has then been quiet for 2 seconds (so extra messages would show), or a minute.
fn consume(bootstrap: &str, topic: &str, expected: usize) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("check-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline
        && (messages.len() < expected || quiet_since.elapsed() < Duration::from_secs(2))
    {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                quiet_since = Instant::now();
                messages.push(m.detach());
            }
            Some(Err(e)) => panic!("consumer: {e}"),
            None => {}
        }
    }
    messages
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (as the JSON events write instants) in milliseconds
/// since the epoch, rounded down.
fn millis(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
        .timestamp_micros()
        .div_euclid(1_000)
}

fn stream_orders(
    sink: Box<dyn spindle_sinks::StreamWriter>,
) -> spindle_stream::Result<spindle_stream::StreamResult> {
    let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, sink)?
        .with_config(StreamConfig {
            out_of_order_fraction: 0.05,
            ..Default::default()
        });
    let r = s.stream("order", None)?;
    s.close()?;
    Ok(r)
}

#[test]
#[ignore = "needs a Kafka broker: SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU (.ci/run starts tansu and runs it)"]
fn every_event_arrives_once_keyed_and_spread_over_partitions() {
    let (bootstrap, tansu) = broker();
    let topic = create_topic(&tansu, &bootstrap, "spindle-orders");
    let mut options = KafkaOptions::new(&bootstrap, &topic);
    options.key_column = Some("customer_id".into());
    // One run to the broker and a file at once: the fan-out encodes each event's JSON
    // once, and both sinks send that text.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same.jsonl");
    let mut writer = StreamingMultiWriter::new();
    writer
        .add_sink("kafka", Box::new(KafkaSink::new(options).unwrap()))
        .add_sink(
            "file",
            Box::new(FileSink::new(&path, FileMode::Overwrite).unwrap()),
        );
    let result = stream_orders(Box::new(FanOut::new(writer))).unwrap();
    assert_eq!(result.events_sent, 5_000, "acknowledged and written");
    let mut expected: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();

    let mut payloads = Vec::new();
    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    let mut partitions = HashSet::new();
    for m in consume(&bootstrap, &topic, 5_000) {
        let payload = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
        let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        assert_eq!(key, event["customer_id"].to_string(), "key is the customer");
        let p = *partition_of_key.entry(key).or_insert(m.partition());
        assert_eq!(p, m.partition(), "one customer, one partition");
        partitions.insert(m.partition());
        let headers = m.headers().unwrap();
        let table = headers.iter().find(|h| h.key == "_spindle_table").unwrap();
        assert_eq!(table.value, Some(&b"order"[..]));
        // The record's timestamp is the event's time (late events included), so a
        // consumer windowing on record time sees the stream's event time.
        let event_time = event["_spindle_event_time"].as_str().unwrap();
        assert_eq!(
            m.timestamp(),
            Timestamp::CreateTime(millis(event_time)),
            "{payload}"
        );
        payloads.push(payload);
    }
    assert_eq!(payloads.len(), 5_000, "exactly the events sent, no more");
    assert_eq!(partitions.len(), 3, "spread over the 3 partitions");
    payloads.sort();
    expected.sort();
    assert_eq!(payloads, expected, "every payload is what was streamed");
}

#[test]
#[ignore = "needs a Kafka broker: SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU (.ci/run starts tansu and runs it)"]
fn a_broker_that_dies_mid_run_gives_an_error_with_the_delivered_count() {
    let (_, tansu) = broker();
    let port = 19_092;
    let bootstrap = format!("127.0.0.1:{port}");
    let url = format!("tcp://{bootstrap}");
    let mut child = Command::new(&tansu)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://dying/",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let topic = create_topic(&tansu, &bootstrap, "spindle-dying");
    let mut options = KafkaOptions::new(&bootstrap, &topic);
    options.delivery_timeout_ms = 3_000;
    let sink = KafkaSink::new(options).unwrap();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        child.kill().unwrap();
        child.wait().unwrap();
    });
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(StreamConfig {
                realtime: true,
                events_per_second: 1_000.0,
                ..Default::default()
            });
    let started = Instant::now();
    let err = s.stream("order", None).unwrap_err().to_string();
    killer.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "bounded time");
    let acknowledged: u64 = err
        .split(" of ")
        .next()
        .and_then(|head| head.rsplit(&[' ', '('][..]).next())
        .and_then(|n| n.parse().ok())
        .filter(|_| err.contains("messages acknowledged"))
        .unwrap_or_else(|| panic!("no acknowledged count in: {err}"));
    assert!(acknowledged > 500 && acknowledged < 5_000, "{err}");
    assert_eq!(
        s.sink_mut().delivered(),
        acknowledged,
        "the count reported is the count delivered"
    );
}

#[test]
#[ignore = "needs a Kafka broker: SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU (.ci/run starts tansu and runs it)"]
fn a_topic_per_table_routes_each_table_to_its_own() {
    let (bootstrap, tansu) = broker();
    let base = create_topic(&tansu, &bootstrap, "spindle-tables");
    for table in ["store", "order"] {
        create_named_topic(&tansu, &bootstrap, &format!("{base}-{table}"), 1);
    }
    let template = format!("{base}-{{table}}");
    let sink = KafkaSink::new(KafkaOptions::new(&bootstrap, &template)).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(StreamConfig {
                max_events: Some(700),
                ..Default::default()
            });
    let stores = s.stream("store", None).unwrap().events_sent;
    assert_eq!(s.stream("order", None).unwrap().events_sent, 700);
    // A table whose topic is missing is named, not sent elsewhere.
    let e = s.stream("customer", None).unwrap_err().to_string();
    assert!(
        e.contains(&format!("topic '{base}-customer' does not exist")),
        "{e}"
    );

    for (table, expected) in [("store", stores), ("order", 700)] {
        let topic = format!("{base}-{table}");
        let messages = consume(&bootstrap, &topic, expected as usize);
        for m in &messages {
            let event: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            assert_eq!(event["_spindle_table"], table, "in {topic}");
        }
        assert_eq!(
            messages.len() as u64,
            expected,
            "{topic} holds its table's events, once"
        );
    }
}

#[test]
#[ignore = "needs a Kafka broker: SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU (.ci/run starts tansu and runs it)"]
fn an_interleaved_stream_routes_each_table_to_its_topic_in_event_time_order() {
    let (bootstrap, tansu) = broker();
    let base = create_topic(&tansu, &bootstrap, "spindle-interleaved");
    for table in ["order", "order_line"] {
        create_named_topic(&tansu, &bootstrap, &format!("{base}-{table}"), 1);
    }
    let template = format!("{base}-{{table}}");
    let run = |sink: Box<dyn spindle_sinks::StreamWriter>| {
        let mut s = SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, sink)
            .unwrap()
            .with_config(StreamConfig {
                max_events: Some(1_000),
                ..Default::default()
            });
        let r = s
            .stream_interleaved(&["order", "order_line"], None)
            .unwrap();
        s.close().unwrap();
        assert_eq!(r.events_sent, 1_000);
    };
    run(Box::new(
        KafkaSink::new(KafkaOptions::new(&bootstrap, &template)).unwrap(),
    ));
    // How many of the 1,000 are orders: the same run, written to a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    run(Box::new(
        spindle_sinks::FileSink::new(&path, spindle_sinks::FileMode::Overwrite).unwrap(),
    ));
    let n = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""_spindle_table": "order","#))
        .count();

    let topic = |table: &str| format!("{base}-{table}");
    let events = |table: &str, expected: usize| -> Vec<serde_json::Value> {
        consume(&bootstrap, &topic(table), expected)
            .iter()
            .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
            .collect()
    };
    let orders = events("order", n);
    let lines = events("order_line", 1_000 - n);
    assert_eq!((orders.len(), lines.len()), (n, 1_000 - n));
    let order_time: std::collections::HashMap<i64, String> = orders
        .iter()
        .map(|o| {
            assert_eq!(o["_spindle_table"], "order");
            (
                o["order_id"].as_i64().unwrap(),
                o["order_date"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for pair in lines.windows(2) {
        assert!(pair[0]["_spindle_event_time"].as_str() <= pair[1]["_spindle_event_time"].as_str());
    }
    for line in &lines {
        assert_eq!(line["_spindle_table"], "order_line");
        let order = line["order_id"].as_i64().unwrap();
        assert_eq!(
            line["_spindle_event_time"].as_str().unwrap(),
            order_time[&order],
            "a line at its order's time, its order sent"
        );
    }
}

#[test]
#[ignore = "needs a Kafka broker: SPINDLE_KAFKA_BOOTSTRAP and SPINDLE_TANSU (.ci/run starts tansu and runs it)"]
fn a_change_stream_is_keyed_by_primary_key_with_tombstones_after_deletes() {
    let (bootstrap, tansu) = broker();
    let topic = create_topic(&tansu, &bootstrap, "spindle-cdc");
    // No key given: change events are keyed by their primary key.
    let sink = KafkaSink::new(KafkaOptions::new(&bootstrap, &topic)).unwrap();
    let mut s =
        SpindleStreamer::from_domain(&RetailDomain::new(), Scale::Small, 42, Box::new(sink))
            .unwrap()
            .with_config(StreamConfig {
                max_events: Some(3_000),
                cdc: true,
                cdc_lifecycle: Some(spindle_stream::Lifecycle::retail_order()),
                cdc_delete_fraction: 0.2,
                cdc_delete_after_hours: 1.0,
                cdc_tombstones: true,
                ..Default::default()
            });
    assert_eq!(s.stream("order", None).unwrap().events_sent, 3_000);
    s.close().unwrap();

    let messages = consume(&bootstrap, &topic, 3_000);
    assert_eq!(messages.len(), 3_000);
    // Per key (one partition each), the changes in order: a create first, a tombstone
    // only right after a delete.
    let mut last_op: std::collections::HashMap<Vec<u8>, String> = Default::default();
    let mut tombstones = 0;
    for m in &messages {
        let key = m.key().expect("keyed by primary key").to_vec();
        let op = match m.payload() {
            None => {
                tombstones += 1;
                "tombstone".to_string()
            }
            Some(p) => {
                let change: serde_json::Value = serde_json::from_slice(p).unwrap();
                let id = change["after"]["order_id"]
                    .as_i64()
                    .or(change["before"]["order_id"].as_i64())
                    .unwrap();
                assert_eq!(key, id.to_string().into_bytes());
                change["op"].as_str().unwrap().to_string()
            }
        };
        let before = last_op.get(&key).map(String::as_str);
        match op.as_str() {
            "c" => assert_eq!(before, None),
            "u" | "d" => assert!(matches!(before, Some("c" | "u"))),
            _ => assert_eq!(before, Some("d")),
        }
        last_op.insert(key, op);
    }
    assert!(tombstones > 0);
}
