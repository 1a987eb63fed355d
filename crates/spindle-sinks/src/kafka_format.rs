//! What a Kafka message's value is: the event as a JSON object (the default), or in
//! the Confluent wire format (magic byte 0, the schema's 4-byte id in a schema
//! registry, then the payload): an Avro binary record (`avro`), the JSON object
//! (`json-schema`), or a Protobuf message after its message indexes (`protobuf`). A
//! table's schema is derived from its events' Arrow schema (see [`crate::avro_schema`],
//! [`crate::json_schema`] and [`crate::protobuf`]) and registered once per table
//! and topic, under the subject the naming strategy gives, at the table's first batch
//! and so before its first message; a table whose columns change registers its new
//! schema (the subject's compatibility level decides).

use crate::avro_schema::{AVRO_NAMESPACE, avro_batch, avro_ready, avro_schema_json};
use crate::error::{Error, Result};
use crate::json::JsonLines;
use crate::json_schema::json_schema_of;
use crate::protobuf::{encode_messages, proto_schema};
use crate::schema_registry::SchemaRegistry;
use arrow_array::RecordBatch;
use arrow_avro::schema::FingerprintStrategy;
use arrow_avro::writer::format::AvroSoeFormat;
use arrow_avro::writer::{EncodedRows, Encoder, WriterBuilder};
use arrow_schema::{Schema, SchemaRef};
use std::collections::HashMap;

/// How a message's value is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueFormat {
    /// The event as a JSON object, as the JSON-lines sinks write it.
    #[default]
    Json,
    /// Avro in the Confluent wire format, its schema in a schema registry.
    Avro,
    /// The JSON object in the Confluent wire format, its JSON Schema in a schema
    /// registry.
    JsonSchema,
    /// A Protobuf message in the Confluent wire format (with its message indexes), its
    /// `.proto` in a schema registry.
    Protobuf,
}

impl std::str::FromStr for ValueFormat {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "json" => Ok(Self::Json),
            "avro" => Ok(Self::Avro),
            "json-schema" => Ok(Self::JsonSchema),
            "protobuf" => Ok(Self::Protobuf),
            other => Err(Error::Invalid {
                field: "format",
                message: format!("'{other}' is not one of json, avro, json-schema, protobuf"),
            }),
        }
    }
}

impl ValueFormat {
    /// Its name in sink addresses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Avro => "avro",
            Self::JsonSchema => "json-schema",
            Self::Protobuf => "protobuf",
        }
    }

    /// The format as one whose schemas go to a registry, if it is one.
    pub(crate) fn with_schema(self) -> Option<SchemaFormat> {
        match self {
            Self::Json => None,
            Self::Avro => Some(SchemaFormat::Avro),
            Self::JsonSchema => Some(SchemaFormat::JsonSchema),
            Self::Protobuf => Some(SchemaFormat::Protobuf),
        }
    }
}

/// A value format whose schemas go to a schema registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemaFormat {
    Avro,
    JsonSchema,
    Protobuf,
}

impl SchemaFormat {
    /// The registry's `schemaType` of its schemas.
    fn schema_type(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::JsonSchema => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }
}

/// How a table's schema is named in the registry: Confluent's subject name strategies.
/// Unless told, a topic of one table's events names it by topic, and a topic of
/// several tables' events (so several schemas) by topic and record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectNaming {
    /// `TOPIC-value` (`TopicNameStrategy`).
    Topic,
    /// The record's full name, `spindle.TABLE` (`RecordNameStrategy`).
    Record,
    /// `TOPIC-spindle.TABLE` (`TopicRecordNameStrategy`).
    TopicRecord,
}

impl std::str::FromStr for SubjectNaming {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "topic" => Ok(Self::Topic),
            "record" => Ok(Self::Record),
            "topic-record" => Ok(Self::TopicRecord),
            other => Err(Error::Invalid {
                field: "subject",
                message: format!("'{other}' is not one of topic, record, topic-record"),
            }),
        }
    }
}

impl SubjectNaming {
    /// The subject of the values of `record` (a full name) sent to `topic`.
    pub fn subject(self, topic: &str, record: &str) -> String {
        match self {
            Self::Topic => format!("{topic}-value"),
            Self::Record => record.to_string(),
            Self::TopicRecord => format!("{topic}-{record}"),
        }
    }
}

/// Values in the Confluent wire format, an encoder per topic and table.
pub(crate) struct RegistryValues {
    registry: SchemaRegistry,
    format: SchemaFormat,
    naming: SubjectNaming,
    /// Register schemas (else only look them up).
    register: bool,
    encoders: HashMap<(String, String), TableEncoder>,
}

/// The encoder of one table's values to one topic.
struct TableEncoder {
    /// The events' Arrow schema it was made for.
    sent: SchemaRef,
    encoding: Encoding,
}

/// How a table's values are encoded.
enum Encoding {
    /// Avro records: the events cast to `written`, then encoded with their prefix.
    Avro {
        written: Schema,
        encoder: Box<Encoder>,
    },
    /// JSON objects after `prefix` (magic byte and schema id).
    Json { prefix: [u8; 5] },
    /// Protobuf messages after `prefix` (magic byte, schema id, message indexes).
    Protobuf { prefix: [u8; 6] },
}

impl RegistryValues {
    /// Values of `format` whose schemas go to the registry at `registry`, named by
    /// `naming`; registered if `register`, else looked up.
    ///
    /// # Errors
    /// As [`SchemaRegistry::new`].
    pub(crate) fn new(
        format: SchemaFormat,
        registry: &str,
        naming: SubjectNaming,
        register: bool,
    ) -> Result<Self> {
        Ok(Self {
            registry: SchemaRegistry::new(registry)?,
            format,
            naming,
            register,
            encoders: HashMap::new(),
        })
    }

    /// The values of `batch`'s rows (events of `table`) sent to `topic`, one
    /// Confluent-framed payload each.
    ///
    /// # Errors
    /// A column the format cannot carry, or the registry's errors at the table's first
    /// batch.
    pub(crate) fn encode(
        &mut self,
        topic: &str,
        table: &str,
        batch: &RecordBatch,
    ) -> Result<EncodedRows> {
        let key = (topic.to_string(), table.to_string());
        let sent = batch.schema();
        let stale = self
            .encoders
            .get(&key)
            .is_none_or(|e| e.sent.fields() != sent.fields());
        if stale {
            let encoder = self.open(topic, table, &sent)?;
            self.encoders.insert(key.clone(), encoder);
        }
        match &mut self.encoders.get_mut(&key).expect("opened above").encoding {
            Encoding::Avro { written, encoder } => {
                let written = avro_batch(batch, written)?;
                encoder.encode(&written).map_err(avro_error)?;
                Ok(encoder.flush())
            }
            Encoding::Json { prefix } => framed_json(batch, prefix),
            Encoding::Protobuf { prefix } => {
                let (bytes, offsets) = encode_messages(batch, prefix)?;
                Ok(EncodedRows::new(bytes.into(), offsets))
            }
        }
    }

    /// The encoder of `table`'s events of schema `sent` to `topic`, its schema
    /// registered (or looked up).
    fn open(&self, topic: &str, table: &str, sent: &SchemaRef) -> Result<TableEncoder> {
        let subject = self
            .naming
            .subject(topic, &format!("{AVRO_NAMESPACE}.{table}"));
        let schema_type = self.format.schema_type();
        let id = |schema: &str| {
            self.registry
                .schema_id(&subject, schema, schema_type, self.register)
        };
        let encoding = match self.format {
            SchemaFormat::Avro => {
                let written = avro_ready(sent, table)?;
                let id = id(&avro_schema_json(&written)?)?;
                let encoder = WriterBuilder::new(written.clone())
                    .with_fingerprint_strategy(FingerprintStrategy::Id(id))
                    .build_encoder::<AvroSoeFormat>()
                    .map_err(avro_error)?;
                Encoding::Avro {
                    written,
                    encoder: Box::new(encoder),
                }
            }
            SchemaFormat::JsonSchema => {
                let id = id(&json_schema_of(sent, table)?)?;
                let mut prefix = [0u8; 5];
                prefix[1..].copy_from_slice(&id.to_be_bytes());
                Encoding::Json { prefix }
            }
            SchemaFormat::Protobuf => {
                let id = id(&proto_schema(sent, table)?)?;
                // Then the message indexes: [0], the file's first message, as one 0.
                let mut prefix = [0u8; 6];
                prefix[1..5].copy_from_slice(&id.to_be_bytes());
                Encoding::Protobuf { prefix }
            }
        };
        Ok(TableEncoder {
            sent: sent.clone(),
            encoding,
        })
    }
}

/// `batch`'s events as JSON objects, each after `prefix`.
fn framed_json(batch: &RecordBatch, prefix: &[u8]) -> Result<EncodedRows> {
    let encoded = JsonLines::encode(std::slice::from_ref(batch))?;
    let lines: Vec<&[u8]> = encoded.lines().collect();
    let length: usize = lines.iter().map(|l| l.len() + prefix.len()).sum();
    let mut bytes = Vec::with_capacity(length);
    let mut offsets = Vec::with_capacity(lines.len() + 1);
    offsets.push(0);
    for line in lines {
        bytes.extend_from_slice(prefix);
        bytes.extend_from_slice(line);
        offsets.push(bytes.len());
    }
    Ok(EncodedRows::new(bytes.into(), offsets))
}

fn avro_error(e: arrow_avro::errors::AvroError) -> Error {
    Error::Invalid {
        field: "format",
        message: format!("avro: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_confluent_strategies() {
        let subject = |naming: &str| {
            let naming: SubjectNaming = naming.parse().unwrap();
            naming.subject("orders", "spindle.order")
        };
        assert_eq!(subject("topic"), "orders-value");
        assert_eq!(subject("record"), "spindle.order");
        assert_eq!(subject("topic-record"), "orders-spindle.order");
        let bad = "name".parse::<SubjectNaming>().unwrap_err().to_string();
        assert!(bad.contains("topic, record, topic-record"), "{bad}");
        let bad = "thrift".parse::<ValueFormat>().unwrap_err().to_string();
        assert!(bad.contains("one of json, avro, json-schema"), "{bad}");
    }
}
