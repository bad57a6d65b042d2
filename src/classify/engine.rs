//! Running a `RuleSet` over one tool. Pure: no I/O, no clock, cannot fail.

use std::sync::Arc;

use super::features::{push_words, Features, SiblingContext};
use super::matcher::{Hits, Scratch};
use super::rules::{Cond, Rule, RuleSet, Stage, Trigger};
use crate::model::{
    Category, ConfidenceStep, Evidence, Field, Finding, Hint, Reason, Risk, StepWhy, ToolInput, Verdict,
};

/// Confidence when no rule voted: the tool is treated as a write, and says so.
const NO_EVIDENCE_CONFIDENCE: f64 = 0.40;
const CORROBORATION_BONUS: f64 = 0.05;
const EMPTY_DESCRIPTION_PENALTY: f64 = 0.05;
const UNKNOWN_VERB_PENALTY: f64 = 0.10;
/// Opposing votes at least this strong cost `STRONG_CONFLICT_PENALTY`, weaker ones
/// `WEAK_CONFLICT_PENALTY`.
const STRONG_CONFLICT: f64 = 0.6;
const STRONG_CONFLICT_PENALTY: f64 = 0.15;
const WEAK_CONFLICT_PENALTY: f64 = 0.05;
const MIN_CONFIDENCE: f64 = 0.05;
const MAX_CONFIDENCE: f64 = 0.99;
/// Sibling lists at least this long per core are matched on several cores.
const PARALLEL_SIBLINGS: usize = 2048;
/// Evidence text is cut to this many characters.
const EVIDENCE_CHARS: usize = 80;

/// The texts of one tool and which patterns matched them.
struct Matched<'a> {
    f: Features<'a>,
    ctx: &'a SiblingContext,
    tool: &'a ToolInput,
    /// Which patterns matched each field, and where (indexed like `Field::ALL`; siblings are
    /// counted in `ctx` instead); evidence spans are found in it when a rule needs one.
    scratch: &'a mut Scratch,
    /// Sibling patterns the tool's own name matches, when the context includes the tool.
    own: &'a [usize],
}

impl Matched<'_> {
    fn hits(&self, field: Field) -> Option<&Hits> {
        self.scratch.fields[field.index()].as_ref().map(|(_, hits)| hits)
    }

    /// False when the rule's trigger is missing, so its condition cannot hold.
    #[inline]
    fn may_fire(&self, rule: &Rule) -> bool {
        match rule.trigger {
            None => true,
            Some(Trigger::Pattern(field, idx)) => self.hits(field).is_some_and(|h| h.matched(idx)),
            Some(Trigger::Verb(bit)) => self.f.verb_mask & bit != 0,
        }
    }
}

/// What is known while verdict-stage rules run.
struct State {
    category: Category,
    /// A mask over `RuleSet::tag_names`.
    tags: u64,
    voted: bool,
}

impl RuleSet {
    /// Classifies one tool; its siblings come from `tool.siblings`.
    pub fn classify(&self, tool: &ToolInput) -> Verdict {
        let ctx = self.sibling_context(&tool.siblings);
        self.classify_in(tool, &ctx)
    }

    /// Builds the sibling context for a server once, to classify many of its tools. Long lists
    /// (a whole tools/list file) are matched on every core, then merged in order.
    pub fn sibling_context<S: AsRef<str> + Sync>(&self, siblings: &[S]) -> SiblingContext {
        let n = self.sets.get(Field::Siblings).map_or(0, |p| p.len());
        let mut ctx = SiblingContext { counts: vec![0; n], examples: vec![Vec::new(); n], ..SiblingContext::default() };
        let threads =
            std::thread::available_parallelism().map_or(1, |t| t.get()).min(siblings.len() / PARALLEL_SIBLINGS);
        let matched: Vec<(String, Vec<usize>)> = if threads > 1 {
            std::thread::scope(|scope| {
                let part = siblings.len().div_ceil(threads);
                let handles: Vec<_> =
                    siblings.chunks(part).map(|chunk| scope.spawn(|| self.match_siblings(chunk))).collect();
                handles.into_iter().flat_map(|h| h.join().expect("matching sibling names does not panic")).collect()
            })
        } else {
            self.match_siblings(siblings)
        };
        for (words, fired) in matched {
            if ctx.names.contains(&words) {
                continue;
            }
            for idx in fired {
                ctx.counts[idx] += 1;
                if ctx.examples[idx].len() < 4 {
                    ctx.examples[idx].push(words.clone());
                }
            }
            ctx.add(words);
        }
        ctx
    }

    /// Each sibling's name words and the sibling patterns they match.
    fn match_siblings<S: AsRef<str>>(&self, siblings: &[S]) -> Vec<(String, Vec<usize>)> {
        let patterns = self.sets.get(Field::Siblings);
        let mut scratch = self.sets.scratch();
        siblings
            .iter()
            .map(|s| {
                let mut words = String::new();
                push_words(&mut words, s.as_ref(), ' ');
                let mut fired = Vec::new();
                if let (Some(patterns), Some((cache, hits))) = (patterns, &mut scratch.fields[Field::Siblings.index()])
                {
                    patterns.scan(cache, &words, hits);
                    fired.extend_from_slice(hits.fired());
                }
                (words, fired)
            })
            .collect()
    }

    /// Classifies one tool with a sibling context built once for its server.
    pub fn classify_in(&self, tool: &ToolInput, ctx: &SiblingContext) -> Verdict {
        let f = Features::new(tool, &self.lexicon, self.sets.get(Field::Server).is_some());
        let mut guard = self.sets.scratch();
        let scratch: &mut Scratch = &mut guard;
        let mut own = Vec::new();
        for field in Field::ALL {
            let (Some(patterns), Some((cache, hits))) = (self.sets.get(field), scratch.fields[field.index()].as_mut())
            else {
                continue;
            };
            if field == Field::Siblings {
                // Sibling matches are counted once per server in the context; the context may
                // list this tool itself, and its own name does not count as a sibling.
                if ctx.names.contains(&f.name) {
                    patterns.scan(cache, &f.name, hits);
                    own.extend_from_slice(hits.fired());
                }
                continue;
            }
            // Empty texts match nothing (no pattern matches empty text): clear the last tool's hits.
            patterns.scan(cache, text_of(&f, ctx, field), hits);
        }
        let mut m = Matched { f, ctx, tool, scratch, own: &own };
        self.decide(&mut m)
    }

    fn decide(&self, m: &mut Matched<'_>) -> Verdict {
        // Stage 1: signal rules vote.
        let mut fired: Vec<&Rule> = Vec::with_capacity(32);
        let empty = State { category: Category::Write, tags: 0, voted: false };
        for rule in self.rules.iter().filter(|r| r.stage == Stage::Signal) {
            if m.may_fire(rule) && self.eval(&rule.cond, m, &empty) {
                fired.push(rule);
            }
        }
        // The strongest vote per category, indexed like `Category::ALL`.
        let mut strongest: [Option<(f64, &Rule)>; 5] = [None; 5];
        for rule in &fired {
            if let Some(c) = rule.effect.category {
                let slot = &mut strongest[c as usize];
                if slot.is_none_or(|(w, _)| rule.effect.weight > w) {
                    *slot = Some((rule.effect.weight, rule));
                }
            }
        }
        let best: Vec<(Category, (f64, &Rule))> =
            Category::ALL.iter().zip(strongest).filter_map(|(c, s)| s.map(|s| (*c, s))).collect();
        // Highest weight wins; on a tie the more severe category wins.
        let winner =
            best.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.0.cmp(&b.0))).map(|(c, (w, r))| (*c, *w, *r));

        let mut steps = Vec::with_capacity(8);
        let mut conf;
        let mut state = State { category: Category::Write, tags: 0, voted: false };
        match winner {
            Some((c, w, r)) => {
                state.category = c;
                conf = w;
                steps.push(ConfidenceStep {
                    from: 0.0,
                    to: w,
                    why: StepWhy::Strongest { category: c, rule: r.id.clone() },
                });
                let fields: u16 = fired
                    .iter()
                    .filter(|x| x.effect.category == Some(c))
                    .filter_map(|x| primary_field(&x.cond))
                    .fold(0, |bits, f| bits | (1 << f.index()));
                if fields.count_ones() >= 2 {
                    push_step(&mut steps, &mut conf, CORROBORATION_BONUS, StepWhy::Agree(fields));
                }
                let opposing = best.iter().filter(|(oc, _)| *oc != c).max_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
                if let Some((oc, (ow, or))) = opposing {
                    let penalty = if *ow >= STRONG_CONFLICT { STRONG_CONFLICT_PENALTY } else { WEAK_CONFLICT_PENALTY };
                    let why = StepWhy::Conflict { category: *oc, rule: or.id.clone(), weight: *ow };
                    push_step(&mut steps, &mut conf, -penalty, why);
                }
            }
            None => {
                conf = NO_EVIDENCE_CONFIDENCE;
                steps.push(ConfidenceStep { from: 0.0, to: conf, why: StepWhy::NoEvidence });
            }
        }
        if m.f.description.trim().is_empty() {
            push_step(&mut steps, &mut conf, -EMPTY_DESCRIPTION_PENALTY, StepWhy::EmptyDescription);
        }
        if m.f.verbs.is_empty() {
            push_step(&mut steps, &mut conf, -UNKNOWN_VERB_PENALTY, StepWhy::NoVerb);
        }
        // A rule's tags count only when its reading won: the tags of a losing vote (say,
        // `code-execution` from "runs a query" on a read-only SQL tool) would mislabel the tool.
        for rule in &fired {
            if rule.effect.category.is_none_or(|c| c == state.category) {
                state.tags |= rule.effect.tag_mask;
            }
        }

        // Stage 2: verdict rules, in order, see the category and the tags.
        state.voted = winner.is_some();
        let mut verdict_fired: Vec<&Rule> = Vec::with_capacity(8);
        let later = self.rules.iter().filter(|r| r.stage == Stage::Verdict);
        let last = self.rules.iter().filter(|r| r.stage == Stage::Finding);
        for rule in later.chain(last) {
            if m.may_fire(rule) && self.eval(&rule.cond, m, &state) {
                if let Some(c) = rule.effect.category {
                    if c != state.category {
                        let why = StepWhy::Override { from: state.category, to: c, rule: rule.id.clone() };
                        push_step(&mut steps, &mut conf, 0.0, why);
                        state.category = c;
                    }
                }
                state.tags |= rule.effect.tag_mask;
                verdict_fired.push(rule);
            }
        }
        let category = state.category;
        let all_fired = || fired.iter().chain(verdict_fired.iter()).copied();
        for rule in all_fired() {
            if let Some(delta) = rule.effect.confidence {
                push_step(&mut steps, &mut conf, delta, StepWhy::Rule(rule.message.clone()));
            }
        }
        let clamped = conf.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE);
        if (clamped - conf).abs() > f64::EPSILON {
            steps.push(ConfidenceStep { from: conf, to: clamped, why: StepWhy::Bounds });
        }
        let confidence = (clamped * 100.0).round() / 100.0;

        // Hints: the category's defaults, then rule hints (the strongest rule per hint wins; a
        // rule that voted for another category does not set hints).
        let mut hints = self.tables.hints[&category];
        // The deciding rule per hint, indexed like `Hint::ALL`.
        let mut hint_weight: [Option<(f64, bool)>; 4] = [None; 4];
        for rule in all_fired() {
            let applies = rule.stage != Stage::Signal || rule.effect.category.is_none_or(|c| c == category);
            if !applies {
                continue;
            }
            for (h, v) in &rule.effect.hints {
                let w = rule.effect.weight;
                let e = hint_weight[*h as usize].get_or_insert((w, *v));
                // Later verdict rules override; among signal rules, the strongest wins, and a tie
                // goes to `true` (the cautious side).
                if rule.stage != Stage::Signal || w > e.0 || (w == e.0 && *v) {
                    *e = (w, *v);
                }
            }
        }
        for (h, decided) in Hint::ALL.iter().zip(hint_weight) {
            if let Some((_, v)) = decided {
                hints.set(*h, v);
            }
        }
        hints.read_only = category == Category::Read;
        if hints.read_only {
            hints.destructive = false;
        }

        // In name order, as the mask's bits are.
        let tags: Vec<Arc<str>> = (0..self.tag_names.len().min(64))
            .filter(|i| state.tags & (1 << i) != 0)
            .map(|i| self.tag_names[i].clone())
            .collect();
        let (risk, risk_steps) = self.tables.risk(category, &tags);

        let mut reasons = Vec::with_capacity(fired.len() + verdict_fired.len());
        let mut findings = Vec::new();
        for rule in all_fired() {
            let mut evidence = Vec::with_capacity(2);
            self.evidence(&rule.cond, m, &mut evidence);
            if let Some(sev) = rule.effect.finding {
                findings.push(Finding {
                    rule_id: rule.id.clone(),
                    severity: sev,
                    message: rule.message.clone(),
                    evidence: evidence.clone(),
                });
            }
            reasons.push(Reason {
                rule_id: rule.id.clone(),
                message: rule.message.clone(),
                evidence,
                effect: rule.effect_text.clone(),
            });
        }
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
        let summary = summarize(&m.tool.name, category, risk, confidence, &tags, &findings);
        Verdict {
            category,
            risk,
            confidence,
            hints,
            tags,
            reasons,
            findings,
            confidence_steps: steps,
            risk_steps,
            summary,
        }
    }

    fn eval(&self, cond: &Cond, m: &Matched<'_>, state: &State) -> bool {
        match cond {
            Cond::Verb { words, bit } => {
                if *bit != 0 {
                    m.f.verb_mask & bit != 0
                } else {
                    m.f.verbs.iter().any(|v| words.contains(v))
                }
            }
            Cond::Re { field: Field::Siblings, idx, min } => {
                let total = m.ctx.counts.get(*idx).copied().unwrap_or(0) as usize;
                let own = usize::from(m.own.contains(idx));
                total.saturating_sub(own) >= *min
            }
            Cond::Re { field, idx, .. } => m.hits(*field).is_some_and(|h| h.matched(*idx)),
            Cond::Lazy { field, re } => re.is_match(text_of(&m.f, m.ctx, *field)),
            Cond::Annotation(h, v) => m.tool.annotations.as_ref().and_then(|a| a.get(*h)) == Some(*v),
            Cond::HasDescription(b) => m.f.description.trim().is_empty() != *b,
            Cond::HasAnnotations(b) => m.tool.annotations.as_ref().is_some_and(|a| !a.is_empty()) == *b,
            // Bytes are never fewer than characters: most descriptions are decided without counting.
            Cond::DescriptionLongerThan(n) => m.f.description.len() > *n && m.f.description.chars().count() > *n,
            Cond::NoVotes(b) => state.voted != *b,
            Cond::NoVerb(b) => m.f.verbs.is_empty() == *b,
            Cond::ReadonlyTwin(b) => m.ctx.has_readonly_twin(&m.f.name) == *b,
            Cond::Category(list) => list.contains(&state.category),
            Cond::Tag(_, mask) => state.tags & mask != 0,
            Cond::All(list) => list.iter().all(|c| self.eval(c, m, state)),
            Cond::Any(list) => list.iter().any(|c| self.eval(c, m, state)),
            Cond::Not(c) => !self.eval(c, m, state),
        }
    }

    /// Collects what the positive parts of a fired condition matched.
    fn evidence(&self, cond: &Cond, m: &mut Matched<'_>, out: &mut Vec<Evidence>) {
        match cond {
            Cond::Verb { words, .. } => {
                if let Some(v) = m.f.verbs.iter().find(|v| words.contains(*v)) {
                    out.push(Evidence { field: Field::Name, text: v.clone() });
                }
            }
            Cond::Re { field: Field::Siblings, idx, .. } => {
                let hits: Vec<&str> =
                    m.ctx.examples[*idx].iter().map(String::as_str).filter(|l| *l != m.f.name).take(3).collect();
                if !hits.is_empty() {
                    out.push(Evidence { field: Field::Siblings, text: clip(&hits.join(", ")) });
                }
            }
            Cond::Re { field, idx, .. } => {
                let text = text_of(&m.f, m.ctx, *field);
                let span = match (self.sets.get(*field), m.scratch.fields[field.index()].as_mut()) {
                    (Some(patterns), Some((cache, hits))) => patterns.span(cache, text, hits, *idx),
                    _ => None,
                };
                if let Some((start, end)) = span {
                    out.push(Evidence { field: *field, text: clip(&text[start..end]) });
                }
            }
            Cond::Lazy { field, re } => {
                if let Some(hit) = re.find(text_of(&m.f, m.ctx, *field)) {
                    out.push(Evidence { field: *field, text: clip(hit.as_str()) });
                }
            }
            Cond::Annotation(h, v) => {
                out.push(Evidence {
                    field: Field::Annotations,
                    text: [h.mcp_name(), if *v { ": true" } else { ": false" }].concat(),
                });
            }
            Cond::HasDescription(false) => {
                out.push(Evidence { field: Field::Description, text: String::new() });
            }
            Cond::ReadonlyTwin(true) => {
                out.push(Evidence { field: Field::Siblings, text: format!("{} read only", m.f.name) });
            }
            Cond::All(list) => list.iter().for_each(|c| self.evidence(c, m, out)),
            Cond::Any(list) => {
                let state = State { category: Category::Write, tags: 0, voted: false };
                for c in list {
                    if matches!(c, Cond::Category(_) | Cond::Tag(..)) || self.eval(c, m, &state) {
                        self.evidence(c, m, out);
                    }
                }
            }
            Cond::DescriptionLongerThan(n) => {
                out.push(Evidence {
                    field: Field::Description,
                    text: format!("{} characters (over {n})", m.f.description.chars().count()),
                });
            }
            Cond::HasDescription(true)
            | Cond::HasAnnotations(_)
            | Cond::NoVotes(_)
            | Cond::NoVerb(_)
            | Cond::ReadonlyTwin(false)
            | Cond::Category(_)
            | Cond::Tag(..)
            | Cond::Not(_) => {}
        }
    }
}

fn text_of<'a>(f: &'a Features<'_>, ctx: &'a SiblingContext, field: Field) -> &'a str {
    match field {
        Field::Name => &f.name,
        Field::RawName => f.raw_name,
        Field::Title => f.title,
        Field::Description => f.description,
        Field::Params => &f.params,
        Field::Enums => &f.enums,
        Field::Siblings => &ctx.text,
        Field::Server => &f.server,
        Field::Annotations | Field::Verdict => "",
    }
}

/// The field a condition mostly reads, for "name and description agree".
fn primary_field(cond: &Cond) -> Option<Field> {
    match cond {
        Cond::Verb { .. } => Some(Field::Name),
        Cond::Re { field, .. } | Cond::Lazy { field, .. } => Some(*field),
        Cond::Annotation(..) => Some(Field::Annotations),
        Cond::All(list) | Cond::Any(list) => list.iter().find_map(primary_field),
        _ => None,
    }
}

fn push_step(steps: &mut Vec<ConfidenceStep>, conf: &mut f64, delta: f64, why: StepWhy) {
    let from = *conf;
    *conf += delta;
    steps.push(ConfidenceStep { from, to: *conf, why });
}

fn clip(s: &str) -> String {
    let s = s.trim();
    // Bytes are never fewer than characters: short evidence is returned without counting.
    if s.len() <= EVIDENCE_CHARS || s.chars().count() <= EVIDENCE_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(EVIDENCE_CHARS).collect();
    out.push('…');
    out
}

pub(super) fn describe_effect(stage: Stage, e: &super::rules::Effect) -> String {
    let mut parts = Vec::new();
    if let Some(c) = e.category {
        parts.push(match stage {
            Stage::Signal => format!("category {c} ({:.2})", e.weight),
            Stage::Verdict | Stage::Finding => format!("category → {c}"),
        });
    }
    for t in &e.tags {
        parts.push(format!("tag {t}"));
    }
    for (h, v) in &e.hints {
        parts.push(format!("{h} {v}"));
    }
    if let Some(s) = e.finding {
        parts.push(format!("finding ({s})"));
    }
    if let Some(c) = e.confidence {
        parts.push(format!("confidence {c:+.2}"));
    }
    parts.join(", ")
}

fn summarize(
    name: &str,
    category: Category,
    risk: Risk,
    confidence: f64,
    tags: &[Arc<str>],
    findings: &[Finding],
) -> String {
    let what = match category {
        Category::Read => "only reads data",
        Category::Write => "creates or changes data",
        Category::Execute => "runs code, commands or queries",
        Category::Delete => "deletes or overwrites data, which may not be reversible",
        Category::Financial => "moves money or changes billing",
    };
    use std::fmt::Write as _;
    let mut s = String::with_capacity(name.len() + 160);
    // Plain pushes: `write!` costs more than the rest of the summary.
    s.push('`');
    s.push_str(name);
    s.push_str("` ");
    s.push_str(what);
    if let Some((first, rest)) = tags.split_first() {
        s.push_str(" (");
        s.push_str(first);
        for t in rest {
            s.push_str(", ");
            s.push_str(t);
        }
        s.push(')');
    }
    s.push_str("; ");
    s.push_str(risk.as_str());
    s.push_str(" risk. ");
    s.push_str(match risk {
        Risk::Low => "It needs no policy beyond logging.",
        Risk::Medium => "It needs a policy: rate-limit it.",
        Risk::High => "It needs a policy: require approval for each call.",
        Risk::Critical => "It needs a policy: deny it by default, or require approval for each call.",
    });
    if confidence < 0.6 {
        let _ = write!(s, " Confidence is low ({confidence:.2}): review it by hand.");
    }
    if let Some(worst) = findings.first() {
        let _ = write!(s, " Its definition has {} finding(s), the worst: {}.", findings.len(), worst.message);
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::classify::examples::run_examples;
    use crate::classify::{default_sources, load_default, load_sources, RuleSet};
    use crate::model::{Field, ToolInput};

    /// The default rules and one more file.
    fn defaults_and(file: &str, toml: &str) -> RuleSet {
        let mut sources = default_sources();
        sources.push((file.into(), toml.into()));
        load_sources(sources).expect("rules load")
    }

    #[test]
    fn a_rule_on_the_server_name_sees_its_words() {
        // No default rule reads the server, so its words are only built for rules like this.
        let extra = r#"
[[rule]]
id = "server-payments"
message = "the server is a payments service"
why = "Test rule."
match.server = '\bstripe\b'
effect.tags = ["payments"]
examples.flag = [{ name = "list_charges", server = "@stripe/agent-toolkit" }]
examples.pass = [{ name = "list_charges", server = "github" }]
"#;
        let rules = defaults_and("server.toml", extra);
        // Its examples fire on a Stripe server and not on another.
        assert_eq!(run_examples(&rules).failures, []);
    }

    #[test]
    fn a_rule_run_only_when_nothing_voted_keeps_its_patterns_apart() {
        let extra = r#"
[[rule]]
id = "unknown-tool-mentions-widgets"
message = "an unrecognised tool about widgets"
why = "Test rule."
stage = "finding"
match.no_votes = true
match.description = '\bwidgets?\b'
match.not.description = '\bgadgets?\b'
effect.finding = "info"
examples.flag = [{ name = "frobnicate", description = "Frobnicates the widget." }]
examples.pass = [
    { name = "frobnicate", description = "Frobnicates the widget and the gadget." },
    { name = "list_widgets", description = "Lists every widget." },
]
"#;
        let before = load_default().expect("rules load");
        let rules = defaults_and("widgets.toml", extra);
        assert_eq!(run_examples(&rules).failures, []);
        // Not in the description patterns every tool walks...
        let count = |r: &RuleSet| r.sets.get(Field::Description).map_or(0, |p| p.len());
        assert_eq!(count(&rules), count(&before));
        // ...and its evidence is still the matched text.
        let tool = ToolInput {
            name: "frobnicate".into(),
            description: Some("Frobnicates a Widget.".into()),
            ..ToolInput::default()
        };
        let verdict = rules.classify(&tool);
        let reason = verdict.reasons.iter().find(|r| &*r.rule_id == "unknown-tool-mentions-widgets").expect("fires");
        assert_eq!(reason.evidence.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["Widget"]);
    }
}
