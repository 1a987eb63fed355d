//! The Avro schema of a table's events, derived from their Arrow schema, for Avro
//! files and Kafka messages alike: a record named after the table in namespace
//! `spindle`, nullable columns as unions with null, instants as `timestamp-micros`
//! (UTC, as Spindle's instants are), dates as `date`, numbers as `int`, `long` and
//! `double`, text as `string`, dictionary-encoded text as plain text.

use crate::error::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_avro::schema::{AVRO_NAME_METADATA_KEY, AVRO_NAMESPACE_METADATA_KEY};
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
    Ok(Schema::new_with_metadata(fields, metadata))
}

/// The type a column of type `ty` is written as, if Avro carries it.
fn avro_type(ty: &DataType) -> Option<DataType> {
    Some(match ty {
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
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
        _ => return None,
    })
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
