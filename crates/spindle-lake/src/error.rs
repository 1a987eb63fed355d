//! The lakehouse tables' error type.

/// What can go wrong writing a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting outside what is allowed (an address, an option).
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The table's store or log refused or failed.
    #[error("Delta table {table}: {message}")]
    Delta {
        /// The table's address.
        table: String,
        /// What failed.
        message: String,
    },
    /// Writing the data file failed.
    #[error(transparent)]
    Sink(#[from] spindle_sinks::Error),
}

impl From<Error> for spindle_sinks::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Sink(e) => e,
            Error::Invalid { field, message } => spindle_sinks::Error::Invalid { field, message },
            other => spindle_sinks::Error::Table(other.to_string()),
        }
    }
}

/// The lakehouse tables' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
