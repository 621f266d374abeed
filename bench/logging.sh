#!/usr/bin/env bash
# What the default logging costs: the same binary with its default RUST_LOG (info: one access
# line a request) and with RUST_LOG=warn, server pinned to CPU 0 and wrk to CPU 1, token and
# JWKS at one concurrency, through ../shared/bench/load.sh.
#
# Usage: bench/logging.sh          Env: BIN=target/release/tessera DUR=10 C=64 REPS=1
#        HARNESS=../shared/bench   SKIP_BUILD=1
# Talks only to 127.0.0.1; the server is stopped on exit. The server's stderr goes to a file
# (as under systemd or a container runtime), not to a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
DUR="${DUR:-10}"; C="${C:-64}"; REPS="${REPS:-1}"
[ -n "${SKIP_BUILD:-}" ] || [ -n "${BIN:-}" ] || cargo build --release --quiet
BIN="$(realpath "${BIN:-target/release/tessera}")"
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export TESSERA__SERVER__BIND=127.0.0.1:0 TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc" \
  TESSERA__KEYS__DIR="$work/keys"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
"$BIN" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null 2>&1
creds="$("$BIN" clients create --name bench-client --scopes "api:read api:write" --json 2>/dev/null)"
export CLIENT_ID="$(field client_id <<<"$creds")" CLIENT_SECRET="$(field client_secret <<<"$creds")"
export SCOPE="api:read api:write" GEN_CPUS=1 THREADS=1

for level in default warn; do
  if [ "$level" = default ]; then unset RUST_LOG; else export RUST_LOG=warn; fi
  taskset -c 0 "$BIN" serve >"$work/out" 2>"$work/log.$level" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
  url="$(sed -n 's/^tessera listening on //p' "$work/out")"
  "$HARNESS/load.sh" "$url/oauth2/token" "$C" 3 >/dev/null # warm-up
  for _ in $(seq "$REPS"); do
    echo "log=$level token $("$HARNESS/load.sh" "$url/oauth2/token" "$C" "$DUR")"
    echo "log=$level jwks  $("$HARNESS/load.sh" "$url/.well-known/jwks.json" "$C" "$DUR")"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$work/out"
  echo "log=$level lines written: $(wc -l <"$work/log.$level")"
done
