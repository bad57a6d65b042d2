//! MCP client config files: Claude Desktop, Cursor, Windsurf, Claude Code (`mcpServers`, and
//! `projects.*.mcpServers` in `~/.claude.json`), VS Code (`servers`, `mcp.servers` in
//! settings.json) and Zed (`context_servers`), all read as JSONC.
//!
//! Each entry becomes one `Target` named by its key, section by section, keys in sorted order. `${VAR}`, `${env:VAR}`, `${input:id}` and the
//! like are never expanded from our environment: they become [`PLACEHOLDER`] (or their
//! `${VAR:-default}`), and a URL or program that needs one becomes `NeedsConfig`. Stdio entries
//! that launch a package (`npx -y pkg@1.2.3`, `uvx pkg==1.2.3`, `pipx run pkg`) become `Package`
//! so they run sandboxed from the cache; `npx mcp-remote <url>` becomes the remote it wraps.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use url::Url;

use super::{jsonc, Ecosystem, RemoteTransport, SourceError, Target, TargetKind, PLACEHOLDER};

/// Reads one client config file: every MCP server in it, disabled ones left out. A file without
/// any of the known sections gives no targets; a bad entry gives a `NeedsConfig` target.
pub fn read_config(path: &Path) -> Result<Vec<Target>, SourceError> {
    let bytes = std::fs::read(path).map_err(|source| SourceError::Read { path: path.to_path_buf(), source })?;
    parse_config(&String::from_utf8_lossy(&bytes), path)
}

/// `read_config` on text already read; `path` names the source.
pub fn parse_config(text: &str, path: &Path) -> Result<Vec<Target>, SourceError> {
    let root: Value = serde_json::from_str(&jsonc::strip(text)).map_err(|e| SourceError::ConfigSyntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let shape = |message: String| SourceError::ConfigShape { path: path.to_path_buf(), message };
    let Some(root) = root.as_object() else {
        return Err(shape("the top level is not an object".to_string()));
    };
    let mut sections: Vec<(String, &Value, bool)> = Vec::new();
    for key in ["mcpServers", "servers", "mcp.servers"] {
        if let Some(v) = root.get(key) {
            sections.push((key.to_string(), v, false));
        }
    }
    if let Some(v) = root.get("mcp").and_then(|mcp| mcp.get("servers")) {
        sections.push(("mcp.servers".to_string(), v, false));
    }
    if let Some(v) = root.get("context_servers") {
        sections.push(("context_servers".to_string(), v, true));
    }
    if let Some(projects) = root.get("projects").and_then(Value::as_object) {
        for (project, settings) in projects {
            if let Some(v) = settings.get("mcpServers") {
                sections.push((format!("projects[{project:?}].mcpServers"), v, false));
            }
        }
    }
    let source = format!("config:{}", path.display());
    let mut targets: Vec<Target> = Vec::new();
    for (label, section, zed) in sections {
        let Some(entries) = section.as_object() else {
            return Err(shape(format!("`{label}` is not an object of servers")));
        };
        for (key, entry) in entries {
            let Some(kind) = entry_kind(entry, zed) else { continue };
            let target = Target { server: key.clone(), version: package_version(&kind), source: source.clone(), kind };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    Ok(targets)
}

fn package_version(kind: &TargetKind) -> Option<String> {
    match kind {
        TargetKind::Package { version, .. } => version.clone(),
        _ => None,
    }
}

/// One entry's target; `None` when it is disabled.
fn entry_kind(entry: &Value, zed: bool) -> Option<TargetKind> {
    let needs = |reason: String| Some(TargetKind::NeedsConfig { reason });
    let Some(obj) = entry.as_object() else {
        return needs("the entry is not an object".to_string());
    };
    if obj.get("disabled") == Some(&Value::Bool(true)) || obj.get("enabled") == Some(&Value::Bool(false)) {
        return None;
    }
    let kind = ["type", "transport"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_ascii_lowercase();
    let url_key = ["url", "serverUrl", "httpUrl"].into_iter().find(|k| obj.get(*k).is_some_and(Value::is_string));
    // Zed's older shape nests the command: {"command": {"path", "args", "env"}}.
    let (command, args, env) = match obj.get("command") {
        Some(Value::Object(nested)) => (nested.get("path"), nested.get("args"), nested.get("env")),
        other => (other, obj.get("args"), obj.get("env")),
    };
    let is_remote_kind = matches!(
        kind.as_str(),
        "http" | "streamable-http" | "streamablehttp" | "streamable_http" | "streamable" | "sse" | "remote"
    );
    if is_remote_kind || (command.is_none() && url_key.is_some()) {
        let Some(url_key) = url_key else {
            return needs(format!("a {kind} entry needs `url`"));
        };
        let transport = match kind.as_str() {
            "sse" => RemoteTransport::Sse,
            "streamable-http" | "streamablehttp" | "streamable_http" | "streamable" => RemoteTransport::Streamable,
            _ if url_key == "httpUrl" => RemoteTransport::Streamable,
            _ => RemoteTransport::Auto,
        };
        let url = obj.get(url_key).and_then(Value::as_str).unwrap_or_default();
        let headers = match string_pairs(obj.get("headers"), "headers") {
            Ok(h) => h,
            Err(reason) => return needs(reason),
        };
        return Some(remote(url, transport, headers));
    }
    let Some(command) = command else {
        if zed && obj.contains_key("settings") {
            return Some(TargetKind::Unsupported {
                reason: "a Zed extension provides this server; its command is not in the config".to_string(),
            });
        }
        return needs("the entry has neither `command` nor `url`".to_string());
    };
    let Some(program) = command.as_str().filter(|p| !p.trim().is_empty()) else {
        return needs("`command` is not a program name".to_string());
    };
    let (program, unfilled) = expand(program);
    if unfilled {
        return needs(format!("the command {program} uses a variable; write the program's path"));
    }
    let args = match string_list(args) {
        Ok(a) => a.iter().map(|a| expand(a).0).collect::<Vec<_>>(),
        Err(reason) => return needs(reason),
    };
    let env = match string_pairs(env, "env") {
        Ok(e) => {
            e.into_iter().map(|(k, v)| if is_secret(&k, &v) { (k, PLACEHOLDER.to_string()) } else { (k, v) }).collect()
        }
        Err(reason) => return needs(reason),
    };
    Some(command_kind(&program, &args, env))
}

/// Words in a variable's name that say its value is a credential.
const SECRET_NAME_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "APIKEY",
    "KEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "COOKIE",
    "SESSION",
    "PAT",
    "DSN",
];
/// How well-known credentials begin.
const SECRET_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "AKIA",
    "ASIA",
    "AIza",
    "eyJ",
    "npm_",
    "hf_",
];

/// A configured environment value that must not reach a crawled server: the variable's name says
/// it is a credential (`GITHUB_TOKEN`, `DB_PASSWORD`, `OPENAI_API_KEY`), or the value looks like
/// one (`ghp_…`, `sk-…`, a JWT, a URL with a password). Placeholders and empty values are kept.
pub(crate) fn is_secret(name: &str, value: &str) -> bool {
    if value.is_empty() || value == PLACEHOLDER {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    let named = upper.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| SECRET_NAME_WORDS.contains(&w))
        || upper.contains("APIKEY")
        || upper.contains("TOKEN")
        || upper.contains("SECRET")
        || upper.contains("PASSWORD");
    let looks = SECRET_PREFIXES.iter().any(|p| value.starts_with(p) && value.len() >= p.len() + 8)
        || Url::parse(value).is_ok_and(|u| u.password().is_some());
    named || looks
}

fn remote(url: &str, transport: RemoteTransport, headers: Vec<(String, String)>) -> TargetKind {
    let (url, unfilled) = expand(url.trim());
    if unfilled {
        return TargetKind::NeedsConfig { reason: format!("the URL {url} uses a variable that catalog does not fill") };
    }
    match Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            TargetKind::Remote { url: u, transport, headers, from_registry: false }
        }
        Ok(u) => TargetKind::Unsupported { reason: format!("the URL {url} uses {}: only http and https", u.scheme()) },
        Err(e) => TargetKind::NeedsConfig { reason: format!("the URL {url:?} is not valid ({e})") },
    }
}

/// What a stdio command runs: a `Package` when it is a recognisable npx / uvx / `uv tool run` /
/// `pipx run` launch, the remote behind `npx mcp-remote <url>`, else the plain `Command`.
pub fn command_kind(program: &str, args: &[String], env: Vec<(String, String)>) -> TargetKind {
    let file = program.rsplit(['/', '\\']).next().unwrap_or(program).to_ascii_lowercase();
    let base = file.strip_suffix(".cmd").or_else(|| file.strip_suffix(".exe")).unwrap_or(&file);
    let launch = match (base, args.first().map(String::as_str), args.get(1).map(String::as_str)) {
        ("npx", _, _) => npx(args),
        ("uvx", _, _) => python_launch(args, UVX_FLAGS),
        ("uv", Some("tool"), Some("run")) => python_launch(&args[2..], UVX_FLAGS),
        ("pipx", Some("run"), _) => python_launch(&args[1..], PIPX_FLAGS),
        _ => None,
    };
    let plain = || TargetKind::Command { program: program.to_string(), args: args.to_vec(), env: env.clone() };
    let Some(Launch { ecosystem, name, version, rest }) = launch else { return plain() };
    if ecosystem == Ecosystem::Npm && name == "mcp-remote" {
        return mcp_remote(&rest).unwrap_or_else(plain);
    }
    TargetKind::Package { ecosystem, name, version, args: rest, env }
}

struct Launch {
    ecosystem: Ecosystem,
    name: String,
    version: Option<String>,
    rest: Vec<String>,
}

/// `npx [-y] <pkg>[@<version>] args...`; `-p`/`--package`/`-c` (a different command than the
/// package) and unknown flags are left as commands.
fn npx(args: &[String]) -> Option<Launch> {
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
        match a.as_str() {
            "-y" | "--yes" | "-q" | "--quiet" | "--silent" | "--prefer-offline" | "--prefer-online" => i += 1,
            _ => return None,
        }
    }
    let spec = args.get(i)?;
    let (name, version) = match spec.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('@') {
            Some((n, v)) => (format!("@{n}"), Some(v)),
            None => (spec.clone(), None),
        },
        None => match spec.split_once('@') {
            Some((n, v)) => (n.to_string(), Some(v)),
            None => (spec.clone(), None),
        },
    };
    let valid_name = {
        let bare = name.strip_prefix('@').unwrap_or(&name);
        let slashes = bare.matches('/').count();
        !bare.is_empty()
            && !bare.starts_with(['.', '_', '/'])
            && (slashes == usize::from(name.starts_with('@')))
            && bare.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'))
    };
    if !valid_name {
        return None;
    }
    Some(Launch {
        ecosystem: Ecosystem::Npm,
        name: name.to_ascii_lowercase(),
        version: version.filter(|v| is_exact_version(v)).map(str::to_string),
        rest: args[i + 1..].to_vec(),
    })
}

/// Flags of uvx and pipx run: `(flag, takes a value)`. Flags that change what runs (`--from`,
/// `--with`, `--spec`) are missing on purpose: such launches stay commands.
const UVX_FLAGS: &[(&str, bool)] = &[
    ("-q", false),
    ("--quiet", false),
    ("--offline", false),
    ("--no-cache", false),
    ("--isolated", false),
    ("--refresh", false),
    ("-p", true),
    ("--python", true),
];
const PIPX_FLAGS: &[(&str, bool)] = &[
    ("-q", false),
    ("--quiet", false),
    ("-v", false),
    ("--verbose", false),
    ("--no-cache", false),
    ("--python", true),
];

/// `uvx [flags] <pkg>[==<version> | @<version>] args...` and the same for pipx run.
fn python_launch(args: &[String], flags: &[(&str, bool)]) -> Option<Launch> {
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
        let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
        let (_, takes_value) = flags.iter().find(|(f, _)| *f == flag)?;
        i += if *takes_value && !a.contains('=') { 2 } else { 1 };
    }
    let spec = args.get(i)?;
    let (name, version) = if let Some((n, v)) = spec.split_once("==") {
        (n, Some(v))
    } else if let Some((n, v)) = spec.split_once('@') {
        (n, Some(v))
    } else {
        let end = spec.find(['<', '>', '=', '!', '~', ';', ' ']).unwrap_or(spec.len());
        (&spec[..end], None)
    };
    let valid_name = !name.is_empty()
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid_name {
        return None;
    }
    Some(Launch {
        ecosystem: Ecosystem::Pypi,
        name: name.to_string(),
        version: version.filter(|v| is_exact_version(v)).map(str::to_string),
        rest: args[i + 1..].to_vec(),
    })
}

/// An exact version: starts with a digit, only version characters, no range or tag.
pub(crate) fn is_exact_version(v: &str) -> bool {
    v.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'))
        && !v.contains("..")
}

/// `npx mcp-remote <url> [--header "Name: value"]...`: the remote it proxies.
fn mcp_remote(rest: &[String]) -> Option<TargetKind> {
    let url = rest.first().filter(|u| u.starts_with("http://") || u.starts_with("https://"))?;
    let mut headers = Vec::new();
    let mut i = 1;
    while i < rest.len() {
        if rest[i] == "--header" {
            if let Some((k, v)) = rest.get(i + 1).and_then(|h| h.split_once(':')) {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    Some(remote(url, RemoteTransport::Auto, headers))
}

/// `${...}` references replaced: `${VAR:-default}` by its default, every other reference
/// (`${VAR}`, `${env:VAR}`, `${input:id}`, `${workspaceFolder}`) by [`PLACEHOLDER`]. The flag says
/// whether a placeholder went in.
fn expand(s: &str) -> (String, bool) {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut placeholder = false;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let inner = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match inner.split_once(":-") {
            Some((_, default)) => out.push_str(default),
            None => {
                out.push_str(PLACEHOLDER);
                placeholder = true;
            }
        }
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    (out, placeholder)
}

fn string_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item).ok_or_else(|| format!("args[{i}] is not a string")))
            .collect(),
        Some(_) => Err("`args` is not an array".to_string()),
    }
}

/// An object of names to values (env, headers), values expanded; null values left out.
fn string_pairs(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let empty = Map::new();
    let map = match v {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(format!("`{what}` is not an object")),
    };
    let mut pairs = Vec::new();
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        let value = scalar(v).ok_or_else(|| format!("{what}.{k} is not a string"))?;
        pairs.push((k.clone(), expand(&value).0));
    }
    Ok(pairs)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The 1-based line of `text` (a config file) that declares the server `key`: the first
/// `"key": {` outside comments; 1 when it cannot be found.
pub fn declared_line(text: &str, key: &str) -> usize {
    let stripped = jsonc::strip(text);
    let quoted = serde_json::to_string(key).unwrap_or_default();
    let mut from = 0;
    while let Some(at) = stripped[from..].find(&quoted) {
        let start = from + at;
        let rest = stripped[start + quoted.len()..].trim_start();
        if let Some(after) = rest.strip_prefix(':') {
            if after.trim_start().starts_with('{') {
                return stripped[..start].matches('\n').count() + 1;
            }
        }
        from = start + quoted.len();
    }
    1
}

/// Each client's usual user-level config files under `home` (Linux and macOS), those that exist.
pub fn discover(home: &Path) -> Vec<PathBuf> {
    const PATHS: &[&str] = &[
        // Claude Desktop (macOS; Linux builds).
        "Library/Application Support/Claude/claude_desktop_config.json",
        ".config/Claude/claude_desktop_config.json",
        // Cursor.
        ".cursor/mcp.json",
        // VS Code user settings and user mcp.json (Linux, macOS; stable and Insiders).
        ".config/Code/User/settings.json",
        ".config/Code/User/mcp.json",
        ".config/Code - Insiders/User/settings.json",
        ".config/Code - Insiders/User/mcp.json",
        "Library/Application Support/Code/User/settings.json",
        "Library/Application Support/Code/User/mcp.json",
        "Library/Application Support/Code - Insiders/User/settings.json",
        "Library/Application Support/Code - Insiders/User/mcp.json",
        // GitHub Copilot's portable format.
        ".copilot/mcp-config.json",
        // Claude Code (user and per-project local scopes).
        ".claude.json",
        // Windsurf.
        ".codeium/windsurf/mcp_config.json",
        // Zed.
        ".config/zed/settings.json",
    ];
    existing(home, PATHS)
}

/// Project-level config files in `dir` (usually the current directory), those that exist.
pub fn discover_project(dir: &Path) -> Vec<PathBuf> {
    existing(dir, &[".cursor/mcp.json", ".vscode/mcp.json", ".mcp.json", ".zed/settings.json"])
}

fn existing(dir: &Path, paths: &[&str]) -> Vec<PathBuf> {
    paths.iter().map(|p| dir.join(p)).filter(|p| p.is_file()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_located_at_its_key() {
        let text = "{\n  // \"github\": {} in a comment\n  \"mcpServers\": {\n    \"env\": {\"github\": \"x\"},\n    \"github\": {\n      \"command\": \"npx\"\n    }\n  }\n}\n";
        assert_eq!(declared_line(text, "github"), 5);
        assert_eq!(declared_line(text, "missing"), 1);
    }

    #[test]
    fn configured_secrets_become_placeholders() {
        for (k, v) in [
            ("GITHUB_TOKEN", "abc"),
            ("GITHUB_PERSONAL_ACCESS_TOKEN", "abc"),
            ("OPENAI_API_KEY", "abc"),
            ("DB_PASSWORD", "hunter2"),
            ("ANYTHING", "ghp_0123456789abcdef"),
            ("DATABASE_URL", "postgres://user:pw@db.example/x"),
            ("X", "eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ] {
            assert!(is_secret(k, v), "{k}={v}");
        }
        for (k, v) in [
            ("LOG_LEVEL", "debug"),
            ("ALLOWED_DIRS", "/tmp"),
            ("PATH", "/usr/bin"),
            ("API_TOKEN", ""),
            ("GITHUB_TOKEN", PLACEHOLDER),
        ] {
            assert!(!is_secret(k, v), "{k}={v}");
        }
        let json = r#"{"mcpServers": {"s": {"command": "node", "args": ["x.js"], "env": {"GITHUB_TOKEN": "ghp_real", "LOG": "1"}}}}"#;
        let targets = parse_config(json, Path::new("c.json")).unwrap();
        let TargetKind::Command { env, .. } = &targets[0].kind else { panic!("{targets:?}") };
        assert_eq!(env, &[("GITHUB_TOKEN".to_string(), PLACEHOLDER.to_string()), ("LOG".to_string(), "1".to_string())]);
        assert_eq!(targets[0].placeholders(), ["GITHUB_TOKEN"]);
    }

    fn kind(cmd: &str) -> TargetKind {
        let mut words = cmd.split(' ').map(str::to_string);
        let program = words.next().unwrap_or_default();
        command_kind(&program, &words.collect::<Vec<_>>(), vec![])
    }

    fn package(eco: Ecosystem, name: &str, version: Option<&str>, args: &[&str]) -> TargetKind {
        TargetKind::Package {
            ecosystem: eco,
            name: name.to_string(),
            version: version.map(str::to_string),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![],
        }
    }

    #[test]
    fn package_launches_are_recognised() {
        use Ecosystem::*;
        let fs = "@modelcontextprotocol/server-filesystem";
        assert_eq!(kind(&format!("npx -y {fs}@2026.8.31 /tmp")), package(Npm, fs, Some("2026.8.31"), &["/tmp"]));
        assert_eq!(kind(&format!("npx {fs} /tmp")), package(Npm, fs, None, &["/tmp"]));
        assert_eq!(kind("npx -y tavily-mcp@latest"), package(Npm, "tavily-mcp", None, &[]));
        assert_eq!(kind("/usr/bin/npx.cmd --yes exa-mcp-server@^3"), package(Npm, "exa-mcp-server", None, &[]));
        assert_eq!(
            kind("uvx mcp-server-time==2026.10.19 --local-timezone UTC"),
            package(Pypi, "mcp-server-time", Some("2026.10.19"), &["--local-timezone", "UTC"])
        );
        assert_eq!(
            kind("uvx --python 3.12 mcp-server-git@2026.10.19"),
            package(Pypi, "mcp-server-git", Some("2026.10.19"), &[])
        );
        assert_eq!(kind("uvx mcp-server-fetch>=2025"), package(Pypi, "mcp-server-fetch", None, &[]));
        assert_eq!(kind("uv tool run mcp-server-fetch"), package(Pypi, "mcp-server-fetch", None, &[]));
        assert_eq!(
            kind("pipx run mcp-server-fetch==2026.10.24"),
            package(Pypi, "mcp-server-fetch", Some("2026.10.24"), &[])
        );
    }

    #[test]
    fn other_commands_stay_commands() {
        for cmd in [
            "node /srv/index.js",
            "npx -p some-pkg some-bin",
            "npx --unknown-flag pkg",
            "npx ./local/dir",
            "npx github:owner/repo",
            "uvx --from git+https://x.test/r.git tool",
            "uvx --with extra tool",
            "pipx run --spec ./x tool",
            "docker run -i --rm mcp/fetch",
            "npx",
            "uvx",
        ] {
            assert!(matches!(kind(cmd), TargetKind::Command { .. }), "{cmd}: {:?}", kind(cmd));
        }
    }

    #[test]
    fn mcp_remote_is_the_remote_it_wraps() {
        let k = command_kind(
            "npx",
            &["-y", "mcp-remote", "https://mcp.example.com/sse", "--header", "Authorization: Bearer x"]
                .map(str::to_string),
            vec![],
        );
        let TargetKind::Remote { url, headers, from_registry, .. } = k else { panic!("{k:?}") };
        assert_eq!(url.as_str(), "https://mcp.example.com/sse");
        assert_eq!(headers, vec![("Authorization".to_string(), "Bearer x".to_string())]);
        assert!(!from_registry);
    }

    #[test]
    fn variables_become_placeholders() {
        assert_eq!(expand("${GITHUB_TOKEN}"), (PLACEHOLDER.to_string(), true));
        assert_eq!(expand("Bearer ${input:token}!"), (format!("Bearer {PLACEHOLDER}!"), true));
        assert_eq!(expand("${PORT:-8080}"), ("8080".to_string(), false));
        assert_eq!(expand("plain ${unterminated"), ("plain ${unterminated".to_string(), false));
    }
}
