//! Any data model: the `.spindle.json` schema format of the reference (`sqllocks-spindle`)
//! as a [`Domain`], generated column by column as Arrow arrays with the same
//! counter-based randomness as Retail (every value a function of seed, table, column
//! and row), so chunks, threads and parts never change a byte.
//!
//! # Examples
//! ```
//! use spindle_gen::{Domain, Scale, Spindle, schema::SchemaDomain};
//! let text = r#"{
//!   "model": {"name": "shop", "date_range": {"start": "2024-01-01", "end": "2024-12-31"}},
//!   "tables": {
//!     "customer": {"primary_key": ["customer_id"], "columns": {
//!       "customer_id": {"type": "integer", "generator": {"strategy": "sequence"}},
//!       "name": {"type": "string", "generator": {"strategy": "faker", "provider": "name"}}}},
//!     "order": {"primary_key": ["order_id"], "columns": {
//!       "order_id": {"type": "integer", "generator": {"strategy": "sequence"}},
//!       "customer_id": {"type": "integer", "generator": {"strategy": "foreign_key", "ref": "customer.customer_id"}},
//!       "total": {"type": "decimal", "scale": 2, "generator": {"strategy": "distribution", "distribution": "log_normal", "mean": 4, "sigma": 0.5}}}}
//!   },
//!   "generation": {"scales": {"small": {"customer": 100}},
//!                  "derived_counts": {"order": {"per_parent": "customer", "ratio": 3}}}
//! }"#;
//! let domain = SchemaDomain::from_json(text, None).unwrap();
//! let result = Spindle::generate(&domain, Scale::Small, 42).unwrap();
//! assert_eq!(result.table("order").unwrap().num_rows(), 300);
//! ```

mod builtin;
pub mod dataset;
mod domain;
mod error;
mod eval;
pub mod formula;
pub mod layout;
pub mod model;
pub mod parse;
mod rules;
mod strategy;
mod words;

pub use builtin::{built_in, built_in_named, built_in_names};
pub use domain::{SchemaDomain, SchemaPlan, is_schema_path};
pub use error::{SchemaError, SchemaErrors};
pub use eval::SMALL_TABLE_ROWS;
