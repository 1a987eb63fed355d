//! The integration tests of `spindle-py`, one test binary (one link of arrow and parquet
//! instead of one per file): each file beside this one is a module.

mod python;
