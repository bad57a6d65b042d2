//! `catalog crawl`: targets → listings → classified tools in the catalog.
//!
//! Each target runs in its own task under one of two limits (HTTP connections, package launches)
//! and a deadline; a slow or dead server holds up nobody. Finished listings come back over a
//! channel to the one task that owns the database, which classifies each server's tools with its
//! siblings and stores them in one transaction, so a crash loses at most the servers in flight.
//!
//! Invariants: one server's failure is recorded and never stops the crawl; nothing is launched
//! (packages, `--stdio` and config commands alike) but in the sandbox unless the user passed
//! `--no-sandbox`, and the sandbox is probed once, before any launch; every launch's protections
//! are recorded with its outcome; registry URLs are fetched with the private-address guard unless
//! the user passed `--allow-private`.

mod progress;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use crate::classify::RuleSet;
use crate::ingest;
use crate::input::{self, Item, Location};
use crate::launch::{
    self, Access, InstallLimits, LaunchCommand, Mode, PackageCache, PackageSpec, Protections, RunLimits, Sandbox,
};
use crate::mcp::{self, AddressGuard, Endpoint, HttpTransport, Limits, Listing, StdioCommand};
use crate::sources::{Ecosystem, RemoteTransport, Target, TargetKind};
use crate::store::{Db, ListingRecord, SearchIndex, ServerRecord, Unlisted};

pub use progress::Progress;

/// How a crawl runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Servers listed over HTTP at once.
    pub http_concurrency: usize,
    /// Packages installed and launched at once.
    pub launch_concurrency: usize,
    /// Time for one server's listing (installs have their own limit).
    pub timeout: Duration,
    /// Run packages and commands without bubblewrap (the user asked).
    pub no_sandbox: bool,
    /// Servers (by name or catalog identity) whose sandbox keeps the host's network.
    pub allow_net: Vec<String>,
    /// Host paths every sandboxed launch may read.
    pub bind_ro: Vec<PathBuf>,
    /// Let registry URLs reach loopback and private addresses.
    pub allow_private: bool,
    /// Crawl package versions already in the catalog again.
    pub force: bool,
    /// Where packages are installed.
    pub cache: PathBuf,
    /// Attempts for transient HTTP failures (connection refused, 429, 5xx).
    pub http_attempts: u32,
    /// Update the search index after storing (`catalog scan` keeps no index).
    pub index: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            http_concurrency: 64,
            launch_concurrency: 2,
            timeout: Duration::from_secs(60),
            no_sandbox: false,
            allow_net: Vec::new(),
            bind_ro: Vec::new(),
            allow_private: false,
            force: false,
            cache: PathBuf::from(".catalog-cache"),
            http_attempts: 3,
            index: true,
        }
    }
}

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    pub server: String,
    pub version: Option<String>,
    pub source: String,
    /// `remote`, `package`, `command`, `needs_config`, `unsupported`.
    pub target: &'static str,
    /// `ok`, `partial`, `failed`, `auth_required`, `needs_config`, `unsupported`, `skipped`.
    pub outcome: &'static str,
    /// For failures: the error's stable kind (`timeout`, `exited`, `install_failed`, ...).
    pub reason: Option<String>,
    pub error: Option<String>,
    pub transport: Option<&'static str>,
    pub tools: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub problems: Vec<String>,
    /// Environment variables and headers that were given placeholder values.
    pub placeholders: Vec<String>,
    /// What the launched server could reach (packages and commands; `None` for URLs).
    pub launch: Option<Protections>,
    pub millis: u64,
}

/// What a crawl did.
#[derive(Debug, Default)]
pub struct Report {
    pub run: i64,
    pub servers: Vec<ServerReport>,
    /// Why the search index could not be updated (it is rebuilt on the next search).
    pub index_error: Option<String>,
    /// Why servers that must be launched were not: the sandbox probe's answer, once for all.
    pub sandbox_missing: Option<String>,
    pub millis: u64,
}

impl Report {
    /// How many servers ended with each outcome.
    pub fn outcomes(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for s in &self.servers {
            *out.entry(s.outcome).or_default() += 1;
        }
        out
    }

    /// Failed servers by reason.
    pub fn failures(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in self.servers.iter().filter(|s| s.outcome == "failed") {
            *out.entry(s.reason.clone().unwrap_or_default()).or_default() += 1;
        }
        out
    }

    /// Servers that gave their tools in this run, or were skipped as already crawled.
    pub fn listed(&self) -> usize {
        self.servers.iter().filter(|s| matches!(s.outcome, "ok" | "partial" | "skipped")).count()
    }

    /// Servers not launched because there was no sandbox.
    pub fn not_sandboxed(&self) -> usize {
        self.servers.iter().filter(|s| s.reason.as_deref() == Some("no_sandbox")).count()
    }

    /// Servers that did not give their tools (failed, auth required, needs configuration,
    /// unsupported).
    pub fn unlisted(&self) -> usize {
        self.servers.iter().filter(|s| !matches!(s.outcome, "ok" | "partial" | "skipped")).count()
    }

    pub fn tools(&self) -> (usize, usize, usize, usize) {
        self.servers.iter().fold((0, 0, 0, 0), |a, s| (a.0 + s.tools, a.1 + s.added, a.2 + s.changed, a.3 + s.removed))
    }
}

/// Why a target gave no listing.
#[derive(Debug)]
struct Failure {
    /// `failed` or `auth_required`.
    outcome: &'static str,
    reason: String,
    message: String,
    detail: Option<serde_json::Value>,
}

impl From<mcp::Error> for Failure {
    fn from(e: mcp::Error) -> Failure {
        let detail = match &e {
            mcp::Error::AuthRequired { status, www_authenticate } => Some(serde_json::json!({
                "status": status,
                "www_authenticate": www_authenticate,
                "challenge": www_authenticate.as_deref().map(parse_challenge),
            })),
            mcp::Error::Exited { status, stderr_tail } => {
                Some(serde_json::json!({ "exit_status": status, "stderr_tail": stderr_tail }))
            }
            mcp::Error::Http { status, body_excerpt } => {
                Some(serde_json::json!({ "status": status, "body_excerpt": body_excerpt }))
            }
            _ => None,
        };
        let outcome = if matches!(e, mcp::Error::AuthRequired { .. }) { "auth_required" } else { "failed" };
        Failure { outcome, reason: e.kind().to_string(), message: e.to_string(), detail }
    }
}

impl From<launch::LaunchError> for Failure {
    fn from(e: launch::LaunchError) -> Failure {
        Failure { outcome: "failed", reason: e.kind().to_string(), message: e.to_string(), detail: None }
    }
}

/// A finished target, sent back to the task that owns the database.
struct Done {
    index: usize,
    result: Result<(Listing, Option<String>), Failure>,
    launch: Option<Protections>,
    millis: u64,
}

/// Everything the target tasks share.
struct Shared {
    options: Options,
    http: Semaphore,
    launches: Semaphore,
    mode: Option<Mode>,
    sandbox: Option<Sandbox>,
    cache: PackageCache,
    progress: Progress,
}

/// Crawls `targets` and stores what they list, as one run labelled `label`.
pub async fn crawl(
    db: &mut Db,
    rules: &RuleSet,
    targets: Vec<Target>,
    label: &str,
    options: Options,
    progress: Progress,
    now: i64,
) -> rusqlite::Result<Report> {
    let started = Instant::now();
    let run = db.begin_run("crawl", label, rules.version(), now)?;
    let before = db.generation()?;
    let mut report = Report { run, ..Report::default() };
    let mut reports: Vec<Option<ServerReport>> = vec![None; targets.len()];

    // One probe, before any launch: without a sandbox, nothing is launched, and the report says
    // why once; URLs are crawled all the same.
    let needs_launch = targets.iter().any(|t| launches(&t.kind));
    let sandbox = match needs_launch && !options.no_sandbox {
        true => Sandbox::probe().map_err(|reason| report.sandbox_missing = Some(reason)).ok(),
        false => None,
    };
    let mode = launch::launch_policy(sandbox.as_ref(), options.no_sandbox).ok();
    let shared = Arc::new(Shared {
        http: Semaphore::new(options.http_concurrency.max(1)),
        launches: Semaphore::new(options.launch_concurrency.max(1)),
        cache: PackageCache::new(&options.cache),
        mode,
        sandbox,
        progress,
        options,
    });
    shared.progress.start(targets.len());

    let (tx, mut rx) = mpsc::channel::<Done>(256);
    let mut seen = HashSet::new();
    for (index, target) in targets.iter().enumerate() {
        let base = base_report(target);
        let unlisted = |outcome: &'static str, reason: &str, message: String| ServerReport {
            outcome,
            reason: Some(reason.to_string()),
            error: Some(message),
            ..base.clone()
        };
        let immediate = match &target.kind {
            TargetKind::NeedsConfig { reason } => Some(unlisted("needs_config", "needs_config", reason.clone())),
            TargetKind::Unsupported { reason } => Some(unlisted("unsupported", "unsupported", reason.clone())),
            kind if launches(kind) && shared.mode.is_none() => {
                Some(unlisted("failed", "no_sandbox", launch::LaunchError::NoSandbox.to_string()))
            }
            _ if !seen.insert(identity(target)) => {
                Some(ServerReport { outcome: "skipped", reason: Some("duplicate".into()), ..base.clone() })
            }
            TargetKind::Package { version: Some(v), .. } if !shared.options.force => {
                db.listed_at_version(&identity(target), v)?.then(|| ServerReport {
                    outcome: "skipped",
                    reason: Some("already_crawled".into()),
                    error: Some(format!("version {v} is already in the catalog; pass --force to crawl it again")),
                    ..base.clone()
                })
            }
            _ => None,
        };
        if let Some(r) = immediate {
            if r.outcome != "skipped" {
                record_unlisted(db, run, target, &r, None, now)?;
            }
            shared.progress.finished(&r);
            reports[index] = Some(r);
            continue;
        }
        let tx = tx.clone();
        let shared = Arc::clone(&shared);
        let target = target.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let line = shared.progress.line(&target.server);
            let mut launch = None;
            let result = run_target(&target, &shared, &line, &mut launch).await;
            line.finish();
            let _ = tx.send(Done { index, result, launch, millis: t0.elapsed().as_millis() as u64 }).await;
        });
    }
    drop(tx);

    let mut stored_ids = Vec::new();
    while let Some(done) = rx.recv().await {
        let target = &targets[done.index];
        let mut r = base_report(target);
        r.millis = done.millis;
        r.launch = done.launch;
        let launch_json = r.launch.as_ref().map(crate::report::LaunchJson::from);
        match done.result {
            Ok((listing, installed_version)) => {
                if let Some(v) = installed_version {
                    r.version = Some(v);
                }
                let stored = store_listing(db, rules, run, target, &listing, r.version.as_deref(), launch_json, now);
                match stored {
                    Ok((outcome, id)) => {
                        stored_ids.push(id);
                        r.outcome = if listing.problems.is_empty() { "ok" } else { "partial" };
                        r.transport = Some(listing.transport.as_str());
                        r.tools = outcome.tools;
                        r.added = outcome.changes.added;
                        r.changed = outcome.changes.changed;
                        r.removed = outcome.changes.removed;
                        r.problems = listing.problems.clone();
                    }
                    Err(e) => {
                        r.outcome = "failed";
                        r.reason = Some("store".into());
                        r.error = Some(format!("cannot store the listing: {e}"));
                    }
                }
            }
            Err(f) => {
                r.outcome = f.outcome;
                r.reason = Some(f.reason);
                r.error = Some(f.message);
                let mut detail = f.detail.unwrap_or_else(|| serde_json::json!({}));
                if let (Some(obj), Some(l)) = (detail.as_object_mut(), launch_json) {
                    obj.insert("launch".into(), serde_json::to_value(l).unwrap_or_default());
                }
                let detail = detail.as_object().is_some_and(|o| !o.is_empty()).then_some(detail);
                record_unlisted(db, run, target, &r, detail.as_ref(), now)?;
            }
        }
        shared.progress.finished(&r);
        reports[done.index] = Some(r);
    }
    shared.progress.clear();
    db.finish_run(run, now)?;
    if shared.options.index {
        let indexed = SearchIndex::open(db).and_then(|index| index.update_servers(db, &stored_ids, before));
        if let Err(e) = indexed {
            report.index_error = Some(e.to_string());
        }
    }
    report.servers = reports.into_iter().flatten().collect();
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// One target per server: a registry entry may offer an npm package, a PyPI package, a remote
/// and a Docker image; the crawl takes the one most likely to list (a package, then a remote,
/// then a command), and reports the server as needing configuration or unsupported only when
/// nothing else is offered. Order of first appearance is kept.
pub fn choose(targets: Vec<Target>) -> Vec<Target> {
    fn rank(t: &Target) -> u8 {
        match t.kind {
            TargetKind::Package { .. } => 0,
            TargetKind::Remote { .. } => 1,
            TargetKind::Command { .. } => 2,
            TargetKind::NeedsConfig { .. } => 3,
            TargetKind::Unsupported { .. } => 4,
        }
    }
    let mut best: Vec<Target> = Vec::with_capacity(targets.len());
    let mut at: std::collections::HashMap<(String, String), usize> = std::collections::HashMap::new();
    for t in targets {
        match at.get(&(t.source.clone(), t.server.clone())) {
            Some(&i) if rank(&t) < rank(&best[i]) => best[i] = t,
            Some(_) => {}
            None => {
                at.insert((t.source.clone(), t.server.clone()), best.len());
                best.push(t);
            }
        }
    }
    best
}

/// The catalog identity of a target: its name, qualified by where it came from when it is not
/// the registry's or the seed list's (two config files may both call a server `github`).
pub fn identity(target: &Target) -> String {
    match target.source.as_str() {
        "registry" | "seed" => target.server.clone(),
        _ => match &target.kind {
            TargetKind::Package { ecosystem, name, .. } => format!("{}:{name}", ecosystem.as_str()),
            TargetKind::Remote { url, .. } => url.to_string(),
            _ => format!("{}:{}", target.source, target.server),
        },
    }
}

fn base_report(target: &Target) -> ServerReport {
    ServerReport {
        server: target.server.clone(),
        version: target.version.clone().or_else(|| match &target.kind {
            TargetKind::Package { version, .. } => version.clone(),
            _ => None,
        }),
        source: target.source.clone(),
        target: target.kind.kind(),
        outcome: "failed",
        reason: None,
        error: None,
        transport: None,
        tools: 0,
        added: 0,
        changed: 0,
        removed: 0,
        problems: Vec::new(),
        placeholders: target.placeholders().into_iter().map(str::to_string).collect(),
        launch: None,
        millis: 0,
    }
}

/// Targets that run a process on this machine (and so need the sandbox).
fn launches(kind: &TargetKind) -> bool {
    matches!(kind, TargetKind::Package { .. } | TargetKind::Command { .. })
}

fn source_kind(target: &Target) -> &'static str {
    match &target.kind {
        TargetKind::Package { ecosystem: Ecosystem::Npm, .. } => "npm",
        TargetKind::Package { ecosystem: Ecosystem::Pypi, .. } => "pypi",
        TargetKind::Remote { .. } => "url",
        TargetKind::Command { .. } => "stdio",
        _ => "crawl",
    }
}

fn record_unlisted(
    db: &mut Db,
    run: i64,
    target: &Target,
    r: &ServerReport,
    detail: Option<&serde_json::Value>,
    now: i64,
) -> rusqlite::Result<()> {
    let detail = detail.map(|d| d.to_string());
    let error = format!("{}: {}", r.reason.as_deref().unwrap_or(r.outcome), r.error.as_deref().unwrap_or(""));
    let id = identity(target);
    db.record_unlisted(
        run,
        &Unlisted {
            identity: &id,
            name: &target.server,
            version: r.version.as_deref(),
            source_kind: source_kind(target),
            source_location: &target.source,
            outcome: r.outcome,
            error: &error,
            detail: detail.as_deref(),
        },
        now,
    )?;
    Ok(())
}

/// Parses, classifies and stores one listing, with the protections its launch had.
#[allow(clippy::too_many_arguments)]
fn store_listing(
    db: &mut Db,
    rules: &RuleSet,
    run: i64,
    target: &Target,
    listing: &Listing,
    version: Option<&str>,
    launch: Option<crate::report::LaunchJson>,
    now: i64,
) -> rusqlite::Result<(ingest::ServerOutcome, i64)> {
    let mut problems = listing.problems.clone();
    let mut tools = Vec::with_capacity(listing.tools.len());
    for (i, raw) in listing.tools.iter().enumerate() {
        let item = Item::new(raw.get(), Location::Element(i));
        match input::parse_item(&item) {
            Ok(tool) => tools.push((raw.get(), tool)),
            Err(p) => problems.push(p.to_string()),
        }
    }
    let json_list = |items: &[Box<serde_json::value::RawValue>]| {
        let mut out = String::from("[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(item.get());
        }
        out.push(']');
        out
    };
    let (prompts, resources, templates) =
        (json_list(&listing.prompts), json_list(&listing.resources), json_list(&listing.resource_templates));
    let server_info = listing.server_info.as_ref().map(|v| v.to_string());
    let capabilities = listing.capabilities.as_ref().map(|v| v.to_string());
    let launch = launch.and_then(|l| serde_json::to_string(&l).ok());
    let record = ListingRecord {
        transport: listing.transport.as_str(),
        protocol_version: listing.protocol_version.as_deref(),
        server_info: server_info.as_deref(),
        instructions: listing.instructions.as_deref(),
        capabilities: capabilities.as_deref(),
        prompts: &prompts,
        resources: &resources,
        resource_templates: &templates,
        problems: &problems,
        launch: launch.as_deref(),
    };
    let id = identity(target);
    let server = ServerRecord {
        identity: &id,
        name: &target.server,
        source_kind: source_kind(target),
        source_location: &target.source,
        version,
        listing: Some(&record),
    };
    let outcome = ingest::store_tools(db, rules, run, &server, &tools, now)?;
    let server_id = outcome.changes.server_id;
    Ok((outcome, server_id))
}

/// Lists one target: connects, or installs and launches. Returns the listing and, for packages,
/// the version installed; `launch` receives the protections of whatever was launched.
async fn run_target(
    target: &Target,
    shared: &Shared,
    line: &progress::Line,
    launch: &mut Option<Protections>,
) -> Result<(Listing, Option<String>), Failure> {
    let limits = Limits { deadline: shared.options.timeout, ..Limits::default() };
    let on_phase = |phase: mcp::Phase| line.phase(phase.as_str());
    match &target.kind {
        TargetKind::Remote { url, transport, headers, from_registry } => {
            let _permit = shared.http.acquire().await.map_err(closed)?;
            let guard = if *from_registry && !shared.options.allow_private {
                AddressGuard::PublicOnly
            } else {
                AddressGuard::AllowAll
            };
            let transport = match transport {
                RemoteTransport::Auto => HttpTransport::Auto,
                RemoteTransport::Streamable => HttpTransport::Streamable,
                RemoteTransport::Sse => HttpTransport::Sse,
            };
            let endpoint = Endpoint::Http { url: url.clone(), headers: headers.clone(), transport, guard };
            let mut attempt = 1;
            loop {
                match mcp::list_server(&endpoint, &limits, &on_phase).await {
                    Ok(listing) => return Ok((listing, None)),
                    Err(e) if attempt < shared.options.http_attempts && transient(&e) => {
                        line.phase("retry");
                        tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        TargetKind::Package { ecosystem, name, version, args, env } => {
            let _permit = shared.launches.acquire().await.map_err(closed)?;
            line.phase("install");
            let spec = PackageSpec {
                ecosystem: match ecosystem {
                    Ecosystem::Npm => launch::Ecosystem::Npm,
                    Ecosystem::Pypi => launch::Ecosystem::Pypi,
                },
                name: name.clone(),
                version: version.clone(),
            };
            let installed = shared.cache.install(&spec, &InstallLimits::default()).await?;
            let mut cmd = installed.command.clone();
            cmd.args.extend(args.iter().cloned());
            cmd.env.extend(env.iter().cloned());
            let mut access = Access::package(&installed.dir);
            access.network = shared.allows_net(target);
            access.read_only.extend(shared.options.bind_ro.iter().cloned());
            let listing = launch_and_list(shared, cmd, access, &limits, &on_phase, launch).await?;
            Ok((listing, Some(installed.version)))
        }
        TargetKind::Command { program, args, env } => {
            // The user's own command (a config file, --stdio): in the sandbox like a package, with
            // read-only access to the project its arguments point into, and in the caller's working
            // directory when that is inside it.
            let _permit = shared.launches.acquire().await.map_err(closed)?;
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
            let home = std::env::var_os("HOME").and_then(|h| PathBuf::from(h).canonicalize().ok());
            let prepared = launch::prepare(program, args, &cwd, home.as_deref())?;
            let sandboxed = shared.mode == Some(Mode::Sandboxed);
            let cwd = if sandboxed { prepared.cwd.clone() } else { Some(cwd) };
            let cmd = LaunchCommand { program: prepared.program.clone(), args: args.clone(), env: env.clone(), cwd };
            let mut access =
                Access { read_only: prepared.reads.into_iter().map(|(dir, _)| dir).collect(), network: false };
            access.network = shared.allows_net(target);
            access.read_only.extend(shared.options.bind_ro.iter().cloned());
            let listing = launch_and_list(shared, cmd, access, &limits, &on_phase, launch).await?;
            Ok((listing, None))
        }
        TargetKind::NeedsConfig { reason } | TargetKind::Unsupported { reason } => {
            Err(Failure { outcome: "failed", reason: "unreachable".into(), message: reason.clone(), detail: None })
        }
    }
}

impl Shared {
    /// Whether the user named this target with `--allow-net`.
    fn allows_net(&self, target: &Target) -> bool {
        let id = identity(target);
        self.options.allow_net.iter().any(|n| *n == target.server || *n == id)
    }
}

/// Runs `cmd` in the sandbox (or, with `--no-sandbox`, with only its environment cleaned and its
/// limits set) from a fresh scratch directory, lists it, and makes sure nothing it started is
/// left running. `launch` receives what the launch could reach.
async fn launch_and_list(
    shared: &Shared,
    cmd: LaunchCommand,
    access: Access,
    limits: &Limits,
    on_phase: &(dyn Fn(mcp::Phase) + Send + Sync),
    launch: &mut Option<Protections>,
) -> Result<Listing, Failure> {
    let scratch = tempfile::Builder::new().prefix("catalog-run-").tempdir().map_err(|e| Failure {
        outcome: "failed",
        reason: "io".into(),
        message: format!("cannot create a scratch directory: {e}"),
        detail: None,
    })?;
    let run_limits = RunLimits::default();
    let (wrapped, marker) = match (shared.mode, &shared.sandbox) {
        (Some(Mode::Sandboxed), Some(sandbox)) => {
            *launch = Some(Protections::sandboxed(&access, &run_limits, &cmd));
            (sandbox.wrap(cmd, &access, &run_limits, scratch.path())?, None)
        }
        _ => {
            *launch = Some(Protections::unsandboxed(&run_limits, &cmd));
            let marker = scratch.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (launch::unsandboxed(cmd, &run_limits, scratch.path(), &marker), Some(marker))
        }
    };
    let result = mcp::list_server(&Endpoint::Stdio(stdio(wrapped)), limits, on_phase).await;
    let sandboxed = marker.is_none();
    if let Some(marker) = marker.filter(|m| !m.is_empty()) {
        launch::kill_marked(&marker);
    }
    result.map_err(|e| {
        let mut failure = Failure::from(e);
        if sandboxed && matches!(failure.reason.as_str(), "exited" | "timeout" | "spawn") {
            failure.message.push_str(
                "; it ran in the sandbox (no network, read-only files, only the project its arguments name): \
                 pass --bind-ro PATH for a path it must read, or --allow-net SERVER if it needs the network",
            );
        }
        failure
    })
}

fn closed(_: tokio::sync::AcquireError) -> Failure {
    Failure { outcome: "failed", reason: "cancelled".into(), message: "the crawl was cancelled".into(), detail: None }
}

fn stdio(cmd: LaunchCommand) -> StdioCommand {
    StdioCommand { program: cmd.program, args: cmd.args, env: cmd.env, cwd: cmd.cwd }
}

/// A `WWW-Authenticate` challenge as `{"scheme": "Bearer", "params": {"resource_metadata": ...}}`
/// (RFC 9110 §11.6.1: a scheme, then `name=value` or `name="quoted value"` pairs).
fn parse_challenge(header: &str) -> serde_json::Value {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    let mut params = serde_json::Map::new();
    let mut rest = rest.trim_start();
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if !name.is_empty() {
            params.insert(name, serde_json::Value::String(value));
        }
        rest = tail.trim_start_matches([',', ' ']);
    }
    serde_json::json!({ "scheme": scheme, "params": params })
}

/// Failures worth another attempt: the connection, rate limits, server errors.
fn transient(e: &mcp::Error) -> bool {
    match e {
        mcp::Error::Connect(_) => true,
        mcp::Error::Http { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let c = parse_challenge(
            r#"Bearer resource_metadata="https://x.example/.well-known/oauth-protected-resource", scope="a b", error=invalid_token"#,
        );
        assert_eq!(c["scheme"], "Bearer");
        assert_eq!(c["params"]["resource_metadata"], "https://x.example/.well-known/oauth-protected-resource");
        assert_eq!(c["params"]["scope"], "a b");
        assert_eq!(c["params"]["error"], "invalid_token");
        assert_eq!(parse_challenge("Basic")["scheme"], "Basic");
        assert_eq!(parse_challenge(r#"Bearer realm="a\"b""#)["params"]["realm"], "a\"b");
    }

    #[test]
    fn one_target_per_server_prefers_packages() {
        let t = |server: &str, kind: TargetKind| Target {
            server: server.into(),
            version: None,
            source: "registry".into(),
            kind,
        };
        let remote = TargetKind::Remote {
            url: url::Url::parse("https://x.example/mcp").unwrap(),
            transport: RemoteTransport::Auto,
            headers: Vec::new(),
            from_registry: true,
        };
        let package = TargetKind::Package {
            ecosystem: Ecosystem::Npm,
            name: "x".into(),
            version: Some("1.0.0".into()),
            args: Vec::new(),
            env: Vec::new(),
        };
        let chosen = choose(vec![
            t("a", TargetKind::Unsupported { reason: "oci".into() }),
            t("b", remote.clone()),
            t("a", remote),
            t("a", package),
        ]);
        let kinds: Vec<_> = chosen.iter().map(|t| (t.server.as_str(), t.kind.kind())).collect();
        assert_eq!(kinds, [("a", "package"), ("b", "remote")]);
    }
}
