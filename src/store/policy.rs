//! What policies need from the catalog: each server's current tools with their stored verdicts
//! and raw definitions, one server at a time, in a stable order.

use rusqlite::{params, OptionalExtension};

use super::db::Db;

/// A server a policy is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyServerRow {
    pub id: i64,
    pub name: String,
    pub identity: String,
}

/// One current tool with its stored verdict and definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyToolRow {
    pub name: String,
    pub category: String,
    pub risk: String,
    pub confidence: f64,
    /// Space-separated.
    pub tags: String,
    pub raw_json: String,
    pub rules_version: String,
}

const TOOLS: &str = "SELECT t.server_id, t.name, v.category, v.risk, v.confidence, v.tags, d.raw_json, v.rules_version
     FROM tools t JOIN verdicts v ON v.tool_id = t.id
     JOIN tool_versions d ON d.tool_id = t.id AND d.def_hash = t.def_hash
     WHERE t.removed_at IS NULL";

fn tool_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, PolicyToolRow)> {
    Ok((
        r.get(0)?,
        PolicyToolRow {
            name: r.get(1)?,
            category: r.get(2)?,
            risk: r.get(3)?,
            confidence: r.get(4)?,
            tags: r.get(5)?,
            raw_json: r.get(6)?,
            rules_version: r.get(7)?,
        },
    ))
}

impl Db {
    /// A server by identity, else by name (the most recently seen), with its current tools in
    /// name order; `None` when no server has that name or identity.
    pub fn policy_server(&self, server: &str) -> rusqlite::Result<Option<(PolicyServerRow, Vec<PolicyToolRow>)>> {
        let row = |r: &rusqlite::Row<'_>| Ok(PolicyServerRow { id: r.get(0)?, name: r.get(1)?, identity: r.get(2)? });
        let found = self
            .conn
            .query_row("SELECT id, name, identity FROM servers WHERE identity = ?1", [server], row)
            .optional()?;
        let found = match found {
            Some(f) => Some(f),
            None => self
                .conn
                .query_row(
                    "SELECT id, name, identity FROM servers WHERE name = ?1 ORDER BY last_seen DESC, id DESC LIMIT 1",
                    [server],
                    row,
                )
                .optional()?,
        };
        let Some(s) = found else { return Ok(None) };
        let mut stmt = self.conn.prepare(&format!("{TOOLS} AND t.server_id = ?1 ORDER BY t.name, t.ordinal"))?;
        let tools = stmt.query_map(params![s.id], tool_row)?.map(|r| r.map(|(_, t)| t)).collect::<Result<_, _>>()?;
        Ok(Some((s, tools)))
    }

    /// Every server, by name then identity.
    pub fn policy_servers(&self) -> rusqlite::Result<Vec<PolicyServerRow>> {
        let mut stmt = self.conn.prepare("SELECT id, name, identity FROM servers ORDER BY name, identity")?;
        let rows =
            stmt.query_map([], |r| Ok(PolicyServerRow { id: r.get(0)?, name: r.get(1)?, identity: r.get(2)? }))?;
        rows.collect()
    }

    /// Calls `f` once per server that has current tools, with the server's id and its tools in
    /// name order, streaming (one server's tools in memory at a time).
    pub fn for_each_server_tools<E: From<rusqlite::Error>>(
        &self,
        mut f: impl FnMut(i64, Vec<PolicyToolRow>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self.conn.prepare(&format!("{TOOLS} ORDER BY t.server_id, t.name, t.ordinal"))?;
        let mut rows = stmt.query_map([], tool_row)?;
        let mut current: Option<(i64, Vec<PolicyToolRow>)> = None;
        for row in &mut rows {
            let (server, tool) = row?;
            match &mut current {
                Some((s, tools)) if *s == server => tools.push(tool),
                _ => {
                    if let Some((s, tools)) = current.take() {
                        f(s, tools)?;
                    }
                    current = Some((server, vec![tool]));
                }
            }
        }
        if let Some((s, tools)) = current {
            f(s, tools)?;
        }
        Ok(())
    }

    /// `(name, identity)` of every server with a current tool of this name.
    pub fn servers_with_tool(&self, tool: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT s.name, s.identity FROM tools t JOIN servers s ON s.id = t.server_id
             WHERE t.name = ?1 AND t.removed_at IS NULL ORDER BY s.name, s.identity",
        )?;
        let rows = stmt.query_map([tool], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}
