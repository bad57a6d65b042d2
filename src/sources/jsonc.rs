//! JSONC to JSON: `//` and `/* */` comments and trailing commas, as VS Code and Zed write them.
//!
//! Hand-written rather than a crate: it is one pass over the bytes that blanks comments and
//! trailing commas with spaces, so serde_json parses the result and its line and column numbers
//! still point into the user's file. Strings (with their escapes) are left untouched.

/// The text with comments and trailing commas replaced by spaces (newlines kept), and a leading
/// byte-order mark dropped. Never fails: what is left for serde_json to reject, it reports.
pub(crate) fn strip(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = text.as_bytes().to_vec();
    blank_comments(&mut out);
    blank_trailing_commas(&mut out);
    // Only ASCII bytes outside strings were replaced by ASCII spaces, and a multi-byte character
    // never contains an ASCII byte, so the result is still UTF-8; the fallback is never taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn blank_comments(b: &mut [u8]) {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    b[i] = b' ';
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut j = i + 2;
                while j < b.len() && !(b[j] == b'*' && b.get(j + 1) == Some(&b'/')) {
                    j += 1;
                }
                // An unterminated comment runs to the end; serde_json then reports the missing
                // closing bracket.
                let end = (j + 2).min(b.len());
                for c in &mut b[i..end] {
                    if *c != b'\n' && *c != b'\r' {
                        *c = b' ';
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
}

fn blank_trailing_commas(b: &mut [u8]) {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b',' => {
                let next = b[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    b[i] = b' ';
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// The index just past the string that starts at `start` (a `"`), or the end of the text.
fn skip_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::strip;

    fn check(input: &str, expected: serde_json::Value) {
        let stripped = strip(input);
        let got: serde_json::Value = serde_json::from_str(&stripped).unwrap_or_else(|e| panic!("{e}: {stripped}"));
        assert_eq!(got, expected);
    }

    #[test]
    fn comments_and_trailing_commas_go() {
        check(
            "// head\n{\"a\": 1, /* inline */ \"b\": [1, 2,],\n // tail\n}",
            serde_json::json!({"a": 1, "b": [1, 2]}),
        );
        check("{\"a\": {\"b\": 1,\n},\n}\n", serde_json::json!({"a": {"b": 1}}));
    }

    #[test]
    fn strings_are_left_alone() {
        check(
            r#"{"url": "https://x.test/a//b", "s": "/* no */", "q": "say \"//\", ok", "c": ",}"}"#,
            serde_json::json!({"url": "https://x.test/a//b", "s": "/* no */", "q": "say \"//\", ok", "c": ",}"}),
        );
    }

    #[test]
    fn positions_are_kept() {
        let stripped = strip("{\n  // c\n  \"a\": 1,\n  \"b\": ]\n}");
        let err = serde_json::from_str::<serde_json::Value>(&stripped).unwrap_err();
        assert_eq!(err.line(), 4);
    }

    #[test]
    fn unterminated_things_do_not_panic() {
        for input in ["{\"a", "/* open", "{\"a\": \"\\", "//", ",", "\u{feff}{}", "{\"é\": 1 /* ü */}"] {
            let _ = strip(input);
        }
        check("\u{feff}{\"é\": 1 /* ü */}", serde_json::json!({"é": 1}));
    }
}
