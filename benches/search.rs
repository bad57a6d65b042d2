//! Search latency over a catalog, beside SQLite FTS5 over the same rows (issue 3: "1–3 word
//! queries with one filter: p50 ≤ 5 ms, p99 ≤ 25 ms").
//!
//! The catalog is an existing database (`catalog import DIR --db PATH`), named by
//! `CATALOG_BENCH_DB`; without it the bench says how to make one and exits. It is opened with
//! `Db::open` and its index with `SearchIndex::open` + `ensure_fresh` (which rebuilds a stale
//! index, as `catalog search` would); nothing else writes to it.
//!
//! 1. The baseline: every current tool (`Db::index_rows`, the rows the tantivy index is built
//!    from) goes into an FTS5 table in a separate SQLite file (a temp dir, or
//!    `SEARCH_BENCH_FTS_DB=PATH`, kept and reused while the catalog's generation and row count are
//!    the same). Indexed columns `name_words` (the name split into words, as the index does),
//!    `title`, `description`, `server_words`, and `filters` (one token per filter value:
//!    `zcdelete`, `zrhigh`, `zm0`..`zm3` for the levels at or below the risk, `zt<tag>`,
//!    `zs<server>`); unindexed `server`, `category`, `risk`, `risk_level`, `tags`, `tool_id`,
//!    `name`, `confidence`. Tokenizer `porter unicode61` (English stemming, like tantivy's
//!    `en_stem`); the table is optimized (one b-tree) after the build, and read with
//!    `mmap_size` = 4 GiB (tantivy reads its files through mmap too).
//! 2. The queries: `SEARCH_BENCH_QUERIES` (1,000) queries, deterministic (`SEARCH_BENCH_SEED`,
//!    1). Tools are sampled from the catalog (reservoir sampling); a query takes 1–3 consecutive
//!    words of a sampled tool's name (70%; without the server's own org prefix) or of its
//!    description (30%; words of 3+ letters, common English words dropped), and exactly one
//!    filter taken from the same tool, cycling category / risk / min-risk (a level at or below
//!    the tool's) / tag / server, so every query has at least one hit.
//! 3. Each query runs on tantivy (`SearchIndex::search`, limit 20: hits with stored fields and a
//!    description snippet) and twice on FTS5: `MATCH` of the quoted words ANDed over the four
//!    text columns, `ORDER BY bm25(..)` weighting `name_words` 4 and `title` 2 like the index's
//!    boosts, `LIMIT 20`, the same columns read and a `snippet()`; the filter either a `WHERE`
//!    condition on an unindexed column ("filter in WHERE": FTS5 reads each matching row to test
//!    it) or its token in `filters` ANDed into the `MATCH` ("filter as token"). One untimed
//!    warm-up pass (which also counts hits: all three should agree), then `SEARCH_BENCH_PASSES`
//!    (3) timed passes, the engines interleaved query by query (which goes first rotates).
//!    p50/p90/p99/max/mean per engine, per filter kind and per word count.
//! 4. Where tantivy's time goes: the same steps as `SearchIndex::search`, done here with tantivy's
//!    API and timed one by one (reader creation, query building, top-docs, snippet generator,
//!    stored-document fetches, snippets), and variants of the top-docs step (text alone, the
//!    filter as a `ConstScoreQuery`, a 2-thread executor), over the same queries.
//!    `SEARCH_BENCH_MERGED=1` repeats this on a copy of the index merged into one segment.
//! 5. The per-process path of `catalog search` (`Db::open`, `SearchIndex::open`, `ensure_fresh`,
//!    `search`, in-process, no process start), and `show`-like lookups (`Db::tool_view`,
//!    `Db::server_view`) for sampled tools.
//!
//! Run: `CATALOG_BENCH_DB=/path/c.db cargo bench --bench search`. See docs/search-benchmarks.md.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on the terminal")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use catalog::classify::features::push_words;
use catalog::model::Risk;
use catalog::store::{index_dir, Db, IndexRow, SearchIndex, SearchQuery};
use rusqlite::{params, Connection, OpenFlags};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument, Value};
use tantivy::{Index, IndexWriter, SnippetGenerator, Term};

const LIMIT: usize = 20;
const P50_TARGET_MS: f64 = 5.0;
const P99_TARGET_MS: f64 = 25.0;
const DEFAULT_QUERIES: usize = 1_000;
const DEFAULT_PASSES: usize = 3;
/// Queries timed through the whole per-process path, and tools looked up like `show`.
const PROCESS_SAMPLES: usize = 100;
const SHOW_SAMPLES: usize = 200;
/// Bumped when the FTS5 table's layout changes, so a kept `SEARCH_BENCH_FTS_DB` is rebuilt.
const FTS_LAYOUT: i64 = 2;

const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "that", "this", "are", "not", "you", "your", "can", "all", "any", "its",
    "into", "use", "used", "using", "will", "when", "which", "than", "then", "also", "only", "one", "each", "has",
    "have", "was", "were", "been", "but", "via", "per", "more", "most", "such", "other", "must", "should", "may",
    "etc", "returns", "return", "given", "based", "about", "default", "optional", "required", "true", "false", "null",
];

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

fn env_usize(name: &str, default: usize) -> Result<usize, BoxError> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|_| format!("{name} must be a number, found `{v}`").into()),
        Err(_) => Ok(default),
    }
}

fn run() -> Result<(), BoxError> {
    let Some(db_path) = std::env::var_os("CATALOG_BENCH_DB").map(PathBuf::from).filter(|p| p.is_file()) else {
        println!(
            "search bench: set CATALOG_BENCH_DB to a catalog database to measure (unset or missing; nothing measured).\n\
             make one at full scale (1,000,000 tools across 50,000 servers; ~1.5 GB of JSONL, ~4 GB of database and index):\n\
             \x20 python3 scripts/gen-catalog.py --servers 50000 --tools-per-server 20 --out /tmp/gen\n\
             \x20 cargo build --release && target/release/catalog import /tmp/gen --db /tmp/c.db\n\
             \x20 CATALOG_BENCH_DB=/tmp/c.db cargo bench --bench search"
        );
        return Ok(());
    };
    let queries_wanted = env_usize("SEARCH_BENCH_QUERIES", DEFAULT_QUERIES)?.max(1);
    let passes = env_usize("SEARCH_BENCH_PASSES", DEFAULT_PASSES)?.max(1);
    let seed = env_usize("SEARCH_BENCH_SEED", 1)? as u64;

    println!("date:    {}", date());
    println!("commit:  {}", commit());
    println!("machine: {}", machine());
    println!("idle?:   {} before the run", cpu_busy());
    println!("catalog: {}", db_path.display());

    // The catalog and its index.
    let db = Db::open(&db_path)?;
    let index = SearchIndex::open(&db)?;
    let started = Instant::now();
    if index.ensure_fresh(&db)? {
        println!("index:   was stale or missing; rebuilt in {:.1} s", started.elapsed().as_secs_f64());
    } else {
        println!("index:   fresh ({})", index_dir(&db_path).display());
    }
    let generation = db.generation()?;

    // The FTS5 baseline, and the sampled tools, from the same rows.
    let kept = std::env::var_os("SEARCH_BENCH_FTS_DB").map(PathBuf::from);
    let temp = match kept {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let fts_path = match (&kept, &temp) {
        (Some(p), _) => p.clone(),
        (None, Some(t)) => t.path().join("fts.db"),
        (None, None) => unreachable!("a temp dir is made when no path is kept"),
    };
    let mut sampler = Sampler::new((queries_wanted * 4).max(SHOW_SAMPLES), seed);
    let mut fts = Fts::open(&fts_path)?;
    let started = Instant::now();
    let rows = if fts.is_current(&db_path, generation)? {
        let mut rows = 0u64;
        db.index_rows(None, &mut |row| {
            rows += 1;
            sampler.offer(&row);
        })?;
        if fts.rows()? != rows {
            return Err(format!("{} is stale: remove it", fts_path.display()).into());
        }
        println!(
            "fts5:    reused {} ({rows} rows; sampled the catalog in {:.1} s)",
            fts_path.display(),
            started.elapsed().as_secs_f64()
        );
        rows
    } else {
        let rows = fts.build(&db, &db_path, generation, &mut sampler)?;
        println!(
            "fts5:    built {} from {rows} rows in {:.1} s ({:.0} MB)",
            fts_path.display(),
            started.elapsed().as_secs_f64(),
            std::fs::metadata(&fts_path).map_or(0.0, |m| m.len() as f64 / 1e6)
        );
        rows
    };
    fts.prepare_for_reading()?;
    let index_bytes = dir_bytes(&index_dir(&db_path));
    println!("sizes:   tantivy index {:.0} MB, FTS5 file {:.0} MB", index_bytes as f64 / 1e6, {
        std::fs::metadata(&fts_path).map_or(0.0, |m| m.len() as f64 / 1e6)
    });

    let samples = sampler.into_samples();
    if samples.is_empty() {
        return Err("the catalog has no tools".into());
    }
    let queries = make_queries(&samples, queries_wanted, seed);
    println!(
        "queries: {} ({} timed passes; limit {LIMIT}); e.g. {}",
        queries.len(),
        passes,
        queries.iter().take(5).map(Bench::describe).collect::<Vec<_>>().join(", ")
    );

    // Warm-up: every query once on each engine, untimed; also checks they agree on hit counts.
    let engines = [Engine::Tantivy, Engine::FtsWhere, Engine::FtsToken];
    let run_one = |engine: Engine, q: &Bench| -> Result<usize, BoxError> {
        match engine {
            Engine::Tantivy => Ok(index.search(&q.search_query())?.len()),
            Engine::FtsWhere => fts.search(q, false),
            Engine::FtsToken => fts.search(q, true),
        }
    };
    let mut hits: Vec<Vec<usize>> = vec![Vec::with_capacity(queries.len()); engines.len()];
    for q in &queries {
        for (e, engine) in engines.iter().enumerate() {
            hits[e].push(run_one(*engine, q)?);
        }
    }
    let agree = |e: usize| hits[0].iter().zip(&hits[e]).filter(|(t, f)| t == f).count();

    println!("\nidle?:   {} before the timed passes", cpu_busy());
    let mut times: Vec<Vec<(usize, f64)>> = vec![Vec::with_capacity(queries.len() * passes); engines.len()];
    for pass in 0..passes {
        for (i, q) in queries.iter().enumerate() {
            // Interleaved query by query; which engine goes first rotates.
            for k in 0..engines.len() {
                let e = (i + pass + k) % engines.len();
                let start = Instant::now();
                black_box(run_one(engines[e], q)?);
                times[e].push((i, ms(start.elapsed())));
            }
        }
    }
    println!("idle?:   {} after the timed passes", cpu_busy());

    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    let zero = |v: &[usize]| v.iter().filter(|&&n| n == 0).count();
    println!(
        "\n== search latency, {} tools across {} servers, {} queries x {passes} passes ==",
        rows,
        db_servers(&db_path)?,
        queries.len()
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7}",
        "engine", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "mean hits", "0 hits"
    );
    let stats: Vec<Stats> = times.iter().map(|t| Stats::of(&t.iter().map(|&(_, m)| m).collect::<Vec<_>>())).collect();
    for (e, engine) in engines.iter().enumerate() {
        println!("{:<22} {} {:>10.2} {:>7}", engine.label(), stats[e].row(), mean(&hits[e]), zero(&hits[e]));
    }
    for (e, engine) in engines.iter().enumerate().skip(1) {
        println!(
            "{}: hit counts equal to tantivy's on {} of {} queries; p50 {:.1}x, p99 {:.1}x tantivy's",
            engine.label(),
            agree(e),
            queries.len(),
            stats[e].p50 / stats[0].p50,
            stats[e].p99 / stats[0].p99
        );
    }

    println!("\nby filter (p50 / p99 ms):");
    breakdown(&queries, &engines, &times, |q| q.filter.kind().to_string());
    println!("by word count (p50 / p99 ms):");
    breakdown(&queries, &engines, &times, |q| format!("{} word{}", q.words.len(), plural(q.words.len())));

    let slow: Vec<String> = {
        let mut worst: Vec<(usize, f64)> = times[0].clone();
        worst.sort_by(|a, b| b.1.total_cmp(&a.1));
        worst.dedup_by_key(|w| w.0);
        worst.iter().take(5).map(|&(i, m)| format!("{:.2} ms {}", m, queries[i].describe())).collect()
    };
    println!("slowest tantivy queries: {}", slow.join("; "));

    // Where tantivy's time goes.
    println!("\n== tantivy, step by step (the steps of SearchIndex::search, timed here; mean / p50 / p99 ms) ==");
    match Steps::open(&index_dir(&db_path)) {
        Ok(steps) => steps.report(&queries, passes)?,
        Err(e) => println!("skipped: {e}"),
    }
    if std::env::var_os("SEARCH_BENCH_MERGED").is_some_and(|v| v == "1") {
        let dir = tempfile::tempdir()?;
        let started = Instant::now();
        merged_copy(&index_dir(&db_path), dir.path())?;
        println!(
            "\n== tantivy, step by step, on a copy of the index merged into one segment (merged in {:.1} s) ==",
            started.elapsed().as_secs_f64()
        );
        Steps::open(dir.path())?.report(&queries, passes)?;
    }

    // The per-process path: what one `catalog search` does once the process has started.
    println!("\n== per-process path: Db::open + SearchIndex::open + ensure_fresh + search (ms) ==");
    let mut process = Vec::new();
    for q in queries.iter().take(PROCESS_SAMPLES) {
        let start = Instant::now();
        let db = Db::open(&db_path)?;
        let index = SearchIndex::open(&db)?;
        index.ensure_fresh(&db)?;
        black_box(index.search(&q.search_query())?);
        process.push(ms(start.elapsed()));
    }
    println!("{:<14} {}", "", Stats::header());
    println!("{:<14} {}", "open+search", Stats::of(&process).row());

    println!("\n== show-like lookups over {} sampled tools (ms) ==", SHOW_SAMPLES.min(samples.len()));
    let mut tool_ms = Vec::new();
    let mut server_ms = Vec::new();
    for s in samples.iter().take(SHOW_SAMPLES) {
        let start = Instant::now();
        let found = db.tool_view(&s.server, &s.name)?.is_some();
        tool_ms.push(ms(start.elapsed()));
        if !found {
            return Err(format!("show {} {}: not found", s.server, s.name).into());
        }
        let start = Instant::now();
        black_box(db.server_view(&s.server)?);
        server_ms.push(ms(start.elapsed()));
    }
    println!("{:<14} {}", "", Stats::header());
    println!("{:<14} {}", "tool_view", Stats::of(&tool_ms).row());
    println!("{:<14} {}", "server_view", Stats::of(&server_ms).row());

    println!("\n== targets (tantivy, 1–3 words + one filter) ==");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let t = &stats[0];
    println!("p50 {:.2} ms <= {P50_TARGET_MS} ms: {}", t.p50, verdict(t.p50 <= P50_TARGET_MS));
    println!("p99 {:.2} ms <= {P99_TARGET_MS} ms: {}", t.p99, verdict(t.p99 <= P99_TARGET_MS));
    for (e, engine) in engines.iter().enumerate().skip(1) {
        println!("(baseline {}: p50 {:.2} ms, p99 {:.2} ms)", engine.label(), stats[e].p50, stats[e].p99);
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn breakdown(queries: &[Bench], engines: &[Engine], times: &[Vec<(usize, f64)>], key: impl Fn(&Bench) -> String) {
    let mut groups: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for (e, t) in times.iter().enumerate() {
        for &(i, m) in t {
            groups.entry(key(&queries[i])).or_insert_with(|| vec![Vec::new(); engines.len()])[e].push(m);
        }
    }
    let mut head = format!("  {:<10} {:>6}", "", "runs");
    for engine in engines {
        let _ = write!(head, "  {:>22}", engine.label());
    }
    println!("{head}");
    for (k, per_engine) in &groups {
        let mut line = format!("  {:<10} {:>6}", k, per_engine[0].len());
        for v in per_engine {
            let st = Stats::of(v);
            let _ = write!(line, "  {:>22}", format!("{:.2} / {:.2}", st.p50, st.p99));
        }
        println!("{line}");
    }
}

/// The engines timed side by side.
#[derive(Clone, Copy)]
enum Engine {
    Tantivy,
    /// FTS5, the filter a `WHERE` condition on an unindexed column.
    FtsWhere,
    /// FTS5, the filter a token of an indexed `filters` column, matched with the words.
    FtsToken,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Engine::Tantivy => "tantivy",
            Engine::FtsWhere => "fts5 (filter in WHERE)",
            Engine::FtsToken => "fts5 (filter as token)",
        }
    }
}

/// Latency percentiles (nearest rank), in ms.
struct Stats {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let pick = |p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1]
        };
        let mean = if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
        Stats { p50: pick(0.50), p90: pick(0.90), p99: pick(0.99), max: pick(1.0), mean }
    }

    fn header() -> String {
        format!("{:>9} {:>9} {:>9} {:>9} {:>9}", "p50", "p90", "p99", "max", "mean")
    }

    fn row(&self) -> String {
        format!("{:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}", self.p50, self.p90, self.p99, self.max, self.mean)
    }
}

// ------------------------------------------------------------------------------------------------
// Sampling and queries.

/// splitmix64: small, deterministic, good enough for sampling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A sampled tool: what queries and lookups are made of.
#[derive(Clone)]
struct Sample {
    server: String,
    name: String,
    description: String,
    category: String,
    risk: String,
    tags: String,
}

/// Reservoir sampling over the rows, in the order `index_rows` gives them.
struct Sampler {
    capacity: usize,
    seen: usize,
    rng: Rng,
    samples: Vec<Sample>,
}

impl Sampler {
    fn new(capacity: usize, seed: u64) -> Sampler {
        Sampler { capacity, seen: 0, rng: Rng(seed), samples: Vec::with_capacity(capacity) }
    }

    fn offer(&mut self, row: &IndexRow) {
        self.seen += 1;
        let slot = if self.samples.len() < self.capacity {
            None
        } else {
            let j = self.rng.below(self.seen);
            if j >= self.capacity {
                return;
            }
            Some(j)
        };
        let sample = Sample {
            server: row.server.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            category: row.category.clone(),
            risk: row.risk.clone(),
            tags: row.tags.clone(),
        };
        match slot {
            Some(j) => self.samples[j] = sample,
            None => self.samples.push(sample),
        }
    }

    fn into_samples(self) -> Vec<Sample> {
        self.samples
    }
}

#[derive(Clone, Debug)]
enum Filter {
    Category(String),
    Risk(Risk),
    MinRisk(Risk),
    Tag(String),
    Server(String),
}

impl Filter {
    fn kind(&self) -> &'static str {
        match self {
            Filter::Category(_) => "category",
            Filter::Risk(_) => "risk",
            Filter::MinRisk(_) => "min-risk",
            Filter::Tag(_) => "tag",
            Filter::Server(_) => "server",
        }
    }
}

/// One benchmark query: words (already split and lowercased) and one filter.
struct Bench {
    words: Vec<String>,
    filter: Filter,
}

impl Bench {
    fn text(&self) -> String {
        self.words.join(" ")
    }

    fn describe(&self) -> String {
        let value = match &self.filter {
            Filter::Category(v) | Filter::Tag(v) | Filter::Server(v) => v.clone(),
            Filter::Risk(r) | Filter::MinRisk(r) => r.as_str().to_string(),
        };
        format!("\"{}\" --{} {}", self.text(), self.filter.kind(), value)
    }

    fn search_query(&self) -> SearchQuery {
        let mut q = SearchQuery { text: self.text(), limit: LIMIT, ..SearchQuery::default() };
        match &self.filter {
            Filter::Category(c) => q.category = Some(c.clone()),
            Filter::Risk(r) => q.risk = Some(*r),
            Filter::MinRisk(r) => q.min_risk = Some(*r),
            Filter::Tag(t) => q.tag = Some(t.clone()),
            Filter::Server(s) => q.server = Some(s.clone()),
        }
        q
    }
}

fn words_of(text: &str) -> Vec<String> {
    let mut out = String::new();
    push_words(&mut out, text, ' ');
    out.split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Words a person would type: letters (digits allowed inside), 2–30 long for names, 3–30 and not
/// a common English word for descriptions.
fn usable(word: &str, min: usize) -> bool {
    (min..=30).contains(&word.chars().count())
        && word.chars().all(char::is_alphanumeric)
        && word.chars().next().is_some_and(char::is_alphabetic)
}

fn make_queries(samples: &[Sample], count: usize, seed: u64) -> Vec<Bench> {
    let mut rng = Rng(seed ^ 0x5EA2_C4B3_9E11_0001);
    let mut out = Vec::with_capacity(count);
    let mut attempts = 0;
    while out.len() < count && attempts < count * 50 {
        attempts += 1;
        let kind = out.len() % 5;
        let s = &samples[rng.below(samples.len())];
        if kind == 3 && s.tags.split_whitespace().next().is_none() {
            continue;
        }
        // The server's own word (the generated org, `zorvex` in `zorvex_clone`) is left out of
        // name words: a person searching the catalog types what a tool does.
        let org = words_of(&s.server).into_iter().next().unwrap_or_default();
        let name_words: Vec<String> = words_of(&s.name).into_iter().filter(|w| *w != org && usable(w, 2)).collect();
        let desc_words: Vec<String> = s
            .description
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            .filter(|w| usable(w, 3) && !STOP_WORDS.contains(&w.as_str()))
            .take(40)
            .collect();
        let k = 1 + rng.below(3);
        let from_name = rng.below(10) < 7;
        let source = match (from_name && !name_words.is_empty(), desc_words.is_empty()) {
            (true, _) | (false, true) => &name_words,
            (false, false) => &desc_words,
        };
        if source.is_empty() {
            continue;
        }
        let k = k.min(source.len());
        let start = rng.below(source.len() - k + 1);
        let mut words: Vec<String> = source[start..start + k].to_vec();
        words.dedup();
        let Ok(risk) = s.risk.parse::<Risk>() else { continue };
        let filter = match kind {
            0 => Filter::Category(s.category.clone()),
            1 => Filter::Risk(risk),
            2 => Filter::MinRisk(Risk::ALL[rng.below(risk as usize + 1)]),
            3 => {
                let tags: Vec<&str> = s.tags.split_whitespace().collect();
                Filter::Tag(tags[rng.below(tags.len())].to_string())
            }
            _ => Filter::Server(s.server.clone()),
        };
        out.push(Bench { words, filter });
    }
    out
}

// ------------------------------------------------------------------------------------------------
// The FTS5 baseline.

struct Fts {
    conn: Connection,
}

impl Fts {
    fn open(path: &Path) -> Result<Fts, BoxError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bench_stamp (layout INTEGER, catalog TEXT, generation INTEGER, rows INTEGER);",
        )?;
        Ok(Fts { conn })
    }

    fn is_current(&self, catalog: &Path, generation: i64) -> Result<bool, BoxError> {
        let found: Option<(i64, String, i64)> = self
            .conn
            .query_row("SELECT layout, catalog, generation FROM bench_stamp", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .ok();
        Ok(found == Some((FTS_LAYOUT, absolute(catalog), generation)))
    }

    fn rows(&self) -> Result<u64, BoxError> {
        Ok(self.conn.query_row("SELECT rows FROM bench_stamp", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn build(&mut self, db: &Db, catalog: &Path, generation: i64, sampler: &mut Sampler) -> Result<u64, BoxError> {
        self.conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             DELETE FROM bench_stamp;
             DROP TABLE IF EXISTS tools_fts;
             CREATE VIRTUAL TABLE tools_fts USING fts5(
                 name_words, title, description, server_words, filters,
                 server UNINDEXED, category UNINDEXED, risk UNINDEXED, risk_level UNINDEXED, tags UNINDEXED,
                 tool_id UNINDEXED, name UNINDEXED, confidence UNINDEXED,
                 tokenize = 'porter unicode61'
             );",
        )?;
        let tx = self.conn.transaction()?;
        let mut rows = 0u64;
        let mut failed: Option<rusqlite::Error> = None;
        {
            let mut insert = tx.prepare(
                "INSERT INTO tools_fts (name_words, title, description, server_words, filters, server, category,
                                        risk, risk_level, tags, tool_id, name, confidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut name_words = String::new();
            let mut server_words = String::new();
            let mut filters = String::new();
            db.index_rows(None, &mut |row| {
                sampler.offer(&row);
                if failed.is_some() {
                    return;
                }
                name_words.clear();
                push_words(&mut name_words, &row.name, ' ');
                server_words.clear();
                push_words(&mut server_words, &row.server, ' ');
                let level = row.risk.parse::<Risk>().map_or(0, |r| r as i64);
                filters.clear();
                let _ = write!(filters, "{} {}", filter_token("zc", &row.category), filter_token("zr", &row.risk));
                for l in 0..=level {
                    let _ = write!(filters, " zm{l}");
                }
                for tag in row.tags.split_whitespace() {
                    let _ = write!(filters, " {}", filter_token("zt", tag));
                }
                let _ = write!(filters, " {}", filter_token("zs", &row.server));
                match insert.execute(params![
                    name_words,
                    row.title,
                    row.description,
                    server_words,
                    filters,
                    row.server,
                    row.category,
                    row.risk,
                    level,
                    row.tags,
                    row.tool_id,
                    row.name,
                    row.confidence
                ]) {
                    Ok(_) => rows += 1,
                    Err(e) => failed = Some(e),
                }
            })?;
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        tx.execute("INSERT INTO tools_fts (tools_fts) VALUES ('optimize')", [])?;
        tx.execute(
            "INSERT INTO bench_stamp (layout, catalog, generation, rows) VALUES (?1, ?2, ?3, ?4)",
            params![FTS_LAYOUT, absolute(catalog), generation, rows as i64],
        )?;
        tx.commit()?;
        Ok(rows)
    }

    /// Read-only from here on, through mmap like tantivy.
    fn prepare_for_reading(&mut self) -> Result<(), BoxError> {
        let path = self.conn.path().map(PathBuf::from).ok_or("the FTS5 database has no path")?;
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.pragma_update(None, "mmap_size", 4i64 << 30)?;
        self.conn = conn;
        Ok(())
    }

    /// Runs the query like `SearchIndex::search` does (the same columns read and a snippet);
    /// returns the number of hits. The filter is a `WHERE` condition on an unindexed column, or
    /// (`as_token`) a token of the indexed `filters` column matched with the words (and checked
    /// exactly in `WHERE` where tokens could collide: tags, servers).
    fn search(&self, q: &Bench, as_token: bool) -> Result<usize, BoxError> {
        let mut words = String::new();
        push_words(&mut words, &q.text(), ' ');
        let mut expr = String::from("{name_words title description server_words} : (");
        for (i, w) in words.split(' ').filter(|w| !w.is_empty()).enumerate() {
            if i > 0 {
                expr.push_str(" AND ");
            }
            let _ = write!(expr, "\"{}\"", w.replace('"', "\"\""));
        }
        expr.push(')');
        let (condition, value): (&str, rusqlite::types::Value) = match (&q.filter, as_token) {
            (Filter::Category(c), false) => ("category = ?2", c.clone().into()),
            (Filter::Risk(r), false) => ("risk = ?2", r.as_str().to_string().into()),
            (Filter::MinRisk(r), false) => ("risk_level >= ?2", (*r as i64).into()),
            (Filter::Tag(t), _) => ("instr(' ' || tags || ' ', ' ' || ?2 || ' ') > 0", t.clone().into()),
            (Filter::Server(s), _) => ("server = ?2", s.clone().into()),
            (_, true) => ("?2 IS NOT NULL", 1i64.into()),
        };
        if as_token {
            let token = match &q.filter {
                Filter::Category(c) => filter_token("zc", c),
                Filter::Risk(r) => filter_token("zr", r.as_str()),
                Filter::MinRisk(r) => format!("zm{}", *r as i64),
                Filter::Tag(t) => filter_token("zt", t),
                Filter::Server(s) => filter_token("zs", s),
            };
            let _ = write!(expr, " AND filters : \"{token}\"");
        }
        let sql = format!(
            "SELECT tool_id, server, name, category, risk, tags, confidence,
                    snippet(tools_fts, 2, '[[', ']]', '…', 16)
             FROM tools_fts WHERE tools_fts MATCH ?1 AND {condition}
             ORDER BY bm25(tools_fts, 4.0, 2.0, 1.0, 1.0, 0.0) LIMIT {LIMIT}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![expr, value])?;
        let mut hits = 0;
        while let Some(r) = rows.next()? {
            let hit = (
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?.split_whitespace().map(str::to_string).collect::<Vec<_>>(),
                r.get::<_, f64>(6)?,
                r.get::<_, String>(7)?,
            );
            black_box(hit);
            hits += 1;
        }
        Ok(hits)
    }
}

/// One word for a filter value in the `filters` column: a prefix and the value's letters and
/// digits (`zs` + `flouziok-desktop-mcp` → `zsflouziokdesktopmcp`).
fn filter_token(prefix: &str, value: &str) -> String {
    let mut t = String::with_capacity(prefix.len() + value.len());
    t.push_str(prefix);
    t.extend(value.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase));
    t
}

fn absolute(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn db_servers(path: &Path) -> Result<i64, BoxError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("SELECT count(DISTINCT server_id) FROM tools WHERE removed_at IS NULL", [], |r| r.get(0))?)
}

// ------------------------------------------------------------------------------------------------
// Tantivy step by step.

/// The index opened directly, to time the steps `SearchIndex::search` takes.
struct Steps {
    index: Index,
    f: StepFields,
}

#[derive(Clone, Copy)]
struct StepFields {
    name: Field,
    name_words: Field,
    title: Field,
    description: Field,
    server_text: Field,
    server: Field,
    category: Field,
    risk: Field,
    tags: Field,
}

/// What `Steps::once` measures, in order.
const STEP_NAMES: [&str; 11] = [
    "reader (index.reader() + searcher())",
    "query (QueryParser + parse + filter clauses)",
    "top docs (searcher.search, TopDocs 20)",
    "snippet generator (SnippetGenerator::create)",
    "doc fetch (searcher.doc, 20 docs)",
    "snippets (snippet_from_doc, 20 docs)",
    "total of the steps above",
    "variant: top docs, text alone (no filter)",
    "variant: top docs, filter as ConstScoreQuery",
    "variant: top docs, 2-thread executor",
    "docs matching text + filter (count, not ms)",
];

impl Steps {
    fn open(dir: &Path) -> Result<Steps, BoxError> {
        let index = Index::open_in_dir(dir)?;
        let schema = index.schema();
        let field = |n: &str| schema.get_field(n).map_err(|e| format!("the index has no field {n}: {e}"));
        let f = StepFields {
            name: field("name")?,
            name_words: field("name_words")?,
            title: field("title")?,
            description: field("description")?,
            server_text: field("server_text")?,
            server: field("server")?,
            category: field("category")?,
            risk: field("risk")?,
            tags: field("tags")?,
        };
        field("risk_level")?;
        Ok(Steps { index, f })
    }

    fn segments(&self) -> usize {
        self.index.searchable_segment_ids().map_or(0, |ids| ids.len())
    }

    fn report(&self, queries: &[Bench], passes: usize) -> Result<(), BoxError> {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); STEP_NAMES.len()];
        let shared = self.index.reader()?;
        let executor = tantivy::Executor::multi_thread(2, "bench-search-")?;
        for pass in 0..=passes {
            for q in queries {
                let t = self.once(q, &shared, &executor)?;
                if pass > 0 {
                    for (i, v) in t.iter().enumerate() {
                        times[i].push(*v);
                    }
                }
            }
        }
        println!("  {:<46} {:>8} {:>8} {:>8}", format!("({} segments)", self.segments()), "mean", "p50", "p99");
        for (name, t) in STEP_NAMES.iter().zip(&times) {
            let s = Stats::of(t);
            if name.starts_with("docs matching") {
                println!("  {:<46} {:>8.0} {:>8.0} {:>8.0}", name, s.mean, s.p50, s.p99);
            } else {
                println!("  {:<46} {:>8.3} {:>8.3} {:>8.3}", name, s.mean, s.p50, s.p99);
            }
        }
        Ok(())
    }

    /// One query, timed step by step (ms), as `SearchIndex::search` does it (at the time of
    /// writing): the reader creation is timed on its own (`SearchIndex::search` created one per
    /// call until it kept one), then a shared reader is used; then variants of the top-docs step.
    fn once(
        &self,
        q: &Bench,
        shared: &tantivy::IndexReader,
        executor: &tantivy::Executor,
    ) -> Result<[f64; STEP_NAMES.len()], BoxError> {
        let f = self.f;
        let mut t = [0.0; STEP_NAMES.len()];
        let start = Instant::now();
        let reader = self.index.reader()?;
        black_box(reader.searcher());
        drop(reader);
        t[0] = ms(start.elapsed());
        let searcher = shared.searcher();

        let start = Instant::now();
        let mut parser = QueryParser::for_index(&self.index, vec![f.name_words, f.title, f.description, f.server_text]);
        parser.set_field_boost(f.name_words, 4.0);
        parser.set_field_boost(f.title, 2.0);
        parser.set_conjunction_by_default();
        let mut words = String::new();
        push_words(&mut words, &q.text(), ' ');
        let text_query = parser.parse_query(&words)?;
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let filter: Box<dyn Query> = match &q.filter {
            Filter::Category(c) => term(f.category, c),
            Filter::Risk(r) => term(f.risk, r.as_str()),
            Filter::Server(s) => term(f.server, s),
            Filter::Tag(tag) => term(f.tags, tag),
            Filter::MinRisk(min) => Box::new(RangeQuery::new_u64_bounds(
                "risk_level".to_string(),
                Bound::Included(*min as u64),
                Bound::Included(Risk::Critical as u64),
            )),
        };
        let query = BooleanQuery::new(vec![(Occur::Must, text_query.box_clone()), (Occur::Must, filter.box_clone())]);
        t[1] = ms(start.elapsed());

        let collector = TopDocs::with_limit(LIMIT);
        let start = Instant::now();
        let top = searcher.search(&query, &collector)?;
        t[2] = ms(start.elapsed());

        let start = Instant::now();
        let generator = SnippetGenerator::create(&searcher, &*text_query, f.description)?;
        t[3] = ms(start.elapsed());

        let start = Instant::now();
        let docs: Vec<TantivyDocument> = top.iter().map(|(_, addr)| searcher.doc(*addr)).collect::<Result<_, _>>()?;
        t[4] = ms(start.elapsed());

        let start = Instant::now();
        for doc in &docs {
            let s = generator.snippet_from_doc(doc);
            black_box((s.fragment().len(), s.highlighted().len()));
            black_box(doc.get_first(f.name).and_then(|v| v.as_str()));
        }
        t[5] = ms(start.elapsed());
        t[6] = t[..6].iter().sum();

        let start = Instant::now();
        black_box(searcher.search(&*text_query, &collector)?);
        t[7] = ms(start.elapsed());

        let constant = BooleanQuery::new(vec![
            (Occur::Must, text_query.box_clone()),
            (Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))),
        ]);
        let start = Instant::now();
        black_box(searcher.search(&constant, &collector)?);
        t[8] = ms(start.elapsed());

        let start = Instant::now();
        let scoring = EnableScoring::enabled_from_searcher(&searcher);
        black_box(searcher.search_with_executor(&query, &collector, executor, scoring)?);
        t[9] = ms(start.elapsed());

        t[10] = searcher.search(&query, &Count)? as f64;
        Ok(t)
    }
}

/// Copies the index into `into` and merges its segments into one (what a `rebuild` that ends
/// with a merge would leave).
fn merged_copy(from: &Path, into: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(into)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && !name.to_string_lossy().ends_with(".lock") {
            std::fs::copy(entry.path(), into.join(&name))?;
        }
    }
    let index = Index::open_in_dir(into)?;
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 64 << 20)?;
    let ids = index.searchable_segment_ids()?;
    if ids.len() > 1 {
        writer.merge(&ids).wait()?;
    }
    writer.wait_merging_threads()?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// The run's context.

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn commit() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(c) => match git(&["status", "--porcelain", "--", "src", "rules", "Cargo.toml", "Cargo.lock"]) {
            Some(s) if !s.is_empty() => format!("{c} with uncommitted changes to src/, rules/ or Cargo"),
            _ => c,
        },
        None => "not a git checkout".to_string(),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores, {cpu}")
}

/// How busy all cores were over one second (from /proc/stat).
fn cpu_busy() -> String {
    let snap = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        Some((v.iter().sum(), v.get(3)? + v.get(4)?))
    };
    let Some((t0, i0)) = snap() else { return "unknown".to_string() };
    std::thread::sleep(Duration::from_secs(1));
    let Some((t1, i1)) = snap() else { return "unknown".to_string() };
    let busy = 100.0 * (1.0 - (i1 - i0) as f64 / (t1 - t0).max(1) as f64);
    format!("{busy:.0}% of all cores busy over 1 s")
}
