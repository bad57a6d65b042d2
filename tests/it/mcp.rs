//! The MCP client (`catalog::mcp`) against loopback fakes (a Python stdio server, a hand-rolled
//! HTTP server) and against the real `@modelcontextprotocol/server-everything` installed by
//! `scripts/install-test-servers.sh`.

mod http_fake;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use catalog::mcp::{
    list_server, AddressGuard, Endpoint, Error, HttpTransport, Limits, Listing, Phase, StdioCommand, TransportKind,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use http_fake::{ct, Fake, Reply, Req};

const FAKE_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/mcp/fake_server.py");

/// The real Python binary (not a pyenv shim, which needs the environment we clear).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs (the stdio fakes are Python scripts)");
        String::from_utf8(out.stdout).expect("a path").trim().to_string()
    })
}

fn fake(mode: &str, arg: &str) -> Endpoint {
    Endpoint::Stdio(StdioCommand {
        program: python().to_string(),
        args: vec!["-u".to_string(), FAKE_SERVER.to_string(), mode.to_string(), arg.to_string()],
        env: Vec::new(),
        cwd: None,
    })
}

/// Short timeouts, so that failing cases fail fast.
fn quick() -> Limits {
    Limits { request_timeout: Duration::from_secs(5), deadline: Duration::from_secs(10), ..Limits::default() }
}

async fn list(endpoint: &Endpoint, limits: &Limits) -> Result<Listing, Error> {
    list_server(endpoint, limits, &|_| {}).await
}

fn names(items: &[Box<serde_json::value::RawValue>]) -> Vec<String> {
    items
        .iter()
        .map(|t| {
            let v: Value = serde_json::from_str(t.get()).expect("a tool is JSON");
            v["name"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn http(url: url::Url, transport: HttpTransport) -> Endpoint {
    Endpoint::Http { url, headers: Vec::new(), transport, guard: AddressGuard::AllowAll }
}

// --- stdio ---------------------------------------------------------------------------------

#[tokio::test]
async fn stdio_lists_tools_and_reports_phases() {
    let phases = Arc::new(Mutex::new(Vec::new()));
    let seen = phases.clone();
    let on_phase = move |p: Phase| seen.lock().expect("lock").push(p);
    let listing = list_server(&fake("normal", ""), &quick(), &on_phase).await.expect("listing");
    assert_eq!(listing.transport, TransportKind::Stdio);
    assert_eq!(names(&listing.tools), ["echo", "add"]);
    assert_eq!(listing.protocol_version.as_deref(), Some("2025-06-18"));
    assert_eq!(listing.server_info, Some(json!({"name": "fake-normal", "version": "1.0.0"})));
    assert_eq!(listing.instructions.as_deref(), Some("a fake"));
    assert!(listing.problems.is_empty(), "{:?}", listing.problems);
    assert_eq!(
        *phases.lock().expect("lock"),
        [Phase::Start, Phase::Initialize, Phase::ListTools, Phase::ListOther, Phase::Shutdown]
    );
}

#[tokio::test]
async fn stdio_hang_before_initialize_times_out_fast() {
    let limits = Limits {
        request_timeout: Duration::from_millis(250),
        deadline: Duration::from_millis(1500),
        ..Limits::default()
    };
    let start = Instant::now();
    let err = list(&fake("hang", ""), &limits).await.expect_err("a hung server");
    assert!(matches!(err, Error::Timeout { phase: Phase::Initialize }), "{err}");
    assert_eq!(err.kind(), "timeout");
    // Typically 1.1 s: two 250 ms probes, one respawn, one 500 ms grace; room for a loaded machine.
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
}

#[tokio::test]
async fn stdio_death_mid_list_is_exited_with_stderr_tail() {
    let err = list(&fake("die", ""), &quick()).await.expect_err("the server dies");
    let Error::Exited { status, stderr_tail } = &err else { panic!("not exited: {err}") };
    assert_eq!(*status, Some(3));
    assert!(stderr_tail.contains("out of cheese"), "{stderr_tail:?}");
    assert!(err.to_string().contains("out of cheese"), "{err}");
}

#[tokio::test]
async fn stdio_exit_at_start_is_exited() {
    let err = list(&fake("exit_at_start", ""), &quick()).await.expect_err("the server exits");
    let Error::Exited { status, stderr_tail } = &err else { panic!("not exited: {err}") };
    assert_eq!(*status, Some(1));
    assert!(stderr_tail.contains("FAKE_API_KEY"), "{stderr_tail:?}");
}

#[tokio::test]
async fn stdio_noise_is_skipped_and_server_requests_answered() {
    let listing = list(&fake("noise", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["a", "b"]);
    // Two noise lines before each of discover, initialize and tools/list (blank lines not counted).
    assert_eq!(listing.noise_lines, 6);
}

#[tokio::test]
async fn stdio_server_asking_to_sample_or_elicit_is_refused_and_listed() {
    let listing = list(&fake("asks", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["after_asking"]);
}

#[tokio::test]
async fn stdio_flood_without_newlines_is_a_protocol_error_at_the_cap() {
    let small = Limits { max_message_bytes: 4 << 20, ..quick() };
    let started = std::time::Instant::now();
    let err = list(&fake("flood", ""), &small).await.expect_err("flood");
    assert_eq!(err.kind(), "protocol", "{err}");
    assert!(err.to_string().contains("over 4194304 bytes"), "{err}");
    // Stopped at the cap, not at the deadline.
    assert!(started.elapsed() < small.deadline, "{:?}", started.elapsed());
}

#[tokio::test]
async fn stdio_ten_megabyte_tool_list() {
    let listing = list(&fake("big", "10000,1000"), &quick()).await.expect("listing");
    assert_eq!(listing.tools.len(), 10_000);
    assert!(!listing.truncated);

    let capped = Limits { max_tools: 2500, ..quick() };
    let listing = list(&fake("big", "10000,1000"), &capped).await.expect("listing");
    assert_eq!(listing.tools.len(), 2500);
    assert!(listing.truncated);
    assert!(listing.problems.iter().any(|p| p.contains("limits.max_tools")), "{:?}", listing.problems);
}

#[tokio::test]
async fn stdio_line_over_the_cap_is_a_protocol_error() {
    let small = Limits { max_message_bytes: 1 << 20, ..quick() };
    let err = list(&fake("big", "3000,1000"), &small).await.expect_err("too long");
    assert_eq!(err.kind(), "protocol", "{err}");
    assert!(err.to_string().contains("over 1048576 bytes"), "{err}");
}

#[tokio::test]
async fn stdio_repeated_cursor_stops_with_a_problem() {
    let listing = list(&fake("cursor", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["t_start", "t_same"]);
    assert!(listing.problems.iter().any(|p| p.contains("repeated the cursor")), "{:?}", listing.problems);
}

#[tokio::test]
async fn stdio_malformed_tools_are_problems_and_the_others_kept() {
    let listing = list(&fake("malformed", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["good_1", "good_2"]);
    assert_eq!(listing.problems, ["tools[1]: no name", "tools[2]: not an object", "tools[3]: name is not a string"],);
}

#[tokio::test]
async fn stdio_tolerates_missing_capabilities_and_tools() {
    let listing = list(&fake("no_capabilities", ""), &quick()).await.expect("listing");
    assert!(listing.tools.is_empty());
    assert_eq!(listing.protocol_version.as_deref(), Some("2024-11-05"));
    assert!(listing.capabilities.is_none());
    assert_eq!(listing.problems, [r#"tools/list: the result has no "tools""#]);
}

#[tokio::test]
async fn stdio_other_lists_and_their_failures() {
    let listing = list(&fake("others", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.prompts), ["p1"]);
    assert!(listing.resources.is_empty() && listing.resource_templates.is_empty());
    assert_eq!(listing.problems.len(), 1, "{:?}", listing.problems);
    assert!(listing.problems[0].starts_with("resources/list failed"), "{:?}", listing.problems);
}

#[tokio::test]
async fn stdio_server_refusing_our_version_is_asked_with_its_own() {
    let listing = list(&fake("old_only", ""), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
}

#[tokio::test]
async fn stdio_modern_server_after_discover() {
    let listing = list(&fake("modern", ""), &quick()).await.expect("listing");
    assert_eq!(listing.protocol_version.as_deref(), Some("2026-07-28"));
    assert_eq!(names(&listing.tools), ["now"]);
    assert_eq!(listing.server_info, Some(json!({"name": "fake-modern", "version": ""})));
}

#[tokio::test]
async fn stdio_spawn_failure() {
    let endpoint =
        Endpoint::Stdio(StdioCommand { program: "/nonexistent/server".to_string(), ..StdioCommand::default() });
    let err = list(&endpoint, &quick()).await.expect_err("no such program");
    assert_eq!(err.kind(), "spawn");
}

/// Whether a process is gone (a zombie waiting for init to reap it counts as gone).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[tokio::test]
async fn stdio_server_ignoring_sigterm_is_killed_with_its_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids_file = dir.path().join("pids");
    let endpoint = fake("ignore_term", pids_file.to_str().expect("UTF-8 path"));
    let listing = list(&endpoint, &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
    let pids: Vec<i32> = std::fs::read_to_string(&pids_file)
        .expect("the fake wrote its pids")
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2);
    let until = Instant::now() + Duration::from_secs(1);
    while !pids.iter().all(|&p| gone(p)) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids {
        assert!(gone(pid), "process {pid} is still running");
    }
}

// --- Streamable HTTP -----------------------------------------------------------------------

#[derive(Default)]
struct Streamable {
    sessions: usize,
    lose_session_once: bool,
    lost: bool,
    sse: bool,
    dribble: bool,
    big_tools: usize,
}

fn sse_body(message: &Value) -> String {
    // A priming event (empty data), a comment, then the message split over two data lines
    // (between two JSON tokens), with CRLF line ends.
    let text = message.to_string();
    let (a, b) = text.split_at(text.find(',').map_or(0, |i| i + 1));
    format!("id: prime\r\ndata: \r\n\r\n: keep-alive\r\nevent: message\r\nid: 2\r\ndata: {a}\r\ndata:{b}\r\n\r\n")
}

/// A Streamable HTTP server shaped like the TypeScript SDK's: 406 without both Accept types,
/// 400 for `server/discover` before a session, sessions, and the negotiated version header.
fn streamable(state: Streamable) -> impl Fn(&Req) -> Reply + Send + Sync + 'static {
    let state = Mutex::new(state);
    move |req: &Req| {
        let mut st = state.lock().expect("lock");
        if req.method == "DELETE" {
            return Reply::status(200);
        }
        let accept = req.header("accept").unwrap_or_default();
        if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
            return Reply::json(
                406,
                &json!({"jsonrpc": "2.0", "error": {"code": -32000, "message": "Not Acceptable: Client must accept both application/json and text/event-stream"}, "id": null}),
            );
        }
        let bad_session = || {
            Reply::json(
                400,
                &json!({"jsonrpc": "2.0", "error": {"code": -32000, "message": "Bad Request: No valid session ID provided"}, "id": null}),
            )
        };
        let method = req.rpc_method();
        match method.as_str() {
            "server/discover" => Reply::json(
                400,
                &json!({"jsonrpc": "2.0", "error": {"code": -32000, "message": "Bad Request: Server not initialized"}, "id": null}),
            ),
            "initialize" => {
                st.sessions += 1;
                let result = json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {"listChanged": true}}, "serverInfo": {"name": "fake-http", "version": "1"}});
                let Reply::Full { status, mut headers, body } = Reply::result(req, result) else { unreachable!() };
                headers.push(("Mcp-Session-Id".to_string(), format!("s{}", st.sessions)));
                Reply::Full { status, headers, body }
            }
            "notifications/initialized" => Reply::status(202),
            _ => {
                let session = req.header("mcp-session-id").unwrap_or_default();
                if session != format!("s{}", st.sessions) {
                    return bad_session();
                }
                if st.lose_session_once && !st.lost {
                    st.lost = true;
                    st.sessions += 1;
                    return bad_session();
                }
                if req.header("mcp-protocol-version") != Some("2025-06-18") {
                    return Reply::json(400, &json!({"error": "bad protocol version header"}));
                }
                let tools: Vec<Value> = if st.big_tools > 0 {
                    (0..st.big_tools)
                        .map(|i| json!({"name": format!("t{i}"), "description": "y".repeat(1000), "inputSchema": {}}))
                        .collect()
                } else {
                    vec![
                        json!({"name": "echo", "inputSchema": {"type": "object"}}),
                        json!({"name": "add", "inputSchema": {"type": "object"}}),
                    ]
                };
                let message = json!({"jsonrpc": "2.0", "id": req.json()["id"], "result": {"tools": tools}});
                if st.dribble {
                    let body = sse_body(&message).into_bytes();
                    let chunks = body.chunks(7).map(<[u8]>::to_vec).collect();
                    return Reply::Dribble {
                        status: 200,
                        headers: vec![ct("text/event-stream")],
                        chunks,
                        delay: Duration::from_millis(2),
                    };
                }
                if st.sse {
                    return Reply::Full {
                        status: 200,
                        headers: vec![ct("text/event-stream")],
                        body: sse_body(&message).into_bytes(),
                    };
                }
                Reply::json(200, &message)
            }
        }
    }
}

#[tokio::test]
async fn streamable_http_with_sessions_and_both_accept_types() {
    let server = Fake::start(streamable(Streamable::default())).await;
    let listing = list(&http(server.url("/mcp"), HttpTransport::Auto), &quick()).await.expect("listing");
    assert_eq!(listing.transport, TransportKind::StreamableHttp);
    assert_eq!(names(&listing.tools), ["echo", "add"]);
    assert_eq!(listing.protocol_version.as_deref(), Some("2025-06-18"));
    let requests = server.requests();
    let methods: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.rpc_method())).collect();
    assert_eq!(
        methods,
        ["POST server/discover", "POST initialize", "POST notifications/initialized", "POST tools/list", "DELETE "]
    );
    let discover = &requests[0];
    assert_eq!(discover.header("mcp-method"), Some("server/discover"));
    assert_eq!(discover.header("mcp-protocol-version"), Some("2026-07-28"));
    assert_eq!(requests[1].json()["params"]["protocolVersion"], "2025-11-25");
    assert_eq!(requests[4].header("mcp-session-id"), Some("s1"));
}

#[tokio::test]
async fn streamable_http_answers_as_event_streams() {
    let server = Fake::start(streamable(Streamable { sse: true, ..Streamable::default() })).await;
    let listing = list(&http(server.url("/mcp"), HttpTransport::Streamable), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
}

#[tokio::test]
async fn streamable_http_slow_event_stream() {
    let server = Fake::start(streamable(Streamable { dribble: true, ..Streamable::default() })).await;
    let listing = list(&http(server.url("/mcp"), HttpTransport::Streamable), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
}

#[tokio::test]
async fn streamable_http_lost_session_is_reinitialized_once() {
    let server = Fake::start(streamable(Streamable { lose_session_once: true, ..Streamable::default() })).await;
    let listing = list(&http(server.url("/mcp"), HttpTransport::Streamable), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
    assert!(listing.problems.iter().any(|p| p.contains("lost the session")), "{:?}", listing.problems);
    let inits = server.requests().iter().filter(|r| r.rpc_method() == "initialize").count();
    assert_eq!(inits, 2);
}

#[tokio::test]
async fn streamable_http_body_over_the_cap() {
    let server = Fake::start(streamable(Streamable { big_tools: 2000, ..Streamable::default() })).await;
    let limits = Limits { max_message_bytes: 1 << 20, ..quick() };
    let err = list(&http(server.url("/mcp"), HttpTransport::Streamable), &limits).await.expect_err("too big");
    assert_eq!(err.kind(), "protocol", "{err}");
    assert!(err.to_string().contains("max_message_bytes"), "{err}");
}

#[tokio::test]
async fn http_401_is_auth_required_with_the_header() {
    let header =
        r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="read""#;
    let server = Fake::start(move |_req: &Req| Reply::Full {
        status: 401,
        headers: vec![("WWW-Authenticate".to_string(), header.to_string())],
        body: b"unauthorized".to_vec(),
    })
    .await;
    let err = list(&http(server.url("/mcp"), HttpTransport::Auto), &quick()).await.expect_err("401");
    let Error::AuthRequired { status, www_authenticate } = &err else { panic!("not auth_required: {err}") };
    assert_eq!(*status, 401);
    assert_eq!(www_authenticate.as_deref(), Some(header));

    let server = Fake::start(|_req: &Req| Reply::status(403)).await;
    let err = list(&http(server.url("/mcp"), HttpTransport::Auto), &quick()).await.expect_err("403");
    assert!(matches!(err, Error::AuthRequired { status: 403, www_authenticate: None }), "{err}");
}

#[tokio::test]
async fn http_stalled_server_times_out() {
    let server = Fake::start(|_req: &Req| Reply::Hang).await;
    let limits =
        Limits { request_timeout: Duration::from_millis(300), deadline: Duration::from_secs(3), ..Limits::default() };
    let start = Instant::now();
    let err = list(&http(server.url("/mcp"), HttpTransport::Auto), &limits).await.expect_err("stalled");
    assert!(matches!(err, Error::Timeout { phase: Phase::Initialize }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

#[tokio::test]
async fn http_not_found_everywhere_is_http_error() {
    let server = Fake::start(|_req: &Req| Reply::status(404)).await;
    let err = list(&http(server.url("/nothing"), HttpTransport::Auto), &quick()).await.expect_err("404");
    assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
    let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["POST", "POST", "GET"], "discover, initialize, then the SSE fallback");
}

#[tokio::test]
async fn http_redirect_is_followed() {
    let inner = streamable(Streamable::default());
    let server = Fake::start(move |req: &Req| {
        if req.path == "/old" {
            return Reply::Full {
                status: 307,
                headers: vec![("Location".to_string(), "/mcp".to_string())],
                body: Vec::new(),
            };
        }
        inner(req)
    })
    .await;
    let listing = list(&http(server.url("/old"), HttpTransport::Streamable), &quick()).await.expect("listing");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
}

#[tokio::test]
async fn modern_streamable_http() {
    let server = Fake::start(|req: &Req| {
        let method = req.rpc_method();
        if req.header("mcp-method") != Some(method.as_str()) || req.header("mcp-protocol-version") != Some("2026-07-28") {
            return Reply::json(400, &json!({"jsonrpc": "2.0", "id": req.json()["id"], "error": {"code": -32020, "message": "header mismatch"}}));
        }
        if req.json()["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] != "2026-07-28" {
            return Reply::json(400, &json!({"jsonrpc": "2.0", "id": req.json()["id"], "error": {"code": -32602, "message": "no _meta"}}));
        }
        match method.as_str() {
            "server/discover" => Reply::result(
                req,
                json!({"resultType": "complete", "supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}},
                       "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern", "version": ""}}, "ttlMs": 0, "cacheScope": "private"}),
            ),
            "tools/list" => {
                let cursor = req.json()["params"]["cursor"].clone();
                // An empty cursor is a real cursor in 2026-07-28.
                match cursor.as_str() {
                    None => Reply::result(req, json!({"tools": [{"name": "one", "inputSchema": {"type": "object"}}], "nextCursor": ""})),
                    Some("") => Reply::result(req, json!({"tools": [{"name": "two", "inputSchema": {"type": "object"}}]})),
                    Some(_) => Reply::status(500),
                }
            }
            _ => Reply::json(404, &json!({"jsonrpc": "2.0", "id": req.json()["id"], "error": {"code": -32601, "message": "Method not found"}})),
        }
    })
    .await;
    let listing = list(&http(server.url("/mcp"), HttpTransport::Auto), &quick()).await.expect("listing");
    assert_eq!(listing.protocol_version.as_deref(), Some("2026-07-28"));
    assert_eq!(names(&listing.tools), ["one", "two"]);
    assert!(server.requests().iter().all(|r| r.rpc_method() != "initialize"));
}

// --- legacy HTTP+SSE -----------------------------------------------------------------------

/// A legacy HTTP+SSE server: GET /sse opens the stream with an `endpoint` event; POSTs to
/// /message are answered on the stream (after a `ping` request of the server's own).
fn legacy_sse() -> impl Fn(&Req) -> Reply + Send + Sync + 'static {
    let stream: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>> = Mutex::new(None);
    move |req: &Req| {
        let mut stream = stream.lock().expect("lock");
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/sse") => {
                let (tx, rx) = mpsc::unbounded_channel();
                let _ = tx.send(b": hello\n\nevent: endpoint\ndata: /message?sessionId=abc\n\n".to_vec());
                *stream = Some(tx);
                Reply::Stream { status: 200, headers: vec![ct("text/event-stream")], rx }
            }
            ("POST", "/message?sessionId=abc") => {
                let Some(tx) = stream.as_ref() else { return Reply::status(400) };
                let msg = req.json();
                let send = |v: Value| {
                    let _ = tx.send(format!("event: message\ndata: {v}\n\n").into_bytes());
                };
                let id = msg["id"].clone();
                match msg["method"].as_str().unwrap_or_default() {
                    "initialize" => send(
                        json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}}, "serverInfo": {"name": "legacy"}}}),
                    ),
                    "notifications/initialized" => {
                        send(json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}));
                    }
                    "tools/list" => {
                        send(json!({"jsonrpc": "2.0", "id": "srv-ping", "method": "ping"}));
                        send(
                            json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}}),
                        );
                    }
                    "" => {} // our answer to the ping
                    _ => send(
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
                    ),
                }
                Reply::Full { status: 202, headers: Vec::new(), body: b"Accepted".to_vec() }
            }
            _ => Reply::status(404),
        }
    }
}

#[tokio::test]
async fn legacy_sse_after_streamable_fails() {
    let server = Fake::start(legacy_sse()).await;
    let listing = list(&http(server.url("/sse"), HttpTransport::Auto), &quick()).await.expect("listing");
    assert_eq!(listing.transport, TransportKind::Sse);
    assert_eq!(listing.protocol_version.as_deref(), Some("2024-11-05"));
    assert_eq!(names(&listing.tools), ["echo"]);
    let ping_answer =
        server.requests().into_iter().find(|r| r.json()["id"] == "srv-ping").expect("the ping was answered");
    assert_eq!(ping_answer.json()["result"], json!({}));
}

#[tokio::test]
async fn legacy_sse_endpoint_on_another_origin_is_refused() {
    let server = Fake::start(|_req: &Req| {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(b"event: endpoint\ndata: http://127.0.0.2:1/message\n\n".to_vec());
        // Keep the stream open.
        std::mem::forget(tx);
        Reply::Stream { status: 200, headers: vec![ct("text/event-stream")], rx }
    })
    .await;
    let err = list(&http(server.url("/sse"), HttpTransport::Sse), &quick()).await.expect_err("other origin");
    assert_eq!(err.kind(), "protocol", "{err}");
    assert!(err.to_string().contains("another origin"), "{err}");
}

// --- the address guard ---------------------------------------------------------------------

#[tokio::test]
async fn public_only_refuses_loopback_and_metadata_while_allow_all_connects() {
    let server = Fake::start(streamable(Streamable::default())).await;
    for url in [server.url("/mcp"), url::Url::parse("http://169.254.169.254/latest/meta-data").expect("URL")] {
        let endpoint = Endpoint::Http {
            url: url.clone(),
            headers: Vec::new(),
            transport: HttpTransport::Auto,
            guard: AddressGuard::PublicOnly,
        };
        let err = list(&endpoint, &quick()).await.expect_err("refused");
        assert_eq!(err.kind(), "refused_address", "{url}: {err}");
    }
    let localhost = url::Url::parse(&format!("http://localhost:{}/mcp", server.port)).expect("URL");
    let endpoint = Endpoint::Http {
        url: localhost,
        headers: Vec::new(),
        transport: HttpTransport::Auto,
        guard: AddressGuard::PublicOnly,
    };
    assert_eq!(list(&endpoint, &quick()).await.expect_err("refused").kind(), "refused_address");
    assert!(server.requests().is_empty(), "a refused endpoint was contacted");

    let listing = list(&http(server.url("/mcp"), HttpTransport::Auto), &quick()).await.expect("AllowAll connects");
    assert_eq!(names(&listing.tools), ["echo", "add"]);
}

// --- the real server -----------------------------------------------------------------------

/// `dist/index.js` of the installed server-everything, or `None` when real servers are skipped.
pub(crate) fn server_everything() -> Option<PathBuf> {
    if std::env::var("CATALOG_SKIP_REAL_SERVERS").is_ok_and(|v| v == "1") {
        return None;
    }
    let root = std::env::var_os("CATALOG_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-servers"));
    let index = root.join("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        index.is_file(),
        "{} is missing: run scripts/install-test-servers.sh (or set CATALOG_SKIP_REAL_SERVERS=1 to skip the real-server tests)",
        index.display()
    );
    Some(index)
}

pub(crate) fn node() -> String {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("node")).find(|p| p.is_file()))
        .map(|p| p.to_string_lossy().into_owned())
        .expect("node is on PATH (the real-server tests run server-everything with it)")
}

/// server-everything on a free loopback port, killed when dropped.
pub(crate) struct RealHttpServer {
    child: tokio::process::Child,
    pub(crate) port: u16,
}

impl RealHttpServer {
    pub(crate) async fn start(index: &std::path::Path, transport: &str) -> RealHttpServer {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
        let child = tokio::process::Command::new(node())
            .arg(index)
            .arg(transport)
            .env_clear()
            .env("PORT", port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start server-everything");
        let until = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < until, "server-everything {transport} did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        RealHttpServer { child, port }
    }
}

impl Drop for RealHttpServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_everything_over_stdio_streamable_http_and_sse() {
    let Some(index) = server_everything() else { return };
    let limits =
        Limits { request_timeout: Duration::from_secs(30), deadline: Duration::from_secs(60), ..Limits::default() };
    let stdio = Endpoint::Stdio(StdioCommand {
        program: node(),
        args: vec![index.to_string_lossy().into_owned(), "stdio".to_string()],
        env: Vec::new(),
        cwd: None,
    });
    let streamable_server = RealHttpServer::start(&index, "streamableHttp").await;
    let sse_server = RealHttpServer::start(&index, "sse").await;
    let streamable_url = url::Url::parse(&format!("http://127.0.0.1:{}/mcp", streamable_server.port)).expect("URL");
    let sse_url = url::Url::parse(&format!("http://127.0.0.1:{}/sse", sse_server.port)).expect("URL");
    let streamable = http(streamable_url, HttpTransport::Auto);
    let sse = http(sse_url, HttpTransport::Auto);
    let (a, b, c) = tokio::join!(list(&stdio, &limits), list(&streamable, &limits), list(&sse, &limits));
    let (a, b, c) = (a.expect("stdio listing"), b.expect("streamable HTTP listing"), c.expect("SSE listing"));
    assert_eq!(
        (a.transport, b.transport, c.transport),
        (TransportKind::Stdio, TransportKind::StreamableHttp, TransportKind::Sse)
    );
    let tools = names(&a.tools);
    assert!(tools.len() >= 5, "{tools:?}");
    for expected in ["echo", "get-sum"] {
        assert!(tools.iter().any(|t| t == expected), "no {expected} in {tools:?}");
    }
    assert_eq!(names(&b.tools), tools, "streamable HTTP lists the same tools");
    assert_eq!(names(&c.tools), tools, "SSE lists the same tools");
    for listing in [&a, &b, &c] {
        assert_eq!(listing.protocol_version.as_deref(), Some("2025-11-25"), "{:?}", listing.transport);
        assert!(listing.problems.is_empty(), "{:?}: {:?}", listing.transport, listing.problems);
        assert_eq!(listing.noise_lines, 0);
        assert!(!listing.truncated);
        assert!(!listing.prompts.is_empty(), "{:?}", listing.problems);
        assert!(!listing.resources.is_empty(), "{:?}", listing.problems);
    }
    drop((streamable_server, sse_server));
}
