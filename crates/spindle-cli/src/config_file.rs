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
    Anomaly, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, StreamConfig, Value,
};
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
    table: toml::Table,
}

impl ConfigFile {
    /// Reads `path` (none: no file) and refuses keys outside `keys`, the key sets of
    /// the groups `command` takes, and the run settings the engine declares.
    pub fn read(path: Option<&Path>, command: &str, keys: &[&[&str]]) -> Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let text = read(path, "--config")?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("--config {} is not valid TOML", path.display()))?;
        let settings = StreamConfig::SETTINGS.iter().map(|s| s.key);
        let known: Vec<&str> = keys
            .iter()
            .flat_map(|k| k.iter().copied())
            .chain(settings)
            .collect();
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
            table,
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

    /// The file's run settings over the engine's defaults.
    ///
    /// # Errors
    /// A value of the wrong type or form, naming its key.
    pub fn settings(&self, config: &mut StreamConfig) -> spindle_stream::Result<()> {
        for setting in StreamConfig::SETTINGS {
            if let Some(value) = self.table.get(setting.key) {
                config.set_value(setting.key, value.clone())?;
            }
        }
        Ok(())
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
