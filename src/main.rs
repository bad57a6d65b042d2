//! The `catalog` binary: everything lives in the library; this only hands over the exit code.

/// mimalloc (see Cargo.toml): faster than the system allocator for the many small per-tool
/// allocations made on every core.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    catalog::cli::main()
}
