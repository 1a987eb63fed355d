//! Spindle's streaming engine: tables in, ordered and labelled event streams out, as
//! Arrow batches end to end.
//!
//! - [`StreamConfig`], [`BurstWindow`], [`TimePattern`]: the reference's settings and
//!   every other run setting, declared once ([`settings`]).
//! - [`StreamJob`]: one run orchestrated (sinks, fan-out, ground truth, stop flag,
//!   what to stream), for the CLI and the Python package alike.
//! - [`SpindleStreamer`]: event-time order, metadata, anomalies, emission.
//! - [`delivery`]: late events (by slots or event time), duplicates, drops and
//!   watermarks, with ground truth.
//! - [`AnomalyRegistry`] with [`PointAnomaly`], [`ContextualAnomaly`],
//!   [`CollectiveAnomaly`]: labelled anomalies as column kernels.
//! - [`pacer`]: realtime emission at a Poisson rate shaped by bursts and time patterns.

pub mod anomaly;
mod batches;
pub mod cdc;
pub mod config;
pub mod delivery;
pub mod error;
pub mod job;
pub mod multi;
pub mod pacer;
pub mod result;
pub mod settings;
pub mod streamer;

pub use anomaly::{
    Anomaly, AnomalyRegistry, CollectiveAnomaly, ContextualAnomaly, PointAnomaly, Value,
};
pub use batches::Batches;
pub use cdc::{CdcConfig, Lifecycle, Stage};
pub use config::{
    BurstWindow, EventTimeMode, LatenessDistribution, RateShape, StreamConfig, TimePattern,
    WatermarkEvery,
};
pub use error::{Error, Result};
pub use job::{FanOutOptions, JobOutcome, Outputs, Rows, Selection, StreamJob};
pub use multi::{FanOut, SinkResult, StreamingMultiWriteResult, StreamingMultiWriter};
pub use result::{Lateness, SecondRate, StopReason, StreamResult};
pub use settings::{Setting, UtcInstant};
pub use streamer::{ColumnReader, RowMaker, SpindleStreamer, TableSource};
