//! Empty: a build script makes cargo resolve this crate's build-dependencies.

fn main() {}
