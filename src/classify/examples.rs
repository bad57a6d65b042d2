//! Running every rule's own examples: `cargo test` and `catalog rules test` share this code.
//!
//! Statuses follow ast-grep: a `flag` example the rule does not fire on is **Missing**, a `pass`
//! example it fires on is **Noisy**.

use super::rules::RuleSet;

/// Why an example failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// A `flag` example the rule did not fire on.
    Missing,
    /// A `pass` example the rule fired on.
    Noisy,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Missing => "Missing",
            CaseStatus::Noisy => "Noisy",
        }
    }
}

/// One failed example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFailure {
    pub rule_id: String,
    pub file: String,
    pub status: CaseStatus,
    pub example: String,
}

/// The outcome of running all examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExampleReport {
    pub rules: usize,
    pub cases: usize,
    pub failures: Vec<CaseFailure>,
}

/// Runs every example of every rule through the whole rule set, so rule interactions count.
pub fn run_examples(set: &RuleSet) -> ExampleReport {
    let mut report = ExampleReport { rules: set.rules().len(), ..ExampleReport::default() };
    for rule in set.rules() {
        let (flag, pass) = &rule.examples;
        for (examples, must_fire, status) in [(flag, true, CaseStatus::Missing), (pass, false, CaseStatus::Noisy)] {
            for ex in examples {
                report.cases += 1;
                let verdict = set.classify(&ex.tool);
                let fired = verdict.reasons.iter().any(|r| r.rule_id == rule.id);
                if fired != must_fire {
                    let mut label = ex.tool.name.clone();
                    if let Some(d) = ex.tool.description.as_deref().filter(|d| !d.is_empty()) {
                        let short: String = d.chars().take(60).collect();
                        label.push_str(&format!(" ({short:?})"));
                    }
                    report.failures.push(CaseFailure {
                        rule_id: rule.id.to_string(),
                        file: rule.file.clone(),
                        status,
                        example: label,
                    });
                }
            }
        }
    }
    report
}
