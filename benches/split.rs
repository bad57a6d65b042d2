//! The sequential start of `catalog classify --input FILE` on a big tools/list: finding the
//! records (`input::split`, one structural pass over the text) and the names of every tool
//! (`Split::names`, for the shared sibling context).
//!
//! The input is the file named by `SPLIT_BENCH_FILE`, or else a tools/list built in memory the
//! way `scripts/bench-classify-file.sh` builds its file: the devset's records
//! (`../shared/data/devset.jsonl`, or `DEVSET=PATH`) reduced to name, title, description,
//! inputSchema and annotations, cycled to `SPLIT_BENCH_TOOLS` (26,000) tools renamed per copy,
//! written with Python's `json.dump` separators. Two benchmarks, on one thread:
//!
//! - `split/split`: `input::split` of the whole text.
//! - `split/names`: `Split::names` of an already split text (decoding and deduplicating).
//!
//! Run: `cargo bench --bench split`. Without the devset (and no file) the bench says so and exits.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on the terminal")]

use std::hint::black_box;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use catalog::input;
use criterion::{Criterion, SamplingMode, Throughput};
use serde_json::{json, Map, Value};

/// The devset, relative to the crate: `shared/` sits beside the repository.
const DEVSET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/devset.jsonl");
/// Tools in the generated file unless `SPLIT_BENCH_TOOLS` says otherwise.
const DEFAULT_TOOLS: usize = 26_000;

/// Writes JSON with `", "` and `": "` between items, like Python's `json.dump`.
struct PythonStyle;

impl serde_json::ser::Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// The text to split: the named file, or a tools/list generated from the devset.
fn load() -> Result<(String, String), String> {
    if let Some(path) = std::env::var_os("SPLIT_BENCH_FILE") {
        let path = Path::new(&path);
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok((text, path.display().to_string()));
    }
    let count = match std::env::var("SPLIT_BENCH_TOOLS") {
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(format!("SPLIT_BENCH_TOOLS must be a positive number, found {v:?}"))?,
        Err(_) => DEFAULT_TOOLS,
    };
    let custom = std::env::var_os("DEVSET");
    let path = custom.as_deref().map_or(Path::new(DEVSET), Path::new);
    let devset = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read the devset at {}: {e} (set DEVSET=PATH or SPLIT_BENCH_FILE=PATH)", path.display())
    })?;
    let mut records = Vec::new();
    for line in devset.lines().filter(|l| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut tool = Map::new();
        tool.insert("name".into(), r["name"].clone());
        for (key, out_key) in [
            ("title", "title"),
            ("description", "description"),
            ("input_schema", "inputSchema"),
            ("annotations", "annotations"),
        ] {
            if !r[key].is_null() {
                tool.insert(out_key.into(), r[key].clone());
            }
        }
        tool.entry("inputSchema").or_insert_with(|| json!({"type": "object", "properties": {}}));
        records.push(tool);
    }
    if records.is_empty() {
        return Err(format!("no records in {}", path.display()));
    }
    let tools: Vec<Value> = (0..count)
        .map(|i| {
            let mut tool = records[i % records.len()].clone();
            let name = format!("{}_c{}", tool["name"].as_str().unwrap_or_default(), i / records.len());
            tool.insert("name".into(), Value::String(name));
            Value::Object(tool)
        })
        .collect();
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
    serde::Serialize::serialize(&json!({ "tools": tools }), &mut ser).map_err(|e| e.to_string())?;
    let text = String::from_utf8(out).map_err(|e| e.to_string())?;
    Ok((text, format!("{count} tools generated from {} devset records", records.len())))
}

fn main() {
    let (text, what) = match load() {
        Ok(loaded) => loaded,
        Err(why) => {
            eprintln!("split benchmark skipped: {why}");
            return;
        }
    };
    let split = input::split(&text);
    let names = split.names().map_or(0, |n| n.len());
    println!("input: {what}, {:.1} MB, {} records, {names} distinct names", text.len() as f64 / 1e6, split.items.len());

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("split");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("split", |b| b.iter(|| black_box(input::split(black_box(&text))).items.len()));
    group.bench_function("names", |b| b.iter(|| black_box(split.names()).map_or(0, |n| n.len())));
    group.finish();
    c.final_summary();
}
