#!/usr/bin/env bash
# The MCP conformance suite (npm @modelcontextprotocol/conformance) against
# `osiris mcp --http` on a fresh `osiris init` workspace: the scenarios that
# apply to any server. Exit 0 when every scenario passes.
#
#   .ci/mcp-conformance.sh                 install the suite if missing, run it
#   .ci/mcp-conformance.sh --install-only  only install it (needs the network once)
#
# OSIRIS_BIN: the osiris binary (default: built from this checkout).
# MCP_CONFORMANCE_DIR: where the npm package is installed (default:
# ~/.cache/osiris-mcp-conformance, outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.1.12 # the newest release that runs on Node 20
SCENARIOS=(server-initialize ping tools-list resources-list logging-set-level dns-rebinding-protection)
DIR=${MCP_CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/osiris-mcp-conformance}
TOOL=$DIR/node_modules/.bin/conformance

for c in node npm; do
  if ! command -v "$c" >/dev/null 2>&1; then
    echo "mcp-conformance: needs Node.js 20 or newer and npm ($c not found)" >&2
    exit 3
  fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "mcp-conformance: needs Node.js 20 or newer, found $(node --version)" >&2
  exit 3
fi

installed=$(node -p "try { require('$DIR/node_modules/@modelcontextprotocol/conformance/package.json').version } catch (e) { '' }" 2>/dev/null || true)
if [ ! -x "$TOOL" ] || [ "$installed" != "$VERSION" ]; then
  echo "== installing @modelcontextprotocol/conformance@$VERSION into $DIR"
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/conformance@$VERSION" >&2
fi
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi

tmp=$(mktemp -d /tmp/osiris-mcp-conformance.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

bin=${OSIRIS_BIN:-}
if [ -z "$bin" ]; then
  bin=$tmp/osiris
  go build -tags duckdb_arrow -o "$bin" ./cmd/osiris
fi
"$bin" init "$tmp/ws" >/dev/null

# Port 0: the server picks a free port and prints the URL it serves.
"$bin" -C "$tmp/ws" mcp --http 127.0.0.1:0 2>"$tmp/server.log" &
server=$!
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$tmp/server.log" | head -1 || true)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "mcp-conformance: osiris mcp --http did not start:" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi
echo "== osiris mcp serving $url"

failed=()
for s in "${SCENARIOS[@]}"; do
  if "$TOOL" server --url "$url" --scenario "$s" >"$tmp/$s.out" 2>&1; then
    echo "PASS $s"
  else
    echo "FAIL $s"
    cat "$tmp/$s.out"
    failed+=("$s")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "mcp-conformance: ${#failed[@]} scenario(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "mcp-conformance: all ${#SCENARIOS[@]} scenarios passed"
