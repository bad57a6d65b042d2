//! Bad input through the real binary: exit codes, stderr, and closed pipes.

use std::io::Read;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::util::{bin, run_bin, write, BinRun};

fn classify_file(name: &str, contents: &str, extra: &[&str]) -> BinRun {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, contents);
    run_bin(&[&["classify", "--input", &path, "--format", "jsonl"], extra].concat())
}

fn names(run: &BinRun) -> Vec<String> {
    run.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            v["name"].as_str().unwrap().to_string()
        })
        .collect()
}

/// No panic, no backtrace hint, in anything the process said.
#[track_caller]
fn assert_no_panic(run: &BinRun) {
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"), "panic: {}", run.stderr);
}

#[test]
fn text_that_is_not_json_is_an_error() {
    let run = classify_file("notes.txt", "hello world\nthese are my notes, not tools\n", &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("not JSON"), "{}", run.stderr);
    assert!(run.stderr.contains("notes.txt"), "the message names the file: {}", run.stderr);
    assert!(run.stderr.contains("error: no usable tools"), "{}", run.stderr);
    assert_no_panic(&run);
}

#[test]
fn empty_and_toolless_files_are_errors() {
    let cases = [
        ("empty.json", "", "the input is empty"),
        ("blank.json", "  \n\n", "the input is empty"),
        ("obj.json", r#"{"foo": 1}"#, "no `name` field"),
        ("nums.json", "[1, 2]", "expected a JSON object, found a number"),
    ];
    let mut wrong = Vec::new();
    for (file, contents, message) in cases {
        let run = classify_file(file, contents, &[]);
        if run.code != Some(2) || !run.stderr.contains(message) || !run.stderr.contains(file) || !run.stdout.is_empty()
        {
            wrong.push(format!("{file}: {run:?} (expected {message:?})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn one_broken_tool_in_a_tools_list_spares_the_others() {
    let tools = json!({"tools": [
        {"name": "get_user", "description": "Gets a user"},
        {"name": 42, "description": "a number for a name"},
        {"description": "no name at all"},
        {"name": "delete_user", "description": "Deletes a user"},
    ]});
    let run = classify_file("tools.json", &tools.to_string(), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(names(&run), ["get_user", "delete_user"]);
    assert!(run.stderr.contains("tools[1]: `name` must be a string, found a number"), "{}", run.stderr);
    assert!(run.stderr.contains("tools[2]: no `name` field"), "{}", run.stderr);
    assert!(!run.stderr.contains("tools[0]") && !run.stderr.contains("tools[3]"), "{}", run.stderr);
    assert!(run.stderr.lines().all(|l| l.starts_with("warning: ")), "{}", run.stderr);
}

#[test]
fn a_bad_jsonl_line_spares_the_others() {
    let text = [
        r#"{"name": "get_user", "server": "crm"}"#,
        r#"{"name": "update_user", "server": "crm""#,
        "",
        r#"{"name": "", "server": "crm"}"#,
        r#"{"name": ["delete_user"], "server": "crm"}"#,
        r#"{"name": "   ", "server": "crm"}"#,
        r#"{"name": "delete_user", "server": "crm"}"#,
    ]
    .join("\n");
    let run = classify_file("tools.jsonl", &text, &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(names(&run), ["get_user", "delete_user"]);
    let warnings: Vec<&str> = run.stderr.lines().collect();
    let expected = [
        ("line 2", "not a JSON record"),
        ("line 4", "`name` is empty"),
        ("line 5", "`name` must be a string, found an array"),
        ("line 6", "`name` is empty"),
    ];
    assert_eq!(warnings.len(), expected.len(), "{}", run.stderr);
    for (w, (location, message)) in warnings.iter().zip(expected) {
        assert!(w.contains(&format!("tools.jsonl: {location}: {message}")), "{w:?} should name {location}: {message}");
    }
}

#[test]
fn a_truncated_tools_list_keeps_what_came_before() {
    let run = classify_file("cut.json", r#"{"tools":[{"name":"get_user"},{"name":"delete_user"},{"name":"upd"#, &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(names(&run), ["get_user", "delete_user"]);
    assert!(run.stderr.contains("stopped reading after 2 tool(s)"), "{}", run.stderr);
}

#[test]
fn a_one_megabyte_description_works() {
    let description: String =
        "Deletes the selected rows from the table and returns how many were removed. ".repeat(14_000);
    assert!(description.len() >= 1 << 20);
    let tools = json!({"tools": [
        {"name": "delete_rows", "description": description},
        {"name": "get_row", "description": "Gets one row by id"},
    ]});
    let run = classify_file("big.json", &tools.to_string(), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let verdicts: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0]["category"], "delete");
    assert_eq!(verdicts[1]["category"], "read");
    // Evidence quotes the match, not the megabyte.
    assert!(run.stdout.len() < 64 * 1024, "output is {} bytes", run.stdout.len());
}

#[test]
fn a_very_long_name_is_cut() {
    let name = format!("get_{}", "x".repeat(5000));
    let run = classify_file("long.json", &json!([{ "name": name }]).to_string(), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let got = &names(&run)[0];
    assert_eq!(got.chars().count(), catalog::input::MAX_NAME_CHARS);
    assert!(name.starts_with(got.as_str()));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-tools.json");
    let run = run_bin(&["classify", "--input", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains(path.to_str().unwrap()), "{}", run.stderr);
    assert!(run.stderr.starts_with("error: cannot read"), "{}", run.stderr);
    assert_no_panic(&run);
}

#[test]
fn a_file_that_is_not_utf8_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.json");
    std::fs::write(&path, b"{\"tools\":[{\"name\":\"caf\xe9\"}]}").unwrap();
    let run = run_bin(&["classify", "--input", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("not UTF-8") && run.stderr.contains("offset 22"), "{}", run.stderr);
}

#[test]
fn fail_on_gates_a_tools_list() {
    let risky =
        json!({"tools": [{"name": "get_user"}, {"name": "delete_user", "description": "Deletes a user"}]}).to_string();
    let safe = json!({"tools": [{"name": "get_user"}, {"name": "list_users"}]}).to_string();
    let cases = [
        (&risky, "high", Some(1)),
        (&risky, "critical", Some(0)),
        (&safe, "high", Some(0)),
        (&safe, "medium", Some(0)),
        (&safe, "low", Some(1)),
    ];
    let mut wrong = Vec::new();
    for (text, level, code) in cases {
        let run = classify_file("tools.json", text, &["--fail-on", level]);
        if run.code != code || run.stdout.lines().count() != 2 {
            wrong.push(format!("--fail-on {level} on {text}: expected {code:?}, got {run:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn stdin_is_read_with_a_dash() {
    use std::io::Write;
    let mut child = bin()
        .args(["classify", "--input", "-", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(br#"{"tools":[{"name":"get_user"},{"name":"delete_user"}]}"#).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // `catalog classify --input big.json | head -1`.
    let tools: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("delete_item_{i}"), "description": "Deletes one item for good"}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.json", &json!({ "tools": tools }).to_string());
    for format in ["jsonl", "json", "table"] {
        let mut child = bin()
            .args(["classify", "--input", &path, "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little (the JSON document is one long line), then hang up.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = vec![0; 4096];
        stdout.read_exact(&mut first).unwrap();
        let first = String::from_utf8_lossy(&first);
        assert!(first.contains("delete_item_0"), "{format}: {first}");
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr, "", "{format}: a closed pipe printed something");
        assert_eq!(out.status.code(), Some(0), "{format}: exit status {:?}", out.status);
    }
}

#[test]
fn help_and_version_succeed() {
    for args in [&["--help"][..], &["classify", "--help"], &["rules", "--help"]] {
        let run = run_bin(args);
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
        // Help and version are results: they belong on stdout (`catalog --help | less`).
        assert!(run.stdout.contains("Usage: catalog"), "{args:?}: {run:?}");
        assert!(run.stderr.is_empty(), "{args:?}: {run:?}");
    }
    let version = run_bin(&["--version"]);
    assert_eq!(version.stdout.trim_end(), format!("catalog {}", env!("CARGO_PKG_VERSION")));
}
