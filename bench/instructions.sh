#!/usr/bin/env bash
# What a request costs, counted rather than timed (issue #16): user-space instructions a
# request under callgrind (repeatable to 0.1 % whatever else the machine does, and on machines
# without hardware counters) and system calls a request under strace, for Tessera and for the
# floor (../shared/bench/floor, aws-lc-rs ES256) side by side. Kernel time is not in the first
# figure; the second says how many times each one enters the kernel.
#
# Usage: bench/instructions.sh    Env: BIN=target/release/tessera TOKENS=500 JWKS=1000
#                                      SYSCALL_REQUESTS=2000 FLOOR=1 (0: Tessera only)
#                                      RUST_LOG (default: Tessera's default, access log on)
#                                      CACHE=1: also callgrind's cache simulation (misses a
#                                      request in a simulated I1/D1/last-level cache: a model,
#                                      for machines whose hardware counters are not readable)
# Requests go one after another on one keep-alive connection (callgrind) or eight (strace),
# after 50 unmeasured ones. Needs valgrind and strace (installed from the distribution if
# missing). Talks only to 127.0.0.1; servers are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
TOKENS="${TOKENS:-500}"; JWKS="${JWKS:-1000}"; SYSCALL_REQUESTS="${SYSCALL_REQUESTS:-2000}"
FLOOR="${FLOOR:-1}"; CACHE="${CACHE:-0}"
for tool in valgrind strace; do
  command -v "$tool" >/dev/null || { apt-get install -y -qq "$tool" >/dev/null || exit 3; }
done
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN="$(realpath "${BIN:-target/release/tessera}")"
floor=target/floor/release/floor
if [ "$FLOOR" = 1 ] && [ ! -x "$floor" ]; then
  cargo build --release --quiet --manifest-path "$HARNESS/floor/Cargo.toml" --target-dir target/floor
fi
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export TESSERA__SERVER__BIND=127.0.0.1:0 TESSERA__DATABASE__URL="sqlite://$work/tessera.db?mode=rwc" \
  TESSERA__KEYS__DIR="$work/keys" TESSERA__KEYS__ALGORITHM=ES256
"$BIN" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null 2>&1
creds="$("$BIN" clients create --name bench-client --scopes "api:read api:write" --json 2>/dev/null)"
tessera_basic="$(python3 -c 'import base64, json, sys; c = json.loads(sys.argv[1]); print(base64.b64encode((c["client_id"] + ":" + c["client_secret"]).encode()).decode())' "$creds")"
floor_basic="$(printf 'bench-client:bench-secret' | base64)"
floor_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# start NAME [WRAPPER…]: starts a server (under WRAPPER) and sets pid, url, basic.
start() {
  local name="$1"; shift
  if [ "$name" = floor ]; then
    FLOOR_ALG=ES256 FLOOR_SIGNER=aws-lc FLOOR_BIND="127.0.0.1:$floor_port" "$@" "$floor" >/dev/null 2>&1 &
    pid=$!; url="http://127.0.0.1:$floor_port"; basic="$floor_basic"
  else
    "$@" "$BIN" serve >"$work/out" 2>"$work/log" &
    pid=$!; basic="$tessera_basic"; url=""
    for _ in $(seq 600); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
    url="$(sed -n 's/^tessera listening on //p' "$work/out")"
  fi
}

# drive URL ENDPOINT N CONNECTIONS [BEFORE AFTER]: N requests after 50 unmeasured ones; runs the
# BEFORE and AFTER commands around the measured ones.
drive() {
  python3 - "$@" <<'PY'
import http.client, subprocess, sys, threading, time, urllib.parse
url, endpoint, n, conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
before, after = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
basic = sys.argv[7] if len(sys.argv) > 7 else ""
u = urllib.parse.urlparse(url)
def connect():
    for _ in range(100):
        try:
            c = http.client.HTTPConnection(u.hostname, u.port); c.connect(); return c
        except OSError:
            time.sleep(0.2)
    raise SystemExit("no server at " + url)
def one(c):
    if endpoint == "token":
        c.request("POST", "/oauth2/token", "grant_type=client_credentials&scope=api%3Aread%20api%3Awrite",
                  {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    else:
        c.request("GET", "/.well-known/jwks.json")
    r = c.getresponse(); r.read()
    if r.status != 200:
        raise SystemExit(f"{endpoint}: HTTP {r.status}")
c = connect()
for _ in range(50): one(c)
if before: subprocess.run(before, shell=True, check=True)
def run(k):
    c = connect()
    for _ in range(k): one(c)
threads = [threading.Thread(target=run, args=(n // conns,)) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
if after: subprocess.run(after, shell=True, check=True)
PY
}

instructions() { # NAME ENDPOINT N
  local sim=(); [ "$CACHE" = 1 ] && sim=(--cache-sim=yes)
  start "$1" valgrind --tool=callgrind "${sim[@]}" --instr-atstart=no --callgrind-out-file="$work/cg.%p"
  drive "$url" "$2" "$3" 1 "callgrind_control -i on $pid >/dev/null 2>&1" "callgrind_control -i off $pid >/dev/null 2>&1" "$basic"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  # Sums each event over the process's threads' files, in the order their `events:` line names.
  cat "$work"/cg.* | awk -v n="$3" -v who="$1 $2" '
    /^events:/ {for (i = 2; i <= NF; i++) name[i - 1] = $i; k = NF - 1}
    /^totals:/ {for (i = 2; i <= NF; i++) sum[i - 1] += $i}
    END {line = sprintf("%-8s %-6s instructions a request: %d", substr(who, 1, index(who, " ") - 1), substr(who, index(who, " ") + 1), sum[1] / n)
      if (k > 1) {line = line " (simulated cache misses a request:"
        for (i = 2; i <= k; i++) if (name[i] ~ /mr$|mw$/) line = line sprintf(" %s %d", name[i], sum[i] / n)
        line = line ")"}
      print line}'
  rm -f "$work"/cg.*
}

syscalls() { # NAME ENDPOINT N
  # Pinned to one CPU, as in the timed comparisons: one worker each (unpinned, Tessera would
  # run one a core against the floor's one, and batch fewer requests a wake-up).
  start "$1" taskset -c 0
  drive "$url" "$2" 50 1 "" "" "$basic" # warm
  strace -c -f -p "$pid" -o "$work/strace" 2>/dev/null & local tracer=$!
  sleep 1
  drive "$url" "$2" "$3" 8 "" "" "$basic"
  sleep 0.5; kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  awk -v n="$3" -v who="$1 $2" '$1 ~ /^[0-9.]+$/ && NF >= 5 {calls[$NF] = $4}
    END {line = sprintf("%-8s system calls a request:", who); total = 0
      for (c in calls) if (c != "total") total += calls[c]
      line = line sprintf(" %.2f (", total / n)
      for (c in calls) if (c != "total" && calls[c] / n >= 0.01) line = line sprintf("%s %.2f, ", c, calls[c] / n)
      sub(/, $/, ")", line); print line}' "$work/strace"
}

names=(tessera); [ "$FLOOR" = 1 ] && names+=(floor)
for name in "${names[@]}"; do
  instructions "$name" token "$TOKENS"
  instructions "$name" jwks "$JWKS"
done
for name in "${names[@]}"; do
  syscalls "$name" token "$SYSCALL_REQUESTS"
done
