//! Tool pins and drift: what a scan records about each tool so the next scan can say what changed.
//!
//! A pin's `digest` is the draft MCP standard's tool digest: `sha256:` over the RFC 8785 (JCS)
//! canonical JSON of the whole Tool object as the server sent it, so pins agree with digests a
//! server may publish. Beside it, one digest per top-level field and the facts drift is judged on
//! (each parameter's type and enum, the required list, the declared annotations, the verdict), so
//! a report can say *what* changed, not only that something did.
//!
//! Invariant: a pin is computed from the raw definition alone (plus its verdict); a definition
//! that is not JSON, or nests deeper than serde_json reads, is digested as its raw text.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{Category, Risk, Verdict};

/// The longest description kept in a pin, for the report (the digest covers all of it).
const DESCRIPTION_KEPT: usize = 2000;

/// What a scan records about one tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPin {
    /// `sha256:<hex>` of the JCS canonical form of the whole Tool object.
    pub digest: String,
    /// `sha256:<hex>` of each top-level field's canonical form, by field name.
    pub fields: BTreeMap<String, String>,
    /// The input schema's top-level parameters.
    #[serde(default)]
    pub params: BTreeMap<String, ParamPin>,
    #[serde(default)]
    pub required: Vec<String>,
    /// The annotations the server declared (`readOnlyHint`, ...), as declared.
    #[serde(default)]
    pub annotations: BTreeMap<String, Value>,
    /// The description, cut at 2,000 characters.
    #[serde(default)]
    pub description: String,
    pub category: String,
    pub risk: String,
}

/// One parameter of a pinned input schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamPin {
    /// Its JSON Schema types, sorted; empty when the schema does not say (anything goes).
    #[serde(default)]
    pub types: Vec<String>,
    /// Its `enum` values as JSON text, when it has an enum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The RFC 8785 canonical JSON of a value.
fn canonical(value: &Value) -> String {
    // JCS of a serde_json value cannot fail: every key is a string and every number finite.
    serde_jcs::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The draft MCP tool digest of a raw definition: `sha256:` over its JCS form (over the raw text
/// when it cannot be read as JSON).
pub fn tool_digest(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => sha256(canonical(&v).as_bytes()),
        Err(_) => sha256(raw.as_bytes()),
    }
}

impl ToolPin {
    /// Pins one tool: its raw definition and the verdict it got.
    pub fn new(raw: &str, verdict: &Verdict) -> ToolPin {
        let value = serde_json::from_str::<Value>(raw).ok();
        let digest = match &value {
            Some(v) => sha256(canonical(v).as_bytes()),
            None => sha256(raw.as_bytes()),
        };
        let mut pin = ToolPin {
            digest,
            fields: BTreeMap::new(),
            params: BTreeMap::new(),
            required: Vec::new(),
            annotations: BTreeMap::new(),
            description: String::new(),
            category: verdict.category.as_str().to_string(),
            risk: verdict.risk.as_str().to_string(),
        };
        let Some(Value::Object(obj)) = value else { return pin };
        for (k, v) in &obj {
            pin.fields.insert(k.clone(), sha256(canonical(v).as_bytes()));
        }
        if let Some(d) = obj.get("description").and_then(Value::as_str) {
            pin.description = d.chars().take(DESCRIPTION_KEPT).collect();
        }
        if let Some(Value::Object(a)) = obj.get("annotations") {
            for (k, v) in a {
                if k.ends_with("Hint") {
                    pin.annotations.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(schema) = obj.get("inputSchema") {
            collect_params(schema, "", 0, &mut pin.params);
            if let Some(Value::Array(req)) = schema.get("required") {
                pin.required = req.iter().filter_map(Value::as_str).map(str::to_string).collect();
                pin.required.sort();
            }
        }
        pin
    }

    pub fn category(&self) -> Option<Category> {
        self.category.parse().ok()
    }

    pub fn risk(&self) -> Option<Risk> {
        self.risk.parse().ok()
    }
}

/// Nested parameters are pinned as `parent.child` (`parent[].child` inside arrays), this deep.
const MAX_PARAM_DEPTH: usize = 4;
/// At most this many parameters are pinned per tool; the schema's digest covers the rest.
const MAX_PARAMS: usize = 1000;

/// The parameters of a schema and of its object and array-of-object parameters, bounded.
fn collect_params(schema: &Value, prefix: &str, depth: usize, out: &mut BTreeMap<String, ParamPin>) {
    let Some(Value::Object(props)) = schema.get("properties") else { return };
    for (name, p) in props {
        if out.len() >= MAX_PARAMS {
            return;
        }
        let full = format!("{prefix}{name}");
        out.insert(full.clone(), param_pin(p));
        if depth + 1 < MAX_PARAM_DEPTH {
            collect_params(p, &format!("{full}."), depth + 1, out);
            if let Some(items) = p.get("items") {
                collect_params(items, &format!("{full}[]."), depth + 1, out);
            }
        }
    }
}

fn param_pin(p: &Value) -> ParamPin {
    let mut types: Vec<String> = match p.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => {
            // `anyOf: [{type: a}, {type: b}]` is a union of types; anything else says nothing.
            let alts = p.get("anyOf").or_else(|| p.get("oneOf")).and_then(Value::as_array);
            alts.map(|a| a.iter().filter_map(|s| s.get("type").and_then(Value::as_str).map(str::to_string)).collect())
                .unwrap_or_default()
        }
    };
    types.sort();
    types.dedup();
    let values = p.get("enum").and_then(Value::as_array).map(|vs| {
        let mut v: Vec<String> = vs.iter().map(Value::to_string).collect();
        v.sort();
        v.dedup();
        v
    });
    ParamPin { types, values }
}

/// Parameter names that give an agent new reach: files, URLs, commands, queries, code.
const SENSITIVE_PARAMS: &[&str] = &[
    "path",
    "paths",
    "file",
    "files",
    "filename",
    "filepath",
    "dir",
    "directory",
    "folder",
    "url",
    "uri",
    "urls",
    "endpoint",
    "host",
    "hostname",
    "webhook",
    "command",
    "cmd",
    "shell",
    "script",
    "code",
    "exec",
    "args",
    "sql",
    "query",
    "statement",
    "expression",
    "eval",
    "recipient",
    "to",
    "email",
    "destination",
    "target",
];

/// Whether a parameter's name (the last part of a nested one) says it reaches files, the
/// network, commands or a database.
pub fn is_sensitive_param(name: &str) -> bool {
    let name = name.rsplit(['.', ']']).next().unwrap_or(name);
    let lower = name.to_ascii_lowercase();
    camel_words(name).any(|w| SENSITIVE_PARAMS.contains(&w.as_str())) || SENSITIVE_PARAMS.contains(&lower.as_str())
}

fn camel_words(name: &str) -> impl Iterator<Item = String> + '_ {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        if c.is_ascii_alphanumeric() {
            cur.push(c.to_ascii_lowercase());
        } else if !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words.into_iter()
}

/// One difference between a pinned tool and the same tool now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    DescriptionChanged {
        before: String,
        after: String,
    },
    /// A new parameter; `sensitive` when its name reaches files, URLs, commands or SQL.
    ParamAdded {
        name: String,
        sensitive: bool,
    },
    ParamRemoved {
        name: String,
    },
    /// A parameter accepts more types than before (or its type was dropped).
    TypeRelaxed {
        name: String,
        before: Vec<String>,
        after: Vec<String>,
    },
    /// A parameter's enum has new values, or lost its enum.
    EnumGrown {
        name: String,
        added: Vec<String>,
    },
    /// A parameter is no longer required.
    RequiredDropped {
        name: String,
    },
    /// A declared annotation changed (`None`: not declared).
    AnnotationChanged {
        hint: String,
        before: Option<Value>,
        after: Option<Value>,
    },
    CategoryRaised {
        before: String,
        after: String,
    },
    RiskRaised {
        before: String,
        after: String,
    },
    /// Other fields whose digest changed (title, outputSchema, _meta, ...).
    OtherFields {
        fields: Vec<String>,
    },
}

/// What changed from `before` to `after`, most telling first. Empty when the digests agree.
pub fn changes(before: &ToolPin, after: &ToolPin) -> Vec<Change> {
    let mut out = Vec::new();
    if before.digest == after.digest {
        // The definition is the same; only the rules may judge it differently.
        push_verdict_changes(before, after, &mut out);
        return out;
    }
    if before.fields.get("description") != after.fields.get("description") {
        out.push(Change::DescriptionChanged { before: before.description.clone(), after: after.description.clone() });
    }
    for (name, p) in &after.params {
        match before.params.get(name) {
            None => out.push(Change::ParamAdded { name: name.clone(), sensitive: is_sensitive_param(name) }),
            Some(old) => {
                let relaxed = (!old.types.is_empty() && p.types.is_empty())
                    || (!p.types.is_empty()
                        && p.types.iter().any(|t| !old.types.contains(t) && !narrower(t, &old.types)));
                if relaxed {
                    out.push(Change::TypeRelaxed {
                        name: name.clone(),
                        before: old.types.clone(),
                        after: p.types.clone(),
                    });
                }
                match (&old.values, &p.values) {
                    (Some(old_v), Some(new_v)) => {
                        let added: Vec<String> = new_v.iter().filter(|v| !old_v.contains(v)).cloned().collect();
                        if !added.is_empty() {
                            out.push(Change::EnumGrown { name: name.clone(), added });
                        }
                    }
                    (Some(_), None) => {
                        out.push(Change::EnumGrown { name: name.clone(), added: vec!["(any value)".into()] });
                    }
                    _ => {}
                }
            }
        }
    }
    for name in before.params.keys().filter(|n| !after.params.contains_key(*n)) {
        out.push(Change::ParamRemoved { name: name.clone() });
    }
    for name in before.required.iter().filter(|n| !after.required.contains(n) && after.params.contains_key(*n)) {
        out.push(Change::RequiredDropped { name: name.clone() });
    }
    let hints: BTreeSet<&String> = before.annotations.keys().chain(after.annotations.keys()).collect();
    for hint in hints {
        let (b, a) = (before.annotations.get(hint), after.annotations.get(hint));
        if b != a {
            out.push(Change::AnnotationChanged { hint: hint.clone(), before: b.cloned(), after: a.cloned() });
        }
    }
    push_verdict_changes(before, after, &mut out);
    let explained = ["description", "inputSchema", "annotations"];
    let keys: BTreeSet<&String> = before.fields.keys().chain(after.fields.keys()).collect();
    let other: Vec<String> = keys
        .into_iter()
        .filter(|k| !explained.contains(&k.as_str()) && before.fields.get(*k) != after.fields.get(*k))
        .cloned()
        .collect();
    let schema_changed = before.fields.get("inputSchema") != after.fields.get("inputSchema");
    let annotations_changed = before.fields.get("annotations") != after.fields.get("annotations");
    let explained_any = out.iter().any(|c| !matches!(c, Change::CategoryRaised { .. } | Change::RiskRaised { .. }));
    let mut other = other;
    if schema_changed && !out.iter().any(is_schema_change) {
        other.push("inputSchema".into());
    }
    if annotations_changed && !out.iter().any(|c| matches!(c, Change::AnnotationChanged { .. })) {
        other.push("annotations".into());
    }
    if !other.is_empty() || (!explained_any && out.is_empty()) {
        other.sort();
        out.push(Change::OtherFields { fields: other });
    }
    out
}

fn is_schema_change(c: &Change) -> bool {
    matches!(
        c,
        Change::ParamAdded { .. }
            | Change::ParamRemoved { .. }
            | Change::TypeRelaxed { .. }
            | Change::EnumGrown { .. }
            | Change::RequiredDropped { .. }
    )
}

/// `integer` is narrower than `number`: a type that was already allowed by a wider one is not a
/// relaxation.
fn narrower(t: &str, old: &[String]) -> bool {
    t == "integer" && old.iter().any(|o| o == "number")
}

fn push_verdict_changes(before: &ToolPin, after: &ToolPin, out: &mut Vec<Change>) {
    if let (Some(b), Some(a)) = (before.category(), after.category()) {
        if a > b {
            out.push(Change::CategoryRaised { before: before.category.clone(), after: after.category.clone() });
        }
    }
    if let (Some(b), Some(a)) = (before.risk(), after.risk()) {
        if a > b {
            out.push(Change::RiskRaised { before: before.risk.clone(), after: after.risk.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::load_default;
    use crate::input::{parse_item, Item, Location};

    fn pin(raw: &str) -> ToolPin {
        let rules = load_default().unwrap();
        let tool = parse_item(&Item::new(raw, Location::Object)).unwrap();
        ToolPin::new(raw, &rules.classify(&tool))
    }

    #[test]
    fn the_digest_is_sha256_over_jcs() {
        // RFC 8785: keys sorted by UTF-16 code units, no spaces, numbers in ES6 form.
        let a = r#"{"name":"x","inputSchema":{"type":"object"},"description":"d","n":1.0}"#;
        let b = r#"{ "description" : "d", "inputSchema": {"type": "object"}, "n": 1, "name": "x" }"#;
        assert_eq!(tool_digest(a), tool_digest(b));
        assert_eq!(tool_digest(a), sha256(br#"{"description":"d","inputSchema":{"type":"object"},"n":1,"name":"x"}"#));
        assert!(tool_digest("not json").starts_with("sha256:"));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(tool_digest(&deep), sha256(deep.as_bytes()));
    }

    #[test]
    fn a_widened_schema_and_a_dropped_hint_are_named() {
        let before = pin(r#"{"name":"read_note","description":"Reads a note","annotations":{"readOnlyHint":true},
               "inputSchema":{"type":"object","properties":{"id":{"type":"string"},"kind":{"type":"string","enum":["a","b"]},"n":{"type":"number"}},"required":["id"]}}"#);
        let after = pin(r#"{"name":"read_note","description":"Reads a note. Also reads any file.","annotations":{},
               "inputSchema":{"type":"object","properties":{"id":{"type":["string","number"]},"kind":{"type":"string","enum":["a","b","c"]},"n":{"type":"integer"},"path":{"type":"string"}}}}"#);
        let c = changes(&before, &after);
        assert!(c.iter().any(|c| matches!(c, Change::DescriptionChanged { .. })), "{c:?}");
        assert!(c.contains(&Change::ParamAdded { name: "path".into(), sensitive: true }), "{c:?}");
        assert!(c.iter().any(|c| matches!(c, Change::TypeRelaxed { name, .. } if name == "id")), "{c:?}");
        assert!(!c.iter().any(|c| matches!(c, Change::TypeRelaxed { name, .. } if name == "n")), "{c:?}");
        assert!(c.contains(&Change::EnumGrown { name: "kind".into(), added: vec!["\"c\"".into()] }), "{c:?}");
        assert!(c.contains(&Change::RequiredDropped { name: "id".into() }), "{c:?}");
        assert!(c
            .iter()
            .any(|c| matches!(c, Change::AnnotationChanged { hint, after: None, .. } if hint == "readOnlyHint")));
        assert!(changes(&before, &before).is_empty());
    }

    #[test]
    fn a_nested_parameter_is_pinned_by_its_path() {
        let before = pin(
            r#"{"name":"x","inputSchema":{"type":"object","properties":{"opts":{"type":"object","properties":{"depth":{"type":"integer"}}}}}}"#,
        );
        let after = pin(
            r#"{"name":"x","inputSchema":{"type":"object","properties":{"opts":{"type":"object","properties":{"depth":{"type":"integer"},"path":{"type":"string"}}}}}}"#,
        );
        assert!(before.params.contains_key("opts.depth"), "{:?}", before.params);
        assert_eq!(changes(&before, &after), [Change::ParamAdded { name: "opts.path".into(), sensitive: true }]);
        // Deep and wide schemas are pinned within bounds.
        let mut deep = String::from(r#"{"type":"object","properties":{"a":"#);
        for _ in 0..50 {
            deep.push_str(r#"{"type":"object","properties":{"a":"#);
        }
        deep.push_str("{}");
        deep.push_str(&"}}".repeat(51));
        let p = pin(&format!(r#"{{"name":"d","inputSchema":{deep}}}"#));
        assert!(p.params.len() <= MAX_PARAM_DEPTH, "{:?}", p.params.keys());
    }

    #[test]
    fn sensitive_parameter_names() {
        for n in ["path", "filePath", "file_path", "url", "targetUrl", "command", "sql", "query"] {
            assert!(is_sensitive_param(n), "{n}");
        }
        assert!(is_sensitive_param("options.targetPath"));
        assert!(is_sensitive_param("files[].path"));
        for n in ["id", "limit", "owner", "title", "path.depth"] {
            assert!(!is_sensitive_param(n), "{n}");
        }
    }
}
