//! Intercept's YAML policy (`version: "1"`, `default`, `hide`, `tools.<name>.rules`), written by
//! hand so the output is byte-stable. Strings are double-quoted YAML scalars.
//!
//! Intercept has no approvals: an `approve` tool gets an `action: deny` rule whose `on_deny` says
//! it needs approval. Argument suggestions become `evaluate` rules, whose conditions must hold
//! for the call to pass (so the cap is `lte`, the allow-list `in`, the requirement `exists`).

use std::fmt::Write;

use super::{deny_text, json_number as number, one_line, provenance_line};
use crate::policy::{Action, ArgKind, Limit, ServerPolicy};

/// A YAML double-quoted scalar: JSON's escapes, plus `\uXXXX` for every control character
/// (YAML does not allow DEL or C1 controls raw) and the byte-order mark.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn rate(l: Limit) -> String {
    format!("{}/{}", l.max, l.window.as_str())
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => quote(s),
        serde_json::Value::Array(list) => format!("[{}]", list.iter().map(value).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Renders a server's policy as an Intercept YAML policy.
pub fn intercept(p: &ServerPolicy) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Recommended by catalog for {} ({})", one_line(&p.server), one_line(&p.identity));
    let _ = writeln!(o, "# {}", provenance_line(p));
    let _ = writeln!(o, "version: \"1\"");
    let _ = writeln!(
        o,
        "description: {}",
        quote(&format!("catalog's recommended policy for {} ({})", p.server, provenance_line(p)))
    );
    let _ = writeln!(o, "default: \"deny\"");
    let mut hidden: Vec<&str> = p.tools.iter().filter(|t| t.action == Action::Hide).map(|t| t.tool.as_str()).collect();
    hidden.sort_unstable();
    if hidden.is_empty() {
        let _ = writeln!(o, "hide: []");
    } else {
        let _ = writeln!(o, "hide:");
        for h in hidden {
            let _ = writeln!(o, "  - {}", quote(h));
        }
    }
    let mut entries = 0;
    let head = o;
    let mut o = String::new();
    for t in &p.tools {
        if t.action == Action::Hide {
            continue;
        }
        if t.tool == "*" {
            // Intercept reads `*` as every tool; under `default: deny` leaving it out denies it.
            let _ = writeln!(o, "  # a tool named \"*\" is left out (denied): Intercept reads `*` as every tool");
            continue;
        }
        entries += 1;
        let _ = writeln!(o, "  {}:", quote(&t.tool));
        let mut rules = String::new();
        match t.action {
            Action::Allow | Action::Hide => {}
            Action::Limit => {
                if let Some(l) = t.limit {
                    let _ = writeln!(rules, "      - name: {}", quote(t.rule_id()));
                    let _ = writeln!(rules, "        rate_limit: {}", rate(l));
                    let _ = writeln!(
                        rules,
                        "        on_deny: {}",
                        quote(&format!("Rate limit of {} reached: {}", rate(l), t.why()))
                    );
                }
            }
            Action::Approve | Action::Deny => {
                let _ = writeln!(rules, "      - name: {}", quote(t.rule_id()));
                let _ = writeln!(rules, "        action: \"deny\"");
                let _ = writeln!(rules, "        on_deny: {}", quote(&deny_text(t)));
            }
        }
        for a in t.effective_args() {
            let path = quote(&format!("args.{}", a.param));
            let (op, v) = match &a.kind {
                ArgKind::Cap(max) => ("lte", number(*max)),
                ArgKind::AllowList(list) => ("in", serde_json::json!(list)),
                ArgKind::Require => ("exists", serde_json::Value::Bool(true)),
            };
            let _ = writeln!(rules, "      - name: {}", quote(&format!("{} {}", a.id, a.param)));
            let _ = writeln!(rules, "        conditions:");
            let _ = writeln!(rules, "          - path: {path}");
            let _ = writeln!(rules, "            op: \"{op}\"");
            let _ = writeln!(rules, "            value: {}", value(&v));
            let _ = writeln!(rules, "        on_deny: {}", quote(&a.on_deny));
        }
        if rules.is_empty() {
            let _ = writeln!(o, "    rules: []");
        } else {
            let _ = writeln!(o, "    rules:");
            o.push_str(&rules);
        }
    }
    if let Some(l) = p.all_tools_limit {
        let _ = writeln!(o, "  \"*\":");
        let _ = writeln!(o, "    rules:");
        let _ = writeln!(o, "      - name: \"all-tools-limit\"");
        let _ = writeln!(o, "        rate_limit: {}", rate(l));
    }
    if entries == 0 && p.all_tools_limit.is_none() {
        // `tools` must be a map even when every tool is hidden.
        return format!("{head}tools: {{}}\n{o}");
    }
    format!("{head}tools:\n{o}")
}
