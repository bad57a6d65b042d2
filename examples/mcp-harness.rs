//! A loopback MCP server for the crawl benchmark (`scripts/bench-crawl.sh`): many fake servers,
//! cheap to answer, with a fixed delay per request.
//!
//! ```text
//! cargo run --release --example mcp-harness -- http --port 0 --latency-ms 50 --tools 20
//! cargo run --release --example mcp-harness -- stdio --tools 20 [--latency-ms N]
//! ```
//!
//! `http`: one listener on 127.0.0.1 answers MCP Streamable HTTP (legacy shape, JSON responses)
//! on every path `/s/<n>/mcp`, so each `n` is a distinct server on the same port. Hand-rolled
//! HTTP/1.1: keep-alive, `Content-Length` or chunked request bodies, `Expect: 100-continue`.
//! POST a JSON-RPC message; GET is 405 (no SSE stream); DELETE ends the (unchecked) session.
//! Prints `listening on 127.0.0.1:<port>` to stderr once it accepts connections.
//!
//! `stdio`: newline-delimited JSON-RPC on stdin and stdout, the tools of server 0 (or `--server
//! N`); exits on end of input.
//!
//! Answers: `initialize` echoes the client's protocol version when it is a legacy one we know,
//! else 2025-11-25, and declares the tools capability only; notifications get 202 (HTTP) or
//! nothing (stdio); `tools/list` gives `--tools` deterministic, varied tools per server,
//! `--page-size` per page with a `nextCursor`; `prompts/list` and `resources/list` are empty;
//! `ping` is `{}`; anything else (`server/discover` too) is error -32601.
//!
//! Options: `--port P` (http, default 0 = any), `--latency-ms N` (delay before every answer;
//! http default 50, stdio default 0), `--tools N` (default 20), `--page-size N` (default: one
//! page), `--server N` (stdio: which server's tools).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const DEFAULT_VERSION: &str = "2025-11-25";
/// Request line plus headers.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;

const USAGE: &str = "usage: mcp-harness http [--port P] [--latency-ms N] [--tools N] [--page-size N]
       mcp-harness stdio [--latency-ms N] [--tools N] [--page-size N] [--server N]";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Http,
    Stdio,
}

struct Config {
    mode: Mode,
    port: u16,
    latency: Duration,
    tools: usize,
    page_size: Option<usize>,
    server: u64,
}

fn parse_args() -> Result<Config> {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("http") => Mode::Http,
        Some("stdio") => Mode::Stdio,
        Some("-h" | "--help") => {
            eprintln_usage();
            std::process::exit(0);
        }
        other => bail!("expected `http` or `stdio`, found {other:?}\n{USAGE}"),
    };
    let mut cfg = Config {
        mode,
        port: 0,
        latency: Duration::from_millis(if mode == Mode::Http { 50 } else { 0 }),
        tools: 20,
        page_size: None,
        server: 0,
    };
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = || value.parse::<u64>().with_context(|| format!("{flag}: not a number: {value:?}"));
        match flag.as_str() {
            "--port" => cfg.port = u16::try_from(num()?).context("--port: out of range")?,
            "--latency-ms" => cfg.latency = Duration::from_millis(num()?),
            "--tools" => cfg.tools = usize::try_from(num()?)?,
            "--page-size" => {
                let n = usize::try_from(num()?)?;
                if n == 0 {
                    bail!("--page-size must be at least 1");
                }
                cfg.page_size = Some(n);
            }
            "--server" => cfg.server = num()?,
            _ => bail!("unknown option {flag:?}\n{USAGE}"),
        }
    }
    Ok(cfg)
}

#[allow(clippy::print_stderr)] // a command-line tool's own messages
fn eprintln_usage() {
    eprintln!("{USAGE}");
}

#[allow(clippy::print_stderr)] // a command-line tool's own messages
fn main() -> std::process::ExitCode {
    let run = || -> Result<()> {
        let cfg = Arc::new(parse_args()?);
        match cfg.mode {
            Mode::Http => tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve_http(cfg)),
            // Plain blocking I/O, no runtime: a crawl starts hundreds of these processes.
            Mode::Stdio => serve_stdio(&cfg),
        }
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-harness: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC

/// What to send back for one incoming message.
enum Answer {
    /// A notification or a response from the client: nothing (HTTP 202).
    None,
    /// A JSON-RPC response; `session` is set for `initialize`, `bad` for a message that is not
    /// JSON-RPC at all (HTTP 400).
    Reply { body: Vec<u8>, session: bool, bad: bool },
}

fn handle_message(cfg: &Config, server: u64, msg: &[u8]) -> Answer {
    let msg: Value = match serde_json::from_slice(msg) {
        Ok(v) => v,
        Err(e) => return error_reply(&Value::Null, -32700, &format!("parse error: {e}")),
    };
    let Some(obj) = msg.as_object() else {
        return error_reply(&Value::Null, -32600, "expected one JSON-RPC object (batches are not supported)");
    };
    let method = obj.get("method").and_then(Value::as_str);
    let id = match obj.get("id") {
        None | Some(Value::Null) => return Answer::None, // a notification, or a response to us
        Some(id) => id,
    };
    let Some(method) = method else { return Answer::None }; // a response with an id
    let params = obj.get("params");
    let result = match method {
        "initialize" => {
            let asked = params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str);
            let version = asked.filter(|v| LEGACY_VERSIONS.contains(v)).unwrap_or(DEFAULT_VERSION);
            let result = json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": format!("harness-{server}"), "version": "1.0.0"},
            });
            return Answer::Reply { body: result_body(id, &result), session: true, bad: false };
        }
        "tools/list" => {
            let cursor = params.and_then(|p| p.get("cursor"));
            let start = match cursor {
                None | Some(Value::Null) => 0,
                Some(Value::String(c)) => match c.strip_prefix('c').and_then(|n| n.parse::<usize>().ok()) {
                    Some(n) if n <= cfg.tools => n,
                    _ => return error_reply(id, -32602, &format!("invalid cursor {c:?}")),
                },
                Some(_) => return error_reply(id, -32602, "the cursor must be a string"),
            };
            let end = cfg.page_size.map_or(cfg.tools, |p| (start + p).min(cfg.tools));
            let tools: Vec<Value> = (start..end).map(|i| tool(server, i)).collect();
            let mut result = json!({ "tools": tools });
            if end < cfg.tools {
                result["nextCursor"] = Value::String(format!("c{end}"));
            }
            result
        }
        "prompts/list" => json!({"prompts": []}),
        "resources/list" => json!({"resources": []}),
        "resources/templates/list" => json!({"resourceTemplates": []}),
        "ping" => json!({}),
        _ => return error_reply(id, -32601, &format!("Method not found: {method}")),
    };
    Answer::Reply { body: result_body(id, &result), session: false, bad: false }
}

fn result_body(id: &Value, result: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).unwrap_or_default()
}

fn error_reply(id: &Value, code: i64, message: &str) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    Answer::Reply {
        body: serde_json::to_vec(&body).unwrap_or_default(),
        session: false,
        bad: code == -32700 || code == -32600,
    }
}

// ---------------------------------------------------------------------------------------------
// Tools: deterministic per (server, index), varied across servers.

const VERBS: [&str; 8] = ["get", "list", "create", "update", "delete", "run", "send", "search"];
const NOUNS: [(&str, &str); 12] = [
    ("issue", "an issue in the tracker"),
    ("file", "a file in the workspace"),
    ("user", "a user account"),
    ("payment", "a payment"),
    ("query", "a saved database query"),
    ("message", "a chat message"),
    ("repo", "a source repository"),
    ("invoice", "a customer invoice"),
    ("ticket", "a support ticket"),
    ("event", "a calendar event"),
    ("secret", "a stored secret"),
    ("deployment", "a deployment"),
];
const PREFIXES: [&str; 6] = ["", "", "acme_", "crm_", "ops_", "db_"];
const EXTRAS: [&str; 6] = [
    "",
    " Results are returned as JSON.",
    " Requires an API token with the right scope.",
    " Use this before making any change.",
    " The operation is logged for audit.",
    " Large results are truncated to 100 items.",
];

/// SplitMix64: a cheap, good-enough mixer for picking words.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

fn tool(server: u64, i: usize) -> Value {
    let combos = VERBS.len() * NOUNS.len();
    let h = mix(server);
    // A server-specific start and a stride coprime with 96 give distinct names within a server.
    let stride = pick(&[1usize, 5, 7, 11, 13, 17, 19, 23], h >> 8);
    let combo = ((h % combos as u64) as usize + i * stride) % combos;
    let (verb, (noun, what)) = (VERBS[combo % VERBS.len()], NOUNS[combo / VERBS.len()]);
    let prefix = pick(&PREFIXES, h >> 16);
    let lap = i / combos;
    let name = if lap == 0 { format!("{prefix}{verb}_{noun}") } else { format!("{prefix}{verb}_{noun}_{lap}") };
    let t = mix(h ^ i as u64);

    let mut description = match verb {
        "get" => format!("Get {what} by its id."),
        "list" => format!("List every {noun} visible to the caller, newest first."),
        "create" => format!("Create {what}."),
        "update" => format!("Update the fields of {what}."),
        "delete" => format!("Permanently delete {what}. This cannot be undone."),
        "run" => format!("Run {what} and return its output."),
        "send" => format!("Send {what} to a recipient."),
        _ => format!("Search for {noun}s matching a free-text query."),
    };
    description.push_str(pick(&EXTRAS, t));

    let mut props = Map::new();
    let mut required = Vec::new();
    let id_prop = json!({"type": "string", "description": format!("The {noun} id")});
    match verb {
        "get" | "delete" => {
            props.insert(format!("{noun}_id"), id_prop);
            required.push(format!("{noun}_id"));
        }
        "update" => {
            props.insert(format!("{noun}_id"), id_prop);
            props.insert(
                "fields".into(),
                json!({"type": "object", "description": "Fields to change", "additionalProperties": true}),
            );
            required.extend([format!("{noun}_id"), "fields".into()]);
        }
        "create" => {
            props.insert("name".into(), json!({"type": "string", "description": format!("Name of the new {noun}")}));
            props.insert("body".into(), json!({"type": "string"}));
            props.insert("tags".into(), json!({"type": "array", "items": {"type": "string"}}));
            required.push("name".into());
        }
        "list" | "search" => {
            if verb == "search" {
                props.insert("query".into(), json!({"type": "string", "description": "Free-text query"}));
                required.push("query".into());
            }
            props.insert("limit".into(), json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}));
            props.insert("cursor".into(), json!({"type": "string"}));
        }
        "run" => {
            props.insert(format!("{noun}_id"), id_prop);
            props.insert("dry_run".into(), json!({"type": "boolean", "default": false}));
            props.insert("timeout_seconds".into(), json!({"type": "number"}));
            required.push(format!("{noun}_id"));
        }
        _ => {
            props.insert("to".into(), json!({"type": "string", "format": "email"}));
            props.insert("subject".into(), json!({"type": "string"}));
            props.insert("content".into(), json!({"type": "string"}));
            props.insert("priority".into(), json!({"type": "string", "enum": ["low", "normal", "high"]}));
            required.extend(["to".into(), "content".into()]);
        }
    }
    let mut tool = json!({
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": props, "required": required},
    });
    if t % 3 == 0 {
        let mut title = format!("{verb} {noun}");
        title[..1].make_ascii_uppercase();
        tool["title"] = title.into();
    }
    // About three tools in four carry annotations; the hints follow the verb.
    if t % 4 != 0 {
        let read_only = matches!(verb, "get" | "list" | "search");
        let mut ann = json!({"readOnlyHint": read_only});
        if !read_only {
            ann["destructiveHint"] = (verb == "delete" || verb == "update").into();
            ann["idempotentHint"] = (verb == "update" || verb == "delete").into();
        }
        if matches!(verb, "send" | "run") || t % 5 == 0 {
            ann["openWorldHint"] = true.into();
        }
        tool["annotations"] = ann;
    }
    tool
}

// ---------------------------------------------------------------------------------------------
// stdio

fn serve_stdio(cfg: &Config) -> Result<()> {
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if std::io::BufRead::read_until(&mut input, b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let msg = line.trim_ascii();
        if msg.is_empty() {
            continue;
        }
        if !cfg.latency.is_zero() {
            std::thread::sleep(cfg.latency);
        }
        if let Answer::Reply { mut body, .. } = handle_message(cfg, cfg.server, msg) {
            body.push(b'\n');
            if out.write_all(&body).and_then(|()| out.flush()).is_err() {
                return Ok(()); // the client went away
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[allow(clippy::print_stderr)] // the benchmark script waits for this line
async fn serve_http(cfg: Arc<Config>) -> Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], cfg.port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", cfg.port))?;
    let addr = listener.local_addr()?;
    eprintln!("listening on {addr}");
    let _ = std::io::stderr().flush();
    let sessions = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait and go on rather than exit.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (cfg, sessions) = (cfg.clone(), sessions.clone());
        tokio::spawn(async move {
            let _ = connection(stream, &cfg, &sessions).await;
        });
    }
}

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    body: Vec<u8>,
}

enum ReadOutcome {
    Request(Request),
    /// The client closed the connection between requests.
    Closed,
    /// A malformed request: answer with this status and close.
    Bad(u16, &'static str),
}

async fn connection(mut stream: TcpStream, cfg: &Config, sessions: &AtomicU64) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.split();
    let mut r = BufReader::with_capacity(16 * 1024, r);
    loop {
        let req = match read_request(&mut r, &mut w).await? {
            ReadOutcome::Request(req) => req,
            ReadOutcome::Closed => return Ok(()),
            ReadOutcome::Bad(status, why) => {
                let body = format!("{why}\n");
                w.write_all(&response(status, "text/plain", None, body.as_bytes(), false)).await?;
                return Ok(());
            }
        };
        if !cfg.latency.is_zero() {
            tokio::time::sleep(cfg.latency).await;
        }
        let resp = route(cfg, sessions, &req);
        w.write_all(&resp).await?;
        if !req.keep_alive {
            return Ok(());
        }
    }
}

fn route(cfg: &Config, sessions: &AtomicU64, req: &Request) -> Vec<u8> {
    let ka = req.keep_alive;
    let Some(server) = server_number(&req.path) else {
        return response(404, "text/plain", None, b"no such server: use /s/<n>/mcp\n", ka);
    };
    match req.method.as_str() {
        "POST" => match handle_message(cfg, server, &req.body) {
            Answer::None => response(202, "", None, b"", ka),
            Answer::Reply { body, session, bad } => {
                let id = session.then(|| session_id(server, sessions.fetch_add(1, Ordering::Relaxed)));
                response(if bad { 400 } else { 200 }, "application/json", id.as_deref(), &body, ka)
            }
        },
        "DELETE" => response(200, "", None, b"", ka),
        "GET" => response(405, "text/plain", None, b"no SSE stream: POST JSON-RPC messages\n", ka),
        _ => response(405, "text/plain", None, b"method not allowed\n", ka),
    }
}

/// `/s/<n>/mcp` (a query string is ignored) → `n`.
fn server_number(path: &str) -> Option<u64> {
    let path = path.split('?').next()?;
    path.strip_prefix("/s/")?.strip_suffix("/mcp")?.parse().ok()
}

fn session_id(server: u64, serial: u64) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let a = mix(server ^ nanos.rotate_left(17));
    let b = mix(serial ^ a);
    format!("{a:016x}{b:016x}")
}

fn response(status: u16, content_type: &str, session: Option<&str>, body: &[u8], keep_alive: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Unknown",
    };
    let mut head = String::with_capacity(160);
    let _ = write!(head, "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n", body.len());
    if !content_type.is_empty() {
        let _ = write!(head, "Content-Type: {content_type}\r\n");
    }
    if let Some(id) = session {
        let _ = write!(head, "Mcp-Session-Id: {id}\r\n");
    }
    if status == 405 {
        head.push_str("Allow: POST, DELETE\r\n");
    }
    head.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads one line (ending in `\n`, included) into `buf`, failing past `cap` bytes in all.
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<usize>> {
    let start = buf.len();
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.len() == start { Some(0) } else { None });
        }
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + used > cap {
            return Ok(None);
        }
        buf.extend_from_slice(&available[..used]);
        r.consume(used);
        if done {
            return Ok(Some(buf.len() - start));
        }
    }
}

async fn read_request<R, W>(r: &mut R, w: &mut W) -> std::io::Result<ReadOutcome>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut head = Vec::with_capacity(1024);
    // The request line; blank lines before it are tolerated (RFC 9112 §2.2).
    let line_len = loop {
        head.clear();
        match read_line_capped(r, &mut head, MAX_HEAD).await? {
            Some(0) => return Ok(ReadOutcome::Closed),
            None => return Ok(ReadOutcome::Bad(431, "request line too long or cut short")),
            Some(_) if head.trim_ascii().is_empty() => continue,
            Some(n) => break n,
        }
    };
    let request_line = String::from_utf8_lossy(&head[..line_len]).trim().to_string();
    let mut parts = request_line.split_ascii_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(ReadOutcome::Bad(400, "malformed request line"));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let http10 = version == "HTTP/1.0";

    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut connection_close = http10;
    let mut expect_continue = false;
    loop {
        let before = head.len();
        match read_line_capped(r, &mut head, MAX_HEAD).await? {
            Some(0) | None => return Ok(ReadOutcome::Bad(431, "headers too long or cut short")),
            Some(_) => {}
        }
        let line = head[before..].trim_ascii();
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Ok(ReadOutcome::Bad(400, "malformed header line"));
        };
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).to_ascii_lowercase();
        match name.as_str() {
            "content-length" => match value.parse() {
                Ok(n) if content_length.is_none_or(|c| c == n) => content_length = Some(n),
                _ => return Ok(ReadOutcome::Bad(400, "bad Content-Length")),
            },
            "transfer-encoding" => {
                if value.rsplit(',').next().map(str::trim) != Some("chunked") {
                    return Ok(ReadOutcome::Bad(411, "only chunked transfer encoding is understood"));
                }
                chunked = true;
            }
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    match token {
                        "close" => connection_close = true,
                        "keep-alive" => connection_close = false,
                        _ => {}
                    }
                }
            }
            "expect" if value == "100-continue" => expect_continue = true,
            _ => {}
        }
    }
    if chunked && content_length.is_some() {
        return Ok(ReadOutcome::Bad(400, "both Content-Length and Transfer-Encoding"));
    }
    if content_length.is_some_and(|n| n > MAX_BODY) {
        return Ok(ReadOutcome::Bad(413, "body too large"));
    }
    if expect_continue && (chunked || content_length.is_some_and(|n| n > 0)) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let mut body = Vec::new();
    if chunked {
        if let Err(why) = read_chunked(r, &mut body).await? {
            return Ok(ReadOutcome::Bad(400, why));
        }
    } else if let Some(n) = content_length {
        body.resize(n, 0);
        if r.read_exact(&mut body).await.is_err() {
            return Ok(ReadOutcome::Closed);
        }
    } else if method == "POST" {
        return Ok(ReadOutcome::Bad(411, "POST needs Content-Length or chunked encoding"));
    }
    Ok(ReadOutcome::Request(Request { method, path, keep_alive: !connection_close, body }))
}

/// Decodes a chunked body into `body`; the inner error says what was wrong with it.
async fn read_chunked<R: AsyncBufRead + Unpin>(
    r: &mut R,
    body: &mut Vec<u8>,
) -> std::io::Result<Result<(), &'static str>> {
    let mut line = Vec::with_capacity(32);
    loop {
        line.clear();
        if !matches!(read_line_capped(r, &mut line, 1024).await?, Some(n) if n > 0) {
            return Ok(Err("bad chunk size line"));
        }
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        let Some(size) = std::str::from_utf8(size_text).ok().and_then(|s| usize::from_str_radix(s, 16).ok()) else {
            return Ok(Err("bad chunk size"));
        };
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                line.clear();
                match read_line_capped(r, &mut line, MAX_HEAD).await? {
                    Some(n) if n > 0 => {
                        if line.trim_ascii().is_empty() {
                            return Ok(Ok(()));
                        }
                    }
                    _ => return Ok(Err("cut short in the trailers")),
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Ok(Err("body too large"));
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..]).await?;
        line.clear();
        if !matches!(read_line_capped(r, &mut line, 8).await?, Some(n) if n > 0) || !line.trim_ascii().is_empty() {
            return Ok(Err("no CRLF after a chunk"));
        }
    }
}
