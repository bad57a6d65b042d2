//! `catalog eval` on the shared devset: the quality bar, the baseline, and the gate.

use catalog::cli::Status;
use serde_json::Value;

use crate::util::{devset, run, write};

fn figure(scores: &Value, key: &str) -> f64 {
    scores[key].as_f64().unwrap_or_else(|| panic!("no `{key}` in {scores:#}"))
}

#[test]
fn the_classifier_meets_the_bar_and_beats_the_baseline() {
    let run = run(&["eval", &devset(), "--format", "json"]).expect(Status::Success);
    let report = run.json();
    assert!(report["records"].as_u64().unwrap() >= 900, "records {}", report["records"]);
    assert_eq!(report["skipped"], serde_json::json!([]), "the devset has unreadable lines");

    let (ours, base) = (&report["classifier"], &report["baseline"]);
    let read_only = figure(ours, "read_only_accuracy");
    let three_way = figure(ours, "three_way_accuracy");
    let miss_rate = figure(ours, "dangerous_miss_rate");
    let summary = format!(
        "read-only {read_only}, three-way {three_way}, dangerous-miss rate {miss_rate}; misses {:#}",
        report["dangerous_misses"]
    );
    assert!(read_only >= 0.95, "{summary}");
    assert!(three_way >= 0.85, "{summary}");
    assert!(miss_rate <= 0.01, "{summary}");

    // The read-threshold trade-off: at 0 it is the classifier's own figures; raising it only
    // moves reads to the safe side, so recall and dangerous misses never grow.
    let rows = report["read_threshold"].as_array().unwrap();
    assert_eq!(rows[0]["threshold"], 0.0);
    assert_eq!(figure(&rows[0], "read_only_accuracy"), read_only);
    assert_eq!(rows[0]["dangerous_misses"], ours["dangerous_misses"]);
    for w in rows.windows(2) {
        assert!(figure(&w[1], "read_recall") <= figure(&w[0], "read_recall"), "{rows:#?}");
        assert!(w[1]["dangerous_misses"].as_u64() <= w[0]["dangerous_misses"].as_u64(), "{rows:#?}");
    }

    for key in ["read_only_accuracy", "three_way_accuracy"] {
        let (o, b) = (figure(ours, key), figure(base, key));
        assert!(b > 0.0 && b < o, "{key}: baseline {b} should be present and lower than ours {o}");
    }
    assert!(figure(base, "dangerous_miss_rate") >= miss_rate, "the baseline misses fewer dangerous tools");

    // The reported misses agree with the counts.
    assert_eq!(report["dangerous_misses"].as_array().unwrap().len() as u64, ours["dangerous_misses"].as_u64().unwrap());
    for class in ["read", "write", "delete"] {
        let c = &ours["per_class"][class];
        for key in ["precision", "recall", "f1"] {
            let x = figure(c, key);
            assert!((0.0..=1.0).contains(&x), "{class} {key} {x}");
        }
    }
    let confusion_total: u64 = ours["confusion"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|row| row.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(confusion_total, report["records"].as_u64().unwrap());
}

#[test]
fn the_table_report_shows_both_columns() {
    let run = run(&["eval", &devset()]).expect(Status::Success);
    assert!(run.stdout.contains("catalog") && run.stdout.contains("baseline"), "{}", run.stdout);
    assert!(run.stdout.contains("read-only accuracy"), "{}", run.stdout);
    assert!(run.stdout.contains("dangerous misses"), "{}", run.stdout);
}

#[test]
fn the_gate_fails_on_an_impossible_bar_and_passes_on_a_fair_one() {
    let dir = tempfile::tempdir().unwrap();
    let strict = write(
        dir.path(),
        "strict.toml",
        "min_read_only_accuracy = 0.999\nmin_three_way_accuracy = 0.999\nmax_dangerous_miss_rate = 0.0\n",
    );
    let run_strict = run(&["eval", &devset(), "--format", "json", "--gate", &strict]).expect(Status::Failure);
    for figure in ["read-only accuracy", "three-way accuracy", "dangerous-miss rate"] {
        assert!(run_strict.stderr.contains(&format!("error: quality gate: {figure}")), "{}", run_strict.stderr);
    }
    // The report is still printed.
    assert!(run_strict.json()["classifier"].is_object());

    let fair = write(
        dir.path(),
        "fair.toml",
        "min_read_only_accuracy = 0.95\nmin_three_way_accuracy = 0.85\nmax_dangerous_miss_rate = 0.01\n",
    );
    let run_fair = run(&["eval", &devset(), "--format", "json", "--gate", &fair]).expect(Status::Success);
    assert!(run_fair.stderr.contains("quality gate passed"), "{}", run_fair.stderr);

    let typo = write(dir.path(), "typo.toml", "min_read_only_acuracy = 0.95\n");
    let run_typo = run(&["eval", &devset(), "--gate", &typo]).expect(Status::Error);
    assert!(run_typo.stderr.contains(&format!("the gate file {typo} is invalid")), "{}", run_typo.stderr);
}

#[test]
fn eval_reports_bad_records_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = [
        r#"{"server": "s", "name": "get_user", "label": "read"}"#,
        "not json",
        r#"{"server": "s", "name": "delete_user", "label": "destroy"}"#,
        r#"{"server": "s", "name": "", "label": "write"}"#,
        r#"{"server": "s", "name": "delete_user", "label": "delete", "annotations": {"readOnlyHint": true}}"#,
    ]
    .join("\n");
    let path = write(dir.path(), "small.jsonl", &text);
    let run_small = run(&["eval", &path, "--format", "json"]).expect(Status::Success);
    let report = run_small.json();
    assert_eq!(report["records"], 2);
    let skipped: Vec<&str> = report["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    for (s, line) in skipped.iter().zip(["line 2", "line 3", "line 4"]) {
        assert!(s.starts_with(line), "{s}");
    }
    assert!(run_small.stderr.contains("line 3: `label` must be read, write or delete"), "{}", run_small.stderr);
    // The author's annotations are the answer, not evidence: both records are right.
    assert_eq!(report["classifier"]["three_way_accuracy"], 1.0);

    let missing = dir.path().join("nope.jsonl");
    let run_missing = run(&["eval", missing.to_str().unwrap()]).expect(Status::Error);
    assert!(run_missing.stderr.contains(missing.to_str().unwrap()), "{}", run_missing.stderr);

    let empty = write(dir.path(), "empty.jsonl", "\n");
    let run_empty = run(&["eval", &empty]).expect(Status::Error);
    assert!(run_empty.stderr.contains("no labelled records"), "{}", run_empty.stderr);
}

#[test]
fn by_server_judges_each_server_without_the_rules_only_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    // `name-resolve-item` gives a reason on server a's tool and nowhere else: judged as unseen, a
    // writes' `resolve` falls back to the reading verb and becomes a dangerous miss.
    let file = write(
        dir.path(),
        "two.jsonl",
        concat!(
            r#"{"server":"a","name":"resolve_incident","label":"write"}"#,
            "\n",
            r#"{"server":"a","name":"get_incident","label":"read"}"#,
            "\n",
            r#"{"server":"b","name":"get_user","label":"read"}"#,
            "\n",
            r#"{"server":"b","name":"create_user","label":"write"}"#,
            "\n",
            r#"{"server":"a","name":"create_incident","label":"write"}"#,
            "\n",
        ),
    );
    let path = file.as_str();
    let report = run(&["eval", path, "--by-server", "--format", "json"]).expect(Status::Success).json();
    assert_eq!(report["classifier"]["dangerous_misses"], 0, "{report:#}");
    let loo = &report["leave_one_server_out"];
    let servers = loo["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    let a = &servers[0];
    assert_eq!(a["server"], "a");
    let left_out: Vec<&str> = a["rules_left_out"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(left_out.contains(&"name-resolve-item"), "{left_out:?}");
    assert!(!left_out.contains(&"name-verb-read") && !left_out.contains(&"name-verb-write"), "{left_out:?}");
    assert_eq!(a["unseen_dangerous_misses"], 1, "{a:#}");
    assert_eq!(loo["scores"]["dangerous_misses"], 1);
    // b's own rules (the pii tags of `user`) do not decide its labels.
    assert_eq!(servers[1]["unseen_read_only_accuracy"], servers[1]["read_only_accuracy"]);

    // Without the flag the report has no such section; the table shows it with the flag.
    let plain = run(&["eval", path, "--format", "json"]).expect(Status::Success).json();
    assert!(plain.get("leave_one_server_out").is_none());
    let table = run(&["eval", path, "--by-server"]).expect(Status::Success).stdout;
    assert!(table.contains("leave one server out") && table.contains("unseen overall"), "{table}");
}
