//! The SQLite catalog through the command line: import, history, show, stats, and bad input.

use catalog::cli::Status;
use serde_json::{json, Value};

use crate::util::{fixture, run, run_bin, write};

fn import(db: &str, file: &str, extra: &[&str]) -> Value {
    let mut args = vec!["import", file, "--db", db, "--format", "json"];
    args.extend_from_slice(extra);
    run(&args).expect(Status::Success).json()
}

fn tools_list(tools: &[Value]) -> String {
    json!({ "tools": tools }).to_string()
}

#[test]
fn import_show_and_stats_over_real_tool_lists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let db = db.to_str().unwrap();
    let report = import(db, fixture("").to_str().unwrap(), &[]);
    assert_eq!(report["tools"], 17, "{report:#}");
    let servers: Vec<&str> =
        report["servers"].as_array().unwrap().iter().map(|s| s["server"].as_str().unwrap()).collect();
    assert_eq!(servers, ["server-filesystem", "stripe"]);

    let stats = run(&["stats", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(stats["servers"], 2);
    assert_eq!(stats["tools"], 17);
    assert_eq!(
        stats["by_category"]["read"].as_i64().unwrap()
            + stats["by_category"]["write"].as_i64().unwrap()
            + stats["by_category"]["financial"].as_i64().unwrap_or(0),
        17
    );

    let server = run(&["show", "server-filesystem", "--db", db, "--format", "json"]).expect(Status::Success).json();
    let tools = server["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 9);
    // Most risky first.
    assert_eq!(tools[0]["risk"], "medium", "{server:#}");

    let tool = run(&["show", "server-filesystem", "write_file", "--db", db, "--format", "json"])
        .expect(Status::Success)
        .json();
    assert_eq!(tool["verdict"]["category"], "write");
    assert_eq!(tool["definition"]["name"], "write_file", "the raw definition is kept");
    assert_eq!(tool["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn history_records_added_changed_and_removed_tools() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let first = tools_list(&[
        json!({"name": "list_items", "description": "Lists items"}),
        json!({"name": "delete_item", "description": "Deletes an item"}),
    ]);
    let second = tools_list(&[
        json!({"name": "list_items", "description": "Lists items", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}}),
        json!({"name": "create_item", "description": "Creates an item"}),
    ]);
    let f1 = write(dir.path(), "svc.json", &first);
    let r1 = import(db, &f1, &[]);
    assert_eq!(r1["servers"][0]["added"], 2);
    let r1again = import(db, &f1, &[]);
    assert_eq!(r1again["servers"][0]["unchanged"], 2, "{r1again:#}");
    let f2 = write(dir.path(), "svc.json", &second);
    let r2 = import(db, &f2, &[]);
    let s = &r2["servers"][0];
    assert_eq!(
        (s["added"].as_i64(), s["changed"].as_i64(), s["removed"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{r2:#}"
    );

    let tool = run(&["show", "svc", "list_items", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(tool["versions"].as_array().unwrap().len(), 2, "both definitions are in the history: {tool:#}");
    let gone = run(&["show", "svc", "delete_item", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert!(gone["removed_at"].is_i64(), "{gone:#}");
    let stats = run(&["stats", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!((stats["tools"].as_i64(), stats["removed_tools"].as_i64()), (Some(2), Some(1)));
}

#[test]
fn duplicates_hostile_names_and_broken_records_lose_nothing_good() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let big = "x".repeat(10 * 1024 * 1024);
    let list = tools_list(&[
        json!({"name": "get_item", "description": "first"}),
        json!({"name": "get_item", "description": "second"}),
        json!({"name": 42}),
        json!({"name": "../../etc/passwd\u{7}", "description": "hostile name"}),
        json!({"name": "huge", "description": big}),
    ]);
    let f = write(dir.path(), "svc.json", &list);
    let out = run(&["import", &f, "--db", db, "--format", "json"]).expect(Status::Success);
    let report = out.json();
    assert_eq!(report["tools"], 4, "{}", out.stderr);
    assert_eq!(report["servers"][0]["duplicate_names"], json!(["get_item"]));
    assert!(out.stderr.contains("tools[2]"), "the broken record is named: {}", out.stderr);
    let server = run(&["show", "svc", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(server["tools"].as_array().unwrap().len(), 4);
    // The hostile name is data, never a path: nothing was written beside the database.
    let entries: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(entries.iter().all(|e| e.starts_with("c.db") || e == "svc.json"), "{entries:?}");
}

#[test]
fn unusable_input_and_bad_databases_are_errors_that_keep_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db_s = db.to_str().unwrap();
    let bad = write(dir.path(), "bad.json", "this is not json");
    let r = run_bin(&["import", &bad, "--db", db_s]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not JSON"), "{}", r.stderr);

    let corrupt = write(dir.path(), "corrupt.db", &"not a database ".repeat(500));
    let r = run_bin(&["stats", "--db", &corrupt]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("is not a catalog database"), "{}", r.stderr);
    assert!(std::fs::read_to_string(&corrupt).unwrap().starts_with("not a database"), "never recreated");

    let r = run_bin(&["show", "nope", "--db", db_s]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("no server `nope`"), "{}", r.stderr);
}

#[test]
fn search_ranks_names_first_filters_and_recovers_a_lost_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let list = tools_list(&[
        json!({"name": "dns_records_delete", "description": "Delete a DNS record from a zone"}),
        json!({"name": "list_zones", "description": "Lists zones. To delete a DNS record use another tool."}),
        json!({"name": "dns_record_create", "description": "Creates a DNS record"}),
        json!({"name": "executeSql", "description": "Runs arbitrary SQL", "inputSchema": {"type": "object", "properties": {"sql": {"type": "string"}}}}),
    ]);
    import(db, &write(dir.path(), "cloud.json", &list), &[]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--db", db, "--format", "json"]);
        let out = run(&all).expect(Status::Success).json();
        out["hits"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_string()).collect()
    };
    let hits = names(&["delete dns records"]);
    assert_eq!(hits.first().map(String::as_str), Some("dns_records_delete"), "name matches rank first: {hits:?}");
    assert!(hits.contains(&"list_zones".to_string()), "description matches are found too: {hits:?}");
    assert_eq!(names(&["dns record", "--category", "delete"]), ["dns_records_delete"]);
    assert_eq!(names(&["", "--min-risk", "high", "--limit", "10"]).len(), 2, "delete and execute are high");
    assert_eq!(names(&["sql", "--tag", "database"]), ["executeSql"], "camelCase names are split into words");
    assert!(names(&["nothing matches this"]).is_empty());

    // A lost index is rebuilt from SQLite, not trusted and not an error.
    std::fs::remove_dir_all(dir.path().join("c.db.index")).unwrap();
    let out = run(&["search", "zones", "--db", db, "--format", "json"]).expect(Status::Success);
    assert!(out.stderr.contains("rebuilt"), "{}", out.stderr);
    assert_eq!(out.json()["hits"][0]["name"], "list_zones");
    // A reclassification leaves the index stale until it is rebuilt; `reindex` rebuilds it.
    run(&["reclassify", "--db", db]).expect(Status::Success);
    run(&["reindex", "--db", db]).expect(Status::Success);
    let out = run(&["search", "zones", "--db", db, "--format", "json"]).expect(Status::Success);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

/// A crash (the process killed mid-import) keeps every server that was committed whole, and the
/// index recovers on the next search.
#[test]
fn a_killed_import_leaves_whole_servers_and_a_recoverable_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let per_server = 25;
    let mut lines = Vec::new();
    for s in 0..1000 {
        for t in 0..per_server {
            let record = json!({"server": format!("svc{s:04}"), "name": format!("get_item_{t}"), "description": "Gets an item by id, with its fields and history."});
            lines.push(record.to_string());
        }
    }
    let file = write(dir.path(), "many.jsonl", &lines.join("\n"));
    let mut child = crate::util::bin().args(["import", &file, "--db", db]).spawn().unwrap();
    // Kill it once some servers are committed, while others are still to come.
    let mut stored = 0;
    for _ in 0..400 {
        std::thread::sleep(std::time::Duration::from_millis(25));
        if std::path::Path::new(db).exists() {
            let out = run(&["stats", "--db", db, "--format", "json"]);
            stored = out.json()["servers"].as_i64().unwrap_or(0);
            if stored > 0 {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(stored > 0, "the import never committed a server");

    let stats = run(&["stats", "--db", db, "--format", "json"]).expect(Status::Success).json();
    let servers = stats["servers"].as_i64().unwrap();
    assert!(servers < 1000, "killed mid-import: {servers} servers stored");
    assert_eq!(stats["tools"].as_i64().unwrap(), servers * per_server, "only whole servers: {stats:#}");
    let out = run(&["search", "item", "--db", db, "--format", "json", "--limit", "1"]).expect(Status::Success);
    if servers > 0 {
        assert_eq!(out.json()["hits"].as_array().unwrap().len(), 1, "{}", out.stderr);
    }
    // Importing again completes the catalog.
    import(db, &file, &[]);
    let stats = run(&["stats", "--db", db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!((stats["servers"].as_i64(), stats["tools"].as_i64()), (Some(1000), Some(1000 * per_server)));
}

#[test]
fn a_deeply_nested_definition_does_not_take_search_down() {
    // SQLite's JSON functions refuse nesting deeper than 1000; a hostile server's 600 KB schema
    // once broke `search` and `reindex` for every server in the catalog.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let db = db.to_str().unwrap();
    let depth = 100_000;
    let schema =
        format!(r#"{{"type":"object","properties":{{"x":{}1{}}}}}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let hostile = format!(
        r#"{{"tools":[{{"name":"deep_tool","title":"Deep","description":"Lists nested things","inputSchema":{schema}}},
                     {{"name":"get_weather","description":"Returns the weather"}}]}}"#
    );
    assert!(hostile.len() > 600_000);
    let file = write(dir.path(), "hostile.tools.json", &hostile);
    import(db, &file, &[]);
    import(db, fixture("server-filesystem.tools.json").to_str().unwrap(), &[]);
    for (query, tool) in [("weather", "get_weather"), ("nested", "deep_tool"), ("deep", "deep_tool"), ("directory", "")]
    {
        let found = run(&["search", query, "--db", db, "--format", "json"]).expect(Status::Success).json();
        let names: Vec<&str> = found["hits"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(!names.is_empty(), "{query}: {found:#}");
        if !tool.is_empty() {
            assert_eq!(names[0], tool, "{query}: {found:#}");
        }
    }
    run(&["reindex", "--db", db]).expect(Status::Success);
    run(&["show", "hostile", "deep_tool", "--db", db, "--format", "json"]).expect(Status::Success);
    run(&["reclassify", "--db", db]).expect(Status::Success);
}

#[test]
fn a_directory_a_newer_schema_and_a_locked_catalog_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tools = fixture("stripe.tools.json");
    let tools = tools.to_str().unwrap();

    let as_dir = dir.path().join("dir.db");
    std::fs::create_dir(&as_dir).unwrap();
    let r = run_bin(&["import", tools, "--db", as_dir.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("dir.db"), "the error names the path: {}", r.stderr);
    assert!(as_dir.is_dir(), "left as it was");

    let newer = dir.path().join("newer.db");
    let newer_s = newer.to_str().unwrap();
    run_bin(&["import", tools, "--db", newer_s]);
    let conn = rusqlite::Connection::open(&newer).unwrap();
    conn.execute_batch("PRAGMA user_version = 9999").unwrap();
    drop(conn);
    let r = run_bin(&["stats", "--db", newer_s]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("newer catalog") && r.stderr.contains("upgrade"), "{}", r.stderr);

    // Another writer holds the catalog: the import waits, and the catalog is as before after it.
    let locked = dir.path().join("locked.db");
    let locked_s = locked.to_str().unwrap();
    run(&["import", tools, "--db", locked_s]).expect(Status::Success);
    let before = run(&["stats", "--db", locked_s, "--format", "json"]).expect(Status::Success).json();
    let holder = rusqlite::Connection::open(&locked).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let waiter = std::thread::spawn({
        let tools = tools.to_string();
        let db = locked_s.to_string();
        move || run_bin(&["import", &tools, "--db", &db])
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let r = waiter.join().unwrap();
    assert_eq!(r.code, Some(0), "the import waited for the lock: {r:?}");
    let after = run(&["stats", "--db", locked_s, "--format", "json"]).expect(Status::Success).json();
    assert!(before["tools"].as_u64() > Some(0));
    assert_eq!(before["tools"], after["tools"], "{before} {after}");
}
