//! A structural scan of JSON text: where the tools of a tools/list (or the elements of an array)
//! start and end, found without validating or building them.
//!
//! Each record is validated later, when it is parsed (`parse_item`, on any thread), so this pass
//! only has to follow brackets and skip strings, which it does with `memchr`. It is the one
//! sequential step of reading a big file, so it must be fast.
//!
//! On the way it notes each object's `name` (for the sibling context, which needs every name
//! before any record is parsed): it walks the members at the top level of an element that is an
//! object, checking them as `serde_json` would, and keeps the raw JSON string of the last
//! string-valued `name` (a `name` of another type is ignored). An object that is not well-formed
//! at its top level gets no name and is skipped by brackets, as any other value. What is not
//! checked is the inside of the other members' values: a record with bad JSON there (in its
//! `description` string or its `inputSchema`, say) still gets its name, where parsing the whole
//! record would give none.

use std::fmt;

/// Why a scan stopped early. The records found before it are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    what: &'static str,
    line: usize,
    column: usize,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.what, self.line, self.column)
    }
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan<'a> {
    /// A `tools` array was found (wrapped documents only).
    pub found_tools: bool,
    /// Each element, in order.
    pub elements: Vec<Element<'a>>,
    pub error: Option<ScanError>,
}

/// One element of the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    /// Its text.
    pub text: &'a str,
    /// An object's name: the raw JSON string (quotes and escapes included) of its last
    /// string-valued top-level `name`. `None` for anything else, and for an object that is not
    /// well-formed at its top level.
    pub name: Option<&'a str>,
}

/// Scans a top-level array (`wrapped == false`) or an object holding `tools`, or `result.tools`
/// (`wrapped == true`). `text` starts at the opening bracket.
pub(crate) fn scan(text: &str, wrapped: bool) -> Scan<'_> {
    let mut s = Scanner { text, b: text.as_bytes(), pos: 0 };
    let mut out = Scan::default();
    let outcome = if wrapped { s.wrapped(&mut out) } else { s.array(&mut out) };
    out.error = outcome.err();
    out
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn error(&self, what: &'static str) -> ScanError {
        let at = self.pos.min(self.b.len());
        let before = &self.b[..at];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let column = at - before.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1) + 1;
        ScanError { what, line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ScanError> {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// At a `"`: moves past the closing quote. Returns whether the string has escapes.
    fn string(&mut self) -> Result<bool, ScanError> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.b[self.pos.min(self.b.len())..]) {
                Some(i) if self.b[self.pos + i] == b'\\' => {
                    self.pos += i + 2;
                    escaped = true;
                }
                Some(i) => {
                    self.pos += i + 1;
                    return Ok(escaped);
                }
                None => {
                    self.pos = self.b.len();
                    return Err(self.error("unexpected end of input in a string"));
                }
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Result<(), ScanError> {
        self.whitespace();
        match self.peek() {
            None => Err(self.error("unexpected end of input, expected a value")),
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') => self.container(),
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'{' | b'[' | b':') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.error("expected a value"));
                }
                Ok(())
            }
        }
    }

    /// At `{` or `[`: moves past the matching closing bracket.
    fn container(&mut self) -> Result<(), ScanError> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Err(self.error("unexpected end of input, a bracket is not closed"))
    }

    /// At `[`: records every element.
    fn array(&mut self, out: &mut Scan<'a>) -> Result<(), ScanError> {
        self.expect(b'[', "expected `[`")?;
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let element = self.element()?;
            out.elements.push(element);
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return Err(self.error("unexpected end of input, expected `,` or `]`")),
                Some(_) => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// One element of an array, with its name when it is an object.
    fn element(&mut self) -> Result<Element<'a>, ScanError> {
        self.whitespace();
        let start = self.pos;
        let mut name = None;
        if self.peek() == Some(b'{') {
            match self.object() {
                Some(found) => name = found,
                // Not well-formed at the top level: skipped by brackets, as before.
                None => {
                    self.pos = start;
                    self.container()?;
                }
            }
        } else {
            self.value()?;
        }
        Ok(Element { text: &self.text[start..self.pos], name })
    }

    /// At `{`: walks the object's members and moves past it. Returns its name (see
    /// `Element::name`), or `None` when the object is not well-formed at its top level (its
    /// keys, colons, commas, its scalar values and its `name`, as `serde_json` reads them); the
    /// position is then anywhere inside it.
    ///
    /// Where this ends is where `container` would end: outside strings it only passes brackets
    /// through `container`, which balances them.
    fn object(&mut self) -> Option<Option<&'a str>> {
        self.pos += 1;
        let mut name = None;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(None);
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let (key, escaped) = self.checked_string()?;
            let is_name = if escaped { serde_json::from_str::<String>(key).ok()? == "name" } else { key == "\"name\"" };
            self.whitespace();
            if self.peek() != Some(b':') {
                return None;
            }
            self.pos += 1;
            self.whitespace();
            let start = self.pos;
            match self.peek()? {
                b'"' if is_name => name = Some(self.checked_string()?.0),
                b'"' => {
                    self.string().ok()?;
                }
                b'{' | b'[' => self.container().ok()?,
                _ => {
                    self.value().ok()?;
                    if !is_scalar(&self.b[start..self.pos]) {
                        return None;
                    }
                }
            }
            // A `name` of another type is ignored, but it must read as a `serde_json::Value`,
            // which numbers out of range and values nested too deeply do not (one level deeper
            // than alone, as in its record). The other members are skipped by `serde_json`
            // without such limits.
            if is_name && self.b[start] != b'"' {
                let value = format!("[{}]", &self.text[start..self.pos]);
                serde_json::from_str::<serde_json::Value>(&value).ok()?;
            }
            self.whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(name);
                }
                _ => return None,
            }
        }
    }

    /// At `"`: moves past a string and returns it, quotes included, and whether it has escapes,
    /// if `serde_json` reads it as a string (no control characters, valid escapes).
    fn checked_string(&mut self) -> Option<(&'a str, bool)> {
        let start = self.pos;
        let escaped = self.string().ok()?;
        let raw = &self.text[start..self.pos];
        let ok = if escaped { serde_json::from_str::<String>(raw).is_ok() } else { !raw.bytes().any(|c| c < 0x20) };
        ok.then_some((raw, escaped))
    }

    /// At `{`: looks for `tools` (or `result` holding it) and scans that array.
    fn wrapped(&mut self, out: &mut Scan<'a>) -> Result<(), ScanError> {
        self.expect(b'{', "expected `{`")?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let start = self.pos;
            self.string()?;
            let raw_key = &self.text[start..self.pos];
            let key = if raw_key.contains('\\') {
                serde_json::from_str::<String>(raw_key).unwrap_or_default()
            } else {
                raw_key[1..raw_key.len() - 1].to_string()
            };
            self.expect(b':', "expected `:`")?;
            self.whitespace();
            match (key.as_str(), self.peek()) {
                ("tools", Some(b'[')) if !out.found_tools => {
                    out.found_tools = true;
                    self.array(out)?;
                }
                ("result", Some(b'{')) if !out.found_tools => self.wrapped(out)?,
                _ => self.value()?,
            }
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return Err(self.error("unexpected end of input, expected `,` or `}`")),
                Some(_) => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

/// Whether a value other than a string, object or array is one `serde_json` reads: a literal or
/// a number.
fn is_scalar(token: &[u8]) -> bool {
    if matches!(token, b"true" | b"false" | b"null") {
        return true;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while token.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = usize::from(token.first() == Some(&b'-'));
    match token.get(i) {
        // One leading zero only.
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if token.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if let Some(b'e' | b'E') = token.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = token.get(i) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == token.len()
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    fn texts<'a>(s: &Scan<'a>) -> Vec<&'a str> {
        s.elements.iter().map(|e| e.text).collect()
    }

    /// The decoded names of an array's elements.
    fn names(text: &str) -> Vec<Option<String>> {
        let s = scan(text, false);
        assert!(s.error.is_none(), "{text}: {:?}", s.error);
        s.elements.iter().map(|e| e.name.map(|raw| serde_json::from_str::<String>(raw).unwrap())).collect()
    }

    /// A record's name as the whole record, parsed by `serde_json`, gives it (what the reader did
    /// before the scan kept names): the last string `name` of a record that parses, else none.
    struct ParsedName(Option<String>);

    impl<'de> Deserialize<'de> for ParsedName {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ParsedName;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a tool")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParsedName, A::Error> {
                    let mut name = None;
                    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                        if key == "name" {
                            if let Value::String(s) = map.next_value::<Value>()? {
                                name = Some(s);
                            }
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(ParsedName(name))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedName, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(ParsedName(None))
                }
                fn visit_bool<E>(self, _: bool) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
                fn visit_i64<E>(self, _: i64) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
                fn visit_u64<E>(self, _: u64) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
                fn visit_f64<E>(self, _: f64) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
                fn visit_str<E>(self, _: &str) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
                fn visit_unit<E>(self) -> Result<ParsedName, E> {
                    Ok(ParsedName(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn parsed_name(record: &str) -> Option<String> {
        serde_json::from_str::<ParsedName>(record).ok().and_then(|n| n.0)
    }

    /// Scans `record` as the one element of an array; checks that it ends where skipping it by
    /// brackets ends, and returns its decoded name.
    fn scanned_name(record: &str) -> Option<String> {
        let text = format!("[{record}]");
        let mut walk = Scanner { text: &text, b: text.as_bytes(), pos: 1 };
        let mut skip = Scanner { text: &text, b: text.as_bytes(), pos: 1 };
        let walked = walk.element();
        let skipped = skip.value();
        assert_eq!(walked.is_ok(), skipped.is_ok(), "{record}");
        assert_eq!(walk.pos, skip.pos, "{record}");
        let name = walked.ok()?.name?;
        Some(serde_json::from_str::<String>(name).expect("a scanned name decodes"))
    }

    #[test]
    fn elements_are_found_with_strings_skipped() {
        let s = scan(r#"[{"a":"x]\"}"}, [1,{"b":[2]}], "s", 3 , true]"#, false);
        assert_eq!(texts(&s), [r#"{"a":"x]\"}"}"#, r#"[1,{"b":[2]}]"#, r#""s""#, "3", "true"]);
        assert!(s.error.is_none());
    }

    #[test]
    fn tools_are_found_in_results_and_envelopes() {
        let s = scan(r#"{"jsonrpc":"2.0","id":{"x":[1]},"result":{"nextCursor":"c","tools":[{"name":"a"}]}}"#, true);
        assert!(s.found_tools);
        assert_eq!(s.elements, [Element { text: r#"{"name":"a"}"#, name: Some(r#""a""#) }]);
        let s = scan(r#"{"name":"a","tools":3}"#, true);
        assert!(!s.found_tools);
        let s = scan(r#"{"\u0074ools":[{}]}"#, true);
        assert!(s.found_tools);
    }

    #[test]
    fn a_break_keeps_what_came_before_and_says_where() {
        let s = scan("{\"tools\":[{\"name\":\"a\"},\n{\"name\":\"b\"} {\"name\":\"c\"}]}", true);
        assert_eq!(s.elements.len(), 2);
        assert_eq!(s.error.unwrap().to_string(), "expected `,` or `]` at line 2 column 14");
        let s = scan(r#"[{"name":"a"},{"name":"#, false);
        assert_eq!(s.elements.len(), 1);
        assert!(s.error.unwrap().what.starts_with("unexpected end of input"));
        let s = scan("[1,,2]", false);
        assert_eq!(texts(&s), ["1"]);
        assert!(s.error.is_some());
    }

    #[test]
    fn names_are_found_as_a_parse_finds_them() {
        let some = |n: &str| Some(n.to_string());
        // Kept raw; escapes in the name and in the key are decoded.
        let s = scan(r#"[{"name":"a\"b"}]"#, false);
        assert_eq!(s.elements[0].name, Some(r#""a\"b""#));
        assert_eq!(
            names(r#"[{"n\u0061me":"x\u00e9\n"}, {"na\/me":"y"}, {"nam\u0065" : "z"}]"#),
            [some("xé\n"), None, some("z")]
        );
        // The last string name wins; other types are ignored.
        assert_eq!(
            names(r#"[{"name":"a","x":1,"name":"b"}, {"name":"a","name":3}, {"name":null}]"#),
            [some("b"), some("a"), None]
        );
        assert_eq!(
            names(r#"[{"name":["x"]}, {"name":{"name":"x"}}, {"name":{"a":1},"name":"y"}]"#),
            [None, None, some("y")]
        );
        // Only the top level counts.
        assert_eq!(
            names(
                r#"[{"inputSchema":{"name":"x","properties":{"name":{"type":"string"}}}}, {"a":[{"name":"x"}],"name":"y"}]"#
            ),
            [None, some("y")]
        );
        // Elements that are not objects have no name.
        assert_eq!(names(r#"[["name","x"], "name", 3, null, true, []]"#), [None, None, None, None, None, None]);
        // Empty objects and whitespace.
        assert_eq!(names("[{}, { } ,\n{ \"name\" :\t\"a\" }\n]"), [None, None, some("a")]);
    }

    #[test]
    fn objects_malformed_at_the_top_level_have_no_name() {
        for record in [
            r#"{"name":"a",}"#,
            r#"{"name":"a" "b":1}"#,
            r#"{"name" "a"}"#,
            r#"{name:"a"}"#,
            r#"{"name":"a","x":tru}"#,
            r#"{"name":"a","x":01}"#,
            r#"{"name":"a","x":1.}"#,
            r#"{"name":"a","x":-}"#,
            r#"{"name":"a","x":1e}"#,
            r#"{"name":"a","x":}"#,
            r#"{"name":"a","x":1:2}"#,
            r#"{"name":"a\q"}"#,
            r#"{"name":"a\ud800"}"#,
            "{\"name\":\"a\tb\"}",
            "{\"na\tme\":\"a\",\"name\":\"b\"}",
            r#"{"n\x":1,"name":"a"}"#,
            r#"{"name":"a","name":1e400}"#,
            r#"{"name":"a","name":[1,}"#,
            r#"{"name":"a"]"#,
            r#"{"name":"a","x":[1}"#,
        ] {
            assert_eq!(scanned_name(record), None, "{record}");
            assert_eq!(parsed_name(record), None, "{record}");
        }
        // Skipped by brackets, as before: the elements are the same.
        let s = scan(r#"[{"name":"a",},{"name":"b"}]"#, false);
        assert_eq!(
            s.elements,
            [
                Element { text: r#"{"name":"a",}"#, name: None },
                Element { text: r#"{"name":"b"}"#, name: Some(r#""b""#) }
            ]
        );
        assert!(s.error.is_none());
    }

    #[test]
    fn a_record_malformed_deeper_inside_keeps_its_name() {
        // A parse of the whole record fails; the scan does not look inside other members.
        for record in [r#"{"name":"a","inputSchema":{"type":}}"#, r#"{"name":"a","description":"bad \q escape"}"#] {
            assert_eq!(scanned_name(record).as_deref(), Some("a"), "{record}");
            assert_eq!(parsed_name(record), None, "{record}");
        }
    }

    #[test]
    fn a_name_nested_too_deeply_to_parse_is_no_name() {
        // `serde_json` reads a record's `name` as a value, with a depth limit, and skips the
        // other members without one.
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let deep_member = format!(r#"{{"name":"a","x":{}}}"#, nested(1000));
        assert_eq!(parsed_name(&deep_member).as_deref(), Some("a"));
        assert_eq!(scanned_name(&deep_member).as_deref(), Some("a"));
        for depth in [125, 126, 127] {
            let deep_name = format!(r#"{{"name":"a","name":{}}}"#, nested(depth));
            assert_eq!(scanned_name(&deep_name), parsed_name(&deep_name), "{depth}");
        }
        assert_eq!(parsed_name(&format!(r#"{{"name":"a","name":{}}}"#, nested(126))).as_deref(), Some("a"));
        assert_eq!(parsed_name(&format!(r#"{{"name":"a","name":{}}}"#, nested(127))), None);
    }

    /// Edits of well-formed records, byte by byte: wherever the edited record still parses, the
    /// scan finds the name the parse finds, and it never finds another one.
    #[test]
    fn names_agree_with_a_parse_of_the_record() {
        let seeds = [
            r#"{"name":"get_x","description":"Gets \"x\".","inputSchema":{"type":"object","properties":{"name":{"type":"string"}}},"annotations":{"readOnlyHint":true}}"#,
            r#"{ "n\u0061me" : "a\u00e9\\b" , "k" : [ 1 , -2.5e+3 , null , false ] , "name" : 7 }"#,
            r#"{"title":"t","name":"x","name":{"a":[0]},"z":0.1E-2}"#,
        ];
        let edits: &[&str] = &[
            "", "\"", "\\", "{", "}", "[", "]", ":", ",", " ", "0", "1", "-", ".", "e", "t", "n", "u", "\t", "\u{1}",
            "name",
        ];
        let mut checked = 0;
        for seed in seeds {
            for at in 0..=seed.len() {
                for edit in edits {
                    for replace in [false, true] {
                        let end = if replace { (at + 1).min(seed.len()) } else { at };
                        let record = format!("{}{edit}{}", &seed[..at], &seed[end..]);
                        let parsed = parsed_name(&record);
                        let scanned = scanned_name(&record);
                        if serde_json::from_str::<IgnoredAny>(&record).is_ok() {
                            assert_eq!(scanned, parsed, "{record}");
                            checked += 1;
                        } else if parsed.is_some() {
                            assert_eq!(scanned, parsed, "{record}");
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn scalars_are_checked_as_serde_json_reads_them() {
        for good in ["0", "-0", "12", "1.5", "-0.0e0", "1E+9", "2e-3", "true", "false", "null"] {
            assert!(is_scalar(good.as_bytes()), "{good}");
            assert!(serde_json::from_str::<IgnoredAny>(good).is_ok(), "{good}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "tru", "nul", "truee", "NaN", "0x1", "1_0"] {
            assert!(!is_scalar(bad.as_bytes()), "{bad}");
            assert!(serde_json::from_str::<IgnoredAny>(bad).is_err(), "{bad}");
        }
    }
}
