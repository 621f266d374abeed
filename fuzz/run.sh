#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time, then summarises executions and crashes.
#
#   fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh bearer_verify token_request
#
# Environment:
#   FUZZ_SECONDS    run time per target (default 60)
#   FUZZ_SANITIZER  address (default), leak or none; if the address-sanitizer build fails, the
#                   target is rebuilt and run with `none` (said so in the summary)
#   FUZZ_TIMEOUT    libFuzzer per-input timeout in seconds (default 10)
#   FUZZ_ARGS       extra libFuzzer arguments (e.g. "-jobs=2 -workers=2")
#
# Stable toolchain only: cargo-fuzz's nightly flags (-Zsanitizer, -Cpasses=sancov-module, …) are
# allowed with RUSTC_BOOTSTRAP=1. Exit status: 0 if no target crashed, 1 if one did, 2 if a
# target did not build.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-address}
TIMEOUT=${FUZZ_TIMEOUT:-10}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 2
fi

if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ")
fi

mkdir -p "$FUZZ/logs"
declare -a SUMMARY
status=0

list_artifacts() {
    find "$FUZZ/artifacts/$1" -maxdepth 1 -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
        2>/dev/null | sort
}

for target in "${TARGETS[@]}"; do
    san=$SANITIZER
    log="$FUZZ/logs/$target.log"
    echo "==> $target: building (sanitizer: $san)"
    if ! cargo fuzz build --fuzz-dir "$FUZZ" -s "$san" "$target" >"$FUZZ/logs/$target.build.log" 2>&1; then
        if [ "$san" != none ]; then
            echo "    build with -s $san failed (see fuzz/logs/$target.build.log); retrying with -s none"
            san=none
            if ! cargo fuzz build --fuzz-dir "$FUZZ" -s none "$target" >>"$FUZZ/logs/$target.build.log" 2>&1; then
                echo "    build failed: fuzz/logs/$target.build.log"
                SUMMARY+=("$(printf '%-16s %-9s %14s  %s' "$target" "-" "-" "BUILD FAILED")")
                [ $status -eq 0 ] && status=2
                continue
            fi
        else
            echo "    build failed: fuzz/logs/$target.build.log"
            SUMMARY+=("$(printf '%-16s %-9s %14s  %s' "$target" "-" "-" "BUILD FAILED")")
            [ $status -eq 0 ] && status=2
            continue
        fi
    fi

    mkdir -p "$FUZZ/corpus/$target"
    dict=()
    [ -f "$FUZZ/dicts/$target.dict" ] && dict=("-dict=$FUZZ/dicts/$target.dict")
    before=$(list_artifacts "$target")
    echo "==> $target: fuzzing for ${SECONDS_PER_TARGET}s (log: fuzz/logs/$target.log)"
    # shellcheck disable=SC2086
    cargo fuzz run --fuzz-dir "$FUZZ" -s "$san" "$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -print_final_stats=1 \
        "${dict[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
    rc=$?

    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    if [ -z "$execs" ]; then
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    new=$(comm -13 <(printf '%s\n' "$before") <(list_artifacts "$target") | sed '/^$/d')
    if [ $rc -eq 0 ] && [ -z "$new" ]; then
        verdict="ok"
    else
        verdict="CRASH (exit $rc)"
        status=1
        grep -m1 -E "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" "$log" | sed 's/^/    /'
        for a in $new; do
            verdict+=" ${a#"$ROOT"/}"
        done
    fi
    SUMMARY+=("$(printf '%-16s %-9s %14s  %s' "$target" "$san" "${execs:-?}" "$verdict")")
done

echo
printf '%-16s %-9s %14s  %s\n' target sanitizer executions result
for line in "${SUMMARY[@]}"; do
    echo "$line"
done
exit $status
