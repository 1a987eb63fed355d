//! The integration tests of `spindle-cli`, one test binary (one link of arrow and parquet
//! instead of one per file): each file beside this one is a module.

#[cfg(feature = "avro")]
mod avro;
mod cdc;
mod cli;
mod common;
mod config_fuzz;
#[cfg(feature = "delta")]
mod delta;
mod golden;
mod interleave;
mod json_corpus;
#[cfg(feature = "kafka")]
mod kafka_formats;
mod layering;
mod schema;
mod settings;
