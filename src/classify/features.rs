//! Turning a `ToolInput` into the texts the rules match against.
//!
//! Every rule condition reads one of these fields, so each is built once per tool (siblings once
//! per server, see `SiblingContext`).

use std::collections::HashSet;

use crate::model::ToolInput;

/// Splits a tool or server name into lowercase words, whatever its shape: `snake_case`,
/// `camelCase`, `kebab-case`, dotted and namespaced (`github.create_issue`, `server__tool`).
/// Acronyms stay whole (`HTTPRequest` → `http request`); digits stay with their letters (`s3`).
pub fn name_words(name: &str) -> Vec<String> {
    let mut joined = String::new();
    push_words(&mut joined, name, ' ');
    joined.split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Appends `name`'s words to `out`, lowercased and joined by `sep` (see `push_word_bytes`). The
/// words are appended to `out`'s own buffer, which is checked as UTF-8 once, whole.
pub fn push_words(out: &mut String, name: &str, sep: char) {
    let mut bytes = std::mem::take(out).into_bytes();
    push_word_bytes(&mut bytes, name, u8::try_from(sep).unwrap_or(b' '));
    *out = into_text(bytes);
}

/// Appends `name`'s words to `out` as UTF-8, lowercased and joined by the ASCII `sep`. Only
/// whole characters are appended, so a buffer that held text still does (see `into_text`).
/// Building bytes and checking them once per text is several times faster than pushing `char`s
/// or checking each name's piece.
fn push_word_bytes(out: &mut Vec<u8>, name: &str, sep: u8) {
    if !name.is_ascii() {
        push_unicode_words(out, name, sep);
        return;
    }
    let bytes = name.as_bytes();
    if is_plain(bytes) {
        // Already lowercase words: only the separators change.
        let start = out.len();
        out.extend_from_slice(bytes);
        for c in &mut out[start..] {
            if !c.is_ascii_alphanumeric() {
                *c = sep;
            }
        }
        return;
    }
    // Bytes go to a buffer on the stack, appended in pieces: pushing them one by one onto `out`
    // checks its capacity at every byte.
    const PIECE: usize = 128;
    let mut buf = [0u8; PIECE];
    let mut n = 0;
    let mut written = false;
    let mut in_word = false;
    for (i, &c) in bytes.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            in_word = false;
            continue;
        }
        // `fooBar` → foo|Bar, `HTTPRequest` → HTTP|Request, but `HTTP` stays whole.
        let boundary = if in_word {
            c.is_ascii_uppercase() && {
                let p = bytes[i - 1];
                let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
                p.is_ascii_lowercase() || p.is_ascii_digit() || (p.is_ascii_uppercase() && next_lower)
            }
        } else {
            written
        };
        if n + 2 > PIECE {
            out.extend_from_slice(&buf[..n]);
            n = 0;
        }
        if boundary {
            buf[n] = sep;
            n += 1;
        }
        buf[n] = c.to_ascii_lowercase();
        n += 1;
        written = true;
        in_word = true;
    }
    out.extend_from_slice(&buf[..n]);
}

/// Whether a name is lowercase ASCII words (letters and digits) joined by single `_`, `-`, `.`,
/// `/` or spaces, with none at either end (`create_issue`, `user-id`, `v2`): most names, whose
/// words need no splitting.
fn is_plain(bytes: &[u8]) -> bool {
    let mut after_separator = true;
    for &c in bytes {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => after_separator = false,
            b'_' | b'-' | b'.' | b'/' | b' ' if !after_separator => after_separator = true,
            _ => return false,
        }
    }
    !after_separator
}

/// `push_word_bytes` for names with non-ASCII characters.
fn push_unicode_words(out: &mut Vec<u8>, name: &str, sep: u8) {
    let start = out.len();
    let mut prev: Option<char> = None;
    let mut chars = name.chars().peekable();
    let mut in_word = false;
    let mut utf8 = [0u8; 4];
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            in_word = false;
            prev = Some(c);
            continue;
        }
        let mut boundary = !in_word;
        if in_word && c.is_uppercase() {
            let p = prev.unwrap_or(' ');
            let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
            if p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next_lower) {
                boundary = true;
            }
        }
        if boundary && out.len() > start {
            out.push(sep);
        }
        for lower in c.to_lowercase() {
            out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
        }
        in_word = true;
        prev = Some(c);
    }
}

/// The text `push_word_bytes` built. It only appends whole characters, so this never loses
/// anything; were it ever to, the bad bytes would show as U+FFFD rather than fail.
fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A set of words the rules define (verbs, lexicon entries). Lookups are with a tool's words,
/// which are short: FNV-1a hashes them several times faster than SipHash. The keys come from the
/// rules, never from a server, so nobody can craft colliding keys; sets keyed by server text
/// (`SiblingContext::names`) keep the standard hasher.
pub type WordSet = HashSet<String, std::hash::BuildHasherDefault<WordHasher>>;
/// A map keyed by rule words (see `WordSet`).
pub type WordMap<V> = std::collections::HashMap<String, V, std::hash::BuildHasherDefault<WordHasher>>;

/// FNV-1a over the bytes written (see `WordSet`).
#[derive(Debug, Clone, Copy)]
pub struct WordHasher(u64);

impl Default for WordHasher {
    fn default() -> Self {
        WordHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The lexicon the name analysis needs, gathered from the rules at load time.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    /// Every word some rule's `verb` condition lists, with the bits of those conditions
    /// (`Cond::Verb`).
    pub verbs: WordMap<u64>,
    /// Verbs that are also common nouns (`schedule`, `run`, `test`): when one comes first and a
    /// plain verb follows, the later verb is the action (`schedule_list` lists schedules).
    pub dual: WordSet,
    /// Multi-word nouns whose words are never the action (`pull request`, `access key`).
    pub noun_phrases: Vec<Vec<String>>,
    /// Words that join two verbs into one compound action (`get_or_create`, `list_and_delete`).
    pub conjunctions: WordSet,
}

/// The action verbs found in a name, in order: the primary verb first, then any verbs joined to
/// it by a conjunction.
pub fn find_verbs<S: AsRef<str>>(words: &[S], lex: &Lexicon) -> Vec<String> {
    let word = |i: usize| words[i].as_ref();
    // Words inside a noun phrase, one bit each (names longer than 64 words: the rest unchecked).
    let mut blocked: u64 = 0;
    for phrase in &lex.noun_phrases {
        if phrase.is_empty() || phrase.len() > words.len() {
            continue;
        }
        for start in 0..=words.len() - phrase.len() {
            if phrase.iter().enumerate().all(|(k, p)| word(start + k) == p) {
                for k in start..(start + phrase.len()).min(64) {
                    blocked |= 1 << k;
                }
            }
        }
    }
    let is_verb = |i: usize| (i >= 64 || blocked & (1 << i) == 0) && lex.verbs.contains_key(word(i));
    let Some(mut primary) = (0..words.len()).find(|&i| is_verb(i)) else {
        return Vec::new();
    };
    if lex.dual.contains(word(primary)) {
        if let Some(later) = (primary + 1..words.len()).find(|&i| is_verb(i) && !lex.dual.contains(word(i))) {
            primary = later;
        }
    }
    let mut verbs = vec![word(primary).to_string()];
    let mut i = primary + 1;
    while i + 1 < words.len() {
        if lex.conjunctions.contains(word(i)) && is_verb(i + 1) {
            verbs.push(word(i + 1).to_string());
            i += 2;
        } else {
            i += 1;
        }
    }
    verbs
}

/// The per-tool texts rules match against.
#[derive(Debug, Clone)]
pub struct Features<'t> {
    /// Name words joined by single spaces: `create access key`.
    pub name: String,
    /// The name exactly as sent.
    pub raw_name: &'t str,
    pub verbs: Vec<String>,
    /// The bits of the verb conditions these verbs satisfy (`Cond::Verb`).
    pub verb_mask: u64,
    pub title: &'t str,
    pub description: &'t str,
    /// One line per input property, `name:type` (names in snake case), nested properties included.
    pub params: String,
    /// One line per enum value of a string property, `param=value`.
    pub enums: String,
    /// The server name's words, when some rule reads them (else empty).
    pub server: String,
}

impl<'t> Features<'t> {
    /// The texts of `tool`; its server's words only `with_server` (no default rule reads them).
    pub fn new(tool: &'t ToolInput, lex: &Lexicon, with_server: bool) -> Features<'t> {
        // A name's words take at most twice its length (a separator per character).
        let mut name = String::with_capacity(tool.name.len() * 2);
        push_words(&mut name, &tool.name, ' ');
        let mut words: Vec<&str> = Vec::with_capacity(8);
        words.extend(name.split(' ').filter(|w| !w.is_empty()));
        let verbs = find_verbs(&words, lex);
        let verb_mask = verbs.iter().fold(0, |mask, v| mask | lex.verbs.get(v).copied().unwrap_or(0));
        let params_in = tool.input_schema.as_ref().map_or(&[][..], |s| &s.params[..]);
        let mut params = Vec::with_capacity(params_in.iter().map(|p| p.name.len() * 2 + p.ty.len() + 2).sum());
        let mut enums = Vec::new();
        for param in params_in {
            let line_start = params.len();
            push_word_bytes(&mut params, &param.name, b'_');
            let name_end = params.len();
            params.push(b':');
            params.extend_from_slice(param.ty.as_bytes());
            params.push(b'\n');
            for value in &param.values {
                enums.extend_from_slice(&params[line_start..name_end]);
                enums.push(b'=');
                push_word_bytes(&mut enums, value, b'_');
                enums.push(b'\n');
            }
        }
        let mut server = String::new();
        if let Some(s) = tool.server.as_deref().filter(|_| with_server) {
            push_words(&mut server, s, ' ');
        }
        Features {
            name,
            raw_name: &tool.name,
            verbs,
            verb_mask,
            title: tool.title.as_deref().unwrap_or_default(),
            description: tool.description.as_deref().unwrap_or_default(),
            params: into_text(params),
            enums: into_text(enums),
            server,
        }
    }
}

/// What the sibling tools say about the server, computed once per sibling list by
/// `RuleSet::sibling_context`. It may include the tool being classified (a whole tools/list);
/// the engine then discounts the tool's own name.
#[derive(Debug, Clone, Default)]
pub struct SiblingContext {
    /// One line per sibling, its name words joined by spaces.
    pub text: String,
    /// The same lines, for exact lookups (self-discounting).
    pub names: HashSet<String>,
    /// Names that have a read-only variant among the siblings (`execute sql` for
    /// `execute_sql_read_only`).
    pub twins: HashSet<String>,
    /// For each sibling pattern, how many siblings it matches.
    pub counts: Vec<u32>,
    /// For each sibling pattern, the first few siblings it matches (evidence).
    pub examples: Vec<Vec<String>>,
}

/// Suffixes and prefixes that mark a tool's read-only variant.
const READONLY_MARKS: [&str; 4] = ["read only", "readonly", "ro", "safe"];

impl SiblingContext {
    /// Adds one sibling's words; returns false when it was already there.
    pub(crate) fn add(&mut self, words: String) -> bool {
        for mark in READONLY_MARKS {
            if let Some(base) = words.strip_suffix(mark).and_then(|b| b.strip_suffix(' ')) {
                self.twins.insert(base.to_string());
            }
            if let Some(base) = words.strip_prefix(mark).and_then(|b| b.strip_prefix(' ')) {
                self.twins.insert(base.to_string());
            }
        }
        if !self.names.insert(words.clone()) {
            return false;
        }
        self.text.push_str(&words);
        self.text.push('\n');
        true
    }

    /// Whether a sibling is this tool's read-only variant (`execute_sql` beside
    /// `execute_sql_read_only`), which makes this tool the one that can write.
    pub fn has_readonly_twin(&self, name_words: &str) -> bool {
        self.twins.contains(name_words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: &str) {
        assert_eq!(name_words(name).join(" "), expected, "splitting {name:?}");
    }

    #[test]
    fn names_split_into_words() {
        check("create_access_key", "create access key");
        check("createAccessKey", "create access key");
        check("github.create_issue", "github create issue");
        check("server__tool", "server tool");
        check("azmcp_storage_account_list", "azmcp storage account list");
        check("HTTPRequest", "http request");
        check("getHTTPResponse", "get http response");
        check("hubspot-batch-read-objects", "hubspot batch read objects");
        check("s3_list_buckets", "s3 list buckets");
        check("auth0_get_action", "auth0 get action");
        check("", "");
        check("__", "");
        check("create_issue", "create issue");
        check("a.b-c/d e", "a b c d e");
        check("_leading", "leading");
        check("trailing_", "trailing");
        check("double__sep", "double sep");
        check("v2_list", "v2 list");
        check("get@all", "get all");
    }

    fn lex() -> Lexicon {
        let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<WordSet>();
        Lexicon {
            verbs: ["get", "create", "list", "delete", "schedule", "run", "query", "pull"]
                .iter()
                .map(|v| (v.to_string(), 0))
                .collect(),
            dual: set(&["schedule", "run", "query"]),
            noun_phrases: vec![vec!["pull".into(), "request".into()]],
            conjunctions: set(&["and", "or"]),
        }
    }

    fn verbs(name: &str) -> Vec<String> {
        find_verbs(&name_words(name), &lex())
    }

    #[test]
    fn verbs_are_found_wherever_they_stand() {
        assert_eq!(verbs("user_delete"), ["delete"]);
        assert_eq!(verbs("pods_list"), ["list"]);
        assert_eq!(verbs("get_or_create"), ["get", "create"]);
        assert_eq!(verbs("list_and_delete"), ["list", "delete"]);
        assert_eq!(verbs("schedule_list"), ["list"]);
        assert_eq!(verbs("run_query"), ["run"]);
        assert_eq!(verbs("pull_request_get"), ["get"]);
        assert!(verbs("mr_discussions").is_empty());
    }

    #[test]
    fn schema_params_and_enums_are_collected() {
        let tool = ToolInput {
            name: "x".into(),
            input_schema: crate::input::schema_of(&serde_json::json!({
                "type": "object",
                "properties": {
                    "userIds": {"type": "array", "items": {"type": "string"}},
                    "action": {"type": "string", "enum": ["create", "deleteAll"]},
                    "opts": {"type": "object", "properties": {"force": {"type": "boolean"}}}
                }
            })),
            ..ToolInput::default()
        };
        let f = Features::new(&tool, &lex(), true);
        assert!(f.params.contains("user_ids:array\n"));
        assert!(f.params.contains("force:boolean\n"));
        assert!(f.enums.contains("action=delete_all\n"));
    }
}
