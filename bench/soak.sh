#!/usr/bin/env bash
# Soak: the server under mixed load for a bounded time — warm tokens, JWKS, admin writes and
# a stream of wrong secrets from one "attacker" address — reporting throughput, p99, errors
# and RSS over time (RSS must level off, not grow without bound).
#
# Usage: bench/soak.sh          Env: SOAK=600 (seconds), SAMPLE=30, SKIP_BUILD=1, BIN=path
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK="${SOAK:-600}"
SAMPLE="${SAMPLE:-30}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="${BIN:-$PWD/target/release/tessera}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export TESSERA__SERVER__BIND=127.0.0.1:0
export TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc"
export TESSERA__KEYS__DIR="$work/keys"
# Load generators run on 127.0.0.1; the attacker's requests claim another address through it.
export TESSERA__SERVER__TRUSTED_PROXIES=127.0.0.1/32
export RUST_LOG=warn

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
"$bin" apis create --name soak --audience https://api.soak.test --permissions read,write >/dev/null
c="$("$bin" clients create --name soak --scopes "soak:read" --json)"
id="$(field client_id <<<"$c")"; secret="$(field client_secret <<<"$c")"
a="$("$bin" clients create --name admin --scopes "admin:read admin:write" --json)"
admin_id="$(field client_id <<<"$a")"; admin_secret="$(field client_secret <<<"$a")"

"$bin" serve >"$work/out" 2>"$work/log" &
server=$!; pids+=("$server")
for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^tessera listening on //p' "$work/out")"
[ -n "$url" ] || { cat "$work/log"; exit 1; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
echo "soak: ${SOAK}s at $url, $(nproc) cores; RSS at start $(rss) MiB"

run() { # label conns url method body auth xff
  BENCH_METHOD="$4" BENCH_BODY="$5" BENCH_AUTHS="$6" BENCH_XFF="$7" \
    wrk -t1 -c"$2" -d"${SOAK}s" --timeout 5s -s bench/report.lua "$3" | grep '^RESULT' |
    sed "s/^RESULT/$1/" >"$work/$1.result"
}
auth="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
wrong="Basic $(printf '%s:%s' "$id" "tsk_wrong_secret_guess" | base64 -w0)"
body="grant_type=client_credentials"
run tokens 32 "$url/oauth2/token" POST "$body" "$auth" "" & pids+=($!)
run jwks 8 "$url/.well-known/jwks.json" GET "" "" "" & pids+=($!)
run wrong-secrets 4 "$url/oauth2/token" POST "$body" "$wrong" "192.0.2.66" & pids+=($!)
# Admin writes: create, patch and delete a client, over and over.
(
  end=$((SECONDS + SOAK)); ok=0; bad=0
  while [ $SECONDS -lt $end ]; do
    tok="$(curl -s -u "$admin_id:$admin_secret" -d grant_type=client_credentials "$url/oauth2/token" | field access_token)"
    for _ in $(seq 20); do
      new="$(curl -s -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -d '{"name":"soaked","scopes":["soak:read"]}' "$url/admin/v1/clients" | field client_id 2>/dev/null || true)"
      if [ -n "$new" ] &&
        curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $tok" -H 'Content-Type: application/merge-patch+json' \
          -d '{"enabled":false}' "$url/admin/v1/clients/$new" &&
        curl -sf -o /dev/null -X DELETE -H "Authorization: Bearer $tok" "$url/admin/v1/clients/$new"; then
        ok=$((ok + 1))
      else
        bad=$((bad + 1))
      fi
    done
  done
  echo "admin-writes create+patch+delete cycles=$ok failed=$bad" >"$work/admin.result"
) & pids+=($!)
for ((t = SAMPLE; t <= SOAK; t += SAMPLE)); do
  sleep "$SAMPLE"
  echo "  t=${t}s RSS $(rss) MiB"
done
wait "${pids[@]:1}" 2>/dev/null || true
cat "$work"/*.result
echo "RSS at end $(rss) MiB; server errors in log: $(grep -c ' ERROR ' "$work/log" || true)"
