//! Integration tests for `catalog`: one test binary (as in rust-analyzer and ripgrep), with one
//! module per area. Most tests run the command line in-process through `run_with_args`; the ones
//! about exit codes, stderr and pipes run the real binary.

mod bad_input;
mod catalog;
mod classify;
mod crawl;
mod eval;
mod input;
mod kill;
mod launch;
mod mcp;
mod policy;
mod rules;
mod sandbox;
mod scan;
mod snapshots;
mod sources;
mod util;
