#!/usr/bin/env bash
# Scale-out figures: token throughput of one replica vs two on one PostgreSQL, and the
# cross-replica propagation delay (p50/p99 over N changes), on this machine.
#
# Usage: bench/replicas.sh      (as root: installs/starts a throw-away PostgreSQL via
#                                .ci/postgres.sh; builds the release binary first)
# Env:   DUR=10 CONNS=64 N=100 SKIP_BUILD=1 BIN=path DB=postgres|sqlite
# On 2 cores, two replicas plus wrk share the same CPUs: the ratio says how little the
# replicas cost each other, not how a second machine would scale.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${DUR:-10}"
CONNS="${CONNS:-64}"
N="${N:-100}"
DB="${DB:-postgres}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="${BIN:-$PWD/target/release/tessera}"

work="$(mktemp -d)"
pgdir="$(mktemp -d)"  # its own: postgres must own it, and cannot enter $work (mode 0700)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$DB" = postgres ] && .ci/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
if [ "$DB" = postgres ]; then
  .ci/postgres.sh start "$pgdir" >"$work/pgurl"
  export TESSERA__DATABASE__URL="$(cat "$work/pgurl")"
else
  export TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc"
fi
export TESSERA__SERVER__BIND=127.0.0.1:0
export TESSERA__KEYS__DIR="$work/keys"
export TESSERA__ISSUER=https://auth.bench.test
export RUST_LOG=warn

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
cred() { local c; c="$("$bin" clients create --name "$1" --scopes "$2" --json)"; echo "$(field client_id <<<"$c"):$(field client_secret <<<"$c")"; }
"$bin" migrate
"$bin" apis create --name bench --audience https://api.bench.test --permissions read,write >/dev/null
bench_cred="$(cred bench "bench:read bench:write")"
admin_cred="$(cred admin "admin:read admin:write")"
worker_cred="$(cred worker "bench:read")"
gateway_cred="$(cred gateway "bench:read")"
auth="Basic $(printf '%s' "$bench_cred" | base64 -w0)"

start() { # name → sets url_<name>
  "$bin" serve >"$work/$1.out" 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  local u; u="$(sed -n 's/^tessera listening on //p' "$work/$1.out")"
  [ -n "$u" ] || { cat "$work/$1.log"; exit 1; }
  eval "url_$1=$u"
}
load() { # url conns → tokens/s
  BENCH_METHOD=POST BENCH_BODY="grant_type=client_credentials" BENCH_AUTHS="$auth" \
    wrk -t1 -c"$2" -d"${DUR}s" --timeout 5s -s bench/report.lua "$1/oauth2/token" | grep '^RESULT' | sed 's/^RESULT //'
}
start a
start b
echo "Tessera on $DB, $(nproc) cores, ${DUR}s a run, c=$CONNS a replica"
echo "one replica:   $(load "$url_a" "$CONNS")"
echo "two replicas (two wrk at once, one a replica):"
load "$url_a" "$CONNS" >"$work/ra" & w1=$!
load "$url_b" "$CONNS" >"$work/rb" & w2=$!
wait $w1 $w2
echo "  A: $(cat "$work/ra")"
echo "  B: $(cat "$work/rb")"
python3 - "$work/ra" "$work/rb" <<'PY'
import re, sys
total = sum(float(re.search(r"rps=([\d.]+)", open(f).read()).group(1)) for f in sys.argv[1:])
print(f"  sum: {total:.0f} tokens/s")
PY
python3 bench/propagation.py "$url_a" "$url_b" "$admin_cred" "$worker_cred" "$gateway_cred" "$N"
