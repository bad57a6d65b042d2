//! `catalog::sources`: the registry (paged from a fake registry on loopback, built from the real
//! registry data in `../shared/data/registry/`), saved registry files, every client's config file,
//! config discovery and the bundled seed list.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use catalog::sources::config::{discover, discover_project, read_config};
use catalog::sources::registry::{self, fetch, read_saved, targets_of, EntryStatus, RegistryListing, RegistryQuery};
use catalog::sources::seed::{parse_seed, seed_targets, SEED_TOML};
use catalog::sources::{Ecosystem, RemoteTransport, SourceError, Target, TargetKind, PLACEHOLDER};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// A fake registry: a minimal HTTP/1.1 responder on 127.0.0.1, one response per connection.

/// What the fake registry answers: status, content type and body for a request target
/// (`/v0.1/servers?limit=100&cursor=...`).
type Responder = Arc<dyn Fn(&str) -> (u16, &'static str, String) + Send + Sync>;

struct FakeRegistry {
    base: url::Url,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRegistry {
    async fn start(respond: Responder) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let respond = respond.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    seen.lock().expect("lock").push(target.clone());
                    let (status, content_type, body) = respond(&target);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        FakeRegistry { base: url::Url::parse(&format!("http://{addr}/")).expect("url"), requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://x{target}")).ok()?;
    let value = url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    value
}

/// `../shared/data/registry/<file>`, relative to the crate root.
fn shared_registry_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/registry").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The five real server.json objects of the current (2025-12-11) seed, by name and version.
fn current_servers() -> Vec<Value> {
    serde_json::from_str(&shared_registry_file("seed-2025-12-11.json")).expect("seed is JSON")
}

fn server(name: &str, version: &str) -> Value {
    current_servers()
        .into_iter()
        .find(|s| s["name"] == name && s["version"] == version)
        .unwrap_or_else(|| panic!("{name} {version} not in the seed"))
}

/// A `ServerResponse` in the current shape.
fn wrap(server: Value, status: &str, updated_at: &str, is_latest: bool) -> Value {
    json!({
        "server": server,
        "_meta": {"io.modelcontextprotocol.registry/official": {
            "status": status, "publishedAt": "2025-12-01T00:00:00Z", "updatedAt": updated_at, "isLatest": is_latest
        }}
    })
}

fn list_page(entries: Vec<Value>, next: Option<&str>) -> String {
    json!({"servers": entries, "metadata": {"nextCursor": next, "count": 0}}).to_string()
}

/// Three pages built from the real seed, plus a deleted entry, a URL template, a required header
/// and an entry without a name.
fn three_pages() -> Responder {
    let page1 = list_page(
        vec![
            wrap(server("io.github.domdomegg/airtable-mcp-server", "1.7.2"), "active", "2025-12-02T10:00:00Z", false),
            wrap(server("io.github.domdomegg/airtable-mcp-server", "1.7.3"), "active", "2025-12-03T10:00:00.5Z", true),
        ],
        Some("cursor/one"),
    );
    let mut deleted = server("io.github.domdomegg/time-mcp-pypi", "1.0.6");
    deleted["name"] = json!("io.github.example/removed-spam");
    let page2 = list_page(
        vec![
            wrap(server("io.github.domdomegg/time-mcp-nuget", "1.0.8"), "deprecated", "2025-12-04T00:00:00Z", true),
            wrap(server("io.github.domdomegg/time-mcp-pypi", "1.0.6"), "active", "2025-12-04T00:00:00Z", true),
            json!({"server": {"description": "an entry without a name", "version": "1.0.0"}}),
            wrap(deleted, "deleted", "2025-12-09T00:00:00+01:00", true),
        ],
        Some("cursor two"),
    );
    let templated = json!({
        "name": "io.github.example/tenant-server", "description": "d", "version": "2.0.0",
        "remotes": [{"type": "streamable-http", "url": "https://{tenant_id}.mcp.example.com/mcp",
                     "variables": {"tenant_id": {"description": "your tenant", "isRequired": true}}},
                    {"type": "sse", "url": "https://{region}.mcp.example.com/sse",
                     "variables": {"region": {"default": "eu"}}}]
    });
    let with_header = json!({
        "name": "io.github.example/keyed-server", "description": "d", "version": "0.3.0",
        "remotes": [{"type": "streamable-http", "url": "https://keyed.example.com/mcp",
                     "headers": [{"name": "Authorization", "description": "Bearer token", "isRequired": true, "isSecret": true},
                                 {"name": "X-Client", "value": "catalog"}]}]
    });
    let page3 = list_page(
        vec![
            wrap(server("io.github.getcyphrex/cyphrex-mcp", "0.1.0"), "active", "2025-12-08T23:30:00Z", true),
            wrap(templated, "active", "2025-12-05T00:00:00Z", true),
            wrap(with_header, "active", "2025-12-05T00:00:00Z", true),
        ],
        None,
    );
    Arc::new(move |target: &str| match query_param(target, "cursor").as_deref() {
        None => (200, "application/json", page1.clone()),
        Some("cursor/one") => (200, "application/json", page2.clone()),
        Some("cursor two") => (200, "application/json", page3.clone()),
        Some(_) => (400, "application/json", "{}".to_string()),
    })
}

fn entry<'a>(listing: &'a RegistryListing, name: &str) -> &'a registry::RegistryEntry {
    listing.entries.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name} missing"))
}

fn kinds(targets: &[Target]) -> Vec<&'static str> {
    targets.iter().map(|t| t.kind.kind()).collect()
}

fn reason(kind: &TargetKind) -> &str {
    match kind {
        TargetKind::NeedsConfig { reason } | TargetKind::Unsupported { reason } => reason,
        other => panic!("expected a reason, got {other:?}"),
    }
}

#[tokio::test]
async fn registry_pages_are_followed_and_mapped() {
    let fake = FakeRegistry::start(three_pages()).await;
    let q = RegistryQuery {
        base: fake.base.clone(),
        updated_since: Some("2025-12-01T00:00:00Z".to_string()),
        ..RegistryQuery::default()
    };
    let mut progress = Vec::new();
    let listing = fetch(&client(), &q, |n| progress.push(n)).await.expect("fetch");

    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for r in &requests {
        assert!(r.starts_with("/v0.1/servers?"), "{r}");
        assert_eq!(query_param(r, "limit").as_deref(), Some("100"));
        assert_eq!(query_param(r, "updated_since").as_deref(), Some("2025-12-01T00:00:00Z"));
    }
    assert_eq!(query_param(&requests[1], "cursor").as_deref(), Some("cursor/one"));
    assert_eq!(query_param(&requests[2], "cursor").as_deref(), Some("cursor two"));
    assert_eq!(progress, vec![2, 6, 9]);
    assert_eq!(listing.pages, 3);
    assert_eq!(listing.truncated, None);

    let names: Vec<&str> = listing.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "io.github.domdomegg/airtable-mcp-server",
            "io.github.domdomegg/time-mcp-nuget",
            "io.github.domdomegg/time-mcp-pypi",
            "io.github.getcyphrex/cyphrex-mcp",
            "io.github.example/tenant-server",
            "io.github.example/keyed-server",
        ]
    );
    assert_eq!(listing.superseded, 1);
    assert_eq!(listing.deleted, vec![("io.github.example/removed-spam".to_string(), Some("1.0.6".to_string()))]);
    assert_eq!(listing.problems.len(), 1, "{:?}", listing.problems);
    assert_eq!(listing.problems[0].location, "page 2, servers[2]");
    // The deleted entry's 2025-12-09T00:00:00+01:00 is 23:00Z, older than cyphrex's 23:30Z: the
    // instants are compared, not the text.
    assert_eq!(listing.newest_updated_at.as_deref(), Some("2025-12-08T23:30:00Z"));

    let airtable = entry(&listing, "io.github.domdomegg/airtable-mcp-server");
    assert_eq!(airtable.version.as_deref(), Some("1.7.3"));
    assert_eq!(airtable.is_latest, Some(true));
    assert_eq!(entry(&listing, "io.github.domdomegg/time-mcp-nuget").status, EntryStatus::Deprecated);

    // Packages: npm with its required secret as a placeholder; OCI and MCPB unsupported.
    let targets = targets_of(airtable);
    assert_eq!(kinds(&targets), ["package", "unsupported", "unsupported"]);
    assert_eq!(
        targets[0],
        Target {
            server: "io.github.domdomegg/airtable-mcp-server".to_string(),
            version: Some("1.7.3".to_string()),
            source: "registry".to_string(),
            kind: TargetKind::Package {
                ecosystem: Ecosystem::Npm,
                name: "airtable-mcp-server".to_string(),
                version: Some("1.7.3".to_string()),
                args: vec![],
                env: vec![("AIRTABLE_API_KEY".to_string(), PLACEHOLDER.to_string())],
            },
        }
    );
    assert_eq!(targets[0].placeholders(), ["AIRTABLE_API_KEY"]);
    assert!(reason(&targets[1].kind).contains("docker.io/domdomegg/airtable-mcp-server:1.7.3"));
    assert!(reason(&targets[2].kind).contains("MCPB"));

    let nuget = targets_of(entry(&listing, "io.github.domdomegg/time-mcp-nuget"));
    assert!(reason(&nuget[0].kind).contains("NuGet"), "{nuget:?}");
    let pypi = targets_of(entry(&listing, "io.github.domdomegg/time-mcp-pypi"));
    assert!(
        matches!(&pypi[..], [Target { kind: TargetKind::Package { ecosystem: Ecosystem::Pypi, name, version: Some(v), .. }, .. }]
            if name == "time-mcp-pypi" && v == "1.0.6"),
        "{pypi:?}"
    );

    // Remotes: Streamable HTTP from the registry; templates and required headers need config.
    let cyphrex = targets_of(entry(&listing, "io.github.getcyphrex/cyphrex-mcp"));
    assert_eq!(
        cyphrex[0].kind,
        TargetKind::Remote {
            url: url::Url::parse("https://mcp.cyphrex.io/mcp").expect("url"),
            transport: RemoteTransport::Streamable,
            headers: vec![],
            from_registry: true,
        }
    );
    let tenant = targets_of(entry(&listing, "io.github.example/tenant-server"));
    assert_eq!(kinds(&tenant), ["needs_config", "remote"]);
    assert!(reason(&tenant[0].kind).contains("tenant_id"), "{tenant:?}");
    assert!(
        matches!(&tenant[1].kind, TargetKind::Remote { url, transport: RemoteTransport::Sse, .. } if url.as_str() == "https://eu.mcp.example.com/sse")
    );
    let keyed = targets_of(entry(&listing, "io.github.example/keyed-server"));
    assert_eq!(kinds(&keyed), ["needs_config"]);
    let why = reason(&keyed[0].kind);
    assert!(why.contains("Authorization") && why.contains("secret") && !why.contains("X-Client"), "{why}");
}

#[tokio::test]
async fn a_repeated_cursor_stops_paging() {
    let page = list_page(
        vec![wrap(server("io.github.getcyphrex/cyphrex-mcp", "0.1.0"), "active", "2025-12-08T00:00:00Z", true)],
        Some("again"),
    );
    let fake = FakeRegistry::start(Arc::new(move |_: &str| (200, "application/json", page.clone()))).await;
    let q = RegistryQuery { base: fake.base.clone(), ..RegistryQuery::default() };
    let listing = fetch(&client(), &q, |_| {}).await.expect("fetch");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(listing.pages, 2);
    assert!(listing.truncated.as_deref().is_some_and(|t| t.contains("cursor")), "{:?}", listing.truncated);
    assert!(listing.problems.iter().any(|p| p.message.contains("repeated the cursor")));
    // The same server on both pages is one entry.
    assert_eq!(listing.entries.len(), 1);
}

#[tokio::test]
async fn the_page_cap_and_max_servers_stop_paging() {
    let counter = Arc::new(Mutex::new(0usize));
    let fake = FakeRegistry::start(Arc::new(move |_: &str| {
        let mut n = counter.lock().expect("lock");
        *n += 1;
        let mut s = server("io.github.domdomegg/time-mcp-pypi", "1.0.6");
        s["name"] = json!(format!("io.github.example/server-{n}"));
        (
            200,
            "application/json",
            list_page(vec![wrap(s, "active", "2025-12-08T00:00:00Z", true)], Some(&format!("c{n}"))),
        )
    }))
    .await;
    let capped = RegistryQuery { base: fake.base.clone(), max_pages: 3, ..RegistryQuery::default() };
    let listing = fetch(&client(), &capped, |_| {}).await.expect("fetch");
    assert_eq!((listing.pages, listing.entries.len()), (3, 3));
    assert!(listing.truncated.as_deref().is_some_and(|t| t.contains("page cap")));

    let few = RegistryQuery { base: fake.base.clone(), max_servers: Some(2), ..RegistryQuery::default() };
    let listing = fetch(&client(), &few, |_| {}).await.expect("fetch");
    assert_eq!(listing.entries.len(), 2);
    assert!(listing.truncated.is_some());
}

#[tokio::test]
async fn a_page_that_is_not_json_is_an_error_naming_it() {
    let page1 = list_page(
        vec![wrap(server("io.github.getcyphrex/cyphrex-mcp", "0.1.0"), "active", "2025-12-08T00:00:00Z", true)],
        Some("next"),
    );
    let fake = FakeRegistry::start(Arc::new(move |target: &str| match query_param(target, "cursor") {
        None => (200, "application/json", page1.clone()),
        Some(_) => (200, "text/html", "<html><body>maintenance</body></html>".to_string()),
    }))
    .await;
    let q = RegistryQuery { base: fake.base.clone(), ..RegistryQuery::default() };
    let err = fetch(&client(), &q, |_| {}).await.expect_err("page 2 is HTML");
    assert!(matches!(err, SourceError::RegistryPage { page: 2, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("page 2") && text.contains("cursor=next") && text.contains("<html>"), "{text}");
}

#[tokio::test]
async fn an_http_error_names_the_page_and_status() {
    let fake = FakeRegistry::start(Arc::new(|_: &str| (503, "text/plain", "busy".to_string()))).await;
    let q = RegistryQuery { base: fake.base.clone(), search: Some("time server".into()), ..RegistryQuery::default() };
    let err = fetch(&client(), &q, |_| {}).await.expect_err("503");
    assert!(matches!(err, SourceError::RegistryStatus { page: 1, status: 503, .. }), "{err:?}");
    assert_eq!(query_param(&fake.requests()[0], "search").as_deref(), Some("time server"));
}

#[test]
fn the_legacy_2025_05_file_reads_with_read_saved() {
    let listing = read_saved(&shared_registry_file("seed-2025-05-16-legacy.json")).expect("legacy file");
    // 471 entries; 7 have an empty name and are problems; the other 464 names are unique.
    assert_eq!(listing.entries.len(), 464);
    assert_eq!(listing.problems.len(), 7, "{:?}", listing.problems.first());
    assert!(listing.problems.iter().all(|p| p.message.contains("name")));
    assert_eq!(listing.newest_updated_at.as_deref().map(|s| &s[..4]), Some("2025"));

    let magic = entry(&listing, "io.github.21st-dev/magic-mcp");
    assert_eq!(magic.version.as_deref(), Some("0.0.1-seed"));
    assert_eq!(magic.is_latest, Some(true));
    assert_eq!(
        targets_of(magic)[0].kind,
        TargetKind::Package {
            ecosystem: Ecosystem::Npm,
            name: "@21st-dev/magic".to_string(),
            version: Some("0.0.46".to_string()),
            args: vec![],
            env: vec![("API_KEY".to_string(), PLACEHOLDER.to_string())],
        }
    );

    let all: Vec<Target> = listing.entries.iter().flat_map(targets_of).collect();
    let count = |f: &dyn Fn(&TargetKind) -> bool| all.iter().filter(|t| f(&t.kind)).count();
    assert!(count(&|k| matches!(k, TargetKind::Package { ecosystem: Ecosystem::Npm, .. })) >= 70);
    assert!(count(&|k| matches!(k, TargetKind::Package { ecosystem: Ecosystem::Pypi, .. })) >= 40);
    assert!(count(&|k| matches!(k, TargetKind::Unsupported { reason } if reason.contains("container"))) >= 20);
    // Cloudflare's public SSE remotes are remotes; localhost examples and `<YOUR_TOKEN>` URLs need config.
    let remotes: Vec<&Target> = all.iter().filter(|t| matches!(t.kind, TargetKind::Remote { .. })).collect();
    assert!(remotes.iter().any(|t| matches!(&t.kind,
        TargetKind::Remote { url, transport: RemoteTransport::Sse, from_registry: true, .. } if url.host_str() == Some("observability.mcp.cloudflare.com"))));
    assert!(remotes
        .iter()
        .all(|t| !matches!(&t.kind, TargetKind::Remote { url, .. } if url.host_str() == Some("localhost"))));
    assert!(count(&|k| matches!(k, TargetKind::NeedsConfig { reason } if reason.contains("local address"))) >= 4);
    assert!(count(&|k| matches!(k, TargetKind::NeedsConfig { reason } if reason.contains("<YOUR_TOKEN>"))) >= 1);
    // Legacy arguments with `<path>` or `$VAR` placeholders need config.
    assert!(count(&|k| matches!(k, TargetKind::NeedsConfig { reason } if reason.contains("placeholder"))) >= 2);
}

#[test]
fn saved_data_in_every_shape() {
    let seed = current_servers();
    // An array of bare server.json: no isLatest, so the highest version of airtable wins.
    let listing = read_saved(&Value::Array(seed.clone()).to_string()).expect("array");
    assert_eq!(listing.entries.len(), 4);
    assert_eq!(listing.superseded, 1);
    assert_eq!(entry(&listing, "io.github.domdomegg/airtable-mcp-server").version.as_deref(), Some("1.7.3"));
    // One server.json; one wrapped entry; a list response with snake_case next_cursor; wrapped array.
    let one = read_saved(&seed[4].to_string()).expect("one");
    assert_eq!(one.entries[0].name, "io.github.getcyphrex/cyphrex-mcp");
    let wrapped = wrap(seed[3].clone(), "active", "2025-12-01T00:00:00Z", true);
    assert_eq!(read_saved(&wrapped.to_string()).expect("wrapped").entries.len(), 1);
    let list = json!({"servers": [wrapped.clone()], "metadata": {"next_cursor": "x", "count": 1}});
    assert_eq!(read_saved(&list.to_string()).expect("list").entries.len(), 1);
    let deleted = wrap(seed[2].clone(), "deleted", "2025-12-01T00:00:00Z", true);
    let listing = read_saved(&json!([wrapped, deleted]).to_string()).expect("wrapped array");
    assert_eq!((listing.entries.len(), listing.deleted.len()), (1, 1));
    // `_meta` without the official wrapper (as one registry document shows it).
    let bare_meta = json!({"server": seed[4], "_meta": {"status": "deprecated", "isLatest": true}});
    assert_eq!(read_saved(&bare_meta.to_string()).expect("bare meta").entries[0].status, EntryStatus::Deprecated);

    // Broken input says where, or what shape was expected.
    let err = read_saved("[{\"name\": \"a/b\",]").expect_err("syntax");
    assert!(matches!(err, SourceError::SavedSyntax { line: 1, .. }), "{err:?}");
    assert!(matches!(read_saved("{\"tools\": []}"), Err(SourceError::SavedShape { .. })));
    assert!(matches!(read_saved("42"), Err(SourceError::SavedShape { .. })));
    // Odd entries are problems, never panics.
    let odd = json!([1, null, {"name": 5}, {"server": {"name": "a/b", "packages": "no", "remotes": [7, {"type": "carrier-pigeon"}]}}]);
    let listing = read_saved(&odd.to_string()).expect("odd entries");
    assert_eq!((listing.entries.len(), listing.problems.len()), (1, 3));
    assert_eq!(kinds(&targets_of(&listing.entries[0])), ["needs_config", "unsupported"]);
}

// ---------------------------------------------------------------------------------------------
// Client config files.

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources").join(name)
}

fn read(name: &str) -> Vec<Target> {
    read_config(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn by_name<'a>(targets: &'a [Target], name: &str) -> &'a TargetKind {
    &targets.iter().find(|t| t.server == name).unwrap_or_else(|| panic!("{name} missing from {targets:#?}")).kind
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn remote(url: &str, transport: RemoteTransport, headers: &[(&str, &str)]) -> TargetKind {
    TargetKind::Remote {
        url: url::Url::parse(url).expect("url"),
        transport,
        headers: pairs(headers),
        from_registry: false,
    }
}

fn npm(name: &str, version: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> TargetKind {
    package(Ecosystem::Npm, name, version, args, env)
}

fn pypi(name: &str, version: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> TargetKind {
    package(Ecosystem::Pypi, name, version, args, env)
}

fn package(ecosystem: Ecosystem, name: &str, version: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> TargetKind {
    TargetKind::Package {
        ecosystem,
        name: name.to_string(),
        version: version.map(str::to_string),
        args: strings(args),
        env: pairs(env),
    }
}

#[test]
fn claude_desktop_config() {
    let targets = read("claude_desktop_config.json");
    let source = format!("config:{}", fixture("claude_desktop_config.json").display());
    assert!(targets.iter().all(|t| t.source == source));
    let names: Vec<&str> = targets.iter().map(|t| t.server.as_str()).collect();
    assert_eq!(names, ["broken-args", "filesystem", "github", "linear-remote", "local-script", "not-an-object"]);
    assert_eq!(
        by_name(&targets, "filesystem"),
        &npm("@modelcontextprotocol/server-filesystem", Some("2026.8.31"), &["/Users/me/Desktop"], &[])
    );
    assert_eq!(targets[1].version.as_deref(), Some("2026.8.31"));
    // `${GITHUB_TOKEN}` is a placeholder, never our environment's value; numbers become text.
    assert_eq!(
        by_name(&targets, "github"),
        &npm(
            "@modelcontextprotocol/server-github",
            None,
            &[],
            &[("GITHUB_PERSONAL_ACCESS_TOKEN", PLACEHOLDER), ("LOG_LEVEL", "debug"), ("RETRIES", "3")]
        )
    );
    assert_eq!(targets[2].placeholders(), ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
    // A configured secret (here a `..._KEY`) never reaches the crawled server: a placeholder.
    assert_eq!(
        by_name(&targets, "local-script"),
        &TargetKind::Command {
            program: "/usr/local/bin/node".to_string(),
            args: strings(&["/opt/servers/weather/index.js", "--verbose"]),
            env: pairs(&[("WEATHER_KEY", PLACEHOLDER)]),
        }
    );
    assert_eq!(by_name(&targets, "linear-remote"), &remote("https://mcp.linear.app/sse", RemoteTransport::Auto, &[]));
    assert!(reason(by_name(&targets, "broken-args")).contains("args"));
    assert!(reason(by_name(&targets, "not-an-object")).contains("not an object"));
}

#[test]
fn cursor_config() {
    let targets = read("cursor-mcp.json");
    assert_eq!(
        by_name(&targets, "time"),
        &pypi("mcp-server-time", Some("2026.10.19"), &["--local-timezone", "Europe/Paris"], &[])
    );
    assert_eq!(
        by_name(&targets, "docs"),
        &remote(
            "https://docs.example.com/mcp",
            RemoteTransport::Auto,
            &[("Authorization", &format!("Bearer {PLACEHOLDER}")), ("X-Team", "blue")]
        )
    );
    assert_eq!(by_name(&targets, "events"), &remote("https://events.example.com/sse", RemoteTransport::Sse, &[]));
    assert!(reason(by_name(&targets, "nothing")).contains("neither"));
}

#[test]
fn vscode_settings_and_mcp_json() {
    let settings = read("vscode-settings.json");
    assert_eq!(settings.len(), 2);
    assert_eq!(
        by_name(&settings, "perplexity"),
        &npm("@perplexity-ai/mcp-server", Some("1.2.1"), &[], &[("PERPLEXITY_API_KEY", PLACEHOLDER)])
    );
    assert!(reason(by_name(&settings, "tenant-api")).contains("variable"));

    let mcp = read("vscode-mcp.json");
    assert_eq!(
        by_name(&mcp, "github-remote"),
        &remote(
            "https://api.githubcopilot.com/mcp/",
            RemoteTransport::Auto,
            &[("Authorization", &format!("Bearer {PLACEHOLDER}"))]
        )
    );
    assert_eq!(by_name(&mcp, "fetch"), &pypi("mcp-server-fetch", None, &[], &[]));
    assert_eq!(
        by_name(&mcp, "streamable"),
        &remote("https://stream.example.com/mcp", RemoteTransport::Streamable, &[])
    );
}

#[test]
fn claude_code_with_projects() {
    let targets = read("claude.json");
    // The user-level and the project-level `sentry` are the same target: kept once.
    let names: Vec<&str> = targets.iter().map(|t| t.server.as_str()).collect();
    assert_eq!(names, ["sentry", "db", "playwright"]);
    assert_eq!(by_name(&targets, "sentry"), &remote("https://mcp.sentry.dev/mcp", RemoteTransport::Auto, &[]));
    // `${PGPORT:-5432}` takes its default.
    assert_eq!(
        by_name(&targets, "db"),
        &npm("@modelcontextprotocol/server-postgres", Some("0.6.2"), &["postgresql://localhost:5432/api"], &[])
    );
    assert_eq!(by_name(&targets, "playwright"), &npm("@playwright/mcp", Some("0.0.83"), &["--headless"], &[]));
}

#[test]
fn windsurf_server_url() {
    let targets = read("windsurf-mcp_config.json");
    assert_eq!(targets.len(), 3, "the disabled entry is left out");
    assert_eq!(
        by_name(&targets, "hosted"),
        &remote("https://mcp.hosted.example.com/mcp", RemoteTransport::Auto, &[("API_KEY", PLACEHOLDER)])
    );
    assert_eq!(by_name(&targets, "fetch-pipx"), &pypi("mcp-server-fetch", Some("2026.10.24"), &[], &[]));
    assert_eq!(
        by_name(&targets, "gemini-style"),
        &remote("https://gemini.example.com/mcp", RemoteTransport::Streamable, &[])
    );
}

#[test]
fn zed_context_servers() {
    let targets = read("zed-settings.json");
    let names: Vec<&str> = targets.iter().map(|t| t.server.as_str()).collect();
    assert_eq!(names, ["from-extension", "legacy-shape", "memory", "remote"]);
    assert_eq!(by_name(&targets, "memory"), &npm("@modelcontextprotocol/server-memory", Some("2026.8.31"), &[], &[]));
    assert_eq!(
        by_name(&targets, "legacy-shape"),
        &pypi("mcp-server-git", Some("2026.10.19"), &["--repository", "/home/me/src"], &[("GIT_AUTHOR", "me")])
    );
    assert!(
        matches!(by_name(&targets, "from-extension"), TargetKind::Unsupported { reason } if reason.contains("extension"))
    );
    assert_eq!(
        by_name(&targets, "remote"),
        &remote("https://zed-remote.example.com/mcp", RemoteTransport::Auto, &[("Authorization", "Bearer literal")])
    );
}

#[test]
fn jsonc_comments_and_trailing_commas() {
    let targets = read("jsonc-everything.json");
    assert_eq!(
        targets[0].kind,
        npm(
            "@modelcontextprotocol/server-everything",
            Some("2026.8.31"),
            &[],
            &[("NOT_A_COMMENT", "/* kept */"), ("URL_WITH_SLASHES", "https://example.com//path")]
        )
    );
}

#[test]
fn a_broken_config_names_the_file_and_position() {
    let path = fixture("broken.json");
    let err = read_config(&path).expect_err("broken");
    assert!(matches!(err, SourceError::ConfigSyntax { line: 4, column: 31, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("broken.json") && text.contains("line 4, column 31"), "{text}");

    let missing = read_config(&fixture("no-such-file.json")).expect_err("missing");
    assert!(matches!(missing, SourceError::Read { .. }) && missing.to_string().contains("no-such-file.json"));

    let dir = tempfile::tempdir().expect("tempdir");
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, "[1, 2]").expect("write");
    assert!(matches!(read_config(&odd), Err(SourceError::ConfigShape { .. })));
    std::fs::write(&odd, r#"{"mcpServers": ["not", "a", "map"]}"#).expect("write");
    assert!(read_config(&odd).expect_err("shape").to_string().contains("mcpServers"));
    std::fs::write(&odd, r#"{"editor.fontSize": 12}"#).expect("write");
    assert_eq!(read_config(&odd).expect("no servers"), vec![]);
}

#[test]
fn discover_finds_each_clients_files() {
    let home = tempfile::tempdir().expect("tempdir");
    let files = [
        "Library/Application Support/Claude/claude_desktop_config.json",
        ".config/Claude/claude_desktop_config.json",
        ".cursor/mcp.json",
        ".config/Code/User/settings.json",
        ".config/Code/User/mcp.json",
        ".claude.json",
        ".codeium/windsurf/mcp_config.json",
        ".config/zed/settings.json",
    ];
    for f in files {
        let path = home.path().join(f);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{}").expect("write");
    }
    // A directory where a file is expected is not a config file.
    std::fs::create_dir_all(home.path().join(".copilot/mcp-config.json")).expect("mkdir");
    let found = discover(home.path());
    let mut expected: Vec<PathBuf> = files.iter().map(|f| home.path().join(f)).collect();
    expected.sort();
    let mut got = found.clone();
    got.sort();
    assert_eq!(got, expected);
    assert!(discover(&home.path().join("nowhere")).is_empty());

    let project = tempfile::tempdir().expect("tempdir");
    for f in [".vscode/mcp.json", ".mcp.json"] {
        let path = project.path().join(f);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{}").expect("write");
    }
    assert_eq!(
        discover_project(project.path()),
        vec![project.path().join(".vscode/mcp.json"), project.path().join(".mcp.json")]
    );
}

// ---------------------------------------------------------------------------------------------
// The seed list.

#[test]
fn the_seed_list_is_real_pinned_and_unique() {
    let servers = parse_seed(SEED_TOML).expect("data/servers.toml parses and passes its checks");
    assert!(servers.len() >= 40, "only {} seed servers", servers.len());
    let mut names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), servers.len(), "duplicate names");
    for s in &servers {
        let v = &s.version;
        assert!(
            v.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !v.contains(['^', '~', '>', '<', '=', '*', ' ', '|'])
                && !v.eq_ignore_ascii_case("latest")
                && v.split('.').count() >= 2,
            "{}: version {v:?} is not pinned exactly",
            s.name
        );
        assert!(matches!(s.ecosystem.as_str(), "npm" | "pypi"), "{}", s.name);
        for value in s.env.values() {
            assert!(!value.is_empty(), "{}: empty env value", s.name);
        }
    }
    for eco in ["npm", "pypi"] {
        assert!(servers.iter().filter(|s| s.ecosystem == eco).count() >= 15, "too few {eco} servers");
    }

    let targets = seed_targets().expect("seed targets");
    assert_eq!(targets.len(), servers.len());
    for t in &targets {
        assert_eq!(t.source, "seed");
        assert!(
            matches!(&t.kind, TargetKind::Package { version: Some(v), .. } if Some(v) == t.version.as_ref()),
            "{t:?}"
        );
    }
    let filesystem =
        targets.iter().find(|t| t.server == "io.github.modelcontextprotocol/server-filesystem").expect("filesystem");
    assert!(matches!(&filesystem.kind, TargetKind::Package { args, .. } if args == &["/tmp"]));
    let brave = targets.iter().find(|t| t.server.ends_with("/server-brave-search")).expect("brave");
    assert_eq!(brave.placeholders(), ["BRAVE_API_KEY"]);
}

#[test]
fn seed_problems_are_all_reported() {
    let bad = r#"
        [[server]]
        name = "a.b/one"
        ecosystem = "npm"
        package = "one"
        version = "^1.0.0"

        [[server]]
        name = "a.b/one"
        ecosystem = "cargo"
        package = "two"
        version = "latest"
    "#;
    let err = parse_seed(bad).expect_err("bad seed").to_string();
    for expected in
        ["\"^1.0.0\" is not an exact version", "duplicate name", "\"cargo\" is not npm or pypi", "\"latest\""]
    {
        assert!(err.contains(expected), "{expected} missing from: {err}");
    }
    let unknown =
        "[[server]]\nname = \"a.b/c\"\necosystem = \"npm\"\npackage = \"c\"\nversion = \"1.0.0\"\nsecret = \"x\"\n";
    assert!(parse_seed(unknown).expect_err("unknown field").to_string().contains("secret"));
}
