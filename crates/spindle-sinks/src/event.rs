//! The event contract: the columns Spindle adds to a table's rows to make them events,
//! after the payload columns and in this order. Defined here, where the sinks read
//! them (Kafka keys and headers, fan-out table counts), and used by the streamer that
//! writes them.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};

/// The start of the name of every column Spindle adds (labels, metadata, delivery).
pub const PREFIX: &str = "_spindle_";

/// Anomaly label: whether the row was corrupted (boolean; present when anomalies
/// were injected and labels are kept).
pub const IS_ANOMALY: &str = "_spindle_is_anomaly";
/// Anomaly label: `kind:name` of the anomaly, null for normal rows.
pub const ANOMALY_TYPE: &str = "_spindle_anomaly_type";
/// Metadata: the table's name.
pub const TABLE: &str = "_spindle_table";
/// Metadata: the row's position in the table before sorting.
pub const SEQ: &str = "_spindle_seq";
/// Metadata: the event time, a copy of the timestamp column (absent for tables
/// without one).
pub const EVENT_TIME: &str = "_spindle_event_time";
/// Delivery: on a duplicate's copy, the [`SEQ`] of the event it repeats; null on
/// every event sent once or first (present when duplicates were asked for).
pub const DUPLICATE_OF: &str = "_spindle_duplicate_of";
/// Change streams: the primary key of the row a change event is about, as text; a
/// Kafka sink keys messages by it unless told another key, so that each row's changes
/// stay in order in one partition and compaction keeps its last state.
pub const KEY: &str = "_spindle_key";
/// Change streams: true on a tombstone, the event after a delete that tells a
/// compacted Kafka topic to forget the key (sent there with the key and no value);
/// present when tombstones were asked for.
pub const TOMBSTONE: &str = "_spindle_tombstone";
/// Delivery: a watermark, the event time no later event of the run is older than;
/// null on the events that carry none (present when watermarks were asked for).
pub const WATERMARK: &str = "_spindle_watermark";

/// The placeholder a Kafka topic or a file path may hold for each event's table
/// (`orders-{table}`, `out/{table}.parquet`): a topic or file per table.
pub const TABLE_PLACEHOLDER: &str = "{table}";

/// The [`TABLE`] value of the first row of `batch`, if the column is there.
pub fn table_of(batch: &RecordBatch) -> Option<String> {
    let column = batch.column_by_name(TABLE)?;
    let strings = column.as_string_opt::<i32>()?;
    (!strings.is_empty() && strings.is_valid(0)).then(|| strings.value(0).to_string())
}
