//! Matching every pattern of one field at once, with where each first matched.
//!
//! A field's patterns compile into two lazy DFAs over the same HIR: a forward one that runs all
//! patterns in one overlapping pass (which patterns match, and where each first match ends), and
//! a reverse one, anchored per pattern, that walks back from that end to where the match starts.
//! The second gives a rule's evidence without compiling each pattern again as its own regex or
//! searching the text a second time.
//!
//! The forward walk is our own loop over the lazy DFA's transitions rather than the library's
//! overlapping search, which stops and resumes at every match and checks every state: here a
//! known, ordinary state goes to the next without checks, and a long text is walked as two
//! halves at once (`Group::two_lanes`), since one walk is a chain of dependent lookups that
//! leaves the processor idle.
//!
//! Invariants:
//! - Searches cannot fail: the lazy DFAs have no quit bytes (word boundaries are ASCII, see
//!   `load::compiled_form`; a Unicode one is refused when the rules load) and never give up on
//!   their cache (no minimum clear count). An error would be a bug; it reads as "no match".
//! - No pattern matches the empty string (refused when the rules load), so overlapping matches
//!   never split a UTF-8 character.
//! - Caches are per thread, from a pool: matching needs only `&self`.
//! - The two-lane walk finds exactly what one walk finds (a test compares both with the
//!   library's overlapping search); when the cache is cleared under it, it starts over on one.

use std::fmt;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
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
/// Unanchored scans of texts at least this long walk the text as two halves at once
/// (`Group::two_lanes`); shorter ones are not worth the setup.
const TWO_LANES: usize = 96;

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
    lanes: Lanes,
}

/// Buffers for a two-lane scan (`Group::two_lanes`), kept between texts.
#[derive(Debug, Clone, Default)]
struct Lanes {
    /// The second walk's state before each byte of the second half.
    states: Vec<LazyStateID>,
    /// Each walk's matches, `(pattern id in the group, end)`, in order.
    found: [Vec<(PatternID, usize)>; 2],
}

impl Lanes {
    /// Buffers past this size (a very long text) are given back after the scan.
    const KEEP: usize = 1 << 16;

    fn trim(&mut self) {
        if self.states.capacity() > Self::KEEP {
            self.states = Vec::new();
        }
    }
}

/// Which patterns of a field matched one text, and the span of each one's first match.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// Per pattern: the end of its earliest-ending match, or `NONE`.
    ends: Vec<usize>,
    /// Per pattern: the span shown as evidence, once asked for (`FieldPatterns::span`), else
    /// `(NONE, NONE)`.
    spans: Vec<(usize, usize)>,
    /// The patterns that matched, in the order their matches ended.
    fired: Vec<usize>,
}

impl Hits {
    fn for_patterns(len: usize) -> Hits {
        Hits { ends: vec![NONE; len], spans: vec![(NONE, NONE); len], fired: Vec::with_capacity(8) }
    }

    fn clear(&mut self) {
        for &p in &self.fired {
            self.ends[p] = NONE;
            self.spans[p] = (NONE, NONE);
        }
        self.fired.clear();
    }

    pub fn matched(&self, pattern: usize) -> bool {
        self.ends.get(pattern).is_some_and(|e| *e != NONE)
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
    fn scan(&self, cache: &mut Cache, lanes: &mut Lanes, text: &str, anchored: bool, hits: &mut Hits) {
        if !anchored && text.len() >= TWO_LANES {
            if let Some(meet) = self.two_lanes(cache, lanes, text) {
                let [first, second] = &lanes.found;
                for &(p, end) in first.iter().chain(second.iter().filter(|(_, end)| *end >= meet)) {
                    self.record(hits, p, end);
                }
                return;
            }
            // The cache was cleared mid-scan, so the other lane's states are gone: start over.
        }
        self.one_lane(cache, text, anchored, hits);
    }

    /// Records a match of pattern `p` (an id in this group) ending at `end`, unless the pattern
    /// already matched: matches arrive in order of their end, so the first one ends earliest.
    /// Returns whether it is the pattern's first match.
    #[inline]
    fn record(&self, hits: &mut Hits, p: PatternID, end: usize) -> bool {
        let p = self.index[p.as_usize()];
        let first = hits.ends[p] == NONE;
        if first {
            hits.ends[p] = end;
            hits.fired.push(p);
        }
        first
    }

    /// The plain scan: one walk from the start, stopping early when the DFA dies (an anchored
    /// group whose patterns all failed) or every pattern has matched.
    fn one_lane(&self, cache: &mut Cache, text: &str, anchored: bool, hits: &mut Hits) {
        let dfa = &self.dfa;
        let input = Input::new(text).anchored(if anchored { Anchored::Yes } else { Anchored::No });
        let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
            debug_assert!(false, "a lazy DFA has no start state");
            return;
        };
        let bytes = text.as_bytes();
        let mut found = 0;
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            // The common case: a known, ordinary state to a known, ordinary state.
            if !sid.is_tagged() {
                let next = dfa.next_state_untagged(cache, sid, byte);
                if !next.is_tagged() {
                    sid = next;
                    at += 1;
                    continue;
                }
            }
            let Ok(next) = dfa.next_state(cache, sid, byte) else {
                debug_assert!(false, "a lazy DFA gave up");
                return;
            };
            sid = next;
            if sid.is_match() {
                for p in matches(dfa, cache, sid) {
                    found += usize::from(self.record(hits, p, at));
                }
                if found == self.index.len() {
                    return;
                }
            } else if sid.is_dead() || sid.is_quit() {
                return;
            }
            at += 1;
        }
        if let Ok(eoi) = dfa.next_eoi_state(cache, sid) {
            for p in matches(dfa, cache, eoi) {
                self.record(hits, p, bytes.len());
            }
        }
    }

    /// An unanchored scan as two walks at once, one from the start and one from the middle.
    /// A walk is a chain of dependent table lookups, so the processor runs two side by side in
    /// about the time of one. The second walk starts as if the text began at the middle and
    /// records its state at every byte; once the first walk, carried on past the middle, is in
    /// the same state at the same byte, the two agree from there on (the DFA is deterministic),
    /// usually a few bytes after the middle. The matches are the first walk's, then the second
    /// walk's from the meeting point (returned). `None` when the cache was cleared, which makes
    /// the states held so far meaningless.
    fn two_lanes(&self, cache: &mut Cache, lanes: &mut Lanes, text: &str) -> Option<usize> {
        let dfa = &self.dfa;
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mid = n / 2;
        let clears = cache.clear_count();
        let mut a = dfa.start_state_forward(cache, &Input::new(text)).ok()?;
        let mut b = dfa.start_state_forward(cache, &Input::new(text).range(mid..)).ok()?;
        let Lanes { states, found: [found_a, found_b] } = lanes;
        found_a.clear();
        found_b.clear();
        states.clear();
        states.resize(n - mid + 1, b);
        let (head, tail) = bytes.split_at(mid);
        // Reports the matches of a state entered at `at` (the end of those matches).
        let report = |cache: &Cache, sid: LazyStateID, at: usize, out: &mut Vec<(PatternID, usize)>| {
            out.extend(matches(dfa, cache, sid).map(|p| (p, at)));
        };
        // Both walks, side by side over the first half's length.
        for (i, (&x, &y)) in head.iter().zip(tail).enumerate() {
            states[i] = b;
            if !(a.is_tagged() | b.is_tagged()) {
                let (na, nb) = (dfa.next_state_untagged(cache, a, x), dfa.next_state_untagged(cache, b, y));
                if !(na.is_tagged() | nb.is_tagged()) {
                    (a, b) = (na, nb);
                    continue;
                }
            }
            // A step may clear the cache, and then the other walk's state is gone: it must not
            // be stepped from.
            a = dfa.next_state(cache, a, x).ok()?;
            if cache.clear_count() != clears {
                return None;
            }
            b = dfa.next_state(cache, b, y).ok()?;
            if cache.clear_count() != clears || a.is_dead() || b.is_dead() || a.is_quit() || b.is_quit() {
                return None;
            }
            if a.is_match() {
                report(cache, a, i, found_a);
            }
            if b.is_match() {
                report(cache, b, mid + i, found_b);
            }
        }
        // The second walk finishes (one byte more when the length is odd).
        for (at, &y) in bytes.iter().enumerate().skip(2 * mid) {
            states[at - mid] = b;
            b = dfa.next_state(cache, b, y).ok()?;
            if b.is_match() {
                report(cache, b, at, found_b);
            }
        }
        states[n - mid] = b;
        let eoi = dfa.next_eoi_state(cache, b).ok()?;
        report(cache, eoi, n, found_b);
        // The first walk's state (and the recorded ones) are gone if the second cleared the cache.
        if cache.clear_count() != clears {
            return None;
        }
        // The first walk goes on until it meets the second.
        let mut at = mid;
        while at < n && a != states[at - mid] {
            a = dfa.next_state(cache, a, bytes[at]).ok()?;
            if a.is_match() {
                report(cache, a, at, found_a);
            }
            at += 1;
        }
        if at == n && a != states[n - mid] {
            let eoi = dfa.next_eoi_state(cache, a).ok()?;
            report(cache, eoi, n, found_a);
            at = n + 1;
        }
        (cache.clear_count() == clears).then_some(at)
    }
}

/// The patterns whose matches end where the walk entered `sid` (none unless it is a match state).
fn matches<'c>(dfa: &'c DFA, cache: &'c Cache, sid: LazyStateID) -> impl Iterator<Item = PatternID> + 'c {
    let n = if sid.is_match() { dfa.match_len(cache, sid) } else { 0 };
    (0..n).map(move |i| dfa.match_pattern(cache, sid, i))
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
            lanes: Lanes::default(),
        }
    }

    pub fn hits(&self) -> Hits {
        Hits::for_patterns(self.len())
    }

    /// Finds which patterns match `text` and where each first match ends.
    pub fn scan(&self, cache: &mut FieldCache, text: &str, hits: &mut Hits) {
        hits.clear();
        if let (Some(group), Some(c)) = (&self.unanchored, &mut cache.unanchored) {
            group.scan(c, &mut cache.lanes, text, false, hits);
            cache.lanes.trim();
        }
        if let (Some(group), Some(c)) = (&self.anchored, &mut cache.anchored) {
            group.scan(c, &mut cache.lanes, text, true, hits);
        }
    }

    /// The evidence span of pattern `p` in `text`, the text `hits` came from: found when first
    /// asked for (only the rules that fire need one), then kept until the next scan.
    pub fn span(&self, cache: &mut FieldCache, text: &str, hits: &mut Hits, p: usize) -> Option<(usize, usize)> {
        if !hits.matched(p) {
            return None;
        }
        if hits.spans[p].0 == NONE {
            hits.spans[p] = self.span_of(cache, text, p, hits.ends[p]);
        }
        Some(hits.spans[p])
    }

    /// The span to show for pattern `p`, whose earliest-ending match ends at `end`: the leftmost
    /// start of a match ending there, then the longest match from that start.
    fn span_of(&self, cache: &mut FieldCache, text: &str, p: usize, end: usize) -> (usize, usize) {
        let (at_start, local) = self.place[p];
        // A pattern that begins with `\A` can only start at 0.
        let start = if at_start {
            0
        } else {
            let Ok(pid) = PatternID::try_from(p) else { return (end, end) };
            let back = Input::new(text).range(..end).anchored(Anchored::Pattern(pid));
            match self.reverse.try_search_rev(&mut cache.reverse, &back) {
                Ok(Some(m)) => m.offset(),
                _ => {
                    debug_assert!(false, "a pattern's reverse search found no start");
                    return (end, end);
                }
            }
        };
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
        f.scan(&mut cache, text, &mut hits);
        let fired = hits.fired().to_vec();
        let mut out: Vec<(usize, String)> = fired
            .iter()
            .map(|&p| {
                let (s, e) = f.span(&mut cache, text, &mut hits, p).expect("fired");
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
        f.scan(&mut cache, "xa", &mut hits);
        assert!(hits.matched(0) && !hits.matched(1));
        f.scan(&mut cache, "b", &mut hits);
        assert!(!hits.matched(0) && hits.matched(1));
        assert_eq!(hits.fired(), [1]);
        f.scan(&mut cache, "xxa", &mut hits);
        assert_eq!(f.span(&mut cache, "xxa", &mut hits, 0), Some((2, 3)));
        f.scan(&mut cache, "ab", &mut hits);
        assert_eq!(f.span(&mut cache, "ab", &mut hits, 0), Some((0, 1)), "a span from the last text is not reused");
        assert_eq!(f.span(&mut cache, "ab", &mut hits, 1), Some((1, 2)));
    }

    /// Every pattern's earliest match end, by the library's own overlapping search.
    fn reference(f: &FieldPatterns, text: &str) -> Vec<(usize, usize)> {
        use regex_automata::hybrid::dfa::OverlappingState;
        let mut out = Vec::new();
        for (group, anchored) in [(&f.unanchored, Anchored::No), (&f.anchored, Anchored::Yes)] {
            let Some(group) = group else { continue };
            let mut cache = group.dfa.create_cache();
            let input = Input::new(text).anchored(anchored);
            let mut state = OverlappingState::start();
            let mut seen = vec![false; group.index.len()];
            loop {
                group.dfa.try_search_overlapping_fwd(&mut cache, &input, &mut state).expect("searches");
                let Some(m) = state.get_match() else { break };
                if !std::mem::replace(&mut seen[m.pattern().as_usize()], true) {
                    out.push((group.index[m.pattern().as_usize()], m.offset()));
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn a_cache_cleared_mid_walk_still_finds_every_match() {
        // The smallest cache the library allows is cleared again and again by these patterns.
        let hirs: Vec<Hir> = [r"(?-u:\b)[a-z]{3,12}(?-u:\b)[^.]{0,30}(?-u:\b)(sql|code)(?-u:\b)", r"x[a-z]{0,20}y"]
            .iter()
            .map(|p| regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(p).expect("parses"))
            .collect();
        let nfa = thompson::Compiler::new()
            .configure(nfa_config())
            .build_many_from_hir(&hirs.iter().collect::<Vec<_>>())
            .expect("compiles");
        let small = DFA::config()
            .match_kind(MatchKind::All)
            .starts_for_each_pattern(true)
            .cache_capacity(0)
            .skip_cache_capacity_check(true)
            .minimum_cache_clear_count(None);
        let group =
            Group { dfa: DFA::builder().configure(small).build_from_nfa(nfa).expect("builds"), index: vec![0, 1] };
        let f = FieldPatterns::build(&hirs).expect("builds");
        let mut cache = group.dfa.create_cache();
        let mut lanes = Lanes::default();
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(["select", "run the", "xabcy", "code", "sql", "words", ". ", "zq"][(i * 7 + i / 3) % 8]);
            text.push(' ');
            let mut hits = f.hits();
            group.scan(&mut cache, &mut lanes, &text, false, &mut hits);
            let mut got: Vec<(usize, usize)> = hits.fired().iter().map(|&p| (p, hits.ends[p])).collect();
            got.sort_unstable();
            assert_eq!(got, reference(&f, &text), "{text:?}");
        }
        assert!(cache.clear_count() > 0, "the cache was never cleared: the test tests nothing");
    }

    #[test]
    fn two_lanes_find_what_one_walk_finds() {
        let f = build(&[
            r"(?-u:\b)(delete|remove)s?\s+\w+(\s+\w+)?\s+permanently(?-u:\b)",
            r"(?-u:\b)(run|execute)s?(?-u:\b)[a-z ,]{0,20}(?-u:\b)(sql|code)(?-u:\b)",
            r"(?-u:\b)cannot be undone(?-u:\b)",
            r"(^|[\s/])\.env(?-u:\b)",
            r"\x{200B}",
            r"e",
            r"\Athis tool (gets|lists)",
            r"done\z",
        ]);
        let words: Vec<&str> = "delete removes the file permanently run executes some sql code cannot be undone \
             .env /.env this tool gets lists done \u{200B} é , ."
            .split_whitespace()
            .collect();
        // A fixed pseudo-random sequence (LCG), so a failure can be replayed.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0) % n
        };
        let mut cache = f.cache();
        let mut hits = f.hits();
        for round in 0..3000 {
            let len = next(120);
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(words[next(words.len())]);
                text.push_str([" ", "  ", "\n", ""][next(4)]);
            }
            f.scan(&mut cache, &text, &mut hits);
            let mut got: Vec<(usize, usize)> = hits.fired().iter().map(|&p| (p, hits.ends[p])).collect();
            got.sort_unstable();
            assert_eq!(got, reference(&f, &text), "round {round}: {text:?}");
        }
    }

    #[test]
    fn starts_respect_look_behind_and_non_ascii() {
        let f = build(&[r"(?-u:\b)key(?-u:\b)", r"\x{200B}+"]);
        assert_eq!(spans(&f, "é key\u{200B}\u{200B}"), [(0, "key".to_string()), (1, "\u{200B}\u{200B}".to_string())]);
        assert!(spans(&f, "monkey").is_empty());
    }
}
