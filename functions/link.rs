//! Build script of the five functions (each Cargo.toml points here): link the Lambda binary as a
//! position-dependent executable (`-no-pie`) on Linux.
//!
//! A PIE carries a dynamic relocation for every pointer in its data (vtables, string tables):
//! ~52,000 of them, 1.2 MiB of `.rela.dyn` that the loader applies at every cold start, before
//! `main`. Linked at a fixed address, the linker resolves them once: the binary is about 1 MiB
//! smaller and starts ~0.5 ms sooner (docs/performance.md). The cost: the executable's own code
//! and data are not randomised (ASLR still moves the stack, heap and shared libraries).
//! `PPX_PIE=1` at build time keeps the default PIE.

fn main() {
    println!("cargo:rerun-if-env-changed=PPX_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var("PPX_PIE").as_deref() != Ok("1") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
