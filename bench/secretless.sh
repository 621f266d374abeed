#!/usr/bin/env bash
# Token requests a second for clients without secrets (SPEC §9), beside a secret client in the
# same run: client_secret_basic (cached), private_key_jwt (one ES256 verification and one jti
# insert a request), and a secret client sending a DPoP proof (one ES256 verification of the
# proof and one jti insert). Server pinned to CPU 0, wrk to CPU 1; each assertion and proof is
# signed beforehand by bench/secretless.py and sent once.
#
# Usage: bench/secretless.sh         Env: BIN=target/release/tessera DUR=10 CONCURRENCY="16 64"
#                                         HARNESS=../shared/bench  DB=sqlite|postgres URL
# Talks only to 127.0.0.1; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
DUR="${DUR:-10}"; CONCURRENCY="${CONCURRENCY:-16 64}"
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN="$(realpath "${BIN:-target/release/tessera}")"
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
issuer="http://127.0.0.1:$port"
export TESSERA__SERVER__BIND="127.0.0.1:$port" TESSERA__KEYS__DIR="$work/keys" RUST_LOG="${RUST_LOG:-info}"
export TESSERA__DATABASE__URL="${DATABASE_URL:-sqlite://$work/tessera.db?mode=rwc}"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
python3 bench/secretless.py keygen "$work"
"$BIN" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null 2>&1
secret="$("$BIN" clients create --name bench-secret --scopes "api:read" --json 2>/dev/null)"
signer="$("$BIN" clients create --name bench-signer --scopes "api:read" --auth-method private_key_jwt \
  --jwks "$work/jwks.json" --json 2>/dev/null)"
sid="$(field client_id <<<"$secret")"; ssecret="$(field client_secret <<<"$secret")"
kid="$(field client_id <<<"$signer")"
basic="Basic $(printf '%s:%s' "$sid" "$ssecret" | base64 -w0)"

taskset -c 0 "$BIN" serve >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening" "$work/out" 2>/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tck="$(getconf CLK_TCK)"

run() { # name, requests file (or ""), auth header, c
  local name="$1" file="$2" auth="$3" c="$4" before after line
  before="$(cpu)"
  if [ -z "$file" ]; then
    line="$(CLIENT_ID="$sid" CLIENT_SECRET="$ssecret" GEN_CPUS=1 THREADS=1 \
      "$HARNESS/load.sh" "$issuer/oauth2/token" "$c" "$DUR" | grep -oE 'rps=[^ ]+ p50_ms=[^ ]+ p90_ms=[^ ]+ p99_ms=[^ ]+ .*non200=[0-9]+')"
  else
    line="$(REQUESTS="$file" AUTH="$auth" THREADS=1 taskset -c 1 wrk -t 1 -c "$c" -d "${DUR}s" \
      -s bench/secretless.lua "$issuer/oauth2/token" | grep '^RESULT' | sed 's/^RESULT //')"
  fi
  after="$(cpu)"
  local rps; rps="$(grep -oE 'rps=[0-9.]+' <<<"$line" | cut -d= -f2)"
  local us; us="$(python3 -c "print(round(($after - $before) / $tck * 1e6 / max(1, $rps * $DUR), 1))")"
  printf '%-18s c=%-3s %s server_cpu_us_per_token=%s\n' "$name" "$c" "$line" "$us"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs; server pinned to CPU 0, wrk to CPU 1; ${DUR}s each; RUST_LOG=$RUST_LOG"
for c in $CONCURRENCY; do
  # Enough single-use requests for the run at a generous rate; generated just before it (proofs
  # must be at most 60 s old).
  n=$(( DUR * 10000 ))
  python3 bench/secretless.py assertions "$work" "$issuer" "$kid" "$n" >"$work/assertions"
  run client_secret_basic "" "" "$c"
  run private_key_jwt "$work/assertions" "" "$c"
  python3 bench/secretless.py dpop "$work" "$issuer" "$n" >"$work/proofs"
  run secret+DPoP "$work/proofs" "$basic" "$c"
done
