//! A Claude Code settings fragment: `{"permissions":{"allow":[…],"ask":[…],"deny":[…]}}` with
//! `mcp__<server>__<tool>` names. Claude Code has no rate limits or argument rules: `allow` and
//! `limit` tools are allowed, `approve` ones ask, `hide` and `deny` ones are denied.

use serde::Serialize;

use crate::policy::{Action, ServerPolicy};

#[derive(Serialize)]
struct Doc {
    permissions: Permissions,
}

#[derive(Serialize, Default)]
struct Permissions {
    allow: Vec<String>,
    ask: Vec<String>,
    deny: Vec<String>,
}

/// A server or tool name as Claude Code spells it in `mcp__<server>__<tool>`: every character
/// other than ASCII letters, digits, `_` and `-` becomes `_`.
pub fn sanitize_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// `mcp__<server>__<tool>`, both sanitised.
pub fn mcp_name(server: &str, tool: &str) -> String {
    format!("mcp__{}__{}", sanitize_name(server), sanitize_name(tool))
}

/// Renders a server's policy as a Claude Code `permissions` fragment; `server` is the name the
/// server has in the user's Claude Code configuration.
pub fn claude_code(p: &ServerPolicy, server: &str) -> String {
    let mut perms = Permissions::default();
    for t in &p.tools {
        let name = mcp_name(server, &t.tool);
        match t.action {
            Action::Allow => perms.allow.push(name),
            // Claude Code cannot cap a rate: a capped tool is asked for, never waved through.
            Action::Limit | Action::Approve => perms.ask.push(name),
            Action::Hide | Action::Deny => perms.deny.push(name),
        }
    }
    for list in [&mut perms.allow, &mut perms.ask, &mut perms.deny] {
        list.sort();
        list.dedup();
    }
    // Two tools whose names sanitise alike: the stricter list wins in Claude Code (deny, then
    // ask, then allow), so a name kept in two lists errs on the safe side.
    let mut out = serde_json::to_string_pretty(&Doc { permissions: perms }).expect("a policy serialises");
    out.push('\n');
    out
}
