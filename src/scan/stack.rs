//! Findings about the whole set of servers an agent gets at once: toxic flows, shadowing and
//! name collisions. Pure: scanned tools in, findings out.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::Regex;

use super::{Finding, ScannedServer, ScannedTool};
use crate::model::Severity;

/// A tool in the stack, by server index and tool index.
type At = (usize, usize);

/// Every stack finding: toxic flows, shadowing, collisions.
pub(super) fn findings(servers: &[ScannedServer]) -> Vec<Finding> {
    let mut out = Vec::new();
    toxic_flows(servers, &mut out);
    shadowing(servers, &mut out);
    collisions(servers, &mut out);
    out
}

fn tool(servers: &[ScannedServer], at: At) -> (&ScannedServer, &ScannedTool) {
    (&servers[at.0], &servers[at.0].tools[at.1])
}

/// The three roles of a toxic flow, by the tag that gives each.
const ROLES: [(&str, &str); 3] = [
    ("untrusted-content", "brings in content others wrote"),
    ("private-data", "reads private data"),
    ("public-sink", "sends data where others can see it"),
];

/// Why a tool has a tag: the message of the first reason that set it.
fn why_tagged(t: &ScannedTool, tag: &str) -> String {
    let reason = t.verdict.reasons.iter().find(|r| r.effect.split([',', ' ']).any(|w| w == tag));
    match reason {
        Some(r) => format!("{} ({})", r.message, r.rule_id),
        None => format!("tagged {tag}"),
    }
}

/// One finding when the stack holds a tool for each role: the riskiest tool of each role is
/// named (three different tools when there are), with how many others could play each role.
fn toxic_flows(servers: &[ScannedServer], out: &mut Vec<Finding>) {
    let mut by_role: Vec<Vec<At>> = vec![Vec::new(); ROLES.len()];
    for (si, s) in servers.iter().enumerate() {
        for (ti, t) in s.tools.iter().enumerate() {
            for (ri, (tag, _)) in ROLES.iter().enumerate() {
                if t.verdict.tags.iter().any(|g| &**g == *tag) {
                    by_role[ri].push((si, ti));
                }
            }
        }
    }
    if by_role.iter().any(Vec::is_empty) {
        return;
    }
    for list in &mut by_role {
        list.sort_by(|a, b| {
            let (sa, ta) = tool(servers, *a);
            let (sb, tb) = tool(servers, *b);
            tb.verdict
                .risk
                .cmp(&ta.verdict.risk)
                .then_with(|| (&sa.name, &ta.tool.name).cmp(&(&sb.name, &tb.tool.name)))
        });
    }
    // Prefer three different tools: pick greedily, each role's first not already picked.
    let mut picked: Vec<At> = Vec::new();
    for list in &by_role {
        let choice = list.iter().find(|a| !picked.contains(a)).unwrap_or(&list[0]);
        picked.push(*choice);
    }
    let mut parts = Vec::new();
    for (ri, at) in picked.iter().enumerate() {
        let (s, t) = tool(servers, *at);
        let others = by_role[ri].len() - 1;
        let more = if others > 0 { format!("; {others} other tool(s) could too") } else { String::new() };
        parts.push(format!("`{}` on {} {}: {}{more}", t.tool.name, s.name, ROLES[ri].1, why_tagged(t, ROLES[ri].0)));
    }
    let (s0, t0) = tool(servers, picked[0]);
    let (_, t2) = tool(servers, picked[2]);
    let message = format!(
        "toxic flow: {}. An instruction injected into what `{}` returns can make the agent read private data and send it out with `{}`",
        parts.join("; "),
        t0.tool.name,
        t2.tool.name
    );
    let related: Vec<(String, String)> = picked
        .iter()
        .map(|at| {
            let (s, t) = tool(servers, *at);
            (s.name.clone(), t.tool.name.clone())
        })
        .collect();
    let digest = related_digest(servers, &picked);
    out.push(
        Finding::new("toxic-flow", Severity::High, &s0.name, Some(&t0.tool.name), message, &digest).related(related),
    );
}

fn related_digest(servers: &[ScannedServer], ats: &[At]) -> String {
    let joined: Vec<&str> = ats.iter().map(|at| tool(servers, *at).1.pin.digest.as_str()).collect();
    super::pins::sha256(joined.join(",").as_bytes())
}

/// Phrases that tell the agent how to use tools other than this one.
fn other_tools_phrase() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b((before|after|instead of|rather than|when) (using|calling|invoking|running) (any|all|every|other|another|the other)\b[^.]{0,40}\btools?|(any|all|every) other (tools?|servers?|functions?)|(do not|don't|never) (use|call|invoke) (any |the )?other (tools?|servers?)|instead of (the )?\w+ (tool|server)|(overrides?|replaces?|supersedes?) (the )?(\w+ )?(tools?|servers?))\b",
        )
        .expect("the shadowing pattern is valid")
    })
}

/// A name distinctive enough that mentioning it means the tool: it has a separator or a case
/// change, and is not a common word.
fn distinctive(name: &str) -> bool {
    name.len() >= 5
        && (name.contains(['_', '-', '.']) || name.chars().skip(1).any(|c| c.is_ascii_uppercase()))
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A tool whose description names another server's tool, or tells the agent how to use other
/// tools.
fn shadowing(servers: &[ScannedServer], out: &mut Vec<Finding>) {
    let mut owners: HashMap<&str, Vec<usize>> = HashMap::new();
    for (si, s) in servers.iter().enumerate() {
        for t in &s.tools {
            if distinctive(&t.tool.name) {
                let list = owners.entry(t.tool.name.as_str()).or_default();
                if !list.contains(&si) {
                    list.push(si);
                }
            }
        }
    }
    for (si, s) in servers.iter().enumerate() {
        for t in &s.tools {
            let Some(text) = t.tool.description.as_deref().filter(|d| !d.is_empty()) else { continue };
            let mut named: Vec<(String, String)> = Vec::new();
            for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
                let word = word.trim_matches('.');
                if word == t.tool.name {
                    continue;
                }
                let Some(list) = owners.get(word) else { continue };
                // A name the own server also has is the server talking about itself.
                if list.contains(&si) {
                    continue;
                }
                for &other in list {
                    let pair = (servers[other].name.clone(), word.to_string());
                    if !named.contains(&pair) {
                        named.push(pair);
                    }
                }
            }
            let phrase = other_tools_phrase().find(text).map(|m| m.as_str().to_string());
            if named.is_empty() && phrase.is_none() {
                continue;
            }
            let mut why = Vec::new();
            if !named.is_empty() {
                let list: Vec<String> = named.iter().map(|(s, n)| format!("`{n}` of {s}")).collect();
                why.push(format!("names another server's tool: {}", list.join(", ")));
            }
            if let Some(p) = phrase {
                why.push(format!("tells the agent how to use other tools: \"{p}\""));
            }
            let message = format!("shadowing: the description of `{}` {}", t.tool.name, why.join("; "));
            out.push(
                Finding::new("shadowing", Severity::High, &s.name, Some(&t.tool.name), message, &t.pin.digest)
                    .related(named),
            );
        }
    }
}

/// A tool name offered by more than one server: which one a client calls is up to its prefixing.
fn collisions(servers: &[ScannedServer], out: &mut Vec<Finding>) {
    let mut by_name: BTreeMap<&str, Vec<At>> = BTreeMap::new();
    for (si, s) in servers.iter().enumerate() {
        for (ti, t) in s.tools.iter().enumerate() {
            let list = by_name.entry(t.tool.name.as_str()).or_default();
            if !list.iter().any(|(s, _)| *s == si) {
                list.push((si, ti));
            }
        }
    }
    for (name, ats) in by_name.into_iter().filter(|(_, a)| a.len() > 1) {
        let names: Vec<&str> = ats.iter().map(|(si, _)| servers[*si].name.as_str()).collect();
        let message = format!(
            "name collision: `{name}` is offered by {} servers ({}); a client without per-server prefixes may call the wrong one",
            ats.len(),
            names.join(", ")
        );
        let related = ats.iter().skip(1).map(|(si, _)| (servers[*si].name.clone(), name.to_string())).collect();
        let digest = related_digest(servers, &ats);
        let first = &servers[ats[0].0];
        out.push(
            Finding::new("name-collision", Severity::Medium, &first.name, Some(name), message, &digest)
                .related(related),
        );
    }
}
