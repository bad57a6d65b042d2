//! The bubblewrap sandbox and the resource limits.
//!
//! A wrapped command runs as
//! `bwrap <namespaces> <mounts> --chdir … --setenv … -- prlimit <limits> -- [setpriv …] <program> <args>`:
//!
//! - Namespaces: new network (loopback only, down; the host's only with [`Access::network`], for
//!   `--allow-net`), pid, ipc, uts and cgroup namespaces; no capabilities; a new session (no
//!   terminal injection); killed with its parent. The pid namespace is what kills the whole tree:
//!   when the sandbox's init dies, the kernel kills everything left in it, daemons included.
//! - Mounts: `/usr` (and `/bin`, `/lib*`, `/sbin` as the host has them) read-only; of `/etc` only
//!   the files programs need to start (certificates, passwd, hosts, ld.so); the runtime's prefix
//!   (node's or python's, found from the program's real path) and [`Access::read_only`] (the
//!   installed package, or the project a user's command runs from, and `--bind-ro` paths) read-only;
//!   the scratch directory read-write; fresh `/proc`, `/dev`, and size-limited tmpfs `/tmp` and
//!   HOME (`/home/sandbox`); the sandbox's own root and the directories bwrap makes in it are
//!   remounted read-only. Nothing else of the host, in particular not the caller's home.
//! - Limits (`prlimit`): data segment (memory), file size, processes, open files, no core dumps.
//!   Memory is bounded with `RLIMIT_DATA`, not `RLIMIT_AS`: V8 reserves about 10 GiB of address
//!   space for every WebAssembly memory, so an address-space limit breaks node servers that use
//!   wasm, while `RLIMIT_DATA` counts only memory that is actually writable (malloc, mmap, heap).
//! - Identity: `RLIMIT_NPROC` counts processes per real user and is never enforced for root, so a
//!   caller running as root gets no user namespace (it would map the sandbox to root again) but
//!   `setpriv` to `nobody` (65534) inside the sandbox, after the mounts are made. That limit is
//!   then shared by every sandbox running at the same time. A non-root caller gets a user
//!   namespace (`--unshare-user`, nested ones disabled), where the kernel counts the sandbox's
//!   processes on their own.

use std::path::{Path, PathBuf};

use super::process::which;
use super::{LaunchCommand, LaunchError};

/// The variable an unsandboxed launch's processes carry, with the launch's id, so that
/// [`super::kill_marked`] finds what the process group's kill missed.
pub const LAUNCH_MARKER: &str = "CATALOG_LAUNCH";

/// The user a root caller's sandbox runs as.
const NOBODY: u32 = 65534;
/// HOME inside the sandbox: a tmpfs, thrown away at exit.
const SANDBOX_HOME: &str = "/home/sandbox";
/// PATH inside the sandbox, after the program's own directory.
const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// The parts of `/etc` a sandboxed program may read (when the host has them).
const ETC_FILES: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "ssl",
];

/// Resource limits for one launched server (and everything it starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLimits {
    /// Writable memory per process (`RLIMIT_DATA`), in bytes.
    pub memory_bytes: u64,
    /// Largest file a process may write (`RLIMIT_FSIZE`), and the size of each tmpfs.
    pub file_bytes: u64,
    /// Processes and threads (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits { memory_bytes: 2 << 30, file_bytes: 256 << 20, processes: 256, open_files: 1024 }
    }
}

impl RunLimits {
    fn prlimit_args(&self) -> Vec<String> {
        vec![
            format!("--data={}", self.memory_bytes),
            format!("--fsize={}", self.file_bytes),
            format!("--nproc={}", self.processes),
            format!("--nofile={}", self.open_files),
            "--core=0".to_string(),
            "--".to_string(),
        ]
    }
}

/// What a sandboxed program may reach beyond the system's read-only files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Host paths mounted read-only at their own paths: the installed package, the project a
    /// user's command runs from, the user's `--bind-ro` paths.
    pub read_only: Vec<PathBuf>,
    /// Keep the host's network (`--allow-net SERVER`): the program can then reach any address.
    pub network: bool,
}

impl Access {
    /// An installed package: its directory read-only, no network.
    pub fn package(dir: &Path) -> Access {
        Access { read_only: vec![dir.to_path_buf()], network: false }
    }
}

/// A working bubblewrap, found by [`Sandbox::detect`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    prlimit: PathBuf,
    /// Set when the caller is root: the sandbox drops to `nobody` with it.
    setpriv: Option<PathBuf>,
    /// bubblewrap 0.8 or later: tmpfs sizes (`--size`) and `--disable-userns`. Older ones run
    /// without them (tmpfs bounded by memory only, nested user namespaces possible).
    modern: bool,
}

impl Sandbox {
    /// Bubblewrap (with `prlimit`, and `setpriv` when running as root) on PATH and working: a
    /// wrapped `true` is run once.
    pub fn detect() -> Option<Sandbox> {
        Sandbox::probe().ok()
    }

    /// Like [`Sandbox::detect`], saying why there is no sandbox.
    pub fn probe() -> Result<Sandbox, String> {
        let bwrap = which("bwrap").ok_or("bwrap is not on PATH")?;
        let prlimit = which("prlimit").ok_or("prlimit (util-linux) is not on PATH")?;
        let setpriv = if is_root() {
            Some(which("setpriv").ok_or("running as root needs setpriv (util-linux) on PATH")?)
        } else {
            None
        };
        let modern = Sandbox { bwrap, prlimit, setpriv, modern: true };
        let legacy = Sandbox { modern: false, ..modern.clone() };
        modern.try_true().or_else(|e| legacy.try_true().map_err(|_| e))
    }

    /// Runs a wrapped `true`.
    fn try_true(self) -> Result<Sandbox, String> {
        let truth = which("true").ok_or("`true` is not on PATH")?;
        let scratch = std::env::temp_dir().join(format!("catalog-bwrap-probe-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let cmd = LaunchCommand { program: truth.to_string_lossy().into_owned(), args: vec![], env: vec![], cwd: None };
        let wrapped = self.wrap(cmd, &Access::default(), &RunLimits::default(), &scratch);
        let output = wrapped.and_then(|w| {
            std::process::Command::new(&w.program)
                .args(&w.args)
                .env_clear()
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|source| LaunchError::Spawn { program: w.program.clone(), source })
        });
        let _ = std::fs::remove_dir_all(&scratch);
        match output {
            Ok(out) if out.status.success() => Ok(self),
            Ok(out) => Err(format!(
                "bwrap does not work here ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Wraps `cmd` to run in the sandbox, with `access.read_only` read-only and `scratch` the only
    /// writable directory (its owner becomes `nobody` when the caller is root). The working
    /// directory is `cmd.cwd`, else `scratch`. The returned command's own environment is empty:
    /// the sandboxed program's is set inside (`--clearenv`, `--setenv`).
    pub fn wrap(
        &self,
        cmd: LaunchCommand,
        access: &Access,
        limits: &RunLimits,
        scratch: &Path,
    ) -> Result<LaunchCommand, LaunchError> {
        let scratch = absolute(scratch)?;
        let read_only = access.read_only.iter().map(|p| absolute(p)).collect::<Result<Vec<_>, _>>()?;
        let mut a: Vec<String> = Vec::new();
        let mut push = |args: &[&str]| a.extend(args.iter().map(|s| s.to_string()));
        if !access.network {
            push(&["--unshare-net"]);
        }
        push(&["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]);
        if self.setpriv.is_some() {
            // Root keeps every capability in bwrap without a user namespace; the program drops all
            // of them with setpriv (which needs these two to change user).
            push(&["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]);
            std::os::unix::fs::chown(&scratch, Some(NOBODY), Some(NOBODY)).map_err(LaunchError::io(&scratch))?;
        } else {
            push(&["--unshare-user"]);
            if self.modern {
                push(&["--disable-userns"]);
            }
        }
        push(&["--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]);

        // The system, read-only.
        push(&["--ro-bind", "/usr", "/usr"]);
        for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            match std::fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(dir) {
                        push(&["--symlink", &target.to_string_lossy(), dir]);
                    }
                }
                Ok(m) if m.is_dir() => push(&["--ro-bind", dir, dir]),
                _ => {}
            }
        }
        push(&["--perms", "0755", "--dir", "/etc"]);
        let resolver: &[&str] = if access.network { &["resolv.conf"] } else { &[] };
        for name in ETC_FILES.iter().chain(resolver) {
            let path = format!("/etc/{name}");
            push(&["--ro-bind-try", &path, &path]);
        }
        push(&["--proc", "/proc", "--dev", "/dev"]);
        let size = limits.file_bytes.to_string();
        let home_perms = if self.setpriv.is_some() { "0777" } else { "0700" };
        let sized: &[&str] = if self.modern { &["--size", &size] } else { &[] };
        push(&[&["--perms", "1777"], sized, &["--tmpfs", "/tmp"]].concat());
        push(&["--perms", "0755", "--dir", "/home"]);
        push(&[&["--perms", home_perms], sized, &["--tmpfs", SANDBOX_HOME]].concat());

        // The runtime, the package and the scratch directory, at their own paths (venvs and
        // node_modules hold absolute paths), below directories made for them.
        let mut binds: Vec<(PathBuf, bool)> = runtime_prefixes(&cmd.program, &read_only)
            .into_iter()
            .filter(|p| !is_system_path(p))
            .map(|p| (p, false))
            .collect();
        binds.extend(read_only.iter().filter(|p| !is_system_path(p)).map(|p| (p.clone(), false)));
        binds.push((scratch.clone(), true));
        binds.sort();
        binds.dedup();
        let mut made: Vec<PathBuf> = Vec::new();
        for (path, writable) in &binds {
            for anc in path.ancestors().collect::<Vec<_>>().into_iter().rev().skip(1) {
                if anc == path.as_path() || made.iter().any(|m| m == anc) || is_premounted(anc) {
                    continue;
                }
                if binds.iter().any(|(b, _)| anc.starts_with(b)) {
                    continue; // inside an earlier bind: it exists
                }
                push(&["--perms", "0755", "--dir", &anc.to_string_lossy()]);
                made.push(anc.to_path_buf());
            }
            let p = path.to_string_lossy();
            push(&[if *writable { "--bind" } else { "--ro-bind" }, &p, &p]);
        }

        // The directories bwrap made (`/`, `/etc`, the parents of the binds) are read-only too.
        push(&["--remount-ro", "/"]);
        let cwd = cmd.cwd.clone().unwrap_or_else(|| scratch.clone());
        push(&["--chdir", &cwd.to_string_lossy()]);
        for (k, v) in sandbox_env(&cmd, SANDBOX_HOME, "/tmp") {
            push(&["--setenv", &k, &v]);
        }
        push(&["--", &self.prlimit.to_string_lossy()]);
        a.extend(limits.prlimit_args());
        if let Some(setpriv) = &self.setpriv {
            a.extend([
                setpriv.to_string_lossy().into_owned(),
                format!("--reuid={NOBODY}"),
                format!("--regid={NOBODY}"),
                "--clear-groups".to_string(),
                "--inh-caps=-all".to_string(),
                "--".to_string(),
            ]);
        }
        a.push(cmd.program);
        a.extend(cmd.args);
        Ok(LaunchCommand { program: self.bwrap.to_string_lossy().into_owned(), args: a, env: Vec::new(), cwd: None })
    }
}

/// The `--no-sandbox` form: no isolation, but the same environment rules (only `cmd.env`, PATH,
/// HOME and TMPDIR in `scratch`) and the same `prlimit` limits, plus [`LAUNCH_MARKER`] set to
/// `launch_id` so that [`super::kill_marked`] can end what it leaves running. The process limit
/// does not apply to root.
pub fn unsandboxed(cmd: LaunchCommand, limits: &RunLimits, scratch: &Path, launch_id: &str) -> LaunchCommand {
    let scratch_s = scratch.to_string_lossy();
    let mut env = sandbox_env(&cmd, &scratch_s, &scratch_s);
    env.push((LAUNCH_MARKER.to_string(), launch_id.to_string()));
    let prlimit = which("prlimit").map_or_else(|| "prlimit".to_string(), |p| p.to_string_lossy().into_owned());
    let mut args = limits.prlimit_args();
    args.push(cmd.program);
    args.extend(cmd.args);
    LaunchCommand { program: prlimit, args, env, cwd: Some(cmd.cwd.unwrap_or_else(|| scratch.to_path_buf())) }
}

/// The launched program's whole environment: the caller's variables (placeholders) with PATH,
/// HOME and TMPDIR forced, and LANG defaulted. Names that cannot be variables are dropped.
fn sandbox_env(cmd: &LaunchCommand, home: &str, tmp: &str) -> Vec<(String, String)> {
    let forced = ["PATH", "HOME", "TMPDIR", LAUNCH_MARKER];
    let mut env: Vec<(String, String)> = cmd
        .env
        .iter()
        .filter(|(k, v)| {
            !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0') && !forced.contains(&k.as_str())
        })
        .cloned()
        .collect();
    let program_dir = Path::new(&cmd.program).parent().filter(|d| d.is_absolute());
    let path = match program_dir {
        Some(d) => format!("{}:{SYSTEM_PATH}", d.display()),
        None => SYSTEM_PATH.to_string(),
    };
    env.push(("PATH".into(), path));
    env.push(("HOME".into(), home.into()));
    env.push(("TMPDIR".into(), tmp.into()));
    if !env.iter().any(|(k, _)| k == "LANG") {
        env.push(("LANG".into(), "C.UTF-8".into()));
    }
    env
}

/// The install prefixes of the program's runtime (node's, python's): the real path's
/// `<prefix>/bin/<exe>` gives `<prefix>`. A venv's `pyvenv.cfg` (in a read-only directory)
/// names its base interpreter too. A prefix that would expose the caller's home or `/` shrinks
/// to the program's own directory; one inside a read-only directory needs no bind of its own.
fn runtime_prefixes(program: &str, read_only: &[PathBuf]) -> Vec<PathBuf> {
    let mut programs = Vec::new();
    let p = Path::new(program);
    if p.is_absolute() {
        programs.push(p.to_path_buf());
    } else if let Some(found) = which(program) {
        programs.push(found);
    }
    // A venv's base interpreter: the installed package's `venv/`, or the program's own venv.
    let program_venv = programs.first().and_then(|p| p.parent()?.parent().map(Path::to_path_buf));
    let venvs = read_only.iter().map(|dir| dir.join("venv")).chain(program_venv);
    for venv in venvs.collect::<Vec<_>>() {
        let Ok(cfg) = std::fs::read_to_string(venv.join("pyvenv.cfg")) else { continue };
        for line in cfg.lines() {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "home" {
                    programs.push(Path::new(value.trim()).join("python3"));
                }
            }
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut prefixes = Vec::new();
    for program in programs {
        let Ok(real) = program.canonicalize() else { continue };
        let Some(dir) = real.parent() else { continue };
        let prefix = match dir.file_name() {
            Some(n) if n == "bin" => dir.parent().unwrap_or(dir),
            _ => dir,
        };
        let exposes_home = home.as_deref().is_some_and(|h| h.starts_with(prefix));
        let chosen = if prefix == Path::new("/") || exposes_home { dir } else { prefix };
        if !read_only.iter().any(|dir| dir.starts_with(chosen) || chosen.starts_with(dir)) {
            prefixes.push(chosen.to_path_buf());
        }
    }
    prefixes
}

/// The host paths a wrapped `program` can read beyond the system's: the runtime's prefixes and
/// the access's read-only paths, as [`Sandbox::wrap`] mounts them.
pub(super) fn shared_paths(program: &str, access: &Access) -> Vec<PathBuf> {
    let read_only: Vec<PathBuf> = access.read_only.iter().filter_map(|p| std::path::absolute(p).ok()).collect();
    let mut paths: Vec<PathBuf> =
        runtime_prefixes(program, &read_only).into_iter().chain(read_only).filter(|p| !is_system_path(p)).collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Under `/usr` or one of its aliases: already mounted read-only.
fn is_system_path(p: &Path) -> bool {
    ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"].iter().any(|s| p.starts_with(s))
}

/// Mounted before the binds: no `--dir` needed for it or (for the read-only ones) below it.
fn is_premounted(p: &Path) -> bool {
    p == Path::new("/tmp") || p == Path::new("/home") || p == Path::new(SANDBOX_HOME) || is_system_path(p)
}

fn absolute(p: &Path) -> Result<PathBuf, LaunchError> {
    std::path::absolute(p).map_err(LaunchError::io(p))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
