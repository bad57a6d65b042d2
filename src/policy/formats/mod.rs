//! The gateways' formats, each rendered from a `ServerPolicy` and nothing else.
//!
//! Invariant: output is deterministic: keys sorted, tools sorted by name, lists sorted, one
//! trailing newline. Where a format has room (a YAML or TOML comment, Intercept's `description`)
//! the catalog, rules and policy-table versions are recorded; where it has none (PolicyLayer's
//! and Claude Code's JSON) they go to the export's `index.json`.

mod claude_code;
mod codex;
mod intercept;
mod policylayer;

pub use claude_code::{claude_code, mcp_name, sanitize_name};
pub use codex::codex;
pub use intercept::intercept;
pub use policylayer::policylayer;

use super::ServerPolicy;

/// A target format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// PolicyLayer's hosted `policy.json` v1.
    PolicyLayer,
    /// A Claude Code settings fragment: `permissions.allow/ask/deny`.
    ClaudeCode,
    /// Intercept's YAML policy.
    Intercept,
    /// Codex `config.toml`: `[mcp_servers.NAME] disabled_tools`.
    Codex,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::PolicyLayer, Target::ClaudeCode, Target::Intercept, Target::Codex];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::PolicyLayer => "policylayer",
            Target::ClaudeCode => "claude-code",
            Target::Intercept => "intercept",
            Target::Codex => "codex",
        }
    }

    /// The file-name suffix an export gives each server's file.
    pub fn suffix(self) -> &'static str {
        match self {
            Target::PolicyLayer => ".policy.json",
            Target::ClaudeCode => ".claude-settings.json",
            Target::Intercept => ".intercept.yaml",
            Target::Codex => ".codex.toml",
        }
    }

    /// Renders a server's policy; `client_name` is the server's name in the client's config
    /// (Claude Code, Codex), by default the catalog's server name.
    pub fn render(self, policy: &ServerPolicy, client_name: Option<&str>) -> String {
        let name = client_name.unwrap_or(&policy.server);
        match self {
            Target::PolicyLayer => policylayer(policy),
            Target::ClaudeCode => claude_code(policy, name),
            Target::Intercept => intercept(policy),
            Target::Codex => codex(policy, name),
        }
    }
}

/// One line of text safe for a comment or a message: control characters become spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The text a gateway without approvals returns for an `approve` tool, or a `deny` one.
pub(crate) fn deny_text(rule: &super::ToolRule) -> String {
    match rule.action {
        super::Action::Approve => format!("Requires approval: {}", rule.why()),
        _ => format!("Denied by policy: {}", rule.why()),
    }
}

/// A provenance line for comments.
pub(crate) fn provenance_line(p: &ServerPolicy) -> String {
    let rules = if p.provenance.rules_versions.is_empty() {
        "none".to_string()
    } else {
        p.provenance.rules_versions.join(", ")
    };
    one_line(&format!(
        "catalog {}; policy table {}; classifier rules {}",
        p.provenance.catalog_version, p.provenance.policy_version, rules
    ))
}

/// A number as JSON: whole numbers without a fraction.
pub fn json_number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}
