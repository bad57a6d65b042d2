//! Fuzzing entry points: every reader of untrusted bytes, run on any input with its invariants
//! checked.
//!
//! The readers are the ones that take what a server, a registry or a user's file sends: the
//! stdio line framing and the JSON-RPC message reader, the HTTP SSE parser, the crawler's
//! `tools/list` page reader, the saved tools/list scanner (`input::split`), the JSONC config
//! reader and the registry readers (saved files and API pages). `Target::run` feeds one input to
//! one of them and panics when an invariant breaks; an error the reader reports is not a
//! failure, a panic, a hang or an unbounded allocation is. The property tests below generate
//! valid inputs and mutate them; `tests/fuzz` mutates a corpus of real outputs for a set time.

use std::path::Path;

use serde_json::value::RawValue;

use crate::input;
use crate::mcp::jsonrpc;
use crate::mcp::sse;
use crate::mcp::stdio::{Line, LineReader};
use crate::sources::{config, jsonc, registry};

/// The longest stdio line and SSE event the fuzz targets accept, as the crawler caps them.
pub const MAX_LINE: usize = 64 * 1024;

/// One reader of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A server's stdout: lines (capped) and the JSON-RPC message on each, or an HTTP body.
    Jsonrpc,
    /// An HTTP response's event stream, fed in chunks cut where the input says.
    Sse,
    /// One `tools/list` result as the crawler pages it: the items and the cursor.
    ToolsPage,
    /// A saved tools/list, JSON array, single object or JSONL (`catalog classify`, `import`).
    ToolsList,
    /// A client config file (JSONC).
    Config,
    /// A saved registry file (`--from-file`) and a registry API page.
    Registry,
    /// `catalog scan`: the input as two servers' tool lists, judged, pinned into a baseline and
    /// judged again against it; and as a baseline and a suppressions file.
    Scan,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::Jsonrpc,
        Target::Sse,
        Target::ToolsPage,
        Target::ToolsList,
        Target::Config,
        Target::Registry,
        Target::Scan,
    ];

    /// The target's name: its corpus directory and its line in the report.
    pub fn name(self) -> &'static str {
        match self {
            Target::Jsonrpc => "jsonrpc",
            Target::Sse => "sse",
            Target::ToolsPage => "tools-page",
            Target::ToolsList => "tools-list",
            Target::Config => "config",
            Target::Registry => "registry",
            Target::Scan => "scan",
        }
    }

    /// Runs the reader on `bytes`; returns how many records it read. Panics when an invariant
    /// breaks (that is a bug found).
    pub fn run(self, bytes: &[u8]) -> usize {
        match self {
            Target::Jsonrpc => run_jsonrpc(bytes),
            Target::Sse => run_sse(bytes),
            Target::ToolsPage => run_tools_page(bytes),
            Target::ToolsList => run_tools_list(&String::from_utf8_lossy(bytes)),
            Target::Config => run_config(&String::from_utf8_lossy(bytes)),
            Target::Registry => run_registry(bytes),
            Target::Scan => run_scan(&String::from_utf8_lossy(bytes)),
        }
    }
}

/// Stdio framing then messages, as `StdioConn` reads them: lines over `MAX_LINE` are dropped
/// whole, the rest parsed; and the whole input as one HTTP body (one message or a batch).
fn run_jsonrpc(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    // The reader's buffer size changes where lines are split across reads: take it from the input.
    let capacity = 1 + bytes.first().map_or(0, |&b| b as usize) * 17;
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    let lines = runtime.block_on(async {
        let mut reader = LineReader::new(tokio::io::BufReader::with_capacity(capacity, bytes));
        let mut lines = Vec::new();
        loop {
            match reader.next_line(MAX_LINE).await.expect("reading memory never fails") {
                Line::Text(line) => {
                    assert!(line.len() <= MAX_LINE, "a line of {} bytes passed the cap", line.len());
                    assert!(!line.contains(&b'\n'), "a line holds a newline");
                    lines.push(line);
                }
                Line::TooLong => lines.push(Vec::new()),
                Line::Eof => break lines,
            }
        }
    });
    assert!(lines.len() <= newlines + 1, "{} lines from {newlines} newlines", lines.len());
    let mut messages = 0;
    for line in &lines {
        if jsonrpc::parse(line).is_some() {
            messages += 1;
        }
    }
    if let Some(batch) = jsonrpc::parse_body(bytes) {
        let is_batch = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        assert!(is_batch || batch.len() == 1, "one object gave {} messages", batch.len());
        messages += batch.len();
    }
    messages
}

/// The event stream fed whole and fed in pieces gives the same events, each within the cap.
fn run_sse(bytes: &[u8]) -> usize {
    let whole = sse_events(bytes, &[]);
    let cuts: Vec<usize> = bytes.iter().step_by(7).map(|&b| b as usize % (bytes.len() + 1)).collect();
    let pieces = sse_events(bytes, &cuts);
    if let (Ok(whole), Ok(pieces)) = (&whole, &pieces) {
        assert_eq!(whole, pieces, "the events depend on how the stream was cut");
        for e in whole {
            assert!(e.data.len() <= MAX_LINE && !e.data.is_empty(), "an event of {} bytes", e.data.len());
        }
    }
    whole.map_or(0, |events| events.len())
}

/// The events of `bytes` fed to the parser in chunks ending at `cuts` (sorted here).
pub(crate) fn sse_events(bytes: &[u8], cuts: &[usize]) -> Result<Vec<sse::Event>, String> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut parser = sse::Parser::new(MAX_LINE);
    let mut events = Vec::new();
    let mut start = 0;
    for end in cuts {
        parser.feed(&bytes[start..end])?;
        start = end;
        while let Some(e) = parser.next_event() {
            events.push(e);
        }
    }
    parser.finish()?;
    while let Some(e) = parser.next_event() {
        events.push(e);
    }
    Ok(events)
}

/// A `tools/list` result: its items, each checked as the crawler checks it.
fn run_tools_page(bytes: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(bytes) else { return 0 };
    let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else { return 0 };
    let mut problems = Vec::new();
    let (items, _next) = crate::mcp::read_page(&raw, "tools/list", "tools", &mut problems);
    items.iter().filter(|item| crate::mcp::check_item(item, true).is_ok()).count()
}

/// A saved tools/list: every record the split finds is parsed or reported, and a parsed record
/// has the name the scan found for it.
fn run_tools_list(text: &str) -> usize {
    let split = input::split(text);
    let mut tools = 0;
    for item in &split.items {
        if let Ok(tool) = input::parse_item(item) {
            tools += 1;
            if let Some(name) = item.name() {
                let name: String = name.chars().take(input::MAX_NAME_CHARS).collect();
                assert_eq!(name, tool.name, "the scan and the parser disagree on a record's name");
            }
        }
    }
    let summary = input::read_tools(text, |_| {}, |_, _| {});
    assert_eq!(summary.tools, tools, "read_tools and split disagree");
    assert!(summary.tools + summary.problems.len() >= split.items.len(), "a record was neither read nor reported");
    tools
}

/// The scan's readers and its judging: a written baseline reads back equal, and a scan judged
/// against the baseline of itself has no drift and no new finding.
fn run_scan(text: &str) -> usize {
    use crate::scan::{Baseline, Options, Origin, OriginKind, Scan, ServerInput, State, Suppressions};
    static RULES: std::sync::OnceLock<crate::classify::RuleSet> = std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| crate::classify::load_default().expect("the built-in rules load"));
    let _ = Baseline::parse(text);
    let _ = Suppressions::parse(text, false);
    let _ = Suppressions::parse(text, true);
    let _ = config::declared_line(text, "fuzz");
    let split = input::split(text);
    let server = |name: &str| ServerInput {
        name: name.to_string(),
        identity: format!("fuzz:{name}"),
        origin: Origin { file: "fuzz.json".into(), line: 1, kind: OriginKind::SavedTools },
        reached: "saved file".into(),
        outcome: "ok".into(),
        reason: None,
        error: None,
        tools: split.items.iter().map(|i| i.raw.to_string()).collect(),
        problems: Vec::new(),
        listed_at: None,
    };
    let options = Options { risk_findings_from: crate::model::Risk::Low, today: 0 };
    let first = Scan::judge(rules, vec![server("a"), server("b")], None, None, &options);
    let baseline = Baseline::accept(&first, None, "fuzz", 0);
    let read_back = Baseline::parse(&baseline.to_text()).expect("a written baseline reads back");
    assert_eq!(read_back, baseline, "the baseline changed in a round trip");
    let again = Scan::judge(rules, vec![server("a"), server("b")], Some(&read_back), None, &options);
    let new: Vec<_> = again.findings.iter().filter(|f| f.state == State::New).map(|f| &f.message).collect();
    assert!(new.is_empty(), "findings not accepted by the baseline of the same scan: {new:?}");
    serde_json::to_string(&crate::scan::sarif::sarif(&again, rules, None)).expect("SARIF serialises");
    let _ = crate::scan::markdown::markdown(&again, None);
    first.tools()
}

/// A client config: comments are blanked in place (same length, same lines), then parsed.
fn run_config(text: &str) -> usize {
    let stripped = jsonc::strip(text);
    let original = text.strip_prefix('\u{feff}').unwrap_or(text);
    assert_eq!(stripped.len(), original.len(), "stripping comments moved the text");
    assert_eq!(
        stripped.bytes().filter(|&b| b == b'\n').count(),
        original.bytes().filter(|&b| b == b'\n').count(),
        "stripping comments moved the lines"
    );
    config::parse_config(text, Path::new("fuzz.json")).map_or(0, |targets| targets.len())
}

/// A saved registry file and the same bytes as an API page; every entry read becomes targets.
fn run_registry(bytes: &[u8]) -> usize {
    let mut entries = 0;
    if let Ok(listing) = registry::read_saved(&String::from_utf8_lossy(bytes)) {
        for entry in &listing.entries {
            let _ = registry::targets_of(entry);
        }
        entries += listing.entries.len();
    }
    if let Ok(page) = registry::parse_list(bytes) {
        entries += page.servers.len();
        assert!(page.next_cursor.as_deref() != Some(""), "an empty cursor would page forever");
    }
    entries
}

/// A small seeded PRNG (xorshift64*) for the fuzzer and the kill test: fast, and a run is
/// repeated from its seed.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests;
