#!/usr/bin/env bash
# Tessera beside node-oidc-provider in one run, through the shared peer harness
# (../shared/bench/measure.sh): token c=16/64 and JWKS c=16/64, pinned (server on CPU 0, wrk on
# CPU 1) and unpinned, with CPU accounting per run.
#
# Usage: bench/compare.sh        Env: REPS=1 DUR=10 MODES="pinned unpinned" PEERS=node-oidc-provider
#        HARNESS=../shared/bench  OUT=/tmp/tessera-compare-<time>  SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
export REPS="${REPS:-1}" DUR="${DUR:-10}"
MODES="${MODES:-pinned unpinned}"
PEERS="${PEERS:-node-oidc-provider}"
OUT="${OUT:-/tmp/tessera-compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="$PWD/target/release/tessera"
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export TESSERA__SERVER__BIND=127.0.0.1:0 TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc" \
  TESSERA__KEYS__DIR="$work/keys" RUST_LOG=warn
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# The harness asks for scope "api:read api:write" on audience https://api.bench.test.
"$bin" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null
creds="$("$bin" clients create --name bench-client --scopes "api:read api:write" --json)"
export CLIENT_ID="$(field client_id <<<"$creds")" CLIENT_SECRET="$(field client_secret <<<"$creds")"

for peer in $PEERS; do
  OUT="$OUT/$peer" MODES="$MODES" "$HARNESS/measure.sh" "$peer" | tail -n 12
done
for mode in $MODES; do
  pin=(); [ "$mode" = pinned ] && pin=(taskset -c 0)
  "${pin[@]}" "$bin" serve >"$work/out" 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
  url="$(sed -n 's/^tessera listening on //p' "$work/out")"
  SERVER_PID="$pid" MODES="$mode" OUT="$OUT/tessera-$mode" "$HARNESS/measure.sh" "url=$url" | tail -n 12
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$work/out"
done
echo "raw lines and summaries: $OUT"
