//! Sink addresses: the one grammar by which the command line, config files and
//! library users name where events go, parsed ([`std::str::FromStr`]) and opened
//! ([`SinkAddress::open`]) here.

use crate::error::{Error, Result};
use crate::{ConsoleSink, FileMode, FileSink, PerTableSink, StreamWriter};
#[cfg(feature = "parquet")]
use crate::{ParquetOptions, ParquetSink};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Every form of a sink address, for help texts and errors.
pub const SINK_ADDRESS_FORMS: &str = "console, file:PATH, parquet:PATH, avro:PATH (PATH may hold {table}: a file per table), \
     kafka://HOST:PORT/TOPIC[?key=COLUMN&acks=all&compression=lz4&linger_ms=5\
     &batch_bytes=1000000&timeout_ms=30000&headers=false&metadata=value|headers&timestamp=event|send\
     &idempotence=true|false&format=json|avro|json-schema|protobuf&registry=URL&subject=topic|record|topic-record\
     &auto_register=true|false], \
     eventhub:[env=VAR&hub=NAME&key=COLUMN]";

/// Where events go.
#[derive(Clone, Debug, PartialEq)]
pub enum SinkAddress {
    /// `console` (or `stdout`): JSON lines on standard output.
    Console,
    /// `file:PATH` (or `jsonl:PATH`): a JSON-lines file (a file per table when PATH
    /// holds `{table}`).
    File(PathBuf),
    /// `parquet:PATH`: a Parquet file (a file per table when PATH holds `{table}`).
    Parquet(PathBuf),
    /// `avro:PATH`: an Avro object container file (a file per table when PATH holds
    /// `{table}`).
    Avro(PathBuf),
    /// `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?key=COLUMN&acks=..&compression=..&linger_ms=..
    /// &batch_bytes=..&timeout_ms=..&headers=false]`: a Kafka topic (a topic per table when
    /// TOPIC holds `{table}`).
    #[cfg(feature = "kafka")]
    Kafka(crate::KafkaOptions),
    /// `eventhub:[env=VAR&hub=NAME&key=COLUMN]`: an Azure Event Hub through its Kafka
    /// endpoint. The connection string is read, when parsing, from the environment
    /// variable `VAR` (default `SPINDLE_EVENTHUB_CONNECTION_STRING`), never from the
    /// address, so that it stays out of command lines and process lists.
    #[cfg(feature = "kafka")]
    EventHub(crate::EventHubOptions),
}

/// How [`SinkAddress::open`] opens files and the console.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkOpenOptions {
    /// Append to a JSON-lines file instead of replacing it.
    pub append: bool,
    /// Pretty-print console events with this indent.
    pub indent: Option<usize>,
    /// The run sends events of several tables. A Kafka topic that carries them (one
    /// without `{table}`) then names Avro schemas in the registry by topic and record,
    /// unless told otherwise, since one subject per topic holds a single schema.
    pub several_tables: bool,
}

fn invalid(message: String) -> Error {
    Error::Invalid {
        field: "sink",
        message,
    }
}

impl SinkAddress {
    /// Parses `text`; a bare `file` or `parquet` (no path) takes `default_path` (the
    /// command line's `--output`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the address and the allowed forms or options.
    pub fn parse(text: &str, default_path: Option<&Path>) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("kafka://") {
            return Self::kafka(text, rest);
        }
        if let Some(rest) = text.strip_prefix("eventhub:") {
            return Self::event_hub(rest);
        }
        if let Some((_, setting)) = text.split_once('?').filter(|(_, q)| q.contains("format=")) {
            return Err(Error::Invalid {
                field: "format",
                message: format!(
                    "'{text}': {setting} is a setting of Kafka sinks (kafka://HOST:PORT/TOPIC?format=..); \
                     a file: or console sink writes JSON lines, avro:PATH writes Avro files, \
                     parquet:PATH Parquet"
                ),
            });
        }
        let (kind, rest) = text
            .split_once(':')
            .map_or((text, None), |(kind, rest)| (kind, Some(rest)));
        let path = |kind: &str| match (rest, default_path) {
            (Some(path), _) if !path.is_empty() => Ok(PathBuf::from(path)),
            (_, Some(path)) => Ok(path.to_path_buf()),
            _ => Err(invalid(format!(
                "'{text}' needs a path: {kind}:PATH (or --output PATH on the command line)"
            ))),
        };
        match kind {
            "console" | "stdout" if rest.is_none() => Ok(Self::Console),
            "file" | "jsonl" => Ok(Self::File(path(kind)?)),
            "parquet" => Ok(Self::Parquet(path(kind)?)),
            "avro" => Ok(Self::Avro(path(kind)?)),
            _ => Err(invalid(format!(
                "unknown sink '{text}'; allowed: {SINK_ADDRESS_FORMS}"
            ))),
        }
    }

    #[cfg(feature = "kafka")]
    fn kafka(text: &str, rest: &str) -> Result<Self> {
        let (location, options) = rest.split_once('?').unwrap_or((rest, ""));
        let (servers, topic) = location
            .split_once('/')
            .filter(|(servers, topic)| !servers.is_empty() && !topic.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "'{text}': expected kafka://HOST:PORT/TOPIC[?key=COLUMN&acks=all]"
                ))
            })?;
        let mut kafka = crate::KafkaOptions::new(servers, topic);
        let allowed = [
            "key",
            "acks",
            "compression",
            "linger_ms",
            "batch_bytes",
            "timeout_ms",
            "headers",
            "metadata",
            "timestamp",
            "idempotence",
            "format",
            "registry",
            "subject",
            "auto_register",
        ];
        for (key, value) in query(options, "kafka://", &allowed)? {
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| invalid(format!("kafka://: {key}={v} is not a whole number")))
            };
            match key {
                "key" => kafka.key_column = Some(value.to_string()),
                "acks" => kafka.acks = value.to_string(),
                "compression" => kafka.compression = value.to_string(),
                "linger_ms" => kafka.linger_ms = number(value)?,
                "batch_bytes" => kafka.batch_bytes = number(value)?,
                "timeout_ms" => kafka.delivery_timeout_ms = number(value)?,
                "metadata" => kafka.metadata = value.parse()?,
                "timestamp" => kafka.timestamp = value.parse()?,
                "idempotence" => kafka.idempotence = Some(switch(key, value)?),
                "format" => kafka.format = value.parse()?,
                "registry" => kafka.registry = Some(value.to_string()),
                "subject" => kafka.subject_naming = Some(value.parse()?),
                "auto_register" => kafka.auto_register = switch(key, value)?,
                _ => kafka.headers = value != "false",
            }
        }
        kafka.validate()?;
        Ok(Self::Kafka(kafka))
    }

    #[cfg(not(feature = "kafka"))]
    fn kafka(text: &str, _rest: &str) -> Result<Self> {
        Err(invalid(format!(
            "'{text}': this build has no Kafka support; build with the `kafka` feature (spindle-cli's default features include it)"
        )))
    }

    #[cfg(feature = "kafka")]
    fn event_hub(rest: &str) -> Result<Self> {
        let mut env = "SPINDLE_EVENTHUB_CONNECTION_STRING";
        let mut hub = crate::EventHubOptions {
            connection_string: String::new(),
            hub: None,
            partition_key_column: None,
        };
        let options = rest.trim_start_matches('?');
        for (key, value) in query(options, "eventhub:", &["env", "hub", "key"])? {
            match key {
                "env" => env = value,
                "hub" => hub.hub = Some(value.to_string()),
                _ => hub.partition_key_column = Some(value.to_string()),
            }
        }
        hub.connection_string = std::env::var(env).map_err(|_| {
            invalid(format!(
                "eventhub: reads the connection string from the environment variable {env}, which is not set"
            ))
        })?;
        hub.kafka_options()?;
        Ok(Self::EventHub(hub))
    }

    #[cfg(not(feature = "kafka"))]
    fn event_hub(_rest: &str) -> Result<Self> {
        Err(invalid(
            "eventhub: this build has no Kafka support; build with the `kafka` feature (spindle-cli's default features include it)".into(),
        ))
    }

    /// Whether the sink writes JSON (every sink but Parquet and Avro), so the columns must be
    /// types JSON can carry.
    pub fn writes_json(&self) -> bool {
        !matches!(self, Self::Parquet(_) | Self::Avro(_))
    }

    /// The sink `open` makes for `path`, or a file per table (each made by `open`)
    /// when `path` holds `{table}`.
    fn one_or_per_table(
        &self,
        path: &Path,
        open: impl Fn(&Path) -> Result<Box<dyn StreamWriter>> + Send + 'static,
    ) -> Result<Box<dyn StreamWriter>> {
        Ok(match PerTableSink::is_template(path) {
            true => Box::new(PerTableSink::new(path, self.to_string(), Box::new(open))?),
            false => open(path)?,
        })
    }

    /// Opens the sink: creates the file, connects the producer.
    ///
    /// # Errors
    /// The file cannot be created, the producer cannot be configured.
    pub fn open(&self, options: SinkOpenOptions) -> Result<Box<dyn StreamWriter>> {
        Ok(match self {
            Self::Console => Box::new(ConsoleSink::stdout().indent(options.indent)),
            Self::File(path) => {
                let mode = match options.append {
                    true => FileMode::Append,
                    false => FileMode::Overwrite,
                };
                self.one_or_per_table(path, move |path| Ok(Box::new(FileSink::new(path, mode)?)))?
            }
            #[cfg(feature = "parquet")]
            Self::Parquet(path) => self.one_or_per_table(path, |path| {
                Ok(Box::new(ParquetSink::new(path, ParquetOptions::default())?))
            })?,
            #[cfg(not(feature = "parquet"))]
            Self::Parquet(_) => {
                return Err(invalid(
                    "parquet: this build has no Parquet sink; build spindle-sinks with its `parquet` feature (a default one)".into(),
                ));
            }
            #[cfg(feature = "avro")]
            Self::Avro(path) => {
                self.one_or_per_table(path, |path| Ok(Box::new(crate::AvroSink::new(path)?)))?
            }
            #[cfg(not(feature = "avro"))]
            Self::Avro(_) => {
                return Err(invalid(
                    "avro: this build has no Avro sink; build with the `avro` feature (spindle-cli's default features include it)".into(),
                ));
            }
            #[cfg(feature = "kafka")]
            Self::Kafka(kafka) => {
                let mut kafka = kafka.clone();
                if options.several_tables && !kafka.topic.contains(crate::event::TABLE_PLACEHOLDER)
                {
                    kafka
                        .subject_naming
                        .get_or_insert(crate::SubjectNaming::TopicRecord);
                }
                Box::new(crate::KafkaSink::new(kafka)?)
            }
            #[cfg(feature = "kafka")]
            Self::EventHub(hub) => Box::new(crate::EventHubSink::new(hub)?),
        })
    }
}

/// `true` or `false` for option `key`.
#[cfg(feature = "kafka")]
fn switch(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(invalid(format!("{key}={other} is not true or false"))),
    }
}

/// `key=value&...` of an address, each key checked against `allowed`.
#[cfg(feature = "kafka")]
fn query<'a>(
    text: &'a str,
    sink: &str,
    allowed: &[&'static str],
) -> Result<Vec<(&'static str, &'a str)>> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match allowed.iter().find(|&&k| k == key) {
                Some(&key) => Ok((key, value)),
                None => Err(invalid(format!(
                    "unknown option '{key}' in {sink}; allowed: {}",
                    allowed.join(", ")
                ))),
            }
        })
        .collect()
}

impl FromStr for SinkAddress {
    type Err = Error;

    /// As [`SinkAddress::parse`] without a default path.
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text, None)
    }
}

impl fmt::Display for SinkAddress {
    /// The address, short: `file:PATH`, `kafka:TOPIC`, `eventhub:HUB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Console => write!(f, "console"),
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Parquet(path) => write!(f, "parquet:{}", path.display()),
            Self::Avro(path) => write!(f, "avro:{}", path.display()),
            #[cfg(feature = "kafka")]
            Self::Kafka(kafka) => write!(f, "kafka:{}", kafka.topic),
            #[cfg(feature = "kafka")]
            Self::EventHub(hub) => write!(f, "eventhub:{}", hub.hub.as_deref().unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is an address or an error naming what is allowed; never a panic.
        #[test]
        fn any_text_parses_or_is_refused(
            text in prop_oneof![
                "\\PC{0,60}",
                "(kafka://|eventhub:|file:|parquet:|console|jsonl:)[a-z0-9:/?&=,._-]{0,40}",
            ],
        ) {
            match text.parse::<SinkAddress>() {
                Ok(address) => prop_assert!(!address.to_string().is_empty()),
                Err(e) => prop_assert!(e.to_string().starts_with("invalid sink: ")),
            }
        }
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        let cases = [
            ("console", "console"),
            ("stdout", "console"),
            ("file:out/e.jsonl", "file:out/e.jsonl"),
            ("jsonl:e.jsonl", "file:e.jsonl"),
            ("parquet:e.parquet", "parquet:e.parquet"),
        ];
        for (text, shown) in cases {
            let address: SinkAddress = text.parse().unwrap();
            assert_eq!(address.to_string(), shown);
        }
        let with_default = SinkAddress::parse("file", Some(Path::new("x.jsonl"))).unwrap();
        assert_eq!(with_default, SinkAddress::File("x.jsonl".into()));
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_options_come_from_the_query() {
        let address: SinkAddress =
            "kafka://h1:9092,h2:9092/orders?key=customer_id&acks=1&linger_ms=20&headers=false"
                .parse()
                .unwrap();
        let SinkAddress::Kafka(kafka) = address else {
            panic!("not kafka")
        };
        assert_eq!(kafka.bootstrap_servers, "h1:9092,h2:9092");
        assert_eq!(kafka.topic, "orders");
        assert_eq!(kafka.key_column.as_deref(), Some("customer_id"));
        assert_eq!((kafka.acks.as_str(), kafka.linger_ms), ("1", 20));
        assert!(!kafka.headers);
        // acks=1 cannot be idempotent: off unless asked (and then refused).
        assert!(!kafka.idempotent());
        assert_eq!(kafka.timestamp, crate::RecordTime::Event);
        assert_eq!(kafka.metadata, crate::MetadataPlace::Value);
        let SinkAddress::Kafka(kafka) = "kafka://h:1/t?metadata=headers".parse().unwrap() else {
            panic!("not kafka")
        };
        assert_eq!(kafka.metadata, crate::MetadataPlace::Headers);
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_timestamps_and_idempotence_come_from_the_query() {
        let config = |text: &str| {
            let SinkAddress::Kafka(kafka) = text.parse().unwrap() else {
                panic!("not kafka")
            };
            let idempotent = kafka
                .client_config()
                .into_iter()
                .find(|(k, _)| k == "enable.idempotence")
                .map(|(_, v)| v);
            (kafka.timestamp, idempotent.as_deref() == Some("true"))
        };
        use crate::RecordTime::{Event, Send};
        assert_eq!(config("kafka://h:1/t"), (Event, true));
        assert_eq!(config("kafka://h:1/t?timestamp=send"), (Send, true));
        assert_eq!(config("kafka://h:1/t?idempotence=false"), (Event, false));
        assert_eq!(config("kafka://h:1/t?acks=0"), (Event, false));
        for (text, needle) in [
            (
                "kafka://h:1/t?timestamp=now",
                "'now' is not one of event, send",
            ),
            (
                "kafka://h:1/t?idempotence=yes",
                "idempotence=yes is not true or false",
            ),
            (
                "kafka://h:1/t?acks=1&idempotence=true",
                "needs acks=all, not acks=1",
            ),
        ] {
            let err = text.parse::<SinkAddress>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn bad_addresses_name_what_is_allowed() {
        let cases = [
            ("kafkaa", "allowed: console, file:PATH"),
            ("file", "needs a path"),
            ("console:x", "unknown sink"),
        ];
        for (text, needle) in cases {
            let err = text.parse::<SinkAddress>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn bad_kafka_addresses_name_what_is_allowed() {
        let cases = [
            ("kafka://host/", "expected kafka://HOST:PORT/TOPIC"),
            ("kafka://h:1/t?partition=2", "allowed: key, acks"),
            (
                "kafka://h:1/t?linger_ms=soon",
                "linger_ms=soon is not a whole number",
            ),
            ("eventhub:region=eu", "allowed: env, hub, key"),
            (
                "eventhub:env=SPINDLE_TEST_UNSET_VARIABLE",
                "SPINDLE_TEST_UNSET_VARIABLE, which is not set",
            ),
        ];
        for (text, needle) in cases {
            let err = text.parse::<SinkAddress>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
