//! Helpers shared by the test modules: running `catalog` in-process or as a process, temp files,
//! and reading verdicts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use catalog::cli::{run_with_args, Io, Status};
use serde_json::Value;

/// What one in-process run of `catalog` produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: Status,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts the status, showing everything the command said when it differs.
    #[track_caller]
    pub(crate) fn expect(self, status: Status) -> Run {
        assert_eq!(self.status, status, "unexpected status\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// Every stdout line as a JSON value (`--format jsonl`).
    #[track_caller]
    pub(crate) fn jsonl(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect()
    }

    /// Stdout as one JSON document (`--format json`).
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// Runs `catalog ARGS...` in-process, with stdout not a terminal.
pub(crate) fn run(args: &[&str]) -> Run {
    run_with_terminal(args, false)
}

/// Runs `catalog ARGS...` in-process, telling it whether stdout is a terminal.
pub(crate) fn run_with_terminal(args: &[&str], out_is_terminal: bool) -> Run {
    let argv: Vec<String> = std::iter::once("catalog").chain(args.iter().copied()).map(str::to_string).collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut io = Io { out: &mut out, err: &mut err, out_is_terminal };
        run_with_args(&argv, &mut io)
    };
    Run {
        status,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

/// Classifies one tool given on the command line (`classify NAME EXTRA... --format json`) and
/// returns its verdict.
#[track_caller]
pub(crate) fn classify(name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["classify", name, "--format", "json"];
    args.extend_from_slice(extra);
    let run = run(&args).expect(Status::Success);
    let mut lines = run.jsonl();
    assert_eq!(lines.len(), 1, "expected one verdict, got:\n{}", run.stdout);
    lines.remove(0)
}

/// Classifies many tools in one run (loading the rules takes a while in debug builds): writes
/// them as JSONL records, each classified on its own (or with the `siblings` it lists), runs
/// `classify --input FILE --format json`, and returns the verdicts in order.
#[track_caller]
pub(crate) fn classify_records(records: &[Value]) -> Vec<Value> {
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "tools.jsonl", &text.join("\n"));
    let run = run(&["classify", "--input", &path, "--format", "json"]).expect(Status::Success);
    assert_eq!(run.stderr, "", "unexpected warnings");
    let doc = run.json();
    let verdicts = doc["tools"].as_array().expect("a `tools` array").clone();
    assert_eq!(verdicts.len(), records.len(), "one verdict per record");
    for (i, (v, r)) in verdicts.iter().zip(records).enumerate() {
        assert_eq!(v["name"], r["name"], "verdict {i} is not for record {i}");
        assert_eq!(v["location"], format!("line {}", i + 1));
    }
    verdicts
}

/// Classifies every tool of a file with these contents (`classify --input FILE --format jsonl`).
pub(crate) fn classify_text(file_name: &str, contents: &str) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(file_name);
    std::fs::write(&path, contents).expect("write the input");
    run(&["classify", "--input", path.to_str().expect("UTF-8 path"), "--format", "jsonl"])
}

/// Classifies every tool of a file with these contents and returns the verdicts, asserting
/// success and no warnings.
#[track_caller]
pub(crate) fn verdicts_of(file_name: &str, contents: &str) -> Vec<Value> {
    let run = classify_text(file_name, contents).expect(Status::Success);
    assert_eq!(run.stderr, "", "unexpected warnings");
    run.jsonl()
}

/// The verdict for `name` among `verdicts`.
#[track_caller]
pub(crate) fn find<'a>(verdicts: &'a [Value], name: &str) -> &'a Value {
    verdicts.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no verdict for `{name}` in {verdicts:#?}"))
}

pub(crate) fn category(v: &Value) -> &str {
    v["category"].as_str().expect("category is a string")
}

pub(crate) fn risk(v: &Value) -> &str {
    v["risk"].as_str().expect("risk is a string")
}

pub(crate) fn tags(v: &Value) -> Vec<&str> {
    v["tags"].as_array().expect("tags is an array").iter().map(|t| t.as_str().expect("tag is a string")).collect()
}

/// The rule ids of the findings.
pub(crate) fn findings(v: &Value) -> Vec<&str> {
    v["findings"]
        .as_array()
        .expect("findings is an array")
        .iter()
        .map(|f| f["rule"].as_str().expect("finding rule is a string"))
        .collect()
}

/// The project root (where Cargo.toml is).
pub(crate) fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The devset CI has beside the project.
pub(crate) fn devset() -> String {
    let path = manifest_dir().join("../shared/data/devset.jsonl");
    assert!(
        path.is_file(),
        "the devset is missing: expected {} (the shared data every checkout and CI has beside the project)",
        path.display()
    );
    path.to_str().unwrap().to_string()
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

/// What one run of the real binary produced.
#[derive(Debug)]
pub(crate) struct BinRun {
    /// `None` when killed by a signal.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// The real `catalog` binary, stdin closed.
pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catalog"));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs the real binary to completion.
pub(crate) fn run_bin(args: &[&str]) -> BinRun {
    let out = bin().args(args).output().expect("run the catalog binary");
    BinRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub(crate) fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a temp file");
    path.to_str().expect("UTF-8 path").to_string()
}
