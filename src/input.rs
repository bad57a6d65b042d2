//! Reading tool definitions from files: a `tools/list` result (`{"tools":[...]}`, bare or inside a
//! JSON-RPC response), a JSON array of tools, one tool object, or JSONL records.
//!
//! Reading is tolerant and streaming: each tool is handed to a callback as soon as it is parsed,
//! a bad record is reported by its location and the others still arrive, and a whole-file
//! problem (not JSON at all, truncated) keeps what was read before it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

mod scan;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{Annotations, Hint, Param, Schema, ToolInput};

/// The longest name kept; longer names are cut to this many characters.
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
pub fn parse_record(value: Value) -> Result<ToolInput, String> {
    let record = RawRecord::deserialize(value).map_err(|e| format!("not a tool record: {e}"))?;
    record.into_tool()
}

/// A tool record as read: the fields the classifier uses, the input schema already reduced to
/// its parameters. Everything else is skipped without being built.
#[derive(Default)]
struct RawRecord {
    /// Not a JSON object at all: the kind found.
    not_object: Option<&'static str>,
    name: Option<Value>,
    title: Option<String>,
    description: Option<String>,
    server: Option<String>,
    annotations: Option<Value>,
    /// `input_schema`, preferred over `inputSchema` when a record has both.
    input_schema: Option<Option<Schema>>,
    input_schema_camel: Option<Option<Schema>>,
    siblings: Vec<String>,
}

impl RawRecord {
    fn not_object(found: &'static str) -> RawRecord {
        RawRecord { not_object: Some(found), ..RawRecord::default() }
    }

    fn into_tool(self) -> Result<ToolInput, String> {
        if let Some(found) = self.not_object {
            return Err(format!("expected a JSON object, found {found}"));
        }
        let name = match self.name {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::String(_)) => return Err("`name` is empty".into()),
            Some(other) => return Err(format!("`name` must be a string, found {}", kind(&other))),
            None => return Err("no `name` field".into()),
        };
        let name =
            if name.chars().count() > MAX_NAME_CHARS { name.chars().take(MAX_NAME_CHARS).collect() } else { name };
        let annotations = self.annotations.as_ref().and_then(parse_annotations);
        let title = self.title.or_else(|| {
            self.annotations.as_ref().and_then(|a| a.get("title")).and_then(Value::as_str).map(str::to_string)
        });
        Ok(ToolInput {
            server: self.server,
            name,
            title,
            description: self.description,
            input_schema: self.input_schema.or(self.input_schema_camel).flatten(),
            annotations,
            siblings: self.siblings,
        })
    }
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord, A::Error> {
                let mut r = RawRecord::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "name" => r.name = Some(map.next_value()?),
                        "title" => r.title = map.next_value::<MaybeString>()?.0,
                        "description" => r.description = map.next_value::<MaybeString>()?.0,
                        "server" => r.server = map.next_value::<MaybeString>()?.0,
                        "annotations" => r.annotations = Some(map.next_value()?),
                        "input_schema" => r.input_schema = Some(map.next_value_seed(SchemaSeed)?),
                        "inputSchema" => r.input_schema_camel = Some(map.next_value_seed(SchemaSeed)?),
                        "siblings" => r.siblings = map.next_value::<Strings>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRecord, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawRecord::not_object("an array"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("a string"))
            }
            fn visit_unit<E>(self) -> Result<RawRecord, E> {
                Ok(RawRecord::not_object("null"))
            }
        }
        d.deserialize_any(V)
    }
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

/// Where a record was in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The n-th element of a tools/list or array (`tools[3]`).
    Element(usize),
    /// A line of a JSONL file, counting from 1.
    Line(usize),
    /// The input was one object.
    Object,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Element(i) => write!(f, "tools[{i}]"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Object => f.write_str("object"),
        }
    }
}

/// One record's JSON text, not parsed yet.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub raw: &'a str,
    pub location: Location,
    /// The record's name as `split` found it in a tools/list or an array: the raw JSON string
    /// (quotes and escapes included) of the object's last string-valued top-level `name`. Only
    /// those inputs are scanned for names: `None` for JSONL lines, single objects and records
    /// made elsewhere, as for records without a string `name`. See `name`.
    pub raw_name: Option<&'a str>,
}

impl<'a> Item<'a> {
    /// A record whose name was not looked for (`raw_name` is `None`).
    pub fn new(raw: &'a str, location: Location) -> Item<'a> {
        Item { raw, location, raw_name: None }
    }

    /// The name found by `split` (see `raw_name`), decoded.
    pub fn name(&self) -> Option<Cow<'a, str>> {
        let raw = self.raw_name?;
        if raw.contains('\\') {
            // The scan checked that it decodes.
            serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
        } else {
            raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).map(Cow::Borrowed)
        }
    }
}

/// An input split into records: the cheap, sequential first step, which finds where every
/// record is without building any of them, so the records can be parsed in parallel.
#[derive(Debug)]
pub struct Split<'a> {
    pub format: Option<InputFormat>,
    pub items: Vec<Item<'a>>,
    /// Whole-file problems: not JSON, or broken part-way (the items before the break are kept).
    pub problems: Vec<InputProblem>,
}

impl Split<'_> {
    /// In a tools/list or an array, the names of every tool, each once: each tool's siblings.
    /// `None` for JSONL and single objects, whose records carry their own `siblings`.
    ///
    /// The names were found by the scan (see `Item::raw_name`), so nothing is parsed again. They
    /// are the names the records have when parsed, except that a record with bad JSON inside a
    /// member other than `name` (which fails to parse) still contributes its name.
    pub fn names(&self) -> Option<Vec<String>> {
        if !self.has_shared_siblings() {
            return None;
        }
        let names = names_of(&self.items);
        let mut seen: HashSet<&str> = HashSet::with_capacity(names.len());
        Some(names.iter().filter(|n| seen.insert(n)).map(|n| n.to_string()).collect())
    }

    /// Whether the records' siblings are the other records of the input (see `names`).
    pub fn has_shared_siblings(&self) -> bool {
        matches!(self.format, Some(InputFormat::ToolsList | InputFormat::Array))
    }
}

/// The names `split` found in some records (see `Item::raw_name`), in order, duplicates kept.
pub fn names_of<'a>(items: &[Item<'a>]) -> Vec<Cow<'a, str>> {
    items.iter().filter_map(Item::name).collect()
}

/// Finds the records of a tools/list result (bare or inside a JSON-RPC response), a JSON array,
/// one object, or JSONL.
pub fn split(text: &str) -> Split<'_> {
    let mut out = Split { format: None, items: Vec::new(), problems: Vec::new() };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        out.problems.push(InputProblem { location: "file".into(), message: "the input is empty".into() });
        return out;
    }
    fn items<'a>(scan: &scan::Scan<'a>) -> Vec<Item<'a>> {
        let elements = scan.elements.iter().enumerate();
        elements.map(|(i, e)| Item { raw: e.text, location: Location::Element(i), raw_name: e.name }).collect()
    }
    match trimmed.as_bytes()[0] {
        b'[' => {
            out.format = Some(InputFormat::Array);
            let pass = scan::scan(trimmed, false);
            out.items = items(&pass);
            report_break(&mut out.problems, pass);
        }
        b'{' => {
            let pass = scan::scan(trimmed, true);
            if pass.found_tools {
                out.format = Some(InputFormat::ToolsList);
                out.items = items(&pass);
                report_break(&mut out.problems, pass);
            } else {
                match serde_json::from_str::<&Value_>(trimmed) {
                    Ok(raw) => {
                        out.format = Some(InputFormat::Object);
                        out.items.push(Item::new(raw.get(), Location::Object));
                    }
                    Err(e)
                        if e.is_syntax()
                            && (e.line() > 1 || next_line_is_object(trimmed))
                            && looks_like_jsonl(trimmed) =>
                    {
                        out.format = Some(InputFormat::Jsonl);
                        out.items = jsonl_items(trimmed);
                    }
                    Err(e) => out
                        .problems
                        .push(InputProblem { location: "file".into(), message: format!("invalid JSON: {e}") }),
                }
            }
        }
        _ => {
            if looks_like_jsonl(trimmed) {
                out.format = Some(InputFormat::Jsonl);
                out.items = jsonl_items(trimmed);
            } else {
                out.problems.push(InputProblem {
                    location: "file".into(),
                    message: "not JSON: expected a tools/list result {\"tools\":[...]}, a JSON array of tools, or JSONL records".into(),
                });
            }
        }
    }
    out
}

type Value_ = serde_json::value::RawValue;

/// Parses one record into a tool.
pub fn parse_item(item: &Item<'_>) -> Result<ToolInput, InputProblem> {
    let problem = |message: String| InputProblem { location: item.location.to_string(), message };
    let record = serde_json::from_str::<RawRecord>(item.raw).map_err(|e| problem(format!("not a JSON record: {e}")))?;
    record.into_tool().map_err(problem)
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
    let split = split(text);
    if let Some(names) = split.names() {
        on_names(&names);
    }
    let mut summary = InputSummary { format: split.format, tools: 0, problems: Vec::new() };
    let mut location = String::new();
    for item in &split.items {
        match parse_item(item) {
            Ok(tool) => {
                use std::fmt::Write as _;
                summary.tools += 1;
                location.clear();
                let _ = write!(location, "{}", item.location);
                each(tool, &location);
            }
            Err(problem) => summary.problems.push(problem),
        }
    }
    summary.problems.extend(split.problems);
    summary
}

/// A document that breaks part-way keeps the tools before the break, and says where it broke.
fn report_break(problems: &mut Vec<InputProblem>, pass: scan::Scan<'_>) {
    if let Some(e) = pass.error {
        problems.push(InputProblem {
            location: "file".into(),
            message: format!("invalid JSON, stopped reading after {} tool(s): {e}", pass.elements.len()),
        });
    }
}

/// True when at least one line starts like a JSON object.
fn looks_like_jsonl(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with('{'))
}

/// True when the second non-empty line is a JSON object on its own: JSONL whose first record is
/// broken, rather than one object written over several lines.
fn next_line_is_object(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).skip(1);
    lines.next().is_some_and(|l| l.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok())
}

fn jsonl_items(text: &str) -> Vec<Item<'_>> {
    text.lines()
        .enumerate()
        .map(|(i, line)| Item::new(line.trim(), Location::Line(i + 1)))
        .filter(|item| !item.raw.is_empty())
        .collect()
}

/// Visitor methods that turn every scalar into `$value` (for visitors that only care about
/// objects and arrays).
macro_rules! scalars_become {
    ($ty:ty, $value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($value)
        }
    };
}

/// How deep into nested schemas parameters are collected.
const MAX_SCHEMA_DEPTH: usize = 4;
/// How many parameters are collected at most, so a hostile schema stays cheap.
const MAX_PARAMS: usize = 512;
/// How many `enum`/`const` values are kept per parameter.
const MAX_VALUES: usize = 64;
/// How many `anyOf`/`oneOf`/`allOf` branches are walked per schema.
const MAX_VARIANTS: usize = 16;

/// Reduces a JSON schema (as a `serde_json::Value`) to its parameters, as the reader does while
/// parsing. `None` when it is not an object.
pub fn schema_of(value: &Value) -> Option<Schema> {
    SchemaSeed.deserialize(value).ok().flatten()
}

/// A top-level input schema: its parameters, nested ones after their parent (see `Schema`).
struct SchemaSeed;

impl<'de> DeserializeSeed<'de> for SchemaSeed {
    type Value = Option<Schema>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Schema>, D::Error> {
        let mut params = Vec::new();
        let mut count = 0;
        let node = NodeSeed { depth: 0, walk_items: false, out: &mut params, count: &mut count }.deserialize(d)?;
        Ok(node.map(|_| Schema { params }))
    }
}

/// One schema object. Its `properties` become parameters at `depth` (when not too deep); a
/// property's own schema is a node one level deeper, and so are `anyOf`/`oneOf`/`allOf`
/// branches. The `items` of a property are walked at the property's depth.
struct NodeSeed<'a> {
    depth: usize,
    /// Whether `items` is walked (a property's schema) or only noted.
    walk_items: bool,
    out: &'a mut Vec<Param>,
    count: &'a mut usize,
}

/// What a schema node says about the parameter it describes.
#[derive(Default)]
struct NodeInfo {
    ty: Option<Cow<'static, str>>,
    has_properties: bool,
    has_items: bool,
    enum_values: Vec<String>,
    item_values: Vec<String>,
    constant: Option<String>,
}

impl NodeInfo {
    fn type_name(&mut self) -> Cow<'static, str> {
        match self.ty.take() {
            Some(t) => t,
            None if self.has_properties => Cow::Borrowed("object"),
            None if self.has_items => Cow::Borrowed("array"),
            None => Cow::Borrowed("any"),
        }
    }

    fn values(self) -> Vec<String> {
        let mut values = self.enum_values;
        values.extend(self.item_values);
        values.extend(self.constant);
        values.truncate(MAX_VALUES);
        values
    }
}

/// A schema's `type`: a name, or the first name of a list that is not `null`.
fn type_of(value: Value) -> Option<Cow<'static, str>> {
    fn known(s: &str) -> Cow<'static, str> {
        match s {
            "string" => Cow::Borrowed("string"),
            "number" => Cow::Borrowed("number"),
            "integer" => Cow::Borrowed("integer"),
            "boolean" => Cow::Borrowed("boolean"),
            "object" => Cow::Borrowed("object"),
            "array" => Cow::Borrowed("array"),
            "null" => Cow::Borrowed("null"),
            other => Cow::Owned(other.to_string()),
        }
    }
    match value {
        Value::String(s) => Some(known(&s)),
        Value::Array(list) => Some(
            list.iter().filter_map(Value::as_str).find(|t| *t != "null").map(known).unwrap_or(Cow::Borrowed("any")),
        ),
        _ => None,
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    /// `None` when the value is not an object (then nothing was collected).
    type Value = Option<NodeInfo>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<NodeInfo>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Option<NodeInfo>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON schema")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<NodeInfo>, A::Error> {
        let NodeSeed { depth, walk_items, out, count } = self;
        let shallow = depth <= MAX_SCHEMA_DEPTH;
        let mut info = NodeInfo::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => info.ty = type_of(map.next_value()?),
                "properties" if shallow => {
                    info.has_properties = map.next_value_seed(PropertiesSeed { depth, out, count })?;
                }
                "properties" => info.has_properties = map.next_value::<IsObject>()?.0,
                "items" => {
                    info.has_items = true;
                    if walk_items {
                        let node = NodeSeed { depth, walk_items: false, out, count };
                        if let Some(items) = map.next_value_seed(node)? {
                            info.item_values = items.enum_values;
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                "enum" => info.enum_values = map.next_value::<Strings>()?.0,
                "const" => info.constant = map.next_value::<MaybeString>()?.0,
                "anyOf" | "oneOf" | "allOf" if shallow => {
                    map.next_value_seed(VariantsSeed { depth: depth + 1, out, count })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(info))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<NodeInfo>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_become!(Option<NodeInfo>, None);
}

/// A schema's `properties`: each becomes a parameter, its schema a node one level deeper.
/// Answers whether it was an object.
struct PropertiesSeed<'a> {
    depth: usize,
    out: &'a mut Vec<Param>,
    count: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("schema properties")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let PropertiesSeed { depth, out, count } = self;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if *count >= MAX_PARAMS {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            *count += 1;
            let at = out.len();
            out.push(Param { name: key.into_owned(), ty: Cow::Borrowed("any"), values: Vec::new() });
            let node = NodeSeed { depth: depth + 1, walk_items: true, out: &mut *out, count: &mut *count };
            match map.next_value_seed(node)? {
                Some(mut info) => {
                    out[at].ty = info.type_name();
                    out[at].values = info.values();
                }
                // Not a schema object: nothing nested was collected, so it is the last one.
                None => {
                    out.truncate(at);
                }
            }
        }
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    scalars_become!(bool, false);
}

/// The branches of `anyOf`/`oneOf`/`allOf`: the first few walked as nodes, the rest skipped.
struct VariantsSeed<'a> {
    depth: usize,
    out: &'a mut Vec<Param>,
    count: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for VariantsSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for VariantsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of schemas")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let VariantsSeed { depth, out, count } = self;
        let mut walked = 0;
        loop {
            if walked < MAX_VARIANTS {
                let node = NodeSeed { depth, walk_items: false, out: &mut *out, count: &mut *count };
                if seq.next_element_seed(node)?.is_none() {
                    return Ok(());
                }
                walked += 1;
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_become!((), ());
}

/// Whether a value is an object, skipped without being built.
struct IsObject(bool);

impl<'de> Deserialize<'de> for IsObject {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IsObject(true))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IsObject, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IsObject(false))
            }
            scalars_become!(IsObject, IsObject(false));
        }
        d.deserialize_any(V)
    }
}

/// A string, or `None` for any other value (skipped without being built).
struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The strings of a list (other elements skipped); empty for
/// anything but a list.
struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<MaybeString>()? {
                    out.extend(s.0);
                }
                Ok(Strings(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strings, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Strings(Vec::new()))
            }
            scalars_become!(Strings, Strings(Vec::new()));
        }
        d.deserialize_any(V)
    }
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
    fn names_come_from_the_scan_once_each_in_order() {
        let tools =
            split(r#"{"tools":[{"name":"b"},{"name":"a\u00e9"},{"name":"b"},[1],{"name":7},{"x":{"name":"c"}}]}"#);
        assert_eq!(tools.names().unwrap(), ["b", "aé"]);
        let names: Vec<_> = tools.items.iter().map(Item::name).collect();
        assert_eq!(names, [Some("b".into()), Some("aé".into()), Some("b".into()), None, None, None]);
        // JSONL records and single objects carry their own siblings.
        assert_eq!(split("{\"name\":\"a\"}\n{\"name\":\"b\"}\n").names(), None);
        assert_eq!(split(r#"{"name":"a"}"#).names(), None);
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
    fn jsonl_with_a_broken_first_line_keeps_the_rest() {
        // Found by fuzzing: the whole file was refused as invalid JSON at line 1.
        let (got, _, s) = read("{\"name\":\"a\" \"x\"}\n{\"name\":\"b\"}\n");
        assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.format, Some(InputFormat::Jsonl));
        assert_eq!(s.problems.iter().map(|p| p.location.as_str()).collect::<Vec<_>>(), ["line 1"]);
        // One object over several lines that breaks on its first line is still one broken object.
        let (got, _, s) = read("{\"name\" \"a\",\n  \"description\": \"d\"\n}\n");
        assert!(got.is_empty());
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
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
    fn schemas_are_reduced_to_their_parameters() {
        let text = r#"{"tools":[{"name":"a","outputSchema":{"x":1},"inputSchema":{"type":"object","description":"long","properties":{"ids":{"type":"array","description":"d","items":{"type":"string","enum":["x"]}},"mode":{"anyOf":[{"const":"fast","title":"t"}]},"opts":{"properties":{"force":{"type":["null","boolean"]}}},"bad":3}}}]}"#;
        let mut got = Vec::new();
        read_tools(text, |_| {}, |t, _| got.push(t));
        let schema = got[0].input_schema.clone().unwrap();
        let params: Vec<_> = schema.params.iter().map(|p| (p.name.as_str(), &*p.ty, p.values.join(","))).collect();
        assert_eq!(
            params,
            [
                ("ids", "array", "x".to_string()),
                ("mode", "any", String::new()),
                ("opts", "object", String::new()),
                ("force", "boolean", String::new()),
            ]
        );
    }

    #[test]
    fn hostile_schemas_stay_bounded() {
        // Deeper than the walk goes, wider than the parameter cap, branches past the cap.
        let mut deep = serde_json::json!({"type": "string"});
        for i in 0..40 {
            deep = serde_json::json!({"type": "object", "properties": {format!("p{i}"): deep}});
        }
        let wide: serde_json::Map<String, Value> =
            (0..2000).map(|i| (format!("w{i}"), serde_json::json!({"type": "string"}))).collect();
        let branches: Vec<Value> =
            (0..100).map(|i| serde_json::json!({"properties": {format!("b{i}"): {"type": "string"}}})).collect();
        let deep = schema_of(&deep).unwrap();
        assert_eq!(deep.params.len(), MAX_SCHEMA_DEPTH + 1);
        let wide = schema_of(&serde_json::json!({"properties": wide})).unwrap();
        assert_eq!(wide.params.len(), MAX_PARAMS);
        let branches = schema_of(&serde_json::json!({"anyOf": branches})).unwrap();
        assert_eq!(branches.params.len(), MAX_VARIANTS);
        assert!(schema_of(&serde_json::json!([1, 2])).is_none());
    }

    #[test]
    fn input_schema_in_both_spellings_and_string_hints() {
        let v: Value = serde_json::json!({"name":"a","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":"true","title":"A"}});
        let t = parse_record(v).unwrap();
        assert!(t.input_schema.is_some());
        assert_eq!(t.annotations.unwrap().read_only, Some(true));
        assert_eq!(t.title.as_deref(), Some("A"));
    }
}
