//! Mutation fuzzing on the stable toolchain: every reader of untrusted input (`catalog::fuzz`)
//! runs for `FUZZ_SECONDS` (default 1) per target on random mutations of a corpus of real server
//! outputs and files, checking that nothing panics and that no input makes a reader allocate more
//! than a bounded multiple of its size. Saved crashes under `tests/fixtures/fuzz/crashes/` are
//! replayed first, every run. `FUZZ_SEED` repeats a run.
//!
//! `scripts/fuzz.sh SECONDS` runs it longer, in release mode.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A test binary: its report is its output.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use catalog::fuzz::{Rng, Target};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Memory a case may take: this many times its input, plus a fixed allowance.
const MEMORY_FACTOR: usize = 64;
const MEMORY_BASE: usize = 16 << 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seeds of one target: real outputs recorded from servers, real config files, the real
/// registry data in `../shared`.
fn corpus(target: Target) -> Vec<Vec<u8>> {
    let fixtures = root().join("tests/fixtures");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dir = |d: &Path| {
        let mut found: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x != "md"))
            .collect();
        found.sort();
        files.extend(found);
    };
    match target {
        Target::Jsonrpc => dir(&fixtures.join("fuzz/jsonrpc")),
        Target::Sse => dir(&fixtures.join("fuzz/sse")),
        Target::ToolsPage | Target::ToolsList | Target::Scan => dir(&fixtures.join("crawled")),
        Target::Config => dir(&fixtures.join("sources")),
        Target::Registry => dir(&root().join("../shared/data/registry")),
    }
    let mut seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    if target == Target::ToolsList {
        seeds.extend(std::fs::read(fixtures.join("fuzz/jsonrpc/server-everything.stdout")));
    }
    assert!(!seeds.is_empty(), "no corpus for {}", target.name());
    seeds
}

const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\"name\"",
    b"\"tools\"",
    b"\"inputSchema\"",
    b"\"result\"",
    b"\"id\"",
    b"\"jsonrpc\":\"2.0\"",
    b"\"method\"",
    b"\"mcpServers\"",
    b"\"servers\"",
    b"\"packages\"",
    b"\"remotes\"",
    b"\"command\"",
    b"\"nextCursor\"",
    b"data: ",
    b"event: ",
    b": ping",
    b"//",
    b"/*",
    b"*/",
    b"\\u0000",
    b"\\ud800",
    b"1e999",
    b"-0",
    b"null",
    b"true",
    b"18446744073709551616",
    "\u{202e}".as_bytes(),
    "\u{feff}".as_bytes(),
];

/// One to four stacked mutations of `input`, sometimes spliced with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(10) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            3 => b.truncate(at),
            4 => {
                let n: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, n);
            }
            5 => {
                let start = rng.below(b.len() + 1);
                let end = (start + rng.below(256)).min(b.len());
                let copy = b[start..end].to_vec();
                b.splice(at..at, copy);
            }
            6 => {
                let depth = [100, 129, 1_000, 50_000][rng.below(4)];
                let open: &[u8] = if rng.below(2) == 0 { b"[" } else { b"{\"a\":" };
                b.splice(at..at, open.repeat(depth));
            }
            7 if rng.below(8) == 0 => {
                let len = [70_000, 1_000_000][rng.below(2)];
                let mut s = vec![b'"'];
                s.extend(std::iter::repeat_n(b'x', len));
                s.push(b'"');
                b.splice(at..at, s);
            }
            8 => {
                let from = rng.below(other.len() + 1);
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                if at < b.len() {
                    let end = (at + t.len()).min(b.len());
                    b.splice(at..end, t.iter().copied());
                }
            }
        }
    }
    b
}

/// What one target's run found.
#[derive(Default)]
struct Tally {
    cases: u64,
    records: u64,
    crashes: Vec<PathBuf>,
    /// The most any case allocated at once, and that case's input size.
    peak: (usize, usize),
}

/// Runs one case: a panic or an allocation over the bound is a crash, saved for replay.
fn case(target: Target, input: &[u8], tally: &mut Tally) {
    tally.cases += 1;
    GLOBAL.reset_peak_memory();
    let base = GLOBAL.get_peak_memory();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| target.run(input)));
    let used = GLOBAL.get_peak_memory().saturating_sub(base);
    let bound = MEMORY_FACTOR * input.len() + MEMORY_BASE;
    tally.peak = tally.peak.max((used, input.len()));
    let failed = match outcome {
        Ok(records) => {
            tally.records += records as u64;
            used > bound
        }
        Err(_) => true,
    };
    if failed {
        let dir = root().join("target/fuzz-crashes").join(target.name());
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("crash-{}.bin", tally.crashes.len()));
        std::fs::write(&path, input).unwrap();
        eprintln!("{}: a crash ({} bytes used of {bound} allowed), saved as {}", target.name(), used, path.display());
        tally.crashes.push(path);
    }
}

fn main() {
    let seconds: f64 = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    // Panics are expected findings: say them once each, as saved files, not as backtraces.
    panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    println!("fuzz: {seconds} s per target, FUZZ_SEED={seed}");
    println!("{:<11} {:>8} {:>10} {:>8} {:>22}", "target", "cases", "records", "crashes", "peak MiB (input MiB)");
    let mut crashed = Vec::new();
    for target in Target::ALL {
        let mut rng = Rng(seed ^ (target.name().len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut tally = Tally::default();
        let replay = root().join("tests/fixtures/fuzz/crashes").join(target.name());
        if let Ok(entries) = std::fs::read_dir(&replay) {
            for e in entries {
                case(target, &std::fs::read(e.unwrap().path()).unwrap(), &mut tally);
            }
        }
        let seeds = corpus(target);
        for s in &seeds {
            case(target, s, &mut tally);
        }
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < deadline {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, a, b);
            case(target, &input, &mut tally);
        }
        println!(
            "{:<11} {:>8} {:>10} {:>8} {:>13.1} ({:.2})",
            target.name(),
            tally.cases,
            tally.records,
            tally.crashes.len(),
            tally.peak.0 as f64 / (1 << 20) as f64,
            tally.peak.1 as f64 / (1 << 20) as f64,
        );
        crashed.extend(tally.crashes);
    }
    if !crashed.is_empty() {
        eprintln!(
            "fuzz: {} crash(es). Fix each, then move its file to tests/fixtures/fuzz/crashes/<target>/ so it is replayed on every run.",
            crashed.len()
        );
        std::process::exit(1);
    }
}
