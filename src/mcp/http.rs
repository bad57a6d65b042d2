//! The two HTTP transports: Streamable HTTP (one endpoint, a POST per message, answers as JSON
//! or as an event stream, `Mcp-Session-Id` sessions; the 2026-07-28 shape with `Mcp-Method`) and
//! the legacy HTTP+SSE transport (a GET event stream whose `endpoint` event names where to POST).
//!
//! A legacy session the server lost (400 or 404 on a request that carried a session id, as the TS
//! SDK answers 400 for an unknown session) is re-initialized once and the request is sent again;
//! a second loss is an `http` error.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{redirect, Client, Response, StatusCode};
use serde_json::Value;
use tokio::time::{timeout, Instant};
use url::Url;

use super::guard::{self, Refused};
use super::jsonrpc::{self, excerpt, Message, Reply};
use super::sse;
use super::{within, AddressGuard, Error, Phase, MODERN_VERSION};

const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
/// How much of an error body we read, and how much of it an error shows.
const ERROR_BODY_BYTES: usize = 64 * 1024;
const ERROR_EXCERPT_CHARS: usize = 300;
/// Session deletion at the end is best effort and short.
const DELETE_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_REDIRECTS: usize = 5;

/// The HTTP client for one listing. With `PublicOnly`, every connection resolves through
/// `guard::PublicResolver` (so the checked address is the one connected to) and every redirect
/// hop is checked; proxies are not used, since a proxy would resolve the name itself.
pub(crate) fn client(guard: AddressGuard, connect_timeout: Duration) -> Result<Client, Error> {
    let policy =
        redirect::Policy::custom(move |attempt| match check_redirect(guard, attempt.previous().len(), attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        });
    let mut builder = Client::builder()
        .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION"), " (MCP tool catalog)"))
        .connect_timeout(connect_timeout)
        .redirect(policy);
    if guard == AddressGuard::PublicOnly {
        builder = builder.no_proxy().dns_resolver(Arc::new(guard::PublicResolver));
    }
    builder.build().map_err(|e| Error::Connect(format!("could not set up the HTTP client: {}", chain(&e))))
}

/// Whether a redirect to `url`, after `hops` earlier ones, may be followed: at most
/// `MAX_REDIRECTS`, and with `PublicOnly` never to a private, loopback or metadata address.
fn check_redirect(
    guard: AddressGuard,
    hops: usize,
    url: &url::Url,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if hops >= MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects").into());
    }
    if guard == AddressGuard::PublicOnly {
        guard::check_url(url).map_err(|reason| Refused { target: url.to_string(), reason })?;
    }
    Ok(())
}

/// The caller's headers as a `HeaderMap`.
pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::Connect(format!("{name:?} is not a valid HTTP header name; fix the endpoint's headers"))
        })?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            Error::Connect(format!("the value of header {name:?} is not valid; fix the endpoint's headers"))
        })?;
        map.append(n, v);
    }
    Ok(map)
}

/// Whether a failed Streamable HTTP handshake means "try the legacy SSE transport".
pub(crate) fn falls_back(e: &Error) -> bool {
    matches!(e, Error::Http { status: 400 | 404 | 405, .. })
}

/// Which protocol generation the Streamable connection speaks, for its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` on every POST; no session.
    Modern,
    /// 2025-03-26 … 2025-11-25: session id and, after `initialize`, the negotiated version.
    Legacy { version: Option<String> },
}

/// A Streamable HTTP connection.
pub(crate) struct StreamableConn {
    client: Client,
    url: Url,
    headers: HeaderMap,
    max_message: usize,
    next_id: u64,
    pub(crate) era: Era,
    session: Option<String>,
    /// The `initialize` params, kept to re-initialize a lost session.
    init_params: Option<Value>,
    reinitialized: bool,
    pub(crate) problems: Vec<String>,
}

impl StreamableConn {
    pub(crate) fn new(client: Client, url: Url, headers: HeaderMap, max_message: usize) -> StreamableConn {
        StreamableConn {
            client,
            url,
            headers,
            max_message,
            next_id: 1,
            era: Era::Modern,
            session: None,
            init_params: None,
            reinitialized: false,
            problems: Vec::new(),
        }
    }

    /// Forgets the session and the negotiated version (before a legacy `initialize`).
    pub(crate) fn reset_legacy(&mut self) {
        self.era = Era::Legacy { version: None };
        self.session = None;
    }

    /// Sends a request and reads its answer (JSON or an event stream) until `until`.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<Reply, Error> {
        if method == "initialize" {
            self.init_params = params.cloned();
        }
        within(until, phase, self.request_inner(method, params)).await
    }

    async fn request_inner(&mut self, method: &str, params: Option<&Value>) -> Result<Reply, Error> {
        let had_session = self.session.is_some();
        match self.call(method, params).await {
            Err(Error::Http { status: status @ (400 | 404), .. })
                if had_session && !self.reinitialized && method != "initialize" =>
            {
                self.reinitialized = true;
                self.problems
                    .push(format!("the server lost the session (HTTP {status} on {method}); initialized a new one"));
                self.reinitialize().await?;
                self.call(method, params).await
            }
            other => other,
        }
    }

    async fn reinitialize(&mut self) -> Result<(), Error> {
        self.session = None;
        let params = self.init_params.clone();
        if let Reply::Error(e) = self.call("initialize", params.as_ref()).await? {
            return Err(Error::Protocol(format!("the server refused to initialize a new session: {e}")));
        }
        let body = jsonrpc::notification("notifications/initialized", None);
        self.post(&body, "notifications/initialized", None).await.map(drop)
    }

    async fn call(&mut self, method: &str, params: Option<&Value>) -> Result<Reply, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let body = jsonrpc::request(id, method, params);
        match self.post(&body, method, Some(&id.to_string())).await? {
            Some(reply) => Ok(reply),
            None => Err(Error::Protocol(format!("the server accepted {method} (202) but sent no answer"))),
        }
    }

    /// Sends a notification; the server should answer 202.
    pub(crate) async fn notify(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<(), Error> {
        let body = jsonrpc::notification(method, params);
        within(until, phase, self.post(&body, method, None)).await.map(drop)
    }

    fn post_request(&self, body: String, method: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(ACCEPT, ACCEPT_BOTH)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match &self.era {
            Era::Modern => {
                req = req.header(VERSION_HEADER, MODERN_VERSION).header(METHOD_HEADER, method);
            }
            Era::Legacy { version } => {
                if let (Some(v), false) = (version, method == "initialize") {
                    req = req.header(VERSION_HEADER, v.as_str());
                }
                if let Some(s) = &self.session {
                    req = req.header(SESSION_HEADER, s.as_str());
                }
            }
        }
        req
    }

    /// POSTs one message. `expect` is the id of the answer to wait for (`None` for notifications
    /// and our answers to the server's requests).
    async fn post(&mut self, body: &str, method: &str, expect: Option<&str>) -> Result<Option<Reply>, Error> {
        let resp = self.post_request(body.to_string(), method).send().await.map_err(|e| send_error(&e, &self.url))?;
        let resp = check_status(resp).await?;
        if self.session.is_none() && matches!(self.era, Era::Legacy { .. }) {
            if let Some(id) = resp.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
                self.session = Some(id.to_string());
            }
        }
        let Some(key) = expect else { return Ok(None) };
        if resp.status() == StatusCode::ACCEPTED {
            return Ok(None);
        }
        if is_event_stream(&resp) {
            let mut stream = EventStream::new(resp, self.max_message, true);
            while let Some(event) = stream.next().await? {
                match jsonrpc::parse(event.data.as_bytes()) {
                    Some(Message::Response { id, reply }) if id == key => return Ok(Some(reply)),
                    Some(Message::Request { id, method }) => self.answer(&jsonrpc::answer(&id, &method)).await,
                    _ => {}
                }
            }
            return Err(Error::Protocol(format!("the server closed the event stream without answering {method}")));
        }
        let content_type = content_type(&resp);
        let body = read_capped(resp, self.max_message).await?;
        let Some(messages) = jsonrpc::parse_body(&body) else {
            return Err(Error::Protocol(format!(
                "the answer to {method} is not JSON-RPC (content type {content_type:?}): {}",
                excerpt(&String::from_utf8_lossy(&body), ERROR_EXCERPT_CHARS)
            )));
        };
        for message in messages {
            if let Message::Response { id, reply } = message {
                if id == key {
                    return Ok(Some(reply));
                }
            }
        }
        Err(Error::Protocol(format!("the answer to {method} carries another id")))
    }

    /// Our answer to a server's request, best effort.
    async fn answer(&mut self, body: &str) {
        let _ = self.post_request(body.to_string(), "").send().await;
    }

    /// Ends the session (DELETE), best effort.
    pub(crate) async fn close(&mut self) {
        let Some(session) = self.session.take() else { return };
        let mut req =
            self.client.delete(self.url.clone()).headers(self.headers.clone()).header(SESSION_HEADER, session);
        if let Era::Legacy { version: Some(v) } = &self.era {
            req = req.header(VERSION_HEADER, v.as_str());
        }
        let _ = timeout(DELETE_TIMEOUT, req.send()).await;
    }
}

/// A legacy HTTP+SSE connection: the GET stream stays open; messages are POSTed to the
/// endpoint it named, and answers come back on the stream.
pub(crate) struct SseConn {
    client: Client,
    post_url: Url,
    headers: HeaderMap,
    stream: EventStream,
    next_id: u64,
    max_message: usize,
}

impl SseConn {
    /// GETs the event stream and waits for its `endpoint` event. The endpoint must be on the same
    /// origin as the stream: the caller's headers are not sent anywhere else.
    pub(crate) async fn connect(
        client: Client,
        url: &Url,
        headers: HeaderMap,
        max_message: usize,
        until: Instant,
        phase: Phase,
    ) -> Result<SseConn, Error> {
        let connect = async {
            let resp = client
                .get(url.clone())
                .headers(headers.clone())
                .header(ACCEPT, "text/event-stream")
                .send()
                .await
                .map_err(|e| send_error(&e, url))?;
            let resp = check_status(resp).await?;
            if !is_event_stream(&resp) {
                return Err(Error::Protocol(format!(
                    "GET {url} answered {:?}, not an event stream; this is not an SSE endpoint",
                    content_type(&resp)
                )));
            }
            let mut stream = EventStream::new(resp, max_message, false);
            while let Some(event) = stream.next().await? {
                if event.name != "endpoint" {
                    continue;
                }
                let post_url = url.join(event.data.trim()).map_err(|e| {
                    Error::Protocol(format!("the endpoint event {:?} is not a URL: {e}", excerpt(&event.data, 200)))
                })?;
                if post_url.origin() != url.origin() {
                    return Err(Error::Protocol(format!(
                        "the endpoint event points to another origin ({}); refusing to post there",
                        post_url.origin().ascii_serialization()
                    )));
                }
                return Ok((post_url, stream));
            }
            Err(Error::Protocol("the event stream ended before its endpoint event".to_string()))
        };
        let (post_url, stream) = within(until, phase, connect).await?;
        Ok(SseConn { client, post_url, headers, stream, next_id: 1, max_message })
    }

    /// POSTs a request to the endpoint and reads its answer from the stream.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<Reply, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let body = jsonrpc::request(id, method, params);
        within(until, phase, self.exchange(body, id.to_string(), method)).await
    }

    async fn exchange(&mut self, body: String, key: String, method: &str) -> Result<Reply, Error> {
        // Some servers answer in the POST body instead of on the stream: take it from there.
        let resp = self.post(body).await?;
        if !is_event_stream(&resp) {
            let body = read_capped(resp, self.max_message).await?;
            for message in jsonrpc::parse_body(&body).unwrap_or_default() {
                if let Message::Response { id, reply } = message {
                    if id == key {
                        return Ok(reply);
                    }
                }
            }
        }
        while let Some(event) = self.stream.next().await? {
            if event.name == "endpoint" {
                continue;
            }
            match jsonrpc::parse(event.data.as_bytes()) {
                Some(Message::Response { id, reply }) if id == key => return Ok(reply),
                Some(Message::Request { id, method }) => {
                    let _ = self.post(jsonrpc::answer(&id, &method)).await;
                }
                _ => {}
            }
        }
        Err(Error::Protocol(format!("the server closed its event stream without answering {method}")))
    }

    pub(crate) async fn notify(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<(), Error> {
        let body = jsonrpc::notification(method, params);
        within(until, phase, self.post(body)).await.map(drop)
    }

    async fn post(&self, body: String) -> Result<Response, Error> {
        let resp = self
            .client
            .post(self.post_url.clone())
            .headers(self.headers.clone())
            .header(ACCEPT, ACCEPT_BOTH)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| send_error(&e, &self.post_url))?;
        check_status(resp).await
    }
}

/// Events read from a response body, with a size cap per event (and on the whole body when
/// `cap_total`: the answer to one POST is one message).
struct EventStream {
    resp: Response,
    parser: sse::Parser,
    cap: usize,
    cap_total: bool,
    total: usize,
    ended: bool,
}

impl EventStream {
    fn new(resp: Response, cap: usize, cap_total: bool) -> EventStream {
        EventStream { resp, parser: sse::Parser::new(cap), cap, cap_total, total: 0, ended: false }
    }

    async fn next(&mut self) -> Result<Option<sse::Event>, Error> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            let chunk = self
                .resp
                .chunk()
                .await
                .map_err(|e| Error::Connect(format!("the event stream broke: {}", chain(&e))))?;
            match chunk {
                Some(bytes) => {
                    self.total += bytes.len();
                    if self.cap_total && self.total > self.cap {
                        return Err(over_cap(self.cap));
                    }
                    self.parser.feed(&bytes).map_err(|e| Error::Protocol(format!("{e} (limits.max_message_bytes)")))?;
                }
                None => {
                    self.ended = true;
                    self.parser.finish().map_err(Error::Protocol)?;
                }
            }
        }
    }
}

fn over_cap(cap: usize) -> Error {
    Error::Protocol(format!(
        "the server's answer is over {cap} bytes (limits.max_message_bytes); raise the limit if this server's tool list is that large"
    ))
}

/// 401/403 are `auth_required`; any other non-2xx is `http` with the start of the body.
async fn check_status(resp: Response) -> Result<Response, Error> {
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let www_authenticate = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .reduce(|a, b| format!("{a}, {b}"));
        return Err(Error::AuthRequired { status: status.as_u16(), www_authenticate });
    }
    if !status.is_success() {
        let body = read_prefix(resp, ERROR_BODY_BYTES).await;
        return Err(Error::Http {
            status: status.as_u16(),
            body_excerpt: excerpt(&String::from_utf8_lossy(&body), ERROR_EXCERPT_CHARS),
        });
    }
    Ok(resp)
}

/// Reads a whole body, refusing it past `cap` bytes (by `Content-Length` or as it arrives).
async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, Error> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(over_cap(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Connect(format!("the connection broke while reading an answer: {}", chain(&e))))?
    {
        if body.len() + chunk.len() > cap {
            return Err(over_cap(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `n` bytes of a body (or less, when it ends or breaks first).
async fn read_prefix(mut resp: Response, n: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < n {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(n - body.len())]),
            _ => break,
        }
    }
    body
}

fn content_type(resp: &Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_event_stream(resp: &Response) -> bool {
    content_type(resp).trim_start().starts_with("text/event-stream")
}

/// A failed send: a refusal by the address guard (in the resolver or the redirect policy), or a
/// connection failure.
fn send_error(e: &reqwest::Error, url: &Url) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Error::RefusedAddress { url: refused.target.clone(), reason: refused.reason.clone() };
        }
        source = err.source();
    }
    let text = chain(e);
    if text.contains("address guard refused") {
        return Error::RefusedAddress { url: url.to_string(), reason: text };
    }
    Error::Connect(format!("{}: {text}", redact(url)))
}

/// The URL without its query and credentials, for messages.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// An error and its sources, joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_to_private_and_metadata_addresses_are_refused() {
        let public = AddressGuard::PublicOnly;
        for to in [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://[fd00:ec2::254]/latest/meta-data",
            "http://10.0.0.1/admin",
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::ffff:169.254.169.254]/",
            "file:///etc/passwd",
        ] {
            let url = url::Url::parse(to).unwrap();
            let err = check_redirect(public, 0, &url).expect_err(to);
            assert!(err.downcast_ref::<Refused>().is_some() || to.starts_with("file"), "{to}: {err}");
            assert!(check_redirect(AddressGuard::AllowAll, 0, &url).is_ok(), "{to}");
        }
        let fine = url::Url::parse("https://mcp.example.com/mcp").unwrap();
        assert!(check_redirect(public, 4, &fine).is_ok());
        assert!(check_redirect(public, 5, &fine).is_err(), "too many hops");
    }
}
