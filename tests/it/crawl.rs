//! `catalog crawl` end to end: real servers (server-everything from npm over stdio, Streamable
//! HTTP and SSE; a PyPI server installed and run in the sandbox), dead and hanging servers beside
//! good ones, config files, saved registry data, the seed list, and what the catalog records.

use std::path::PathBuf;

use catalog::cli::Status;
use serde_json::Value;

use crate::mcp::{node, server_everything, RealHttpServer};
use crate::util::{manifest_dir, run, write};

/// The package cache the crawl tests share, so each real package is installed once per machine.
pub(crate) fn cache_dir() -> String {
    let root = std::env::var_os("CATALOG_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/test-servers"));
    root.join("cache").to_string_lossy().into_owned()
}

fn crawl(db: &str, extra: &[&str]) -> crate::util::Run {
    let cache = cache_dir();
    let mut args = vec!["crawl", "--db", db, "--cache-dir", &cache, "--quiet", "--format", "json"];
    args.extend_from_slice(extra);
    run(&args)
}

fn server<'a>(report: &'a Value, name_part: &str) -> &'a Value {
    report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"].as_str().unwrap().contains(name_part))
        .unwrap_or_else(|| panic!("no server like {name_part} in {report:#}"))
}

fn verdict(db: &str, server: &str, tool: &str) -> Value {
    run(&["show", server, tool, "--db", db, "--format", "json"]).expect(Status::Success).json()
}

#[test]
fn server_everything_is_crawled_over_stdio_streamable_http_and_sse() {
    let Some(index) = server_everything() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (streamable, sse) = rt.block_on(async {
        (RealHttpServer::start(&index, "streamableHttp").await, RealHttpServer::start(&index, "sse").await)
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    let stdio = format!("{} {} stdio", node(), index.display());
    let http = format!("http://127.0.0.1:{}/mcp", streamable.port);
    let sse_url = format!("http://127.0.0.1:{}/sse", sse.port);
    let report = crawl(&db, &["--stdio", &stdio, "--url", &http, "--url", &sse_url]).expect(Status::Success).json();
    assert_eq!(report["outcomes"]["ok"], 3, "{report:#}");
    let counts: Vec<u64> = report["servers"].as_array().unwrap().iter().map(|s| s["tools"].as_u64().unwrap()).collect();
    assert!(counts[0] >= 10 && counts.iter().all(|c| *c == counts[0]), "{counts:?}");
    let transports: Vec<&str> =
        report["servers"].as_array().unwrap().iter().map(|s| s["transport"].as_str().unwrap()).collect();
    assert_eq!(transports, ["stdio", "streamable_http", "sse"]);

    // Verdicts are stored and searchable.
    let sum = verdict(&db, &http, "get-sum");
    assert_eq!(sum["verdict"]["category"], "read", "{sum:#}");
    let toggle = verdict(&db, &http, "toggle-simulated-logging");
    assert_ne!(toggle["verdict"]["category"], "read", "{toggle:#}");
    let hits = run(&["search", "sum of two numbers", "--db", &db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(hits["hits"].as_array().unwrap().len(), 3, "{hits:#}");
    drop((streamable, sse));
}

#[test]
fn packages_from_npm_and_pypi_are_installed_and_listed_in_the_sandbox_once() {
    if std::env::var("CATALOG_SKIP_NETWORK_TESTS").is_ok_and(|v| v == "1") || server_everything().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    let packages =
        ["--npm", "@modelcontextprotocol/server-everything@2026.8.31", "--pypi", "mcp-server-time==2026.10.19"];
    let report = crawl(&db, &packages).expect(Status::Success).json();
    assert_eq!(report["outcomes"]["ok"], 2, "{report:#}");
    let everything = server(&report, "server-everything");
    assert!(everything["tools"].as_u64().unwrap() >= 10, "{everything:#}");
    assert_eq!(everything["version"], "2026.8.31");
    let time = server(&report, "mcp-server-time");
    assert_eq!(time["tools"], 2, "{time:#}");
    let convert = verdict(&db, "mcp-server-time", "convert_time");
    assert_eq!(convert["verdict"]["category"], "read", "{convert:#}");

    // A version already in the catalog is skipped; --force crawls it again, unchanged.
    let again = crawl(&db, &packages).expect(Status::Success).json();
    assert_eq!(again["outcomes"]["skipped"], 2, "{again:#}");
    let forced = crawl(&db, &[&packages[..2], &["--force"]].concat()).expect(Status::Success).json();
    assert_eq!(forced["outcomes"]["ok"], 1, "{forced:#}");
    assert_eq!(forced["tools"]["added"], 0);
    assert_eq!(forced["tools"]["changed"], 0);
}

#[test]
fn dead_and_hanging_servers_are_recorded_and_never_stop_the_crawl() {
    let Some(index) = server_everything() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    let good = format!("{} {} stdio", node(), index.display());
    let dies = "sh -c 'echo secret-free failure >&2; exit 3'";
    let hangs = "sleep 30";
    // Nothing listens on this port: connection refused (retried, then failed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = format!("http://127.0.0.1:{port}/mcp");
    let args = ["--stdio", dies, "--stdio", hangs, "--stdio", &good, "--url", &refused, "--timeout", "3"];
    let report = crawl(&db, &args).expect(Status::Success).json();
    assert_eq!(report["outcomes"]["ok"], 1, "{report:#}");
    assert_eq!(report["outcomes"]["failed"], 3, "{report:#}");
    assert_eq!(server(&report, "exit 3")["reason"], "exited");
    assert!(server(&report, "exit 3")["error"].as_str().unwrap().contains("secret-free failure"));
    assert_eq!(server(&report, "sleep 30")["reason"], "timeout");
    assert_eq!(server(&report, &refused)["reason"], "connect");
    assert_eq!(report["failed_by_reason"]["timeout"], 1);

    // The failures are in the catalog, with the run.
    let shown = run(&["show", dies, "--db", &db, "--format", "json"]).expect(Status::Success).json();
    assert_eq!(shown["history"][0]["outcome"], "failed", "{shown:#}");
    assert!(shown["history"][0]["detail"]["stderr_tail"].as_str().unwrap().contains("secret-free failure"));

    // For CI: any failure makes the exit code 1; nothing listed at all is 2.
    let gated = crawl(&db, &["--stdio", dies, "--stdio", &good, "--fail-on-error"]);
    assert_eq!(gated.status, Status::Failure, "{}", gated.stderr);
    let nothing = crawl(&db, &["--stdio", dies]);
    assert_eq!(nothing.status, Status::Error, "{}", nothing.stderr);
    assert!(nothing.stderr.contains("no server could be listed"), "{}", nothing.stderr);
}

#[test]
fn client_config_files_are_crawled() {
    let Some(index) = server_everything() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    let config = serde_json::json!({
        "mcpServers": {
            "everything": {"command": node(), "args": [index.to_string_lossy(), "stdio"]},
            "broken": {"command": "/nonexistent/server"},
            "remote-template": {"url": "https://${TENANT}.example.com/mcp"}
        }
    });
    let path = write(dir.path(), "claude_desktop_config.json", &config.to_string());
    let report = crawl(&db, &["--config", &path]).expect(Status::Success).json();
    assert_eq!(server(&report, "everything")["outcome"], "ok", "{report:#}");
    assert_eq!(server(&report, "broken")["reason"], "spawn", "{report:#}");
    assert_eq!(server(&report, "remote-template")["outcome"], "needs_config", "{report:#}");

    // An unreadable config and nothing else to crawl: exit 2 with the file named.
    let bad = write(dir.path(), "bad.json", "{\"mcpServers\": {\"x\": ");
    let failed = crawl(&db, &["--config", &bad]);
    assert_eq!(failed.status, Status::Error);
    assert!(failed.stderr.contains("bad.json"), "{}", failed.stderr);
}

#[test]
fn saved_registry_data_and_the_seed_list_plan_real_servers() {
    let current = manifest_dir().join("../shared/data/registry/seed-2025-12-11.json");
    let plan = run(&["crawl", "--from-file", current.to_str().unwrap(), "--dry-run", "--format", "json"])
        .expect(Status::Success)
        .json();
    let kinds: Vec<&str> = plan["targets"].as_array().unwrap().iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["package", "unsupported", "package", "remote"], "{plan:#}");
    let legacy = manifest_dir().join("../shared/data/registry/seed-2025-05-16-legacy.json");
    let plan = run(&["crawl", "--from-file", legacy.to_str().unwrap(), "--dry-run", "--format", "json"])
        .expect(Status::Success)
        .json();
    let targets = plan["targets"].as_array().unwrap();
    assert!(targets.len() > 100, "{}", targets.len());
    // One target per server: the package or remote most likely to list.
    let mut names: Vec<&str> = targets.iter().map(|t| t["server"].as_str().unwrap()).collect();
    let all = names.len();
    names.dedup();
    assert_eq!(names.len(), all);
    assert!(targets.iter().filter(|t| t["target"] == "package").count() > 100);

    let seed = run(&["crawl", "--dry-run", "--format", "json"]).expect(Status::Success).json();
    let seed = seed["targets"].as_array().unwrap();
    assert!(seed.len() >= 40, "{}", seed.len());
    assert!(seed.iter().all(|t| t["target"] == "package" && t["version"].is_string()), "{seed:#?}");
}

#[test]
fn registry_urls_on_private_addresses_are_refused() {
    // A registry entry whose remote points at this machine: never contacted.
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let entry = serde_json::json!([{
        "name": "io.example/internal",
        "version": "1.0.0",
        "description": "points inside",
        "remotes": [{"type": "streamable-http", "url": format!("http://127.0.0.1:{port}/mcp")}]
    }, {
        "name": "io.example/metadata",
        "version": "1.0.0",
        "description": "cloud metadata",
        "remotes": [{"type": "streamable-http", "url": "http://169.254.169.254/latest/meta-data"}]
    }]);
    let file = write(dir.path(), "registry.json", &entry.to_string());
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    // Nothing could be listed: exit 2, with the report all the same.
    let report = crawl(&db, &["--from-file", &file, "--timeout", "5"]).expect(Status::Error).json();
    for s in report["servers"].as_array().unwrap() {
        assert!(matches!(s["outcome"].as_str(), Some("needs_config" | "failed")) && s["tools"] == 0, "{report:#}");
        if s["outcome"] == "failed" {
            assert_eq!(s["reason"], "refused_address", "{report:#}");
        }
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "the crawler connected to a private address");
}

/// A registry on loopback serving `/v0.1/servers` in three pages (current format), recording
/// every query string it was asked.
struct FakeRegistry {
    url: String,
    queries: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeRegistry {
    fn start(pages: Vec<Value>) -> FakeRegistry {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let queries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&queries);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let target = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let query = target.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
                seen.lock().unwrap().push(query.clone());
                let incremental = query.contains("updated_since");
                let page = if incremental {
                    0
                } else {
                    query.split('&').find_map(|kv| kv.strip_prefix("cursor=")).map_or(0, |c| c.parse().unwrap_or(0))
                };
                let body = if incremental {
                    serde_json::json!({"servers": [], "metadata": {"count": 0}})
                } else {
                    pages[page].clone()
                }
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeRegistry { url, queries }
    }
}

fn registry_page(server: Value, updated: &str, next: Option<&str>) -> Value {
    let meta = serde_json::json!({"io.modelcontextprotocol.registry/official": {
        "status": "active", "publishedAt": updated, "updatedAt": updated, "isLatest": true
    }});
    let mut metadata = serde_json::json!({"count": 1});
    if let Some(n) = next {
        metadata["nextCursor"] = Value::String(n.into());
    }
    serde_json::json!({"servers": [{"server": server, "_meta": meta}], "metadata": metadata})
}

#[test]
fn the_registry_is_paged_crawled_and_synced_incrementally() {
    if std::env::var("CATALOG_SKIP_NETWORK_TESTS").is_ok_and(|v| v == "1") || server_everything().is_none() {
        return;
    }
    let everything = serde_json::json!({
        "name": "io.github.modelcontextprotocol/server-everything",
        "description": "The reference test server",
        "version": "2026.8.31",
        "packages": [{"registryType": "npm", "identifier": "@modelcontextprotocol/server-everything",
                      "version": "2026.8.31", "transport": {"type": "stdio"}}]
    });
    let tenant = serde_json::json!({
        "name": "io.example/tenant",
        "description": "one URL per customer",
        "version": "1.0.0",
        "remotes": [{"type": "streamable-http", "url": "https://{tenant_id}.example.com/mcp"}]
    });
    let image = serde_json::json!({
        "name": "io.example/image",
        "description": "a container only",
        "version": "2.0.0",
        "packages": [{"registryType": "oci", "identifier": "docker.io/example/image:2.0.0", "transport": {"type": "stdio"}}]
    });
    let registry = FakeRegistry::start(vec![
        registry_page(everything, "2026-11-01T10:00:00Z", Some("1")),
        registry_page(tenant, "2026-11-02T10:00:00Z", Some("2")),
        registry_page(image, "2026-11-03T10:00:00.5Z", None),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").to_string_lossy().into_owned();
    let report = crawl(&db, &["--registry", &registry.url]).expect(Status::Success).json();
    assert_eq!(report["servers_listed"], 3, "{report:#}");
    assert_eq!(report["outcomes"]["ok"], 1, "{report:#}");
    assert_eq!(report["outcomes"]["needs_config"], 1, "{report:#}");
    assert_eq!(report["outcomes"]["unsupported"], 1, "{report:#}");
    assert!(server(&report, "server-everything")["tools"].as_u64().unwrap() >= 10);
    assert_eq!(registry.queries.lock().unwrap().len(), 3);

    // The next run asks only for what changed since the newest entry seen.
    let again = crawl(&db, &["--registry", &registry.url]);
    assert_eq!(again.status, Status::Success, "{}", again.stderr);
    let queries = registry.queries.lock().unwrap().clone();
    assert!(queries[3].contains("updated_since=2026-11-03T10%3A00%3A00.5Z"), "{queries:?}");
}

#[test]
fn progress_on_a_terminal_draws_and_finishes() {
    // `script` (util-linux) gives the real binary a pseudo-terminal, so the progress display is
    // drawn from its own thread while the crawl writes to stderr: it once deadlocked here.
    let Some(index) = server_everything() else { return };
    let Ok(script) = which("script") else {
        assert!(std::env::var_os("CI").is_none(), "`script` (util-linux) is needed on CI");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let bin = env!("CARGO_BIN_EXE_catalog");
    let inner = format!(
        "{} crawl --db {} --stdio {}",
        shlex::try_quote(bin).unwrap(),
        shlex::try_quote(db.to_str().unwrap()).unwrap(),
        shlex::try_quote(&format!("{} {} stdio", node(), index.display())).unwrap()
    );
    let mut child = std::process::Command::new(script)
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("catalog crawl on a terminal did not finish in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 server(s) in") && text.contains("1 ok"), "{text}");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file()).ok_or(())
}

#[test]
fn stdio_package_launchers_become_packages() {
    // `npx pkg` inside a sandbox without network could not download anything: it is installed
    // from the registry and launched as a package instead, like the same line in a config file.
    let plan = run(&[
        "crawl",
        "--dry-run",
        "--format",
        "json",
        "--stdio",
        "npx -y @modelcontextprotocol/server-everything@2026.8.31 stdio",
        "--stdio",
        "uvx mcp-server-time==2026.10.19",
        "--stdio",
        "node ./server.js",
    ])
    .expect(Status::Success)
    .json();
    let kinds: Vec<&str> = plan["targets"].as_array().unwrap().iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["package", "package", "command"], "{plan:#}");
}
