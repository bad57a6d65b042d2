//! `rules/policy.toml` → a validated `PolicyTable`. Like the rule loader, it collects every
//! problem (bad TOML, unknown fields, unknown categories, tags or actions, missing base rules)
//! with its file and field, then fails once.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ArgKind, Limit, PolicyTable, TableArg, TableRule};
use crate::model::{Category, Risk};

/// The policy table's file name, in `rules/` and in a `--rules DIR`.
pub const POLICY_FILE: &str = "policy.toml";

/// The built-in table, compiled into the binary.
pub const POLICY_TOML: &str = include_str!("../../rules/policy.toml");

/// The tags a rule may name (the classifier's `[tables.tags]`, checked against it by a test).
pub(super) const KNOWN_TAGS: &[&str] = &[
    "bulk",
    "code-execution",
    "credentials",
    "database",
    "filesystem",
    "irreversible",
    "messaging",
    "network",
    "payments",
    "permissions",
    "pii",
    "private-data",
    "public-sink",
    "tool-poisoning",
    "untrusted-content",
];

/// One problem in a policy table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: String,
    /// `policy.rule[2].action`, ...
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a policy table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblems(pub Vec<PolicyProblem>);

impl fmt::Display for PolicyProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the policy table", self.0.len())?;
        for p in &self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyProblems {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    policy: RawPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    low_confidence: f64,
    default_limit: toml::Value,
    all_tools_limit: Option<toml::Value>,
    #[serde(default)]
    rule: Vec<toml::Value>,
    #[serde(default)]
    argument: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    window: String,
    max: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(default)]
    categories: Vec<String>,
    min_risk: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    action: String,
    limit: Option<toml::Value>,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArg {
    id: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
    cap: Option<f64>,
    require: Option<String>,
    allow_list: Option<Vec<String>>,
    on_deny: String,
}

struct Ctx {
    file: String,
    problems: Vec<PolicyProblem>,
}

impl Ctx {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(PolicyProblem { file: self.file.clone(), field: field.into(), message: message.into() });
    }

    fn limit(&mut self, field: &str, v: toml::Value) -> Option<Limit> {
        let raw: RawLimit = match v.try_into() {
            Ok(l) => l,
            Err(e) => {
                self.problem(field, one_line(&e.to_string()));
                return None;
            }
        };
        let window = match raw.window.parse() {
            Ok(w) => Some(w),
            Err(e) => {
                self.problem(format!("{field}.window"), e);
                None
            }
        };
        let max = match u32::try_from(raw.max) {
            Ok(m) if m > 0 => Some(m),
            _ => {
                self.problem(format!("{field}.max"), "a limit's max is a positive whole number");
                None
            }
        };
        Some(Limit { window: window?, max: max? })
    }

    fn categories(&mut self, field: &str, list: &[String]) -> Vec<Category> {
        let mut out = Vec::new();
        for (i, c) in list.iter().enumerate() {
            match c.parse::<Category>() {
                Ok(c) => out.push(c),
                Err(e) => self.problem(format!("{field}[{i}]"), e),
            }
        }
        out
    }
}

fn one_line(s: &str) -> String {
    s.trim_end().replace('\n', " ")
}

/// Loads the table compiled into the binary.
pub fn load_default() -> Result<PolicyTable, PolicyProblems> {
    load_source("policy.toml", POLICY_TOML)
}

/// Loads `DIR/policy.toml` (the `--rules DIR` directory).
pub fn load_dir(dir: &Path) -> Result<PolicyTable, PolicyProblems> {
    let path = dir.join(POLICY_FILE);
    let file = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => load_source(&file, &text),
        Err(e) => Err(PolicyProblems(vec![PolicyProblem {
            file,
            field: String::new(),
            message: format!("cannot read the policy table ({e}); copy rules/policy.toml into the directory"),
        }])),
    }
}

/// Compiles one policy table given as text; `file` names it in problems.
pub fn load_source(file: &str, text: &str) -> Result<PolicyTable, PolicyProblems> {
    let mut ctx = Ctx { file: file.to_string(), problems: Vec::new() };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            ctx.problem("", format!("invalid policy table: {}", one_line(&e.to_string())));
            return Err(PolicyProblems(ctx.problems));
        }
    };
    let p = raw.policy;
    if !(0.0..=1.0).contains(&p.low_confidence) {
        ctx.problem("policy.low_confidence", "a confidence is between 0 and 1");
    }
    let default_limit = ctx.limit("policy.default_limit", p.default_limit);
    let all_tools_limit = p.all_tools_limit.and_then(|v| ctx.limit("policy.all_tools_limit", v));

    let known_tags: HashSet<&str> = KNOWN_TAGS.iter().copied().collect();
    let mut ids = HashSet::new();
    let mut rules = Vec::new();
    for (i, item) in p.rule.into_iter().enumerate() {
        let field = format!("policy.rule[{i}]");
        let r: RawRule = match item.try_into() {
            Ok(r) => r,
            Err(e) => {
                ctx.problem(&field, one_line(&e.to_string()));
                continue;
            }
        };
        let field = format!("policy.rule[{i}] `{}`", r.id);
        if !ids.insert(r.id.clone()) {
            ctx.problem(format!("{field}.id"), "duplicate id");
        }
        let categories = ctx.categories(&format!("{field}.categories"), &r.categories);
        let min_risk = match r.min_risk.as_deref().map(str::parse::<Risk>) {
            Some(Err(e)) => {
                ctx.problem(format!("{field}.min_risk"), e);
                None
            }
            Some(Ok(r)) => Some(r),
            None => None,
        };
        for (j, t) in r.tags.iter().enumerate() {
            if !known_tags.contains(t.as_str()) {
                ctx.problem(format!("{field}.tags[{j}]"), format!("unknown tag `{t}` (see rules/tables.toml)"));
            }
        }
        let action = match r.action.parse::<super::Action>() {
            Ok(a) => a,
            Err(e) => {
                ctx.problem(format!("{field}.action"), e);
                continue;
            }
        };
        let limit = match r.limit {
            Some(v) if action == super::Action::Limit => ctx.limit(&format!("{field}.limit"), v),
            Some(_) => {
                ctx.problem(format!("{field}.limit"), "only a `limit` rule has a limit");
                None
            }
            None => None,
        };
        if r.why.trim().is_empty() {
            ctx.problem(format!("{field}.why"), "say why in one line");
        }
        let mut tags = r.tags;
        tags.sort();
        rules.push(TableRule { id: r.id, categories, min_risk, tags, action, limit, why: r.why });
    }
    for c in Category::ALL {
        let base = rules.iter().any(|r| r.categories.contains(c) && r.min_risk.is_none() && r.tags.is_empty());
        if !base {
            ctx.problem(
                "policy.rule",
                format!(
                    "no base rule for the category `{c}`: add one with `categories = [\"{c}\"]` and no tags or risk"
                ),
            );
        }
    }

    let mut arguments = Vec::new();
    for (i, item) in p.argument.into_iter().enumerate() {
        let field = format!("policy.argument[{i}]");
        let a: RawArg = match item.try_into() {
            Ok(a) => a,
            Err(e) => {
                ctx.problem(&field, one_line(&e.to_string()));
                continue;
            }
        };
        let field = format!("policy.argument[{i}] `{}`", a.id);
        if !ids.insert(a.id.clone()) {
            ctx.problem(format!("{field}.id"), "duplicate id");
        }
        let categories = ctx.categories(&format!("{field}.categories"), &a.categories);
        let kinds = [a.cap.is_some(), a.require.is_some(), a.allow_list.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            ctx.problem(&field, "give exactly one of `cap`, `require`, `allow_list`");
            continue;
        }
        let kind = match (a.cap, &a.allow_list) {
            (Some(c), _) => ArgKind::Cap(c),
            (None, Some(list)) if list.is_empty() => {
                ctx.problem(format!("{field}.allow_list"), "an allow-list needs at least one (placeholder) value");
                continue;
            }
            (None, Some(list)) => ArgKind::AllowList(list.clone()),
            (None, None) => ArgKind::Require,
        };
        if kind != ArgKind::Require && a.params.is_empty() {
            ctx.problem(format!("{field}.params"), "name the parameters it applies to");
        }
        if kind == ArgKind::Require && !a.params.is_empty() {
            ctx.problem(format!("{field}.params"), "`require` names its parameter itself; drop `params`");
        }
        if a.on_deny.trim().is_empty() {
            ctx.problem(format!("{field}.on_deny"), "say what the agent is told when the call is denied");
        }
        arguments.push(TableArg {
            id: a.id,
            categories,
            params: a.params.iter().map(|p| p.to_ascii_lowercase()).collect(),
            types: a.types,
            kind,
            require: a.require,
            on_deny: a.on_deny,
        });
    }

    if !ctx.problems.is_empty() {
        return Err(PolicyProblems(ctx.problems));
    }
    let digest = Sha256::digest(text.as_bytes());
    let version = format!("policy-{}", digest.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>());
    Ok(PolicyTable {
        low_confidence: p.low_confidence,
        default_limit: default_limit.expect("checked above"),
        all_tools_limit,
        rules,
        arguments,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let text = r#"
[policy]
low_confidence = 1.5
default_limit = { window = "day", max = 0 }

[[policy.rule]]
id = "a"
categories = ["read", "reed"]
tags = ["nope"]
action = "maybe"
why = "x"

[[policy.rule]]
id = "a"
categories = ["write"]
action = "allow"
limit = { window = "minute", max = 3 }
why = ""

[[policy.argument]]
id = "b"
cap = 3
require = "reason"
on_deny = "x"
"#;
        let problems = load_source("p.toml", text).unwrap_err();
        let fields: Vec<&str> = problems.0.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "policy.low_confidence",
            "policy.default_limit.window",
            "policy.default_limit.max",
            "policy.rule[0] `a`.categories[1]",
            "policy.rule[0] `a`.tags[0]",
            "policy.rule[0] `a`.action",
            "policy.rule[1] `a`.id",
            "policy.rule[1] `a`.limit",
            "policy.rule[1] `a`.why",
            "policy.argument[0] `b`",
        ] {
            assert!(fields.contains(&want), "missing {want} in {problems}");
        }
        assert!(problems.to_string().contains("no base rule for the category `delete`"), "{problems}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = POLICY_TOML.replace("low_confidence = 0.6", "low_confidence = 0.6\nlow_confidense = 0.5");
        let problems = load_source("p.toml", &text).unwrap_err();
        assert!(problems.to_string().contains("low_confidense"), "{problems}");
    }

    #[test]
    fn the_tag_list_matches_the_classifier_tables() {
        let rules = crate::classify::load_default().unwrap();
        let declared: Vec<&str> = rules.tables().tags.keys().map(String::as_str).collect();
        assert_eq!(declared, KNOWN_TAGS);
    }
}
