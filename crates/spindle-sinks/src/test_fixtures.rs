//! Shapes the unit tests of several sink modules share.

use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// A change event's schema: `before` and `after` rows of an id and an instant, `op`,
/// then `more`.
pub(crate) fn change_events(more: Vec<Field>) -> Schema {
    let row = DataType::Struct(
        vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
        ]
        .into(),
    );
    let mut fields = vec![
        Field::new("before", row.clone(), true),
        Field::new("after", row, true),
        Field::new("op", DataType::Utf8, false),
    ];
    fields.extend(more);
    Schema::new(fields)
}
