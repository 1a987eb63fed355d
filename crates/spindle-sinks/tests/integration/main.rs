//! The integration tests of `spindle-sinks`, one test binary (one link of arrow and parquet
//! instead of one per file): each file beside this one is a module.

mod event_hub;
mod parquet;
mod parquet_columns;
