//! The scan as Markdown for a pull-request comment or a job summary: the gate, the new findings,
//! then the servers and every tool's verdict folded away.
//!
//! Invariant: everything that came from a server or a config is escaped (Markdown and HTML), so a
//! hostile description cannot add links, images, HTML or table cells to the comment.

use std::fmt::Write;

use super::{Scan, State};
use crate::model::Severity;

/// Rows of findings shown before "and N more".
const MAX_ROWS: usize = 100;

/// Escapes text for a Markdown table cell: one line, no HTML, no Markdown syntax.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn markdown(scan: &Scan, fail_on: Option<Severity>) -> String {
    let mut md = String::new();
    let (new, baselined, suppressed) = scan.counts();
    let verdict = match fail_on {
        Some(level) if scan.fails(level) => format!("gate **failed** (`--fail-on {level}`)"),
        Some(level) => format!("gate passed (`--fail-on {level}`)"),
        None => "no gate".to_string(),
    };
    let _ = writeln!(md, "## catalog scan: {verdict}\n");
    let _ = writeln!(
        md,
        "{} server(s), {} tool(s); highest tool risk: **{}**. {new} new finding(s), {baselined} baselined, {suppressed} suppressed.\n",
        scan.servers.len(),
        scan.tools(),
        scan.max_risk().map_or("none", |r| r.as_str()),
    );
    let active: Vec<_> =
        scan.findings.iter().filter(|f| f.state == State::New && f.severity > Severity::Info).collect();
    if active.is_empty() {
        let _ = writeln!(md, "No new findings.\n");
    } else {
        let _ = writeln!(md, "| Severity | Rule | Server | Tool | Finding |\n| --- | --- | --- | --- | --- |");
        for f in active.iter().take(MAX_ROWS) {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                f.severity,
                escape(&f.rule),
                escape(&f.server),
                escape(f.tool.as_deref().unwrap_or("")),
                escape(&f.message)
            );
        }
        if active.len() > MAX_ROWS {
            let _ = writeln!(md, "\nand {} more: see the SARIF or JSON report.", active.len() - MAX_ROWS);
        }
        md.push('\n');
    }
    let _ = writeln!(md, "<details><summary>Servers ({})</summary>\n", scan.servers.len());
    let _ = writeln!(
        md,
        "| Server | Declared in | Reached | Outcome | Tools | Highest risk |\n| --- | --- | --- | --- | --- | --- |"
    );
    for s in &scan.servers {
        let max = s.tools.iter().map(|t| t.verdict.risk).max().map_or("-", |r| r.as_str());
        let _ = writeln!(
            md,
            "| {} | {}:{} | {} | {} | {} | {max} |",
            escape(&s.name),
            escape(&s.input.origin.file),
            s.input.origin.line,
            escape(&s.input.reached),
            escape(&s.input.outcome),
            s.tools.len()
        );
    }
    let _ = writeln!(md, "\n</details>\n");
    for s in scan.servers.iter().filter(|s| !s.tools.is_empty()) {
        let _ = writeln!(md, "<details><summary>Tools of {} ({})</summary>\n", escape(&s.name), s.tools.len());
        let _ = writeln!(md, "| Tool | Category | Risk | Confidence | Summary |\n| --- | --- | --- | --- | --- |");
        let mut tools: Vec<_> = s.tools.iter().collect();
        tools.sort_by(|a, b| b.verdict.risk.cmp(&a.verdict.risk).then_with(|| a.key.cmp(&b.key)));
        for t in tools {
            let v = &t.verdict;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {} |",
                escape(&t.key),
                v.category,
                v.risk,
                v.confidence,
                escape(&v.summary)
            );
        }
        let _ = writeln!(md, "\n</details>\n");
    }
    md
}
