//! The Avro schema of a table's events, derived from their Arrow schema, for Avro
//! files and Kafka messages alike: a record named after the table in namespace
//! `spindle`, nullable columns as unions with null, instants as `timestamp-micros`
//! (UTC, as Spindle's instants are), dates as `date`, numbers as `int`, `long` and
//! `double`, text as `string`, dictionary-encoded text as plain text, structs as
//! records.
//!
//! A change event's schema takes the shape Debezium's Avro converter gives it: a record
//! `Envelope` in namespace `spindle.TABLE`, whose `before` is a nullable record
//! `Value` (the row) and whose `after` refers to that same `Value`, beside `op`,
//! `ts_ms` and a `source` record `Source`; then Spindle's metadata fields.

use crate::error::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_avro::schema::{
    AVRO_NAME_METADATA_KEY, AVRO_NAMESPACE_METADATA_KEY, AvroSchema, SCHEMA_METADATA_KEY,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// The namespace of every record Spindle writes.
pub(crate) const AVRO_NAMESPACE: &str = "spindle";

/// The Arrow schema written for events of schema `sent`: a record named `name` (the
/// table's) in namespace `spindle`, instants in UTC microseconds, dictionaries as
/// their values; an error names a column Avro cannot carry.
pub(crate) fn avro_ready(sent: &SchemaRef, name: &str) -> Result<Schema> {
    let fields: Vec<Field> = sent
        .fields()
        .iter()
        .map(|f| {
            let ty = avro_type(f.data_type()).ok_or_else(|| Error::Unsupported {
                column: f.name().clone(),
                data_type: f.data_type().to_string(),
                format: "Avro",
            })?;
            Ok(f.as_ref().clone().with_data_type(ty))
        })
        .collect::<Result<_>>()?;
    let mut metadata = sent.metadata().clone();
    metadata.insert(AVRO_NAME_METADATA_KEY.into(), name.into());
    metadata.insert(AVRO_NAMESPACE_METADATA_KEY.into(), AVRO_NAMESPACE.into());
    let written = Schema::new_with_metadata(fields, metadata);
    if !is_change_event(&written) {
        return Ok(written);
    }
    let json = debezium_shape(&written, name)?;
    let mut metadata = written.metadata().clone();
    metadata.insert(SCHEMA_METADATA_KEY.into(), json);
    Ok(written.with_metadata(metadata))
}

/// The Avro schema of [`avro_ready`]'s written schema, as JSON text (what a registry
/// is given).
#[cfg(feature = "kafka")]
pub(crate) fn avro_schema_json(written: &Schema) -> Result<String> {
    match written.metadata().get(SCHEMA_METADATA_KEY) {
        Some(json) => Ok(json.clone()),
        None => Ok(AvroSchema::try_from(written)?.json_string),
    }
}

/// Whether `schema` is a change event's: `before` and `after` records of one type.
fn is_change_event(schema: &Schema) -> bool {
    match (
        schema.field_with_name("before"),
        schema.field_with_name("after"),
    ) {
        (Ok(before), Ok(after)) => {
            matches!(before.data_type(), DataType::Struct(_))
                && before.data_type() == after.data_type()
        }
        _ => false,
    }
}

/// The Avro schema (JSON) of the change events of `table` written as `written`, in
/// Debezium's names (see the module docs).
fn debezium_shape(written: &Schema, table: &str) -> Result<String> {
    let plain = AvroSchema::try_from(written)?.json_string;
    let mut schema: serde_json::Value =
        serde_json::from_str(&plain).map_err(|e| Error::Invalid {
            field: "format",
            message: format!("avro: the schema arrow-avro wrote is not JSON: {e}"),
        })?;
    schema["name"] = "Envelope".into();
    schema["namespace"] = format!("{AVRO_NAMESPACE}.{table}").into();
    let fields = schema["fields"].as_array_mut().expect("a record's fields");
    for field in fields {
        let name = field["name"].as_str().unwrap_or_default().to_string();
        let record = |name: &str, t: &mut serde_json::Value| {
            if let Some(r) = t
                .as_object_mut()
                .filter(|r| r.get("type") == Some(&"record".into()))
            {
                r.insert("name".into(), name.into());
                r.remove("namespace");
            }
        };
        match name.as_str() {
            "before" => each_branch(&mut field["type"], |t| record("Value", t)),
            "after" => each_branch(&mut field["type"], |t| {
                if t.is_object() {
                    *t = "Value".into();
                }
            }),
            "source" => each_branch(&mut field["type"], |t| record("Source", t)),
            _ => {}
        }
    }
    Ok(schema.to_string())
}

/// The type a column of type `ty` is written as, if Avro carries it. Instants are
/// tagged `+00:00` (not `UTC`, a zone name only arrow's `chrono-tz` feature reads).
fn avro_type(ty: &DataType) -> Option<DataType> {
    Some(match ty {
        DataType::Timestamp(_, _) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
        }
        DataType::Dictionary(_, value) => avro_type(value)?,
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Boolean
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::Date32
        | DataType::Decimal128(_, _) => ty.clone(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Some(f.as_ref().clone().with_data_type(avro_type(f.data_type())?)))
                .collect::<Option<Vec<Field>>>()?
                .into(),
        ),
        _ => return None,
    })
}

/// Calls `f` on each branch of the Avro type `t` (a union's, else `t` itself).
fn each_branch(t: &mut serde_json::Value, mut f: impl FnMut(&mut serde_json::Value)) {
    match t.as_array_mut() {
        Some(union) => union.iter_mut().for_each(f),
        None => f(t),
    }
}

/// `batch`'s columns cast to the written schema.
pub(crate) fn avro_batch(batch: &RecordBatch, written: &Schema) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(written.fields())
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => arrow_cast::cast(c, f.data_type()),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(Arc::new(written.clone()), columns)?)
}

#[cfg(all(test, feature = "kafka"))]
mod tests {
    use super::*;

    #[test]
    fn change_events_take_debeziums_names() {
        let source = DataType::Struct(vec![Field::new("table", DataType::Utf8, false)].into());
        let sent = Arc::new(crate::test_fixtures::change_events(vec![
            Field::new("ts_ms", DataType::Int64, false),
            Field::new("source", source, false),
        ]));
        let written = avro_ready(&sent, "order").unwrap();
        let schema: serde_json::Value =
            serde_json::from_str(&avro_schema_json(&written).unwrap()).unwrap();
        assert_eq!(schema["name"], "Envelope", "{schema}");
        assert_eq!(schema["namespace"], "spindle.order", "{schema}");
        assert_eq!(schema["fields"][0]["type"][1]["name"], "Value", "{schema}");
        assert_eq!(schema["fields"][1]["type"][1], "Value", "{schema}");
        assert_eq!(schema["fields"][4]["type"]["name"], "Source", "{schema}");
    }
}
