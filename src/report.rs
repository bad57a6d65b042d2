//! The JSON reports `catalog` prints with `--format json` / `jsonl`. These types map directly to
//! the output; they are the serialisation boundary, so internal types stay unserialisable.
//!
//! Compatibility: keys are only ever added. A removal or change of meaning bumps `SCHEMA_VERSION`.

use std::collections::BTreeMap;

use std::sync::Arc;

use serde::Serialize;

use crate::model::{Evidence, Hint, ToolInput, Verdict};

/// The version of every JSON report's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One tool's verdict. The keys `server`, `name`, `category`, `risk`, `confidence`, `hints`,
/// `tags`, `reasons`, `findings`, `summary` are fixed.
///
/// `write_tool_verdict` prints the same bytes without building this (for `classify --input`): a
/// change here must be made there too.
#[derive(Debug, Serialize)]
pub struct ToolVerdict<'a> {
    pub server: Option<&'a str>,
    pub name: &'a str,
    pub category: &'static str,
    pub risk: &'static str,
    pub confidence: f64,
    /// Predicted MCP annotations, as a careful author would set them.
    pub hints: BTreeMap<&'static str, bool>,
    pub tags: &'a [Arc<str>],
    pub reasons: Vec<ReasonJson<'a>>,
    pub findings: Vec<FindingJson<'a>>,
    pub summary: &'a str,
    /// The hints in MCP's own spelling, ready to paste into a server (`readOnlyHint`, ...).
    pub suggested_annotations: BTreeMap<&'static str, bool>,
    /// Where the tool was in the input (`tools[3]`, `line 7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'a str>,
    /// With `--explain`: the confidence and risk arithmetic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<ExplainJson>,
}

#[derive(Debug, Serialize)]
pub struct ReasonJson<'a> {
    pub rule: &'a str,
    pub message: &'a str,
    pub evidence: Vec<EvidenceJson<'a>>,
    pub effect: &'a str,
}

#[derive(Debug, Serialize)]
pub struct EvidenceJson<'a> {
    pub field: &'static str,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    pub rule: &'a str,
    pub severity: &'static str,
    pub message: &'a str,
    pub evidence: Vec<EvidenceJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ExplainJson {
    pub confidence_steps: Vec<String>,
    pub risk_steps: Vec<String>,
}

fn evidence(list: &[Evidence]) -> Vec<EvidenceJson<'_>> {
    list.iter().map(|e| EvidenceJson { field: e.field.as_str(), text: &e.text }).collect()
}

impl<'a> ToolVerdict<'a> {
    pub fn new(tool: &'a ToolInput, v: &'a Verdict, location: Option<&'a str>, explain: bool) -> Self {
        ToolVerdict {
            server: tool.server.as_deref(),
            name: &tool.name,
            category: v.category.as_str(),
            risk: v.risk.as_str(),
            confidence: v.confidence,
            hints: Hint::ALL.iter().map(|h| (h.as_str(), v.hints.get(*h))).collect(),
            tags: &v.tags,
            reasons: v
                .reasons
                .iter()
                .map(|r| ReasonJson {
                    rule: &r.rule_id,
                    message: &r.message,
                    evidence: evidence(&r.evidence),
                    effect: &r.effect,
                })
                .collect(),
            findings: v
                .findings
                .iter()
                .map(|f| FindingJson {
                    rule: &f.rule_id,
                    severity: f.severity.as_str(),
                    message: &f.message,
                    evidence: evidence(&f.evidence),
                })
                .collect(),
            summary: &v.summary,
            suggested_annotations: Hint::ALL.iter().map(|h| (h.mcp_name(), v.hints.get(*h))).collect(),
            location,
            explain: explain.then(|| explain_json(v)),
        }
    }
}

/// The `explain` part of a verdict: the confidence and risk arithmetic in words.
fn explain_json(v: &Verdict) -> ExplainJson {
    ExplainJson {
        confidence_steps: v
            .confidence_steps
            .iter()
            .map(|s| format!("{:.2} → {:.2}: {}", s.from, s.to, s.why))
            .collect(),
        risk_steps: v.risk_steps.iter().map(ToString::to_string).collect(),
    }
}

/// The hints in the order `ToolVerdict::hints` (a `BTreeMap`) prints them: sorted by `as_str`.
const HINTS_BY_NAME: [Hint; Hint::ALL.len()] = [Hint::Destructive, Hint::Idempotent, Hint::OpenWorld, Hint::ReadOnly];

/// The hints in the order `ToolVerdict::suggested_annotations` prints them: sorted by `mcp_name`.
const HINTS_BY_MCP_NAME: [Hint; Hint::ALL.len()] =
    [Hint::Destructive, Hint::Idempotent, Hint::OpenWorld, Hint::ReadOnly];

/// Appends one tool's verdict as JSON to `out`: exactly the bytes
/// `serde_json::to_writer(out, &ToolVerdict::new(tool, v, location, explain))` writes, without
/// building the `ToolVerdict` (its maps and vectors cost an allocation each, per tool).
///
/// **Invariant:** this must stay byte-identical to serialising [`ToolVerdict`]: same keys in the
/// same order, same escaping, same number format. A key added to `ToolVerdict` must be added here
/// too; `tests/it/classify.rs` compares the two on every devset record.
pub fn write_tool_verdict(out: &mut Vec<u8>, tool: &ToolInput, v: &Verdict, location: Option<&str>, explain: bool) {
    out.extend_from_slice(b"{\"server\":");
    match tool.server.as_deref() {
        Some(s) => write_json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"name\":");
    write_json_str(out, &tool.name);
    out.extend_from_slice(b",\"category\":");
    write_json_str(out, v.category.as_str());
    out.extend_from_slice(b",\"risk\":");
    write_json_str(out, v.risk.as_str());
    out.extend_from_slice(b",\"confidence\":");
    // serde_json's own number format (ryu; `null` when not finite).
    serde_json::to_writer(&mut *out, &v.confidence).expect("writing a number to a Vec cannot fail");
    out.extend_from_slice(b",\"hints\":");
    write_hints(out, v, &HINTS_BY_NAME, Hint::as_str);
    out.extend_from_slice(b",\"tags\":[");
    for (i, tag) in v.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, tag);
    }
    out.extend_from_slice(b"],\"reasons\":[");
    for (i, r) in v.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"rule\":");
        write_json_str(out, &r.rule_id);
        out.extend_from_slice(b",\"message\":");
        write_json_str(out, &r.message);
        out.extend_from_slice(b",\"evidence\":");
        write_evidence(out, &r.evidence);
        out.extend_from_slice(b",\"effect\":");
        write_json_str(out, &r.effect);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"findings\":[");
    for (i, f) in v.findings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"rule\":");
        write_json_str(out, &f.rule_id);
        out.extend_from_slice(b",\"severity\":");
        write_json_str(out, f.severity.as_str());
        out.extend_from_slice(b",\"message\":");
        write_json_str(out, &f.message);
        out.extend_from_slice(b",\"evidence\":");
        write_evidence(out, &f.evidence);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"summary\":");
    write_json_str(out, &v.summary);
    out.extend_from_slice(b",\"suggested_annotations\":");
    write_hints(out, v, &HINTS_BY_MCP_NAME, Hint::mcp_name);
    if let Some(location) = location {
        out.extend_from_slice(b",\"location\":");
        write_json_str(out, location);
    }
    if explain {
        // Rare (`--explain`), and its steps are put into words anyway: serde writes them.
        out.extend_from_slice(b",\"explain\":");
        serde_json::to_writer(&mut *out, &explain_json(v)).expect("writing JSON to a Vec cannot fail");
    }
    out.push(b'}');
}

/// `{"key":bool,...}` for every hint, in `order`.
fn write_hints(out: &mut Vec<u8>, v: &Verdict, order: &[Hint], key: fn(Hint) -> &'static str) {
    out.push(b'{');
    for (i, h) in order.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, key(*h));
        out.extend_from_slice(if v.hints.get(*h) { b":true" } else { b":false" });
    }
    out.push(b'}');
}

/// `[{"field":...,"text":...},...]`, as `EvidenceJson` serialises.
fn write_evidence(out: &mut Vec<u8>, list: &[Evidence]) {
    out.push(b'[');
    for (i, e) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"field\":");
        write_json_str(out, e.field.as_str());
        out.extend_from_slice(b",\"text\":");
        write_json_str(out, &e.text);
        out.push(b'}');
    }
    out.push(b']');
}

/// A JSON string, escaped as serde_json escapes it. Most strings need no escaping and are copied
/// as they are; the others go through serde_json itself.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("writing a string to a Vec cannot fail");
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether serde_json escapes any byte of `bytes`: `"`, `\` and the control characters below
/// 0x20 (it writes everything else, non-ASCII included, as it is). Branch-free so it vectorises.
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |acc, &b| acc | (b == b'"') | (b == b'\\') | (b < 0x20))
}

/// A record that could not be used.
#[derive(Debug, Serialize)]
pub struct ProblemJson<'a> {
    pub location: &'a str,
    pub message: &'a str,
}

/// The end of a `classify --format json` report (the `tools` array is streamed before it).
#[derive(Debug, Serialize)]
pub struct ClassifyTotals<'a> {
    pub tool_count: usize,
    pub by_category: BTreeMap<&'static str, usize>,
    pub by_risk: BTreeMap<&'static str, usize>,
    pub problems: Vec<ProblemJson<'a>>,
}

/// Scores of one classifier on a labelled set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scores {
    /// Read versus not read.
    pub read_only_accuracy: f64,
    /// read / write / delete.
    pub three_way_accuracy: f64,
    pub per_class: BTreeMap<&'static str, ClassScores>,
    /// `confusion[label][predicted]`.
    pub confusion: BTreeMap<&'static str, BTreeMap<&'static str, usize>>,
    /// Tools the author says are not read-only that were predicted read-only.
    pub dangerous_misses: usize,
    /// `dangerous_misses` over the tools that are not read-only.
    pub dangerous_miss_rate: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerScores {
    pub server: String,
    pub tools: usize,
    pub three_way_accuracy: f64,
    pub read_only_accuracy: f64,
    pub baseline_three_way_accuracy: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Miss {
    pub server: String,
    pub name: String,
    pub label: &'static str,
    pub predicted: &'static str,
    pub category: &'static str,
    pub confidence: f64,
}

/// `catalog eval --format json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    pub schema_version: u32,
    pub rules_version: String,
    pub records: usize,
    pub skipped: Vec<String>,
    pub label_counts: BTreeMap<&'static str, usize>,
    pub classifier: Scores,
    pub baseline: Scores,
    pub per_server: Vec<ServerScores>,
    /// Author says not read-only, classifier says read-only.
    pub dangerous_misses: Vec<Miss>,
    /// Every other disagreement, for tuning.
    pub other_misses: Vec<Miss>,
    /// The trade-off as the read threshold moves: a verdict `read` less confident than the
    /// threshold is counted as not read-only (the safe side).
    pub read_threshold: Vec<ThresholdRow>,
    /// With `--by-server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leave_one_server_out: Option<LeaveOneOut>,
}

/// `catalog eval --by-server`: the figures when each server is judged as unseen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeaveOneOut {
    /// Over every record, each judged with its own server left out.
    pub scores: Scores,
    pub servers: Vec<LeftOutServer>,
}

/// One server of the leave-one-server-out run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeftOutServer {
    pub server: String,
    pub tools: usize,
    /// The rules that gave reasons on this server's tools and on no other server's.
    pub rules_left_out: Vec<String>,
    pub read_only_accuracy: f64,
    pub unseen_read_only_accuracy: f64,
    pub three_way_accuracy: f64,
    pub unseen_three_way_accuracy: f64,
    pub unseen_dangerous_misses: usize,
}

/// One row of the read-threshold trade-off.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThresholdRow {
    pub threshold: f64,
    pub read_only_accuracy: f64,
    pub read_recall: f64,
    pub dangerous_misses: usize,
    pub dangerous_miss_rate: f64,
}

/// `catalog import --format json`.
#[derive(Debug, Serialize)]
pub struct ImportJson<'a> {
    pub schema_version: u32,
    pub database: String,
    pub files: usize,
    pub tools: usize,
    pub servers: Vec<ImportServerJson<'a>>,
    pub problems: Vec<FileProblemJson<'a>>,
    pub failed: Vec<FailedServerJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ImportServerJson<'a> {
    pub server: &'a str,
    pub tools: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub duplicate_names: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct FileProblemJson<'a> {
    pub file: &'a str,
    pub location: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FailedServerJson<'a> {
    pub server: &'a str,
    pub error: &'a str,
}

/// `catalog stats --format json`.
#[derive(Debug, Serialize)]
pub struct StatsJson {
    pub schema_version: u32,
    pub database: String,
    pub servers: i64,
    pub tools: i64,
    pub removed_tools: i64,
    pub annotated_tools: i64,
    /// Share of current tools that declare any annotation, 0–1.
    pub annotation_coverage: f64,
    pub by_category: BTreeMap<String, i64>,
    pub by_risk: BTreeMap<String, i64>,
    pub runs: i64,
}

/// `catalog show SERVER --format json`.
#[derive(Debug, Serialize)]
pub struct ServerJson<'a> {
    pub schema_version: u32,
    pub identity: &'a str,
    pub name: &'a str,
    pub first_seen: i64,
    pub last_seen: i64,
    pub tools: Vec<ServerToolJson<'a>>,
    pub sources: Vec<SourceJson<'a>>,
    pub history: Vec<RunJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ServerToolJson<'a> {
    pub name: &'a str,
    pub category: &'a str,
    pub risk: &'a str,
    pub confidence: f64,
    pub tags: Vec<&'a str>,
    pub removed: bool,
}

#[derive(Debug, Serialize)]
pub struct SourceJson<'a> {
    pub kind: &'a str,
    pub location: &'a str,
    pub first_seen: i64,
    pub last_seen: i64,
}

#[derive(Debug, Serialize)]
pub struct RunJson<'a> {
    pub kind: &'a str,
    pub source: &'a str,
    pub started_at: i64,
    pub outcome: &'a str,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub error: Option<&'a str>,
    /// Details of the outcome, as JSON (`www_authenticate`, `stderr_tail`, `problems`).
    pub detail: Option<serde_json::Value>,
}

/// `catalog show SERVER TOOL --format json`.
#[derive(Debug, Serialize)]
pub struct StoredToolJson {
    pub schema_version: u32,
    pub rules_version: String,
    pub verdict: serde_json::Value,
    pub definition: serde_json::Value,
    pub first_seen: i64,
    pub last_seen: i64,
    pub removed_at: Option<i64>,
    pub versions: Vec<VersionJson>,
}

#[derive(Debug, Serialize)]
pub struct VersionJson {
    pub def_hash: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// `catalog search --format json`.
#[derive(Debug, Serialize)]
pub struct SearchJson<'a> {
    pub schema_version: u32,
    pub query: &'a str,
    pub hits: Vec<HitJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct HitJson<'a> {
    pub server: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub risk: &'a str,
    pub confidence: f64,
    pub tags: &'a [String],
    pub score: f32,
    /// The description's best fragment, matched words marked `[[like this]]`.
    pub snippet: &'a str,
}

/// `catalog crawl --format json`.
#[derive(Debug, Serialize)]
pub struct CrawlJson<'a> {
    pub schema_version: u32,
    pub database: String,
    pub run: i64,
    pub sources: Vec<String>,
    /// Servers the sources named.
    pub servers_listed: usize,
    /// Servers per outcome: `ok`, `partial`, `failed`, `auth_required`, `needs_config`,
    /// `unsupported`, `skipped`.
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Failed servers per reason (`timeout`, `exited`, `install_failed`, ...).
    pub failed_by_reason: BTreeMap<String, usize>,
    pub tools: CrawlToolsJson,
    pub seconds: f64,
    pub servers: Vec<CrawlServerJson<'a>>,
    /// Problems with the sources themselves (a registry page, a config entry).
    pub source_problems: &'a [String],
    pub index_error: Option<&'a str>,
    /// Why nothing was launched: no working sandbox here (the probe's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_missing: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct CrawlToolsJson {
    pub total: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

#[derive(Debug, Serialize)]
pub struct CrawlServerJson<'a> {
    pub server: &'a str,
    pub version: Option<&'a str>,
    pub source: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub error: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub tools: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub problems: &'a [String],
    pub placeholders: &'a [String],
    /// What the launched server could reach; absent for URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch: Option<LaunchJson>,
    pub seconds: f64,
}

/// What one launch could reach (`launch::Protections`), in the crawl report and, under `launch`,
/// in the stored run detail that `catalog show` prints.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LaunchJson {
    /// `bubblewrap` or `none` (`--no-sandbox`).
    pub sandbox: String,
    /// `none` (its own empty network namespace) or `host`.
    pub network: String,
    /// `throwaway` (an empty tmpfs) or `scratch` (a temporary directory on the host).
    pub home: String,
    /// `read-only` (the system and `reads`; writes only to its scratch directory and tmpfs) or
    /// `host` (whatever the caller may read and write).
    pub filesystem: String,
    /// Host directories it could read beyond the system's.
    pub reads: Vec<String>,
    /// The variables it was given (PATH, HOME, TMPDIR, LANG besides); none of the caller's own.
    pub environment: Vec<String>,
    /// Those whose value was a placeholder instead of a secret.
    pub placeholders: Vec<String>,
    /// `pid-namespace` (everything it started dies with it) or `process-group` (its group, then
    /// every process still marked as its own, is killed at the end).
    pub process_tree: String,
    pub limits: LaunchLimitsJson,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LaunchLimitsJson {
    pub memory_bytes: u64,
    pub file_bytes: u64,
    pub processes: u64,
    pub open_files: u64,
}

impl From<&crate::launch::Protections> for LaunchJson {
    fn from(p: &crate::launch::Protections) -> LaunchJson {
        let s = |v: &str| v.to_string();
        LaunchJson {
            sandbox: s(if p.sandboxed { "bubblewrap" } else { "none" }),
            network: s(if p.network { "host" } else { "none" }),
            home: s(if p.sandboxed { "throwaway" } else { "scratch" }),
            filesystem: s(if p.sandboxed { "read-only" } else { "host" }),
            reads: p.reads.iter().map(|r| r.display().to_string()).collect(),
            environment: p.env.clone(),
            placeholders: p.placeholders.clone(),
            process_tree: s(if p.sandboxed { "pid-namespace" } else { "process-group" }),
            limits: LaunchLimitsJson {
                memory_bytes: p.limits.memory_bytes,
                file_bytes: p.limits.file_bytes,
                processes: p.limits.processes,
                open_files: p.limits.open_files,
            },
        }
    }
}

impl LaunchJson {
    /// One line for tables: `bubblewrap: network none, home throwaway, files read-only (+2 read), ...`.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "sandbox {}: network {}, home {}, files {}",
            self.sandbox, self.network, self.home, self.filesystem
        );
        if !self.reads.is_empty() {
            out.push_str(&format!(" (reads {})", self.reads.join(", ")));
        }
        out.push_str(&format!(", env {} variable(s)", self.environment.len()));
        if !self.placeholders.is_empty() {
            out.push_str(&format!(" ({} placeholder(s))", self.placeholders.len()));
        }
        out.push_str(&format!(", process tree {}", self.process_tree));
        out
    }
}

/// `catalog crawl --dry-run --format json`: what would be crawled.
#[derive(Debug, Serialize)]
pub struct CrawlPlanJson<'a> {
    pub schema_version: u32,
    pub sources: Vec<String>,
    pub targets: Vec<CrawlTargetJson<'a>>,
    pub source_problems: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct CrawlTargetJson<'a> {
    pub server: &'a str,
    pub version: Option<&'a str>,
    pub source: &'a str,
    pub target: &'a str,
    /// The URL, the package (`npm:name@version`), the command, or why it cannot be crawled.
    pub detail: String,
}

/// A rate limit in the policy reports.
#[derive(Debug, Serialize, PartialEq)]
pub struct PolicyLimitJson {
    pub window: &'static str,
    pub max: u32,
}

impl From<crate::policy::Limit> for PolicyLimitJson {
    fn from(l: crate::policy::Limit) -> Self {
        PolicyLimitJson { window: l.window.as_str(), max: l.max }
    }
}

/// One argument-level suggestion.
#[derive(Debug, Serialize, PartialEq)]
pub struct PolicyArgJson<'a> {
    pub rule: &'a str,
    pub param: &'a str,
    /// `cap`, `require` or `allow_list`.
    pub kind: &'static str,
    /// The cap (a number) or the allow-list's placeholders; absent for `require`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    pub on_deny: &'a str,
}

/// One tool's recommended rule (`catalog policy --tool NAME --format json`, and each entry of a
/// server's policy: the two are built from the same `ToolRule`).
#[derive(Debug, Serialize, PartialEq)]
pub struct ToolPolicyJson<'a> {
    pub tool: &'a str,
    pub category: &'static str,
    pub risk: &'static str,
    pub confidence: f64,
    /// allow, limit, approve, hide or deny.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<PolicyLimitJson>,
    /// The policy-table rule id, or `override`.
    pub rule: &'a str,
    pub why: String,
    /// The classification was below the table's confidence threshold, so the action is one step
    /// stricter than the rule's.
    pub low_confidence: bool,
    /// What the table said, when an override changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_action: Option<&'static str>,
    /// Only those that apply: none for a hidden or denied tool.
    pub args: Vec<PolicyArgJson<'a>>,
}

impl<'a> ToolPolicyJson<'a> {
    pub fn new(t: &'a crate::policy::ToolRule) -> Self {
        use crate::policy::{ArgKind, Source};
        let (low_confidence, table_action) = match &t.source {
            Source::Table { low_confidence, .. } => (*low_confidence, None),
            Source::Override { table_action, .. } => (false, Some(table_action.as_str())),
        };
        ToolPolicyJson {
            tool: &t.tool,
            category: t.category.as_str(),
            risk: t.risk.as_str(),
            confidence: t.confidence,
            action: t.action.as_str(),
            limit: t.limit.map(PolicyLimitJson::from),
            rule: t.rule_id(),
            why: t.why(),
            low_confidence,
            table_action,
            args: t
                .effective_args()
                .iter()
                .map(|a| PolicyArgJson {
                    rule: &a.id,
                    param: &a.param,
                    kind: a.kind.as_str(),
                    value: match &a.kind {
                        ArgKind::Cap(v) => Some(crate::policy::formats::json_number(*v)),
                        ArgKind::AllowList(list) => Some(serde_json::json!(list)),
                        ArgKind::Require => None,
                    },
                    on_deny: &a.on_deny,
                })
                .collect(),
        }
    }
}

/// An override that changed no tool.
#[derive(Debug, Serialize, PartialEq)]
pub struct OverrideJson<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub action: &'static str,
    pub reason: &'a str,
}

impl<'a> OverrideJson<'a> {
    pub fn new(o: &'a crate::policy::Override) -> Self {
        OverrideJson { server: &o.server, tool: &o.tool, action: o.action.as_str(), reason: &o.reason }
    }
}

/// `catalog policy SERVER --format json`.
#[derive(Debug, Serialize)]
pub struct ServerPolicyJson<'a> {
    pub schema_version: u32,
    pub server: &'a str,
    pub identity: &'a str,
    pub catalog_version: &'a str,
    pub policy_version: &'a str,
    pub rules_versions: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_tools_limit: Option<PolicyLimitJson>,
    /// Tools per action.
    pub actions: BTreeMap<&'static str, usize>,
    pub tools: Vec<ToolPolicyJson<'a>>,
    pub unmatched_overrides: Vec<OverrideJson<'a>>,
}

impl<'a> ServerPolicyJson<'a> {
    pub fn new(p: &'a crate::policy::ServerPolicy, unmatched: Vec<OverrideJson<'a>>) -> Self {
        let counts = p.counts();
        ServerPolicyJson {
            schema_version: SCHEMA_VERSION,
            server: &p.server,
            identity: &p.identity,
            catalog_version: &p.provenance.catalog_version,
            policy_version: &p.provenance.policy_version,
            rules_versions: &p.provenance.rules_versions,
            all_tools_limit: p.all_tools_limit.map(PolicyLimitJson::from),
            actions: crate::policy::Action::ALL.iter().map(|a| (a.as_str(), counts[*a as usize])).collect(),
            tools: p.tools.iter().map(ToolPolicyJson::new).collect(),
            unmatched_overrides: unmatched,
        }
    }
}

/// One problem `catalog policy --check` found.
#[derive(Debug, Serialize)]
pub struct CheckProblemJson<'a> {
    /// A JSON path such as `$.tools["write_file"].limits[0].max`.
    pub path: &'a str,
    pub message: &'a str,
}

/// `catalog policy --check FILE --format json`.
#[derive(Debug, Serialize)]
pub struct PolicyCheckJson<'a> {
    pub schema_version: u32,
    pub file: String,
    pub valid: bool,
    pub problems: Vec<CheckProblemJson<'a>>,
}

/// One file of an export.
#[derive(Debug, Serialize)]
pub struct ExportFileJson<'a> {
    pub server: &'a str,
    pub identity: &'a str,
    pub file: &'a str,
    pub tools: usize,
    pub actions: BTreeMap<&'static str, usize>,
    pub overridden: usize,
    pub rules_versions: &'a [String],
}

/// `catalog export`: the `index.json` written beside the policies (and printed with `--format json`).
#[derive(Debug, Serialize)]
pub struct ExportJson<'a> {
    pub schema_version: u32,
    /// The format of the files.
    pub format: &'static str,
    pub catalog_version: &'static str,
    /// The catalog database's generation when it was read (bumped by every write).
    pub catalog_generation: i64,
    pub policy_version: &'a str,
    pub servers: usize,
    pub tools: usize,
    pub files: Vec<ExportFileJson<'a>>,
    /// Identities of servers without current tools (no file).
    pub skipped: &'a [String],
    pub unmatched_overrides: Vec<OverrideJson<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's hint orders are the `BTreeMap` orders `ToolVerdict` prints: every hint once,
    /// sorted by its key.
    #[test]
    fn hint_orders_are_sorted_by_key() {
        for (order, key) in
            [(HINTS_BY_NAME, Hint::as_str as fn(Hint) -> &'static str), (HINTS_BY_MCP_NAME, Hint::mcp_name)]
        {
            let keys: Vec<&str> = order.iter().map(|h| key(*h)).collect();
            let expected: Vec<&str> =
                Hint::ALL.iter().map(|h| (key(*h), ())).collect::<BTreeMap<_, _>>().into_keys().collect();
            assert_eq!(keys, expected);
        }
    }

    /// Only `"`, `\` and control characters need escaping; DEL and non-ASCII are printed as they are.
    #[test]
    fn strings_escape_as_serde_escapes_them() {
        for s in
            ["", "plain", "a\"b", "a\\b", "\u{0}", "\u{1f}", "tab\there", "\u{7f}", "zürich 東京 \u{200b}\u{e0041} 😀"]
        {
            let mut out = Vec::new();
            write_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
            let serde_escapes = serde_json::to_string(s).unwrap().len() != s.len() + 2;
            assert_eq!(needs_escape(s.as_bytes()), serde_escapes, "{s:?}");
        }
    }
}

/// `catalog scan --format json`.
#[derive(Debug, Serialize)]
pub struct ScanJson<'a> {
    pub schema_version: u32,
    pub summary: ScanSummaryJson,
    pub servers: Vec<ScanServerJson<'a>>,
    /// Most severe first; `state` says whether each counts (`new`) or not (`baselined`, `suppressed`).
    pub findings: Vec<ScanFindingJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ScanSummaryJson {
    pub servers: usize,
    /// Servers whose tools were listed (now or from the cache).
    pub listed: usize,
    pub tools: usize,
    /// New findings: neither baselined nor suppressed.
    pub findings: usize,
    pub baselined: usize,
    pub suppressed: usize,
    pub max_risk: Option<&'static str>,
    pub fail_on: Option<&'static str>,
    pub gate_failed: Option<bool>,
    /// The baseline compared with, when there was one.
    pub baseline: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ScanServerJson<'a> {
    pub name: &'a str,
    pub identity: &'a str,
    pub declared_in: &'a str,
    pub line: usize,
    /// `config`, `tools` or `server.json`.
    pub input: &'static str,
    pub reached: &'a str,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub error: Option<&'a str>,
    /// When the listing was taken (RFC 3339); `null` for saved files.
    pub listed_at: Option<String>,
    pub problems: &'a [String],
    pub tools: Vec<ScanToolJson<'a>>,
}

/// A tool's verdict exactly as `catalog classify` prints it, plus its baseline key and digest.
#[derive(Debug, Serialize)]
pub struct ScanToolJson<'a> {
    #[serde(flatten)]
    pub verdict: ToolVerdict<'a>,
    pub key: &'a str,
    /// `sha256:` over the RFC 8785 canonical JSON of the whole definition.
    pub digest: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ScanFindingJson<'a> {
    pub rule: &'a str,
    pub severity: &'static str,
    pub server: &'a str,
    pub tool: Option<&'a str>,
    pub message: &'a str,
    /// Other tools involved, as `server/tool`.
    pub related: Vec<String>,
    pub fingerprint: &'a str,
    /// `new`, `baselined` or `suppressed`.
    pub state: &'static str,
    /// Why it is suppressed.
    pub reason: Option<&'a str>,
}
