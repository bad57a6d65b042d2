"""A stdio MCP server that lists the tools in the JSON file named by its first argument, for the
kill tests (tests/it/kill.rs): the file changes between crawls, the server stays the same."""

import json
import sys

TOOLS = sys.argv[1]


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    method, msg_id = msg.get("method"), msg.get("id")
    if msg_id is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": msg_id, "result": {
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "list", "version": "1.0.0"},
        }})
    elif method == "tools/list":
        with open(TOOLS) as f:
            send({"jsonrpc": "2.0", "id": msg_id, "result": {"tools": json.load(f)}})
    else:
        send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "no such method"}})
