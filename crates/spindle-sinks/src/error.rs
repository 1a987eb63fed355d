//! The sinks' error type.

use std::path::PathBuf;

/// What can go wrong while sending events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or stream could not be opened or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path (or `-` for stdout).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The reader went away (a closed pipe): not a failure of the run, a reason to stop.
    #[error("the reader of {0} closed the stream")]
    Closed(String),
    /// A column whose type the format cannot carry.
    #[error(
        "column '{column}' has type {data_type}, which {format} cannot carry; cast it in the query (e.g. CAST(col AS VARCHAR))"
    )]
    Unsupported {
        /// Column name.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// The output format.
        format: &'static str,
    },
    /// A batch whose schema differs from the one the sink was opened with.
    #[error(
        "{sink} holds one schema; a batch of table '{table}' has a different one. Use one sink per table"
    )]
    SchemaChanged {
        /// The sink.
        sink: String,
        /// The table of the offending batch.
        table: String,
    },
    /// A setting outside its range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The Kafka broker or client failed.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The schema registry did not answer, or refused a schema or the credentials.
    #[error("{0}")]
    Registry(String),
    /// A lakehouse table (its log or its store) failed.
    #[error("{0}")]
    Table(String),
    /// An Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A Parquet error.
    #[cfg(feature = "parquet")]
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl Error {
    /// An I/O error on `path`, turning a broken pipe into [`Error::Closed`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            Error::Closed(path.display().to_string())
        } else {
            Error::Io { path, source }
        }
    }
}

/// The sinks' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
