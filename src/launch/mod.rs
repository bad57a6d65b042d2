//! Launching untrusted packages: npm and PyPI installs into a cache, and the bubblewrap sandbox.
//! See `docs/crawler.md`.
//!
//! - [`PackageCache::install`] installs one exact package version into its own cache directory
//!   (named by [`safe_name`], never by raw server text) and finds its entry point, giving an
//!   [`Installed`] with the [`LaunchCommand`] that starts the server. npm install scripts never run;
//!   PyPI packages are installed from wheels only unless the caller allows source builds.
//! - [`Sandbox::wrap`] turns that command into a bubblewrap command: no network, a throwaway HOME,
//!   the filesystem read-only except the scratch directory, only the caller's (placeholder)
//!   environment, and resource limits (`prlimit`). [`unsandboxed`] is the `--no-sandbox` form: same
//!   environment rules and limits, no isolation.
//! - [`prepare`] makes a user's own command (`--stdio`, a config's `command`) ready for the
//!   sandbox: its program resolved, and the project directories its arguments point into, which
//!   become read-only binds.
//! - [`launch_policy`] refuses to launch anything without bubblewrap unless the user said
//!   `--no-sandbox`. [`Protections`] says what a launch had, for the crawl report and the catalog.
//! - [`kill_marked`] ends what an unsandboxed launch left running: every process still carrying
//!   its [`LAUNCH_MARKER`] variable.
//!
//! The launched server never sees the caller's environment: only the variables in
//! [`LaunchCommand::env`] (placeholders from the seed list or registry) plus `PATH`, `HOME`,
//! `TMPDIR` and `LANG`.

mod cache;
mod command;
mod names;
mod process;
mod sandbox;

use std::path::PathBuf;

pub use cache::{Ecosystem, InstallLimits, Installed, PackageCache, PackageSpec};
pub use command::{prepare, Prepared};
pub use names::safe_name;
pub use sandbox::{unsandboxed, Access, RunLimits, Sandbox, LAUNCH_MARKER};

/// What to spawn: the same four fields as the MCP client's `StdioCommand`, so the integrator can
/// convert one into the other field by field. The child gets `env` and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchCommand {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

impl LaunchCommand {
    /// A tokio command for this launch: the environment is cleared first, so only `env` is set.
    /// Standard streams are left to the caller.
    pub fn to_command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args).env_clear().envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        cmd
    }
}

/// How packages are launched, as decided by [`launch_policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Inside bubblewrap ([`Sandbox::wrap`]).
    Sandboxed,
    /// The user passed `--no-sandbox` ([`unsandboxed`]).
    Unsandboxed,
}

/// Decides how packages are launched: in the sandbox when there is one, unsandboxed only when the
/// user asked for it with `--no-sandbox` (which wins even when bubblewrap is present).
pub fn launch_policy(sandbox: Option<&Sandbox>, no_sandbox: bool) -> Result<Mode, LaunchError> {
    match (sandbox, no_sandbox) {
        (_, true) => Ok(Mode::Unsandboxed),
        (Some(_), false) => Ok(Mode::Sandboxed),
        (None, false) => Err(LaunchError::NoSandbox),
    }
}

/// What one launched server could reach: recorded with its crawl outcome and shown by
/// `catalog show`, so nobody has to trust that a listing was made safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protections {
    /// Inside bubblewrap; `false` for `--no-sandbox`.
    pub sandboxed: bool,
    /// The host's network was reachable (`--allow-net`, or no sandbox).
    pub network: bool,
    /// Host directories it could read beyond the system's (sandboxed only; without the sandbox
    /// it reads whatever the caller can).
    pub reads: Vec<PathBuf>,
    /// The environment variables it was given (PATH, HOME, TMPDIR and LANG besides).
    pub env: Vec<String>,
    /// Those of them whose value was a placeholder, not the configured secret.
    pub placeholders: Vec<String>,
    pub limits: RunLimits,
}

impl Protections {
    /// What the sandbox gives a launch with this access (its reads: the access's and the
    /// program's runtime, as [`Sandbox::wrap`] mounts them).
    pub fn sandboxed(access: &Access, limits: &RunLimits, cmd: &LaunchCommand) -> Protections {
        Protections::new(true, access.network, sandbox::shared_paths(&cmd.program, access), limits, cmd)
    }

    /// What `--no-sandbox` leaves: only the environment and the limits.
    pub fn unsandboxed(limits: &RunLimits, cmd: &LaunchCommand) -> Protections {
        Protections::new(false, true, Vec::new(), limits, cmd)
    }

    fn new(sandboxed: bool, network: bool, reads: Vec<PathBuf>, limits: &RunLimits, cmd: &LaunchCommand) -> Self {
        let env = cmd.env.iter().map(|(k, _)| k.clone()).collect();
        let placeholders =
            cmd.env.iter().filter(|(_, v)| v.contains(crate::sources::PLACEHOLDER)).map(|(k, _)| k.clone()).collect();
        Protections { sandboxed, network, reads, env, placeholders, limits: limits.clone() }
    }
}

/// Why a package could not be installed or launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "bubblewrap not found: install it with `apt-get install bubblewrap`, or pass --no-sandbox to run servers unsandboxed"
    )]
    NoSandbox,
    #[error("refusing package {name:?}: {reason}")]
    InvalidPackage { name: String, reason: String },
    #[error("{program} not found on PATH: {hint}")]
    ToolMissing { program: String, hint: String },
    #[error("cannot run {program}")]
    Spawn { program: String, source: std::io::Error },
    #[error("cannot find the program {program:?}: {hint}")]
    NoProgram { program: String, hint: &'static str },
    #[error("cannot resolve the latest version of {name}: {reason}; pin a version or check the registry is reachable")]
    Resolve { name: String, reason: String },
    #[error("{step} failed ({status}); check that the package and version exist and the registry is reachable; output ends with:\n{output_tail}")]
    InstallFailed { step: String, status: String, output_tail: String },
    #[error("{step} timed out after {seconds} s; raise the install timeout or check the network; output ends with:\n{output_tail}")]
    InstallTimeout { step: String, seconds: u64, output_tail: String },
    #[error("{name} {version} has no entry point: {reason}")]
    NoEntryPoint { name: String, version: String, reason: String },
    #[error("cannot use {path}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl LaunchError {
    /// A stable short name for summaries and the catalog.
    pub fn kind(&self) -> &'static str {
        match self {
            LaunchError::NoSandbox => "no_sandbox",
            LaunchError::InvalidPackage { .. } => "invalid_package",
            LaunchError::ToolMissing { .. } => "tool_missing",
            LaunchError::Spawn { .. } | LaunchError::NoProgram { .. } => "spawn",
            LaunchError::Resolve { .. } => "resolve",
            LaunchError::InstallFailed { .. } => "install_failed",
            LaunchError::InstallTimeout { .. } => "install_timeout",
            LaunchError::NoEntryPoint { .. } => "no_entry_point",
            LaunchError::Io { .. } => "io",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LaunchError {
        let path = path.into();
        move |source| LaunchError::Io { path, source }
    }
}

/// Kills every process whose environment still carries `LAUNCH_MARKER=<id>`: what an
/// unsandboxed launch left behind after its process group was killed (a daemon that called
/// `setsid`, a grandchild that changed its group). Returns how many were killed. A process that
/// cleared its own environment escapes this; only the sandbox's pid namespace closes that gap.
pub fn kill_marked(id: &str) -> usize {
    use nix::sys::signal::{kill, Signal};
    let needle = format!("{LAUNCH_MARKER}={id}");
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|&b| b == 0).any(|var| var == needle.as_bytes())
            && kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        {
            killed += 1;
        }
    }
    killed
}
