//! A hand-rolled HTTP/1.1 server on 127.0.0.1 for the MCP client's tests: one request per
//! connection, answered by a closure, with answers that can dribble, hang or stay open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One request as the fake saw it. Header names are lowercase.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The JSON-RPC message in the body (`Null` when there is none).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn rpc_method(&self) -> String {
        self.json().get("method").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// What the fake answers.
pub(crate) enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// The body in pieces, `delay` apart, then the connection closes.
    Dribble {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
        delay: Duration,
    },
    /// Headers, then whatever arrives on the channel until it closes.
    Stream {
        status: u16,
        headers: Vec<(String, String)>,
        rx: mpsc::UnboundedReceiver<Vec<u8>>,
    },
    /// Never answers.
    Hang,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Reply {
        Reply::Full { status, headers: vec![ct("application/json")], body: body.to_string().into_bytes() }
    }

    pub(crate) fn status(status: u16) -> Reply {
        Reply::Full { status, headers: Vec::new(), body: Vec::new() }
    }

    /// One JSON-RPC result for the request `req`.
    pub(crate) fn result(req: &Req, result: Value) -> Reply {
        Reply::json(200, &serde_json::json!({"jsonrpc": "2.0", "id": req.json()["id"], "result": result}))
    }
}

pub(crate) fn ct(value: &str) -> (String, String) {
    ("Content-Type".to_string(), value.to_string())
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

/// A running fake; stops when dropped.
pub(crate) struct Fake {
    pub(crate) port: u16,
    pub(crate) seen: Arc<Mutex<Vec<Req>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub(crate) async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let (handler, seen) = (handler.clone(), seen.clone());
                    tokio::spawn(async move {
                        let _ = serve(socket, handler, seen).await;
                    });
                }
            })
        };
        Fake { port, seen, task }
    }

    pub(crate) fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://127.0.0.1:{}{path}", self.port)).expect("fake URL")
    }

    pub(crate) fn requests(&self) -> Vec<Req> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: TcpStream, handler: Handler, seen: Arc<Mutex<Vec<Req>>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let req = Req { method, path, headers, body: String::from_utf8_lossy(&body).to_string() };
    seen.lock().expect("lock").push(req.clone());
    match handler(&req) {
        Reply::Full { status, headers, body } => {
            socket.write_all(&head_bytes(status, &headers, Some(body.len()))).await?;
            socket.write_all(&body).await?;
        }
        Reply::Dribble { status, headers, chunks, delay } => {
            socket.write_all(&head_bytes(status, &headers, None)).await?;
            for c in chunks {
                tokio::time::sleep(delay).await;
                socket.write_all(&c).await?;
                socket.flush().await?;
            }
        }
        Reply::Stream { status, headers, mut rx } => {
            socket.write_all(&head_bytes(status, &headers, None)).await?;
            while let Some(c) = rx.recv().await {
                socket.write_all(&c).await?;
                socket.flush().await?;
            }
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
    }
    socket.shutdown().await
}

fn head_bytes(status: u16, headers: &[(String, String)], length: Option<usize>) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} Fake\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(len) = length {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}
