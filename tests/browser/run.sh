#!/usr/bin/env bash
# The web console's browser tests: Debian's chromium driven by Playwright for Python.
#   bash tests/browser/run.sh target/debug/tessera [pytest arguments…]
# Makes (or reuses) tests/browser/.venv with the pinned requirements, runs pytest, and prints
# the folder of screenshots (TESSERA_SCREENSHOTS, default target/console-screenshots).
# Needs: chromium (apt-get install chromium) and python3 with venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:?usage: tests/browser/run.sh BINARY [pytest arguments…]}"
shift
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "run.sh: no executable at $bin" >&2; exit 2; }
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "run.sh: no Chromium at $chromium (apt-get install chromium)" >&2; exit 2; }

venv="$here/.venv"
# Made anew only when requirements.txt changes.
if ! cmp -s "$here/requirements.txt" "$venv/installed-requirements.txt" 2>/dev/null; then
  echo "== installing the browser test tools into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "run.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  timeout 600 "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/installed-requirements.txt"
fi

# The pinned Playwright must bundle Debian's Chromium major (requirements.txt says why).
bundled="$("$venv/bin/python" - <<'EOF'
import json, pathlib, playwright
browsers = pathlib.Path(playwright.__file__).parent / "driver/package/browsers.json"
print(next(b["browserVersion"] for b in json.loads(browsers.read_text())["browsers"] if b["name"] == "chromium"))
EOF
)"
debian="$("$chromium" --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+){3}' | head -1)"
echo "Chromium: $chromium $debian; Playwright bundles $bundled"
if [ "${debian%%.*}" != "${bundled%%.*}" ]; then
  echo "WARNING: Chromium ${debian%%.*} but Playwright's bundled major is ${bundled%%.*}:" \
    "re-pin playwright in tests/browser/requirements.txt" >&2
fi

export TESSERA_BIN="$bin" CHROMIUM="$chromium"
export TESSERA_SCREENSHOTS="${TESSERA_SCREENSHOTS:-$root/target/console-screenshots}"
cd "$here"
status=0
"$venv/bin/python" -m pytest -p no:cacheprovider -v -ra "$@" || status=$?
echo "Screenshots of every console page (light and dark): $TESSERA_SCREENSHOTS"
exit "$status"
