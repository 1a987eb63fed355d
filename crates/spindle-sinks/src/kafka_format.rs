//! What a Kafka message's value is: the event as a JSON object (the default), or Avro
//! in the Confluent wire format (magic byte 0, the schema's 4-byte id in a schema
//! registry, then the Avro binary record). A table's Avro schema is derived from its
//! events' Arrow schema (see [`crate::avro_schema`]) and registered once per table and
//! topic, under the subject the naming strategy gives, at the table's first batch and
//! so before its first message; a table whose columns change registers its new schema
//! (the subject's compatibility level decides).

use crate::avro_schema::{AVRO_NAMESPACE, avro_batch, avro_ready};
use crate::error::{Error, Result};
use crate::schema_registry::SchemaRegistry;
use arrow_array::RecordBatch;
use arrow_avro::schema::{AvroSchema, FingerprintStrategy};
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
}

impl std::str::FromStr for ValueFormat {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "json" => Ok(Self::Json),
            "avro" => Ok(Self::Avro),
            other => Err(Error::Invalid {
                field: "format",
                message: format!(
                    "'{other}' is not one of json, avro (protobuf and json-schema are not built yet)"
                ),
            }),
        }
    }
}

/// How a table's schema is named in the registry: Confluent's subject name strategies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectNaming {
    /// `TOPIC-value` (`TopicNameStrategy`).
    #[default]
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

/// Avro values in the Confluent wire format, an encoder per topic and table.
pub(crate) struct AvroValues {
    registry: SchemaRegistry,
    naming: SubjectNaming,
    /// Register schemas (else only look them up).
    register: bool,
    encoders: HashMap<(String, String), TableEncoder>,
}

/// The encoder of one table's values to one topic.
struct TableEncoder {
    /// The events' Arrow schema it was made for.
    sent: SchemaRef,
    /// The schema the events are cast to, for Avro.
    written: Schema,
    encoder: Encoder,
}

impl AvroValues {
    /// Values whose schemas go to the registry at `registry`, named by `naming`;
    /// registered if `register`, else looked up.
    ///
    /// # Errors
    /// As [`SchemaRegistry::new`].
    pub(crate) fn new(registry: &str, naming: SubjectNaming, register: bool) -> Result<Self> {
        Ok(Self {
            registry: SchemaRegistry::new(registry)?,
            naming,
            register,
            encoders: HashMap::new(),
        })
    }

    /// The values of `batch`'s rows (events of `table`) sent to `topic`, one
    /// Confluent-framed Avro record each.
    ///
    /// # Errors
    /// A column Avro cannot carry, or the registry's errors at the table's first batch.
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
        let e = self.encoders.get_mut(&key).expect("opened above");
        let written = avro_batch(batch, &e.written)?;
        e.encoder.encode(&written).map_err(avro_error)?;
        Ok(e.encoder.flush())
    }

    /// The encoder of `table`'s events of schema `sent` to `topic`, its schema
    /// registered (or looked up).
    fn open(&self, topic: &str, table: &str, sent: &SchemaRef) -> Result<TableEncoder> {
        let written = avro_ready(sent, table)?;
        let schema = AvroSchema::try_from(&written)?.json_string;
        let subject = self
            .naming
            .subject(topic, &format!("{AVRO_NAMESPACE}.{table}"));
        let id = self
            .registry
            .schema_id(&subject, &schema, "AVRO", self.register)?;
        let encoder = WriterBuilder::new(written.clone())
            .with_fingerprint_strategy(FingerprintStrategy::Id(id))
            .build_encoder::<AvroSoeFormat>()
            .map_err(avro_error)?;
        Ok(TableEncoder {
            sent: sent.clone(),
            written,
            encoder,
        })
    }
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
        let bad = "protobuf".parse::<ValueFormat>().unwrap_err().to_string();
        assert!(bad.contains("one of json, avro"), "{bad}");
    }
}
