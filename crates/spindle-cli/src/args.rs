//! Command-line flags.
//!
//! The settings of `stream` and `replay` are [`Layered`](crate::config_file::Layered)
//! groups: each field is named as its `--config` key, flags win over the file.

use crate::config_file::{AnomalySpec, Burst, Pattern, Shape, Watermark, layered};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::path::PathBuf;

/// Synthetic relational data as Arrow batches, streamed as events.
#[derive(Parser, Debug)]
#[command(name = "spindle", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List domains, their tables and the scale presets.
    List,
    /// Show a domain's tables: columns, types and row counts per scale.
    Describe(DescribeArgs),
    /// Check a `.spindle.json` schema: print its tables, relationships and generation
    /// order, or every problem found in it.
    Validate(ValidateArgs),
    /// Generate every table of a domain into files.
    Generate(GenerateArgs),
    /// Stream a table (or all tables) as events.
    Stream(Box<StreamArgs>),
    /// Stream the result of a SQL query over files and/or generated tables.
    Replay(Box<ReplayArgs>),
    /// Print the result of a SQL query as a table (a look before replaying).
    Sql(SqlArgs),
    /// Print a realtime run's planned events/s, second by second (the same schedule
    /// `stream --realtime` keeps, from the same flags or --config), and draw it.
    Schedule(Box<ScheduleArgs>),
}

/// Flags of `schedule`.
#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// The stream settings (the rate and its shape: --rate, --burst, --rate-shape,
    /// --time-pattern, --clock-start, --speedup, --seed; --duration is the span shown,
    /// default 60 seconds; --max-events ends it early).
    #[command(flatten)]
    pub run: RunArgs,
    /// Draw the schedule into this SVG file: target and planned events/s per second,
    /// bursts shaded.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// TOML file with any of the stream settings (flags given here win).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

layered! {
    /// Sources and a query, shared by `replay` and `sql`.
    #[derive(Args, Debug, Default, Deserialize)]
    pub struct QueryArgs {
        /// A file or folder to query: NAME=PATH or PATH (named after the file); .parquet,
        /// .csv, .jsonl/.ndjson/.json. Repeatable.
        #[arg(long)]
        pub source: Option<Vec<String>>,
        /// Also register this domain's generated tables (at --scale, --seed).
        #[arg(long)]
        pub domain: Option<String>,
        /// The query; without it, the single source as it is.
        #[arg(long)]
        pub sql: Option<String>,
        /// A file holding the query.
        #[arg(long, conflicts_with = "sql")]
        pub sql_file: Option<PathBuf>,
    }
}

/// Flags of `replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Sources and query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Scale and seed of --domain's tables.
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Every stream setting (`--table` names the result's events; default: the
    /// source's name, or `query`).
    #[command(flatten)]
    pub run: RunArgs,
    /// TOML file with any of these settings (flags given here win); an unknown key is
    /// refused with the list of keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Flags of `sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// Sources and query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Scale of --domain's tables.
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Seed of --domain's tables.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Rows to print at most.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print DataFusion's physical plan instead of the result (a `SortExec` in it means
    /// `replay` would sort the result in memory).
    #[arg(long)]
    pub explain: bool,
}

/// Flags of `describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Domain to describe: a built-in name or a `.spindle.json` file.
    #[arg(default_value = "retail")]
    pub domain: String,
}

/// Flags of `validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The `.spindle.json` schema file.
    pub schema: std::path::PathBuf,
}

layered! {
    /// Scale and explicit counts, shared by `generate`, `stream`, `replay` and `sql`.
    #[derive(Args, Debug, Clone, Default, Deserialize)]
    pub struct ScaleArgs {
        /// Scale preset (fabric_demo, small, medium, large, warehouse, xlarge, xxl, xxxl) or
        /// `custom` with --orders, --customers and --products.
        #[arg(long)]
        pub scale: Option<String>,
        /// Rows of `order` (overrides the preset's).
        #[arg(long)]
        pub orders: Option<u64>,
        /// Rows of `customer` (overrides the preset's).
        #[arg(long)]
        pub customers: Option<u64>,
        /// Rows of `product` (overrides the preset's).
        #[arg(long)]
        pub products: Option<u64>,
    }
}

/// Output file formats of `generate`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

impl Format {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Flags of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Domain to generate: a built-in name (`spindle list`) or a `.spindle.json` file.
    pub domain: String,
    /// Scale and counts.
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Random seed: the output is a function of seed and scale.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// File format.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: Format,
    /// Parquet codec: zstd (small files), snappy (fastest to write) or none.
    #[arg(long, default_value = "zstd")]
    pub compression: spindle_sinks::ParquetCompression,
    /// Folder to write one file per table into.
    #[arg(long)]
    pub output: PathBuf,
    /// Overwrite files in a folder that is not empty.
    #[arg(long)]
    pub force: bool,
    /// Only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// Make only part I (0-based) of a run split into --parts parts.
    #[arg(long, default_value_t = 0)]
    pub part: u64,
    /// How many parts the run is split into.
    #[arg(long, default_value_t = 1)]
    pub parts: u64,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Flags of `stream`; every setting can also come from `--config run.toml`.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// What to stream.
    #[command(flatten)]
    pub stream: StreamOnlyArgs,
    /// Scale and counts.
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// The settings `stream` shares with `replay`.
    #[command(flatten)]
    pub run: RunArgs,
    /// TOML file with any of these settings (flags given here win); an unknown key is
    /// refused with the list of keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

layered! {
    /// The settings of `stream` alone.
    #[derive(Args, Debug, Default, Deserialize)]
    pub struct StreamOnlyArgs {
        /// Domain whose tables to stream: a built-in name or a `.spindle.json` file
        /// (default retail).
        pub domain: Option<String>,
        /// Stream every table in generation order.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub all_tables: Option<bool>,
        /// Stream these tables (comma-separated), one after another in generation
        /// order, or merged with --interleave.
        #[arg(long, value_delimiter = ',')]
        pub tables: Option<Vec<String>>,
        /// Merge the tables of --tables or --all-tables into one stream by event time
        /// (a child at its parent's time, after it); `_spindle_table` names each
        /// event's table, and `kafka://H:P/{table}` routes them to a topic each.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub interleave: Option<bool>,
        /// Stream --table as the changes of its rows' lives, Debezium envelopes (create,
        /// updates through its lifecycle, deletes): Retail's order moves processing ->
        /// shipped -> completed (or cancelled, returned), and each schema domain's
        /// workflow tables theirs (`spindle describe` shows them); others are created.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub cdc: Option<bool>,
        /// With --cdc: the states rows move through, for any table (replacing a built-in
        /// one): COLUMN:FINAL=STATE/HOURS/SPREAD>STATE/HOURS/SPREAD;FINAL=... (e.g.
        /// status:shipped=processing/24/6;completed=processing/24/6>shipped/72/24).
        #[arg(long)]
        pub cdc_lifecycle: Option<String>,
        /// With --cdc: share of rows deleted after their last change (0..1).
        #[arg(long, allow_negative_numbers = true)]
        pub cdc_delete_fraction: Option<f64>,
        /// With --cdc: follow each delete with a tombstone (in Kafka, the key with no
        /// value, so that compaction forgets the row).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub cdc_tombstones: Option<bool>,
        /// Inject point anomalies into this share of rows of the table's main measure.
        #[arg(long, allow_negative_numbers = true)]
        pub anomaly_fraction: Option<f64>,
    }
}

layered! {
    /// The stream settings of `stream` and `replay`. A field's name is its `--config`
    /// key; a flag's name may be shorter (`--rate` sets `events_per_second`).
    #[derive(Args, Debug, Default, Deserialize)]
    pub struct RunArgs {
        /// Table to stream.
        #[arg(long)]
        pub table: Option<String>,
        /// Random seed (default 42).
        #[arg(long)]
        pub seed: Option<u64>,
        /// Stop after this many events.
        #[arg(long, allow_negative_numbers = true)]
        pub max_events: Option<u64>,
        /// Share of events delivered late (0..1).
        #[arg(long = "out-of-order", allow_negative_numbers = true)]
        pub out_of_order_fraction: Option<f64>,
        /// How many places a late event may slip at most.
        #[arg(long = "max-delay-slots")]
        pub out_of_order_max_delay_slots: Option<u64>,
        /// Make late events late by event time: each is sent after the events up to
        /// its lateness (at most this many seconds) younger than it.
        #[arg(long = "max-lateness", allow_negative_numbers = true)]
        pub max_lateness_seconds: Option<f64>,
        /// How lateness by event time is drawn: uniform or exponential.
        #[arg(long)]
        pub lateness_distribution: Option<String>,
        /// Share of events sent twice (0..1), the copy marked `_spindle_duplicate_of`.
        #[arg(long, allow_negative_numbers = true)]
        pub duplicate_fraction: Option<f64>,
        /// How many events after its original a copy comes at most.
        #[arg(long = "duplicate-max-delay")]
        pub duplicate_max_delay_slots: Option<u64>,
        /// Share of events never sent (0..1); counted, and written to --ground-truth.
        #[arg(long, allow_negative_numbers = true)]
        pub drop_fraction: Option<f64>,
        /// JSON-lines file receiving the dropped events, as they would have been sent.
        #[arg(long)]
        pub ground_truth: Option<PathBuf>,
        /// Stamp `_spindle_watermark` on events: every N events, or every Ns seconds of
        /// event time (e.g. 1000 or 30s).
        #[arg(long = "watermark-every")]
        pub watermark: Option<Watermark>,
        /// Where events go (repeatable: a fan-out): `console`, `file:PATH` (or `file` with
        /// --output), `parquet:PATH`, `kafka://HOST:PORT/TOPIC[?key=COLUMN&acks=all&compression=lz4&linger_ms=5&batch_bytes=1000000&timeout_ms=30000&headers=false]` (`{table}` in TOPIC: a topic per table),
        /// `eventhub:[env=VAR&hub=NAME&key=COLUMN]` (connection string from $VAR, default
        /// SPINDLE_EVENTHUB_CONNECTION_STRING).
        #[arg(long)]
        pub sink: Option<Vec<String>>,
        /// Output file of the `file` sink.
        #[arg(long)]
        pub output: Option<PathBuf>,
        /// Append to the output file instead of replacing it.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub append: Option<bool>,
        /// Pretty-print console events with this indent.
        #[arg(long)]
        pub indent: Option<usize>,
        /// Events per send.
        #[arg(long, allow_negative_numbers = true)]
        pub batch_size: Option<usize>,
        /// Column holding event time (default: the table's first timestamp column).
        #[arg(long)]
        pub timestamp_column: Option<String>,
        /// Base rate in events per second (realtime mode).
        #[arg(long = "rate", allow_negative_numbers = true)]
        pub events_per_second: Option<f64>,
        /// Pace events at --rate instead of as fast as possible.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub realtime: Option<bool>,
        /// Stop after this many seconds.
        #[arg(long = "duration", allow_negative_numbers = true)]
        pub duration_seconds: Option<f64>,
        /// Rate burst (repeatable): START:DURATION:MULTIPLIER (seconds) or
        /// #START-END:MULTIPLIER (events).
        #[arg(long = "burst")]
        pub burst_windows: Option<Vec<Burst>>,
        /// Rate shape (repeatable; shapes multiply): sine:PERIOD:AMPLITUDE,
        /// ramp:FROM:TO:OVER, step:AT:MULTIPLIER or square:PERIOD:LOW:HIGH (seconds and
        /// multipliers of --rate).
        #[arg(long = "rate-shape")]
        pub rate_shapes: Option<Vec<Shape>>,
        /// Time pattern preset: business_hours or retail_peak (in --config also a table
        /// of hour_multipliers and dow_multipliers).
        #[arg(long)]
        pub time_pattern: Option<Pattern>,
        /// Start the time pattern's clock here (e.g. 2025-11-28T19:00:00, UTC).
        #[arg(long)]
        pub clock_start: Option<String>,
        /// Wall-clock instant the realtime schedule starts at (UTC, e.g.
        /// 2026-11-28T19:00:00.5): every part of a partitioned realtime run needs the same.
        #[arg(long)]
        pub start_at: Option<String>,
        /// Send only part I (0-based) of the run's events: every --parts-th event from
        /// the I-th; N processes with parts 0..N send exactly one run's events.
        #[arg(long)]
        pub part: Option<u64>,
        /// How many parts (producers) the run's events are split over.
        #[arg(long)]
        pub parts: Option<u64>,
        /// Run the time pattern's clock this many times faster than real time.
        #[arg(long, allow_negative_numbers = true)]
        pub speedup: Option<f64>,
        /// Event time: `table` keeps the table's times, `live` stamps the emission instant.
        #[arg(long)]
        pub event_time: Option<String>,
        /// TOML file declaring anomalies ([[anomaly]] entries).
        #[arg(long)]
        pub anomalies: Option<PathBuf>,
        /// Anomalies declared in --config itself ([[anomaly]] entries; no flag).
        #[arg(skip)]
        pub anomaly: Option<Vec<AnomalySpec>>,
        /// `--no-labels` leaves the anomaly labels out of the events (anomalies are still
        /// injected).
        #[arg(long = "no-labels", num_args = 0, default_missing_value = "false")]
        pub label_anomalies: Option<bool>,
        /// Print, after a realtime run, how late sends were against their due instants,
        /// and the events/s planned and achieved in each second.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub report_lateness: Option<bool>,
        /// No progress on stderr.
        #[arg(long, short, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub quiet: Option<bool>,
    }
}
