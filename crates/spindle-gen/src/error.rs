//! The generator's error type.

/// What can go wrong when planning or generating data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A domain name that is not known.
    #[error("unknown domain '{name}'; allowed: {allowed}")]
    UnknownDomain {
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        allowed: String,
    },
    /// A table name the domain does not have.
    #[error("unknown table '{name}'; allowed: {allowed}")]
    UnknownTable {
        /// The name given.
        name: String,
        /// The tables of the domain, comma-separated.
        allowed: String,
    },
    /// A scale name that is not a preset.
    #[error("unknown scale '{name}'; allowed: {allowed}")]
    UnknownScale {
        /// The name given.
        name: String,
        /// The presets and `custom`, comma-separated.
        allowed: String,
    },
    /// A count or other setting outside its range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field or flag at fault.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Tables passed together to one `generate` call must share their driving table.
    #[error("tables {tables} are not driven by the same table and cannot be generated together")]
    MixedDrivers {
        /// The tables given.
        tables: String,
    },
    /// A schema file that cannot be read or used, or a column that cannot be made: the
    /// message names the file and the schema path (`tables.t.columns.c...`).
    #[error("{0}")]
    Schema(String),
    /// An Arrow error while assembling batches.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// The generator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
