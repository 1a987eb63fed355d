//! Command-line flags.
//!
//! The settings of `stream` and `replay` are [`Layered`](crate::config_file::Layered)
//! groups: each field is named as its `--config` key, flags win over the file.

use crate::config_file::{AnomalySpec, ConfigFile, layered};
use clap::{Arg, ArgAction, ArgMatches, Command as ClapCommand, FromArgMatches};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use spindle_stream::{Setting, StreamConfig};
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
    /// The run settings the engine declares (`StreamConfig`), each a flag.
    #[command(flatten)]
    pub settings: SettingsArgs,
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
    /// The run settings the engine declares (`StreamConfig`), each a flag.
    #[command(flatten)]
    pub settings: SettingsArgs,
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
    /// Avro object container files (instants as timestamp-micros, nullable columns as
    /// unions with null).
    #[cfg(feature = "avro")]
    Avro,
    /// A Delta Lake table per table (a folder of Parquet files and its `_delta_log`),
    /// each table's rows (or each part's) one commit.
    #[cfg(feature = "delta")]
    Delta,
}

impl Format {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            #[cfg(feature = "avro")]
            Format::Avro => "avro",
            #[cfg(feature = "delta")]
            Format::Delta => "delta",
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
    /// Folder to write one file per table into (with --format delta: one table per
    /// table, a local path or file:// URL).
    #[arg(long)]
    pub output: PathBuf,
    /// Overwrite files in a folder that is not empty (with --format delta: replace the
    /// rows of tables that exist, as a new version).
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
    /// The run settings the engine declares (`StreamConfig`), each a flag.
    #[command(flatten)]
    pub settings: SettingsArgs,
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
        /// JSON-lines file receiving the dropped events, as they would have been sent.
        #[arg(long)]
        pub ground_truth: Option<PathBuf>,
        /// Where events go (repeatable: a fan-out): `console`, `file:PATH` (or `file` with
        /// --output), `parquet:PATH`, `avro:PATH`, `kafka://HOST:PORT/TOPIC[?key=COLUMN&acks=all&compression=lz4&linger_ms=5&batch_bytes=1000000&timeout_ms=30000&headers=false&metadata=value|headers&timestamp=event|send&idempotence=true|false&format=json|avro|json-schema|protobuf&registry=URL&subject=topic|record|topic-record&auto_register=true|false]` (`{table}` in TOPIC: a topic per table; registry credentials from
        /// $SPINDLE_SCHEMA_REGISTRY_AUTH=user:password or $SPINDLE_SCHEMA_REGISTRY_TOKEN),
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
        /// Column holding event time (default: the table's first timestamp column).
        #[arg(long)]
        pub timestamp_column: Option<String>,
        /// TOML file declaring anomalies ([[anomaly]] entries).
        #[arg(long)]
        pub anomalies: Option<PathBuf>,
        /// Anomalies declared in --config itself ([[anomaly]] entries; no flag).
        #[arg(skip)]
        pub anomaly: Option<Vec<AnomalySpec>>,
        /// No progress on stderr.
        #[arg(long, short, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        pub quiet: Option<bool>,
    }
}

/// Every run setting the engine declares ([`StreamConfig::SETTINGS`]) as a flag: its
/// help is the setting's doc and default; the CLI adds only a flag's spelling where it
/// is not the key's (`--rate` sets `events_per_second`). Unset flags stay unset, so a
/// `--config` file's value or the engine's default applies.
#[derive(Debug, Default, Clone)]
pub struct SettingsArgs {
    /// The settings given as flags, in declaration order: key and texts.
    pub given: Vec<(&'static str, Vec<String>)>,
}

/// Flags spelled otherwise than their key in kebab case. A `no-` flag of a yes/no
/// setting sets it to false.
const FLAG_NAMES: &[(&str, &str)] = &[
    ("events_per_second", "rate"),
    ("duration_seconds", "duration"),
    ("out_of_order_fraction", "out-of-order"),
    ("out_of_order_max_delay_slots", "max-delay-slots"),
    ("burst_windows", "burst"),
    ("rate_shapes", "rate-shape"),
    ("max_lateness_seconds", "max-lateness"),
    ("duplicate_max_delay_slots", "duplicate-max-delay"),
    ("watermark", "watermark-every"),
    ("label_anomalies", "no-labels"),
];

/// The flag of setting `key`, without its dashes.
pub fn flag_name(key: &str) -> String {
    FLAG_NAMES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.replace('_', "-"), |(_, flag)| flag.to_string())
}

/// The flag of one setting: a switch for a yes/no setting (a `no-` one setting it to
/// false), repeatable for a list; its help is the setting's doc and default.
fn setting_flag(setting: &Setting) -> Arg {
    let long = flag_name(setting.key);
    let default = StreamConfig::default()
        .value_json(setting.key)
        .filter(|d| d != "null" && d != "[]")
        .map_or_else(String::new, |d| format!(" [default: {d}]"));
    let arg = Arg::new(setting.key)
        .long(long.clone())
        .value_name(setting.key.to_uppercase());
    match (setting.is_switch, long.starts_with("no-")) {
        (true, true) => arg
            .help(format!("Turns `{}` off ({})", setting.key, setting.text()))
            .num_args(0)
            .default_missing_value("false")
            .action(ArgAction::Set),
        (true, false) => arg
            .help(format!("{}{default}", setting.text()))
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .action(ArgAction::Set),
        (false, _) => arg
            .help(format!("{}{default}", setting.text()))
            .allow_negative_numbers(true)
            .action(match setting.repeatable {
                true => ArgAction::Append,
                false => ArgAction::Set,
            }),
    }
}

impl FromArgMatches for SettingsArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for setting in StreamConfig::SETTINGS {
            if let Some(texts) = matches.get_many::<String>(setting.key) {
                self.given.retain(|(key, _)| *key != setting.key);
                self.given.push((setting.key, texts.cloned().collect()));
            }
        }
        Ok(())
    }
}

impl clap::Args for SettingsArgs {
    fn augment_args(command: ClapCommand) -> ClapCommand {
        command.args(StreamConfig::SETTINGS.iter().map(setting_flag))
    }

    fn augment_args_for_update(command: ClapCommand) -> ClapCommand {
        Self::augment_args(command)
    }
}

/// The run settings: the engine's defaults, then `file`'s, then the flags'; not yet
/// checked as a whole ([`StreamConfig::validate`]).
///
/// # Errors
/// A value that is not of its setting's type or form, naming the flag and key.
pub fn stream_config(
    file: Option<&ConfigFile>,
    flags: &SettingsArgs,
) -> anyhow::Result<StreamConfig> {
    let mut config = StreamConfig::default();
    if let Some(file) = file {
        file.settings(&mut config).map_err(named_stream_error)?;
    }
    for (key, texts) in &flags.given {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        config.set(key, &texts).map_err(named_stream_error)?;
    }
    Ok(config)
}

/// `error`, about the setting `field`, naming the flag and `--config` key that set it.
pub fn set_by(error: &dyn std::fmt::Display, field: &str) -> anyhow::Error {
    anyhow::anyhow!("{error} (set by {})", flag_of(field))
}

/// A stream setting's error naming its flag and key (other errors as they are).
pub fn named_stream_error(error: spindle_stream::Error) -> anyhow::Error {
    match &error {
        spindle_stream::Error::Invalid { field, .. } => set_by(&error, field),
        _ => error.into(),
    }
}

/// The flag that sets config key `key` of any command, for error messages:
/// ``--rate or `events_per_second` in --config``.
pub fn flag_of(key: &str) -> String {
    use clap::Args;
    let command = [
        RunArgs::augment_args,
        SettingsArgs::augment_args,
        StreamOnlyArgs::augment_args,
        ScaleArgs::augment_args,
        QueryArgs::augment_args,
    ]
    .iter()
    .fold(clap::Command::new("spindle"), |c, augment| augment(c));
    let flag = command
        .get_arguments()
        .find(|a| a.get_id() == key)
        .and_then(|a| a.get_long())
        .map_or_else(String::new, |long| format!("--{long} or "));
    format!("{flag}`{key}` in --config")
}
