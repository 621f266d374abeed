#!/usr/bin/env bash
# Token latency and RSS as the client table grows: 1k, 100k, 1M clients in the database.
#
# Usage: bench/scale.sh                 (builds the release binary first)
# Env:   SIZES="1000 100000 1000000"    clients in the database per run
#        ACTIVE=1000                    distinct clients the load cycles through (each costs
#                                       one argon2id verification the first time)
#        DUR=10 CONNS=64                wrk seconds and connections for the measured run
# Clients are bulk-inserted with sqlite3, all sharing one real argon2id hash, so every one of
# them can be driven with the same secret (of the older form, without a secret id inside).
# Loopback only; bounded by DUR plus at most 10 min of warm-up rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-1000 100000 1000000}"
ACTIVE="${ACTIVE:-1000}"
DUR="${DUR:-10}"
CONNS="${CONNS:-64}"
for tool in wrk sqlite3 bc argon2; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="$PWD/target/release/tessera"
export RUST_LOG=warn TESSERA__SERVER__BIND=127.0.0.1:0
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

printf '%-9s %-8s %s\n' clients active "token c=$CONNS: rps p50 p99 | RSS idle → after load → 3 s later"
for n in $SIZES; do
  work="$(mktemp -d)"
  export TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc" TESSERA__KEYS__DIR="$work/keys"
  "$bin" apis create --name bench --audience https://api.bench.test --permissions read >/dev/null
  admin="$("$bin" clients create --name admin --scopes "admin:read" --json)"
  # A secret of the older form (no secret id inside, so every bulk client can hold the same
  # one), hashed with Tessera's argon2id parameters by the reference `argon2` tool.
  secret="bench-bulk-$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
  hash="$(printf '%s' "$secret" | argon2 "$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)" -id -t 2 -k 19456 -p 1 -e)"
  now="2026-01-01T00:00:00+00:00"
  sqlite3 "$work/tessera.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $n)
INSERT INTO clients (client_id, name, description, enabled, allowed_ips, token_ttl_seconds, owner,
    created_at, updated_at, last_used_at, tokens_valid_after, project, owner_administrator)
  SELECT printf('c%07d', n), 'bulk', '', 1, '[]', NULL, NULL, '$now', '$now', NULL, NULL, 'default', NULL
  FROM seq;
INSERT INTO client_scopes SELECT client_id, 'bench', 'read' FROM clients WHERE name = 'bulk';
INSERT INTO client_secrets (secret_id, client_id, secret_hash, masked, created_at, expires_at, last_used_at, id_in_secret)
  SELECT 's' || client_id, client_id, '$hash', 'tsk_…xxxx', '$now', NULL, NULL, 0 FROM clients WHERE name = 'bulk';
COMMIT;
SQL
  auth_file="$work/auths"
  for i in $(seq 1 "$ACTIVE"); do
    printf 'Basic %s\n' "$(printf 'c%07d:%s' "$i" "$secret" | base64 -w0)"
  done >"$auth_file"

  "$bin" serve >"$work/out" 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
  url="$(sed -n 's/^tessera listening on //p' "$work/out")"
  # RSS, and in brackets the anonymous part (heap, caches): the rest is the binary's own pages.
  rss() { awk '/VmRSS/ {r=$2} /RssAnon/ {a=$2} END {printf "%.1f MiB (anon %.1f)", r/1024, a/1024}' "/proc/$pid/status"; }
  idle="$(rss)"
  # Warm-up: every active client verified once with argon2id (≈ ACTIVE × 30 ms / cores), in
  # rounds until a round adds no argon2id verification (a full queue answers 503, so one
  # round may not reach everyone).
  misses() { curl -s "$url/metrics" | awk '/^tessera_credential_cache_lookups_total\{result="miss"\}/ {print $2}'; }
  # At most 30 rounds (10 min): past the 600 s credential TTL misses never settle.
  before=-1 rounds=0
  while [ "$(misses)" != "$before" ] && [ "$rounds" -lt 30 ]; do
    before="$(misses)" rounds=$((rounds + 1))
    BENCH_METHOD=POST BENCH_BODY="grant_type=client_credentials" BENCH_AUTH_FILE="$auth_file" \
      wrk -t2 -c"$CONNS" -d20s --timeout 10s -s bench/report.lua "$url/oauth2/token" >/dev/null
  done
  out="$(BENCH_METHOD=POST BENCH_BODY="grant_type=client_credentials" BENCH_AUTH_FILE="$auth_file" \
    wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s -s bench/report.lua "$url/oauth2/token" | grep '^RESULT' || true)"
  loaded="$(rss)"
  sleep 3 # argon2 workers give their memory back after 2 s idle
  printf '%-9s %-8s %s | %s → %s → %s\n' "$n" "$ACTIVE" "${out#RESULT }" "$idle" "$loaded" "$(rss)"
  # Admin list, limit=100, first and last page: median of 5 requests each.
  token="$(curl -s -u "$(field client_id <<<"$admin"):$(field client_secret <<<"$admin")" \
    -d grant_type=client_credentials "$url/oauth2/token" | field access_token)"
  for offset in 0 $(( n > 100 ? n - 100 : 0 )); do
    ms="$(for _ in 1 2 3 4 5; do
      curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
        "$url/admin/v1/clients?offset=$offset&limit=100"
    done | sort -n | sed -n 3p)"
    printf '          admin GET /clients?offset=%s&limit=100: %.1f ms (median of 5)\n' "$offset" "$(echo "$ms * 1000" | bc -l)"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"
done
