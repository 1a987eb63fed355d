//! A data file's Delta statistics (`numRecords`, `minValues`, `maxValues`,
//! `nullCount`), read from its Parquet footer: the statistics Spindle's Parquet writer
//! keeps per row group, combined over the file.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::errors::Result;
use parquet::file::metadata::ParquetMetaData;
use serde_json::{Map, Value, json};

/// The statistics of the file whose footer is `metadata`, written with `schema`, as
/// the JSON text of a Delta `add` action's `stats`. A column's minimum and maximum are
/// left out where a row group that holds values has none, and for types whose
/// statistics Delta readers do not use (booleans, nested columns). A long text's bounds
/// may be truncated ones (a prefix for the minimum, a prefix made larger for the
/// maximum): still bounds of the values, as Delta asks.
pub(crate) fn delta_stats(metadata: &ParquetMetaData, schema: &Schema) -> Result<String> {
    let groups = metadata.row_groups();
    let parquet_schema = metadata.file_metadata().schema_descr();
    let rows: Vec<u64> = groups.iter().map(|g| g.num_rows() as u64).collect();
    let (mut minimums, mut maximums, mut nulls) = (Map::new(), Map::new(), Map::new());
    for field in schema.fields() {
        if field.data_type().is_nested() {
            continue;
        }
        let converter = StatisticsConverter::try_new(field.name(), schema, parquet_schema)?;
        let null_counts = converter.row_group_null_counts(groups)?;
        nulls.insert(
            field.name().clone(),
            json!(null_counts.iter().flatten().sum::<u64>()),
        );
        // Row groups with a value: their bounds must all be known.
        let valued: Vec<bool> = null_counts
            .iter()
            .zip(&rows)
            .map(|(nulls, rows)| nulls != Some(*rows))
            .collect();
        let mins = converter.row_group_mins(groups)?;
        let maxes = converter.row_group_maxes(groups)?;
        if let Some(v) = bound(&mins, &valued, Bound::Min) {
            minimums.insert(field.name().clone(), v);
        }
        if let Some(v) = bound(&maxes, &valued, Bound::Max) {
            maximums.insert(field.name().clone(), v);
        }
    }
    let total: u64 = rows.iter().sum();
    Ok(json!({
        "numRecords": total,
        "minValues": minimums,
        "maxValues": maximums,
        "nullCount": nulls,
    })
    .to_string())
}

/// Which end of the values a bound is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Min,
    Max,
}

/// The least (or greatest) of the row groups' bounds `per_group` over the groups that
/// hold a value, as Delta writes it; `None` if one of them is missing, if no group
/// holds a value, or for a type Delta keeps no bounds of.
fn bound(per_group: &ArrayRef, valued: &[bool], end: Bound) -> Option<Value> {
    let rows: Vec<usize> = (0..per_group.len()).filter(|&g| valued[g]).collect();
    if rows.is_empty() || !rows.iter().all(|&g| per_group.is_valid(g)) {
        return None;
    }
    match per_group.data_type() {
        DataType::Int64 => {
            let a = per_group.as_primitive::<Int64Type>();
            extreme(rows.iter().map(|&g| a.value(g)), end).map(Value::from)
        }
        DataType::Float64 => {
            let a = per_group.as_primitive::<Float64Type>();
            let values = rows.iter().map(|&g| a.value(g));
            let v = match end {
                Bound::Min => values.reduce(f64::min),
                Bound::Max => values.reduce(f64::max),
            }?;
            serde_json::Number::from_f64(v).map(Value::Number)
        }
        DataType::Utf8 => {
            let a = per_group.as_string::<i32>();
            extreme(rows.iter().map(|&g| a.value(g)), end).map(Value::from)
        }
        DataType::Date32 => {
            let a = per_group.as_primitive::<Date32Type>();
            let days = extreme(rows.iter().map(|&g| a.value(g)), end)?;
            let date =
                chrono::NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE)?;
            Some(Value::from(date.format("%Y-%m-%d").to_string()))
        }
        DataType::Timestamp(TimeUnit::Microsecond, zone) => {
            let a = per_group.as_primitive::<TimestampMicrosecondType>();
            let micros = extreme(rows.iter().map(|&g| a.value(g)), end)?;
            let instant = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
            let text = instant.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
            Some(Value::from(match zone {
                Some(_) => text + "Z",
                None => text,
            }))
        }
        _ => None,
    }
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The least or greatest of `values`.
fn extreme<T: Ord>(values: impl Iterator<Item = T>, end: Bound) -> Option<T> {
    match end {
        Bound::Min => values.min(),
        Bound::Max => values.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::Field;
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::ParquetMetaDataReader;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    /// The footer of a file of `batches`, `rows_per_group` rows a row group.
    fn footer(batches: &[RecordBatch], rows_per_group: usize) -> ParquetMetaData {
        let file = tempfile::tempfile().unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(rows_per_group))
            .build();
        let mut writer = ArrowWriter::try_new(
            file.try_clone().unwrap(),
            batches[0].schema(),
            Some(properties),
        )
        .unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap();
        ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .unwrap()
    }

    #[test]
    fn bounds_and_null_counts_cover_every_row_group() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("price", DataType::Float64, true),
            Field::new("status", DataType::Utf8, true),
            Field::new("day", DataType::Date32, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("gone", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![5, -3, 9, 2])),
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-0.25), None])),
                Arc::new(StringArray::from(vec![
                    Some("placed"),
                    Some("bad"),
                    None,
                    Some("zz"),
                ])),
                Arc::new(Date32Array::from(vec![19_000, 19_723, 0, 19_724])),
                Arc::new(TimestampMicrosecondArray::from(vec![
                    1_700_000_000_000_001,
                    1_600_000_000_000_000,
                    1_700_000_000_000_000,
                    1_650_000_000_123_456,
                ])),
                Arc::new(StringArray::from(vec![None::<&str>; 4])),
                Arc::new(BooleanArray::from(vec![true, false, true, true])),
            ],
        )
        .unwrap();
        // Two row groups of two rows.
        let stats: Value =
            serde_json::from_str(&delta_stats(&footer(&[batch], 2), &schema).unwrap()).unwrap();
        assert_eq!(
            stats,
            json!({
                "numRecords": 4,
                "minValues": {"id": -3, "price": -0.25, "status": "bad", "day": "1970-01-01",
                              "at": "2020-09-13T12:26:40.000000"},
                "maxValues": {"id": 9, "price": 1.5, "status": "zz", "day": "2024-01-02",
                              "at": "2023-11-14T22:13:20.000001"},
                "nullCount": {"id": 0, "price": 2, "status": 1, "day": 0, "at": 0, "gone": 4, "flag": 0},
            })
        );
    }
}
