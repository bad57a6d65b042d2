//! `catalog scan`: the CI gate for a team's own MCP setup.
//!
//! The command line gathers the servers (config files, saved tool lists, server.json) and lists
//! them through the crawler; this module takes what was listed ([`ServerInput`]) and judges it:
//! every tool classified with its siblings exactly as `catalog classify` does, the classifier's
//! own findings per tool, a `tool-risk` finding for risky tools, stack findings across every
//! server at once (`stack`: toxic flows, shadowing, name collisions), drift against the pins of
//! a baseline (`pins`, `baseline`), and suppressions (`suppress`). `sarif` and `markdown` render
//! the result; `rules` describes every finding's rule.
//!
//! Invariants: judging is pure (no I/O, no clock: `today` is given); every finding has a stable
//! fingerprint from its rule, server, tool and the tool's digest, so an unchanged tool keeps its
//! findings' identity across scans and file edits; a finding is `New` unless the baseline accepted
//! its fingerprint or a live suppression covers it; drift findings are never accepted by a
//! baseline (updating the baseline is what accepts them).

pub mod baseline;
pub mod markdown;
pub mod pins;
pub mod rules;
pub mod sarif;
mod stack;
pub mod suppress;

use std::collections::HashMap;

use crate::classify::{classify_listing, RuleSet};
use crate::input::{self, Item, Location};
use crate::model::{Risk, Severity, ToolInput, Verdict};
pub use baseline::Baseline;
pub use pins::ToolPin;
pub use suppress::Suppressions;

/// Where a server was declared: the file and the line a result points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user named it (relative to the working directory when inside it).
    pub file: String,
    /// 1-based; 1 for saved tool lists and server.json files.
    pub line: usize,
    pub kind: OriginKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    Config,
    SavedTools,
    ServerJson,
}

impl OriginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginKind::Config => "config",
            OriginKind::SavedTools => "tools",
            OriginKind::ServerJson => "server.json",
        }
    }
}

/// One server as it was reached, before judging.
#[derive(Debug, Clone)]
pub struct ServerInput {
    pub name: String,
    /// The crawler's identity (`npm:pkg`, a URL, `config:<file>:<name>`), or the saved file's.
    pub identity: String,
    pub origin: Origin,
    /// How it was reached, in words: `launched in the sandbox (npm pkg@1.2.3)`, `url ...`, ...
    pub reached: String,
    /// `ok`, `partial`, `cached`, `failed`, `auth_required`, `needs_config`, `unsupported`.
    pub outcome: String,
    pub reason: Option<String>,
    pub error: Option<String>,
    /// Each tool's raw definition, as the server sent it.
    pub tools: Vec<String>,
    /// What was odd but not fatal in the listing.
    pub problems: Vec<String>,
    /// When the listing was taken (Unix seconds).
    pub listed_at: Option<i64>,
}

impl ServerInput {
    /// Whether the server gave its tools (this time, or from the cache).
    pub fn listed(&self) -> bool {
        matches!(self.outcome.as_str(), "ok" | "partial" | "cached")
    }
}

/// A judged server.
#[derive(Debug, Clone)]
pub struct ScannedServer {
    /// The server's name in findings and the baseline: its declared name, qualified by its file
    /// when two inputs declare the same name.
    pub name: String,
    pub input: ServerInput,
    pub tools: Vec<ScannedTool>,
}

/// A judged tool.
#[derive(Debug, Clone)]
pub struct ScannedTool {
    /// The tool's key in the baseline: its name, `name#2` for a second tool of the same name.
    pub key: String,
    pub raw: String,
    pub tool: ToolInput,
    pub verdict: Verdict,
    pub pin: ToolPin,
}

/// Whether a finding counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    New,
    /// The baseline accepted it.
    Baselined,
    /// A suppression covers it, for this reason.
    Suppressed {
        reason: String,
    },
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::New => "new",
            State::Baselined => "baselined",
            State::Suppressed { .. } => "suppressed",
        }
    }
}

/// One thing a scan reports.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub server: String,
    pub tool: Option<String>,
    pub message: String,
    /// Other tools the finding involves, as `(server, tool)`.
    pub related: Vec<(String, String)>,
    /// The digest the fingerprint is built from: the tool's, or the involved tools' together.
    pub digest: String,
    /// Hex sha256 of rule, server, tool and digest (`primaryLocationLineHash` in SARIF).
    pub fingerprint: String,
    pub state: State,
    /// A file and line of its own (suppression problems point at the suppressions file).
    pub location: Option<(String, usize)>,
}

impl Finding {
    pub fn new(
        rule: &str,
        severity: Severity,
        server: &str,
        tool: Option<&str>,
        message: String,
        digest: &str,
    ) -> Finding {
        let basis = format!("{rule}\0{server}\0{}\0{digest}", tool.unwrap_or(""));
        let fingerprint = pins::sha256(basis.as_bytes())["sha256:".len()..][..32].to_string();
        Finding {
            rule: rule.to_string(),
            severity,
            server: server.to_string(),
            tool: tool.map(str::to_string),
            message,
            related: Vec::new(),
            digest: digest.to_string(),
            fingerprint,
            state: State::New,
            location: None,
        }
    }

    pub fn related(mut self, related: Vec<(String, String)>) -> Finding {
        self.related = related;
        self
    }

    /// Drift findings compare with the baseline; updating the baseline accepts them.
    pub fn is_drift(&self) -> bool {
        rules::is_drift(&self.rule)
    }
}

/// How to judge.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tools at this risk or above get a `tool-risk` finding (the gate counts those).
    pub risk_findings_from: Risk,
    /// Today, in days since 1970-01-01 (suppressions expire).
    pub today: i64,
}

/// A judged scan.
#[derive(Debug, Clone)]
pub struct Scan {
    pub servers: Vec<ScannedServer>,
    /// Sorted: most severe first, then by server, tool and rule.
    pub findings: Vec<Finding>,
    /// Whether a baseline was compared with.
    pub baselined: bool,
}

/// The severity a risk level maps to.
pub fn severity_of(risk: Risk) -> Severity {
    match risk {
        Risk::Low => Severity::Low,
        Risk::Medium => Severity::Medium,
        Risk::High => Severity::High,
        Risk::Critical => Severity::Critical,
    }
}

impl Scan {
    /// Judges what was listed.
    pub fn judge(
        rules: &RuleSet,
        inputs: Vec<ServerInput>,
        baseline: Option<&Baseline>,
        suppressions: Option<(&Suppressions, &str)>,
        options: &Options,
    ) -> Scan {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for i in &inputs {
            *counts.entry(i.name.clone()).or_default() += 1;
        }
        let servers: Vec<ScannedServer> = inputs
            .into_iter()
            .map(|input| {
                let name = match counts[&input.name] {
                    1 => input.name.clone(),
                    _ => format!("{} ({})", input.name, input.origin.file),
                };
                judge_server(rules, name, input)
            })
            .collect();
        let mut findings = Vec::new();
        for s in &servers {
            server_findings(s, options, &mut findings);
        }
        findings.extend(stack::findings(&servers));
        if let Some(b) = baseline {
            findings.extend(baseline::drift(b, &servers));
        }
        if let Some(b) = baseline {
            for f in findings.iter_mut().filter(|f| !f.is_drift()) {
                if b.accepts(&f.fingerprint) {
                    f.state = State::Baselined;
                }
            }
        }
        if let Some((s, file)) = suppressions {
            apply_suppressions(s, file, options.today, &mut findings);
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.server.cmp(&b.server))
                .then_with(|| a.tool.cmp(&b.tool))
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        Scan { servers, findings, baselined: baseline.is_some() }
    }

    /// Findings that count: neither baselined nor suppressed.
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.state == State::New)
    }

    /// Whether a gate at `level` fails: any active finding at that severity or above.
    pub fn fails(&self, level: Severity) -> bool {
        self.active().any(|f| f.severity >= level)
    }

    /// The highest risk of any tool.
    pub fn max_risk(&self) -> Option<Risk> {
        self.servers.iter().flat_map(|s| &s.tools).map(|t| t.verdict.risk).max()
    }

    pub fn tools(&self) -> usize {
        self.servers.iter().map(|s| s.tools.len()).sum()
    }

    /// Counts of findings by state: (new, baselined, suppressed).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.findings.iter().fold((0, 0, 0), |c, f| match f.state {
            State::New => (c.0 + 1, c.1, c.2),
            State::Baselined => (c.0, c.1 + 1, c.2),
            State::Suppressed { .. } => (c.0, c.1, c.2 + 1),
        })
    }
}

fn judge_server(rules: &RuleSet, name: String, mut input: ServerInput) -> ScannedServer {
    let raws = std::mem::take(&mut input.tools);
    let mut parsed: Vec<(String, ToolInput)> = Vec::with_capacity(raws.len());
    for (i, raw) in raws.into_iter().enumerate() {
        match input::parse_item(&Item::new(&raw, Location::Element(i))) {
            Ok(mut tool) => {
                tool.server = Some(name.clone());
                parsed.push((raw, tool));
            }
            Err(p) => input.problems.push(p.to_string()),
        }
    }
    let verdicts = classify_listing(rules, parsed.iter().map(|(_, t)| t));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let tools = parsed
        .into_iter()
        .zip(verdicts)
        .map(|((raw, tool), verdict)| {
            let n = seen.entry(tool.name.clone()).or_default();
            *n += 1;
            let key = if *n == 1 { tool.name.clone() } else { format!("{}#{n}", tool.name) };
            let pin = ToolPin::new(&raw, &verdict);
            ScannedTool { key, raw, tool, verdict, pin }
        })
        .collect();
    ScannedServer { name, input, tools }
}

/// Per tool: the classifier's findings and `tool-risk`; per server: not listed, unreadable tools.
fn server_findings(s: &ScannedServer, options: &Options, out: &mut Vec<Finding>) {
    if !s.input.listed() {
        let why = s.input.error.as_deref().unwrap_or("no reason given");
        let message = format!(
            "not scanned: {} ({}): {why}",
            s.input.outcome,
            s.input.reason.as_deref().unwrap_or(&s.input.outcome)
        );
        out.push(Finding::new("server-unreachable", Severity::Medium, &s.name, None, message, ""));
    }
    for p in &s.input.problems {
        if p.starts_with("tools[") || p.starts_with("tools/list") {
            let message = format!("a tool could not be read, so it was not judged: {p}");
            out.push(Finding::new(
                "unreadable-tool",
                Severity::Medium,
                &s.name,
                None,
                message,
                &pins::sha256(p.as_bytes()),
            ));
        }
    }
    for t in &s.tools {
        for f in &t.verdict.findings {
            let mut message = format!("`{}` {}", t.tool.name, f.message);
            if ANNOTATION_RULES.contains(&&*f.rule_id) {
                message.push_str(&format!("; suggested annotations: {}", suggested(&t.verdict)));
            }
            out.push(Finding::new(&f.rule_id, f.severity, &s.name, Some(&t.key), message, &t.pin.digest));
        }
        let v = &t.verdict;
        if v.risk >= options.risk_findings_from {
            let tags = if v.tags.is_empty() { String::new() } else { format!(" [{}]", v.tags.join(", ")) };
            let message = format!(
                "`{}` is {} risk: {}{tags} (confidence {:.2}): {}",
                t.tool.name, v.risk, v.category, v.confidence, v.summary
            );
            out.push(Finding::new("tool-risk", severity_of(v.risk), &s.name, Some(&t.key), message, &t.pin.digest));
        }
    }
}

/// Finding rules about declared annotations: their message carries the suggested ones.
const ANNOTATION_RULES: &[&str] =
    &["missing-annotations", "declared-read-only-but-mutates", "declared-non-destructive-but-deletes"];

/// The annotations the verdict suggests, as MCP spells them: `{"readOnlyHint": false, ...}`.
pub fn suggested(v: &Verdict) -> String {
    let pairs: Vec<String> =
        crate::model::Hint::ALL.iter().map(|h| format!("\"{}\": {}", h.mcp_name(), v.hints.get(*h))).collect();
    format!("{{{}}}", pairs.join(", "))
}

fn apply_suppressions(s: &Suppressions, file: &str, today: i64, findings: &mut Vec<Finding>) {
    let mut used = vec![false; s.entries.len()];
    let mut expired_hits = vec![0usize; s.entries.len()];
    for f in findings.iter_mut() {
        if let Some(i) = s.matching(f, today) {
            used[i] = true;
            if f.state == State::New {
                f.state = State::Suppressed { reason: s.entries[i].reason.clone().unwrap_or_default() };
            }
        }
        for (i, e) in s.entries.iter().enumerate() {
            if s.expired(i, today) && Suppressions::covers_entry(e, f) {
                expired_hits[i] += 1;
            }
        }
    }
    let mut extra = Vec::new();
    for (i, e) in s.entries.iter().enumerate() {
        let what =
            format!("{} on {}{}", e.rule, e.server, e.tool.as_deref().map(|t| format!(" / {t}")).unwrap_or_default());
        let mut f = if s.expired(i, today) {
            let message = format!(
                "suppression {} ({what}) expired on {}; {} finding(s) it covered count again: renew it with a new date or fix them",
                i + 1,
                e.expires.as_deref().unwrap_or(""),
                expired_hits[i]
            );
            Finding::new("suppression-expired", Severity::Low, &e.server, e.tool.as_deref(), message, &i.to_string())
        } else if !used[i] {
            let message = format!("suppression {} ({what}) matched no finding; remove it", i + 1);
            Finding::new("suppression-unused", Severity::Info, &e.server, e.tool.as_deref(), message, &i.to_string())
        } else {
            continue;
        };
        f.location = Some((file.to_string(), 1));
        extra.push(f);
    }
    findings.extend(extra);
}
