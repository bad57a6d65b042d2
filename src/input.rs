//! Reading tool definitions from files: a `tools/list` result (`{"tools":[...]}`, bare or inside a
//! JSON-RPC response), a JSON array of tools, one tool object, or JSONL records.
//!
//! Reading is tolerant and streaming: each tool is handed to a callback as soon as it is parsed,
//! a bad record is reported by its location and the others still arrive, and a whole-file
//! problem (not JSON at all, truncated) keeps what was read before it.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{Annotations, Hint, ToolInput};

/// The longest name kept; longer names are cut (and reported).
pub const MAX_NAME_CHARS: usize = 512;

/// The shape an input file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `{"tools":[...]}`, or a JSON-RPC response whose `result` is one.
    ToolsList,
    /// `[{...}, ...]`.
    Array,
    /// One tool object.
    Object,
    /// One JSON object per line.
    Jsonl,
}

impl InputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::ToolsList => "tools/list",
            InputFormat::Array => "array",
            InputFormat::Object => "object",
            InputFormat::Jsonl => "jsonl",
        }
    }
}

/// A record that could not be used, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// `line 3`, `tools[2]`, or `file` for whole-file problems.
    pub location: String,
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What reading a whole input produced besides the tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSummary {
    pub format: Option<InputFormat>,
    pub tools: usize,
    pub problems: Vec<InputProblem>,
}

/// Turns one JSON record into a tool. Unknown fields are ignored; `name` is required and must be
/// a non-empty string.
pub fn parse_record(value: &Value) -> Result<ToolInput, String> {
    let obj = value.as_object().ok_or_else(|| format!("expected a JSON object, found {}", kind(value)))?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err("`name` is empty".into()),
        Some(other) => return Err(format!("`name` must be a string, found {}", kind(other))),
        None => return Err("no `name` field".into()),
    };
    let name =
        if name.chars().count() > MAX_NAME_CHARS { name.chars().take(MAX_NAME_CHARS).collect() } else { name.clone() };
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    let annotations = obj.get("annotations").and_then(parse_annotations);
    let title = text("title")
        .or_else(|| obj.get("annotations").and_then(|a| a.get("title")).and_then(Value::as_str).map(str::to_string));
    let input_schema = obj.get("input_schema").or_else(|| obj.get("inputSchema")).filter(|v| v.is_object()).cloned();
    let siblings = obj
        .get("siblings")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(ToolInput {
        server: text("server"),
        name,
        title,
        description: text("description"),
        input_schema,
        annotations,
        siblings,
    })
}

/// Reads MCP `ToolAnnotations`, accepting `"true"`/`"false"` strings from sloppy servers.
fn parse_annotations(value: &Value) -> Option<Annotations> {
    let obj = value.as_object()?;
    let mut ann = Annotations::default();
    for hint in Hint::ALL {
        let v = match obj.get(hint.mcp_name()) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        match hint {
            Hint::ReadOnly => ann.read_only = v,
            Hint::Destructive => ann.destructive = v,
            Hint::Idempotent => ann.idempotent = v,
            Hint::OpenWorld => ann.open_world = v,
        }
    }
    (!ann.is_empty()).then_some(ann)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads every tool in `text`, calling `each` with the tool and its location as it goes.
///
/// In a tools/list or an array, a tool's siblings are the other tools of the same input (kept
/// as given when a record lists its own `siblings`): `each` receives the names of the whole
/// input once, through `on_names`, before the first tool.
pub fn read_tools(
    text: &str,
    mut on_names: impl FnMut(&[String]),
    mut each: impl FnMut(ToolInput, &str),
) -> InputSummary {
    let mut summary = InputSummary { format: None, tools: 0, problems: Vec::new() };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        summary.problems.push(InputProblem { location: "file".into(), message: "the input is empty".into() });
        return summary;
    }
    let mut emit = |summary: &mut InputSummary, value: &Value, location: &str| match parse_record(value) {
        Ok(tool) => {
            summary.tools += 1;
            each(tool, location);
        }
        Err(message) => summary.problems.push(InputProblem { location: location.to_string(), message }),
    };
    match trimmed.as_bytes()[0] {
        b'[' => {
            summary.format = Some(InputFormat::Array);
            on_names(&collect_names(trimmed, false));
            stream_array(trimmed, false, &mut summary, &mut emit);
        }
        b'{' => {
            // One JSON document (a tools/list result or one tool), or JSONL if it is not one.
            match serde_json::from_str::<Shape>(trimmed) {
                Ok(Shape { tools: true, .. }) | Ok(Shape { result_tools: true, .. }) => {
                    summary.format = Some(InputFormat::ToolsList);
                    on_names(&collect_names(trimmed, true));
                    stream_array(trimmed, true, &mut summary, &mut emit);
                }
                Ok(_) => match serde_json::from_str::<Value>(trimmed) {
                    Ok(value) => {
                        summary.format = Some(InputFormat::Object);
                        emit(&mut summary, &value, "object");
                    }
                    Err(e) => summary
                        .problems
                        .push(InputProblem { location: "file".into(), message: format!("invalid JSON: {e}") }),
                },
                Err(e) if e.is_syntax() && e.line() > 1 && looks_like_jsonl(trimmed) => {
                    summary.format = Some(InputFormat::Jsonl);
                    read_jsonl(text, &mut summary, &mut emit);
                }
                Err(e) if e.is_eof() || e.is_syntax() => {
                    // A single document that breaks part-way: keep what came before the break.
                    if trimmed.contains("\"tools\"") {
                        summary.format = Some(InputFormat::ToolsList);
                        on_names(&collect_names(trimmed, true));
                        stream_array(trimmed, true, &mut summary, &mut emit);
                    } else {
                        summary
                            .problems
                            .push(InputProblem { location: "file".into(), message: format!("invalid JSON: {e}") });
                    }
                }
                Err(e) => summary.problems.push(InputProblem {
                    location: "file".into(),
                    message: format!("a JSON object that is neither a tools/list result nor a tool: {e}"),
                }),
            }
        }
        _ => {
            if looks_like_jsonl(trimmed) {
                summary.format = Some(InputFormat::Jsonl);
                read_jsonl(text, &mut summary, &mut emit);
            } else {
                summary.problems.push(InputProblem {
                    location: "file".into(),
                    message: "not JSON: expected a tools/list result {\"tools\":[...]}, a JSON array of tools, or JSONL records".into(),
                });
            }
        }
    }
    summary
}

/// True when at least one line starts like a JSON object.
fn looks_like_jsonl(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with('{'))
}

fn read_jsonl(text: &str, summary: &mut InputSummary, emit: &mut impl FnMut(&mut InputSummary, &Value, &str)) {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let location = format!("line {}", i + 1);
        match serde_json::from_str::<Value>(line) {
            Ok(value) => emit(summary, &value, &location),
            Err(e) => summary.problems.push(InputProblem { location, message: format!("not a JSON record: {e}") }),
        }
    }
}

/// Just enough of a document to tell a tools/list result from a tool.
#[derive(Default)]
struct Shape {
    tools: bool,
    result_tools: bool,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "tools" => shape.tools |= map.next_value::<IsArray>()?.0,
                        "result" => shape.result_tools |= map.next_value::<ResultShape>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(shape)
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a value is an array, without building it.
struct IsArray(bool);

impl<'de> Deserialize<'de> for IsArray {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsArray;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IsArray, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IsArray(true))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsArray, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IsArray(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_unit<E>(self) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a JSON-RPC `result` holds a `tools` array, without building it.
struct ResultShape(bool);

impl<'de> Deserialize<'de> for ResultShape {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResultShape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultShape, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "tools" {
                        found |= map.next_value::<IsArray>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ResultShape(found))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultShape, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ResultShape(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
            fn visit_unit<E>(self) -> Result<ResultShape, E> {
                Ok(ResultShape(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// The names of every tool in the input, for sibling context. Stops quietly at a syntax error.
fn collect_names(text: &str, wrapped: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut summary = InputSummary { format: None, tools: 0, problems: Vec::new() };
    let mut take = |_: &mut InputSummary, v: &Value, _: &str| {
        if let Some(n) = v.get("name").and_then(Value::as_str) {
            names.push(n.to_string());
        }
    };
    stream_array(text, wrapped, &mut summary, &mut take);
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Streams the elements of a top-level array, or of `tools` (or `result.tools`) when `wrapped`,
/// one `Value` at a time, so a huge list never sits in memory as one tree.
fn stream_array(
    text: &str,
    wrapped: bool,
    summary: &mut InputSummary,
    emit: &mut impl FnMut(&mut InputSummary, &Value, &str),
) {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut sink = Sink { summary, emit, index: 0 };
    let outcome = if wrapped {
        de::Deserializer::deserialize_map(&mut de, Wrapped { sink: &mut sink })
    } else {
        de::Deserializer::deserialize_seq(&mut de, Elements { sink: &mut sink })
    };
    if let Err(e) = outcome {
        let read = sink.index;
        sink.summary.problems.push(InputProblem {
            location: "file".into(),
            message: format!("invalid JSON, stopped reading after {read} tool(s): {e}"),
        });
    }
}

struct Sink<'a, F> {
    summary: &'a mut InputSummary,
    emit: &'a mut F,
    index: usize,
}

struct Elements<'s, 'a, F> {
    sink: &'s mut Sink<'a, F>,
}

impl<'de, F: FnMut(&mut InputSummary, &Value, &str)> Visitor<'de> for Elements<'_, '_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tools")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            let location = format!("tools[{}]", self.sink.index);
            self.sink.index += 1;
            (self.sink.emit)(self.sink.summary, &value, &location);
        }
        Ok(())
    }
}

impl<'de, F: FnMut(&mut InputSummary, &Value, &str)> DeserializeSeed<'de> for Elements<'_, '_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

struct Wrapped<'s, 'a, F> {
    sink: &'s mut Sink<'a, F>,
}

impl<'de, F: FnMut(&mut InputSummary, &Value, &str)> Visitor<'de> for Wrapped<'_, '_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tools/list result")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "tools" => map.next_value_seed(Elements { sink: &mut *self.sink })?,
                "result" => map.next_value_seed(WrappedSeed { sink: &mut *self.sink })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct WrappedSeed<'s, 'a, F> {
    sink: &'s mut Sink<'a, F>,
}

impl<'de, F: FnMut(&mut InputSummary, &Value, &str)> DeserializeSeed<'de> for WrappedSeed<'_, '_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(Wrapped { sink: self.sink })
    }
}

/// Groups tool names by server for sibling contexts when records carry their own lists.
pub fn sibling_key(tool: &ToolInput) -> (Option<String>, Vec<String>) {
    let mut names: Vec<String> = tool.siblings.iter().chain(std::iter::once(&tool.name)).cloned().collect();
    names.sort();
    names.dedup();
    (tool.server.clone(), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<(String, String)>, Vec<String>, InputSummary) {
        let mut got = Vec::new();
        let mut names = Vec::new();
        let summary = read_tools(text, |n| names = n.to_vec(), |t, loc| got.push((t.name, loc.to_string())));
        (got, names, summary)
    }

    #[test]
    fn tools_list_with_one_broken_tool_keeps_the_others() {
        let (got, names, s) = read(r#"{"tools":[{"name":"a"},{"name":42},{"description":"x"},{"name":"b"}]}"#);
        assert_eq!(got, [("a".into(), "tools[0]".into()), ("b".into(), "tools[3]".into())]);
        assert_eq!(names, ["a", "b"]);
        assert_eq!(s.format, Some(InputFormat::ToolsList));
        assert_eq!(s.problems.len(), 2);
        assert_eq!(s.problems[0].location, "tools[1]");
        assert!(s.problems[0].message.contains("must be a string"), "{:?}", s.problems);
    }

    #[test]
    fn json_rpc_envelope_is_unwrapped() {
        let (got, _, s) = read(r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"nextCursor":null}}"#);
        assert_eq!(got.len(), 1);
        assert_eq!(s.format, Some(InputFormat::ToolsList));
    }

    #[test]
    fn jsonl_reports_bad_lines_by_number() {
        let (got, _, s) = read("{\"name\":\"a\"}\nnot json\n\n{\"name\":\"\"}\n{\"name\":\"b\"}\n");
        assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.format, Some(InputFormat::Jsonl));
        let locs: Vec<_> = s.problems.iter().map(|p| p.location.as_str()).collect();
        assert_eq!(locs, ["line 2", "line 4"]);
    }

    #[test]
    fn truncated_tools_list_keeps_what_came_before() {
        let (got, _, s) = read(r#"{"tools":[{"name":"a"},{"name":"b"},{"name":"#);
        assert_eq!(got.len(), 2);
        assert!(s.problems.iter().any(|p| p.message.contains("stopped reading after 2")), "{:?}", s.problems);
    }

    #[test]
    fn not_json_is_one_clear_problem() {
        let (got, _, s) = read("hello world\nthis is text");
        assert!(got.is_empty());
        assert_eq!(s.problems.len(), 1);
        assert!(s.problems[0].message.starts_with("not JSON"));
    }

    #[test]
    fn input_schema_in_both_spellings_and_string_hints() {
        let v: Value = serde_json::json!({"name":"a","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":"true","title":"A"}});
        let t = parse_record(&v).unwrap();
        assert!(t.input_schema.is_some());
        assert_eq!(t.annotations.unwrap().read_only, Some(true));
        assert_eq!(t.title.as_deref(), Some("A"));
    }
}
