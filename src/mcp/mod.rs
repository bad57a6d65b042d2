//! The MCP client: our own tolerant JSON-RPC client over stdio, Streamable HTTP and legacy HTTP+SSE.
//! See `docs/crawler.md` for its contract.
//!
//! `list_server` connects (spawns, or POSTs), finds the protocol era (`server/discover` first, as
//! the protocol doc's §2.5 says, then the legacy `initialize` handshake), lists tools page by page
//! with guards, then prompts, resources and resource templates when the server declares them, and
//! always shuts down: a stdio server's whole process group is killed and reaped, an HTTP session
//! is deleted.
//!
//! Modules: `stdio` (child process, line reader, stderr ring), `http` (Streamable HTTP and legacy
//! SSE), `sse` (event-stream parser), `jsonrpc` (envelopes), `guard` (public-address checks).

mod guard;
mod http;
pub(crate) mod jsonrpc;
pub(crate) mod sse;
pub(crate) mod stdio;

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::time::{timeout_at, Instant};
use url::Url;

pub use guard::{check_host_name, check_ip, check_url, resolve_public};

use jsonrpc::{Reply, RpcError};

/// The newest legacy (`initialize`) protocol version; servers answer with the one they speak.
pub const LEGACY_VERSION: &str = "2025-11-25";
/// The stateless protocol version, spoken after a successful `server/discover`.
pub const MODERN_VERSION: &str = "2026-07-28";

/// How long a stdio server gets after its stdin is closed, and again after SIGTERM.
const STDIO_GRACE: Duration = Duration::from_millis(500);
/// Time for shutdown past the deadline (stdio: two graces and the reap; HTTP: the DELETE).
const SHUTDOWN_ALLOWANCE: Duration = Duration::from_secs(3);

/// What to spawn for a stdio server. The child gets only `env` (put `PATH` in it when wanted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StdioCommand {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// Which HTTP transport to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpTransport {
    /// Streamable HTTP, falling back to legacy SSE on 400/404/405.
    #[default]
    Auto,
    Streamable,
    Sse,
}

/// Which addresses an HTTP endpoint may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AddressGuard {
    /// Anything (URLs the user named).
    #[default]
    AllowAll,
    /// Public addresses only (URLs from a registry), after DNS and on every redirect.
    PublicOnly,
}

/// Where a server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Stdio(StdioCommand),
    Http { url: Url, headers: Vec<(String, String)>, transport: HttpTransport, guard: AddressGuard },
}

/// Bounds on what one listing may cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest stdout line, HTTP body or event.
    pub max_message_bytes: usize,
    /// Pages per list method.
    pub max_pages: usize,
    /// Items per list method (tools, prompts, ...).
    pub max_tools: usize,
    /// How much of a stdio server's stderr is kept (its tail).
    pub stderr_bytes: usize,
    /// Time for one request and its answer.
    pub request_timeout: Duration,
    /// Time for the whole listing (shutdown gets a few seconds more).
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_pages: 100,
            max_tools: 10_000,
            stderr_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

/// The step a listing is in, reported to `on_phase` and in `Error::Timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Start,
    Initialize,
    ListTools,
    ListOther,
    Shutdown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Initialize => "initialize",
            Phase::ListTools => "list_tools",
            Phase::ListOther => "list_other",
            Phase::Shutdown => "shutdown",
        }
    }

    fn from_u8(n: u8) -> Phase {
        match n {
            0 => Phase::Start,
            1 => Phase::Initialize,
            2 => Phase::ListTools,
            3 => Phase::ListOther,
            _ => Phase::Shutdown,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport a listing used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Stdio,
    StreamableHttp,
    Sse,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Stdio => "stdio",
            TransportKind::StreamableHttp => "streamable_http",
            TransportKind::Sse => "sse",
        }
    }
}

/// What a server said about itself. Items are kept as their raw JSON text, verbatim.
#[derive(Debug)]
pub struct Listing {
    pub transport: TransportKind,
    /// The version the server answered (or `2026-07-28` after `server/discover`).
    pub protocol_version: Option<String>,
    pub server_info: Option<Value>,
    pub instructions: Option<String>,
    pub capabilities: Option<Value>,
    /// Every tool that is an object with a string `name`; the others are problems.
    pub tools: Vec<Box<RawValue>>,
    pub prompts: Vec<Box<RawValue>>,
    pub resources: Vec<Box<RawValue>>,
    pub resource_templates: Vec<Box<RawValue>>,
    /// What was odd but not fatal (`tools[3]: no name`, a repeated cursor, a failed prompts/list).
    pub problems: Vec<String>,
    /// stdout lines of a stdio server that were not JSON-RPC.
    pub noise_lines: usize,
    /// A cap (pages, items) or a failed later page cut a list short.
    pub truncated: bool,
}

/// Why a listing failed. `kind()` is stable and used in summaries and the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the server requires authorization (HTTP {status}{}); give it a token with an Authorization header, or skip it",
        www_authenticate.as_deref().map(|h| format!(", WWW-Authenticate: {h}")).unwrap_or_default()
    )]
    AuthRequired { status: u16, www_authenticate: Option<String> },
    #[error("no answer in time during {phase}; the server is stalled or slow: raise the request timeout or the deadline, or check that this is an MCP server")]
    Timeout { phase: Phase },
    #[error(
        "the server exited{} before answering; check its command, arguments and the environment variables it needs; {}",
        status.map(|s| format!(" with status {s}")).unwrap_or_default(),
        if stderr_tail.is_empty() { "it wrote nothing to stderr".to_string() } else { format!("its stderr ends with:\n{stderr_tail}") }
    )]
    Exited { status: Option<i32>, stderr_tail: String },
    #[error("the server answered HTTP {status}{}; check the URL and the transport", if body_excerpt.is_empty() { String::new() } else { format!(": {body_excerpt}") })]
    Http { status: u16, body_excerpt: String },
    #[error("could not connect: {0}; check the URL and that the server is up")]
    Connect(String),
    #[error("refused to connect to {url}: {reason}; only public addresses are allowed for this endpoint")]
    RefusedAddress { url: String, reason: String },
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    #[error("could not start the server: {0}")]
    Spawn(String),
}

impl Error {
    /// The stable name of the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::AuthRequired { .. } => "auth_required",
            Error::Timeout { .. } => "timeout",
            Error::Exited { .. } => "exited",
            Error::Http { .. } => "http",
            Error::Connect(_) => "connect",
            Error::RefusedAddress { .. } => "refused_address",
            Error::Protocol(_) => "protocol",
            Error::Spawn(_) => "spawn",
        }
    }
}

/// Runs `fut` until `until`; running out of time is `Error::Timeout` in `phase`.
pub(crate) async fn within<T>(
    until: Instant,
    phase: Phase,
    fut: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    timeout_at(until, fut).await.unwrap_or(Err(Error::Timeout { phase }))
}

/// The async half of the address guard for `Endpoint` URLs: `check_url`, then every address the
/// host resolves to. The error is `refused_address`.
pub async fn check_url_resolved(url: &Url) -> Result<(), Error> {
    resolve_public(url).await.map(drop).map_err(|reason| Error::RefusedAddress { url: url.to_string(), reason })
}

/// Lists a server's tools (and prompts, resources, resource templates). Calls `on_phase` as it
/// goes. Never leaves a process behind: on success, error, timeout or cancellation.
pub async fn list_server(
    endpoint: &Endpoint,
    limits: &Limits,
    on_phase: &(dyn Fn(Phase) + Send + Sync),
) -> Result<Listing, Error> {
    let progress = Progress { on_phase, current: AtomicU8::new(0) };
    let clock = Clock { deadline: Instant::now() + limits.deadline, request_timeout: limits.request_timeout };
    progress.enter(Phase::Start);
    // Every step honours the deadline; this only bounds the shutdown that follows it.
    let hard = clock.deadline + SHUTDOWN_ALLOWANCE;
    let run = async {
        match endpoint {
            Endpoint::Stdio(cmd) => run_stdio(cmd, limits, &clock, &progress).await,
            Endpoint::Http { url, headers, transport, guard } => {
                run_http(url, headers, *transport, *guard, limits, &clock, &progress).await
            }
        }
    };
    match timeout_at(hard, run).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout { phase: progress.current() }),
    }
}

struct Progress<'a> {
    on_phase: &'a (dyn Fn(Phase) + Send + Sync),
    current: AtomicU8,
}

impl Progress<'_> {
    fn enter(&self, phase: Phase) {
        self.current.store(phase as u8, Ordering::Relaxed);
        (self.on_phase)(phase);
    }

    fn current(&self) -> Phase {
        Phase::from_u8(self.current.load(Ordering::Relaxed))
    }
}

struct Clock {
    deadline: Instant,
    request_timeout: Duration,
}

impl Clock {
    /// When the next request must be answered by.
    fn until(&self) -> Instant {
        (Instant::now() + self.request_timeout).min(self.deadline)
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// One connection, whatever its transport.
enum Conn {
    Stdio(stdio::StdioConn),
    Streamable(http::StreamableConn),
    Sse(http::SseConn),
}

impl Conn {
    async fn request(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<Reply, Error> {
        match self {
            Conn::Stdio(c) => c.request(method, params, until, phase).await,
            Conn::Streamable(c) => c.request(method, params, until, phase).await,
            Conn::Sse(c) => c.request(method, params, until, phase).await,
        }
    }

    async fn notify(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<(), Error> {
        match self {
            Conn::Stdio(c) => c.notify(method, params, until, phase).await,
            Conn::Streamable(c) => c.notify(method, params, until, phase).await,
            Conn::Sse(c) => c.notify(method, params, until, phase).await,
        }
    }

    fn transport(&self) -> TransportKind {
        match self {
            Conn::Stdio(_) => TransportKind::Stdio,
            Conn::Streamable(_) => TransportKind::StreamableHttp,
            Conn::Sse(_) => TransportKind::Sse,
        }
    }

    fn noise_lines(&self) -> usize {
        match self {
            Conn::Stdio(c) => c.noise_lines,
            _ => 0,
        }
    }

    fn take_problems(&mut self) -> Vec<String> {
        match self {
            Conn::Streamable(c) => std::mem::take(&mut c.problems),
            _ => Vec::new(),
        }
    }

    async fn close(&mut self) {
        match self {
            Conn::Stdio(c) => c.shutdown(STDIO_GRACE).await,
            Conn::Streamable(c) => c.close().await,
            Conn::Sse(_) => {}
        }
    }
}

/// What the handshake (`initialize` or `server/discover`) told us.
#[derive(Debug, Default)]
struct Handshake {
    modern: bool,
    protocol_version: Option<String>,
    server_info: Option<Value>,
    instructions: Option<String>,
    capabilities: Option<Value>,
    problems: Vec<String>,
}

impl Handshake {
    fn declares(&self, capability: &str) -> bool {
        self.capabilities.as_ref().and_then(|c| c.get(capability)).is_some_and(|v| !v.is_null())
    }
}

fn client_info() -> Value {
    json!({"name": "catalog", "version": env!("CARGO_PKG_VERSION")})
}

/// The `_meta` every 2026-07-28 request carries.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": client_info(),
    })
}

/// What the `server/discover` probe says about the era.
enum Probe {
    Modern(Handshake),
    Legacy,
    /// No answer: a legacy server that ignores unknown methods (respawn before `initialize`).
    Silent,
}

async fn discover(conn: &mut Conn, clock: &Clock) -> Result<Probe, Error> {
    let params = json!({"_meta": modern_meta()});
    match conn.request("server/discover", Some(&params), clock.until(), Phase::Initialize).await {
        Ok(Reply::Result(raw)) => Ok(parse_discover(&raw).map_or(Probe::Legacy, Probe::Modern)),
        Ok(Reply::Error(e)) => {
            let supported = e.supported_versions();
            if e.code == Some(-32022) || supported.iter().any(|v| v.as_str() >= MODERN_VERSION) {
                if supported.iter().any(|v| v == MODERN_VERSION)
                    || supported.iter().all(|v| v.as_str() < MODERN_VERSION)
                {
                    return Ok(Probe::Legacy);
                }
                return Err(Error::Protocol(format!(
                    "the server speaks only protocol versions {supported:?}, which this client does not ({e})"
                )));
            }
            Ok(Probe::Legacy)
        }
        Err(Error::Timeout { .. }) if !clock.expired() => Ok(Probe::Silent),
        Err(e) => Err(e),
    }
}

/// A `server/discover` result: an object with `supportedVersions` or `capabilities`.
fn parse_discover(raw: &RawValue) -> Option<Handshake> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw.get()) else { return None };
    let versions = map.get("supportedVersions").and_then(Value::as_array);
    if versions.is_none() && !map.get("capabilities").is_some_and(Value::is_object) {
        return None;
    }
    let mut hs = Handshake { modern: true, protocol_version: Some(MODERN_VERSION.to_string()), ..Handshake::default() };
    if let Some(versions) = versions {
        if !versions.iter().any(|v| v.as_str() == Some(MODERN_VERSION)) {
            hs.problems.push(format!(
                "server/discover lists versions {}; trying {MODERN_VERSION} anyway",
                Value::Array(versions.clone())
            ));
        }
    }
    hs.capabilities = map.get("capabilities").filter(|c| c.is_object()).cloned();
    hs.instructions = map.get("instructions").and_then(Value::as_str).map(str::to_string);
    hs.server_info = map
        .get("_meta")
        .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
        .or_else(|| map.get("serverInfo"))
        .cloned();
    Some(hs)
}

/// The legacy versions we can speak, newest first.
const LEGACY_VERSIONS: [&str; 4] = [LEGACY_VERSION, "2025-06-18", "2025-03-26", "2024-11-05"];

fn initialize_params(version: &str) -> Value {
    json!({"protocolVersion": version, "capabilities": {}, "clientInfo": client_info()})
}

/// The legacy handshake: `initialize`, then `notifications/initialized`. A server that refuses
/// our version instead of answering with its own, but names the versions it supports
/// (`data.supported`), is asked once more with the newest legacy one of those.
async fn initialize(conn: &mut Conn, clock: &Clock) -> Result<Handshake, Error> {
    let mut version = LEGACY_VERSION;
    let raw = loop {
        match conn.request("initialize", Some(&initialize_params(version)), clock.until(), Phase::Initialize).await? {
            Reply::Result(raw) => break raw,
            Reply::Error(e) => {
                let supported = e.supported_versions();
                let retry = LEGACY_VERSIONS.into_iter().find(|v| supported.iter().any(|s| s == v));
                match retry {
                    Some(v) if version == LEGACY_VERSION && v != LEGACY_VERSION => version = v,
                    _ => return Err(Error::Protocol(format!("the server refused initialize: {e}"))),
                }
            }
        }
    };
    let hs = parse_initialize(&raw)?;
    if let Conn::Streamable(c) = conn {
        c.era = http::Era::Legacy { version: hs.protocol_version.clone() };
    }
    match conn.notify("notifications/initialized", None, clock.until(), Phase::Initialize).await {
        Ok(()) => {}
        // Over HTTP an odd answer to a notification is not worth failing for.
        Err(e @ (Error::Http { .. } | Error::Protocol(_))) if !matches!(conn, Conn::Stdio(_)) => {
            let mut hs = hs;
            hs.problems.push(format!("notifications/initialized: {e}"));
            return Ok(hs);
        }
        Err(e) => return Err(e),
    }
    Ok(hs)
}

fn parse_initialize(raw: &RawValue) -> Result<Handshake, Error> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(raw.get()) else {
        return Err(Error::Protocol(format!(
            "the initialize result is not an object: {}",
            jsonrpc::excerpt(raw.get(), 200)
        )));
    };
    let mut hs = Handshake::default();
    match map.remove("protocolVersion") {
        Some(Value::String(v)) => hs.protocol_version = Some(v),
        Some(other) => hs.problems.push(format!("initialize: protocolVersion is not a string: {other}")),
        None => hs.problems.push("initialize: no protocolVersion".to_string()),
    }
    match map.remove("capabilities") {
        Some(c @ Value::Object(_)) => hs.capabilities = Some(c),
        Some(Value::Null) | None => {}
        Some(other) => hs.problems.push(format!("initialize: capabilities is not an object: {other}")),
    }
    hs.server_info = map.remove("serverInfo").filter(|v| !v.is_null());
    hs.instructions = map.remove("instructions").and_then(|v| v.as_str().map(str::to_string));
    Ok(hs)
}

async fn run_stdio(
    cmd: &StdioCommand,
    limits: &Limits,
    clock: &Clock,
    progress: &Progress<'_>,
) -> Result<Listing, Error> {
    let spawn = || stdio::StdioConn::spawn(cmd, limits.max_message_bytes, limits.stderr_bytes).map(Conn::Stdio);
    let mut conn = spawn()?;
    progress.enter(Phase::Initialize);
    let handshake = match discover(&mut conn, clock).await {
        Ok(Probe::Modern(hs)) => Ok(hs),
        Ok(Probe::Legacy) => initialize(&mut conn, clock).await,
        Ok(Probe::Silent) => {
            // A late answer to the probe must not be taken for the initialize result: start over.
            if let Conn::Stdio(c) = &mut conn {
                c.shutdown(Duration::ZERO).await;
            }
            conn = spawn()?;
            initialize(&mut conn, clock).await
        }
        Err(e) => Err(e),
    };
    let result = match handshake {
        Ok(hs) => list_all(&mut conn, hs, limits, clock, progress).await,
        Err(e) => Err(e),
    };
    progress.enter(Phase::Shutdown);
    conn.close().await;
    result
}

async fn run_http(
    url: &Url,
    headers: &[(String, String)],
    transport: HttpTransport,
    guard: AddressGuard,
    limits: &Limits,
    clock: &Clock,
    progress: &Progress<'_>,
) -> Result<Listing, Error> {
    if guard == AddressGuard::PublicOnly {
        check_url_resolved(url).await?;
    }
    let client = http::client(guard, limits.request_timeout)?;
    let headers = http::header_map(headers)?;
    progress.enter(Phase::Initialize);
    let sse = || async {
        let conn = http::SseConn::connect(
            client.clone(),
            url,
            headers.clone(),
            limits.max_message_bytes,
            clock.until(),
            Phase::Initialize,
        )
        .await?;
        let mut conn = Conn::Sse(conn);
        let hs = initialize(&mut conn, clock).await?;
        Ok::<_, Error>((conn, hs))
    };
    let streamable = || async {
        let mut conn = Conn::Streamable(http::StreamableConn::new(
            client.clone(),
            url.clone(),
            headers.clone(),
            limits.max_message_bytes,
        ));
        let hs = match discover(&mut conn, clock).await {
            Ok(Probe::Modern(hs)) => Ok(hs),
            Ok(Probe::Legacy | Probe::Silent)
            | Err(Error::Http { .. } | Error::Protocol(_) | Error::Timeout { .. })
                if !clock.expired() =>
            {
                if let Conn::Streamable(c) = &mut conn {
                    c.reset_legacy();
                }
                initialize(&mut conn, clock).await
            }
            Ok(_) => Err(Error::Timeout { phase: Phase::Initialize }),
            Err(e) => Err(e),
        };
        match hs {
            Ok(hs) => Ok((conn, hs)),
            Err(e) => {
                conn.close().await;
                Err(e)
            }
        }
    };
    let (mut conn, hs) = match transport {
        HttpTransport::Sse => sse().await?,
        HttpTransport::Streamable => streamable().await?,
        HttpTransport::Auto => match streamable().await {
            Ok(found) => found,
            Err(first) if http::falls_back(&first) && !clock.expired() => match sse().await {
                Ok(found) => found,
                Err(e @ (Error::AuthRequired { .. } | Error::RefusedAddress { .. })) => return Err(e),
                // Neither transport: the Streamable error says more about what is at the URL.
                Err(_) => return Err(first),
            },
            Err(e) => return Err(e),
        },
    };
    let result = list_all(&mut conn, hs, limits, clock, progress).await;
    progress.enter(Phase::Shutdown);
    conn.close().await;
    result
}

/// After the handshake: tools, then the other lists the server declares.
async fn list_all(
    conn: &mut Conn,
    hs: Handshake,
    limits: &Limits,
    clock: &Clock,
    progress: &Progress<'_>,
) -> Result<Listing, Error> {
    progress.enter(Phase::ListTools);
    let mut listing = Listing {
        transport: conn.transport(),
        protocol_version: hs.protocol_version.clone(),
        server_info: hs.server_info.clone(),
        instructions: hs.instructions.clone(),
        capabilities: hs.capabilities.clone(),
        tools: Vec::new(),
        prompts: Vec::new(),
        resources: Vec::new(),
        resource_templates: Vec::new(),
        problems: hs.problems.clone(),
        noise_lines: 0,
        truncated: false,
    };
    let lister = Lister { modern: hs.modern, limits, clock };
    match lister.list(conn, "tools/list", "tools", Phase::ListTools, &mut listing.problems).await {
        Ok(page) => {
            listing.tools = page.items;
            listing.truncated |= page.truncated;
        }
        Err(ListError::Rpc(e)) if e.code == Some(-32601) && !hs.declares("tools") => {
            listing.problems.push("tools/list: method not found (the server declares no tools)".to_string());
        }
        Err(ListError::Rpc(e)) => return Err(Error::Protocol(format!("tools/list failed: {e}"))),
        Err(ListError::Fatal(e)) => return Err(e),
    }
    progress.enter(Phase::ListOther);
    let others: [(&str, &str, &str); 3] = [
        ("prompts", "prompts/list", "prompts"),
        ("resources", "resources/list", "resources"),
        ("resources", "resources/templates/list", "resourceTemplates"),
    ];
    for (capability, method, key) in others {
        if !hs.declares(capability) {
            continue;
        }
        if clock.expired() {
            listing.problems.push(format!("{method}: skipped, the deadline was reached"));
            continue;
        }
        let items = match lister.list(conn, method, key, Phase::ListOther, &mut listing.problems).await {
            Ok(page) => {
                listing.truncated |= page.truncated;
                page.items
            }
            Err(ListError::Rpc(e)) if e.code == Some(-32601) => Vec::new(),
            Err(ListError::Rpc(e)) => {
                listing.problems.push(format!("{method} failed: {e}"));
                Vec::new()
            }
            Err(ListError::Fatal(e)) => {
                listing.problems.push(format!("{method} failed: {e}"));
                break;
            }
        };
        match key {
            "prompts" => listing.prompts = items,
            "resources" => listing.resources = items,
            _ => listing.resource_templates = items,
        }
    }
    listing.noise_lines = conn.noise_lines();
    listing.problems.extend(conn.take_problems());
    Ok(listing)
}

/// One list method's items.
struct Page {
    items: Vec<Box<RawValue>>,
    truncated: bool,
}

enum ListError {
    /// The first page was a JSON-RPC error.
    Rpc(RpcError),
    /// The connection failed.
    Fatal(Error),
}

struct Lister<'a> {
    modern: bool,
    limits: &'a Limits,
    clock: &'a Clock,
}

#[derive(Deserialize)]
struct NameOnly {
    #[serde(default)]
    name: Option<Value>,
}

impl Lister<'_> {
    /// Follows `nextCursor` with guards: a repeated cursor stops (problem), so do `max_pages`
    /// pages and `max_tools` items (`truncated`). A later page's JSON-RPC error keeps the items so
    /// far. `""` ends a legacy list and continues a modern one (2026-07-28 says so).
    async fn list(
        &self,
        conn: &mut Conn,
        method: &str,
        key: &str,
        phase: Phase,
        problems: &mut Vec<String>,
    ) -> Result<Page, ListError> {
        let mut items: Vec<Box<RawValue>> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0usize;
        let mut position = 0usize;
        let mut truncated = false;
        loop {
            if pages >= self.limits.max_pages {
                problems.push(format!("{method}: stopped after {pages} pages (limits.max_pages)"));
                truncated = true;
                break;
            }
            let params = self.params(cursor.as_deref());
            let raw = match conn.request(method, params.as_ref(), self.clock.until(), phase).await {
                Ok(Reply::Result(raw)) => raw,
                Ok(Reply::Error(e)) if pages == 0 => return Err(ListError::Rpc(e)),
                Ok(Reply::Error(e)) => {
                    problems.push(format!(
                        "{method}: page {} failed, kept the {} items before it: {e}",
                        pages + 1,
                        items.len()
                    ));
                    truncated = true;
                    break;
                }
                Err(e) => return Err(ListError::Fatal(e)),
            };
            pages += 1;
            let (page_items, next) = read_page(&raw, method, key, problems);
            for item in page_items {
                let index = position;
                position += 1;
                if let Err(why) = check_item(&item, key == "tools") {
                    problems.push(format!("{key}[{index}]: {why}"));
                    continue;
                }
                if items.len() >= self.limits.max_tools {
                    problems.push(format!("{method}: stopped at {} items (limits.max_tools)", items.len()));
                    truncated = true;
                    break;
                }
                items.push(item);
            }
            if truncated {
                break;
            }
            match next {
                None | Some(Value::Null) => break,
                Some(Value::String(c)) if c.is_empty() && !self.modern => break,
                Some(Value::String(c)) => {
                    if !seen.insert(c.clone()) {
                        problems.push(format!(
                            "{method}: the server repeated the cursor {:?}; stopped after {pages} pages",
                            jsonrpc::excerpt(&c, 80)
                        ));
                        break;
                    }
                    cursor = Some(c);
                }
                Some(other) => {
                    problems.push(format!(
                        "{method}: nextCursor is not a string ({}); stopped",
                        jsonrpc::excerpt(&other.to_string(), 80)
                    ));
                    break;
                }
            }
        }
        Ok(Page { items, truncated })
    }

    fn params(&self, cursor: Option<&str>) -> Option<Value> {
        let mut params = serde_json::Map::new();
        if self.modern {
            params.insert("_meta".to_string(), modern_meta());
        }
        if let Some(c) = cursor {
            params.insert("cursor".to_string(), Value::String(c.to_string()));
        }
        (!params.is_empty()).then_some(Value::Object(params))
    }
}

/// A page's items (raw) and its `nextCursor`. A missing or malformed list is a problem and no items.
pub(crate) fn read_page(
    raw: &RawValue,
    method: &str,
    key: &str,
    problems: &mut Vec<String>,
) -> (Vec<Box<RawValue>>, Option<Value>) {
    let Ok(mut map) = serde_json::from_str::<HashMap<String, Box<RawValue>>>(raw.get()) else {
        problems.push(format!("{method}: the result is not an object: {}", jsonrpc::excerpt(raw.get(), 100)));
        return (Vec::new(), None);
    };
    let next = map.remove("nextCursor").and_then(|c| serde_json::from_str::<Value>(c.get()).ok());
    let items = match map.remove(key) {
        None => {
            problems.push(format!("{method}: the result has no {key:?}"));
            Vec::new()
        }
        Some(list) => match serde_json::from_str::<Vec<Box<RawValue>>>(list.get()) {
            Ok(items) => items,
            Err(_) if list.get() == "null" => {
                problems.push(format!("{method}: {key:?} is null"));
                Vec::new()
            }
            Err(_) => {
                problems.push(format!("{method}: {key:?} is not an array"));
                Vec::new()
            }
        },
    };
    (items, next)
}

/// An item must be an object; a tool also needs a string `name`.
pub(crate) fn check_item(item: &RawValue, is_tool: bool) -> Result<(), String> {
    if !item.get().trim_start().starts_with('{') {
        return Err("not an object".to_string());
    }
    if !is_tool {
        return Ok(());
    }
    match serde_json::from_str::<NameOnly>(item.get()) {
        Ok(NameOnly { name: Some(Value::String(_)) }) => Ok(()),
        Ok(NameOnly { name: None | Some(Value::Null) }) => Err("no name".to_string()),
        Ok(NameOnly { name: Some(_) }) => Err("name is not a string".to_string()),
        Err(e) => Err(format!("unreadable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).expect("test JSON")
    }

    #[test]
    fn items_are_checked() {
        assert!(check_item(&raw(r#"{"name":"a","inputSchema":{}}"#), true).is_ok());
        assert_eq!(check_item(&raw(r#"{"description":"x"}"#), true), Err("no name".to_string()));
        assert_eq!(check_item(&raw(r#"{"name":3}"#), true), Err("name is not a string".to_string()));
        assert_eq!(check_item(&raw(r#""tool""#), true), Err("not an object".to_string()));
        assert!(check_item(&raw(r#"{"uri":"x"}"#), false).is_ok());
    }

    #[test]
    fn pages_keep_items_verbatim() {
        let mut problems = Vec::new();
        let (items, next) = read_page(
            &raw(r#"{"tools":[{"name":"b",  "a":1}],"nextCursor":"c1"}"#),
            "tools/list",
            "tools",
            &mut problems,
        );
        assert_eq!(items[0].get(), r#"{"name":"b",  "a":1}"#);
        assert_eq!(next, Some(json!("c1")));
        let (items, next) = read_page(&raw(r#"{"other":1}"#), "tools/list", "tools", &mut problems);
        assert!(items.is_empty() && next.is_none());
        assert_eq!(problems, vec![r#"tools/list: the result has no "tools""#.to_string()]);
    }

    #[test]
    fn initialize_results_are_read_tolerantly() {
        let hs = parse_initialize(&raw(r#"{"protocolVersion":"2024-11-05","serverInfo":{"name":"s"},"extra":1}"#))
            .expect("tolerated");
        assert_eq!(hs.protocol_version.as_deref(), Some("2024-11-05"));
        assert!(hs.capabilities.is_none());
        assert!(!hs.declares("tools"));
        assert!(parse_initialize(&raw("[]")).is_err());
    }

    #[test]
    fn list_server_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let endpoint = Endpoint::Stdio(StdioCommand::default());
        let limits = Limits::default();
        let future = list_server(&endpoint, &limits, &|_| {});
        is_send(&future);
    }

    #[test]
    fn kinds_are_stable() {
        let kinds = [
            Error::AuthRequired { status: 401, www_authenticate: None }.kind(),
            Error::Timeout { phase: Phase::Start }.kind(),
            Error::Exited { status: None, stderr_tail: String::new() }.kind(),
            Error::Http { status: 500, body_excerpt: String::new() }.kind(),
            Error::Connect(String::new()).kind(),
            Error::RefusedAddress { url: String::new(), reason: String::new() }.kind(),
            Error::Protocol(String::new()).kind(),
            Error::Spawn(String::new()).kind(),
        ];
        assert_eq!(
            kinds,
            ["auth_required", "timeout", "exited", "http", "connect", "refused_address", "protocol", "spawn"]
        );
    }
}
