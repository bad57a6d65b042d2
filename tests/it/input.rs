//! Input shapes: a tools/list result, a JSON-RPC response, a bare array, one object, JSONL; and
//! which tools count as siblings.

use catalog::cli::Status;
use catalog::input::{read_tools, InputFormat};
use serde_json::{json, Value};

use crate::util::{category, find, verdicts_of};

/// Reads `text` with the library reader: the names and locations of the tools, the names given
/// as siblings, and the format found.
fn read(text: &str) -> (Vec<(String, String)>, Vec<String>, Option<InputFormat>) {
    let mut tools = Vec::new();
    let mut names = Vec::new();
    let summary = read_tools(text, |n| names = n.to_vec(), |t, loc| tools.push((t.name, loc.to_string())));
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.tools, tools.len());
    (tools, names, summary.format)
}

/// Checks that each input is read as the given format, with these tools at these locations.
#[track_caller]
fn check(text: &str, format: InputFormat, expected: &[(&str, &str)]) {
    let (tools, _, got) = read(text);
    assert_eq!(got, Some(format), "format of {text}");
    let tools: Vec<(&str, &str)> = tools.iter().map(|(n, l)| (n.as_str(), l.as_str())).collect();
    assert_eq!(tools, expected, "tools of {text}");

    // The command line reads it the same way.
    let verdicts = verdicts_of("input", text);
    let got: Vec<(&str, &str)> =
        verdicts.iter().map(|v| (v["name"].as_str().unwrap(), v["location"].as_str().unwrap())).collect();
    assert_eq!(got, expected, "verdicts of {text}");
}

#[test]
fn tools_list_result() {
    check(
        r#"{"tools": [{"name": "get_user", "inputSchema": {"type": "object"}}, {"name": "delete_user"}], "nextCursor": "abc"}"#,
        InputFormat::ToolsList,
        &[("get_user", "tools[0]"), ("delete_user", "tools[1]")],
    );
}

#[test]
fn json_rpc_envelope() {
    check(
        r#"{"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "get_user"}, {"name": "delete_user"}]}}"#,
        InputFormat::ToolsList,
        &[("get_user", "tools[0]"), ("delete_user", "tools[1]")],
    );
    // Key order does not matter, and a BOM and leading whitespace are fine.
    check(
        "\u{feff}\n  {\"result\": {\"nextCursor\": null, \"tools\": [{\"name\": \"get_user\"}]}, \"id\": 1, \"jsonrpc\": \"2.0\"}",
        InputFormat::ToolsList,
        &[("get_user", "tools[0]")],
    );
}

#[test]
fn bare_array() {
    check(
        r#"[{"name": "get_user"}, {"name": "delete_user"}]"#,
        InputFormat::Array,
        &[("get_user", "tools[0]"), ("delete_user", "tools[1]")],
    );
}

#[test]
fn one_object() {
    check(
        r#"{"name": "delete_user", "description": "Deletes a user"}"#,
        InputFormat::Object,
        &[("delete_user", "object")],
    );
    // Pretty-printed over several lines, it is still one object, not JSONL.
    check(
        "{\n  \"name\": \"delete_user\",\n  \"description\": \"Deletes a user\"\n}\n",
        InputFormat::Object,
        &[("delete_user", "object")],
    );
}

#[test]
fn jsonl_records() {
    check(
        "{\"name\": \"get_user\", \"server\": \"crm\"}\n\n{\"name\": \"delete_user\", \"server\": \"crm\"}\r\n",
        InputFormat::Jsonl,
        &[("get_user", "line 1"), ("delete_user", "line 3")],
    );
}

#[test]
fn record_fields_are_read() {
    let record = json!({
        "server": "crm",
        "name": "delete_user",
        "annotations": {"title": "Delete User", "readOnlyHint": "true", "destructiveHint": false},
        "description": "Deletes a user",
        "input_schema": {"type": "object", "properties": {"user_id": {"type": "string"}}},
        "siblings": ["get_user", 7, "list_users"],
        "unknown_field": {"ignored": true}
    });
    let mut tools = Vec::new();
    let summary = read_tools(&record.to_string(), |_| {}, |t, _| tools.push(t));
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let tool = tools.pop().expect("one tool");
    assert_eq!(tool.server.as_deref(), Some("crm"));
    assert_eq!(tool.title.as_deref(), Some("Delete User"));
    assert_eq!(tool.description.as_deref(), Some("Deletes a user"));
    assert!(tool.input_schema.is_some());
    assert_eq!(tool.siblings, ["get_user", "list_users"]);
    let ann = tool.annotations.unwrap();
    assert_eq!((ann.read_only, ann.destructive, ann.idempotent), (Some(true), Some(false), None));

    // The declared hints are evidence the findings check: a deleting tool that claims to be
    // read-only and non-destructive gets both findings.
    let v = &verdicts_of("r.jsonl", &record.to_string())[0];
    let findings = crate::util::findings(v);
    assert!(findings.contains(&"declared-read-only-but-mutates"), "{findings:?}");
    assert!(findings.contains(&"declared-non-destructive-but-deletes"), "{findings:?}");
    assert_eq!(v["server"], "crm");
}

#[test]
fn in_a_tools_list_the_other_tools_are_siblings() {
    let (_, names, _) =
        read(r#"{"tools": [{"name": "execute_sql"}, {"name": "execute_sql_read_only"}, {"name": "execute_sql"}]}"#);
    assert_eq!(names, ["execute_sql", "execute_sql_read_only"], "names, deduplicated");

    let together = verdicts_of(
        "tools.json",
        &json!({"tools": [
            {"name": "execute_sql", "description": "Execute a SQL query against the database"},
            {"name": "execute_sql_read_only", "description": "Execute a read-only SQL query against the database"},
            {"name": "query"},
            {"name": "query_read_only"},
        ]})
        .to_string(),
    );
    assert_ne!(category(find(&together, "execute_sql")), "read");
    assert_eq!(category(find(&together, "execute_sql_read_only")), "read");
    assert_ne!(category(find(&together, "query")), "read", "{together:#?}");
    assert_eq!(category(find(&together, "query_read_only")), "read");

    // Alone, `query` reads: the verdict above came from its sibling.
    let alone = verdicts_of("tools.json", r#"{"tools": [{"name": "query"}]}"#);
    assert_eq!(category(&alone[0]), "read");

    // Same in a bare array.
    let array = verdicts_of("tools.json", r#"[{"name": "query"}, {"name": "query_read_only"}]"#);
    assert_ne!(category(find(&array, "query")), "read");
}

#[test]
fn a_payments_tools_list_makes_billing_changes_financial() {
    let stripe = verdicts_of(
        "tools.json",
        r#"{"tools": [{"name": "cancel_subscription"}, {"name": "create_refund"}, {"name": "list_charges"}, {"name": "create_invoice"}]}"#,
    );
    assert_eq!(category(find(&stripe, "cancel_subscription")), "financial", "{stripe:#?}");
    let github = verdicts_of(
        "tools.json",
        r#"{"tools": [{"name": "cancel_subscription"}, {"name": "list_issues"}, {"name": "create_issue"}]}"#,
    );
    assert_ne!(category(find(&github, "cancel_subscription")), "financial", "{github:#?}");
}

#[test]
fn jsonl_records_carry_their_own_siblings() {
    let text = [
        json!({"server": "pg", "name": "query", "siblings": ["query_read_only", "list_tables"]}),
        json!({"server": "pg", "name": "query_read_only", "siblings": ["query", "list_tables"]}),
        // Another server's `query`, without a twin: the records do not share siblings.
        json!({"server": "other", "name": "query"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let verdicts = verdicts_of("tools.jsonl", &text);
    assert_eq!(verdicts.len(), 3);
    assert_ne!(category(&verdicts[0]), "read", "{:#}", verdicts[0]);
    assert_eq!(category(&verdicts[1]), "read", "{:#}", verdicts[1]);
    assert_eq!(category(&verdicts[2]), "read", "{:#}", verdicts[2]);
}

#[test]
fn json_format_is_one_document_with_totals() {
    let path = crate::util::fixture("stripe.tools.json");
    let run =
        crate::util::run(&["classify", "--input", path.to_str().unwrap(), "--format", "json"]).expect(Status::Success);
    let doc = run.json();
    assert_eq!(doc["schema_version"], catalog::report::SCHEMA_VERSION);
    let version = catalog::classify::load_default().unwrap().version().to_string();
    assert_eq!(doc["rules_version"], version.as_str());
    let tools = doc["tools"].as_array().unwrap();
    assert_eq!(doc["tool_count"], tools.len());
    let sum = |key: &str| doc[key].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("by_category"), tools.len() as u64);
    assert_eq!(sum("by_risk"), tools.len() as u64);
    assert_eq!(doc["problems"], json!([]));

    // Problems are part of the document too, and it stays valid JSON when nothing is usable.
    let dir = tempfile::tempdir().unwrap();
    let some = crate::util::write(dir.path(), "some.json", r#"[{"name": "get_user"}, 1]"#);
    let doc = crate::util::run(&["classify", "--input", &some, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(doc["tool_count"], 1);
    assert_eq!(doc["problems"], json!([{"location": "tools[1]", "message": "expected a JSON object, found a number"}]));
    let none = crate::util::write(dir.path(), "none.json", "[1]");
    let run = crate::util::run(&["classify", "--input", &none, "--format", "json"]).expect(Status::Error);
    assert_eq!(run.json()["tool_count"], 0);
    assert!(run.stderr.contains("no usable tools"), "{}", run.stderr);
}
