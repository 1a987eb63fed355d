//! Spindle's data generator: synthetic relational tables as Arrow RecordBatches.
//!
//! Generation is deterministic (a function of seed and scale), chunked (any range of
//! rows can be produced on its own) and parallel (chunks run on rayon; output order is
//! fixed by chunk index, never by thread timing).
//!
//! # Examples
//! ```
//! use spindle_gen::{RetailDomain, Scale, Spindle};
//! let result = Spindle::generate(&RetailDomain::new(), Scale::Small, 42).unwrap();
//! assert_eq!(result.table("order").unwrap().num_rows(), 5_000);
//! assert_eq!(result.total_rows(), 21_750);
//! ```

mod chunks;
pub mod dist;
mod domain;
mod error;
mod generate;
pub mod reference;
mod registry;
mod report;
mod retail;
pub mod rng;
mod scale;
pub mod schema;

pub use chunks::{
    ChunkStream, DEFAULT_CHUNK_UNITS, InFlight, Partition, Pending, chunk_ranges, driver_groups,
};
pub use domain::{Domain, DomainPlan, TableSpec};
pub use error::{Error, Result};
pub use generate::{GenerationResult, Spindle, summary_line};
pub use registry::{domain_by_name, domain_names, domains};
pub use report::thousands;
pub use retail::RetailDomain;
pub use scale::{Counts, Scale};
