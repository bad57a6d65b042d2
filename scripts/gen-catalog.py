#!/usr/bin/env python3
"""Generate a large, realistic catalog of MCP servers from the devset's real tools.

    scripts/gen-catalog.py --out DIR [--servers 50000] [--tools-per-server 20] [--seed 1]

Each generated server copies the tools of a real devset server: a base server is drawn (servers
that can fill a listing on their own are drawn more often, weight = min(its tools, M)), an
ordered random sample of up to M of its tools is taken, and when it has fewer than M tools the
listing is topped up from other drawn servers (an "aggregator"-style mix). Every generated server
gets a unique name (`<org>-<product>-mcp`, org a made-up pronounceable word) and its tools are
renamed for it: the base server's own name prefix (`bb_`, `hubspot-`, `auth0_`: an
abbreviation or a word of the server's name shared by most of its tools) is replaced by the org
(`bb_clone` -> `zorvex_clone`), otherwise the org is prepended (`generate_bar_chart` ->
`zorvex_generate_bar_chart`), keeping the name's separator style. Mentions of the base server's
identifier-like tool names anywhere in a definition (descriptions, schema descriptions) are
renamed the same way, so "use the hubspot-get-user-details tool" stays true within the generated
server. Descriptions, titles, input schemas and annotations are otherwise kept as they are;
`--brand` also replaces the base server's brand words with the org's name (approximate:
"HubSpot data" -> "Zorvex data").

Output: JSONL records `{"server", "name", "title", "description", "input_schema", "annotations"}`
(no labels, no sibling lists: `catalog import` builds sibling context per server), one server's
tools on consecutive lines, never split across files; `--servers-per-file` servers per file
(default 1,000: 50 files for the default 50,000 servers), named `catalog-00000.jsonl`, ...
Deterministic: the same devset, options and seed give byte-identical files. Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "data" / "devset.jsonl"

# Words in a package name that say nothing about the product.
GENERIC = {"mcp", "server", "servers", "api", "the", "model", "context", "protocol", "modelcontextprotocol", "io", "ai", "js", "py", "npm"}
# Product words that are also ordinary nouns or technologies: never replaced in descriptions by
# --brand, and never treated as a brand prefix of tool names (`git_add` -> `zorvex_git_add`).
COMMON_NOUNS = {"filesystem", "memory", "fetch", "time", "git", "chart", "everything", "mobile", "desktop", "commander",
                "sequential", "thinking", "database", "search", "context7", "devtools", "chrome", "kubernetes"}

# Short name prefixes that are verbs, not abbreviations of the server: never replaced.
VERBS = {"get", "set", "add", "run", "put", "new", "del", "rm", "ls", "cat", "use", "do", "go", "mk", "cp", "mv"}

ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "pl", "qu",
          "r", "s", "sh", "sk", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "", "n", "r", "x", "l", "s", "k", "m", "t", "nd", "rk", "ll"]


def org_word(rng: random.Random) -> str:
    """A made-up, pronounceable company name: 2 or 3 syllables, 4 to 12 letters."""
    syllables = rng.choice((2, 2, 2, 3))
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)) + rng.choice(CODAS)
    return word[:12]


def split_name(name: str) -> tuple[str, str]:
    """(prefix including its separator, rest) for `bb_clone` -> ('bb_', 'clone'); ('', name) when none."""
    m = re.match(r"^([A-Za-z0-9]+)([_\-.])(.+)$", name)
    return (m.group(1) + m.group(2), m.group(3)) if m else ("", name)


class Base:
    """A devset server: its tools, the prefix they share, and per-tool line templates."""

    def __init__(self, server: str, records: list[dict]):
        self.server = server
        self.records = records
        prefixes = collections.Counter(split_name(r["name"])[0] for r in records)
        top, count = prefixes.most_common(1)[0]
        # The server's own prefix (`bb_`, `hubspot-`, `auth0_`) is replaced by the org; a shared
        # verb or noun (`generate_`, `browser_`, `confluence_`) is kept and the org prepended.
        # A prefix is the server's when most of its tools (and at least two) share it and it is
        # part of the server's name or an abbreviation of its product (`bb` for bitbucket).
        token = top[:-1].lower()
        self.product = product_of(server)
        ours = token in server.lower() or (len(token) <= 3 and abbreviates(token, self.product))
        shared = count >= 2 and count * 2 >= len(records)
        self.prefix = top if top and shared and ours and token not in VERBS | COMMON_NOUNS else ""
        brand = [w for w in re.split(r"[^a-z0-9]+", self.product.lower()) if w and w not in COMMON_NOUNS]
        self.brand_re = re.compile(r"\b(" + "|".join(map(re.escape, brand)) + r")\b", re.I) if brand else None
        # Mentions of the server's tool names anywhere in a definition (descriptions, titles,
        # schema descriptions) are renamed too; only names that cannot be ordinary words
        # (`get_file_info`, `hubspot-get-link`, `gitlabGetProject`), never `fetch` or `build`.
        names = sorted({r["name"] for r in records if re.search(r"[_\-]|[a-z][A-Z]", r["name"])}, key=len, reverse=True)
        self.names_re = (re.compile(r"(?<![A-Za-z0-9_\-])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_\-])")
                         if names else None)
        self.tools = [self._template(r) for r in records]

    def _template(self, r: dict) -> tuple[str, list[str]]:
        """(name, the rest of the record's JSON split into [text, name, text, name, ..., text])."""
        rest = {"description": r.get("description") or ""}
        for key in ("title", "input_schema", "annotations"):
            if r.get(key) is not None:
                rest[key] = r[key]
        text = json.dumps(rest, ensure_ascii=False, separators=(", ", ": "))[1:-1]
        return r["name"], (self.names_re.split(text) if self.names_re else [text])

    def rename(self, name: str, org: str) -> str:
        if self.prefix and name.startswith(self.prefix):
            return org + self.prefix[-1] + name[len(self.prefix):]
        sep = "-" if "-" in name and "_" not in name else "_"
        return org + sep + name


def abbreviates(short: str, word: str) -> bool:
    """Whether the letters of `short` appear in order in `word` (`bb` in `atlassian-bitbucket`)."""
    rest = iter(word.lower())
    return all(ch in rest for ch in short)


def product_of(server: str) -> str:
    """`@aashari/mcp-server-atlassian-bitbucket` -> `atlassian-bitbucket`, `mcp-server-git` -> `git`."""
    last = server.rsplit("/", 1)[-1]
    words = [w for w in re.split(r"[-_.]+", last.lower()) if w and w not in GENERIC]
    if not words:  # e.g. `@hubspot/mcp-server`: the scope is the product.
        scope = server.split("/", 1)[0].lstrip("@")
        words = [w for w in re.split(r"[-_.]+", scope.lower()) if w and w not in GENERIC] or ["tools"]
    return "-".join(words[:3])


def load(devset: Path) -> list[Base]:
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    with devset.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                groups[r["server"]].append(r)
    if not groups:
        sys.exit(f"error: no records in {devset}")
    return [Base(s, recs) for s, recs in sorted(groups.items())]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=50_000, help="servers to generate (default 50,000)")
    ap.add_argument("--tools-per-server", type=int, default=20, help="tools per server (default 20)")
    ap.add_argument("--out", type=Path, required=True, help="output directory (created; existing catalog-*.jsonl in it are replaced)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--servers-per-file", type=int, default=1000, help="servers per output file (default 1,000)")
    ap.add_argument("--devset", type=Path, default=Path(os.environ.get("DEVSET", DEFAULT_DEVSET)),
                    help="devset JSONL (default $DEVSET or ../shared/data/devset.jsonl beside the repository)")
    ap.add_argument("--brand", action="store_true", help="also replace the base server's brand words in descriptions")
    args = ap.parse_args()
    for opt in ("servers", "tools_per_server", "servers_per_file"):
        if getattr(args, opt) < 1:
            ap.error(f"--{opt.replace('_', '-')} must be at least 1")
    if not args.devset.is_file():
        ap.error(f"cannot read the devset at {args.devset} (set --devset or DEVSET)")

    started = time.monotonic()
    bases = load(args.devset)
    m = args.tools_per_server
    weights = [min(len(b.records), m) for b in bases]
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("catalog-*.jsonl"):
        old.unlink()

    used_names: set[str] = set()
    used_base: collections.Counter = collections.Counter()
    files = 0
    out = None
    total_bytes = 0
    dumps = json.dumps
    for i in range(args.servers):
        if i % args.servers_per_file == 0:
            if out:
                out.close()
            out = (args.out / f"catalog-{files:05d}.jsonl").open("w", encoding="utf-8", newline="\n")
            files += 1
        first = rng.choices(bases, weights)[0]
        org = org_word(rng)
        server = f"{org}-{first.product}-mcp"
        while server in used_names:
            org = org_word(rng)
            server = f"{org}-{first.product}-mcp"
        used_names.add(server)
        used_base[first.server] += 1
        brand = org.capitalize()
        server_json = dumps(server, ensure_ascii=False)

        # The listing: an ordered sample of the base server's tools, topped up from others.
        picks: list[tuple[Base, int]] = []
        base = first
        tries = 0
        while len(picks) < m:
            want = min(m - len(picks), len(base.records))
            idx = sorted(rng.sample(range(len(base.records)), want))
            picks.extend((base, j) for j in idx)
            base = rng.choices(bases, weights)[0]
            tries += 1
            if tries > 1000:  # cannot happen with a non-empty devset; a guard, not a policy
                break

        seen: collections.Counter = collections.Counter()
        lines = []
        for b, j in picks:
            old_name, parts = b.tools[j]
            name = b.rename(old_name, org)
            seen[name] += 1
            if seen[name] > 1:  # the same tool drawn from two bases' mixes: keep names unique
                name = f"{name}_{seen[name]}"
            rest = "".join(b.rename(p, org) if k % 2 else p for k, p in enumerate(parts))
            if args.brand and b.brand_re is not None:
                # Brand words are letters and digits: replacing them cannot break the JSON.
                rest = b.brand_re.sub(brand, rest)
            lines.append('{"server": ' + server_json + ', "name": ' + dumps(name, ensure_ascii=False) + ", " + rest + "}\n")
        chunk = "".join(lines)
        total_bytes += len(chunk.encode("utf-8"))
        out.write(chunk)
    if out:
        out.close()

    secs = time.monotonic() - started
    tools = args.servers * m
    print(f"{args.servers} servers x {m} tools = {tools} tools in {files} files, "
          f"{total_bytes / 1e6:.1f} MB ({total_bytes / max(tools, 1):.0f} bytes/tool), {secs:.1f}s -> {args.out}")
    print(f"from {len(bases)} devset servers; base server counts: "
          + ", ".join(f"{s} {n}" for s, n in used_base.most_common(5)) + ", ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
