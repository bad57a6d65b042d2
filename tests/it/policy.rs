//! Recommended policies: goldens per format for real servers, schema validation of every
//! PolicyLayer output, round trips of the YAML and TOML outputs, tool pages that agree with
//! server policies, the safety property, overrides, `--check` and `export`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use catalog::cli::Status;
use catalog::policy::check::{check_policylayer, POLICYLAYER_SCHEMA};
use serde_json::{json, Value};

use crate::util::{fixture, run, write};

/// The four real servers: two top-level fixtures and the two crawled ones.
const SERVERS: &[&str] = &["server-everything", "server-filesystem", "server-github", "stripe"];
const FORMATS: &[&str] = &["policylayer", "claude-code", "intercept", "codex", "json"];

/// A catalog of the real servers' tools, in a temp dir.
fn real_catalog() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_str().unwrap().to_string();
    for src in [fixture(""), fixture("crawled")] {
        run(&["import", src.to_str().unwrap(), "--db", &db, "--format", "json"]).expect(Status::Success);
    }
    (dir, db)
}

/// Version strings that change with every rule or table edit, not with behaviour.
fn redact(text: &str) -> String {
    let rules = regex::Regex::new(r"\d+\.\d+\.\d+\+[0-9a-f]{8}").unwrap();
    let table = regex::Regex::new(r"policy-[0-9a-f]{8}").unwrap();
    let catalog = regex::Regex::new(r"catalog \d+\.\d+\.\d+").unwrap();
    let text = rules.replace_all(text, "[rules_version]");
    let text = table.replace_all(&text, "[policy_version]");
    catalog.replace_all(&text, "catalog [version]").into_owned()
}

fn policy(db: &str, server: &str, format: &str) -> String {
    let r = run(&["policy", server, "--db", db, "--format", format]).expect(Status::Success);
    assert_eq!(r.stderr, "", "{server} {format}");
    r.stdout
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&serde_json::from_str(POLICYLAYER_SCHEMA).unwrap()).unwrap()
}

#[test]
fn goldens_for_real_servers_in_every_format() {
    let (_dir, db) = real_catalog();
    for server in SERVERS {
        for format in FORMATS {
            let out = policy(&db, server, format);
            let ext = match *format {
                "intercept" => "yaml",
                "codex" => "toml",
                _ => "json",
            };
            insta::assert_snapshot!(format!("{server}.{format}.{ext}"), redact(&out));
        }
    }
}

#[test]
fn every_policylayer_output_matches_the_schema() {
    let (_dir, db) = real_catalog();
    let v = validator();
    for server in SERVERS {
        let out = policy(&db, server, "policylayer");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path().as_str())).collect();
        assert!(errors.is_empty(), "{server}: {errors:#?}\n{out}");
        assert_eq!(check_policylayer(&doc), [], "{server}");
        assert_eq!(doc["version"], "1");
        assert_eq!(doc["default"], "deny");
        // Keys are sorted, so diffs stay reviewable.
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}

/// Each tool as the JSON report has it.
fn report(db: &str, server: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&policy(db, server, "json")).unwrap();
    doc["tools"].as_array().unwrap().clone()
}

#[test]
fn a_tool_page_never_disagrees_with_its_server_policy() {
    let (_dir, db) = real_catalog();
    let mut seen = 0;
    for server in SERVERS {
        for entry in report(&db, server) {
            let tool = entry["tool"].as_str().unwrap();
            let page = run(&["policy", "--tool", tool, "--server", server, "--db", &db, "--format", "json"])
                .expect(Status::Success)
                .json();
            assert_eq!(page, entry, "{server}/{tool}");
            seen += 1;
        }
    }
    assert_eq!(seen, 9 + 8 + 13 + 26);
}

#[test]
fn every_format_says_the_same_thing_as_the_table() {
    let (_dir, db) = real_catalog();
    for server in SERVERS {
        let tools = report(&db, server);
        let by_action = |actions: &[&str]| -> BTreeSet<String> {
            tools
                .iter()
                .filter(|t| actions.contains(&t["action"].as_str().unwrap()))
                .map(|t| t["tool"].as_str().unwrap().to_string())
                .collect()
        };

        // PolicyLayer: hidden tools in `hide`, the others under `tools`.
        let pl: Value = serde_json::from_str(&policy(&db, server, "policylayer")).unwrap();
        let hide: BTreeSet<String> =
            pl["hide"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
        assert_eq!(hide, by_action(&["hide"]), "{server}");
        let listed: BTreeSet<String> = pl["tools"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(listed, by_action(&["allow", "limit", "approve", "deny"]), "{server}");
        for t in &tools {
            let name = t["tool"].as_str().unwrap();
            match t["action"].as_str().unwrap() {
                "limit" => assert_eq!(pl["tools"][name]["limits"][0]["counter"], format!("{name}_rate")),
                "approve" | "deny" => {
                    assert_eq!(pl["tools"][name]["deny_if"][0]["conditions"], json!([]), "{name}");
                }
                _ => {}
            }
        }

        // Intercept YAML parses back, and says the same.
        let yaml = policy(&db, server, "intercept");
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{server}: {e}\n{yaml}"));
        assert_eq!(doc["version"], serde_yaml::Value::from("1"));
        assert_eq!(doc["default"], serde_yaml::Value::from("deny"));
        let tools_map = doc["tools"].as_mapping().unwrap();
        let names: BTreeSet<String> =
            tools_map.keys().map(|k| k.as_str().unwrap().to_string()).filter(|k| k != "*").collect();
        assert_eq!(names, listed, "{server}");
        for t in by_action(&["approve", "deny"]) {
            let rules = doc["tools"][t.as_str()]["rules"].as_sequence().unwrap();
            assert_eq!(rules[0]["action"], serde_yaml::Value::from("deny"), "{t}");
        }
        for t in by_action(&["limit"]) {
            let rules = doc["tools"][t.as_str()]["rules"].as_sequence().unwrap();
            assert!(rules[0]["rate_limit"].as_str().unwrap().ends_with("/minute"), "{t}");
        }

        // Codex TOML parses back: everything not let through is disabled.
        let toml_text = policy(&db, server, "codex");
        let doc: toml::Table = toml::from_str(&toml_text).unwrap_or_else(|e| panic!("{server}: {e}\n{toml_text}"));
        let servers = doc["mcp_servers"].as_table().unwrap();
        assert_eq!(servers.len(), 1);
        let disabled: BTreeSet<String> = servers.values().next().unwrap()["disabled_tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(disabled, by_action(&["approve", "hide", "deny"]), "{server}");

        // Claude Code: allow / ask / deny.
        let cc: Value = serde_json::from_str(&policy(&db, server, "claude-code")).unwrap();
        let count = |k: &str| cc["permissions"][k].as_array().unwrap().len();
        assert_eq!(count("allow"), by_action(&["allow"]).len());
        assert_eq!(count("ask"), by_action(&["limit", "approve"]).len());
        assert_eq!(count("deny"), by_action(&["hide", "deny"]).len());
        for name in cc["permissions"]["allow"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            assert!(name.starts_with("mcp__"), "{name}");
            assert!(name[5..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{name}");
        }
    }
}

/// The safety property over every real tool, and with overrides.
#[test]
fn no_delete_execute_or_financial_tool_is_let_through_without_an_override() {
    let (dir, db) = real_catalog();
    let mut dangerous = 0;
    for server in SERVERS {
        for t in report(&db, server) {
            let category = t["category"].as_str().unwrap();
            if ["delete", "execute", "financial"].contains(&category) {
                dangerous += 1;
                assert!(!["allow", "limit"].contains(&t["action"].as_str().unwrap()), "{server}/{}: {t:#}", t["tool"]);
            }
        }
    }
    assert!(dangerous >= 4, "the fixtures have delete, execute and financial tools ({dangerous})");

    // An override with a reason lets one through, and says so.
    let overrides = write(
        dir.path(),
        "overrides.toml",
        r#"
[[override]]
server = "stripe"
tool = "create_refund"
action = "limit"
limit = { window = "hour", max = 5 }
reason = "refunds are reviewed by finance the same day"

[[override]]
server = "stripe"
tool = "no_such_tool"
action = "allow"
reason = "typo"
"#,
    );
    let r =
        run(&["policy", "stripe", "--db", &db, "--format", "json", "--overrides", &overrides]).expect(Status::Success);
    assert!(r.stderr.contains("override matched no tool: server `stripe` tool `no_such_tool`"), "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["unmatched_overrides"][0]["tool"], "no_such_tool");
    let refund = doc["tools"].as_array().unwrap().iter().find(|t| t["tool"] == "create_refund").unwrap();
    assert_eq!(refund["action"], "limit");
    assert_eq!(refund["rule"], "override");
    assert_eq!(refund["limit"], json!({"window": "hour", "max": 5}));
    assert_eq!(refund["why"], "override: refunds are reviewed by finance the same day");
    assert_eq!(refund["table_action"], "approve");
    for t in doc["tools"].as_array().unwrap() {
        if ["delete", "execute", "financial"].contains(&t["category"].as_str().unwrap())
            && ["allow", "limit"].contains(&t["action"].as_str().unwrap())
        {
            assert_eq!(t["rule"], "override", "{t:#}");
        }
    }
    let pl = run(&["policy", "stripe", "--db", &db, "--overrides", &overrides]).expect(Status::Success);
    let pl: Value = serde_json::from_str(&pl.stdout).unwrap();
    assert_eq!(
        pl["tools"]["create_refund"]["limits"],
        json!([{"counter": "create_refund_rate", "max": 5, "scope": "grant", "window": "hour"}])
    );

    // Without a reason: unusable input.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[[override]]\nserver = \"stripe\"\ntool = \"create_refund\"\naction = \"allow\"\n",
    );
    let r = run(&["policy", "stripe", "--db", &db, "--overrides", &bad]).expect(Status::Error);
    assert!(r.stderr.contains("override[0].reason: an override needs a reason"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn argument_suggestions_come_from_the_input_schema() {
    let (_dir, db) = real_catalog();
    let tools = report(&db, "stripe");
    let refund = tools.iter().find(|t| t["tool"] == "create_refund").unwrap();
    if refund["category"] == "financial" {
        assert_eq!(refund["args"][0]["param"], "amount", "{refund:#}");
        assert_eq!(refund["args"][0]["kind"], "cap");
    }
    let pl: Value = serde_json::from_str(&policy(&db, "stripe", "policylayer")).unwrap();
    if refund["category"] == "financial" {
        assert_eq!(
            pl["tools"]["create_refund"]["deny_if"][1]["conditions"],
            json!([{"op": "gt", "path": "args.amount", "value": 10000}])
        );
    }
    // Filesystem writes with a `path` get the allow-list placeholder.
    let fs = report(&db, "server-filesystem");
    let write_file = fs.iter().find(|t| t["tool"] == "write_file").unwrap();
    assert_eq!(write_file["args"][0]["param"], "path", "{write_file:#}");
    assert_eq!(write_file["args"][0]["kind"], "allow_list");
}

#[test]
fn a_tool_not_in_the_catalog_is_classified_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let r = run(&["policy", "--tool", "delete_repository", "--db", db.to_str().unwrap(), "--format", "json"])
        .expect(Status::Success);
    assert!(r.stderr.contains("not in the catalog"), "{}", r.stderr);
    assert!(!db.exists(), "a tool page creates no catalog");
    let page = r.json();
    assert_eq!(page["category"], "delete");
    assert_eq!(page["action"], "approve");
    let table = run(&["policy", "--tool", "list_issues", "--db", db.to_str().unwrap()]).expect(Status::Success);
    assert!(table.stdout.contains("action      allow"), "{}", table.stdout);

    // In the catalog, by name alone when one server has it.
    let (_d, cat) = real_catalog();
    let page = run(&["policy", "--tool", "write_file", "--db", &cat, "--format", "json"]).expect(Status::Success);
    assert_eq!(page.stderr, "");
    assert_eq!(page.json()["action"], "limit");
    let r = run(&["policy", "--tool", "write_file", "--server", "stripe", "--db", &cat]).expect(Status::Error);
    assert!(r.stderr.contains("no tool `write_file` on `stripe`"), "{}", r.stderr);
}

#[test]
fn check_lists_every_problem_with_its_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, db) = real_catalog();
    let good = dir.path().join("good.json");
    run(&["policy", "server-github", "--db", &db, "--out", good.to_str().unwrap()]).expect(Status::Success);
    let r = run(&["policy", "--check", good.to_str().unwrap()]).expect(Status::Success);
    assert!(r.stdout.contains("a valid PolicyLayer policy"), "{}", r.stdout);

    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"version":"1","default":"maybe","hide":["x"],"tools":{"x":{},"y":{"limits":[{"counter":"y_rate","window":"day","max":30,"scope":"grant"}],"action":"deny"}}}"#,
    );
    let r = run(&["policy", "--check", &bad, "--format", "json"]).expect(Status::Failure);
    let doc = r.json();
    assert_eq!(doc["valid"], false);
    let paths: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["$.default", "$.hide[0]", "$.tools.y", "$.tools.y.limits[0].window"], "{doc:#}");

    let r = run(&["policy", "--check", &bad]).expect(Status::Failure);
    assert!(r.stdout.contains("$.tools.y.limits[0].window: "), "{}", r.stdout);
    assert!(r.stdout.ends_with("4 problem(s)\n"), "{}", r.stdout);

    let not_json = write(dir.path(), "x.json", "{");
    run(&["policy", "--check", &not_json]).expect(Status::Error);
    run(&["policy", "--check", dir.path().join("missing.json").to_str().unwrap()]).expect(Status::Error);
}

fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn export_writes_one_safe_file_per_server_in_every_format() {
    let (dir, db) = real_catalog();
    // Awkward server names: traversal, a reserved name, two that differ only in case.
    let tools = r#"{"tools":[{"name":"delete_thing","description":"Deletes a thing"},{"name":"get_thing"}]}"#;
    let list = write(dir.path(), "odd.json", tools);
    for name in ["../../etc/evil", "CON", "Stripe", "index"] {
        run(&["import", &list, "--server", name, "--db", &db, "--format", "json"]).expect(Status::Success);
    }
    let v = validator();
    for format in FORMATS {
        let out = dir.path().join(format!("out-{format}"));
        let r =
            run(&["export", "--out", out.to_str().unwrap(), "--format", format, "--db", &db]).expect(Status::Success);
        assert!(r.stdout.starts_with("wrote 8 "), "{}", r.stdout);
        let written = files(&out);
        assert_eq!(written.len(), 9, "{:?}", written.keys());
        for name in written.keys() {
            assert!(!name.starts_with('.') && !name.contains('/') && !name.contains(".."), "{name}");
            let stem = name.split('.').next().unwrap();
            assert!(!["con", "index"].contains(&stem) || name == "index.json", "{name}");
        }
        let manifest: Value = serde_json::from_str(&written["index.json"]).unwrap();
        assert_eq!(manifest["servers"], 8);
        assert_eq!(manifest["format"], *format);
        let listed: BTreeSet<&str> =
            manifest["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
        assert_eq!(listed.len(), 8);
        for f in &listed {
            assert!(written.contains_key(*f), "{f}");
        }
        if *format == "policylayer" {
            assert!(listed.contains("server-github.policy.json"), "{listed:?}");
            for f in &listed {
                let doc: Value = serde_json::from_str(&written[*f]).unwrap();
                assert!(v.is_valid(&doc), "{f}");
            }
            // The export's file equals `catalog policy SERVER`.
            assert_eq!(written["stripe.policy.json"], policy(&db, "stripe", "policylayer"));
        }
    }
    // Deterministic: a second export is byte-identical.
    let again = dir.path().join("again");
    run(&["export", "--out", again.to_str().unwrap(), "--db", &db]).expect(Status::Success);
    assert_eq!(files(&again), files(&dir.path().join("out-policylayer")));
}

#[test]
fn odd_tool_names_survive_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let names = ["say \"hi\"", "back\\slash", "colon: yes", "#hash", "-dash", "tab\tname", "del\u{7f}", "*", "ünï"];
    let tools: Vec<Value> = names.iter().map(|n| json!({"name": n, "description": "Deletes a record"})).collect();
    let list = write(dir.path(), "odd.json", &json!({ "tools": tools }).to_string());
    run(&["import", &list, "--server", "odd server", "--db", db, "--format", "json"]).expect(Status::Success);
    let yaml = policy(db, "odd server", "intercept");
    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    for n in names {
        assert!(doc["tools"].get(n).is_some(), "{n:?} lost in\n{yaml}");
    }
    // A tool named `*` cannot be told from Intercept's wildcard: it is left out (so denied), and
    // `*` holds only the all-tools limit.
    let wildcard = doc["tools"]["*"]["rules"].as_sequence().unwrap();
    assert_eq!(wildcard.len(), 1);
    assert_eq!(wildcard[0]["name"], serde_yaml::Value::from("all-tools-limit"));
    let toml_text = policy(db, "odd server", "codex");
    let doc: toml::Table = toml::from_str(&toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
    let disabled = doc["mcp_servers"]["odd_server"]["disabled_tools"].as_array().unwrap();
    assert_eq!(disabled.len(), names.len());
    let pl: Value = serde_json::from_str(&policy(db, "odd server", "policylayer")).unwrap();
    assert!(validator().is_valid(&pl));
    let cc: Value = serde_json::from_str(&policy(db, "odd server", "claude-code")).unwrap();
    assert!(cc["permissions"]["ask"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n.as_str().unwrap().starts_with("mcp__odd_server__")));
}
