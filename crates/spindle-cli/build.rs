//! Links the `spindle` executable at a fixed address (`-no-pie`). A position-independent
//! executable has its 4 MiB of `.data.rel.ro` rewritten by the loader at every start,
//! reading 5 MiB of relocations to do it: about 10 MiB of resident memory before any
//! work (`spindle --version`: 15.4 MiB as PIE, 5.8 MiB without), which is most of the
//! footprint of a small run. The cost is that the executable's own code is not placed
//! at a random address (shared libraries and the heap still are); the Python package, a
//! shared library, is not affected.

fn main() {
    // GNU and LLVM linkers on Linux take the flag; elsewhere the platform's default stays.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
