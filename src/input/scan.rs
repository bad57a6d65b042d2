//! A structural scan of JSON text: where the tools of a tools/list (or the elements of an array)
//! start and end, found without validating or building them.
//!
//! Each record is validated later, when it is parsed (`parse_item`, on any thread), so this pass
//! only has to follow brackets and skip strings, which it does with `memchr`. It is the one
//! sequential step of reading a big file, so it must be fast.

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
    /// The text of each element, in order.
    pub elements: Vec<&'a str>,
    pub error: Option<ScanError>,
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

    /// At a `"`: moves past the closing quote.
    fn string(&mut self) -> Result<(), ScanError> {
        self.pos += 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.b[self.pos.min(self.b.len())..]) {
                Some(i) if self.b[self.pos + i] == b'\\' => self.pos += i + 2,
                Some(i) => {
                    self.pos += i + 1;
                    return Ok(());
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
            Some(b'"') => self.string(),
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
            self.whitespace();
            let start = self.pos;
            self.value()?;
            out.elements.push(&self.text[start..self.pos]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_found_with_strings_skipped() {
        let s = scan(r#"[{"a":"x]\"}"}, [1,{"b":[2]}], "s", 3 , true]"#, false);
        assert_eq!(s.elements, [r#"{"a":"x]\"}"}"#, r#"[1,{"b":[2]}]"#, r#""s""#, "3", "true"]);
        assert!(s.error.is_none());
    }

    #[test]
    fn tools_are_found_in_results_and_envelopes() {
        let s = scan(r#"{"jsonrpc":"2.0","id":{"x":[1]},"result":{"nextCursor":"c","tools":[{"name":"a"}]}}"#, true);
        assert!(s.found_tools);
        assert_eq!(s.elements, [r#"{"name":"a"}"#]);
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
        assert_eq!(s.elements, ["1"]);
        assert!(s.error.is_some());
    }
}
