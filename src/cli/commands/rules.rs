//! `catalog rules check|test|explain|list`.

use std::path::Path;

use anyhow::{bail, Result};

use super::load_rules;
use crate::classify::examples::run_examples;
use crate::classify::{self as classifier, RuleProblems};
use crate::cli::args::{Format, RulesArgs, RulesCommand};
use crate::cli::printer;
use crate::cli::{Io, Status};

pub(super) fn run(args: RulesArgs, io: &mut Io<'_>) -> Result<Status> {
    match args.command {
        RulesCommand::Check { dir } => check(dir.as_deref(), io),
        RulesCommand::Test { dir } => test(dir.as_deref(), io),
        RulesCommand::Explain { rule_id, rules } => {
            let set = load_rules(rules.rules.as_deref())?;
            let Some(rule) = set.rule(&rule_id) else {
                let mut close: Vec<&str> = set
                    .rules()
                    .iter()
                    .map(|r| &*r.id)
                    .filter(|id| id.contains(&rule_id) || rule_id.contains(*id))
                    .collect();
                close.truncate(5);
                if close.is_empty() {
                    bail!("no rule `{rule_id}`; `catalog rules list` shows them all");
                }
                bail!("no rule `{rule_id}`; did you mean: {}", close.join(", "));
            };
            printer::rule_explain(io.out, rule)?;
            Ok(Status::Success)
        }
        RulesCommand::List { rules, format } => {
            let set = load_rules(rules.rules.as_deref())?;
            printer::rule_list(io.out, &set, format != Format::Table)?;
            Ok(Status::Success)
        }
    }
}

fn load(dir: Option<&Path>) -> Result<classifier::RuleSet, RuleProblems> {
    match dir {
        Some(d) => classifier::load_dir(d),
        None => classifier::load_default(),
    }
}

fn check(dir: Option<&Path>, io: &mut Io<'_>) -> Result<Status> {
    match load(dir) {
        Ok(set) => {
            writeln!(io.out, "ok: {} rules, rules version {}", set.rules().len(), set.version())?;
            Ok(Status::Success)
        }
        Err(problems) => {
            printer::rule_problems(io.err, &problems)?;
            Ok(Status::Error)
        }
    }
}

fn test(dir: Option<&Path>, io: &mut Io<'_>) -> Result<Status> {
    let set = match load(dir) {
        Ok(set) => set,
        Err(problems) => {
            printer::rule_problems(io.err, &problems)?;
            return Ok(Status::Error);
        }
    };
    let report = run_examples(&set);
    for f in &report.failures {
        writeln!(io.out, "{:<8} {} ({}): {}", f.status.as_str(), f.rule_id, f.file, f.example)?;
    }
    writeln!(io.out, "{} rules, {} examples, {} failed", report.rules, report.cases, report.failures.len())?;
    Ok(if report.failures.is_empty() { Status::Success } else { Status::Failure })
}
