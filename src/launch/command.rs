//! A user's own command (`--stdio`, a client config's `command`), made ready for the sandbox.
//!
//! Such a command names a program and, usually, a script or a directory it needs (`node
//! ./server.js`, `python3 /opt/srv/main.py`, `uv --directory ~/src/srv run srv`). The sandbox
//! shows nothing of the host but the system, so [`prepare`] works out what this one command must
//! read and nothing more: the program itself, found on the caller's PATH, and for each argument
//! that names an existing path, the project it belongs to (the nearest directory above it with a
//! `package.json`, `pyproject.toml`, `.git` ...; else the path's own directory). The caller's
//! home directory and `/` are never shared whole, even when a project marker sits there: the
//! path's own directory is shared instead. Everything shared is listed, with the argument that
//! asked for it, in the launch's protections.

use std::path::{Path, PathBuf};

use super::process::which;
use super::LaunchError;

/// Files that mark the root of a project a script belongs to.
const PROJECT_MARKERS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "Cargo.toml",
    "go.mod",
    "deno.json",
    ".git",
];

/// A user's command with its program resolved and what it must read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The program as an absolute path.
    pub program: String,
    /// Host directories the command must read, each with the argument that named it.
    pub reads: Vec<(PathBuf, String)>,
    /// The caller's working directory, kept when a shared directory holds it (relative paths in
    /// the arguments then mean what they meant); else the command starts in its scratch directory.
    pub cwd: Option<PathBuf>,
}

/// Resolves `program` (on the caller's PATH, or relative to `cwd`) and finds the directories
/// `args` point into. `home` is the caller's home directory, never shared whole.
pub fn prepare(program: &str, args: &[String], cwd: &Path, home: Option<&Path>) -> Result<Prepared, LaunchError> {
    let resolved = if program.contains('/') {
        let p = cwd.join(program);
        p.is_file().then_some(p)
    } else {
        which(program)
    };
    let Some(resolved) = resolved else {
        let hint =
            if program.contains('/') { "no such file" } else { "it is not on PATH; give its path, or install it" };
        return Err(LaunchError::NoProgram { program: program.to_string(), hint });
    };
    let mut reads: Vec<(PathBuf, String)> = Vec::new();
    let mut share = |path: &Path, why: &str| {
        let Ok(real) = path.canonicalize() else { return };
        if is_system(&real) {
            return;
        }
        let dir = project_root(&real, home);
        if !reads.iter().any(|(d, _)| dir.starts_with(d)) {
            reads.retain(|(d, _)| !d.starts_with(&dir));
            reads.push((dir, why.to_string()));
        }
    };
    // A program named by a relative path is part of a project (`./server`, `bin/srv`); one named
    // by an absolute path is a runtime, whose prefix the sandbox shares by itself.
    if program.contains('/') && !program.starts_with('/') {
        share(&resolved, program);
    }
    for arg in args {
        // `--flag=value` names its value; a bare word names itself.
        let value = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => value,
            _ => arg.as_str(),
        };
        if value.is_empty() || value.starts_with('-') || value.contains('\0') {
            continue;
        }
        let path = cwd.join(value);
        if path.exists() {
            share(&path, arg);
        }
    }
    reads.sort();
    let cwd = reads.iter().any(|(d, _)| cwd.starts_with(d)).then(|| cwd.to_path_buf());
    Ok(Prepared { program: resolved.to_string_lossy().into_owned(), reads, cwd })
}

/// The project `path` belongs to: the nearest directory at or above it (a file's own directory
/// first) with a project marker, stopping below the caller's home and `/`; else the path's own
/// directory. Never `/`, never `home` or a directory above it.
fn project_root(path: &Path, home: Option<&Path>) -> PathBuf {
    let start = if path.is_dir() { path } else { path.parent().unwrap_or(path) };
    let too_wide = |dir: &Path| dir.parent().is_none() || home.is_some_and(|h| h.starts_with(dir));
    let within = || start.ancestors().take_while(|dir| !too_wide(dir));
    // A script inside `node_modules` needs its siblings there: the project holds the outermost one.
    let installed = within().filter(|dir| dir.file_name().is_some_and(|n| n == "node_modules")).last();
    if let Some(parent) = installed.and_then(Path::parent).filter(|p| !too_wide(p)) {
        return parent.to_path_buf();
    }
    let found = within().find(|dir| PROJECT_MARKERS.iter().any(|m| dir.join(m).exists()));
    match found {
        Some(dir) => dir.to_path_buf(),
        // A file directly in the home directory (or in `/`) shares only itself.
        None if too_wide(start) => path.to_path_buf(),
        None => start.to_path_buf(),
    }
}

/// Already visible in the sandbox (read-only system directories).
fn is_system(p: &Path) -> bool {
    ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"].iter().any(|s| p.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_script_shares_its_project_and_nothing_above() {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("src/srv");
        std::fs::create_dir_all(project.join("dist")).unwrap();
        std::fs::write(project.join("package.json"), "{}").unwrap();
        std::fs::write(project.join("dist/index.js"), "").unwrap();
        std::fs::write(home.path().join("secret.txt"), "").unwrap();
        let home_real = home.path().canonicalize().unwrap();
        let p = prepare("sh", &args(&["dist/index.js", "--port=3", "-v"]), &project, Some(&home_real)).unwrap();
        assert!(p.program.starts_with('/') && p.program.ends_with("/sh"), "{p:?}");
        assert_eq!(p.reads, [(project.canonicalize().unwrap(), "dist/index.js".to_string())]);
        assert_eq!(p.cwd.as_deref(), Some(project.as_path()));

        // A file right in the home directory shares itself, not the home.
        let p = prepare("sh", &args(&["--config=secret.txt"]), home.path(), Some(&home_real)).unwrap();
        assert_eq!(p.reads, [(home_real.join("secret.txt"), "--config=secret.txt".to_string())]);
        assert_eq!(p.cwd, None);

        // A script inside node_modules shares the project that holds node_modules.
        let pkg = project.join("node_modules/@scope/pkg");
        std::fs::create_dir_all(pkg.join("dist")).unwrap();
        std::fs::write(pkg.join("package.json"), "{}").unwrap();
        std::fs::write(pkg.join("dist/index.js"), "").unwrap();
        let p = prepare("sh", &args(&["node_modules/@scope/pkg/dist/index.js"]), &project, Some(&home_real)).unwrap();
        assert_eq!(p.reads, [(project.canonicalize().unwrap(), "node_modules/@scope/pkg/dist/index.js".to_string())]);

        // A marker in the home directory does not share the home.
        std::fs::write(home.path().join(".git"), "").unwrap();
        std::fs::create_dir_all(home.path().join("scripts")).unwrap();
        std::fs::write(home.path().join("scripts/probe.py"), "").unwrap();
        let p = prepare("sh", &args(&["scripts/probe.py"]), home.path(), Some(&home_real)).unwrap();
        assert_eq!(p.reads, [(home_real.join("scripts"), "scripts/probe.py".to_string())]);
    }

    #[test]
    fn system_paths_and_non_paths_share_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = prepare("sh", &args(&["-c", "echo hi", "/usr/bin", "/etc/passwd", "x=y"]), dir.path(), None).unwrap();
        assert_eq!(p.reads, []);
        let err = prepare("no-such-program-anywhere", &[], dir.path(), None).unwrap_err();
        assert_eq!(err.kind(), "spawn");
    }
}
