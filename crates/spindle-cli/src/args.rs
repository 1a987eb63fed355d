//! Command-line flags.

use clap::{Args, Parser, Subcommand};
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
}

/// Sources and a query, shared by `replay` and `sql`.
#[derive(Args, Debug, Default)]
pub struct QueryArgs {
    /// A file or folder to query: NAME=PATH or PATH (named after the file); .parquet,
    /// .csv, .jsonl/.ndjson/.json. Repeatable.
    #[arg(long)]
    pub source: Vec<String>,
    /// Also register this domain's generated tables (at --scale, --seed).
    #[arg(long = "domain")]
    pub with_domain: Option<String>,
    /// The query; without it, the single source as it is.
    #[arg(long)]
    pub sql: Option<String>,
    /// A file holding the query.
    #[arg(long, conflicts_with = "sql")]
    pub sql_file: Option<PathBuf>,
}

/// Flags of `replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Sources and query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Every stream setting (`--table` names the result's events; default: the
    /// source's name, or `query`).
    #[command(flatten)]
    pub run: RunArgs,
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

/// Scale and explicit counts, shared by `generate` and `stream`.
#[derive(Args, Debug, Clone, Default)]
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
    /// Domain whose tables to stream.
    pub domain: Option<String>,
    /// Stream every table in generation order.
    #[arg(long)]
    pub all_tables: bool,
    /// Inject point anomalies into this share of rows of the table's main measure.
    #[arg(long, allow_negative_numbers = true)]
    pub anomaly_fraction: Option<f64>,
    /// The settings `stream` shares with `replay`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The stream settings of `stream` and `replay`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// TOML file with any of these settings (flags given here win).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Table to stream.
    #[arg(long)]
    pub table: Option<String>,
    /// Scale and counts.
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many events.
    #[arg(long, allow_negative_numbers = true)]
    pub max_events: Option<u64>,
    /// Share of events delivered late (0..1).
    #[arg(long = "out-of-order", allow_negative_numbers = true)]
    pub out_of_order: Option<f64>,
    /// How many places a late event may slip at most.
    #[arg(long)]
    pub max_delay_slots: Option<u64>,
    /// Where events go (repeatable: a fan-out): `console`, `file:PATH` (or `file` with
    /// --output), `parquet:PATH`, `kafka://HOST:PORT/TOPIC[?key=COLUMN&acks=all&compression=lz4&linger_ms=5&batch_bytes=1000000&timeout_ms=30000&headers=false]`,
    /// `eventhub:[env=VAR&hub=NAME&key=COLUMN]` (connection string from $VAR, default
    /// SPINDLE_EVENTHUB_CONNECTION_STRING).
    #[arg(long)]
    pub sink: Vec<String>,
    /// Output file of the `file` sink.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Append to the output file instead of replacing it.
    #[arg(long)]
    pub append: bool,
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
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Pace events at --rate instead of as fast as possible.
    #[arg(long)]
    pub realtime: bool,
    /// Stop after this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Rate burst: START:DURATION:MULTIPLIER (seconds) or #START-END:MULTIPLIER (events).
    #[arg(long)]
    pub burst: Vec<String>,
    /// Time pattern preset: business_hours or retail_peak.
    #[arg(long)]
    pub time_pattern: Option<String>,
    /// Start the time pattern's clock here (e.g. 2025-11-28T19:00:00, UTC).
    #[arg(long)]
    pub clock_start: Option<String>,
    /// Run the time pattern's clock this many times faster than real time.
    #[arg(long, allow_negative_numbers = true)]
    pub speedup: Option<f64>,
    /// Event time: `table` keeps the table's times, `live` stamps the emission instant.
    #[arg(long)]
    pub event_time: Option<String>,
    /// TOML file declaring anomalies ([[anomaly]] entries).
    #[arg(long)]
    pub anomalies: Option<PathBuf>,
    /// Leave the anomaly labels out of the events (anomalies are still injected).
    #[arg(long)]
    pub no_labels: bool,
    /// Print, after a realtime run, how late sends were against their due instants.
    #[arg(long)]
    pub report_lateness: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}
