//! `--config run.toml` and `--anomalies FILE`: the stream settings as TOML. Unknown
//! keys are rejected.
//!
//! ```toml
//! domain = "retail"
//! table = "order"
//! scale = "small"
//! max_events = 1000
//! out_of_order_fraction = 0.05
//! time_pattern = "retail_peak"           # or { hour_multipliers = { "19" = 2.0 } }
//! [[burst_windows]]
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
use spindle_stream::{
    Anomaly, BurstWindow, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, TimePattern, Value,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every stream setting, as a TOML file holds it.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    pub domain: Option<String>,
    pub table: Option<String>,
    pub all_tables: Option<bool>,
    pub scale: Option<String>,
    pub orders: Option<u64>,
    pub customers: Option<u64>,
    pub products: Option<u64>,
    pub seed: Option<u64>,
    pub events_per_second: Option<f64>,
    pub duration_seconds: Option<f64>,
    pub max_events: Option<u64>,
    pub out_of_order_fraction: Option<f64>,
    pub out_of_order_max_delay_slots: Option<u64>,
    pub burst_windows: Option<Vec<BurstSpec>>,
    pub time_pattern: Option<PatternSpec>,
    pub label_anomalies: Option<bool>,
    pub batch_size: Option<usize>,
    pub realtime: Option<bool>,
    pub timestamp_column: Option<String>,
    pub sink: Option<Vec<String>>,
    pub output: Option<PathBuf>,
    pub append: Option<bool>,
    pub indent: Option<usize>,
    pub clock_start: Option<String>,
    pub speedup: Option<f64>,
    pub event_time: Option<String>,
    pub anomaly_fraction: Option<f64>,
    pub anomaly: Option<Vec<AnomalySpec>>,
    /// `replay` only: NAME=PATH sources.
    pub source: Option<Vec<String>>,
    /// `replay` only: the query.
    pub sql: Option<String>,
}

/// A burst window in either form.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum BurstSpec {
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

impl BurstSpec {
    pub fn window(&self) -> BurstWindow {
        match *self {
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
        }
    }
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
#[derive(Deserialize, Debug)]
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

/// Reads a `--config` file.
pub fn load_run(path: &Path) -> Result<RunFile> {
    toml::from_str(&read(path, "--config")?)
        .with_context(|| format!("--config {} is not a valid run file", path.display()))
}

/// Reads an `--anomalies` file.
pub fn load_anomalies(path: &Path) -> Result<Vec<Anomaly>> {
    let file: AnomalyFile = toml::from_str(&read(path, "--anomalies")?)
        .with_context(|| format!("--anomalies {} is not a valid anomaly file", path.display()))?;
    file.anomaly.iter().map(AnomalySpec::anomaly).collect()
}
