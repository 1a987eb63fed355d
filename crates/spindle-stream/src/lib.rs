//! Spindle's streaming engine: tables in, ordered and labelled event streams out, as
//! Arrow batches end to end.
//!
//! - [`StreamConfig`], [`BurstWindow`], [`TimePattern`]: the reference's settings and
//!   every other run setting, declared once ([`Setting`], [`SettingValue`]).
//! - [`StreamJob`]: one run orchestrated (sinks, fan-out, ground truth, stop flag,
//!   what to stream), for the CLI and the Python package alike.
//! - [`SpindleStreamer`]: event-time order, metadata, anomalies, emission.
//! - [`Delivery`]: late events (by slots or event time), duplicates, drops and
//!   watermarks, with ground truth.
//! - [`AnomalyRegistry`] with [`PointAnomaly`], [`ContextualAnomaly`],
//!   [`CollectiveAnomaly`]: labelled anomalies as column kernels.
//! - [`Pacer`]: realtime emission at a Poisson rate shaped by bursts and time patterns.

mod anomaly;
mod batches;
mod cdc;
mod config;
mod delivery;
mod error;
mod job;
mod multi;
mod pacer;
mod result;
mod settings;
mod streamer;

// Every public item at the root, by one path; the modules are the code's homes.
pub use anomaly::{
    ANOMALY_TYPE, Anomaly, AnomalyRegistry, CollectiveAnomaly, ContextualAnomaly, IS_ANOMALY,
    Injected, PointAnomaly, Value, pick_count,
};
pub use batches::Batches;
pub use cdc::{CdcConfig, KEY_COLUMN, Lifecycle, MAX_STAGES, MIN_DWELL_HOURS, Stage};
pub use config::{
    BurstWindow, EventTimeMode, LatenessDistribution, RateShape, StreamConfig, TimePattern,
    WatermarkEvery,
};
pub use delivery::{Delivered, Delivery, Dropped, check_event_time, count_late};
pub use error::{Error, Result, panic_message};
pub use job::{FanOutOptions, JobOutcome, Outputs, Rows, Selection, StreamJob};
pub use multi::{
    DEFAULT_BUFFER_BATCHES, FanOut, SinkResult, StreamingMultiWriteResult, StreamingMultiWriter,
};
pub use pacer::{EmitOutcome, Pacer, PlannedSecond, Slots};
pub use result::{Lateness, SecondRate, StopReason, StreamResult};
pub use settings::{Setting, SettingValue, UtcInstant};
pub use streamer::{
    ColumnReader, META_DUPLICATE_OF, META_EVENT_TIME, META_SEQ, META_TABLE, META_WATERMARK,
    RowMaker, STREAM_CHUNK_ROWS, SpindleStreamer, TableSource, event_time_column, with_metadata,
};
