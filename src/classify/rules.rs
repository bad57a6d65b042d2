//! The compiled, validated rule set. Built only by `load`; read by `engine` and `examples`.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex_automata::util::pool::PoolGuard;

use super::features::Lexicon;
use super::matcher::{FieldPatterns, MakeScratch, Scratch, ScratchPool};
use crate::model::{Category, Field, Hint, Hints, Risk, RiskStep, Severity, ToolInput};

/// When a rule runs: `Signal` rules vote on the category from the tool's own text; `Verdict`
/// rules run after the vote, in file order, and may read and change the category and tags;
/// `Finding` rules run last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Signal,
    Verdict,
    /// Runs last; reports problems in the tool's definition and never changes the category.
    Finding,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Signal => "signal",
            Stage::Verdict => "verdict",
            Stage::Finding => "finding",
        }
    }
}

/// A compiled match condition.
#[derive(Debug, Clone)]
pub enum Cond {
    /// The name's action verb (or a verb joined to it) is one of these words. `bit` is this
    /// condition's bit in `Features::verb_mask` (0 past the 64th verb condition: the words are
    /// looked up instead).
    Verb {
        words: super::features::WordSet,
        bit: u64,
    },
    /// Pattern `idx` of `field`'s regex set matches, at least `min` times (lines, for siblings).
    Re {
        field: Field,
        idx: usize,
        min: usize,
    },
    /// A pattern of a rule that runs only when nothing voted, with its own regex (see
    /// `load::PatternBank::cond`): run on the field's text only when the rule is tried.
    Lazy {
        field: Field,
        re: Arc<regex::Regex>,
    },
    /// The server declared this hint with this value.
    Annotation(Hint, bool),
    HasDescription(bool),
    /// The server declared at least one hint.
    HasAnnotations(bool),
    /// The description is longer than this many characters.
    DescriptionLongerThan(usize),
    /// No signal rule voted on the category.
    NoVotes(bool),
    /// No known verb in the name.
    NoVerb(bool),
    /// A sibling is this tool's read-only variant.
    ReadonlyTwin(bool),
    /// Verdict stage: the category decided so far is one of these.
    Category(Vec<Category>),
    /// Verdict stage: one of these tags is set (the names, and their mask: see `RuleSet::tag_names`).
    Tag(Vec<String>, u64),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

/// What a rule does when it fires.
#[derive(Debug, Clone)]
pub struct Effect {
    /// A vote (signal stage) or an override (verdict stage).
    pub category: Option<Category>,
    /// How strong the vote is, 0–1. Also decides between rules setting the same hint.
    pub weight: f64,
    pub tags: Vec<Arc<str>>,
    /// The same tags as a mask (see `RuleSet::tag_names`).
    pub tag_mask: u64,
    /// Hints set when the rule's category (if any) is the final one.
    pub hints: Vec<(Hint, bool)>,
    /// When set, the rule reports a finding of this severity, with the rule's message.
    pub finding: Option<Severity>,
    /// A confidence change, shown in the arithmetic with the rule's message.
    pub confidence: Option<f64>,
}

/// A tool a rule must fire on (`flag`) or must not fire on (`pass`).
#[derive(Debug, Clone)]
pub struct Example {
    pub tool: ToolInput,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Arc<str>,
    pub message: Arc<str>,
    /// The effect in words, as reasons show it (`category delete (0.90), tag irreversible`).
    pub effect_text: Arc<str>,
    /// Markdown: what it detects, why it matters (`catalog rules explain`).
    pub why: String,
    pub file: String,
    pub stage: Stage,
    pub cond: Cond,
    /// Something the rule cannot fire without, checked before `cond` (`Trigger::of`).
    pub trigger: Option<Trigger>,
    pub effect: Effect,
    /// `(flag, pass)`.
    pub examples: (Vec<Example>, Vec<Example>),
}

/// One thing a condition needs, cheap to check: most rules are skipped on it without running
/// their whole condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Pattern `idx` of a field (not siblings) matched.
    Pattern(Field, usize),
    /// A name verb with this bit in `Features::verb_mask`.
    Verb(u64),
}

impl Trigger {
    /// What `cond` cannot be true without, if anything: itself for a pattern or verb, the first
    /// such part of an `all`.
    pub fn of(cond: &Cond) -> Option<Trigger> {
        match cond {
            Cond::Re { field, idx, .. } if *field != Field::Siblings => Some(Trigger::Pattern(*field, *idx)),
            Cond::Verb { bit, .. } if *bit != 0 => Some(Trigger::Verb(*bit)),
            Cond::All(list) => list.iter().find_map(Trigger::of),
            _ => None,
        }
    }
}

/// Each field's patterns compiled together (`matcher`), with the per-thread scratch space to
/// run them.
#[derive(Debug)]
pub struct TextSets {
    by_field: [Option<FieldPatterns>; Field::COUNT],
    scratch: ScratchPool,
}

impl TextSets {
    pub(crate) fn new(by_field: [Option<FieldPatterns>; Field::COUNT]) -> TextSets {
        let scratch = ScratchPool::new(by_field.to_vec());
        TextSets { by_field, scratch }
    }

    pub fn get(&self, field: Field) -> Option<&FieldPatterns> {
        self.by_field[field.index()].as_ref()
    }

    /// This thread's caches and hit buffers, indexed like `Field::ALL`.
    pub(crate) fn scratch(&self) -> PoolGuard<'_, Scratch, MakeScratch> {
        self.scratch.get()
    }
}

/// The one risk table and the default hints per category (`rules/tables.toml`).
#[derive(Debug, Clone)]
pub struct Tables {
    /// Every tag a rule may set, with its meaning.
    pub tags: BTreeMap<String, String>,
    pub base: BTreeMap<Category, Risk>,
    /// `(tag, categories it raises, why)`: each present tag raises the risk one level for those
    /// categories, up to critical.
    pub raises: Vec<(Arc<str>, Vec<Category>, String)>,
    /// `(tag, minimum risk, why)`: a tool with the tag is at least this risky.
    pub floors: Vec<(Arc<str>, Risk, String)>,
    pub hints: BTreeMap<Category, Hints>,
}

impl Tables {
    /// The risk for a category and tag set, with the arithmetic in words.
    pub fn risk(&self, category: Category, tags: &[Arc<str>]) -> (Risk, Vec<RiskStep>) {
        let base = self.base[&category];
        let mut steps = vec![RiskStep::Base(category, base)];
        let mut risk = base;
        for (tag, cats, _) in &self.raises {
            if cats.contains(&category) && tags.contains(tag) {
                let next = risk.raised(1);
                steps.push(RiskStep::Raise { from: risk, to: next, tag: tag.clone() });
                risk = next;
            }
        }
        for (tag, floor, _) in &self.floors {
            if risk < *floor && tags.contains(tag) {
                steps.push(RiskStep::Floor { from: risk, to: *floor, tag: tag.clone() });
                risk = *floor;
            }
        }
        (risk, steps)
    }
}

/// A validated, compiled set of rules: what `classify` runs.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) sets: TextSets,
    pub(crate) lexicon: Lexicon,
    /// The declared tags, sorted; bit `i` of a tag mask is `tag_names[i]`.
    pub(crate) tag_names: Vec<Arc<str>>,
    pub(crate) tables: Tables,
    /// The crate version plus a fingerprint of the rule sources.
    pub(crate) version: String,
}

impl RuleSet {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.id == id)
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Identifies these rules in stored classifications, e.g. `0.1.0+1a2b3c4d`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::classify::load_default;
    use crate::model::Category;

    #[test]
    fn adding_a_tag_never_lowers_the_risk() {
        let set = load_default().expect("built-in rules load");
        let t = set.tables();
        let tags: Vec<Arc<str>> = t.tags.keys().map(|k| Arc::from(k.as_str())).collect();
        for c in Category::ALL {
            // Every subset of every pair grows monotonically; the full set is the maximum.
            let base = t.risk(*c, &[]).0;
            let all = t.risk(*c, &tags).0;
            for (i, a) in tags.iter().enumerate() {
                let one = t.risk(*c, std::slice::from_ref(a)).0;
                assert!(one >= base && one <= all, "{c} + {a}");
                for b in &tags[i + 1..] {
                    let two = t.risk(*c, &[a.clone(), b.clone()]).0;
                    assert!(two >= one, "{c} + {a} + {b} lowered the risk");
                }
            }
        }
    }
}
