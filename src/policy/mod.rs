//! Recommended policies: one mapping table (`rules/policy.toml`) from a tool's verdict to a
//! gateway action, user overrides on top, and renderers for the gateways' own formats.
//!
//! Invariants: deciding is pure (`PolicyTable::decide` sees only `ToolFacts`); a server's policy is
//! the per-tool decisions and nothing else, so a tool page and a server policy cannot disagree;
//! every output is deterministic (sorted keys, tools sorted by name).

pub mod check;
pub mod export;
pub mod formats;
mod mapping;
pub mod overrides;

use std::fmt;
use std::str::FromStr;

pub use mapping::{load_default, load_dir, load_source, PolicyProblem, PolicyProblems, POLICY_FILE, POLICY_TOML};
pub use overrides::{Override, Overrides};

use crate::model::{Category, Risk};

/// What a gateway does with a tool, from least to most strict (the derived `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
    Limit,
    Approve,
    Hide,
    Deny,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::Allow, Action::Limit, Action::Approve, Action::Hide, Action::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Limit => "limit",
            Action::Approve => "approve",
            Action::Hide => "hide",
            Action::Deny => "deny",
        }
    }

    /// One step stricter, saturating at deny.
    pub fn stricter(self) -> Action {
        match self {
            Action::Allow => Action::Limit,
            Action::Limit => Action::Approve,
            Action::Approve => Action::Hide,
            Action::Hide | Action::Deny => Action::Deny,
        }
    }

    /// The call reaches the server without a person (allow, limit).
    pub fn lets_through(self) -> bool {
        matches!(self, Action::Allow | Action::Limit)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action `{s}`, expected one of: allow, limit, approve, hide, deny"))
    }
}

/// A rate window. Only the windows every target format has (PolicyLayer has no `day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    Minute,
    Hour,
}

impl Window {
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
        }
    }
}

impl FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "minute" => Ok(Window::Minute),
            "hour" => Ok(Window::Hour),
            other => Err(format!("unknown window `{other}`, expected `minute` or `hour`")),
        }
    }
}

/// At most `max` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    pub window: Window,
    pub max: u32,
}

/// One top-level parameter of a tool's input schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFact {
    pub name: String,
    /// The JSON Schema `type` (the first one when it is a list); `any` when absent.
    pub ty: String,
}

/// What deciding a tool's action may look at: its verdict and its input schema's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFacts {
    pub name: String,
    pub category: Category,
    pub risk: Risk,
    pub confidence: f64,
    /// Sorted.
    pub tags: Vec<String>,
    pub params: Vec<ParamFact>,
    /// The schema accepts parameters it does not list (`additionalProperties` is not `false`).
    pub open_params: bool,
}

impl ToolFacts {
    /// Reads the parameters from a raw tool definition (`inputSchema.properties`), ignoring
    /// everything else; a definition that is not JSON has no parameters.
    pub fn params_from_definition(raw_json: &str) -> (Vec<ParamFact>, bool) {
        #[derive(serde::Deserialize)]
        struct Def {
            #[serde(rename = "inputSchema", alias = "input_schema", default)]
            input_schema: Option<SchemaDef>,
        }
        #[derive(serde::Deserialize)]
        struct SchemaDef {
            #[serde(default)]
            properties: Option<std::collections::BTreeMap<String, serde_json::Value>>,
            #[serde(rename = "additionalProperties", default)]
            additional: Option<serde_json::Value>,
        }
        let Ok(def) = serde_json::from_str::<Def>(raw_json) else { return (Vec::new(), false) };
        let Some(schema) = def.input_schema else { return (Vec::new(), true) };
        // `additionalProperties: false` is the only value that closes the schema.
        let open = schema.additional != Some(serde_json::Value::Bool(false));
        let params = schema
            .properties
            .unwrap_or_default()
            .into_iter()
            .map(|(name, p)| {
                let ty = match p.get("type") {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Array(list)) => {
                        list.iter().filter_map(|v| v.as_str()).find(|t| *t != "null").unwrap_or("any").to_string()
                    }
                    _ => "any".to_string(),
                };
                ParamFact { name, ty }
            })
            .collect();
        (params, open)
    }
}

/// An argument-level suggestion for one tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgRule {
    /// The `[[policy.argument]]` id.
    pub id: String,
    /// The parameter, as the schema spells it.
    pub param: String,
    pub kind: ArgKind,
    pub on_deny: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgKind {
    /// Deny when the parameter is above this value.
    Cap(f64),
    /// Deny when the parameter is missing.
    Require,
    /// Deny when the parameter is not one of these (placeholders to replace).
    AllowList(Vec<String>),
}

impl ArgKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ArgKind::Cap(_) => "cap",
            ArgKind::Require => "require",
            ArgKind::AllowList(_) => "allow_list",
        }
    }
}

/// Why a tool got its action.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A `[[policy.rule]]` of the table, by id and its `why`.
    Table { rule: String, why: String, low_confidence: bool },
    /// A user override with its reason.
    Override { reason: String, table_action: Action },
}

/// One tool's recommended policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRule {
    pub tool: String,
    pub category: Category,
    pub risk: Risk,
    pub confidence: f64,
    pub action: Action,
    /// Set when the action is `limit`.
    pub limit: Option<Limit>,
    pub source: Source,
    /// Argument suggestions (rendered only when the tool is reachable: not hidden or denied).
    pub args: Vec<ArgRule>,
}

impl ToolRule {
    /// The rule id that decided (`override` for a user override).
    pub fn rule_id(&self) -> &str {
        match &self.source {
            Source::Table { rule, .. } => rule,
            Source::Override { .. } => "override",
        }
    }

    /// One line saying why, for `on_deny` texts and tables.
    pub fn why(&self) -> String {
        match &self.source {
            Source::Table { why, low_confidence: false, .. } => why.clone(),
            Source::Table { why, low_confidence: true, .. } => {
                format!("{why}; one step stricter because the classification is not confident")
            }
            Source::Override { reason, .. } => format!("override: {reason}"),
        }
    }

    /// Argument rules that apply: none for a tool the agent cannot call.
    pub fn effective_args(&self) -> &[ArgRule] {
        if matches!(self.action, Action::Hide | Action::Deny) {
            &[]
        } else {
            &self.args
        }
    }
}

/// The versions a policy was made from, recorded where a format has room.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// `catalog` itself (`CARGO_PKG_VERSION`).
    pub catalog_version: String,
    /// The classifier rules' versions of the verdicts used, sorted.
    pub rules_versions: Vec<String>,
    /// The policy table's version.
    pub policy_version: String,
}

/// One server's recommended policy: every current tool's rule, sorted by tool name.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerPolicy {
    pub server: String,
    pub identity: String,
    pub tools: Vec<ToolRule>,
    pub all_tools_limit: Option<Limit>,
    pub provenance: Provenance,
}

impl ServerPolicy {
    pub fn tool(&self, name: &str) -> Option<&ToolRule> {
        self.tools.binary_search_by(|t| t.tool.as_str().cmp(name)).ok().map(|i| &self.tools[i])
    }

    pub fn tool_mut(&mut self, name: &str) -> Option<&mut ToolRule> {
        self.tools.binary_search_by(|t| t.tool.as_str().cmp(name)).ok().map(|i| &mut self.tools[i])
    }

    /// How many tools get each action.
    pub fn counts(&self) -> [usize; 5] {
        let mut n = [0; 5];
        for t in &self.tools {
            n[t.action as usize] += 1;
        }
        n
    }
}

/// A compiled `[[policy.rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRule {
    pub id: String,
    /// Empty: every category.
    pub categories: Vec<Category>,
    pub min_risk: Option<Risk>,
    /// Any of these (empty: no condition on tags).
    pub tags: Vec<String>,
    pub action: Action,
    pub limit: Option<Limit>,
    pub why: String,
}

impl TableRule {
    fn applies(&self, f: &ToolFacts) -> bool {
        (self.categories.is_empty() || self.categories.contains(&f.category))
            && self.min_risk.is_none_or(|r| f.risk >= r)
            && (self.tags.is_empty() || self.tags.iter().any(|t| f.tags.binary_search(t).is_ok()))
    }
}

/// A compiled `[[policy.argument]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableArg {
    pub id: String,
    pub categories: Vec<Category>,
    /// Lowercase parameter names; empty for `require`.
    pub params: Vec<String>,
    pub types: Vec<String>,
    pub kind: ArgKind,
    /// For `require`: the parameter.
    pub require: Option<String>,
    pub on_deny: String,
}

/// The compiled policy table.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyTable {
    pub low_confidence: f64,
    pub default_limit: Limit,
    pub all_tools_limit: Option<Limit>,
    pub rules: Vec<TableRule>,
    pub arguments: Vec<TableArg>,
    /// `policy-` and the first 8 hex digits of the table's sha256.
    pub version: String,
}

impl PolicyTable {
    /// The recommended rule for one tool. Pure: the same facts always give the same rule.
    pub fn decide(&self, f: &ToolFacts) -> ToolRule {
        // The loader guarantees a base rule for every category, so one always applies.
        let mut best: Option<&TableRule> = None;
        for r in &self.rules {
            if r.applies(f) && best.is_none_or(|b| r.action > b.action) {
                best = Some(r);
            }
        }
        let (mut action, rule, why, mut limit) = match best {
            Some(r) => (r.action, r.id.clone(), r.why.clone(), r.limit),
            None => (Action::Deny, "no-rule".to_string(), "no rule of the policy table applies".to_string(), None),
        };
        // Doubt asks a person: low confidence tightens up to approve, never to hide or deny
        // (hiding is for poisoned definitions, not for tools the classifier is unsure of).
        let low = f.confidence < self.low_confidence;
        if low && action < Action::Approve {
            action = action.stricter();
        }
        if action == Action::Limit {
            limit = Some(limit.unwrap_or(self.default_limit));
        } else {
            limit = None;
        }
        ToolRule {
            tool: f.name.clone(),
            category: f.category,
            risk: f.risk,
            confidence: f.confidence,
            action,
            limit,
            source: Source::Table { rule, why, low_confidence: low },
            args: self.arguments(f),
        }
    }

    fn arguments(&self, f: &ToolFacts) -> Vec<ArgRule> {
        let mut out = Vec::new();
        for a in &self.arguments {
            if !a.categories.is_empty() && !a.categories.contains(&f.category) {
                continue;
            }
            if let Some(req) = &a.require {
                let has = f.params.iter().find(|p| p.name.eq_ignore_ascii_case(req));
                if has.is_some() || f.open_params {
                    let param = has.map_or_else(|| req.clone(), |p| p.name.clone());
                    out.push(ArgRule { id: a.id.clone(), param, kind: a.kind.clone(), on_deny: a.on_deny.clone() });
                }
                continue;
            }
            for p in &f.params {
                let named = a.params.iter().any(|n| p.name.eq_ignore_ascii_case(n));
                let typed = a.types.is_empty() || a.types.contains(&p.ty);
                if named && typed {
                    out.push(ArgRule {
                        id: a.id.clone(),
                        param: p.name.clone(),
                        kind: a.kind.clone(),
                        on_deny: a.on_deny.clone(),
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.param, &a.id).cmp(&(&b.param, &b.id)));
        out
    }

    /// A server's policy: one rule per distinct tool name (tools that share a name get the
    /// strictest of their rules), sorted by name.
    pub fn server_policy(
        &self,
        server: &str,
        identity: &str,
        tools: &[ToolFacts],
        provenance: Provenance,
    ) -> ServerPolicy {
        let mut rules: Vec<ToolRule> = tools.iter().map(|t| self.decide(t)).collect();
        rules.sort_by(|a, b| a.tool.cmp(&b.tool).then(b.action.cmp(&a.action)));
        rules.dedup_by(|later, first| later.tool == first.tool);
        ServerPolicy {
            server: server.to_string(),
            identity: identity.to_string(),
            tools: rules,
            all_tools_limit: self.all_tools_limit,
            provenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(category: Category, risk: Risk, confidence: f64, tags: &[&str]) -> ToolFacts {
        let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        tags.sort();
        ToolFacts {
            name: "t".into(),
            category,
            risk,
            confidence,
            tags,
            params: vec![
                ParamFact { name: "amount".into(), ty: "number".into() },
                ParamFact { name: "url".into(), ty: "string".into() },
                ParamFact { name: "path".into(), ty: "string".into() },
            ],
            open_params: true,
        }
    }

    /// Every category, risk, confidence and subset of pairs of tags: delete, execute and
    /// financial are never let through by the table, and a tag or a lower confidence never
    /// loosens the action.
    #[test]
    fn the_table_never_lets_dangerous_categories_through_and_is_monotonic() {
        let table = load_default().expect("the built-in policy table loads");
        let tags = mapping::KNOWN_TAGS;
        for c in Category::ALL {
            for r in Risk::ALL {
                for conf in [0.05, 0.59, 0.6, 0.99] {
                    let base = table.decide(&facts(*c, *r, conf, &[])).action;
                    if matches!(c, Category::Delete | Category::Execute | Category::Financial) {
                        assert!(!base.lets_through(), "{c} {r} {conf} → {base}");
                    }
                    let surer = table.decide(&facts(*c, *r, 0.99, &[])).action;
                    assert!(base >= surer, "lower confidence loosened {c} {r}");
                    for (i, a) in tags.iter().enumerate() {
                        let one = table.decide(&facts(*c, *r, conf, &[a])).action;
                        assert!(one >= base, "{c} {r} + {a} loosened {base} → {one}");
                        for b in &tags[i + 1..] {
                            let two = table.decide(&facts(*c, *r, conf, &[a, b])).action;
                            assert!(two >= one, "{c} {r} + {a} + {b} loosened the action");
                            if matches!(c, Category::Delete | Category::Execute | Category::Financial) {
                                assert!(!two.lets_through(), "{c} {r} {a} {b} → {two}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn low_confidence_moves_one_step_stricter() {
        let table = load_default().unwrap();
        let sure = table.decide(&facts(Category::Read, Risk::Low, 0.9, &[]));
        let unsure = table.decide(&facts(Category::Read, Risk::Low, 0.3, &[]));
        assert_eq!(sure.action, Action::Allow);
        assert_eq!(unsure.action, Action::Limit);
        assert_eq!(unsure.limit, Some(table.default_limit));
        assert!(unsure.why().contains("not confident"), "{}", unsure.why());
        // Doubt stops at approval: an unsure delete is approved by a person, not hidden.
        let unsure_delete = table.decide(&facts(Category::Delete, Risk::High, 0.3, &[]));
        assert_eq!(unsure_delete.action, Action::Approve);
        let unsure_write = table.decide(&facts(Category::Write, Risk::High, 0.3, &[]));
        assert_eq!(unsure_write.action, Action::Approve);
        let poisoned = table.decide(&facts(Category::Read, Risk::Critical, 0.3, &["tool-poisoning"]));
        assert_eq!(poisoned.action, Action::Hide);
    }

    #[test]
    fn argument_suggestions_follow_the_schema() {
        let table = load_default().unwrap();
        let money = table.decide(&facts(Category::Financial, Risk::Critical, 0.9, &[]));
        let kinds: Vec<(&str, &str)> = money.args.iter().map(|a| (a.param.as_str(), a.kind.as_str())).collect();
        assert_eq!(kinds, [("amount", "cap"), ("path", "allow_list"), ("url", "allow_list")]);
        let mut del = facts(Category::Delete, Risk::High, 0.9, &[]);
        assert!(table.decide(&del).args.iter().any(|a| a.kind == ArgKind::Require && a.param == "reason"));
        del.open_params = false;
        assert!(
            !table.decide(&del).args.iter().any(|a| a.kind == ArgKind::Require),
            "a closed schema without `reason` cannot take one"
        );
        let read = table.decide(&facts(Category::Read, Risk::Low, 0.9, &[]));
        let kinds: Vec<&str> = read.args.iter().map(|a| a.param.as_str()).collect();
        assert_eq!(kinds, ["url"], "reads get the URL allow-list only");
    }

    #[test]
    fn parameters_are_read_from_the_raw_definition() {
        let (params, open) = ToolFacts::params_from_definition(
            r#"{"name":"x","inputSchema":{"type":"object","properties":{"amount":{"type":["integer","null"]},
                "url":{"type":"string"},"q":{}},"additionalProperties":false}}"#,
        );
        assert!(!open);
        let got: Vec<(&str, &str)> = params.iter().map(|p| (p.name.as_str(), p.ty.as_str())).collect();
        assert_eq!(got, [("amount", "integer"), ("q", "any"), ("url", "string")]);
        let (params, open) = ToolFacts::params_from_definition(r#"{"name":"x"}"#);
        assert!(params.is_empty() && open);
        let (_, open) = ToolFacts::params_from_definition(
            r#"{"inputSchema":{"properties":{"a":{"type":"object","additionalProperties":false}}}}"#,
        );
        assert!(open, "a nested additionalProperties does not close the top level");
    }
}
