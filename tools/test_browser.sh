#!/usr/bin/env bash
# make test-browser: the course in JupyterLab, driven in headless Chromium (tests/browser). Debian's chromium is
# installed where this script can (as root, with apt-get, when TSNBOOK_CHROMIUM does not name another one). Where
# chromium or Playwright is missing the test is skipped on purpose: one line saying why, exit 0 - or a failure,
# exit 1, where TSNBOOK_REQUIRE_BROWSER is set (as .ci/run does). pytest alone would exit 5 for its skipped test
# ("no tests ran"), and make would report that as an error.
# Usage: tools/test_browser.sh [PYTHON] [pytest arguments]   (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
shift || true
DEBIAN_CHROMIUM=/usr/bin/chromium  # the default of tests/browser/lab.py
CHROMIUM=${TSNBOOK_CHROMIUM:-$DEBIAN_CHROMIUM}

unavailable() {
    if [ -n "${TSNBOOK_REQUIRE_BROWSER:-}" ]; then
        echo "test-browser: failed: $1; TSNBOOK_REQUIRE_BROWSER is set, so this is a failure" >&2
        exit 1
    fi
    echo "test-browser: skipped: $1"
    exit 0
}

if [ ! -x "$CHROMIUM" ] && [ "$CHROMIUM" = "$DEBIAN_CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
then
    echo "test-browser: installing Debian's chromium (apt-get install chromium) ..."
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || true
fi
[ -x "$CHROMIUM" ] || unavailable "chromium not found at $CHROMIUM: install Debian's chromium (apt-get install \
chromium; make test-browser does it as root) or point TSNBOOK_CHROMIUM at one"
status=0
TSNBOOK_BROWSER_TEST=1 "$PY" -m pytest tests/browser -v -rs "$@" || status=$?
[ "$status" != 5 ] || unavailable "pytest ran no test (its reason is above)"
exit "$status"
