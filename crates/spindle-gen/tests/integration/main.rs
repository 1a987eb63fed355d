//! The integration tests of `spindle-gen`, one test binary (one link of arrow and parquet
//! instead of one per file): each file beside this one is a module.

mod rules;
mod schema_domains;
mod schema_errors;
mod schema_fuzz;
