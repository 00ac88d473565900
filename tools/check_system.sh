#!/usr/bin/env bash
# Check what `make setup` needs from the system, with one clear message per missing piece.
PY=${1:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "error: '$PY' not found. Install Python >= 3.10 (e.g. apt-get install python3) or run: make PYTHON=/path/to/python3.11 ..." >&2
    exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "error: tsnbook needs Python >= 3.10, but $PY is $("$PY" -V 2>&1). Install a newer one and run: make PYTHON=python3.11 ..." >&2
    exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "error: $PY cannot create virtual environments (module venv/ensurepip missing). On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
fi
