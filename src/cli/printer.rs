//! Human-readable output: tables, verdict details, rule explanations, eval reports and errors.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::classify::rules::Rule;
use crate::classify::{RuleProblems, RuleSet};
use crate::model::{Evidence, Hint, ToolInput, Verdict};
use crate::report::{EvalReport, LeaveOneOut, Scores};

/// Prints `error: …` and one `Caused by: …` line per source.
pub(super) fn error(err: &mut dyn Write, e: &anyhow::Error) {
    let _ = writeln!(err, "error: {e}");
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "  Caused by: {cause}");
    }
}

pub(super) fn rule_problems(err: &mut dyn Write, problems: &RuleProblems) -> io::Result<()> {
    for p in &problems.0 {
        writeln!(err, "error: {p}")?;
    }
    writeln!(err, "{} problem(s); fix them and run `catalog rules check` again", problems.0.len())
}

pub(super) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Makes control and bidirectional-override characters visible so a hostile name cannot
/// rewrite the terminal or reorder what is shown.
pub(super) fn visible(s: &str) -> String {
    let hidden = |c: char| {
        c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    s.chars().map(|c| if hidden(c) { '\u{fffd}' } else { c }).collect()
}

pub(super) fn table_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{:<9} {:<9} {:>4}  {:<40} {:<28} FINDINGS", "RISK", "CATEGORY", "CONF", "TOOL", "TAGS")
}

pub(super) fn table_row(out: &mut dyn Write, tool: &ToolInput, v: &Verdict) -> io::Result<()> {
    let name = match &tool.server {
        Some(s) => format!("{}/{}", visible(s), visible(&tool.name)),
        None => visible(&tool.name),
    };
    let findings: Vec<&str> =
        v.findings.iter().filter(|f| &*f.rule_id != "missing-annotations").map(|f| &*f.rule_id).collect();
    writeln!(
        out,
        "{:<9} {:<9} {:>4.2}  {:<40} {:<28} {}",
        v.risk.as_str(),
        v.category.as_str(),
        v.confidence,
        one_line(&name, 40),
        one_line(&v.tags.join(","), 28),
        findings.join(",")
    )
}

pub(super) fn table_footer(
    out: &mut dyn Write,
    tools: usize,
    by_category: &BTreeMap<&'static str, usize>,
    by_risk: &BTreeMap<&'static str, usize>,
) -> io::Result<()> {
    let fmt = |m: &BTreeMap<&str, usize>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    writeln!(out, "\n{tools} tools; by category: {}; by risk: {}", fmt(by_category), fmt(by_risk))
}

fn evidence(list: &[Evidence]) -> String {
    list.iter()
        .map(|e| {
            if e.text.is_empty() {
                format!("{} (empty)", e.field)
            } else {
                format!("{}: {:?}", e.field, visible(&e.text))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn verdict_detail(out: &mut dyn Write, tool: &ToolInput, v: &Verdict, explain: bool) -> io::Result<()> {
    match &tool.server {
        Some(s) => writeln!(out, "{} (server {})", visible(&tool.name), visible(s))?,
        None => writeln!(out, "{}", visible(&tool.name))?,
    }
    writeln!(out, "  category    {}", v.category)?;
    writeln!(out, "  risk        {}", v.risk)?;
    writeln!(out, "  confidence  {:.2}", v.confidence)?;
    let hints: Vec<String> = Hint::ALL.iter().map(|h| format!("{}={}", h.as_str(), v.hints.get(*h))).collect();
    writeln!(out, "  hints       {}", hints.join(" "))?;
    writeln!(out, "  tags        {}", if v.tags.is_empty() { "-".to_string() } else { v.tags.join(", ") })?;
    writeln!(out, "  summary     {}", v.summary)?;
    if !v.findings.is_empty() {
        writeln!(out, "  findings")?;
        for f in &v.findings {
            writeln!(out, "    {:<8} {:<36} {}", f.severity.as_str(), f.rule_id, f.message)?;
        }
    }
    if explain {
        writeln!(out, "  reasons")?;
        for r in &v.reasons {
            writeln!(out, "    {:<36} {}", r.rule_id, r.effect)?;
            if !r.evidence.is_empty() {
                writeln!(out, "    {:<36}   evidence {}", "", evidence(&r.evidence))?;
            }
        }
        writeln!(out, "  confidence arithmetic")?;
        for s in &v.confidence_steps {
            writeln!(out, "    {:.2} → {:.2}: {}", s.from, s.to, s.why)?;
        }
        writeln!(out, "    = {:.2}", v.confidence)?;
        writeln!(out, "  risk arithmetic")?;
        for s in &v.risk_steps {
            writeln!(out, "    {s}")?;
        }
    } else {
        let ids: Vec<&str> = v.reasons.iter().map(|r| &*r.rule_id).collect();
        writeln!(out, "  rules       {} (--explain for evidence and arithmetic)", ids.join(", "))?;
    }
    Ok(())
}

pub(super) fn rule_explain(out: &mut dyn Write, rule: &Rule) -> io::Result<()> {
    writeln!(out, "{} ({} stage, {})", rule.id, rule.stage.as_str(), rule.file)?;
    writeln!(out, "  {}", rule.message)?;
    if !rule.why.trim().is_empty() {
        writeln!(out)?;
        for line in rule.why.trim().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "  effect: {}", rule.effect_text)?;
    let (flag, pass) = &rule.examples;
    writeln!(out, "  fires on: {}", flag.iter().map(|e| visible(&e.tool.name)).collect::<Vec<_>>().join(", "))?;
    writeln!(out, "  not on:   {}", pass.iter().map(|e| visible(&e.tool.name)).collect::<Vec<_>>().join(", "))
}

pub(super) fn rule_list(out: &mut dyn Write, set: &RuleSet, json: bool) -> io::Result<()> {
    if json {
        for r in set.rules() {
            let line = serde_json::json!({"id": &*r.id, "stage": r.stage.as_str(), "file": r.file, "message": &*r.message, "effect": &*r.effect_text});
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    for r in set.rules() {
        writeln!(out, "{:<38} {:<8} {}", r.id, r.stage.as_str(), r.message)?;
    }
    Ok(())
}

fn scores_line(out: &mut dyn Write, label: &str, ours: f64, base: f64) -> io::Result<()> {
    writeln!(out, "  {label:<34} {ours:>10.4} {base:>10.4}")
}

pub(super) fn eval_report(out: &mut dyn Write, r: &EvalReport, all_misses: bool) -> io::Result<()> {
    let counts: Vec<String> = r.label_counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        out,
        "records: {} ({}); skipped: {}; rules {}",
        r.records,
        counts.join(", "),
        r.skipped.len(),
        r.rules_version
    )?;
    writeln!(out)?;
    writeln!(out, "  {:<34} {:>10} {:>10}", "", "catalog", "baseline")?;
    let (c, b) = (&r.classifier, &r.baseline);
    scores_line(out, "read-only accuracy", c.read_only_accuracy, b.read_only_accuracy)?;
    scores_line(out, "three-way accuracy", c.three_way_accuracy, b.three_way_accuracy)?;
    writeln!(out, "  {:<34} {:>10} {:>10}", "dangerous misses", c.dangerous_misses, b.dangerous_misses)?;
    scores_line(out, "dangerous-miss rate (of non-read)", c.dangerous_miss_rate, b.dangerous_miss_rate)?;
    for class in ["read", "write", "delete"] {
        let (x, y) = (&c.per_class[class], &b.per_class[class]);
        scores_line(out, &format!("{class} precision"), x.precision, y.precision)?;
        scores_line(out, &format!("{class} recall"), x.recall, y.recall)?;
        scores_line(out, &format!("{class} F1"), x.f1, y.f1)?;
    }
    for (name, s) in [("catalog", c), ("baseline", b)] {
        confusion(out, name, s)?;
    }
    writeln!(out, "\nper server                                          tools  3-way  read-only  baseline 3-way")?;
    for s in &r.per_server {
        writeln!(
            out,
            "  {:<50} {:>4}  {:>5.2}  {:>9.2}  {:>14.2}",
            one_line(&s.server, 50),
            s.tools,
            s.three_way_accuracy,
            s.read_only_accuracy,
            s.baseline_three_way_accuracy
        )?;
    }
    writeln!(
        out,
        "\nread threshold (a `read` verdict less confident than this counts as not read-only)\n  threshold  read-only acc  read recall  dangerous misses  rate"
    )?;
    for t in &r.read_threshold {
        writeln!(
            out,
            "  {:>9.2}  {:>12.4}  {:>11.4}  {:>16}  {:.4}",
            t.threshold, t.read_only_accuracy, t.read_recall, t.dangerous_misses, t.dangerous_miss_rate
        )?;
    }
    if let Some(loo) = &r.leave_one_server_out {
        leave_one_out(out, loo)?;
    }
    writeln!(out, "\ndangerous misses (author: not read-only; catalog: read-only): {}", r.dangerous_misses.len())?;
    for m in &r.dangerous_misses {
        writeln!(
            out,
            "  {} / {}  label {}  (category {}, confidence {:.2})",
            m.server, m.name, m.label, m.category, m.confidence
        )?;
    }
    if all_misses {
        writeln!(out, "\nother disagreements: {}", r.other_misses.len())?;
        for m in &r.other_misses {
            writeln!(
                out,
                "  {} / {}  label {} predicted {}  (category {}, confidence {:.2})",
                m.server, m.name, m.label, m.predicted, m.category, m.confidence
            )?;
        }
    }
    Ok(())
}

fn leave_one_out(out: &mut dyn Write, loo: &LeaveOneOut) -> io::Result<()> {
    writeln!(out, "\nleave one server out (each server without the rules that fire on it alone)")?;
    if loo.servers.len() < 2 {
        writeln!(out, "  (one server only: every rule that fires is its own, so this says little; use several)")?;
    }
    writeln!(
        out,
        "  {:<44} {:>5} {:>5} {:>16} {:>16} {:>9}",
        "server", "tools", "rules", "read-only", "3-way", "dangerous"
    )?;
    for s in &loo.servers {
        writeln!(
            out,
            "  {:<44} {:>5} {:>5}      {:.2} → {:.2}      {:.2} → {:.2} {:>9}",
            one_line(&s.server, 44),
            s.tools,
            s.rules_left_out.len(),
            s.read_only_accuracy,
            s.unseen_read_only_accuracy,
            s.three_way_accuracy,
            s.unseen_three_way_accuracy,
            s.unseen_dangerous_misses
        )?;
    }
    let s = &loo.scores;
    writeln!(
        out,
        "  unseen overall: read-only accuracy {:.4}, three-way {:.4}, dangerous misses {} ({:.4} of non-read)",
        s.read_only_accuracy, s.three_way_accuracy, s.dangerous_misses, s.dangerous_miss_rate
    )
}

fn confusion(out: &mut dyn Write, name: &str, s: &Scores) -> io::Result<()> {
    writeln!(out, "\nconfusion ({name}): rows = author label, columns = predicted")?;
    writeln!(out, "  {:<8} {:>6} {:>6} {:>6}", "", "read", "write", "delete")?;
    for l in ["read", "write", "delete"] {
        let row = &s.confusion[l];
        writeln!(out, "  {:<8} {:>6} {:>6} {:>6}", l, row["read"], row["write"], row["delete"])?;
    }
    Ok(())
}

/// A unix time as a UTC date and time, `2026-12-07 06:14 UTC` (days to civil date: Howard
/// Hinnant's algorithm).
pub(super) fn date(secs: i64) -> String {
    crate::dates::date_time(secs)
}
