//! `catalog policy --check FILE`: validates a PolicyLayer `policy.json` against the schema in
//! `schemas/` (compiled in) and a few rules a schema cannot say, listing every problem with its
//! JSON path.

use std::sync::OnceLock;

use serde_json::Value;

/// The PolicyLayer v1 schema, as shipped in `schemas/policylayer-policy-v1.schema.json`.
pub const POLICYLAYER_SCHEMA: &str = include_str!("../../schemas/policylayer-policy-v1.schema.json");

/// One problem, at a JSON path such as `$.tools["write_file"].limits[0].max`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CheckProblem {
    pub path: String,
    pub message: String,
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(POLICYLAYER_SCHEMA).expect("the shipped schema is JSON");
        jsonschema::validator_for(&schema).expect("the shipped schema compiles")
    })
}

/// A JSON Pointer's segments as a JSONPath-like string, read against the document to tell array
/// indexes from keys.
fn json_path(doc: &Value, segments: &[String]) -> String {
    let mut out = String::from("$");
    let mut at = Some(doc);
    for s in segments {
        match at {
            Some(Value::Array(list)) => {
                out.push_str(&format!("[{s}]"));
                at = s.parse::<usize>().ok().and_then(|i| list.get(i));
            }
            other => {
                let plain = !s.is_empty()
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !s.starts_with(|c: char| c.is_ascii_digit());
                if plain {
                    out.push('.');
                    out.push_str(s);
                } else {
                    out.push_str(&format!("[{}]", serde_json::to_string(s).unwrap_or_default()));
                }
                at = other.and_then(|v| v.get(s));
            }
        }
    }
    out
}

/// Every problem in a parsed policy document, sorted by path. Empty: the policy is valid.
pub fn check_policylayer(doc: &Value) -> Vec<CheckProblem> {
    let mut out = Vec::new();
    for e in validator().iter_errors(doc) {
        let segments: Vec<String> = e
            .instance_path()
            .iter()
            .map(|s| match s {
                jsonschema::paths::LocationSegment::Property(p) => p.to_string(),
                jsonschema::paths::LocationSegment::Index(i) => i.to_string(),
            })
            .collect();
        out.push(CheckProblem { path: json_path(doc, &segments), message: e.to_string() });
    }
    // What a schema cannot say.
    let tools = doc.get("tools").and_then(Value::as_object);
    if let (Some(Value::Array(hide)), Some(tools)) = (doc.get("hide"), tools) {
        for (i, h) in hide.iter().enumerate() {
            if let Some(name) = h.as_str() {
                if tools.contains_key(name) {
                    out.push(CheckProblem {
                        path: format!("$.hide[{i}]"),
                        message: format!("`{name}` is hidden and also listed under `tools`; keep one"),
                    });
                }
            }
        }
    }
    let mut limits: Vec<(String, &Value)> = Vec::new();
    if let Some(l) = doc.pointer("/all_tools/limits") {
        limits.push(("$.all_tools.limits".into(), l));
    }
    for (name, t) in tools.into_iter().flatten() {
        if let Some(l) = t.get("limits") {
            limits.push((format!("{}.limits", json_path(doc, &["tools".into(), name.clone()])), l));
        }
    }
    for (path, list) in limits {
        let mut seen = std::collections::HashSet::new();
        for (i, l) in list.as_array().into_iter().flatten().enumerate() {
            if let Some(c) = l.get("counter").and_then(Value::as_str) {
                if !seen.insert(c) {
                    out.push(CheckProblem {
                        path: format!("{path}[{i}].counter"),
                        message: format!("the counter `{c}` is used twice here; give each limit its own"),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_its_path() {
        let doc: Value = serde_json::from_str(
            r#"{"version":"2","default":"deny","hide":["a","a"],"all_tools":{"limits":[]},
                "tools":{"a":{},"b c":{"limits":[{"counter":"x","window":"day","max":0,"scope":"grant"},
                {"counter":"x","window":"hour","max":1,"scope":"grant"}],"action":"deny"}}}"#,
        )
        .unwrap();
        let problems = check_policylayer(&doc);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "$.version",
            "$.hide",
            "$.hide[0]",
            "$.tools[\"b c\"]",
            "$.tools[\"b c\"].limits[0].window",
            "$.tools[\"b c\"].limits[0].max",
            "$.tools[\"b c\"].limits[1].counter",
        ] {
            assert!(paths.contains(&want), "missing {want} in {problems:#?}");
        }
    }
}
