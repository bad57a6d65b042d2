//! The stdio transport: a child process in its own process group, newline-delimited JSON-RPC on
//! its stdin and stdout, its stderr kept in a bounded ring for error reports.
//!
//! A stdout line longer than `Limits::max_message_bytes` is an error (`protocol`), not skipped:
//! such a line is almost always the answer we are waiting for, and skipping it would only turn
//! into a timeout that says less. Lines that are not JSON-RPC are skipped and counted as noise.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

use super::jsonrpc::{self, Message, Reply};
use super::{within, Error, Phase, StdioCommand};

/// How long a dead server gets to report its exit status before we give up waiting for it.
const EXIT_WAIT: Duration = Duration::from_millis(1000);
/// How long we wait for the rest of stderr after the server exited.
const STDERR_WAIT: Duration = Duration::from_millis(300);

/// A running stdio server.
pub(crate) struct StdioConn {
    child: Child,
    pgid: Option<Pid>,
    stdin: Option<ChildStdin>,
    stdout: LineReader<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<Ring>>,
    stderr_task: Option<JoinHandle<()>>,
    next_id: u64,
    max_line: usize,
    pub(crate) noise_lines: usize,
    finished: bool,
}

impl StdioConn {
    /// Spawns the command with only its own environment, in a new process group.
    pub(crate) fn spawn(cmd: &StdioCommand, max_line: usize, stderr_bytes: usize) -> Result<StdioConn, Error> {
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .env_clear()
            .envs(cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound && !cmd.program.contains('/') {
                "; the environment is cleared, so give an absolute path or put PATH in the command's env"
            } else {
                ""
            };
            Error::Spawn(format!("could not start {:?}: {e}{hint}", cmd.program))
        })?;
        let pgid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::Spawn(format!("could not open the pipes of {:?}", cmd.program)));
        };
        let ring = Arc::new(Mutex::new(Ring::new(stderr_bytes)));
        let stderr_task = tokio::spawn(read_stderr(stderr, ring.clone()));
        Ok(StdioConn {
            child,
            pgid,
            stdin: Some(stdin),
            stdout: LineReader::new(BufReader::with_capacity(64 * 1024, stdout)),
            stderr: ring,
            stderr_task: Some(stderr_task),
            next_id: 1,
            max_line,
            noise_lines: 0,
            finished: false,
        })
    }

    /// Sends a request and waits for its answer until `until`, answering the server's own
    /// requests meanwhile.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<Reply, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let line = jsonrpc::request(id, method, params);
        let key = id.to_string();
        within(until, phase, self.exchange(line, key)).await
    }

    /// Sends a notification.
    pub(crate) async fn notify(
        &mut self,
        method: &str,
        params: Option<&Value>,
        until: Instant,
        phase: Phase,
    ) -> Result<(), Error> {
        let line = jsonrpc::notification(method, params);
        within(until, phase, self.write_line(&line)).await
    }

    async fn exchange(&mut self, line: String, key: String) -> Result<Reply, Error> {
        self.write_line(&line).await?;
        loop {
            let line = match self.stdout.next_line(self.max_line).await {
                Ok(Line::Text(line)) => line,
                Ok(Line::TooLong) => {
                    return Err(Error::Protocol(format!(
                        "the server wrote a line over {} bytes (limits.max_message_bytes); raise the limit if this server's tool list is that large",
                        self.max_line
                    )))
                }
                Ok(Line::Eof) | Err(_) => return Err(self.exited().await),
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match jsonrpc::parse(&line) {
                None => self.noise_lines += 1,
                Some(Message::Response { id, reply }) if id == key => return Ok(reply),
                // A late answer to a request we gave up on.
                Some(Message::Response { .. }) | Some(Message::Notification) => {}
                Some(Message::Request { id, method }) => self.write_line(&jsonrpc::answer(&id, &method)).await?,
            }
        }
    }

    async fn write_line(&mut self, line: &str) -> Result<(), Error> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Error::Protocol("the server's stdin is already closed".to_string()));
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = async {
            stdin.write_all(&bytes).await?;
            stdin.flush().await
        }
        .await;
        match written {
            Ok(()) => Ok(()),
            // EPIPE and friends: the server is gone; say how it ended.
            Err(_) => Err(self.exited().await),
        }
    }

    /// The `exited` error: the exit status (waiting briefly for it) and the tail of stderr.
    async fn exited(&mut self) -> Error {
        let status = match timeout(EXIT_WAIT, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => None,
        };
        if let Some(task) = self.stderr_task.as_mut() {
            let _ = timeout(STDERR_WAIT, task).await;
        }
        Error::Exited { status, stderr_tail: self.stderr_tail() }
    }

    /// The last bytes the server wrote to stderr, as text.
    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr.lock().map(|r| r.tail()).unwrap_or_default()
    }

    /// Closes stdin, waits `grace`, TERMs the process group, waits `grace`, KILLs the group, and
    /// reaps the child. Whatever the child left in its group is killed too.
    pub(crate) async fn shutdown(&mut self, grace: Duration) {
        if self.finished {
            return;
        }
        self.stdin.take();
        if !grace.is_zero() && timeout(grace, self.child.wait()).await.is_ok() {
            self.signal_group(Signal::SIGKILL);
        } else {
            self.signal_group(Signal::SIGTERM);
            if grace.is_zero() || timeout(grace, self.child.wait()).await.is_err() {
                self.signal_group(Signal::SIGKILL);
                let _ = self.child.start_kill();
                let _ = timeout(Duration::from_secs(5), self.child.wait()).await;
            } else {
                self.signal_group(Signal::SIGKILL);
            }
        }
        if let Some(task) = self.stderr_task.take() {
            task.abort();
        }
        self.finished = true;
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH: the group is already gone, which is what we want.
            let _ = killpg(pgid, signal);
        }
    }
}

impl Drop for StdioConn {
    /// A listing that was cancelled (its future dropped) still kills the whole group; tokio reaps
    /// the leader (`kill_on_drop`).
    fn drop(&mut self) {
        if !self.finished {
            self.signal_group(Signal::SIGKILL);
        }
    }
}

async fn read_stderr(mut stderr: tokio::process::ChildStderr, ring: Arc<Mutex<Ring>>) {
    let mut buf = vec![0u8; 8192];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut r) = ring.lock() {
                    r.push(&buf[..n]);
                }
            }
        }
    }
}

/// The last `cap` bytes written.
#[derive(Debug)]
struct Ring {
    buf: Vec<u8>,
    cap: usize,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring { buf: Vec::new(), cap }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.cap.saturating_mul(2).max(8192) {
            let cut = self.buf.len() - self.cap;
            self.buf.drain(..cut);
        }
    }

    fn tail(&self) -> String {
        let start = self.buf.len().saturating_sub(self.cap);
        String::from_utf8_lossy(&self.buf[start..]).trim_end().to_string()
    }
}

/// One line of output.
#[derive(Debug)]
pub(crate) enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads lines of at most a given length. Cancel-safe: a partial line stays in `buf`.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    discarding: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R) -> LineReader<R> {
        LineReader { inner, buf: Vec::new(), discarding: false }
    }

    pub(crate) async fn next_line(&mut self, max: usize) -> std::io::Result<Line> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() || self.discarding {
                    return Ok(Line::Eof);
                }
                return Ok(Line::Text(std::mem::take(&mut self.buf)));
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let (chunk, used) = match newline {
                Some(i) => (&available[..i], i + 1),
                None => (available, available.len()),
            };
            if self.discarding {
                // The rest of a line that was already reported as too long.
                self.inner.consume(used);
                self.discarding = newline.is_none();
                continue;
            }
            if self.buf.len() + chunk.len() > max {
                self.inner.consume(used);
                self.buf.clear();
                self.discarding = newline.is_none();
                return Ok(Line::TooLong);
            }
            self.buf.extend_from_slice(chunk);
            self.inner.consume(used);
            if newline.is_some() {
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Text(line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_capped() {
        let data: &[u8] = b"short\r\n0123456789abcdef\nlast";
        let mut r = LineReader::new(BufReader::with_capacity(4, data));
        assert!(matches!(r.next_line(10).await, Ok(Line::Text(l)) if l == b"short"));
        assert!(matches!(r.next_line(10).await, Ok(Line::TooLong)));
        assert!(matches!(r.next_line(10).await, Ok(Line::Text(l)) if l == b"last"));
        assert!(matches!(r.next_line(10).await, Ok(Line::Eof)));
    }

    #[test]
    fn ring_keeps_the_tail() {
        let mut r = Ring::new(4);
        for _ in 0..10_000 {
            r.push(b"abcdef");
        }
        r.push(b"xyz1");
        assert_eq!(r.tail(), "xyz1");
    }
}
