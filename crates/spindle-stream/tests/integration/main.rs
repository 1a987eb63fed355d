//! The integration tests of `spindle-stream`, one test binary (one link of arrow and parquet
//! instead of one per file): each file beside this one is a module.

mod anomalies;
mod bounded_anomalies;
mod delivery;
mod delivery_props;
mod fanout;
mod interleave;
mod kafka;
mod realtime;
mod streaming;
