//! From the catalog to policies: stored rows → `ToolFacts` → `ServerPolicy`, and `catalog export`
//! (one file per server, named safely).
//!
//! Invariant: a server's name reaches the file system only through `FileNamer`: ASCII lowercase
//! letters, digits, `-`, `_` and `.` (never leading), at most 64 bytes before the suffix, never a
//! reserved name, never the same name twice; a name that had to change gets a short hash of the
//! server's identity, so two servers never collide.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Overrides, PolicyTable, Provenance, ServerPolicy, ToolFacts};
use crate::model::{Category, Risk};
use crate::store::{Db, PolicyServerRow, PolicyToolRow};

/// The longest slug before the hash and the suffix.
const MAX_SLUG: usize = 64;

/// Names Windows refuses whatever the extension, and the export's own manifest.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "index",
];

/// The manifest an export writes beside the policies.
pub const MANIFEST: &str = "index.json";

/// The facts of one stored tool. A category or risk this build does not know is read as the
/// most severe one, so a newer catalog never loosens a policy.
pub fn facts_from_row(row: &PolicyToolRow) -> ToolFacts {
    let (params, open_params) = ToolFacts::params_from_definition(&row.raw_json);
    let mut tags: Vec<String> = row.tags.split_whitespace().map(str::to_string).collect();
    tags.sort();
    tags.dedup();
    ToolFacts {
        name: row.name.clone(),
        category: row.category.parse().unwrap_or(Category::Financial),
        risk: row.risk.parse().unwrap_or(Risk::Critical),
        confidence: row.confidence,
        tags,
        params,
        open_params,
    }
}

/// A server's policy from its stored rows (before overrides).
pub fn server_policy_from_rows(table: &PolicyTable, server: &PolicyServerRow, rows: &[PolicyToolRow]) -> ServerPolicy {
    let facts: Vec<ToolFacts> = rows.iter().map(facts_from_row).collect();
    let mut rules_versions: Vec<String> = rows.iter().map(|r| r.rules_version.clone()).collect();
    rules_versions.sort();
    rules_versions.dedup();
    let provenance = Provenance {
        catalog_version: env!("CARGO_PKG_VERSION").to_string(),
        rules_versions,
        policy_version: table.version.clone(),
    };
    table.server_policy(&server.name, &server.identity, &facts, provenance)
}

/// Gives every server a distinct, safe file stem.
#[derive(Debug, Default)]
pub struct FileNamer {
    used: HashSet<String>,
}

fn short_hash(identity: &str, len: usize) -> String {
    Sha256::digest(identity.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()[..len].to_string()
}

/// The server name reduced to a safe slug, and whether it had to change.
pub fn slug(name: &str) -> (String, bool) {
    let mut s = String::with_capacity(name.len().min(MAX_SLUG));
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' { c } else { '-' };
        if (c == '-' || c == '.') && s.ends_with(c) {
            continue;
        }
        s.push(c);
    }
    let trimmed = s.trim_matches(|c| c == '-' || c == '.' || c == '_');
    let mut slug: String = trimmed.chars().take(MAX_SLUG).collect();
    while slug.ends_with(['-', '.', '_']) {
        slug.pop();
    }
    let stem = slug.split('.').next().unwrap_or("");
    let reserved = RESERVED.contains(&stem);
    if slug.is_empty() {
        slug = "server".into();
    }
    let changed = slug != name || reserved;
    (slug, changed)
}

impl FileNamer {
    /// A file stem for this server, never handed out before.
    pub fn stem(&mut self, name: &str, identity: &str) -> String {
        let (slug, changed) = slug(name);
        // The hash goes before the first dot, so `con.txt` becomes `con-1a2b3c4d.txt`: Windows
        // reserves a device name whatever follows the dot.
        let (head, tail) = slug.split_at(slug.find('.').unwrap_or(slug.len()));
        let hashed = |len: usize| format!("{head}-{}{tail}", short_hash(identity, len));
        let mut stem = if changed { hashed(8) } else { slug.clone() };
        let mut len = 8;
        while !self.used.insert(stem.clone()) {
            len = (len + 8).min(64);
            stem = hashed(len);
            if len == 64 && self.used.contains(&stem) {
                let mut n = 2;
                while self.used.contains(&format!("{stem}-{n}")) {
                    n += 1;
                }
                stem = format!("{stem}-{n}");
            }
        }
        stem
    }
}

/// One file an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    pub server: String,
    pub identity: String,
    /// The file name, relative to the export directory.
    pub file: String,
    pub tools: usize,
    /// Tools per action: allow, limit, approve, hide, deny.
    pub actions: [usize; 5],
    pub rules_versions: Vec<String>,
    pub overridden: usize,
}

/// What an export did.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub files: Vec<ExportedFile>,
    /// Servers with no current tools: no file.
    pub skipped: Vec<String>,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot read the catalog")]
    Db(#[from] rusqlite::Error),
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes one policy file per server with current tools into `dir` (which must exist), each
/// named `<stem><suffix>` and rendered by `render`, with `overrides` applied. Files of the same
/// names are replaced.
pub fn export(
    db: &Db,
    table: &PolicyTable,
    overrides: &mut Overrides,
    suffix: &str,
    render: &mut dyn FnMut(&ServerPolicy) -> String,
    dir: &Path,
) -> Result<ExportReport, ExportError> {
    let servers = db.policy_servers()?;
    // Names are given in name order, so the same catalog always gets the same file names.
    let mut namer = FileNamer::default();
    let mut by_id: std::collections::HashMap<i64, (&PolicyServerRow, String)> =
        std::collections::HashMap::with_capacity(servers.len());
    for s in &servers {
        by_id.insert(s.id, (s, namer.stem(&s.name, &s.identity)));
    }
    let mut report = ExportReport::default();
    let mut with_tools = HashSet::with_capacity(servers.len());
    db.for_each_server_tools(|id, rows| -> Result<(), ExportError> {
        let Some((server, stem)) = by_id.get(&id) else { return Ok(()) };
        with_tools.insert(id);
        let mut policy = server_policy_from_rows(table, server, &rows);
        overrides.apply(&mut policy, table.default_limit);
        let file = format!("{stem}{suffix}");
        let path = dir.join(&file);
        std::fs::write(&path, render(&policy)).map_err(|source| ExportError::Write { path, source })?;
        report.files.push(ExportedFile {
            server: policy.server.clone(),
            identity: policy.identity.clone(),
            file,
            tools: policy.tools.len(),
            actions: policy.counts(),
            rules_versions: policy.provenance.rules_versions.clone(),
            overridden: policy.tools.iter().filter(|t| matches!(t.source, super::Source::Override { .. })).count(),
        });
        Ok(())
    })?;
    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    report.skipped = servers.iter().filter(|s| !with_tools.contains(&s.id)).map(|s| s.identity.clone()).collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_become_safe_distinct_file_names() {
        let mut n = FileNamer::default();
        let cases = [
            ("server-filesystem", "a"),
            ("../../etc/passwd", "b"),
            ("..", "c"),
            ("", "d"),
            ("CON", "e"),
            ("con.txt", "f"),
            ("index", "g"),
            ("Stripe", "h"),
            ("stripe", "i"),
            ("stripe", "j"),
            ("@scope/pkg name", "k"),
            (&"x".repeat(300), "l"),
            ("a\u{0}b\nc", "m"),
            ("日本語", "n"),
        ];
        let mut stems = HashSet::new();
        for (name, id) in cases {
            let s = n.stem(name, id);
            assert!(stems.insert(s.clone()), "duplicate {s}");
            assert!(!s.is_empty() && s.len() <= MAX_SLUG + 1 + 64 + 4, "{s}");
            assert!(!s.starts_with(['.', '-', '_']), "{s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c)), "{s}");
            assert!(!s.contains(".."), "{s}");
            let stem = s.split('.').next().unwrap();
            assert!(!RESERVED.contains(&stem), "{s}");
        }
        assert!(stems.contains("server-filesystem"), "unchanged names stay as they are: {stems:?}");
        assert!(stems.contains("stripe"), "{stems:?}");
        assert!(stems.iter().any(|s| s.starts_with("etc-passwd-")), "{stems:?}");
    }

    #[test]
    fn names_are_stable() {
        let a = FileNamer::default().stem("My Server", "id-1");
        let b = FileNamer::default().stem("My Server", "id-1");
        assert_eq!(a, b);
        assert!(a.starts_with("my-server-"), "{a}");
    }
}
