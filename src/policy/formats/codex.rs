//! Codex `config.toml`: `[mcp_servers.<name>] disabled_tools = [...]`. Codex has no per-tool
//! approval or rate limit, so every tool a person would have to approve is disabled too, along
//! with hidden and denied ones; `allow` and `limit` tools stay enabled.

use super::{one_line, provenance_line, sanitize_name};
use crate::policy::ServerPolicy;

/// Renders a server's policy as a Codex config fragment; `server` is the server's name in the
/// user's Codex configuration (sanitised like Claude Code's: Codex accepts `[A-Za-z0-9_-]`).
pub fn codex(p: &ServerPolicy, server: &str) -> String {
    let mut disabled: Vec<&str> =
        p.tools.iter().filter(|t| !t.action.lets_through()).map(|t| t.tool.as_str()).collect();
    disabled.sort_unstable();
    let key = sanitize_name(server);
    let key = if key.is_empty() { "server".to_string() } else { key };
    let mut out = String::new();
    out.push_str(&format!("# Recommended by catalog for {} ({})\n", one_line(&p.server), one_line(&p.identity)));
    out.push_str(&format!("# {}\n", provenance_line(p)));
    out.push_str(
        "# Tools that need approval, or are hidden or denied, are disabled: Codex has no per-tool approval.\n",
    );
    let mut servers = toml::Table::new();
    let mut table = toml::Table::new();
    table.insert(
        "disabled_tools".into(),
        toml::Value::Array(disabled.into_iter().map(|t| toml::Value::String(t.to_string())).collect()),
    );
    servers.insert(key, toml::Value::Table(table));
    let mut root = toml::Table::new();
    root.insert("mcp_servers".into(), toml::Value::Table(servers));
    out.push_str(&toml::to_string(&root).expect("a table serialises"));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
