//! Running the installers (`npm`, `pip`, `uv`): captured output, a timeout, and the whole process
//! group killed when time runs out.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::LaunchError;

/// Most of stdout kept (the JSON answers of `npm view` and `pip --report` are small).
const MAX_STDOUT: usize = 8 << 20;

pub(crate) struct Captured {
    pub(crate) stdout: Vec<u8>,
    /// The last `tail_bytes` of stdout and stderr, for error messages.
    pub(crate) tail: String,
}

/// Runs `cmd` to the end (or to `timeout`), with stdin closed. `step` names it in errors.
/// A non-zero exit is an `InstallFailed` error carrying the output tail.
pub(crate) async fn run(
    mut cmd: tokio::process::Command,
    step: &str,
    timeout: Duration,
    tail_bytes: usize,
) -> Result<Captured, LaunchError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| LaunchError::Spawn { program, source })?;
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_task = tokio::spawn(async move { read_capped(&mut stdout, MAX_STDOUT, tail_bytes).await });
    let err_task = tokio::spawn(async move { read_capped(&mut stderr, 0, tail_bytes).await });
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    if waited.is_err() {
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        let _ = child.kill().await;
    }
    // The pipes close when the group is gone; a process that left the group may hold them open.
    let grace = Duration::from_secs(5);
    let (stdout, out_tail) = match tokio::time::timeout(grace, out_task).await {
        Ok(Ok(read)) => read,
        _ => Default::default(),
    };
    let err_tail = match tokio::time::timeout(grace, err_task).await {
        Ok(Ok((_, tail))) => tail,
        _ => Vec::new(),
    };
    let tail = tail_of(&[out_tail, err_tail].concat(), tail_bytes);
    match waited {
        Err(_) => {
            Err(LaunchError::InstallTimeout { step: step.to_string(), seconds: timeout.as_secs(), output_tail: tail })
        }
        Ok(Err(source)) => Err(LaunchError::Spawn { program: step.to_string(), source }),
        Ok(Ok(status)) if status.success() => Ok(Captured { stdout, tail }),
        Ok(Ok(status)) => {
            Err(LaunchError::InstallFailed { step: step.to_string(), status: status.to_string(), output_tail: tail })
        }
    }
}

/// Reads everything, keeping the first `cap` bytes and a tail of `tail` bytes.
async fn read_capped(r: &mut (impl AsyncRead + Unpin), cap: usize, tail: usize) -> (Vec<u8>, Vec<u8>) {
    let mut kept = Vec::new();
    let mut last = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        push_tail(&mut last, &buf[..n], tail);
    }
    (kept, last)
}

fn push_tail(last: &mut Vec<u8>, chunk: &[u8], tail: usize) {
    last.extend_from_slice(chunk);
    if last.len() > 2 * tail.max(1) {
        last.drain(..last.len() - tail);
    }
}

fn tail_of(bytes: &[u8], tail: usize) -> String {
    let start = bytes.len().saturating_sub(tail);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

/// The first executable file called `name` on the caller's PATH.
pub(crate) fn which(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_step_is_killed_with_its_group_and_keeps_its_output() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "echo started; sleep 30 & sleep 30"]);
        let start = std::time::Instant::now();
        let err = run(cmd, "slow step", Duration::from_millis(500), 1024).await.err().unwrap();
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
        match err {
            LaunchError::InstallTimeout { output_tail, .. } => assert_eq!(output_tail, "started"),
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn a_failed_step_reports_the_tail_of_its_output() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let err = run(cmd, "failing step", Duration::from_secs(10), 1024).await.err().unwrap();
        let msg = err.to_string();
        assert!(msg.starts_with("failing step failed (exit status: 3)") && msg.ends_with("out\nerr"), "{msg}");
    }
}
