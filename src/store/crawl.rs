//! What crawls need from the catalog besides storing listings: servers that could not be listed,
//! whether a version was already crawled, and where each registry's last sync stopped.

use rusqlite::{params, OptionalExtension};

use super::db::Db;

/// A server that was not listed, and why.
#[derive(Debug, Clone)]
pub struct Unlisted<'a> {
    pub identity: &'a str,
    pub name: &'a str,
    pub version: Option<&'a str>,
    pub source_kind: &'a str,
    pub source_location: &'a str,
    /// `failed`, `auth_required`, `needs_config`, `unsupported`.
    pub outcome: &'a str,
    /// One line: the error kind and message.
    pub error: &'a str,
    /// JSON with the details (`www_authenticate`, `stderr_tail`, ...).
    pub detail: Option<&'a str>,
}

impl Db {
    /// Records a server that could not be listed. Its tools, if an earlier crawl stored some, are
    /// left as they were: a server that is down is not a server without tools.
    pub fn record_unlisted(&mut self, run: i64, server: &Unlisted<'_>, now: i64) -> rusqlite::Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO servers (identity, name, first_seen, last_seen, version) VALUES (?1, ?2, ?3, ?3, ?4)
             ON CONFLICT (identity) DO UPDATE SET last_seen = ?3, name = ?2",
            params![server.identity, server.name, now, server.version],
        )?;
        let server_id: i64 =
            tx.query_row("SELECT id FROM servers WHERE identity = ?1", [server.identity], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO sources (server_id, kind, location, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (server_id, kind, location) DO UPDATE SET last_seen = ?4",
            params![server_id, server.source_kind, server.source_location, now],
        )?;
        tx.execute(
            "INSERT INTO run_servers (run_id, server_id, outcome, error, detail, added, changed, removed)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, 0)
             ON CONFLICT (run_id, server_id) DO UPDATE SET outcome = ?3, error = ?4, detail = ?5",
            params![run, server_id, server.outcome, server.error, server.detail],
        )?;
        tx.commit()?;
        Ok(server_id)
    }

    /// Whether a server was last listed successfully at exactly this version.
    pub fn listed_at_version(&self, identity: &str, version: &str) -> rusqlite::Result<bool> {
        let found = self
            .conn
            .query_row(
                "SELECT 1 FROM servers s WHERE s.identity = ?1 AND s.version = ?2 AND EXISTS (
                     SELECT 1 FROM listings l WHERE l.server_id = s.id)",
                params![identity, version],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// A server's current tools as stored (raw definitions, in the order first listed) and when
    /// it was last listed; `None` when the catalog never listed that identity.
    pub fn current_listing(&self, identity: &str) -> rusqlite::Result<Option<(Vec<String>, i64)>> {
        let Some((id, last_seen)) = self
            .conn
            .query_row(
                "SELECT s.id, l.listed_at FROM servers s JOIN listings l ON l.server_id = s.id WHERE s.identity = ?1",
                [identity],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.raw_json FROM tools t
                 JOIN tool_versions d ON d.tool_id = t.id AND d.def_hash = t.def_hash
                 WHERE t.server_id = ?1 AND t.removed_at IS NULL ORDER BY t.id",
        )?;
        let tools = stmt.query_map([id], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some((tools, last_seen)))
    }

    /// The `updated_since` a registry's next incremental sync starts from.
    pub fn sync_state(&self, source: &str) -> rusqlite::Result<Option<String>> {
        self.conn.query_row("SELECT updated_since FROM sync_state WHERE source = ?1", [source], |r| r.get(0)).optional()
    }

    pub fn set_sync_state(&mut self, source: &str, updated_since: &str, now: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO sync_state (source, updated_since, synced_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET updated_since = ?2, synced_at = ?3",
            params![source, updated_since, now],
        )?;
        Ok(())
    }
}
