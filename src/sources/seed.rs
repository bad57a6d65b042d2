//! The bundled seed list: `data/servers.toml`, compiled in. Real public MCP servers on npm and
//! PyPI, each pinned to an exact published version, with placeholder values for the environment
//! variables they need to start. The file's header documents its format.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::config::is_exact_version;
use super::{Ecosystem, SourceError, Target, TargetKind};

/// The seed list as shipped.
pub const SEED_TOML: &str = include_str!("../../data/servers.toml");

/// One `[[server]]` of the seed list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServer {
    /// Catalog name, registry style: `<reverse-dns>/<name>`.
    pub name: String,
    /// `npm` or `pypi`.
    pub ecosystem: String,
    pub package: String,
    /// Exact, published.
    pub version: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Required environment variables, with obviously fake values.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How the server talks once started (always `stdio` today); informational.
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    server: Vec<SeedServer>,
}

/// The bundled list as targets (`source: "seed"`).
pub fn seed_targets() -> Result<Vec<Target>, SourceError> {
    Ok(parse_seed(SEED_TOML)?.into_iter().filter_map(|s| to_target(s).ok()).collect())
}

/// Parses and checks a seed list: every problem (bad ecosystem, version not exact, duplicate name
/// or package, bad name) is collected, then reported at once.
pub fn parse_seed(text: &str) -> Result<Vec<SeedServer>, SourceError> {
    let file: SeedFile = toml::from_str(text).map_err(|e| SourceError::Seed { message: e.to_string() })?;
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut packages = HashSet::new();
    for s in &file.server {
        let at = &s.name;
        if !valid_name(&s.name) {
            problems.push(format!("{at}: the name must look like `reverse.dns/name`"));
        }
        if !names.insert(s.name.as_str()) {
            problems.push(format!("{at}: duplicate name"));
        }
        if !packages.insert((s.ecosystem.as_str(), s.package.as_str())) {
            problems.push(format!("{at}: duplicate package {} {}", s.ecosystem, s.package));
        }
        if ecosystem(&s.ecosystem).is_none() {
            problems.push(format!("{at}: ecosystem {:?} is not npm or pypi", s.ecosystem));
        }
        if !is_exact_version(&s.version) {
            problems.push(format!("{at}: version {:?} is not an exact version", s.version));
        }
        if s.package.trim().is_empty() || s.package.trim() != s.package {
            problems.push(format!("{at}: package {:?} is empty or padded", s.package));
        }
        for (k, v) in &s.env {
            if k.is_empty() || v.is_empty() {
                problems.push(format!("{at}: env {k:?} needs a name and a placeholder value"));
            }
        }
    }
    if problems.is_empty() {
        Ok(file.server)
    } else {
        Err(SourceError::Seed { message: problems.join("; ") })
    }
}

fn to_target(s: SeedServer) -> Result<Target, String> {
    let ecosystem = ecosystem(&s.ecosystem).ok_or_else(|| s.ecosystem.clone())?;
    Ok(Target {
        version: Some(s.version.clone()),
        source: "seed".to_string(),
        kind: TargetKind::Package {
            ecosystem,
            name: s.package,
            version: Some(s.version),
            args: s.args,
            env: s.env.into_iter().collect(),
        },
        server: s.name,
    })
}

fn ecosystem(s: &str) -> Option<Ecosystem> {
    match s {
        "npm" => Some(Ecosystem::Npm),
        "pypi" => Some(Ecosystem::Pypi),
        _ => None,
    }
}

/// The registry's name rule: `^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$`.
fn valid_name(name: &str) -> bool {
    let Some((ns, rest)) = name.split_once('/') else { return false };
    let ok = |s: &str, extra: &[u8]| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || extra.contains(&b))
    };
    ok(ns, b"") && ok(rest, b"_")
}
