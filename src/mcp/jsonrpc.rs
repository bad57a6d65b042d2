//! JSON-RPC 2.0 envelopes: what we send, and what a server's message is. Results stay raw
//! (`RawValue`) so that tools can be kept verbatim; ids are matched as canonical strings because
//! servers echo `1` as `"1"`.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// A server's answer to one of our requests.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The `result` member, verbatim (`null` when the server sent none).
    Result(Box<RawValue>),
    /// The `error` member.
    Error(RpcError),
}

/// A JSON-RPC error object, read tolerantly.
#[derive(Debug, Clone)]
pub(crate) struct RpcError {
    pub(crate) code: Option<i64>,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    fn from_value(v: Value) -> RpcError {
        let code = v.get("code").and_then(Value::as_i64);
        let message = match v.get("message") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => v.to_string(),
        };
        RpcError { code, message, data: v.get("data").cloned() }
    }

    /// The versions a server says it supports (`data.supported`), as in version errors.
    pub(crate) fn supported_versions(&self) -> Vec<String> {
        self.data
            .as_ref()
            .and_then(|d| d.get("supported"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "JSON-RPC error {code}: {}", excerpt(&self.message, 300)),
            None => write!(f, "JSON-RPC error: {}", excerpt(&self.message, 300)),
        }
    }
}

/// One message from the server.
#[derive(Debug)]
pub(crate) enum Message {
    /// An answer to the request whose id, as a canonical string, is `id`.
    Response { id: String, reply: Reply },
    /// A request we must answer.
    Request { id: Value, method: String },
    /// A notification (ignored).
    Notification,
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<Value>,
}

/// Reads one message. `None` for anything that is not a JSON-RPC message (a log line, a JSON
/// value without `id` or `method`): the caller counts it as noise.
pub(crate) fn parse(text: &[u8]) -> Option<Message> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let msg: Incoming = serde_json::from_slice(text).ok()?;
    match (msg.method, msg.id) {
        (Some(method), Some(id)) if !id.is_null() => Some(Message::Request { id, method }),
        (Some(_), _) => Some(Message::Notification),
        (None, Some(id)) => {
            let id = id_key(&id)?;
            let reply = match (msg.result, msg.error) {
                (_, Some(err)) if !err.is_null() => Reply::Error(RpcError::from_value(err)),
                (Some(result), _) => Reply::Result(result),
                (None, _) => Reply::Result(null()),
            };
            Some(Message::Response { id, reply })
        }
        (None, None) => None,
    }
}

/// Parses a whole HTTP body: one message or (2025-03-26 batching) an array of them.
pub(crate) fn parse_body(text: &[u8]) -> Option<Vec<Message>> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'[' {
        let items: Vec<Box<RawValue>> = serde_json::from_slice(text).ok()?;
        return Some(items.iter().filter_map(|i| parse(i.get().as_bytes())).collect());
    }
    parse(text).map(|m| vec![m])
}

/// The canonical form of an id: numbers and strings compare by their text.
pub(crate) fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).unwrap_or_else(|_| unreachable!("null is JSON"))
}

/// A request line (no newline).
pub(crate) fn request(id: u64, method: &str, params: Option<&Value>) -> String {
    match params {
        Some(p) => json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p}),
        None => json!({"jsonrpc": "2.0", "id": id, "method": method}),
    }
    .to_string()
}

/// A notification line (no newline).
pub(crate) fn notification(method: &str, params: Option<&Value>) -> String {
    match params {
        Some(p) => json!({"jsonrpc": "2.0", "method": method, "params": p}),
        None => json!({"jsonrpc": "2.0", "method": method}),
    }
    .to_string()
}

/// Our answer to a server's request: `ping` → `{}`, `roots/list` → no roots, anything else →
/// method not found (we sample nothing and elicit nothing).
pub(crate) fn answer(id: &Value, method: &str) -> String {
    match method {
        "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
        "roots/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"roots": []}}),
        _ => json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("method not found: {method}")}}),
    }
    .to_string()
}

/// At most `max` characters of `text`, on a character boundary, with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_as_strings() {
        let Some(Message::Response { id, reply: Reply::Result(r) }) =
            parse(br#"{"jsonrpc":"2.0","id":"7","result":{"a":1}}"#)
        else {
            panic!("not a response")
        };
        assert_eq!(id, "7");
        assert_eq!(r.get(), r#"{"a":1}"#);
        let Some(Message::Response { id, .. }) = parse(br#"{"id":7,"result":null}"#) else { panic!("not a response") };
        assert_eq!(id, "7");
    }

    #[test]
    fn requests_notifications_and_noise() {
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#), Some(Message::Request { .. })));
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","method":"notifications/message"}"#), Some(Message::Notification)));
        assert!(parse(b"Starting server...").is_none());
        assert!(parse(br#"{"level":"info"}"#).is_none());
        assert!(parse(b"[1,2]").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn errors_are_read_tolerantly() {
        let Some(Message::Response { reply: Reply::Error(e), .. }) =
            parse(br#"{"id":1,"error":{"code":-32022,"message":"no","data":{"supported":["2026-07-28"]}}}"#)
        else {
            panic!("not an error")
        };
        assert_eq!(e.code, Some(-32022));
        assert_eq!(e.supported_versions(), vec!["2026-07-28".to_string()]);
    }

    #[test]
    fn answers_server_requests() {
        assert!(answer(&json!(1), "ping").contains(r#""result":{}"#));
        assert!(answer(&json!("a"), "roots/list").contains(r#""roots":[]"#));
        assert!(answer(&json!(2), "sampling/createMessage").contains("-32601"));
    }
}
