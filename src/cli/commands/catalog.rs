//! `catalog import`, `catalog show`, `catalog stats`: the SQLite catalog.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::load_rules;
use crate::cli::args::{DbOption, Format, ImportArgs, ReclassifyArgs, SearchArgs, ShowArgs, StatsArgs};
use crate::cli::{printer, Io, Status};
use crate::ingest;
use crate::report::{
    FailedServerJson, FileProblemJson, HitJson, ImportJson, ImportServerJson, LaunchJson, RunJson, SearchJson,
    ServerJson, ServerToolJson, SourceJson, StatsJson, StoredToolJson, VersionJson, SCHEMA_VERSION,
};
use crate::store::{default_path, Db, SearchIndex, SearchQuery};

pub(super) fn db_path(opt: &DbOption) -> Result<PathBuf> {
    opt.db
        .clone()
        .or_else(default_path)
        .context("no catalog location: pass --db PATH or set CATALOG_DB (HOME is not set)")
}

pub(super) fn open(opt: &DbOption) -> Result<Db> {
    let path = db_path(opt)?;
    Db::open(&path).map_err(anyhow::Error::new)
}

pub(super) fn import(args: ImportArgs, io: &mut Io<'_>) -> Result<Status> {
    let rules = load_rules(args.rules.rules.as_deref())?;
    let mut db = open(&args.db)?;
    let mut files = Vec::new();
    for p in &args.paths {
        files.extend(ingest::files_of(p).with_context(|| format!("cannot read the directory {}", p.display()))?);
    }
    let report = ingest::import(&mut db, &rules, &files, args.server.as_deref(), crate::dates::now())
        .with_context(|| format!("cannot write to the catalog {}", db.path().display()))?;
    match args.format {
        Format::Json | Format::Jsonl => {
            let json = ImportJson {
                schema_version: SCHEMA_VERSION,
                database: db.path().display().to_string(),
                files: report.files,
                tools: report.tools(),
                servers: report
                    .servers
                    .iter()
                    .map(|s| ImportServerJson {
                        server: &s.server,
                        tools: s.tools,
                        added: s.changes.added,
                        changed: s.changes.changed,
                        removed: s.changes.removed,
                        unchanged: s.changes.unchanged,
                        duplicate_names: &s.duplicates,
                    })
                    .collect(),
                problems: report
                    .problems
                    .iter()
                    .map(|(f, p)| FileProblemJson { file: f, location: &p.location, message: &p.message })
                    .collect(),
                failed: report.failed.iter().map(|(s, e)| FailedServerJson { server: s, error: e }).collect(),
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            for s in &report.servers {
                writeln!(
                    io.out,
                    "{:<40} {:>5} tools  +{} ~{} -{} ={}",
                    s.server, s.tools, s.changes.added, s.changes.changed, s.changes.removed, s.changes.unchanged
                )?;
            }
            writeln!(
                io.out,
                "{} tools from {} file(s) into {} server(s) in {}",
                report.tools(),
                report.files,
                report.servers.len(),
                db.path().display()
            )?;
        }
    }
    for (file, p) in &report.problems {
        writeln!(io.err, "warning: {file}: {p}")?;
    }
    for s in &report.servers {
        if !s.duplicates.is_empty() {
            writeln!(io.err, "warning: {}: duplicate tool names, all kept: {}", s.server, s.duplicates.join(", "))?;
        }
    }
    if let Some(e) = &report.index_error {
        writeln!(io.err, "warning: the search index was not updated ({e}); it is rebuilt on the next search")?;
    }
    for (server, e) in &report.failed {
        writeln!(io.err, "error: {server}: not stored ({e}); its earlier state is intact")?;
    }
    if report.tools() == 0 {
        writeln!(io.err, "error: no usable tools were read; nothing was stored")?;
        return Ok(Status::Error);
    }
    Ok(if report.failed.is_empty() { Status::Success } else { Status::Error })
}

pub(super) fn stats(args: StatsArgs, io: &mut Io<'_>) -> Result<Status> {
    let db = open(&args.db)?;
    let s = db.stats().context("cannot read the catalog")?;
    let coverage =
        if s.tools > 0 { (s.annotated_tools as f64 / s.tools as f64 * 10_000.0).round() / 10_000.0 } else { 0.0 };
    match args.format {
        Format::Json | Format::Jsonl => {
            let json = StatsJson {
                schema_version: SCHEMA_VERSION,
                database: db.path().display().to_string(),
                servers: s.servers,
                tools: s.tools,
                removed_tools: s.removed_tools,
                annotated_tools: s.annotated_tools,
                annotation_coverage: coverage,
                by_category: s.by_category.iter().cloned().collect(),
                by_risk: s.by_risk.iter().cloned().collect(),
                runs: s.runs,
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            writeln!(io.out, "database     {}", db.path().display())?;
            writeln!(io.out, "servers      {}", s.servers)?;
            writeln!(io.out, "tools        {} ({} removed since)", s.tools, s.removed_tools)?;
            writeln!(io.out, "annotated    {} ({:.1}%)", s.annotated_tools, coverage * 100.0)?;
            let fmt = |v: &[(String, i64)]| v.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
            writeln!(io.out, "by category  {}", fmt(&s.by_category))?;
            writeln!(io.out, "by risk      {}", fmt(&s.by_risk))?;
            writeln!(io.out, "runs         {}", s.runs)?;
        }
    }
    Ok(Status::Success)
}

pub(super) fn show(args: ShowArgs, io: &mut Io<'_>) -> Result<Status> {
    let db = open(&args.db)?;
    if let Some(tool) = &args.tool {
        let Some(view) = db.tool_view(&args.server, tool).context("cannot read the catalog")? else {
            writeln!(
                io.err,
                "error: no tool `{tool}` on a server `{}`; `catalog show {}` lists its tools",
                args.server, args.server
            )?;
            return Ok(Status::Error);
        };
        let verdict: serde_json::Value = serde_json::from_str(&view.verdict_json).unwrap_or_default();
        let definition: serde_json::Value = serde_json::from_str(&view.raw_json).unwrap_or_default();
        match args.format {
            Format::Json | Format::Jsonl => {
                let json = StoredToolJson {
                    schema_version: SCHEMA_VERSION,
                    rules_version: view.rules_version.clone(),
                    verdict,
                    definition,
                    first_seen: view.first_seen,
                    last_seen: view.last_seen,
                    removed_at: view.removed_at,
                    versions: view
                        .versions
                        .iter()
                        .map(|(h, f, l)| VersionJson { def_hash: h.clone(), first_seen: *f, last_seen: *l })
                        .collect(),
                };
                serde_json::to_writer_pretty(&mut *io.out, &json)?;
                writeln!(io.out)?;
            }
            Format::Table => {
                let field = |k: &str| verdict.get(k).map(|v| v.to_string()).unwrap_or_default();
                writeln!(io.out, "{tool} (server {})", args.server)?;
                for k in ["category", "risk", "confidence", "hints", "tags", "summary"] {
                    writeln!(io.out, "  {k:<11} {}", field(k))?;
                }
                writeln!(io.out, "  rules       {}", view.rules_version)?;
                if let Some(at) = view.removed_at {
                    writeln!(io.out, "  removed     {}", printer::date(at))?;
                }
                writeln!(io.out, "  versions    {} distinct definition(s)", view.versions.len())?;
                for (h, first, last) in &view.versions {
                    let (first, last) = (printer::date(*first), printer::date(*last));
                    writeln!(io.out, "    {} seen {first} to {last}", &h[..16.min(h.len())])?;
                }
                writeln!(io.out, "  definition  {}", serde_json::to_string_pretty(&definition).unwrap_or_default())?;
            }
        }
        return Ok(Status::Success);
    }
    let Some(view) = db.server_view(&args.server).context("cannot read the catalog")? else {
        writeln!(
            io.err,
            "error: no server `{}` in {}; `catalog stats` says what is there",
            args.server,
            db.path().display()
        )?;
        return Ok(Status::Error);
    };
    match args.format {
        Format::Json | Format::Jsonl => {
            let json = ServerJson {
                schema_version: SCHEMA_VERSION,
                identity: &view.identity,
                name: &view.name,
                first_seen: view.first_seen,
                last_seen: view.last_seen,
                tools: view
                    .tools
                    .iter()
                    .map(|t| ServerToolJson {
                        name: &t.name,
                        category: &t.category,
                        risk: &t.risk,
                        confidence: t.confidence,
                        tags: t.tags.split_whitespace().collect(),
                        removed: t.removed,
                    })
                    .collect(),
                sources: view
                    .sources
                    .iter()
                    .map(|(k, l, f, s)| SourceJson { kind: k, location: l, first_seen: *f, last_seen: *s })
                    .collect(),
                history: view
                    .history
                    .iter()
                    .map(|r| RunJson {
                        kind: &r.kind,
                        source: &r.source,
                        started_at: r.started_at,
                        outcome: &r.outcome,
                        added: r.added,
                        changed: r.changed,
                        removed: r.removed,
                        error: r.error.as_deref(),
                        detail: r.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            writeln!(io.out, "{} ({})", view.name, view.identity)?;
            writeln!(io.out, "{:<9} {:<9} {:>4}  {:<40} TAGS", "RISK", "CATEGORY", "CONF", "TOOL")?;
            for t in &view.tools {
                let name = if t.removed { format!("{} (removed)", t.name) } else { t.name.clone() };
                let name: String = name.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
                writeln!(io.out, "{:<9} {:<9} {:>4.2}  {:<40} {}", t.risk, t.category, t.confidence, name, t.tags)?;
            }
            writeln!(io.out, "sources")?;
            for (kind, location, _, _) in &view.sources {
                writeln!(io.out, "  {kind:<8} {location}")?;
            }
            writeln!(io.out, "history")?;
            for r in &view.history {
                let at = printer::date(r.started_at);
                writeln!(io.out, "  {at} {} {} +{} ~{} -{}", r.kind, r.outcome, r.added, r.changed, r.removed)?;
                let detail = r.detail.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
                let launch = detail.and_then(|d| serde_json::from_value::<LaunchJson>(d.get("launch")?.clone()).ok());
                if let Some(launch) = launch {
                    writeln!(io.out, "    launched in {}", launch.summary())?;
                }
            }
        }
    }
    Ok(Status::Success)
}

pub(super) fn search(args: SearchArgs, io: &mut Io<'_>) -> Result<Status> {
    let db = open(&args.db)?;
    let index = SearchIndex::open(&db)?;
    if index.ensure_fresh(&db)? {
        writeln!(io.err, "note: the search index was stale or missing; rebuilt it from the catalog")?;
    }
    let query = SearchQuery {
        text: args.query.clone(),
        category: args.category.map(|c| c.as_str().to_string()),
        risk: args.risk,
        min_risk: args.min_risk,
        server: args.server.clone(),
        tag: args.tag.clone(),
        limit: args.limit,
    };
    let hits = index.search(&query)?;
    match args.format {
        Format::Json | Format::Jsonl => {
            let json = SearchJson {
                schema_version: SCHEMA_VERSION,
                query: &args.query,
                hits: hits
                    .iter()
                    .map(|h| HitJson {
                        server: &h.server,
                        name: &h.name,
                        category: &h.category,
                        risk: &h.risk,
                        confidence: h.confidence,
                        tags: &h.tags,
                        score: h.score,
                        snippet: &h.snippet,
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut *io.out, &json)?;
            writeln!(io.out)?;
        }
        Format::Table => {
            let color = io.out_is_terminal && std::env::var_os("NO_COLOR").is_none();
            let (on, off) = if color { ("\x1b[1;33m", "\x1b[0m") } else { ("", "") };
            for h in &hits {
                let name: String = h.name.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
                let mut shown = name.clone();
                for w in &h.name_matches {
                    if let Some(at) = shown.to_lowercase().find(w.as_str()) {
                        if shown.is_char_boundary(at) && shown.is_char_boundary(at + w.len()) {
                            shown = format!(
                                "{}{on}{}{off}{}",
                                &shown[..at],
                                &shown[at..at + w.len()],
                                &shown[at + w.len()..]
                            );
                        }
                    }
                }
                writeln!(io.out, "{:<9} {:<9} {}/{}", h.risk, h.category, h.server, shown)?;
                if !h.snippet.is_empty() {
                    let snippet: String = h.snippet.chars().filter(|c| !c.is_control()).collect();
                    writeln!(io.out, "          {}", snippet.replace("[[", on).replace("]]", off))?;
                }
            }
            if hits.is_empty() {
                writeln!(io.out, "no tools match")?;
            }
        }
    }
    Ok(Status::Success)
}

pub(super) fn reindex(args: StatsArgs, io: &mut Io<'_>) -> Result<Status> {
    let db = open(&args.db)?;
    let count = SearchIndex::open(&db)?.rebuild(&db)?;
    writeln!(io.out, "indexed {count} tools from {}", db.path().display())?;
    Ok(Status::Success)
}

pub(super) fn reclassify(args: ReclassifyArgs, io: &mut Io<'_>) -> Result<Status> {
    let rules = load_rules(args.rules.rules.as_deref())?;
    let mut db = open(&args.db)?;
    let count = ingest::reclassify(&mut db, &rules)?;
    writeln!(io.out, "classified {count} tools again with rules {}", rules.version())?;
    Ok(Status::Success)
}
