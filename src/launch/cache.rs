//! The package cache: one directory per exact package version, installed without running package
//! code and moved into place in one rename, so a killed install never leaves a half entry.
//!
//! ```text
//! <root>/npm/<safe_name(name@version)>/node_modules/<name>/...
//! <root>/pypi/<safe_name(name==version)>/venv/...
//! <root>/{npm,pypi}/.tmp-*          installs in progress (or killed)
//! <root>/home, npm-cache, pip-cache, uv-cache   the installers' own HOME and caches
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::names::{check_npm_name, check_pypi_name, check_version, normalize_pypi, safe_name};
use super::process::{run, which};
use super::{LaunchCommand, LaunchError};

/// Written last into a finished entry; an entry without it is not used.
const MARKER: &str = ".catalog-installed";

/// Environment variables the installers get from the caller: proxies, certificates and registry
/// configuration. Everything else is dropped.
const PASS_ENV: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "PYENV_ROOT",
    "PYENV_VERSION",
];
const PASS_ENV_PREFIXES: &[&str] = &["npm_config_", "NPM_CONFIG_", "PIP_", "UV_"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Npm,
    Pypi,
}

/// A package to install: `version: None` means the registry's latest, resolved before the cache
/// is consulted, so entries are always keyed by an exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: Option<String>,
}

/// Bounds on one install.
#[derive(Debug, Clone)]
pub struct InstallLimits {
    /// For each installer step (resolve, venv, install).
    pub timeout: Duration,
    /// How much of the installer's output an error keeps.
    pub output_tail_bytes: usize,
    /// PyPI only: allow building sdists, which runs the package's build code on this machine,
    /// outside the sandbox. Off by default: wheels only (`--only-binary :all:` / `uv --no-build`).
    pub build_from_source: bool,
}

impl Default for InstallLimits {
    fn default() -> Self {
        InstallLimits { timeout: Duration::from_secs(300), output_tail_bytes: 4096, build_from_source: false }
    }
}

/// A package ready to launch.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The cache entry; mount it read-only in the sandbox.
    pub dir: PathBuf,
    /// The exact version installed.
    pub version: String,
    /// The server's entry point, with no environment (the caller adds placeholders).
    pub command: LaunchCommand,
    /// True when the entry was already there and nothing was installed.
    pub cached: bool,
}

/// The cache of installed packages under `root`.
#[derive(Debug, Clone)]
pub struct PackageCache {
    pub root: PathBuf,
}

impl PackageCache {
    pub fn new(root: impl Into<PathBuf>) -> PackageCache {
        PackageCache { root: root.into() }
    }

    /// `$CATALOG_CACHE_DIR`, else `$XDG_CACHE_HOME/catalog`, else `~/.cache/catalog`; `None`
    /// when none of them is set.
    pub fn default_root() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("CATALOG_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("catalog")))
            .or_else(|| var("HOME").map(|h| h.join(".cache").join("catalog")))
    }

    /// The registry's latest version of a package (npm: the `latest` tag; PyPI: what `pip
    /// install` would pick, wheels only unless `limits` allow source builds).
    pub async fn resolve_version(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        limits: &InstallLimits,
    ) -> Result<String, LaunchError> {
        let invalid = |reason: String| LaunchError::InvalidPackage { name: name.to_string(), reason };
        match ecosystem {
            Ecosystem::Npm => check_npm_name(name).map_err(invalid)?,
            Ecosystem::Pypi => check_pypi_name(name).map_err(invalid)?,
        }
        Installer::new(self, ecosystem)?.resolve_checked(name, limits).await
    }

    /// Installs `pkg` (or finds it in the cache) and returns its entry point.
    pub async fn install(&self, pkg: &PackageSpec, limits: &InstallLimits) -> Result<Installed, LaunchError> {
        let invalid = |reason: String| LaunchError::InvalidPackage { name: pkg.name.clone(), reason };
        match pkg.ecosystem {
            Ecosystem::Npm => check_npm_name(&pkg.name).map_err(invalid)?,
            Ecosystem::Pypi => check_pypi_name(&pkg.name).map_err(invalid)?,
        }
        if let Some(v) = &pkg.version {
            check_version(v).map_err(invalid)?;
        }
        let installer = Installer::new(self, pkg.ecosystem)?;
        let version = match &pkg.version {
            Some(v) => v.clone(),
            None => installer.resolve_checked(&pkg.name, limits).await?,
        };
        let (sub, key) = match pkg.ecosystem {
            Ecosystem::Npm => ("npm", format!("{}@{version}", pkg.name)),
            Ecosystem::Pypi => ("pypi", format!("{}=={version}", pkg.name)),
        };
        let parent = self.root.join(sub);
        let dir = parent.join(safe_name(&key));
        if dir.join(MARKER).is_file() {
            let command = installer.entry(&dir, &pkg.name, &version)?;
            return Ok(Installed { dir, version, command, cached: true });
        }

        std::fs::create_dir_all(&parent).map_err(LaunchError::io(&parent))?;
        remove_stale_installs(&parent);
        let tmp = parent.join(format!(".tmp-{}-{}", safe_name(&key), unique()));
        std::fs::create_dir(&tmp).map_err(LaunchError::io(&tmp))?;
        let result = async {
            installer.install(&tmp, &pkg.name, &version, limits).await?;
            // Checked before the entry goes live: a package without an entry point is never cached.
            installer.entry(&tmp, &pkg.name, &version)?;
            let marker = serde_json::json!({ "ecosystem": sub, "name": pkg.name, "version": version });
            std::fs::write(tmp.join(MARKER), marker.to_string()).map_err(LaunchError::io(tmp.join(MARKER)))?;
            publish(&tmp, &dir)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result?;
        let command = installer.entry(&dir, &pkg.name, &version)?;
        Ok(Installed { dir, version, command, cached: false })
    }
}

/// Moves a finished install into place. Another install of the same version may have won the
/// race: its entry is kept and ours dropped. A leftover entry without marker is replaced.
fn publish(tmp: &Path, dir: &Path) -> Result<(), LaunchError> {
    for _ in 0..2 {
        match std::fs::rename(tmp, dir) {
            Ok(()) => return Ok(()),
            Err(_) if dir.join(MARKER).is_file() => {
                let _ = std::fs::remove_dir_all(tmp);
                return Ok(());
            }
            Err(_) if dir.exists() => std::fs::remove_dir_all(dir).map_err(LaunchError::io(dir))?,
            Err(e) => return Err(LaunchError::Io { path: dir.to_path_buf(), source: e }),
        }
    }
    std::fs::rename(tmp, dir).map_err(LaunchError::io(dir))
}

/// Removes installs in progress older than a day: left by a killed process.
fn remove_stale_installs(parent: &Path) {
    const STALE: Duration = Duration::from_secs(24 * 60 * 60);
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if old && entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}

/// The installer programs found for one ecosystem, with their environment.
enum Installer {
    Npm { npm: PathBuf, node: PathBuf, env: Vec<(String, String)>, cwd: PathBuf },
    Pypi { python: PathBuf, uv: Option<PathBuf>, env: Vec<(String, String)>, cwd: PathBuf },
}

impl Installer {
    fn new(cache: &PackageCache, ecosystem: Ecosystem) -> Result<Installer, LaunchError> {
        let root = &cache.root;
        let home = root.join("home");
        std::fs::create_dir_all(&home).map_err(LaunchError::io(&home))?;
        let mut env = base_env(&home);
        let user_home = std::env::var_os("HOME").map(PathBuf::from);
        match ecosystem {
            Ecosystem::Npm => {
                let missing = |program: &str| LaunchError::ToolMissing {
                    program: program.to_string(),
                    hint: "install Node.js (node and npm) to crawl npm packages".to_string(),
                };
                let npm = which("npm").ok_or_else(|| missing("npm"))?;
                let node = which("node").ok_or_else(|| missing("node"))?;
                set(&mut env, "npm_config_cache", root.join("npm-cache"));
                set(&mut env, "npm_config_update_notifier", "false");
                // The user's registry settings (mirror, auth) still apply with our HOME.
                if let Some(rc) = user_home.map(|h| h.join(".npmrc")).filter(|p| p.is_file()) {
                    set_default(&mut env, "npm_config_userconfig", rc);
                }
                Ok(Installer::Npm { npm, node, env, cwd: home })
            }
            Ecosystem::Pypi => {
                let python = which("python3").ok_or_else(|| LaunchError::ToolMissing {
                    program: "python3".to_string(),
                    hint: "install Python 3 with the venv module (or uv) to crawl PyPI packages".to_string(),
                })?;
                set(&mut env, "PIP_CACHE_DIR", root.join("pip-cache"));
                set(&mut env, "UV_CACHE_DIR", root.join("uv-cache"));
                set(&mut env, "PIP_NO_INPUT", "1");
                set(&mut env, "PIP_DISABLE_PIP_VERSION_CHECK", "1");
                set(&mut env, "PYTHONNOUSERSITE", "1");
                let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
                let user_conf = xdg.or_else(|| user_home.map(|h| h.join(".config"))).map(|c| c.join("pip/pip.conf"));
                if let Some(conf) = user_conf.filter(|p| p.is_file()) {
                    set_default(&mut env, "PIP_CONFIG_FILE", conf);
                }
                Ok(Installer::Pypi { python, uv: which("uv"), env, cwd: home })
            }
        }
    }

    fn command(&self, program: &Path, args: &[&str]) -> tokio::process::Command {
        let (env, cwd) = match self {
            Installer::Npm { env, cwd, .. } | Installer::Pypi { env, cwd, .. } => (env, cwd),
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).env_clear().envs(env.iter().map(|(k, v)| (k, v))).current_dir(cwd);
        cmd
    }

    async fn resolve_checked(&self, name: &str, limits: &InstallLimits) -> Result<String, LaunchError> {
        let v = self.resolve(name, limits).await?;
        check_version(&v).map_err(|reason| LaunchError::Resolve { name: name.to_string(), reason })?;
        Ok(v)
    }

    /// The registry's latest version of `name`.
    async fn resolve(&self, name: &str, limits: &InstallLimits) -> Result<String, LaunchError> {
        let failed = |reason: String| LaunchError::Resolve { name: name.to_string(), reason };
        match self {
            Installer::Npm { npm, .. } => {
                let spec = format!("{name}@latest");
                let cmd = self.command(npm, &["view", &spec, "version", "--json"]);
                let out = run(cmd, &format!("npm view {spec}"), limits.timeout, limits.output_tail_bytes).await?;
                match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                    Ok(serde_json::Value::String(v)) => Ok(v),
                    Ok(serde_json::Value::Array(vs)) => {
                        vs.last().and_then(|v| v.as_str()).map(String::from).ok_or_else(|| failed("no versions".into()))
                    }
                    _ => Err(failed(format!("unexpected `npm view` output: {}", out.tail))),
                }
            }
            Installer::Pypi { python, .. } => {
                // A dry run resolves exactly what `pip install` would pick, wheels only unless
                // source builds are allowed; nothing is installed (hence the override below).
                let mut args = vec!["-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed"];
                if !limits.build_from_source {
                    args.extend(["--only-binary", ":all:"]);
                }
                args.extend(["--report", "-", name]);
                let mut cmd = self.command(python, &args);
                cmd.env("PIP_BREAK_SYSTEM_PACKAGES", "1");
                let out = run(cmd, &format!("pip install --dry-run {name}"), limits.timeout, limits.output_tail_bytes)
                    .await?;
                let report: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .map_err(|e| failed(format!("unreadable pip report ({e}): {}", out.tail)))?;
                report["install"][0]["metadata"]["version"]
                    .as_str()
                    .map(String::from)
                    .ok_or_else(|| failed("pip resolved nothing".into()))
            }
        }
    }

    /// Installs `name` at `version` into the empty directory `dir`.
    async fn install(&self, dir: &Path, name: &str, version: &str, limits: &InstallLimits) -> Result<(), LaunchError> {
        let (timeout, tail) = (limits.timeout, limits.output_tail_bytes);
        let d = dir.to_string_lossy();
        match self {
            Installer::Npm { npm, .. } => {
                let spec = format!("{name}@{version}");
                let args = [
                    "install",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--omit=dev",
                    "--no-save",
                    "--prefix",
                    &d,
                    &spec,
                ];
                let mut cmd = self.command(npm, &args);
                cmd.current_dir(dir);
                run(cmd, &format!("npm install {spec}"), timeout, tail).await?;
            }
            Installer::Pypi { python, uv, .. } => {
                let venv = dir.join("venv");
                let v = venv.to_string_lossy();
                let venv_python = venv.join("bin/python");
                let vp = venv_python.to_string_lossy();
                let spec = format!("{name}=={version}");
                // The venv must point at the real interpreter, not a version manager's shim, so
                // the sandbox can mount its prefix.
                let real = real_python(self, python, limits).await?;
                let real = real.to_string_lossy();
                if let Some(uv) = uv {
                    run(self.command(uv, &["venv", "--python", &real, &v]), "uv venv", timeout, tail).await?;
                    let mut args = vec!["pip", "install", "--python", &vp];
                    if !limits.build_from_source {
                        args.push("--no-build");
                    }
                    args.push(&spec);
                    run(self.command(uv, &args), &format!("uv pip install {spec}"), timeout, tail).await?;
                } else {
                    run(self.command(Path::new(&*real), &["-m", "venv", &v]), "python3 -m venv", timeout, tail).await?;
                    let mut args = vec!["-m", "pip", "install", "--no-input", "--disable-pip-version-check"];
                    if !limits.build_from_source {
                        args.extend(["--only-binary", ":all:"]);
                    }
                    args.push(&spec);
                    run(self.command(&venv_python, &args), &format!("pip install {spec}"), timeout, tail).await?;
                }
            }
        }
        Ok(())
    }

    /// The entry point of the package installed in `dir`.
    fn entry(&self, dir: &Path, name: &str, version: &str) -> Result<LaunchCommand, LaunchError> {
        let missing =
            |reason: String| LaunchError::NoEntryPoint { name: name.to_string(), version: version.to_string(), reason };
        match self {
            Installer::Npm { node, .. } => {
                let script = npm_bin(dir, name).map_err(missing)?;
                Ok(plain(node, vec![script.to_string_lossy().into_owned()]))
            }
            Installer::Pypi { .. } => {
                let bin = dir.join("venv/bin");
                let script = pypi_script(&dir.join("venv"), name).map_err(missing)?;
                let python = bin.join("python");
                Ok(plain(&python, vec![bin.join(script).to_string_lossy().into_owned()]))
            }
        }
    }
}

async fn real_python(installer: &Installer, python: &Path, limits: &InstallLimits) -> Result<PathBuf, LaunchError> {
    let cmd = installer.command(python, &["-c", "import sys; print(sys.executable)"]);
    let out = run(cmd, "python3 -c sys.executable", limits.timeout, limits.output_tail_bytes).await?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if path.is_empty() {
        return Ok(python.to_path_buf());
    }
    Ok(PathBuf::from(path))
}

fn plain(program: &Path, args: Vec<String>) -> LaunchCommand {
    LaunchCommand { program: program.to_string_lossy().into_owned(), args, env: Vec::new(), cwd: None }
}

/// The environment every installer gets: PATH, our HOME, and the pass-through variables.
fn base_env(home: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())),
        ("HOME".to_string(), home.to_string_lossy().into_owned()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ];
    for (k, v) in std::env::vars() {
        if PASS_ENV.contains(&k.as_str()) || PASS_ENV_PREFIXES.iter().any(|p| k.starts_with(p)) {
            env.push((k, v));
        }
    }
    env
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: impl AsRef<std::ffi::OsStr>) {
    env.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    env.push((key.to_string(), value.as_ref().to_string_lossy().into_owned()));
}

fn set_default(env: &mut Vec<(String, String)>, key: &str, value: impl AsRef<std::ffi::OsStr>) {
    if !env.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
        set(env, key, value);
    }
}

/// The script an npm package runs: `bin` in its package.json, a string or a map (the entry named
/// like the unscoped package, else the only one, else the first by name). It must stay inside
/// the install directory.
fn npm_bin(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let pkg_dir = dir.join("node_modules").join(name);
    let manifest = pkg_dir.join("package.json");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("bad package.json: {e}"))?;
    let rel = match &json["bin"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => {
            let unscoped = name.rsplit('/').next().unwrap_or(name);
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let key = keys.iter().find(|k| k.as_str() == unscoped).or_else(|| keys.first()).copied();
            key.and_then(|k| map[k].as_str()).map(String::from).ok_or("package.json `bin` is empty")?
        }
        _ => return Err("package.json has no `bin` (not a command-line server)".to_string()),
    };
    let script = pkg_dir.join(&rel);
    let real = script.canonicalize().map_err(|e| format!("bin {rel:?} does not exist: {e}"))?;
    let inside = dir.canonicalize().map_err(|e| format!("{e}"))?;
    if !real.starts_with(&inside) || !real.is_file() {
        return Err(format!("bin {rel:?} points outside the package"));
    }
    Ok(script)
}

/// The console script of a PyPI package in `venv/bin`: the one named like the package, else the
/// first `[console_scripts]` entry (by name) of the package's own `entry_points.txt`.
fn pypi_script(venv: &Path, name: &str) -> Result<String, String> {
    let bin = venv.join("bin");
    let wanted = normalize_pypi(name);
    let entries = std::fs::read_dir(&bin).map_err(|e| format!("cannot list {}: {e}", bin.display()))?;
    let mut scripts: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
    scripts.sort();
    if let Some(s) = scripts.iter().find(|s| normalize_pypi(s) == wanted) {
        return Ok(s.clone());
    }
    let from_dist = dist_console_scripts(venv, &wanted);
    from_dist
        .into_iter()
        .find(|s| scripts.contains(s))
        .ok_or_else(|| format!("no console script named {name:?} and none declared in its entry_points.txt"))
}

/// The sorted `[console_scripts]` names of the installed distribution `wanted` (normalised).
fn dist_console_scripts(venv: &Path, wanted: &str) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(libs) = std::fs::read_dir(venv.join("lib")) else { return names };
    for lib in libs.flatten() {
        let Ok(dists) = std::fs::read_dir(lib.path().join("site-packages")) else { continue };
        for dist in dists.flatten() {
            let file = dist.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".dist-info") else { continue };
            let project = stem.split_once('-').map_or(stem, |(p, _)| p);
            if normalize_pypi(project) != wanted {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dist.path().join("entry_points.txt")) else { continue };
            let mut in_section = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with('[') {
                    in_section = line == "[console_scripts]";
                } else if in_section {
                    if let Some((script, _)) = line.split_once('=') {
                        names.push(script.trim().to_string());
                    }
                }
            }
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_bin_picks_the_entry_named_like_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("node_modules/@scope/srv");
        std::fs::create_dir_all(pkg.join("dist")).unwrap();
        for f in ["dist/a.js", "dist/srv.js"] {
            std::fs::write(pkg.join(f), "").unwrap();
        }
        let manifest = r#"{"bin": {"a-tool": "dist/a.js", "srv": "dist/srv.js"}}"#;
        std::fs::write(pkg.join("package.json"), manifest).unwrap();
        assert!(npm_bin(dir.path(), "@scope/srv").unwrap().ends_with("dist/srv.js"));
        std::fs::write(pkg.join("package.json"), r#"{"bin": {"z": "dist/srv.js", "a": "dist/a.js"}}"#).unwrap();
        assert!(npm_bin(dir.path(), "@scope/srv").unwrap().ends_with("dist/a.js"));
        std::fs::write(pkg.join("package.json"), r#"{"bin": "../../../../etc/passwd"}"#).unwrap();
        assert!(npm_bin(dir.path(), "@scope/srv").is_err());
        std::fs::write(pkg.join("package.json"), r#"{"main": "index.js"}"#).unwrap();
        assert!(npm_bin(dir.path(), "@scope/srv").unwrap_err().contains("no `bin`"));
    }

    #[test]
    fn pypi_script_falls_back_to_entry_points() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path();
        let dist = venv.join("lib/python3.11/site-packages/my_server-1.0.dist-info");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::create_dir_all(&dist).unwrap();
        for s in ["python", "pip", "zeta", "alpha"] {
            std::fs::write(venv.join("bin").join(s), "").unwrap();
        }
        std::fs::write(dist.join("entry_points.txt"), "[console_scripts]\nzeta = m:z\nalpha = m:a\n[other]\nx = y\n")
            .unwrap();
        assert_eq!(pypi_script(venv, "My.Server").unwrap(), "alpha");
        std::fs::write(venv.join("bin/my-server"), "").unwrap();
        assert_eq!(pypi_script(venv, "My.Server").unwrap(), "my-server");
    }
}
