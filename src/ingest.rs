//! `catalog import`: saved tool lists → classified tools in the catalog.
//!
//! Reads files (a tools/list result, a JSON array, JSONL records; a directory means every
//! `*.json` and `*.jsonl` in it), groups the tools by server, classifies each server's tools with
//! its siblings, and stores each server in one transaction. Bad records are reported by file and
//! location and the good ones are stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::classify::{classify_listing, RuleSet};
use crate::input::{self, InputProblem};
use crate::model::ToolInput;
use crate::report::ToolVerdict;
use crate::store::{Changes, Db, IndexError, SearchIndex, ServerRecord, ToolRecord};

/// One server's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOutcome {
    pub server: String,
    pub tools: usize,
    pub changes: Changes,
    /// Names that appear more than once in the listing (all copies are kept).
    pub duplicates: Vec<String>,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub files: usize,
    pub servers: Vec<ServerOutcome>,
    /// `(file, problem)`: records or files that could not be used.
    pub problems: Vec<(String, InputProblem)>,
    /// Servers whose transaction failed, with the error; their earlier state is intact.
    pub failed: Vec<(String, String)>,
    /// Why the search index could not be updated (it is rebuilt on the next search).
    pub index_error: Option<String>,
}

impl ImportReport {
    pub fn tools(&self) -> usize {
        self.servers.iter().map(|s| s.tools).sum()
    }
}

/// The files an argument names: the file itself, or a directory's `*.json` and `*.jsonl`, sorted.
pub fn files_of(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Imports `files`. `server` names the server for records that do not say; otherwise a file's
/// records without a `server` belong to a server named after the file.
pub fn import(
    db: &mut Db,
    rules: &RuleSet,
    files: &[PathBuf],
    server: Option<&str>,
    now: i64,
) -> rusqlite::Result<ImportReport> {
    let source = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let run = db.begin_run("import", &source, rules.version(), now)?;
    let before = db.generation()?;
    let mut report = ImportReport::default();
    for file in files {
        report.files += 1;
        let location = file.display().to_string();
        let text = match std::fs::read(file).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                let message = format!("not UTF-8 text (first bad byte at offset {})", e.utf8_error().valid_up_to());
                report.problems.push((location, InputProblem { location: "file".into(), message }));
                continue;
            }
            Err(e) => {
                let message = format!("cannot read: {e}");
                report.problems.push((location, InputProblem { location: "file".into(), message }));
                continue;
            }
        };
        let fallback = server.map(str::to_string).unwrap_or_else(|| file_server_name(file));
        let split = input::split(&text);
        // server → its tools (raw text, parsed tool), in input order.
        let mut groups: BTreeMap<String, Vec<(&str, ToolInput)>> = BTreeMap::new();
        for item in &split.items {
            match input::parse_item(item) {
                Ok(tool) => {
                    let name =
                        server.map(str::to_string).or_else(|| tool.server.clone()).unwrap_or_else(|| fallback.clone());
                    groups.entry(name).or_default().push((item.raw, tool));
                }
                Err(problem) => report.problems.push((location.clone(), problem)),
            }
        }
        report.problems.extend(split.problems.into_iter().map(|p| (location.clone(), p)));
        for (server_name, tools) in groups {
            let record = ServerRecord {
                identity: &server_name,
                name: &server_name,
                source_kind: "import",
                source_location: &location,
                version: None,
                listing: None,
            };
            match store_tools(db, rules, run, &record, &tools, now) {
                Ok(outcome) => report.servers.push(outcome),
                Err(e) => report.failed.push((server_name.clone(), e.to_string())),
            }
        }
    }
    db.finish_run(run, now)?;
    let ids: Vec<i64> = report.servers.iter().map(|s| s.changes.server_id).collect();
    let indexed = SearchIndex::open(db).and_then(|index| index.update_servers(db, &ids, before));
    if let Err(e) = indexed {
        report.index_error = Some(error_chain(&e));
    }
    Ok(report)
}

/// Classifies one server's tools, each with the others as its siblings, and stores the listing
/// in one transaction. `tools` holds each tool's raw definition beside its parsed form.
pub fn store_tools(
    db: &mut Db,
    rules: &RuleSet,
    run: i64,
    record: &ServerRecord<'_>,
    tools: &[(&str, ToolInput)],
    now: i64,
) -> rusqlite::Result<ServerOutcome> {
    let names: Vec<&str> = tools.iter().map(|(_, t)| t.name.as_str()).collect();
    let verdicts = classify_listing(rules, tools.iter().map(|(_, t)| t));
    let jsons: Vec<String> = tools
        .iter()
        .zip(&verdicts)
        .map(|((_, t), v)| serde_json::to_string(&ToolVerdict::new(t, v, None, false)).unwrap_or_default())
        .collect();
    let records: Vec<ToolRecord<'_>> = tools
        .iter()
        .zip(&verdicts)
        .zip(&jsons)
        .map(|(((raw, t), v), j)| ToolRecord {
            name: &t.name,
            raw_json: raw,
            verdict: v,
            annotated: t.annotations.is_some(),
            verdict_json: j,
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *counts.entry(n).or_default() += 1;
    }
    let duplicates = counts.into_iter().filter(|(_, c)| *c > 1).map(|(n, _)| n.to_string()).collect();
    let changes = db.store_server(run, record, &records, now)?;
    Ok(ServerOutcome { server: record.name.to_string(), tools: records.len(), changes, duplicates })
}

/// Re-runs the current rules over every stored tool, from its raw definition, and refreshes the
/// search index. Returns how many tools were classified again.
pub fn reclassify(db: &mut Db, rules: &RuleSet) -> Result<usize, ReclassifyError> {
    let servers = db.current_tools()?;
    let mut total = 0;
    for (_, tools) in &servers {
        let parsed: Vec<(i64, crate::model::ToolInput)> = tools
            .iter()
            .filter_map(|(id, raw)| {
                let item = input::Item::new(raw, input::Location::Object);
                input::parse_item(&item).ok().map(|t| (*id, t))
            })
            .collect();
        let names: Vec<&str> = parsed.iter().map(|(_, t)| t.name.as_str()).collect();
        let ctx = rules.sibling_context(&names);
        let verdicts: Vec<_> = parsed.iter().map(|(_, t)| rules.classify_in(t, &ctx)).collect();
        let rows: Vec<(i64, &crate::model::Verdict, String)> = parsed
            .iter()
            .zip(&verdicts)
            .map(|((id, t), v)| {
                (*id, v, serde_json::to_string(&ToolVerdict::new(t, v, None, true)).unwrap_or_default())
            })
            .collect();
        db.replace_verdicts(rules.version(), &rows)?;
        total += rows.len();
    }
    SearchIndex::open(db)?.rebuild(db)?;
    Ok(total)
}

#[derive(Debug, thiserror::Error)]
pub enum ReclassifyError {
    #[error("cannot update the catalog")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot rebuild the search index")]
    Index(#[from] IndexError),
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A server name from a file name: `github.tools.json` → `github`.
fn file_server_name(file: &Path) -> String {
    let stem = file.file_name().and_then(|n| n.to_str()).unwrap_or("tools");
    let base = stem.split('.').next().filter(|s| !s.is_empty()).unwrap_or(stem);
    base.to_string()
}
