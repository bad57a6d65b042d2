//! `catalog eval`: the classifier's quality on labelled tools, beside a verb-prefix baseline.

use anyhow::{Context, Result};

use super::load_rules;
use crate::classify as classifier;
use crate::cli::args::{EvalArgs, Format};
use crate::cli::printer;
use crate::cli::{Io, Status};
use crate::quality::{evaluate, leave_one_server_out, read_labelled, Gate};

pub(super) fn run(args: EvalArgs, io: &mut Io<'_>) -> Result<Status> {
    let rules = load_rules(args.rules.rules.as_deref())?;
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let gate: Option<Gate> = match &args.gate {
        Some(path) => {
            let t = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the gate file {}", path.display()))?;
            Some(toml::from_str(&t).with_context(|| format!("the gate file {} is invalid", path.display()))?)
        }
        None => None,
    };
    let (records, skipped) = read_labelled(&text);
    for s in &skipped {
        writeln!(io.err, "warning: {}: {s}", args.file.display())?;
    }
    if records.is_empty() {
        writeln!(
            io.err,
            "error: no labelled records in {}; each line needs `name` and `label` (read, write or delete)",
            args.file.display()
        )?;
        return Ok(Status::Error);
    }
    let mut report = evaluate(&rules, &records, skipped);
    if args.by_server {
        let sources = match args.rules.rules.as_deref() {
            Some(dir) => classifier::dir_sources(dir)
                .map_err(|p| anyhow::Error::new(p).context(format!("cannot load the rules in {}", dir.display())))?,
            None => classifier::default_sources(),
        };
        let loo =
            leave_one_server_out(&rules, &records, |except| classifier::load_sources_except(sources.clone(), except))
                .map_err(|p| anyhow::Error::new(p).context("the rules do not load with one server's rules left out"))?;
        report.leave_one_server_out = Some(loo);
    }
    match args.format {
        Format::Json | Format::Jsonl => {
            serde_json::to_writer_pretty(&mut *io.out, &report)?;
            writeln!(io.out)?;
        }
        Format::Table => printer::eval_report(io.out, &report, args.all_misses)?,
    }
    if let Some(gate) = gate {
        let failures = gate.failures(&report.classifier);
        if !failures.is_empty() {
            for f in &failures {
                writeln!(io.err, "error: quality gate: {f}")?;
            }
            return Ok(Status::Failure);
        }
        writeln!(io.err, "quality gate passed")?;
    }
    Ok(Status::Success)
}
