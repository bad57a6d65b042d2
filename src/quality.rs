//! Measuring the classifier against tools labelled by their own authors (`catalog eval`).
//!
//! Each record is classified without its `annotations`, `label` and `label_rule`; the predicted
//! hints map to a label (read-only → read, else destructive → delete, else write) and are compared
//! with the author's. A plain verb-prefix baseline is scored on the same records.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::classify::{features::name_words, Contexts, RuleSet};
use crate::input::parse_record;
use crate::model::{Category, ToolInput};
use crate::report::{
    ClassScores, EvalReport, LeaveOneOut, LeftOutServer, Miss, Scores, ServerScores, ThresholdRow, SCHEMA_VERSION,
};

/// The three labels the devset uses.
const LABELS: [Category; 3] = [Category::Read, Category::Write, Category::Delete];

/// The baseline's read verbs: a first name token in this list predicts read.
pub const BASELINE_READ: &[&str] = &[
    "get", "list", "read", "search", "find", "fetch", "query", "show", "describe", "view", "lookup", "check", "count",
];
/// The baseline's delete verbs: a first name token in this list predicts delete.
pub const BASELINE_DELETE: &[&str] = &["delete", "remove", "rm", "del", "destroy", "drop", "purge", "erase"];

/// One labelled tool.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub tool: ToolInput,
    pub label: Category,
}

/// Reads devset JSONL. Returns the records and a message per skipped line.
pub fn read_labelled(text: &str) -> (Vec<Labelled>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                skipped.push(format!("line {}: not a JSON record: {e}", i + 1));
                continue;
            }
        };
        let label = match value.get("label").and_then(Value::as_str) {
            Some("read") => Category::Read,
            Some("write") => Category::Write,
            Some("delete") => Category::Delete,
            other => {
                skipped.push(format!("line {}: `label` must be read, write or delete, found {other:?}", i + 1));
                continue;
            }
        };
        match parse_record(value) {
            Ok(mut tool) => {
                // The answer must not leak into the question.
                tool.annotations = None;
                out.push(Labelled { tool, label });
            }
            Err(e) => skipped.push(format!("line {}: {e}", i + 1)),
        }
    }
    (out, skipped)
}

/// The verb-prefix baseline: the first name word decides.
pub fn baseline(name: &str) -> Category {
    let words = name_words(name);
    match words.first().map(String::as_str) {
        Some(w) if BASELINE_READ.contains(&w) => Category::Read,
        Some(w) if BASELINE_DELETE.contains(&w) => Category::Delete,
        _ => Category::Write,
    }
}

/// Classifies every record and scores the classifier and the baseline side by side.
pub fn evaluate(rules: &RuleSet, records: &[Labelled], skipped: Vec<String>) -> EvalReport {
    let mut contexts = Contexts::new(None);
    let mut ours = Vec::with_capacity(records.len());
    let mut base = Vec::with_capacity(records.len());
    let mut dangerous = Vec::new();
    let mut other = Vec::new();
    let mut confidences = Vec::with_capacity(records.len());
    for rec in records {
        let verdict = contexts.classify(rules, &rec.tool);
        let predicted = verdict.hints.label();
        confidences.push(verdict.confidence);
        ours.push((rec.label, predicted));
        base.push((rec.label, baseline(&rec.tool.name)));
        if predicted != rec.label {
            let miss = Miss {
                server: rec.tool.server.clone().unwrap_or_default(),
                name: rec.tool.name.clone(),
                label: rec.label.as_str(),
                predicted: predicted.as_str(),
                category: verdict.category.as_str(),
                confidence: verdict.confidence,
            };
            if rec.label != Category::Read && predicted == Category::Read {
                dangerous.push(miss);
            } else {
                other.push(miss);
            }
        }
    }
    let mut by_server: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, rec) in records.iter().enumerate() {
        by_server.entry(rec.tool.server.clone().unwrap_or_default()).or_default().push(i);
    }
    let per_server = by_server
        .into_iter()
        .map(|(server, idx)| {
            let n = idx.len();
            let acc = |pairs: &[(Category, Category)], f: &dyn Fn(Category, Category) -> bool| {
                ratio(idx.iter().filter(|&&i| f(pairs[i].0, pairs[i].1)).count(), n)
            };
            ServerScores {
                server,
                tools: n,
                three_way_accuracy: acc(&ours, &|l, p| l == p),
                read_only_accuracy: acc(&ours, &|l, p| (l == Category::Read) == (p == Category::Read)),
                baseline_three_way_accuracy: acc(&base, &|l, p| l == p),
            }
        })
        .collect();
    let mut label_counts = BTreeMap::new();
    for rec in records {
        *label_counts.entry(rec.label.as_str()).or_insert(0) += 1;
    }
    EvalReport {
        schema_version: SCHEMA_VERSION,
        rules_version: rules.version().to_string(),
        records: records.len(),
        skipped,
        label_counts,
        classifier: scores(&ours),
        baseline: scores(&base),
        per_server,
        dangerous_misses: dangerous,
        other_misses: other,
        read_threshold: READ_THRESHOLDS.iter().map(|&t| threshold_row(t, &ours, &confidences)).collect(),
        leave_one_server_out: None,
    }
}

/// The label the classifier predicts for each record, classified server by server with its
/// siblings, and the ids of the rules that gave a reason for it.
fn predict(rules: &RuleSet, records: &[&Labelled]) -> Vec<(Category, Vec<String>)> {
    let mut contexts = Contexts::new(None);
    records
        .iter()
        .map(|rec| {
            let v = contexts.classify(rules, &rec.tool);
            (v.hints.label(), v.reasons.iter().map(|r| r.rule_id.to_string()).collect())
        })
        .collect()
}

/// Leave-one-server-out: each server's tools judged as if the server had never been seen. Rules
/// are written by hand, not fitted, so "unseen" means: without every rule that, on this file,
/// gives a reason for that server's tools and for no other server's (a rule written for one
/// server's names). `without` builds the rule set minus those ids (`load_sources_except`).
pub fn leave_one_server_out<E>(
    rules: &RuleSet,
    records: &[Labelled],
    without: impl Fn(&BTreeSet<String>) -> Result<RuleSet, E>,
) -> Result<LeaveOneOut, E> {
    let all: Vec<&Labelled> = records.iter().collect();
    let full = predict(rules, &all);
    let mut servers_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut by_server: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (rec, (_, fired))) in records.iter().zip(&full).enumerate() {
        let server = rec.tool.server.as_deref().unwrap_or_default();
        by_server.entry(server).or_default().push(i);
        for id in fired {
            servers_of.entry(id.as_str()).or_default().insert(server);
        }
    }
    let mut pairs = Vec::with_capacity(records.len());
    let mut servers = Vec::with_capacity(by_server.len());
    for (server, idx) in by_server {
        let own: BTreeSet<String> = servers_of
            .iter()
            .filter(|(_, s)| s.len() == 1 && s.contains(server))
            .map(|(id, _)| id.to_string())
            .collect();
        let recs: Vec<&Labelled> = idx.iter().map(|&i| &records[i]).collect();
        let predicted: Vec<Category> = if own.is_empty() {
            idx.iter().map(|&i| full[i].0).collect()
        } else {
            predict(&without(&own)?, &recs).into_iter().map(|(p, _)| p).collect()
        };
        let seen: Vec<(Category, Category)> = recs.iter().zip(&idx).map(|(r, &i)| (r.label, full[i].0)).collect();
        let unseen: Vec<(Category, Category)> = recs.iter().zip(&predicted).map(|(r, &p)| (r.label, p)).collect();
        let (a, b) = (scores(&seen), scores(&unseen));
        servers.push(LeftOutServer {
            server: server.to_string(),
            tools: idx.len(),
            rules_left_out: own.into_iter().collect(),
            read_only_accuracy: a.read_only_accuracy,
            unseen_read_only_accuracy: b.read_only_accuracy,
            three_way_accuracy: a.three_way_accuracy,
            unseen_three_way_accuracy: b.three_way_accuracy,
            unseen_dangerous_misses: b.dangerous_misses,
        });
        pairs.extend(unseen);
    }
    Ok(LeaveOneOut { scores: scores(&pairs), servers })
}

/// The read thresholds the trade-off table is printed at.
pub const READ_THRESHOLDS: [f64; 8] = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// The figures when a `read` verdict below `t` is counted as a write (the policy's safe side).
fn threshold_row(t: f64, pairs: &[(Category, Category)], confidences: &[f64]) -> ThresholdRow {
    let moved: Vec<(Category, Category)> = pairs
        .iter()
        .zip(confidences)
        .map(|(&(label, p), &c)| (label, if p == Category::Read && c < t { Category::Write } else { p }))
        .collect();
    let s = scores(&moved);
    ThresholdRow {
        threshold: t,
        read_only_accuracy: s.read_only_accuracy,
        read_recall: s.per_class.get("read").map_or(0.0, |c| c.recall),
        dangerous_misses: s.dangerous_misses,
        dangerous_miss_rate: s.dangerous_miss_rate,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        round4(a as f64 / b as f64)
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Scores `(label, predicted)` pairs.
pub fn scores(pairs: &[(Category, Category)]) -> Scores {
    let n = pairs.len();
    let exact = pairs.iter().filter(|(l, p)| l == p).count();
    let ro = pairs.iter().filter(|(l, p)| (*l == Category::Read) == (*p == Category::Read)).count();
    let not_read = pairs.iter().filter(|(l, _)| *l != Category::Read).count();
    let misses = pairs.iter().filter(|(l, p)| *l != Category::Read && *p == Category::Read).count();
    let mut confusion: BTreeMap<&'static str, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for l in LABELS {
        let row = confusion.entry(l.as_str()).or_default();
        for p in LABELS {
            row.insert(p.as_str(), pairs.iter().filter(|(a, b)| *a == l && *b == p).count());
        }
    }
    let per_class = LABELS
        .iter()
        .map(|&c| {
            let tp = pairs.iter().filter(|(l, p)| *l == c && *p == c).count();
            let predicted = pairs.iter().filter(|(_, p)| *p == c).count();
            let support = pairs.iter().filter(|(l, _)| *l == c).count();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 =
                if precision + recall > 0.0 { round4(2.0 * precision * recall / (precision + recall)) } else { 0.0 };
            (c.as_str(), ClassScores { precision, recall, f1, support })
        })
        .collect();
    Scores {
        read_only_accuracy: ratio(ro, n),
        three_way_accuracy: ratio(exact, n),
        per_class,
        confusion,
        dangerous_misses: misses,
        dangerous_miss_rate: ratio(misses, not_read),
    }
}

/// Minimum figures `catalog eval --gate FILE` enforces (`quality-gate.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub min_read_only_accuracy: f64,
    pub min_three_way_accuracy: f64,
    pub max_dangerous_miss_rate: f64,
}

impl Gate {
    /// Every figure below its threshold, in words; empty when the gate passes.
    pub fn failures(&self, s: &Scores) -> Vec<String> {
        let mut out = Vec::new();
        if s.read_only_accuracy < self.min_read_only_accuracy {
            out.push(format!(
                "read-only accuracy {:.4} is below {:.4}",
                s.read_only_accuracy, self.min_read_only_accuracy
            ));
        }
        if s.three_way_accuracy < self.min_three_way_accuracy {
            out.push(format!(
                "three-way accuracy {:.4} is below {:.4}",
                s.three_way_accuracy, self.min_three_way_accuracy
            ));
        }
        if s.dangerous_miss_rate > self.max_dangerous_miss_rate {
            out.push(format!(
                "dangerous-miss rate {:.4} is above {:.4}",
                s.dangerous_miss_rate, self.max_dangerous_miss_rate
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_looks_only_at_the_first_word() {
        assert_eq!(baseline("get_user"), Category::Read);
        assert_eq!(baseline("delete_user"), Category::Delete);
        assert_eq!(baseline("user_delete"), Category::Write);
        assert_eq!(baseline("auth0_get_action"), Category::Write);
    }

    #[test]
    fn scores_count_dangerous_misses() {
        use Category::*;
        let s = scores(&[(Read, Read), (Write, Read), (Delete, Delete), (Write, Delete)]);
        assert_eq!(s.three_way_accuracy, 0.5);
        assert_eq!(s.read_only_accuracy, 0.75);
        assert_eq!(s.dangerous_misses, 1);
        assert_eq!(s.dangerous_miss_rate, round4(1.0 / 3.0));
        assert_eq!(s.confusion["write"]["read"], 1);
    }
}
