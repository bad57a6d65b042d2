//! Crash safety, measured: `catalog import` and `catalog crawl` (the real binary) are killed with
//! SIGKILL at random points of their run, again and again, and after every kill each server must be
//! exactly as before the run or exactly as a finished run leaves it, `PRAGMA integrity_check` must
//! be `ok`, every current tool must have its verdict, and `catalog search` must recover the index
//! and agree with SQLite. The seed is printed (`CATALOG_KILL_SEED` replays it), and so are the
//! figures: kills, servers checked, servers lost (which must be 0).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use catalog::fuzz::Rng;

use crate::launch::python;
use crate::util::manifest_dir;

/// A server's current tools: name → definition hash.
type State = BTreeMap<String, String>;

/// Uniform in `[0, max]`, from the fuzzer's PRNG (so that a failing run can be replayed).
fn upto(rng: &mut Rng, max: Duration) -> Duration {
    let micros = max.as_micros().max(1) as u64;
    Duration::from_micros(rng.next() % (micros + 1))
}

fn seed() -> u64 {
    std::env::var("CATALOG_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    })
}

/// Tools of server `s` in version 1 or 2: version 2 changes some, removes some and adds some
/// whose descriptions carry a word found nowhere else (`zebracorn`).
fn tools(s: usize, version: u8) -> Vec<Value> {
    let mut out = Vec::new();
    for t in 0..30 {
        if version == 2 && t >= 25 {
            continue; // removed
        }
        let description = if version == 2 && t % 4 == 0 {
            format!("Gets record {t} of service {s}, now with its audit trail.")
        } else {
            format!("Gets record {t} of service {s} by id.")
        };
        out.push(json!({"name": format!("get_record_{t}"), "description": description,
                        "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}));
    }
    if version == 2 {
        for t in 30..36 {
            out.push(json!({"name": format!("delete_record_{t}"),
                            "description": format!("Deletes record {t} of service {s}; zebracorn cleanup.")}));
        }
    }
    out
}

/// Every server's state, by name, read straight from the SQLite file; panics unless the file
/// passes `PRAGMA integrity_check` and every current tool has a verdict.
fn states(db: &Path) -> BTreeMap<String, State> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok", "integrity_check of {}", db.display());
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM tools t LEFT JOIN verdicts v ON v.tool_id = t.id
             WHERE t.removed_at IS NULL AND v.tool_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "current tools without a verdict");
    let mut stmt = conn
        .prepare(
            "SELECT s.name, t.name, t.def_hash FROM tools t JOIN servers s ON s.id = t.server_id
             WHERE t.removed_at IS NULL",
        )
        .unwrap();
    let mut out: BTreeMap<String, State> = BTreeMap::new();
    for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap() {
        let (server, tool, hash): (String, String, String) = row.unwrap();
        out.entry(server).or_default().insert(tool, hash);
    }
    out
}

/// Copies the database and everything beside it (`-wal`, `-shm`, the index directory).
fn copy_catalog(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("c.db") {
            continue;
        }
        if path.is_dir() {
            copy_catalog_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

fn copy_catalog_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.path().is_dir() {
            copy_catalog_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `catalog ARGS` on the catalog in `dir`, killed after `after` (or run to the end with `None`).
/// Returns how long it ran and whether it finished before the kill.
fn run_catalog(dir: &Path, args: &[String], after: Option<Duration>) -> (Duration, bool) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_catalog"))
        .args(args)
        .args(["--db", dir.join("c.db").to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let Some(after) = after else {
        assert!(child.wait().unwrap().success(), "catalog {args:?} failed");
        return (started.elapsed(), true);
    };
    let deadline = started + after;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "catalog {args:?} failed");
            return (started.elapsed(), true);
        }
        let now = Instant::now();
        if now >= deadline {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return (started.elapsed(), false);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
}

/// The servers `catalog search zebracorn` finds: those the finished run updated.
fn searched(dir: &Path) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_catalog"))
        .args(["search", "zebracorn", "--limit", "10000", "--format", "json", "--db"])
        .arg(dir.join("c.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "search after a kill: {}", String::from_utf8_lossy(&out.stderr));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    found["hits"].as_array().unwrap().iter().map(|h| h["server"].as_str().unwrap().to_string()).collect()
}

#[derive(Default, Clone, Copy)]
struct Tally {
    kills: usize,
    finished: usize,
    servers: usize,
    before: usize,
    after: usize,
    lost: usize,
}

/// Kills `args` `kills` times at uniform points of its unkilled duration, from the catalog in
/// `template`, checking every server against `before` and `after` each time.
fn kill_repeatedly(
    rng: &mut Rng,
    work: &Path,
    template: &Path,
    args: &[String],
    kills: usize,
    tally: &mut Tally,
) -> (BTreeMap<String, State>, BTreeMap<String, State>) {
    let before = states(&template.join("c.db"));
    let full = work.join("full");
    copy_catalog(template, &full);
    let (duration, _) = run_catalog(&full, args, None);
    let after = states(&full.join("c.db"));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    assert!(before.iter().all(|(s, st)| after[s] != *st), "every server must change in the run");
    let span = duration;
    for k in 0..kills {
        let dir = work.join("killed");
        copy_catalog(template, &dir);
        let (_, finished) = run_catalog(&dir, args, Some(upto(rng, span)));
        tally.kills += usize::from(!finished);
        tally.finished += usize::from(finished);
        let now = states(&dir.join("c.db"));
        let mut updated = BTreeSet::new();
        for (server, was) in &before {
            tally.servers += 1;
            match now.get(server) {
                Some(s) if s == was => tally.before += 1,
                Some(s) if *s == after[server] => {
                    tally.after += 1;
                    updated.insert(server.clone());
                }
                _ => {
                    tally.lost += 1;
                    panic!("kill {k}: {server} is neither as before nor fully updated: {:?}", now.get(server));
                }
            }
        }
        // The index is rebuilt from SQLite where it is stale, and agrees with it.
        assert_eq!(searched(&dir), updated, "kill {k}: search disagrees with SQLite");
        if k % 8 == 0 {
            // Running again completes the catalog.
            run_catalog(&dir, args, None);
            assert_eq!(states(&dir.join("c.db")), after, "kill {k}: a rerun did not complete the catalog");
        }
    }
    (before, after)
}

#[test]
fn sigkill_at_random_points_loses_no_server() {
    let seed = seed();
    let mut rng = Rng(seed);
    let work = tempfile::tempdir().unwrap();
    let mut tally = Tally::default();
    let started = Instant::now();

    // `catalog import`: 40 servers, one file each, from version 1 to version 2.
    let (v1, v2) = (work.path().join("v1"), work.path().join("v2"));
    for (dir, version) in [(&v1, 1), (&v2, 2)] {
        std::fs::create_dir_all(dir).unwrap();
        for s in 0..40 {
            let text = json!({ "tools": tools(s, version) }).to_string();
            std::fs::write(dir.join(format!("svc{s:02}.tools.json")), text).unwrap();
        }
    }
    let template = work.path().join("import-template");
    std::fs::create_dir_all(&template).unwrap();
    run_catalog(&template, &["import".into(), v1.to_string_lossy().into_owned()], None);
    let import = ["import".to_string(), v2.to_string_lossy().into_owned()];
    kill_repeatedly(&mut rng, work.path(), &template, &import, 44, &mut tally);
    let import = tally;

    // `catalog crawl`: 12 stdio servers in the sandbox, whose tools change between the crawls.
    let srv = work.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    std::fs::copy(manifest_dir().join("tests/it/mcp/list_server.py"), srv.join("list_server.py")).unwrap();
    let py = python();
    let mut crawl = vec!["crawl".to_string(), "--quiet".into(), "--launch-concurrency".into(), "4".into()];
    for s in 0..12 {
        let file = srv.join(format!("tools{s:02}.json"));
        std::fs::write(&file, json!(tools(s, 1)).to_string()).unwrap();
        crawl.extend([
            "--stdio".to_string(),
            format!("{py} {} {}", srv.join("list_server.py").display(), file.display()),
        ]);
    }
    let template = work.path().join("crawl-template");
    std::fs::create_dir_all(&template).unwrap();
    run_catalog(&template, &crawl, None);
    for s in 0..12 {
        std::fs::write(srv.join(format!("tools{s:02}.json")), json!(tools(s, 2)).to_string()).unwrap();
    }
    kill_repeatedly(&mut rng, work.path(), &template, &crawl, 16, &mut tally);

    let line = |what: &str, t: &Tally| {
        format!(
            "{what}: {} kills, {} servers checked: {} as before, {} fully updated, {} lost",
            t.kills, t.servers, t.before, t.after, t.lost
        )
    };
    let crawl = Tally {
        kills: tally.kills - import.kills,
        finished: tally.finished - import.finished,
        servers: tally.servers - import.servers,
        before: tally.before - import.before,
        after: tally.after - import.after,
        lost: tally.lost - import.lost,
    };
    let figures = format!(
        "\nkill test (seed {seed}, {:.1} s; {} runs finished before their kill)\n  {}\n  {}\n  {}\n",
        started.elapsed().as_secs_f64(),
        tally.finished,
        line("import", &import),
        line("crawl", &crawl),
        line("total", &tally),
    );
    std::io::stderr().write_all(figures.as_bytes()).unwrap();
    assert_eq!(tally.lost, 0);
    assert!(tally.kills >= 50, "too few runs were killed before they finished: {figures}");
}
