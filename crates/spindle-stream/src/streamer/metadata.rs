//! The metadata columns that make a table's rows events.

use crate::error::Result;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

pub use spindle_sinks::event::{
    DUPLICATE_OF as META_DUPLICATE_OF, EVENT_TIME as META_EVENT_TIME, SEQ as META_SEQ,
    TABLE as META_TABLE, WATERMARK as META_WATERMARK,
};

/// `payload` followed by `_spindle_table`, `_spindle_seq` and `_spindle_event_time`.
/// Metadata columns the payload already has (a replayed stream) are replaced, and its
/// delivery columns (`_spindle_duplicate_of`, `_spindle_watermark`) left out: this
/// run's delivery stage writes its own.
pub fn with_metadata(
    payload: &RecordBatch,
    seq: Int64Array,
    table: &str,
    event_time: Option<&str>,
) -> Result<RecordBatch> {
    let schema = payload.schema();
    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(schema.fields().len() + 3);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
    for (field, column) in schema.fields().iter().zip(payload.columns()) {
        let replaced = [
            META_TABLE,
            META_SEQ,
            META_EVENT_TIME,
            META_DUPLICATE_OF,
            META_WATERMARK,
        ];
        if !replaced.contains(&field.name().as_str()) {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    let n = payload.num_rows();
    fields.push(Arc::new(Field::new(META_TABLE, DataType::Utf8, false)));
    columns.push(Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(table, n),
    )));
    fields.push(Arc::new(Field::new(META_SEQ, DataType::Int64, false)));
    columns.push(Arc::new(seq));
    if let Some(column) = event_time {
        let index = schema.index_of(column)?;
        let field = schema.field(index);
        fields.push(Arc::new(Field::new(
            META_EVENT_TIME,
            field.data_type().clone(),
            true,
        )));
        columns.push(payload.column(index).clone());
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
