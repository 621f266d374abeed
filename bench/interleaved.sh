#!/usr/bin/env bash
# Server CPU a request for several servers, measured in interleaved rounds (issue #16): every
# server is started once, pinned to CPU 0, and each round loads them one after the other (wrk on
# CPU 1, through ../shared/bench/load.sh), so a drift of the shared machine between minutes falls
# on all of them alike rather than on whichever ran last. Server CPU is read from /proc (user +
# system ticks of the server process over the run) and divided by the requests answered.
#
# Usage: bench/interleaved.sh ROUNDS ENDPOINT CONC NAME=SERVER...
#   ENDPOINT  token | jwks
#   SERVER    tessera[:LOG]        the release binary (BIN), LOG = default (its own) or a RUST_LOG
#             floor:ALG:SIGNER     ../shared/bench/floor, e.g. floor:ES256:aws-lc
# e.g.      bench/interleaved.sh 4 token 64 tessera=tessera floor=floor:ES256:aws-lc
#           bench/interleaved.sh 3 token 64 default=tessera warn=tessera:warn
# Env: BIN=target/release/tessera DUR=10 ALG=ES256 (Tessera's keys.algorithm) HARNESS=../shared/bench
# Prints one line a round: each server's CPU µs a request (user and system), requests/s and
# non-200 answers, and the hypervisor's steal over the run (ticks of 10 ms, all CPUs). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
ROUNDS="$1"; ENDPOINT="$2"; CONC="$3"; shift 3
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
DUR="${DUR:-10}"; BIN="$(realpath "${BIN:-target/release/tessera}")"
floor=target/floor/release/floor
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work="$(mktemp -d)"
declare -A url pid id secret
cleanup() { for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

names=()
for spec in "$@"; do
  name="${spec%%=*}"; server="${spec#*=}"; names+=("$name")
  case "$server" in
    floor:*)
      IFS=: read -r _ alg signer <<<"$server"
      [ -x "$floor" ] ||
        cargo build --release --quiet --manifest-path "$HARNESS/floor/Cargo.toml" --target-dir target/floor
      port="$(free_port)"
      FLOOR_ALG="$alg" FLOOR_SIGNER="$signer" FLOOR_BIND="127.0.0.1:$port" taskset -c 0 "$floor" >/dev/null 2>&1 &
      pid[$name]=$!; url[$name]="http://127.0.0.1:$port"; id[$name]=bench-client; secret[$name]=bench-secret
      sleep 0.5 ;;
    tessera*)
      log="${server#tessera}"; log="${log#:}"; log="${log:-default}"
      dir="$work/$name"; mkdir -p "$dir"
      export TESSERA__SERVER__BIND=127.0.0.1:0 TESSERA__DATABASE__URL="sqlite://$dir/tessera.db?mode=rwc" \
        TESSERA__KEYS__DIR="$dir/keys" TESSERA__KEYS__ALGORITHM="${ALG:-ES256}"
      "$BIN" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null
      creds="$("$BIN" clients create --name bench-client --scopes "api:read api:write" --json)"
      id[$name]="$(field client_id <<<"$creds")"; secret[$name]="$(field client_secret <<<"$creds")"
      if [ "$log" = default ]; then
        (unset RUST_LOG; exec taskset -c 0 "$BIN" serve >"$dir/out" 2>"$dir/log") &
      else
        (export RUST_LOG="$log"; exec taskset -c 0 "$BIN" serve >"$dir/out" 2>"$dir/log") &
      fi
      pid[$name]=$!
      for _ in $(seq 100); do grep -q "listening on" "$dir/out" 2>/dev/null && break; sleep 0.1; done
      url[$name]="$(sed -n 's/^tessera listening on //p' "$dir/out")" ;;
    *) echo "interleaved.sh: unknown server $server" >&2; exit 2 ;;
  esac
done

path=/oauth2/token; [ "$ENDPOINT" = jwks ] && path=/.well-known/jwks.json
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user, system
steal() { awk '/^cpu / {print $9}' /proc/stat; }
hz="$(getconf CLK_TCK)"
echo "# $(date -u +%FT%TZ) $ENDPOINT c=$CONC ${DUR}s a run; servers pinned to CPU 0, wrk to CPU 1"
load() { # NAME SECONDS
  CLIENT_ID="${id[$1]}" CLIENT_SECRET="${secret[$1]}" SCOPE="api:read api:write" GEN_CPUS=1 \
    "$HARNESS/load.sh" "${url[$1]}$path" "$CONC" "$2"
}
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for name in "${names[@]}"; do
    load "$name" 2 >/dev/null # warm: the client cache, the connections
    read -r u0 k0 < <(ticks "${pid[$name]}"); s0="$(steal)"
    out="$(load "$name" "$DUR")"
    read -r u1 k1 < <(ticks "${pid[$name]}"); s1="$(steal)"
    requests="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")"
    rps="$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out")"
    non200="$(sed -n 's/.*non200=\([0-9]*\).*/\1/p' <<<"$out")"
    us="$(python3 -c "n = max($requests, 1) * $hz / 1e6; u, k = ($u1 - $u0) / n, ($k1 - $k0) / n; print(f'{u + k:.2f} µs (user {u:.1f}, system {k:.1f})')")"
    line="$line $name $us ($rps/s, non-200 $non200, steal $((s1 - s0)))"
  done
  echo "$line"
done
