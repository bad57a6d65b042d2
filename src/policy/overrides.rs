//! The user's overrides: a TOML file of `[[override]]` entries applied on top of the table.
//!
//! ```toml
//! [[override]]
//! server = "stripe"          # a server's name or identity, or "*" for every server
//! tool = "create_refund"     # a tool's name, or "*" for every tool of the server(s)
//! action = "limit"           # allow, limit, approve, hide, deny
//! limit = { window = "hour", max = 5 }   # optional, for `limit`
//! reason = "refunds are reviewed by finance the same day"
//! ```
//!
//! An override without a reason is an error; one that matches no tool is reported.

use std::fmt;

use serde::Deserialize;

use super::{Action, Limit, ServerPolicy, Source};

/// One override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub server: String,
    pub tool: String,
    pub action: Action,
    pub limit: Option<Limit>,
    pub reason: String,
}

impl Override {
    fn matches_server(&self, p: &ServerPolicy) -> bool {
        self.server == "*" || self.server == p.server || self.server == p.identity
    }
}

/// A parsed overrides file, with how many tools each entry changed so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    pub entries: Vec<Override>,
    hits: Vec<usize>,
}

/// A problem in an overrides file, with its field (`override[2].reason`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("\n  "))]
pub struct OverrideProblems(pub Vec<(String, String)>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "override", default)]
    entries: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    server: String,
    tool: String,
    action: String,
    limit: Option<RawLimit>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    window: String,
    max: i64,
}

impl Overrides {
    /// Parses an overrides file, collecting every problem.
    pub fn parse(text: &str) -> Result<Overrides, OverrideProblems> {
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| OverrideProblems(vec![(String::from("file"), e.to_string().trim_end().replace('\n', " "))]))?;
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for (i, item) in raw.entries.into_iter().enumerate() {
            let field = format!("override[{i}]");
            let r: RawOverride = match item.try_into() {
                Ok(r) => r,
                Err(e) => {
                    problems.push((field, e.to_string().trim_end().replace('\n', " ")));
                    continue;
                }
            };
            let reason = r.reason.unwrap_or_default();
            if reason.trim().is_empty() {
                problems.push((
                    format!("{field}.reason"),
                    "an override needs a reason: say why this tool may be treated differently".into(),
                ));
            }
            for (name, v) in [("server", &r.server), ("tool", &r.tool)] {
                if v.is_empty() {
                    problems.push((format!("{field}.{name}"), format!("name a {name}, or `*` for every one")));
                }
            }
            let action = match r.action.parse::<Action>() {
                Ok(a) => a,
                Err(e) => {
                    problems.push((format!("{field}.action"), e));
                    continue;
                }
            };
            let limit = match r.limit {
                Some(_) if action != Action::Limit => {
                    problems.push((format!("{field}.limit"), "only a `limit` override has a limit".into()));
                    None
                }
                Some(l) => {
                    let window = l.window.parse();
                    let max = u32::try_from(l.max).ok().filter(|m| *m > 0);
                    match (window, max) {
                        (Ok(window), Some(max)) => Some(Limit { window, max }),
                        (Err(e), _) => {
                            problems.push((format!("{field}.limit.window"), e));
                            None
                        }
                        (_, None) => {
                            problems.push((format!("{field}.limit.max"), "a positive whole number".into()));
                            None
                        }
                    }
                }
                None => None,
            };
            entries.push(Override { server: r.server, tool: r.tool, action, limit, reason });
        }
        if !problems.is_empty() {
            return Err(OverrideProblems(problems));
        }
        let hits = vec![0; entries.len()];
        Ok(Overrides { entries, hits })
    }

    /// Applies every matching entry to a server's policy (later entries win) and counts the hits.
    pub fn apply(&mut self, policy: &mut ServerPolicy, default_limit: Limit) {
        for (i, o) in self.entries.iter().enumerate() {
            if !o.matches_server(policy) {
                continue;
            }
            for t in &mut policy.tools {
                if o.tool != "*" && o.tool != t.tool {
                    continue;
                }
                let table_action = match &t.source {
                    Source::Table { .. } => t.action,
                    Source::Override { table_action, .. } => *table_action,
                };
                t.action = o.action;
                t.limit = (o.action == Action::Limit).then(|| o.limit.or(t.limit).unwrap_or(default_limit));
                t.source = Source::Override { reason: o.reason.clone(), table_action };
                self.hits[i] += 1;
            }
        }
    }

    /// Entries that changed no tool so far; with `server`, only those aimed at that server.
    pub fn unmatched(&self, server: Option<&ServerPolicy>) -> Vec<&Override> {
        self.entries
            .iter()
            .zip(&self.hits)
            .filter(|(o, n)| **n == 0 && server.is_none_or(|p| o.matches_server(p)))
            .map(|(o, _)| o)
            .collect()
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server `{}` tool `{}` → {}", self.server, self.tool, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_without_a_reason_is_an_error() {
        let e = Overrides::parse(
            "[[override]]\nserver = \"s\"\ntool = \"t\"\naction = \"allow\"\n\n[[override]]\nserver = \"s\"\ntool = \"u\"\naction = \"nope\"\nreason = \"r\"\n",
        )
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["override[0].reason", "override[1].action"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Overrides::parse(
            "[[override]]\nserver = \"s\"\ntool = \"t\"\naction = \"allow\"\nreason = \"r\"\nwhy = 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("why"), "{e}");
    }
}
