//! Names from outside (server names, package names, versions) made safe: one path component for
//! the cache, and strict checks before a name or version reaches `npm` or `pip` as an argument.

use sha2::{Digest, Sha256};

/// Longest readable part of a [`safe_name`]; the whole name stays under 128 bytes.
const MAX_SLUG: usize = 100;

/// Turns any name into one safe path component.
///
/// A name made only of lowercase ASCII letters, digits and `. _ - @ + =` that does not start with a
/// dot or dash, has no `..` and is not a Windows reserved name is kept as it is. Anything else becomes
/// a readable slug (lowercased, other characters replaced by `_`, cut at 100 characters) followed
/// by `~` and 16 hex digits of the SHA-256 of the original. Kept names never contain `~`, so two
/// different names give two different components (up to a 64-bit hash collision), also on
/// case-insensitive filesystems.
pub fn safe_name(name: &str) -> String {
    if is_kept(name) {
        return name.to_string();
    }
    let mut slug = String::with_capacity(name.len().min(MAX_SLUG));
    let mut prev = '\0';
    for c in name.chars() {
        if slug.len() >= MAX_SLUG {
            break;
        }
        let c = c.to_ascii_lowercase();
        let keep = is_kept_char(c) && !(c == '.' && prev == '.') && !(slug.is_empty() && (c == '.' || c == '-'));
        let c = if keep { c } else { '_' };
        slug.push(c);
        prev = c;
    }
    if is_windows_reserved(&format!("{slug}~")) {
        slug.insert(0, '_');
    }
    let hash = Sha256::digest(name.as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{slug}~{hex}")
}

fn is_kept_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@' | '+' | '=')
}

fn is_kept(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SLUG
        && name.chars().all(is_kept_char)
        && !name.starts_with(['.', '-'])
        && !name.ends_with('.')
        && !name.contains("..")
        && !is_windows_reserved(name)
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM1`..`COM9`, `LPT1`..`LPT9`, with or without an extension.
fn is_windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit()
            && stem.as_bytes()[3] != b'0')
}

/// Checks an npm package name (`name` or `@scope/name`) before it is passed to npm: lowercase
/// URL-safe characters only, so it can never be read as an option, a path, a URL or a git spec.
pub(crate) fn check_npm_name(name: &str) -> Result<(), String> {
    let (scope, bare) = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, bare)) => (Some(scope), bare),
            None => return Err("a scoped name needs `@scope/name`".into()),
        },
        None => (None, name),
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 214
            && !p.starts_with(['.', '_', '-'])
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | '~'))
    };
    if scope.is_some_and(|s| !part_ok(s)) || !part_ok(bare) || name.len() > 214 {
        return Err("not a valid npm package name (lowercase letters, digits, `-._~`, optional @scope/)".into());
    }
    Ok(())
}

/// Checks a PyPI project name (PEP 508): letters, digits and `._-`, starting and ending with a
/// letter or digit.
pub(crate) fn check_pypi_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err("not a valid PyPI project name (letters, digits and `._-`)".into())
    }
}

/// Checks an exact version (npm semver or PEP 440): starts with a digit, then only
/// `0-9 A-Z a-z . + - ! _`. Ranges, tags (`latest`), URLs and paths are refused.
pub(crate) fn check_version(version: &str) -> Result<(), String> {
    let ok = version.len() <= 100
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '!' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("{version:?} is not an exact version (ranges, tags and URLs are refused)"))
    }
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub(crate) fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_safe(s: &str) {
        assert!(!s.is_empty() && s.len() < 128, "{s:?}");
        assert!(!s.contains(['/', '\\', '\0']) && !s.contains(".."), "{s:?}");
        assert!(!s.chars().any(|c| c.is_control() || !c.is_ascii()), "{s:?}");
        assert!(!s.starts_with(['.', '-']) && !s.ends_with('.'), "{s:?}");
        assert!(!is_windows_reserved(s), "{s:?}");
    }

    #[test]
    fn safe_names_keep_plain_names_and_hash_the_rest() {
        assert_eq!(safe_name("server-everything@2026.8.31"), "server-everything@2026.8.31");
        assert_eq!(safe_name("mcp-server-time==2026.10.19"), "mcp-server-time==2026.10.19");
        let hostile = [
            "../../etc/passwd",
            "CON",
            "con.txt",
            "com1",
            "LPT9.log",
            "a/b",
            "a\\b",
            "",
            ".",
            "..",
            "-rf",
            "a\0b",
            "\u{7}",
        ];
        let mut seen = std::collections::HashSet::new();
        for name in hostile.iter().copied().chain(["A", "a", "a_b", "a~b", "ünïcødé", "@scope/pkg@1.0.0"]) {
            let s = safe_name(name);
            assert_safe(&s);
            assert!(seen.insert(s.clone()), "{name:?} collides as {s:?}");
        }
        assert!(safe_name("@scope/pkg@1.0.0").starts_with("@scope_pkg@1.0.0~"));
        assert_eq!(safe_name(&"x".repeat(10_000)).len(), MAX_SLUG + 17);
        assert_ne!(safe_name(&"x".repeat(10_000)), safe_name(&"x".repeat(10_001)));
    }

    #[test]
    fn windows_reserved_names() {
        for n in ["CON", "nul", "Com1", "lpt9.txt", "aux.tar.gz"] {
            assert!(is_windows_reserved(n), "{n}");
        }
        for n in ["com0", "com10", "console", "lpt"] {
            assert!(!is_windows_reserved(n), "{n}");
        }
    }

    #[test]
    fn package_names_and_versions_are_checked() {
        assert!(check_npm_name("@modelcontextprotocol/server-everything").is_ok());
        assert!(check_npm_name("left-pad").is_ok());
        for bad in ["", "-g", "../x", "git+https://x", "file:/etc", "@scope", "@/x", "A B", "x/y", "Upper"] {
            assert!(check_npm_name(bad).is_err(), "{bad}");
        }
        assert!(check_pypi_name("mcp-server-time").is_ok());
        assert!(check_pypi_name("awslabs.iam-mcp-server").is_ok());
        for bad in ["", "-e", "x==1", "./x", "https://x", "x[extra]", "x "] {
            assert!(check_pypi_name(bad).is_err(), "{bad}");
        }
        for good in ["1.2.3", "2026.8.31", "1.0.0-beta.1", "1.0.0+build", "1!2.0", "1.0rc1"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["", "latest", "^1.0.0", ">=1", "1.0 || 2", "-1", "file:x", "1.0/../x"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_pypi("Foo__Bar.baz"), "foo-bar-baz");
    }
}
