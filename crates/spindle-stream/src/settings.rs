//! How a setting is declared once and read from every place a user writes it.
//!
//! [`crate::StreamConfig`] is declared with [`settings!`](crate::settings): one line per
//! setting gives its key, type, default and doc. From that one declaration come the
//! struct, its `Default`, [`Setting`] entries for every key (the CLI's flags and help,
//! Python's keys, the docs), [`SettingValue`] parsing of a flag's text, and serde
//! deserialization of a `--config` TOML value or a Python value, each failing with an
//! [`Error::Invalid`] that names the key.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer};

/// One setting as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key, as `--config` and Python spell it.
    pub key: &'static str,
    /// What it does, from the declaration's doc comment.
    pub doc: &'static str,
    /// Whether a flag may give it several times (a list).
    pub repeatable: bool,
    /// Whether it is a yes/no setting (a flag without a value says yes).
    pub is_switch: bool,
}

impl Setting {
    /// The doc as one line of text (the declaration's lines joined).
    pub fn text(&self) -> String {
        let lines: Vec<&str> = self
            .doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines.join(" ")
    }
}

/// A setting's value type: parsed from the texts a flag gives (several for a list),
/// deserialized from a `--config` or Python value, shown as JSON.
pub trait SettingValue: Sized + for<'de> Deserialize<'de> {
    /// Whether a flag may be given several times, each adding one item.
    const REPEATABLE: bool = false;
    /// Whether this is a yes/no value.
    const SWITCH: bool = false;
    /// The value of a flag given `texts` (one text unless [`Self::REPEATABLE`]).
    ///
    /// # Errors
    /// Text that is not a value of this type, with what is allowed.
    fn from_texts(texts: &[&str]) -> std::result::Result<Self, String>;
    /// The value as JSON (`null` for none): how the declared defaults are listed.
    fn to_json(&self) -> String;
}

/// The one text of a single-valued flag.
pub(crate) fn only<'a>(texts: &[&'a str]) -> std::result::Result<&'a str, String> {
    match texts {
        [one] => Ok(one),
        _ => Err(format!("takes one value, not {}", texts.len())),
    }
}

/// Implements [`SettingValue`] for types parsed with `FromStr`, shown by `$show`
/// (`json_number` or `json_text`).
macro_rules! parsed_setting {
    ($show:expr => $($ty:ty),* $(,)?) => {
        $(impl $crate::settings::SettingValue for $ty {
            fn from_texts(texts: &[&str]) -> std::result::Result<Self, String> {
                $crate::settings::only(texts)?
                    .trim()
                    .parse::<$ty>()
                    .map_err($crate::settings::SettingError::message)
            }
            fn to_json(&self) -> String {
                $show(self)
            }
        })*
    };
}

/// A parse error of a setting's value type, as a message that names no field (the
/// caller names the setting's key).
pub(crate) trait SettingError {
    /// What is wrong with the value, and what is allowed.
    fn message(self) -> String;
}

impl SettingError for Error {
    fn message(self) -> String {
        match self {
            Error::Invalid { message, .. } => message,
            other => other.to_string(),
        }
    }
}

impl SettingError for String {
    fn message(self) -> String {
        self
    }
}

impl SettingError for std::num::ParseFloatError {
    fn message(self) -> String {
        format!("not a number ({self})")
    }
}

impl SettingError for std::num::ParseIntError {
    fn message(self) -> String {
        format!("not a whole number of at least 0 ({self})")
    }
}

impl SettingError for std::convert::Infallible {
    fn message(self) -> String {
        match self {}
    }
}

/// `value` as a JSON string.
pub(crate) fn json_text(value: &dyn std::fmt::Display) -> String {
    let mut out = String::from('"');
    for c in value.to_string().chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as a JSON number.
pub(crate) fn json_number(value: &dyn std::fmt::Display) -> String {
    value.to_string()
}

parsed_setting!(json_number => f64, u64, usize);

impl SettingValue for bool {
    const SWITCH: bool = true;
    fn from_texts(texts: &[&str]) -> std::result::Result<Self, String> {
        match only(texts)?.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("'{other}' is not true or false")),
        }
    }
    fn to_json(&self) -> String {
        self.to_string()
    }
}
parsed_setting!(json_text => String, UtcInstant);
pub(crate) use parsed_setting;

impl<T: SettingValue> SettingValue for Option<T> {
    fn from_texts(texts: &[&str]) -> std::result::Result<Self, String> {
        T::from_texts(texts).map(Some)
    }
    fn to_json(&self) -> String {
        self.as_ref().map_or_else(|| "null".into(), T::to_json)
    }
}

impl<T: SettingValue> SettingValue for Vec<T> {
    const REPEATABLE: bool = true;
    fn from_texts(texts: &[&str]) -> std::result::Result<Self, String> {
        texts.iter().map(|t| T::from_texts(&[t])).collect()
    }
    fn to_json(&self) -> String {
        let items: Vec<String> = self.iter().map(T::to_json).collect();
        format!("[{}]", items.join(", "))
    }
}

/// `value` deserialized as a `T`, an error naming `key` otherwise.
pub(crate) fn deserialize_setting<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    key: &'static str,
    value: D,
) -> Result<T> {
    T::deserialize(value).map_err(|e| Error::invalid(key, e.to_string().trim().to_string()))
}

/// `texts` parsed as a `T`, an error naming `key` otherwise.
pub(crate) fn parse_setting<T: SettingValue>(key: &'static str, texts: &[&str]) -> Result<T> {
    T::from_texts(texts).map_err(|message| Error::invalid(key, message))
}

/// Declares a settings struct: each field with its doc, type and default. Generates the
/// struct (serde `Deserialize` with defaults, unknown keys refused), `Default`,
/// `SETTINGS` (every key with its doc), `set` (a flag's texts), `set_value` (a
/// `--config` or Python value), and `default_json` (a key's default as JSON).
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                pub $field:ident: $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $name {
            /// Every setting: key, doc and whether a flag may repeat it.
            pub const SETTINGS: &'static [$crate::settings::Setting] = &[$(
                $crate::settings::Setting {
                    key: stringify!($field),
                    doc: concat!($($doc, "\n"),+),
                    repeatable: <$ty as $crate::settings::SettingValue>::REPEATABLE,
                    is_switch: <$ty as $crate::settings::SettingValue>::SWITCH,
                },
            )*];

            /// The setting `key` from a flag's texts (several for a repeatable one).
            ///
            /// # Errors
            /// An unknown key, or texts that are not a value of the key's type: an
            /// [`Error::Invalid`]($crate::Error::Invalid) naming the key.
            pub fn set(&mut self, key: &str, texts: &[&str]) -> $crate::Result<()> {
                match key {
                    $( stringify!($field) => {
                        self.$field = $crate::settings::parse_setting(stringify!($field), texts)?;
                    } )*
                    other => return Err(Self::unknown(other)),
                }
                Ok(())
            }

            /// The setting `key` from a `--config` or Python value.
            ///
            /// # Errors
            /// An unknown key, or a value of the wrong type or form: an
            /// [`Error::Invalid`]($crate::Error::Invalid) naming the key.
            pub fn set_value<'de, D: serde::Deserializer<'de>>(
                &mut self,
                key: &str,
                value: D,
            ) -> $crate::Result<()> {
                match key {
                    $( stringify!($field) => {
                        self.$field =
                            $crate::settings::deserialize_setting(stringify!($field), value)?;
                    } )*
                    other => return Err(Self::unknown(other)),
                }
                Ok(())
            }

            /// The value of `key` in `self`, as JSON (`None` for an unknown key).
            pub fn value_json(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($field) => Some(
                        $crate::settings::SettingValue::to_json(&self.$field),
                    ), )*
                    _ => None,
                }
            }

            fn unknown(key: &str) -> $crate::Error {
                let keys: Vec<&str> = Self::SETTINGS.iter().map(|s| s.key).collect();
                $crate::Error::invalid(
                    "setting",
                    format!("unknown key '{key}'; allowed: {}", keys.join(", ")),
                )
            }
        }
    };
}
pub(crate) use settings;

/// An instant in UTC, to the microsecond: `YYYY-MM-DDTHH:MM:SS[.ffffff]` (UTC) or RFC
/// 3339 with an offset as text; Unix seconds as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcInstant {
    /// Microseconds since the Unix epoch.
    pub micros: i64,
}

impl UtcInstant {
    /// The instant `seconds` after the Unix epoch (rounded to the microsecond).
    ///
    /// # Errors
    /// A number that is not finite or is out of the representable range.
    pub fn from_unix_seconds(seconds: f64) -> std::result::Result<Self, String> {
        let micros = (seconds * 1e6).round();
        if micros.is_finite() && micros.abs() < 9.0e18 {
            Ok(Self {
                micros: micros as i64,
            })
        } else {
            Err(format!(
                "{seconds} is not a Unix time in seconds (e.g. 1764356400)"
            ))
        }
    }

    /// Whole seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }
}

impl std::str::FromStr for UtcInstant {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let micros = |t: chrono::DateTime<chrono::Utc>| Self {
            micros: t.timestamp_micros(),
        };
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(micros(t.to_utc()));
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
                return Ok(micros(t.and_utc()));
            }
        }
        Err(format!(
            "'{text}' is not YYYY-MM-DDTHH:MM:SS[.ffffff] (UTC) or RFC 3339, e.g. 2025-11-28T19:00:00"
        ))
    }
}

impl std::fmt::Display for UtcInstant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match chrono::DateTime::from_timestamp_micros(self.micros) {
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6f")),
            None => write!(f, "{} us since the Unix epoch", self.micros),
        }
    }
}

impl<'de> Deserialize<'de> for UtcInstant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Seconds(f64),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Seconds(s) => Self::from_unix_seconds(s),
            Form::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Deserializes a type from its text form (`FromStr`), for settings whose values are
/// written as text everywhere.
macro_rules! deserialize_from_text {
    ($($ty:ty),* $(,)?) => {
        $(impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse::<$ty>().map_err(|e| {
                    serde::de::Error::custom($crate::settings::SettingError::message(e))
                })
            }
        })*
    };
}
pub(crate) use deserialize_from_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_from_text_and_unix_seconds_alike() {
        let text: UtcInstant = "2025-11-28T19:00:00.5".parse().unwrap();
        let offset: UtcInstant = "2025-11-28T20:00:00.5+01:00".parse().unwrap();
        let seconds = UtcInstant::from_unix_seconds(1_764_356_400.5).unwrap();
        assert_eq!(text, offset);
        assert_eq!(text, seconds);
        assert_eq!(text.unix_seconds(), 1_764_356_400);
        assert_eq!(text.to_string(), "2025-11-28T19:00:00.500000");
        assert!(
            "yesterday"
                .parse::<UtcInstant>()
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(UtcInstant::from_unix_seconds(f64::NAN).is_err());
    }

    #[test]
    fn flag_texts_parse_one_value_or_a_list() {
        assert_eq!(f64::from_texts(&["2.5"]), Ok(2.5));
        assert!(
            f64::from_texts(&["2.5", "3"])
                .unwrap_err()
                .contains("one value")
        );
        assert_eq!(Option::<u64>::from_texts(&["7"]), Ok(Some(7)));
        assert_eq!(Vec::<u64>::from_texts(&["1", "2"]), Ok(vec![1, 2]));
        assert_eq!(Vec::<u64>::new().to_json(), "[]");
        assert_eq!(None::<f64>.to_json(), "null");
        assert_eq!(Some(String::from("a\"b")).to_json(), "\"a\\\"b\"");
        let awkward = String::from("tab\there \\ \u{1}");
        let back: String = serde_json::from_str(&awkward.to_json()).unwrap();
        assert_eq!(back, awkward);
    }
}
