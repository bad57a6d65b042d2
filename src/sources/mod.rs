//! Where servers come from: the official registry, client config files, the seed list.
//! Each source turns its input into `Target`s (see `docs/crawler.md`).
//!
//! - `registry`: pages of the official MCP Registry's `/v0.1/servers` (both `_meta` shapes and the
//!   2025-05 snake_case format), and saved registry JSON (`--from-file`).
//! - `config`: the MCP client config files (Claude Desktop, Cursor, VS Code, Claude Code, Windsurf,
//!   Zed), JSONC accepted, and where each client keeps them.
//! - `seed`: `data/servers.toml`, compiled in: real public servers pinned to exact versions.
//!
//! Invariants: nothing here spawns a process or reads our own environment. Values a server needs
//! but nobody gave (required environment variables, `${VAR}` references) become [`PLACEHOLDER`],
//! never a value taken from the caller's environment; what cannot be filled with a placeholder (a
//! URL template, a required header, a required argument) makes the target `NeedsConfig`. One bad
//! entry never loses the others: it becomes a `NeedsConfig` target or a listed problem.

pub mod config;
pub(crate) mod jsonc;
pub mod registry;
pub mod seed;

use std::path::PathBuf;

/// The value given to required environment variables (and `${VAR}` references) that nobody filled.
/// Obviously fake, so a server that echoes it leaks nothing; [`Target::placeholders`] finds it.
pub const PLACEHOLDER: &str = "CATALOG_PLACEHOLDER";

/// One server to crawl, from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The catalog's name for the server: the registry `name` (`io.github.owner/repo`), the key of a
    /// client config entry, or the seed list's `name`.
    pub server: String,
    /// The server's own version when the source says it (the registry entry's, the seed's).
    pub version: Option<String>,
    /// `registry`, `config:<path>`, `seed` or `cli`.
    pub source: String,
    pub kind: TargetKind,
}

/// How to reach a target, or why it cannot be reached as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A server over HTTP. `from_registry` URLs are untrusted (the client refuses private
    /// addresses for them); URLs the user named (config files, the command line) are not.
    Remote { url: url::Url, transport: RemoteTransport, headers: Vec<(String, String)>, from_registry: bool },
    /// A package to install and run over stdio inside the sandbox. `version: None` means the
    /// source did not pin one (the launcher resolves the latest).
    Package {
        ecosystem: Ecosystem,
        name: String,
        version: Option<String>,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// A command from a config file that is not a recognisable package launch.
    Command { program: String, args: Vec<String>, env: Vec<(String, String)> },
    /// Reachable once someone supplies what `reason` names.
    NeedsConfig { reason: String },
    /// Not something the crawler can run (Docker image, NuGet, MCPB bundle, ...).
    Unsupported { reason: String },
}

/// Which HTTP transport a remote speaks; `Auto` lets the client probe (Streamable HTTP, then SSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTransport {
    Auto,
    Streamable,
    Sse,
}

/// Package ecosystems the launcher can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    Npm,
    Pypi,
}

impl Ecosystem {
    /// `npm` or `pypi`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
        }
    }
}

impl TargetKind {
    /// A short stable word for summaries: `remote`, `package`, `command`, `needs_config`, `unsupported`.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetKind::Remote { .. } => "remote",
            TargetKind::Package { .. } => "package",
            TargetKind::Command { .. } => "command",
            TargetKind::NeedsConfig { .. } => "needs_config",
            TargetKind::Unsupported { .. } => "unsupported",
        }
    }
}

impl Target {
    /// The names of environment variables and headers whose value is (or contains) [`PLACEHOLDER`]:
    /// what the crawl should record as "listed with placeholder credentials".
    pub fn placeholders(&self) -> Vec<&str> {
        let pairs: &[(String, String)] = match &self.kind {
            TargetKind::Remote { headers, .. } => headers,
            TargetKind::Package { env, .. } | TargetKind::Command { env, .. } => env,
            TargetKind::NeedsConfig { .. } | TargetKind::Unsupported { .. } => &[],
        };
        pairs.iter().filter(|(_, v)| v.contains(PLACEHOLDER)).map(|(k, _)| k.as_str()).collect()
    }
}

/// Why a source could not be read at all. Problems with single entries are not errors: they
/// become `NeedsConfig` targets or entries in a listing's `problems`.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}; check that it exists and is readable")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid JSON at line {line}, column {column}: {message}; fix the file or leave it out")]
    ConfigSyntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path} holds no MCP servers in a shape catalog knows: {message}")]
    ConfigShape { path: PathBuf, message: String },
    #[error("the saved registry data is not valid JSON at line {line}, column {column}: {message}")]
    SavedSyntax { line: usize, column: usize, message: String },
    #[error("the saved registry data is not a server.json, an array of them, or a /v0.1/servers response: {reason}")]
    SavedShape { reason: String },
    #[error("cannot build the registry URL from {base}: {message}; pass a base URL such as https://registry.modelcontextprotocol.io")]
    RegistryUrl { base: String, message: String },
    #[error("registry page {page} ({url}) failed; check the network or the --registry URL")]
    RegistryRequest { page: usize, url: String, source: reqwest::Error },
    #[error("registry page {page} ({url}) answered HTTP {status}; retry later or check the --registry URL")]
    RegistryStatus { page: usize, url: String, status: u16 },
    #[error("registry page {page} ({url}) is larger than {limit} bytes; lower the page size")]
    RegistryTooLarge { page: usize, url: String, limit: usize },
    #[error("registry page {page} ({url}) is not a /v0.1/servers response: {message}; check the --registry URL")]
    RegistryPage { page: usize, url: String, message: String },
    #[error("the bundled seed list (data/servers.toml) is invalid: {message}")]
    Seed { message: String },
}
