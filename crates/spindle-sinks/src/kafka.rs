//! Kafka, and Azure Event Hubs through its Kafka endpoint, on librdkafka.
//!
//! Each event is one message: the JSON object as the payload, optionally keyed by a
//! column (so one entity stays on one partition), with headers `_spindle_table` and,
//! for labelled anomalies, `_spindle_anomaly_type` (with `metadata=headers`, every
//! `_spindle_*` column goes in a header of its name and none in the value); to one
//! topic, or to a topic per table when the topic holds `{table}`. `delivered()` counts messages the
//! broker acknowledged; a message that fails after librdkafka's retries is counted as
//! failed and reported by `flush`/`close`, never dropped silently.
//!
//! A message's Kafka timestamp is its event's `_spindle_event_time` (so a consumer
//! windowing on record time sees the stream's event time, late events included), or
//! the moment it was produced (`timestamp=send`). With `acks=all` the producer is
//! idempotent: a send retried after a lost acknowledgement is not written twice.
//!
//! With `format=avro`, `json-schema` or `protobuf` each value is in the Confluent wire
//! format, its schema in a schema registry (see [`crate::kafka_format`]).

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::event::TABLE_PLACEHOLDER;
use crate::json::{JsonLines, PlainTexts, SharedEvents};
use crate::kafka_format::{RegistryValues, SubjectNaming, ValueFormat};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which instant a message's Kafka timestamp (its CreateTime) carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecordTime {
    /// The event's `_spindle_event_time`, to the millisecond; the send time for an
    /// event without one.
    #[default]
    Event,
    /// The moment the message was produced.
    Send,
}

impl std::str::FromStr for RecordTime {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "event" => Ok(Self::Event),
            "send" => Ok(Self::Send),
            other => Err(Error::Invalid {
                field: "timestamp",
                message: format!("'{other}' is not one of event, send"),
            }),
        }
    }
}

/// Where a message carries its event's `_spindle_*` columns (metadata, delivery facts
/// and anomaly labels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetadataPlace {
    /// As fields of the value, and the table and anomaly label also as headers.
    #[default]
    Value,
    /// As headers only, each column that is not null as its text; the value holds the
    /// table's own columns (and its schema only those).
    Headers,
}

impl std::str::FromStr for MetadataPlace {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "value" => Ok(Self::Value),
            "headers" => Ok(Self::Headers),
            other => Err(Error::Invalid {
                field: "metadata",
                message: format!("'{other}' is not one of value, headers"),
            }),
        }
    }
}

/// Settings of a [`KafkaSink`].
#[derive(Clone, Debug, PartialEq)]
pub struct KafkaOptions {
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// Topic to produce to (must exist).
    pub topic: String,
    /// Column whose value becomes the message key (default: none, or for change
    /// events their `_spindle_key`).
    pub key_column: Option<String>,
    /// Add `_spindle_table` and `_spindle_anomaly_type` headers.
    pub headers: bool,
    /// Where the `_spindle_*` columns go: in the value, or in headers only.
    pub metadata: MetadataPlace,
    /// `0`, `1` or `all`.
    pub acks: String,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    /// How long to wait to fill a batch, in milliseconds.
    pub linger_ms: u64,
    /// Largest batch in bytes.
    pub batch_bytes: u64,
    /// How long a message may take, retries included, before it counts as failed.
    pub delivery_timeout_ms: u64,
    /// What each message's Kafka timestamp is.
    pub timestamp: RecordTime,
    /// The idempotent producer (no duplicate written on retry, order kept): `None`
    /// turns it on with `acks=all`; `Some(true)` needs `acks=all`.
    pub idempotence: Option<bool>,
    /// What each message's value is.
    pub format: ValueFormat,
    /// The schema registry (`http(s)://host:port`) of a format with a schema.
    pub registry: Option<String>,
    /// How a table's schema is named in the registry: as asked, else by topic (the
    /// sink address's [`crate::SinkOpenOptions::several_tables`] makes it by topic and
    /// record, for a topic that carries several tables' events).
    pub subject_naming: Option<SubjectNaming>,
    /// Register each table's schema (else only look it up; a missing one is an error).
    pub auto_register: bool,
    /// Further librdkafka settings (`security.protocol`, `sasl.*`, ...).
    pub extra: Vec<(String, String)>,
}

impl KafkaOptions {
    /// Defaults for `topic` on `bootstrap_servers`: acks=all and idempotent, lz4, 5 ms
    /// linger, 1 MB batches, 30 s delivery timeout, headers on, event-time timestamps.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.to_string(),
            topic: topic.to_string(),
            key_column: None,
            headers: true,
            metadata: MetadataPlace::Value,
            acks: "all".into(),
            compression: "lz4".into(),
            linger_ms: 5,
            batch_bytes: 1_000_000,
            delivery_timeout_ms: 30_000,
            timestamp: RecordTime::Event,
            idempotence: None,
            format: ValueFormat::Json,
            registry: None,
            subject_naming: None,
            auto_register: true,
            extra: Vec::new(),
        }
    }

    /// Whether the producer is idempotent: as asked, else with `acks=all`.
    pub fn idempotent(&self) -> bool {
        self.idempotence.unwrap_or(self.acks_all())
    }

    fn acks_all(&self) -> bool {
        matches!(self.acks.as_str(), "all" | "-1")
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |field, message: String| Err(Error::Invalid { field, message });
        if self.bootstrap_servers.trim().is_empty() {
            return bad(
                "bootstrap_servers",
                "must name at least one host:port".into(),
            );
        }
        if self.topic.trim().is_empty() {
            return bad("topic", "must not be empty".into());
        }
        if !["0", "1", "all", "-1"].contains(&self.acks.as_str()) {
            return bad("acks", format!("'{}' is not one of 0, 1, all", self.acks));
        }
        if self.idempotence == Some(true) && !self.acks_all() {
            return bad(
                "idempotence",
                format!(
                    "the idempotent producer needs acks=all, not acks={}; drop idempotence=true or set acks=all",
                    self.acks
                ),
            );
        }
        if self.metadata == MetadataPlace::Headers && !self.headers {
            return bad(
                "metadata",
                "metadata=headers sends the _spindle_* columns as headers, which headers=false turns off: drop one of them".into(),
            );
        }
        match (self.format, &self.registry) {
            (ValueFormat::Json, None) => {}
            (format, None) => {
                return bad(
                    "registry",
                    format!(
                        "format={} writes the Confluent wire format, whose schema id comes \
                         from a schema registry: add registry=http://HOST:8081",
                        format.name()
                    ),
                );
            }
            (_, Some(url)) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return bad(
                    "registry",
                    format!("'{url}' is not an http:// or https:// address of a schema registry"),
                );
            }
            (ValueFormat::Json, Some(_)) => {
                return bad(
                    "registry",
                    "JSON values have no schema to register: drop registry= or set format=avro, \
                     json-schema or protobuf"
                        .into(),
                );
            }
            _ => {}
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&self.compression.as_str()) {
            return bad(
                "compression",
                format!(
                    "'{}' is not one of none, gzip, snappy, lz4, zstd",
                    self.compression
                ),
            );
        }
        Ok(())
    }

    /// The librdkafka configuration these options make.
    pub fn client_config(&self) -> Vec<(String, String)> {
        let mut c: Vec<(String, String)> = vec![
            ("bootstrap.servers".into(), self.bootstrap_servers.clone()),
            ("acks".into(), self.acks.clone()),
            ("compression.type".into(), self.compression.clone()),
            ("linger.ms".into(), self.linger_ms.to_string()),
            ("batch.size".into(), self.batch_bytes.to_string()),
            (
                "message.timeout.ms".into(),
                self.delivery_timeout_ms.to_string(),
            ),
            ("queue.buffering.max.messages".into(), "1000000".into()),
            ("queue.buffering.max.kbytes".into(), "1048576".into()),
            ("socket.connection.setup.timeout.ms".into(), "5000".into()),
            ("enable.idempotence".into(), self.idempotent().to_string()),
        ];
        c.extend(self.extra.iter().cloned());
        c
    }
}

/// Counts delivery reports.
struct Deliveries {
    acked: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().expect("delivery lock");
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Produces events to a Kafka topic, or to a topic per table when the topic holds
/// [`TABLE_PLACEHOLDER`].
pub struct KafkaSink {
    options: KafkaOptions,
    producer: Option<ThreadedProducer<Deliveries>>,
    sent: u64,
    /// Topics checked to exist (a per-table topic is checked at its first event).
    topics: std::collections::HashSet<String>,
    /// The encoders of values in the Confluent wire format, for a format with a schema.
    framed: Option<RegistryValues>,
}

fn kafka_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Kafka(format!("{what}: {e}"))
}

impl KafkaSink {
    /// Connects and checks that the topic exists, within about 10 seconds.
    ///
    /// # Errors
    /// Invalid options, an unreachable broker, or a topic that does not exist.
    pub fn new(options: KafkaOptions) -> Result<Self> {
        options.validate()?;
        let mut config = ClientConfig::new();
        for (k, v) in options.client_config() {
            config.set(k, v);
        }
        let context = Deliveries {
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
        };
        let producer: ThreadedProducer<Deliveries> = config
            .create_with_context(context)
            .map_err(|e| kafka_error("invalid Kafka settings", e))?;
        let framed = match (options.format.with_schema(), &options.registry) {
            (Some(format), Some(registry)) => Some(RegistryValues::new(
                format,
                registry,
                options.subject_naming.unwrap_or(SubjectNaming::Topic),
                options.auto_register,
            )?),
            _ => None,
        };
        let mut sink = Self {
            options,
            producer: Some(producer),
            sent: 0,
            topics: Default::default(),
            framed,
        };
        if sink.options.topic.contains(TABLE_PLACEHOLDER) {
            // Topics per table are checked as their tables come; the broker now.
            sink.metadata(None)?;
        } else {
            let topic = sink.options.topic.clone();
            sink.check_topic(&topic)?;
        }
        Ok(sink)
    }

    fn metadata(&self, topic: Option<&str>) -> Result<rdkafka::metadata::Metadata> {
        self.producer()?
            .client()
            .fetch_metadata(topic, Duration::from_secs(10))
            .map_err(|e| {
                kafka_error(
                    &format!(
                        "no Kafka broker answered at {} within 10 s",
                        self.options.bootstrap_servers
                    ),
                    e,
                )
            })
    }

    /// Checks, once, that `topic` exists.
    fn check_topic(&mut self, topic: &str) -> Result<()> {
        if self.topics.contains(topic) {
            return Ok(());
        }
        let metadata = self.metadata(Some(topic))?;
        match metadata.topics().iter().find(|t| t.name() == topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                self.topics.insert(topic.to_string());
                Ok(())
            }
            _ => Err(Error::Kafka(format!(
                "topic '{topic}' does not exist on {}; create it first",
                self.options.bootstrap_servers
            ))),
        }
    }

    /// The topic of `batch`'s events: the sink's, with [`TABLE_PLACEHOLDER`] replaced
    /// by their `_spindle_table`.
    fn topic_of(&mut self, table: Option<&str>) -> Result<String> {
        if !self.options.topic.contains(TABLE_PLACEHOLDER) {
            return Ok(self.options.topic.clone());
        }
        let table = table.ok_or_else(|| Error::Invalid {
            field: "topic",
            message: format!(
                "'{}' names a topic per table, and these events have no {} column",
                self.options.topic,
                crate::event::TABLE
            ),
        })?;
        let topic = self.options.topic.replace(TABLE_PLACEHOLDER, table);
        self.check_topic(&topic)?;
        Ok(topic)
    }

    fn producer(&self) -> Result<&ThreadedProducer<Deliveries>> {
        self.producer.as_ref().ok_or_else(|| Error::Invalid {
            field: "sink",
            message: format!("{} is closed", self.describe()),
        })
    }

    /// Messages whose delivery failed so far.
    pub fn failed(&self) -> u64 {
        self.producer
            .as_ref()
            .map_or(0, |p| p.context().failed.load(Ordering::Relaxed))
    }

    fn check_failures(&self) -> Result<()> {
        let Some(p) = &self.producer else {
            return Ok(());
        };
        let failed = p.context().failed.load(Ordering::Relaxed);
        if failed == 0 {
            return Ok(());
        }
        let first = p
            .context()
            .first_error
            .lock()
            .expect("delivery lock")
            .clone()
            .unwrap_or_default();
        Err(Error::Kafka(format!(
            "{failed} messages to topic '{}' were not delivered ({first}); {}",
            self.options.topic,
            self.status()
        )))
    }

    /// `N of M messages acknowledged`, for error messages.
    fn status(&self) -> String {
        format!(
            "{} of {} messages acknowledged",
            self.delivered(),
            self.sent
        )
    }
}

impl KafkaSink {
    /// Whether the values are not the events' shared JSON lines: in another format, or
    /// without the `_spindle_*` columns.
    fn encodes_alone(&self) -> bool {
        self.framed.is_some() || self.options.metadata == MetadataPlace::Headers
    }

    /// Produces every batch's rows, taking each payload from `lines` in order.
    fn produce_all(&mut self, batches: &[RecordBatch], lines: &JsonLines) -> Result<()> {
        let mut payloads = lines.lines();
        batches
            .iter()
            .try_for_each(|batch| self.produce(batch, &mut payloads))
    }

    /// Produces the rows of `batch`, encoding their values batch by batch: in the
    /// Confluent wire format, or as JSON without the columns that go in headers.
    fn produce_encoded(&mut self, batch: &RecordBatch) -> Result<()> {
        let values = match self.options.metadata {
            MetadataPlace::Value => batch.clone(),
            MetadataPlace::Headers => without_metadata(batch)?,
        };
        if self.framed.is_none() {
            let lines = JsonLines::encode(std::slice::from_ref(&values))?;
            return self.produce(batch, &mut lines.lines());
        }
        let table = crate::event::table_of(batch).unwrap_or_else(|| "event".into());
        let topic = self.topic_of(Some(&table))?;
        let framed = self.framed.as_mut().expect("checked above");
        let rows = framed.encode(&topic, &table, &values)?;
        let offsets = rows.offsets();
        let mut payloads = offsets.windows(2).map(|w| &rows.bytes()[w[0]..w[1]]);
        self.produce(batch, &mut payloads)
    }

    /// Produces the rows of `batch`, the next payloads of `payloads` as messages.
    fn produce<'a>(
        &mut self,
        batch: &RecordBatch,
        payloads: &mut impl Iterator<Item = &'a [u8]>,
    ) -> Result<()> {
        let keys = match &self.options.key_column {
            Some(column) => {
                let array = batch.column_by_name(column).ok_or_else(|| Error::Invalid {
                    field: "key",
                    message: format!(
                        "column '{column}' is not in the events; columns: {}",
                        batch
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
                Some(arrow_cast::cast(array, &DataType::Utf8)?)
            }
            // Change events are keyed by their row's primary key.
            None => batch.column_by_name(crate::event::KEY).cloned(),
        };
        let keys = keys.as_ref().map(|k| k.as_string::<i32>());
        let table = crate::event::table_of(batch);
        let topic = self.topic_of(table.as_deref())?;
        let mut headers = MessageHeaders::new(&self.options, batch, table)?;
        let tombstones = batch
            .column_by_name(crate::event::TOMBSTONE)
            .and_then(|c| c.as_boolean_opt().cloned());
        let times = match self.options.timestamp {
            RecordTime::Event => event_millis(batch),
            RecordTime::Send => None,
        };
        let producer = self.producer()?;
        let mut sent = 0;
        for (row, line) in payloads.take(batch.num_rows()).enumerate() {
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic);
            if !tombstones
                .as_ref()
                .is_some_and(|t| t.is_valid(row) && t.value(row))
            {
                record = record.payload(line);
            }
            if let Some(k) = keys.filter(|k| k.is_valid(row)) {
                record = record.key(k.value(row).as_bytes());
            }
            if let Some(t) = times.as_ref().filter(|t| t.is_valid(row)) {
                record = record.timestamp(t.value(row));
            }
            if let Some(h) = headers.of(row) {
                record = record.headers(h);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                        if producer.context().failed.load(Ordering::Relaxed) > 0 {
                            self.sent += sent;
                            return self.check_failures();
                        }
                    }
                    Err((e, _)) => {
                        self.sent += sent;
                        return Err(kafka_error(
                            &format!("cannot queue a message ({})", self.status()),
                            e,
                        ));
                    }
                }
            }
            sent += 1;
        }
        self.sent += sent;
        Ok(())
    }
}

/// The headers of one batch's messages.
enum MessageHeaders {
    /// None (`headers=false`).
    Off,
    /// `_spindle_table` and, on a labelled anomaly, `_spindle_anomaly_type`.
    Labels {
        table: Option<String>,
        labels: Option<StringArray>,
    },
    /// Every `_spindle_*` column that is not null, as text (`metadata=headers`).
    Metadata {
        columns: Vec<(String, PlainTexts)>,
        text: Vec<u8>,
    },
}

impl MessageHeaders {
    /// The headers `options` ask for, of the messages of `batch`, of `table`.
    fn new(options: &KafkaOptions, batch: &RecordBatch, table: Option<String>) -> Result<Self> {
        if !options.headers {
            return Ok(Self::Off);
        }
        if options.metadata == MetadataPlace::Value {
            let labels = batch
                .column_by_name(crate::event::ANOMALY_TYPE)
                .and_then(|c| c.as_string_opt::<i32>().cloned());
            return Ok(Self::Labels { table, labels });
        }
        let columns = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .filter(|(field, _)| field.name().starts_with(crate::event::PREFIX))
            .map(|(field, column)| {
                Ok((field.name().clone(), PlainTexts::new(field.name(), column)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self::Metadata {
            columns,
            text: Vec::new(),
        })
    }

    /// The headers of the message of `row`, if any.
    fn of(&mut self, row: usize) -> Option<OwnedHeaders> {
        match self {
            Self::Off => None,
            Self::Labels { table, labels } => {
                let mut h = OwnedHeaders::new();
                if let Some(t) = table {
                    h = h.insert(Header {
                        key: crate::event::TABLE,
                        value: Some(t.as_str()),
                    });
                }
                if let Some(l) = labels.as_ref().filter(|l| l.is_valid(row)) {
                    h = h.insert(Header {
                        key: crate::event::ANOMALY_TYPE,
                        value: Some(l.value(row)),
                    });
                }
                Some(h)
            }
            Self::Metadata { columns, text } => {
                let mut h = OwnedHeaders::new_with_capacity(columns.len());
                for (name, texts) in columns.iter_mut() {
                    if texts.text(row, text) {
                        h = h.insert(Header {
                            key: name,
                            value: Some(text.as_slice()),
                        });
                    }
                }
                Some(h)
            }
        }
    }
}

/// `batch` without its `_spindle_*` columns.
fn without_metadata(batch: &RecordBatch) -> Result<RecordBatch> {
    let kept: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| !field.name().starts_with(crate::event::PREFIX))
        .map(|(at, _)| at)
        .collect();
    Ok(batch.project(&kept)?)
}

/// Each event's `_spindle_event_time` in milliseconds since the epoch, rounded down
/// (null where it has none, or where the column is text that is not an instant).
fn event_millis(batch: &RecordBatch) -> Option<Int64Array> {
    let column = batch.column_by_name(crate::event::EVENT_TIME)?;
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let cast = arrow_cast::cast(column, &micros).ok()?;
    Some(
        cast.as_primitive::<TimestampMicrosecondType>()
            .unary(|t| t.div_euclid(1_000)),
    )
}

impl StreamWriter for KafkaSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        // A failed delivery stops the run before any more encoding.
        self.check_failures()?;
        if self.encodes_alone() {
            return batches.iter().try_for_each(|b| self.produce_encoded(b));
        }
        let lines = JsonLines::encode(batches)?;
        self.produce_all(batches, &lines)
    }

    fn send_shared(&mut self, events: &SharedEvents) -> Result<()> {
        if self.encodes_alone() {
            return self.send_batches(events.batches());
        }
        self.check_failures()?;
        let lines = events.json_lines()?;
        self.produce_all(events.batches(), &lines)
    }

    fn flush(&mut self) -> Result<()> {
        let timeout = Duration::from_millis(self.options.delivery_timeout_ms + 5_000);
        let flushed = self.producer()?.flush(timeout);
        self.check_failures()?;
        flushed.map_err(|e| {
            kafka_error(
                &format!(
                    "messages still unacknowledged after {} s ({})",
                    timeout.as_secs(),
                    self.status()
                ),
                e,
            )
        })
    }

    fn close(&mut self) -> Result<()> {
        if self.producer.is_some() {
            let result = self.flush();
            self.producer = None;
            result?;
        }
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.producer
            .as_ref()
            .map_or(self.sent, |p| p.context().acked.load(Ordering::Relaxed))
    }

    fn describe(&self) -> String {
        format!(
            "kafka://{}/{}",
            self.options.bootstrap_servers, self.options.topic
        )
    }
}

/// Kafka settings for an Azure Event Hubs namespace, derived from its connection string.
#[derive(Clone, Debug, PartialEq)]
pub struct EventHubOptions {
    /// The namespace connection string (`Endpoint=sb://NS.servicebus.windows.net/;...`).
    pub connection_string: String,
    /// The event hub (topic); defaults to the connection string's `EntityPath`.
    pub hub: Option<String>,
    /// Column whose value becomes the partition key.
    pub partition_key_column: Option<String>,
}

impl EventHubOptions {
    /// The Kafka options: bootstrap `NS.servicebus.windows.net:9093`, SASL_SSL with
    /// PLAIN, user `$ConnectionString`, the connection string as password, the hub as
    /// topic.
    ///
    /// # Errors
    /// A connection string without `Endpoint=sb://...`, `SharedAccessKeyName` or
    /// `SharedAccessKey`, or no hub given by either `EntityPath` or `hub`.
    pub fn kafka_options(&self) -> Result<KafkaOptions> {
        let bad = |message: String| Error::Invalid {
            field: "connection_string",
            message,
        };
        let mut endpoint = None;
        let (mut key_name, mut key, mut entity) = (None, None, None);
        for part in self
            .connection_string
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' is not KEY=VALUE")))?;
            match k {
                "Endpoint" => endpoint = Some(v),
                "SharedAccessKeyName" => key_name = Some(v),
                "SharedAccessKey" => key = Some(v),
                "EntityPath" => entity = Some(v),
                _ => {}
            }
        }
        let endpoint = endpoint.ok_or_else(|| {
            bad("Endpoint=sb://NAMESPACE.servicebus.windows.net/ is missing".into())
        })?;
        let host = endpoint
            .strip_prefix("sb://")
            .map(|h| h.trim_end_matches('/'))
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                bad(format!(
                    "Endpoint '{endpoint}' is not sb://NAMESPACE.servicebus.windows.net/"
                ))
            })?;
        if key_name.is_none() || key.is_none() {
            return Err(bad(
                "SharedAccessKeyName and SharedAccessKey are both required".into(),
            ));
        }
        let hub = self
            .hub
            .clone()
            .or(entity.map(str::to_string))
            .ok_or_else(|| {
                bad(
                    "no event hub: add EntityPath=HUB to the connection string or give the hub"
                        .into(),
                )
            })?;
        let mut options = KafkaOptions::new(&format!("{host}:9093"), &hub);
        options.key_column = self.partition_key_column.clone();
        options.compression = "none".into();
        // Not every Event Hubs tier takes the idempotent producer.
        options.idempotence = Some(false);
        options.extra = vec![
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.mechanism".into(), "PLAIN".into()),
            ("sasl.username".into(), "$ConnectionString".into()),
            ("sasl.password".into(), self.connection_string.clone()),
        ];
        Ok(options)
    }
}

/// A [`KafkaSink`] for Azure Event Hubs (a live test needs an Azure namespace).
pub struct EventHubSink;

impl EventHubSink {
    /// Connects to the hub of `options`.
    ///
    /// # Errors
    /// As [`EventHubOptions::kafka_options`] and [`KafkaSink::new`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new(options: &EventHubOptions) -> Result<KafkaSink> {
        KafkaSink::new(options.kafka_options()?)
    }
}
