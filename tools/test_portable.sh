#!/usr/bin/env bash
# make test-portable: every notebook again, in strict nbval, with the numeric libraries on other code paths
# (tsnbook.testenv.PORTABLE_ENV: ATen, oneDNN and MKL on their AVX-512 kernels where the CPU has them, else ATen
# and MKL on their generic / COMPATIBLE ones; OpenCV without AVX/AVX2/FMA, x264 without assembly). A stored output
# that still matches does not depend on the CPU.
# It runs in a copy of the working tree, so the data (SynthActions) and the runs are made afresh there, under
# that profile, and the checkout's data/ and work_dirs/ stay as they are.
# Usage: tools/test_portable.sh [PYTHON] [pytest arguments]   (default .venv/bin/python; e.g. -n 2)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute, the venv link kept
shift || true
copy=$(mktemp -d "${TMPDIR:-/tmp}/tsnbook-portable.XXXXXX")
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -C "$copy" -xf -
cd "$copy"
echo "portable profile: notebooks in $copy"
TSNBOOK_TEST_PROFILE=portable "$PY" -m pytest notebooks "$@"
