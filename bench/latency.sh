#!/usr/bin/env bash
# Token latency at a fixed offered load (open loop, latency corrected), issue #16: Tessera in its
# default configuration, server pinned to CPU 0 and the generator to CPU 1. First the maximum
# (closed loop, wrk, c=64), then oha offering 50 % and 80 % of it (-q, --latency-correction, so
# a stalled response counts the time every queued request waited, not just its own).
#
# Usage: bench/latency.sh     Env: BIN=target/release/tessera DUR=10 CONC=64 LOADS="50 80"
#                                  MAX=<tokens/s, skips the closed-loop run> RUST_LOG=info
#                                  OHA=bench/.tools/bin/oha (cargo install oha --locked --root bench/.tools)
# Talks only to 127.0.0.1; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
DUR="${DUR:-10}"; CONC="${CONC:-64}"; LOADS="${LOADS:-50 80}"
OHA="${OHA:-bench/.tools/bin/oha}"; [ -x "$OHA" ] || OHA="$(command -v oha || true)"
[ -n "$OHA" ] || { echo "latency.sh: oha not found (cargo install oha --locked --root bench/.tools)" >&2; exit 3; }
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN="$(realpath "${BIN:-target/release/tessera}")"
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port/oauth2/token"
export TESSERA__SERVER__BIND="127.0.0.1:$port" TESSERA__KEYS__DIR="$work/keys" RUST_LOG="${RUST_LOG:-info}"
export TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
"$BIN" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null 2>&1
client="$("$BIN" clients create --name bench --scopes "api:read api:write" --json 2>/dev/null)"
id="$(field client_id <<<"$client")"; secret="$(field client_secret <<<"$client")"

taskset -c 0 "$BIN" serve >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening" "$work/out" 2>/dev/null && break; sleep 0.1; done
echo "# $(date -u +%FT%TZ) $(nproc) CPUs; server pinned to CPU 0, generator to CPU 1; ${DUR}s each; c=$CONC; RUST_LOG=$RUST_LOG"
# Warm the client cache (the first request verifies the secret with argon2id).
CLIENT_ID="$id" CLIENT_SECRET="$secret" GEN_CPUS=1 THREADS=1 "$HARNESS/load.sh" "$url" "$CONC" 2 >/dev/null
if [ -z "${MAX:-}" ]; then
  line="$(CLIENT_ID="$id" CLIENT_SECRET="$secret" GEN_CPUS=1 THREADS=1 "$HARNESS/load.sh" "$url" "$CONC" "$DUR")"
  echo "closed loop, saturation: $line"
  MAX="$(grep -oE 'rps=[0-9.]+' <<<"$line" | cut -d= -f2)" || { echo "latency.sh: no rps in: $line" >&2; exit 1; }
fi
basic="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
for pct in $LOADS; do
  rate="$(python3 -c "print(int($MAX * $pct / 100))")"
  json="$(taskset -c 1 "$OHA" -z "${DUR}s" -c "$CONC" -q "$rate" --latency-correction --no-tui \
    --output-format json -m POST -T application/x-www-form-urlencoded \
    -d "grant_type=client_credentials&scope=api%3Aread" -H "Authorization: $basic" "$url")"
  printf '%s' "$json" | python3 -c '
import json, sys
pct, rate = sys.argv[1], sys.argv[2]
d = json.load(sys.stdin)
s = d["summary"]; p = d.get("latencyPercentiles", {})
codes = {str(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
errs = sum(v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline")
ok = codes.get("200", 0); total = sum(codes.values())
ms = lambda v: (v or 0) * 1000
print("open loop %s%% (%s/s offered): rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p99.9_ms=%.3f max_ms=%.3f non200=%d errors=%d" % (
    pct, rate, s["requestsPerSec"], ms(p.get("p50")), ms(p.get("p90")), ms(p.get("p99")),
    ms(p.get("p99.9")), ms(s.get("slowest")), total - ok, errs))
' "$pct" "$rate"
done
