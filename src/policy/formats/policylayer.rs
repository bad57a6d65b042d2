//! PolicyLayer's hosted `policy.json`, version "1":
//! `{"all_tools":{"limits":[…]},"default":"deny","hide":[…],"tools":{"<name>":{"deny_if":[…],
//! "limits":[…],"require":[…]}},"version":"1"}`. The schema is `schemas/policylayer-policy-v1.schema.json`.
//!
//! Under `default: deny` a tool is callable only when listed: `{}` allows it, `limits` caps it,
//! `deny_if` blocks calls whose conditions all hold (no conditions: every call, with `on_deny`
//! saying it needs approval or is denied), `require` lists conditions every call must meet.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{deny_text, json_number as number};
use crate::policy::{Action, ArgKind, Limit, ServerPolicy};

// Fields are declared in sorted order, so the output's keys are sorted whatever serde_json's
// map features are.
#[derive(Serialize)]
struct Doc<'a> {
    all_tools: AllTools,
    default: &'static str,
    hide: Vec<&'a str>,
    tools: BTreeMap<&'a str, Entry>,
    version: &'static str,
}

#[derive(Serialize)]
struct AllTools {
    limits: Vec<LimitJson>,
}

#[derive(Serialize, Default)]
struct Entry {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny_if: Vec<DenyIf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    limits: Vec<LimitJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    require: Vec<Condition>,
}

#[derive(Serialize)]
struct DenyIf {
    conditions: Vec<Condition>,
    on_deny: String,
}

#[derive(Serialize)]
struct Condition {
    op: &'static str,
    path: String,
    value: serde_json::Value,
}

#[derive(Serialize)]
struct LimitJson {
    counter: String,
    max: u32,
    scope: &'static str,
    window: &'static str,
}

fn limit(counter: String, l: Limit) -> LimitJson {
    LimitJson { counter, max: l.max, scope: "grant", window: l.window.as_str() }
}

/// Renders a server's policy as PolicyLayer `policy.json` v1, pretty-printed, with a final newline.
pub fn policylayer(p: &ServerPolicy) -> String {
    let mut doc = Doc {
        all_tools: AllTools {
            limits: p.all_tools_limit.map(|l| limit("all_tools_rate".into(), l)).into_iter().collect(),
        },
        default: "deny",
        hide: Vec::new(),
        tools: BTreeMap::new(),
        version: "1",
    };
    for t in &p.tools {
        let mut e = Entry::default();
        match t.action {
            Action::Hide => {
                doc.hide.push(&t.tool);
                continue;
            }
            Action::Allow => {}
            Action::Limit => {
                if let Some(l) = t.limit {
                    e.limits.push(limit(format!("{}_rate", t.tool), l));
                }
            }
            Action::Approve | Action::Deny => {
                e.deny_if.push(DenyIf { conditions: Vec::new(), on_deny: deny_text(t) });
            }
        }
        for a in t.effective_args() {
            let path = format!("args.{}", a.param);
            match &a.kind {
                ArgKind::Cap(max) => e.deny_if.push(DenyIf {
                    conditions: vec![Condition { op: "gt", path, value: number(*max) }],
                    on_deny: a.on_deny.clone(),
                }),
                ArgKind::AllowList(list) => e.deny_if.push(DenyIf {
                    conditions: vec![Condition { op: "not_in", path, value: serde_json::json!(list) }],
                    on_deny: a.on_deny.clone(),
                }),
                ArgKind::Require => {
                    e.require.push(Condition { op: "exists", path, value: serde_json::Value::Bool(true) });
                }
            }
        }
        doc.tools.insert(&t.tool, e);
    }
    doc.hide.sort_unstable();
    let mut out = serde_json::to_string_pretty(&doc).expect("a policy serialises");
    out.push('\n');
    out
}
