//! Suppressions: findings a team has looked at and accepted, with a reason, in a committed file.
//!
//! ```toml
//! [[suppress]]
//! rule = "toxic-flow"          # a rule id, or "*"
//! server = "github"            # a server name, or "*"
//! tool = "create_issue"        # optional; "*" or absent: every tool of the server
//! reason = "reviewed in SEC-123: the agent only runs on our own repositories"
//! expires = "2027-03-31"       # optional; after it the finding comes back
//! ```
//! JSON works too (`{"suppress": [...]}` or a bare array). Invariants: an entry without a
//! reason, or with a date that is not `YYYY-MM-DD`, makes the whole file an error (a silent
//! suppression is what a reviewer must never get); an expired entry suppresses nothing and is
//! reported; an entry that matched nothing is reported as unused.

use serde::Deserialize;

use super::Finding;

/// One suppression as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub rule: String,
    pub server: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, alias = "suppressions")]
    suppress: Vec<Suppression>,
}

/// A suppressions file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    #[error("the suppressions file is not valid {format}: {message}")]
    Syntax { format: &'static str, message: String },
    #[error("suppression {index} ({rule} on {server}) has no reason; say why the finding is accepted")]
    NoReason { index: usize, rule: String, server: String },
    #[error("suppression {index} ({rule} on {server}) expires on {value:?}, not a YYYY-MM-DD date")]
    BadDate { index: usize, rule: String, server: String, value: String },
}

/// The suppressions of a file, checked.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    pub entries: Vec<Suppression>,
    /// Each entry's expiry as days since 1970-01-01.
    expires: Vec<Option<i64>>,
}

impl Suppressions {
    /// Reads a suppressions file's text: TOML when `toml` is true, else JSON.
    pub fn parse(text: &str, toml: bool) -> Result<Suppressions, SuppressionError> {
        let entries = if toml {
            toml::from_str::<File>(text)
                .map_err(|e| SuppressionError::Syntax { format: "TOML", message: e.to_string() })?
                .suppress
        } else {
            let trimmed = text.trim_start();
            let parsed = if trimmed.starts_with('[') {
                serde_json::from_str::<Vec<Suppression>>(text)
            } else {
                serde_json::from_str::<File>(text).map(|f| f.suppress)
            };
            parsed.map_err(|e| SuppressionError::Syntax { format: "JSON", message: e.to_string() })?
        };
        let mut expires = Vec::with_capacity(entries.len());
        for (i, s) in entries.iter().enumerate() {
            if s.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(SuppressionError::NoReason {
                    index: i + 1,
                    rule: s.rule.clone(),
                    server: s.server.clone(),
                });
            }
            let date = match &s.expires {
                Some(d) => Some(crate::dates::parse_date(d).ok_or_else(|| SuppressionError::BadDate {
                    index: i + 1,
                    rule: s.rule.clone(),
                    server: s.server.clone(),
                    value: d.clone(),
                })?),
                None => None,
            };
            expires.push(date);
        }
        Ok(Suppressions { entries, expires })
    }

    /// Whether entry `i` has expired on `today` (days since 1970-01-01): it lasts through its date.
    pub fn expired(&self, i: usize, today: i64) -> bool {
        self.expires[i].is_some_and(|d| d < today)
    }

    /// The first live entry that covers `f`.
    pub fn matching(&self, f: &Finding, today: i64) -> Option<usize> {
        self.entries.iter().enumerate().position(|(i, s)| !self.expired(i, today) && Self::covers_entry(s, f))
    }

    /// Whether entry `s` names `f`, expired or not.
    pub fn covers_entry(s: &Suppression, f: &Finding) -> bool {
        covers(&s.rule, &f.rule) && covers(&s.server, &f.server) && tool_covers(s, f)
    }
}

fn covers(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

fn tool_covers(s: &Suppression, f: &Finding) -> bool {
    match (s.tool.as_deref(), f.tool.as_deref()) {
        (None | Some("*"), _) => true,
        (Some(p), Some(t)) => p == t,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suppression_needs_a_reason_and_a_real_date() {
        let e = Suppressions::parse("[[suppress]]\nrule = \"x\"\nserver = \"s\"\n", true).unwrap_err();
        assert!(e.to_string().contains("has no reason"), "{e}");
        let e = Suppressions::parse(r#"[{"rule":"x","server":"s","reason":"ok","expires":"next week"}]"#, false)
            .unwrap_err();
        assert!(e.to_string().contains("not a YYYY-MM-DD date"), "{e}");
        let e = Suppressions::parse(r#"{"suppress":[{"rule":"x","server":"s","reason":"ok","why":"?"}]}"#, false)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let ok = Suppressions::parse(
            "[[suppress]]\nrule = \"*\"\nserver = \"s\"\nreason = \"r\"\nexpires = \"2026-12-07\"\n",
            true,
        )
        .unwrap();
        let day = crate::dates::parse_date("2026-12-07").unwrap();
        assert!(!ok.expired(0, day));
        assert!(ok.expired(0, day + 1));
    }
}
