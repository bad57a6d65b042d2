//! The official MCP Registry: paging `/v0.1/servers`, saved registry JSON, and each entry's
//! packages and remotes as `Target`s.
//!
//! Entries are read field by field from JSON values, never through strict structs, so every shape
//! the registry has served parses: the current one (`{"server": server.json, "_meta":
//! {"io.modelcontextprotocol.registry/official": {status, publishedAt, updatedAt, isLatest}}}`),
//! `_meta` without that wrapper or inside server.json, and the 2025-05 snake_case format
//! (`version_detail`, `registry_name`, `environment_variables`, `transport_type`).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;
use url::Url;

use super::{Ecosystem, RemoteTransport, SourceError, Target, TargetKind, PLACEHOLDER};

/// The official registry.
pub const DEFAULT_BASE: &str = "https://registry.modelcontextprotocol.io";
/// The registry caps `limit` at 100.
pub const PAGE_LIMIT: usize = 100;
/// Pages beyond this are not fetched (100 000 server versions at 100 a page).
pub const MAX_PAGES: usize = 1000;
/// A page larger than this is refused (a real page of 100 servers is well under 1 MiB).
pub const MAX_PAGE_BYTES: usize = 32 << 20;

/// What to ask the registry for.
#[derive(Debug, Clone)]
pub struct RegistryQuery {
    /// The registry's base URL; `/v0.1/servers` is appended (a path in the base is kept).
    pub base: Url,
    /// RFC 3339; only entries updated since then (deleted ones included, so they can be dropped).
    pub updated_since: Option<String>,
    /// Case-insensitive substring of the name (and description).
    pub search: Option<String>,
    /// Stop paging once this many entries were read.
    pub max_servers: Option<usize>,
    /// Page size, 1..=100.
    pub limit: usize,
    /// Page cap.
    pub max_pages: usize,
}

impl Default for RegistryQuery {
    fn default() -> Self {
        RegistryQuery {
            base: Url::parse(DEFAULT_BASE).expect("DEFAULT_BASE is a valid URL"),
            updated_since: None,
            search: None,
            max_servers: None,
            limit: PAGE_LIMIT,
            max_pages: MAX_PAGES,
        }
    }
}

/// A registry entry's moderation status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    Active,
    /// Still listed and crawled; the catalog should show it as deprecated.
    Deprecated,
    /// Removed by moderation (spam, malware): never crawled.
    Deleted,
    /// A status this build does not know, kept as sent.
    Other(String),
}

impl EntryStatus {
    fn parse(s: &str) -> EntryStatus {
        match s.to_ascii_lowercase().as_str() {
            "" | "active" => EntryStatus::Active,
            "deprecated" => EntryStatus::Deprecated,
            "deleted" => EntryStatus::Deleted,
            _ => EntryStatus::Other(s.to_string()),
        }
    }
}

/// One server version as the registry lists it.
#[derive(Debug, Clone)]
pub struct RegistryEntry {
    /// The server's registry name, e.g. `io.github.owner/repo`: its catalog name.
    pub name: String,
    pub version: Option<String>,
    pub status: EntryStatus,
    pub is_latest: Option<bool>,
    pub published_at: Option<String>,
    pub updated_at: Option<String>,
    /// The server.json (or the legacy server object) as sent.
    pub server: Value,
    /// The whole entry exactly as sent (a `ServerResponse`, or a bare server.json).
    pub raw: Box<RawValue>,
}

/// A problem with one entry or page; the others were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `page 2, servers[7]`, `[12]`, ...
    pub location: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What a registry read produced.
#[derive(Debug, Default)]
pub struct RegistryListing {
    /// The latest version of each server, deleted ones left out, in the order first seen.
    pub entries: Vec<RegistryEntry>,
    /// The newest `updatedAt` seen (deleted entries included): the next `updated_since`.
    pub newest_updated_at: Option<String>,
    /// `(name, version)` of entries with status `deleted` (an incremental sync reports these).
    pub deleted: Vec<(String, Option<String>)>,
    /// Entries left out because another version of the same server is the latest.
    pub superseded: usize,
    pub problems: Vec<Problem>,
    /// Pages fetched (0 for saved data).
    pub pages: usize,
    /// Why paging stopped before the end, when it did (repeated cursor, page cap, `max_servers`).
    pub truncated: Option<String>,
}

/// Pages through `GET {base}/v0.1/servers`, following `metadata.nextCursor`. `on_page` is called
/// after each page with the number of entries read so far. A page that fails or is not a list
/// response is an error naming the page; a bad entry in a good page is a problem, the rest kept.
pub async fn fetch(
    client: &reqwest::Client,
    q: &RegistryQuery,
    mut on_page: impl FnMut(usize),
) -> Result<RegistryListing, SourceError> {
    let endpoint = servers_url(&q.base)?;
    let mut acc = Accumulator::default();
    let mut cursor: Option<String> = None;
    let mut cursors_seen = HashSet::new();
    let mut read = 0usize;
    let mut truncated = None;
    let mut page = 0usize;
    loop {
        if page >= q.max_pages {
            truncated = Some(format!("stopped after {page} pages (the page cap)"));
            break;
        }
        page += 1;
        let url = page_url(&endpoint, q, cursor.as_deref());
        let body = get_page(client, &url, page).await?;
        let parsed =
            parse_list(&body).map_err(|message| SourceError::RegistryPage { page, url: url.to_string(), message })?;
        read += parsed.servers.len();
        for (i, raw) in parsed.servers.into_iter().enumerate() {
            acc.add(raw, format!("page {page}, servers[{i}]"));
        }
        acc.problems
            .extend(parsed.problems.into_iter().map(|message| Problem { location: format!("page {page}"), message }));
        on_page(read);
        if q.max_servers.is_some_and(|max| read >= max) {
            truncated = Some(format!("stopped at {read} entries (the requested maximum)"));
            break;
        }
        match parsed.next_cursor {
            None => break,
            Some(next) => {
                if !cursors_seen.insert(next.clone()) {
                    let message = format!("the registry repeated the cursor {next:?}; stopped paging");
                    acc.problems.push(Problem { location: format!("page {page}"), message });
                    truncated = Some("the registry repeated a cursor".to_string());
                    break;
                }
                cursor = Some(next);
            }
        }
    }
    let mut listing = acc.finish();
    listing.pages = page;
    listing.truncated = truncated;
    if let Some(max) = q.max_servers {
        listing.entries.truncate(max);
    }
    Ok(listing)
}

/// Reads saved registry JSON (`--from-file`): one server.json, one wrapped entry, an array of
/// either, or a `/v0.1/servers` response. Same filtering as `fetch` (deleted skipped, latest only).
pub fn read_saved(text: &str) -> Result<RegistryListing, SourceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let syntax =
        |e: serde_json::Error| SourceError::SavedSyntax { line: e.line(), column: e.column(), message: e.to_string() };
    let trimmed = text.trim_start();
    let mut acc = Accumulator::default();
    if trimmed.starts_with('[') {
        let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(syntax)?;
        for (i, raw) in items.into_iter().enumerate() {
            acc.add(raw, format!("[{i}]"));
        }
    } else if trimmed.starts_with('{') {
        let fields: HashMap<String, Box<RawValue>> = serde_json::from_str(text).map_err(syntax)?;
        if fields.contains_key("servers") {
            let parsed = parse_list(text.as_bytes()).map_err(|reason| SourceError::SavedShape { reason })?;
            for (i, raw) in parsed.servers.into_iter().enumerate() {
                acc.add(raw, format!("servers[{i}]"));
            }
            acc.problems
                .extend(parsed.problems.into_iter().map(|message| Problem { location: "metadata".into(), message }));
        } else if fields.contains_key("server") || fields.contains_key("name") {
            let raw: Box<RawValue> = serde_json::from_str(text).map_err(syntax)?;
            acc.add(raw, "the document".to_string());
        } else {
            return Err(SourceError::SavedShape {
                reason: "the object has none of `servers`, `server` or `name`".to_string(),
            });
        }
    } else {
        // Not an array or object: let serde_json say where it breaks, or name the shape.
        let _: Value = serde_json::from_str(text).map_err(syntax)?;
        return Err(SourceError::SavedShape { reason: "expected an object or an array".to_string() });
    }
    Ok(acc.finish())
}

/// The registry URL to page: `{base}/v0.1/servers`, keeping any path the base has.
fn servers_url(base: &Url) -> Result<Url, SourceError> {
    let err = |message: String| SourceError::RegistryUrl { base: base.to_string(), message };
    if !matches!(base.scheme(), "http" | "https") {
        return Err(err("only http and https are supported".to_string()));
    }
    let mut base = base.clone();
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join("v0.1/servers").map_err(|e| err(e.to_string()))
}

fn page_url(endpoint: &Url, q: &RegistryQuery, cursor: Option<&str>) -> Url {
    let mut url = endpoint.clone();
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("limit", &q.limit.clamp(1, PAGE_LIMIT).to_string());
        if let Some(c) = cursor {
            pairs.append_pair("cursor", c);
        }
        if let Some(since) = &q.updated_since {
            pairs.append_pair("updated_since", since);
        }
        if let Some(search) = &q.search {
            pairs.append_pair("search", search);
        }
    }
    url
}

async fn get_page(client: &reqwest::Client, url: &Url, page: usize) -> Result<Vec<u8>, SourceError> {
    let request_err = |source| SourceError::RegistryRequest { page, url: url.to_string(), source };
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(request_err)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SourceError::RegistryStatus { page, url: url.to_string(), status: status.as_u16() });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_err)? {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(SourceError::RegistryTooLarge { page, url: url.to_string(), limit: MAX_PAGE_BYTES });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One list response, its entries still raw.
pub(crate) struct ListPage {
    pub(crate) servers: Vec<Box<RawValue>>,
    pub(crate) next_cursor: Option<String>,
    pub(crate) problems: Vec<String>,
}

pub(crate) fn parse_list(body: &[u8]) -> Result<ListPage, String> {
    let fields: HashMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        let start: String =
            String::from_utf8_lossy(&body[..body.len().min(80)]).chars().filter(|c| !c.is_control()).collect();
        format!("not a JSON object ({e}); it starts with {start:?}")
    })?;
    let servers = match fields.get("servers") {
        None => return Err("the object has no `servers` array".to_string()),
        Some(raw) => serde_json::from_str::<Option<Vec<Box<RawValue>>>>(raw.get())
            .map_err(|e| format!("`servers` is not an array ({e})"))?
            .unwrap_or_default(),
    };
    let mut problems = Vec::new();
    let metadata: Value = match fields.get("metadata") {
        Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let next_cursor = match str_of(&metadata, &["nextCursor", "next_cursor"]) {
        Some("") | None => {
            let other = metadata.get("nextCursor").or_else(|| metadata.get("next_cursor"));
            if other.is_some_and(|v| !v.is_null() && !v.is_string()) {
                problems.push("`metadata.nextCursor` is not a string; stopped paging".to_string());
            }
            None
        }
        Some(c) => Some(c.to_string()),
    };
    Ok(ListPage { servers, next_cursor, problems })
}

/// Collects entries across pages, then keeps the latest version of each server.
#[derive(Default)]
struct Accumulator {
    entries: Vec<RegistryEntry>,
    deleted: Vec<(String, Option<String>)>,
    newest: Option<(Timestamp, String)>,
    problems: Vec<Problem>,
}

impl Accumulator {
    fn add(&mut self, raw: Box<RawValue>, location: String) {
        let value: Value = match serde_json::from_str(raw.get()) {
            Ok(v) => v,
            Err(e) => return self.problems.push(Problem { location, message: format!("not JSON: {e}") }),
        };
        let entry = match parse_entry(value, raw) {
            Ok(entry) => entry,
            Err(message) => return self.problems.push(Problem { location, message }),
        };
        if let Some(at) = &entry.updated_at {
            if let Some(ts) = Timestamp::parse(at) {
                if self.newest.as_ref().is_none_or(|(newest, _)| ts > *newest) {
                    self.newest = Some((ts, at.clone()));
                }
            }
        }
        if entry.status == EntryStatus::Deleted {
            self.deleted.push((entry.name, entry.version));
        } else {
            self.entries.push(entry);
        }
    }

    fn finish(self) -> RegistryListing {
        let mut order: Vec<&str> = Vec::new();
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let group = groups.entry(e.name.as_str()).or_default();
            if group.is_empty() {
                order.push(e.name.as_str());
            }
            group.push(i);
        }
        let mut keep = Vec::new();
        let mut superseded = 0;
        for name in order {
            let group = &groups[name];
            // Versions the registry says are not the latest are dropped; of the rest, the ones it
            // says are the latest win, then the highest version, then the last listed.
            let best = group.iter().copied().filter(|&i| self.entries[i].is_latest != Some(false)).max_by(|&a, &b| {
                let (ea, eb) = (&self.entries[a], &self.entries[b]);
                (ea.is_latest == Some(true))
                    .cmp(&(eb.is_latest == Some(true)))
                    .then_with(|| compare_versions(ea.version.as_deref(), eb.version.as_deref()))
                    .then(a.cmp(&b))
            });
            superseded += group.len() - usize::from(best.is_some());
            keep.extend(best);
        }
        let mut entries: Vec<Option<RegistryEntry>> = self.entries.into_iter().map(Some).collect();
        RegistryListing {
            entries: keep.into_iter().filter_map(|i| entries[i].take()).collect(),
            newest_updated_at: self.newest.map(|(_, s)| s),
            deleted: self.deleted,
            superseded,
            problems: self.problems,
            pages: 0,
            truncated: None,
        }
    }
}

/// One entry in any of the shapes (wrapped or bare, current or 2025-05).
fn parse_entry(value: Value, raw: Box<RawValue>) -> Result<RegistryEntry, String> {
    if !value.is_object() {
        return Err("the entry is not an object".to_string());
    }
    let (server, outer_meta) = match value {
        Value::Object(mut map) if map.get("server").is_some_and(Value::is_object) => {
            let meta = map.remove("_meta");
            (map.remove("server").unwrap_or(Value::Null), meta)
        }
        other => (other, None),
    };
    let name = match server.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) => return Err("the server's `name` is empty".to_string()),
        Some(_) => return Err("the server's `name` is not a string".to_string()),
        None => return Err("the server has no `name`".to_string()),
    };
    let official = outer_meta.as_ref().or_else(|| server.get("_meta")).map(official_meta).unwrap_or(Value::Null);
    let detail = server.get("version_detail").cloned().unwrap_or(Value::Null);
    let version = str_of(&server, &["version"]).or_else(|| str_of(&detail, &["version"])).filter(|v| !v.is_empty());
    let status = str_of(&official, &["status"]).or_else(|| str_of(&server, &["status"])).unwrap_or("active");
    let is_latest =
        bool_of(&official, &["isLatest", "is_latest"]).or_else(|| bool_of(&detail, &["is_latest", "isLatest"]));
    let published_at = str_of(&official, &["publishedAt", "published_at"])
        .or_else(|| str_of(&detail, &["release_date", "releaseDate"]))
        .map(str::to_string);
    let updated_at =
        str_of(&official, &["updatedAt", "updated_at"]).map(str::to_string).or_else(|| published_at.clone());
    Ok(RegistryEntry {
        version: version.map(str::to_string),
        status: EntryStatus::parse(status),
        is_latest,
        published_at,
        updated_at,
        name,
        server,
        raw,
    })
}

/// The registry's own metadata inside a `_meta` object, wrapped under its key or not.
fn official_meta(meta: &Value) -> Value {
    for key in ["io.modelcontextprotocol.registry/official", "io.modelcontextprotocol.registry"] {
        if let Some(v) = meta.get(key).filter(|v| v.is_object()) {
            return v.clone();
        }
    }
    let bare = ["status", "isLatest", "is_latest", "publishedAt", "published_at", "updatedAt", "updated_at"];
    if bare.iter().any(|k| meta.get(k).is_some()) {
        return meta.clone();
    }
    Value::Null
}

/// The targets of one registry entry: one per package, one per remote, or one `Unsupported` when
/// it lists neither. Catalog name: the registry name; version: the entry's version.
pub fn targets_of(entry: &RegistryEntry) -> Vec<Target> {
    let server = &entry.server;
    let target = |kind| Target {
        server: entry.name.clone(),
        version: entry.version.clone(),
        source: "registry".to_string(),
        kind,
    };
    let legacy = server.get("version_detail").is_some();
    let mut out = Vec::new();
    for package in array_of(server, &["packages"]) {
        out.push(target(package_kind(package, legacy)));
    }
    for remote in array_of(server, &["remotes"]) {
        out.push(target(remote_kind(remote)));
    }
    if out.is_empty() {
        out.push(target(TargetKind::Unsupported {
            reason: "the registry entry lists no packages and no remotes".to_string(),
        }));
    }
    out
}

fn package_kind(p: &Value, legacy: bool) -> TargetKind {
    let unsupported = |reason: String| TargetKind::Unsupported { reason };
    let registry_type =
        str_of(p, &["registryType", "registry_type", "registry_name"]).unwrap_or("").to_ascii_lowercase();
    let Some(identifier) = str_of(p, &["identifier", "name"]).filter(|s| !s.trim().is_empty()) else {
        return unsupported(format!("a {registry_type} package without an identifier"));
    };
    let ecosystem = match registry_type.as_str() {
        "npm" => Ecosystem::Npm,
        "pypi" => Ecosystem::Pypi,
        "oci" | "docker" => {
            return unsupported(format!("container image {identifier}: catalog launches npm and PyPI packages only"))
        }
        "nuget" => {
            return unsupported(format!("NuGet package {identifier}: catalog launches npm and PyPI packages only"))
        }
        "mcpb" => return unsupported(format!("MCPB bundle {identifier}: catalog launches npm and PyPI packages only")),
        "" => return unsupported(format!("package {identifier} has no registryType")),
        other => {
            return unsupported(format!("{other} package {identifier}: catalog launches npm and PyPI packages only"))
        }
    };
    let transport = p.get("transport").map(|t| str_of(t, &["type"]).unwrap_or("stdio")).unwrap_or("stdio");
    if !transport.eq_ignore_ascii_case("stdio") {
        let url = p.get("transport").and_then(|t| str_of(t, &["url"])).unwrap_or("?");
        return unsupported(format!(
            "package {identifier} serves {transport} on {url} once started; catalog launches stdio packages only"
        ));
    }
    // Runtime arguments are for npx/uvx/docker themselves (`-y`, `--python 3.12`); the launcher
    // picks its own, so only the package's arguments are kept.
    let mut args = Vec::new();
    for a in array_of(p, &["packageArguments", "package_arguments"]) {
        match argument_values(a, legacy) {
            Ok(values) => args.extend(values),
            Err(reason) => return TargetKind::NeedsConfig { reason: format!("package {identifier}: {reason}") },
        }
    }
    let mut env = Vec::new();
    for e in array_of(p, &["environmentVariables", "environment_variables"]) {
        let Some(name) = str_of(e, &["name"]).filter(|n| !n.is_empty()) else { continue };
        // The 2025-05 format had no `is_required`: its variables were what the server needs.
        let required = bool_of(e, &["isRequired", "is_required"]).unwrap_or(legacy);
        match fill(e) {
            Some(value) => env.push((name.to_string(), value)),
            None if required => env.push((name.to_string(), PLACEHOLDER.to_string())),
            None => {}
        }
    }
    let version =
        str_of(p, &["version"]).map(str::trim).filter(|v| !v.is_empty() && *v != "latest").map(str::to_string);
    TargetKind::Package { ecosystem, name: identifier.trim().to_string(), version, args, env }
}

/// The argv words of one `Argument`, or what is missing.
fn argument_values(a: &Value, legacy: bool) -> Result<Vec<String>, String> {
    let kind = str_of(a, &["type"]).unwrap_or("positional");
    let required = bool_of(a, &["isRequired", "is_required"]).unwrap_or(false);
    let hint = str_of(a, &["valueHint", "value_hint", "name", "description"]).unwrap_or("?");
    let words = if kind == "named" {
        let Some(flag) = str_of(a, &["name"]).filter(|n| !n.is_empty()) else {
            return Err("a named argument has no name".to_string());
        };
        match fill(a) {
            // The 2025-05 data often repeats the flag inside the value (`--directory <path>`).
            Some(value) if legacy && value.starts_with(flag) => vec![value],
            Some(value) => vec![flag.to_string(), value],
            None if required && a.get("valueHint").or_else(|| a.get("value_hint")).is_some() => {
                return Err(format!("the required argument {flag} has no value"));
            }
            None if required => vec![flag.to_string()],
            None => vec![],
        }
    } else {
        match fill(a) {
            Some(value) => vec![value],
            None if required => return Err(format!("the required argument <{hint}> has no value")),
            None => vec![],
        }
    };
    for w in &words {
        if looks_unfilled(w) {
            return Err(format!("the argument {w:?} holds a placeholder to fill in"));
        }
    }
    Ok(words)
}

fn remote_kind(r: &Value) -> TargetKind {
    let kind = str_of(r, &["type", "transport_type"]).unwrap_or("").to_ascii_lowercase();
    let transport = match kind.as_str() {
        "streamable-http" | "streamable" | "http" => RemoteTransport::Streamable,
        "sse" => RemoteTransport::Sse,
        "" => RemoteTransport::Auto,
        other => return TargetKind::Unsupported { reason: format!("remote transport {other:?} is not known") },
    };
    let Some(template) = str_of(r, &["url"]).map(str::trim).filter(|u| !u.is_empty()) else {
        return TargetKind::NeedsConfig { reason: "the remote has no URL".to_string() };
    };
    let Some(url) = resolve_template(template, r.get("variables")) else {
        let names = template_names(template).join(", ");
        return TargetKind::NeedsConfig {
            reason: format!("the URL {template} is a template: give values for {names}"),
        };
    };
    if looks_unfilled(&url) {
        return TargetKind::NeedsConfig { reason: format!("the URL {url} holds a placeholder to fill in") };
    }
    let url = match Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return TargetKind::Unsupported {
                reason: format!("the URL {url} uses {}: only http and https", u.scheme()),
            }
        }
        Err(e) => return TargetKind::NeedsConfig { reason: format!("the URL {url} is not valid ({e})") },
    };
    if let Some(host) = local_host(&url) {
        return TargetKind::NeedsConfig {
            reason: format!(
                "the URL {url} points at {host}, a local address: run the server yourself and pass its URL"
            ),
        };
    }
    let mut headers = Vec::new();
    let mut missing = Vec::new();
    for h in array_of(r, &["headers"]) {
        let Some(name) = str_of(h, &["name"]).filter(|n| !n.is_empty()) else { continue };
        match fill(h) {
            Some(value) => headers.push((name.to_string(), value)),
            None if bool_of(h, &["isRequired", "is_required"]).unwrap_or(false) => {
                let secret = if bool_of(h, &["isSecret", "is_secret"]).unwrap_or(false) { ", secret" } else { "" };
                let what = str_of(h, &["description"]).map(|d| format!(": {d}")).unwrap_or_default();
                missing.push(format!("{name} (required{secret}{what})"));
            }
            None => {}
        }
    }
    if !missing.is_empty() {
        return TargetKind::NeedsConfig { reason: format!("the remote needs headers: {}", missing.join("; ")) };
    }
    TargetKind::Remote { url, transport, headers, from_registry: true }
}

/// An `Input`'s value (its `{var}` references resolved from its `variables`), else its default.
fn fill(input: &Value) -> Option<String> {
    ["value", "default"]
        .iter()
        .filter_map(|key| str_of(input, &[key]))
        .find_map(|s| resolve_template(s, input.get("variables")))
}

/// `s` with each `{name}` replaced by that variable's value or default; `None` if one has neither.
fn resolve_template(s: &str, variables: Option<&Value>) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}');
        match end.filter(|&e| is_var_name(&after[..e])) {
            Some(e) => {
                let name = &after[..e];
                let value = variables.and_then(|v| v.get(name)).and_then(|input| {
                    ["value", "default"]
                        .iter()
                        .find_map(|k| str_of(input, &[k]))
                        .filter(|v| !template_names(v).contains(&name))
                })?;
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &after[e + 1..];
            }
            None => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

fn is_var_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn template_names(s: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}').filter(|&e| is_var_name(&after[..e])) {
            Some(e) => {
                names.push(&after[..e]);
                rest = &after[e + 1..];
            }
            None => rest = after,
        }
    }
    names
}

/// `<your-key>`, `$VAR`, `${VAR}`: text someone was meant to replace.
fn looks_unfilled(s: &str) -> bool {
    if let Some(open) = s.find('<') {
        if s[open..].contains('>') {
            return true;
        }
    }
    s.match_indices('$')
        .any(|(i, _)| s[i + 1..].chars().next().is_some_and(|c| c == '{' || c.is_ascii_uppercase() || c == '_'))
}

/// The host, when the URL points at this machine (`localhost`, loopback, unspecified).
pub(crate) fn local_host(url: &Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then_some(d)
        }
        url::Host::Ipv4(ip) => (ip.is_loopback() || ip.is_unspecified()).then(|| ip.to_string()),
        url::Host::Ipv6(ip) => (ip.is_loopback() || ip.is_unspecified()).then(|| ip.to_string()),
    }
}

fn str_of<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(k).and_then(Value::as_str))
}

fn bool_of(v: &Value, keys: &[&str]) -> Option<bool> {
    keys.iter().find_map(|k| match v.get(k)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn array_of<'a>(v: &'a Value, keys: &[&str]) -> &'a [Value] {
    keys.iter().find_map(|k| v.get(k).and_then(Value::as_array)).map(Vec::as_slice).unwrap_or(&[])
}

/// Orders versions: numeric dot-separated parts compared as numbers, a release above its
/// pre-releases, then plain text. Missing versions sort first.
fn compare_versions(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(a), Some(b)) => (a.trim_start_matches('v'), b.trim_start_matches('v')),
    };
    let split = |v: &str| -> (Vec<u64>, Option<String>) {
        let (core, pre) = match v.split_once(['-', '+']) {
            Some((c, p)) => (c.to_string(), Some(p.to_string())),
            None => (v.to_string(), None),
        };
        (core.split('.').map(|p| p.parse().unwrap_or(0)).collect(), pre)
    };
    let ((ca, pa), (cb, pb)) = (split(a), split(b));
    ca.cmp(&cb)
        .then_with(|| match (&pa, &pb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        })
        .then_with(|| a.cmp(b))
}

/// An RFC 3339 instant as (seconds since 1970, nanoseconds), for comparing `updatedAt`s written
/// with different precisions or offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timestamp(i64, u32);

impl Timestamp {
    fn parse(s: &str) -> Option<Timestamp> {
        let b = s.trim().as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(range)?;
            part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let mut digits = 0;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                if digits < 9 {
                    nanos = nanos * 10 + u32::from(d - b'0');
                    digits += 1;
                }
                i += 1;
            }
            nanos *= 10u32.pow(9 - digits);
        }
        let offset = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
                let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
                if *sign == b'+' {
                    minutes * 60
                } else {
                    -minutes * 60
                }
            }
            _ => return None,
        };
        // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(Timestamp(days * 86_400 + hour * 3600 + minute * 60 + second - offset, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_as_instants() {
        let t = |s| Timestamp::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(t("1970-01-01T00:00:00Z"), Timestamp(0, 0));
        assert!(t("2025-09-29T12:00:00.5Z") > t("2025-09-29T12:00:00Z"));
        assert!(t("2025-09-29T12:00:00.123456Z") < t("2025-09-29T12:00:01Z"));
        assert_eq!(t("2025-09-29T14:00:00+02:00"), t("2025-09-29T12:00:00Z"));
        for bad in ["", "2025", "2025-13-01T00:00:00Z", "2025-09-29T12:00:00", "yesterday", "2025-09-29T12:00:00.Zé"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_order_like_semver() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions(Some("1.7.3"), Some("1.7.2")), Greater);
        assert_eq!(compare_versions(Some("1.10.0"), Some("1.9.9")), Greater);
        assert_eq!(compare_versions(Some("1.0.0"), Some("1.0.0-rc.1")), Greater);
        assert_eq!(compare_versions(None, Some("0.0.1")), Less);
    }

    #[test]
    fn templates_resolve_from_variables() {
        let vars = serde_json::json!({"host": {"default": "eu.example.com"}, "tenant": {"description": "x"}});
        assert_eq!(resolve_template("https://{host}/mcp", Some(&vars)).as_deref(), Some("https://eu.example.com/mcp"));
        assert_eq!(resolve_template("https://{tenant}.example.com", Some(&vars)), None);
        assert_eq!(resolve_template("{\"json\": 1}", None).as_deref(), Some("{\"json\": 1}"));
        assert_eq!(resolve_template("a{b", None).as_deref(), Some("a{b"));
        assert_eq!(template_names("https://{a}.x/{b}/{"), vec!["a", "b"]);
    }

    #[test]
    fn unfilled_values_are_spotted() {
        assert!(looks_unfilled("--directory <absolute_path>"));
        assert!(looks_unfilled("$REPOSITORY_DIRECTORY"));
        assert!(looks_unfilled("${HOME}/x"));
        assert!(!looks_unfilled("--port=8080"));
        assert!(!looks_unfilled("costs $5"));
    }
}
