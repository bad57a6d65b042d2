//! `launch`: safe cache names, the launch policy, the bubblewrap sandbox for real, and real npm and
//! PyPI installs.
//!
//! Sandbox tests need bubblewrap: without it they fail, naming the script that installs it. Install tests use the npm registry and PyPI; set
//! `CATALOG_SKIP_NETWORK_TESTS=1` to skip them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use catalog::launch::{
    launch_policy, safe_name, unsandboxed, Access, Ecosystem, InstallLimits, LaunchCommand, LaunchError, Mode,
    PackageCache, PackageSpec, RunLimits, Sandbox,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[test]
fn safe_name_makes_hostile_names_safe_and_distinct() {
    let long = "a".repeat(10_000);
    let hostile = [
        "../../etc/passwd",
        "..",
        ".",
        ".hidden",
        "-rf",
        "CON",
        "con",
        "Con.txt",
        "nul",
        "COM1",
        "lpt9.log",
        "a/b",
        "a\\b",
        "a_b",
        "",
        &long,
        "ünïcødé/名前",
        "a\0b",
        "line\nbreak",
        "tab\there",
        "@modelcontextprotocol/server-everything@2026.8.31",
        "@modelcontextprotocol_server-everything@2026.8.31",
    ];
    let mut seen = HashSet::new();
    for name in hostile {
        let s = safe_name(name);
        assert!(!s.is_empty() && s.len() <= 128, "{name:?} -> {s:?}");
        assert!(!s.contains(['/', '\\', '\0']) && !s.contains(".."), "{name:?} -> {s:?}");
        assert!(s.chars().all(|c| c.is_ascii_graphic()), "{name:?} -> {s:?}");
        assert!(!s.starts_with(['.', '-']) && !s.ends_with('.'), "{name:?} -> {s:?}");
        let stem = s.split('.').next().unwrap().to_ascii_uppercase();
        assert!(!["CON", "PRN", "AUX", "NUL", "COM1", "LPT9"].contains(&stem.as_str()), "{name:?} -> {s:?}");
        assert!(seen.insert(s.clone()), "{name:?} collides: {s:?}");
        assert_eq!(safe_name(name), s, "safe_name is deterministic");
    }
    assert_eq!(safe_name("mcp-server-time==2026.10.19"), "mcp-server-time==2026.10.19");
}

#[test]
fn launch_policy_refuses_without_sandbox_unless_asked() {
    let err = launch_policy(None, false).unwrap_err();
    assert_eq!(err.kind(), "no_sandbox");
    assert_eq!(
        err.to_string(),
        "bubblewrap not found: install it with `apt-get install bubblewrap`, or pass --no-sandbox to run servers unsandboxed"
    );
    assert_eq!(launch_policy(None, true).unwrap(), Mode::Unsandboxed);
    if let Some(sandbox) = Sandbox::detect() {
        assert_eq!(launch_policy(Some(&sandbox), false).unwrap(), Mode::Sandboxed);
        assert_eq!(launch_policy(Some(&sandbox), true).unwrap(), Mode::Unsandboxed);
    }
}

/// The sandbox. A machine without a working bubblewrap fails these tests rather than skipping
/// them: `scripts/install-test-servers.sh` (README's test command) installs it.
fn sandbox() -> Option<Sandbox> {
    match Sandbox::probe() {
        Ok(s) => Some(s),
        Err(reason) => {
            panic!("the sandbox tests need a working bubblewrap ({reason}): run scripts/install-system-packages.sh")
        }
    }
}

/// The real python interpreter (not a version manager's shim).
pub(crate) fn python() -> String {
    let out = std::process::Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Sbx {
    sandbox: Sandbox,
    /// Stands for an installed package: mounted read-only.
    pkg: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

impl Sbx {
    fn new() -> Option<Sbx> {
        let sandbox = sandbox()?;
        let pkg = tempfile::tempdir().unwrap();
        std::fs::write(pkg.path().join("server.py"), "print('hi')").unwrap();
        Some(Sbx { sandbox, pkg, scratch: tempfile::tempdir().unwrap() })
    }

    /// Runs python `code` in the sandbox; returns (success, stdout, stderr, elapsed).
    async fn python(&self, code: &str, env: &[(&str, &str)], limits: &RunLimits) -> (bool, String, String, Duration) {
        let cmd = LaunchCommand {
            program: python(),
            args: vec!["-c".into(), code.into()],
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            cwd: None,
        };
        let wrapped = self.sandbox.wrap(cmd, &Access::package(self.pkg.path()), limits, self.scratch.path()).unwrap();
        run(&wrapped).await
    }
}

async fn run(cmd: &LaunchCommand) -> (bool, String, String, Duration) {
    let start = Instant::now();
    let mut c = cmd.to_command();
    c.stdin(Stdio::null()).kill_on_drop(true);
    let out =
        tokio::time::timeout(Duration::from_secs(60), c.output()).await.expect("sandboxed run timed out").unwrap();
    let s = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), s(out.stdout), s(out.stderr), start.elapsed())
}

#[tokio::test]
async fn sandbox_has_no_network() {
    let Some(sbx) = Sbx::new() else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        r#"
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3); print("loopback: connected")
except OSError as e:
    print("loopback: refused", e)
try:
    socket.getaddrinfo("registry.npmjs.org", 443); print("dns: resolved")
except OSError as e:
    print("dns: failed", e)
try:
    socket.create_connection(("1.1.1.1", 443), timeout=3); print("internet: connected")
except OSError as e:
    print("internet: unreachable", e)
"#
    );
    let (ok, out, err, _) = sbx.python(&code, &[], &RunLimits::default()).await;
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("loopback: refused"), "{out}");
    assert!(out.contains("dns: failed"), "{out}");
    assert!(out.contains("internet: unreachable"), "{out}");
    drop(listener);
}

#[tokio::test]
async fn sandbox_sees_only_the_given_environment_and_a_throwaway_home() {
    let Some(sbx) = Sbx::new() else { return };
    // Only this test reads the variable; set before anything is spawned.
    std::env::set_var("CATALOG_TEST_SECRET", "hunter2-do-not-leak");
    let code = r#"
import os, json
home = os.environ.get("HOME")
open(os.path.join(home, "probe"), "w").write("x")
print(json.dumps({"env": dict(os.environ), "home": home, "root_listing": sorted(os.listdir("/"))}))
"#;
    let (ok, out, err, _) = sbx.python(code, &[("API_KEY", "placeholder")], &RunLimits::default()).await;
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains("hunter2"), "the secret leaked: {out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let env = v["env"].as_object().unwrap();
    let keys: HashSet<&str> = env.keys().map(String::as_str).collect();
    let allowed: HashSet<&str> = ["API_KEY", "PATH", "HOME", "TMPDIR", "LANG", "LC_CTYPE", "PWD"].into();
    assert!(keys.is_subset(&allowed), "unexpected variables: {keys:?}");
    assert_eq!(env["API_KEY"], "placeholder");
    assert_eq!(v["home"], "/home/sandbox");
    let caller_home = std::env::var("HOME").unwrap_or_default();
    assert_ne!(v["home"].as_str(), Some(caller_home.as_str()));
    assert!(!std::path::Path::new(&caller_home).join("probe").exists() || caller_home.is_empty());
}

#[tokio::test]
async fn sandbox_writes_only_to_scratch() {
    let Some(sbx) = Sbx::new() else { return };
    let pkg = sbx.pkg.path().display();
    let scratch = sbx.scratch.path().display();
    let parent = sbx.pkg.path().parent().unwrap().display();
    let pid = std::process::id();
    let caller_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let code = format!(
        r#"
import os
def attempt(label, path):
    try:
        open(path, "w").write("x"); print(label, "written")
    except OSError as e:
        print(label, "refused", e.errno)
attempt("pkg", "{pkg}/evil.py")
attempt("pkgfile", "{pkg}/server.py")
attempt("usr", "/usr/evil")
attempt("etc", "/etc/evil")
attempt("root", "/evil")
attempt("parent", "{parent}/catalog-evil-{pid}")
attempt("scratch", "{scratch}/out.txt")
print("home visible:", os.path.exists("{caller_home}/.bashrc") or os.path.exists("{caller_home}/.profile"))
"#
    );
    let (ok, out, err, _) = sbx.python(&code, &[], &RunLimits::default()).await;
    assert!(ok, "{out}\n{err}");
    for label in ["pkg", "pkgfile", "usr", "etc", "root"] {
        assert!(out.contains(&format!("{label} refused")), "{label}: {out}");
    }
    assert!(out.contains("scratch written"), "{out}");
    assert!(out.contains("home visible: False"), "{out}");
    assert!(sbx.scratch.path().join("out.txt").is_file());
    assert!(!sbx.pkg.path().join("evil.py").exists());
    // The package's parent is either read-only or (under /tmp) the sandbox's own tmpfs.
    assert!(!sbx.pkg.path().parent().unwrap().join(format!("catalog-evil-{pid}")).exists());
    assert_eq!(std::fs::read_to_string(sbx.pkg.path().join("server.py")).unwrap(), "print('hi')");
}

#[tokio::test]
async fn sandbox_limits_memory_and_processes() {
    let Some(sbx) = Sbx::new() else { return };
    let limits = RunLimits { memory_bytes: 512 << 20, processes: 32, ..RunLimits::default() };
    let hog = r#"
try:
    b = bytearray(2 << 30); print("hog: allocated")
except MemoryError:
    print("hog: MemoryError")
"#;
    let (ok, out, err, took) = sbx.python(hog, &[], &limits).await;
    assert!(ok && out.contains("hog: MemoryError"), "{out}\n{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    let bomb = r#"
import os, time
n = 0
try:
    for _ in range(1000):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        n += 1
    print("bomb: forked", n)
except OSError as e:
    print("bomb: stopped after", n, e.errno)
"#;
    let (ok, out, err, took) = sbx.python(bomb, &[], &limits).await;
    assert!(ok && out.contains("bomb: stopped after"), "{out}\n{err}");
    let forked: u64 = out.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(forked < 32, "{out}");
    // The children die with the sandbox's pid namespace, not after their 30 s sleep.
    assert!(took < Duration::from_secs(10), "{took:?}");

    let big_file = format!("open('{}/big', 'wb').write(b'x' * (64 << 20))", sbx.scratch.path().display());
    let limits = RunLimits { file_bytes: 1 << 20, ..RunLimits::default() };
    let (ok, _, err, _) = sbx.python(&big_file, &[], &limits).await;
    assert!(!ok, "a 64 MiB file was written under a 1 MiB limit: {err}");
}

#[tokio::test]
async fn unsandboxed_still_clears_the_environment() {
    let scratch = tempfile::tempdir().unwrap();
    std::env::set_var("CATALOG_TEST_SECRET_2", "hunter3-do-not-leak");
    let cmd = LaunchCommand {
        program: python(),
        args: vec!["-c".into(), "import os; print(sorted(os.environ.items()))".into()],
        env: vec![("API_KEY".into(), "placeholder".into())],
        cwd: None,
    };
    let cmd = unsandboxed(cmd, &RunLimits::default(), scratch.path(), "test");
    let (ok, out, err, _) = run(&cmd).await;
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains("hunter3") && out.contains("placeholder"), "{out}");
    assert!(out.contains(&format!("('HOME', '{}')", scratch.path().display())), "{out}");
}

#[allow(clippy::print_stderr)]
fn network_tests() -> bool {
    if std::env::var("CATALOG_SKIP_NETWORK_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped: CATALOG_SKIP_NETWORK_TESTS=1");
        return false;
    }
    true
}

/// Sends `initialize` to a launched server and returns its first stdout line.
async fn initialize(cmd: &LaunchCommand) -> String {
    let mut child = cmd.to_command().stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"catalog-test","version":"0"}}}"#;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{init}\n").as_bytes()).await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("\"id\":1") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("no initialize answer");
    drop(stdin);
    let _ = child.kill().await;
    line
}

fn spec(ecosystem: Ecosystem, name: &str, version: Option<&str>) -> PackageSpec {
    PackageSpec { ecosystem, name: name.into(), version: version.map(String::from) }
}

#[tokio::test]
async fn npm_install_caches_and_runs_in_the_sandbox() {
    if !network_tests() {
        return;
    }
    let cache = PackageCache::new(tempfile::tempdir().unwrap().keep());
    let pkg = spec(Ecosystem::Npm, "@modelcontextprotocol/server-everything", Some("2026.8.31"));
    let limits = InstallLimits::default();
    let first = cache.install(&pkg, &limits).await.unwrap();
    assert!(!first.cached);
    assert_eq!(first.version, "2026.8.31");
    assert_eq!(first.dir, cache.root.join("npm").join(safe_name("@modelcontextprotocol/server-everything@2026.8.31")));
    assert!(Path::new(&first.command.program).ends_with("node"), "{:?}", first.command);
    let script = PathBuf::from(&first.command.args[0]);
    assert!(script.ends_with("node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "{script:?}");
    assert!(script.starts_with(&first.dir));
    assert!(first.command.env.is_empty());

    let start = Instant::now();
    let second = cache.install(&pkg, &limits).await.unwrap();
    assert!(second.cached && start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(second.command, first.command);
    // Nothing half-made is left beside the entry.
    let leftovers: Vec<_> =
        std::fs::read_dir(cache.root.join("npm")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    if let Some(sandbox) = sandbox() {
        let scratch = tempfile::tempdir().unwrap();
        let cmd = sandbox
            .wrap(first.command.clone(), &Access::package(&first.dir), &RunLimits::default(), scratch.path())
            .unwrap();
        let answer = initialize(&cmd).await;
        assert!(answer.contains("\"serverInfo\""), "{answer}");
    }
    let _ = std::fs::remove_dir_all(&cache.root);
}

#[tokio::test]
async fn pypi_install_finds_the_console_script_and_runs_in_the_sandbox() {
    if !network_tests() {
        return;
    }
    let cache = PackageCache::new(tempfile::tempdir().unwrap().keep());
    let pkg = spec(Ecosystem::Pypi, "mcp-server-time", Some("2026.10.19"));
    let installed = cache.install(&pkg, &InstallLimits::default()).await.unwrap();
    assert!(!installed.cached);
    let venv_bin = installed.dir.join("venv/bin");
    assert_eq!(installed.command.program, venv_bin.join("python").to_string_lossy());
    assert_eq!(installed.command.args, [venv_bin.join("mcp-server-time").to_string_lossy()]);
    assert!(cache.install(&pkg, &InstallLimits::default()).await.unwrap().cached);

    if let Some(sandbox) = sandbox() {
        let scratch = tempfile::tempdir().unwrap();
        let cmd = sandbox
            .wrap(installed.command.clone(), &Access::package(&installed.dir), &RunLimits::default(), scratch.path())
            .unwrap();
        let answer = initialize(&cmd).await;
        assert!(answer.contains("\"serverInfo\""), "{answer}");
    }
    let _ = std::fs::remove_dir_all(&cache.root);
}

#[tokio::test]
async fn versions_resolve_and_unknown_packages_or_bad_specs_fail_with_the_reason() {
    let cache = PackageCache::new(tempfile::tempdir().unwrap().keep());
    let limits = InstallLimits::default();
    for (eco, name, version) in [
        (Ecosystem::Npm, "git+https://evil.example/x.git", None),
        (Ecosystem::Npm, "left-pad", Some("file:/etc")),
        (Ecosystem::Pypi, "-e", None),
        (Ecosystem::Pypi, "mcp-server-time", Some(">=1")),
    ] {
        let err = cache.install(&spec(eco, name, version), &limits).await.unwrap_err();
        assert!(matches!(err, LaunchError::InvalidPackage { .. }), "{name}: {err}");
    }
    if network_tests() {
        for (eco, name) in
            [(Ecosystem::Npm, "@modelcontextprotocol/server-everything"), (Ecosystem::Pypi, "mcp-server-time")]
        {
            let latest = cache.resolve_version(eco, name, &limits).await.unwrap();
            assert!(latest.starts_with(|c: char| c.is_ascii_digit()) && latest.contains('.'), "{name}: {latest}");
        }
        let name = "catalog-test-package-that-does-not-exist-7f3a9c";
        for eco in [Ecosystem::Npm, Ecosystem::Pypi] {
            let err = cache.install(&spec(eco, name, None), &limits).await.unwrap_err();
            assert!(matches!(err, LaunchError::InstallFailed { .. } | LaunchError::Resolve { .. }), "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }
    let _ = std::fs::remove_dir_all(&cache.root);
}
