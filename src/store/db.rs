//! The SQLite catalog: opening, migrations, and the guarantees around them.
//!
//! Invariants: migrations are append-only and tracked by `PRAGMA user_version`; a database from a
//! newer `catalog` is refused, never downgraded; a file that is not a SQLite database is reported,
//! never recreated; WAL and a busy timeout let two processes share the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, one entry per version. Never edit or remove an entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: servers, their sources, tools with their raw JSON and history, verdicts, runs.
    r#"
    CREATE TABLE servers (
        id          INTEGER PRIMARY KEY,
        identity    TEXT NOT NULL UNIQUE,   -- registry name, package@version, URL, or import name
        name        TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,       -- unix seconds
        last_seen   INTEGER NOT NULL
    );
    CREATE TABLE sources (
        id          INTEGER PRIMARY KEY,
        server_id   INTEGER NOT NULL REFERENCES servers(id),
        kind        TEXT NOT NULL,          -- import, registry, config, npm, pypi, url, stdio
        location    TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        UNIQUE (server_id, kind, location)
    );
    CREATE TABLE tools (
        id          INTEGER PRIMARY KEY,
        server_id   INTEGER NOT NULL REFERENCES servers(id),
        name        TEXT NOT NULL,
        ordinal     INTEGER NOT NULL,       -- 0 for the first tool of a name, 1 for a duplicate, ...
        def_hash    TEXT NOT NULL,          -- the current definition: tool_versions (id, def_hash)
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        removed_at  INTEGER,                -- set when a later listing no longer has the tool
        UNIQUE (server_id, name, ordinal)
    );
    CREATE TABLE tool_versions (
        tool_id     INTEGER NOT NULL REFERENCES tools(id),
        def_hash    TEXT NOT NULL,          -- sha256 of the canonical definition
        raw_json    TEXT NOT NULL,          -- the definition exactly as the server sent it
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (tool_id, def_hash)
    );
    CREATE TABLE verdicts (
        tool_id       INTEGER PRIMARY KEY REFERENCES tools(id),
        rules_version TEXT NOT NULL,
        category      TEXT NOT NULL,
        risk          TEXT NOT NULL,
        confidence    REAL NOT NULL,
        tags          TEXT NOT NULL,        -- space-separated
        verdict_json  TEXT NOT NULL         -- the `--format json` verdict
    );
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL,        -- import, crawl
        source        TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        finished_at   INTEGER,
        rules_version TEXT NOT NULL
    );
    CREATE TABLE run_servers (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        server_id   INTEGER NOT NULL REFERENCES servers(id),
        outcome     TEXT NOT NULL,          -- ok, partial, failed
        error       TEXT,
        added       INTEGER NOT NULL,
        changed     INTEGER NOT NULL,
        removed     INTEGER NOT NULL,
        PRIMARY KEY (run_id, server_id)
    );
    CREATE INDEX tools_by_server ON tools (server_id);
    CREATE INDEX verdicts_by_category ON verdicts (category, risk);
    "#,
    // 2: the generation counter that tells a stale search index.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('generation', 0);
    "#,
    // 3: look servers up by name; count annotated tools without parsing every definition.
    r#"
    CREATE INDEX servers_by_name ON servers (name);
    ALTER TABLE tools ADD COLUMN annotated INTEGER NOT NULL DEFAULT 0;
    UPDATE tools SET annotated = coalesce((
        SELECT json_type(d.raw_json, '$.annotations') = 'object' FROM tool_versions d
        WHERE d.tool_id = tools.id AND d.def_hash = tools.def_hash), 0);
    "#,
    // 4: crawls. The version a server was last listed at, what its listing said beside its
    // tools, why a server could not be listed, and where each registry's last sync stopped.
    r#"
    ALTER TABLE servers ADD COLUMN version TEXT;
    ALTER TABLE run_servers ADD COLUMN detail TEXT;   -- JSON: WWW-Authenticate, stderr tail, reason
    CREATE TABLE listings (
        server_id          INTEGER PRIMARY KEY REFERENCES servers(id),
        listed_at          INTEGER NOT NULL,
        transport          TEXT NOT NULL,             -- stdio, streamable-http, sse
        protocol_version   TEXT,
        server_info        TEXT,                      -- JSON, as the server sent it
        instructions       TEXT,
        capabilities       TEXT,                      -- JSON
        prompts            TEXT NOT NULL,             -- JSON array of raw definitions
        resources          TEXT NOT NULL,
        resource_templates TEXT NOT NULL,
        problems           TEXT NOT NULL              -- JSON array of strings
    );
    CREATE TABLE sync_state (
        source         TEXT PRIMARY KEY,              -- the registry's base URL
        updated_since  TEXT NOT NULL,                 -- the newest updatedAt seen
        synced_at      INTEGER NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why the catalog could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path} was written by a newer catalog (schema {found}, this one knows up to {known}); upgrade catalog")]
    Newer { path: PathBuf, found: i64, known: i64 },
    #[error("{path} is not a catalog database (not SQLite, or damaged); move it away or pass another --db")]
    NotADatabase { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the directory {path}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("cannot open {path}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

/// An open catalog.
pub struct Db {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (or creates) the catalog at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory { path: dir.to_path_buf(), source })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sqlite = |source| OpenError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        // The first real read tells a damaged or foreign file apart.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| OpenError::NotADatabase { path: path.to_path_buf(), source })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| OpenError::NotADatabase { path: path.to_path_buf(), source })?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        if version > schema_version() {
            return Err(OpenError::Newer { path: path.to_path_buf(), found: version, known: schema_version() });
        }
        let mut db = Db { conn, path: path.to_path_buf() };
        db.migrate().map_err(sqlite)?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counts every committed change to tools or verdicts; the search index records the
    /// generation it reflects.
    pub fn generation(&self) -> rusqlite::Result<i64> {
        self.conn.query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| r.get(0))
    }

    /// Applies the migrations this file lacks, in one exclusive transaction.
    fn migrate(&mut self) -> rusqlite::Result<()> {
        // Readers of an up-to-date file need no lock.
        let current: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current >= schema_version() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()
    }
}

/// The catalog's default location: `CATALOG_DB`, else `$XDG_DATA_HOME/catalog/catalog.db`, else
/// `~/.local/share/catalog/catalog.db`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CATALOG_DB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("catalog").join("catalog.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_twice_without_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        drop(Db::open(&path).unwrap());
        let db = Db::open(&path).unwrap();
        let v: i64 = db.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, schema_version());
        let mode: String = db.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Db::open(&path).err().expect("refused");
        assert!(matches!(err, OpenError::Newer { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("newer catalog"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        std::fs::write(&path, "this is not a database, it is a note".repeat(200)).unwrap();
        let err = Db::open(&path).err().expect("refused");
        assert!(matches!(err, OpenError::NotADatabase { .. }), "{err}");
        let kept = std::fs::read_to_string(&path).unwrap();
        assert!(kept.starts_with("this is not a database"), "the file must not be recreated");
    }
}
