//! Settings that flags and a `--config run.toml` file both fill, and `--anomalies FILE`.
//!
//! Each group of settings is one struct (`args.rs`) whose fields are named as their
//! config keys and filled by clap from flags and by serde from the file; flags win
//! field by field (a list flag replaces the file's list). Unknown keys are rejected
//! with the list of the keys the command takes.
//!
//! ```toml
//! domain = "retail"
//! table = "order"
//! scale = "small"
//! max_events = 1000
//! out_of_order_fraction = 0.05
//! max_lateness_seconds = 30.0            # late events by event time, up to 30 s
//! duplicate_fraction = 0.01
//! watermark = "10s"                      # or 1000 (events)
//! time_pattern = "retail_peak"           # or { hour_multipliers = { "19" = 2.0 } }
//! rate_shapes = ["sine:60:0.5"]
//! [[burst_windows]]                      # or burst_windows = ["1:2:5", "#100-200:3"]
//! start_offset_seconds = 1.0
//! duration_seconds = 2.0
//! multiplier = 5.0
//! [[anomaly]]
//! kind = "point"
//! name = "extreme_total"
//! column = "order_total"
//! multiplier_range = [10.0, 50.0]
//! fraction = 0.03
//! ```

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use spindle_stream::{
    Anomaly, BurstWindow, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, RateShape,
    TimePattern, Value, WatermarkEvery,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A group of settings that flags and a config file both fill.
pub trait Layered: Default + DeserializeOwned {
    /// The config keys: the field names.
    const KEYS: &'static [&'static str];
    /// Each setting of `self` that is set, else `under`'s.
    fn over(self, under: Self) -> Self;
}

/// Declares a settings struct whose fields are all `Option`s, and its [`Layered`]
/// implementation: the one place a setting is listed.
macro_rules! layered {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: Option<$ty:ty>, )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: Option<$ty>, )*
        }

        impl $crate::config_file::Layered for $name {
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn over(self, under: Self) -> Self {
                Self { $( $field: self.$field.or(under.$field), )* }
            }
        }
    };
}
pub(crate) use layered;

/// A `--config` file, read and checked against the keys a command takes.
pub struct ConfigFile {
    path: PathBuf,
    text: String,
}

impl ConfigFile {
    /// Reads `path` (none: no file) and refuses keys outside `keys`, the key sets of
    /// the groups `command` takes.
    pub fn read(path: Option<&Path>, command: &str, keys: &[&[&str]]) -> Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let text = read(path, "--config")?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("--config {} is not valid TOML", path.display()))?;
        let known: Vec<&str> = keys.iter().flat_map(|k| k.iter().copied()).collect();
        if let Some(unknown) = table.keys().find(|k| !known.contains(&k.as_str())) {
            bail!(
                "unknown key `{unknown}` in --config {}; `spindle {command}` takes: {}",
                path.display(),
                known.join(", ")
            );
        }
        Ok(Some(Self {
            path: path.to_path_buf(),
            text,
        }))
    }

    /// `flags` over the file's settings of the same group.
    pub fn layer<T: Layered>(file: Option<&Self>, flags: T) -> Result<T> {
        let Some(file) = file else {
            return Ok(flags);
        };
        let from_file: T = toml::from_str(&file.text)
            .with_context(|| format!("--config {} is not a valid run file", file.path.display()))?;
        Ok(flags.over(from_file))
    }
}

/// The flag that sets config key `key` of group `T`, for error messages:
/// ``--rate or `events_per_second` in --config``.
pub fn flag_of<T: clap::Args>(key: &str) -> String {
    let command = T::augment_args(clap::Command::new("spindle"));
    let flag = command
        .get_arguments()
        .find(|a| a.get_id() == key)
        .and_then(|a| a.get_long())
        .map_or_else(String::new, |long| format!("--{long} or "));
    format!("{flag}`{key}` in --config")
}

/// A burst window: `START:DURATION:MULTIPLIER` (seconds) or `#START-END:MULTIPLIER`
/// (event indices) as a flag or a TOML string, or a TOML table of either form.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "BurstSpec")]
pub struct Burst(pub BurstWindow);

impl std::str::FromStr for Burst {
    type Err = spindle_stream::Error;

    fn from_str(text: &str) -> spindle_stream::Result<Self> {
        text.parse().map(Burst)
    }
}

impl TryFrom<BurstSpec> for Burst {
    type Error = spindle_stream::Error;

    fn try_from(spec: BurstSpec) -> spindle_stream::Result<Self> {
        Ok(Burst(match spec {
            BurstSpec::Text(text) => text.parse()?,
            BurstSpec::Time {
                start_offset_seconds,
                duration_seconds,
                multiplier,
            } => BurstWindow::time(start_offset_seconds, duration_seconds, multiplier),
            BurstSpec::Events {
                start_event,
                end_event,
                multiplier,
            } => BurstWindow::events(start_event, end_event, multiplier),
        }))
    }
}

/// A rate shape (`sine:60:0.5`, ...) as a flag or a TOML string.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Shape(pub RateShape);

impl std::str::FromStr for Shape {
    type Err = spindle_stream::Error;

    fn from_str(text: &str) -> spindle_stream::Result<Self> {
        text.parse().map(Shape)
    }
}

impl TryFrom<String> for Shape {
    type Error = spindle_stream::Error;

    fn try_from(text: String) -> spindle_stream::Result<Self> {
        text.parse()
    }
}

/// When events carry a watermark: `N` (events) or `Ns` (seconds of event time), as a
/// flag or a TOML string, or a TOML integer (events).
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "WatermarkSpec")]
pub struct Watermark(pub WatermarkEvery);

impl std::str::FromStr for Watermark {
    type Err = spindle_stream::Error;

    fn from_str(text: &str) -> spindle_stream::Result<Self> {
        text.parse().map(Watermark)
    }
}

/// A watermark interval in either of its TOML forms.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum WatermarkSpec {
    /// Every this many events.
    Events(u64),
    /// `N` or `Ns`.
    Text(String),
}

impl TryFrom<WatermarkSpec> for Watermark {
    type Error = spindle_stream::Error;

    fn try_from(spec: WatermarkSpec) -> spindle_stream::Result<Self> {
        match spec {
            WatermarkSpec::Events(n) => n.to_string().parse(),
            WatermarkSpec::Text(text) => text.parse(),
        }
    }
}

/// A time pattern: a preset name (flag or TOML string) or a TOML table of multipliers.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "PatternSpec")]
pub struct Pattern(pub TimePattern);

impl std::str::FromStr for Pattern {
    type Err = spindle_stream::Error;

    fn from_str(name: &str) -> spindle_stream::Result<Self> {
        TimePattern::preset(name).map(Pattern)
    }
}

impl TryFrom<PatternSpec> for Pattern {
    type Error = anyhow::Error;

    fn try_from(spec: PatternSpec) -> Result<Self> {
        spec.pattern().map(Pattern)
    }
}

/// A burst window in any of its TOML forms.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum BurstSpec {
    /// As the flag writes it.
    Text(String),
    /// By time offset.
    Time {
        start_offset_seconds: f64,
        duration_seconds: f64,
        multiplier: f64,
    },
    /// By event index.
    Events {
        start_event: u64,
        end_event: u64,
        multiplier: f64,
    },
}

/// A preset name or explicit multipliers.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum PatternSpec {
    Preset(String),
    Custom {
        #[serde(default)]
        hour_multipliers: BTreeMap<String, f64>,
        #[serde(default)]
        dow_multipliers: BTreeMap<String, f64>,
    },
}

impl PatternSpec {
    pub fn pattern(&self) -> Result<TimePattern> {
        match self {
            PatternSpec::Preset(name) => Ok(TimePattern::preset(name)?),
            PatternSpec::Custom {
                hour_multipliers,
                dow_multipliers,
            } => {
                let keys = |m: &BTreeMap<String, f64>, what: &str| -> Result<BTreeMap<u8, f64>> {
                    m.iter()
                        .map(|(k, v)| {
                            k.parse::<u8>().map(|k| (k, *v)).with_context(|| {
                                format!("time_pattern: {what} '{k}' is not a number")
                            })
                        })
                        .collect()
                };
                Ok(TimePattern {
                    hour_multipliers: keys(hour_multipliers, "hour")?,
                    dow_multipliers: keys(dow_multipliers, "day of week")?,
                })
            }
        }
    }
}

/// One anomaly declaration.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AnomalySpec {
    Point {
        name: String,
        column: String,
        multiplier_range: Option<(f64, f64)>,
        fraction: Option<f64>,
    },
    Contextual {
        name: String,
        column: String,
        condition_column: String,
        normal_values: Vec<toml::Value>,
        anomalous_values: Vec<toml::Value>,
        fraction: Option<f64>,
    },
    Collective {
        name: String,
        group_column: String,
        timestamp_column: String,
        window_seconds: Option<f64>,
        fraction: Option<f64>,
    },
}

fn value(v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        // TOML has no null: an empty inline table stands for one.
        toml::Value::Table(t) if t.is_empty() => Value::Null,
        other => {
            bail!("anomaly values must be strings, numbers, booleans or {{}} (null), not {other}")
        }
    })
}

impl AnomalySpec {
    pub fn anomaly(&self) -> Result<Anomaly> {
        Ok(match self {
            AnomalySpec::Point {
                name,
                column,
                multiplier_range,
                fraction,
            } => {
                let mut a = PointAnomaly::new(name, column);
                if let Some((lo, hi)) = multiplier_range {
                    a = a.multiplier_range(*lo, *hi);
                }
                if let Some(f) = fraction {
                    a = a.fraction(*f);
                }
                a.into()
            }
            AnomalySpec::Contextual {
                name,
                column,
                condition_column,
                normal_values,
                anomalous_values,
                fraction,
            } => {
                let mut a = ContextualAnomaly::new(
                    name,
                    column,
                    condition_column,
                    normal_values.iter().map(value).collect::<Result<_>>()?,
                    anomalous_values.iter().map(value).collect::<Result<_>>()?,
                );
                if let Some(f) = fraction {
                    a = a.fraction(*f);
                }
                a.into()
            }
            AnomalySpec::Collective {
                name,
                group_column,
                timestamp_column,
                window_seconds,
                fraction,
            } => {
                let mut a = CollectiveAnomaly::new(name, group_column, timestamp_column);
                if let Some(w) = window_seconds {
                    a = a.window_seconds(*w);
                }
                if let Some(f) = fraction {
                    a = a.fraction(*f);
                }
                a.into()
            }
        })
    }
}

/// Just `[[anomaly]]` entries.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AnomalyFile {
    pub anomaly: Vec<AnomalySpec>,
}

fn read(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {flag} {}", path.display()))
}

/// Reads an `--anomalies` file.
pub fn load_anomalies(path: &Path) -> Result<Vec<Anomaly>> {
    let file: AnomalyFile = toml::from_str(&read(path, "--anomalies")?)
        .with_context(|| format!("--anomalies {} is not a valid anomaly file", path.display()))?;
    file.anomaly.iter().map(AnomalySpec::anomaly).collect()
}
