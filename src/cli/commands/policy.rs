//! `catalog policy` (one server, one tool, or `--check FILE`) and `catalog export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::load_rules;
use crate::cli::args::{DbOption, ExportArgs, PolicyArgs, PolicyFormat};
use crate::cli::{Io, Status};
use crate::model::ToolInput;
use crate::policy::export::{server_policy_from_rows, MANIFEST};
use crate::policy::formats::Target;
use crate::policy::{self, Action, Overrides, PolicyTable, Provenance, ServerPolicy, ToolFacts};
use crate::report::{
    CheckProblemJson, ExportFileJson, ExportJson, OverrideJson, PolicyCheckJson, ServerPolicyJson, ToolPolicyJson,
    SCHEMA_VERSION,
};
use crate::store::{default_path, Db};

fn db_path(opt: &DbOption) -> Result<PathBuf> {
    opt.db
        .clone()
        .or_else(default_path)
        .context("no catalog location: pass --db PATH or set CATALOG_DB (HOME is not set)")
}

fn open(opt: &DbOption) -> Result<Db> {
    Db::open(&db_path(opt)?).map_err(anyhow::Error::new)
}

/// `--rules DIR`'s policy.toml, or the built-in table.
fn load_table(dir: Option<&Path>) -> Result<PolicyTable> {
    match dir {
        Some(dir) => policy::load_dir(dir)
            .map_err(|p| anyhow::Error::new(p).context(format!("cannot load the policy table in {}", dir.display()))),
        None => policy::load_default().map_err(|p| {
            anyhow::Error::new(p).context("the built-in policy table is broken (a bug: please report it)")
        }),
    }
}

/// The overrides file, or none. `Ok(None)` after printing the problems means: unusable input.
fn load_overrides(path: Option<&Path>, io: &mut Io<'_>) -> Result<Option<Overrides>> {
    let Some(path) = path else { return Ok(Some(Overrides::default())) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the overrides {}", path.display()))?;
    match Overrides::parse(&text) {
        Ok(o) => Ok(Some(o)),
        Err(problems) => {
            writeln!(io.err, "error: {} problem(s) in the overrides {}", problems.0.len(), path.display())?;
            for (field, message) in &problems.0 {
                writeln!(io.err, "  {field}: {message}")?;
            }
            writeln!(io.err, "fix them (every override needs server, tool, action and reason) and run again")?;
            Ok(None)
        }
    }
}

fn warn_unmatched(io: &mut Io<'_>, unmatched: &[&policy::Override]) -> Result<()> {
    for o in unmatched {
        writeln!(io.err, "warning: override matched no tool: {o}; check the server and tool names")?;
    }
    Ok(())
}

/// Writes `text` to `--out FILE` or stdout.
fn emit(io: &mut Io<'_>, out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(io.err, "wrote {}", path.display())?;
        }
        None => io.out.write_all(text.as_bytes())?,
    }
    Ok(())
}

fn target(format: PolicyFormat) -> Option<Target> {
    match format {
        PolicyFormat::Policylayer => Some(Target::PolicyLayer),
        PolicyFormat::ClaudeCode => Some(Target::ClaudeCode),
        PolicyFormat::Intercept => Some(Target::Intercept),
        PolicyFormat::Codex => Some(Target::Codex),
        PolicyFormat::Json | PolicyFormat::Table => None,
    }
}

fn pretty<T: serde::Serialize>(v: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s)
}

fn table_text(p: &ServerPolicy) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "{} ({})  policy table {}", p.server, p.identity, p.provenance.policy_version);
    let _ = writeln!(
        o,
        "{:<8} {:<11} {:<9} {:<8} {:>4}  {:<40} RULE",
        "ACTION", "LIMIT", "CATEGORY", "RISK", "CONF", "TOOL"
    );
    for t in &p.tools {
        let limit = t.limit.map(|l| format!("{}/{}", l.max, l.window.as_str())).unwrap_or_default();
        let name: String = t.tool.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
        let _ = writeln!(
            o,
            "{:<8} {:<11} {:<9} {:<8} {:>4.2}  {:<40} {}",
            t.action.as_str(),
            limit,
            t.category.as_str(),
            t.risk.as_str(),
            t.confidence,
            name,
            t.rule_id()
        );
        let _ = writeln!(o, "         {}", policy::formats::one_line(&t.why()));
        for a in t.effective_args() {
            let _ = writeln!(o, "         args.{}: {} ({})", a.param, a.kind.as_str(), a.id);
        }
    }
    if let Some(l) = p.all_tools_limit {
        let _ = writeln!(o, "all tools together: at most {}/{}", l.max, l.window.as_str());
    }
    o
}

/// Renders a policy in any format; `unmatched` goes into the JSON report.
fn render(
    p: &ServerPolicy,
    format: PolicyFormat,
    client_name: Option<&str>,
    unmatched: &[&policy::Override],
) -> Result<String> {
    Ok(match (target(format), format) {
        (Some(t), _) => t.render(p, client_name),
        (None, PolicyFormat::Json) => {
            pretty(&ServerPolicyJson::new(p, unmatched.iter().map(|o| OverrideJson::new(o)).collect()))?
        }
        _ => table_text(p),
    })
}

pub(super) fn run(args: PolicyArgs, io: &mut Io<'_>) -> Result<Status> {
    if let Some(file) = &args.check {
        return check(file, args.format, io);
    }
    let table = load_table(args.rules.rules.as_deref())?;
    let Some(mut overrides) = load_overrides(args.overrides.as_deref(), io)? else { return Ok(Status::Error) };
    if let Some(tool) = &args.tool {
        return tool_page(&args, tool, &table, &mut overrides, io);
    }
    let server = args.server.as_deref().expect("clap requires a server, --tool or --check");
    let db = open(&args.db)?;
    let Some((row, tools)) = db.policy_server(server).context("cannot read the catalog")? else {
        writeln!(
            io.err,
            "error: no server `{server}` in {}; `catalog stats` says what is there, `catalog search` finds tools",
            db.path().display()
        )?;
        return Ok(Status::Error);
    };
    if tools.is_empty() {
        writeln!(io.err, "warning: `{server}` has no current tools; its policy denies everything")?;
    }
    let mut p = server_policy_from_rows(&table, &row, &tools);
    overrides.apply(&mut p, table.default_limit);
    let unmatched = overrides.unmatched(Some(&p));
    warn_unmatched(io, &unmatched)?;
    let text = render(&p, args.format.unwrap_or(PolicyFormat::Policylayer), args.client_name.as_deref(), &unmatched)?;
    emit(io, args.out.as_deref(), &text)?;
    Ok(Status::Success)
}

/// One tool's rule: from the catalog (`--server`, or the only server that has it), else
/// classified by its name like `catalog classify NAME`.
fn tool_page(
    args: &PolicyArgs,
    tool: &str,
    table: &PolicyTable,
    overrides: &mut Overrides,
    io: &mut Io<'_>,
) -> Result<Status> {
    let server = match &args.tool_server {
        Some(s) => Some(s.clone()),
        None => {
            // Look in the catalog only when there is one: a tool page must not create a database.
            let path = db_path(&args.db).ok().filter(|p| p.exists());
            match path {
                None => None,
                Some(path) => {
                    let db = Db::open(&path).map_err(anyhow::Error::new)?;
                    let found = db.servers_with_tool(tool).context("cannot read the catalog")?;
                    match found.len() {
                        0 => None,
                        1 => Some(found[0].1.clone()),
                        _ => {
                            let names: Vec<String> = found.iter().map(|(n, i)| format!("{n} ({i})")).collect();
                            writeln!(
                                io.err,
                                "error: {} servers have a tool `{tool}`: {}; pass --server SERVER",
                                found.len(),
                                names.join(", ")
                            )?;
                            return Ok(Status::Error);
                        }
                    }
                }
            }
        }
    };
    let mut p = match server {
        Some(server) => {
            let db = open(&args.db)?;
            let Some((row, tools)) = db.policy_server(&server).context("cannot read the catalog")? else {
                writeln!(io.err, "error: no server `{server}` in {}", db.path().display())?;
                return Ok(Status::Error);
            };
            let rows: Vec<_> = tools.into_iter().filter(|t| t.name == tool).collect();
            if rows.is_empty() {
                writeln!(io.err, "error: no tool `{tool}` on `{server}`; `catalog show {server}` lists its tools")?;
                return Ok(Status::Error);
            }
            server_policy_from_rows(table, &row, &rows)
        }
        None => {
            let rules = load_rules(args.rules.rules.as_deref())?;
            let input = ToolInput { name: tool.to_string(), ..ToolInput::default() };
            let v = rules.classify(&input);
            let mut tags: Vec<String> = v.tags.iter().map(|t| t.to_string()).collect();
            tags.sort();
            let facts = ToolFacts {
                name: tool.to_string(),
                category: v.category,
                risk: v.risk,
                confidence: v.confidence,
                tags,
                params: Vec::new(),
                open_params: false,
            };
            let provenance = Provenance {
                catalog_version: env!("CARGO_PKG_VERSION").to_string(),
                rules_versions: vec![rules.version().to_string()],
                policy_version: table.version.clone(),
            };
            writeln!(io.err, "note: `{tool}` is not in the catalog; classified by its name alone")?;
            table.server_policy(args.tool_server.as_deref().unwrap_or("unknown"), "", &[facts], provenance)
        }
    };
    overrides.apply(&mut p, table.default_limit);
    let format = args.format.unwrap_or(PolicyFormat::Table);
    let text = match format {
        PolicyFormat::Json => pretty(&ToolPolicyJson::new(&p.tools[0]))?,
        PolicyFormat::Table => {
            let t = &p.tools[0];
            let mut s = if p.identity.is_empty() {
                format!("{} (not in the catalog: classified by its name alone)\n", t.tool)
            } else {
                format!("{} on {}\n", t.tool, p.server)
            };
            s.push_str(&format!("  action      {}", t.action));
            if let Some(l) = t.limit {
                s.push_str(&format!(" (at most {} per {})", l.max, l.window.as_str()));
            }
            s.push('\n');
            s.push_str(&format!("  rule        {}\n", t.rule_id()));
            s.push_str(&format!("  why         {}\n", policy::formats::one_line(&t.why())));
            s.push_str(&format!(
                "  verdict     {} / {} / confidence {:.2}\n",
                t.category.as_str(),
                t.risk.as_str(),
                t.confidence
            ));
            for a in t.effective_args() {
                s.push_str(&format!("  args.{:<6} {} ({}): {}\n", a.param, a.kind.as_str(), a.id, a.on_deny));
            }
            s
        }
        other => render(&p, other, args.client_name.as_deref(), &[])?,
    };
    emit(io, args.out.as_deref(), &text)?;
    Ok(Status::Success)
}

fn check(file: &Path, format: Option<PolicyFormat>, io: &mut Io<'_>) -> Result<Status> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            writeln!(io.err, "error: cannot read {} ({e}); pass a policy.json file", file.display())?;
            return Ok(Status::Error);
        }
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            writeln!(io.err, "error: {} is not JSON ({e}); a PolicyLayer policy is one JSON object", file.display())?;
            return Ok(Status::Error);
        }
    };
    let problems = policy::check::check_policylayer(&doc);
    match format.unwrap_or(PolicyFormat::Table) {
        PolicyFormat::Json => {
            let json = PolicyCheckJson {
                schema_version: SCHEMA_VERSION,
                file: file.display().to_string(),
                valid: problems.is_empty(),
                problems: problems.iter().map(|p| CheckProblemJson { path: &p.path, message: &p.message }).collect(),
            };
            io.out.write_all(pretty(&json)?.as_bytes())?;
        }
        PolicyFormat::Table => {
            for p in &problems {
                writeln!(io.out, "{}: {}", p.path, policy::formats::one_line(&p.message))?;
            }
            if problems.is_empty() {
                writeln!(io.out, "{}: a valid PolicyLayer policy (version 1)", file.display())?;
            } else {
                writeln!(io.out, "{}: {} problem(s)", file.display(), problems.len())?;
            }
        }
        other => {
            writeln!(io.err, "error: --check prints `table` or `json`, not {other:?}; drop --format or pass -f json")?;
            return Ok(Status::Error);
        }
    }
    Ok(if problems.is_empty() { Status::Success } else { Status::Failure })
}

pub(super) fn export(args: ExportArgs, io: &mut Io<'_>) -> Result<Status> {
    let table = load_table(args.rules.rules.as_deref())?;
    let Some(mut overrides) = load_overrides(args.overrides.as_deref(), io)? else { return Ok(Status::Error) };
    let db = open(&args.db)?;
    if args.format == PolicyFormat::Table {
        writeln!(io.err, "error: export writes files: pick policylayer, claude-code, intercept, codex or json")?;
        return Ok(Status::Error);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the directory {}", args.out.display()))?;
    let generation = db.generation().context("cannot read the catalog")?;
    let (suffix, format_name) = match target(args.format) {
        Some(t) => (t.suffix(), t.as_str()),
        None => (".policy-report.json", "json"),
    };
    let format = args.format;
    let mut render_one = |p: &ServerPolicy| render(p, format, None, &[]).unwrap_or_default();
    let report = policy::export::export(&db, &table, &mut overrides, suffix, &mut render_one, &args.out)
        .with_context(|| format!("cannot export into {}", args.out.display()))?;
    let unmatched = overrides.unmatched(None);
    warn_unmatched(io, &unmatched)?;
    let tools: usize = report.files.iter().map(|f| f.tools).sum();
    let manifest = ExportJson {
        schema_version: SCHEMA_VERSION,
        format: format_name,
        catalog_version: env!("CARGO_PKG_VERSION"),
        catalog_generation: generation,
        policy_version: &table.version,
        servers: report.files.len(),
        tools,
        files: report
            .files
            .iter()
            .map(|f| ExportFileJson {
                server: &f.server,
                identity: &f.identity,
                file: &f.file,
                tools: f.tools,
                actions: Action::ALL.iter().map(|a| (a.as_str(), f.actions[*a as usize])).collect(),
                overridden: f.overridden,
                rules_versions: &f.rules_versions,
            })
            .collect(),
        skipped: &report.skipped,
        unmatched_overrides: unmatched.iter().map(|o| OverrideJson::new(o)).collect(),
    };
    let path = args.out.join(MANIFEST);
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        io.out,
        "wrote {} {format_name} policies ({} tools) and {MANIFEST} to {}",
        report.files.len(),
        tools,
        args.out.display()
    )?;
    if !report.skipped.is_empty() {
        writeln!(
            io.err,
            "note: {} server(s) without current tools have no file (listed in {MANIFEST})",
            report.skipped.len()
        )?;
    }
    Ok(Status::Success)
}
