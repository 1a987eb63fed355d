//! The JSON Schema (draft 7) of a table's events as the JSON-lines sinks write them:
//! an object titled after the table with every column as a required property
//! (integers as `integer`, floats and decimals as `number` or null, since a non-finite
//! float is written as null; text as `string`, instants as `string` in the JSON's
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`, dates as `string` of format `date`, structs as
//! objects), a nullable column's value also allowed to be null.

use crate::error::{Error, Result};
use arrow_schema::{DataType, Field, Fields, Schema};
use serde_json::{Value, json};

/// The JSON Schema of events of `schema` of `table`, as JSON text.
///
/// # Errors
/// [`Error::Unsupported`] naming a column the JSON-lines writer cannot write.
pub(crate) fn json_schema_of(schema: &Schema, table: &str) -> Result<String> {
    let mut object = object_of(schema.fields())?;
    object["$schema"] = "http://json-schema.org/draft-07/schema#".into();
    object["title"] = table.into();
    Ok(object.to_string())
}

/// The schema of an object with `fields` as its required properties.
fn object_of(fields: &Fields) -> Result<Value> {
    let mut properties = serde_json::Map::new();
    for field in fields {
        properties.insert(field.name().clone(), property(field)?);
    }
    let required: Vec<&String> = fields.iter().map(|f| f.name()).collect();
    Ok(json!({"type": "object", "properties": properties, "required": required}))
}

/// The schema of `field`'s values.
fn property(field: &Field) -> Result<Value> {
    let unsupported = || Error::Unsupported {
        column: field.name().clone(),
        data_type: field.data_type().to_string(),
        format: "JSON Schema",
    };
    let value = value_of(field.data_type()).ok_or_else(unsupported)??;
    let may_be_null = field.is_nullable() || is_float(field.data_type());
    Ok(match may_be_null {
        true => json!({"oneOf": [{"type": "null"}, value]}),
        false => value,
    })
}

/// The schema of values of type `ty`, if the JSON-lines writer writes it.
fn value_of(ty: &DataType) -> Option<Result<Value>> {
    use DataType::*;
    Some(Ok(match ty {
        Boolean => json!({"type": "boolean"}),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            json!({"type": "integer"})
        }
        _ if is_float(ty) => json!({"type": "number"}),
        Utf8 | LargeUtf8 | Utf8View => json!({"type": "string"}),
        Dictionary(_, value) if value.is_string() => json!({"type": "string"}),
        Timestamp(_, _) => json!({"type": "string"}),
        Date32 | Date64 => json!({"type": "string", "format": "date"}),
        Struct(fields) => return Some(object_of(fields)),
        _ => return None,
    }))
}

/// Whether the JSON-lines writer writes values of `ty` as floats.
fn is_float(ty: &DataType) -> bool {
    use DataType::*;
    matches!(
        ty,
        Float16
            | Float32
            | Float64
            | Decimal32(..)
            | Decimal64(..)
            | Decimal128(..)
            | Decimal256(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_required_properties_nullable_ones_also_null() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("note", DataType::Utf8, true),
            Field::new("total", DataType::Float64, false),
            Field::new("day", DataType::Date32, false),
        ]);
        let text = json_schema_of(&schema, "order").unwrap();
        let s: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(s["title"], "order");
        assert_eq!(s["required"], json!(["id", "note", "total", "day"]));
        assert_eq!(s["properties"]["id"], json!({"type": "integer"}));
        let null_or = |t: Value| json!({"oneOf": [{"type": "null"}, t]});
        assert_eq!(s["properties"]["note"], null_or(json!({"type": "string"})));
        assert_eq!(s["properties"]["total"], null_or(json!({"type": "number"})));
        assert_eq!(
            s["properties"]["day"],
            json!({"type": "string", "format": "date"})
        );
        let list = Schema::new(vec![Field::new(
            "xs",
            DataType::List(Field::new("x", DataType::Int64, true).into()),
            false,
        )]);
        let error = json_schema_of(&list, "t").unwrap_err().to_string();
        assert!(error.contains("column 'xs'"), "{error}");
    }
}
