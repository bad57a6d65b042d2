//! `catalog scan`: gathers the servers of a team's MCP setup (config files, saved tool lists,
//! server.json), lists them through the crawler into the scan cache, judges them (`scan`), and
//! prints the report and the gate.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::catalog::open;
use super::load_rules;
use crate::cli::args::{ScanArgs, ScanFormat};
use crate::cli::{printer, Io, Status};
use crate::crawl::{self, Options, Progress};
use crate::launch::PackageCache;
use crate::model::{Risk, Severity};
use crate::report::{ScanFindingJson, ScanJson, ScanServerJson, ScanSummaryJson, ScanToolJson, SCHEMA_VERSION};
use crate::scan::{self, Baseline, Origin, OriginKind, Scan, ServerInput, State, Suppressions};
use crate::sources::{config, registry, Target, TargetKind};

const DEFAULT_BASELINE: &str = ".catalog/baseline.json";
const DEFAULT_SUPPRESSIONS: [&str; 2] = [".catalog/suppressions.toml", ".catalog/suppressions.json"];

/// A target to list, with where it was declared.
struct Declared {
    target: Target,
    origin: Origin,
}

pub(super) fn run(args: ScanArgs, io: &mut Io<'_>) -> Result<Status> {
    let rules = load_rules(args.rules.rules.as_deref())?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut problems: Vec<String> = Vec::new();
    let mut declared: Vec<Declared> = Vec::new();
    let mut saved: Vec<ServerInput> = Vec::new();

    let mut configs = args.configs.clone();
    if configs.is_empty() && args.tools.is_empty() && args.server_json.is_empty() {
        configs = config::discover_project(&cwd);
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            configs.extend(config::discover(Path::new(&home)));
        }
        if configs.is_empty() {
            writeln!(
                io.err,
                "error: no MCP config found here (.mcp.json, .vscode/mcp.json, .cursor/mcp.json, .zed/settings.json) \
                 or in your clients' usual places; name config files, or pass --tools FILE or --server-json FILE"
            )?;
            return Ok(Status::Error);
        }
    }
    for path in &configs {
        let shown = display(path, &cwd);
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                problems.push(format!("cannot read {shown}: {e}; check that it exists and is readable"));
                continue;
            }
        };
        match config::parse_config(&text, path) {
            Ok(targets) => {
                for target in targets {
                    let line = config::declared_line(&text, &target.server);
                    let origin = Origin { file: shown.clone(), line, kind: OriginKind::Config };
                    declared.push(Declared { target, origin });
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    for path in &args.server_json {
        let shown = display(path, &cwd);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("cannot read {shown}: {e}; check that it exists and is readable"));
                continue;
            }
        };
        match registry::read_saved(&text) {
            Ok(listing) => {
                for p in &listing.problems {
                    problems.push(format!("{shown}: {p}"));
                }
                let targets = crawl::choose(listing.entries.iter().flat_map(registry::targets_of).collect());
                for target in targets {
                    let origin = Origin { file: shown.clone(), line: 1, kind: OriginKind::ServerJson };
                    declared.push(Declared { target, origin });
                }
            }
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
    }
    for spec in &args.tools {
        match saved_tools(spec, &cwd) {
            Ok(input) => saved.push(input),
            Err(e) => problems.push(e),
        }
    }
    for p in &problems {
        writeln!(io.err, "error: {p}")?;
    }
    if declared.is_empty() && saved.is_empty() {
        writeln!(io.err, "error: nothing to scan: the inputs declare no MCP servers")?;
        return Ok(Status::Error);
    }

    let mut inputs = list(&args, &rules, declared, io)?;
    inputs.extend(saved);

    let baseline_path = args.baseline.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_BASELINE));
    let baseline = match std::fs::read_to_string(&baseline_path) {
        Ok(text) => Some(
            Baseline::parse(&text).with_context(|| format!("cannot use the baseline {}", baseline_path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if args.baseline.is_some() && !args.update_baseline {
                writeln!(
                    io.err,
                    "note: no baseline at {} yet; every finding is new (write one with --update-baseline)",
                    baseline_path.display()
                )?;
            }
            None
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read the baseline {}", baseline_path.display())),
    };
    let suppressions_path =
        args.suppressions.clone().or_else(|| DEFAULT_SUPPRESSIONS.iter().map(PathBuf::from).find(|p| p.is_file()));
    let suppressions = match &suppressions_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the suppressions file {}", path.display()))?;
            let toml = path.extension().is_some_and(|e| e == "toml");
            Some(
                Suppressions::parse(&text, toml)
                    .with_context(|| format!("cannot use the suppressions file {}", path.display()))?,
            )
        }
        None => None,
    };
    let now = crate::dates::now();
    // A baseline accepts every tool's risk, whatever gate later scans use.
    let risk_from = match args.fail_on {
        _ if args.update_baseline => Risk::Low,
        Some(Severity::Info | Severity::Low) => Risk::Low,
        Some(Severity::Medium) => Risk::Medium,
        _ => Risk::High,
    };
    let options = scan::Options { risk_findings_from: risk_from, today: now.div_euclid(86_400) };
    let suppressions_file = suppressions_path.as_deref().map(|p| display(p, &cwd)).unwrap_or_default();
    let judged = Scan::judge(
        &rules,
        inputs,
        baseline.as_ref(),
        suppressions.as_ref().map(|s| (s, suppressions_file.as_str())),
        &options,
    );

    let report = render(&judged, &rules, args.format, args.fail_on, &baseline_path)?;
    match &args.out {
        Some(path) => write_file(path, &report)?,
        None => io.out.write_all(report.as_bytes())?,
    }
    if let Some(path) = &args.sarif {
        write_file(path, &render(&judged, &rules, ScanFormat::Sarif, args.fail_on, &baseline_path)?)?;
    }
    if let Some(path) = &args.markdown {
        write_file(path, &scan::markdown::markdown(&judged, args.fail_on))?;
    }

    let listed = judged.servers.iter().filter(|s| s.input.listed()).count();
    if args.update_baseline {
        let accepted = Baseline::accept(&judged, baseline.as_ref(), rules.version(), now);
        write_file(&baseline_path, &accepted.to_text())?;
        let pinned: usize = accepted.servers.values().map(|s| s.tools.len()).sum();
        writeln!(
            io.err,
            "baseline written to {}: {} server(s), {pinned} tool(s) pinned, {} finding(s) accepted; commit it",
            baseline_path.display(),
            accepted.servers.len(),
            accepted.accepted.len()
        )?;
    }
    if listed == 0 {
        writeln!(io.err, "error: no server could be listed, so nothing was checked; the reasons are in the report")?;
        return Ok(Status::Error);
    }
    if !problems.is_empty() {
        return Ok(Status::Error);
    }
    match args.fail_on {
        Some(level) if !args.update_baseline && judged.fails(level) => {
            let n = judged.active().filter(|f| f.severity >= level).count();
            writeln!(
                io.err,
                "gate failed: {n} new finding(s) at {level} or above; fix them, suppress them with a reason, \
                 or accept them with --update-baseline"
            )?;
            Ok(Status::Failure)
        }
        _ => Ok(Status::Success),
    }
}

/// A path as the user would write it: relative to the working directory when inside it.
fn display(path: &Path, cwd: &Path) -> String {
    let abs = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    match abs.strip_prefix(cwd) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A `--tools [NAME=]FILE` input: the saved list's tools, named by NAME or the file's stem.
fn saved_tools(spec: &str, cwd: &Path) -> std::result::Result<ServerInput, String> {
    let (name, file) = match spec.split_once('=') {
        Some((n, f)) if !n.is_empty() && !n.contains(['/', '\\']) => (Some(n.to_string()), f),
        _ => (None, spec),
    };
    let path = PathBuf::from(file);
    let shown = display(&path, cwd);
    let bytes =
        std::fs::read(&path).map_err(|e| format!("cannot read {shown}: {e}; check that it exists and is readable"))?;
    let text = String::from_utf8_lossy(&bytes);
    let split = crate::input::split(&text);
    if split.items.is_empty() && !split.problems.is_empty() {
        let why: Vec<String> = split.problems.iter().map(ToString::to_string).collect();
        return Err(format!("{shown} holds no tools: {}", why.join("; ")));
    }
    let name = name.unwrap_or_else(|| {
        let stem = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.to_string());
        let stem = stem.strip_suffix(".json").or_else(|| stem.strip_suffix(".jsonl")).unwrap_or(&stem).to_string();
        stem.strip_suffix(".tools").unwrap_or(&stem).to_string()
    });
    Ok(ServerInput {
        identity: format!("file:{shown}"),
        origin: Origin { file: shown.clone(), line: 1, kind: OriginKind::SavedTools },
        reached: format!("saved file {shown}"),
        outcome: if split.problems.is_empty() { "ok" } else { "partial" }.to_string(),
        reason: None,
        error: None,
        tools: split.items.iter().map(|i| i.raw.to_string()).collect(),
        problems: split.problems.iter().map(ToString::to_string).collect(),
        listed_at: None,
        name,
    })
}

/// How a target is reached, in words.
fn reached(target: &Target, sandboxed: bool) -> String {
    let how = if sandboxed { "launched in the sandbox" } else { "launched without the sandbox" };
    match &target.kind {
        TargetKind::Package { ecosystem, name, version, .. } => {
            format!(
                "{how} ({} {name}{})",
                ecosystem.as_str(),
                version.as_deref().map(|v| format!("@{v}")).unwrap_or_default()
            )
        }
        TargetKind::Command { program, .. } => format!("{how} ({program})"),
        TargetKind::Remote { url, .. } => format!("url {url}"),
        TargetKind::NeedsConfig { .. } => "not reached: needs configuration".to_string(),
        TargetKind::Unsupported { .. } => "not reached: unsupported".to_string(),
    }
}

/// Lists the declared targets through the crawler, into the scan cache database.
fn list(
    args: &ScanArgs,
    rules: &crate::classify::RuleSet,
    declared: Vec<Declared>,
    io: &mut Io<'_>,
) -> Result<Vec<ServerInput>> {
    if declared.is_empty() {
        return Ok(Vec::new());
    }
    let cache = args
        .cache_dir
        .clone()
        .or_else(PackageCache::default_root)
        .context("no cache location: pass --cache-dir DIR or set CATALOG_CACHE_DIR (HOME is not set)")?;
    let db_path = cache.join("scan.db");
    std::fs::create_dir_all(&cache).with_context(|| format!("cannot create the cache {}", cache.display()))?;
    let mut db = open(&crate::cli::args::DbOption { db: Some(db_path.clone()) })?;
    let options = Options {
        launch_concurrency: args.launch_concurrency.max(1),
        timeout: Duration::from_secs(args.timeout.max(1)),
        no_sandbox: args.no_sandbox,
        allow_net: args.allow_net.clone(),
        bind_ro: args.bind_ro.clone(),
        force: !args.cached,
        cache,
        index: false,
        ..Options::default()
    };
    if args.no_sandbox {
        writeln!(
            io.err,
            "warning: --no-sandbox: launched servers run on this machine as you, with the network open and your files readable and writable"
        )?;
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let targets: Vec<Target> = declared.iter().map(|d| d.target.clone()).collect();
    let progress = Progress::new(!args.quiet && std::io::stderr().is_terminal());
    let report = runtime
        .block_on(crawl::crawl(&mut db, rules, targets, "scan", options, progress, crate::dates::now()))
        .with_context(|| format!("cannot write to the scan cache {}", db_path.display()))?;
    if let Some(reason) = &report.sandbox_missing {
        writeln!(
            io.err,
            "error: {} server(s) were not launched: no working sandbox here ({reason}); install bubblewrap \
             (`sudo apt-get install bubblewrap`), or pass --no-sandbox",
            report.not_sandboxed()
        )?;
    }
    let mut out = Vec::with_capacity(declared.len());
    for (d, r) in declared.into_iter().zip(&report.servers) {
        let identity = crawl::identity(&d.target);
        let mut outcome = r.outcome.to_string();
        let mut tools = Vec::new();
        let mut listed_at = None;
        let listed = matches!(r.outcome, "ok" | "partial")
            || (r.outcome == "skipped" && matches!(r.reason.as_deref(), Some("already_crawled" | "duplicate")));
        if listed {
            match db.current_listing(&identity).context("cannot read the scan cache")? {
                Some((t, at)) => {
                    tools = t;
                    listed_at = Some(at);
                    if r.outcome == "skipped" {
                        outcome = "cached".to_string();
                    }
                }
                None => outcome = "failed".to_string(),
            }
        }
        let sandboxed = r.launch.as_ref().is_none_or(|l| l.sandboxed) && !args.no_sandbox;
        out.push(ServerInput {
            name: d.target.server.clone(),
            identity,
            origin: d.origin,
            reached: reached(&d.target, sandboxed),
            outcome,
            reason: r.reason.clone(),
            error: r.error.clone(),
            tools,
            problems: r.problems.clone(),
            listed_at,
        });
    }
    Ok(out)
}

fn render(
    scan: &Scan,
    rules: &crate::classify::RuleSet,
    format: ScanFormat,
    fail_on: Option<Severity>,
    baseline_path: &Path,
) -> Result<String> {
    Ok(match format {
        ScanFormat::Sarif => {
            let mut s = serde_json::to_string_pretty(&scan::sarif::sarif(scan, rules, fail_on))?;
            s.push('\n');
            s
        }
        ScanFormat::Markdown => scan::markdown::markdown(scan, fail_on),
        ScanFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json(scan, fail_on, baseline_path))?;
            s.push('\n');
            s
        }
        ScanFormat::Table => table(scan, fail_on),
    })
}

fn json<'a>(scan: &'a Scan, fail_on: Option<Severity>, baseline_path: &Path) -> ScanJson<'a> {
    let (new, baselined_n, suppressed) = scan.counts();
    ScanJson {
        schema_version: SCHEMA_VERSION,
        summary: ScanSummaryJson {
            servers: scan.servers.len(),
            listed: scan.servers.iter().filter(|s| s.input.listed()).count(),
            tools: scan.tools(),
            findings: new,
            baselined: baselined_n,
            suppressed,
            max_risk: scan.max_risk().map(Risk::as_str),
            fail_on: fail_on.map(Severity::as_str),
            gate_failed: fail_on.map(|l| scan.fails(l)),
            baseline: scan.baselined.then(|| baseline_path.display().to_string()),
        },
        servers: scan
            .servers
            .iter()
            .map(|s| ScanServerJson {
                name: &s.name,
                identity: &s.input.identity,
                declared_in: &s.input.origin.file,
                line: s.input.origin.line,
                input: s.input.origin.kind.as_str(),
                reached: &s.input.reached,
                outcome: &s.input.outcome,
                reason: s.input.reason.as_deref(),
                error: s.input.error.as_deref(),
                listed_at: s.input.listed_at.map(crate::dates::rfc3339),
                problems: &s.input.problems,
                tools: s
                    .tools
                    .iter()
                    .map(|t| ScanToolJson {
                        verdict: crate::report::ToolVerdict::new(&t.tool, &t.verdict, None, false),
                        key: &t.key,
                        digest: &t.pin.digest,
                    })
                    .collect(),
            })
            .collect(),
        findings: scan
            .findings
            .iter()
            .map(|f| ScanFindingJson {
                rule: &f.rule,
                severity: f.severity.as_str(),
                server: &f.server,
                tool: f.tool.as_deref(),
                message: &f.message,
                related: f.related.iter().map(|(s, t)| format!("{s}/{t}")).collect(),
                fingerprint: &f.fingerprint,
                state: f.state.as_str(),
                reason: match &f.state {
                    State::Suppressed { reason } => Some(reason.as_str()),
                    _ => None,
                },
            })
            .collect(),
    }
}

fn cut(s: &str, max: usize) -> String {
    printer::visible(&printer::one_line(s, max))
}

fn table(scan: &Scan, fail_on: Option<Severity>) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ =
        writeln!(t, "{:<28} {:<24} {:<10} {:>5} {:<9} REACHED", "SERVER", "DECLARED", "OUTCOME", "TOOLS", "MAX RISK");
    for s in &scan.servers {
        let max = s.tools.iter().map(|t| t.verdict.risk).max().map_or("-", |r| r.as_str());
        let _ = writeln!(
            t,
            "{:<28} {:<24} {:<10} {:>5} {:<9} {}",
            cut(&s.name, 28),
            cut(&format!("{}:{}", s.input.origin.file, s.input.origin.line), 24),
            s.input.outcome,
            s.tools.len(),
            max,
            cut(&s.input.reached, 60)
        );
        if let (false, Some(e)) = (s.input.listed(), &s.input.error) {
            let _ = writeln!(t, "  {}", cut(e, 150));
        }
    }
    // Medium and above one per line; low findings one line per rule and server.
    let active: Vec<_> = scan.active().filter(|f| f.severity > Severity::Info).collect();
    if !active.is_empty() {
        let _ = writeln!(t, "\n{:<9} {:<22} {:<36} FINDING", "SEVERITY", "RULE", "SERVER/TOOL");
        let mut low: Vec<((&str, &str), Vec<&str>)> = Vec::new();
        for f in &active {
            if f.severity == Severity::Low {
                let key = (f.rule.as_str(), f.server.as_str());
                let tool = f.tool.as_deref().unwrap_or("");
                match low.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, tools)) => tools.push(tool),
                    None => low.push((key, vec![tool])),
                }
                continue;
            }
            let at = match &f.tool {
                Some(tool) => format!("{}/{tool}", f.server),
                None => f.server.clone(),
            };
            let _ =
                writeln!(t, "{:<9} {:<30} {:<36} {}", f.severity.as_str(), f.rule, cut(&at, 36), cut(&f.message, 160));
        }
        for ((rule, server), tools) in low {
            let what = match tools.as_slice() {
                [one] => format!("{server}/{one}"),
                many => format!("{server} ({} tools)", many.len()),
            };
            let names = tools.iter().filter(|t| !t.is_empty()).copied().collect::<Vec<_>>().join(", ");
            let _ = writeln!(t, "{:<9} {:<30} {:<36} {}", "low", rule, cut(&what, 36), cut(&names, 160));
        }
    }
    let (new, baselined, suppressed) = scan.counts();
    let _ = write!(
        t,
        "\n{} server(s), {} tool(s), highest risk {}; {new} new finding(s), {baselined} baselined, {suppressed} suppressed",
        scan.servers.len(),
        scan.tools(),
        scan.max_risk().map_or("none", |r| r.as_str())
    );
    match fail_on {
        Some(level) if scan.fails(level) => {
            let _ = writeln!(t, "; gate FAILED at {level}");
        }
        Some(level) => {
            let _ = writeln!(t, "; gate passed at {level}");
        }
        None => t.push('\n'),
    }
    t
}
