//! Classifier throughput over real tool records.
//!
//! The records are the devset's 928 real tools (`../shared/data/devset.jsonl`, read as the
//! command line reads JSONL: annotations and sibling lists kept), cycled to 10,000 tools
//! (`CLASSIFY_BENCH_TOOLS` changes the count; `DEVSET=PATH` reads another devset). Two
//! benchmarks, both on one thread:
//!
//! - `classify/context_per_server`: the sibling contexts are built once per server (keyed by
//!   `sibling_key`) before the timed loop, which times `classify_in` alone: what
//!   `catalog classify` does per tool.
//! - `classify/context_per_tool`: `classify`, which builds the sibling context again for every
//!   tool: the worst case.
//!
//! Criterion reports the throughput in elements (tools) per second; after it, a plain timed pass
//! prints tools per second for each, best of three passes.
//!
//! The bench uses the binary's allocator (mimalloc).
//!
//! Run: `cargo bench --bench classify` (add a name to run one: `cargo bench --bench classify --
//! context_per_server`). Without the devset the bench says so and exits.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on the terminal")]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use catalog::classify::{load_default, sibling_key, RuleSet, SiblingContext};
use catalog::input::read_tools;
use catalog::model::ToolInput;
use criterion::{Criterion, SamplingMode, Throughput};

/// The allocator the `catalog` binary uses (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The devset, relative to the crate: `shared/` sits beside the repository.
const DEVSET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/devset.jsonl");
/// Tools per timed iteration unless `CLASSIFY_BENCH_TOOLS` says otherwise.
const DEFAULT_TOOLS: usize = 10_000;

/// What the benchmarks run over, built before any timing.
struct Workload {
    rules: RuleSet,
    /// The cycled tools, each with the index of its server's context in `contexts`.
    tools: Vec<(ToolInput, usize)>,
    contexts: Vec<SiblingContext>,
    /// Distinct devset records the cycle is made of.
    distinct: usize,
}

impl Workload {
    /// Reads the devset and builds the workload, or says why it cannot.
    fn load(count: usize) -> Result<Workload, String> {
        let custom = std::env::var_os("DEVSET");
        let path = custom.as_deref().map_or(Path::new(DEVSET), Path::new);
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the devset at {}: {e}\nthe classify benchmark needs shared/data/devset.jsonl beside the repository (or DEVSET=PATH)",
                path.display()
            )
        })?;
        let mut records = Vec::new();
        let summary = read_tools(&text, |_| {}, |tool, _| records.push(tool));
        if records.is_empty() {
            return Err(format!("no usable tools in {} ({} problems)", path.display(), summary.problems.len()));
        }
        let rules = load_default().map_err(|e| format!("the built-in rules do not load: {e}"))?;

        // One context per sibling set, built once, outside the timed loop.
        let mut index: HashMap<(Option<String>, Vec<String>), usize> = HashMap::new();
        let mut contexts = Vec::new();
        let keyed: Vec<usize> = records
            .iter()
            .map(|tool| {
                *index.entry(sibling_key(tool)).or_insert_with_key(|key| {
                    contexts.push(rules.sibling_context(&key.1));
                    contexts.len() - 1
                })
            })
            .collect();
        let tools = (0..count).map(|i| (records[i % records.len()].clone(), keyed[i % records.len()])).collect();
        Ok(Workload { rules, tools, contexts, distinct: records.len() })
    }

    /// One pass with the contexts built beforehand; returns a checksum so nothing is optimised away.
    fn pass_per_server(&self) -> usize {
        self.tools
            .iter()
            .map(|(tool, ctx)| black_box(self.rules.classify_in(tool, &self.contexts[*ctx])).reasons.len())
            .sum()
    }

    /// One pass that builds each tool's sibling context again.
    fn pass_per_tool(&self) -> usize {
        self.tools.iter().map(|(tool, _)| black_box(self.rules.classify(tool)).reasons.len()).sum()
    }
}

fn bench(c: &mut Criterion, w: &Workload) {
    let mut group = c.benchmark_group("classify");
    // One iteration classifies every tool of the workload: a flat sampling of few, long samples.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(w.tools.len() as u64));
    group.bench_function("context_per_server", |b| b.iter(|| w.pass_per_server()));
    group.bench_function("context_per_tool", |b| b.iter(|| w.pass_per_tool()));
    group.finish();
}

/// The best of three plain passes, as tools per second.
fn tools_per_second(count: usize, pass: impl Fn() -> usize) -> f64 {
    let best = (0..3)
        .map(|_| {
            let start = Instant::now();
            black_box(pass());
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    count as f64 / best.as_secs_f64()
}

/// The share of CPU time (all cores) that was not idle over one second, from `/proc/stat`.
fn cpu_busy() -> Option<f64> {
    fn snap() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> =
            stat.lines().next()?.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>().ok()?;
        Some((fields.iter().sum(), fields.get(3)? + fields.get(4)?))
    }
    let (total0, idle0) = snap()?;
    std::thread::sleep(Duration::from_secs(1));
    let (total1, idle1) = snap()?;
    let total = total1.checked_sub(total0).filter(|t| *t > 0)?;
    Some(100.0 * (1.0 - idle1.saturating_sub(idle0) as f64 / total as f64))
}

fn main() {
    let count = match std::env::var("CLASSIFY_BENCH_TOOLS") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("error: CLASSIFY_BENCH_TOOLS must be a positive number, found {v:?}");
                std::process::exit(2);
            }
        },
        Err(_) => DEFAULT_TOOLS,
    };
    let w = match Workload::load(count) {
        Ok(w) => w,
        Err(why) => {
            eprintln!("classify benchmark skipped: {why}");
            return;
        }
    };
    println!(
        "workload: {} tools cycled from {} devset records, {} sibling contexts built once per server",
        w.tools.len(),
        w.distinct,
        w.contexts.len()
    );

    // Other work on the machine skews the figures: say how busy the CPUs were just before.
    if let Some(busy) = cpu_busy() {
        println!("before the run: {busy:.0}% of all cores busy over 1 s");
    }

    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &w);
    c.final_summary();

    // `cargo test --benches` runs each benchmark once in test mode, and `--profile-time` is for a
    // profiler: no figures then.
    if std::env::args().any(|a| a == "--test" || a == "--list" || a.starts_with("--profile-time")) {
        return;
    }
    let n = w.tools.len();
    let per_server = tools_per_second(n, || w.pass_per_server());
    let per_tool = tools_per_second(n, || w.pass_per_tool());
    println!("\ntools per second on one core (best of 3 passes of {n} tools):");
    println!("  context_per_server (classify_in)        {per_server:>12.0} tools/s  {:>8.2} µs/tool", 1e6 / per_server);
    println!("  context_per_tool   (classify, worst)    {per_tool:>12.0} tools/s  {:>8.2} µs/tool", 1e6 / per_tool);
    let target = 200_000.0;
    let verdict = if per_server >= target { "met" } else { "NOT met" };
    println!("  target >= {target:.0} tools/s for classify_in: {verdict}");
}
