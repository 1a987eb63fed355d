//! JSON encoding of whole Arrow batches, one object per row, byte-compatible with the
//! reference's `json.dumps(event)`: `", "` and `": "` separators, keys in column order,
//! non-ASCII escaped as `\uXXXX`, floats in Python's shortest-repr form (`80.73`,
//! `80.0`, `1e+16`), timestamps as `"YYYY-MM-DD HH:MM:SS[.ffffff]"`, nulls as `null`.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    AnyDictionaryArray, Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Rows serialized per parallel task.
pub(crate) const ROWS_PER_TASK: usize = 8_192;

/// Layout of each JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonLayout {
    /// `None`: one line per object. `Some(n)`: pretty-printed with `n` spaces.
    pub indent: Option<usize>,
    /// Text written before every object.
    pub prefix: String,
}

/// One column, downcast once to a type the encoder writes directly.
enum Column {
    Int(Int64Array),
    UInt(UInt64Array),
    Float(Float64Array),
    Bool(BooleanArray),
    Text(StringArray),
    /// A dictionary of texts: each row's key into its values written out once.
    Dict(DictTexts),
    /// Microseconds since the epoch; `true` adds the `+00:00` suffix of aware times.
    Micros(TimestampMicrosecondArray, bool),
    Date(Date32Array),
    /// A nested object: each field's key text (`"name": `, after `, ` but for the
    /// first) and its values.
    Struct(arrow_array::StructArray, Vec<(Vec<u8>, Column)>),
}

fn cast(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    Ok(arrow_cast::cast(array, to)?)
}

impl Column {
    fn new(name: &str, array: &ArrayRef) -> Result<Self> {
        use DataType::*;
        Ok(match array.data_type() {
            Int64 => Column::Int(array.as_primitive::<Int64Type>().clone()),
            Int8 | Int16 | Int32 => {
                Column::Int(cast(array, &Int64)?.as_primitive::<Int64Type>().clone())
            }
            UInt64 => Column::UInt(array.as_primitive::<UInt64Type>().clone()),
            UInt8 | UInt16 | UInt32 => {
                Column::UInt(cast(array, &UInt64)?.as_primitive::<UInt64Type>().clone())
            }
            Float64 => Column::Float(array.as_primitive::<Float64Type>().clone()),
            Float16 | Float32 | Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => {
                Column::Float(cast(array, &Float64)?.as_primitive::<Float64Type>().clone())
            }
            Boolean => Column::Bool(array.as_boolean().clone()),
            Utf8 => Column::Text(array.as_string::<i32>().clone()),
            LargeUtf8 | Utf8View => Column::Text(cast(array, &Utf8)?.as_string::<i32>().clone()),
            Dictionary(_, value) if value.is_string() => {
                let dictionary = array.as_any_dictionary();
                // Writing the values once costs what writing that many rows would; a
                // dictionary larger than its batch is written row by row instead.
                let values = dictionary.values().len();
                if values > 0 && values <= array.len().max(1) {
                    Column::Dict(DictTexts::new(dictionary)?)
                } else {
                    Column::Text(cast(array, &Utf8)?.as_string::<i32>().clone())
                }
            }
            Timestamp(unit, tz) => {
                let micros = Timestamp(TimeUnit::Microsecond, None);
                let a = if *unit == TimeUnit::Microsecond && tz.is_none() {
                    array.clone()
                } else {
                    // Aware timestamps hold UTC instants; drop the zone, keep the instant.
                    let naive = cast(array, &Timestamp(*unit, None))?;
                    cast(&naive, &micros)?
                };
                Column::Micros(
                    a.as_primitive::<TimestampMicrosecondType>().clone(),
                    tz.is_some(),
                )
            }
            Date32 => Column::Date(array.as_primitive::<Date32Type>().clone()),
            Struct(fields) => {
                let nested = array.as_struct();
                let children = fields
                    .iter()
                    .zip(nested.columns())
                    .enumerate()
                    .map(|(i, (field, child))| {
                        let mut lead = Vec::with_capacity(field.name().len() + 6);
                        if i > 0 {
                            lead.extend_from_slice(b", ");
                        }
                        write_string(field.name(), &mut lead);
                        lead.extend_from_slice(b": ");
                        Ok((lead, Column::new(field.name(), child)?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Column::Struct(nested.clone(), children)
            }
            Date64 => Column::Date(cast(array, &Date32)?.as_primitive::<Date32Type>().clone()),
            other => {
                return Err(Error::Unsupported {
                    column: name.to_string(),
                    data_type: other.to_string(),
                    format: "JSON lines",
                });
            }
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::Int(a) => a.is_null(row),
            Column::UInt(a) => a.is_null(row),
            Column::Float(a) => a.is_null(row),
            Column::Bool(a) => a.is_null(row),
            Column::Text(a) => a.is_null(row),
            Column::Dict(d) => d.nulls.as_ref().is_some_and(|n| n.is_null(row)),
            Column::Micros(a, _) => a.is_null(row),
            Column::Date(a) => a.is_null(row),
            Column::Struct(a, _) => a.is_null(row),
        }
    }

    fn has_nulls(&self) -> bool {
        match self {
            Column::Int(a) => a.null_count() > 0,
            Column::UInt(a) => a.null_count() > 0,
            Column::Float(a) => a.null_count() > 0,
            Column::Bool(a) => a.null_count() > 0,
            Column::Text(a) => a.null_count() > 0,
            Column::Dict(d) => d.nulls.is_some(),
            Column::Micros(a, _) => a.null_count() > 0,
            Column::Date(a) => a.null_count() > 0,
            Column::Struct(a, _) => a.null_count() > 0,
        }
    }

    /// Writes the value of a row that is not null.
    #[inline]
    fn write_value(&self, row: usize, out: &mut Vec<u8>, scratch: &mut Scratch) {
        match self {
            Column::Int(a) => out.extend_from_slice(scratch.ints.format(a.value(row)).as_bytes()),
            Column::UInt(a) => out.extend_from_slice(scratch.ints.format(a.value(row)).as_bytes()),
            Column::Float(a) => write_float(a.value(row), out),
            Column::Bool(a) => out.extend_from_slice(if a.value(row) { b"true" } else { b"false" }),
            Column::Text(a) => write_string(a.value(row), out),
            Column::Dict(d) => out.extend_from_slice(&d.texts[d.keys[row]]),
            Column::Micros(a, utc) => {
                out.push(b'"');
                scratch.timestamp(a.value(row), out);
                if *utc {
                    out.extend_from_slice(b"+00:00");
                }
                out.push(b'"');
            }
            Column::Date(a) => {
                out.push(b'"');
                write_date(i64::from(a.value(row)), out);
                out.push(b'"');
            }
            Column::Struct(_, children) => {
                out.push(b'{');
                for (lead, child) in children {
                    out.extend_from_slice(lead);
                    if child.is_null(row) {
                        out.extend_from_slice(b"null");
                    } else {
                        child.write_value(row, out, scratch);
                    }
                }
                out.push(b'}');
            }
        }
    }
}

/// A dictionary column's rows as keys into its values' JSON texts (`null` for a null
/// value), so that each value is escaped once per batch rather than once per row.
struct DictTexts {
    keys: Vec<usize>,
    texts: Vec<Vec<u8>>,
    /// Rows whose key is null.
    nulls: Option<NullBuffer>,
}

impl DictTexts {
    fn new(dictionary: &dyn AnyDictionaryArray) -> Result<Self> {
        let values = cast(dictionary.values(), &DataType::Utf8)?;
        let values = values.as_string::<i32>();
        let texts = (0..values.len())
            .map(|i| {
                let mut text = Vec::new();
                if values.is_null(i) {
                    text.extend_from_slice(b"null");
                } else {
                    write_string(values.value(i), &mut text);
                }
                text
            })
            .collect();
        Ok(Self {
            keys: dictionary.normalized_keys(),
            texts,
            nulls: dictionary.nulls().filter(|n| n.null_count() > 0).cloned(),
        })
    }
}

/// A column ready to write: the text before its value (separator and key) and whether
/// any row is null (if none, rows are not checked one by one).
struct Field<'a> {
    lead: &'a [u8],
    column: Column,
    nullable: bool,
}

/// Per-task formatting state: an integer buffer and the text of the last date seen
/// (events of a chunk mostly share their day).
struct Scratch {
    ints: itoa::Buffer,
    day: i64,
    day_text: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            ints: itoa::Buffer::new(),
            day: i64::MIN,
            day_text: Vec::with_capacity(12),
        }
    }

    #[inline]
    fn timestamp(&mut self, micros: i64, out: &mut Vec<u8>) {
        let secs = micros.div_euclid(1_000_000);
        let day = secs.div_euclid(86_400);
        if day != self.day {
            self.day = day;
            self.day_text.clear();
            write_date(day, &mut self.day_text);
        }
        out.extend_from_slice(&self.day_text);
        write_time_of_day(
            secs.rem_euclid(86_400) as u32,
            micros.rem_euclid(1_000_000) as u32,
            out,
        );
    }
}

/// The text before each value of a batch: per column, and for an interleaved stream's
/// envelope, per table's own column too.
struct Leads {
    columns: Vec<Vec<u8>>,
    tables: Vec<Vec<Vec<u8>>>,
}

/// A batch's rows ready to write: its columns, or for an envelope (a first column that
/// is a dense union of structs, one per table: see `spindle_stream`'s interleaved
/// streams), each row's table's own columns and then the envelope's other columns.
enum Rows<'a> {
    Columns(Vec<Field<'a>>),
    Envelope {
        tables: Vec<Vec<Field<'a>>>,
        rest: Vec<Field<'a>>,
        ids: arrow_buffer::ScalarBuffer<i8>,
        offsets: arrow_buffer::ScalarBuffer<i32>,
    },
}

impl Rows<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Rows::Columns(fields) => fields.is_empty(),
            Rows::Envelope { .. } => false,
        }
    }
}

/// The tables' own fields, by type id, if `schema` is an envelope: its first column a
/// dense union of structs with type ids 0, 1, ...
pub fn envelope_tables(schema: &arrow_schema::Schema) -> Option<Vec<arrow_schema::Fields>> {
    let DataType::Union(fields, arrow_schema::UnionMode::Dense) =
        schema.fields().first()?.data_type()
    else {
        return None;
    };
    fields
        .iter()
        .enumerate()
        .map(|(at, (id, field))| match field.data_type() {
            DataType::Struct(own) if id as usize == at => Some(own.clone()),
            _ => None,
        })
        .collect()
}

/// Each row's value of one column as text, as the JSON encoder writes it but without a
/// string's quotes and escapes (`42`, `true`, `2024-01-01 10:00:00`, `point:outlier`):
/// the text of a Kafka header.
#[cfg(feature = "kafka")]
pub(crate) struct PlainTexts {
    column: Column,
    scratch: Scratch,
}

#[cfg(feature = "kafka")]
impl PlainTexts {
    /// The texts of `array`, the column called `name`.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry.
    pub(crate) fn new(name: &str, array: &ArrayRef) -> Result<Self> {
        let text_like = matches!(array.data_type(), DataType::LargeUtf8 | DataType::Utf8View)
            || matches!(array.data_type(), DataType::Dictionary(_, v) if v.is_string());
        let column = if text_like {
            Column::Text(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
        } else {
            Column::new(name, array)?
        };
        Ok(Self {
            column,
            scratch: Scratch::new(),
        })
    }

    /// Puts the text of `row` in `out` (emptied first); `false` for a null.
    pub(crate) fn text(&mut self, row: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.column.is_null(row) {
            return false;
        }
        match &self.column {
            Column::Text(a) => out.extend_from_slice(a.value(row).as_bytes()),
            column => {
                column.write_value(row, out, &mut self.scratch);
                if out.len() >= 2 && out[0] == b'"' {
                    out.pop();
                    out.remove(0);
                }
            }
        }
        true
    }
}

/// Encodes batches of one schema as JSON objects.
pub struct JsonEncoder {
    layout: JsonLayout,
}

impl JsonEncoder {
    /// An encoder with the given layout.
    pub fn new(layout: JsonLayout) -> Self {
        Self { layout }
    }

    /// Checks, before any output, that every column of `schema` can be written.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming the first column that cannot.
    pub fn check_schema(schema: &arrow_schema::Schema) -> Result<()> {
        if let Some(tables) = envelope_tables(schema) {
            for field in tables
                .iter()
                .flat_map(|t| t.iter())
                .chain(&schema.fields()[1..])
            {
                Column::new(
                    field.name(),
                    &arrow_array::new_empty_array(field.data_type()),
                )?;
            }
            return Ok(());
        }
        for field in schema.fields() {
            Column::new(
                field.name(),
                &arrow_array::new_empty_array(field.data_type()),
            )?;
        }
        Ok(())
    }

    /// The layout in use.
    pub fn layout(&self) -> &JsonLayout {
        &self.layout
    }

    /// The compact, one-object-per-line encoder of JSON-lines files.
    pub fn lines() -> Self {
        Self::new(JsonLayout::default())
    }

    /// The text before each column's value: separator, indentation and key.
    fn leads(&self, schema: &arrow_schema::Schema) -> Leads {
        Leads {
            columns: self.field_leads(schema.fields()),
            tables: envelope_tables(schema)
                .map(|tables| tables.iter().map(|f| self.field_leads(f)).collect())
                .unwrap_or_default(),
        }
    }

    /// The text before each field's value: separator, indentation, key.
    fn field_leads(&self, fields: &arrow_schema::Fields) -> Vec<Vec<u8>> {
        fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let mut lead = Vec::with_capacity(field.name().len() + 8);
                match self.layout.indent {
                    None if i > 0 => lead.extend_from_slice(b", "),
                    None => {}
                    Some(n) => {
                        if i > 0 {
                            lead.push(b',');
                        }
                        lead.push(b'\n');
                        lead.resize(lead.len() + n, b' ');
                    }
                }
                write_string(field.name(), &mut lead);
                lead.extend_from_slice(b": ");
                lead
            })
            .collect()
    }

    fn fields<'a>(&self, batch: &RecordBatch, leads: &'a Leads) -> Result<Rows<'a>> {
        let prepare =
            |fields: &arrow_schema::Fields, columns: &[ArrayRef], leads: &'a [Vec<u8>]| {
                fields
                    .iter()
                    .zip(columns)
                    .zip(leads)
                    .map(|((field, array), lead)| {
                        let column = Column::new(field.name(), array)?;
                        Ok(Field {
                            lead,
                            nullable: column.has_nulls(),
                            column,
                        })
                    })
                    .collect::<Result<Vec<Field<'a>>>>()
            };
        let schema = batch.schema();
        if leads.tables.is_empty() {
            return Ok(Rows::Columns(prepare(
                schema.fields(),
                batch.columns(),
                &leads.columns,
            )?));
        }
        let union = batch.column(0).as_union();
        let tables = leads
            .tables
            .iter()
            .enumerate()
            .map(|(id, leads)| {
                let child = union.child(id as i8).as_struct();
                prepare(child.fields(), child.columns(), leads)
            })
            .collect::<Result<Vec<_>>>()?;
        let rest = prepare(
            &schema.fields()[1..].iter().cloned().collect(),
            &batch.columns()[1..],
            &leads.columns[1..],
        )?;
        Ok(Rows::Envelope {
            tables,
            rest,
            ids: union.type_ids().clone(),
            offsets: union.offsets().cloned().unwrap_or_default(),
        })
    }

    fn encode_columns(&self, fields: &Rows<'_>, rows: Range<usize>, out: &mut Vec<u8>) {
        let mut scratch = Scratch::new();
        let prefix = self.layout.prefix.as_bytes();
        let close: &[u8] = if self.layout.indent.is_some() && !fields.is_empty() {
            b"\n}\n"
        } else {
            b"}\n"
        };
        let write = |fields: &[Field<'_>], row: usize, out: &mut Vec<u8>, scratch: &mut Scratch| {
            for field in fields {
                out.extend_from_slice(field.lead);
                if field.nullable && field.column.is_null(row) {
                    out.extend_from_slice(b"null");
                } else {
                    field.column.write_value(row, out, scratch);
                }
            }
        };
        for row in rows {
            out.extend_from_slice(prefix);
            out.push(b'{');
            match fields {
                Rows::Columns(fields) => write(fields, row, out, &mut scratch),
                Rows::Envelope {
                    tables,
                    rest,
                    ids,
                    offsets,
                } => {
                    let own = offsets[row] as usize;
                    write(&tables[ids[row] as usize], own, out, &mut scratch);
                    write(rest, row, out, &mut scratch);
                }
            }
            out.extend_from_slice(close);
        }
    }

    /// Encodes several batches, in order, formatting them in parallel; the pieces are
    /// to be written one after another.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry.
    pub fn encode_batches(&self, batches: &[RecordBatch]) -> Result<Vec<Vec<u8>>> {
        self.encode_batches_into(batches, &BufferPool::default())
    }

    /// As [`JsonEncoder::encode_batches`], writing into buffers taken from `spare`.
    fn encode_batches_into(
        &self,
        batches: &[RecordBatch],
        spare: &BufferPool,
    ) -> Result<Vec<Vec<u8>>> {
        if let [one] = batches {
            return self.encode_parts(one, spare);
        }
        // Group consecutive batches into tasks of about ROWS_PER_TASK rows.
        let mut tasks: Vec<&[RecordBatch]> = Vec::new();
        let (mut from, mut rows) = (0, 0);
        for (i, b) in batches.iter().enumerate() {
            rows += b.num_rows();
            if rows >= ROWS_PER_TASK {
                tasks.push(&batches[from..=i]);
                (from, rows) = (i + 1, 0);
            }
        }
        if from < batches.len() {
            tasks.push(&batches[from..]);
        }
        let parts = tasks
            .into_par_iter()
            .map(|group| {
                let mut out = spare.take(group.iter().map(|b| b.num_rows() * 512).sum());
                // Slices of one batch share its schema: their keys are written once.
                let mut schema = group[0].schema();
                let mut leads = self.leads(&schema);
                for b in group {
                    if !Arc::ptr_eq(&schema, &b.schema()) {
                        schema = b.schema();
                        leads = self.leads(&schema);
                    }
                    let fields = self.fields(b, &leads)?;
                    self.encode_columns(&fields, 0..b.num_rows(), &mut out);
                }
                Ok(out)
            })
            .collect::<Result<Vec<Vec<u8>>>>()?;
        Ok(parts)
    }

    /// Encodes the whole batch, serializing chunks of rows in parallel and joining
    /// them in row order.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry.
    pub fn encode_batch(&self, batch: &RecordBatch) -> Result<Vec<u8>> {
        Ok(self.encode_parts(batch, &BufferPool::default())?.concat())
    }

    /// The batch's rows encoded in parallel pieces, in row order.
    fn encode_parts(&self, batch: &RecordBatch, spare: &BufferPool) -> Result<Vec<Vec<u8>>> {
        let leads = self.leads(&batch.schema());
        let fields = self.fields(batch, &leads)?;
        let n = batch.num_rows();
        Ok((0..n.div_ceil(ROWS_PER_TASK))
            .into_par_iter()
            .map(|task| {
                let rows = task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(n);
                let mut out = spare.take(rows.len() * 512);
                self.encode_columns(&fields, rows, &mut out);
                out
            })
            .collect())
    }
}

/// Output buffers handed back after writing, for the next encoding: memory the process
/// has already touched, where a fresh buffer would cost a page fault every 4 KiB.
#[derive(Clone, Debug, Default)]
pub struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

/// Spare buffers a [`BufferPool`] keeps at most (bounded memory: a few MB).
const SPARE_BUFFERS: usize = 8;

impl BufferPool {
    /// An empty buffer of at least `capacity` bytes, reused if one is spare.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let spare = self.0.lock().expect("buffer pool lock").pop();
        let mut buffer = spare.unwrap_or_default();
        buffer.reserve(capacity);
        buffer
    }

    /// Keeps `buffers`, emptied, while there is room.
    fn give_back(&self, buffers: Vec<Vec<u8>>) {
        let mut spare = self.0.lock().expect("buffer pool lock");
        for mut buffer in buffers {
            if spare.len() == SPARE_BUFFERS {
                break;
            }
            buffer.clear();
            spare.push(buffer);
        }
    }
}

/// Batches encoded once as compact JSON lines (the layout of JSON-lines files and Kafka
/// payloads), to be shared by every sink that writes that text: a fan-out to a file and
/// a broker formats each event once.
#[derive(Debug)]
pub struct JsonLines {
    parts: Vec<Vec<u8>>,
    events: u64,
}

impl JsonLines {
    /// Encodes `batches`, in order, formatting them in parallel.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry.
    pub fn encode(batches: &[RecordBatch]) -> Result<Self> {
        Self::encode_into(batches, &BufferPool::default())
    }

    /// As [`JsonLines::encode`], writing into buffers taken from `spare`.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry.
    pub fn encode_into(batches: &[RecordBatch], spare: &BufferPool) -> Result<Self> {
        Ok(Self {
            parts: JsonEncoder::lines().encode_batches_into(batches, spare)?,
            events: batches.iter().map(|b| b.num_rows() as u64).sum(),
        })
    }

    /// Gives the text's buffers to `spare`, for the next encoding to reuse.
    pub fn recycle(self, spare: &BufferPool) {
        spare.give_back(self.parts);
    }

    /// The text, in pieces to be written one after another; every line ends with `\n`.
    pub fn parts(&self) -> &[Vec<u8>] {
        &self.parts
    }

    /// How many events (lines) the text holds.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Each event's JSON object, in order, without its newline.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.parts
            .iter()
            .flat_map(|part| part.split_inclusive(|&b| b == b'\n'))
            .map(|line| &line[..line.len() - 1])
    }
}

/// Event batches on their way to several sinks, with their JSON lines encoded once, by
/// the first sink that asks, and shared with every other JSON-lines sink.
#[derive(Debug)]
pub struct SharedEvents {
    batches: Vec<RecordBatch>,
    json_lines: std::sync::OnceLock<std::result::Result<Arc<JsonLines>, String>>,
}

impl SharedEvents {
    /// `batches`, not yet encoded.
    pub fn new(batches: Vec<RecordBatch>) -> Self {
        Self {
            batches,
            json_lines: std::sync::OnceLock::new(),
        }
    }

    /// The events as Arrow batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The events as compact JSON lines, encoded on the first call.
    ///
    /// # Errors
    /// A column of a type JSON lines cannot carry (every caller gets the message).
    pub fn json_lines(&self) -> Result<Arc<JsonLines>> {
        self.json_lines
            .get_or_init(|| {
                JsonLines::encode(&self.batches)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|message| Error::Invalid {
                field: "events",
                message,
            })
    }
}

/// Writes `s` as a JSON string with Python's `ensure_ascii` escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    if bytes.iter().all(|&b| plain(b)) {
        out.extend_from_slice(bytes);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let unit = |u: u16, out: &mut Vec<u8>| {
            out.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[((u >> shift) & 0xF) as usize]);
            }
        };
        for ch in s.chars() {
            match ch {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                c if (' '..='~').contains(&c) => out.push(c as u8),
                c => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        unit(*u, out);
                    }
                }
            }
        }
    }
    out.push(b'"');
}

/// Writes `v` as Python's `repr(float)` does; non-finite values become `null`.
pub fn write_float(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    if write_cents(v, out) {
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    // ryu and Python agree on the digits; they differ on when to use an exponent
    // (Python: decimal exponent below -4 or from 16 up) and how to spell it.
    let abs = v.abs();
    if s.contains('e') || (abs != 0.0 && abs < 1e-4) {
        let (negative, digits, exp) = decompose(s);
        if negative {
            out.push(b'-');
        }
        out.push(digits.as_bytes()[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        if exp.abs() < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(exp.abs()).as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Writes `v` if it is a whole number of cents below 10^13 in magnitude (money: most
/// floats of a stream), which is then its shortest round-trip form, without running the
/// general algorithm; `false` for any other value, leaving `out` untouched.
///
/// Why this is Python's repr: `cents / 100.0` is correctly rounded, so when it equals
/// `v` the decimal `cents / 100` reads back as `v`; and with at most 15 significant
/// digits no shorter decimal reads back as the same double.
/// `v` is finite (see [`write_float`]).
fn write_cents(v: f64, out: &mut Vec<u8>) -> bool {
    const LIMIT: f64 = 1e13;
    let scaled = (v * 100.0).round();
    if v == 0.0 || v.abs() >= LIMIT || scaled / 100.0 != v {
        return false; // zero keeps its sign through the general path
    }
    let cents = scaled as i64;
    if cents < 0 {
        out.push(b'-');
    }
    let cents = cents.unsigned_abs();
    out.extend_from_slice(itoa::Buffer::new().format(cents / 100).as_bytes());
    let fraction = (cents % 100) as u8;
    if fraction % 10 == 0 {
        out.extend_from_slice(&[b'.', b'0' + fraction / 10]);
    } else {
        out.extend_from_slice(&[b'.', b'0' + fraction / 10, b'0' + fraction % 10]);
    }
    true
}

/// Splits ryu output into sign, significant digits and the decimal exponent of the
/// first digit.
fn decompose(s: &str) -> (bool, String, i32) {
    let (negative, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().expect("ryu exponent")),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_string();
    let exp = exp + int.len() as i32 - 1 - lead as i32;
    (
        negative,
        if digits.is_empty() {
            "0".into()
        } else {
            digits
        },
        exp,
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn two(v: u32, out: &mut Vec<u8>) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Writes `YYYY-MM-DD` of `days` since 1970-01-01.
pub(crate) fn write_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    if (0..10_000).contains(&y) {
        let y = y as u32;
        two(y / 100, out);
        two(y % 100, out);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(y).as_bytes());
    }
    out.push(b'-');
    two(m, out);
    out.push(b'-');
    two(d, out);
}

/// Writes ` HH:MM:SS[.ffffff]`.
fn write_time_of_day(tod: u32, frac: u32, out: &mut Vec<u8>) {
    let mut text = *b" 00:00:00.000000";
    let mut put = |at: usize, v: u32| {
        text[at] = b'0' + (v / 10) as u8;
        text[at + 1] = b'0' + (v % 10) as u8;
    };
    put(1, tod / 3_600);
    put(4, tod / 60 % 60);
    put(7, tod % 60);
    if frac == 0 {
        out.extend_from_slice(&text[..9]);
    } else {
        let mut f = frac;
        for d in text[10..].iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.extend_from_slice(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes microseconds since the epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]`, with the
    /// encoder's date and time-of-day writers.
    fn write_timestamp(micros: i64, out: &mut Vec<u8>) {
        let secs = micros.div_euclid(1_000_000);
        write_date(secs.div_euclid(86_400), out);
        write_time_of_day(
            secs.rem_euclid(86_400) as u32,
            micros.rem_euclid(1_000_000) as u32,
            out,
        );
    }

    /// The timestamp text of `micros`, as the JSON encoder writes it (without quotes).
    fn timestamp_text(micros: i64) -> String {
        let mut out = Vec::with_capacity(26);
        write_timestamp(micros, &mut out);
        String::from_utf8(out).expect("ASCII")
    }

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        write_float(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_like_python_repr() {
        for (v, py) in [
            (80.73, "80.73"),
            (80.0, "80.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (-3.5e-5, "-3.5e-05"),
            (0.0, "0.0"),
            (123456.789, "123456.789"),
            (1e300, "1e+300"),
        ] {
            assert_eq!(float(v), py, "{v}");
        }
        assert_eq!(float(f64::NAN), "null");
    }

    #[test]
    fn cent_values_print_as_the_general_path_does() {
        let general = |v: f64| {
            let mut out = Vec::new();
            let mut buf = ryu::Buffer::new();
            let s = buf.format_finite(v);
            out.extend_from_slice(s.as_bytes());
            String::from_utf8(out).unwrap()
        };
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        for i in 0..200_000_i64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let magnitude = 10_i64.pow((i % 14) as u32);
            let cents =
                (rng % (magnitude as u64 * 100 + 1)) as i64 * if i % 3 == 0 { -1 } else { 1 };
            let v = cents as f64 / 100.0;
            if v == 0.0 {
                continue;
            }
            let mut fast = Vec::new();
            assert!(write_cents(v, &mut fast), "{v}");
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                general(v),
                "{cents} cents"
            );
        }
        for v in [0.0, -0.0, 0.001, 1e13, 1.005, 0.1 + 0.2, f64::MAX] {
            assert!(!write_cents(v, &mut Vec::new()), "{v}");
        }
        assert_eq!(float(-0.0), "-0.0");
    }

    #[test]
    fn strings_escape_like_python_ensure_ascii() {
        let mut out = Vec::new();
        write_string("a\"b\\c\nd\té\u{1F600}\u{7f}", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\nd\t\u00e9\ud83d\ude00\u007f""#
        );
    }

    #[test]
    fn timestamps_have_fraction_only_when_needed() {
        assert_eq!(timestamp_text(1_642_368_136_000_000), "2022-01-16 21:22:16");
        assert_eq!(
            timestamp_text(1_642_368_136_000_250),
            "2022-01-16 21:22:16.000250"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(timestamp_text(951_782_400_000_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn dictionary_text_columns_write_what_their_texts_write() {
        use arrow_array::{DictionaryArray, Int8Array, UInt16Array};
        let values: ArrayRef = Arc::new(StringArray::from(vec![
            Some("collective:velocity_fraud"),
            None,
            Some("caf\u{e9} \"x\""),
            Some("unused"),
            Some("point:extreme_total"),
        ]));
        let keys = UInt16Array::from(vec![
            Some(0),
            None,
            Some(2),
            Some(1),
            Some(4),
            None,
            Some(0),
        ]);
        let wide: ArrayRef = Arc::new(DictionaryArray::try_new(keys, values.clone()).unwrap());
        let narrow: ArrayRef = Arc::new(
            DictionaryArray::try_new(Int8Array::from(vec![Some(4), None, Some(2)]), values)
                .unwrap(),
        );
        let no_values = arrow_array::new_null_array(
            &DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8)),
            3,
        );
        assert!(no_values.as_any_dictionary().values().is_empty());
        // Seven rows over five values, and a slice of six of them, take the dictionary's
        // path; a slice of two rows, three rows of five values and a dictionary without
        // values write each row's text instead.
        for array in [
            wide.clone(),
            wide.slice(1, 6),
            wide.slice(3, 2),
            narrow,
            no_values,
        ] {
            let expected = encode_rows(&cast(&array, &DataType::Utf8).unwrap());
            assert_eq!(encode_rows(&array), expected);
            assert_eq!(expected.lines().count(), array.len());
        }
        assert!(encode_rows(&wide).contains(r#"{"t": "caf\u00e9 \"x\""}"#));
        assert!(
            encode_rows(&wide)
                .starts_with("{\"t\": \"collective:velocity_fraud\"}\n{\"t\": null}\n")
        );
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn plain_texts_are_json_values_without_a_strings_quotes() {
        let texts = |array: ArrayRef| {
            let mut plain = PlainTexts::new("c", &array).unwrap();
            let mut out = Vec::new();
            (0..array.len())
                .map(|row| {
                    plain
                        .text(row, &mut out)
                        .then(|| String::from_utf8(out.clone()).unwrap())
                })
                .collect::<Vec<_>>()
        };
        let seq: ArrayRef = Arc::new(Int64Array::from(vec![Some(42), None]));
        assert_eq!(texts(seq), [Some("42".into()), None]);
        let flag: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(texts(flag), [Some("true".into()), Some("false".into())]);
        let time: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            1_700_000_000_000_000,
            1_700_000_000_000_250,
        ]));
        assert_eq!(
            texts(time),
            [
                Some("2023-11-14 22:13:20".into()),
                Some("2023-11-14 22:13:20.000250".into())
            ]
        );
        // Text as it is, unescaped, also from a dictionary.
        let labels: ArrayRef = Arc::new(
            vec![Some("caf\u{e9} \"x\""), None]
                .into_iter()
                .collect::<arrow_array::DictionaryArray<Int32Type>>(),
        );
        assert_eq!(texts(labels), [Some("caf\u{e9} \"x\"".into()), None]);
    }

    fn encode_rows(column: &ArrayRef) -> String {
        let schema = arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "t",
            column.data_type().clone(),
            true,
        )]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![column.clone()]).unwrap();
        String::from_utf8(JsonEncoder::lines().encode_batch(&batch).unwrap()).unwrap()
    }
}
