//! Interleaved streams: several tables' events merged into one stream by event time.
//!
//! Each table is a lane: its events in event-time order, chunk by chunk, made on its own
//! thread exactly as a single-table stream makes them (anomalies included). A table
//! without an event time of its own that is generated with its driver (`order_line`
//! with `order`, `address` with `customer`) takes its driver row's event time, joined
//! chunk by chunk; any other table without an event time comes first, as reference
//! data. The merge takes the lanes' events in order of (event time, table in generation
//! order, position in the table), so a line at its order's time follows its order.
//!
//! Between the merge and the sinks, events travel in envelopes: batches holding several
//! tables' rows, so that every stage after the source (delivery faults, `max_events`,
//! parts, pacing) works on one schema, as for a single table. An envelope's first
//! column, `_spindle_event`, is a dense union with one struct per table (the table's own
//! columns); the anomaly labels and the metadata follow as in any event batch, with
//! `_spindle_event_time` in microseconds for every table. Just before a sink,
//! [`Unenvelope`] cuts envelopes into runs of one table, each sent as that table's own
//! columns followed by the labels and metadata: what a single-table stream sends.

use super::metadata::{META_EVENT_TIME, META_SEQ, META_TABLE};
use super::source::{Prefetch, STREAM_CHUNK_ROWS, TableSource};
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StructArray, TimestampMicrosecondArray, UnionArray,
    new_empty_array, new_null_array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit, UnionFields, UnionMode};
use spindle_gen::{ChunkStream, DEFAULT_CHUNK_UNITS, DomainPlan, TableSpec};
use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};
use spindle_sinks::{SharedEvents, StreamWriter};
use std::collections::HashMap;
use std::sync::Arc;

/// The envelope's column holding each event's own columns.
pub const ENVELOPE_COLUMN: &str = "_spindle_event";

/// The type of `_spindle_event_time` in an interleaved stream.
pub const EVENT_TIME_TYPE: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// Metadata and label columns: never a table's own.
const NOT_OWN: [&str; 7] = [
    META_TABLE,
    META_SEQ,
    META_EVENT_TIME,
    spindle_sinks::event::DUPLICATE_OF,
    spindle_sinks::event::WATERMARK,
    IS_ANOMALY,
    ANOMALY_TYPE,
];

/// The shape of an interleaved stream's envelopes.
pub(super) struct Envelope {
    /// Per table, by union type id: its own columns.
    own: Vec<Fields>,
    /// `_spindle_event`'s type.
    union: DataType,
    /// The events carry anomaly labels.
    labelled: bool,
}

impl Envelope {
    /// The envelope of `tables` (name and schema, in generation order); `labelled` when
    /// any of them gets anomalies.
    pub(super) fn new(tables: &[(String, SchemaRef)], labelled: bool) -> Result<Self> {
        if tables.len() > i8::MAX as usize {
            return Err(Error::invalid(
                "tables",
                format!(
                    "{} tables; an interleaved stream takes at most 127",
                    tables.len()
                ),
            ));
        }
        let own: Vec<Fields> = tables
            .iter()
            .map(|(_, schema)| {
                schema
                    .fields()
                    .iter()
                    .filter(|f| !NOT_OWN.contains(&f.name().as_str()))
                    .cloned()
                    .collect()
            })
            .collect();
        let union = DataType::Union(
            UnionFields::try_new(
                0..tables.len() as i8,
                tables.iter().zip(&own).map(|((name, _), fields)| {
                    Field::new(name, DataType::Struct(fields.clone()), false)
                }),
            )?,
            UnionMode::Dense,
        );
        Ok(Self {
            own,
            union,
            labelled,
        })
    }

    /// The columns after the table's own: labels (if any) and metadata.
    fn tail_fields(&self) -> Vec<Field> {
        let mut fields = Vec::with_capacity(5);
        if self.labelled {
            fields.push(Field::new(IS_ANOMALY, DataType::Boolean, false));
            fields.push(Field::new(ANOMALY_TYPE, DataType::Utf8, true));
        }
        fields.push(Field::new(META_TABLE, DataType::Utf8, false));
        fields.push(Field::new(META_SEQ, DataType::Int64, false));
        fields.push(Field::new(META_EVENT_TIME, EVENT_TIME_TYPE, true));
        fields
    }

    /// A lane's chunk: table `rank`'s events (own columns, labels, metadata) as its own
    /// columns in one struct column followed by the envelope's tail columns, with each
    /// event's time in microseconds (`i64::MIN` for none: such events come first).
    fn lane_chunk(&self, rank: usize, events: &RecordBatch) -> Result<LaneChunk> {
        let n = events.num_rows();
        let column = |name: &str| {
            events.column_by_name(name).cloned().ok_or_else(|| {
                Error::invalid("interleave", format!("events without column '{name}'"))
            })
        };
        let own = self.own[rank]
            .iter()
            .map(|f| column(f.name()))
            .collect::<Result<Vec<_>>>()?;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StructArray::try_new(
            self.own[rank].clone(),
            own,
            None,
        )?)];
        if self.labelled {
            columns.push(
                column(IS_ANOMALY)
                    .unwrap_or_else(|_| Arc::new(BooleanArray::from(vec![false; n])) as ArrayRef),
            );
            columns
                .push(column(ANOMALY_TYPE).unwrap_or_else(|_| new_null_array(&DataType::Utf8, n)));
        }
        columns.push(column(META_TABLE)?);
        columns.push(column(META_SEQ)?);
        let time = match events.column_by_name(META_EVENT_TIME) {
            Some(t) => arrow_cast::cast(t, &EVENT_TIME_TYPE)?,
            None => new_null_array(&EVENT_TIME_TYPE, n),
        };
        let micros = time.as_primitive::<TimestampMicrosecondType>();
        let times = (0..n)
            .map(|i| {
                if micros.is_valid(i) {
                    micros.value(i)
                } else {
                    i64::MIN
                }
            })
            .collect();
        columns.push(time);
        let mut fields = vec![Field::new("own", columns[0].data_type().clone(), false)];
        fields.extend(self.tail_fields());
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(LaneChunk { batch, times })
    }

    /// An envelope of the lanes' taken rows, in the merge's order.
    fn assemble(&self, taken: Vec<Vec<RecordBatch>>, order: &[(i8, u32)]) -> Result<RecordBatch> {
        let mut lanes: Vec<Option<RecordBatch>> = Vec::with_capacity(taken.len());
        for parts in taken {
            lanes.push(match parts.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                [first, ..] => Some(arrow_select::concat::concat_batches(
                    &first.schema(),
                    &parts,
                )?),
            });
        }
        let DataType::Union(union_fields, _) = &self.union else {
            unreachable!("the envelope's column is a union")
        };
        let children = union_fields
            .iter()
            .map(|(id, field)| match &lanes[id as usize] {
                Some(lane) => lane.column(0).clone(),
                None => new_empty_array(field.data_type()),
            })
            .collect();
        let (type_ids, offsets): (Vec<i8>, Vec<i32>) =
            order.iter().map(|&(id, row)| (id, row as i32)).unzip();
        let union = UnionArray::try_new(
            union_fields.clone(),
            type_ids.into(),
            Some(offsets.into()),
            children,
        )?;
        // The tail columns, each interleaved from the lanes that have rows here.
        let present: Vec<&RecordBatch> = lanes.iter().flatten().collect();
        let mut slot = vec![0usize; lanes.len()];
        let mut next = 0;
        for (rank, lane) in lanes.iter().enumerate() {
            if lane.is_some() {
                slot[rank] = next;
                next += 1;
            }
        }
        let indices: Vec<(usize, usize)> = order
            .iter()
            .map(|&(id, row)| (slot[id as usize], row as usize))
            .collect();
        let mut columns: Vec<ArrayRef> = vec![Arc::new(union)];
        for c in 1..present[0].num_columns() {
            let arrays: Vec<&dyn Array> = present.iter().map(|l| l.column(c).as_ref()).collect();
            columns.push(arrow_select::interleave::interleave(&arrays, &indices)?);
        }
        let mut fields = vec![Field::new(ENVELOPE_COLUMN, self.union.clone(), false)];
        fields.extend(self.tail_fields());
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

/// A lane's chunk: its events and their times in microseconds.
pub(super) struct LaneChunk {
    batch: RecordBatch,
    times: Vec<i64>,
}

/// One table's events, in event-time order.
pub(super) struct Lane {
    /// Its union type id: its place in generation order among the stream's tables.
    rank: i8,
    chunks: Prefetch<LaneChunk>,
    head: LaneChunk,
    /// The next event of `head` to take.
    at: usize,
    /// The first event of `head` taken into the envelope being made.
    mark: usize,
}

impl Lane {
    /// Table `rank`'s lane: its events as `Envelope::lane_chunk`s, made on their own thread.
    pub(super) fn new(
        rank: usize,
        envelope: &Arc<Envelope>,
        events: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    ) -> Self {
        let shape = envelope.clone();
        let chunks = events.map(move |e| shape.lane_chunk(rank, &e?));
        Self {
            rank: rank as i8,
            chunks: Prefetch::new(Box::new(chunks)),
            head: LaneChunk {
                batch: RecordBatch::new_empty(Arc::new(Schema::empty())),
                times: Vec::new(),
            },
            at: 0,
            mark: 0,
        }
    }

    /// The merge key of the next event.
    fn key(&self) -> (i64, i8) {
        (self.head.times[self.at], self.rank)
    }

    /// Hands the events taken from `head` since the last call to `taken`.
    fn collect(&mut self, taken: &mut [Vec<RecordBatch>]) {
        if self.at > self.mark {
            let rows = self.head.batch.slice(self.mark, self.at - self.mark);
            taken[self.rank as usize].push(rows);
            self.mark = self.at;
        }
    }
}

/// The lanes merged into envelopes of up to [`STREAM_CHUNK_ROWS`] events.
pub(super) struct Merge {
    lanes: Vec<Lane>,
    envelope: Arc<Envelope>,
}

impl Merge {
    /// Merges `lanes` (one per table of `envelope`, any order).
    pub(super) fn new(lanes: Vec<Lane>, envelope: Arc<Envelope>) -> Self {
        Self { lanes, envelope }
    }

    /// Makes sure every lane has an event to offer; drops the lanes that are done.
    fn refill(&mut self, taken: &mut [Vec<RecordBatch>]) -> Result<()> {
        let mut i = 0;
        while i < self.lanes.len() {
            let lane = &mut self.lanes[i];
            if lane.at < lane.head.times.len() {
                i += 1;
                continue;
            }
            lane.collect(taken);
            match lane.chunks.next() {
                Some(chunk) => {
                    lane.head = chunk?;
                    (lane.at, lane.mark) = (0, 0);
                }
                None => {
                    self.lanes.remove(i);
                }
            }
        }
        Ok(())
    }

    fn next_envelope(&mut self) -> Result<Option<RecordBatch>> {
        let tables = self.envelope.own.len();
        let mut taken: Vec<Vec<RecordBatch>> = vec![Vec::new(); tables];
        let mut counts = vec![0u32; tables];
        let mut order: Vec<(i8, u32)> = Vec::with_capacity(STREAM_CHUNK_ROWS);
        while order.len() < STREAM_CHUNK_ROWS {
            self.refill(&mut taken)?;
            let Some(best) = (0..self.lanes.len()).min_by_key(|&i| self.lanes[i].key()) else {
                break;
            };
            let bound = (0..self.lanes.len())
                .filter(|&i| i != best)
                .map(|i| self.lanes[i].key())
                .min();
            let lane = &mut self.lanes[best];
            let rank = lane.rank;
            let ahead = &lane.head.times[lane.at..];
            let run = match bound {
                None => ahead.len(),
                Some(bound) => ahead.partition_point(|&t| (t, rank) < bound),
            }
            .min(STREAM_CHUNK_ROWS - order.len());
            let count = &mut counts[rank as usize];
            order.extend((*count..*count + run as u32).map(|row| (rank, row)));
            *count += run as u32;
            lane.at += run;
        }
        for lane in &mut self.lanes {
            lane.collect(&mut taken);
        }
        if order.is_empty() {
            return Ok(None);
        }
        self.envelope.assemble(taken, &order).map(Some)
    }
}

impl Iterator for Merge {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Result<RecordBatch>> {
        match self.next_envelope() {
            Ok(envelope) => envelope.map(Ok),
            Err(e) => {
                self.lanes.clear();
                Some(Err(e))
            }
        }
    }
}

/// A sink as an interleaved stream's stages see it: envelopes in, runs of one table
/// out; without an envelope, the sink itself.
pub(super) struct Unenvelope<'a> {
    inner: &'a mut dyn StreamWriter,
    envelope: Option<&'a Envelope>,
    /// The run schemas per table for the last envelope schema seen.
    schemas: Option<(SchemaRef, Vec<SchemaRef>)>,
}

impl<'a> Unenvelope<'a> {
    /// `inner`, cutting `envelope`'s batches into runs if there is one.
    pub(super) fn around(inner: &'a mut dyn StreamWriter, envelope: Option<&'a Envelope>) -> Self {
        Self {
            inner,
            envelope,
            schemas: None,
        }
    }

    /// Per table, the schema of its runs cut from envelopes of `schema`: its own
    /// columns, then the envelope's others (delivery may have added some).
    fn run_schemas(&mut self, envelope: &Envelope, schema: &SchemaRef) -> Vec<SchemaRef> {
        if let Some((seen, runs)) = &self.schemas {
            if Arc::ptr_eq(seen, schema) || seen == schema {
                return runs.clone();
            }
        }
        let runs: Vec<SchemaRef> = envelope
            .own
            .iter()
            .map(|own| {
                let fields: Vec<Arc<Field>> = own
                    .iter()
                    .chain(schema.fields().iter().skip(1))
                    .cloned()
                    .collect();
                Arc::new(Schema::new(fields))
            })
            .collect();
        self.schemas = Some((schema.clone(), runs.clone()));
        runs
    }

    /// `envelopes` cut into runs of one table.
    fn runs(&mut self, envelope: &Envelope, envelopes: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        let mut runs = Vec::new();
        for batch in envelopes {
            let schemas = self.run_schemas(envelope, &batch.schema());
            let union = batch
                .column(0)
                .as_any()
                .downcast_ref::<UnionArray>()
                .ok_or_else(|| Error::invalid("interleave", "an envelope without its union"))?;
            let ids = union.type_ids();
            let offsets = union.offsets().expect("a dense union has offsets");
            let mut from = 0;
            while from < batch.num_rows() {
                let id = ids[from];
                let to = from + ids[from..].iter().take_while(|&&t| t == id).count();
                let child = union.child(id).as_struct();
                let rows = &offsets[from..to];
                let first = rows[0] as usize;
                let consecutive = rows.iter().zip(first..).all(|(&o, i)| o as usize == i);
                let mut columns: Vec<ArrayRef> = if consecutive {
                    let len = to - from;
                    child
                        .columns()
                        .iter()
                        .map(|c| c.slice(first, len))
                        .collect()
                } else {
                    let picks = arrow_array::Int32Array::from(rows.to_vec());
                    arrow_select::take::take_arrays(child.columns(), &picks, None)?
                };
                columns.extend(
                    batch.columns()[1..]
                        .iter()
                        .map(|c| c.slice(from, to - from)),
                );
                runs.push(RecordBatch::try_new(schemas[id as usize].clone(), columns)?);
                from = to;
            }
        }
        Ok(runs)
    }
}

impl StreamWriter for Unenvelope<'_> {
    fn send_batch(&mut self, batch: &RecordBatch) -> spindle_sinks::Result<()> {
        self.send_batches(std::slice::from_ref(batch))
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> spindle_sinks::Result<()> {
        match self.envelope {
            None => self.inner.send_batches(batches),
            Some(_) if self.inner.writes_envelopes() => self.inner.send_batches(batches),
            Some(envelope) => {
                let runs = self
                    .runs(envelope, batches)
                    .map_err(Error::into_sink_error)?;
                self.inner.send_batches(&runs)
            }
        }
    }

    fn send_shared(&mut self, events: &SharedEvents) -> spindle_sinks::Result<()> {
        match self.envelope {
            None => self.inner.send_shared(events),
            Some(_) => self.send_batches(events.batches()),
        }
    }

    fn flush(&mut self) -> spindle_sinks::Result<()> {
        self.inner.flush()
    }

    fn close(&mut self) -> spindle_sinks::Result<()> {
        self.inner.close()
    }

    fn delivered(&self) -> u64 {
        self.inner.delivered()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn writes_envelopes(&self) -> bool {
        self.envelope.is_none() && self.inner.writes_envelopes()
    }
}

/// A table generated with its driver, each row given its driver row's event time as
/// a `_spindle_event_time` column (joined chunk by chunk on `spec.driver_key`); in
/// event-time order when the driver is generated in order of `driver_time`.
fn with_driver_time(
    plan: Arc<dyn DomainPlan>,
    spec: &TableSpec,
    driver: &TableSpec,
    driver_time: &str,
) -> Result<TableSource> {
    let (fk, key) = spec.driver_key.ok_or_else(|| {
        Error::invalid(
            "interleave",
            format!("table '{}' names no driver row", spec.name),
        )
    })?;
    let mut fields: Vec<Arc<Field>> = spec.schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(META_EVENT_TIME, EVENT_TIME_TYPE, true)));
    let schema = Arc::new(Schema::new(fields));
    let (table, driver_name, time) = (spec.name, driver.name, driver_time.to_string());
    let out = schema.clone();
    Ok(TableSource {
        name: table.to_string(),
        schema,
        ordered_by: (driver.ordered_by == Some(driver_time)).then(|| META_EVENT_TIME.to_string()),
        columns: None,
        rows_at: None,
        rows: Arc::new(move || {
            let units = plan.units(driver_name);
            let chunks = ChunkStream::new(
                plan.clone(),
                vec![driver_name, table],
                0..units,
                DEFAULT_CHUNK_UNITS,
            );
            let (out, time) = (out.clone(), time.clone());
            Ok(Box::new(chunks.map(move |chunk| {
                let [drivers, rows] = <[RecordBatch; 2]>::try_from(chunk?)
                    .map_err(|_| Error::invalid("interleave", "a chunk without both tables"))?;
                let times = driver_times(&drivers, key, &time, &rows, fk)?;
                let mut columns = rows.columns().to_vec();
                columns.push(Arc::new(times));
                Ok(RecordBatch::try_new(out.clone(), columns)?)
            })))
        }),
    })
}

/// For each row of `rows`, the event time of the row of `drivers` whose `key` its `fk`
/// names (null where none does).
fn driver_times(
    drivers: &RecordBatch,
    key: &str,
    time: &str,
    rows: &RecordBatch,
    fk: &str,
) -> Result<TimestampMicrosecondArray> {
    let column = |batch: &RecordBatch, name: &str, to: &DataType| -> Result<ArrayRef> {
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| Error::invalid("interleave", format!("no column '{name}'")))?;
        Ok(arrow_cast::cast(c, to)?)
    };
    let keys = column(drivers, key, &DataType::Int64)?;
    let keys = keys.as_primitive::<Int64Type>();
    let times = column(drivers, time, &EVENT_TIME_TYPE)?;
    let times = times.as_primitive::<TimestampMicrosecondType>();
    let fks = column(rows, fk, &DataType::Int64)?;
    let fks = fks.as_primitive::<Int64Type>();
    let sorted = keys.null_count() == 0 && keys.values().windows(2).all(|w| w[0] < w[1]);
    let index: HashMap<i64, usize> = if sorted {
        HashMap::new()
    } else {
        keys.iter()
            .enumerate()
            .filter_map(|(i, k)| Some((k?, i)))
            .collect()
    };
    let find = |k: i64| -> Option<usize> {
        if sorted {
            let at = keys.values().partition_point(|&v| v < k);
            (at < keys.len() && keys.value(at) == k).then_some(at)
        } else {
            index.get(&k).copied()
        }
    };
    Ok(fks
        .iter()
        .map(|k| {
            let row = find(k?)?;
            times.is_valid(row).then(|| times.value(row))
        })
        .collect())
}

/// `table` given its driver rows' event times, if it has no event time of its own, is
/// generated with a driver it names, and that driver has an event time
/// (`timestamp_column` where the driver has it, else its first timestamp column).
pub(super) fn driver_timed(
    plan: &Arc<dyn DomainPlan>,
    table: &str,
    timestamp_column: Option<&str>,
) -> Result<Option<TableSource>> {
    let domain = plan.domain();
    let spec = domain.table(table)?;
    if spec.driver == spec.name || spec.driver_key.is_none() {
        return Ok(None);
    }
    let driver = domain.table(spec.driver)?;
    let column = timestamp_column.filter(|c| driver.schema.index_of(c).is_ok());
    let Some(time) = super::source::time_or_date_column(driver.name, &driver.schema, column)?
    else {
        return Ok(None);
    };
    with_driver_time(plan.clone(), spec, driver, &time).map(Some)
}
