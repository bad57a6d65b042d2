//! Snapshots of the verdicts for realistic tool lists, so every rule change shows up in review as
//! a diff of what users would see. Update with `cargo insta review` or `INSTA_UPDATE=always`.

use catalog::cli::Status;
use serde_json::Value;

use crate::util::{fixture, run};

/// Replaces values that change with every rule edit (not with behaviour) by a placeholder.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "rules_version" {
                    *v = Value::String("[rules_version]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(redact),
        _ => {}
    }
}

fn jsonl_verdicts(name: &str) -> Vec<Value> {
    let path = fixture(name);
    let run = run(&["classify", "--input", path.to_str().unwrap(), "--format", "jsonl"]).expect(Status::Success);
    assert_eq!(run.stderr, "");
    let mut verdicts: Vec<Value> = run.jsonl();
    verdicts.iter_mut().for_each(redact);
    verdicts
}

#[test]
fn server_filesystem_verdicts() {
    insta::assert_json_snapshot!(jsonl_verdicts("server-filesystem.tools.json"));
}

#[test]
fn stripe_verdicts() {
    insta::assert_json_snapshot!(jsonl_verdicts("stripe.tools.json"));
}

/// The one-line view per tool, easier to review than the full verdicts above.
#[test]
fn verdict_overview() {
    let mut lines = Vec::new();
    for name in ["server-filesystem.tools.json", "stripe.tools.json"] {
        for v in jsonl_verdicts(name) {
            let tags: Vec<&str> = v["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            let findings: Vec<&str> =
                v["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
            lines.push(
                format!(
                    "{:<28} {:<9} {:<8} {:.2}  [{}]  {}",
                    v["name"].as_str().unwrap(),
                    v["category"].as_str().unwrap(),
                    v["risk"].as_str().unwrap(),
                    v["confidence"].as_f64().unwrap(),
                    tags.join(","),
                    findings.join(",")
                )
                .trim_end()
                .to_string(),
            );
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn json_report_totals() {
    let path = fixture("stripe.tools.json");
    let run = run(&["classify", "--input", path.to_str().unwrap(), "--format", "json"]).expect(Status::Success);
    let mut doc = run.json();
    assert!(doc["rules_version"].as_str().is_some_and(|v| v.starts_with(env!("CARGO_PKG_VERSION"))));
    redact(&mut doc);
    doc.as_object_mut().unwrap().remove("tools");
    insta::assert_json_snapshot!(doc);
}
