//! Property tests over every reader of untrusted input: valid inputs are generated, then broken
//! (truncated, a byte flipped, bytes inserted, nesting made very deep, a huge string, invalid
//! UTF-8) inside one record, and the records before the break must survive.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// A break applied at one byte offset.
#[derive(Debug, Clone)]
enum Break {
    Truncate,
    Flip(u8),
    Insert(Vec<u8>),
    DeepNesting(usize),
    HugeString(usize),
    InvalidUtf8(u8),
}

fn a_break() -> impl Strategy<Value = Break> {
    prop_oneof![
        Just(Break::Truncate),
        any::<u8>().prop_map(Break::Flip),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Break::Insert),
        prop_oneof![Just(200usize), Just(5_000), Just(100_000)].prop_map(Break::DeepNesting),
        prop_oneof![Just(70_000usize), Just(1_000_000)].prop_map(Break::HugeString),
        prop_oneof![Just(0xffu8), Just(0xc3), Just(0xed), Just(0x80)].prop_map(Break::InvalidUtf8),
    ]
}

/// `bytes` broken at `at`.
fn broken(bytes: &[u8], at: usize, how: &Break) -> Vec<u8> {
    let (head, tail) = bytes.split_at(at.min(bytes.len()));
    let mut out = head.to_vec();
    match how {
        Break::Truncate => return out,
        Break::Flip(b) => {
            out.push(tail.first().map_or(*b, |t| t ^ b.max(&1)));
            out.extend_from_slice(tail.get(1..).unwrap_or_default());
            return out;
        }
        Break::Insert(bytes) => out.extend_from_slice(bytes),
        Break::DeepNesting(depth) => {
            out.extend(std::iter::repeat_n(b"{\"a\":[".as_slice(), *depth).flatten());
        }
        Break::HugeString(len) => {
            out.push(b'"');
            out.extend(std::iter::repeat_n(b'x', *len));
            out.push(b'"');
        }
        Break::InvalidUtf8(b) => out.push(*b),
    }
    out.extend_from_slice(tail);
    out
}

/// Tool names as servers send them: plain, with quotes, escapes, RTL overrides and emoji.
fn a_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9_]{0,23}", "[a-zA-Z\"\\\\/\u{202e}\u{200b}\u{1f600}é .-]{1,12}", "\\PC{1,16}",]
        .prop_filter("a name that is not blank", |n| !n.trim().is_empty())
}

fn a_tool() -> impl Strategy<Value = Value> {
    (
        a_name(),
        prop::option::of(any::<String>()),
        prop::collection::vec(
            ("[a-z_]{1,10}", prop::sample::select(vec!["string", "integer", "object", "array"])),
            0..4,
        ),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(name, description, params, read_only)| {
            let properties: serde_json::Map<String, Value> =
                params.into_iter().map(|(p, ty)| (p, json!({"type": ty, "description": "a parameter"}))).collect();
            let mut tool = json!({"name": name, "inputSchema": {"type": "object", "properties": properties}});
            if let Some(d) = description {
                tool["description"] = json!(d);
            }
            if let Some(r) = read_only {
                tool["annotations"] = json!({"readOnlyHint": r});
            }
            tool
        })
}

/// How a tool list is written: a bare array, a tools/list result, a JSON-RPC response.
const WRAPPERS: [(&str, &str); 3] = [
    ("", ""),
    ("{\"tools\":", ",\"nextCursor\":null}"),
    ("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":", "}}"),
];

/// The document and the byte range of each tool's text in it.
fn written(tools: &[Value], wrapper: (&str, &str)) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut out = wrapper.0.as_bytes().to_vec();
    out.push(b'[');
    let mut ranges = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n ");
        }
        let start = out.len();
        out.extend_from_slice(tool.to_string().as_bytes());
        ranges.push((start, out.len()));
    }
    out.push(b']');
    out.extend_from_slice(wrapper.1.as_bytes());
    (out, ranges)
}

fn names(tools: &[Value]) -> Vec<String> {
    tools.iter().map(|t| t["name"].as_str().unwrap_or_default().to_string()).collect()
}

fn read_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    input::read_tools(text, |_| {}, |tool, _| out.push(tool.name));
    out
}

fn config() -> ProptestConfig {
    // CI runs these on every push: enough cases to find shallow bugs, `tests/fuzz` goes deeper.
    // PROPTEST_CASES=N runs more.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_scan_against_its_own_baseline_has_nothing_new(tools in prop::collection::vec(a_tool(), 0..10), w in 0..3usize) {
        let (bytes, _) = written(&tools, WRAPPERS[w]);
        // `run_scan` asserts it; it judges the list as two servers.
        prop_assert_eq!(Target::Scan.run(&bytes), 2 * tools.len());
    }

    #[test]
    fn a_new_path_parameter_is_high_drift(tools in prop::collection::vec(a_tool(), 1..6), pick in any::<prop::sample::Index>()) {
        use crate::scan::{Baseline, Options, Origin, OriginKind, Scan, ServerInput, State};
        let rules = crate::classify::load_default().expect("the built-in rules load");
        let input = |tools: &[Value]| ServerInput {
            name: "s".into(),
            identity: "s".into(),
            origin: Origin { file: "f".into(), line: 1, kind: OriginKind::SavedTools },
            reached: "saved".into(),
            outcome: "ok".into(),
            reason: None,
            error: None,
            tools: tools.iter().map(Value::to_string).collect(),
            problems: Vec::new(),
            listed_at: None,
        };
        let options = Options { risk_findings_from: crate::model::Risk::Low, today: 0 };
        let before = Scan::judge(&rules, vec![input(&tools)], None, None, &options);
        let baseline = Baseline::accept(&before, None, "t", 0);
        let i = pick.index(tools.len());
        let mut changed = tools.clone();
        let props = &mut changed[i]["inputSchema"]["properties"];
        prop_assume!(props.get("path").is_none());
        props["path"] = json!({"type": "string"});
        let after = Scan::judge(&rules, vec![input(&changed)], Some(&baseline), None, &options);
        let raw = changed[i].to_string();
        let tool = after.servers[0].tools.iter().find(|t| t.raw == raw).map(|t| t.key.clone());
        prop_assume!(tool.is_some());
        let widened = after.findings.iter().find(|f| f.rule == "schema-widened" && f.tool == tool);
        prop_assert!(widened.is_some_and(|f| f.severity == crate::model::Severity::High && f.state == State::New),
            "{:?}", after.findings.iter().map(|f| (&f.rule, &f.tool)).collect::<Vec<_>>());
    }

    #[test]
    fn a_valid_tool_list_is_read_whole(tools in prop::collection::vec(a_tool(), 0..12), w in 0..3usize) {
        let (bytes, _) = written(&tools, WRAPPERS[w]);
        let text = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(read_names(&text), names(&tools));
        let jsonl: Vec<String> = tools.iter().map(Value::to_string).collect();
        prop_assert_eq!(read_names(&jsonl.join("\n")), names(&tools));
    }

    #[test]
    fn a_broken_tool_keeps_the_tools_before_it(
        tools in prop::collection::vec(a_tool(), 1..10),
        w in 0..3usize,
        pick in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        how in a_break(),
    ) {
        let (bytes, ranges) = written(&tools, WRAPPERS[w]);
        let k = pick.index(tools.len());
        let (start, end) = ranges[k];
        let at = start + offset.index(end - start);
        let text = String::from_utf8_lossy(&broken(&bytes, at, &how)).into_owned();
        let read = read_names(&text);
        prop_assert!(read.len() >= k, "{} tools read, {} before the break", read.len(), k);
        prop_assert_eq!(&read[..k], &names(&tools)[..k]);
        Target::ToolsList.run(text.as_bytes());
    }

    #[test]
    fn a_broken_jsonl_line_keeps_every_other_line(
        tools in prop::collection::vec(a_tool(), 2..10),
        pick in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        how in a_break(),
    ) {
        let k = pick.index(tools.len());
        let mut lines: Vec<Vec<u8>> = tools.iter().map(|t| t.to_string().into_bytes()).collect();
        let at = offset.index(lines[k].len());
        // The break stays on its line (JSONL records end at newlines).
        lines[k] = broken(&lines[k], at, &how).into_iter().map(|b| if b == b'\n' { b' ' } else { b }).collect();
        let text = String::from_utf8_lossy(&lines.join(&b'\n')).into_owned();
        let read = read_names(&text);
        let want = names(&tools);
        prop_assert!(read.len() >= want.len() - 1);
        prop_assert_eq!(&read[..k], &want[..k]);
        prop_assert_eq!(&read[read.len() - (want.len() - k - 1)..], &want[k + 1..]);
    }

    #[test]
    fn any_cut_of_an_event_stream_gives_the_same_events(
        events in prop::collection::vec(
            ("[a-z]{0,8}", prop::collection::vec("[^\r\n]{0,40}", 1..4), 0..3usize, any::<bool>()),
            0..8,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let endings = ["\n", "\r\n", "\r"];
        let mut stream = String::new();
        let mut want = Vec::new();
        for (name, lines, ending, comment) in &events {
            let ending = endings[*ending];
            if *comment {
                stream.push_str(": keep-alive");
                stream.push_str(ending);
            }
            if !name.is_empty() {
                stream.push_str(&format!("event: {name}{ending}"));
            }
            for line in lines {
                stream.push_str(&format!("data: {line}{ending}"));
            }
            // An empty line after a CR must not start with LF: CR LF is one line ending.
            let blank = if ending == "\n" && !lines.is_empty() { "\n" } else { "\r\n" };
            stream.push_str(blank);
            let data = lines.join("\n");
            if !data.is_empty() {
                let name = if name.is_empty() { "message".to_string() } else { name.clone() };
                want.push((name, data));
            }
        }
        let bytes = stream.as_bytes();
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        let got = sse_events(bytes, &cuts).expect("a valid stream");
        let got: Vec<(String, String)> = got.into_iter().map(|e| (e.name, e.data)).collect();
        prop_assert_eq!(got, want);
        Target::Sse.run(bytes);
    }

    #[test]
    fn a_flood_or_garbage_line_on_stdout_loses_no_other_message(
        results in prop::collection::vec(a_tool(), 1..8),
        pick in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(vec![b'x'; MAX_LINE * 2]),
            prop::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..200),
            Just(b"{\"jsonrpc\":\"2.0\",\"id\":".repeat(1000)),
        ],
    ) {
        let k = pick.index(results.len());
        let mut stdout = Vec::new();
        for (i, result) in results.iter().enumerate() {
            if i == k {
                stdout.extend_from_slice(&bad);
            } else {
                stdout.extend_from_slice(json!({"jsonrpc": "2.0", "id": i, "result": result}).to_string().as_bytes());
            }
            stdout.push(b'\n');
        }
        let ids = stdout_ids(&stdout);
        let want: Vec<String> = (0..results.len()).filter(|&i| i != k).map(|i| i.to_string()).collect();
        prop_assert_eq!(ids.into_iter().filter(|id| id != &k.to_string()).collect::<Vec<_>>(), want);
        Target::Jsonrpc.run(&stdout);
    }

    #[test]
    fn a_config_with_comments_and_trailing_commas_is_read(
        servers in prop::collection::btree_map("[a-z][a-z0-9-]{0,12}", ("[a-z/]{1,20}", prop::collection::vec("[ -~]{0,12}", 0..3)), 1..6),
        comment in prop::sample::select(vec!["", " // a comment, with \"quotes\"\n", " /* a block, with } */ "]),
    ) {
        let mut text = format!("{{{comment}\"mcpServers\": {{");
        for (name, (command, args)) in &servers {
            let args = serde_json::to_string(args).unwrap();
            text.push_str(&format!("{comment}{}: {{\"command\": {}, \"args\": {args},}},", json!(name), json!(command)));
        }
        text.push_str(&format!("{comment}}},{comment}}}\n"));
        let targets = config::parse_config(&text, Path::new("mcp.json")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut got: Vec<&str> = targets.iter().map(|t| t.server.as_str()).collect();
        got.sort_unstable();
        prop_assert_eq!(got, servers.keys().map(String::as_str).collect::<Vec<_>>());
        Target::Config.run(text.as_bytes());
    }

    #[test]
    fn a_broken_config_is_an_error_never_a_panic(
        text in prop::sample::select(vec![
            r#"{"mcpServers": {"a": {"command": "npx", "args": ["-y", "pkg@1.0.0"]}}}"#,
            "{\n  // VS Code\n  \"servers\": {\"b\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:1/mcp\"},},\n}",
            r#"{"context_servers": {"z": {"command": {"path": "uvx", "args": ["pkg==1"]}}}}"#,
        ]),
        offset in any::<prop::sample::Index>(),
        how in a_break(),
    ) {
        let bytes = broken(text.as_bytes(), offset.index(text.len()), &how);
        Target::Config.run(&bytes);
    }

    #[test]
    fn a_registry_page_is_read_and_a_broken_one_is_an_error(
        count in 0..8usize,
        offset in any::<prop::sample::Index>(),
        how in a_break(),
    ) {
        let servers: Vec<Value> = (0..count)
            .map(|i| json!({
                "server": {
                    "name": format!("io.github.fuzz/server-{i}"),
                    "version": format!("1.0.{i}"),
                    "description": "A server",
                    "packages": [{"registryType": "npm", "identifier": format!("@fuzz/server-{i}"), "version": "1.0.0", "transport": {"type": "stdio"}}],
                },
                "_meta": {"io.modelcontextprotocol.registry/official": {"status": "active", "isLatest": true}},
            }))
            .collect();
        let page = json!({"servers": servers, "metadata": {"count": count}}).to_string();
        let listing = registry::read_saved(&page).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(listing.entries.len(), count);
        prop_assert_eq!(Target::Registry.run(page.as_bytes()), 2 * count);
        let bytes = broken(page.as_bytes(), offset.index(page.len()), &how);
        Target::Registry.run(&bytes);
    }

    #[test]
    fn any_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for target in Target::ALL {
            target.run(&bytes);
        }
    }
}

/// The ids of the responses a server's stdout holds, read as the crawler reads it.
fn stdout_ids(stdout: &[u8]) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let mut reader = LineReader::new(tokio::io::BufReader::with_capacity(4096, stdout));
        let mut ids = Vec::new();
        loop {
            match reader.next_line(MAX_LINE).await.unwrap() {
                Line::Text(line) => {
                    if let Some(jsonrpc::Message::Response { id, .. }) = jsonrpc::parse(&line) {
                        ids.push(id);
                    }
                }
                Line::TooLong => {}
                Line::Eof => break ids,
            }
        }
    })
}

#[test]
fn a_deeply_nested_schema_and_a_huge_description_are_read() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = format!(
        r#"{{"tools":[{{"name":"first"}},{{"name":"deep","inputSchema":{deep}}},{{"name":"last","description":"{}"}}]}}"#,
        "x".repeat(2_000_000)
    );
    // The schema is read only as deep as the classifier looks: the tool is kept, nothing overflows.
    assert_eq!(read_names(&text), ["first", "deep", "last"]);
    assert_eq!(Target::ToolsList.run(text.as_bytes()), 3);
}
