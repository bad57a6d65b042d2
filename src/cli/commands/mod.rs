//! One module per subcommand.

mod catalog;
mod classify;
mod crawl;
mod eval;
mod policy;
mod rules;
mod scan;

use std::path::Path;

use anyhow::Result;

use super::args::{Cli, Command};
use super::{Io, Status};
use crate::classify::{self as classifier, RuleSet};

pub(super) fn run(cli: Cli, io: &mut Io<'_>) -> Result<Status> {
    match cli.command {
        Command::Classify(args) => classify::run(args, io),
        Command::Eval(args) => eval::run(args, io),
        Command::Rules(args) => rules::run(args, io),
        Command::Import(args) => catalog::import(args, io),
        Command::Show(args) => catalog::show(args, io),
        Command::Stats(args) => catalog::stats(args, io),
        Command::Search(args) => catalog::search(args, io),
        Command::Reindex(args) => catalog::reindex(args, io),
        Command::Reclassify(args) => catalog::reclassify(args, io),
        Command::Crawl(args) => crawl::run(*args, io),
        Command::Policy(args) => policy::run(args, io),
        Command::Export(args) => policy::export(args, io),
        Command::Scan(args) => scan::run(*args, io),
    }
}

/// Loads `--rules DIR`, or the built-in rules.
fn load_rules(dir: Option<&Path>) -> Result<RuleSet> {
    let set = match dir {
        Some(dir) => classifier::load_dir(dir)
            .map_err(|p| anyhow::Error::new(p).context(format!("cannot load the rules in {}", dir.display())))?,
        None => classifier::load_default()
            .map_err(|p| anyhow::Error::new(p).context("the built-in rules are broken (a bug: please report it)"))?,
    };
    Ok(set)
}
