//! An incremental Server-Sent Events parser (the WHATWG event-stream format), fed with whatever
//! chunks the network gives: lines end with LF, CRLF or CR (also split across chunks), `data:`
//! lines are joined with `\n`, `:` lines are comments, `event:` names the event, and an event whose
//! data is empty (a 2025-11-25 priming event) is not dispatched.

use std::collections::VecDeque;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The `event:` field; `message` when absent.
    pub(crate) name: String,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// The parser state between chunks.
#[derive(Debug)]
pub(crate) struct Parser {
    line: Vec<u8>,
    after_cr: bool,
    name: Option<String>,
    data: String,
    has_data: bool,
    max_event_bytes: usize,
    events: VecDeque<Event>,
}

impl Parser {
    /// A parser that refuses a line or an event's data longer than `max_event_bytes`.
    pub(crate) fn new(max_event_bytes: usize) -> Parser {
        Parser {
            line: Vec::new(),
            after_cr: false,
            name: None,
            data: String::new(),
            has_data: false,
            max_event_bytes,
            events: VecDeque::new(),
        }
    }

    /// Feeds a chunk. Fails when a line or an event grows over the limit.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut rest = chunk;
        // An empty chunk must not forget that the last one ended with CR (its LF may come next).
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_bytes(&rest[..end])?;
            let line = std::mem::take(&mut self.line);
            self.line_done(&line)?;
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => rest = &rest[end + 2..],
                    Some(_) => rest = &rest[end + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[end + 1..];
            }
        }
        self.push_bytes(rest)
    }

    /// The next complete event, if any.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// At the end of the stream: a last event not followed by an empty line is dispatched too
    /// (servers that close right after `data:` exist).
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line)?;
        }
        self.dispatch();
        Ok(())
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.line.len() + bytes.len() > self.max_event_bytes {
            return Err(format!("an event-stream line is over {} bytes", self.max_event_bytes));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8]) -> Result<(), String> {
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let value = &text[i + 1..];
                (&text[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(format!("an event is over {} bytes", self.max_event_bytes));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.name = Some(value.to_string()),
            // `id` and `retry` only matter for reconnecting, which we never do.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        let name = self.name.take().filter(|n| !n.is_empty()).unwrap_or_else(|| "message".to_string());
        let data = std::mem::take(&mut self.data);
        let had = std::mem::replace(&mut self.has_data, false);
        if had && !data.is_empty() {
            self.events.push_back(Event { name, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut p = Parser::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c).expect("feed");
            while let Some(e) = p.next_event() {
                out.push((e.name, e.data));
            }
        }
        p.finish().expect("finish");
        while let Some(e) = p.next_event() {
            out.push((e.name, e.data));
        }
        out
    }

    #[test]
    fn joins_data_lines_and_skips_priming_and_comments() {
        let got = events(&[b"id: 1\ndata: \n\n: keep-alive\nevent: message\ndata: {\"a\":\ndata: 1}\n\n"]);
        assert_eq!(got, vec![("message".to_string(), "{\"a\":\n1}".to_string())]);
    }

    #[test]
    fn crlf_split_across_chunks() {
        let got = events(&[b"event: endpoint\r", b"\ndata: /message?x=1\r", b"\n\r", b"\ndata:x\r\r"]);
        assert_eq!(
            got,
            vec![("endpoint".to_string(), "/message?x=1".to_string()), ("message".to_string(), "x".to_string())]
        );
    }

    #[test]
    fn byte_by_byte() {
        let text = b"data: {\"id\":1}\n\n";
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(events(&chunks), vec![("message".to_string(), "{\"id\":1}".to_string())]);
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf() {
        // Found by fuzzing: the LF of a CRLF after an empty chunk was read as a blank line, which
        // dispatched the event early and lost its name.
        let got = events(&[b"event: endpoint\r", b"", b"\ndata: /m\r\n\r\n"]);
        assert_eq!(got, vec![("endpoint".to_string(), "/m".to_string())]);
    }

    #[test]
    fn last_event_without_blank_line() {
        assert_eq!(events(&[b"data: tail"]), vec![("message".to_string(), "tail".to_string())]);
    }

    #[test]
    fn refuses_oversized_events() {
        let mut p = Parser::new(8);
        assert!(p.feed(b"data: 0123456789\n").is_err());
    }
}
