//! The scan as SARIF 2.1.0, the way GitHub code scanning reads it, built with `serde-sarif`'s
//! types: one rule per rule id (short and full description, help, `security-severity` as a number
//! in a string), results at the config line declaring the server with logical locations for the
//! server and the tool, `partialFingerprints.primaryLocationLineHash` from rule, server, tool and
//! the tool's digest, and baselined or suppressed findings marked with `suppressions`.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Suppression,
    Tool, ToolComponent, Version,
};

use super::{rules, Finding, Scan, State};
use crate::classify::RuleSet;
use crate::model::Severity;

/// GitHub's bands: critical ≥ 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9. `None` for info.
pub fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("2.0"),
        Severity::Info => None,
    }
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

fn level_json(s: Severity) -> serde_json::Value {
    json!(match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    })
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

/// The SARIF log of a scan; `fail_on` adds the gate to the run's properties.
pub fn sarif(scan: &Scan, rules_set: &RuleSet, fail_on: Option<Severity>) -> Sarif {
    // Rules in order of first appearance; each at the highest severity any of its results has.
    let mut order: Vec<&str> = Vec::new();
    let mut worst: BTreeMap<&str, Severity> = BTreeMap::new();
    for f in &scan.findings {
        if !worst.contains_key(f.rule.as_str()) {
            order.push(&f.rule);
        }
        let e = worst.entry(&f.rule).or_insert(f.severity);
        *e = (*e).max(f.severity);
    }
    let descriptors: Vec<ReportingDescriptor> = order
        .iter()
        .map(|id| {
            let (short, full, help) = rules::describe(id, rules_set);
            let severity = worst[id];
            let mut props = BTreeMap::new();
            if let Some(s) = security_severity(severity) {
                props.insert("security-severity".to_string(), json!(s));
            }
            props.insert("precision".to_string(), json!("medium"));
            let tags = vec!["security".to_string(), "mcp".to_string()];
            ReportingDescriptor::builder()
                .id(id.to_string())
                .name(camel(id))
                .short_description(text(short))
                .full_description(text(full))
                .help(MultiformatMessageString::builder().text(help.clone()).markdown(help).build())
                .default_configuration(ReportingConfiguration::builder().level(level_json(severity)).build())
                .properties(PropertyBag::builder().tags(tags).additional_properties(props).build())
                .build()
        })
        .collect();
    let index: BTreeMap<&str, i64> = order.iter().enumerate().map(|(i, id)| (*id, i as i64)).collect();
    let results: Vec<SarifResult> = scan.findings.iter().map(|f| result(scan, f, index[f.rule.as_str()])).collect();
    let driver = ToolComponent::builder()
        .name("catalog")
        .full_name("catalog: an open, offline, explainable risk catalog of MCP tools")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/catalog-mcp/catalog")
        .rules(descriptors)
        .build();
    let (new, baselined, suppressed) = scan.counts();
    let mut props = BTreeMap::new();
    props.insert("findings".to_string(), json!(new));
    props.insert("baselined".to_string(), json!(baselined));
    props.insert("suppressed".to_string(), json!(suppressed));
    props.insert("servers".to_string(), json!(scan.servers.len()));
    props.insert("tools".to_string(), json!(scan.tools()));
    props.insert("maxRisk".to_string(), json!(scan.max_risk().map_or("none", |r| r.as_str())));
    if let Some(level) = fail_on {
        props.insert("failOn".to_string(), json!(level.as_str()));
        props.insert("gateFailed".to_string(), json!(scan.fails(level)));
    }
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build();
    Sarif::builder()
        .version(json!(Version::V2_1_0.to_string()))
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .runs(vec![run])
        .build()
}

/// `toxic-flow` → `ToxicFlow`.
fn camel(id: &str) -> String {
    id.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A file as a SARIF URI: relative paths with `/`, others as `file://` URIs.
fn uri(file: &str) -> String {
    let path = std::path::Path::new(file);
    if path.is_absolute() {
        url::Url::from_file_path(path).map(|u| u.to_string()).unwrap_or_else(|_| file.to_string())
    } else {
        file.replace('\\', "/")
    }
}

fn result(scan: &Scan, f: &Finding, rule_index: i64) -> SarifResult {
    let declared =
        scan.servers.iter().find(|s| s.name == f.server).map(|s| (s.input.origin.file.clone(), s.input.origin.line));
    let (file, line) = f.location.clone().or(declared).unwrap_or_else(|| ("catalog-scan".to_string(), 1));
    let mut logical = vec![LogicalLocation::builder()
        .name(f.server.clone())
        .fully_qualified_name(f.server.clone())
        .kind("module")
        .build()];
    if let Some(tool) = &f.tool {
        logical.push(
            LogicalLocation::builder()
                .name(tool.clone())
                .fully_qualified_name(format!("{}/{tool}", f.server))
                .kind("function")
                .build(),
        );
    }
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri(&file)).build())
                .region(Region::builder().start_line(line.max(1) as i64).build())
                .build(),
        )
        .logical_locations(logical)
        .build();
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("primaryLocationLineHash".to_string(), f.fingerprint.clone());
    let mut props = BTreeMap::new();
    props.insert("severity".to_string(), json!(f.severity.as_str()));
    props.insert("server".to_string(), json!(f.server));
    if let Some(t) = &f.tool {
        props.insert("tool".to_string(), json!(t));
    }
    if !f.digest.is_empty() {
        props.insert("digest".to_string(), json!(f.digest));
    }
    if !f.related.is_empty() {
        let related: Vec<String> = f.related.iter().map(|(s, t)| format!("{s}/{t}")).collect();
        props.insert("related".to_string(), json!(related));
    }
    if let Some(s) = security_severity(f.severity) {
        props.insert("security-severity".to_string(), json!(s));
    }
    let base = SarifResult::builder()
        .rule_id(f.rule.clone())
        .rule_index(rule_index)
        .level(level(f.severity))
        .message(Message::builder().text(f.message.clone()).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(props).build());
    match &f.state {
        State::New => base.build(),
        State::Baselined => base
            .suppressions(vec![Suppression::builder()
                .kind(json!("external"))
                .status(json!("accepted"))
                .justification("accepted in the baseline")
                .build()])
            .build(),
        State::Suppressed { reason } => base
            .suppressions(vec![Suppression::builder()
                .kind(json!("external"))
                .status(json!("accepted"))
                .justification(reason.clone())
                .build()])
            .build(),
    }
}
