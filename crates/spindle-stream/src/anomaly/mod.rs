//! Labelled anomalies as column kernels: point, contextual and collective.
//!
//! Each anomaly first learns what it needs of the whole table (the row count, a
//! column's mean, how many rows its condition holds on, group sizes) in a survey pass,
//! then turns any batch of the table's rows into a set of edits (rows and their new
//! values) without touching it; the registry applies them in registry order, so a
//! later anomaly overrides an earlier one on the same cell and label. Every random draw
//! comes from `(seed, anomaly position and name, table position or group key)`, so the
//! result does not depend on the thread count or on how the table is chunked: a table
//! injected chunk by chunk equals the table injected whole.
//!
//! `spec.rs` holds the [`Anomaly`] enum of the kinds, `value.rs` the literal values
//! contextual anomalies use; `kind.rs` what every kind answers (`AnomalyKind`), what a
//! kind that edits in place learns, plans and edits (`InPlaceKind`, `Learner`,
//! `InPlacePlan`), and [`pick_count`]; a file per kind its spec, its answers and its
//! kernel (`point.rs`,
//! `contextual.rs`, `collective.rs`); `kernels.rs` the edit they share and its Arrow
//! helpers; `registry.rs` the checks and the order edits apply in; `injector/` the
//! survey pass and the chunk-by-chunk injection (merged or placed).

mod collective;
mod contextual;
mod injector;
mod kernels;
mod kind;
mod point;
mod registry;
mod spec;
mod value;

pub use collective::CollectiveAnomaly;
pub use contextual::ContextualAnomaly;
pub(crate) use injector::{ColumnRead, Injector, Placement, Positioned};
pub use kind::pick_count;
pub use point::PointAnomaly;
pub use registry::{AnomalyRegistry, Injected};
pub use spec::Anomaly;
pub use value::Value;

pub use spindle_sinks::event::{ANOMALY_TYPE, IS_ANOMALY};
