//! No code: this crate only depends, with the union of the features the workspace
//! uses, on the crates that members build with different features (see Cargo.toml).
