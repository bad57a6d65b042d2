#!/usr/bin/env python3
"""Build a held-out eval set from a crawled catalog: author-annotated tools of servers that are
not in the devset, in the devset's format, so `catalog eval` measures how the rules generalise.

    cargo run --release -- crawl --db /tmp/seed.db          # the seed list, ~5 min cold
    scripts/heldout.py --db /tmp/seed.db --out /tmp/heldout.jsonl
    target/release/catalog eval /tmp/heldout.jsonl

A server is left out when its package (from data/servers.toml, matched by the catalog's server
name) is a devset server's package; a server not on the seed list, when its name's last part is. Labels follow the devset README:
readOnlyHint true -> read; else destructiveHint true -> delete; else write; tools whose author
set neither hint are skipped. Standard library only.
"""

import argparse
import json
import sqlite3
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def devset_packages(path):
    """Package names (and server names) of the devset, from `source` = `npm:PKG@VER` etc."""
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            names.add(rec["server"])
            kind, _, rest = rec.get("source", "").partition(":")
            if kind in ("npm", "pypi"):
                names.add(rest.rsplit("@", 1)[0])  # every source pins a version
            elif kind == "github":
                names.add(rest.split("@", 1)[0])  # owner/repo
    return names


def label(annotations):
    ro, de = annotations.get("readOnlyHint"), annotations.get("destructiveHint")
    if ro is None and de is None:
        return None, None
    if ro is True:
        return "read", "readOnlyHint=true"
    if de is True:
        return "delete", "destructiveHint=true"
    return "write", "readOnlyHint!=true,destructiveHint!=true"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a catalog database written by `catalog crawl`")
    ap.add_argument("--devset", default=str(ROOT.parent / "shared/data/devset.jsonl"))
    ap.add_argument("--seed", default=str(ROOT / "data/servers.toml"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    taken = devset_packages(args.devset)
    with open(args.seed, "rb") as f:
        packages = {s["name"]: s["package"] for s in tomllib.load(f).get("server", [])}

    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = db.execute(
        """SELECT s.name, t.name, v.raw_json FROM tools t
           JOIN servers s ON s.id = t.server_id
           JOIN tool_versions v ON v.tool_id = t.id AND v.def_hash = t.def_hash
           WHERE t.removed_at IS NULL ORDER BY s.name, t.ordinal, t.id"""
    ).fetchall()
    by_server = {}
    for server, _, raw in rows:
        by_server.setdefault(server, []).append(json.loads(raw))

    kept, skipped, out = {}, [], []
    for server, tools in by_server.items():
        package = packages.get(server)
        tail = server.rsplit("/", 1)[-1]
        if package is not None:
            seen = package in taken
        else:  # not from the seed list: the name's last part against the devset's packages
            seen = server in taken or any(t.endswith("/" + tail) or t == tail for t in taken)
        if seen:
            skipped.append(server)
            continue
        names = [t.get("name") for t in tools if isinstance(t.get("name"), str)]
        for tool in tools:
            ann = tool.get("annotations") if isinstance(tool.get("annotations"), dict) else {}
            lab, rule = label(ann)
            if lab is None or not isinstance(tool.get("name"), str):
                continue
            out.append({
                "server": server,
                "source": f"catalog:{package or server}",
                "name": tool["name"],
                "title": tool.get("title"),
                "description": tool.get("description"),
                "input_schema": tool.get("inputSchema"),
                "annotations": ann,
                "label": lab,
                "label_rule": rule,
                "siblings": [n for n in names if n != tool["name"]],
            })
            kept[server] = kept.get(server, 0) + 1

    with open(args.out, "w", encoding="utf-8") as f:
        for rec in out:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    counts = {}
    for rec in out:
        counts[rec["label"]] = counts.get(rec["label"], 0) + 1
    print(f"{len(out)} tools from {len(kept)} servers not in the devset -> {args.out}", file=sys.stderr)
    print(f"labels: {json.dumps(counts, sort_keys=True)}; left out as devset servers: {len(skipped)}", file=sys.stderr)
    for server, n in sorted(kept.items()):
        print(f"  {n:4}  {server}", file=sys.stderr)


if __name__ == "__main__":
    main()
