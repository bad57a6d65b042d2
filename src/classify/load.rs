//! Raw rule files (serde) → a validated, compiled `RuleSet`.
//!
//! Loading collects every problem in every file (bad TOML, unknown fields, invalid regexes,
//! duplicate ids, undeclared tags, missing examples) with its file, rule and field, then fails
//! once with all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use regex_syntax::hir::Hir;
use serde::Deserialize;

use super::features::Lexicon;
use super::matcher::FieldPatterns;
use super::rules::{Cond, Effect, Example, Rule, RuleSet, Stage, Tables, TextSets, Trigger};
use crate::model::{Annotations, Category, Field, Hint, Risk, Severity, ToolInput};

/// The default rules, compiled into the binary so `catalog` works from any directory.
/// A test checks this list against the files in `rules/`.
pub const DEFAULT_RULE_FILES: &[(&str, &str)] = &[
    ("annotations.toml", include_str!("../../rules/annotations.toml")),
    ("description.toml", include_str!("../../rules/description.toml")),
    ("findings.toml", include_str!("../../rules/findings.toml")),
    ("lexicon.toml", include_str!("../../rules/lexicon.toml")),
    ("name.toml", include_str!("../../rules/name.toml")),
    ("schema.toml", include_str!("../../rules/schema.toml")),
    ("siblings.toml", include_str!("../../rules/siblings.toml")),
    ("tables.toml", include_str!("../../rules/tables.toml")),
    ("tags.toml", include_str!("../../rules/tags.toml")),
    ("verdict.toml", include_str!("../../rules/verdict.toml")),
];

/// One problem found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub file: String,
    pub rule: Option<String>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(rule) = &self.rule {
            write!(f, ": rule `{rule}`")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a rule directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblems(pub Vec<RuleProblem>);

impl fmt::Display for RuleProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the rules", self.0.len())?;
        for p in &self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleProblems {}

// ---- raw serde types: the rule-file format (documented in docs/rules.md) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    message: String,
    #[serde(default)]
    why: String,
    #[serde(default)]
    stage: RawStage,
    #[serde(rename = "match")]
    matcher: RawMatch,
    effect: RawEffect,
    #[serde(default)]
    examples: RawExamples,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawStage {
    #[default]
    Signal,
    Verdict,
    Finding,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    verb: Option<Vec<String>>,
    name: Option<String>,
    raw_name: Option<String>,
    title: Option<String>,
    description: Option<String>,
    params: Option<String>,
    enums: Option<String>,
    siblings: Option<String>,
    siblings_min: Option<usize>,
    server: Option<String>,
    annotation: Option<BTreeMap<String, bool>>,
    has_description: Option<bool>,
    has_annotations: Option<bool>,
    description_longer_than: Option<usize>,
    no_votes: Option<bool>,
    no_verb: Option<bool>,
    readonly_twin: Option<bool>,
    category: Option<Vec<String>>,
    tag: Option<Vec<String>>,
    all: Option<Vec<RawMatch>>,
    any: Option<Vec<RawMatch>>,
    not: Option<Box<RawMatch>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEffect {
    category: Option<String>,
    weight: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    hints: BTreeMap<String, bool>,
    finding: Option<String>,
    confidence: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExamples {
    #[serde(default)]
    flag: Vec<RawExample>,
    #[serde(default)]
    pass: Vec<RawExample>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawExample {
    Name(String),
    Tool(RawExampleTool),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExampleTool {
    name: String,
    title: Option<String>,
    description: Option<String>,
    /// Repeats `description` this many times, for examples about long descriptions.
    description_repeat: Option<usize>,
    input_schema: Option<serde_json::Value>,
    annotations: Option<BTreeMap<String, bool>>,
    server: Option<String>,
    #[serde(default)]
    siblings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLexicon {
    #[serde(default)]
    dual: Vec<String>,
    #[serde(default)]
    noun_phrases: Vec<String>,
    #[serde(default)]
    conjunctions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTables {
    tags: BTreeMap<String, String>,
    risk: RawRisk,
    hints: BTreeMap<String, BTreeMap<String, bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    base: BTreeMap<String, String>,
    #[serde(default)]
    raise: Vec<RawRaise>,
    #[serde(default)]
    floor: Vec<RawFloor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFloor {
    tag: String,
    risk: String,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRaise {
    tag: String,
    categories: Vec<String>,
    why: String,
}

// ---- loading ----

/// Collects problems with their location while a rule directory is compiled.
struct Ctx {
    problems: Vec<RuleProblem>,
    file: String,
    rule: Option<String>,
}

impl Ctx {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(RuleProblem {
            file: self.file.clone(),
            rule: self.rule.clone(),
            field: field.into(),
            message: message.into(),
        });
    }
}

/// The declared tags, sorted (`tables.tags` is a sorted map): a tag's bit in a mask is its
/// position, so the engine keeps a tool's tags in one `u64`.
struct TagNames(Vec<String>);

impl TagNames {
    fn contains(&self, tag: &str) -> bool {
        self.position(tag).is_some()
    }

    fn position(&self, tag: &str) -> Option<usize> {
        self.0.binary_search_by(|t| t.as_str().cmp(tag)).ok()
    }

    /// The mask of the listed tags; undeclared ones (already reported) and any past the 64th are
    /// left out.
    fn mask(&self, list: &[String]) -> u64 {
        list.iter().filter_map(|t| self.position(t)).filter(|&i| i < 64).fold(0, |m, i| m | (1 << i))
    }
}

/// Patterns gathered per field, compiled into one `RegexSet` each at the end.
#[derive(Default)]
struct PatternBank {
    patterns: HashMap<Field, Vec<String>>,
    /// Set while a rule that runs only when nothing voted (`no_votes = true` after the vote) is
    /// compiled: its patterns are kept out of the per-field sets that every tool walks.
    deferred: bool,
}

impl PatternBank {
    fn add(&mut self, field: Field, pattern: &str) -> usize {
        let list = self.patterns.entry(field).or_default();
        if let Some(i) = list.iter().position(|p| p == pattern) {
            return i;
        }
        list.push(pattern.to_string());
        list.len() - 1
    }

    /// The condition for `pattern` on `field`: an index into the field's set, or, for a deferred
    /// rule, a regex of its own that runs only for the few tools the rule is tried on (sibling and
    /// server patterns always go into the sets: siblings are counted once per server, and server
    /// words are only built when the set exists).
    fn cond(&mut self, field: Field, pattern: &str, min: usize) -> Result<Cond, String> {
        if self.deferred && !matches!(field, Field::Siblings | Field::Server) {
            let re = regex::RegexBuilder::new(&compiled_form(pattern))
                .case_insensitive(true)
                .multi_line(true)
                .build()
                .map_err(|e| e.to_string())?;
            return Ok(Cond::Lazy { field, re: Arc::new(re) });
        }
        Ok(Cond::Re { field, idx: self.add(field, pattern), min })
    }
}

/// Makes `\b` and `\B` ASCII word boundaries. Unicode boundaries force the regex engine off its
/// fast DFA onto the PikeVM whenever a description holds a non-ASCII character, which made
/// classification ten times slower; rule patterns are English keywords, so ASCII suffices.
fn ascii_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(b @ ('b' | 'B')) if in_class == 0 => {
                    out.push_str("(?-u:\\");
                    out.push(b);
                    out.push(')');
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class += 1;
                out.push(c);
            }
            ']' if in_class > 0 => {
                in_class -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The form a rule pattern is compiled in: ASCII word boundaries always, and the whole pattern
/// ASCII-only (`\w`, `\s`, case folding) when that cannot change which valid UTF-8 it matches
/// into invalid matches. Unicode classes and case folding make the DFA many times larger and
/// slower; rule patterns are English keywords. Patterns that need Unicode (`\x{200B}`,
/// `\p{L}`, `[^.]`) keep it.
pub(crate) fn compiled_form(pattern: &str) -> String {
    compiled(pattern).0
}

/// The compiled form (see `compiled_form`) and its parse, or why it does not parse.
fn compiled(pattern: &str) -> (String, Result<Hir, String>) {
    let base = ascii_boundaries(pattern);
    if pattern.is_ascii() && !pattern.contains("\\x{") && !pattern.contains("\\p") && !pattern.contains("\\u") {
        let ascii = format!("(?-u:{base})");
        if let Ok(hir) = parser().parse(&ascii) {
            return (ascii, Ok(hir));
        }
    }
    let hir = parser().parse(&base).map_err(|e| e.to_string());
    (base, hir)
}

/// The parser every rule pattern goes through: case-insensitive, `^`/`$` at line ends.
fn parser() -> regex_syntax::Parser {
    regex_syntax::ParserBuilder::new().utf8(true).case_insensitive(true).multi_line(true).build()
}

/// Loads the rules compiled into the binary.
pub fn load_default() -> Result<RuleSet, RuleProblems> {
    load_sources(default_sources())
}

/// The rule files compiled into the binary, as `(file name, text)` for `load_sources`: add your
/// own to them to load the defaults and more.
pub fn default_sources() -> Vec<(String, String)> {
    DEFAULT_RULE_FILES.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect()
}

/// Loads every `*.toml` file of a directory, replacing the default rules.
pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleProblems> {
    load_sources(dir_sources(dir)?)
}

/// The `*.toml` rule files of a directory as `(file name, text)`, in name order.
pub fn dir_sources(dir: &Path) -> Result<Vec<(String, String)>, RuleProblems> {
    let display = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        RuleProblems(vec![RuleProblem {
            file: display.clone(),
            rule: None,
            field: String::new(),
            message: format!("cannot read the rule directory: {e}"),
        }])
    })?;
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        // The policy table lives beside the rules but is not a classifier rule file.
        .filter(|p| p.file_name().is_none_or(|n| n != "policy.toml"))
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((path.display().to_string(), text)),
            Err(e) => problems.push(RuleProblem {
                file: path.display().to_string(),
                rule: None,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
            }),
        }
    }
    if sources.is_empty() && problems.is_empty() {
        problems.push(RuleProblem {
            file: display,
            rule: None,
            field: String::new(),
            message: "no *.toml rule files found".into(),
        });
    }
    if !problems.is_empty() {
        return Err(RuleProblems(problems));
    }
    Ok(sources)
}

/// Compiles rule files given as `(file name, contents)`.
pub fn load_sources(sources: Vec<(String, String)>) -> Result<RuleSet, RuleProblems> {
    load_sources_except(sources, &BTreeSet::new())
}

/// Compiles rule files as `load_sources` does, as if the rules with these ids were never written
/// (their verbs leave the verb list too): what leave-one-server-out evaluation runs.
pub fn load_sources_except(sources: Vec<(String, String)>, except: &BTreeSet<String>) -> Result<RuleSet, RuleProblems> {
    let mut ctx = Ctx { problems: Vec::new(), file: String::new(), rule: None };
    let mut raw_rules: Vec<(String, RawRule)> = Vec::new();
    let mut lexicon: Option<RawLexicon> = None;
    let mut tables: Option<RawTables> = None;
    let mut version_hash = Fnv::default();

    for (file, text) in &sources {
        ctx.file = file.clone();
        ctx.rule = None;
        // The version depends on the rules, not on how their directory was spelled.
        let stem = Path::new(file).file_name().map_or(file.as_str(), |n| n.to_str().unwrap_or(file));
        version_hash.write(stem.as_bytes());
        version_hash.write(text.as_bytes());
        let value: toml::Table = match toml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                ctx.problem("", format!("invalid TOML: {}", e.to_string().trim_end()));
                continue;
            }
        };
        for (key, value) in value {
            match key.as_str() {
                "rule" => {
                    let Some(list) = value.as_array() else {
                        ctx.problem("rule", "expected an array of tables `[[rule]]`");
                        continue;
                    };
                    for (i, item) in list.iter().enumerate() {
                        let id = item.get("id").and_then(|v| v.as_str()).map(str::to_string);
                        ctx.rule = id.clone().or_else(|| Some(format!("#{}", i + 1)));
                        // Unknown fields are reported one by one and removed, so one typo does
                        // not hide the rule's other problems.
                        let mut item = item.clone();
                        for _ in 0..32 {
                            match item.clone().try_into::<RawRule>() {
                                Ok(r) => {
                                    if !except.contains(&r.id) {
                                        raw_rules.push((file.clone(), r));
                                    }
                                    break;
                                }
                                Err(e) => {
                                    let message = e.to_string().trim_end().replace('\n', " ");
                                    let removed = unknown_field(&message).and_then(|k| remove_key(&mut item, &k, ""));
                                    match removed {
                                        Some(path) => ctx.problem(path, message),
                                        None => {
                                            ctx.problem("", message);
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    ctx.rule = None;
                }
                "lexicon" => match value.try_into::<RawLexicon>() {
                    Ok(l) if lexicon.is_none() => lexicon = Some(l),
                    Ok(_) => ctx.problem("lexicon", "the lexicon is defined twice"),
                    Err(e) => ctx.problem("lexicon", e.to_string().trim_end().to_string()),
                },
                "tables" => match value.try_into::<RawTables>() {
                    Ok(t) if tables.is_none() => tables = Some(t),
                    Ok(_) => ctx.problem("tables", "the tables are defined twice"),
                    Err(e) => ctx.problem("tables", e.to_string().trim_end().to_string()),
                },
                other => ctx.problem(other, "unknown top-level key, expected `[[rule]]`, `[lexicon]` or `[tables]`"),
            }
        }
    }

    ctx.file = "rules".into();
    ctx.rule = None;
    let tables = match tables {
        Some(t) => compile_tables(t, &mut ctx),
        None => {
            ctx.problem("tables", "no `[tables]` section (the risk table and tag list) found");
            None
        }
    };
    let raw_lex =
        lexicon.unwrap_or(RawLexicon { dual: Vec::new(), noun_phrases: Vec::new(), conjunctions: Vec::new() });

    let mut bank = PatternBank::default();
    let mut rules = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut verbs = VerbBank::default();
    let known_tags = TagNames(tables.as_ref().map(|t| t.tags.keys().cloned().collect()).unwrap_or_default());
    if known_tags.0.len() > 64 {
        ctx.file = "tables.toml".into();
        ctx.problem("tables.tags", format!("{} tags declared; at most 64 are supported", known_tags.0.len()));
    }

    for (file, raw) in raw_rules {
        ctx.file = file.clone();
        ctx.rule = Some(raw.id.clone());
        if !is_kebab(&raw.id) {
            ctx.problem("id", "rule ids are kebab-case: lowercase words joined by `-`");
        }
        if let Some(first) = seen.insert(raw.id.clone(), file.clone()) {
            ctx.problem("id", format!("duplicate rule id, first defined in {first}"));
        }
        if raw.message.trim().is_empty() {
            ctx.problem("message", "a rule needs a one-line message");
        }
        let stage = match raw.stage {
            RawStage::Signal => Stage::Signal,
            RawStage::Verdict => Stage::Verdict,
            RawStage::Finding => Stage::Finding,
        };
        bank.deferred = stage != Stage::Signal && raw.matcher.no_votes == Some(true);
        let cond = compile_match(&raw.matcher, "match", stage, &mut bank, &mut verbs, &known_tags, &mut ctx);
        bank.deferred = false;
        let effect = compile_effect(&raw.effect, stage, &known_tags, &mut ctx);
        let examples = compile_examples(raw.examples, &mut ctx);
        if let (Some(cond), Some(effect)) = (cond, effect) {
            let effect_text = super::engine::describe_effect(stage, &effect).into();
            rules.push(Rule {
                id: raw.id.into(),
                message: raw.message.into(),
                effect_text,
                why: raw.why,
                file: file.clone(),
                stage,
                trigger: Trigger::of(&cond),
                cond,
                effect,
                examples,
            });
        }
    }

    ctx.file = "rules".into();
    ctx.rule = None;
    let sets = compile_sets(bank, &mut ctx);
    if !ctx.problems.is_empty() {
        return Err(RuleProblems(ctx.problems));
    }
    let (Some(tables), Some(sets)) = (tables, sets) else {
        unreachable!("missing tables or sets are reported as problems");
    };
    let lexicon = Lexicon {
        verbs: verbs.words.into_iter().collect(),
        dual: raw_lex.dual.into_iter().collect(),
        noun_phrases: raw_lex
            .noun_phrases
            .iter()
            .map(|p| p.split_whitespace().map(str::to_lowercase).collect())
            .collect(),
        conjunctions: raw_lex.conjunctions.into_iter().collect(),
    };
    Ok(RuleSet {
        rules,
        sets,
        lexicon,
        tag_names: known_tags.0.iter().map(|t| Arc::from(t.as_str())).collect(),
        tables,
        version: {
            // Rules left out make another rule set.
            for id in except {
                version_hash.write(id.as_bytes());
            }
            format!("{}+{:08x}", env!("CARGO_PKG_VERSION"), version_hash.finish() as u32)
        },
    })
}

/// One line for a regex error: what is wrong and where, without the multi-line caret picture.
fn regex_problem(e: &regex_syntax::Error) -> String {
    let (kind, offset) = match e {
        regex_syntax::Error::Parse(p) => (p.kind().to_string(), p.span().start.offset),
        regex_syntax::Error::Translate(t) => (t.kind().to_string(), t.span().start.offset),
        other => (other.to_string().replace('\n', " "), 0),
    };
    format!("invalid regex: {kind} (at byte {offset})")
}

/// The field name in serde's "unknown field `x`" message, so the problem points at it.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// Removes the first key named `key` in a TOML tree; returns its dotted path.
fn remove_key(value: &mut toml::Value, key: &str, prefix: &str) -> Option<String> {
    match value {
        toml::Value::Table(t) => {
            if t.remove(key).is_some() {
                return Some(if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") });
            }
            for (k, v) in t.iter_mut() {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if let Some(found) = remove_key(v, key, &path) {
                    return Some(found);
                }
            }
            None
        }
        toml::Value::Array(list) => {
            list.iter_mut().enumerate().find_map(|(i, v)| remove_key(v, key, &format!("{prefix}[{i}]")))
        }
        _ => None,
    }
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

fn parse_category(s: &str, field: &str, ctx: &mut Ctx) -> Option<Category> {
    match s.parse() {
        Ok(c) => Some(c),
        Err(e) => {
            ctx.problem(field, e);
            None
        }
    }
}

/// Every verb condition's words, and which conditions list each word (`Cond::Verb`'s bit).
#[derive(Default)]
struct VerbBank {
    words: HashMap<String, u64>,
    conds: u32,
}

impl VerbBank {
    fn add(&mut self, list: &[String]) -> Cond {
        let bit = if self.conds < 64 { 1 << self.conds } else { 0 };
        self.conds += 1;
        for v in list {
            *self.words.entry(v.clone()).or_default() |= bit;
        }
        Cond::Verb { words: list.iter().cloned().collect(), bit }
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_match(
    m: &RawMatch,
    path: &str,
    stage: Stage,
    bank: &mut PatternBank,
    verbs: &mut VerbBank,
    tags: &TagNames,
    ctx: &mut Ctx,
) -> Option<Cond> {
    let mut conds = Vec::new();
    let mut ok = true;
    let mut regex = |field: Field, key: &str, pattern: &Option<String>, min: usize, ctx: &mut Ctx| {
        let Some(p) = pattern else { return None };
        let parsed = parser().parse(&ascii_boundaries(p));
        match parsed {
            // A pattern that can match nothing would fire on every tool.
            Ok(hir) if hir.properties().minimum_len() == Some(0) => {
                ctx.problem(
                    format!("{path}.{key}"),
                    "the pattern can match empty text, so it would fire on every tool; require at least one character",
                );
                None
            }
            Ok(_) => match bank.cond(field, p, min) {
                Ok(c) => Some(c),
                Err(e) => {
                    ctx.problem(format!("{path}.{key}"), e);
                    None
                }
            },
            Err(e) => {
                ctx.problem(format!("{path}.{key}"), regex_problem(&e));
                None
            }
        }
    };
    for (field, key, pattern) in [
        (Field::Name, "name", &m.name),
        (Field::RawName, "raw_name", &m.raw_name),
        (Field::Title, "title", &m.title),
        (Field::Description, "description", &m.description),
        (Field::Params, "params", &m.params),
        (Field::Enums, "enums", &m.enums),
        (Field::Server, "server", &m.server),
    ] {
        if pattern.is_some() {
            match regex(field, key, pattern, 1, ctx) {
                Some(c) => conds.push(c),
                None => ok = false,
            }
        }
    }
    if m.siblings.is_some() {
        match regex(Field::Siblings, "siblings", &m.siblings, m.siblings_min.unwrap_or(1).max(1), ctx) {
            Some(c) => conds.push(c),
            None => ok = false,
        }
    } else if m.siblings_min.is_some() {
        ctx.problem(format!("{path}.siblings_min"), "`siblings_min` needs `siblings`");
        ok = false;
    }
    if let Some(list) = &m.verb {
        if list.is_empty() {
            ctx.problem(format!("{path}.verb"), "an empty verb list never matches");
            ok = false;
        }
        for v in list {
            if v.is_empty() || v.chars().any(|c| !c.is_alphanumeric() || c.is_uppercase()) {
                ctx.problem(format!("{path}.verb"), format!("`{v}` is not one lowercase word"));
                ok = false;
            }
        }
        conds.push(verbs.add(list));
    }
    if let Some(ann) = &m.annotation {
        for (k, v) in ann {
            match Hint::from_mcp_name(k) {
                Some(h) => conds.push(Cond::Annotation(h, *v)),
                None => {
                    ctx.problem(
                        format!("{path}.annotation.{k}"),
                        "unknown hint, expected readOnlyHint, destructiveHint, idempotentHint or openWorldHint",
                    );
                    ok = false;
                }
            }
        }
    }
    if let Some(b) = m.has_description {
        conds.push(Cond::HasDescription(b));
    }
    if let Some(b) = m.has_annotations {
        conds.push(Cond::HasAnnotations(b));
    }
    if let Some(n) = m.description_longer_than {
        conds.push(Cond::DescriptionLongerThan(n));
    }
    if let Some(b) = m.no_votes {
        if stage == Stage::Signal {
            ctx.problem(
                format!("{path}.no_votes"),
                "`no_votes` can only be matched after the vote (verdict or finding stage)",
            );
            ok = false;
        }
        conds.push(Cond::NoVotes(b));
    }
    if let Some(b) = m.no_verb {
        conds.push(Cond::NoVerb(b));
    }
    if let Some(b) = m.readonly_twin {
        conds.push(Cond::ReadonlyTwin(b));
    }
    if let Some(list) = &m.category {
        if stage == Stage::Signal {
            ctx.problem(format!("{path}.category"), "`category` can only be matched in `stage = \"verdict\"` rules");
            ok = false;
        }
        let mut cats = Vec::new();
        for c in list {
            match parse_category(c, &format!("{path}.category"), ctx) {
                Some(c) => cats.push(c),
                None => ok = false,
            }
        }
        conds.push(Cond::Category(cats));
    }
    if let Some(list) = &m.tag {
        if stage == Stage::Signal {
            ctx.problem(format!("{path}.tag"), "`tag` can only be matched in `stage = \"verdict\"` rules");
            ok = false;
        }
        for t in list {
            if !tags.contains(t) {
                ctx.problem(format!("{path}.tag"), format!("undeclared tag `{t}` (declare it in tables.tags)"));
                ok = false;
            }
        }
        conds.push(Cond::Tag(list.clone(), tags.mask(list)));
    }
    for (key, list) in [("all", &m.all), ("any", &m.any)] {
        if let Some(list) = list {
            if list.is_empty() {
                ctx.problem(format!("{path}.{key}"), "an empty list");
                ok = false;
            }
            let mut subs = Vec::new();
            for (i, sub) in list.iter().enumerate() {
                match compile_match(sub, &format!("{path}.{key}[{i}]"), stage, bank, verbs, tags, ctx) {
                    Some(c) => subs.push(c),
                    None => ok = false,
                }
            }
            conds.push(if key == "all" { Cond::All(subs) } else { Cond::Any(subs) });
        }
    }
    if let Some(sub) = &m.not {
        match compile_match(sub, &format!("{path}.not"), stage, bank, verbs, tags, ctx) {
            Some(c) => conds.push(Cond::Not(Box::new(c))),
            None => ok = false,
        }
    }
    if conds.is_empty() && ok {
        ctx.problem(path, "matches nothing: give at least one condition");
        return None;
    }
    if !ok {
        return None;
    }
    // Cheap conditions first: `all` stops at the first that fails, so a deferred rule's own
    // regexes run only for the tools that pass the rest (say, `no_votes`).
    conds.sort_by_key(|c| matches!(c, Cond::Lazy { .. }));
    Some(if conds.len() == 1 { conds.pop().expect("one condition") } else { Cond::All(conds) })
}

fn compile_effect(e: &RawEffect, stage: Stage, tags: &TagNames, ctx: &mut Ctx) -> Option<Effect> {
    let mut ok = true;
    let category = e.category.as_deref().and_then(|c| {
        let parsed = parse_category(c, "effect.category", ctx);
        ok &= parsed.is_some();
        parsed
    });
    if category.is_some() && stage == Stage::Finding {
        ctx.problem("effect.category", "finding-stage rules cannot change the category");
        ok = false;
    }
    let weight = match (category, e.weight, stage) {
        (Some(_), None, Stage::Signal) => {
            ctx.problem("effect.weight", "a category vote needs a weight between 0 and 1");
            ok = false;
            0.0
        }
        (_, Some(w), _) if !(0.0..=1.0).contains(&w) => {
            ctx.problem("effect.weight", "the weight must be between 0 and 1");
            ok = false;
            0.0
        }
        (_, w, _) => w.unwrap_or(1.0),
    };
    for t in &e.tags {
        if !tags.contains(t) {
            ctx.problem("effect.tags", format!("undeclared tag `{t}` (declare it in tables.tags)"));
            ok = false;
        }
    }
    let mut hints = Vec::new();
    for (k, v) in &e.hints {
        match k.parse::<Hint>() {
            Ok(Hint::ReadOnly) => {
                ctx.problem("effect.hints.read_only", "read_only follows the category; vote for `read` instead");
                ok = false;
            }
            Ok(h) => hints.push((h, *v)),
            Err(err) => {
                ctx.problem(format!("effect.hints.{k}"), err);
                ok = false;
            }
        }
    }
    let finding = match e.finding.as_deref().map(str::parse::<Severity>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(err)) => {
            ctx.problem("effect.finding", err);
            ok = false;
            None
        }
    };
    if let Some(c) = e.confidence {
        if !(-1.0..=1.0).contains(&c) {
            ctx.problem("effect.confidence", "a confidence change must be between -1 and 1");
            ok = false;
        }
    }
    if category.is_none() && e.tags.is_empty() && hints.is_empty() && finding.is_none() && e.confidence.is_none() {
        ctx.problem("effect", "does nothing: give a category, tags, hints, a finding or a confidence change");
        ok = false;
    }
    ok.then_some(Effect {
        category,
        weight,
        tags: e.tags.iter().map(|t| Arc::from(t.as_str())).collect(),
        tag_mask: tags.mask(&e.tags),
        hints,
        finding,
        confidence: e.confidence,
    })
}

fn compile_examples(raw: RawExamples, ctx: &mut Ctx) -> (Vec<Example>, Vec<Example>) {
    if raw.flag.is_empty() {
        ctx.problem("examples.flag", "every rule needs at least one example it must fire on");
    }
    if raw.pass.is_empty() {
        ctx.problem("examples.pass", "every rule needs at least one example it must not fire on");
    }
    let conv = |list: Vec<RawExample>, ctx: &mut Ctx, key: &str| -> Vec<Example> {
        list.into_iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                RawExample::Name(name) => Some(ToolInput { name, ..ToolInput::default() }),
                RawExample::Tool(t) => {
                    let mut ann = Annotations::default();
                    for (k, v) in t.annotations.unwrap_or_default() {
                        match Hint::from_mcp_name(&k) {
                            Some(Hint::ReadOnly) => ann.read_only = Some(v),
                            Some(Hint::Destructive) => ann.destructive = Some(v),
                            Some(Hint::Idempotent) => ann.idempotent = Some(v),
                            Some(Hint::OpenWorld) => ann.open_world = Some(v),
                            None => {
                                ctx.problem(format!("examples.{key}[{i}].annotations.{k}"), "unknown hint");
                                return None;
                            }
                        }
                    }
                    Some(ToolInput {
                        server: t.server,
                        name: t.name,
                        title: t.title,
                        description: match t.description_repeat {
                            Some(n) => t.description.map(|d| d.repeat(n.min(1 << 20))),
                            None => t.description,
                        },
                        input_schema: t.input_schema.as_ref().and_then(crate::input::schema_of),
                        annotations: (!ann.is_empty()).then_some(ann),
                        siblings: t.siblings,
                    })
                }
            })
            .map(|tool| Example { tool })
            .collect()
    };
    let flag = conv(raw.flag, ctx, "flag");
    let pass = conv(raw.pass, ctx, "pass");
    (flag, pass)
}

fn compile_tables(raw: RawTables, ctx: &mut Ctx) -> Option<Tables> {
    let mut ok = true;
    let mut base = BTreeMap::new();
    for (k, v) in &raw.risk.base {
        let c = parse_category(k, "tables.risk.base", ctx);
        let r = v.parse::<Risk>().map_err(|e| ctx.problem(format!("tables.risk.base.{k}"), e)).ok();
        match (c, r) {
            (Some(c), Some(r)) => {
                base.insert(c, r);
            }
            _ => ok = false,
        }
    }
    for c in Category::ALL {
        if !base.contains_key(c) {
            ctx.problem("tables.risk.base", format!("no base risk for category `{c}`"));
            ok = false;
        }
    }
    let mut raises = Vec::new();
    for (i, r) in raw.risk.raise.iter().enumerate() {
        if !raw.tags.contains_key(&r.tag) {
            ctx.problem(format!("tables.risk.raise[{i}].tag"), format!("undeclared tag `{}`", r.tag));
            ok = false;
        }
        let cats: Vec<Category> = r
            .categories
            .iter()
            .filter_map(|c| parse_category(c, &format!("tables.risk.raise[{i}].categories"), ctx))
            .collect();
        ok &= cats.len() == r.categories.len();
        raises.push((Arc::from(r.tag.as_str()), cats, r.why.clone()));
    }
    let mut floors = Vec::new();
    for (i, f) in raw.risk.floor.iter().enumerate() {
        if !raw.tags.contains_key(&f.tag) {
            ctx.problem(format!("tables.risk.floor[{i}].tag"), format!("undeclared tag `{}`", f.tag));
            ok = false;
        }
        match f.risk.parse::<Risk>() {
            Ok(r) => floors.push((Arc::from(f.tag.as_str()), r, f.why.clone())),
            Err(e) => {
                ctx.problem(format!("tables.risk.floor[{i}].risk"), e);
                ok = false;
            }
        }
    }
    let mut hints = BTreeMap::new();
    for (k, map) in &raw.hints {
        let Some(c) = parse_category(k, "tables.hints", ctx) else {
            ok = false;
            continue;
        };
        let mut h = crate::model::Hints {
            read_only: c == Category::Read,
            destructive: false,
            idempotent: false,
            open_world: false,
        };
        for (name, v) in map {
            match name.parse::<Hint>() {
                Ok(Hint::ReadOnly) if *v != (c == Category::Read) => {
                    ctx.problem(
                        format!("tables.hints.{k}.read_only"),
                        "read_only must be true for read and only for read",
                    );
                    ok = false;
                }
                Ok(hint) => h.set(hint, *v),
                Err(e) => {
                    ctx.problem(format!("tables.hints.{k}.{name}"), e);
                    ok = false;
                }
            }
        }
        hints.insert(c, h);
    }
    for c in Category::ALL {
        if !hints.contains_key(c) {
            ctx.problem("tables.hints", format!("no default hints for category `{c}`"));
            ok = false;
        }
    }
    ok.then_some(Tables { tags: raw.tags, base, raises, floors, hints })
}

/// Compiles each field's patterns together (`matcher::FieldPatterns`). Fields compile on their
/// own threads: this is most of loading the rules, and loading sits on the sequential start of
/// every command.
fn compile_sets(bank: PatternBank, ctx: &mut Ctx) -> Option<TextSets> {
    let built: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = bank
            .patterns
            .into_iter()
            .map(|(field, patterns)| {
                scope.spawn(move || {
                    let hirs: Result<Vec<Hir>, String> = patterns.iter().map(|p| compiled(p).1).collect();
                    (field, hirs.and_then(|h| FieldPatterns::build(&h)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut by_field: [Option<FieldPatterns>; Field::COUNT] = Default::default();
    for joined in built {
        let Ok((field, compiled)) = joined else {
            ctx.problem("patterns", "compiling the patterns panicked (a bug: please report it)");
            return None;
        };
        match compiled {
            Ok(p) => by_field[field.index()] = Some(p),
            Err(e) => {
                ctx.problem(format!("{field} patterns"), format!("cannot compile the patterns together: {e}"));
                return None;
            }
        }
    }
    Some(TextSets::new(by_field))
}

/// FNV-1a, for a short, stable fingerprint of the rule sources (the rules version).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_boundaries;

    #[test]
    fn word_boundaries_become_ascii_outside_classes() {
        assert_eq!(ascii_boundaries(r"\b(a|b)\B"), r"(?-u:\b)(a|b)(?-u:\B)");
        assert_eq!(ascii_boundaries(r"[\b]\\b"), r"[\b]\\b");
        assert_eq!(ascii_boundaries(r"\d+"), r"\d+");
    }
}
