//! `catalog crawl`: gathers targets from the sources the flags name (or the seed list), crawls
//! them, and prints the summary.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};

use super::catalog::open;
use super::load_rules;
use crate::cli::args::{CrawlArgs, Format};
use crate::cli::{Io, Status};
use crate::crawl::{self, Options, Progress};
use crate::dates::now;
use crate::launch::PackageCache;
use crate::report::{CrawlJson, CrawlPlanJson, CrawlServerJson, CrawlTargetJson, CrawlToolsJson, SCHEMA_VERSION};
use crate::sources::{config, registry, seed, Ecosystem, RemoteTransport, Target, TargetKind};
use crate::store::Db;

/// The targets the flags name, what could not be read, and the registry sync to record.
#[derive(Default)]
struct Plan {
    sources: Vec<String>,
    targets: Vec<Target>,
    problems: Vec<String>,
    /// `(registry base, newest updatedAt)`, saved once the crawl is stored.
    sync: Option<(String, String)>,
}

pub(super) fn run(args: CrawlArgs, io: &mut Io<'_>) -> Result<Status> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    // The database is only needed for incremental registry syncs before the crawl itself.
    let mut db = if args.dry_run { None } else { Some(open(&args.db)?) };
    let plan = runtime.block_on(gather(&args, db.as_ref()))?;
    if plan.targets.is_empty() {
        for p in &plan.problems {
            writeln!(io.err, "error: {p}")?;
        }
        if plan.problems.is_empty() {
            writeln!(io.out, "nothing to crawl: the sources named no servers")?;
            return Ok(Status::Success);
        }
        writeln!(io.err, "nothing to crawl: fix the sources above, or run `catalog crawl` for the seed list")?;
        return Ok(Status::Error);
    }
    if args.dry_run {
        print_plan(&plan, args.format, io)?;
        return Ok(Status::Success);
    }
    let Some(db) = db.as_mut() else { unreachable!("opened above unless --dry-run") };
    let rules = load_rules(args.rules.rules.as_deref())?;
    let cache = args
        .cache_dir
        .clone()
        .or_else(PackageCache::default_root)
        .context("no package cache location: pass --cache-dir DIR or set CATALOG_CACHE_DIR (HOME is not set)")?;
    let options = Options {
        http_concurrency: args.concurrency.max(1),
        launch_concurrency: args.launch_concurrency.max(1),
        timeout: Duration::from_secs(args.timeout.max(1)),
        no_sandbox: args.no_sandbox,
        allow_net: args.allow_net.clone(),
        bind_ro: args.bind_ro.clone(),
        allow_private: args.allow_private,
        force: args.force,
        cache,
        ..Options::default()
    };
    warn_about_launches(&args, &plan, io)?;
    let progress = Progress::new(!args.quiet && std::io::stderr().is_terminal());
    let label = plan.sources.join(", ");
    let report = runtime
        .block_on(crawl::crawl(db, &rules, plan.targets.clone(), &label, options, progress, now()))
        .with_context(|| format!("cannot write to the catalog {}", db.path().display()))?;
    if let Some((base, newest)) = &plan.sync {
        db.set_sync_state(base, newest, now()).context("cannot record the registry sync")?;
    }
    print_report(db, &plan, &report, args.format, io)?;
    if let Some(reason) = &report.sandbox_missing {
        writeln!(
            io.err,
            "error: {} server(s) were not launched: no working sandbox here ({reason}); install bubblewrap \
             (`sudo apt-get install bubblewrap`), or pass --no-sandbox to run them on this machine unsandboxed",
            report.not_sandboxed()
        )?;
    }
    if report.listed() == 0 {
        writeln!(io.err, "error: no server could be listed; the reasons are above")?;
        return Ok(Status::Error);
    }
    let failed = report.unlisted() > 0 || !plan.problems.is_empty();
    Ok(if args.fail_on_error && failed { Status::Failure } else { Status::Success })
}

/// Says, before anything is launched, what `--no-sandbox` gives up and which `--allow-net`
/// names match nothing.
fn warn_about_launches(args: &CrawlArgs, plan: &Plan, io: &mut Io<'_>) -> Result<()> {
    let launched =
        plan.targets.iter().filter(|t| matches!(t.kind, TargetKind::Package { .. } | TargetKind::Command { .. }));
    let launched: Vec<&Target> = launched.collect();
    if args.no_sandbox && !launched.is_empty() {
        writeln!(
            io.err,
            "warning: --no-sandbox: {} server(s) will run on this machine as you, with the network open and your \
             files readable and writable; only their environment is replaced and their resources limited",
            launched.len()
        )?;
    }
    for name in &args.allow_net {
        if !launched.iter().any(|t| t.server == *name || crawl::identity(t) == *name) {
            writeln!(io.err, "warning: --allow-net {name}: no launched server has that name; `--dry-run` lists them")?;
        }
    }
    Ok(())
}

/// Reads every source the flags name; with none, the seed list.
async fn gather(args: &CrawlArgs, db: Option<&Db>) -> Result<Plan> {
    let mut plan = Plan::default();
    if let Some(base) = &args.registry {
        let base_url = url::Url::parse(base).with_context(|| format!("--registry {base} is not a URL"))?;
        let updated_since = match (&args.updated_since, db, args.force) {
            (Some(t), _, _) => Some(t.clone()),
            (None, Some(db), false) => db.sync_state(base_url.as_str())?,
            _ => None,
        };
        let query = registry::RegistryQuery {
            base: base_url.clone(),
            updated_since: updated_since.clone(),
            search: args.search.clone(),
            max_servers: args.max_servers,
            ..registry::RegistryQuery::default()
        };
        let client = reqwest::Client::builder()
            .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        plan.sources.push(match &updated_since {
            Some(t) => format!("registry {base_url} (updated since {t})"),
            None => format!("registry {base_url}"),
        });
        match registry::fetch(&client, &query, |_| {}).await {
            Ok(listing) => {
                plan.problems.extend(listing.problems.iter().map(|p| format!("registry {p}")));
                if let Some(t) = &listing.truncated {
                    plan.problems.push(format!("registry paging stopped early: {t}"));
                }
                plan.targets.extend(listing.entries.iter().flat_map(registry::targets_of));
                plan.sync = listing.newest_updated_at.map(|t| (base_url.to_string(), t));
            }
            Err(e) => plan.problems.push(format!("{:#}", anyhow::Error::new(e))),
        }
    }
    for file in &args.from_file {
        plan.sources.push(format!("file {}", file.display()));
        let read = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))
            .and_then(|text| registry::read_saved(&text).with_context(|| format!("in {}", file.display())));
        match read {
            Ok(listing) => {
                plan.problems.extend(listing.problems.iter().map(|p| format!("{}: {p}", file.display())));
                let entries = listing.entries.iter().take(args.max_servers.unwrap_or(usize::MAX));
                plan.targets.extend(entries.flat_map(registry::targets_of));
            }
            Err(e) => plan.problems.push(format!("{e:#}")),
        }
    }
    let mut configs = args.config.clone();
    if args.discover {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        configs.extend(home.map(|h| config::discover(&h)).unwrap_or_default());
        if let Ok(cwd) = std::env::current_dir() {
            configs.extend(config::discover_project(&cwd));
        }
        if configs.is_empty() {
            plan.problems.push("--discover found no client config files".into());
        }
    }
    for path in &configs {
        plan.sources.push(format!("config {}", path.display()));
        match config::read_config(path) {
            Ok(targets) => plan.targets.extend(targets),
            Err(e) => plan.problems.push(e.to_string()),
        }
    }
    for spec in &args.npm {
        plan.sources.push(format!("npm {spec}"));
        match package_target(Ecosystem::Npm, spec) {
            Ok(t) => plan.targets.push(t),
            Err(e) => plan.problems.push(e),
        }
    }
    for spec in &args.pypi {
        plan.sources.push(format!("pypi {spec}"));
        match package_target(Ecosystem::Pypi, spec) {
            Ok(t) => plan.targets.push(t),
            Err(e) => plan.problems.push(e),
        }
    }
    for line in &args.stdio {
        plan.sources.push(format!("stdio {line}"));
        match shlex::split(line).filter(|w| !w.is_empty()) {
            Some(mut words) => {
                let program = words.remove(0);
                plan.targets.push(Target {
                    server: line.trim().to_string(),
                    version: None,
                    source: "cli".into(),
                    // `npx pkg` and `uvx pkg` are packages, installed and launched as such.
                    kind: config::command_kind(&program, &words, Vec::new()),
                });
            }
            None => plan.problems.push(format!("--stdio {line:?}: not a command (check the quotes)")),
        }
    }
    let headers = args.header.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>();
    for raw in &args.url {
        plan.sources.push(format!("url {raw}"));
        let headers = match &headers {
            Ok(h) => h.clone(),
            Err(e) => {
                plan.problems.push(e.clone());
                continue;
            }
        };
        match url::Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => plan.targets.push(Target {
                server: url.to_string(),
                version: None,
                source: "cli".into(),
                kind: TargetKind::Remote { url, transport: RemoteTransport::Auto, headers, from_registry: false },
            }),
            Ok(url) => plan.problems.push(format!("--url {url}: only http and https URLs can be crawled")),
            Err(e) => plan.problems.push(format!("--url {raw}: not a URL ({e})")),
        }
    }
    if plan.sources.is_empty() {
        plan.sources.push("seed list".into());
        plan.targets = seed::seed_targets().context("the bundled seed list is broken (a bug: please report it)")?;
    }
    plan.targets = crawl::choose(std::mem::take(&mut plan.targets));
    Ok(plan)
}

/// `name@1.2.3` (npm, scoped names too) or `name==1.2.3` (PyPI).
fn package_target(ecosystem: Ecosystem, spec: &str) -> Result<Target, String> {
    let spec = spec.trim();
    let (name, version) = match ecosystem {
        Ecosystem::Npm => match spec.rfind('@').filter(|&i| i > 0) {
            Some(i) => (&spec[..i], Some(&spec[i + 1..])),
            None => (spec, None),
        },
        Ecosystem::Pypi => match spec.split_once("==") {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        },
    };
    if name.is_empty() || version.is_some_and(str::is_empty) {
        return Err(format!("--{} {spec:?}: expected a package name with an optional version", ecosystem.as_str()));
    }
    Ok(Target {
        server: name.to_string(),
        version: version.map(str::to_string),
        source: "cli".into(),
        kind: TargetKind::Package {
            ecosystem,
            name: name.to_string(),
            version: version.map(str::to_string),
            args: Vec::new(),
            env: Vec::new(),
        },
    })
}

fn parse_header(h: &str) -> Result<(String, String), String> {
    match h.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("--header {h:?}: expected \"Name: value\"")),
    }
}

fn detail(t: &Target) -> String {
    match &t.kind {
        TargetKind::Remote { url, .. } => url.to_string(),
        TargetKind::Package { ecosystem, name, version, .. } => match version {
            Some(v) => format!("{}:{name}@{v}", ecosystem.as_str()),
            None => format!("{}:{name} (latest)", ecosystem.as_str()),
        },
        TargetKind::Command { program, args, .. } => {
            std::iter::once(program.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
        }
        TargetKind::NeedsConfig { reason } | TargetKind::Unsupported { reason } => reason.clone(),
    }
}

fn print_plan(plan: &Plan, format: Format, io: &mut Io<'_>) -> Result<()> {
    match format {
        Format::Json | Format::Jsonl => {
            let json = CrawlPlanJson {
                schema_version: SCHEMA_VERSION,
                sources: plan.sources.clone(),
                targets: plan
                    .targets
                    .iter()
                    .map(|t| CrawlTargetJson {
                        server: &t.server,
                        version: t.version.as_deref(),
                        source: &t.source,
                        target: t.kind.kind(),
                        detail: detail(t),
                    })
                    .collect(),
                source_problems: &plan.problems,
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            for t in &plan.targets {
                writeln!(io.out, "{:<12} {:<48} {}", t.kind.kind(), t.server, detail(t))?;
            }
            writeln!(io.out, "{} server(s) would be crawled (dry run: nothing was contacted)", plan.targets.len())?;
            for p in &plan.problems {
                writeln!(io.err, "warning: {p}")?;
            }
        }
    }
    Ok(())
}

fn print_report(db: &Db, plan: &Plan, report: &crawl::Report, format: Format, io: &mut Io<'_>) -> Result<()> {
    let (total, added, changed, removed) = report.tools();
    match format {
        Format::Json | Format::Jsonl => {
            let json = CrawlJson {
                schema_version: SCHEMA_VERSION,
                database: db.path().display().to_string(),
                run: report.run,
                sources: plan.sources.clone(),
                servers_listed: report.servers.len(),
                outcomes: report.outcomes(),
                failed_by_reason: report.failures(),
                tools: CrawlToolsJson { total, added, changed, removed },
                seconds: report.millis as f64 / 1000.0,
                servers: report
                    .servers
                    .iter()
                    .map(|s| CrawlServerJson {
                        server: &s.server,
                        version: s.version.as_deref(),
                        source: &s.source,
                        target: s.target,
                        outcome: s.outcome,
                        reason: s.reason.as_deref(),
                        error: s.error.as_deref(),
                        transport: s.transport,
                        tools: s.tools,
                        added: s.added,
                        changed: s.changed,
                        removed: s.removed,
                        problems: &s.problems,
                        placeholders: &s.placeholders,
                        launch: s.launch.as_ref().map(crate::report::LaunchJson::from),
                        seconds: s.millis as f64 / 1000.0,
                    })
                    .collect(),
                source_problems: &plan.problems,
                index_error: report.index_error.as_deref(),
                sandbox_missing: report.sandbox_missing.as_deref(),
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            // Servers refused for want of a sandbox are said once, after the table.
            for s in report.servers.iter().filter(|s| s.reason.as_deref() != Some("no_sandbox")) {
                let what = match s.outcome {
                    "ok" | "partial" => {
                        format!("{:>4} tools  +{} ~{} -{}", s.tools, s.added, s.changed, s.removed)
                    }
                    _ => {
                        let reason = s.reason.as_deref().unwrap_or_default();
                        let error = s.error.as_deref().unwrap_or_default().lines().next().unwrap_or_default();
                        format!("{reason}: {}", error.chars().take(120).collect::<String>())
                    }
                };
                writeln!(io.out, "{:<13} {:<48} {what}", s.outcome, s.server)?;
            }
            let outcomes = report.outcomes();
            let counts: Vec<String> = outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
            writeln!(
                io.out,
                "\n{} server(s) in {:.1} s: {}",
                report.servers.len(),
                report.millis as f64 / 1000.0,
                counts.join(", ")
            )?;
            let failures = report.failures();
            if !failures.is_empty() {
                let by: Vec<String> = failures.iter().map(|(k, v)| format!("{k} {v}")).collect();
                writeln!(io.out, "failed by reason: {}", by.join(", "))?;
            }
            writeln!(io.out, "tools: {total} listed, {added} added, {changed} changed, {removed} removed")?;
            writeln!(io.out, "catalog: {} (run {})", db.path().display(), report.run)?;
            for p in &plan.problems {
                writeln!(io.err, "warning: {p}")?;
            }
            if let Some(e) = &report.index_error {
                writeln!(io.err, "warning: the search index was not updated ({e}); it is rebuilt on the next search")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs_split_name_and_version() {
        let t = package_target(Ecosystem::Npm, "@scope/pkg@1.2.3").unwrap();
        assert_eq!((t.server.as_str(), t.version.as_deref()), ("@scope/pkg", Some("1.2.3")));
        let t = package_target(Ecosystem::Npm, "@scope/pkg").unwrap();
        assert_eq!(t.version, None);
        let t = package_target(Ecosystem::Pypi, "mcp-server-time==2025.1.1").unwrap();
        assert_eq!((t.server.as_str(), t.version.as_deref()), ("mcp-server-time", Some("2025.1.1")));
        assert!(package_target(Ecosystem::Pypi, "x==").is_err());
        assert!(parse_header("Authorization: Bearer x").is_ok());
        assert!(parse_header("nocolon").is_err());
    }
}
