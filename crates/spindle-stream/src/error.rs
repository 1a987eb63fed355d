//! The streaming engine's error type.

/// What can go wrong in a streaming run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting outside its range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field or flag at fault.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A column that the table does not have, or of the wrong type.
    #[error("{what} '{column}' {problem} in table '{table}'; its columns: {columns}")]
    Column {
        /// The role of the column (`timestamp column`, `anomaly column`, ...).
        what: String,
        /// The column named.
        column: String,
        /// `does not exist` or `is Utf8, not a number`, ...
        problem: String,
        /// The table.
        table: String,
        /// The table's columns with their types.
        columns: String,
    },
    /// A table the source does not have.
    #[error("unknown table '{name}'; allowed: {allowed}")]
    UnknownTable {
        /// The name given.
        name: String,
        /// The tables available.
        allowed: String,
    },
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] spindle_gen::Error),
    /// A sink failed.
    #[error(transparent)]
    Sink(#[from] spindle_sinks::Error),
    /// An Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A thread of the run (the one producing chunks, a sink's) panicked: the run is
    /// incomplete, whatever was sent before.
    #[error("{thread} stopped on a bug (a panic: {message}); the output is incomplete")]
    Panicked {
        /// Which thread.
        thread: String,
        /// The panic's message.
        message: String,
    },
}

impl Error {
    /// This error as a sink's, for a stage that is itself a sink (a fan-out, the
    /// cutting of envelopes): a sink's own error as it is, an Arrow error as one,
    /// anything else as text.
    pub fn into_sink_error(self) -> spindle_sinks::Error {
        match self {
            Error::Sink(e) => e,
            Error::Arrow(e) => spindle_sinks::Error::Arrow(e),
            other => spindle_sinks::Error::Invalid {
                field: "sink",
                message: other.to_string(),
            },
        }
    }
}

/// The message of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    /// An [`Error::Column`] listing `schema`'s columns.
    pub fn column(
        what: &str,
        column: &str,
        problem: impl Into<String>,
        table: &str,
        schema: &arrow_schema::Schema,
    ) -> Self {
        Error::Column {
            what: what.to_string(),
            column: column.to_string(),
            problem: problem.into(),
            table: table.to_string(),
            columns: schema
                .fields()
                .iter()
                .map(|f| format!("{} ({})", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The streaming engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
