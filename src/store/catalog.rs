//! Writing and reading servers, tools, their history and verdicts.
//!
//! Invariant: one server's listing is stored in one transaction, so a crash leaves each server
//! either as it was or fully updated, and never loses what was committed before.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::db::Db;
use crate::model::Verdict;

/// A server as a run saw it.
#[derive(Debug, Clone)]
pub struct ServerRecord<'a> {
    /// Stable identity: registry name, `npm:pkg@1.2.3`, URL, or the import name.
    pub identity: &'a str,
    pub name: &'a str,
    pub source_kind: &'a str,
    pub source_location: &'a str,
    /// The version listed (a package's), kept as it was when `None`.
    pub version: Option<&'a str>,
    /// What a crawl's listing said beside the tools; `None` for imports.
    pub listing: Option<&'a ListingRecord<'a>>,
}

/// What a server's listing said beside its tools (see migration 4).
#[derive(Debug, Clone)]
pub struct ListingRecord<'a> {
    pub transport: &'a str,
    pub protocol_version: Option<&'a str>,
    /// JSON texts, as the server sent them.
    pub server_info: Option<&'a str>,
    pub instructions: Option<&'a str>,
    pub capabilities: Option<&'a str>,
    /// JSON arrays of raw definitions.
    pub prompts: &'a str,
    pub resources: &'a str,
    pub resource_templates: &'a str,
    /// Problems with the listing (malformed tools, truncation); non-empty makes the outcome
    /// `partial`.
    pub problems: &'a [String],
    /// JSON: what the launched server could reach (the sandbox's protections); kept in the run's
    /// `detail` under `launch`.
    pub launch: Option<&'a str>,
}

/// One tool of a listing, with its verdict.
#[derive(Debug, Clone)]
pub struct ToolRecord<'a> {
    pub name: &'a str,
    /// The definition exactly as received.
    pub raw_json: &'a str,
    pub verdict: &'a Verdict,
    /// The definition declares annotations.
    pub annotated: bool,
    /// The verdict as `--format json` prints it.
    pub verdict_json: &'a str,
}

/// What storing one listing changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// The server's row id.
    pub server_id: i64,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// The sha256 of a definition in canonical form (keys sorted, no spaces), hex; the raw text when
/// it is not JSON.
pub fn definition_hash(raw_json: &str) -> String {
    let canonical = serde_json::from_str::<serde_json::Value>(raw_json)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| raw_json.to_string());
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A definition's title (its own, else its annotations') and description, for the search index.
///
/// Read here rather than with SQLite's JSON functions, which refuse a whole query when one
/// stored definition nests deeper than their limit: a hostile server's tool must not take search
/// down for every server. Only the top level (and `annotations`) is decoded; serde_json skips the
/// other values without recursing, so no depth is too deep. Text that is not a JSON object, or
/// fields that are not strings, give empty strings; a repeated key keeps its last value.
fn index_texts(raw_json: &str) -> (String, String) {
    type Members = HashMap<String, Box<serde_json::value::RawValue>>;
    let string = |members: &Members, key: &str| -> Option<String> {
        members.get(key).and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    };
    let Ok(top) = serde_json::from_str::<Members>(raw_json) else { return (String::new(), String::new()) };
    let annotations = top.get("annotations").and_then(|a| serde_json::from_str::<Members>(a.get()).ok());
    let title = string(&top, "title").or_else(|| annotations.as_ref().and_then(|a| string(a, "title")));
    (title.unwrap_or_default(), string(&top, "description").unwrap_or_default())
}

impl Db {
    /// Records the start of an import or crawl.
    pub fn begin_run(&mut self, kind: &str, source: &str, rules_version: &str, now: i64) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (kind, source, started_at, rules_version) VALUES (?1, ?2, ?3, ?4)",
            params![kind, source, now, rules_version],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&mut self, run: i64, now: i64) -> rusqlite::Result<()> {
        self.conn.execute("UPDATE runs SET finished_at = ?1 WHERE id = ?2", params![now, run])?;
        Ok(())
    }

    /// Stores one server's complete listing in one transaction: new tools are added, changed
    /// definitions get a new history entry, tools missing from the listing are marked removed.
    /// Tools that share a name are all kept, by their order (`ordinal`).
    pub fn store_server(
        &mut self,
        run: i64,
        server: &ServerRecord<'_>,
        tools: &[ToolRecord<'_>],
        now: i64,
    ) -> rusqlite::Result<Changes> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO servers (identity, name, first_seen, last_seen, version) VALUES (?1, ?2, ?3, ?3, ?4)
             ON CONFLICT (identity) DO UPDATE SET last_seen = ?3, name = ?2, version = coalesce(?4, version)",
            params![server.identity, server.name, now, server.version],
        )?;
        let server_id: i64 =
            tx.query_row("SELECT id FROM servers WHERE identity = ?1", [server.identity], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO sources (server_id, kind, location, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (server_id, kind, location) DO UPDATE SET last_seen = ?4",
            params![server_id, server.source_kind, server.source_location, now],
        )?;

        // What is stored now: (name, ordinal) → (id, hash, removed).
        let mut existing: HashMap<(String, i64), (i64, String, bool)> = HashMap::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT id, name, ordinal, def_hash, removed_at IS NOT NULL FROM tools WHERE server_id = ?1",
            )?;
            let rows = stmt.query_map([server_id], |r| {
                Ok(((r.get::<_, String>(1)?, r.get::<_, i64>(2)?), (r.get(0)?, r.get(3)?, r.get(4)?)))
            })?;
            for row in rows {
                let (k, v) = row?;
                existing.insert(k, v);
            }
        }

        let mut changes = Changes { server_id, ..Changes::default() };
        let mut seen: HashMap<&str, i64> = HashMap::new();
        let mut kept = Vec::with_capacity(tools.len());
        {
            let mut insert_tool = tx.prepare_cached(
                "INSERT INTO tools (server_id, name, ordinal, def_hash, first_seen, last_seen, annotated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?;
            let mut update_tool = tx.prepare_cached(
                "UPDATE tools SET def_hash = ?2, last_seen = ?3, removed_at = NULL, annotated = ?4 WHERE id = ?1",
            )?;
            let mut version = tx.prepare_cached(
                "INSERT INTO tool_versions (tool_id, def_hash, raw_json, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (tool_id, def_hash) DO UPDATE SET last_seen = ?4",
            )?;
            let mut verdict = tx.prepare_cached(
                "INSERT INTO verdicts (tool_id, rules_version, category, risk, confidence, tags, verdict_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (tool_id) DO UPDATE SET rules_version = ?2, category = ?3, risk = ?4,
                     confidence = ?5, tags = ?6, verdict_json = ?7",
            )?;
            let rules_version: String =
                tx.query_row("SELECT rules_version FROM runs WHERE id = ?1", [run], |r| r.get(0))?;
            for tool in tools {
                let ordinal = seen.entry(tool.name).and_modify(|n| *n += 1).or_insert(0);
                let hash = definition_hash(tool.raw_json);
                let id = match existing.get(&(tool.name.to_string(), *ordinal)) {
                    Some((id, old_hash, removed)) => {
                        if *old_hash == hash && !removed {
                            changes.unchanged += 1;
                        } else if *old_hash == hash {
                            changes.added += 1;
                        } else {
                            changes.changed += 1;
                        }
                        update_tool.execute(params![id, hash, now, tool.annotated])?;
                        *id
                    }
                    None => {
                        insert_tool.execute(params![server_id, tool.name, *ordinal, hash, now, tool.annotated])?;
                        changes.added += 1;
                        tx.last_insert_rowid()
                    }
                };
                version.execute(params![id, hash, tool.raw_json, now])?;
                let v = tool.verdict;
                let tags = v.tags.iter().map(|t| &**t).collect::<Vec<&str>>().join(" ");
                verdict.execute(params![
                    id,
                    rules_version,
                    v.category.as_str(),
                    v.risk.as_str(),
                    v.confidence,
                    tags,
                    tool.verdict_json
                ])?;
                kept.push((tool.name.to_string(), *ordinal));
            }
        }
        let kept: std::collections::HashSet<(String, i64)> = kept.into_iter().collect();
        for (key, (id, _, removed)) in &existing {
            if !removed && !kept.contains(key) {
                tx.execute("UPDATE tools SET removed_at = ?2 WHERE id = ?1", params![id, now])?;
                changes.removed += 1;
            }
        }
        let mut outcome = "ok";
        let mut detail = None;
        if let Some(l) = server.listing {
            let problems = serde_json::to_string(l.problems).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT OR REPLACE INTO listings (server_id, listed_at, transport, protocol_version, server_info,
                     instructions, capabilities, prompts, resources, resource_templates, problems)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    server_id,
                    now,
                    l.transport,
                    l.protocol_version,
                    l.server_info,
                    l.instructions,
                    l.capabilities,
                    l.prompts,
                    l.resources,
                    l.resource_templates,
                    problems
                ],
            )?;
            let mut d = serde_json::Map::new();
            if !l.problems.is_empty() {
                outcome = "partial";
                d.insert("problems".into(), serde_json::json!(l.problems));
            }
            if let Some(launch) = l.launch.and_then(|j| serde_json::from_str(j).ok()) {
                d.insert("launch".into(), launch);
            }
            detail = (!d.is_empty()).then(|| serde_json::Value::Object(d).to_string());
        }
        tx.execute(
            "INSERT INTO run_servers (run_id, server_id, outcome, added, changed, removed, detail)
             VALUES (?1, ?2, ?6, ?3, ?4, ?5, ?7)
             ON CONFLICT (run_id, server_id) DO UPDATE SET added = added + ?3, changed = changed + ?4, removed = removed + ?5",
            params![run, server_id, changes.added, changes.changed, changes.removed, outcome, detail],
        )?;
        tx.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'", [])?;
        tx.commit()?;
        Ok(changes)
    }

    /// Calls `f` with every current tool (of these servers, or of all), as the search index
    /// needs it.
    pub fn index_rows(
        &self,
        servers: Option<&[i64]>,
        f: &mut dyn FnMut(super::index::IndexRow),
    ) -> rusqlite::Result<()> {
        let sql = "SELECT t.id, t.server_id, s.name, t.name,
                          d.raw_json, v.category, v.risk, v.tags, v.confidence
                   FROM tools t JOIN servers s ON s.id = t.server_id JOIN verdicts v ON v.tool_id = t.id
                   JOIN tool_versions d ON d.tool_id = t.id AND d.def_hash = t.def_hash
                   WHERE t.removed_at IS NULL";
        let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<super::index::IndexRow> {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    _ => String::new(),
                })
            };
            let (title, description) = index_texts(&text(4)?);
            Ok(super::index::IndexRow {
                tool_id: r.get(0)?,
                server_id: r.get(1)?,
                server: r.get(2)?,
                name: r.get(3)?,
                title,
                description,
                category: r.get(5)?,
                risk: r.get(6)?,
                tags: r.get(7)?,
                confidence: r.get(8)?,
            })
        };
        match servers {
            None => {
                let mut stmt = self.conn.prepare(sql)?;
                for row in stmt.query_map([], map)? {
                    f(row?);
                }
            }
            Some(ids) => {
                let mut stmt = self.conn.prepare_cached(&format!("{sql} AND t.server_id = ?1"))?;
                for id in ids {
                    for row in stmt.query_map([id], map)? {
                        f(row?);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every server's current tools, `(server_id, [(tool_id, raw_json)])`, for `reclassify`.
    pub fn current_tools(&self) -> rusqlite::Result<Vec<ServerTools>> {
        let mut stmt = self.conn.prepare(
            "SELECT t.server_id, t.id, d.raw_json FROM tools t
                 JOIN tool_versions d ON d.tool_id = t.id AND d.def_hash = t.def_hash
                 WHERE t.removed_at IS NULL ORDER BY t.server_id, t.id",
        )?;
        let mut out: Vec<ServerTools> = Vec::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))? {
            let (server, id, raw) = row?;
            match out.last_mut() {
                Some((s, tools)) if *s == server => tools.push((id, raw)),
                _ => out.push((server, vec![(id, raw)])),
            }
        }
        Ok(out)
    }

    /// Replaces the verdicts of some tools (one transaction), for `reclassify`.
    pub fn replace_verdicts(
        &mut self,
        rules_version: &str,
        verdicts: &[(i64, &crate::model::Verdict, String)],
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE verdicts SET rules_version = ?2, category = ?3, risk = ?4, confidence = ?5, tags = ?6,
                 verdict_json = ?7 WHERE tool_id = ?1",
            )?;
            for (id, v, json) in verdicts {
                let tags = v.tags.iter().map(|t| &**t).collect::<Vec<&str>>().join(" ");
                stmt.execute(params![
                    id,
                    rules_version,
                    v.category.as_str(),
                    v.risk.as_str(),
                    v.confidence,
                    tags,
                    json
                ])?;
            }
        }
        tx.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'", [])?;
        tx.commit()
    }

    /// Counts over the whole catalog.
    pub fn stats(&self) -> rusqlite::Result<Stats> {
        let count = |sql: &str| self.conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let group = |sql: &str| -> rusqlite::Result<Vec<(String, i64)>> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        Ok(Stats {
            servers: count("SELECT count(*) FROM servers")?,
            tools: count("SELECT count(*) FROM tools WHERE removed_at IS NULL")?,
            removed_tools: count("SELECT count(*) FROM tools WHERE removed_at IS NOT NULL")?,
            annotated_tools: count("SELECT count(*) FROM tools WHERE removed_at IS NULL AND annotated")?,
            by_category: group(
                "SELECT v.category, count(*) FROM verdicts v JOIN tools t ON t.id = v.tool_id
                 WHERE t.removed_at IS NULL GROUP BY v.category ORDER BY v.category",
            )?,
            by_risk: group(
                "SELECT v.risk, count(*) FROM verdicts v JOIN tools t ON t.id = v.tool_id
                 WHERE t.removed_at IS NULL GROUP BY v.risk ORDER BY v.risk",
            )?,
            runs: count("SELECT count(*) FROM runs")?,
        })
    }

    /// Every row of a query that takes one id.
    fn rows_of<T>(
        &self,
        sql: &str,
        id: i64,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([id], map)?;
        rows.collect()
    }

    /// A server by identity, else by name (the most recently seen), through the indexes.
    fn find_server(&self, server: &str) -> rusqlite::Result<Option<i64>> {
        let by_identity =
            self.conn.query_row("SELECT id FROM servers WHERE identity = ?1", [server], |r| r.get(0)).optional()?;
        if by_identity.is_some() {
            return Ok(by_identity);
        }
        self.conn
            .query_row("SELECT id FROM servers WHERE name = ?1 ORDER BY last_seen DESC LIMIT 1", [server], |r| r.get(0))
            .optional()
    }

    /// A server's tools with their verdicts, most risky first; `None` when no server has that
    /// name or identity.
    pub fn server_view(&self, name: &str) -> rusqlite::Result<Option<ServerView>> {
        let Some(id) = self.find_server(name)? else { return Ok(None) };
        let (identity, server_name, first_seen, last_seen) = self.conn.query_row(
            "SELECT identity, name, first_seen, last_seen FROM servers WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let tools = self.rows_of(
            "SELECT t.name, v.category, v.risk, v.confidence, v.tags, t.removed_at IS NOT NULL
             FROM tools t JOIN verdicts v ON v.tool_id = t.id WHERE t.server_id = ?1
             ORDER BY CASE v.risk WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, t.name, t.ordinal",
            id,
            |r| {
                Ok(ToolRow {
                    name: r.get(0)?,
                    category: r.get(1)?,
                    risk: r.get(2)?,
                    confidence: r.get(3)?,
                    tags: r.get(4)?,
                    removed: r.get(5)?,
                })
            },
        )?;
        let sources = self.rows_of(
            "SELECT kind, location, first_seen, last_seen FROM sources WHERE server_id = ?1 ORDER BY kind, location",
            id,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let history = self.rows_of(
            "SELECT r.kind, r.source, r.started_at, s.outcome, s.added, s.changed, s.removed, s.error, s.detail
             FROM run_servers s JOIN runs r ON r.id = s.run_id WHERE s.server_id = ?1 ORDER BY r.started_at DESC, r.id DESC",
            id,
            |r| {
                Ok(RunRow {
                    kind: r.get(0)?,
                    source: r.get(1)?,
                    started_at: r.get(2)?,
                    outcome: r.get(3)?,
                    added: r.get(4)?,
                    changed: r.get(5)?,
                    removed: r.get(6)?,
                    error: r.get(7)?,
                    detail: r.get(8)?,
                })
            },
        )?;
        Ok(Some(ServerView { identity, name: server_name, first_seen, last_seen, tools, sources, history }))
    }

    /// One tool's stored verdict, raw definition and history.
    pub fn tool_view(&self, server: &str, tool: &str) -> rusqlite::Result<Option<ToolView>> {
        let Some(server_id) = self.find_server(server)? else { return Ok(None) };
        let row = self
            .conn
            .query_row(
                "SELECT t.id, d.raw_json, v.verdict_json, v.rules_version, t.first_seen, t.last_seen, t.removed_at
                 FROM tools t JOIN verdicts v ON v.tool_id = t.id
                 JOIN tool_versions d ON d.tool_id = t.id AND d.def_hash = t.def_hash
                 WHERE t.server_id = ?1 AND t.name = ?2 ORDER BY t.ordinal LIMIT 1",
                params![server_id, tool],
                |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let Some((id, raw_json, verdict_json, rules_version, first_seen, last_seen, removed_at)) = row else {
            return Ok(None);
        };
        let versions = self.rows_of(
            "SELECT def_hash, first_seen, last_seen FROM tool_versions WHERE tool_id = ?1 ORDER BY first_seen, rowid",
            id,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Some(ToolView { raw_json, verdict_json, rules_version, first_seen, last_seen, removed_at, versions }))
    }
}

/// A server's id and its current tools as `(tool_id, raw_json)`.
pub type ServerTools = (i64, Vec<(i64, String)>);

/// Counts over the catalog (`catalog stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub servers: i64,
    pub tools: i64,
    pub removed_tools: i64,
    pub annotated_tools: i64,
    pub by_category: Vec<(String, i64)>,
    pub by_risk: Vec<(String, i64)>,
    pub runs: i64,
}

/// One tool in a server view.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRow {
    pub name: String,
    pub category: String,
    pub risk: String,
    pub confidence: f64,
    pub tags: String,
    pub removed: bool,
}

/// One run that touched a server.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub kind: String,
    pub source: String,
    pub started_at: i64,
    pub outcome: String,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    /// Why the server was not listed (crawls).
    pub error: Option<String>,
    /// JSON details of the outcome (`www_authenticate`, `stderr_tail`, listing problems).
    pub detail: Option<String>,
}

/// `catalog show SERVER`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerView {
    pub identity: String,
    pub name: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub tools: Vec<ToolRow>,
    /// `(kind, location, first_seen, last_seen)`.
    pub sources: Vec<(String, String, i64, i64)>,
    pub history: Vec<RunRow>,
}

/// `catalog show SERVER TOOL`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolView {
    pub raw_json: String,
    pub verdict_json: String,
    pub rules_version: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub removed_at: Option<i64>,
    /// `(def_hash, first_seen, last_seen)`, oldest first.
    pub versions: Vec<(String, i64, i64)>,
}
