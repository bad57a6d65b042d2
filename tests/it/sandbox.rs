//! What a launched server can reach, measured from inside by a probe server
//! (`tests/it/mcp/probe_server.py`) crawled through the real binary: as a `--stdio` command and
//! as a client config's command, in the sandbox and with `--no-sandbox`. The probe tries the
//! network (a loopback port of the host), a file in the caller's home, a write outside its
//! scratch directory, the caller's and the config's secrets, and leaving a daemon behind.
//! Also: the one-line preflight and exit 2 where bubblewrap is missing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::launch::python;
use crate::util::{manifest_dir, write};

/// The caller's secret in its own environment, and the one written in the client config.
const CALLER_SECRET: &str = "hunter2-caller-secret";
const CONFIG_SECRET: &str = "ghp_configuredsecret0123456789";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Everything one probe run needs: a caller's home with a canary, a directory outside the
/// scratch to write to, a loopback listener, and the probe script in a directory of its own.
struct Setup {
    root: tempfile::TempDir,
    listener: std::net::TcpListener,
    marker: String,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "outside", "probe", "work"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("home/canary.txt"), "the caller's private file").unwrap();
        let probe = std::fs::read_to_string(manifest_dir().join("tests/it/mcp/probe_server.py")).unwrap();
        std::fs::write(root.path().join("probe/probe.py"), probe).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let marker = format!("catalog-probe-daemon-{tag}-{}", std::process::id());
        Setup { root, listener, marker }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    /// The probe's arguments after the script.
    fn probe_args(&self) -> Vec<String> {
        let port = self.listener.local_addr().unwrap().port().to_string();
        [
            ("--port", port),
            ("--canary", hex(&self.path("home/canary.txt").to_string_lossy())),
            ("--write", hex(&self.path("outside").to_string_lossy())),
            ("--marker", self.marker.clone()),
            ("--secret", hex(CONFIG_SECRET)),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// Runs `catalog crawl ARGS` from the probe's directory as a caller whose HOME is `home` and
    /// whose environment holds a secret; returns the crawl report and its stderr.
    fn crawl(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let db = self.path("work/c.db");
        let out = Command::new(env!("CARGO_BIN_EXE_catalog"))
            .arg("crawl")
            .args(["--db", db.to_str().unwrap(), "--quiet", "--format", "json", "--timeout", "20"])
            .args(["--cache-dir", self.path("work/cache").to_str().unwrap()])
            .args(args)
            .current_dir(self.path("probe"))
            .env("HOME", self.path("home"))
            .env("CATALOG_TEST_SECRET", CALLER_SECRET)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (out.status.code(), report, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// What the probe found, from its stored tool.
    fn findings(&self, server: &str) -> Value {
        let db = self.path("work/c.db");
        let out = Command::new(env!("CARGO_BIN_EXE_catalog"))
            .args(["show", server, "probe", "--db", db.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        serde_json::from_str(shown["definition"]["description"].as_str().unwrap()).unwrap()
    }

    fn connected(&self) -> bool {
        self.listener.accept().is_ok()
    }

    /// Whether the probe's daemon is still running, a moment after the crawl ended.
    fn daemon_alive(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let alive = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| c.windows(self.marker.len()).any(|w| w == self.marker.as_bytes()))
            });
            if !alive || Instant::now() > deadline {
                return alive;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills a daemon the test itself left (only when an assertion is about to fail).
    fn cleanup(&self) {
        let _ = Command::new("pkill").args(["-f", &self.marker]).status();
    }
}

/// The probe as one `--stdio` command line, run from its own directory.
fn stdio_line(setup: &Setup) -> String {
    let mut line = vec![python(), "probe.py".to_string()];
    line.extend(setup.probe_args());
    line.iter().map(|w| shlex::try_quote(w).unwrap().into_owned()).collect::<Vec<_>>().join(" ")
}

/// One row of the figures table.
struct Row {
    kind: &'static str,
    sandbox: bool,
    network: String,
    home: String,
    write: String,
    secrets: String,
    daemon: String,
}

fn short(v: &Value) -> String {
    v.as_str().unwrap_or_default().split(':').next().unwrap_or_default().to_string()
}

/// Crawls the probe one way and measures it.
fn measure(kind: &'static str, sandbox: bool) -> (Row, Value) {
    let setup = Setup::new(&format!("{kind}-{sandbox}"));
    let (server, report, stderr) = match kind {
        "stdio" => {
            let cmd = stdio_line(&setup);
            let mut args = vec!["--stdio", &cmd];
            if !sandbox {
                args.push("--no-sandbox");
            }
            let (code, report, stderr) = setup.crawl(&args);
            assert_eq!(code, Some(0), "{report:#}\n{stderr}");
            (cmd.clone(), report, stderr)
        }
        _ => {
            let mut probe_args = vec![setup.path("probe/probe.py").to_string_lossy().into_owned()];
            probe_args.extend(setup.probe_args());
            let config = serde_json::json!({"mcpServers": {"probe": {
                "command": python(), "args": probe_args,
                "env": {"GITHUB_TOKEN": CONFIG_SECRET, "LOG_LEVEL": "debug"}
            }}});
            let path = write(&setup.path("work"), "mcp.json", &config.to_string());
            let mut args = vec!["--config", path.as_str()];
            if !sandbox {
                args.push("--no-sandbox");
            }
            let (code, report, stderr) = setup.crawl(&args);
            assert_eq!(code, Some(0), "{report:#}\n{stderr}");
            ("probe".to_string(), report, stderr)
        }
    };
    if !sandbox {
        assert!(stderr.contains("warning: --no-sandbox"), "{stderr}");
    }
    let found = setup.findings(&server);
    let alive = setup.daemon_alive();
    if alive {
        setup.cleanup();
    }
    let wrote = setup.path("outside/written-by-probe").exists();
    assert_eq!(wrote, found["write"] == "written", "{found:#}");
    let row = Row {
        kind,
        sandbox,
        network: if setup.connected() { "open".into() } else { short(&found["network"]) },
        home: short(&found["home"]),
        write: short(&found["write"]),
        secrets: short(&found["secrets"]),
        daemon: if alive { "survived".into() } else { "killed".into() },
    };
    let launch = report["servers"][0]["launch"].clone();
    (row, launch)
}

#[test]
fn launched_commands_are_confined_and_the_protections_recorded() {
    let mut rows = Vec::new();
    for kind in ["stdio", "config"] {
        for sandbox in [true, false] {
            let (row, launch) = measure(kind, sandbox);
            // Whatever the mode: no secret of the caller's or the config's, and no daemon left.
            assert_eq!(row.secrets, "none", "{kind} sandbox={sandbox}");
            assert_eq!(row.daemon, "killed", "{kind} sandbox={sandbox}");
            if sandbox {
                assert_eq!(
                    (row.network.as_str(), row.home.as_str(), row.write.as_str()),
                    ("blocked", "blocked", "blocked")
                );
                assert_eq!(launch["sandbox"], "bubblewrap", "{launch:#}");
                assert_eq!(launch["network"], "none", "{launch:#}");
                assert_eq!(launch["filesystem"], "read-only", "{launch:#}");
                // The probe's own directory is shared, and python's prefix; nothing of the home.
                let reads: Vec<&str> =
                    launch["reads"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
                assert!(reads.iter().any(|r| r.ends_with("/probe")), "{launch:#}");
                assert!(reads.iter().all(|r| !r.ends_with("/home") && !r.contains("/home/")), "{launch:#}");
                assert!(reads.len() <= 3, "{launch:#}");
            } else {
                assert_eq!((row.network.as_str(), row.home.as_str(), row.write.as_str()), ("open", "read", "written"));
                assert_eq!(launch["sandbox"], "none", "{launch:#}");
                assert_eq!(launch["process_tree"], "process-group", "{launch:#}");
            }
            if kind == "config" {
                assert_eq!(launch["placeholders"], serde_json::json!(["GITHUB_TOKEN"]), "{launch:#}");
            }
            rows.push(row);
        }
    }
    let mut table = String::from("\nlaunch   sandbox  network  HOME     writes   secrets  daemon\n");
    for r in &rows {
        let on = if r.sandbox { "on" } else { "off" };
        table.push_str(&format!(
            "{:<8} {on:<8} {:<8} {:<8} {:<8} {:<8} {}\n",
            r.kind, r.network, r.home, r.write, r.secrets, r.daemon
        ));
    }
    std::io::stderr().write_all(table.as_bytes()).unwrap();
}

#[test]
fn allow_net_opens_the_network_for_the_named_server_only() {
    let setup = Setup::new("allow-net");
    let mut config = serde_json::json!({"mcpServers": {}});
    for name in ["open", "closed"] {
        let mut args = vec![setup.path("probe/probe.py").to_string_lossy().into_owned()];
        args.extend(setup.probe_args());
        config["mcpServers"][name] = serde_json::json!({"command": python(), "args": args});
    }
    let path = write(&setup.path("work"), "mcp.json", &config.to_string());
    let (code, report, stderr) = setup.crawl(&["--config", &path, "--allow-net", "open", "--allow-net", "nobody"]);
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    assert!(stderr.contains("--allow-net nobody: no launched server has that name"), "{stderr}");
    assert_eq!(setup.findings("open")["network"], "open");
    assert!(setup.findings("closed")["network"].as_str().unwrap().starts_with("blocked"));
    // The other protections stay.
    assert!(setup.findings("open")["home"].as_str().unwrap().starts_with("blocked"));
    let launches: Vec<&str> =
        report["servers"].as_array().unwrap().iter().map(|s| s["launch"]["network"].as_str().unwrap()).collect();
    assert!(launches.contains(&"host") && launches.contains(&"none"), "{report:#}");
    if setup.daemon_alive() {
        setup.cleanup();
        panic!("a daemon survived");
    }
}

#[test]
fn bind_ro_shares_a_path_read_only() {
    let setup = Setup::new("bind-ro");
    let cmd = stdio_line(&setup);
    let home = setup.path("home");
    let (code, report, stderr) = setup.crawl(&["--stdio", &cmd, "--bind-ro", home.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    let found = setup.findings(&cmd);
    assert_eq!(found["home"], "read: the caller's private file", "{found:#}");
    assert!(found["write"].as_str().unwrap().starts_with("blocked"), "{found:#}");
    // `catalog show` says how the server was launched.
    let db = setup.path("work/c.db");
    let out = Command::new(env!("CARGO_BIN_EXE_catalog"))
        .args(["show", &cmd, "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("launched in sandbox bubblewrap: network none, home throwaway, files read-only"), "{shown}");
    assert!(shown.contains(home.to_str().unwrap()), "{shown}");
    setup.daemon_alive();
}

/// A PATH where everything the crawl needs is found but bubblewrap.
fn path_without_bwrap(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["prlimit", "setpriv", "true", "sh", "node"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let found = String::from_utf8_lossy(&found.stdout).trim().to_string();
        if !found.is_empty() {
            let _ = std::os::unix::fs::symlink(found, bin.join(tool));
        }
    }
    bin.to_string_lossy().into_owned()
}

#[test]
fn without_bubblewrap_the_crawl_says_so_once_and_lists_what_needs_no_launch() {
    let setup = Setup::new("no-bwrap");
    let path = path_without_bwrap(&setup.path("work"));
    let db = setup.path("work/c.db");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_catalog"))
            .arg("crawl")
            .args(["--db", db.to_str().unwrap(), "--quiet", "--timeout", "10"])
            .args(args)
            .env("PATH", &path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let py = python();
    let stdio: Vec<String> = (0..5).map(|i| format!("{py} probe.py --n {i}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for s in &stdio {
        args.extend(["--stdio", s.as_str()]);
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, Some(2), "nothing could be listed\n{stdout}\n{stderr}");
    let mentions = stderr.lines().filter(|l| l.contains("apt-get install bubblewrap")).count();
    assert_eq!(mentions, 1, "said once:\n{stderr}");
    assert!(stderr.contains("5 server(s) were not launched") && stderr.contains("--no-sandbox"), "{stderr}");
    assert!(!stdout.contains("probe.py"), "not one line per server:\n{stdout}");

    // A URL beside them is still crawled, and the crawl is then not a failure.
    let Some(index) = crate::mcp::server_everything() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let server = rt.block_on(crate::mcp::RealHttpServer::start(&index, "streamableHttp"));
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    args.extend(["--url", url.as_str()]);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok ") && stdout.contains(&url), "{stdout}");
    assert_eq!(stderr.lines().filter(|l| l.contains("apt-get install bubblewrap")).count(), 1, "{stderr}");
}
