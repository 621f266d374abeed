#!/usr/bin/env bash
# Tessera beside node-oidc-provider in one run, through the shared peer harness
# (../shared/bench/measure.sh): token c=16/64 and JWKS c=16/64, pinned (server on CPU 0, wrk on
# CPU 1) and unpinned, with CPU accounting per run.
#
# The floor (../shared/bench/floor: actix-web and one signature, nothing else) runs beside them,
# pinned, once per algorithm in ALGS and signer in FLOOR; Tessera runs once per algorithm too
# (`keys.algorithm`), and the last lines print Tessera's CPU a token over the floor's for the
# same algorithm and Tessera's tokens per server CPU-second over each peer's.
#
# Usage: bench/compare.sh        Env: REPS=1 DUR=10 MODES="pinned unpinned" PEERS=node-oidc-provider
#        ALGS="ES256 EdDSA"  FLOOR="ring aws-lc" (empty: no floor)  LOG=default|warn
#        HARNESS=../shared/bench  OUT=/tmp/tessera-compare-<time>  SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS="$(cd "${HARNESS:-../shared/bench}" && pwd)"
export REPS="${REPS:-1}" DUR="${DUR:-10}"
MODES="${MODES:-pinned unpinned}"
PEERS="${PEERS:-node-oidc-provider}"
FLOOR="${FLOOR-ring aws-lc}"
ALGS="${ALGS:-ES256 EdDSA}"
OUT="${OUT:-/tmp/tessera-compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
if [ -n "$FLOOR" ]; then
  [ -n "${SKIP_BUILD:-}" ] && [ -x target/floor/release/floor ] ||
    cargo build --release --quiet --manifest-path "$HARNESS/floor/Cargo.toml" --target-dir target/floor
fi
bin="$PWD/target/release/tessera"
work="$(mktemp -d)"; pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# LOG=default (the default here) measures Tessera as users run it, an access line a request;
# LOG=warn without it.
if [ "${LOG:-default}" = default ]; then unset RUST_LOG; else export RUST_LOG="${LOG}"; fi
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

for peer in $PEERS; do
  OUT="$OUT/$peer" MODES="$MODES" "$HARNESS/measure.sh" "$peer" | tail -n 12
done
for alg in $ALGS; do
  export TESSERA__SERVER__BIND=127.0.0.1:0 TESSERA__DATABASE__URL="sqlite://$work/tessera-$alg.db?mode=rwc" \
    TESSERA__KEYS__DIR="$work/keys-$alg" TESSERA__KEYS__ALGORITHM="$alg"
  # The harness asks for scope "api:read api:write" on audience https://api.bench.test.
  "$bin" apis create --name api --audience https://api.bench.test --permissions read,write >/dev/null
  creds="$("$bin" clients create --name bench-client --scopes "api:read api:write" --json)"
  export CLIENT_ID="$(field client_id <<<"$creds")" CLIENT_SECRET="$(field client_secret <<<"$creds")"
  for mode in $MODES; do
    pin=(); [ "$mode" = pinned ] && pin=(taskset -c 0)
    "${pin[@]}" "$bin" serve >"$work/out" 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
    url="$(sed -n 's/^tessera listening on //p' "$work/out")"
    echo "== Tessera $alg $mode"
    SERVER_PID="$pid" MODES="$mode" OUT="$OUT/tessera-$alg-$mode" "$HARNESS/measure.sh" "url=$url" | tail -n 12
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$work/out"
  done
  for signer in $FLOOR; do
    FLOOR_ALG="$alg" FLOOR_SIGNER="$signer" taskset -c 0 target/floor/release/floor >"$work/floor.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:4300/.well-known/jwks.json" && break; sleep 0.1; done
    echo "== floor $alg $signer"
    SERVER_PID="$pid" MODES=pinned OUT="$OUT/floor-$alg-$signer" "$HARNESS/measure.sh" "url=http://127.0.0.1:4300" | tail -n 6
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
# Ratios from the pinned runs' requests per server CPU-second (medians over REPS).
python3 - "$OUT" <<'PY'
import pathlib, re, statistics, sys
out = pathlib.Path(sys.argv[1])
def per_core(folder):
    runs = {}
    for line in (out / folder / "raw.txt").read_text().splitlines() if (out / folder / "raw.txt").exists() else []:
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("mode") == "pinned" and "rps_per_srv_core" in f:
            runs.setdefault((f["endpoint"], f["c"]), []).append(float(f["rps_per_srv_core"]))
    return {k: statistics.median(v) for k, v in runs.items()}
peers = {p.name: per_core(p.name) for p in sorted(out.iterdir())
         if p.is_dir() and not p.name.startswith(("tessera-", "floor-"))}
for folder in sorted(out.iterdir()):
    name = folder.name
    if not (name.startswith("tessera-") and name.endswith("-pinned")):
        continue
    alg = name[len("tessera-"):-len("-pinned")]
    tessera = per_core(name)
    floors = {p.name: per_core(p.name) for p in sorted(out.iterdir()) if p.name.startswith(f"floor-{alg}-")}
    for (endpoint, c), mine in sorted(tessera.items()):
        for other, theirs in floors.items():
            if (endpoint, c) in theirs:
                them = theirs[(endpoint, c)]
                print(f"{alg} {endpoint} c={c}: Tessera / {other}: {them / mine:.2f}x the floor's CPU a request ({mine:.0f} vs {them:.0f} per server core)")
        for other, theirs in peers.items():
            if (endpoint, c) in theirs:
                them = theirs[(endpoint, c)]
                # A peer signs with its own algorithm: only the ES256 line compares like with like.
                note = "" if alg == "ES256" else " (the peer with its own algorithm)"
                print(f"{alg} {endpoint} c={c}: Tessera / {other}: {mine / them:.1f}x the requests per server CPU-second ({mine:.0f} vs {them:.0f}){note}")
PY
echo "raw lines and summaries: $OUT"
