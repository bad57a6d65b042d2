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
//! - [`launch_policy`] refuses to launch anything without bubblewrap unless the user said
//!   `--no-sandbox`.
//!
//! The launched server never sees the caller's environment: only the variables in
//! [`LaunchCommand::env`] (placeholders from the seed list or registry) plus `PATH`, `HOME`,
//! `TMPDIR` and `LANG`.

mod cache;
mod names;
mod process;
mod sandbox;

use std::path::PathBuf;

pub use cache::{Ecosystem, InstallLimits, Installed, PackageCache, PackageSpec};
pub use names::safe_name;
pub use sandbox::{unsandboxed, RunLimits, Sandbox};

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

/// Why a package could not be installed or launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "bubblewrap not found: install it with `apt-get install bubblewrap`, or pass --no-sandbox to run packages unsandboxed"
    )]
    NoSandbox,
    #[error("refusing package {name:?}: {reason}")]
    InvalidPackage { name: String, reason: String },
    #[error("{program} not found on PATH: {hint}")]
    ToolMissing { program: String, hint: String },
    #[error("cannot run {program}")]
    Spawn { program: String, source: std::io::Error },
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
            LaunchError::Spawn { .. } => "spawn",
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
