//! Lakehouse tables: each generated table as a Delta Lake table.
//!
//! Spindle writes a table's rows as Parquet with its own writer
//! ([`spindle_sinks::ParquetSink`]: its layout, codecs and statistics), then commits the
//! file to the table's Delta log with delta-rs, the file's statistics (row count,
//! minimum, maximum and null count of each column, read from its footer) in the commit,
//! so that readers skip files by them. Each commit is atomic: a run that stops before
//! committing leaves a data file no reader sees, never half a table.
//!
//! Parts of a run split across processes (`--part I --parts N`) commit to the same
//! table, each its own commit marked with an application transaction of the run and the
//! part: a part run again after its commit landed commits nothing twice.

mod delta;
mod error;
mod location;
mod stats;

pub use delta::{DeltaTableSink, RunPart};
pub use error::{Error, Result};
pub use location::TablesLocation;
