//! `catalog classify`: one tool from the command line, or every tool in a file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Context, Result};

use super::load_rules;
use crate::classify::{Contexts, RuleSet, SiblingContext};
use crate::cli::args::{ClassifyArgs, Format};
use crate::cli::printer;
use crate::cli::{Io, Status};
use crate::input::{self, InputProblem, InputSummary, Item};
use crate::model::{Risk, ToolInput};
use crate::report::{write_tool_verdict, ClassifyTotals, ProblemJson, ToolVerdict, SCHEMA_VERSION};

pub(super) fn run(args: ClassifyArgs, io: &mut Io<'_>) -> Result<Status> {
    let format = args.format.unwrap_or(if io.out_is_terminal { Format::Table } else { Format::Jsonl });

    let Some(path) = &args.input else {
        let rules = load_rules(args.rules.rules.as_deref())?;
        let schema = match &args.schema {
            Some(s) => {
                let value: serde_json::Value = serde_json::from_str(s).context("--schema is not valid JSON")?;
                let schema = input::schema_of(&value);
                anyhow::ensure!(schema.is_some(), "--schema must be a JSON object (an input schema)");
                schema
            }
            None => None,
        };
        let tool = ToolInput {
            server: args.server.clone(),
            name: args.name.clone().unwrap_or_default(),
            title: args.title.clone(),
            description: args.description.clone(),
            input_schema: schema,
            annotations: None,
            siblings: args.siblings.clone(),
        };
        if tool.name.trim().is_empty() {
            anyhow::bail!("the tool name is empty; give a name or --input FILE");
        }
        let verdict = rules.classify(&tool);
        match format {
            Format::Table => printer::verdict_detail(io.out, &tool, &verdict, args.explain)?,
            Format::Json | Format::Jsonl => {
                serde_json::to_writer(&mut *io.out, &ToolVerdict::new(&tool, &verdict, None, args.explain))?;
                writeln!(io.out)?;
            }
        }
        return Ok(gate(args.fail_on, verdict.risk));
    };

    // The file is read first, on both cores (see `read_file`); then the rules compile on a
    // thread while the main thread splits the records and collects the names: the rules are
    // first needed for the sibling context.
    let text = match read_input(path) {
        Ok(text) => text,
        Err(e) => {
            // Broken rules are reported first.
            load_rules(args.rules.rules.as_deref())?;
            return Err(e);
        }
    };
    let loader = std::thread::spawn({
        let dir = args.rules.rules.clone();
        move || load_rules(dir.as_deref())
    });
    let rules = |loader: std::thread::JoinHandle<_>| loader.join().expect("loading rules does not panic");
    let split = input::split(&text);
    let names = split.names();
    let rules = rules(loader)?;
    let shared = names.map(|names| rules.sibling_context(&names));

    if format == Format::Json {
        write!(
            io.out,
            "{{\"schema_version\":{SCHEMA_VERSION},\"rules_version\":{},\"tools\":[",
            serde_json::to_string(rules.version())?
        )?;
    } else if format == Format::Table {
        printer::table_header(io.out)?;
    }
    let opts = RenderOptions { format, explain: args.explain };
    let (summary, totals) = classify_parallel(&rules, split, shared.as_ref(), opts, io.out)?;
    match format {
        Format::Json => {
            let doc = ClassifyTotals {
                tool_count: summary.tools,
                by_category: totals.by_category.clone(),
                by_risk: totals.by_risk.clone(),
                problems: summary
                    .problems
                    .iter()
                    .map(|p| ProblemJson { location: &p.location, message: &p.message })
                    .collect(),
            };
            let doc = serde_json::to_string(&doc)?;
            // Splice the totals' fields after the streamed `tools` array.
            writeln!(io.out, "],{}", &doc[1..])?;
        }
        Format::Table => printer::table_footer(io.out, summary.tools, &totals.by_category, &totals.by_risk)?,
        Format::Jsonl => {}
    }
    for p in &summary.problems {
        writeln!(io.err, "warning: {}: {p}", path.display())?;
    }
    if summary.tools == 0 {
        writeln!(
            io.err,
            "error: no usable tools in {}; expected a tools/list result {{\"tools\":[...]}}, a JSON array of tools, or JSONL records with a `name`",
            path.display()
        )?;
        return Ok(Status::Error);
    }
    Ok(match totals.worst {
        Some(w) => gate(args.fail_on, w),
        None => Status::Success,
    })
}

/// Reads the tools file, or stdin for `-`.
fn read_input(path: &std::path::Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the tools from stdin")?;
        return Ok(s);
    }
    let bytes = read_file(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (first bad byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Regular files at least this big are read on two threads.
const PARALLEL_READ: usize = 4 << 20;

/// Reads a whole file. A big regular file is read as two halves on two threads: reading from the
/// page cache is bound by the page faults of filling a fresh buffer, not by the disk, and two
/// cores halve that.
fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::FileExt;

    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if !meta.is_file() || len < PARALLEL_READ {
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        return Ok(buf);
    }
    // Zeroed by the allocator (fresh pages from the OS), not written twice.
    let mut buf = vec![0u8; len];
    let mid = len / 2;
    let (head, tail) = buf.split_at_mut(mid);
    let halves = std::thread::scope(|scope| {
        let file = &file;
        let tail = scope.spawn(move || file.read_exact_at(tail, mid as u64));
        let head = file.read_exact_at(head, 0);
        head.and(tail.join().unwrap_or_else(|_| Err(std::io::Error::other("reading the file panicked"))))
    });
    match halves {
        Ok(()) => {}
        // The file shrank while it was read: read it again, whole.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return std::fs::read(path),
        Err(e) => return Err(e),
    }
    // ...or grew: keep what follows too.
    file.seek(SeekFrom::Start(meta.len()))?;
    file.read_to_end(&mut buf)?;
    Ok(buf)
}

/// How verdicts are printed.
#[derive(Clone, Copy)]
struct RenderOptions {
    format: Format,
    explain: bool,
}

/// Counts over every verdict.
#[derive(Default)]
struct Totals {
    by_category: BTreeMap<&'static str, usize>,
    by_risk: BTreeMap<&'static str, usize>,
    worst: Option<Risk>,
}

impl Totals {
    fn merge(&mut self, other: Totals) {
        for (k, v) in other.by_category {
            *self.by_category.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.by_risk {
            *self.by_risk.entry(k).or_insert(0) += v;
        }
        self.worst = self.worst.max(other.worst);
    }
}

/// One chunk's verdicts, rendered.
struct Rendered {
    seq: usize,
    bytes: Vec<u8>,
    count: usize,
    totals: Totals,
    problems: Vec<InputProblem>,
}

/// Records per chunk of work.
const CHUNK: usize = 128;

/// Classifies and prints every tool of a split input (see `input::split`, a cheap pass that
/// builds nothing), in the sibling context `shared` of the whole input when there is one: every
/// core parses, classifies and renders chunks of records, each in its own memory, and the output
/// keeps the input's order.
fn classify_parallel(
    rules: &RuleSet,
    split: input::Split<'_>,
    shared: Option<&SiblingContext>,
    opts: RenderOptions,
    out: &mut dyn Write,
) -> Result<(InputSummary, Totals)> {
    let chunks: Vec<&[Item<'_>]> = split.items.chunks(CHUNK).collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8).min(chunks.len().max(1));
    let next_chunk = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (done_tx, done_rx) = mpsc::sync_channel::<Rendered>(workers * 4);
    let mut totals = Totals::default();
    let mut summary = InputSummary { format: split.format, tools: 0, problems: Vec::new() };
    let mut written: Result<()> = Ok(());

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (next_chunk, stop, chunks) = (&next_chunk, &stop, &chunks);
            scope.spawn(move || {
                let mut contexts = Contexts::new(shared);
                while !stop.load(Ordering::Relaxed) {
                    let seq = next_chunk.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(seq) else { break };
                    let rendered = render_chunk(rules, &mut contexts, seq, chunk, opts);
                    if done_tx.send(rendered).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // Write in input order as chunks arrive.
        let mut parked: BTreeMap<usize, Rendered> = BTreeMap::new();
        let mut next = 0;
        let mut first = true;
        for rendered in done_rx.iter() {
            parked.insert(rendered.seq, rendered);
            while let Some(r) = parked.remove(&next) {
                next += 1;
                totals.merge(r.totals);
                summary.tools += r.count;
                summary.problems.extend(r.problems);
                if written.is_err() || r.count == 0 {
                    continue;
                }
                let sep: &[u8] = if opts.format == Format::Json && !first { b"," } else { b"" };
                first = false;
                written =
                    out.write_all(sep).and_then(|()| out.write_all(&r.bytes)).context("cannot write the verdicts");
                if written.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    });
    written?;
    summary.problems.extend(split.problems);
    Ok((summary, totals))
}

/// Parses, classifies and renders one chunk of records.
fn render_chunk(
    rules: &RuleSet,
    contexts: &mut Contexts<'_>,
    seq: usize,
    chunk: &[Item<'_>],
    opts: RenderOptions,
) -> Rendered {
    let mut bytes = Vec::with_capacity(chunk.len() * 1536);
    let mut totals = Totals::default();
    let mut problems = Vec::new();
    let mut count = 0;
    let mut location = String::new();
    for item in chunk {
        let tool = match input::parse_item(item) {
            Ok(tool) => tool,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        location.clear();
        let _ = std::fmt::Write::write_fmt(&mut location, format_args!("{}", item.location));
        let verdict = contexts.classify(rules, &tool);
        *totals.by_category.entry(verdict.category.as_str()).or_insert(0) += 1;
        *totals.by_risk.entry(verdict.risk.as_str()).or_insert(0) += 1;
        totals.worst = totals.worst.max(Some(verdict.risk));
        match opts.format {
            // Writing into a Vec cannot fail.
            Format::Table if opts.explain => {
                let _ = printer::verdict_detail(&mut bytes, &tool, &verdict, true);
            }
            Format::Table => {
                let _ = printer::table_row(&mut bytes, &tool, &verdict);
            }
            Format::Jsonl => {
                write_tool_verdict(&mut bytes, &tool, &verdict, Some(&location), opts.explain);
                bytes.push(b'\n');
            }
            Format::Json => {
                if count > 0 {
                    bytes.push(b',');
                }
                write_tool_verdict(&mut bytes, &tool, &verdict, Some(&location), opts.explain);
            }
        }
        count += 1;
    }
    Rendered { seq, bytes, count, totals, problems }
}

fn gate(fail_on: Option<Risk>, risk: Risk) -> Status {
    match fail_on {
        Some(level) if risk >= level => Status::Failure,
        _ => Status::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_file_read_in_halves_is_the_whole_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        for len in [PARALLEL_READ - 1, PARALLEL_READ, PARALLEL_READ + 12_345] {
            let path = dir.path().join(format!("tools-{len}.json"));
            let bytes: Vec<u8> = (0..len).map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[i % 27]).collect();
            std::fs::write(&path, &bytes).expect("write");
            assert!(read_file(&path).expect("reads") == bytes, "{len} bytes");
        }
    }
}
