//! Matching every pattern of one field at once, with where each first matched.
//!
//! A field's patterns compile into two lazy DFAs over the same HIR: a forward one that runs all
//! patterns in one overlapping pass (which patterns match, and where each first match ends), and
//! a reverse one, anchored per pattern, that walks back from that end to where the match starts.
//! The second gives a rule's evidence without compiling each pattern again as its own regex or
//! searching the text a second time.
//!
//! Invariants:
//! - Searches cannot fail: the lazy DFAs have no quit bytes (word boundaries are ASCII, see
//!   `load::compiled_form`; a Unicode one is refused when the rules load) and never give up on
//!   their cache (no minimum clear count). An error would be a bug; it reads as "no match".
//! - No pattern matches the empty string (refused when the rules load), so overlapping matches
//!   never split a UTF-8 character.
//! - Caches are per thread, from a pool: matching needs only `&self`.

use std::fmt;

use regex_automata::hybrid::dfa::{Cache, OverlappingState, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input, MatchKind, PatternID};
use regex_syntax::hir::Hir;

/// The most memory one lazy DFA may use for its states, per thread.
const CACHE_CAPACITY: usize = 64 << 20;
/// The most memory one field's compiled patterns (NFA) may use.
const NFA_SIZE_LIMIT: usize = 64 << 20;

/// Where a pattern did not match.
const NONE: usize = usize::MAX;

/// The patterns of one field, compiled.
#[derive(Clone)]
pub struct FieldPatterns {
    /// Patterns that can match anywhere, searched over the whole text.
    unanchored: Option<Group>,
    /// Patterns that begin with `\A`, searched anchored at the start: the search stops where
    /// the last of them fails. Apart, they do not multiply the states of the others: every
    /// text's own opening words would otherwise make new states.
    anchored: Option<Group>,
    /// Every pattern reversed, with a start state per pattern, for where a match starts.
    reverse: DFA,
    /// Per pattern: whether it is in the anchored group, and its id there.
    place: Vec<(bool, PatternID)>,
}

/// Some of a field's patterns in one forward lazy DFA.
#[derive(Clone)]
struct Group {
    dfa: DFA,
    /// Per pattern id in this group: the pattern's index in the field.
    index: Vec<usize>,
}

impl fmt::Debug for FieldPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldPatterns").field("patterns", &self.place.len()).finish_non_exhaustive()
    }
}

/// One thread's lazy-DFA states for one field.
#[derive(Debug, Clone)]
pub struct FieldCache {
    unanchored: Option<Cache>,
    anchored: Option<Cache>,
    reverse: Cache,
}

/// Which patterns of a field matched one text, and the span of each one's first match.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// Per pattern: the end of its earliest-ending match, or `NONE`.
    ends: Vec<usize>,
    /// Per pattern: where that match starts (valid where `ends` is).
    starts: Vec<usize>,
    /// The patterns that matched, in the order their matches ended.
    fired: Vec<usize>,
}

impl Hits {
    fn for_patterns(len: usize) -> Hits {
        Hits { ends: vec![NONE; len], starts: vec![NONE; len], fired: Vec::with_capacity(8) }
    }

    fn clear(&mut self) {
        for &p in &self.fired {
            self.ends[p] = NONE;
        }
        self.fired.clear();
    }

    pub fn matched(&self, pattern: usize) -> bool {
        self.ends.get(pattern).is_some_and(|e| *e != NONE)
    }

    /// The span of the pattern's first match (earliest end, leftmost start for that end).
    pub fn span(&self, pattern: usize) -> Option<(usize, usize)> {
        self.matched(pattern).then(|| (self.starts[pattern], self.ends[pattern]))
    }

    /// The patterns that matched.
    pub fn fired(&self) -> &[usize] {
        &self.fired
    }
}

fn nfa_config() -> thompson::Config {
    thompson::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)).which_captures(thompson::WhichCaptures::None)
}

/// Lazy DFAs report every pattern (overlapping) and have a start state per pattern: evidence
/// searches anchor on one pattern.
fn dfa(nfa: thompson::NFA) -> Result<DFA, String> {
    let config = DFA::config()
        .match_kind(MatchKind::All)
        .starts_for_each_pattern(true)
        .cache_capacity(CACHE_CAPACITY)
        .minimum_cache_clear_count(None);
    DFA::builder().configure(config).build_from_nfa(nfa).map_err(|e| e.to_string())
}

impl Group {
    fn build(hirs: &[&Hir], index: Vec<usize>) -> Result<Option<Group>, String> {
        if hirs.is_empty() {
            return Ok(None);
        }
        let nfa =
            thompson::Compiler::new().configure(nfa_config()).build_many_from_hir(hirs).map_err(|e| e.to_string())?;
        Ok(Some(Group { dfa: dfa(nfa)?, index }))
    }

    /// Records where each of this group's patterns first matches `text`.
    fn scan(&self, cache: &mut Cache, text: &str, anchored: bool, hits: &mut Hits) {
        let mode = if anchored { Anchored::Yes } else { Anchored::No };
        let input = Input::new(text).anchored(mode);
        let mut state = OverlappingState::start();
        let mut found = 0;
        loop {
            if self.dfa.try_search_overlapping_fwd(cache, &input, &mut state).is_err() {
                debug_assert!(false, "a lazy DFA search failed");
                break;
            }
            let Some(m) = state.get_match() else { break };
            let p = self.index[m.pattern().as_usize()];
            // Matches arrive in order of their end: the first one seen ends earliest.
            if hits.ends[p] == NONE {
                hits.ends[p] = m.offset();
                hits.fired.push(p);
                found += 1;
                if found == self.index.len() {
                    break;
                }
            }
        }
    }
}

impl FieldPatterns {
    /// Compiles parsed patterns (already in their compiled form, see `load::compiled_form`).
    pub fn build(hirs: &[Hir]) -> Result<FieldPatterns, String> {
        let mut place = Vec::with_capacity(hirs.len());
        let (mut starts, mut anywhere) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        for (i, hir) in hirs.iter().enumerate() {
            let at_start = hir.properties().look_set_prefix().contains(regex_syntax::hir::Look::Start);
            let group = if at_start { &mut starts } else { &mut anywhere };
            let id = PatternID::new(group.0.len()).map_err(|e| e.to_string())?;
            place.push((at_start, id));
            group.0.push(hir);
            group.1.push(i);
        }
        let reverse_nfa = thompson::Compiler::new()
            .configure(nfa_config().reverse(true))
            .build_many_from_hir(hirs)
            .map_err(|e| e.to_string())?;
        Ok(FieldPatterns {
            unanchored: Group::build(&anywhere.0, anywhere.1)?,
            anchored: Group::build(&starts.0, starts.1)?,
            reverse: dfa(reverse_nfa)?,
            place,
        })
    }

    pub fn len(&self) -> usize {
        self.place.len()
    }

    pub fn is_empty(&self) -> bool {
        self.place.is_empty()
    }

    pub fn cache(&self) -> FieldCache {
        FieldCache {
            unanchored: self.unanchored.as_ref().map(|g| g.dfa.create_cache()),
            anchored: self.anchored.as_ref().map(|g| g.dfa.create_cache()),
            reverse: self.reverse.create_cache(),
        }
    }

    pub fn hits(&self) -> Hits {
        Hits::for_patterns(self.len())
    }

    /// Finds which patterns match `text` and where each first match ends; with `spans`, also
    /// where each starts.
    pub fn scan(&self, cache: &mut FieldCache, text: &str, spans: bool, hits: &mut Hits) {
        hits.clear();
        if let (Some(group), Some(c)) = (&self.unanchored, &mut cache.unanchored) {
            group.scan(c, text, false, hits);
        }
        if let (Some(group), Some(c)) = (&self.anchored, &mut cache.anchored) {
            group.scan(c, text, true, hits);
        }
        if spans {
            for &p in &hits.fired {
                let (start, end) = self.span_of(cache, text, p, hits.ends[p]);
                hits.starts[p] = start;
                hits.ends[p] = end;
            }
        }
    }

    /// The span to show for pattern `p`, whose earliest-ending match ends at `end`: the leftmost
    /// start of a match ending there, then the longest match from that start.
    fn span_of(&self, cache: &mut FieldCache, text: &str, p: usize, end: usize) -> (usize, usize) {
        let Ok(pid) = PatternID::try_from(p) else { return (end, end) };
        let back = Input::new(text).range(..end).anchored(Anchored::Pattern(pid));
        let start = match self.reverse.try_search_rev(&mut cache.reverse, &back) {
            Ok(Some(m)) => m.offset(),
            _ => {
                debug_assert!(false, "a pattern's reverse search found no start");
                return (end, end);
            }
        };
        let (at_start, local) = self.place[p];
        let (group, c) =
            if at_start { (&self.anchored, &mut cache.anchored) } else { (&self.unanchored, &mut cache.unanchored) };
        let (Some(group), Some(c)) = (group, c) else { return (start, end) };
        let ahead = Input::new(text).range(start..).anchored(Anchored::Pattern(local));
        match group.dfa.try_search_fwd(c, &ahead) {
            Ok(Some(m)) if m.offset() >= end => (start, m.offset()),
            _ => (start, end),
        }
    }
}

/// A creator of per-thread caches.
pub(crate) type MakeScratch =
    Box<dyn Fn() -> Scratch + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

/// One thread's caches and hit buffers for every field, indexed like `Field::ALL`.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    pub(crate) fields: Vec<Option<(FieldCache, Hits)>>,
}

/// Per-thread scratch space for a set of fields.
pub(crate) struct ScratchPool(Pool<Scratch, MakeScratch>);

impl fmt::Debug for ScratchPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScratchPool")
    }
}

impl ScratchPool {
    pub(crate) fn new(fields: Vec<Option<FieldPatterns>>) -> ScratchPool {
        let make: MakeScratch = Box::new(move || Scratch {
            fields: fields.iter().map(|f| f.as_ref().map(|p| (p.cache(), p.hits()))).collect(),
        });
        ScratchPool(Pool::new(make))
    }

    pub(crate) fn get(&self) -> regex_automata::util::pool::PoolGuard<'_, Scratch, MakeScratch> {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(patterns: &[&str]) -> FieldPatterns {
        let hirs: Vec<Hir> = patterns
            .iter()
            .map(|p| regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(p).expect("parses"))
            .collect();
        FieldPatterns::build(&hirs).expect("builds")
    }

    fn spans(f: &FieldPatterns, text: &str) -> Vec<(usize, String)> {
        let mut cache = f.cache();
        let mut hits = f.hits();
        f.scan(&mut cache, text, true, &mut hits);
        let mut out: Vec<(usize, String)> = hits
            .fired()
            .iter()
            .map(|&p| {
                let (s, e) = hits.span(p).expect("fired");
                (p, text[s..e].to_string())
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn every_pattern_reports_its_first_match() {
        let f = build(&[r"(?-u:\b)delete(?-u:\b)", r"\Aget", r"perm\w*", r"x"]);
        assert_eq!(
            spans(&f, "Get it, then Delete it permanently; delete again"),
            [(0, "Delete".to_string()), (1, "Get".to_string()), (2, "permanently".to_string())]
        );
        assert!(spans(&f, "undeleted").is_empty());
    }

    #[test]
    fn hits_are_reset_between_texts() {
        let f = build(&["a", "b"]);
        let mut cache = f.cache();
        let mut hits = f.hits();
        f.scan(&mut cache, "xa", true, &mut hits);
        assert!(hits.matched(0) && !hits.matched(1));
        f.scan(&mut cache, "b", false, &mut hits);
        assert!(!hits.matched(0) && hits.matched(1));
        assert_eq!(hits.fired(), [1]);
    }

    #[test]
    fn starts_respect_look_behind_and_non_ascii() {
        let f = build(&[r"(?-u:\b)key(?-u:\b)", r"\x{200B}+"]);
        assert_eq!(spans(&f, "é key\u{200B}\u{200B}"), [(0, "key".to_string()), (1, "\u{200B}\u{200B}".to_string())]);
        assert!(spans(&f, "monkey").is_empty());
    }
}
