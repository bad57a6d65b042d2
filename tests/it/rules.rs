//! Rules as data: the built-in rules load and pass their own examples; broken rule directories are
//! reported in full; a wrong example fails `rules test`.

use std::collections::BTreeSet;
use std::path::Path;

use catalog::classify::examples::{run_examples, CaseStatus};
use catalog::classify::{load_default, load_dir, DEFAULT_RULE_FILES};
use catalog::cli::Status;

use crate::util::{manifest_dir, run, run_bin, write};

/// Writes the built-in rule files into `dir`, so a test can add or change one.
fn copy_default_rules(dir: &Path) {
    for (name, text) in DEFAULT_RULE_FILES {
        write(dir, name, text);
    }
}

#[test]
fn every_rule_example_passes() {
    let set = load_default().unwrap_or_else(|p| panic!("the built-in rules do not load:\n{p}"));
    let report = run_examples(&set);
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{} {} ({}): {}", f.status.as_str(), f.rule_id, f.file, f.example))
        .collect();
    assert!(failures.is_empty(), "{} of {} examples failed:\n{}", failures.len(), report.cases, failures.join("\n"));
    assert_eq!(report.rules, set.rules().len());
    // Every rule has at least one example each way.
    assert!(report.cases >= 2 * report.rules, "{} cases for {} rules", report.cases, report.rules);
}

#[test]
fn the_built_in_rule_list_matches_the_rules_directory() {
    let dir = manifest_dir().join("rules");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml") && n != "policy.toml")
        .collect();
    let built_in: BTreeSet<String> = DEFAULT_RULE_FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(built_in.len(), DEFAULT_RULE_FILES.len(), "a file is listed twice in DEFAULT_RULE_FILES");
    let missing: Vec<&String> = on_disk.difference(&built_in).collect();
    let stale: Vec<&String> = built_in.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "DEFAULT_RULE_FILES (src/classify/load.rs) is out of date: add {missing:?}, remove {stale:?}"
    );
    for (name, text) in DEFAULT_RULE_FILES {
        let disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(disk == *text, "the compiled-in {name} differs from rules/{name}");
    }
}

#[test]
fn the_rules_directory_loads_like_the_built_in_rules() {
    let built_in = load_default().unwrap();
    let from_dir = load_dir(&manifest_dir().join("rules")).unwrap_or_else(|p| panic!("{p}"));
    let ids = |s: &catalog::classify::RuleSet| s.rules().iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&built_in), ids(&from_dir));
}

#[test]
fn rules_check_accepts_the_built_in_rules() {
    let run = run(&["rules", "check"]).expect(Status::Success);
    let n = load_default().unwrap().rules().len();
    assert!(
        run.stdout.starts_with(&format!("ok: {n} rules, rules version {}+", env!("CARGO_PKG_VERSION"))),
        "{}",
        run.stdout
    );
}

const BAD_ONE: &str = r#"
[[rule]]
id = "bad-regex"
message = "an unclosed group"
match.name = '(unclosed'
effect.tags = ["credentials"]
examples.flag = ["x"]
examples.pass = ["y"]

[[rule]]
id = "unknown-field"
message = "a field the format does not have"
colour = "red"
match.name = 'x'
effect.tags = ["credentials"]
examples.flag = ["x"]
examples.pass = ["y"]

[[rule]]
id = "dup-id"
message = "first definition"
match.name = 'zzz'
effect.tags = ["credentials"]
examples.flag = ["zzz"]
examples.pass = ["y"]
"#;

const BAD_TWO: &str = r#"
[[rule]]
id = "dup-id"
message = "second definition"
match.name = 'qqq'
effect.tags = ["credentials"]
examples.flag = ["qqq"]
examples.pass = ["y"]

[[rule]]
id = "no-examples"
message = "no examples at all"
match.name = 'www'
effect.tags = ["credentials"]

[[rule]]
id = "matches-nothing"
message = "a pattern that matches empty text"
match.description = '(delete)?'
effect.tags = ["credentials"]
examples.flag = [{ name = "x", description = "delete" }]
examples.pass = ["y"]
"#;

#[test]
fn rules_check_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_default_rules(dir.path());
    let one = write(dir.path(), "zz-bad-one.toml", BAD_ONE);
    let two = write(dir.path(), "zz-bad-two.toml", BAD_TWO);
    let run = run_bin(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    // (file, rule, what the line must also say)
    let expected = [
        (&one, "bad-regex", "match.name: invalid regex"),
        (&one, "unknown-field", "unknown field `colour`"),
        (&two, "dup-id", &*format!("id: duplicate rule id, first defined in {one}")),
        (&two, "no-examples", "examples.flag: every rule needs at least one example it must fire on"),
        (&two, "no-examples", "examples.pass: every rule needs at least one example it must not fire on"),
        (&two, "matches-nothing", "match.description: the pattern can match empty text"),
    ];
    let missing: Vec<String> = expected
        .iter()
        .filter(|(file, rule, what)| {
            !run.stderr.lines().any(|l| l.starts_with(&format!("error: {file}: rule `{rule}`")) && l.contains(what))
        })
        .map(|(file, rule, what)| format!("{file}: rule `{rule}`: {what}"))
        .collect();
    assert!(missing.is_empty(), "not reported:\n{}\n--- stderr\n{}", missing.join("\n"), run.stderr);
    assert!(run.stderr.contains(&format!("{} problem(s)", expected.len())), "{}", run.stderr);
    // Only the broken files are blamed.
    for (name, _) in DEFAULT_RULE_FILES {
        assert!(!run.stderr.contains(name), "{name} is blamed:\n{}", run.stderr);
    }

    // Every command that loads rules refuses them the same way.
    let classify = run_bin(&["classify", "get_user", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(classify.code, Some(2), "{classify:?}");
    assert!(
        classify.stderr.contains("cannot load the rules in")
            && classify.stderr.contains(&format!("{} problem(s)", expected.len())),
        "{}",
        classify.stderr
    );
    let test = run_bin(&["rules", "test", dir.path().to_str().unwrap()]);
    assert_eq!(test.code, Some(2), "{test:?}");
    assert!(test.stderr.contains("unknown field `colour`"), "{}", test.stderr);
}

#[test]
fn rules_check_reports_directory_problems() {
    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), "README.md", "not a rule file");
    let run = run_bin(&["rules", "check", empty.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no *.toml rule files found"), "{}", run.stderr);

    let missing = empty.path().join("nope");
    let run = run_bin(&["rules", "check", missing.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains(missing.to_str().unwrap()) && run.stderr.contains("cannot read the rule directory"),
        "{}",
        run.stderr
    );

    let bad_toml = tempfile::tempdir().unwrap();
    copy_default_rules(bad_toml.path());
    let file = write(bad_toml.path(), "zz.toml", "[[rule]\nid = ");
    let run = run_bin(&["rules", "check", bad_toml.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains(&format!("error: {file}: invalid TOML")), "{}", run.stderr);
}

#[test]
fn rules_test_passes_on_the_built_in_rules() {
    let run = run_bin(&["rules", "test"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let last = run.stdout.lines().last().unwrap_or_default();
    let set = load_default().unwrap();
    let cases = run_examples(&set).cases;
    assert_eq!(last, format!("{} rules, {cases} examples, 0 failed", set.rules().len()));
}

/// Moves one example of a rule to the other list, so the rule must fail it.
fn misplace_example(rules: &mut toml::Table, index: usize, from: &str, to: &str) -> String {
    let rule = rules["rule"].as_array_mut().unwrap()[index].as_table_mut().unwrap();
    let id = rule["id"].as_str().unwrap().to_string();
    let examples = rule.get_mut("examples").and_then(|e| e.as_table_mut()).unwrap();
    let example = examples[from].as_array().unwrap()[0].clone();
    examples[to].as_array_mut().unwrap().push(example);
    id
}

#[test]
fn rules_test_reports_a_wrong_example() {
    let dir = tempfile::tempdir().unwrap();
    copy_default_rules(dir.path());
    // Pick the first file with two rules, so the test follows the rules as they change.
    let (name, text) = DEFAULT_RULE_FILES
        .iter()
        .find(|(_, text)| {
            let t: toml::Table = toml::from_str(text).unwrap();
            t.get("rule").and_then(|r| r.as_array()).is_some_and(|r| r.len() >= 2)
        })
        .expect("a rule file with two rules");
    let mut rules: toml::Table = toml::from_str(text).unwrap();
    let noisy = misplace_example(&mut rules, 0, "flag", "pass");
    let missing = misplace_example(&mut rules, 1, "pass", "flag");
    write(dir.path(), name, &toml::to_string(&rules).unwrap());

    // The library sees exactly these two failures...
    let set = load_dir(dir.path()).unwrap_or_else(|p| panic!("the edited rules must still load: {p}"));
    let failures: Vec<(CaseStatus, String)> =
        run_examples(&set).failures.into_iter().map(|f| (f.status, f.rule_id)).collect();
    assert_eq!(failures, [(CaseStatus::Noisy, noisy.clone()), (CaseStatus::Missing, missing.clone())]);

    // ... and the command line reports them and fails.
    let run = run_bin(&["rules", "test", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("Noisy") && l.contains(&format!(" {noisy} ("))), "{}", run.stdout);
    assert!(lines.iter().any(|l| l.starts_with("Missing") && l.contains(&format!(" {missing} ("))), "{}", run.stdout);
    assert!(lines.last().unwrap().ends_with(", 2 failed"), "{}", run.stdout);
}

#[test]
fn rules_explain_and_list() {
    let set = load_default().unwrap();
    let explain = run(&["rules", "explain", "declared-read-only-but-mutates"]).expect(Status::Success);
    assert!(
        explain.stdout.starts_with("declared-read-only-but-mutates (finding stage, findings.toml)"),
        "{}",
        explain.stdout
    );
    assert!(explain.stdout.contains("fires on: ") && explain.stdout.contains("not on: "), "{}", explain.stdout);

    let unknown = run(&["rules", "explain", "read-only"]).expect(Status::Error);
    assert!(unknown.stderr.contains("no rule `read-only`; did you mean:"), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("declared-read-only-but-mutates"), "{}", unknown.stderr);
    let nothing = run(&["rules", "explain", "zzzzzz"]).expect(Status::Error);
    assert!(nothing.stderr.contains("catalog rules list"), "{}", nothing.stderr);

    let list = run(&["rules", "list", "--format", "jsonl"]).expect(Status::Success);
    let listed: Vec<serde_json::Value> = list.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = set.rules().iter().map(|r| &*r.id).collect();
    assert_eq!(ids, expected);
    for r in &listed {
        assert!(["signal", "verdict", "finding"].contains(&r["stage"].as_str().unwrap()), "{r}");
        assert!(DEFAULT_RULE_FILES.iter().any(|(n, _)| r["file"] == *n), "{r}");
    }
    let table = run(&["rules", "list"]).expect(Status::Success);
    assert_eq!(table.stdout.lines().count(), set.rules().len());
}

#[test]
fn classify_uses_the_rules_given() {
    // A copy of the rules with one more rule: `--rules DIR` replaces the built-in rules.
    let dir = tempfile::tempdir().unwrap();
    copy_default_rules(dir.path());
    write(
        dir.path(),
        "zz-local.toml",
        r#"
[[rule]]
id = "local-quarantine"
message = "a tool our security team quarantined"
stage = "finding"
match.name = '^frobnicate$'
effect.finding = "critical"
examples.flag = ["frobnicate"]
examples.pass = ["get_user"]
"#,
    );
    let rules = dir.path().to_str().unwrap();
    let check = run(&["rules", "check", rules]).expect(Status::Success);
    assert!(check.stdout.starts_with("ok: "), "{}", check.stdout);
    let with = crate::util::classify("frobnicate", &["--rules", rules]);
    assert!(crate::util::findings(&with).contains(&"local-quarantine"), "{with:#}");
    let without = crate::util::classify("frobnicate", &[]);
    assert!(!crate::util::findings(&without).contains(&"local-quarantine"), "{without:#}");
}
