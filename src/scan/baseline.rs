//! The baseline: the pins file a team commits (`.catalog/baseline.json`), holding every tool's
//! pin per server and the fingerprints of the findings accepted with them.
//!
//! Invariants: written deterministically (sorted keys, sorted findings, a trailing newline), so
//! an unchanged scan rewrites the same bytes and a pull request's diff shows exactly what was
//! accepted; a server that could not be listed keeps its previous pins (a server that is down
//! is not a server whose tools were removed); a file of another format version is refused.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::pins::{self, Change, ToolPin};
use super::{severity_of, Finding, Scan, ScannedServer};
use crate::model::{Risk, Severity};

/// The format's name and version, first in the file.
pub const FORMAT: &str = "catalog-baseline/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub format: String,
    /// When it was last written (RFC 3339).
    pub updated: String,
    /// The rules that judged it (`catalog --version` plus the rules' fingerprint).
    pub rules_version: String,
    pub servers: BTreeMap<String, BaselineServer>,
    /// Fingerprints of the findings accepted with these pins.
    #[serde(default)]
    pub accepted: Vec<Accepted>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineServer {
    pub identity: String,
    /// Where it was declared (`.mcp.json:4`).
    pub source: String,
    pub tools: BTreeMap<String, ToolPin>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    pub rule: String,
    pub fingerprint: String,
}

/// A baseline file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("the baseline is not valid JSON at line {line}, column {column}: {message}; restore it from git or write a new one with --update-baseline")]
    Syntax { line: usize, column: usize, message: String },
    #[error("the baseline is {found:?}, this catalog reads {FORMAT:?}; write a new one with --update-baseline")]
    Format { found: String },
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        let b: Baseline = serde_json::from_str(text).map_err(|e| BaselineError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if b.format != FORMAT {
            return Err(BaselineError::Format { found: b.format });
        }
        Ok(b)
    }

    /// The file's text: pretty JSON, keys sorted, one trailing newline.
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a baseline serialises");
        s.push('\n');
        s
    }

    pub fn accepts(&self, fingerprint: &str) -> bool {
        self.accepted.iter().any(|a| a.fingerprint == fingerprint)
    }

    /// The baseline that accepts `scan` as it is: the pins of every listed server (the previous
    /// pins of servers that were not listed), and every finding that is not drift and not about
    /// the scan itself.
    pub fn accept(scan: &Scan, previous: Option<&Baseline>, rules_version: &str, now: i64) -> Baseline {
        let mut servers = BTreeMap::new();
        for s in &scan.servers {
            if !s.input.listed() {
                if let Some(old) = previous.and_then(|p| p.servers.get(&s.name)) {
                    servers.insert(s.name.clone(), old.clone());
                }
                continue;
            }
            let tools = s.tools.iter().map(|t| (t.key.clone(), t.pin.clone())).collect();
            let source = format!("{}:{}", s.input.origin.file, s.input.origin.line);
            servers.insert(s.name.clone(), BaselineServer { identity: s.input.identity.clone(), source, tools });
        }
        let keep = |f: &&Finding| !f.is_drift() && !super::rules::is_about_the_scan(&f.rule);
        let mut accepted: Vec<Accepted> = scan
            .findings
            .iter()
            .filter(keep)
            .map(|f| Accepted {
                server: f.server.clone(),
                tool: f.tool.clone(),
                rule: f.rule.clone(),
                fingerprint: f.fingerprint.clone(),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        accepted.sort();
        Baseline {
            format: FORMAT.to_string(),
            updated: crate::dates::rfc3339(now),
            rules_version: rules_version.to_string(),
            servers,
            accepted,
        }
    }
}

/// Drift: what changed between the baseline's pins and the servers listed now.
pub fn drift(b: &Baseline, servers: &[ScannedServer]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in servers {
        let Some(old) = b.servers.get(&s.name) else {
            if s.input.listed() {
                let max = s.tools.iter().map(|t| t.verdict.risk).max().unwrap_or(Risk::Low);
                let message = format!(
                    "new server since the baseline: {} tool(s), highest risk {max}; review it and accept it with --update-baseline",
                    s.tools.len()
                );
                let digest = pins::sha256(
                    s.tools.iter().map(|t| t.pin.digest.as_str()).collect::<Vec<_>>().join(",").as_bytes(),
                );
                out.push(Finding::new("server-added", Severity::Low, &s.name, None, message, &digest));
            }
            continue;
        };
        if !s.input.listed() {
            continue;
        }
        for t in &s.tools {
            match old.tools.get(&t.key) {
                None => {
                    let v = &t.verdict;
                    let message = format!(
                        "new tool since the baseline: `{}` ({}, {} risk): {}",
                        t.tool.name, v.category, v.risk, v.summary
                    );
                    out.push(Finding::new(
                        "tool-added",
                        severity_of(v.risk),
                        &s.name,
                        Some(&t.key),
                        message,
                        &t.pin.digest,
                    ));
                }
                Some(pin) => tool_drift(&s.name, &t.key, pin, &t.pin, &mut out),
            }
        }
        for (key, pin) in &old.tools {
            if !s.tools.iter().any(|t| &t.key == key) {
                let message =
                    format!("tool removed since the baseline: `{key}` (was {}, {} risk)", pin.category, pin.risk);
                out.push(Finding::new("tool-removed", Severity::Low, &s.name, Some(key), message, &pin.digest));
            }
        }
    }
    for (name, old) in &b.servers {
        if !servers.iter().any(|s| &s.name == name) {
            let message =
                format!("server removed since the baseline ({} tool(s), declared at {})", old.tools.len(), old.source);
            out.push(Finding::new("server-removed", Severity::Info, name, None, message, ""));
        }
    }
    out
}

/// Up to 200 characters of a description, on one line, for a message.
fn excerpt(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

fn tool_drift(server: &str, key: &str, before: &ToolPin, after: &ToolPin, out: &mut Vec<Finding>) {
    // One finding per rule, with every change of that kind in its message.
    let mut by_rule: BTreeMap<&'static str, (Severity, Vec<String>)> = BTreeMap::new();
    let mut add = |rule: &'static str, severity: Severity, text: String| {
        let e = by_rule.entry(rule).or_insert((severity, Vec::new()));
        e.0 = e.0.max(severity);
        e.1.push(text);
    };
    for c in pins::changes(before, after) {
        match c {
            Change::DescriptionChanged { before, after } => add(
                "description-changed",
                Severity::Medium,
                format!("the description changed from \"{}\" to \"{}\"", excerpt(&before), excerpt(&after)),
            ),
            Change::ParamAdded { name, sensitive: true } => add(
                "schema-widened",
                Severity::High,
                format!("new parameter `{name}`, which reaches files, URLs, commands or queries"),
            ),
            Change::ParamAdded { name, sensitive: false } => {
                add("schema-widened", Severity::Medium, format!("new parameter `{name}`"));
            }
            Change::TypeRelaxed { name, before, after } => add(
                "schema-widened",
                Severity::Medium,
                format!("`{name}` accepts {} (was {})", types(&after), types(&before)),
            ),
            Change::EnumGrown { name, added } => {
                add("schema-widened", Severity::Medium, format!("`{name}` accepts new values {}", added.join(", ")));
            }
            Change::RequiredDropped { name } => {
                add("schema-widened", Severity::Low, format!("`{name}` is no longer required"));
            }
            Change::ParamRemoved { name } => {
                add("schema-changed", Severity::Low, format!("parameter `{name}` removed"));
            }
            Change::AnnotationChanged { hint, before, after } => {
                let show =
                    |v: &Option<serde_json::Value>| v.as_ref().map_or("not declared".to_string(), |v| v.to_string());
                let dropped_read_only = hint == "readOnlyHint" && before == Some(serde_json::Value::Bool(true));
                let destructive_now = hint == "destructiveHint" && after == Some(serde_json::Value::Bool(true));
                let severity = if dropped_read_only {
                    Severity::High
                } else if destructive_now {
                    Severity::Low
                } else {
                    Severity::Medium
                };
                add("annotations-changed", severity, format!("{hint}: {} → {}", show(&before), show(&after)));
            }
            Change::CategoryRaised { before, after: a } => {
                let sev = after.risk().map_or(Severity::Medium, severity_of).max(Severity::Medium);
                add("verdict-raised", sev, format!("category {before} → {a}"));
            }
            Change::RiskRaised { before, after: a } => {
                let sev = after.risk().map_or(Severity::Medium, severity_of).max(Severity::Medium);
                add("verdict-raised", sev, format!("risk {before} → {a}"));
            }
            Change::OtherFields { fields } => {
                add("definition-changed", Severity::Low, format!("changed: {}", fields.join(", ")));
            }
        }
    }
    for (rule, (severity, texts)) in by_rule {
        let message = format!("`{key}` changed since the baseline: {}", texts.join("; "));
        out.push(Finding::new(rule, severity, server, Some(key), message, &after.digest));
    }
}

fn types(t: &[String]) -> String {
    if t.is_empty() {
        "any type".to_string()
    } else {
        t.join(" or ")
    }
}
