#!/usr/bin/env bash
# Installs the real MCP servers the integration tests talk to (tests/it/mcp.rs), pinned by version,
# into ${CATALOG_TEST_SERVERS:-target/test-servers}. Quick when they are already there.
# Packages are installed with --ignore-scripts: no install hook of theirs runs.
# First the system packages the tests need (bubblewrap for the sandbox tests, node and npm), so
# that no test is skipped on a fresh machine for want of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-packages.sh

root="${CATALOG_TEST_SERVERS:-$PWD/target/test-servers}"
everything="@modelcontextprotocol/server-everything"
everything_version="2026.8.31"

installed_version() {
    local pkg="$root/npm/node_modules/$1/package.json"
    [[ -f "$pkg" ]] || return 0
    node -e 'process.stdout.write(require(process.argv[1]).version)' "$pkg" 2>/dev/null || true
}

if [[ "$(installed_version "$everything")" == "$everything_version" ]]; then
    echo "test servers: $everything@$everything_version already in $root/npm"
    exit 0
fi

command -v npm >/dev/null || { echo "error: npm is needed to install the test servers (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$root/npm"
npm install --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
    --prefix "$root/npm" "$everything@$everything_version"
echo "test servers: installed $everything@$everything_version in $root/npm"
