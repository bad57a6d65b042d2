//! The classifier: rules as data (`rules/*.toml`) compiled into a `RuleSet`, run over a tool to
//! give a `Verdict`.
//!
//! Invariant: classification is pure. No I/O, no async, no clock; once a `RuleSet` is loaded,
//! `RuleSet::classify` cannot fail.

pub mod contexts;
mod engine;
pub mod examples;
pub mod features;
pub mod load;
mod matcher;
pub mod rules;

pub use contexts::{classify_listing, sibling_key, Contexts};
pub use features::SiblingContext;
pub use load::{
    default_sources, dir_sources, load_default, load_dir, load_sources, load_sources_except, RuleProblem, RuleProblems,
    DEFAULT_RULE_FILES,
};
pub use rules::{Rule, RuleSet, Stage, Tables};
