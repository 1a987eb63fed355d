//! Protobuf values for Kafka (`format=protobuf`): the `.proto` schema of a table's
//! events, derived from their Arrow schema, and each event encoded as a message with
//! prost's wire-format encoders, column by column into one buffer per batch.
//!
//! The schema is proto3 in package `spindle`, one message named after the table with a
//! field per column, numbered in column order: integers as `int64`, floats and decimals
//! as `double`, booleans as `bool`, text as `string`, instants as
//! `google.protobuf.Timestamp` (UTC), dates as `string` (`YYYY-MM-DD`, as in JSON),
//! structs as nested messages (a change event's `before` and `after` share one, `Value`,
//! as in Debezium's names); a nullable column is an `optional` field, absent where null.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    StructArray, TimestampMicrosecondArray, make_array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use prost::encoding::{self, WireType};
use std::fmt::Write as _;

/// The `.proto` text of events of `schema` of `table`.
///
/// # Errors
/// [`Error::Unsupported`] naming a column Protobuf cannot carry here.
pub(crate) fn proto_schema(schema: &Schema, table: &str) -> Result<String> {
    let mut body = String::new();
    let mut nested = Vec::new();
    let mut uses_time = false;
    for (number, field) in schema.fields().iter().enumerate() {
        let (type_name, time) = proto_type(field, &mut nested)?;
        uses_time |= time;
        let label = if field.is_nullable() { "optional " } else { "" };
        let _ = writeln!(
            body,
            "  {label}{type_name} {} = {};",
            field.name(),
            number + 1
        );
    }
    let mut text = String::from("syntax = \"proto3\";\npackage spindle;\n");
    if uses_time || nested.iter().any(|(_, _, time)| *time) {
        text.push_str("import \"google/protobuf/timestamp.proto\";\n");
    }
    let _ = writeln!(text, "\nmessage {table} {{");
    for (name, fields, _) in &nested {
        let _ = writeln!(text, "  message {name} {{");
        for line in fields.lines() {
            let _ = writeln!(text, "  {line}");
        }
        text.push_str("  }\n");
    }
    text.push_str(&body);
    text.push_str("}\n");
    Ok(text)
}

/// The Protobuf type of `field`'s values, and whether it is a Timestamp (or holds
/// one); a struct's message is added to `nested` (name, fields, holds a Timestamp)
/// once per shape.
fn proto_type(field: &Field, nested: &mut Vec<(String, String, bool)>) -> Result<(String, bool)> {
    let unsupported = || Error::Unsupported {
        column: field.name().clone(),
        data_type: field.data_type().to_string(),
        format: "Protobuf",
    };
    Ok(match field.data_type() {
        DataType::Struct(fields) => {
            let mut inner = Vec::new();
            let mut body = String::new();
            let mut time = false;
            for (number, f) in fields.iter().enumerate() {
                let (t, holds) = proto_type(f, &mut inner)?;
                if !inner.is_empty() {
                    return Err(unsupported());
                }
                time |= holds;
                let label = if f.is_nullable() { "optional " } else { "" };
                let _ = writeln!(body, "  {label}{t} {} = {};", f.name(), number + 1);
            }
            let name = match nested.iter().find(|(_, b, _)| *b == body) {
                Some((name, _, _)) => name.clone(),
                None => {
                    let name = message_name(field.name(), nested.len());
                    nested.push((name.clone(), body, time));
                    name
                }
            };
            (name, false)
        }
        ty => match scalar(ty) {
            Some(Scalar::Micros) => ("google.protobuf.Timestamp".into(), true),
            Some(s) => (s.proto_name().into(), false),
            None => return Err(unsupported()),
        },
    })
}

/// The name of the message of struct column `column`, the `index`-th nested one: a
/// change event's row is `Value` and its source `Source`, as Debezium names them.
fn message_name(column: &str, index: usize) -> String {
    match column {
        "before" | "after" => "Value".into(),
        "source" => "Source".into(),
        _ => format!("Nested{index}"),
    }
}

/// How a scalar column is written.
#[derive(Clone, Copy)]
enum Scalar {
    Int,
    Float,
    Bool,
    Text,
    Micros,
    Date,
}

impl Scalar {
    fn proto_name(self) -> &'static str {
        match self {
            Scalar::Int => "int64",
            Scalar::Float => "double",
            Scalar::Bool => "bool",
            Scalar::Text | Scalar::Date => "string",
            Scalar::Micros => "google.protobuf.Timestamp",
        }
    }
}

fn scalar(ty: &DataType) -> Option<Scalar> {
    use DataType::*;
    Some(match ty {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => Scalar::Int,
        Float16 | Float32 | Float64 | Decimal128(..) | Decimal256(..) => Scalar::Float,
        Boolean => Scalar::Bool,
        Utf8 | LargeUtf8 | Utf8View => Scalar::Text,
        Dictionary(_, value) if value.is_string() => Scalar::Text,
        Timestamp(_, _) => Scalar::Micros,
        Date32 | Date64 => Scalar::Date,
        _ => return None,
    })
}

/// A column ready to write.
enum Column {
    Int(Int64Array),
    Float(Float64Array),
    Bool(BooleanArray),
    Text(StringArray),
    Micros(TimestampMicrosecondArray),
    Date(Date32Array),
    Message(StructArray, Vec<Column>),
}

impl Column {
    fn new(array: &ArrayRef) -> Result<Self> {
        let cast = |to: &DataType| arrow_cast::cast(array, to);
        Ok(match array.data_type() {
            DataType::Struct(_) => {
                let s = array.as_struct();
                let children = s.columns().iter().map(Column::new).collect::<Result<_>>()?;
                Column::Message(s.clone(), children)
            }
            ty => match scalar(ty).expect("checked by proto_schema") {
                Scalar::Int => {
                    Column::Int(cast(&DataType::Int64)?.as_primitive::<Int64Type>().clone())
                }
                Scalar::Float => Column::Float(
                    cast(&DataType::Float64)?
                        .as_primitive::<Float64Type>()
                        .clone(),
                ),
                Scalar::Bool => Column::Bool(array.as_boolean().clone()),
                Scalar::Text => Column::Text(cast(&DataType::Utf8)?.as_string::<i32>().clone()),
                Scalar::Micros => {
                    // Aware instants hold UTC: drop the zone, keep the values (no zone
                    // is looked up, so any zone name will do).
                    let naive = match ty {
                        DataType::Timestamp(unit, Some(_)) => make_array(
                            array
                                .to_data()
                                .into_builder()
                                .data_type(DataType::Timestamp(*unit, None))
                                .build()?,
                        ),
                        _ => array.clone(),
                    };
                    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
                    let micros = arrow_cast::cast(&naive, &micros)?;
                    Column::Micros(micros.as_primitive::<TimestampMicrosecondType>().clone())
                }
                Scalar::Date => Column::Date(
                    cast(&DataType::Date32)?
                        .as_primitive::<Date32Type>()
                        .clone(),
                ),
            },
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::Int(a) => a.is_null(row),
            Column::Float(a) => a.is_null(row),
            Column::Bool(a) => a.is_null(row),
            Column::Text(a) => a.is_null(row),
            Column::Micros(a) => a.is_null(row),
            Column::Date(a) => a.is_null(row),
            Column::Message(a, _) => a.is_null(row),
        }
    }

    /// Writes field `tag` of `row`.
    fn write(&self, tag: u32, row: usize, out: &mut Vec<u8>) {
        match self {
            Column::Int(a) => encoding::int64::encode(tag, &a.value(row), out),
            Column::Float(a) => encoding::double::encode(tag, &a.value(row), out),
            Column::Bool(a) => encoding::bool::encode(tag, &a.value(row), out),
            Column::Text(a) => write_bytes(tag, a.value(row).as_bytes(), out),
            Column::Date(a) => {
                let mut day = Vec::with_capacity(10);
                crate::json::write_date(i64::from(a.value(row)), &mut day);
                write_bytes(tag, &day, out);
            }
            Column::Micros(a) => {
                let micros = a.value(row);
                let seconds = micros.div_euclid(1_000_000);
                let nanos = (micros.rem_euclid(1_000_000) * 1_000) as i32;
                let length = encoding::int64::encoded_len(1, &seconds)
                    + encoding::int32::encoded_len(2, &nanos);
                encoding::encode_key(tag, WireType::LengthDelimited, out);
                encoding::encode_varint(length as u64, out);
                encoding::int64::encode(1, &seconds, out);
                encoding::int32::encode(2, &nanos, out);
            }
            Column::Message(_, children) => {
                // Its length comes first: the message is written aside, then copied.
                let mut inner = Vec::new();
                write_fields(children, row, &mut inner);
                write_bytes(tag, &inner, out);
            }
        }
    }
}

/// A length-delimited field.
fn write_bytes(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::LengthDelimited, out);
    encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Writes `row` of each column as fields 1, 2, ..., nulls left out.
fn write_fields(columns: &[Column], row: usize, out: &mut Vec<u8>) {
    for (k, column) in columns.iter().enumerate() {
        if !column.is_null(row) {
            column.write(k as u32 + 1, row, out);
        }
    }
}

/// `batch`'s events as messages, each after `prefix`: one buffer, and where each
/// message ends.
pub(crate) fn encode_messages(batch: &RecordBatch, prefix: &[u8]) -> Result<(Vec<u8>, Vec<usize>)> {
    let columns = batch
        .columns()
        .iter()
        .map(Column::new)
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(batch.num_rows() * 64);
    let mut offsets = Vec::with_capacity(batch.num_rows() + 1);
    offsets.push(0);
    for row in 0..batch.num_rows() {
        out.extend_from_slice(prefix);
        write_fields(&columns, row, &mut out);
        offsets.push(out.len());
    }
    Ok((out, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};
    use std::sync::Arc;

    #[test]
    fn a_change_event_is_a_message_whose_before_and_after_share_value() {
        let schema =
            crate::test_fixtures::change_events(vec![Field::new("note", DataType::Utf8, true)]);
        assert_eq!(
            proto_schema(&schema, "order").unwrap(),
            "syntax = \"proto3\";\npackage spindle;\n\
             import \"google/protobuf/timestamp.proto\";\n\n\
             message order {\n  message Value {\n    int64 id = 1;\n    \
             google.protobuf.Timestamp at = 2;\n  }\n  optional Value before = 1;\n  \
             optional Value after = 2;\n  string op = 3;\n  optional string note = 4;\n}\n"
        );
    }

    /// The bytes of one message, as protoc's encoders write them: field 1 an int64
    /// varint, field 2 a Timestamp of seconds and nanos, a null left out.
    #[test]
    fn messages_follow_the_wire_format() {
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(150)])) as ArrayRef,
            ),
            (
                "at",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_500_001)])) as ArrayRef,
            ),
            (
                "gone",
                Arc::new(Int64Array::from(vec![None::<i64>])) as ArrayRef,
            ),
        ])
        .unwrap();
        let (bytes, offsets) = encode_messages(&batch, &[0xAA]).unwrap();
        assert_eq!(offsets, [0, bytes.len()]);
        // 0x08 0x96 0x01: field 1, varint 150. 0x12 LENGTH: field 2, a message of
        // seconds (0x08 0x01) and nanos (0x10, then 500,001,000 as a varint).
        let mut expected = vec![0xAA, 0x08, 0x96, 0x01, 0x12];
        let mut timestamp = vec![0x08, 0x01, 0x10];
        encoding::encode_varint(500_001_000, &mut timestamp);
        expected.push(timestamp.len() as u8);
        expected.extend(timestamp);
        assert_eq!(bytes, expected);
    }
}
