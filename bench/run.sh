#!/usr/bin/env bash
# Tessera benchmark: token endpoint (warm and cold), JWKS, and the raw signing limit.
#
# Usage: bench/run.sh            (from anywhere; builds the release binary first)
# Env:   DUR=10                  seconds per wrk run
#        CONNS="16 64"           connection counts
#        COLD_CLIENTS=256               clients for the cold path (more than connections, so
#                                concurrent requests never share one argon2id run)
#        ALG=ES256               keys.algorithm (ES256, EdDSA, RS256)
#        SKIP_OPENSSL=1          skip `openssl speed`
#        SKIP_BUILD=1            use the release binary as it is
#        BIN=path                measure another build (e.g. --features mimalloc)
# Talks only to 127.0.0.1; every run is bounded by DUR; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${DUR:-10}"
CONNS="${CONNS:-16 64}"
COLD_CLIENTS="${COLD_CLIENTS:-256}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="${BIN:-$PWD/target/release/tessera}"

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export TESSERA__SERVER__BIND=127.0.0.1:0
export TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc"
export TESSERA__KEYS__DIR="$work/keys"
export TESSERA__KEYS__ALGORITHM="${ALG:-ES256}"
export RUST_LOG=warn

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

"$bin" apis create --name bench --audience https://api.bench.test --permissions read,write >/dev/null
creds="$("$bin" clients create --name bench --scopes "bench:read bench:write" --json)"
warm_auth="$(basic "$(field client_id <<<"$creds")" "$(field client_secret <<<"$creds")")"
cold_auths=""
for _ in $(seq "$COLD_CLIENTS"); do
  c="$("$bin" clients create --name cold --scopes bench:read --json)"
  cold_auths="$cold_auths|$(basic "$(field client_id <<<"$c")" "$(field client_secret <<<"$c")")"
done

start() { # extra env for the server
  env "$@" "$bin" serve >"$work/out" 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
  url="$(sed -n 's/^tessera listening on //p' "$work/out")"
  [ -n "$url" ] || { cat "$work/log"; exit 1; }
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$work/out"; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status"; }
run() { # label path method body auths conns
  local out
  out="$(BENCH_METHOD="$3" BENCH_BODY="$4" BENCH_AUTHS="$5" \
    wrk -t2 -c"$6" -d"${DUR}s" --timeout 5s -s bench/report.lua "$url$2" | grep '^RESULT' || true)"
  printf '%-30s c=%-3s %s\n' "$1" "$6" "${out#RESULT }"
}

start
echo "Tessera $("$bin" --version | cut -d' ' -f2), $TESSERA__KEYS__ALGORITHM, $(nproc) cores, ${DUR}s a run, $url"
echo "RSS at start: $(rss)"
body="grant_type=client_credentials&scope=bench%3Aread%20bench%3Awrite"
for c in $CONNS; do run "token (warm, one client)" /oauth2/token POST "$body" "$warm_auth" "$c"; done
for c in $CONNS; do run "jwks" /.well-known/jwks.json GET "" "" "$c"; done
echo "RSS at end: $(rss)"
stop
# Cold path: the verified-credential cache off, so every request verifies argon2id.
start TESSERA__TOKEN__VERIFIED_CREDENTIAL_TTL_SECONDS=0
for c in $CONNS; do run "token (cold, $COLD_CLIENTS clients)" /oauth2/token POST "grant_type=client_credentials" "${cold_auths#|}" "$c"; done
echo "RSS after the cold path: $(rss)"
stop
if [ -z "${SKIP_OPENSSL:-}" ]; then
  echo "Raw signing limit, one core (openssl speed):"
  openssl speed -seconds 3 ecdsap256 ed25519 rsa2048 2>/dev/null |
    grep -E '^ *(rsa 2048|256 bits ecdsa|253 bits EdDSA)' | sed 's/^/  /'
fi
